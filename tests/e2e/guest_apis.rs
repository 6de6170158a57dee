//! The guest SDK's three front ends end to end: `logs-metrics` (the
//! crate's own spans, logs and metrics), `traced` (the `tracing` layer)
//! and `otel-api` (the `opentelemetry` SDK bridge), each run under the
//! real binary and checked on what reaches a loopback OTLP receiver.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use wasm_otel_tests::otlp::{attr, hex, int_attr, str_attr};
use wasm_otel_tests::{Exported, LogEntry, Ran, component, find, host, run_exported};

/// The version every guest's scopes carry: the workspace's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The trace context given to the host in the `TRACEPARENT` test.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// Runs component `name` with no argument against a fresh receiver.
fn run_component(name: &str) -> (Ran, Exported) {
    run_exported(host().arg("run").arg(component(name)))
}

/// The span named `name`.
fn span<'a>(exported: &'a Exported, name: &str) -> &'a Span {
    &find(&exported.spans, name).span
}

/// The log records whose scope is `scope`, in arrival order.
fn logs_of<'a>(exported: &'a Exported, scope: &str) -> Vec<&'a LogEntry> {
    exported
        .logs
        .iter()
        .filter(|entry| entry.scope.name == scope)
        .collect()
}

/// The metrics whose scope is `scope`, checking the scope's version.
fn metrics_of<'a>(exported: &'a Exported, scope: &str) -> Vec<&'a Metric> {
    let entries: Vec<_> = exported
        .metrics
        .iter()
        .filter(|entry| entry.scope.name == scope)
        .collect();
    for entry in &entries {
        assert_eq!(entry.scope.version, VERSION, "{}", entry.metric.name);
    }
    entries.iter().map(|entry| &entry.metric).collect()
}

/// The metric named `name` among `metrics`.
fn metric<'a>(metrics: &[&'a Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .copied()
        .unwrap_or_else(|| {
            let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
            panic!("no metric `{name}` among {names:?}")
        })
}

fn sum(metric: &Metric) -> &Sum {
    match &metric.data {
        Some(Data::Sum(sum)) => sum,
        other => panic!("`{}` is not a sum: {other:?}", metric.name),
    }
}

fn gauge(metric: &Metric) -> &Gauge {
    match &metric.data {
        Some(Data::Gauge(gauge)) => gauge,
        other => panic!("`{}` is not a gauge: {other:?}", metric.name),
    }
}

fn histogram(metric: &Metric) -> &Histogram {
    match &metric.data {
        Some(Data::Histogram(histogram)) => histogram,
        other => panic!("`{}` is not a histogram: {other:?}", metric.name),
    }
}

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

/// The one data point of a sum or gauge, with no attribute.
fn only_point(points: &[NumberDataPoint]) -> &NumberDataPoint {
    assert_eq!(points.len(), 1, "{points:?}");
    assert!(points[0].attributes.is_empty(), "{points:?}");
    &points[0]
}

fn int_value(point: &NumberDataPoint) -> i64 {
    match point.value {
        Some(Number::AsInt(i)) => i,
        other => panic!("not an integer point: {other:?}"),
    }
}

fn double_value(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(Number::AsDouble(f)) => f,
        other => panic!("not a double point: {other:?}"),
    }
}

/// A point's start is the instrument's first use, no later than its time.
fn check_times(start: u64, time: u64, run: &Span) {
    assert!(start >= run.start_time_unix_nano, "{start} {run:?}");
    assert!(start <= time, "{start} > {time}");
}

fn double_attr(attributes: &[KeyValue], key: &str) -> f64 {
    match attr(attributes, key) {
        Some(Value::DoubleValue(f)) => *f,
        other => panic!("attribute `{key}` is not a double: {other:?}"),
    }
}

fn body(record: &LogRecord) -> Option<&Value> {
    record.body.as_ref().and_then(|b| b.value.as_ref())
}

fn string_body(record: &LogRecord) -> &str {
    match body(record) {
        Some(Value::StringValue(s)) => s,
        other => panic!("the body is not a string: {other:?}"),
    }
}

/// The record belongs to `span`: same trace, same span, sampled.
fn assert_in_span(record: &LogRecord, span: &Span) {
    assert_eq!(hex(&record.trace_id), hex(&span.trace_id), "{record:?}");
    assert_eq!(hex(&record.span_id), hex(&span.span_id), "{record:?}");
    assert_eq!(record.flags & 0xff, 1, "sampled: {record:?}");
}

