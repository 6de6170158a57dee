//! Many guests from one engine: the library's way to run guests per
//! request or per job, as a server or a job runner would.
//!
//! A [`Host`] is built once: one Wasmtime engine (with the pooling
//! allocator when asked), one exporter pipeline, one compiled-code cache,
//! one epoch ticker. A [`Program`] is compiled once and run any number of
//! times, from any number of threads at once; each [`Job`] has its own
//! limits, sandbox, telemetry budget and `wasm.run` span, and all runs
//! share the pipeline.
//!
//! ```no_run
//! use wasm_otel_host::embed::{Host, HostConfig, Job};
//!
//! let host = Host::new(HostConfig { pooling: Some(100), ..HostConfig::default() })?;
//! let hello = host.load("hello.wasm".as_ref())?;          // compiled once
//! let finished = host.run(&hello, &Job::new(["Ada"]))?;   // per request
//! print!("{}", String::from_utf8_lossy(&finished.stdout));
//! let instance = host.instantiate(&hello, Job::new(["Grace"]))?; // ahead of a request
//! let finished = instance.run()?;
//! let report = host.shutdown();                           // flushes the pipeline
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The README shows the same; `examples/many.rs` runs one guest many
//! times at once from threads.
//!
//! Unlike the `wasm-otel` binary, a host never ends its process: a guest
//! blocked inside a host call (a long sleep) past its timeout keeps its
//! thread until the call returns, though epoch checks stop guest code on
//! time.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::SystemTime;

use opentelemetry::trace::SpanContext;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cli::ExportConfig;
use crate::export::{ExportReport, Pipeline};
use crate::limits::{self, EpochTicker, Limits};
use crate::load::{self, Guest, LoadError, cache::Cache};
use crate::run::{Outcome, Queue, RunError, Session, SessionOptions, Spec};
use crate::sandbox::Policy;
use crate::telemetry::{Budget, TelemetryStats};

/// How a [`Host`] is built.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where every run's telemetry goes. [default: nowhere]
    pub export: ExportConfig,
    /// The `service.name` of every run's telemetry. [default: `wasm-otel`]
    pub service_name: String,
    /// Other resource attributes. [default: none]
    pub resource_attributes: Vec<(String, String)>,
    /// Compile fuel metering in, so that jobs may set `limits.fuel`.
    /// [default: false]
    pub fuel: bool,
    /// Compile epoch checks in and tick the epoch, so that jobs may set
    /// `limits.timeout`. [default: true]
    pub timeouts: bool,
    /// Preallocate slots for this many instances running at once (the
    /// pooling allocator): faster instantiation, memory reserved up
    /// front. A run past the pool's size fails to instantiate.
    /// [default: none, instances allocated on demand]
    pub pooling: Option<u32>,
    /// The largest linear memory a pool slot holds; a job's
    /// `limits.max_memory` above it is capped to it. [default: 512 MiB]
    pub max_memory: u64,
    /// Take compiled code from the compiled-code cache and keep it there.
    /// [default: true]
    pub cache: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            export: ExportConfig::None,
            service_name: "wasm-otel".to_owned(),
            resource_attributes: Vec::new(),
            fuel: false,
            timeouts: true,
            pooling: None,
            max_memory: limits::DEFAULT_MAX_MEMORY,
            cache: true,
        }
    }
}

/// An engine, an exporter pipeline and a cache, shared by every run.
pub struct Host {
    engine: Engine,
    pipeline: Arc<Pipeline>,
    cache: Option<Cache>,
    config: HostConfig,
    _ticker: Option<EpochTicker>,
}

/// A file compiled for a [`Host`], ready to run any number of times.
#[derive(Clone)]
pub struct Program {
    guest: Guest,
    name: String,
    sha256: String,
}

impl Program {
    /// The file's name: the guest's `argv[0]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the file's bytes, in lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// One run of a program: its arguments and its box.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// The guest's arguments, without `argv[0]`.
    pub args: Vec<String>,
    /// Its limits. [default: those of `wasm-otel run`]
    pub limits: Limits,
    /// What it may see. [default: no directory, no variable]
    pub sandbox: Policy,
    /// Caps on its telemetry. [default: those of `wasm-otel run`]
    pub budget: Budget,
    /// The caller's span: `wasm.run` becomes its child. [default: none,
    /// each run is the root of a trace]
    pub parent: Option<SpanContext>,
    /// Whether imports the host lacks become trapping functions.
    pub trap_unknown_imports: bool,
    /// Whether the guest's output lines also become log records.
    /// [default: false]
    pub output_logs: bool,
}

