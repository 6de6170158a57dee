//! Flags and environment variables, turned into a [`RunConfig`].
//!
//! Nothing here touches the guest or the network: it only decides what a
//! run will do, so every rule about precedence can be tested in isolation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use opentelemetry::trace::SpanContext;

use crate::context;
use crate::export::{Batching, Endpoints};

mod otlp;

use crate::limits::Limits;
use crate::resource;
use crate::sandbox::{Policy, Preopen};
use crate::telemetry::Budget;
pub use otlp::OtlpArgs;

/// `wasm-otel`: run WebAssembly guests in a sandbox and send what they
/// report through `wasi:otel` to an OpenTelemetry backend.
#[derive(Debug, Parser)]
#[command(name = "wasm-otel", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a `.wasm` file: a wasip1 module, with or without `wasi:otel`
    /// imports, or a WASI preview-2 component.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(Box<RunArgs>),
    /// Tell what a `.wasm` file is and what running it would need, without
    /// running it.
    ///
    /// Its kind, WASI version and telemetry; its imports and exports;
    /// whether the host provides every import; the capabilities it would
    /// use, with the flags that grant them; directories its data mentions.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Compile a `.wasm` file ahead of time into a `.cwasm` file that
    /// `wasm-otel run` starts without compiling. Run only `.cwasm` files
    /// you compiled with this wasm-otel: their code is not checked again.
    Compile(CompileArgs),
    /// Manage the compiled-code cache.
    #[command(subcommand)]
    Cache(CacheCommand),
}

/// Flags of `wasm-otel compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The `.wasm` file to compile.
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// Where to write the compiled code.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Compile fuel metering in, for runs with --fuel.
    #[arg(long)]
    pub with_fuel: bool,

    /// Compile epoch checks in, for runs with --timeout.
    #[arg(long)]
    pub with_timeout: bool,
}

impl CompileArgs {
    /// The limits whose presence decides what is compiled in; their
    /// values are the run's to choose.
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.with_fuel.then_some(u64::MAX),
            timeout: self.with_timeout.then_some(Duration::MAX),
            ..Limits::default()
        }
    }
}

/// `wasm-otel cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache's directory (`WASM_OTEL_CACHE_DIR`, else
    /// `wasm-otel` in the user's cache directory).
    Dir,
    /// Delete every entry of the cache.
    Clean,
}

/// Flags of `wasm-otel inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Print the report as one JSON object, for scripts (fields below).
    /// [default: aligned text for people]
    #[arg(long)]
    pub json: bool,

    /// The `.wasm` file to inspect.
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,
}

const INSPECT_HELP: &str = "\
Fields of --json:
  file                       the path given
  kind                       `module` or `component`
  wasi                       `preview1`, `preview2` or `none`
  componentized              true when the host makes the module a component
                             with the preview-1 adapter (it imports WIT)
  telemetry                  `native` (imports wasi:otel), `portable` (carries
                             the `wasm-otel-portable` section) or `none`
  guest_sdk                  that section's text, `wasm-otel-guest <version>`,
                             or null
  imports                    [{name, items}]: a core module's import modules
                             with their functions, or a component's imports
                             with the functions of each
  exports                    export names
  entry                      `_start`, `wasi:cli/run@0.2.x` or null
  runnable                   every import provided and an entry present
  unknown_imports            [{name, reason}]: imports the host lacks
  needs                      [{capability, grant, imports}]: capability is
                             `files`, `environment`, `network`, `clocks` or
                             `random`; grant is the flag that gives it
  mentioned_paths            directories of absolute paths in its data, at
                             most 12 (a guess)
  mentioned_paths_truncated  true when more were found

Exit codes:
  0    the file was inspected, whether or not it could run
  125  usage error
  126  the file is not valid wasm
  127  the file does not exist";

const EXIT_CODES_HELP: &str = "\
Exit codes:
  N    the guest exited with code N
  124  the guest ran past --timeout
  125  usage or configuration error
  126  the file is not valid wasm or cannot be instantiated
  127  the file does not exist
  134  the guest trapped (stack overflow, unreachable, ...)
  137  the guest failed after reaching --max-memory
  152  the guest used up its --fuel";

