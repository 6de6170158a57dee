//! The layer under a thread-local subscriber, checked on what reaches a
//! recording backend.

use std::rc::Rc;

use ::tracing::{debug, error, info, info_span, instrument, trace, warn};
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::backend::recording::Recording;
use crate::bindings::logs::LogRecord;
use crate::bindings::tracing::{self as wit, SpanData, TraceFlags};

const OUTER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const OUTER_SPAN: &str = "00f067aa0ba902b7";

fn recording() -> Rc<Recording> {
    Recording::install(wit::SpanContext {
        trace_id: OUTER_TRACE.into(),
        span_id: OUTER_SPAN.into(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: true,
        trace_state: Vec::new(),
    })
}

/// Runs `f` with the layer as this thread's subscriber.
fn traced(f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(OtelLayer::new());
    ::tracing::subscriber::with_default(subscriber, f);
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
}

fn attributes(attributes: &[crate::bindings::types::KeyValue]) -> Vec<(&str, &str)> {
    attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect()
}

fn record_attributes(record: &LogRecord) -> Vec<(&str, &str)> {
    attributes(record.attributes.as_deref().unwrap_or_default())
}

#[instrument]
fn checkout(items: u32, coupon: &str, express: bool, weight: f64) -> u32 {
    pack(items);
    items * 2
}

#[instrument(fields(pack.boxes))]
fn pack(items: u32) {
    ::tracing::Span::current().record("pack.boxes", items.div_ceil(2));
    info!(pack.items = items, "packed {items} items");
}

#[test]
fn instrumented_functions_become_nested_spans_with_typed_attributes() {
    let recording = recording();

    traced(|| {
        checkout(3, "SAVE10", true, 1.5);
    });

    let spans = recording.take_ended();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let checkout = find(&spans, "checkout");
    let pack = find(&spans, "pack");
    assert_eq!(checkout.parent_span_id, OUTER_SPAN);
    assert_eq!(checkout.span_context.trace_id, OUTER_TRACE);
    assert_eq!(pack.parent_span_id, checkout.span_context.span_id);
    assert_eq!(pack.span_context.trace_id, OUTER_TRACE);
    assert_eq!(
        attributes(&checkout.attributes),
        [
            ("items", "3"),
            ("coupon", r#""SAVE10""#),
            ("express", "true"),
            ("weight", "1.5")
        ]
    );
    assert_eq!(
        attributes(&pack.attributes),
        [("items", "3"), ("pack.boxes", "2")]
    );
    assert_eq!(checkout.instrumentation_scope.name, module_path!());
    assert_eq!(checkout.instrumentation_scope.version, None);
    assert!(matches!(checkout.span_kind, wit::SpanKind::Internal));
    assert!(matches!(checkout.status, wit::Status::Unset));
}

#[test]
fn events_become_log_records_in_the_span_they_happen_in() {
    let recording = recording();

    traced(|| {
        let span = info_span!("work", job = "import");
        let _entered = span.enter();
        info!(rows = 12_u64, ok = true, "imported {} rows", 12);
        warn!(name: "import.slow", seconds = 2.5, "slow import");
    });

    let calls = recording.take();
    let logs: Vec<LogRecord> = calls
        .iter()
        .filter_map(|call| match call {
            crate::backend::recording::Call::Emit(record) => Some((**record).clone()),
            _ => None,
        })
        .collect();
    let spans: Vec<SpanData> = calls
        .into_iter()
        .filter_map(|call| match call {
            crate::backend::recording::Call::End(span) => Some(*span),
            _ => None,
        })
        .collect();
    let work = find(&spans, "work");

    assert_eq!(logs.len(), 2, "{logs:#?}");
    let info = &logs[0];
    assert_eq!(info.severity_number, Some(9));
    assert_eq!(info.severity_text.as_deref(), Some("INFO"));
    assert_eq!(info.body.as_deref(), Some(r#""imported 12 rows""#));
    assert_eq!(record_attributes(info), [("rows", "12"), ("ok", "true")]);
    assert_eq!(info.event_name, None);
    assert_eq!(
        info.instrumentation_scope.as_ref().map(|s| s.name.as_str()),
        Some(module_path!())
    );
    assert_eq!(info.span_id.as_deref(), Some(&*work.span_context.span_id));
    assert_eq!(info.trace_id.as_deref(), Some(OUTER_TRACE));
    assert_eq!(info.trace_flags, Some(TraceFlags::SAMPLED));
    assert!(info.timestamp.is_some() && info.observed_timestamp.is_some());

    let warn = &logs[1];
    assert_eq!(warn.severity_number, Some(13));
    assert_eq!(warn.severity_text.as_deref(), Some("WARN"));
    assert_eq!(warn.event_name.as_deref(), Some("import.slow"));
    assert_eq!(record_attributes(warn), [("seconds", "2.5")]);
    assert_eq!(warn.span_id.as_deref(), Some(&*work.span_context.span_id));
}

#[test]
fn levels_map_to_the_first_severity_of_each_band() {
    let recording = recording();

    traced(|| {
        trace!("t");
        debug!("d");
        info!("i");
        warn!("w");
        error!("e");
    });

    let severities: Vec<_> = recording
        .take_logs()
        .iter()
        .map(|r| (r.severity_number.unwrap(), r.severity_text.clone().unwrap()))
        .collect();
    let expected = [
        (1, "TRACE"),
        (5, "DEBUG"),
        (9, "INFO"),
        (13, "WARN"),
        (17, "ERROR"),
    ];
    assert_eq!(severities, expected.map(|(n, t)| (n, t.to_owned())));
}

#[test]
fn an_event_outside_every_span_has_no_trace_context_nor_body_without_message() {
    let recording = recording();

    traced(|| info!(count = -3_i64, big = u64::MAX));

    let record = &recording.take_logs()[0];
    assert_eq!(record.trace_id, None);
    assert_eq!(record.span_id, None);
    assert_eq!(record.trace_flags, None);
    assert_eq!(record.body, None);
    assert_eq!(
        record_attributes(record),
        [("count", "-3"), ("big", r#""18446744073709551615""#)]
    );
}

#[test]
fn fields_recorded_later_and_otel_fields_shape_the_span() {
    let recording = recording();

    traced(|| {
        let span = info_span!(
            "request",
            otel.name = ::tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = ::tracing::field::Empty,
            otel.status_description = ::tracing::field::Empty,
            http.status = ::tracing::field::Empty,
            detail = ?vec![1, 2],
        );
        span.record("otel.name", "GET /items");
        span.record("http.status", 503);
        span.record("otel.status_description", "backend down");
        span.record("otel.status_code", "ERROR");
    });

    let spans = recording.take_ended();
    let span = find(&spans, "GET /items");
    assert!(matches!(span.span_kind, wit::SpanKind::Server));
    assert!(matches!(&span.status, wit::Status::Error(m) if m == "backend down"));
    assert_eq!(
        attributes(&span.attributes),
        [("detail", r#""[1, 2]""#), ("http.status", "503")]
    );
}

#[test]
fn a_span_created_but_not_entered_is_no_one_s_parent() {
    let recording = recording();

    traced(|| {
        let idle = info_span!("idle");
        let busy = info_span!("busy");
        let _entered = busy.enter();
        info_span!("inside").in_scope(|| {});
        // An explicit parent wins over what is entered.
        info_span!(parent: &idle, "adopted").in_scope(|| {});
        // A root span hangs under the host's span, whatever is entered.
        info_span!(parent: None, "detached").in_scope(|| {});
    });

    let spans = recording.take_ended();
    let id = |name: &str| find(&spans, name).span_context.span_id.clone();
    let parent = |name: &str| find(&spans, name).parent_span_id.clone();
    assert_eq!(parent("idle"), OUTER_SPAN);
    assert_eq!(parent("busy"), OUTER_SPAN);
    assert_eq!(parent("inside"), id("busy"));
    assert_eq!(parent("adopted"), id("idle"));
    assert_eq!(parent("detached"), OUTER_SPAN);
}

#[test]
fn crate_spans_and_tracing_spans_nest_in_each_other() {
    let recording = recording();
    let logger = crate::Logger::new("native");

    traced(|| {
        let outer = info_span!("tracing.outer");
        let _entered = outer.enter();
        let native = Tracer::new("native").span("native.middle").start();
        info_span!("tracing.inner").in_scope(|| logger.info("deep").emit());
        native.end();
    });

    let calls = recording.take();
    let logs: Vec<_> = calls
        .iter()
        .filter_map(|call| match call {
            crate::backend::recording::Call::Emit(record) => Some(record.clone()),
            _ => None,
        })
        .collect();
    let spans: Vec<SpanData> = calls
        .into_iter()
        .filter_map(|call| match call {
            crate::backend::recording::Call::End(span) => Some(*span),
            _ => None,
        })
        .collect();
    let id = |name: &str| find(&spans, name).span_context.span_id.clone();
    assert_eq!(
        find(&spans, "native.middle").parent_span_id,
        id("tracing.outer")
    );
    assert_eq!(
        find(&spans, "tracing.inner").parent_span_id,
        id("native.middle")
    );
    assert_eq!(logs[0].span_id, Some(id("tracing.inner")));
}

#[test]
fn the_opentelemetry_sdks_own_events_are_not_sent() {
    let recording = recording();

    traced(|| {
        info!(target: "opentelemetry_sdk", "internal");
        info!(target: "app", "kept");
    });

    let logs = recording.take_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0]
            .instrumentation_scope
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("app")
    );
}

#[test]
fn a_span_keeps_a_message_field_as_an_attribute() {
    let recording = recording();

    traced(|| info_span!("s", message = "hi", big = -5_i128).in_scope(|| {}));

    let spans = recording.take_ended();
    assert_eq!(
        attributes(&spans[0].attributes),
        [("big", "-5"), ("message", r#""hi""#)]
    );
}
