//! How a run ended, the one place that maps it to an exit code, and the
//! message that tells the user.

use std::time::Duration;

use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use super::span::RunFacts;
use crate::limits::{Limits, format_size};

/// Exit code for a guest still running at its `--timeout`.
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 125;
/// Exit code for a file that is not valid wasm or cannot be instantiated.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// Exit code for a file that does not exist.
pub const EXIT_NOT_FOUND: u8 = 127;
/// Exit code for a guest that trapped.
pub const EXIT_TRAP: u8 = 134;
/// Exit code for a guest that failed after reaching `--max-memory`.
pub const EXIT_MEMORY: u8 = 137;
/// Exit code for a guest that used up its `--fuel`.
pub const EXIT_FUEL: u8 = 152;

/// How many wasm frames a trap message shows.
const BACKTRACE_FRAMES: usize = 8;

/// How guest code stopped, before it is judged against the limits.
#[derive(Debug, Clone, Default)]
pub enum Ended {
    /// It exited with this code (0 when `main` returned).
    #[default]
    Returned,
    /// It exited through WASI with this code.
    Exited(i32),
    /// It trapped, or a host call failed.
    Failed {
        /// The trap, when it was one.
        trap: Option<Trap>,
        /// The trap's description and a short backtrace.
        message: String,
    },
}

impl From<Result<i32, wasmtime::Error>> for Ended {
    fn from(result: Result<i32, wasmtime::Error>) -> Self {
        let err = match result {
            Ok(0) => return Ended::Returned,
            Ok(code) => return Ended::Exited(code),
            Err(err) => err,
        };
        if let Some(exit) = err.downcast_ref::<I32Exit>() {
            return match exit.0 {
                0 => Ended::Returned,
                code => Ended::Exited(code),
            };
        }
        let trap = err.downcast_ref::<Trap>().copied();
        Ended::Failed {
            trap,
            message: describe_failure(&err, trap),
        }
    }
}

/// How a guest's run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The guest exited with this code (0 when `main` returned).
    Exited(i32),
    /// The guest was still running at its deadline.
    TimedOut {
        /// The `--timeout` it ran past.
        timeout: Duration,
        /// True when it was blocked in a host call and the process had to
        /// be ended.
        blocked: bool,
    },
    /// The guest used up its instruction budget.
    FuelExhausted {
        /// The `--fuel` budget.
        budget: u64,
    },
    /// The guest trapped or exited non-zero after a memory growth was
    /// refused at the cap: it failed because of the limit.
    MemoryLimit {
        /// The `--max-memory` cap.
        limit: u64,
        /// The guest's exit code, when it exited rather than trapped.
        exit_code: Option<i32>,
    },
    /// The guest trapped.
    Trapped {
        /// The kind of trap, such as `unreachable` or `stack_overflow`.
        kind: String,
        /// The trap's description and a short wasm backtrace.
        message: String,
    },
}

impl Outcome {
    /// Judges how guest code stopped against the run's limits.
    pub fn classify(ended: Ended, facts: &RunFacts, limits: &Limits) -> Self {
        let failed_after_denial = facts.memory_denied && !matches!(ended, Ended::Returned);
        match ended {
            Ended::Failed {
                trap: Some(Trap::Interrupt),
                ..
            } => Outcome::TimedOut {
                timeout: limits.timeout.unwrap_or_default(),
                blocked: false,
            },
            Ended::Failed {
                trap: Some(Trap::OutOfFuel),
                ..
            } => Outcome::FuelExhausted {
                budget: limits.fuel.unwrap_or_default(),
            },
            ended if failed_after_denial => Outcome::MemoryLimit {
                limit: limits.max_memory,
                exit_code: match ended {
                    Ended::Exited(code) => Some(code),
                    _ => None,
                },
            },
            Ended::Returned => Outcome::Exited(0),
            Ended::Exited(code) => Outcome::Exited(code),
            Ended::Failed { trap, message } => Outcome::Trapped {
                kind: trap.map_or_else(|| "host_error".to_owned(), trap_kind),
                message,
            },
        }
    }

