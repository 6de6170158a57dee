//! A guest written without `wasm-otel-guest`, as a stranger's SDK would be:
//! it binds the standard `wasi:otel/imports` world itself and calls every
//! interface with records built by hand, each field set to a value the
//! host's tests check on arrival.

use wasi::clocks::wall_clock::Datetime;
use wasi::otel::logs::{self, LogRecord};
use wasi::otel::metrics::{
    self, Metric, MetricData, MetricNumber, ResourceMetrics, ScopeMetrics, Sum, SumDataPoint,
    Temporality,
};
use wasi::otel::tracing::{self, Event, Link, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use wasi::otel::types::{InstrumentationScope, KeyValue, Resource};

wit_bindgen::generate!({
    path: "../../wit",
    world: "wasi:otel/imports@0.2.0-rc.2",
    // Every interface the world imports comes from the WIT here.
    generate_all,
});

const SPAN_ID: &str = "00f067aa0ba902b7";
const CHILD_SPAN_ID: &str = "1111111111111111";
const LINKED_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const LINKED_SPAN_ID: &str = "b7ad6b7169203331";

fn main() {
    let outer = tracing::outer_span_context();
    let context = span_context(&outer.trace_id, SPAN_ID);

    // The child starts and ends inside the parent, before the parent's
    // data is sent.
    tracing::on_start(&context);
    let child = child_span(&context);
    tracing::on_start(&child.span_context);
    tracing::on_end(&child);
    tracing::on_end(&parent_span(context.clone(), &outer.span_id));

    logs::on_emit(&log_record(&context));

    match metrics::export(&resource_metrics()) {
        Ok(()) => eprintln!("foreign: metrics export ok"),
        Err(err) => eprintln!("foreign: metrics export failed: {err}"),
    }

    println!("foreign: done");
}

fn span_context(trace_id: &str, span_id: &str) -> SpanContext {
    SpanContext {
        trace_id: trace_id.to_owned(),
        span_id: span_id.to_owned(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: vec![("vendor".to_owned(), "value1".to_owned())],
    }
}

/// The `foreign.request` span, under the host's span `parent_span_id`.
fn parent_span(context: SpanContext, parent_span_id: &str) -> SpanData {
    SpanData {
        span_context: context,
        parent_span_id: parent_span_id.to_owned(),
        span_kind: SpanKind::Client,
        name: "foreign.request".to_owned(),
        start_time: at(123_000_000),
        end_time: at(623_000_000),
        attributes: vec![
            kv("s", r#""text""#),
            kv("b", "true"),
            kv("i", "-42"),
            kv("f", "2.5"),
            kv("sa", r#"["x","y"]"#),
            kv("ia", "[1,2,3]"),
            kv("m", r#"{"k":"v"}"#),
            kv("bytes", r#""data:application/octet-stream;base64,AAEC""#),
        ],
        events: vec![Event {
            name: "foreign.event".to_owned(),
            time: at(300_000_000),
            attributes: vec![kv("e", "7")],
        }],
        links: vec![Link {
            span_context: SpanContext {
                trace_id: LINKED_TRACE_ID.to_owned(),
                span_id: LINKED_SPAN_ID.to_owned(),
                trace_flags: TraceFlags::SAMPLED,
                is_remote: true,
                trace_state: Vec::new(),
            },
            attributes: vec![kv("l", r#""linked""#)],
        }],
        status: Status::Error("upstream failed".to_owned()),
        instrumentation_scope: scope(),
        dropped_attributes: 1,
        dropped_events: 2,
        dropped_links: 3,
    }
}

/// The `foreign.child` span, under `parent`.
fn child_span(parent: &SpanContext) -> SpanData {
    SpanData {
        span_context: span_context(&parent.trace_id, CHILD_SPAN_ID),
        parent_span_id: parent.span_id.clone(),
        span_kind: SpanKind::Internal,
        name: "foreign.child".to_owned(),
        start_time: at(200_000_000),
        end_time: at(250_000_000),
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status: Status::Ok,
        instrumentation_scope: scope(),
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    }
}

/// A log record with every field set, inside the span `context`.
fn log_record(context: &SpanContext) -> LogRecord {
    LogRecord {
        timestamp: Some(at(400_000_000)),
        observed_timestamp: Some(at(450_000_000)),
        severity_text: Some("WARN".to_owned()),
        severity_number: Some(13),
        body: Some(r#""foreign log""#.to_owned()),
        attributes: Some(vec![kv("k", r#""v""#)]),
        event_name: Some("foreign.log".to_owned()),
        resource: Some(resource()),
        instrumentation_scope: Some(scope()),
        trace_id: Some(context.trace_id.clone()),
        span_id: Some(context.span_id.clone()),
        trace_flags: Some(TraceFlags::SAMPLED),
    }
}

/// One cumulative, monotonic sum with a single point of 3.
fn resource_metrics() -> ResourceMetrics {
    let requests = Metric {
        name: "foreign.requests".to_owned(),
        description: "requests made".to_owned(),
        unit: "{request}".to_owned(),
        data: MetricData::U64Sum(Sum {
            data_points: vec![SumDataPoint {
                attributes: Vec::new(),
                value: MetricNumber::U64(3),
                exemplars: Vec::new(),
            }],
            start_time: at(0),
            time: at(700_000_000),
            temporality: Temporality::Cumulative,
            is_monotonic: true,
        }),
    };
    ResourceMetrics {
        resource: resource(),
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics: vec![requests],
        }],
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "foreign-sdk".to_owned(),
        version: Some("9.9.9".to_owned()),
        schema_url: Some("https://opentelemetry.io/schemas/1.24.0".to_owned()),
        attributes: vec![kv("scope.attr", r#""yes""#)],
    }
}

fn resource() -> Resource {
    Resource {
        attributes: vec![kv("guest.resource", r#""r""#)],
        schema_url: None,
    }
}

/// An attribute whose value is already JSON.
fn kv(key: &str, json: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: json.to_owned(),
    }
}

/// `nanoseconds` past 2023-11-14T22:13:20Z, the second all times share.
fn at(nanoseconds: u32) -> Datetime {
    Datetime {
        seconds: 1_700_000_000,
        nanoseconds,
    }
}
