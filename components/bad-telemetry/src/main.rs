//! A hostile guest that sends the host malformed and oversized telemetry:
//! `bad-telemetry MODE [N]`.
//!
//! It attacks the host's `wasi:otel` implementation. It binds the standard
//! world `wasi:otel/imports@0.2.0-rc.2` itself, as a stranger's SDK would,
//! and hands the host records that no well-behaved SDK sends. None of it
//! may crash the host, trap the guest, stall the run or grow the host
//! without bound.
//!
//! Every mode first asks for `tracing::outer-span-context` and puts what it
//! sends in that trace, under that span, unless the point is a bad id.
//! Spans are sent with `on-start` then `on-end` unless said otherwise.
//! Well-formed span ids are 16 hex digits starting `bad0`. Every mode
//! ends with one well-formed control span, `bad.control` (attribute
//! `bad.mode` = MODE, status ok), sent with `on-start` and `on-end` under
//! the outer span, then prints `bad-telemetry: MODE done` on stdout and
//! exits 0.
//!
//! - `ids`: spans named `bad.ids.CASE` whose trace id is not hex
//!   (`trace_nonhex`: 32 `z`), 31 hex digits (`trace_short`), 33
//!   (`trace_long`), the outer trace id in uppercase (`trace_upper`, valid
//!   to some readers) or all zeros (`trace_zero`); whose span id is not
//!   hex (`span_nonhex`: 16 `z`), 15 hex digits (`span_length`) or all
//!   zeros (`span_zero`); whose parent span id is `not-an-id`
//!   (`parent_malformed`) or all zeros (`parent_zero`, meaning root: valid).
//! - `values`: a span `bad.values` whose attributes are, in order, keys
//!   `bad.not_json` (the text `not json`), `bad.nested` (100,000 `[` then
//!   100,000 `]`), `bad.huge` (a JSON string of 1 MiB of `x`), `bad.null`
//!   (`null`), `bad.object` (`{"a":1}`), `bad.mixed` (`[1,"a"]`), an empty
//!   key, a key of 100 KiB of `k`, `attr.0` to `attr.999` (their index),
//!   and `bad.repeated` twice (`1`, then `2`). It carries 1,000 events
//!   `event.N` and 1,000 links to well-formed ids in the outer trace, and
//!   its context a trace state of 100 entries `kN=vN`. Then a span with an
//!   empty name, and one whose name is 1 MiB of `n`.
//! - `orphans`: an `on-end` with no `on-start` (`bad.orphan.end_only`);
//!   three `on-start`s never ended; one span started once and ended twice
//!   with the same data (`bad.orphan.twice`).
//! - `times`: spans `bad.times.CASE`: `backwards` (ends one second before
//!   it starts), `max` (starts and ends at `u64::MAX` seconds and
//!   999,999,999 ns), `nanos` (2,000,000,000 ns in both times), `event`
//!   (fine, with one event at `u64::MAX` seconds), `epoch` (0 seconds).
//! - `logs`: `logs.on-emit` records with event name `bad.logs.CASE`:
//!   severity number `severity_0`, `severity_25`, `severity_255`; body
//!   `body_not_json` (`not json`), `body_nested` (100,000 nested objects
//!   `{"a":…}`), `body_object` (`{"k":[1,2,{"x":true}]}`), `body_huge`
//!   (a JSON string of 1 MiB of `x`); `timestamp_max` (`u64::MAX`
//!   seconds); `observed_nanos` (2,000,000,000 ns); `trace_malformed`
//!   (trace id `not-a-trace-id`, a well-formed span id); `attributes`
//!   (1,000 of them). Then one record with every field `None`.
//! - `metrics`: one `metrics.export` per case, each printing
//!   `export CASE: ok` or `export CASE: error: MESSAGE` on stdout, with
//!   metrics named `bad.metrics.CASE…`: `control` (all twelve kinds, such
//!   as `control.f64_gauge`, each with one point and one exemplar with
//!   the outer ids); `nan`, `pos_inf`, `neg_inf` (an f64 gauge and an f64
//!   sum of that value); `histogram_bucket_count` (3 bounds, 2 buckets),
//!   `histogram_bounds_order` (bounds 3, 1, 2), `histogram_count_mismatch`
//!   (count 100, buckets summing to 3); `exemplar_raw_ids` (a 16-char
//!   trace id and an 8-char span id, each char one byte of an id, NUL,
//!   quote, backslash, line feed and non-ASCII among them, as one SDK
//!   sends raw bytes), `exemplar_malformed_ids` (`not-a-trace-id`, `xyz`);
//!   `empty_name` (a gauge with an empty name); `exponential_buckets` (100,000
//!   positive buckets); `many_points` (100,000 points in one sum);
//!   `many_metrics` (10,000 sums in one export).
//! - `storm N`: starts `bad.storm.root`, sends N spans `storm` under it
//!   (default 2,000,000), ends the root last, and prints
//!   `storm: sent N spans`.
//! - `logstorm N`: N log records with body `"storm"` (default
//!   2,000,000); prints `logstorm: sent N records`.
//! - `openstorm N`: N `on-start`s of distinct spans never ended (default
//!   1,000,000); prints `openstorm: started N spans`.
//!
//! N is accepted by the three storm modes only. A usage error prints a
//! line on stderr and exits 2.

