//! Flags and environment variables, turned into a [`RunConfig`].
//!
//! Nothing here touches the guest or the network: it only decides what a
//! run will do, so every rule about precedence can be tested in isolation.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    Run(RunArgs),
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  N    the guest exited with code N
  125  usage or configuration error
  126  the file is not valid wasm or cannot be instantiated
  127  the file does not exist
  134  the guest trapped";

/// Where the run's spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExporterKind {
    /// OTLP over HTTP, to the configured endpoint.
    Otlp,
    /// A readable span tree on stderr after the run.
    Console,
    /// Nowhere.
    None,
}

/// Flags of `wasm-otel run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Base URL of an OTLP/HTTP receiver, such as `http://localhost:4318`;
    /// `/v1/traces` is appended. Overrides `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// and `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. [default: none]
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// The `service.name` of the telemetry. Overrides `OTEL_SERVICE_NAME`.
    /// [default: the module's file stem]
    #[arg(long, value_name = "NAME")]
    pub service_name: Option<String>,

    /// Where spans go. [default: `otlp` when an endpoint is set by flag or
    /// environment, else `console`]
    #[arg(long, value_enum, value_name = "KIND")]
    pub exporter: Option<ExporterKind>,

    /// The `.wasm` file to run.
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// Arguments for the guest; its `argv[0]` is the file's name.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
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
}

/// The resolved destination of the run's spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportConfig {
    /// OTLP/HTTP protobuf, posted to this full URL (signal path included).
    Otlp {
        /// The URL spans are posted to.
        traces_endpoint: String,
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
    /// An endpoint is not an `http://` or `https://` URL.
    #[error("{name} is `{value}`, not an http:// or https:// URL")]
    BadEndpoint {
        /// Which flag or variable held it.
        name: &'static str,
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
        let endpoint = traces_endpoint(self.otlp_endpoint.as_deref(), env)?;
        let export = match (self.exporter, endpoint) {
            (Some(ExporterKind::Otlp) | None, Some(url)) => ExportConfig::Otlp {
                traces_endpoint: url,
            },
            (Some(ExporterKind::Otlp), None) => return Err(ConfigError::OtlpWithoutEndpoint),
            (Some(ExporterKind::Console) | None, _) => ExportConfig::Console,
            (Some(ExporterKind::None), _) => ExportConfig::None,
        };

        let service_name = self
            .service_name
            .or_else(|| env("OTEL_SERVICE_NAME").filter(|s| !s.is_empty()))
            .unwrap_or_else(|| module_stem(&self.wasm));

        Ok(RunConfig {
            wasm: self.wasm,
            args: self.args,
            service_name,
            export,
        })
    }
}

/// The URL spans are posted to: the flag's base URL, else the traces
/// variable as given, else the general variable's base URL.
fn traces_endpoint(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let nonempty = |name| env(name).filter(|v: &String| !v.trim().is_empty());

    let (name, value, is_base) = if let Some(flag) = flag {
        ("--otlp-endpoint", flag.to_owned(), true)
    } else if let Some(url) = nonempty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, false)
    } else if let Some(url) = nonempty("OTEL_EXPORTER_OTLP_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url, true)
    } else {
        return Ok(None);
    };

    let value = value.trim().to_owned();
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err(ConfigError::BadEndpoint { name, value });
    }
    if !is_base {
        return Ok(Some(value));
    }
    Ok(Some(format!("{}/v1/traces", value.trim_end_matches('/'))))
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
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command;
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        args.into_config(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn endpoint(config: RunConfig) -> String {
        match config.export {
            ExportConfig::Otlp { traces_endpoint } => traces_endpoint,
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
    fn guest_arguments_keep_their_hyphens() {
        let argv = ["wasm-otel", "run", "app.wasm", "--flag", "-x", "plain"];
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command;
        assert_eq!(args.args, ["--flag", "-x", "plain"]);
    }
}
