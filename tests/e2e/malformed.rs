//! Guest telemetry that no well-behaved SDK sends, from `bad-telemetry`:
//! the host keeps what can be kept, repairs or drops the rest, counts
//! every repair and drop by reason, and neither crashes, traps, stalls
//! nor grows without bound.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use wasm_otel_tests::otlp::{attr, data_points, hex, int_attr, str_attr};
use wasm_otel_tests::{
    Exported, MetricEntry, Ran, component, find, host, run, run_exported, run_measuring_memory,
};

/// Runs `bad-telemetry MODE` against a receiver and checks what every
/// mode shares: exit 0, the done line, the control span, and a warning
/// line with exactly `dropped` as counts by reason.
fn bad(mode: &str, dropped: &[(&str, i64)]) -> (Ran, Exported) {
    let (ran, exported) = run_exported(
        host()
            .args(["run", "--no-output-logs"])
            .arg(component("bad-telemetry"))
            .arg(mode),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        ran.stdout
            .ends_with(&format!("bad-telemetry: {mode} done\n")),
        "{}",
        ran.stdout
    );
    let control = find(&exported.spans, "bad.control");
    assert_eq!(str_attr(&control.span.attributes, "bad.mode"), mode);

    let run_span = &find(&exported.spans, "wasm.run").span;
    let total: i64 = dropped.iter().map(|(_, n)| n).sum();
    assert_eq!(
        int_attr(&run_span.attributes, "wasm.telemetry.dropped"),
        total,
        "{:#?}",
        run_span.attributes
    );
    for (reason, count) in dropped {
        let key = format!("wasm.telemetry.dropped.{reason}");
        assert_eq!(int_attr(&run_span.attributes, &key), *count, "{key}");
    }
    let reasons: Vec<String> = dropped.iter().map(|(r, n)| format!("{r}={n}")).collect();
    assert_eq!(
        ran.stderr,
        format!(
            "warning: {total} telemetry items from the guest were dropped or repaired ({})\n",
            reasons.join(", ")
        )
    );

    // The same counts go out as the run's `wasm.telemetry.dropped` metric.
    let metric = find_metric(&exported.metrics, "wasm.telemetry.dropped");
    let Some(Data::Sum(sum)) = &metric.metric.data else {
        panic!("{metric:#?}")
    };
    assert_eq!(sum.data_points.len(), dropped.len());
    for (point, (reason, count)) in sum.data_points.iter().zip(dropped) {
        assert_eq!(str_attr(&point.attributes, "reason"), *reason);
        assert_eq!(point.value, Some(number_data_point::Value::AsInt(*count)));
    }
    (ran, exported)
}

fn find_metric<'a>(metrics: &'a [MetricEntry], name: &str) -> &'a MetricEntry {
    metrics
        .iter()
        .find(|m| m.metric.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = metrics.iter().map(|m| m.metric.name.as_str()).collect();
            panic!("no metric `{name}` among {names:?}")
        })
}

fn span<'a>(exported: &'a Exported, name: &str) -> &'a Span {
    &find(&exported.spans, name).span
}

#[test]
fn spans_with_unusable_ids_are_dropped_and_counted() {
    let (_, exported) = bad(
        "ids",
        &[
            ("parent_id_malformed", 1),
            ("span_id_malformed", 2),
            ("span_id_zero", 1),
            ("trace_id_malformed", 3),
            ("trace_id_zero", 1),
        ],
    );
    let names: Vec<&str> = exported
        .spans
        .iter()
        .map(|s| s.span.name.as_str())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // Hex in capitals is still hex; an all-zero parent means a root.
    let run_span = span(&exported, "wasm.run");
    assert_eq!(
        span(&exported, "bad.ids.trace_upper").trace_id,
        run_span.trace_id
    );
    assert!(
        span(&exported, "bad.ids.parent_zero")
            .parent_span_id
            .is_empty()
    );
}

