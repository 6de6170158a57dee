//! Portable mode: guests built with the SDK's `portable` feature write
//! OTLP JSON Lines instead of calling `wasi:otel`. They run on a runtime
//! no one here wrote (Node.js's built-in WASI), whose lines the official
//! Python OTLP bindings decode, and under `wasm-otel run`, which picks
//! the lines up; both give the span tree the native build gives.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use serde_json::{Value as Json, json};
use wasm_otel_tests::otlp::hex;
use wasm_otel_tests::{
    Exported, Ran, TempDir, component, host, portable_component, python_otlp, run, run_exported,
};

/// An attribute as (key, kind, value as JSON text).
type Attribute = (String, String, String);

/// One span as compared across runtimes: everything but ids and times,
/// with its parent given by name (`<outer>` for the guest's roots).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    name: String,
    parent: String,
    attributes: Vec<Attribute>,
    events: Vec<(String, Vec<Attribute>)>,
    status: i64,
}

/// A span as both sides are reduced to before shaping.
struct Plain {
    span_id: String,
    parent_span_id: String,
    shape: Shape,
}

/// Shapes `spans`, naming each parent within the set.
fn shapes(spans: Vec<Plain>) -> Vec<Shape> {
    let names: BTreeMap<String, String> = spans
        .iter()
        .map(|s| (s.span_id.clone(), s.shape.name.clone()))
        .collect();
    let mut shapes: Vec<Shape> = spans
        .into_iter()
        .map(|s| Shape {
            parent: names
                .get(&s.parent_span_id)
                .cloned()
                .unwrap_or_else(|| "<outer>".to_owned()),
            ..s.shape
        })
        .collect();
    shapes.sort();
    shapes
}

fn attribute(kv: &KeyValue) -> Attribute {
    let (kind, value) = typed(kv.value.as_ref());
    (kv.key.clone(), kind.to_owned(), value.to_string())
}

fn typed(value: Option<&AnyValue>) -> (&'static str, Json) {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => ("string", json!(s)),
        Some(Value::BoolValue(b)) => ("bool", json!(b)),
        Some(Value::IntValue(i)) => ("int", json!(i)),
        Some(Value::DoubleValue(f)) => ("double", json!(f)),
        Some(Value::ArrayValue(a)) => (
            "array",
            Json::Array(a.values.iter().map(|v| typed(Some(v)).1).collect()),
        ),
        other => panic!("an attribute of an unexpected kind: {other:?}"),
    }
}

/// The guest's spans as a receiver got them, without `wasm.run`.
fn exported_shapes(exported: &Exported) -> Vec<Shape> {
    let spans = exported
        .spans
        .iter()
        .filter(|s| s.span.name != "wasm.run")
        .map(|s| {
            let mut attributes: Vec<_> = s.span.attributes.iter().map(attribute).collect();
            attributes.sort();
            Plain {
                span_id: hex(&s.span.span_id),
                parent_span_id: hex(&s.span.parent_span_id),
                shape: Shape {
                    name: s.span.name.clone(),
                    parent: String::new(),
                    attributes,
                    events: s
                        .span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), e.attributes.iter().map(attribute).collect()))
                        .collect(),
                    status: i64::from(s.span.status.as_ref().map_or(0, |s| s.code)),
                },
            }
        })
        .collect();
    shapes(spans)
}

