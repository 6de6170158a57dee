//! OTLP export as the specification says, against a collector that
//! misbehaves: every setting, every fault, what arrived, what was counted,
//! the exit code, and how long the process took to end.

use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use wasm_otel_tests::{Ran, Receiver, Reply, TempDir, component, find, host, run};

/// `hello` sends six spans (five of its own and `wasm.run`).
const HELLO_SPANS: usize = 6;

/// Runs hello against `receiver` with `configure` applied, timing it.
fn hello_to(receiver: &Receiver, configure: impl FnOnce(&mut Command)) -> (Ran, Duration) {
    let mut command = host();
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    configure(&mut command);
    let started = Instant::now();
    let ran = run(command.arg(component("hello")).arg("world"));
    (ran, started.elapsed())
}

fn summary(ran: &Ran) -> &str {
    ran.export_summary
        .as_deref()
        .unwrap_or_else(|| panic!("no export summary in {ran:?}"))
}

#[test]
fn json_is_sent_when_asked_for_and_decodes_as_the_otlp_json_mapping() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json").arg("run");
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let requests = receiver.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("content-type") == Some("application/json"))
    );
    // Ids are hex in the OTLP JSON mapping, not base64.
    let body = &requests
        .iter()
        .find(|r| r.url == "/v1/traces")
        .unwrap()
        .body;
    let text = String::from_utf8_lossy(body);
    let spans = receiver.spans();
    assert_eq!(spans.len(), HELLO_SPANS);
    let run_span = find(&spans, "wasm.run");
    let hex_id = wasm_otel_tests::otlp::hex(&run_span.span.trace_id);
    assert!(
        text.contains(&format!("\"traceId\":\"{hex_id}\"")),
        "{text}"
    );
    assert!(!receiver.logs().is_empty());
    assert!(!receiver.metrics().is_empty());
}

#[test]
fn per_signal_protocols_override_the_general_one() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
            .arg("run");
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for request in receiver.requests() {
        let expected = match request.url.as_str() {
            "/v1/traces" => "application/x-protobuf",
            _ => "application/json",
        };
        assert_eq!(
            request.header("content-type"),
            Some(expected),
            "{}",
            request.url
        );
    }
}

#[test]
fn grpc_is_refused_naming_what_is_supported() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc").arg("run");
    });
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert_eq!(
        ran.stderr,
        "error: OTEL_EXPORTER_OTLP_PROTOCOL is `grpc`, which is not supported \
         (use `http/protobuf` or `http/json`)\n"
    );
    assert!(receiver.requests().is_empty());
}

#[test]
fn headers_come_from_the_variables_and_the_flag_and_are_decoded() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=a%20b,x-key=general")
            .env("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-key=logs")
            .args(["run", "--otlp-header", "x-flag=set"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for request in receiver.requests() {
        assert_eq!(request.header("x-tenant"), Some("a b"));
        assert_eq!(request.header("x-flag"), Some("set"));
        let key = if request.url == "/v1/logs" {
            "logs"
        } else {
            "general"
        };
        assert_eq!(request.header("x-key"), Some(key), "{}", request.url);
    }
}

#[test]
fn gzip_compresses_every_request() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip").arg("run");
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.header("content-encoding") == Some("gzip"))
    );
    assert_eq!(receiver.spans().len(), HELLO_SPANS);
}

#[test]
fn the_sdk_disabled_variable_turns_export_off() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_SDK_DISABLED", "true").arg("run");
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stderr, "");
    assert_eq!(ran.export_summary, None);
    assert!(receiver.requests().is_empty());
}

#[test]
fn every_run_that_exports_says_what_it_exported() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(
        summary(&ran),
        "telemetry: exported 6 spans, 2 metric points"
    );
}

