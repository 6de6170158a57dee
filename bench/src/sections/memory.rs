//! Section 5: the host's resident memory for 1, 100 and 1,000 concurrent
//! hello instances, run through the library rather than the binary.
//!
//! The hook: this section is produced by a separate program,
//! [`MEMORY_PROGRAM`], built next to `wasm-otel-bench` from
//! `bench/src/bin/bench-memory.rs` once it exists. It measures with
//! `wasm_otel_host::Host` and prints the section's Markdown body on
//! stdout, with a last line `goal: <goal> | <measured> | <met or missed>`
//! for the summary. Until that program is built, the section says it was
//! not measured and carries no figure.

use anyhow::{Context, Result, bail};

use crate::Bench;
use crate::report::{Goal, Section};

/// The section's heading.
pub const TITLE: &str = "Memory";

/// The program that measures this section, next to this one.
pub const MEMORY_PROGRAM: &str = "bench-memory";

/// What is measured, for the summary when nothing is.
const GOAL: &str = "host RSS for 1, 100 and 1,000 hello instances";

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let program = bench.sibling(MEMORY_PROGRAM)?;
    if !program.exists() {
        return Ok(Section {
            title: TITLE,
            body: format!(
                "Not measured in this run: the program that measures it, \
                 `{MEMORY_PROGRAM}` (`bench/src/bin/{MEMORY_PROGRAM}.rs`, \
                 running hello instances through the library's \
                 `wasm_otel_host::Host`), is not part of this build.\n"
            ),
            goals: vec![Goal::not_measured(GOAL)],
        });
    }

    let ran = crate::measure::run(&mut std::process::Command::new(&program))?;
    let (body, last) = ran
        .stdout
        .trim_end()
        .rsplit_once('\n')
        .context("`bench-memory` printed less than a body and a goal line")?;
    let Some(goal) = last.strip_prefix("goal: ") else {
        bail!("`bench-memory`'s last line is not `goal: ...`: `{last}`");
    };
    let parts: Vec<&str> = goal.split(" | ").collect();
    let [goal, measured, verdict] = parts[..] else {
        bail!("`bench-memory`'s goal line has not three parts: `{goal}`");
    };
    Ok(Section {
        title: TITLE,
        body: format!("{body}\n"),
        goals: vec![Goal::new(goal, measured, verdict == "met")],
    })
}
