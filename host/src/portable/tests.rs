//! The stderr filter and the decoding, checked on what the host's file
//! exporter writes afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use super::*;
use crate::cli::ExportConfig;
use crate::export::Pipeline;
use crate::telemetry::Budget;

const RUN_TRACE: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const RUN_SPAN: &str = "cccccccccccccccc";
const GUEST_TRACE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Two spans of the guest's own trace: `root`, and `child` under it.
fn traces_line() -> String {
    let span = |id: &str, parent: &str, name: &str| {
        format!(
            r#"{{"traceId":"{GUEST_TRACE}","spanId":"{id}","parentSpanId":"{parent}","name":"{name}","kind":1,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000000001000","attributes":[{{"key":"n","value":{{"intValue":"3"}}}}],"status":{{"code":1}}}}"#
        )
    };
    format!(
        r#"{{"resourceSpans":[{{"resource":{{}},"scopeSpans":[{{"scope":{{"name":"guest"}},"spans":[{},{}]}}]}}]}}"#,
        span("1111111111111111", "", "root"),
        span("2222222222222222", "1111111111111111", "child"),
    ) + "\n"
}

fn logs_line() -> String {
    format!(
        r#"{{"resourceLogs":[{{"resourceLogs":null,"scopeLogs":[{{"scope":{{"name":"guest"}},"logRecords":[{{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{{"stringValue":"hi"}},"traceId":"{GUEST_TRACE}","spanId":"1111111111111111"}}]}}]}}]}}"#
    )
    .replace(r#""resourceLogs":null,"#, "")
        + "\n"
}

fn metrics_line() -> &'static str {
    concat!(
        r#"{"resourceMetrics":[{"scopeMetrics":[{"scope":{"name":"guest"},"metrics":["#,
        r#"{"name":"orders","sum":{"dataPoints":[{"asInt":"2","timeUnixNano":"1700000000000000000"}],"aggregationTemporality":2,"isMonotonic":true}},"#,
        r#"{"name":"old","summary":{"dataPoints":[]}}"#,
        "]}]}]}\n"
    )
}

struct Setup {
    portable: Portable,
    pipeline: Arc<Pipeline>,
    file: PathBuf,
}

