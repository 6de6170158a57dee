//! What the host adds to a guest's telemetry: the caller's trace context,
//! the run's resource, the run's own metrics, and the guest's output as
//! log records.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, number_data_point};
use sha2::Digest;
use wasm_otel_tests::otlp::{attr, hex, int_attr, str_attr};
use wasm_otel_tests::{Exported, component, find, host, run_exported};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn hello(configure: impl FnOnce(&mut std::process::Command)) -> (wasm_otel_tests::Ran, Exported) {
    let mut command = host();
    configure(&mut command);
    let (ran, exported) = run_exported(command.arg(component("hello")).args(["a", "bb"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    (ran, exported)
}

#[test]
fn traceparent_in_the_environment_makes_the_run_a_child_of_the_caller() {
    let (ran, exported) = hello(|c| {
        c.env("TRACEPARENT", TRACEPARENT)
            .env("TRACESTATE", "vendor=value")
            .arg("run");
    });
    assert_eq!(ran.stderr, "");
    let run_span = &find(&exported.spans, "wasm.run").span;
    assert_eq!(hex(&run_span.parent_span_id), PARENT_ID);
    assert_eq!(run_span.trace_state, "vendor=value");
    // The parent is remote: bits 8 and 9 of the flags say so.
    assert_eq!(run_span.flags & 0x300, 0x300);
    for record in &exported.spans {
        assert_eq!(hex(&record.span.trace_id), TRACE_ID, "{}", record.span.name);
    }
    for log in &exported.logs {
        assert_eq!(hex(&log.record.trace_id), TRACE_ID);
    }
}

#[test]
fn the_traceparent_flag_wins_over_the_environment() {
    let flag = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (_, exported) = hello(|c| {
        c.env("TRACEPARENT", TRACEPARENT)
            .args(["run", "--traceparent", flag]);
    });
    let run_span = &find(&exported.spans, "wasm.run").span;
    assert_eq!(hex(&run_span.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&run_span.parent_span_id), "b7ad6b7169203331");
}

#[test]
fn an_invalid_traceparent_is_warned_about_and_a_new_trace_starts() {
    let (ran, exported) = hello(|c| {
        c.env("TRACEPARENT", "00-not-a-trace-01").arg("run");
    });
    assert_eq!(
        ran.stderr,
        "warning: ignoring TRACEPARENT `00-not-a-trace-01`: not a W3C traceparent \
         (expected `00-<32 hex digits>-<16 hex digits>-<2 hex digits>`); \
         the run starts a new trace\n"
    );
    let run_span = &find(&exported.spans, "wasm.run").span;
    assert!(run_span.parent_span_id.is_empty());
    assert_ne!(hex(&run_span.trace_id), TRACE_ID);
}

#[test]
fn the_resource_says_who_ran_what_where() {
    let (_, exported) = hello(|c| {
        c.env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attributes,deployment.environment=ci%2Cnightly,team=a%3Db",
        )
        .arg("run");
    });
    let resource = &find(&exported.spans, "wasm.run").resource.attributes;
    // `service.name` from the attributes, when nothing more specific is set.
    assert_eq!(str_attr(resource, "service.name"), "from-attributes");
    assert_eq!(str_attr(resource, "deployment.environment"), "ci,nightly");
    assert_eq!(str_attr(resource, "team"), "a=b");
    assert_eq!(str_attr(resource, "wasm.module.name"), "hello.wasm");
    let bytes = std::fs::read(component("hello")).unwrap();
    let digest = hex(&sha2::Sha256::digest(&bytes));
    assert_eq!(str_attr(resource, "wasm.module.sha256"), digest);
    assert_eq!(str_attr(resource, "process.runtime.name"), "wasmtime");
    assert!(str_attr(resource, "process.runtime.version").starts_with("48."));
    assert!(!str_attr(resource, "host.name").is_empty());
    assert!(int_attr(resource, "process.pid") > 0);

    // Every signal carries the same resource.
    for log in &exported.logs {
        assert_eq!(&log.resource.attributes, resource);
    }
    for metric in &exported.metrics {
        assert_eq!(&metric.resource.attributes, resource);
    }
}

#[test]
fn otel_service_name_wins_over_the_resource_attributes() {
    let (_, exported) = hello(|c| {
        c.env("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
            .env("OTEL_SERVICE_NAME", "from-variable")
            .arg("run");
    });
    let resource = &find(&exported.spans, "wasm.run").resource.attributes;
    assert_eq!(str_attr(resource, "service.name"), "from-variable");
}

#[test]
fn a_malformed_resource_attributes_value_is_ignored_with_a_warning() {
    let (ran, exported) = hello(|c| {
        c.env("OTEL_RESOURCE_ATTRIBUTES", "good=1,broken")
            .arg("run");
    });
    assert!(
        ran.stderr
            .starts_with("warning: ignoring OTEL_RESOURCE_ATTRIBUTES: `broken` has no `=`"),
        "{}",
        ran.stderr
    );
    let resource = &find(&exported.spans, "wasm.run").resource.attributes;
    assert!(attr(resource, "good").is_none());
    assert_eq!(str_attr(resource, "service.name"), "hello");
}

#[test]
fn the_run_reports_its_own_metrics() {
    let (_, exported) = hello(|c| {
        c.args(["run", "--fuel", "1000000000"]);
    });
    let run_span = &find(&exported.spans, "wasm.run").span;
    let metric = |name: &str| {
        exported
            .metrics
            .iter()
            .find(|m| m.metric.name == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    };

    let duration = metric("wasm.run.duration");
    assert_eq!(duration.scope.name, "wasm-otel");
    assert_eq!(duration.metric.unit, "s");
    let Some(Data::Histogram(histogram)) = &duration.metric.data else {
        panic!("{duration:#?}")
    };
    assert_eq!(
        histogram.aggregation_temporality,
        AggregationTemporality::Delta as i32
    );
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 1);
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 1);
    let seconds = point.sum.unwrap();
    let span_seconds = (run_span.end_time_unix_nano - run_span.start_time_unix_nano) as f64 / 1e9;
    // Both measure the same run, from the same two instants.
    assert!(
        (seconds - span_seconds).abs() < 1e-6,
        "{seconds} != {span_seconds}"
    );

    let fuel = metric("wasm.fuel.consumed");
    let Some(Data::Sum(sum)) = &fuel.metric.data else {
        panic!("{fuel:#?}")
    };
    assert!(sum.is_monotonic);
    let consumed = int_attr(&run_span.attributes, "wasm.fuel.consumed");
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsInt(consumed))
    );

    let memory = metric("wasm.memory.peak");
    assert_eq!(memory.metric.unit, "By");
    let Some(Data::Gauge(gauge)) = &memory.metric.data else {
        panic!("{memory:#?}")
    };
    let peak = int_attr(&run_span.attributes, "wasm.memory.peak_bytes");
    assert_eq!(
        gauge.data_points[0].value,
        Some(number_data_point::Value::AsInt(peak))
    );

    // Nothing was dropped, so no drop counter is sent.
    assert!(
        !exported
            .metrics
            .iter()
            .any(|m| m.metric.name == "wasm.telemetry.dropped")
    );
}