impl Job {
    /// A job with these arguments and the defaults.
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        Self {
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// How a run ended, with what it printed.
#[derive(Debug)]
pub struct Finished {
    /// How the guest ended.
    pub outcome: Outcome,
    /// Its stdout, up to `limits.max_output`.
    pub stdout: Vec<u8>,
    /// Its stderr, up to `limits.max_output`, less any OTLP JSON Lines a
    /// portable guest wrote there.
    pub stderr: Vec<u8>,
    /// What its telemetry amounted to.
    pub stats: TelemetryStats,
    /// The run's `wasm.run` span.
    pub span: SpanContext,
}

impl Host {
    /// Builds the engine, the pipeline and the cache `config` asks for.
    pub fn new(config: HostConfig) -> Result<Host, RunError> {
        if config.pooling == Some(0) {
            return Err(RunError::Unsupported(
                "a pool of 0 instances runs nothing (set HostConfig::pooling \
                 to at least 1, or to None)",
            ));
        }
        let mut engine_config = wasmtime::Config::new();
        let limits = Limits {
            fuel: config.fuel.then_some(u64::MAX),
            timeout: config.timeouts.then_some(std::time::Duration::MAX),
            ..Limits::default()
        };
        limits.configure(&mut engine_config);
        if let Some(slots) = config.pooling {
            engine_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(
                slots,
                config.max_memory,
            )));
        }
        let engine = Engine::new(&engine_config).map_err(RunError::Engine)?;

        let resource = crate::resource::attributes(
            &config.service_name,
            &config.resource_attributes,
            &crate::resource::Module {
                name: "",
                sha256: "",
            },
        );
        // Runs of many files share the resource: the file is named on each
        // `wasm.run` span instead.
        let resource = resource
            .into_iter()
            .filter(|kv| !kv.key.starts_with("wasm.module."))
            .collect();
        let pipeline = Pipeline::new(&config.export, resource).map_err(RunError::Export)?;
        let cache = config
            .cache
            .then(load::cache::root)
            .flatten()
            .map(|root| Cache::new(&root, &engine));
        let ticker = config.timeouts.then(|| EpochTicker::start(&engine));
        Ok(Host {
            engine,
            pipeline: Arc::new(pipeline),
            cache,
            config,
            _ticker: ticker,
        })
    }

    /// The host's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads and compiles the file at `path` (or takes it from the cache).
    pub fn load(&self, path: &Path) -> Result<Program, LoadError> {
        let loaded = load::load(&self.engine, path, self.cache.as_ref())?;
        Ok(Program {
            guest: loaded.guest,
            name: crate::run::module_name(path),
            sha256: loaded.sha256,
        })
    }

    /// Runs `program` as `job` describes, on a thread of its own, and
    /// sends its telemetry and its `wasm.run` span to the pipeline. Safe
    /// to call from many threads at once.
    pub fn run(&self, program: &Program, job: &Job) -> Result<Finished, RunError> {
        self.instantiate(program, job.clone())?.run()
    }