/// Where the run's telemetry goes, as `--exporter` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP over HTTP, to the configured endpoint.
    Otlp,
    /// A readable span tree on stderr after the run.
    Console,
    /// Nowhere.
    None,
    /// OTLP JSON Lines appended to a file.
    File(PathBuf),
}

fn parse_exporter(text: &str) -> Result<ExporterKind, String> {
    match text {
        "otlp" => Ok(ExporterKind::Otlp),
        "console" => Ok(ExporterKind::Console),
        "none" => Ok(ExporterKind::None),
        _ => match text.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(ExporterKind::File(PathBuf::from(path))),
            _ => Err(format!(
                "`{text}` is not an exporter (use `otlp`, `console`, `none` or `file:PATH`)"
            )),
        },
    }
}

/// Flags of `wasm-otel run`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "wasm-otel run [OPTIONS] <WASM> [ARGS]...")]
pub struct RunArgs {
    #[command(flatten)]
    pub otlp: OtlpArgs,

    /// The `service.name` of the telemetry. Overrides `OTEL_SERVICE_NAME`,
    /// which overrides `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
    /// [default: the module's file stem]
    #[arg(long, value_name = "NAME")]
    pub service_name: Option<String>,

    /// Where telemetry goes: `otlp`, `console` (a tree on stderr), `none`,
    /// or `file:PATH` (OTLP JSON Lines appended to PATH). `none` is the
    /// default when `OTEL_SDK_DISABLED=true`. [default: `otlp` when an
    /// endpoint is set by flag or environment, else `console`]
    #[arg(long, value_name = "KIND", value_parser = parse_exporter)]
    pub exporter: Option<ExporterKind>,

    /// The W3C trace context of the caller, `00-<trace id>-<span id>-<flags>`:
    /// the run's `wasm.run` span becomes its child. Overrides the
    /// `TRACEPARENT` environment variable (with `TRACESTATE`). An invalid
    /// value is warned about and a new trace is started. [default: none]
    #[arg(long, value_name = "TRACEPARENT")]
    pub traceparent: Option<String>,

    /// Do not turn the guest's stdout and stderr lines into log records.
    /// [default: lines become log records when exporting over OTLP]
    #[arg(long)]
    pub no_output_logs: bool,

    /// Also read OTLP JSON Lines that a portable guest appends to PATH
    /// during the run (a file in a directory granted with --dir-rw, which
    /// the guest is told of with `--env WASM_OTEL_FILE=...`), and forward
    /// them like its stderr's. Lines on stderr are always picked up from
    /// guests without `wasi:otel`. [default: none]
    #[arg(long, value_name = "PATH")]
    pub telemetry_file: Option<PathBuf>,

    #[command(flatten)]
    pub budget: BudgetArgs,

    /// Instruction budget. When unset, no fuel metering is compiled in.
    /// [default: unlimited]
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_fuel,
        allow_hyphen_values = true
    )]
    pub fuel: Option<u64>,

    /// Wall-clock deadline, such as `500ms`, `5s` or `2m`.
    /// [default: none]
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        allow_hyphen_values = true
    )]
    pub timeout: Option<Duration>,

    /// Cap on each linear memory of the guest, such as `64MiB` or `1GiB`.
    /// Growth past it fails inside the guest. [default: 512MiB]
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_size,
        allow_hyphen_values = true
    )]
    pub max_memory: Option<u64>,

    /// The guest's stack, from 1 byte to 256MiB. [default: 512KiB]
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_stack,
        allow_hyphen_values = true
    )]
    pub max_stack: Option<u64>,

    /// Cap on each of the guest's stdout and stderr; past it output is
    /// discarded and counted. [default: 64MiB]
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_size,
        allow_hyphen_values = true
    )]
    pub max_output: Option<u64>,

    /// Grant a host directory read-only, seen by the guest at GUEST (by
    /// default at HOST as given). Repeatable. [default: no directory]
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,

    /// Grant a host directory read-write. Repeatable.
    #[arg(long = "dir-rw", value_name = "HOST[::GUEST]")]
    pub dirs_rw: Vec<String>,

    /// Pass one environment variable, its value taken from the host's
    /// environment when `=VALUE` is left out. Repeatable.
    /// [default: no variable]
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// Define every import the host does not provide as a function that
    /// traps when called, instead of refusing to run the guest.
    #[arg(long)]
    pub trap_unknown_imports: bool,

    /// Compile the file even when the compiled-code cache has it, and do
    /// not keep the result there. [default: the cache is used; see
    /// `wasm-otel cache dir`]
    #[arg(long)]
    pub no_cache: bool,

    /// The `.wasm` file to run, then the guest's arguments. Everything
    /// after the file is the guest's, flags included; the guest's
    /// `argv[0]` is the file's name.
    #[arg(
        value_name = "WASM",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<String>,
}

