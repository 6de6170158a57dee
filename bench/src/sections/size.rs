//! Section 6: the size of the release hello module, with the guest SDK,
//! in its normal and portable builds.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use wasmparser::{Parser, Payload};

use crate::Bench;
use crate::report::{Goal, Section, count, table};

/// The section's heading.
pub const TITLE: &str = "Size";

/// The goal for the normal build, in bytes (150 KB).
const GOAL_BYTES: u64 = 150_000;

/// Where a module's bytes go.
struct Breakdown {
    total: u64,
    code: u64,
    data: u64,
    /// Custom sections: names, producers, the embedded component type.
    custom: Vec<(String, u64)>,
}

/// Runs the benchmark and writes the section.
pub fn run(bench: &Bench) -> Result<Section> {
    let modules = [
        (
            "hello, normal build (`wasi:otel`)",
            bench.component("hello"),
        ),
        (
            "hello, portable build (OTLP JSON Lines)",
            bench
                .target
                .join("portable/wasm32-wasip1/release/hello.wasm"),
        ),
    ];
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for (label, path) in &modules {
        let b = breakdown(path)?;
        let custom: u64 = b.custom.iter().map(|(_, n)| n).sum();
        let named: Vec<String> = b
            .custom
            .iter()
            .map(|(name, n)| format!("`{name}` {}", count(*n)))
            .collect();
        rows.push(vec![
            (*label).to_owned(),
            count(b.total),
            count(b.code),
            count(b.data),
            format!("{} ({})", count(custom), named.join(", ")),
        ]);
        sizes.push((b.total, custom, b.code));
    }

    let (hello, hello_custom, hello_code) = sizes[0];
    let met = hello < GOAL_BYTES;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "The modules `make build` makes, as they are on disk \
         (`target/wasm32-wasip1/release/hello.wasm`, \
         `target/portable/wasm32-wasip1/release/hello.wasm`), in bytes, with \
         the sizes of their code, data and custom sections read from the \
         files.\n"
    );
    body.push_str(&table(
        &["module", "bytes", "code", "data", "custom sections"],
        &rows,
    ));
    body.push('\n');
    if met {
        let _ = writeln!(
            body,
            "Goal, the normal build under {} bytes: **met** ({}).",
            count(GOAL_BYTES),
            count(hello)
        );
    } else {
        let _ = writeln!(
            body,
            "Goal, the normal build under {} bytes: **missed** ({}, {} over). \
             {} bytes of it are custom sections, which the release profile \
             keeps (it does not strip); without them the module would be {} \
             bytes, {}. The code section alone is {} bytes.",
            count(GOAL_BYTES),
            count(hello),
            count(hello - GOAL_BYTES),
            count(hello_custom),
            count(hello - hello_custom),
            if hello - hello_custom < GOAL_BYTES {
                "within the goal"
            } else {
                "still over it"
            },
            count(hello_code),
        );
    }

    Ok(Section {
        title: TITLE,
        body,
        goals: vec![Goal::new(
            format!("hello < {} bytes", count(GOAL_BYTES)),
            format!("{} bytes", count(hello)),
            met,
        )],
    })
}

fn breakdown(path: &Path) -> Result<Breakdown> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("read `{}` (build it first: `make build`)", path.display()))?;
    let mut b = Breakdown {
        total: bytes.len() as u64,
        code: 0,
        data: 0,
        custom: Vec::new(),
    };
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.context("parse the module")? {
            Payload::CodeSectionStart { range, .. } => b.code = range.len() as u64,
            Payload::DataSection(reader) => b.data = reader.range().len() as u64,
            Payload::CustomSection(reader) => b
                .custom
                .push((reader.name().to_owned(), reader.range().len() as u64)),
            _ => {}
        }
    }
    Ok(b)
}
