//! The main job end to end: real guests under the real `wasm-otel` binary,
//! exporting to a loopback OTLP/HTTP receiver.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use wasm_otel_tests::otlp::{array_items, attr, hex, int_attr, str_attr};
use wasm_otel_tests::{LogEntry, Receiver, SpanRecord, component, component_for, find, host, run};

fn service_name(record: &SpanRecord) -> &str {
    str_attr(&record.resource.attributes, "service.name")
}

/// Runs hello with `names` against a fresh receiver and returns its spans.
fn hello_spans(names: &[&str]) -> (wasm_otel_tests::Ran, Vec<SpanRecord>) {
    let receiver = Receiver::start();
    let ran = run(host()
        .arg("run")
        .arg("--otlp-endpoint")
        .arg(receiver.endpoint())
        .arg(component("hello"))
        .args(names));
    (ran, receiver.spans())
}

#[test]
fn hello_spans_arrive_as_one_tree_under_wasm_run() {
    let (ran, spans) = hello_spans(&["world", "wasm", "otel"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(
        ran.stdout,
        "Hello, world, wasm and otel!\naverage name length: 4.33\n"
    );
    assert_eq!(spans.len(), 6, "{spans:#?}");

    // One trace, rooted at the host's span.
    let run_span = &find(&spans, "wasm.run").span;
    assert!(run_span.parent_span_id.is_empty(), "wasm.run is a root");
    assert_eq!(run_span.trace_id.len(), 16);
    for record in &spans {
        assert_eq!(
            record.span.trace_id, run_span.trace_id,
            "{}",
            record.span.name
        );
        assert_eq!(service_name(record), "hello");
    }

    // Parents as the guest nested them.
    let parent_of = |name: &str| find(&spans, name).span.parent_span_id.clone();
    let id_of = |name: &str| find(&spans, name).span.span_id.clone();
    assert_eq!(parent_of("hello"), id_of("wasm.run"));
    assert_eq!(parent_of("hello.parse"), id_of("hello"));
    assert_eq!(parent_of("hello.greet"), id_of("hello"));
    assert_eq!(parent_of("hello.load_config"), id_of("hello"));
    assert_eq!(parent_of("hello.score"), id_of("hello.greet"));

    // Attributes with their types.
    let root = find(&spans, "hello");
    let names: Vec<Value> = array_items(attr(&root.span.attributes, "hello.names"));
    let expected: Vec<Value> = ["world", "wasm", "otel"]
        .map(|s| Value::StringValue(s.to_owned()))
        .into();
    assert_eq!(names, expected);
    assert_eq!(int_attr(&root.span.attributes, "hello.name_count"), 3);
    let parse = &find(&spans, "hello.parse").span;
    assert_eq!(int_attr(&parse.attributes, "hello.valid_count"), 3);
    assert_eq!(
        attr(&parse.attributes, "hello.all_valid"),
        Some(&Value::BoolValue(true))
    );
    let score = &find(&spans, "hello.score").span;
    match attr(&score.attributes, "hello.average_length") {
        Some(Value::DoubleValue(v)) => assert!((v - 13.0 / 3.0).abs() < 1e-12, "{v}"),
        other => panic!("hello.average_length is not a double: {other:?}"),
    }

    // The event, with the greeting's length.
    let greet = &find(&spans, "hello.greet").span;
    assert_eq!(greet.events.len(), 1);
    assert_eq!(greet.events[0].name, "greeting.built");
    let greeting = ran.stdout.lines().next().unwrap();
    assert_eq!(
        int_attr(&greet.events[0].attributes, "greeting.length"),
        greeting.chars().count() as i64
    );
    assert!(greet.events[0].time_unix_nano >= greet.start_time_unix_nano);
    assert!(greet.events[0].time_unix_nano <= greet.end_time_unix_nano);

    // The sandbox grants no directory, so the config read fails.
    let config = &find(&spans, "hello.load_config").span;
    let status = config.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(!status.message.is_empty());
    assert_eq!(
        str_attr(&config.attributes, "config.path"),
        "/etc/hello.conf"
    );

    // Times nest, and the scope is the guest's tracer.
    for record in spans.iter().filter(|r| r.span.name.starts_with("hello")) {
        let span = &record.span;
        assert!(
            span.start_time_unix_nano > 0 && span.start_time_unix_nano <= span.end_time_unix_nano
        );
        assert!(span.start_time_unix_nano >= run_span.start_time_unix_nano);
        assert!(span.end_time_unix_nano <= run_span.end_time_unix_nano);
        assert_eq!(record.scope.name, "hello");
    }

    // The run's outcome.
    assert_eq!(int_attr(&run_span.attributes, "wasm.exit_code"), 0);
    assert_eq!(
        str_attr(&run_span.attributes, "wasm.module.name"),
        "hello.wasm"
    );
    assert_eq!(
        run_span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );
}

#[test]
fn the_guests_exit_code_is_the_hosts() {
    let (ran, spans) = hello_spans(&["123"]);
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(
        ran.stderr.contains("no valid name among `123`"),
        "{}",
        ran.stderr
    );
    let run_span = &find(&spans, "wasm.run").span;
    assert_eq!(int_attr(&run_span.attributes, "wasm.exit_code"), 2);
    assert_eq!(
        run_span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    // The guest's root span still arrives, with its error.
    let root = &find(&spans, "hello").span;
    assert_eq!(
        root.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
}

#[test]
fn endpoint_and_service_name_come_from_the_standard_variables() {
    let receiver = Receiver::start();
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_SERVICE_NAME", "from-env")
        .args(["run"])
        .arg(component("hello")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let spans = receiver.spans();
    assert_eq!(spans.len(), 6);
    assert!(spans.iter().all(|s| service_name(s) == "from-env"));
    assert!(
        !ran.stderr.contains("wasm.run"),
        "no console tree when exporting"
    );
}

#[test]
fn the_traces_endpoint_is_used_as_given_and_the_flag_names_the_service() {
    let receiver = Receiver::start();
    let url = format!("{}/custom/traces", receiver.endpoint());
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url)
        .env("OTEL_SERVICE_NAME", "from-env")
        .args(["run", "--service-name", "from-flag"])
        .arg(component("hello")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(receiver.spans().is_empty(), "nothing at /v1/traces");
    let spans = receiver.spans_at("/custom/traces");
    assert_eq!(spans.len(), 6);
    assert!(spans.iter().all(|s| service_name(s) == "from-flag"));
}

#[test]
fn without_an_endpoint_the_tree_is_printed_on_stderr() {
    let ran = run(host().arg("run").arg(component("hello")).arg("wasm"));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "Hello, wasm!\naverage name length: 4.00\n");

    let lines: Vec<&str> = ran.stderr.lines().collect();
    let line = |start: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting `{start}` in:\n{}", ran.stderr))
            .to_string()
    };
    assert_eq!(line("service "), "service hello");
    assert!(line("trace ").len() == "trace ".len() + 32);
    assert!(line("wasm.run  ").contains("wasm.exit_code=0"));
    assert!(line("└─ hello  ").contains("hello.name_count=1"));
    assert!(line("   ├─ hello.parse  ").contains("hello.all_valid=true"));
    assert!(line("   ├─ hello.load_config  ").contains("error: "));
    assert!(line("   └─ hello.greet  ").contains("event greeting.built"));
    assert!(line("      └─ hello.score  ").contains("hello.average_length=4"));
}

#[test]
fn exporter_none_prints_and_sends_nothing() {
    let receiver = Receiver::start();
    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .args(["run", "--exporter", "none"])
        .arg(component("hello")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stderr, "");
    assert!(receiver.requests().is_empty());
}

#[test]
fn a_plain_wasip1_module_runs_with_its_arguments_and_exit_code() {
    let receiver = Receiver::start();
    let ran = run(host()
        .arg("run")
        .arg("--otlp-endpoint")
        .arg(receiver.endpoint())
        .arg(component("plain"))
        .args(["7", "--not-a-host-flag", "x"]));
    assert_eq!(ran.code, Some(7), "{ran:?}");
    assert_eq!(ran.stdout, "argv: plain.wasm 7 --not-a-host-flag x\n");
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    let run_span = &spans[0].span;
    assert_eq!(run_span.name, "wasm.run");
    assert_eq!(int_attr(&run_span.attributes, "wasm.exit_code"), 7);
    assert_eq!(
        str_attr(&run_span.attributes, "wasm.module.kind"),
        "wasip1 module"
    );
}

#[test]
fn a_preview2_component_runs_as_it_is() {
    let (ran, spans) = {
        let receiver = Receiver::start();
        let ran = run(host()
            .arg("run")
            .arg("--otlp-endpoint")
            .arg(receiver.endpoint())
            .arg(component_for("wasm32-wasip2", "hello"))
            .arg("component"));
        (ran, receiver.spans())
    };
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout.lines().next(), Some("Hello, component!"));
    let run_span = &find(&spans, "wasm.run").span;
    assert_eq!(
        str_attr(&run_span.attributes, "wasm.module.kind"),
        "component"
    );
    assert_eq!(find(&spans, "hello").span.parent_span_id, run_span.span_id);
    assert_eq!(spans.len(), 6);
}

#[test]
fn a_guest_built_against_the_standard_world_arrives_intact() {
    let receiver = Receiver::start();
    let ran = run(host()
        .arg("run")
        .arg("--otlp-endpoint")
        .arg(receiver.endpoint())
        .arg(component("foreign")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "foreign: done\n");
    let spans = receiver.spans();
    assert_eq!(spans.len(), 3, "{spans:#?}");

    let run_span = &find(&spans, "wasm.run").span;
    let request = find(&spans, "foreign.request");
    let span = &request.span;
    assert_eq!(span.trace_id, run_span.trace_id);
    assert_eq!(span.parent_span_id, run_span.span_id);
    assert_eq!(hex(&span.span_id), "00f067aa0ba902b7");
    assert_eq!(span.trace_state, "vendor=value1");
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_623_000_000);
    assert_eq!(span.flags & 0xff, 1, "sampled");

    // Attributes, in order, typed from their JSON.
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["s", "b", "i", "f", "sa", "ia", "m", "bytes"]);
    let a = &span.attributes;
    assert_eq!(attr(a, "s"), Some(&Value::StringValue("text".into())));
    assert_eq!(attr(a, "b"), Some(&Value::BoolValue(true)));
    assert_eq!(attr(a, "i"), Some(&Value::IntValue(-42)));
    assert_eq!(attr(a, "f"), Some(&Value::DoubleValue(2.5)));
    assert_eq!(
        array_items(attr(a, "sa")),
        vec![
            Value::StringValue("x".into()),
            Value::StringValue("y".into())
        ]
    );
    assert_eq!(
        array_items(attr(a, "ia")),
        vec![Value::IntValue(1), Value::IntValue(2), Value::IntValue(3)]
    );
    // Span attributes have no map type: the guest's JSON is kept as text.
    assert_eq!(
        attr(a, "m"),
        Some(&Value::StringValue(r#"{"k":"v"}"#.into()))
    );
    assert_eq!(
        attr(a, "bytes"),
        Some(&Value::StringValue(
            "data:application/octet-stream;base64,AAEC".into()
        ))
    );
    assert_eq!(span.dropped_attributes_count, 1);
    assert_eq!(span.dropped_events_count, 2);
    assert_eq!(span.dropped_links_count, 3);

    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "foreign.event");
    assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_300_000_000);
    assert_eq!(
        attr(&span.events[0].attributes, "e"),
        Some(&Value::IntValue(7))
    );

    assert_eq!(span.links.len(), 1);
    let link = &span.links[0];
    assert_eq!(hex(&link.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&link.span_id), "b7ad6b7169203331");
    assert_eq!(str_attr(&link.attributes, "l"), "linked");

    let status = span.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "upstream failed");

    assert_eq!(request.scope.name, "foreign-sdk");
    assert_eq!(request.scope.version, "9.9.9");
    assert_eq!(
        request.scope_schema_url,
        "https://opentelemetry.io/schemas/1.24.0"
    );
    assert_eq!(str_attr(&request.scope.attributes, "scope.attr"), "yes");

    let child = &find(&spans, "foreign.child").span;
    assert_eq!(hex(&child.span_id), "1111111111111111");
    assert_eq!(hex(&child.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(child.kind, SpanKind::Internal as i32);
    assert_eq!(
        child.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );

    // The log record arrives as sent, with the guest's resource added to
    // the host's.
    assert!(
        ran.stderr.contains("foreign: metrics export ok"),
        "{}",
        ran.stderr
    );
    let logs: Vec<LogEntry> = receiver
        .logs()
        .into_iter()
        .filter(|log| log.scope.name == "foreign-sdk")
        .collect();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = &logs[0];
    let record = &log.record;
    assert_eq!(record.time_unix_nano, 1_700_000_000_400_000_000);
    assert_eq!(record.observed_time_unix_nano, 1_700_000_000_450_000_000);
    assert_eq!(record.severity_number, 13);
    assert_eq!(record.severity_text, "WARN");
    let body = record.body.as_ref().and_then(|b| b.value.clone());
    assert_eq!(body, Some(Value::StringValue("foreign log".into())));
    assert_eq!(str_attr(&record.attributes, "k"), "v");
    assert_eq!(record.event_name, "foreign.log");
    assert_eq!(hex(&record.trace_id), hex(&run_span.trace_id));
    assert_eq!(hex(&record.span_id), "00f067aa0ba902b7");
    assert_eq!(record.flags & 0xff, 1);
    assert_eq!(str_attr(&log.resource.attributes, "guest.resource"), "r");
    assert_eq!(
        str_attr(&log.resource.attributes, "service.name"),
        "foreign"
    );

    // So does the metric.
    let metrics = receiver.metrics();
    let requests = metrics
        .iter()
        .find(|m| m.metric.name == "foreign.requests")
        .unwrap_or_else(|| panic!("no foreign.requests in {metrics:#?}"));
    assert_eq!(requests.scope.name, "foreign-sdk");
    assert_eq!(requests.metric.unit, "{request}");
    assert_eq!(requests.metric.description, "requests made");
    let Some(Data::Sum(sum)) = &requests.metric.data else {
        panic!("not a sum: {requests:#?}")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    assert_eq!(sum.data_points.len(), 1);
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsInt(3))
    );
    assert_eq!(sum.data_points[0].time_unix_nano, 1_700_000_000_700_000_000);
    assert_eq!(
        str_attr(&requests.resource.attributes, "guest.resource"),
        "r"
    );

    // Nothing was dropped or repaired.
    assert_eq!(int_attr(&run_span.attributes, "wasm.telemetry.dropped"), 0);
}

#[test]
fn a_missing_file_exits_127_naming_it() {
    let ran = run(host().args(["run", "no/such/guest.wasm"]));
    assert_eq!(ran.code, Some(127));
    assert_eq!(ran.stderr, "error: no such file `no/such/guest.wasm`\n");
}

#[test]
fn a_file_that_is_not_wasm_exits_126() {
    let dir = std::env::temp_dir().join(format!("wasm-otel-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notes.wasm");
    std::fs::write(&path, "these are not the bytes you are looking for").unwrap();
    let ran = run(host().arg("run").arg(&path));
    assert_eq!(ran.code, Some(126));
    assert!(ran.stderr.starts_with("error: `"), "{}", ran.stderr);
    assert!(ran.stderr.contains("notes.wasm"), "{}", ran.stderr);
    assert!(ran.stderr.contains("magic number"), "{}", ran.stderr);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_import_the_host_lacks_exits_126_naming_it() {
    let dir = std::env::temp_dir().join(format!("wasm-otel-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("needs-env.wasm");
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "embedder_callback" (func))
            (memory (export "memory") 1)
            (func (export "_start")))"#,
    )
    .unwrap();
    std::fs::write(&path, wasm).unwrap();
    let ran = run(host().arg("run").arg(&path));
    assert_eq!(ran.code, Some(126), "{ran:?}");
    assert!(
        ran.stderr.contains("env::embedder_callback"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_125() {
    let ran = run(host().args(["run", "--exporter", "carrier-pigeon", "x.wasm"]));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(ran.stderr.contains("carrier-pigeon"), "{}", ran.stderr);

    let ran = run(host()
        .args(["run", "--exporter", "otlp"])
        .arg(component("hello")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(ran.stderr.contains("--otlp-endpoint"), "{}", ran.stderr);

    let ran = run(host()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")
        .arg("run")
        .arg(component("hello")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(ran.stderr.contains("`localhost:4318`"), "{}", ran.stderr);
}