#[test]
fn retryable_answers_are_retried_until_they_succeed() {
    // 502, 504 and 503, then 429 with Retry-After, then success.
    let receiver = Receiver::with(|n, _| match n {
        0 => Reply::status(502),
        1 => Reply::status(504),
        2 => Reply::status(503),
        3 => Reply::status(429).header("Retry-After", "1"),
        _ => Reply::ok(),
    });
    let (ran, took) = hello_to(&receiver, |c| {
        c.args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(receiver.spans().len(), HELLO_SPANS);
    assert_eq!(
        summary(&ran),
        "telemetry: exported 6 spans, 2 metric points"
    );
    // The receiver asked for a second's pause, and got it.
    let arrivals: Vec<Instant> = receiver.requests().iter().map(|r| r.arrived).collect();
    assert!(arrivals[4] - arrivals[3] >= Duration::from_secs(1));
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_rejection_is_not_retried_and_its_message_is_told_once() {
    let receiver = Receiver::with(|_, request| match request.url.as_str() {
        "/v1/traces" => Reply::status(400).body(b"bad span data".to_vec()),
        _ => Reply::ok(),
    });
    let (ran, _) = hello_to(&receiver, |c| {
        c.args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let traces = receiver
        .requests()
        .iter()
        .filter(|r| r.url == "/v1/traces")
        .count();
    // One request for the guest's spans, one for `wasm.run`, which the
    // host sends apart; neither is retried.
    assert_eq!(traces, 2, "not retried");
    let warnings: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", ran.stderr);
    assert!(
        warnings[0].contains("HTTP 400: bad span data"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        summary(&ran),
        "telemetry: exported 2 metric points; lost 6 spans (rejected)"
    );
}

#[test]
fn a_partial_success_counts_what_the_collector_rejected() {
    let partial = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "a span too old".into(),
        }),
    }
    .encode_to_vec();
    let receiver = Receiver::with(move |_, request| match request.url.as_str() {
        "/v1/traces" => Reply::ok().body(partial.clone()),
        _ => Reply::ok(),
    });
    let (ran, _) = hello_to(&receiver, |c| {
        c.args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stderr.contains("a span too old"), "{}", ran.stderr);
    // Two trace requests (the guest's spans, then `wasm.run`), one span
    // rejected from each, and neither sent again.
    assert_eq!(
        summary(&ran),
        "telemetry: exported 4 spans, 2 metric points; lost 2 spans (rejected_by_receiver)"
    );
    let requests = receiver.requests();
    assert_eq!(requests.iter().filter(|r| r.url == "/v1/traces").count(), 2);
}

#[test]
fn a_collector_that_never_answers_is_timed_out() {
    let receiver = Receiver::with(|_, _| Reply::ok().delayed(Duration::from_secs(600)));
    let (ran, took) = hello_to(&receiver, |c| {
        c.env("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
            .env("OTEL_BSP_EXPORT_TIMEOUT", "2000")
            .args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(summary(&ran).contains("lost"), "{}", summary(&ran));
    assert!(
        summary(&ran).contains("spans (timeout)"),
        "{}",
        summary(&ran)
    );
    // One 500 ms request per signal at most, then the run ends.
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn an_unreachable_collector_ends_within_the_export_timeout_and_keeps_the_exit_code() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let ran = run(host()
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_BSP_EXPORT_TIMEOUT", "1000")
        .args(["run", "--no-output-logs"])
        .arg(component("plain"))
        .arg("7"));
    let took = started.elapsed();
    assert_eq!(ran.code, Some(7), "{ran:?}");
    // The metric points, sent last, are found unreachable too, or, when
    // the span's retries used up the export timeout on a busy machine,
    // cut off by it: both lose them, and say so.
    let summary = summary(&ran);
    assert!(
        [
            "telemetry: exported nothing; lost 1 span (unreachable), 2 metric points (unreachable)",
            "telemetry: exported nothing; lost 1 span (unreachable), 2 metric points (timeout)",
        ]
        .contains(&summary),
        "{summary}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_collector_that_comes_up_late_receives_everything() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = host()
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .args(["run", "--no-output-logs"])
        .arg(component("hello"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let receiver = Receiver::on(&format!("127.0.0.1:{port}"), |_, _| Reply::ok());
    let output = child.wait_with_output().unwrap();
    let ran = Ran::from(output);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(receiver.spans().len(), HELLO_SPANS);
    assert_eq!(
        summary(&ran),
        "telemetry: exported 6 spans, 2 metric points"
    );
}

#[test]
fn a_small_queue_loses_nothing_while_the_exporter_keeps_up() {
    // The guest waits for room rather than lose spans to an exporter that
    // is merely behind.
    let receiver = Receiver::start();
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "10")
        .env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
        .args(["run", "--no-output-logs"])
        .arg(component("bad-telemetry"))
        .args(["storm", "5000"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(
        summary(&ran),
        "telemetry: exported 5003 spans, 2 metric points"
    );
    assert_eq!(receiver.spans().len(), 5003);
}

/// A receiver that answers after half a second: the exporter is stuck
/// while it waits, and a small queue fills.
fn slow_receiver() -> Receiver {
    Receiver::with(|_, _| Reply {
        delay: Duration::from_millis(500),
        ..Reply::ok()
    })
}

#[test]
fn a_full_queue_drops_and_counts() {
    let receiver = slow_receiver();
    let mut command = host();
    let ran = run(command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "10")
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .args(["run", "--no-output-logs"])
        .arg(component("bad-telemetry"))
        .args(["storm", "5000"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let summary = summary(&ran);
    assert!(summary.contains("spans (queue_full)"), "{summary}");
    // Delivered and lost add up to everything sent: 5,000 storm spans, the
    // root, the control span and `wasm.run`.
    let number = |before: &str| -> usize {
        let (head, _) = summary.split_once(before).unwrap();
        head.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let delivered = receiver.spans().len();
    assert_eq!(number(" spans, "), delivered);
    assert_eq!(delivered + number(" spans (queue_full)"), 5003);
}

#[test]
fn the_file_exporter_appends_otlp_json_lines() {
    let dir = TempDir::new("file-exporter");
    let path = dir.path().join("telemetry.jsonl");
    let exporter = format!("file:{}", path.display());
    for _ in 0..2 {
        let ran = run(host()
            .args(["run", "--exporter", &exporter])
            .arg(component("hello"))
            .arg("world"));
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            summary(&ran).starts_with("telemetry: exported 6 spans"),
            "{ran:?}"
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut spans, mut logs, mut metrics) = (0, 0, 0);
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(list) = value.get("resourceSpans") {
            let data: opentelemetry_proto::tonic::trace::v1::TracesData =
                serde_json::from_str(line).unwrap();
            spans += data
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>();
            assert!(list.is_array());
        } else if value.get("resourceLogs").is_some() {
            let data: opentelemetry_proto::tonic::logs::v1::LogsData =
                serde_json::from_str(line).unwrap();
            logs += data.resource_logs.len();
        } else if value.get("resourceMetrics").is_some() {
            let data: opentelemetry_proto::tonic::metrics::v1::MetricsData =
                serde_json::from_str(line).unwrap();
            metrics += data.resource_metrics.len();
        } else {
            panic!("not an OTLP JSON line: {line}");
        }
    }
    assert_eq!(spans, 2 * HELLO_SPANS, "both runs appended");
    assert!(logs >= 2, "output lines as logs");
    assert_eq!(metrics, 2);
}

#[test]
fn a_file_that_cannot_be_opened_is_a_usage_error() {
    let ran = run(host()
        .args(["run", "--exporter", "file:/no/such/dir/t.jsonl"])
        .arg(component("plain")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(
        ran.stderr
            .starts_with("error: cannot open `/no/such/dir/t.jsonl` for `--exporter file:`"),
        "{}",
        ran.stderr
    );
}

#[test]
fn batches_are_no_larger_than_the_batch_size() {
    let receiver = Receiver::start();
    let (ran, _) = hello_to(&receiver, |c| {
        c.env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
            .args(["run", "--no-output-logs"]);
    });
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let mut total = 0;
    let mut requests = 0;
    for (body, _) in receiver.bodies("/v1/traces") {
        let request =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                body.as_slice(),
            )
            .unwrap();
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert!(spans <= 2, "{spans} spans in one request");
        total += spans;
        requests += 1;
    }
    assert_eq!(total, HELLO_SPANS);
    assert!(requests >= 3, "{requests}");
}

#[test]
fn shutdown_is_bounded_by_the_export_timeout_however_much_is_queued() {
    let receiver = Receiver::with(|_, _| Reply::ok().delayed(Duration::from_secs(600)));
    let started = Instant::now();
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
        .env("OTEL_BSP_EXPORT_TIMEOUT", "1000")
        .env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
        .args(["run", "--no-output-logs"])
        .arg(component("bad-telemetry"))
        .args(["storm", "20000"]));
    let took = started.elapsed();
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(summary(&ran).contains("lost"), "{}", summary(&ran));
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[test]
fn a_guest_that_fills_the_queue_cannot_push_out_the_runs_own_telemetry() {
    let receiver = slow_receiver();
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "100")
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .args(["run", "--no-output-logs", "--max-open-spans", "5000"])
        .arg(component("bad-telemetry"))
        .args(["openstorm", "5000"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(summary(&ran).contains("(queue_full)"), "{}", summary(&ran));
    let spans = receiver.spans();
    find(&spans, "wasm.run");
    let metrics = receiver.metrics();
    assert!(metrics.iter().any(|m| m.metric.name == "wasm.run.duration"));
    assert!(
        metrics
            .iter()
            .any(|m| m.metric.name == "wasm.telemetry.dropped")
    );
}

#[test]
fn an_https_endpoint_is_refused_up_front() {
    let ran = run(host()
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector.invalid:4318",
        )
        .arg("run")
        .arg(component("plain")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(
        ran.stderr.contains("this build has no TLS"),
        "{}",
        ran.stderr
    );
}