/// What the official Python bindings read from the lines in `file`.
fn decode_lines(file: &Path) -> Json {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/decode_lines.py");
    let output = Command::new(python_otlp())
        .arg(script)
        .arg(file)
        .output()
        .expect("the Python decoder runs");
    assert!(
        output.status.success(),
        "the official decoder refused a line: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The spans the Python decoder read, shaped.
fn decoded_shapes(decoded: &Json) -> Vec<Shape> {
    let triples = |attributes: &Json| -> Vec<Attribute> {
        attributes
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| {
                let s = |i: usize| kv[i].as_str().unwrap().to_owned();
                (s(0), s(1), kv[2].to_string())
            })
            .collect()
    };
    let spans = decoded["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Plain {
            span_id: s["span_id"].as_str().unwrap().to_owned(),
            parent_span_id: s["parent_span_id"].as_str().unwrap().to_owned(),
            shape: Shape {
                name: s["name"].as_str().unwrap().to_owned(),
                parent: String::new(),
                attributes: triples(&s["attributes"]),
                events: s["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| (e[0].as_str().unwrap().to_owned(), triples(&e[1])))
                    .collect(),
                status: s["status"].as_i64().unwrap(),
            },
        })
        .collect();
    shapes(spans)
}

/// Runs `module` on Node.js's WASI with `args`; its stderr is also kept
/// in `dir/stderr` for the decoder.
fn run_on_node(module: &Path, args: &[&str], dir: &TempDir) -> (Ran, std::path::PathBuf) {
    let runner = concat!(env!("CARGO_MANIFEST_DIR"), "/portable/run-wasi.mjs");
    let output = Command::new("node")
        .arg("--no-warnings")
        .arg(runner)
        .arg(module)
        .args(args)
        .output()
        .expect("node runs (install Node.js 20 or later)");
    let stderr = dir.path().join("stderr");
    std::fs::write(&stderr, &output.stderr).unwrap();
    (Ran::from(output), stderr)
}

/// The lines of `text` that are OTLP JSON.
fn otlp_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.starts_with("{\"resource"))
        .collect()
}

const NAMES: [&str; 3] = ["Ada", "R2D2", "Grace"];

#[test]
fn the_portable_build_imports_only_wasi_preview_1() {
    let bytes = std::fs::read(portable_component("hello")).unwrap();
    let mut modules = Vec::new();
    let mut marker = None;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    modules.push(import.unwrap().module.to_owned());
                }
            }
            wasmparser::Payload::CustomSection(section)
                if section.name() == "wasm-otel-portable" =>
            {
                marker = Some(String::from_utf8_lossy(section.data()).into_owned());
            }
            _ => {}
        }
    }
    modules.dedup();
    assert_eq!(modules, ["wasi_snapshot_preview1"]);
    let version = concat!("wasm-otel-guest ", env!("CARGO_PKG_VERSION"));
    assert_eq!(marker.as_deref(), Some(version));
}

#[test]
fn portable_hello_on_node_gives_the_native_span_tree() {
    let (native_ran, native) = run_exported(host().arg("run").arg(component("hello")).args(NAMES));
    assert_eq!(native_ran.code, Some(0), "{native_ran:?}");
    let expected = exported_shapes(&native);
    assert_eq!(expected.len(), 5, "{expected:#?}");

    let dir = TempDir::new("portable-node");
    let (ran, stderr) = run_on_node(&portable_component("hello"), &NAMES, &dir);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, native_ran.stdout);
    let decoded = decode_lines(&stderr);
    assert_eq!(decoded_shapes(&decoded), expected);

    // One trace, whose root has no parent: Node gives no context.
    let spans = decoded["spans"].as_array().unwrap();
    let root = spans.iter().find(|s| s["name"] == "hello").unwrap();
    assert_eq!(root["parent_span_id"], "");
    assert!(spans.iter().all(|s| s["trace_id"] == root["trace_id"]));
    // The guest's own stderr line is still there, as ordinary output.
    assert_eq!(decoded["other_lines"], 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("hello: skipping `R2D2`"),
        "{}",
        ran.stderr
    );
}

#[test]
fn portable_hello_under_wasm_otel_gives_the_native_span_tree() {
    let (native_ran, native) = run_exported(host().arg("run").arg(component("hello")).args(NAMES));
    let (ran, exported) = run_exported(
        host()
            .arg("run")
            .arg(portable_component("hello"))
            .args(NAMES),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, native_ran.stdout);
    assert_eq!(exported_shapes(&exported), exported_shapes(&native));

    // The lines are taken out of stderr; the guest's own line stays.
    assert!(otlp_lines(&ran.stderr).is_empty(), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("hello: skipping `R2D2`"),
        "{}",
        ran.stderr
    );

    // The guest's root hangs under wasm.run, in the run's trace.
    let run_span = wasm_otel_tests::find(&exported.spans, "wasm.run");
    let root = wasm_otel_tests::find(&exported.spans, "hello");
    assert_eq!(root.span.parent_span_id, run_span.span.span_id);
    assert!(
        exported
            .spans
            .iter()
            .all(|s| s.span.trace_id == run_span.span.trace_id)
    );
}

