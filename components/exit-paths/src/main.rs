//! `exit-paths MODE [LINE]...`: writes each `LINE` to stderr, does one
//! step of work under an open span, logs, and leaves by `MODE`, which
//! shows whether telemetry survives each way out:
//!
//! - `return`: `main` returns exit code 3, every span ended;
//! - `exit`: `std::process::exit(4)` with `exit-paths.run` still open;
//! - `panic`: a panic (an abort on WASI) with `exit-paths.run` still open.
//!
//! ```text
//! exit-paths.run     exit.mode       (never ended for `exit` and `panic`)
//! └── exit-paths.step step.done=true
//! log "leaving by MODE" (WARN)
//! ```

use std::process::ExitCode;

use wasm_otel_guest::{Logger, Tracer};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    for line in std::env::args().skip(2) {
        eprintln!("{line}");
    }
    let tracer = Tracer::new("exit-paths");
    let logger = Logger::new("exit-paths");

    let run = tracer
        .span("exit-paths.run")
        .attribute("exit.mode", mode.as_str())
        .start();
    tracer
        .span("exit-paths.step")
        .attribute("step.done", true)
        .start()
        .end();
    logger.warn(format!("leaving by {mode}")).emit();

    match mode.as_str() {
        "return" => {
            run.end();
            ExitCode::from(3)
        }
        "exit" => std::process::exit(4),
        "panic" => panic!("exit-paths was asked to panic"),
        other => {
            eprintln!("exit-paths: unknown mode `{other}` (use return, exit or panic)");
            ExitCode::from(2)
        }
    }
}
