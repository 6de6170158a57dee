//! A hostile guest that floods its output: `flood [stdout|stderr|both]
//! [LINES]`.
//!
//! It attacks the host's handling of guest output. It writes lines
//! `flood line N xxx…x` (N from 0, then 64 `x`) to the chosen stream
//! (default stdout), LINES times, or forever when LINES is absent.
//! Write errors, a broken pipe included, are ignored: the loop goes on
//! and nothing panics. When LINES is given it exits 0 at the end.

use std::io::Write;

/// How many `x` characters end every line.
const PAD_LEN: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (to_out, to_err) = match args.get(1).map(String::as_str) {
        None | Some("stdout") => (true, false),
        Some("stderr") => (false, true),
        Some("both") => (true, true),
        Some(other) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "error: unknown stream `{other}` (use stdout, stderr or both)"
            );
            std::process::exit(2);
        }
    };
    let lines: Option<u64> = args.get(2).map(|arg| {
        arg.parse().unwrap_or_else(|_| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: LINES `{arg}` is not a number");
            std::process::exit(2);
        })
    });
    let pad = "x".repeat(PAD_LEN);

    // `println!` panics when a write fails, so every write goes through
    // a locked handle and its result is dropped.
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut n: u64 = 0;
    while lines.is_none_or(|lines| n < lines) {
        if to_out {
            let _ = writeln!(out, "flood line {n} {pad}");
        }
        if to_err {
            let _ = writeln!(err, "flood line {n} {pad}");
        }
        n = n.wrapping_add(1);
    }
    let _ = out.flush();
    let _ = err.flush();
}
