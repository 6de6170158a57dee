//! One run, from a path to an exit code: load, sandbox, limit, run under
//! a `wasm.run` span, flush the telemetry.

mod metrics;
mod outcome;
mod span;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};
use wasmtime::component::{Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::cli::RunConfig;
use crate::export::{ExportReport, Pipeline};
use crate::limits::{EpochTicker, GuestLimiter, HOSTCALL_FUEL, RESOURCE_TABLE_CAPACITY};
use crate::load::{self, Guest, LoadError};
use crate::output::{CappedOutput, LineLogs, Stream};
use crate::sandbox::{self, Stdio};
use crate::telemetry::{self, GuestTelemetry, TelemetryStats};
use crate::{ids, resource};

pub use outcome::{
    EXIT_CANNOT_RUN, EXIT_FUEL, EXIT_MEMORY, EXIT_NOT_FOUND, EXIT_TIMEOUT, EXIT_TRAP, EXIT_USAGE,
    Ended, Outcome,
};
pub use span::{RunFacts, RunSpan};

/// How long past `--timeout` the host waits for a guest blocked inside a
/// host call (where epochs cannot reach it) before ending the process.
const BLOCKED_GRACE: Duration = Duration::from_secs(1);

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The guest needs something the host does not provide.
    #[error("cannot instantiate `{path}`: {reason:#}{}", remedy(reason))]
    Instantiate {
        /// The file.
        path: String,
        /// Wasmtime's account, naming the missing import.
        reason: wasmtime::Error,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
    /// A granted directory could not be opened.
    #[error("{0}")]
    Sandbox(std::io::Error),
    /// The export's file could not be opened.
    #[error("{0}")]
    Export(std::io::Error),
}

/// What to do about an instantiation failure, when there is something.
fn remedy(reason: &wasmtime::Error) -> &'static str {
    let reason = format!("{reason:#}");
    if reason.contains("unknown import") {
        " (to run it anyway, with such imports trapping when called, \
         add --trap-unknown-imports)"
    } else if reason.contains("exceeds memory limits") {
        " (the guest needs more memory from the start: raise --max-memory)"
    } else {
        ""
    }
}

impl RunError {
    /// The process exit code that reports this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Load(err) => err.exit_code(),
            RunError::Instantiate { .. } => EXIT_CANNOT_RUN,
            RunError::Engine(_) | RunError::Sandbox(_) | RunError::Export(_) => EXIT_USAGE,
        }
    }
}

