//! The `wasm-otel` command: parses flags, then runs one guest and exits
//! with the code that says how the run ended, or inspects one file.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use wasm_otel_host::cli::{CacheCommand, Cli, Command, CompileArgs, InspectArgs};
use wasm_otel_host::load::{self, cache};
use wasm_otel_host::run::{EXIT_USAGE, RunError};

fn main() -> ExitCode {
    init_diagnostics();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version on stdout and exits 0; every
            // other parse failure is a usage error.
            let code = if err.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };

    match cli.command {
        Command::Inspect(args) => inspect(&args),
        Command::Run(args) => {
            let config = match args.into_config(&|name| std::env::var(name).ok()) {
                Ok(config) => config,
                Err(err) => {
                    wasm_otel_host::say!("error: {err}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            for warning in &config.warnings {
                wasm_otel_host::say!("warning: {warning}");
            }
            match wasm_otel_host::run(config) {
                Ok(outcome) => ExitCode::from(outcome.exit_code()),
                Err(err) => {
                    wasm_otel_host::say!("error: {err:#}");
                    ExitCode::from(err.exit_code())
                }
            }
        }
        Command::Compile(args) => match compile(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                wasm_otel_host::say!("error: {err:#}");
                ExitCode::from(err.exit_code())
            }
        },
        Command::Cache(command) => cache_command(command),
    }
}

/// `wasm-otel compile`: the file's compiled code, written to `--output`.
fn compile(args: &CompileArgs) -> Result<(), RunError> {
    let mut config = wasmtime::Config::new();
    args.limits().configure(&mut config);
    let engine = wasmtime::Engine::new(&config).map_err(RunError::Engine)?;
    let compiled = load::precompile(&engine, &args.wasm)?;
    std::fs::write(&args.output, compiled).map_err(|err| {
        RunError::Export(std::io::Error::new(
            err.kind(),
            format!("cannot write `{}`: {err}", args.output.display()),
        ))
    })
}

/// `wasm-otel cache dir` and `wasm-otel cache clean`.
fn cache_command(command: CacheCommand) -> ExitCode {
    let Some(root) = cache::root() else {
        wasm_otel_host::say!(
            "error: there is no cache directory: set {} or HOME",
            cache::CACHE_DIR_VAR
        );
        return ExitCode::from(EXIT_USAGE);
    };
    match command {
        CacheCommand::Dir => {
            println!("{}", root.display());
            ExitCode::SUCCESS
        }
        CacheCommand::Clean => match cache::clean(&root) {
            Ok(0) => {
                wasm_otel_host::say!("`{}` holds no compiled code", root.display());
                ExitCode::SUCCESS
            }
            Ok(removed) => {
                wasm_otel_host::say!(
                    "removed {removed} compiled file{} from `{}`",
                    if removed == 1 { "" } else { "s" },
                    root.display()
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                wasm_otel_host::say!(
                    "error: cannot clean the cache `{}`: {err} (delete its \
                     `wasmtime-*` directories by hand)",
                    root.display()
                );
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

/// Prints what `wasm-otel inspect` found, as text or JSON, on stdout.
fn inspect(args: &InspectArgs) -> ExitCode {
    let report = match wasm_otel_host::inspect::inspect(&args.wasm) {
        Ok(report) => report,
        Err(err) => {
            wasm_otel_host::say!("error: {err}");
            return ExitCode::from(err.exit_code());
        }
    };
    let text = if args.json {
        format!("{:#}\n", report.json())
    } else {
        report.text()
    };
    // A closed pipe (`| head`) is no failure of the inspection.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// The host's own diagnostics go to stderr through `tracing`, never into
/// the guest's telemetry. `WASM_OTEL_LOG` sets the filter (default `warn`).
fn init_diagnostics() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WASM_OTEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
