//! Guests in other languages: a Python one built by componentize-py and
//! a JavaScript one built by jco componentize, both against the world
//! `wasm-otel:guest/command`. Each compiles a whole language runtime, so
//! each is run once, under the real binary, and everything is checked on
//! what that one run sent to a loopback OTLP receiver.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use wasm_otel_tests::otlp::{attr, double_attr, hex, int_attr, str_attr};
use wasm_otel_tests::{Exported, find, host, polyglot_guest, run_exported};

/// What a guest's one order comes to, as its source spells it out.
struct Order {
    /// The guest's file stem, which is also its scope's name.
    guest: &'static str,
    stdout: &'static str,
    id: &'static str,
    items: i64,
    express: bool,
    total: f64,
    subtotal: f64,
    discount_percent: i64,
}

const PYTHON: Order = Order {
    guest: "py-guest",
    stdout: "order A-1042: 3 items, total 50.84 EUR\n",
    id: "A-1042",
    items: 3,
    express: true,
    total: 50.84,
    subtotal: 56.49,
    discount_percent: 10,
};

const JAVASCRIPT: Order = Order {
    guest: "js-guest",
    stdout: "order B-2077: 4 items, total 42.28 EUR\n",
    id: "B-2077",
    items: 4,
    express: false,
    total: 42.28,
    subtotal: 49.74,
    discount_percent: 15,
};

#[test]
fn python_guest_spans_arrive_nested_under_wasm_run() {
    check(&PYTHON);
}

#[test]
fn javascript_guest_spans_arrive_nested_under_wasm_run() {
    check(&JAVASCRIPT);
}

/// Runs `order.guest` once over OTLP and checks its output and spans.
fn check(order: &Order) {
    let (ran, exported) = run_exported(
        host()
            .args(["run", "--exporter", "otlp"])
            .arg(polyglot_guest(order.guest)),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, order.stdout, "{ran:?}");
    assert_stdout_logged(&exported, order.stdout);

    let names: Vec<&str> = exported
        .spans
        .iter()
        .map(|s| s.span.name.as_str())
        .collect();
    assert_eq!(exported.spans.len(), 3, "{names:?}");
    let run = &find(&exported.spans, "wasm.run").span;
    let root = find(&exported.spans, "order.process");
    let child = find(&exported.spans, "order.price");
    assert_eq!(int_attr(&run.attributes, "wasm.exit_code"), 0);
    assert_eq!(int_attr(&run.attributes, "wasm.telemetry.spans"), 2);

    // One trace: the root under the host's span, the child under the root.
    for span in [&root.span, &child.span] {
        assert_eq!(hex(&span.trace_id), hex(&run.trace_id), "{span:?}");
        assert_eq!(span.span_id.len(), 8, "{span:?}");
        assert_ne!(span.span_id, [0; 8], "{span:?}");
        assert_eq!(span.kind, SpanKind::Internal as i32, "{span:?}");
        assert_ok(span.status.as_ref());
    }
    assert_eq!(root.span.parent_span_id, run.span_id);
    assert_eq!(child.span.parent_span_id, root.span.span_id);
    assert_ne!(child.span.span_id, root.span.span_id);
    for record in [root, child] {
        assert_eq!(record.scope.name, order.guest);
        assert_eq!(record.scope.version, "0.1.0");
    }

    // The guest's wall clock: nested inside the run, in order.
    let times = [
        run.start_time_unix_nano,
        root.span.start_time_unix_nano,
        child.span.start_time_unix_nano,
        child.span.end_time_unix_nano,
        root.span.end_time_unix_nano,
        run.end_time_unix_nano,
    ];
    assert!(times.is_sorted(), "{times:?}");

    // Each JSON value arrives with its own type.
    let attributes = &root.span.attributes;
    assert_eq!(attributes.len(), 4, "{attributes:?}");
    assert_eq!(str_attr(attributes, "order.id"), order.id);
    assert_eq!(int_attr(attributes, "order.items"), order.items);
    assert_eq!(
        attr(attributes, "order.express"),
        Some(&Value::BoolValue(order.express))
    );
    assert_eq!(double_attr(attributes, "order.total"), order.total);
    assert_eq!(child.span.attributes.len(), 1, "{:?}", child.span);
    assert_eq!(
        double_attr(&child.span.attributes, "order.subtotal"),
        order.subtotal
    );

    let [event] = child.span.events.as_slice() else {
        panic!("one event expected: {:?}", child.span.events)
    };
    assert_eq!(event.name, "discount.applied");
    assert_eq!(event.attributes.len(), 1, "{event:?}");
    assert_eq!(
        int_attr(&event.attributes, "discount.percent"),
        order.discount_percent
    );
    assert!(
        (child.span.start_time_unix_nano..=child.span.end_time_unix_nano)
            .contains(&event.time_unix_nano),
        "{event:?} outside {:?}",
        child.span
    );
}

fn assert_ok(status: Option<&Status>) {
    let code = status.map(|s| s.code);
    assert_eq!(code, Some(StatusCode::Ok as i32), "{status:?}");
}

/// The guest's one line of output arrived as a log record too.
fn assert_stdout_logged(exported: &Exported, stdout: &str) {
    let lines: Vec<&str> = exported
        .logs
        .iter()
        .filter(|log| attr(&log.record.attributes, "log.iostream").is_some())
        .map(|log| {
            assert_eq!(str_attr(&log.record.attributes, "log.iostream"), "stdout");
            match log.record.body.as_ref().and_then(|b| b.value.as_ref()) {
                Some(Value::StringValue(line)) => line.as_str(),
                other => panic!("an output line's body is not a string: {other:?}"),
            }
        })
        .collect();
    assert_eq!(lines, [stdout.trim_end()]);
}
