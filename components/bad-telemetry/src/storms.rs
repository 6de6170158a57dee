//! Modes `storm`, `logstorm` and `openstorm`: endless streams, cut at N.
//!
//! Each reuses one record, changing only the span id where there is one,
//! so the guest spends its time in the host rather than in its allocator.

use crate::data::{json_text, now};
use crate::say;
use crate::span::{self, span_id};
use crate::wasi::otel::logs::{self, LogRecord};
use crate::wasi::otel::tracing::{self, SpanContext, TraceFlags};

/// The span id of `bad.storm.root`, numbered past every storm span.
const ROOT: u64 = 0x0fff_ffff_ffff;

/// Sends `count` spans `storm` under `bad.storm.root`, which ends last.
pub fn storm(outer: &SpanContext, count: u64) {
    let context = |n| span::context(&outer.trace_id, &span_id(n));
    let mut root = span::span(context(ROOT), &outer.span_id, "bad.storm.root");
    tracing::on_start(&root.span_context);

    let parent = &root.span_context.span_id;
    let mut child = span::span(context(0), parent, "storm");
    for n in 1..=count {
        child.span_context.span_id = span_id(n);
        span::send(&child);
    }

    // The root ends last, after all its children.
    root.end_time = now();
    tracing::on_end(&root);
    say(&format!("storm: sent {count} spans"));
}

/// Emits `count` log records with body `"storm"`.
pub fn log_storm(outer: &SpanContext, count: u64) {
    let record = LogRecord {
        timestamp: None,
        observed_timestamp: None,
        severity_text: None,
        severity_number: None,
        body: Some(json_text("storm")),
        attributes: None,
        event_name: None,
        resource: None,
        instrumentation_scope: Some(span::scope()),
        trace_id: Some(outer.trace_id.clone()),
        span_id: Some(outer.span_id.clone()),
        trace_flags: Some(TraceFlags::SAMPLED),
    };
    for _ in 0..count {
        logs::on_emit(&record);
    }
    say(&format!("logstorm: sent {count} records"));
}

/// Starts `count` spans and ends none of them.
pub fn open_storm(outer: &SpanContext, count: u64) {
    let mut context = span::context(&outer.trace_id, &span_id(0));
    for n in 1..=count {
        context.span_id = span_id(n);
        tracing::on_start(&context);
    }
    say(&format!("openstorm: started {count} spans"));
}