/// Runs the guest `config` names and reports how it ended. The run's
/// telemetry is flushed before this returns, and what the user must know
/// (a limit the guest hit, data lost, the export's summary) is said on
/// stderr.
pub fn run(config: RunConfig) -> Result<Outcome, RunError> {
    let started = SystemTime::now();
    let mut engine_config = wasmtime::Config::new();
    config.limits.configure(&mut engine_config);
    let engine = Engine::new(&engine_config).map_err(RunError::Engine)?;
    let loaded = load::load(&engine, &config.wasm)?;
    let guest = loaded.guest;

    let module_name = config
        .wasm
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.wasm.display().to_string());
    let module = resource::Module {
        name: &module_name,
        sha256: &loaded.sha256,
    };
    let resource = resource::attributes(&config.service_name, &config.resource_attributes, &module);
    let pipeline = Arc::new(Pipeline::new(&config.export, resource).map_err(RunError::Export)?);

    // The run's own span: its context is what the guest hangs its root
    // spans under, and it is exported last, with the outcome. A caller's
    // context makes it a child in the caller's trace.
    let (trace_id, flags, parent) = match &config.parent {
        Some(parent) => (parent.trace_id(), parent.trace_flags(), parent.span_id()),
        None => (ids::new_trace_id(), TraceFlags::SAMPLED, SpanId::INVALID),
    };
    let trace_state = config
        .parent
        .as_ref()
        .map(|parent| parent.trace_state().clone())
        .unwrap_or_default();
    let run_span = RunSpan {
        context: SpanContext::new(trace_id, ids::new_span_id(), flags, false, trace_state),
        parent,
        started,
        module_name: module_name.clone(),
        kind: guest.kind(),
    };
    let mut stdout = CappedOutput::new(Stream::Stdout, config.limits.max_output);
    let mut stderr = CappedOutput::new(Stream::Stderr, config.limits.max_output);
    if config.output_logs {
        let logs = LineLogs::new(
            pipeline.clone(),
            run_span.context.clone(),
            config.budget.logs,
        );
        stdout = stdout.with_logs(logs.clone());
        stderr = stderr.with_logs(logs);
    }
    let stdio = Stdio { stdout, stderr };
    let telemetry = GuestTelemetry::new(
        pipeline.clone(),
        run_span.context.clone(),
        config.budget.clone(),
    );

    let _ticker = config.limits.timeout.map(|_| EpochTicker::start(&engine));
    let _watchdog = config
        .limits
        .timeout
        .map(|timeout| Watchdog::start(timeout, &run_span, &pipeline));

    // The guest runs on a thread of its own, whose native stack holds its
    // whole `--max-stack`.
    let ran = std::thread::scope(|scope| {
        let run = || match &guest {
            Guest::Component { component, .. } => {
                run_component(&engine, component, &config, &module_name, &stdio, telemetry)
            }
            Guest::Module(module) => run_module(&engine, module, &config, &module_name, &stdio),
        };
        std::thread::Builder::new()
            .name("wasm-otel-guest".into())
            .stack_size(config.limits.thread_stack())
            .spawn_scoped(scope, run)
            .expect("the OS can start a thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let mut facts = match ran {
        Ok(facts) => facts,
        Err(Failure::Instantiate(reason)) => {
            pipeline.shutdown();
            return Err(RunError::Instantiate {
                path: config.wasm.display().to_string(),
                reason,
            });
        }
        Err(Failure::Sandbox(err)) => {
            pipeline.shutdown();
            return Err(RunError::Sandbox(err));
        }
    };
    stdio.stdout.finish();
    stdio.stderr.finish();
    facts.output_dropped = stdio.stdout.counts().dropped() + stdio.stderr.counts().dropped();
    let unsent_lines = stdio.stdout.logs_over_limit();
    if unsent_lines > 0 {
        *facts
            .stats
            .dropped
            .entry("output_logs_over_limit")
            .or_default() += unsent_lines;
    }
    let outcome = Outcome::classify(facts.ended.clone(), &facts, &config.limits);

    let ended = SystemTime::now();
    pipeline.on_last_span(run_span.finish(&outcome, &facts, ended));
    pipeline.on_last_metrics(metrics::run_metrics(
        pipeline.resource(),
        started,
        ended,
        &facts,
    ));
    let report = pipeline.shutdown();

    warn_about_drops(&facts.stats);
    warn_about_output(&stdio, config.limits.max_output);
    if let Some(message) = outcome.message() {
        crate::say!("error: {message}");
    }
    report_export(&report);
    Ok(outcome)
}

/// Why a guest never got to run.
enum Failure {
    Instantiate(wasmtime::Error),
    Sandbox(std::io::Error),
}

impl From<wasmtime::Error> for Failure {
    fn from(err: wasmtime::Error) -> Self {
        Failure::Instantiate(err)
    }
}

/// Store data for a component guest.
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    telemetry: GuestTelemetry,
    limiter: GuestLimiter,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Store data for a plain wasip1 module.
pub(crate) struct ModuleState {
    wasi: WasiP1Ctx,
    limiter: GuestLimiter,
}

/// The linker a component runs with: WASI preview 2 and `wasi:otel`.
pub(crate) fn component_linker(
    engine: &Engine,
) -> wasmtime::Result<ComponentLinker<ComponentState>> {
    let mut linker = ComponentLinker::<ComponentState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    telemetry::add_to_linker(&mut linker, |state| &mut state.telemetry)?;
    Ok(linker)
}

/// The linker a plain wasip1 module runs with: WASI preview 1.
pub(crate) fn module_linker(engine: &Engine) -> wasmtime::Result<Linker<ModuleState>> {
    let mut linker = Linker::<ModuleState>::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state| &mut state.wasi)?;
    // WASI's own `proc_exit` refuses codes of 126 and above; a guest's
    // code is its own to choose, and wraps past 255 as in a shell.
    linker.allow_shadowing(true);
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "proc_exit",
        |code: i32| -> wasmtime::Result<()> { Err(wasmtime_wasi::I32Exit(code).into()) },
    )?;
    Ok(linker)
}

