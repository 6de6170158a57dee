//! One run, from a path to an exit code: load, sandbox, run under a
//! `wasm.run` span, flush the telemetry.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use wasmtime::component::{Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Store, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::cli::RunConfig;
use crate::export::{ExportSetupError, Pipeline};
use crate::load::{self, Guest, LoadError};
use crate::telemetry::{self, GuestTelemetry, TelemetryStats};
use crate::{ids, sandbox};

/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 125;
/// Exit code for a file that is not valid wasm or cannot be instantiated.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// Exit code for a file that does not exist.
pub const EXIT_NOT_FOUND: u8 = 127;
/// Exit code for a guest that trapped.
pub const EXIT_TRAP: u8 = 134;

/// How a guest's run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The guest exited with this code (0 when `main` returned).
    Exited(i32),
    /// The guest trapped.
    Trapped {
        /// The kind of trap, such as `unreachable`.
        kind: String,
        /// The full message, with the wasm backtrace where there is one.
        message: String,
    },
}

impl Outcome {
    /// The process exit code that reports this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            // Codes past 255 wrap, as a shell reports them.
            Outcome::Exited(code) => (*code & 0xff) as u8,
            Outcome::Trapped { .. } => EXIT_TRAP,
        }
    }
}

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The guest needs something the host does not provide.
    #[error("cannot instantiate `{path}`: {reason:#}")]
    Instantiate {
        /// The file.
        path: String,
        /// Wasmtime's account, naming the missing import.
        reason: wasmtime::Error,
    },
    /// The exporter could not be set up.
    #[error(transparent)]
    Export(#[from] ExportSetupError),
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
}

impl RunError {
    /// The process exit code that reports this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Load(LoadError::NotFound(_)) => EXIT_NOT_FOUND,
            RunError::Load(_) | RunError::Instantiate { .. } => EXIT_CANNOT_RUN,
            RunError::Export(_) | RunError::Engine(_) => EXIT_USAGE,
        }
    }
}

/// Runs the guest `config` names and reports how it ended. The run's
/// telemetry is flushed before this returns.
pub fn run(config: RunConfig) -> Result<Outcome, RunError> {
    let engine = Engine::new(&wasmtime::Config::new()).map_err(RunError::Engine)?;
    let guest = load::load(&engine, &config.wasm)?;

    let module_name = config
        .wasm
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.wasm.display().to_string());
    let resource = Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .build();
    let pipeline = Arc::new(Pipeline::new(&config.export, resource)?);

    // The run's own span: its context is what the guest hangs its root
    // spans under, and it is exported last, with the outcome.
    let run_context = SpanContext::new(
        ids::new_trace_id(),
        ids::new_span_id(),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let started = SystemTime::now();
    let telemetry = GuestTelemetry::new(pipeline.clone(), run_context.clone());

    let ran = match &guest {
        Guest::Component { component, .. } => {
            run_component(&engine, component, &config, &module_name, telemetry)
        }
        Guest::Module(module) => run_module(&engine, module, &config, &module_name)
            .map(|outcome| (outcome, TelemetryStats::default())),
    };
    let (outcome, stats) = match ran {
        Ok(done) => done,
        Err(reason) => {
            pipeline.shutdown();
            return Err(RunError::Instantiate {
                path: config.wasm.display().to_string(),
                reason,
            });
        }
    };

    let run_span = run_span(RunSpan {
        context: run_context,
        started,
        module_name: &module_name,
        kind: guest.kind(),
        outcome: &outcome,
        stats: &stats,
    });
    pipeline.on_end(run_span);
    pipeline.shutdown();

    warn_about_drops(&stats);
    if let Outcome::Trapped { message, .. } = &outcome {
        eprintln!("error: guest trapped: {message}");
    }
    Ok(outcome)
}

