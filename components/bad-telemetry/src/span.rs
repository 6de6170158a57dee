//! Span contexts and span data, and sending a span the usual way.

use crate::data::now;
use crate::wasi::otel::tracing::{self, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use crate::wasi::otel::types::InstrumentationScope;

/// The span id of the `bad.control` span every mode ends with.
pub const CONTROL_SPAN_ID: &str = "bad0c0de00000001";

/// The well-formed span id numbered `n`: 16 hex digits, `bad0…`.
pub fn span_id(n: u64) -> String {
    format!("{:016x}", 0xbad0_0000_0000_0000 | n)
}

/// A sampled, local context with no trace state.
pub fn context(trace_id: &str, span_id: &str) -> SpanContext {
    SpanContext {
        trace_id: trace_id.to_owned(),
        span_id: span_id.to_owned(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: Vec::new(),
    }
}

/// A span `name` with `context`, under the span `parent`, starting and
/// ending now, with nothing else recorded.
pub fn span(context: SpanContext, parent: &str, name: &str) -> SpanData {
    let time = now();
    SpanData {
        span_context: context,
        parent_span_id: parent.to_owned(),
        span_kind: SpanKind::Internal,
        name: name.to_owned(),
        start_time: time,
        end_time: time,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status: Status::Unset,
        instrumentation_scope: scope(),
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    }
}

/// Sends `span` with `on-start` then `on-end`.
pub fn send(span: &SpanData) {
    tracing::on_start(&span.span_context);
    tracing::on_end(span);
}

/// The scope everything here is sent under.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "bad-telemetry".to_owned(),
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        schema_url: None,
        attributes: Vec::new(),
    }
}
