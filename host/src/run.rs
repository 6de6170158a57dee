//! One run, from a path to an exit code: load, sandbox, limit, run under
//! a `wasm.run` span, flush the telemetry.

pub(crate) mod metrics;
mod outcome;
mod span;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::SpanContext;
use wasmtime::component::{Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::cli::RunConfig;
use crate::export::{ExportReport, Pipeline};
use crate::limits::{EpochTicker, GuestLimiter, HOSTCALL_FUEL, Limits, RESOURCE_TABLE_CAPACITY};
use crate::load::{self, Guest, LoadError};
use crate::output::{CappedOutput, LineLogs, Stream};
use crate::portable::{FileMark, Portable};
use crate::resource;
use crate::sandbox::{self, Policy, Stdio};
use crate::telemetry::{self, Budget, GuestTelemetry, TelemetryStats};

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
    /// A job asks for what its host was not built for.
    #[error("{0}")]
    Unsupported(&'static str),
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
            RunError::Engine(_)
            | RunError::Sandbox(_)
            | RunError::Export(_)
            | RunError::Unsupported(_) => EXIT_USAGE,
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
    let cache = config
        .cache
        .then(load::cache::root)
        .flatten()
        .map(|root| load::cache::Cache::new(&root, &engine));
    let loaded = load::load(&engine, &config.wasm, cache.as_ref())?;
    let guest = loaded.guest;

    let module_name = module_name(&config.wasm);
    let module = resource::Module {
        name: &module_name,
        sha256: &loaded.sha256,
    };
    let resource = resource::attributes(&config.service_name, &config.resource_attributes, &module);
    let pipeline = Arc::new(Pipeline::new(&config.export, resource).map_err(RunError::Export)?);

    let spec = Spec {
        argv0: &module_name,
        args: &config.args,
        limits: &config.limits,
        sandbox: &config.sandbox,
        budget: &config.budget,
        trap_unknown_imports: config.trap_unknown_imports,
    };
    let mut session = Session::open(
        &pipeline,
        &engine,
        &guest,
        &spec,
        SessionOptions {
            parent: config.parent.as_ref(),
            started,
            keep_output: false,
            output_logs: config.output_logs,
            telemetry_file: config.telemetry_file.as_deref(),
        },
    );

    let _ticker = config.limits.timeout.map(|_| EpochTicker::start(&engine));
    let _watchdog = config
        .limits
        .timeout
        .map(|timeout| Watchdog::start(timeout, &session.run_span, &pipeline));

    let (facts, outcome) = match session.execute(&engine, &guest, &spec) {
        Ok(ran) => ran,
        Err(failure) => {
            pipeline.shutdown();
            return Err(failure.into_run_error(&config.wasm));
        }
    };

    // The run's own span and metrics skip the queue: they are sent first
    // at shutdown, whatever the guest's telemetry left behind.
    session.report(&pipeline, &outcome, &facts, Queue::Last);
    let report = pipeline.shutdown();

    warn_about_drops(&facts.stats);
    warn_about_output(&session.stdio, config.limits.max_output);
    if let Some(message) = outcome.message() {
        crate::say!("error: {message}");
    }
    report_export(&report);
    Ok(outcome)
}

/// A file's name, as the guest's `argv[0]` and in telemetry.
pub(crate) fn module_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// What one guest instance runs with, beside its code.
pub(crate) struct Spec<'a> {
    /// The guest's `argv[0]`.
    pub argv0: &'a str,
    /// Its other arguments.
    pub args: &'a [String],
    /// Its box.
    pub limits: &'a Limits,
    /// What it may see.
    pub sandbox: &'a Policy,
    /// Caps on its telemetry.
    pub budget: &'a Budget,
    /// Whether imports the host lacks become trapping functions.
    pub trap_unknown_imports: bool,
}

/// How a run's own span and metrics reach the pipeline.
pub(crate) enum Queue {
    /// Like any other item.
    Normal,
    /// Ahead of everything, at shutdown: for a process's only run.
    Last,
}

/// How a [`Session`] is set up.
pub(crate) struct SessionOptions<'a> {
    /// The caller's span, parent of `wasm.run`.
    pub parent: Option<&'a SpanContext>,
    /// When the run started.
    pub started: SystemTime,
    /// Keep the guest's output in memory instead of relaying it.
    pub keep_output: bool,
    /// Turn the guest's output lines into log records.
    pub output_logs: bool,
    /// A file a portable guest writes OTLP JSON Lines to.
    pub telemetry_file: Option<&'a Path>,
}