/// The log records made of the guest's output, as (stream, severity, body).
fn output_logs(exported: &Exported) -> Vec<(String, String, String)> {
    exported
        .logs
        .iter()
        .filter(|log| attr(&log.record.attributes, "log.iostream").is_some())
        .map(|log| {
            let body = match log.record.body.as_ref().and_then(|b| b.value.clone()) {
                Some(Value::StringValue(s)) => s,
                other => panic!("{other:?}"),
            };
            let stream = str_attr(&log.record.attributes, "log.iostream").to_owned();
            (stream, log.record.severity_text.clone(), body)
        })
        .collect()
}

#[test]
fn each_line_of_output_becomes_a_log_record_of_the_run() {
    let (ran, exported) = run_exported(
        host()
            .arg("run")
            .arg(component("flood"))
            .args(["both", "2"]),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    // The output still reaches the terminal.
    assert_eq!(ran.stdout.lines().count(), 2);

    let mut lines = output_logs(&exported);
    lines.sort();
    let line = |n: usize| format!("flood line {n} {}", "x".repeat(64));
    let expected = [
        ("stderr", "WARN", line(0)),
        ("stderr", "WARN", line(1)),
        ("stdout", "INFO", line(0)),
        ("stdout", "INFO", line(1)),
    ]
    .map(|(s, v, b)| (s.to_owned(), v.to_owned(), b));
    assert_eq!(lines, expected);

    let run_span = &find(&exported.spans, "wasm.run").span;
    for log in &exported.logs {
        assert_eq!(log.record.span_id, run_span.span_id);
        assert_eq!(log.record.trace_id, run_span.trace_id);
        let severity = log.record.severity_number;
        assert!(severity == 9 || severity == 13, "{severity}");
    }
}

#[test]
fn no_output_logs_keeps_output_off_the_pipeline() {
    let (ran, exported) = run_exported(
        host()
            .args(["run", "--no-output-logs"])
            .arg(component("flood"))
            .args(["both", "2"]),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout.lines().count(), 2);
    assert!(output_logs(&exported).is_empty());
}