/// Caps on the guest's telemetry, each with its default.
#[derive(Debug, clap::Args)]
#[command(
    next_help_heading = "Guest telemetry budgets (past a cap, data is cut or dropped and counted)"
)]
pub struct BudgetArgs {
    /// Spans exported per run. [default: 100000]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_spans: Option<u64>,
    /// Spans started and not yet ended that the host tracks; spans still
    /// open at the end are exported as `unended span`. [default: 10000]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_open_spans: Option<usize>,
    /// Attributes on one span, event, link, log record or data point, and
    /// exemplars on one data point. [default: 128]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_attributes: Option<usize>,
    /// Events on one span. [default: 128]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_events: Option<usize>,
    /// Links on one span. [default: 128]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_links: Option<usize>,
    /// Size of one attribute value, log body or status message.
    /// [default: 16KiB]
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_budget_size,
        allow_hyphen_values = true
    )]
    pub max_value_size: Option<u64>,
    /// Size of one name or key (spans, events, attributes, metrics,
    /// scopes). [default: 1KiB]
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_budget_size,
        allow_hyphen_values = true
    )]
    pub max_name_size: Option<u64>,
    /// Entries in one trace state. [default: 32]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_trace_state: Option<usize>,
    /// Log records per run, from the guest and, separately, from its
    /// output lines. [default: 100000]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_logs: Option<u64>,
    /// Metric exports per run; past it an export returns an error to the
    /// guest. [default: 10000]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_metric_exports: Option<u64>,
    /// Data points in one metric export, and buckets in one exponential
    /// histogram point. [default: 10000]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_data_points: Option<usize>,
}

impl BudgetArgs {
    /// The budget, defaults filled in.
    pub fn into_budget(self) -> Budget {
        let default = Budget::default();
        let size = |given: Option<u64>, default: usize| {
            given.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
        };
        Budget {
            spans: self.max_spans.unwrap_or(default.spans),
            open_spans: self.max_open_spans.unwrap_or(default.open_spans),
            attributes: self.max_attributes.unwrap_or(default.attributes),
            events: self.max_events.unwrap_or(default.events),
            links: self.max_links.unwrap_or(default.links),
            value_bytes: size(self.max_value_size, default.value_bytes),
            name_bytes: size(self.max_name_size, default.name_bytes),
            trace_state: self.max_trace_state.unwrap_or(default.trace_state),
            logs: self.max_logs.unwrap_or(default.logs),
            metric_exports: self.max_metric_exports.unwrap_or(default.metric_exports),
            data_points: self.max_data_points.unwrap_or(default.data_points),
        }
    }
}

/// Everything one run needs to know, resolved from flags and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// The file to run.
    pub wasm: PathBuf,
    /// The guest's arguments, without `argv[0]`.
    pub args: Vec<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Where spans go.
    pub export: ExportConfig,
    /// The guest's box.
    pub limits: Limits,
    /// What the guest may see beyond its arguments and streams.
    pub sandbox: Policy,
    /// Whether imports the host lacks become trapping functions.
    pub trap_unknown_imports: bool,
    /// Whether compiled code is taken from and kept in the cache.
    pub cache: bool,
    /// The caller's span, parent of `wasm.run`, when one was given.
    pub parent: Option<SpanContext>,
    /// Resource attributes from `OTEL_RESOURCE_ATTRIBUTES`, without
    /// `service.name`, which is in `service_name`.
    pub resource_attributes: Vec<(String, String)>,
    /// Whether the guest's output lines become log records.
    pub output_logs: bool,
    /// A file a portable guest writes OTLP JSON Lines to.
    pub telemetry_file: Option<PathBuf>,
    /// Caps on what the guest's telemetry may amount to.
    pub budget: Budget,
    /// Settings that were ignored, to be told to the user.
    pub warnings: Vec<String>,
}