#[test]
fn telemetry_survives_every_way_out_on_every_runtime() {
    for (mode, code, run_span) in [
        ("return", 3, "exit-paths.run"),
        ("exit", 4, "unended span"),
        ("panic", 134, "unended span"),
    ] {
        // Native, under wasm-otel: the reference.
        let (ran, native) = run_exported(host().arg("run").arg(component("exit-paths")).arg(mode));
        assert_eq!(ran.code, Some(code), "native {mode}: {ran:?}");
        let expected = exported_shapes(&native);
        let names: Vec<&str> = expected.iter().map(|s| s.name.as_str()).collect();
        let mut want = ["exit-paths.step", run_span];
        want.sort();
        assert_eq!(names, want, "native {mode}");

        // Portable, under wasm-otel.
        let (ran, exported) = run_exported(
            host()
                .arg("run")
                .arg(portable_component("exit-paths"))
                .arg(mode),
        );
        assert_eq!(ran.code, Some(code), "portable {mode}: {ran:?}");
        assert_eq!(exported_shapes(&exported), expected, "portable {mode}");
        let body = |logs: &[wasm_otel_tests::LogEntry]| -> Vec<String> {
            let guest = logs.iter().filter(|l| l.scope.name == "exit-paths");
            guest
                .map(|l| format!("{:?}", typed(l.record.body.as_ref()).1))
                .collect()
        };
        assert_eq!(body(&exported.logs), body(&native.logs), "portable {mode}");
        assert_eq!(
            body(&exported.logs),
            [format!("String(\"leaving by {mode}\")")]
        );

        // Portable, on Node.
        let dir = TempDir::new("portable-exit");
        let module = portable_component("exit-paths");
        let (ran, stderr) = run_on_node(&module, &[mode], &dir);
        assert_eq!(ran.code, Some(code), "node {mode}: {ran:?}");
        let decoded = decode_lines(&stderr);
        assert_eq!(decoded_shapes(&decoded), expected, "node {mode}");
        let logs = decoded["logs"].as_array().unwrap();
        assert_eq!(logs.len(), 1, "node {mode}: {decoded}");
        assert_eq!(logs[0]["body"][1], format!("leaving by {mode}"));
    }
}

#[test]
fn lines_written_to_a_granted_file_are_read_after_the_run() {
    let dir = TempDir::new("portable-file");
    let file = dir.path().join("otel.jsonl");
    let (ran, exported) = run_exported(
        host()
            .arg("run")
            .arg("--dir-rw")
            .arg(format!("{}::/out", dir.path().display()))
            .args(["--env", "WASM_OTEL_FILE=/out/otel.jsonl"])
            .arg("--telemetry-file")
            .arg(&file)
            .arg(portable_component("hello"))
            .arg("Ada"),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(otlp_lines(&ran.stderr).is_empty(), "{}", ran.stderr);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(otlp_lines(&written).len(), 1, "{written}");

    let (_, native) = run_exported(host().arg("run").arg(component("hello")).arg("Ada"));
    assert_eq!(exported_shapes(&exported), exported_shapes(&native));
}

#[test]
fn only_guests_without_wasi_otel_have_such_lines_taken_as_telemetry() {
    let valid = r#"{"resourceSpans":[]}"#;
    let invalid = r#"{"resourceSpans":[{"#;
    let stderr = |module: std::path::PathBuf| {
        let ran = run(host()
            .args(["run", "--exporter", "none"])
            .arg(module)
            .args(["return", valid, invalid]));
        assert_eq!(ran.code, Some(3), "{ran:?}");
        ran.stderr
    };

    // A native guest reports through wasi:otel: its lines are output.
    let native = stderr(component("exit-paths"));
    assert!(
        native.contains(&format!("{valid}\n{invalid}\n")),
        "{native}"
    );

    // A portable guest's valid line is telemetry; the broken one is output.
    let portable = stderr(portable_component("exit-paths"));
    assert!(!portable.contains(valid), "{portable}");
    assert!(portable.contains(&format!("{invalid}\n")), "{portable}");
}

#[test]
fn a_telemetry_file_that_is_not_a_file_is_a_usage_error() {
    let ran = run(host()
        .args(["run", "--telemetry-file", "/dev/zero"])
        .arg(portable_component("hello")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(ran.stderr.contains("is not a regular file"), "{ran:?}");
}