impl Setup {
    fn new(label: &str) -> Setup {
        let file = std::env::temp_dir().join(format!(
            "wasm-otel-portable-{label}-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        let config = ExportConfig::File {
            path: file.clone(),
            batching: Default::default(),
        };
        let pipeline = Arc::new(Pipeline::new(&config, Vec::new()).expect("a temp file"));
        let run = SpanContext::new(
            TraceId::from_hex(RUN_TRACE).unwrap(),
            SpanId::from_hex(RUN_SPAN).unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let telemetry = GuestTelemetry::new(pipeline.clone(), run.clone(), Budget::default());
        Setup {
            portable: Portable::new(telemetry, run),
            pipeline,
            file,
        }
    }

    /// Feeds `pieces` through the filter and returns what it relayed.
    fn feed(&self, pieces: &[&[u8]]) -> Vec<u8> {
        let mut relayed = Vec::new();
        for piece in pieces {
            self.portable
                .filter(piece, |bytes| {
                    relayed.extend_from_slice(bytes);
                    Ok(())
                })
                .unwrap();
        }
        self.portable
            .finish(|bytes| {
                relayed.extend_from_slice(bytes);
                Ok(())
            })
            .unwrap();
        relayed
    }

    /// What the pipeline wrote, one JSON value per line.
    fn exported(self) -> Vec<serde_json::Value> {
        self.pipeline.shutdown();
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.pipeline.shutdown();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn spans(exported: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    exported
        .iter()
        .filter_map(|line| line["resourceSpans"].as_array())
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect()
}

#[test]
fn ordinary_output_passes_through_unchanged() {
    let setup = Setup::new("ordinary");
    let output: &[&[u8]] = &[
        b"plain line\n{\"res",
        b"ult\": 1}\n{\"resourceSpans\" but not json\n",
        b"\n{",
        b"\"resourceLogs\":[]}", // a valid last line without a newline
    ];
    let relayed = setup.feed(output);
    assert_eq!(
        String::from_utf8(relayed).unwrap(),
        "plain line\n{\"result\": 1}\n{\"resourceSpans\" but not json\n\n"
    );
    assert_eq!(setup.portable.stats().spans, 0);
}

#[test]
fn otlp_lines_are_taken_out_even_when_written_in_pieces() {
    let setup = Setup::new("pieces");
    let traces = traces_line();
    let (a, b) = traces.as_bytes().split_at(7);
    let (b, c) = b.split_at(100);
    let relayed = setup.feed(&[b"before\n", a, b, c, b"after\n"]);
    assert_eq!(relayed, b"before\nafter\n");
    assert_eq!(setup.portable.stats().spans, 2);
}

#[test]
fn spans_join_the_run_trace_under_the_run_span() {
    let setup = Setup::new("adopt");
    setup.feed(&[traces_line().as_bytes()]);

    let exported = setup.exported();
    let spans = spans(&exported);
    assert_eq!(spans.len(), 2, "{exported:?}");
    let root = spans.iter().find(|s| s["name"] == "root").unwrap();
    let child = spans.iter().find(|s| s["name"] == "child").unwrap();
    assert_eq!(root["traceId"], RUN_TRACE);
    assert_eq!(child["traceId"], RUN_TRACE);
    assert_eq!(root["parentSpanId"], RUN_SPAN);
    assert_eq!(child["parentSpanId"], "1111111111111111");
    assert_eq!(root["attributes"][0]["value"]["intValue"], "3");
}

#[test]
fn logs_and_metrics_are_forwarded_and_what_cannot_be_is_counted() {
    let setup = Setup::new("signals");
    let relayed = setup.feed(&[logs_line().as_bytes(), metrics_line().as_bytes()]);
    assert!(relayed.is_empty(), "{}", String::from_utf8_lossy(&relayed));

    let stats = setup.portable.stats();
    assert_eq!(stats.logs, 1);
    assert_eq!(stats.metric_exports, 1);
    assert_eq!(stats.dropped.get("portable_metric_unsupported"), Some(&1));

    let exported = setup.exported();
    let record = exported
        .iter()
        .find_map(|line| line["resourceLogs"][0]["scopeLogs"][0]["logRecords"].get(0))
        .expect("a log record");
    assert_eq!(record["traceId"], RUN_TRACE);
    assert_eq!(record["body"]["stringValue"], "hi");
    let metric = exported
        .iter()
        .find_map(|line| line["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].get(0))
        .expect("a metric");
    assert_eq!(metric["name"], "orders");
}

#[test]
fn a_line_too_long_to_hold_is_output() {
    let setup = Setup::new("long");
    let mut long = b"{\"resourceSpans\":[\"".to_vec();
    long.resize(MAX_LINE + 10, b'x');
    let relayed = setup.feed(&[&long, b"\"]}\n"]);
    assert_eq!(relayed.len(), long.len() + 4);
}

#[test]
fn a_telemetry_file_is_read_past_where_it_ended_before_the_run() {
    let setup = Setup::new("file");
    let path = std::env::temp_dir().join(format!(
        "wasm-otel-portable-lines-{}.jsonl",
        std::process::id()
    ));
    // Lines from before the run, longer than what the guest writes later.
    let earlier = format!(
        "{}{}",
        traces_line(),
        "not otlp, and before the run\n".repeat(40)
    );
    std::fs::write(&path, &earlier).unwrap();
    let mark = FileMark::of(&path);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    use std::io::Write;
    write!(file, "{}not otlp\n\n", traces_line()).unwrap();

    setup.portable.read_file(&path, mark).unwrap();
    let stats = setup.portable.stats();
    assert_eq!(stats.spans, 2);
    assert_eq!(stats.dropped.get("portable_line_invalid"), Some(&1));

    // Made anew by the guest, shorter than before (so even a reused inode
    // does not hide it): read from its start.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, traces_line()).unwrap();
    setup.portable.read_file(&path, mark).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(setup.portable.stats().spans, 4);
}

#[test]
fn a_telemetry_file_that_is_not_a_file_is_refused_not_read() {
    let setup = Setup::new("not-a-file");
    let err = setup
        .portable
        .read_file(Path::new("/dev/zero"), FileMark::default())
        .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn otlp_lines_with_whitespace_json_allows_are_taken_too() {
    let setup = Setup::new("whitespace");
    let spaced = traces_line().replacen("{\"resourceSpans\"", "  {\n", 0);
    let spaced = format!("  {{ {}", &spaced[1..]);
    let relayed = setup.feed(&[spaced.as_bytes(), b"{ \"result\": 1}\n"]);
    assert_eq!(relayed, b"{ \"result\": 1}\n");
    assert_eq!(setup.portable.stats().spans, 2);
}

#[test]
fn an_id_that_is_not_hex_costs_its_record_not_the_line() {
    let setup = Setup::new("bad-id");
    let line = traces_line().replacen("2222222222222222", "not-hex-at-all!!", 1);
    let logs = logs_line().replace(GUEST_TRACE, "nothex");
    let relayed = setup.feed(&[line.as_bytes(), logs.as_bytes()]);
    assert!(relayed.is_empty(), "{}", String::from_utf8_lossy(&relayed));

    let stats = setup.portable.stats();
    assert_eq!(stats.spans, 1, "{stats:?}");
    assert_eq!(
        stats.dropped.get("span_id_malformed"),
        Some(&1),
        "{stats:?}"
    );
    // The log record is kept: like every record of the guest's, it is
    // moved into the run's trace.
    assert_eq!(stats.logs, 1, "{stats:?}");
}
