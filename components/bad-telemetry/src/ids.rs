//! Mode `ids`: spans whose trace id, span id or parent span id is bad.

use crate::span::{self, span_id};
use crate::wasi::otel::tracing::SpanContext;

/// A well-formed trace id, cut and stretched for the length cases.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// One span's ids: only one of them is at fault.
struct Case {
    name: &'static str,
    trace_id: String,
    span_id: String,
    parent: String,
}

/// Sends one span per case, each bad in one id only.
pub fn run(outer: &SpanContext) {
    for case in cases(outer) {
        let context = span::context(&case.trace_id, &case.span_id);
        let name = format!("bad.ids.{}", case.name);
        span::send(&span::span(context, &case.parent, &name));
    }
}

fn cases(outer: &SpanContext) -> Vec<Case> {
    let trace = outer.trace_id.as_str();
    let parent = outer.span_id.as_str();
    let zeros = |n| "0".repeat(n);
    vec![
        // The trace id is at fault.
        case(1, "trace_nonhex", &"z".repeat(32), None, parent),
        case(2, "trace_short", &TRACE_ID[..31], None, parent),
        case(3, "trace_long", &format!("{TRACE_ID}0"), None, parent),
        case(4, "trace_upper", &trace.to_ascii_uppercase(), None, parent),
        case(5, "trace_zero", &zeros(32), None, parent),
        // The span's own id is at fault.
        case(6, "span_nonhex", trace, Some(&"z".repeat(16)), parent),
        case(7, "span_length", trace, Some("bad000000000007"), parent),
        case(8, "span_zero", trace, Some(&zeros(16)), parent),
        // The parent id is at fault, or means "root" in its other form.
        case(9, "parent_malformed", trace, None, "not-an-id"),
        case(10, "parent_zero", trace, None, &zeros(16)),
    ]
}

/// Case `name`; its span id is `span`, or well-formed id `n` if `None`.
fn case(n: u64, name: &'static str, trace: &str, span: Option<&str>, parent: &str) -> Case {
    Case {
        name,
        trace_id: trace.to_owned(),
        span_id: span.map_or_else(|| span_id(n), str::to_owned),
        parent: parent.to_owned(),
    }
}
