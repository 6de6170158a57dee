//! A guest that shows what environment it was given: `env-peek`.
//!
//! It probes whether the host leaks its own environment to guests. It
//! prints every variable it can see as `NAME=VALUE`, sorted by name, one
//! a line, then `count=N` on the last line. Names and values that are
//! not UTF-8 are printed lossily.

use std::io::Write;

fn main() {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(name, value)| {
            let name = name.to_string_lossy().into_owned();
            (name, value.to_string_lossy().into_owned())
        })
        .collect();
    vars.sort();

    let mut out = std::io::stdout().lock();
    for (name, value) in &vars {
        let _ = writeln!(out, "{name}={value}");
    }
    let _ = writeln!(out, "count={}", vars.len());
    let _ = out.flush();
}
