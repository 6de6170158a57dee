//! `span-bench N`: starts and ends N spans named `bench.span`, each with
//! four attributes set at its start, and prints how long that took.
//!
//! The spans are siblings under the host's span; their attributes are
//! `bench.index` (the span's number from 0), `bench.kind` (`"loop"`),
//! `bench.ratio` (`0.5`) and `bench.sampled` (`true`). On stdout, one
//! line:
//!
//! ```text
//! spans N elapsed_ns T ns_per_span P
//! ```
//!
//! T is measured with the monotonic clock around the loop alone. A
//! missing or non-numeric N exits 2 with a message on stderr.

use std::process::ExitCode;
use std::time::Instant;

use wasm_otel_guest::Tracer;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let Some(count) = arg.as_deref().and_then(|n| n.parse::<u64>().ok()) else {
        let shown = arg.as_deref().unwrap_or("");
        eprintln!("error: N `{shown}` is not a number of spans (usage: span-bench N)");
        return ExitCode::from(2);
    };

    let tracer = Tracer::new("span-bench").with_version(env!("CARGO_PKG_VERSION"));
    let started = Instant::now();
    for index in 0..count {
        tracer
            .span("bench.span")
            .attribute("bench.index", index as i64)
            .attribute("bench.kind", "loop")
            .attribute("bench.ratio", 0.5)
            .attribute("bench.sampled", true)
            .start()
            .end();
    }
    let elapsed = started.elapsed().as_nanos();

    let per_span = elapsed as f64 / count.max(1) as f64;
    println!("spans {count} elapsed_ns {elapsed} ns_per_span {per_span:.1}");
    ExitCode::SUCCESS
}
