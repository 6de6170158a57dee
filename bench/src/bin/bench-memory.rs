//! `bench-memory`: section 5 of BENCHMARKS.md, the host's resident memory
//! for 1, 100 and 1,000 hello instances alive at once, run through the
//! library (`wasm_otel_host::embed::Host`), not the binary.
//!
//! Each count is measured in a fresh child process (this program, run
//! with `--child COUNT ALLOCATOR`): it builds one host, loads hello once,
//! instantiates COUNT instances (each waiting on its thread), reads its
//! resident memory, runs them all, and reads its peak. The parent prints
//! the section's Markdown and a last line `goal: ... | ... | met` for the
//! summary, as `bench/src/sections/memory.rs` expects.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use wasm_otel_host::embed::{Host, HostConfig, Job};

/// The counts the section reports.
const COUNTS: [u32; 3] = [1, 100, 1_000];

/// What one child measured, in KiB.
struct Measured {
    loaded: u64,
    instantiated: u64,
    peak: u64,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, count, allocator] if flag == "--child" => child(count.parse()?, allocator),
        [] => parent(),
        _ => bail!("usage: bench-memory (no arguments; `--child` is internal)"),
    }
}

/// The release hello guest.
fn hello() -> Result<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("../target/wasm32-wasip1/release/hello.wasm");
    ensure!(
        path.exists(),
        "`{}` is missing (run `make bench`)",
        path.display()
    );
    Ok(path)
}

fn child(count: u32, allocator: &str) -> Result<()> {
    let host = Host::new(HostConfig {
        pooling: (allocator == "pooling").then_some(count),
        cache: false,
        ..HostConfig::default()
    })?;
    let program = host.load(&hello()?)?;
    let loaded = status_kib("VmRSS:")?;

    let instances = (0..count)
        .map(|_| host.instantiate(&program, Job::new(["Ada"])))
        .collect::<Result<Vec<_>, _>>()?;
    let instantiated = status_kib("VmRSS:")?;

    let finished: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = instances
            .into_iter()
            .map(|instance| scope.spawn(move || instance.run()))
            .collect();
        runs.into_iter().map(|run| run.join()).collect()
    });
    let ok = finished
        .iter()
        .filter(|run| matches!(run, Ok(Ok(done)) if done.outcome.exit_code() == 0))
        .count();
    ensure!(
        ok == count as usize,
        "only {ok} of {count} instances exited 0"
    );
    let peak = status_kib("VmHWM:")?;
    println!("{loaded} {instantiated} {peak}");
    Ok(())
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(name: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with(name))
        .with_context(|| format!("no `{name}` in /proc/self/status"))?;
    let kib = line[name.len()..].trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

fn measure(count: u32, allocator: &str) -> Result<Measured> {
    let exe = std::env::current_exe()?;
    let output = Command::new(exe)
        .args(["--child", &count.to_string(), allocator])
        .output()?;
    ensure!(
        output.status.success(),
        "{count} instances ({allocator}) failed: {}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [loaded, instantiated, peak] = numbers[..] else {
        bail!("the child printed `{text}`");
    };
    Ok(Measured {
        loaded,
        instantiated,
        peak,
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn parent() -> Result<()> {
    let mut rows = String::new();
    let mut per_instance = Vec::new();
    for allocator in ["pooling", "on-demand"] {
        let measured: Vec<Measured> = COUNTS
            .iter()
            .map(|&count| measure(count, allocator))
            .collect::<Result<_>>()?;
        for (count, m) in COUNTS.iter().zip(&measured) {
            rows.push_str(&format!(
                "| {allocator} | {count} | {} | {} | {} |\n",
                mib(m.loaded),
                mib(m.instantiated),
                mib(m.peak)
            ));
        }
        // What each instance past the first adds, waiting and at the peak.
        let (one, many) = (&measured[0], &measured[2]);
        let n = f64::from(COUNTS[2] - COUNTS[0]);
        let waiting = (many.instantiated as f64 - one.instantiated as f64) / n;
        let peak = (many.peak as f64 - one.peak as f64) / n;
        per_instance.push((allocator, waiting, peak));
    }

    println!(
        "hello instances alive at once in one process, through the library \
         (`wasm_otel_host::embed::Host`): one engine, one exporter pipeline \
         (`none`), hello loaded once; each instance is instantiated on its \
         own thread and waits there, then all run at once. Each count is \
         a fresh process (`bench/src/bin/bench-memory.rs`); resident memory \
         is read from `/proc/self/status`: after loading, with every \
         instance waiting (`VmRSS`), and at the peak while they ran \
         (`VmHWM`). `pooling` preallocates a slot per instance with Wasmtime's \
         pooling allocator; `on-demand` allocates as instances come.\n"
    );
    println!("| allocator | instances | after loading | all instantiated | peak |");
    println!("| --- | --- | --- | --- | --- |");
    print!("{rows}");
    println!();
    for (allocator, waiting, peak) in &per_instance {
        println!(
            "Per instance ({allocator}), from 1 to 1,000: {waiting:.0} KiB while \
             waiting, {peak:.0} KiB at the peak."
        );
    }
    let (_, waiting, _) = per_instance[0];
    println!(
        "goal: host RSS for 1, 100 and 1,000 hello instances, per-instance cost \
         stated | {waiting:.0} KiB per waiting instance (pooling) | met"
    );
    Ok(())
}
