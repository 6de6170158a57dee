//! What the host sends, decoded by a decoder no one here wrote: the
//! official Python OTLP bindings (PyPI `opentelemetry-proto`), in both
//! encodings, for every signal.

use std::collections::BTreeSet;
use std::process::Command;

use wasm_otel_tests::otlp::{data_points, hex};
use wasm_otel_tests::{Receiver, TempDir, component, host, python_otlp, run};

/// What the Python decoder read.
#[derive(Debug, PartialEq)]
struct Decoded {
    spans: u64,
    logs: u64,
    points: u64,
    trace_ids: BTreeSet<String>,
}

/// Runs each guest against one receiver with `protocol`, hands every body
/// it accepted to the Python decoder, and returns what it read beside what
/// our own decoding of the same bodies found.
fn decode_both_ways(protocol: &str) -> (Decoded, Decoded) {
    let receiver = Receiver::start();
    for guest in ["hello", "logs-metrics", "foreign"] {
        let ran = run(host()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .arg("run")
            .arg(component(guest)));
        assert_eq!(ran.code, Some(0), "{guest}: {ran:?}");
    }

    let dir = TempDir::new("conformance");
    for signal in ["traces", "logs", "metrics"] {
        for (n, (body, json)) in receiver.bodies(&format!("/v1/{signal}")).iter().enumerate() {
            let extension = if *json { "json" } else { "pb" };
            let file = dir.path().join(format!("{signal}-{n:03}.{extension}"));
            std::fs::write(file, body).unwrap();
        }
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/decode.py");
    let output = Command::new(python_otlp())
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("the Python decoder runs");
    assert!(
        output.status.success(),
        "the official decoder refused a body: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let counts = &theirs["counts"];
    let theirs = Decoded {
        spans: counts["traces"].as_u64().unwrap(),
        logs: counts["logs"].as_u64().unwrap(),
        points: counts["metrics"].as_u64().unwrap(),
        trace_ids: theirs["trace_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect(),
    };

    let spans = receiver.spans();
    let logs = receiver.logs();
    let points: usize = receiver
        .metrics()
        .iter()
        .map(|m| data_points(&m.metric))
        .sum();
    let mut trace_ids: BTreeSet<String> = spans.iter().map(|s| hex(&s.span.trace_id)).collect();
    trace_ids.extend(
        logs.iter()
            .filter(|l| !l.record.trace_id.is_empty())
            .map(|l| hex(&l.record.trace_id)),
    );
    let ours = Decoded {
        spans: spans.len() as u64,
        logs: logs.len() as u64,
        points: points as u64,
        trace_ids,
    };
    (theirs, ours)
}

#[test]
fn the_official_decoder_reads_our_protobuf() {
    let (theirs, ours) = decode_both_ways("http/protobuf");
    assert!(
        ours.spans > 0 && ours.logs > 0 && ours.points > 0,
        "{ours:?}"
    );
    assert_eq!(theirs, ours);
}

#[test]
fn the_official_decoder_reads_our_json() {
    let (theirs, ours) = decode_both_ways("http/json");
    assert!(
        ours.spans > 0 && ours.logs > 0 && ours.points > 0,
        "{ours:?}"
    );
    assert_eq!(theirs, ours);
}
