//! Section 2: how fast one guest's spans reach a loopback OTLP receiver,
//! and whether any are lost on the way.

use std::fmt::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use wasm_otel_tests::Receiver;

use crate::Bench;
use crate::measure::{field, median};
use crate::report::{Goal, Section, count, ms, table};

/// The section's heading.
pub const TITLE: &str = "Export throughput";

/// Spans the guest emits in one run.
const SPANS: u64 = 200_000;

/// `--max-spans` for these runs: the default, 100,000, would cut the run
/// at half.
const MAX_SPANS: u64 = 250_000;

/// Runs, each against a fresh receiver.
const ROUNDS: usize = 3;

/// The goal, in spans per second.
const GOAL_RATE: f64 = 200_000.0;

/// One run's figures.
struct Round {
    /// Guest spans that reached the receiver.
    received: u64,
    /// Seconds from starting `wasm-otel` to the last span's arrival.
    seconds: f64,
    /// Spans the host says it lost.
    lost: u64,
    /// The guest's own time per span, export aside.
    guest_ns_per_span: f64,
    /// Wall time of the whole process.
    wall_ms: f64,
    /// The host's `telemetry: ...` line, as printed.
    summary: String,
}

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let guest = bench.component("span-bench");
    bench.fill_cache(&[], &guest, &["1"])?;

    let rounds: Vec<Round> = (0..ROUNDS)
        .map(|_| one_round(bench, &guest))
        .collect::<Result<_>>()?;

    let rate = |r: &Round| r.received as f64 / r.seconds;
    let rates: Vec<f64> = rounds.iter().map(rate).collect();
    let median_rate = median(&rates);
    let lost: u64 = rounds.iter().map(|r| r.lost).sum();
    let missing: u64 = rounds.iter().map(|r| SPANS - r.received.min(SPANS)).sum();
    let guest_ns = median(
        &rounds
            .iter()
            .map(|r| r.guest_ns_per_span)
            .collect::<Vec<_>>(),
    );
    let guest_ceiling = 1e9 / guest_ns;

    let rows: Vec<Vec<String>> = rounds
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                count(r.received),
                count(r.lost),
                ms(r.seconds * 1e3),
                count(rate(r) as u64),
                format!("{:.0} ns", r.guest_ns_per_span),
                ms(r.wall_ms),
            ]
        })
        .collect();

    let mut body = String::new();
    let _ = writeln!(
        body,
        "`components/span-bench` emits {} spans (four attributes each) under \
         `wasm-otel run --exporter otlp --max-spans {}`, \
         `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a loopback receiver \
         started by the bench (the tests' `Receiver`, protobuf, answering \
         200 at once). `--max-spans` is raised from its default of 100,000, \
         which would cut the run at half; every other setting is the \
         default (queue 8192, batches of 512). The rate is the spans \
         received divided by the time from starting `wasm-otel` to the \
         arrival of the last request holding spans; losses are read from \
         the host's `telemetry: exported …; lost …` line. {ROUNDS} runs, \
         each against a fresh receiver.\n",
        count(SPANS),
        MAX_SPANS
    );
    body.push_str(&table(
        &[
            "run",
            "spans received",
            "spans lost",
            "start to last span",
            "spans/s",
            "guest time per span",
            "process wall time",
        ],
        &rows,
    ));
    let _ = writeln!(
        body,
        "\nMedian rate: **{} spans/s**; lost over the {ROUNDS} \
         runs: **{}** (spans missing at the receiver: {}).\n",
        count(median_rate as u64),
        count(lost),
        count(missing)
    );
    let _ = writeln!(body, "The host's summary lines:\n\n```text");
    for round in &rounds {
        let _ = writeln!(body, "{}", round.summary);
    }
    let _ = writeln!(body, "```\n");

    let rate_met = median_rate >= GOAL_RATE;
    let drops_met = lost == 0 && missing == 0;
    let mut why = Vec::new();
    if !rate_met {
        why.push(format!(
            "The rate is bounded by the guest itself: making one span \
             costs it {guest_ns:.0} ns in these runs, with the export \
             running (median; section 1 has the cost with and without \
             export, and why it exceeds the native one), so it cannot \
             emit more than {} spans/s \
             however fast the export is; the run's start (loading the \
             module) and the final flush come on top.",
            count(guest_ceiling as u64)
        ));
    }
    if !drops_met {
        let full = rounds.iter().any(|r| r.summary.contains("(queue_full)"));
        why.push(if full {
            "Spans were lost with the reason `queue_full`: the host's \
             queue (8192 items, `OTEL_BSP_MAX_QUEUE_SIZE`) filled faster \
             than the export worker drained it, and the host drops what \
             does not fit rather than slow the guest down."
                .to_owned()
        } else {
            "Spans were lost; the host's lines above give the reasons.".to_owned()
        });
    }
    if !why.is_empty() {
        let _ = writeln!(body, "Why the goals are missed: {}", why.join(" "));
    }

    Ok(Section {
        title: TITLE,
        body,
        goals: vec![
            Goal::new(
                format!("≥ {} spans/s end to end", count(GOAL_RATE as u64)),
                format!("{} spans/s", count(median_rate as u64)),
                rate_met,
            ),
            Goal::new(
                "no drops at default settings",
                format!("{} lost, {} missing", count(lost), count(missing)),
                drops_met,
            ),
        ],
    })
}

fn one_round(bench: &Bench, guest: &std::path::Path) -> Result<Round> {
    let receiver = Receiver::start();
    let mut command = bench.wasm_otel_run(["--exporter", "otlp", "--max-spans"]);
    command
        .arg(MAX_SPANS.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .arg(guest)
        .arg(SPANS.to_string());

    let started = Instant::now();
    let ran = crate::measure::run(&mut command)?;
    let last = receiver
        .requests()
        .iter()
        .filter(|r| r.url == "/v1/traces" && (200..300).contains(&r.status))
        .map(|r| r.arrived)
        .max()
        .context("no spans reached the receiver")?;
    let received = receiver
        .spans()
        .iter()
        .filter(|s| s.span.name == "bench.span")
        .count() as u64;

    Ok(Round {
        received,
        seconds: last.duration_since(started).as_secs_f64(),
        lost: super::span_summary(&ran.stderr).1,
        guest_ns_per_span: field(&ran.stdout, "ns_per_span")?,
        wall_ms: ran.wall.as_secs_f64() * 1e3,
        summary: ran
            .stderr
            .lines()
            .rfind(|l| l.starts_with("telemetry: "))
            .unwrap_or("(no `telemetry:` line)")
            .to_owned(),
    })
}
