//! Mode `values`: attribute values that are not JSON or not OTel's, huge
//! strings, keys and lists, and bad span names.

use crate::data::{DEPTH, KIB, MIB, huge_json_string, kv, nested_arrays, now, numbered};
use crate::span::{self, span_id};
use crate::wasi::otel::tracing::{Event, Link, SpanContext, SpanData};
use crate::wasi::otel::types::KeyValue;

/// How many attributes, events, links and trace state entries.
const MANY: usize = 1_000;

/// Trace state entries: the W3C limit is 32.
const TRACE_STATE_ENTRIES: usize = 100;

/// Sends `bad.values`, then the nameless and the long-named span.
pub fn run(outer: &SpanContext) {
    span::send(&values_span(outer));

    // Names: empty, then 1 MiB.
    let unnamed = span::context(&outer.trace_id, &span_id(2));
    span::send(&span::span(unnamed, &outer.span_id, ""));
    let long = span::context(&outer.trace_id, &span_id(3));
    span::send(&span::span(long, &outer.span_id, &"n".repeat(MIB)));
}

/// The `bad.values` span, loaded with everything at once.
fn values_span(outer: &SpanContext) -> SpanData {
    let mut context = span::context(&outer.trace_id, &span_id(1));
    context.trace_state = (0..TRACE_STATE_ENTRIES)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let mut span = span::span(context, &outer.span_id, "bad.values");
    span.attributes = attributes();
    span.events = events();
    span.links = links(&outer.trace_id);
    span
}

fn attributes() -> Vec<KeyValue> {
    let mut attributes = vec![
        kv("bad.not_json", "not json"),
        kv("bad.nested", nested_arrays(DEPTH)),
        kv("bad.huge", huge_json_string(MIB)),
        kv("bad.null", "null"),
        kv("bad.object", r#"{"a":1}"#),
        kv("bad.mixed", r#"[1,"a"]"#),
        kv("", r#""empty key""#),
        kv("k".repeat(100 * KIB), r#""long key""#),
    ];
    attributes.extend(numbered("attr", MANY));
    attributes.push(kv("bad.repeated", "1"));
    attributes.push(kv("bad.repeated", "2"));
    attributes
}

fn events() -> Vec<Event> {
    let time = now();
    (0..MANY)
        .map(|i| Event {
            name: format!("event.{i}"),
            time,
            attributes: Vec::new(),
        })
        .collect()
}

/// Links to well-formed span ids in `trace_id`, numbered after the
/// spans sent here.
fn links(trace_id: &str) -> Vec<Link> {
    (0..MANY as u64)
        .map(|i| Link {
            span_context: span::context(trace_id, &span_id(1_000 + i)),
            attributes: Vec::new(),
        })
        .collect()
}
