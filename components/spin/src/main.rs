//! A hostile guest that burns CPU forever: `spin [--print-start]`.
//!
//! It attacks the host's time and fuel limits with an endless loop that
//! updates a counter through `black_box`, so the loop cannot be optimised
//! away. It prints nothing, unless given `--print-start`, which first
//! prints `spinning` on stdout and flushes it.

use std::hint::black_box;
use std::io::Write;

fn main() {
    // Tell the test the loop has begun, so a timeout can be told apart
    // from a guest that never started.
    if std::env::args().nth(1).as_deref() == Some("--print-start") {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "spinning");
        let _ = out.flush();
    }

    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}
