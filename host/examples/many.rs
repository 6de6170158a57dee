//! Runs one guest many times at once from a single [`Host`]: one engine,
//! one pooling allocator, one exporter pipeline.
//!
//! ```text
//! cargo run --release -p wasm-otel-host --example many -- \
//!     target/wasm32-wasip1/release/hello.wasm 100 [telemetry.jsonl]
//! ```
//!
//! Each run gets its own arguments, limits and `wasm.run` span; with a
//! third argument, every run's telemetry is appended to that file as OTLP
//! JSON Lines.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasm_otel_host::cli::ExportConfig;
use wasm_otel_host::embed::{Host, HostConfig, Job};
use wasm_otel_host::limits::Limits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: many WASM COUNT [TELEMETRY.jsonl]";
    let wasm = PathBuf::from(args.next().ok_or(usage)?);
    let count: u32 = args.next().ok_or(usage)?.parse()?;
    let export = match args.next() {
        Some(path) => ExportConfig::File {
            path: path.into(),
            batching: Default::default(),
        },
        None => ExportConfig::None,
    };

    // One engine and one pipeline for every run, with a pool slot each.
    let host = Host::new(HostConfig {
        export,
        service_name: "many".to_owned(),
        pooling: Some(count),
        ..HostConfig::default()
    })?;
    let program = host.load(&wasm)?;

    let started = Instant::now();
    let finished: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..count)
            .map(|n| {
                let (host, program) = (&host, &program);
                scope.spawn(move || {
                    // Each run has its own box: here, a two-second deadline.
                    let job = Job {
                        limits: Limits {
                            timeout: Some(Duration::from_secs(2)),
                            ..Limits::default()
                        },
                        ..Job::new([format!("guest{}", letters(n))])
                    };
                    host.run(program, &job)
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("no panic"))
            .collect()
    });
    let elapsed = started.elapsed();

    let mut ok = 0;
    for run in &finished {
        match run {
            Ok(done) if done.outcome.exit_code() == 0 => ok += 1,
            Ok(done) => eprintln!("a run ended: {:?}", done.outcome),
            Err(err) => eprintln!("a run failed: {err}"),
        }
    }
    if let Some(Ok(first)) = finished.first() {
        print!(
            "first run's output: {}",
            String::from_utf8_lossy(&first.stdout)
        );
    }
    let report = host.shutdown();
    println!("{ok} of {count} runs exited 0 in {elapsed:.2?}");
    let exported: u64 = report.exported.values().sum();
    let lost: u64 = report.dropped.values().sum();
    println!("telemetry: {exported} items exported, {lost} lost");
    Ok(())
}

/// `n` as letters (hello greets only names made of letters).
fn letters(mut n: u32) -> String {
    let mut name = String::new();
    loop {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return name;
        }
    }
}
