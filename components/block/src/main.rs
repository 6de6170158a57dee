//! A hostile guest that blocks inside a host call: `block sleep|stdin`.
//!
//! It attacks the host's wall-clock limit where epoch interruption cannot
//! reach: while the guest waits in a host call, no guest code runs to
//! notice the deadline. It prints `blocking` on stdout and flushes it,
//! then either sleeps for a day (`sleep`, the default) or reads stdin
//! until it ends (`stdin`). It exits 0 if it ever gets that far.

use std::io::{Read, Write};
use std::time::Duration;

/// How long mode `sleep` sleeps: far past any deadline a test sets.
const NAP: Duration = Duration::from_secs(24 * 60 * 60);

fn main() {
    let mode = std::env::args().nth(1);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "blocking");
    let _ = out.flush();
    drop(out);

    match mode.as_deref() {
        None | Some("sleep") => std::thread::sleep(NAP),
        Some("stdin") => {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        Some(other) => {
            eprintln!("error: unknown mode `{other}` (use sleep or stdin)");
            std::process::exit(2);
        }
    }
}
