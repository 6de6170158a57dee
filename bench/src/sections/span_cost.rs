//! Section 1: what one span costs a guest under `wasm-otel run`, against
//! the same span made by the native `opentelemetry_sdk`.

use std::fmt::Write;

use anyhow::Result;
use wasm_otel_tests::Receiver;

use crate::Bench;
use crate::measure::{Variant, interleaved, median_field};
use crate::report::{Goal, Section, count, ms, ratio, table};

/// The section's heading.
pub const TITLE: &str = "Span cost";

/// Spans per process: enough that starting the loop is noise, and within
/// the host's default `--max-spans` of 100,000.
const SPANS: u64 = 50_000;

/// Processes per variant.
const ROUNDS: usize = 5;

/// The goal: a guest span costs at most this many native ones.
const GOAL: f64 = 2.0;

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let guest = bench.component("span-bench");
    let native = bench.sibling("native-spans")?;
    let receiver = Receiver::start();
    let n = SPANS.to_string();

    bench.fill_cache(&[], &guest, &["1"])?;

    let variants = [
        Variant::new("native `opentelemetry_sdk`, counting exporter", || {
            let mut command = std::process::Command::new(&native);
            command.arg(&n);
            command
        }),
        Variant::new("guest, `wasm-otel run --exporter none`", || {
            let mut command = bench.wasm_otel_run(["--exporter", "none"]);
            command.arg(&guest).arg(&n);
            command
        }),
        Variant::new(
            "guest, `wasm-otel run --exporter otlp` to a loopback receiver",
            || {
                let mut command = bench.wasm_otel_run(["--exporter", "otlp"]);
                command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
                command.arg(&guest).arg(&n);
                command
            },
        ),
    ];
    let runs = interleaved(&variants, ROUNDS)?;

    let per_span: Vec<f64> = runs
        .iter()
        .map(|runs| median_field(runs, "ns_per_span"))
        .collect::<Result<_>>()?;
    let native_exported = median_field(&runs[0], "exported")?;
    let lost: u64 = runs[2]
        .iter()
        .map(|r| super::span_summary(&r.stderr).1)
        .sum();

    let mut rows = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        rows.push(vec![
            variant.label.clone(),
            format!("{:.0} ns", per_span[i]),
            ratio(per_span[i] / per_span[0]),
            ms(crate::measure::median_wall_ms(&runs[i])),
        ]);
    }
    let headline = per_span[1] / per_span[0];
    let with_export = per_span[2] / per_span[0];

    let mut body = String::new();
    let _ = writeln!(
        body,
        "A span started with four attributes (an integer, a string, a float, \
         a boolean) and ended at once, {} times in a loop, in {ROUNDS} \
         processes per side, interleaved. Each process times its own loop \
         with the monotonic clock (`std::time::Instant`) and prints the time \
         per span; the table gives the median over the processes. The guest \
         is `components/span-bench`; the native side is \
         `bench/src/bin/native-spans.rs`, `opentelemetry_sdk` 0.33 with a \
         `BatchSpanProcessor` (queue 8192, batches of 512, the host's \
         defaults) whose exporter counts the spans and drops them. The fair \
         counterpart of that exporter is `--exporter none`, under which the \
         host still takes each span across the component boundary, checks \
         and converts it, and only the sending is skipped; the OTLP row, to \
         the bench's loopback receiver, is given for context.\n",
        count(SPANS)
    );
    body.push_str(&table(
        &[
            "side",
            "per span (median)",
            "vs native",
            "process wall time (median)",
        ],
        &rows,
    ));
    let _ = writeln!(
        body,
        "\nThe native processor exported {} of {} spans in its median run \
         (fewer would mean its queue overflowed, which makes spans cheaper). \
         Over the OTLP runs the host lost {} spans in all.\n",
        count(native_exported as u64),
        count(SPANS),
        count(lost),
    );

    let met = headline <= GOAL;
    if met {
        let _ = writeln!(
            body,
            "Goal, at most {GOAL}× native: **met** ({}).",
            ratio(headline)
        );
    } else {
        let _ = writeln!(
            body,
            "Goal, at most {GOAL}× native: **missed** ({}; {} with OTLP export). \
             A native span stays in the process's memory: the SDK fills a \
             struct and moves it into a channel. A guest span makes two calls \
             into the host (`on-start`, `on-end`) through the component \
             model: Wasmtime lifts the whole span record out of linear memory \
             (name, scope, hex ids, each attribute value as a JSON string), \
             and the host parses the ids and values back, checks them against \
             the run's budgets and converts the span, all on the guest's \
             thread. The guest SDK also allocates its span record (it clones \
             the scope) in the guest's own allocator. Closing the gap means \
             fewer crossings or a cheaper encoding, both changes to the host \
             and SDK, not to this benchmark.",
            ratio(headline),
            ratio(with_export)
        );
    }

    Ok(Section {
        title: TITLE,
        body,
        goals: vec![Goal::new(
            format!("guest span ≤ {GOAL}× native"),
            ratio(headline),
            met,
        )],
    })
}