/// Runs a component's `wasi:cli/run`.
fn run_component(
    engine: &Engine,
    component: &wasmtime::component::Component,
    config: &RunConfig,
    argv0: &str,
    stdio: &Stdio,
    telemetry: GuestTelemetry,
) -> Result<RunFacts, Failure> {
    let mut linker = component_linker(engine)?;
    if config.trap_unknown_imports {
        linker.define_unknown_imports_as_traps(component)?;
    }

    let wasi = sandbox::wasi_builder(argv0, &config.args, &config.sandbox, stdio)
        .map_err(Failure::Sandbox)?
        .build();
    let mut table = ResourceTable::new();
    table.set_max_capacity(RESOURCE_TABLE_CAPACITY);
    let state = ComponentState {
        wasi,
        table,
        telemetry,
        limiter: config.limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    config
        .limits
        .apply(&mut store, |state| &mut state.limiter)?;
    store.set_hostcall_fuel(HOSTCALL_FUEL);
    // The adapter and start functions run guest code while instantiating:
    // a trap there is the guest's, judged like any other.
    let ended = match started(Command::instantiate(&mut store, component, &linker))? {
        Ok(command) => command
            .wasi_cli_run()
            .call_run(&mut store)
            .map(|result| if result.is_ok() { 0 } else { 1 }),
        Err(trap) => Err(trap),
    };
    let fuel_consumed = fuel_consumed(&store, config);
    let state = store.data_mut();
    state.telemetry.finish(SystemTime::now());
    Ok(RunFacts {
        ended: ended.into(),
        stats: state.telemetry.stats().clone(),
        fuel_consumed,
        peak_memory: Some(state.limiter.peak_memory()),
        memory_denied: state.limiter.memory_denied(),
        output_dropped: 0,
    })
}

/// Runs a plain wasip1 module's `_start`.
fn run_module(
    engine: &Engine,
    module: &wasmtime::Module,
    config: &RunConfig,
    argv0: &str,
    stdio: &Stdio,
) -> Result<RunFacts, Failure> {
    let mut linker = module_linker(engine)?;
    if config.trap_unknown_imports {
        linker.define_unknown_imports_as_traps(module)?;
    }

    let wasi = sandbox::wasi_builder(argv0, &config.args, &config.sandbox, stdio)
        .map_err(Failure::Sandbox)?
        .build_p1();
    let state = ModuleState {
        wasi,
        limiter: config.limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    config
        .limits
        .apply(&mut store, |state| &mut state.limiter)?;
    let ended = match started(linker.instantiate(&mut store, module))? {
        Ok(instance) => {
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call(&mut store, ()).map(|()| 0)
        }
        Err(trap) => Err(trap),
    };
    let fuel_consumed = fuel_consumed(&store, config);
    let limiter = &store.data().limiter;
    Ok(RunFacts {
        ended: ended.into(),
        stats: TelemetryStats::default(),
        fuel_consumed,
        peak_memory: Some(limiter.peak_memory()),
        memory_denied: limiter.memory_denied(),
        output_dropped: 0,
    })
}

/// Splits an instantiation's failure into the guest's own ending (a trap
/// or an exit while its start code ran) and the host's refusal to run it.
fn started<T>(result: wasmtime::Result<T>) -> Result<wasmtime::Result<T>, Failure> {
    match result {
        Err(err)
            if err.downcast_ref::<wasmtime::Trap>().is_none()
                && err.downcast_ref::<wasmtime_wasi::I32Exit>().is_none() =>
        {
            Err(Failure::Instantiate(err))
        }
        other => Ok(other),
    }
}

fn fuel_consumed<T>(store: &Store<T>, config: &RunConfig) -> Option<u64> {
    let budget = config.limits.fuel?;
    Some(budget.saturating_sub(store.get_fuel().unwrap_or(0)))
}

/// Ends the process when a guest is still running well past its
/// deadline. Epoch interruption stops guest code, but not a guest blocked
/// inside a host call (a sleep, a read of stdin); this catches those.
struct Watchdog {
    done: mpsc::Sender<()>,
}

impl Watchdog {
    fn start(timeout: Duration, run_span: &RunSpan, pipeline: &Arc<Pipeline>) -> Self {
        let (done, finished) = mpsc::channel::<()>();
        let run_span = run_span.clone();
        let pipeline = pipeline.clone();
        std::thread::Builder::new()
            .name("wasm-otel-watchdog".into())
            .spawn(move || {
                if finished.recv_timeout(timeout.saturating_add(BLOCKED_GRACE))
                    != Err(mpsc::RecvTimeoutError::Timeout)
                {
                    return;
                }
                let outcome = Outcome::TimedOut {
                    timeout,
                    blocked: true,
                };
                let facts = RunFacts::default();
                let ended = SystemTime::now();
                pipeline.on_last_span(run_span.finish(&outcome, &facts, ended));
                let resource = pipeline.resource();
                let metrics = metrics::run_metrics(resource, run_span.started, ended, &facts);
                pipeline.on_last_metrics(metrics);
                let report = pipeline.shutdown();
                if let Some(message) = outcome.message() {
                    crate::say!("error: {message}");
                }
                report_export(&report);
                std::process::exit(i32::from(outcome.exit_code()));
            })
            .expect("the OS can start a thread");
        Self { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.done.send(());
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
    crate::say!(
        "warning: {total} telemetry items from the guest were dropped or repaired ({})",
        reasons.join(", ")
    );
}

/// One line on stderr at the end of a run that exported or lost anything:
/// what was delivered, and what was lost, by reason.
fn report_export(report: &ExportReport) {
    let lost: u64 = report.dropped.values().sum();
    let delivered: u64 = report.exported.values().sum();
    if lost == 0 && delivered == 0 {
        return;
    }
    let exported: Vec<String> = report
        .exported
        .iter()
        .map(|(signal, count)| signal.items(*count))
        .collect();
    let exported = match exported.is_empty() {
        true => "nothing".to_owned(),
        false => exported.join(", "),
    };
    if lost == 0 {
        crate::say!("telemetry: exported {exported}");
        return;
    }
    let dropped: Vec<String> = report
        .dropped
        .iter()
        .map(|((signal, reason), count)| format!("{} ({reason})", signal.items(*count)))
        .collect();
    crate::say!(
        "telemetry: exported {exported}; lost {}",
        dropped.join(", ")
    );
}

/// One line on stderr when output past `--max-output` was discarded.
fn warn_about_output(stdio: &Stdio, cap: u64) {
    let stdout = stdio.stdout.counts().dropped();
    let stderr = stdio.stderr.counts().dropped();
    if stdout + stderr == 0 {
        return;
    }
    crate::say!(
        "warning: guest output past the `--max-output` cap of `{}` was discarded: \
         {} of stdout, {} of stderr (raise it with --max-output)",
        crate::limits::format_size(cap),
        bytes(stdout),
        bytes(stderr),
    );
}

fn bytes(count: u64) -> String {
    match count {
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}
