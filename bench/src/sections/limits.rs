//! Section 4: what `--timeout` and `--fuel` cost a guest that only
//! computes.

use std::fmt::Write;

use anyhow::{Context, Result, ensure};

use crate::Bench;
use crate::measure::{Ran, Variant, interleaved, median_field, median_wall_ms};
use crate::report::{Goal, Section, count, ms, ratio, table};

/// The section's heading.
pub const TITLE: &str = "Cost of limits";

/// Rounds of `cpu-bound`: about a second and a half of work.
const WORK: u64 = 1_000_000;

/// Processes per variant.
const ROUNDS: usize = 5;

/// Words in `cpu-bound`'s buffer.
const WORDS: u64 = 512;

/// A fuel budget the guest never reaches.
const FUEL: u64 = 10_000_000_000_000;

/// The goal: `--timeout` within this factor of no limit.
const GOAL: f64 = 1.15;

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let guest = bench.component("cpu-bound");
    let work = WORK.to_string();
    let fuel = FUEL.to_string();
    let configs: [(&str, Vec<&str>); 3] = [
        ("no limit", vec![]),
        ("`--timeout 1h`", vec!["--timeout", "1h"]),
        ("`--fuel 10000000000000`", vec!["--fuel", &fuel]),
    ];
    let command = |limits: &[&str], rounds: &str| {
        let mut command = bench.wasm_otel_run(["--exporter", "none"]);
        command.args(limits).arg(&guest).arg(rounds);
        command
    };

    // Each set of limits compiles differently: fill the cache for each.
    for (_, limits) in &configs {
        bench.fill_cache(limits, &guest, &["1"])?;
    }
    let variants: Vec<Variant> = configs
        .iter()
        .map(|(label, limits)| Variant::new(*label, || command(limits, &work)))
        .collect();
    let runs = interleaved(&variants, ROUNDS)?;

    // The work is the same under every limit, or the comparison is void.
    let checksum = |ran: &Ran| field_text(&ran.stdout, "checksum").to_owned();
    let first = checksum(&runs[0][0]);
    ensure!(
        runs.iter().flatten().all(|r| checksum(r) == first),
        "cpu-bound computed different checksums under different limits"
    );

    let loop_ms: Vec<f64> = runs
        .iter()
        .map(|runs| median_field(runs, "elapsed_ns").map(|ns| ns / 1e6))
        .collect::<Result<_>>()?;
    let rows: Vec<Vec<String>> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            vec![
                v.label.clone(),
                ms(loop_ms[i]),
                ratio(loop_ms[i] / loop_ms[0]),
                ms(median_wall_ms(&runs[i])),
            ]
        })
        .collect();
    let timeout_ratio = loop_ms[1] / loop_ms[0];
    let fuel_ratio = loop_ms[2] / loop_ms[0];
    let fuel_per_word = fuel_per_word(bench, &guest)?;

    let mut body = String::new();
    let _ = writeln!(
        body,
        "`components/cpu-bound {}`: {} rounds of loads, multiplies, \
         rotations and stores over a 4 KiB buffer, with no host call in the \
         loop, under `wasm-otel run --exporter none` and each set of limits, \
         {ROUNDS} processes each, interleaved, every configuration's \
         compiled code already in the cache. The guest times its loop with \
         the monotonic clock and prints it; the ratio is of those medians. \
         Every run computed the same checksum.\n",
        WORK,
        count(WORK)
    );
    body.push_str(&table(
        &[
            "limits",
            "guest loop (median)",
            "vs no limit",
            "process wall time (median)",
        ],
        &rows,
    ));
    let _ = writeln!(
        body,
        "\n`--timeout` compiles an epoch check into every function entry and \
         loop header; `--fuel` compiles an update of the fuel counter into \
         every basic block, with checks at the same places. Here a run with \
         fuel takes {} the time of one without limits. Fuel counts \
         WebAssembly operators, and this loop runs {fuel_per_word:.1} of \
         them per buffer word (read from `wasm.fuel.consumed` of a run of \
         {} rounds) in a straight-line body, so the counter's one addition \
         per iteration is cheap beside them; code with shorter blocks \
         (branches, calls) pays more.\n",
        ratio(fuel_ratio),
        count(FUEL_PROBE),
    );
    let met = timeout_ratio <= GOAL;
    let _ = writeln!(
        body,
        "Goal, `--timeout` within {GOAL}× of no limit: **{}** ({}).",
        if met { "met" } else { "missed" },
        ratio(timeout_ratio)
    );

    Ok(Section {
        title: TITLE,
        body,
        goals: vec![
            Goal::new(
                format!("`--timeout` ≤ {GOAL}× no limit"),
                ratio(timeout_ratio),
                met,
            ),
            Goal::new("fuel cost measured and stated", ratio(fuel_ratio), true),
        ],
    })
}

/// Rounds of the run whose fuel is read.
const FUEL_PROBE: u64 = 10_000;

/// The fuel `cpu-bound` uses per buffer word, read from the
/// `wasm.fuel.consumed` attribute the console exporter prints.
fn fuel_per_word(bench: &Bench, guest: &std::path::Path) -> Result<f64> {
    let mut command = bench.wasm_otel_run(["--exporter", "console", "--fuel"]);
    command
        .arg(FUEL.to_string())
        .arg(guest)
        .arg(FUEL_PROBE.to_string());
    let ran = crate::measure::run(&mut command)?;
    let fuel: f64 = ran
        .stderr
        .split("wasm.fuel.consumed=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no `wasm.fuel.consumed=` in: {}", ran.stderr))?;
    Ok(fuel / (FUEL_PROBE * WORDS) as f64)
}

/// The word after `key` in `text`, or an empty string.
fn field_text<'a>(text: &'a str, key: &str) -> &'a str {
    let mut words = text.split_whitespace();
    words.by_ref().find(|w| *w == key);
    words.next().unwrap_or_default()
}
