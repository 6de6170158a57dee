//! What the portable backend writes, read back as JSON.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value as Json;

use super::*;
use crate::{Logger, Meter, Tracer, metrics};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// Installs a portable backend writing to memory on this thread, with
/// `outer` as the parent of root spans.
fn install(outer: SpanContext) -> Rc<RefCell<Vec<String>>> {
    crate::metrics::aggregate::reset();
    let lines = Rc::new(RefCell::new(Vec::new()));
    let sink = Sink::Memory(lines.clone());
    let portable = Portable::new(sink, outer, Some("shop".to_owned()));
    crate::backend::install(Rc::new(portable));
    lines
}

fn no_outer() -> SpanContext {
    no_parent()
}

/// The lines written so far, removed and parsed; each must be one line
/// ending in a newline.
fn take(lines: &Rc<RefCell<Vec<String>>>) -> Vec<Json> {
    lines
        .take()
        .into_iter()
        .map(|line| {
            let body = line.strip_suffix('\n').expect("a line ends in a newline");
            assert!(!body.contains('\n'), "{body}");
            serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {body}"))
        })
        .collect()
}

fn spans(line: &Json) -> Vec<&Json> {
    line["resourceSpans"][0]["scopeSpans"]
        .as_array()
        .expect("scopeSpans")
        .iter()
        .flat_map(|scope| scope["spans"].as_array().expect("spans"))
        .collect()
}

fn attribute<'a>(item: &'a Json, key: &str) -> &'a Json {
    item["attributes"]
        .as_array()
        .and_then(|kvs| kvs.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or_else(|| panic!("no attribute `{key}` in {item}"))
}