    /// The process exit code that reports this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            // Codes past 255 wrap, as a shell reports them.
            Outcome::Exited(code) => (*code & 0xff) as u8,
            Outcome::TimedOut { .. } => EXIT_TIMEOUT,
            Outcome::FuelExhausted { .. } => EXIT_FUEL,
            Outcome::MemoryLimit { .. } => EXIT_MEMORY,
            Outcome::Trapped { .. } => EXIT_TRAP,
        }
    }

    /// What to tell the user, when the run did not simply exit.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            Outcome::Exited(_) => return None,
            Outcome::TimedOut {
                timeout,
                blocked: false,
            } => format!(
                "guest exceeded its time limit of `{}` (raise it with --timeout)",
                humantime::format_duration(*timeout)
            ),
            Outcome::TimedOut {
                timeout,
                blocked: true,
            } => format!(
                "guest exceeded its time limit of `{}` while blocked in a host call, \
                 and the process was ended (raise it with --timeout)",
                humantime::format_duration(*timeout)
            ),
            Outcome::FuelExhausted { budget } => {
                format!("guest used up its fuel budget of `{budget}` (raise it with --fuel)")
            }
            Outcome::MemoryLimit { limit, exit_code } => {
                let how = match exit_code {
                    Some(code) => format!(" and exited with code {code}"),
                    None => " and aborted".to_owned(),
                };
                format!(
                    "guest exceeded its memory limit of `{}`{how} (raise it with --max-memory)",
                    format_size(*limit)
                )
            }
            Outcome::Trapped { message, .. } => format!("guest trapped: {message}"),
        })
    }

    /// A short name for the kind of trap or limit, for `wasm.trap`.
    pub fn trap_kind(&self) -> Option<&str> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::TimedOut { .. } => Some("timeout"),
            Outcome::FuelExhausted { .. } => Some("out_of_fuel"),
            Outcome::MemoryLimit { .. } => Some("memory_limit"),
            Outcome::Trapped { kind, .. } => Some(kind),
        }
    }
}

fn trap_kind(trap: Trap) -> String {
    let name = match trap {
        Trap::StackOverflow => "stack_overflow",
        Trap::MemoryOutOfBounds => "memory_out_of_bounds",
        Trap::HeapMisaligned => "heap_misaligned",
        Trap::TableOutOfBounds => "table_out_of_bounds",
        Trap::IndirectCallToNull => "indirect_call_to_null",
        Trap::BadSignature => "bad_signature",
        Trap::IntegerOverflow => "integer_overflow",
        Trap::IntegerDivisionByZero => "integer_division_by_zero",
        Trap::BadConversionToInteger => "bad_conversion_to_integer",
        Trap::UnreachableCodeReached => "unreachable",
        Trap::Interrupt => "interrupt",
        Trap::OutOfFuel => "out_of_fuel",
        other => return format!("{other:?}").to_lowercase(),
    };
    name.to_owned()
}

/// The trap's description, then up to [`BACKTRACE_FRAMES`] wasm frames,
/// with a run of the same function (deep recursion) shown once.
fn describe_failure(err: &wasmtime::Error, trap: Option<Trap>) -> String {
    let mut message = match trap {
        Some(trap) => trap.to_string(),
        // A failed host call: its own words, without the context layers
        // that repeat the backtrace.
        None => err.root_cause().to_string(),
    };
    let Some(backtrace) = err.downcast_ref::<WasmBacktrace>() else {
        return message;
    };

    let mut runs: Vec<(String, usize)> = Vec::new();
    for frame in backtrace.frames() {
        let name = match frame.func_name() {
            Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
            None => format!("<function {}>", frame.func_index()),
        };
        match runs.last_mut() {
            Some((last, count)) if *last == name => *count += 1,
            _ => runs.push((name, 1)),
        }
    }
    for (name, count) in runs.iter().take(BACKTRACE_FRAMES) {
        message.push_str(&format!("\n    at {name}"));
        if *count > 1 {
            message.push_str(&format!(" ({count} frames)"));
        }
    }
    if runs.len() > BACKTRACE_FRAMES {
        let hidden: usize = runs[BACKTRACE_FRAMES..].iter().map(|(_, n)| n).sum();
        message.push_str(&format!("\n    ... {hidden} more frames"));
    }
    message
}
