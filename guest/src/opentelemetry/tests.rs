//! The bridge under real SDK providers, checked on what reaches a
//! recording backend.

use std::collections::HashMap;
use std::rc::Rc;

use ::opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use ::opentelemetry::metrics::MeterProvider as _;
use ::opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use ::opentelemetry::{Array, Context, InstrumentationScope, Key, KeyValue};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::*;
use crate::backend::recording::{Call, Recording};
use crate::bindings::metrics::{MetricData, MetricNumber, Temporality as WitTemporality};
use crate::bindings::tracing::{self as wit, TraceFlags};

const OUTER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const OUTER_SPAN: &str = "00f067aa0ba902b7";

fn recording_under(trace_id: &str, span_id: &str) -> Rc<Recording> {
    Recording::install(wit::SpanContext {
        trace_id: trace_id.into(),
        span_id: span_id.into(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: true,
        trace_state: vec![("vendor".into(), "v1".into())],
    })
}

fn recording() -> Rc<Recording> {
    recording_under(OUTER_TRACE, OUTER_SPAN)
}

fn tracer_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_span_processor(WasiSpanProcessor::new())
        .build()
}

fn attributes(attributes: &[crate::bindings::types::KeyValue]) -> Vec<(&str, &str)> {
    attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect()
}

#[test]
fn sdk_spans_keep_their_ids_parents_and_data_under_the_outer_span() {
    let recording = recording();
    let provider = tracer_provider();
    let scope = InstrumentationScope::builder("shop")
        .with_version("1.2.0")
        .build();
    let tracer = provider.tracer_with_scope(scope);

    let _outer = outer_context().attach();
    let root = tracer
        .span_builder("order")
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("order.items", 3)])
        .start(&tracer);
    let root_cx = Context::current_with_span(root);
    let root_id = root_cx.span().span_context().span_id().to_string();
    let child_id = {
        let _active = root_cx.clone().attach();
        let mut child = tracer.start("order.check");
        child.add_event("stock.low", vec![KeyValue::new("stock.left", 2.5)]);
        child.set_status(Status::error("out of stock"));
        let id = child.span_context().span_id().to_string();
        child.end();
        id
    };
    let tags = Array::String(vec!["a".into(), "b".into()]);
    root_cx.span().set_attribute(KeyValue::new(
        "order.tags",
        ::opentelemetry::Value::Array(tags),
    ));
    root_cx.span().end();

    let calls = recording.take();
    let started: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Start(context) => Some(context.span_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started, [root_id.clone(), child_id.clone()]);

    let ended: Vec<wit::SpanData> = calls
        .into_iter()
        .filter_map(|c| match c {
            Call::End(span) => Some(*span),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 2);
    let (child, root) = (&ended[0], &ended[1]);

    assert_eq!(root.name, "order");
    assert_eq!(root.span_context.span_id, root_id);
    assert_eq!(root.span_context.trace_id, OUTER_TRACE);
    assert_eq!(root.parent_span_id, OUTER_SPAN);
    assert!(root.span_context.trace_flags.contains(TraceFlags::SAMPLED));
    assert!(!root.span_context.is_remote);
    assert_eq!(
        root.span_context.trace_state,
        [("vendor".into(), "v1".into())]
    );
    assert!(matches!(root.span_kind, wit::SpanKind::Server));
    assert_eq!(
        attributes(&root.attributes),
        [("order.items", "3"), ("order.tags", r#"["a","b"]"#)]
    );
    assert_eq!(root.instrumentation_scope.name, "shop");
    assert_eq!(root.instrumentation_scope.version.as_deref(), Some("1.2.0"));
    assert!(!crate::clock::is_before(&root.end_time, &root.start_time));

    assert_eq!(child.name, "order.check");
    assert_eq!(child.span_context.span_id, child_id);
    assert_eq!(child.span_context.trace_id, OUTER_TRACE);
    assert_eq!(child.parent_span_id, root_id);
    assert!(matches!(child.span_kind, wit::SpanKind::Internal));
    assert!(matches!(&child.status, wit::Status::Error(m) if m == "out of stock"));
    assert_eq!(child.events.len(), 1);
    assert_eq!(child.events[0].name, "stock.low");
    assert_eq!(
        attributes(&child.events[0].attributes),
        [("stock.left", "2.5")]
    );
}

#[test]
fn without_a_valid_outer_span_root_spans_start_their_own_trace() {
    let recording = recording_under(&"0".repeat(32), &"0".repeat(16));
    let provider = tracer_provider();

    let outer = outer_context();
    assert!(!outer.has_active_span());
    let _attached = outer.attach();
    provider.tracer("t").in_span("root", |_| {});

    let ended = recording.take_ended();
    assert_eq!(ended[0].parent_span_id, "");
    assert_ne!(ended[0].span_context.trace_id, "0".repeat(32));
}

#[test]
fn sdk_log_records_keep_their_fields_and_the_active_span() {
    let recording = recording();
    let tracers = tracer_provider();
    let loggers = SdkLoggerProvider::builder()
        .with_log_processor(WasiLogProcessor::new())
        .build();
    let logger = loggers.logger("shop");

    let _outer = outer_context().attach();
    let span_id = tracers.tracer("shop").in_span("order", |cx| {
        let mut record = logger.create_log_record();
        record.set_severity_number(Severity::Warn);
        record.set_severity_text("WARN");
        record.set_body(AnyValue::Map(Box::new(HashMap::from([
            (Key::new("z"), AnyValue::from(1)),
            (
                Key::new("a"),
                AnyValue::ListAny(Box::new(vec![AnyValue::from(true), AnyValue::from("x")])),
            ),
        ]))));
        record.set_event_name("order.slow");
        record.add_attribute("blob", AnyValue::Bytes(Box::new(b"hi!?".to_vec())));
        record.add_attribute("ratio", 0.5);
        logger.emit(record);
        cx.span().span_context().span_id().to_string()
    });

    let mut record = logger.create_log_record();
    record.set_target("shop::audit");
    record.set_body("outside".into());
    logger.emit(record);

    let logs = recording.take_logs();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let inside = &logs[0];
    assert_eq!(inside.severity_number, Some(13));
    assert_eq!(inside.severity_text.as_deref(), Some("WARN"));
    assert_eq!(inside.body.as_deref(), Some(r#"{"a":[true,"x"],"z":1}"#));
    assert_eq!(inside.event_name.as_deref(), Some("order.slow"));
    assert_eq!(
        attributes(inside.attributes.as_deref().unwrap()),
        [
            ("blob", r#""data:application/octet-stream;base64,aGkhPw==""#),
            ("ratio", "0.5")
        ]
    );
    assert_eq!(inside.trace_id.as_deref(), Some(OUTER_TRACE));
    assert_eq!(inside.span_id.as_deref(), Some(span_id.as_str()));
    assert_eq!(inside.trace_flags, Some(TraceFlags::SAMPLED));
    assert!(inside.observed_timestamp.is_some());
    assert_eq!(
        inside
            .instrumentation_scope
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("shop")
    );

    // Outside every span of the SDK the attached outer context is the
    // active one; the target names the scope.
    let outside = &logs[1];
    assert_eq!(outside.body.as_deref(), Some(r#""outside""#));
    assert_eq!(outside.span_id.as_deref(), Some(OUTER_SPAN));
    assert_eq!(outside.severity_number, None);
    assert_eq!(
        outside
            .instrumentation_scope
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("shop::audit")
    );
}

fn meter_provider(reader: WasiMetricReader) -> SdkMeterProvider {
    SdkMeterProvider::builder().with_reader(reader).build()
}

#[test]
fn sdk_metrics_are_exported_when_the_provider_is_flushed() {
    let recording = recording();
    let provider = meter_provider(WasiMetricReader::new());
    let meter = provider.meter("shop");

    let orders = meter
        .u64_counter("shop.orders")
        .with_unit("{order}")
        .build();
    let amount = meter
        .f64_histogram("shop.amount")
        .with_boundaries(vec![10.0, 100.0])
        .build();
    let queue = meter.i64_up_down_counter("shop.queue").build();
    orders.add(2, &[KeyValue::new("payment", "card")]);
    orders.add(1, &[KeyValue::new("payment", "card")]);
    amount.record(5.0, &[]);
    amount.record(50.0, &[]);
    queue.add(-2, &[]);

    provider
        .force_flush()
        .expect("the recorder accepts exports");
    let exports = recording.take_exports();
    assert_eq!(exports.len(), 1);
    let scope = &exports[0].scope_metrics[0];
    assert_eq!(scope.scope.name, "shop");
    assert!(exports[0].resource.attributes.is_empty());
    let metric = |name: &str| {
        scope
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no `{name}` in {scope:?}"))
    };

    let orders = metric("shop.orders");
    assert_eq!(orders.unit, "{order}");
    let MetricData::U64Sum(sum) = &orders.data else {
        panic!("not a u64 sum: {orders:?}");
    };
    assert!(sum.is_monotonic);
    assert!(matches!(sum.temporality, WitTemporality::Cumulative));
    assert!(matches!(sum.data_points[0].value, MetricNumber::U64(3)));
    assert_eq!(
        attributes(&sum.data_points[0].attributes),
        [("payment", r#""card""#)]
    );

    let MetricData::F64Histogram(histogram) = &metric("shop.amount").data else {
        panic!("not an f64 histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.bounds, [10.0, 100.0]);
    assert_eq!(point.bucket_counts, [1, 1, 0]);
    assert_eq!(point.count, 2);
    assert!(matches!(point.sum, MetricNumber::F64(s) if s == 55.0));
    assert!(matches!(point.min, Some(MetricNumber::F64(m)) if m == 5.0));

    let MetricData::S64Sum(sum) = &metric("shop.queue").data else {
        panic!("not an s64 sum");
    };
    assert!(!sum.is_monotonic);
    assert!(matches!(sum.data_points[0].value, MetricNumber::S64(-2)));

    // Shutting down exports once more.
    provider.shutdown().expect("the recorder accepts exports");
    assert_eq!(recording.take_exports().len(), 1);
}

#[test]
fn a_delta_reader_asks_the_sdk_for_delta_sums() {
    let recording = recording();
    let provider = meter_provider(WasiMetricReader::with_temporality(Temporality::Delta));
    let counter = provider.meter("d").u64_counter("d.count").build();

    counter.add(4, &[]);
    provider.force_flush().unwrap();

    let exports = recording.take_exports();
    let MetricData::U64Sum(sum) = &exports[0].scope_metrics[0].metrics[0].data else {
        panic!("not a u64 sum");
    };
    assert!(matches!(sum.temporality, WitTemporality::Delta));
}

#[test]
fn a_refused_export_fails_the_flush_with_the_hosts_reason() {
    let recording = recording();
    let provider = meter_provider(WasiMetricReader::new());
    provider
        .meter("r")
        .u64_counter("r.count")
        .build()
        .add(1, &[]);
    recording.refuse_exports(Some("over budget"));

    let error = provider.force_flush().unwrap_err();

    assert!(error.to_string().contains("over budget"), "{error}");
}

#[test]
fn nothing_measured_means_nothing_exported() {
    let recording = recording();
    let provider = meter_provider(WasiMetricReader::new());
    let _unused = provider.meter("idle").u64_counter("idle").build();

    provider.force_flush().unwrap();

    assert!(recording.take_exports().is_empty());
}

#[test]
fn any_values_nest_as_json_down_to_a_limit() {
    let mut deep = AnyValue::from(1);
    for _ in 0..40 {
        deep = AnyValue::ListAny(Box::new(vec![deep]));
    }
    let json = convert::any_value_json(&deep);
    assert!(json.contains("null"), "{json}");
    assert!(!json.contains('1'), "{json}");

    let empty = AnyValue::Map(Box::default());
    assert_eq!(convert::any_value_json(&empty), "{}");
    let bytes = |b: &[u8]| convert::any_value_json(&AnyValue::Bytes(Box::new(b.to_vec())));
    assert_eq!(bytes(b""), r#""data:application/octet-stream;base64,""#);
    assert_eq!(
        bytes(b"f"),
        r#""data:application/octet-stream;base64,Zg==""#
    );
    assert_eq!(
        bytes(b"fo"),
        r#""data:application/octet-stream;base64,Zm8=""#
    );
    assert_eq!(
        bytes(b"foo"),
        r#""data:application/octet-stream;base64,Zm9v""#
    );
    assert_eq!(
        bytes(&[0xff, 0xfe, 0x00, 0x10]),
        r#""data:application/octet-stream;base64,//4AEA==""#
    );
}