#[test]
fn a_span_tree_is_one_line_once_its_root_ends() {
    let lines = install(no_outer());
    let tracer = Tracer::new("shop").with_version("1.0.0");

    let mut root = tracer
        .span("order")
        .attribute("items", 3)
        .attribute("total", 27.5)
        .attribute("paid", true)
        .attribute("tags", vec!["a", "b"])
        .start();
    {
        let mut child = tracer.span("check").start();
        child.add_event("stock.low", &[crate::KeyValue::new("left", 2)]);
        child.set_status(crate::Status::error("short \"by\" one"));
    }
    assert!(lines.borrow().is_empty(), "held while the root is open");
    root.set_status(crate::Status::Ok);
    root.end();

    let written = take(&lines);
    assert_eq!(written.len(), 1);
    let line = &written[0];
    let resource = &line["resourceSpans"][0]["resource"];
    assert_eq!(attribute(resource, "service.name")["stringValue"], "shop");
    let scope = &line["resourceSpans"][0]["scopeSpans"][0]["scope"];
    assert_eq!(scope["name"], "shop");
    assert_eq!(scope["version"], "1.0.0");

    let spans = spans(line);
    let (check, order) = (spans[0], spans[1]);
    assert_eq!(check["name"], "check");
    assert_eq!(order["name"], "order");
    assert_eq!(check["parentSpanId"], order["spanId"]);
    assert_eq!(check["traceId"], order["traceId"]);
    assert!(order.get("parentSpanId").is_none(), "{order}");
    assert_eq!(order["kind"], 1);
    assert_eq!(order["status"]["code"], 1);
    assert_eq!(check["status"]["code"], 2);
    assert_eq!(check["status"]["message"], "short \"by\" one");

    assert_eq!(attribute(order, "items")["intValue"], "3");
    assert_eq!(attribute(order, "total")["doubleValue"], 27.5);
    assert_eq!(attribute(order, "paid")["boolValue"], true);
    let tags = &attribute(order, "tags")["arrayValue"]["values"];
    assert_eq!(tags[1]["stringValue"], "b");

    let event = &check["events"][0];
    assert_eq!(event["name"], "stock.low");
    assert_eq!(attribute(event, "left")["intValue"], "2");
    let start: u64 = order["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = order["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(start > 1_600_000_000_000_000_000 && start <= end, "{order}");
}

#[test]
fn root_spans_join_the_trace_named_by_traceparent() {
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let outer = parse_traceparent(&traceparent, "vendor=value").expect("valid");
    let lines = install(outer);

    Tracer::new("t").span("root").start().end();

    let span = spans(&take(&lines)[0])[0].clone();
    assert_eq!(span["traceId"], TRACE);
    assert_eq!(span["parentSpanId"], PARENT);
    assert_eq!(span["traceState"], "vendor=value");
    assert_eq!(span["flags"], 1);
}

#[test]
fn traceparent_must_be_version_00_with_valid_ids() {
    let ok = |tp: &str| parse_traceparent(tp, "").is_some();
    assert!(ok(&format!("00-{TRACE}-{PARENT}-00")));
    assert!(!ok(&format!("01-{TRACE}-{PARENT}-01")));
    assert!(!ok(&format!("00-{}-{PARENT}-01", "0".repeat(32))));
    assert!(!ok(&format!("00-{TRACE}-{PARENT}-1")));
    assert!(!ok(&format!("00-{TRACE}-{PARENT}-01-extra")));
    assert!(!ok("garbage"));
}

#[test]
fn logs_wait_for_the_span_they_belong_to_and_flush_writes_the_rest() {
    let lines = install(no_outer());
    let logger = Logger::new("shop");

    let span = Tracer::new("shop").span("work").start();
    logger.warn("inside").attribute("n", 1).emit();
    assert!(lines.borrow().is_empty());
    span.end();

    let written = take(&lines);
    assert_eq!(written.len(), 2, "{written:?}");
    let record = &written[1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(record["body"]["stringValue"], "inside");
    assert_eq!(record["severityText"], "WARN");
    assert_eq!(record["severityNumber"], 13);
    assert_eq!(record["spanId"], spans(&written[0])[0]["spanId"]);

    logger.info("outside").emit();
    assert!(lines.borrow().is_empty(), "held: no span ended");
    crate::backend::flush();
    let written = take(&lines);
    let record = &written[0]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(record["body"]["stringValue"], "outside");
    assert!(record.get("traceId").is_none(), "{record}");
}

#[test]
fn a_full_batch_is_written_before_the_root_ends() {
    let lines = install(no_outer());
    let tracer = Tracer::new("t");

    let root = tracer.span("root").start();
    for _ in 0..BATCH {
        tracer.span("child").start().end();
    }
    let written = take(&lines);
    assert_eq!(written.len(), 1);
    assert_eq!(spans(&written[0]).len(), BATCH);
    root.end();
    assert_eq!(spans(&take(&lines)[0]).len(), 1);
}

#[test]
fn spans_open_at_exit_are_written_as_unended() {
    let lines = install(no_outer());

    let open = Tracer::new("t").span("never.ended").start();
    let id = open.span_context().span_id().to_owned();
    std::mem::forget(open);
    crate::backend::flush();

    let span = spans(&take(&lines)[0])[0].clone();
    assert_eq!(span["name"], "unended span");
    assert_eq!(span["spanId"], id.as_str());
    assert_eq!(attribute(&span, "wasm.span.unended")["boolValue"], true);
    assert_eq!(span["status"]["code"], 2);
}

#[test]
fn a_metrics_flush_is_one_metrics_data_line() {
    let lines = install(no_outer());
    let meter = Meter::new("shop");

    let orders = meter.u64_counter("shop.orders").build();
    orders.add(2, &[crate::KeyValue::new("payment", "card")]);
    let sizes = meter.f64_histogram("shop.size").build();
    sizes.record(1.5, &[]);
    metrics::flush().expect("the portable backend accepts exports");

    let written = take(&lines);
    assert_eq!(written.len(), 1);
    let scope = &written[0]["resourceMetrics"][0]["scopeMetrics"][0];
    assert_eq!(scope["scope"]["name"], "shop");
    let metric = |name: &str| {
        scope["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {scope}"))
            .clone()
    };
    let sum = &metric("shop.orders")["sum"];
    assert_eq!(sum["isMonotonic"], true);
    assert_eq!(sum["dataPoints"][0]["asInt"], "2");
    assert_eq!(
        attribute(&sum["dataPoints"][0], "payment")["stringValue"],
        "card"
    );
    let histogram = &metric("shop.size")["histogram"];
    assert_eq!(histogram["dataPoints"][0]["count"], "1");
    assert_eq!(histogram["dataPoints"][0]["sum"], 1.5);
}

#[test]
fn values_that_are_not_attribute_types_stay_strings() {
    let mut w = json::Writer::new();
    w.open('{');
    json::any_value(&mut w, r#"{"a":1}"#);
    w.close('}');
    assert_eq!(w.finish(), r#"{"stringValue":"{\"a\":1}"}"#);

    let mut w = json::Writer::new();
    w.open('{');
    json::any_value(&mut w, "[1, \"mixed\"]");
    w.close('}');
    assert_eq!(w.finish(), r#"{"stringValue":"[1, \"mixed\"]"}"#);
}