/// Store data for a component guest.
struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    telemetry: GuestTelemetry,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs a component's `wasi:cli/run`. The error side is an instantiation
/// failure; everything after instantiation is an [`Outcome`].
fn run_component(
    engine: &Engine,
    component: &wasmtime::component::Component,
    config: &RunConfig,
    argv0: &str,
    telemetry: GuestTelemetry,
) -> wasmtime::Result<(Outcome, TelemetryStats)> {
    let mut linker = ComponentLinker::<ComponentState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    telemetry::add_to_linker(&mut linker, |state| &mut state.telemetry)?;

    let state = ComponentState {
        wasi: sandbox::wasi_builder(argv0, &config.args).build(),
        table: ResourceTable::new(),
        telemetry,
    };
    let mut store = Store::new(engine, state);
    let command = Command::instantiate(&mut store, component, &linker)?;

    let result = command.wasi_cli_run().call_run(&mut store);
    let outcome = match result {
        Ok(Ok(())) => Outcome::Exited(0),
        Ok(Err(())) => Outcome::Exited(1),
        Err(err) => outcome_of_error(err),
    };
    let telemetry = &store.data().telemetry;
    let mut stats = telemetry.stats().clone();
    for _ in 0..telemetry.open_spans() {
        stats.count("span_never_ended");
    }
    Ok((outcome, stats))
}

/// Runs a plain wasip1 module's `_start`.
fn run_module(
    engine: &Engine,
    module: &wasmtime::Module,
    config: &RunConfig,
    argv0: &str,
) -> wasmtime::Result<Outcome> {
    let mut linker = Linker::<WasiP1Ctx>::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;

    let ctx = sandbox::wasi_builder(argv0, &config.args).build_p1();
    let mut store = Store::new(engine, ctx);
    let instance = linker.instantiate(&mut store, module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;

    Ok(match start.call(&mut store, ()) {
        Ok(()) => Outcome::Exited(0),
        Err(err) => outcome_of_error(err),
    })
}

/// An error out of guest code: an exit through WASI, or a trap.
fn outcome_of_error(err: wasmtime::Error) -> Outcome {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    let kind = match err.downcast_ref::<Trap>() {
        Some(trap) => trap_kind(*trap),
        None => "host_error".to_owned(),
    };
    Outcome::Trapped {
        kind,
        message: format!("{err:?}"),
    }
}

fn trap_kind(trap: Trap) -> String {
    match trap {
        Trap::StackOverflow => "stack_overflow".to_owned(),
        Trap::MemoryOutOfBounds => "memory_out_of_bounds".to_owned(),
        Trap::UnreachableCodeReached => "unreachable".to_owned(),
        Trap::IntegerDivisionByZero => "integer_division_by_zero".to_owned(),
        Trap::IntegerOverflow => "integer_overflow".to_owned(),
        Trap::IndirectCallToNull => "indirect_call_to_null".to_owned(),
        Trap::BadSignature => "bad_signature".to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

struct RunSpan<'a> {
    context: SpanContext,
    started: SystemTime,
    module_name: &'a str,
    kind: &'static str,
    outcome: &'a Outcome,
    stats: &'a TelemetryStats,
}

/// The `wasm.run` span, with the run's outcome recorded on it.
fn run_span(run: RunSpan<'_>) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("wasm.module.name", run.module_name.to_owned()),
        KeyValue::new("wasm.module.kind", run.kind),
    ];
    let status = match run.outcome {
        Outcome::Exited(code) => {
            attributes.push(KeyValue::new("wasm.exit_code", i64::from(*code)));
            if *code == 0 {
                Status::Ok
            } else {
                Status::error(format!("guest exited with code {code}"))
            }
        }
        Outcome::Trapped { kind, .. } => {
            attributes.push(KeyValue::new("wasm.trap", kind.clone()));
            Status::error(format!("guest trapped: {kind}"))
        }
    };
    attributes.push(KeyValue::new(
        "wasm.telemetry.spans",
        run.stats.spans as i64,
    ));
    attributes.push(KeyValue::new(
        "wasm.telemetry.dropped",
        run.stats.dropped_total() as i64,
    ));
    for (reason, count) in &run.stats.dropped {
        attributes.push(KeyValue::new(
            format!("wasm.telemetry.dropped.{reason}"),
            *count as i64,
        ));
    }

    SpanData {
        span_context: run.context,
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("wasm.run"),
        start_time: run.started,
        end_time: SystemTime::now(),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::builder("wasm-otel")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    }
}

/// One line on stderr when anything the guest sent was not delivered.
fn warn_about_drops(stats: &TelemetryStats) {
    let total = stats.dropped_total();
    if total == 0 {
        return;
    }
    let reasons: Vec<String> = stats
        .dropped
        .iter()
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    eprintln!(
        "warning: {total} telemetry items from the guest were dropped or repaired ({})",
        reasons.join(", ")
    );
}