#[test]
fn oversized_and_odd_values_are_cut_to_the_budget() {
    let (_, exported) = bad(
        "values",
        &[
            ("attribute_key_empty", 1),
            ("attributes_over_limit", 881),
            ("events_over_limit", 872),
            ("links_over_limit", 872),
            ("name_truncated", 2),
            ("span_name_empty_repaired", 1),
            ("trace_state_over_limit", 1),
            ("value_truncated", 2),
        ],
    );
    let values = span(&exported, "bad.values");
    assert_eq!(values.attributes.len(), 128);
    assert_eq!(values.dropped_attributes_count, 882);
    let a = &values.attributes;
    assert_eq!(str_attr(a, "bad.not_json"), "not json");
    let nested = str_attr(a, "bad.nested");
    assert_eq!(nested.len(), 16 << 10);
    assert!(nested.starts_with("[[[["));
    assert_eq!(str_attr(a, "bad.huge"), "x".repeat(16 << 10));
    assert_eq!(str_attr(a, "bad.null"), "null");
    assert_eq!(str_attr(a, "bad.object"), r#"{"a":1}"#);
    assert_eq!(str_attr(a, "bad.mixed"), r#"[1,"a"]"#);
    assert_eq!(str_attr(a, &"k".repeat(1024)), "long key");
    assert_eq!(values.events.len(), 128);
    assert_eq!(values.dropped_events_count, 872);
    assert_eq!(values.links.len(), 128);
    assert_eq!(values.dropped_links_count, 872);
    assert_eq!(values.trace_state.split(',').count(), 32);
    span(&exported, "unnamed");
    span(&exported, &"n".repeat(1024));
}

#[test]
fn spans_never_started_or_never_ended_are_kept_and_counted() {
    let (_, exported) = bad(
        "orphans",
        &[("span_end_without_start", 2), ("span_never_ended", 3)],
    );
    span(&exported, "bad.orphan.end_only");
    let twice = exported
        .spans
        .iter()
        .filter(|s| s.span.name == "bad.orphan.twice")
        .count();
    assert_eq!(twice, 2);

    // Spans left open are sent with the run's end, under the run.
    let run_span = span(&exported, "wasm.run");
    let unended: Vec<&Span> = exported
        .spans
        .iter()
        .map(|s| &s.span)
        .filter(|s| s.name == "unended span")
        .collect();
    assert_eq!(unended.len(), 3);
    for span in unended {
        assert_eq!(span.parent_span_id, run_span.span_id);
        assert_eq!(
            attr(&span.attributes, "wasm.span.unended"),
            Some(&Value::BoolValue(true))
        );
        assert!(span.end_time_unix_nano <= run_span.end_time_unix_nano);
    }
}

#[test]
fn impossible_times_are_repaired_or_dropped() {
    let (_, exported) = bad(
        "times",
        &[
            ("end_before_start_repaired", 1),
            ("event_timestamp_out_of_range", 1),
            ("timestamp_out_of_range", 1),
        ],
    );
    let backwards = span(&exported, "bad.times.backwards");
    assert_eq!(backwards.end_time_unix_nano, backwards.start_time_unix_nano);
    let nanos = span(&exported, "bad.times.nanos");
    assert_eq!(
        nanos.start_time_unix_nano % 1_000_000_000,
        0,
        "nanoseconds carried"
    );
    let event = span(&exported, "bad.times.event");
    assert!(event.events.is_empty());
    assert_eq!(event.dropped_events_count, 1);
    assert_eq!(span(&exported, "bad.times.epoch").start_time_unix_nano, 0);
    assert!(
        !exported
            .spans
            .iter()
            .any(|s| s.span.name == "bad.times.max")
    );
}

#[test]
fn odd_log_records_are_repaired_and_correlated_with_the_run() {
    let (_, exported) = bad(
        "logs",
        &[
            ("attributes_over_limit", 872),
            ("log_body_truncated", 1),
            ("log_trace_context_invalid", 1),
            ("severity_out_of_range", 3),
            ("timestamp_out_of_range", 1),
            ("value_truncated", 1),
        ],
    );
    let run_span = span(&exported, "wasm.run");
    let log = |case: &str| {
        let name = format!("bad.logs.{case}");
        exported
            .logs
            .iter()
            .find(|l| l.record.event_name == name)
            .map(|l| &l.record)
            .unwrap_or_else(|| panic!("no log {name}"))
    };
    for case in ["severity_0", "severity_25", "severity_255"] {
        assert_eq!(log(case).severity_number, 0, "{case}");
    }
    let body = |case: &str| log(case).body.clone().and_then(|b| b.value);
    assert_eq!(
        body("body_not_json"),
        Some(Value::StringValue("not json".into()))
    );
    assert!(matches!(body("body_object"), Some(Value::KvlistValue(_))));
    match body("body_huge") {
        Some(Value::StringValue(s)) => assert_eq!(s.len(), 16 << 10),
        other => panic!("{other:?}"),
    }
    match body("body_nested") {
        Some(Value::StringValue(s)) => assert_eq!(s.len(), 16 << 10),
        other => panic!("{other:?}"),
    }
    assert_eq!(log("timestamp_max").time_unix_nano, 0);
    assert_eq!(log("attributes").attributes.len(), 128);
    assert_eq!(log("attributes").dropped_attributes_count, 872);
    let fallback = log("trace_malformed");
    assert_eq!(fallback.trace_id, run_span.trace_id);
    assert_eq!(fallback.span_id, run_span.span_id);

    // The record with nothing in it: kept, stamped, correlated.
    let empty = exported
        .logs
        .iter()
        .find(|l| l.record.event_name.is_empty() && l.record.body.is_none())
        .expect("the empty record arrives");
    assert_eq!(empty.record.span_id, run_span.span_id);
    assert!(empty.record.observed_time_unix_nano > 0);
}

#[test]
fn metric_points_otlp_cannot_carry_are_dropped_and_the_rest_arrive() {
    let (ran, exported) = bad(
        "metrics",
        &[
            ("data_points_over_limit", 90_000),
            ("exemplar_invalid", 1),
            ("histogram_inconsistent", 3),
            ("histogram_too_many_buckets", 1),
            ("metric_name_empty", 1),
            ("metric_value_invalid", 6),
        ],
    );
    for line in ran.stdout.lines().filter(|l| l.starts_with("export ")) {
        assert!(line.ends_with(": ok"), "{line}");
    }

    // All twelve kinds of the control export, with their exemplar.
    let controls: Vec<&MetricEntry> = exported
        .metrics
        .iter()
        .filter(|m| m.metric.name.starts_with("bad.metrics.control."))
        .collect();
    assert_eq!(controls.len(), 12);
    for control in &controls {
        let (points, exemplars) = match &control.metric.data {
            Some(Data::Gauge(g)) => (g.data_points.len(), g.data_points[0].exemplars.len()),
            Some(Data::Sum(s)) => (s.data_points.len(), s.data_points[0].exemplars.len()),
            Some(Data::Histogram(h)) => (h.data_points.len(), h.data_points[0].exemplars.len()),
            Some(Data::ExponentialHistogram(h)) => {
                (h.data_points.len(), h.data_points[0].exemplars.len())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!((points, exemplars), (1, 1), "{}", control.metric.name);
    }

    let points = |name: &str| data_points(&find_metric(&exported.metrics, name).metric);
    for name in [
        "bad.metrics.histogram_bucket_count",
        "bad.metrics.histogram_bounds_order",
        "bad.metrics.histogram_count_mismatch",
        "bad.metrics.exponential_buckets",
    ] {
        assert_eq!(points(name), 0, "{name}");
    }
    assert_eq!(points("bad.metrics.many_points"), 10_000);

    // Exemplar ids sent as raw bytes arrive as those bytes.
    let raw = find_metric(&exported.metrics, "bad.metrics.exemplar_raw_ids");
    let Some(Data::Gauge(gauge)) = &raw.metric.data else {
        panic!("{raw:#?}")
    };
    let exemplar = &gauge.data_points[0].exemplars[0];
    assert_eq!(hex(&exemplar.trace_id), "0001225c0a7f80ff4bf92f3577b34da6");
    assert_eq!(hex(&exemplar.span_id), "00f067aa0ba902b7");
    assert!(matches!(
        exemplar.value,
        Some(exemplar::Value::AsDouble(_) | exemplar::Value::AsInt(_))
    ));
}

#[test]
fn a_metric_export_past_the_budget_gets_the_interfaces_error() {
    let ran = run(host()
        .args(["run", "--exporter", "none", "--max-metric-exports", "2"])
        .arg(component("bad-telemetry"))
        .arg("metrics"));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let results: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("export "))
        .map(|l| l.split_once(": ").map_or(l, |(_, r)| r))
        .collect();
    assert_eq!(&results[..2], ["ok", "ok"]);
    for result in &results[2..] {
        assert_eq!(
            *result,
            "error: wasm-otel: the metric export budget of this run is used up"
        );
    }
    assert!(
        ran.stderr.contains("metric_exports_over_limit="),
        "{}",
        ran.stderr
    );
}

/// Runs a storm mode with nothing exported and returns the run and the
/// host's peak memory.
fn storm(mode: &str, flags: &[&str]) -> (Ran, u64) {
    run_measuring_memory(
        host()
            .args(["run", "--exporter", "none"])
            .args(flags)
            .arg(component("bad-telemetry"))
            .arg(mode),
    )
}

#[test]
fn two_million_spans_run_to_completion_in_bounded_memory() {
    let (ran, peak) = storm("storm", &[]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        ran.stdout.contains("storm: sent 2000000 spans"),
        "{}",
        ran.stdout
    );
    // 2,000,000 storm spans, the root and the control span, less the
    // 100,000 the budget allows.
    assert!(
        ran.stderr.contains("spans_over_limit=1900002"),
        "{}",
        ran.stderr
    );
    assert!(peak < 128 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn two_million_log_records_run_to_completion_in_bounded_memory() {
    let (ran, peak) = storm("logstorm", &[]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        ran.stderr.contains("logs_over_limit=1900000"),
        "{}",
        ran.stderr
    );
    assert!(peak < 128 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn a_million_open_spans_are_tracked_up_to_the_budget() {
    let (ran, peak) = storm("openstorm", &["--max-open-spans", "1000"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    // The control span's start is one more past the budget.
    assert!(
        ran.stderr.contains("open_spans_over_limit=999001"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("span_never_ended=1000"),
        "{}",
        ran.stderr
    );
    assert!(peak < 128 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn spans_past_the_budget_are_counted_and_the_rest_delivered() {
    let (ran, exported) = run_exported(
        host()
            .args(["run", "--no-output-logs", "--max-spans", "1000"])
            .arg(component("bad-telemetry"))
            .args(["storm", "5000"]),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    // 1,000 guest spans and the run's own.
    assert_eq!(exported.spans.len(), 1001);
    let run_span = span(&exported, "wasm.run");
    assert_eq!(int_attr(&run_span.attributes, "wasm.telemetry.spans"), 1000);
    assert_eq!(
        int_attr(
            &run_span.attributes,
            "wasm.telemetry.dropped.spans_over_limit"
        ),
        4002
    );
}