/// The resolved destination of the run's telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportConfig {
    /// OTLP/HTTP, posted to these targets.
    Otlp {
        /// Where and how each signal is sent.
        endpoints: Endpoints,
        /// How items are batched and how long an export may take.
        batching: Batching,
    },
    /// OTLP JSON Lines, appended to a file.
    File {
        /// The file.
        path: PathBuf,
        /// How items are batched.
        batching: Batching,
    },
    /// A span tree on stderr.
    Console,
    /// Nowhere.
    None,
}

/// A flag or variable whose value cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `--exporter otlp` was asked for without any endpoint.
    #[error(
        "`--exporter otlp` needs an endpoint (set --otlp-endpoint or \
         OTEL_EXPORTER_OTLP_ENDPOINT)"
    )]
    OtlpWithoutEndpoint,
    /// A `--dir` or `--dir-rw` value that cannot be granted.
    #[error("`{flag} {value}`: {reason}")]
    BadDir {
        /// `--dir` or `--dir-rw`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A `--telemetry-file` that is there but is not a file.
    #[error(
        "`--telemetry-file {}` is not a regular file (give the file the guest \
         appends OTLP JSON Lines to, or a path where it will create one)",
        .0.display()
    )]
    TelemetryFileNotAFile(PathBuf),
    /// A `--env` value that cannot be passed.
    #[error("`--env {value}`: {reason}")]
    BadEnv {
        /// The value given.
        value: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A setting whose value is not one this host supports.
    #[error("{name} is `{value}`, which is not supported (use {supported})")]
    Unsupported {
        /// Which flag or variable held it.
        name: String,
        /// The value given.
        value: String,
        /// What is supported.
        supported: &'static str,
    },
    /// An endpoint is not an `http://` or `https://` URL.
    #[error("{name} is `{value}`, not a valid http:// URL (check its scheme, host and port)")]
    BadEndpoint {
        /// Which flag or variable held it.
        name: String,
        /// The value given.
        value: String,
    },
}