/// The record was timestamped by the guest within `span`, and observed.
fn assert_timed_within(record: &LogRecord, span: &Span) {
    assert!(
        record.time_unix_nano >= span.start_time_unix_nano
            && record.time_unix_nano <= span.end_time_unix_nano,
        "{} outside [{}, {}]",
        record.time_unix_nano,
        span.start_time_unix_nano,
        span.end_time_unix_nano
    );
    assert!(record.observed_time_unix_nano >= record.time_unix_nano);
}

/// Every span is in the run's trace, and `root` hangs under `wasm.run`.
fn assert_one_trace_under_run(exported: &Exported, root: &str) {
    let run = span(exported, "wasm.run");
    for record in &exported.spans {
        assert_eq!(record.span.trace_id, run.trace_id, "{}", record.span.name);
    }
    assert_eq!(span(exported, root).parent_span_id, run.span_id);
}

fn parent_of<'a>(exported: &'a Exported, name: &str) -> &'a [u8] {
    &span(exported, name).parent_span_id
}

fn id_of<'a>(exported: &'a Exported, name: &str) -> &'a [u8] {
    &span(exported, name).span_id
}

#[test]
fn logs_metrics_spans_arrive_nested_under_wasm_run() {
    let (ran, exported) = run_component("logs-metrics");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "3 of 4 orders accepted, total 5.00 EUR\n");
    assert!(!ran.stderr.contains("logs-metrics:"), "{}", ran.stderr);

    let names: Vec<&str> = exported
        .spans
        .iter()
        .map(|s| s.span.name.as_str())
        .collect();
    assert_eq!(exported.spans.len(), 4, "{names:?}");
    assert_one_trace_under_run(&exported, "orders.process");
    let process = id_of(&exported, "orders.process");
    assert_eq!(parent_of(&exported, "orders.validate"), process);
    assert_eq!(parent_of(&exported, "orders.total"), process);

    let attributes = |name| &span(&exported, name).attributes;
    assert_eq!(int_attr(attributes("orders.process"), "orders.count"), 4);
    assert_eq!(
        int_attr(attributes("orders.validate"), "orders.accepted"),
        3
    );
    assert_eq!(
        int_attr(attributes("orders.validate"), "orders.rejected"),
        1
    );
    assert_eq!(double_attr(attributes("orders.total"), "orders.total"), 5.0);
    for record in exported.spans.iter().filter(|s| s.span.name != "wasm.run") {
        assert_eq!(record.scope.name, "logs-metrics");
        assert_eq!(record.scope.version, VERSION);
    }
}

#[test]
fn logs_metrics_log_records_carry_severity_body_attributes_and_their_span() {
    let (ran, exported) = run_component("logs-metrics");
    assert_eq!(ran.code, Some(0), "{ran:?}");

    let logs = logs_of(&exported, "logs-metrics");
    let bodies: Vec<_> = logs.iter().map(|l| body(&l.record)).collect();
    assert_eq!(logs.len(), 4, "{bodies:?}");
    for entry in &logs {
        assert_eq!(entry.scope.version, VERSION);
    }

    // In the root span, with an integer attribute.
    let processing = &logs[0].record;
    assert_eq!(processing.severity_number, 9);
    assert_eq!(processing.severity_text, "INFO");
    assert_eq!(string_body(processing), "processing 4 orders");
    assert_eq!(int_attr(&processing.attributes, "orders.count"), 4);
    assert_eq!(processing.event_name, "");
    assert_in_span(processing, span(&exported, "orders.process"));
    assert_timed_within(processing, span(&exported, "orders.process"));

    // A named event in the validation span.
    let rejected = &logs[1].record;
    assert_eq!(rejected.severity_number, 13);
    assert_eq!(rejected.severity_text, "WARN");
    assert_eq!(string_body(rejected), "rejected order for melon");
    assert_eq!(rejected.event_name, "order.rejected");
    assert_eq!(str_attr(&rejected.attributes, "order.item"), "melon");
    assert_eq!(
        str_attr(&rejected.attributes, "order.reason"),
        "zero quantity"
    );
    assert_in_span(rejected, span(&exported, "orders.validate"));
    assert_timed_within(rejected, span(&exported, "orders.validate"));

    // A body that is not a string keeps its type.
    let totalled = &logs[2].record;
    assert_eq!(totalled.severity_number, 9);
    assert_eq!(body(totalled), Some(&Value::DoubleValue(5.0)));
    assert_eq!(totalled.event_name, "orders.totalled");
    assert_eq!(str_attr(&totalled.attributes, "orders.currency"), "EUR");
    assert_in_span(totalled, span(&exported, "orders.total"));

    // Logged after every span ended: the host ties it to its own span.
    let done = &logs[3].record;
    assert_eq!(string_body(done), "done");
    assert!(done.attributes.is_empty());
    assert_in_span(done, span(&exported, "wasm.run"));
    assert_timed_within(done, span(&exported, "wasm.run"));
}

