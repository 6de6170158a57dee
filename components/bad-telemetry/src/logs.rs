//! Mode `logs`: log records with out-of-range severities and times, bodies
//! that are not JSON or are huge, a bad trace id, and no fields at all.

use crate::data::{DEPTH, MIB, huge_json_string, json_text, nested_objects, now, numbered};
use crate::span::scope;
use crate::wasi::clocks::wall_clock::Datetime;
use crate::wasi::otel::logs::{self, LogRecord};
use crate::wasi::otel::tracing::{SpanContext, TraceFlags};

/// Severity number 13, WARN, for the records whose severity is fine.
const WARN: u8 = 13;

/// How many attributes the `attributes` record carries.
const MANY: usize = 1_000;

/// One case: its name and what it does to an otherwise fine record.
type Case = (&'static str, fn(&mut LogRecord));

/// The cases, in the order they are sent.
const CASES: [Case; 11] = [
    ("severity_0", |r| r.severity_number = Some(0)),
    ("severity_25", |r| r.severity_number = Some(25)),
    ("severity_255", |r| r.severity_number = Some(255)),
    ("body_not_json", |r| r.body = Some("not json".to_owned())),
    ("body_nested", |r| r.body = Some(nested_objects(DEPTH))),
    ("body_object", |r| r.body = Some(OBJECT.to_owned())),
    ("body_huge", |r| r.body = Some(huge_json_string(MIB))),
    ("timestamp_max", |r| r.timestamp = Some(MAX)),
    ("observed_nanos", |r| {
        r.observed_timestamp = Some(over_a_second())
    }),
    ("trace_malformed", |r| {
        r.trace_id = Some("not-a-trace-id".to_owned())
    }),
    ("attributes", |r| {
        r.attributes = Some(numbered("attr", MANY))
    }),
];

/// A body that is a JSON object holding an array holding an object.
const OBJECT: &str = r#"{"k":[1,2,{"x":true}]}"#;

/// The last instant a `datetime` can name.
const MAX: Datetime = Datetime {
    seconds: u64::MAX,
    nanoseconds: 999_999_999,
};

/// Emits one record per case, then the empty record.
pub fn run(outer: &SpanContext) {
    for (case, spoil) in CASES {
        let mut record = record(outer, case);
        spoil(&mut record);
        logs::on_emit(&record);
    }
    logs::on_emit(&empty());
}

/// A fine record for `case`, in the outer span, with event name and
/// body `bad.logs.CASE`.
fn record(outer: &SpanContext, case: &str) -> LogRecord {
    let name = format!("bad.logs.{case}");
    LogRecord {
        timestamp: Some(now()),
        observed_timestamp: None,
        severity_text: Some("WARN".to_owned()),
        severity_number: Some(WARN),
        body: Some(json_text(&name)),
        attributes: None,
        event_name: Some(name),
        resource: None,
        instrumentation_scope: Some(scope()),
        trace_id: Some(outer.trace_id.clone()),
        span_id: Some(outer.span_id.clone()),
        trace_flags: Some(TraceFlags::SAMPLED),
    }
}

/// Now, with two seconds' worth of nanoseconds.
fn over_a_second() -> Datetime {
    Datetime {
        nanoseconds: 2_000_000_000,
        ..now()
    }
}

/// A record with every field `None`.
fn empty() -> LogRecord {
    LogRecord {
        timestamp: None,
        observed_timestamp: None,
        severity_text: None,
        severity_number: None,
        body: None,
        attributes: None,
        event_name: None,
        resource: None,
        instrumentation_scope: None,
        trace_id: None,
        span_id: None,
        trace_flags: None,
    }
}