/// One guest instance's run span, output and telemetry, set up before it
/// starts.
pub(crate) struct Session {
    /// The run's span, open.
    pub run_span: RunSpan,
    /// The guest's stdout and stderr.
    pub stdio: Stdio,
    portable: Option<Arc<Portable>>,
    telemetry_file: Option<(PathBuf, FileMark)>,
    /// What the guest's `wasi:otel` calls go to, until it runs.
    telemetry: Option<GuestTelemetry>,
}

impl Session {
    /// A session for `guest`, its telemetry sent to `pipeline`.
    pub fn open(
        pipeline: &Arc<Pipeline>,
        engine: &Engine,
        guest: &Guest,
        spec: &Spec<'_>,
        options: SessionOptions<'_>,
    ) -> Session {
        let run_span = RunSpan::open(options.parent, options.started, spec.argv0, guest.kind());
        let cap = spec.limits.max_output;
        let (mut stdout, mut stderr) = match options.keep_output {
            true => (
                CappedOutput::kept(Stream::Stdout, cap),
                CappedOutput::kept(Stream::Stderr, cap),
            ),
            false => (
                CappedOutput::new(Stream::Stdout, cap),
                CappedOutput::new(Stream::Stderr, cap),
            ),
        };
        if options.output_logs {
            let logs = LineLogs::new(pipeline.clone(), run_span.context.clone(), spec.budget.logs);
            stdout = stdout.with_logs(logs.clone());
            stderr = stderr.with_logs(logs);
        }
        let new_telemetry = || {
            GuestTelemetry::new(
                pipeline.clone(),
                run_span.context.clone(),
                spec.budget.clone(),
            )
        };

        // A guest without `wasi:otel` may write OTLP JSON Lines instead.
        let native = imports_otel(guest, engine);
        let portable = (!native || options.telemetry_file.is_some())
            .then(|| Arc::new(Portable::new(new_telemetry(), run_span.context.clone())));
        if let (Some(portable), false) = (&portable, native) {
            stderr = stderr.with_portable(portable.clone());
        }
        let telemetry_file = options
            .telemetry_file
            .map(|path| (path.to_owned(), FileMark::of(path)));
        Session {
            telemetry: Some(new_telemetry()),
            run_span,
            stdio: Stdio { stdout, stderr },
            portable,
            telemetry_file,
        }
    }

    /// Runs the guest to its end, on a thread of its own whose native
    /// stack holds its whole `--max-stack`, and says how it ended.
    pub fn execute(
        &mut self,
        engine: &Engine,
        guest: &Guest,
        spec: &Spec<'_>,
    ) -> Result<(RunFacts, Outcome), Failure> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("wasm-otel-guest".into())
                .stack_size(spec.limits.thread_stack())
                .spawn_scoped(scope, || self.execute_here(engine, guest, spec, &|| {}))
                .expect("the OS can start a thread")
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs the guest on this thread, whose stack must hold the guest's
    /// (see [`Limits::thread_stack`]); `ready` is called once the guest
    /// is instantiated, and the guest starts when it returns.
    pub fn execute_here(
        &mut self,
        engine: &Engine,
        guest: &Guest,
        spec: &Spec<'_>,
        ready: &dyn Fn(),
    ) -> Result<(RunFacts, Outcome), Failure> {
        let telemetry = self.telemetry.take().expect("a session runs once");
        let mut facts = match guest {
            Guest::Component { component, .. } => {
                run_component(engine, component, spec, &self.stdio, telemetry, ready)
            }
            Guest::Module(module) => run_module(engine, module, spec, &self.stdio, ready),
        }?;
        self.settle(&mut facts);
        let outcome = Outcome::classify(facts.ended.clone(), &facts, spec.limits);
        Ok((facts, outcome))
    }

    /// Sends the run's span, finished with `outcome`, and its metrics to
    /// `pipeline`: through its queue, or kept for the front of shutdown.
    pub fn report(&self, pipeline: &Pipeline, outcome: &Outcome, facts: &RunFacts, queue: Queue) {
        let ended = SystemTime::now();
        let span = self.run_span.finish(outcome, facts, ended);
        let started = self.run_span.started;
        let metrics = metrics::run_metrics(pipeline.resource(), started, ended, facts);
        match queue {
            Queue::Normal => {
                pipeline.on_span(span);
                pipeline.on_metrics(metrics);
            }
            Queue::Last => {
                pipeline.on_last_span(span);
                pipeline.on_last_metrics(metrics);
            }
        }
    }