#[test]
fn logs_metrics_metrics_arrive_aggregated_with_their_kinds_and_values() {
    let (ran, exported) = run_component("logs-metrics");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let run = span(&exported, "wasm.run");

    let metrics = metrics_of(&exported, "logs-metrics");
    let mut names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "orders.amount",
            "orders.average_amount",
            "orders.backlog",
            "orders.balance",
            "orders.largest_quantity",
            "orders.processed",
            "orders.quantity",
            "orders.revenue",
        ],
        "one export, each metric once"
    );

    // u64 counter: a monotonic cumulative sum, one point per status.
    let processed = metric(&metrics, "orders.processed");
    assert_eq!(processed.unit, "{order}");
    assert_eq!(processed.description, "Orders processed, by outcome");
    let data = sum(processed);
    assert!(data.is_monotonic);
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    let mut points: Vec<(&str, i64)> = data
        .data_points
        .iter()
        .map(|p| (str_attr(&p.attributes, "order.status"), int_value(p)))
        .collect();
    points.sort_unstable();
    assert_eq!(points, [("accepted", 3), ("rejected", 1)]);
    for point in &data.data_points {
        assert_eq!(point.attributes.len(), 1);
        check_times(point.start_time_unix_nano, point.time_unix_nano, run);
    }

    // f64 counter.
    let revenue = metric(&metrics, "orders.revenue");
    assert_eq!(revenue.unit, "EUR");
    let data = sum(revenue);
    assert!(data.is_monotonic);
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    assert_eq!(double_value(only_point(&data.data_points)), 5.0);

    // i64 up-down counter: not monotonic.
    let data = sum(metric(&metrics, "orders.backlog"));
    assert!(!data.is_monotonic);
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    assert_eq!(int_value(only_point(&data.data_points)), 1);

    // f64 histogram with its own bounds; 2.0 counts in the bucket up to 2.
    let amount = metric(&metrics, "orders.amount");
    assert_eq!(amount.unit, "EUR");
    let data = histogram(amount);
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    let point = only_histogram_point(data);
    assert_eq!(point.explicit_bounds, [1.0, 2.0, 5.0]);
    assert_eq!(point.bucket_counts, [0, 3, 0, 0]);
    assert_eq!(point.count, 3);
    assert_eq!(point.sum, Some(5.0));
    assert_eq!(point.min, Some(1.5));
    assert_eq!(point.max, Some(2.0));
    check_times(point.start_time_unix_nano, point.time_unix_nano, run);

    // u64 histogram with the default bounds.
    let data = histogram(metric(&metrics, "orders.quantity"));
    let point = only_histogram_point(data);
    assert_eq!(
        point.explicit_bounds,
        [
            0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
            7500.0, 10000.0
        ]
    );
    let mut expected = vec![0; 16];
    expected[1] = 2; // 3 and 2 in (0, 5]
    expected[2] = 1; // 10 in (5, 10]
    assert_eq!(point.bucket_counts, expected);
    assert_eq!(point.count, 3);
    assert_eq!(point.sum, Some(15.0));
    assert_eq!(point.min, Some(2.0));
    assert_eq!(point.max, Some(10.0));

    // Gauges of each type.
    let average = gauge(metric(&metrics, "orders.average_amount"));
    let value = double_value(only_point(&average.data_points));
    assert!((value - 5.0 / 3.0).abs() < 1e-12, "{value}");
    let balance = metric(&metrics, "orders.balance");
    assert_eq!(balance.unit, "{cent}");
    assert_eq!(int_value(only_point(&gauge(balance).data_points)), 300);
    let largest = gauge(metric(&metrics, "orders.largest_quantity"));
    assert_eq!(int_value(only_point(&largest.data_points)), 10);
}

