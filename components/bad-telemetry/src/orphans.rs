//! Mode `orphans`: ends with no start, starts with no end, and an end
//! sent twice.

use crate::span::{self, span_id};
use crate::wasi::otel::tracing::{self, SpanContext};

/// Spans started and never ended.
const NEVER_ENDED: u64 = 3;

/// Sends the end-only span, the never-ended starts, the twice-ended span.
pub fn run(outer: &SpanContext) {
    let at = |n| span::context(&outer.trace_id, &span_id(n));

    // An end whose start never came.
    let end_only = span::span(at(1), &outer.span_id, "bad.orphan.end_only");
    tracing::on_end(&end_only);

    // Starts whose ends never come.
    for n in 1..=NEVER_ENDED {
        tracing::on_start(&at(10 + n));
    }

    // One start, two identical ends.
    let twice = span::span(at(2), &outer.span_id, "bad.orphan.twice");
    tracing::on_start(&twice.span_context);
    tracing::on_end(&twice);
    tracing::on_end(&twice);
}
