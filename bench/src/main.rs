//! `wasm-otel-bench`: runs every benchmark of wasm-otel side by side with
//! what it is compared to, in one go, and writes BENCHMARKS.md at the
//! root of the workspace. `make bench` builds what it needs and runs it.
//!
//! Each section is made by its own function in `sections/`; a section
//! that fails is written as not measured, with the error, and the program
//! then exits 1. No figure in the report comes from anywhere but this
//! run.

mod machine;
mod measure;
mod report;
mod sections;

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use report::{Goal, Section};

/// Where everything the benchmarks run is, and how to start it.
pub struct Bench {
    /// The workspace root.
    pub root: PathBuf,
    /// The cargo target directory.
    pub target: PathBuf,
    /// The compiled-code cache wasm-otel uses during the benchmarks, kept
    /// apart from the user's own.
    pub cache_dir: PathBuf,
    /// Wasmtime's own CLI, fetched by `make bench`.
    pub wasmtime_cli: PathBuf,
}

impl Bench {
    fn new() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the bench crate lives in the workspace")?
            .to_owned();
        let target = root.join("target");
        let bench = Self {
            cache_dir: target.join("bench-cache"),
            wasmtime_cli: target.join("bench-tools/wasmtime_cli/wasmtime"),
            root,
            target,
        };
        for path in [&bench.host_binary(), &bench.wasmtime_cli] {
            anyhow::ensure!(
                path.exists(),
                "`{}` is missing (run `make bench`, which builds and fetches it)",
                path.display()
            );
        }
        Ok(bench)
    }

    /// The release `wasm-otel` binary.
    pub fn host_binary(&self) -> PathBuf {
        self.target.join("release/wasm-otel")
    }

    /// A program built next to this one, such as `native-spans`.
    pub fn sibling(&self, name: &str) -> Result<PathBuf> {
        let exe = std::env::current_exe().context("find this program")?;
        Ok(exe.with_file_name(name))
    }

    /// A release guest from `components/`, built for wasm32-wasip1.
    pub fn component(&self, name: &str) -> PathBuf {
        self.target
            .join("wasm32-wasip1/release")
            .join(format!("{name}.wasm"))
    }

    /// `wasm-otel run ARGS...` with the benchmarks' cache and none of the
    /// caller's OpenTelemetry settings.
    pub fn wasm_otel_run<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(self.host_binary());
        command.arg("run").args(args);
        command.env("WASM_OTEL_CACHE_DIR", &self.cache_dir);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("OTEL_") || name == "TRACEPARENT" || name == "TRACESTATE" {
                command.env_remove(name);
            }
        }
        command
    }

    /// Runs `guest ARGS` once, unrecorded, with `limits`, so that its
    /// compiled code is in the cache before anything is timed.
    pub fn fill_cache(&self, limits: &[&str], guest: &Path, args: &[&str]) -> Result<()> {
        let mut command = self.wasm_otel_run(["--exporter", "none"]);
        command.args(limits).arg(guest).args(args);
        measure::run(&mut command).map(drop)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every section and writes the report; `false` when a section
/// failed.
fn run() -> Result<bool> {
    let bench = Bench::new()?;
    let facts = machine::describe(&bench.root, &bench.wasmtime_cli)?;

    let mut all_measured = true;
    let mut done = Vec::new();
    for (n, (title, section)) in sections::ALL.iter().enumerate() {
        eprintln!("bench: {}. {title} ...", n + 1);
        let section = section(&bench).unwrap_or_else(|err| {
            eprintln!("bench: {title} failed: {err:#}");
            all_measured = false;
            Section {
                title,
                body: format!("Not measured in this run: the benchmark failed: `{err:#}`.\n"),
                goals: vec![Goal::not_measured("(the section's goal)")],
            }
        });
        done.push(section);
    }
    let end_load = machine::load_average()?;

    let path = bench.root.join("BENCHMARKS.md");
    std::fs::write(&path, render(&facts, &end_load, &done))
        .with_context(|| format!("write `{}`", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(all_measured)
}

/// The whole of BENCHMARKS.md.
fn render(facts: &[machine::Fact], end_load: &str, sections: &[Section]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    out.push_str(
        "Written by `make bench` (`bench/`); every figure below was measured \
         in the run described here. The machine is shared with other work, \
         so absolute times drift from run to run: each comparison runs its \
         sides interleaved in the same run, and the ratio of their medians \
         is the result. Absolute medians are given too.\n\n",
    );
    for (key, value) in facts {
        let _ = writeln!(out, "- {key}: {value}");
    }
    let _ = writeln!(out, "- load average at the end: {end_load}\n");

    let _ = writeln!(out, "## Summary\n");
    out.push_str(&report::summary(sections));
    for (n, section) in sections.iter().enumerate() {
        let _ = writeln!(out, "\n## {}. {}\n", n + 1, section.title);
        out.push_str(&section.body);
    }
    out
}