impl RunArgs {
    /// Resolves flags against the environment, read through `env`.
    pub fn into_config(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RunConfig, ConfigError> {
        let mut warnings = Vec::new();
        let endpoints = otlp::endpoints(&self.otlp, env)?;
        let batching = otlp::batching(env, &mut warnings);
        let disabled =
            env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let export = match (self.exporter, endpoints) {
            (Some(ExporterKind::Otlp), Some(endpoints)) => ExportConfig::Otlp {
                endpoints,
                batching,
            },
            (Some(ExporterKind::Otlp), None) => return Err(ConfigError::OtlpWithoutEndpoint),
            (Some(ExporterKind::File(path)), _) => ExportConfig::File { path, batching },
            (Some(ExporterKind::Console), _) => ExportConfig::Console,
            (Some(ExporterKind::None), _) => ExportConfig::None,
            (None, _) if disabled => ExportConfig::None,
            (None, Some(endpoints)) => ExportConfig::Otlp {
                endpoints,
                batching,
            },
            (None, None) => ExportConfig::Console,
        };

        // Resource: the flag, then `OTEL_SERVICE_NAME`, then `service.name`
        // in `OTEL_RESOURCE_ATTRIBUTES`, then the file's stem.
        let mut resource_attributes = match env("OTEL_RESOURCE_ATTRIBUTES") {
            Some(text) => resource::parse_attributes(&text).unwrap_or_else(|warning| {
                warnings.push(warning);
                Vec::new()
            }),
            None => Vec::new(),
        };
        let from_attributes = resource_attributes
            .iter()
            .position(|(key, _)| key == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = self
            .service_name
            .filter(|s| !s.is_empty())
            .or_else(|| env("OTEL_SERVICE_NAME").filter(|s| !s.is_empty()))
            .or(from_attributes.filter(|s| !s.is_empty()))
            .unwrap_or_else(|| module_stem(Path::new(&self.command[0])));

        // The caller's trace context: the flag, else the environment.
        let (parent, source) = match self.traceparent {
            Some(value) => (Some(value), "--traceparent"),
            None => (env("TRACEPARENT"), "TRACEPARENT"),
        };
        let parent = parent.and_then(|value| {
            context::parse_traceparent(&value, env("TRACESTATE").as_deref())
                .map_err(|reason| {
                    warnings.push(format!(
                        "ignoring {source} `{}`: {reason}; the run starts a new trace",
                        clip(&value)
                    ));
                })
                .ok()
        });
        let output_logs = !self.no_output_logs
            && matches!(
                export,
                ExportConfig::Otlp { .. } | ExportConfig::File { .. }
            );

        let defaults = Limits::default();
        let limits = Limits {
            fuel: self.fuel,
            timeout: self.timeout,
            max_memory: self.max_memory.unwrap_or(defaults.max_memory),
            max_stack: self.max_stack.unwrap_or(defaults.max_stack),
            max_output: self.max_output.unwrap_or(defaults.max_output),
        };

        let mut dirs = Vec::new();
        for (flag, values, writable) in [
            ("--dir", &self.dirs, false),
            ("--dir-rw", &self.dirs_rw, true),
        ] {
            for value in values {
                dirs.push(preopen(flag, value, writable)?);
            }
        }
        check_grants(&dirs)?;
        let mut vars: Vec<(String, String)> = Vec::new();
        for value in &self.env {
            let (name, value) = env_var(value, env)?;
            // A later `--env` for the same name replaces the earlier one.
            vars.retain(|(seen, _)| *seen != name);
            vars.push((name, value));
        }
        let env = vars;

        Ok(RunConfig {
            wasm: PathBuf::from(&self.command[0]),
            args: self.command[1..].to_vec(),
            service_name,
            export,
            limits,
            sandbox: Policy { dirs, env },
            trap_unknown_imports: self.trap_unknown_imports,
            cache: !self.no_cache,
            parent,
            resource_attributes,
            output_logs,
            telemetry_file: match self.telemetry_file {
                // A FIFO or a device would block or never end the read.
                Some(path) if path.exists() && !path.is_file() => {
                    return Err(ConfigError::TelemetryFileNotAFile(path));
                }
                other => other,
            },
            budget: self.budget.into_budget(),
            warnings,
        })
    }
}

/// Reads `HOST[::GUEST]`; the host side must be an existing directory.
fn preopen(flag: &'static str, value: &str, writable: bool) -> Result<Preopen, ConfigError> {
    let bad = |reason: &str| ConfigError::BadDir {
        flag,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let (host, guest) = value.split_once("::").unwrap_or((value, value));
    if host.is_empty() || guest.is_empty() {
        return Err(bad(
            "give a directory, and after `::` the path the guest sees",
        ));
    }
    if !Path::new(host).is_dir() {
        return Err(bad(&format!(
            "`{host}` is not a directory (give an existing one)"
        )));
    }
    Ok(Preopen {
        host: PathBuf::from(host),
        guest: guest.to_owned(),
        writable,
    })
}

/// Refuses grants the guest could use against each other: two at the same
/// guest path, and a read-only directory inside a read-write one, which
/// the guest could change through the outer grant.
fn check_grants(dirs: &[Preopen]) -> Result<(), ConfigError> {
    let flag = |dir: &Preopen| if dir.writable { "--dir-rw" } else { "--dir" };
    let shown = |dir: &Preopen| format!("{}::{}", dir.host.display(), dir.guest);
    for (i, dir) in dirs.iter().enumerate() {
        if dirs[..i].iter().any(|earlier| earlier.guest == dir.guest) {
            return Err(ConfigError::BadDir {
                flag: flag(dir),
                value: shown(dir),
                reason: format!(
                    "the guest path `{}` is already granted (give each grant its own)",
                    dir.guest
                ),
            });
        }
    }
    for dir in dirs.iter().filter(|d| !d.writable) {
        let Ok(inner) = dir.host.canonicalize() else {
            continue;
        };
        for outer in dirs.iter().filter(|d| d.writable) {
            if outer
                .host
                .canonicalize()
                .is_ok_and(|outer| inner.starts_with(outer))
            {
                return Err(ConfigError::BadDir {
                    flag: "--dir",
                    value: shown(dir),
                    reason: format!(
                        "it lies inside the read-write grant `{}`, through which the guest \
                         could change it (grant it read-write, or grant a directory outside)",
                        outer.host.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Reads `NAME[=VALUE]`, taking the value from the host when absent.
fn env_var(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String), ConfigError> {
    let bad = |reason: String| ConfigError::BadEnv {
        value: value.to_owned(),
        reason,
    };
    let (name, given) = match value.split_once('=') {
        Some((name, given)) => (name, Some(given.to_owned())),
        None => (value, None),
    };
    if name.is_empty() {
        return Err(bad(
            "give a variable name, as in `--env NAME=VALUE`".to_owned()
        ));
    }
    let value = match given.or_else(|| env(name)) {
        Some(value) => value,
        None => {
            return Err(bad(format!(
                "`{name}` is not set on the host (give a value with `--env {name}=VALUE`)"
            )));
        }
    };
    Ok((name.to_owned(), value))
}

/// Reads an instruction budget: a whole number, `_` allowed between
/// digits (`1_000_000`).
fn parse_fuel(text: &str) -> Result<u64, String> {
    text.replace('_', "").parse().map_err(|_| {
        format!(
            "`{text}` is not a whole number of instructions from 0 to {} \
             (write it as `1000000000`)",
            u64::MAX
        )
    })
}

/// The longest `--timeout`: a year, past which a deadline means nothing.
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Reads a duration such as `500ms`, `5s`, `2m` or `1h 30m`, up to a year.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|_| format!("`{text}` is not a duration (write it as `500ms`, `5s` or `2m`)"))?;
    if duration > MAX_TIMEOUT {
        return Err(format!(
            "`{text}` is longer than a year (leave --timeout out for no deadline)"
        ));
    }
    Ok(duration)
}

/// The smallest name or value budget: room for a name that says something.
const MIN_BUDGET_SIZE: u64 = 16;

/// Reads a name or value budget, at least [`MIN_BUDGET_SIZE`] bytes.
fn parse_budget_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        size if size < MIN_BUDGET_SIZE => Err(format!(
            "`{text}` leaves no room for a name or value (give at least `16` bytes)"
        )),
        size => Ok(size),
    }
}

/// The largest `--max-stack`.
const MAX_STACK: u64 = 256 << 20;

/// Reads a stack size: more than nothing, at most [`MAX_STACK`].
fn parse_stack(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err(format!(
            "`{text}` leaves the guest no stack (give at least `64KiB`)"
        )),
        size if size > MAX_STACK => {
            Err(format!("`{text}` is more than the largest stack, `256MiB`"))
        }
        size => Ok(size),
    }
}

/// Reads a size such as `65536`, `64KiB`, `64MiB` or `1GiB` (also `MB`,
/// `GB`: powers of ten).
fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| format!("`{text}` is not a size (write it as `64MiB` or `1GiB`)"))
}

/// A value as a message shows it: on one line, at most 80 characters.
fn clip(value: &str) -> String {
    let shown: String = value
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if value.chars().count() > 80 {
        format!("{shown}…")
    } else {
        shown
    }
}

/// The file name without its extension, for a default `service.name`.
fn module_stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .filter(|stem| !stem.is_empty())
        .unwrap_or_else(|| "wasm-otel-guest".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(flags: &[&str], vars: &[(&str, &str)]) -> Result<RunConfig, ConfigError> {
        let argv = ["wasm-otel", "run"]
            .iter()
            .chain(flags)
            .chain(&["dir/app.wasm"]);
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("`run` parses as `run`");
        };
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        args.into_config(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn endpoint(config: RunConfig) -> String {
        match config.export {
            ExportConfig::Otlp { endpoints, .. } => endpoints.traces.expect("a traces target").url,
            other => panic!("expected otlp, got {other:?}"),
        }
    }

    #[test]
    fn no_endpoint_means_console() {
        assert_eq!(config(&[], &[]).unwrap().export, ExportConfig::Console);
    }

    #[test]
    fn base_endpoint_gets_signal_path() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/")];
        assert_eq!(
            endpoint(config(&[], &vars).unwrap()),
            "http://h:4318/v1/traces"
        );
    }

    #[test]
    fn traces_endpoint_is_used_as_given() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom"),
        ];
        assert_eq!(endpoint(config(&[], &vars).unwrap()), "http://t:1/custom");
    }

    #[test]
    fn flag_beats_environment() {
        let vars = [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom")];
        let flags = ["--otlp-endpoint", "http://flag:4318"];
        assert_eq!(
            endpoint(config(&flags, &vars).unwrap()),
            "http://flag:4318/v1/traces"
        );
    }

    #[test]
    fn explicit_exporter_wins_over_endpoint() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318")];
        let got = config(&["--exporter", "console"], &vars).unwrap();
        assert_eq!(got.export, ExportConfig::Console);
        let got = config(&["--exporter", "none"], &vars).unwrap();
        assert_eq!(got.export, ExportConfig::None);
    }

    #[test]
    fn otlp_without_endpoint_is_an_error() {
        let err = config(&["--exporter", "otlp"], &[]).unwrap_err();
        assert_eq!(err, ConfigError::OtlpWithoutEndpoint);
    }

    #[test]
    fn endpoint_must_be_http() {
        let err = config(&["--otlp-endpoint", "localhost:4318"], &[]).unwrap_err();
        assert!(err.to_string().contains("`localhost:4318`"), "{err}");
    }

    #[test]
    fn service_name_precedence() {
        assert_eq!(config(&[], &[]).unwrap().service_name, "app");
        let vars = [("OTEL_SERVICE_NAME", "from-env")];
        assert_eq!(config(&[], &vars).unwrap().service_name, "from-env");
        let flags = ["--service-name", "from-flag"];
        assert_eq!(config(&flags, &vars).unwrap().service_name, "from-flag");
    }

    #[test]
    fn limits_have_defaults_and_read_units() {
        let defaults = config(&[], &[]).unwrap().limits;
        assert_eq!(defaults, Limits::default());
        assert_eq!(defaults.max_memory, 512 << 20);

        let flags = [
            "--fuel",
            "1000",
            "--timeout",
            "1500ms",
            "--max-memory",
            "64MiB",
            "--max-stack",
            "1MiB",
            "--max-output",
            "4KiB",
        ];
        let limits = config(&flags, &[]).unwrap().limits;
        assert_eq!(limits.fuel, Some(1000));
        assert_eq!(limits.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(limits.max_memory, 64 << 20);
        assert_eq!(limits.max_stack, 1 << 20);
        assert_eq!(limits.max_output, 4096);
    }

    #[test]
    fn bad_sizes_and_durations_name_the_value() {
        let argv = ["wasm-otel", "run", "--max-memory", "lots", "a.wasm"];
        let err = Cli::try_parse_from(argv).unwrap_err().to_string();
        assert!(err.contains("`lots` is not a size"), "{err}");
        let argv = ["wasm-otel", "run", "--timeout", "soon", "a.wasm"];
        let err = Cli::try_parse_from(argv).unwrap_err().to_string();
        assert!(err.contains("`soon` is not a duration"), "{err}");
        let argv = ["wasm-otel", "run", "--fuel", "-1", "a.wasm"];
        let err = Cli::try_parse_from(argv).unwrap_err().to_string();
        assert!(err.contains("`-1` is not a whole number"), "{err}");
    }

    #[test]
    fn dirs_map_host_to_guest_paths() {
        let base = std::env::temp_dir().join("wasm-otel-cli-dirs");
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let ro = format!("{}::/data", a.display());
        let rw = b.to_str().unwrap();
        let got = config(&["--dir", &ro, "--dir-rw", rw], &[])
            .unwrap()
            .sandbox;
        assert_eq!(got.dirs.len(), 2);
        assert_eq!(got.dirs[0].guest, "/data");
        assert!(!got.dirs[0].writable);
        assert_eq!(got.dirs[1].guest, rw);
        assert!(got.dirs[1].writable);

        let err = config(&["--dir", "/no/such/dir"], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`/no/such/dir` is not a directory"),
            "{err}"
        );
    }

    #[test]
    fn env_values_come_from_the_flag_or_the_host() {
        let vars = [("HOME", "/home/me")];
        let got = config(&["--env", "A=1", "--env", "HOME", "--env", "E="], &vars).unwrap();
        let expected = [("A", "1"), ("HOME", "/home/me"), ("E", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got.sandbox.env, expected);

        let err = config(&["--env", "MISSING"], &[]).unwrap_err();
        assert!(err.to_string().contains("`--env MISSING=VALUE`"), "{err}");
    }

    #[test]
    fn everything_after_the_file_is_the_guests() {
        let argv = [
            "wasm-otel",
            "run",
            "--fuel",
            "5",
            "app.wasm",
            "--flag",
            "-x",
            "--help",
            "--dir-rw",
            "/::/host",
            "--",
            "plain",
        ];
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("`run` parses as `run`");
        };
        let config = args.into_config(&|_| None).unwrap();
        assert_eq!(config.wasm, PathBuf::from("app.wasm"));
        assert_eq!(
            config.args,
            [
                "--flag", "-x", "--help", "--dir-rw", "/::/host", "--", "plain"
            ]
        );
        assert_eq!(config.limits.fuel, Some(5));
        assert!(config.sandbox.dirs.is_empty());
    }

    #[test]
    fn grants_that_undo_each_other_are_refused() {
        let tmp = std::env::temp_dir();
        let outer = tmp.to_str().unwrap();
        let same = [
            "--dir",
            &format!("{outer}::/d"),
            "--dir-rw",
            &format!("{outer}::/d"),
        ];
        let err = config(&same, &[]).unwrap_err().to_string();
        assert!(
            err.contains("the guest path `/d` is already granted"),
            "{err}"
        );

        let inner = tmp.join("wasm-otel-cli-nested");
        std::fs::create_dir_all(&inner).unwrap();
        let nested = [
            "--dir-rw",
            &format!("{outer}::/w"),
            "--dir",
            &format!("{}::/r", inner.display()),
        ];
        let err = config(&nested, &[]).unwrap_err().to_string();
        assert!(err.contains("inside the read-write grant"), "{err}");
        std::fs::remove_dir(&inner).unwrap();
    }

    #[test]
    fn a_later_env_flag_replaces_an_earlier_one() {
        let got = config(&["--env", "A=1", "--env", "B=2", "--env", "A=3"], &[]).unwrap();
        let expected = [("B", "2"), ("A", "3")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got.sandbox.env, expected);
    }

    #[test]
    fn endpoints_are_urls_and_keep_their_prefix_and_query() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTP://h:4318/prefix/?k=v")];
        assert_eq!(
            endpoint(config(&[], &vars).unwrap()),
            "http://h:4318/prefix/v1/traces?k=v"
        );
        for bad in ["http://", "http://h:99999", "ftp://h", "h:4318"] {
            let err = config(&["--otlp-endpoint", bad], &[]).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn stacks_and_timeouts_have_bounds() {
        for (flag, value, says) in [
            ("--max-stack", "0", "leaves the guest no stack"),
            ("--max-stack", "1GiB", "more than the largest stack"),
            ("--timeout", "-1s", "`-1s` is not a duration"),
            ("--timeout", "18446744073709551615s", "longer than a year"),
            (
                "--fuel",
                "99999999999999999999",
                "from 0 to 18446744073709551615",
            ),
        ] {
            let argv = ["wasm-otel", "run", flag, value, "a.wasm"];
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(err.contains(says), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn a_file_is_required() {
        let argv = ["wasm-otel", "run", "--fuel", "5"];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