fn only_histogram_point(histogram: &Histogram) -> &HistogramDataPoint {
    assert_eq!(histogram.data_points.len(), 1, "{histogram:?}");
    let point = &histogram.data_points[0];
    assert!(point.attributes.is_empty(), "{point:?}");
    point
}

#[test]
fn traced_spans_and_events_arrive_as_spans_and_log_records() {
    let (ran, exported) = run_component("traced");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "top words: the (3), and (2)\n");

    // `#[instrument]` functions, nested as they call each other.
    assert_eq!(exported.spans.len(), 4, "{:#?}", exported.spans);
    assert_one_trace_under_run(&exported, "count_words");
    let count_words = id_of(&exported, "count_words");
    assert_eq!(parent_of(&exported, "tokenize"), count_words);
    assert_eq!(parent_of(&exported, "rank"), count_words);

    // Fields as typed attributes, those recorded later included.
    let attributes = |name| &span(&exported, name).attributes;
    assert_eq!(int_attr(attributes("count_words"), "text.length"), 77);
    assert_eq!(int_attr(attributes("count_words"), "words.counted"), 10);
    assert_eq!(int_attr(attributes("tokenize"), "words.total"), 11);
    assert_eq!(int_attr(attributes("rank"), "top"), 2);
    for record in exported.spans.iter().filter(|s| s.span.name != "wasm.run") {
        assert_eq!(record.scope.name, "traced", "the target names the scope");
    }

    // Events, in the span they happened in.
    let logs = logs_of(&exported, "traced");
    let bodies: Vec<_> = logs.iter().map(|l| body(&l.record)).collect();
    assert_eq!(logs.len(), 4, "{bodies:?}");

    let skipped = &logs[0].record;
    assert_eq!(
        (skipped.severity_number, skipped.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(string_body(skipped), "skipped a long word");
    assert_eq!(skipped.event_name, "word.skipped");
    assert_eq!(int_attr(&skipped.attributes, "word.length"), 34);
    assert_in_span(skipped, span(&exported, "tokenize"));
    assert_timed_within(skipped, span(&exported, "tokenize"));

    let split = &logs[1].record;
    assert_eq!(
        (split.severity_number, split.severity_text.as_str()),
        (5, "DEBUG")
    );
    assert_eq!(string_body(split), "split into 11 words");
    assert_eq!(split.event_name, "", "an unnamed event has no event name");
    assert_eq!(int_attr(&split.attributes, "words"), 11);
    assert_in_span(split, span(&exported, "tokenize"));

    let top = &logs[2].record;
    assert_eq!(
        (top.severity_number, top.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(string_body(top), "most frequent word");
    assert_eq!(top.event_name, "word.top");
    assert_eq!(str_attr(&top.attributes, "word"), "the");
    assert_eq!(int_attr(&top.attributes, "count"), 3);
    assert_in_span(top, span(&exported, "rank"));

    let done = &logs[3].record;
    assert_eq!(string_body(done), "done");
    assert_eq!(str_attr(&done.attributes, "result"), "the (3), and (2)");
    assert_in_span(done, span(&exported, "wasm.run"));

    assert!(
        exported.metrics.iter().all(|m| m.scope.name != "traced"),
        "traced has no metrics"
    );
}

#[test]
fn otel_api_spans_logs_and_metrics_arrive_through_the_sdk_bridge() {
    let (ran, exported) = run_component("otel-api");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "adler32 4bf50740 over 20 bytes\n");
    assert!(!ran.stderr.contains("otel-api:"), "{}", ran.stderr);
    let run = span(&exported, "wasm.run");

    // The root joins the host's trace through `outer_context`.
    assert_eq!(exported.spans.len(), 5, "{:#?}", exported.spans);
    assert_one_trace_under_run(&exported, "checksum.run");
    let root = span(&exported, "checksum.run");
    assert_eq!(str_attr(&root.attributes, "checksum.algorithm"), "adler32");
    assert_eq!(int_attr(&root.attributes, "input.bytes"), 20);
    let mut chunks: Vec<(i64, i64)> = exported
        .spans
        .iter()
        .filter(|s| s.span.name == "checksum.chunk")
        .map(|s| {
            assert_eq!(s.span.parent_span_id, root.span_id);
            let attributes = &s.span.attributes;
            (
                int_attr(attributes, "chunk.index"),
                int_attr(attributes, "chunk.bytes"),
            )
        })
        .collect();
    chunks.sort_unstable();
    assert_eq!(chunks, [(0, 16), (1, 4)]);
    let finish = span(&exported, "checksum.finish");
    assert_eq!(finish.parent_span_id, root.span_id);
    assert_eq!(str_attr(&finish.attributes, "checksum.value"), "4bf50740");
    assert_eq!(
        finish.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );
    for record in exported.spans.iter().filter(|s| s.span.name != "wasm.run") {
        assert_eq!(record.scope.name, "otel-api");
        assert_eq!(record.scope.version, VERSION);
    }

    // Records through the SDK's logs API, correlated by the SDK.
    let logs = logs_of(&exported, "otel-api");
    let bodies: Vec<_> = logs.iter().map(|l| body(&l.record)).collect();
    assert_eq!(logs.len(), 2, "{bodies:?}");
    let computed = &logs[0].record;
    assert_eq!(
        (computed.severity_number, computed.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(string_body(computed), "checksum computed");
    assert_eq!(computed.event_name, "checksum.done");
    assert_eq!(str_attr(&computed.attributes, "checksum.value"), "4bf50740");
    assert_in_span(computed, finish);
    // The SDK leaves the event time unset and stamps the observed time.
    assert_eq!(computed.time_unix_nano, 0);
    assert!(computed.observed_time_unix_nano >= finish.start_time_unix_nano);
    assert!(computed.observed_time_unix_nano <= finish.end_time_unix_nano);
    let done = &logs[1].record;
    assert_eq!(string_body(done), "done");
    assert_in_span(done, run);

    // Metrics through an SdkMeterProvider, exported at its shutdown.
    let metrics = metrics_of(&exported, "otel-api");
    assert_eq!(metrics.len(), 2, "{metrics:#?}");
    let bytes = metric(&metrics, "checksum.bytes");
    assert_eq!(bytes.unit, "By");
    let data = sum(bytes);
    assert!(data.is_monotonic);
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    let point = only_point(&data.data_points);
    assert_eq!(int_value(point), 20);
    check_times(point.start_time_unix_nano, point.time_unix_nano, run);

    let data = histogram(metric(&metrics, "checksum.chunk_size"));
    assert_eq!(data.aggregation_temporality, CUMULATIVE);
    let point = only_histogram_point(data);
    assert_eq!(point.explicit_bounds, [8.0, 16.0, 32.0]);
    assert_eq!(point.bucket_counts, [1, 1, 0, 0]);
    assert_eq!(point.count, 2);
    assert_eq!(point.sum, Some(20.0));
    assert_eq!(point.min, Some(4.0));
    assert_eq!(point.max, Some(16.0));
}

#[test]
fn a_traceparent_given_to_the_host_reaches_every_guest_span_and_record() {
    for (name, scope) in [
        ("logs-metrics", "logs-metrics"),
        ("traced", "traced"),
        ("otel-api", "otel-api"),
    ] {
        let (ran, exported) = run_exported(
            host()
                .env("TRACEPARENT", TRACEPARENT)
                .arg("run")
                .arg(component(name)),
        );
        assert_eq!(ran.code, Some(0), "{name}: {ran:?}");

        let run = span(&exported, "wasm.run");
        assert_eq!(hex(&run.parent_span_id), PARENT_SPAN, "{name}");
        assert!(exported.spans.len() > 1, "{name}: {:#?}", exported.spans);
        for record in &exported.spans {
            let span = &record.span;
            assert_eq!(hex(&span.trace_id), PARENT_TRACE, "{name}: {}", span.name);
        }

        let logs = logs_of(&exported, scope);
        assert!(!logs.is_empty(), "{name}: no log record");
        for entry in logs {
            assert_eq!(
                hex(&entry.record.trace_id),
                PARENT_TRACE,
                "{name}: {:?}",
                entry.record.body
            );
        }
    }
}
