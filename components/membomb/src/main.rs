//! A hostile guest that allocates memory until the host refuses:
//! `membomb [abort|graceful] [CHUNK_MIB]`.
//!
//! It attacks the host's memory limit. It allocates chunks of
//! `CHUNK_MIB` MiB (default 1) forever, writes a byte to every 4 KiB
//! page of each chunk so the memory is really used, and keeps every
//! chunk alive.
//! Every 16 MiB it prints `allocated N MiB` on stdout.
//!
//! In mode `abort` (the default) it allocates with `vec!`, so when memory
//! cannot grow, Rust's allocation failure handler aborts the guest. In
//! mode `graceful` it uses `Vec::try_reserve_exact`; on failure it prints
//! `allocation failed after N MiB` on stdout and exits with code 3.

use std::hint::black_box;
use std::io::Write;

/// Bytes in one MiB.
const MIB: usize = 1024 * 1024;

/// The distance between the bytes written to touch each page.
const PAGE: usize = 4096;

/// How often, in MiB, progress is printed.
const REPORT_EVERY_MIB: usize = 16;

/// The exit code of mode `graceful` when an allocation fails.
const GRACEFUL_EXIT: i32 = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let graceful = match args.get(1).map(String::as_str) {
        None | Some("abort") => false,
        Some("graceful") => true,
        Some(other) => {
            eprintln!("error: unknown mode `{other}` (use abort or graceful)");
            std::process::exit(2);
        }
    };
    let chunk_mib: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let Some(chunk_len) = chunk_mib.checked_mul(MIB) else {
        eprintln!("error: chunk of `{chunk_mib}` MiB is too large");
        std::process::exit(2);
    };

    // Create stdout's buffer now, while memory is plentiful, so the
    // failure report below does not need to allocate.
    let _ = std::io::stdout();

    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total_mib = 0;
    let mut next_report = REPORT_EVERY_MIB;
    loop {
        let chunk = if graceful {
            let chunk = chunks
                .try_reserve(1)
                .ok()
                .and_then(|()| try_chunk(chunk_len));
            chunk.unwrap_or_else(|| give_up(total_mib))
        } else {
            touched(vec![1u8; chunk_len])
        };

        // Keep the chunk alive; `black_box` stops the optimiser from
        // proving the memory is never read.
        chunks.push(black_box(chunk));
        total_mib += chunk_mib;
        while total_mib >= next_report {
            report(format_args!("allocated {next_report} MiB"));
            next_report += REPORT_EVERY_MIB;
        }
    }
}

/// Reports, for mode `graceful`, that allocation failed after
/// `total_mib` MiB, and exits with [`GRACEFUL_EXIT`].
fn give_up(total_mib: usize) -> ! {
    report(format_args!("allocation failed after {total_mib} MiB"));
    std::process::exit(GRACEFUL_EXIT);
}

/// Allocates `len` bytes without aborting, or `None` when memory is out.
fn try_chunk(len: usize) -> Option<Vec<u8>> {
    let mut chunk = Vec::new();
    chunk.try_reserve_exact(len).ok()?;
    chunk.resize(len, 0);
    Some(touched(chunk))
}

/// Writes a byte to every page of `chunk`, so the memory is really used.
fn touched(mut chunk: Vec<u8>) -> Vec<u8> {
    for i in (0..chunk.len()).step_by(PAGE) {
        chunk[i] = black_box(1);
    }
    chunk
}

/// Prints one line on stdout and flushes it, ignoring write errors.
/// It formats straight into stdout's buffer, so it does not allocate.
fn report(line: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