    /// Instantiates `program` for `job` on a thread of its own, where it
    /// waits for [`Instance::run`]: for callers that prepare instances
    /// ahead of requests. The job's timeout counts from the start.
    pub fn instantiate(&self, program: &Program, job: Job) -> Result<Instance, RunError> {
        if job.limits.fuel.is_some() && !self.config.fuel {
            return Err(RunError::Unsupported(
                "the job sets fuel but the host meters none (set HostConfig::fuel)",
            ));
        }
        if job.limits.timeout.is_some() && !self.config.timeouts {
            return Err(RunError::Unsupported(
                "the job sets a timeout but the host has no epoch checks \
                 (set HostConfig::timeouts)",
            ));
        }
        let limits = Limits {
            max_memory: job.limits.max_memory.min(self.config.max_memory),
            ..job.limits.clone()
        };
        let stack = limits.thread_stack();
        let (engine, pipeline) = (self.engine.clone(), self.pipeline.clone());
        let program = program.clone();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<()>(1);
        let (go_tx, go_rx) = mpsc::sync_channel::<()>(1);
        let wait = Mutex::new((ready_tx, go_rx));

        let thread = std::thread::Builder::new()
            .name("wasm-otel-guest".into())
            .stack_size(stack)
            .spawn(move || {
                let spec = Spec {
                    argv0: &program.name,
                    args: &job.args,
                    limits: &limits,
                    sandbox: &job.sandbox,
                    budget: &job.budget,
                    trap_unknown_imports: job.trap_unknown_imports,
                };
                let ready = || {
                    let wait = wait.lock().unwrap_or_else(PoisonError::into_inner);
                    // The caller may have dropped the instance: then it runs
                    // at once, and no one reads the result.
                    let _ = wait.0.send(());
                    let _ = wait.1.recv();
                };
                run_here(&engine, &pipeline, &program, &job, &spec, &ready)
            })
            .map_err(|err| RunError::Unsupported(thread_error(&err)))?;

        // Instantiated; or the thread ended without being ready, with the
        // host's refusal to run the guest.
        if ready_rx.recv().is_err() {
            let ended = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            return ended.map(|finished| Instance {
                state: State::Ended(Box::new(finished)),
            });
        }
        Ok(Instance {
            state: State::Waiting { go: go_tx, thread },
        })
    }

    /// Sends what the pipeline holds and stops it; later runs' telemetry
    /// is dropped and counted. Returns what was exported and lost.
    pub fn shutdown(&self) -> ExportReport {
        self.pipeline.shutdown()
    }
}

/// A program instantiated for a job, waiting on its thread to be run.
pub struct Instance {
    state: State,
}

enum State {
    Waiting {
        go: mpsc::SyncSender<()>,
        thread: std::thread::JoinHandle<Result<Finished, RunError>>,
    },
    /// Ended without waiting (which a guest cannot make happen).
    Ended(Box<Finished>),
}

impl Instance {
    /// Starts the guest and waits for it to end.
    pub fn run(self) -> Result<Finished, RunError> {
        match self.state {
            State::Waiting { go, thread } => {
                let _ = go.send(());
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            State::Ended(finished) => Ok(*finished),
        }
    }
}

/// One run on this thread: the session, the guest, and its span and
/// metrics sent to `pipeline`.
fn run_here(
    engine: &Engine,
    pipeline: &Arc<Pipeline>,
    program: &Program,
    job: &Job,
    spec: &Spec<'_>,
    ready: &dyn Fn(),
) -> Result<Finished, RunError> {
    let started = SystemTime::now();
    let mut session = Session::open(
        pipeline,
        engine,
        &program.guest,
        spec,
        SessionOptions {
            parent: job.parent.as_ref(),
            started,
            keep_output: true,
            output_logs: job.output_logs,
            telemetry_file: None,
        },
    );
    let (facts, outcome) = session
        .execute_here(engine, &program.guest, spec, ready)
        .map_err(|failure| failure.into_run_error(Path::new(&program.name)))?;

    session.report(pipeline, &outcome, &facts, Queue::Normal);
    Ok(Finished {
        outcome,
        stdout: session.stdio.stdout.take_kept(),
        stderr: session.stdio.stderr.take_kept(),
        stats: facts.stats,
        span: session.run_span.context.clone(),
    })
}

/// Why a guest's thread could not start, for [`RunError::Unsupported`].
fn thread_error(err: &std::io::Error) -> &'static str {
    match err.kind() {
        std::io::ErrorKind::OutOfMemory => "the OS has no memory for another guest thread",
        _ => "the OS refused to start another guest thread",
    }
}

/// A pool of `slots` instances, each with memories of up to `max_memory`
/// bytes. A componentized module uses a few core instances (the guest,
/// the preview-1 adapter, shims), hence the margins.
fn pool(slots: u32, max_memory: u64) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(8))
        .total_memories(slots.saturating_mul(2))
        .total_tables(slots.saturating_mul(4))
        .total_stacks(slots)
        .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
        .table_elements(100_000)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_core_instances_per_component(16);
    pool
}