mod data;
mod ids;
mod logs;
mod metrics;
mod orphans;
mod span;
mod storms;
mod times;
mod values;

use std::io::Write;

use wasi::otel::tracing::{self, SpanContext};

wit_bindgen::generate!({
    path: "../../wit",
    world: "wasi:otel/imports@0.2.0-rc.2",
    // Every interface the world imports comes from the WIT here.
    generate_all,
});

/// The exit code of a usage error.
const USAGE_EXIT: i32 = 2;

/// What one run does: the mode and, for the storms, how many.
enum Mode {
    Ids,
    Values,
    Orphans,
    Times,
    Logs,
    Metrics,
    Storm(u64),
    LogStorm(u64),
    OpenStorm(u64),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = parse(&args).unwrap_or_else(|message| usage(&message));
    let outer = tracing::outer_span_context();

    match mode {
        Mode::Ids => ids::run(&outer),
        Mode::Values => values::run(&outer),
        Mode::Orphans => orphans::run(&outer),
        Mode::Times => times::run(&outer),
        Mode::Logs => logs::run(&outer),
        Mode::Metrics => metrics::run(&outer),
        Mode::Storm(n) => storms::storm(&outer, n),
        Mode::LogStorm(n) => storms::log_storm(&outer, n),
        Mode::OpenStorm(n) => storms::open_storm(&outer, n),
    }

    control(&outer, &args[1]);
    say(&format!("bad-telemetry: {} done", args[1]));
}

/// Reads `MODE [N]` from the command line.
fn parse(args: &[String]) -> Result<Mode, String> {
    let Some(name) = args.get(1) else {
        return Err("missing MODE".to_owned());
    };
    let n = |default| count(args.get(2), default);
    let mode = match name.as_str() {
        "ids" => Mode::Ids,
        "values" => Mode::Values,
        "orphans" => Mode::Orphans,
        "times" => Mode::Times,
        "logs" => Mode::Logs,
        "metrics" => Mode::Metrics,
        "storm" => return Ok(Mode::Storm(n(2_000_000)?)),
        "logstorm" => return Ok(Mode::LogStorm(n(2_000_000)?)),
        "openstorm" => return Ok(Mode::OpenStorm(n(1_000_000)?)),
        other => return Err(format!("unknown MODE `{other}`")),
    };
    match args.get(2) {
        Some(extra) => Err(format!("MODE `{name}` takes no N, got `{extra}`")),
        None => Ok(mode),
    }
}

/// N as given, or `default` when absent.
fn count(arg: Option<&String>, default: u64) -> Result<u64, String> {
    match arg {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("N `{text}` is not a number")),
    }
}

/// Prints a usage error and exits.
fn usage(message: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "error: {message}\nusage: bad-telemetry \
         ids|values|orphans|times|logs|metrics|storm|logstorm|openstorm [N]"
    );
    std::process::exit(USAGE_EXIT);
}

/// Sends the well-formed `bad.control` span under the outer span.
fn control(outer: &SpanContext, mode: &str) {
    let context = span::context(&outer.trace_id, span::CONTROL_SPAN_ID);
    let mut control = span::span(context, &outer.span_id, "bad.control");
    control.attributes = vec![data::kv("bad.mode", data::json_text(mode))];
    control.status = tracing::Status::Ok;
    span::send(&control);
}

/// Prints one line on stdout. `println!` panics when a write fails; a
/// failed write here is ignored instead.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