    /// Ends the guest's streams and adds what they carried to `facts`.
    fn settle(&self, facts: &mut RunFacts) {
        self.stdio.stdout.finish();
        self.stdio.stderr.finish();
        if let Some(portable) = &self.portable {
            if let Some((path, from)) = &self.telemetry_file
                && let Err(err) = portable.read_file(path, *from)
            {
                crate::say!(
                    "warning: cannot read --telemetry-file `{}`: {err}; the guest's \
                     telemetry there is lost (give the file the guest appends OTLP \
                     JSON Lines to, in a directory granted with --dir-rw)",
                    path.display()
                );
            }
            facts.stats.merge(&portable.stats());
        }
        facts.output_dropped =
            self.stdio.stdout.counts().dropped() + self.stdio.stderr.counts().dropped();
        let unsent_lines = self.stdio.stdout.logs_over_limit();
        if unsent_lines > 0 {
            *facts
                .stats
                .dropped
                .entry("output_logs_over_limit")
                .or_default() += unsent_lines;
        }
    }
}

/// Whether the guest imports any `wasi:otel` interface.
fn imports_otel(guest: &Guest, engine: &Engine) -> bool {
    match guest {
        Guest::Component { component, .. } => component
            .component_type()
            .imports(engine)
            .any(|(name, _)| name.starts_with("wasi:otel/")),
        Guest::Module(_) => false,
    }
}

/// Why a guest never got to run.
pub(crate) enum Failure {
    Instantiate(wasmtime::Error),
    Sandbox(std::io::Error),
}

impl Failure {
    /// The error a run of the file at `path` ends with.
    pub(crate) fn into_run_error(self, path: &Path) -> RunError {
        match self {
            Failure::Instantiate(reason) => RunError::Instantiate {
                path: path.display().to_string(),
                reason,
            },
            Failure::Sandbox(err) => RunError::Sandbox(err),
        }
    }
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
    spec: &Spec<'_>,
    stdio: &Stdio,
    telemetry: GuestTelemetry,
    ready: &dyn Fn(),
) -> Result<RunFacts, Failure> {
    let mut linker = component_linker(engine)?;
    if spec.trap_unknown_imports {
        linker.define_unknown_imports_as_traps(component)?;
    }

    let wasi = sandbox::wasi_builder(spec.argv0, spec.args, spec.sandbox, stdio)
        .map_err(Failure::Sandbox)?
        .build();
    let mut table = ResourceTable::new();
    table.set_max_capacity(RESOURCE_TABLE_CAPACITY);
    let state = ComponentState {
        wasi,
        table,
        telemetry,
        limiter: spec.limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    spec.limits.apply(&mut store, |state| &mut state.limiter)?;
    store.set_hostcall_fuel(HOSTCALL_FUEL);
    // The adapter and start functions run guest code while instantiating:
    // a trap there is the guest's, judged like any other.
    let instantiated = started(Command::instantiate(&mut store, component, &linker))?;
    ready();
    spec.limits.restart_deadline(&mut store);
    let ended = match instantiated {
        Ok(command) => command
            .wasi_cli_run()
            .call_run(&mut store)
            .map(|result| if result.is_ok() { 0 } else { 1 }),
        Err(trap) => Err(trap),
    };
    let fuel_consumed = fuel_consumed(&store, spec.limits);
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
    spec: &Spec<'_>,
    stdio: &Stdio,
    ready: &dyn Fn(),
) -> Result<RunFacts, Failure> {
    let mut linker = module_linker(engine)?;
    if spec.trap_unknown_imports {
        linker.define_unknown_imports_as_traps(module)?;
    }

    let wasi = sandbox::wasi_builder(spec.argv0, spec.args, spec.sandbox, stdio)
        .map_err(Failure::Sandbox)?
        .build_p1();
    let state = ModuleState {
        wasi,
        limiter: spec.limits.limiter(),
    };
    let mut store = Store::new(engine, state);
    spec.limits.apply(&mut store, |state| &mut state.limiter)?;
    let instantiated = started(linker.instantiate(&mut store, module))?;
    ready();
    spec.limits.restart_deadline(&mut store);
    let ended = match instantiated {
        Ok(instance) => {
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call(&mut store, ()).map(|()| 0)
        }
        Err(trap) => Err(trap),
    };
    let fuel_consumed = fuel_consumed(&store, spec.limits);
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

fn fuel_consumed<T>(store: &Store<T>, limits: &Limits) -> Option<u64> {
    let budget = limits.fuel?;
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
