//! The guests `make bench` times: each does what the benchmark assumes,
//! so a figure in BENCHMARKS.md measures the work it names.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use wasm_otel_tests::otlp::{attr, int_attr, str_attr};
use wasm_otel_tests::{component, find, host, run, run_traced};

/// The value after `key` in a `key value key value` line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let mut words = line.split_whitespace();
    words.by_ref().find(|w| *w == key);
    words
        .next()
        .unwrap_or_else(|| panic!("no `{key}` in `{line}`"))
}

#[test]
fn span_bench_sends_every_span_with_its_four_attributes() {
    let (ran, spans) = run_traced(host().arg("run").arg(component("span-bench")).arg("25"));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(field(&ran.stdout, "spans"), "25");
    let per_span: f64 = field(&ran.stdout, "ns_per_span").parse().unwrap();
    assert!(per_span > 0.0, "{}", ran.stdout);

    let run_span = &find(&spans, "wasm.run").span;
    let bench: Vec<_> = spans
        .iter()
        .filter(|s| s.span.name == "bench.span")
        .collect();
    assert_eq!(bench.len(), 25);
    for (index, record) in bench.iter().enumerate() {
        let span = &record.span;
        assert_eq!(span.parent_span_id, run_span.span_id);
        assert_eq!(span.attributes.len(), 4, "{span:?}");
        assert_eq!(int_attr(&span.attributes, "bench.index"), index as i64);
        assert_eq!(str_attr(&span.attributes, "bench.kind"), "loop");
        assert_eq!(
            attr(&span.attributes, "bench.ratio"),
            Some(&Value::DoubleValue(0.5))
        );
        assert_eq!(
            attr(&span.attributes, "bench.sampled"),
            Some(&Value::BoolValue(true))
        );
    }
}

#[test]
fn span_bench_refuses_a_count_that_is_not_a_number() {
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component("span-bench"))
        .arg("many"));
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(ran.stderr.contains("N `many` is not a number"), "{ran:?}");
}

/// Runs cpu-bound for `rounds` with `limits` and returns its checksum.
fn cpu_bound_checksum(limits: &[&str], rounds: u32) -> String {
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .args(limits)
        .arg(component("cpu-bound"))
        .arg(rounds.to_string()));
    assert_eq!(ran.code, Some(0), "{limits:?}: {ran:?}");
    field(&ran.stdout, "checksum").to_owned()
}

#[test]
fn cpu_bound_computes_the_same_under_every_limit() {
    let free = cpu_bound_checksum(&[], 200);
    assert_eq!(free.len(), 16, "{free}");
    assert_eq!(cpu_bound_checksum(&["--timeout", "1h"], 200), free);
    assert_eq!(cpu_bound_checksum(&["--fuel", "1000000000"], 200), free);
    assert_ne!(cpu_bound_checksum(&[], 201), free, "the rounds count");
}

#[test]
fn cpu_bound_runs_out_of_a_small_fuel_budget() {
    let ran = run(host()
        .args(["run", "--exporter", "none", "--fuel", "100000"])
        .arg(component("cpu-bound"))
        .arg("1000000"));
    assert_eq!(ran.code, Some(152), "{ran:?}");
    assert_eq!(ran.stdout, "");
}
