//! The wasm-otel host: runs a WebAssembly guest inside a sandbox with
//! limits, implements `wasi:otel` for it, and forwards what the guest
//! reports to an OpenTelemetry backend.
//!
//! The `wasm-otel` binary is a thin layer over this library:
//! [`cli`] turns flags and environment into a [`RunConfig`], and
//! [`run::run`] carries out one run and says how it ended. To run many
//! guests from one engine and one exporter, per request or per job, use
//! [`embed::Host`].

pub mod cli;
pub mod context;
pub mod embed;
pub mod export;
pub mod ids;
pub mod inspect;
pub mod limits;
pub mod load;
pub mod output;
pub mod portable;
pub mod resource;
pub mod run;
pub mod sandbox;
pub mod telemetry;

pub use cli::RunConfig;

/// Writes one line of the host's own on stderr, never failing; see
/// [`output::host_line`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::host_line(format_args!($($arg)*))
    };
}
pub use run::{Outcome, RunError, run};
