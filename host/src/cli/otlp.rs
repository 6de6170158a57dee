//! The OTLP exporter's settings, from flags and the standard `OTEL_*`
//! variables, with the specification's precedence: a flag, then the
//! signal's own variable, then the general one, then the default.
//!
//! The OpenTelemetry Rust crates get some of these wrong (the timeout `0`,
//! queries in a base URL, the batch export timeout); the rules here are
//! the specification's, and the tests below pin them.

use std::time::Duration;

use super::ConfigError;
use crate::export::{Batching, Compression, Endpoints, Protocol, Target};

/// The OTLP flags of `wasm-otel run`.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct OtlpArgs {
    /// Base URL of an OTLP/HTTP receiver, such as `http://localhost:4318`;
    /// `/v1/traces`, `/v1/logs` and `/v1/metrics` are appended. Overrides
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and the per-signal
    /// `OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_ENDPOINT`. [default: none]
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// `http/protobuf` or `http/json`. Overrides
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` and the per-signal variables.
    /// [default: http/protobuf]
    #[arg(long, value_name = "PROTOCOL")]
    pub otlp_protocol: Option<String>,

    /// A header sent with every request, such as `x-api-key=secret`.
    /// Repeatable. Overrides the same header in `OTEL_EXPORTER_OTLP_HEADERS`
    /// and the per-signal variables. [default: none]
    #[arg(long, value_name = "KEY=VALUE")]
    pub otlp_header: Vec<String>,

    /// `gzip` or `none`. Overrides `OTEL_EXPORTER_OTLP_COMPRESSION` and the
    /// per-signal variables. [default: none]
    #[arg(long, value_name = "COMPRESSION")]
    pub otlp_compression: Option<String>,
}

/// The signals, as their variables name them, with their URL paths.
const SIGNALS: [(&str, &str); 3] = [
    ("TRACES", "v1/traces"),
    ("LOGS", "v1/logs"),
    ("METRICS", "v1/metrics"),
];

/// The default of `OTEL_EXPORTER_OTLP_TIMEOUT`: ten seconds.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every signal's target, when any endpoint is configured.
pub fn endpoints(
    args: &OtlpArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Endpoints>, ConfigError> {
    let mut targets = Vec::new();
    for (signal, path) in SIGNALS {
        let target = match signal_endpoint(args.otlp_endpoint.as_deref(), signal, path, env)? {
            Some(url) => Some(Target {
                url,
                protocol: protocol(args, signal, env)?,
                headers: headers(args, signal, env)?,
                compression: compression(args, signal, env)?,
                timeout: timeout(signal, env)?,
            }),
            None => None,
        };
        targets.push(target);
    }
    let [traces, logs, metrics] = <[Option<Target>; 3]>::try_from(targets).expect("three signals");
    if traces.is_none() && logs.is_none() && metrics.is_none() {
        return Ok(None);
    }
    Ok(Some(Endpoints {
        traces,
        logs,
        metrics,
    }))
}

/// A non-empty variable.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<(String, String)> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .map(|v| (name.to_owned(), v.trim().to_owned()))
}

/// The flag's value, else the signal's variable, else the general one.
fn setting(
    flag: Option<(&str, &String)>,
    signal: &str,
    suffix: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    flag.map(|(name, value)| (name.to_owned(), value.clone()))
        .or_else(|| var(env, &format!("OTEL_EXPORTER_OTLP_{signal}_{suffix}")))
        .or_else(|| var(env, &format!("OTEL_EXPORTER_OTLP_{suffix}")))
}

/// The URL one signal is posted to: the flag's base URL, else the signal's
/// own variable as given, else the general variable's base URL.
fn signal_endpoint(
    flag: Option<&str>,
    signal: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let own = format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT");
    let (name, value, is_base) = if let Some(flag) = flag {
        ("--otlp-endpoint".to_owned(), flag.trim().to_owned(), true)
    } else if let Some((name, url)) = var(env, &own) {
        (name, url, false)
    } else if let Some((name, url)) = var(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
        (name, url, true)
    } else {
        return Ok(None);
    };

    let mut url = match reqwest::Url::parse(&value) {
        Ok(url) if url.scheme() == "http" && url.has_host() => url,
        // The HTTP client is built without TLS: say so now rather than
        // fail every export later.
        Ok(url) if url.scheme() == "https" => {
            return Err(ConfigError::Unsupported {
                name,
                value,
                supported: "an http:// URL: this build has no TLS; \
                            put a local collector in front of an https:// one",
            });
        }
        _ => return Err(ConfigError::BadEndpoint { name, value }),
    };
    if !is_base {
        return Ok(Some(url.to_string()));
    }
    // The signal's path goes after the base's own path, before any query.
    let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    Ok(Some(url.to_string()))
}

fn protocol(
    args: &OtlpArgs,
    signal: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Protocol, ConfigError> {
    let flag = args.otlp_protocol.as_ref().map(|v| ("--otlp-protocol", v));
    match setting(flag, signal, "PROTOCOL", env) {
        None => Ok(Protocol::Protobuf),
        Some((_, value)) if value == "http/protobuf" => Ok(Protocol::Protobuf),
        Some((_, value)) if value == "http/json" => Ok(Protocol::Json),
        Some((name, value)) => Err(ConfigError::Unsupported {
            name,
            value,
            supported: "`http/protobuf` or `http/json`",
        }),
    }
}

fn compression(
    args: &OtlpArgs,
    signal: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Compression, ConfigError> {
    let flag = args
        .otlp_compression
        .as_ref()
        .map(|v| ("--otlp-compression", v));
    match setting(flag, signal, "COMPRESSION", env) {
        None => Ok(Compression::None),
        Some((_, value)) if value == "none" => Ok(Compression::None),
        Some((_, value)) if value == "gzip" => Ok(Compression::Gzip),
        Some((name, value)) => Err(ConfigError::Unsupported {
            name,
            value,
            supported: "`gzip` or `none`",
        }),
    }
}

/// The request timeout: milliseconds, where `0` means no limit.
fn timeout(
    signal: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    match setting(None, signal, "TIMEOUT", env) {
        None => Ok(Some(DEFAULT_TIMEOUT)),
        Some((name, value)) => match milliseconds(&name, &value)? {
            Duration::ZERO => Ok(None),
            timeout => Ok(Some(timeout)),
        },
    }
}

fn milliseconds(name: &str, value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ConfigError::Unsupported {
            name: name.to_owned(),
            value: value.to_owned(),
            supported: "a whole number of milliseconds, `0` for no limit",
        })
}

/// The headers of one signal's requests: the general variable, then the
/// signal's, then the flags, each later one replacing a header of the
/// same name.
fn headers(
    args: &OtlpArgs,
    signal: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut add = |key: String, value: String| {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        headers.push((key, value));
    };
    for name in [
        "OTEL_EXPORTER_OTLP_HEADERS".to_owned(),
        format!("OTEL_EXPORTER_OTLP_{signal}_HEADERS"),
    ] {
        let Some((name, text)) = var(env, &name) else {
            continue;
        };
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = header(&name, pair, true)?;
            add(key, value);
        }
    }
    for pair in &args.otlp_header {
        let (key, value) = header("--otlp-header", pair, false)?;
        add(key, value);
    }
    Ok(headers)
}

/// Reads one `key=value` header, percent-decoding it when it came from a
/// variable, as the specification asks.
fn header(name: &str, pair: &str, decode: bool) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError::Unsupported {
        name: name.to_owned(),
        value: pair.to_owned(),
        supported: "`key=value` with a header name and value HTTP allows",
    };
    let (key, value) = pair.split_once('=').ok_or_else(bad)?;
    let (key, value) = if decode {
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text.trim())
                .decode_utf8()
                .map(|s| s.into_owned())
        };
        (
            decode(key).map_err(|_| bad())?,
            decode(value).map_err(|_| bad())?,
        )
    } else {
        (key.trim().to_owned(), value.trim().to_owned())
    };
    let valid = reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_ok()
        && reqwest::header::HeaderValue::from_str(&value).is_ok();
    if !valid {
        return Err(bad());
    }
    Ok((key, value))
}

/// Batching from `OTEL_BSP_*`. A value that is not a number is warned
/// about and its default used, as the specification asks of SDKs.
pub fn batching(env: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Batching {
    let default = Batching::default();
    let mut number = |name: &str, default: u64| match var(env, name) {
        None => default,
        Some((_, value)) => value.parse().unwrap_or_else(|_| {
            warnings.push(format!(
                "ignoring {name} `{value}`: not a whole number (using {default})"
            ));
            default
        }),
    };
    let millis = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
    let queue = number("OTEL_BSP_MAX_QUEUE_SIZE", default.queue as u64);
    let delay = number("OTEL_BSP_SCHEDULE_DELAY", default.delay.as_millis() as u64);
    let batch = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", default.batch as u64);
    let export_timeout = number("OTEL_BSP_EXPORT_TIMEOUT", millis(default.export_timeout));
    Batching {
        queue: usize::try_from(queue).unwrap_or(usize::MAX).max(1),
        delay: Duration::from_millis(delay),
        batch: usize::try_from(batch).unwrap_or(usize::MAX).max(1),
        export_timeout: (export_timeout > 0).then(|| Duration::from_millis(export_timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn resolve(args: &OtlpArgs, vars: &[(&str, &str)]) -> Result<Endpoints, ConfigError> {
        endpoints(args, &env_of(vars)).map(|e| e.expect("an endpoint"))
    }

    const BASE: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");

    #[test]
    fn a_base_url_keeps_its_prefix_and_query() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/otlp/?token=a")];
        let got = resolve(&OtlpArgs::default(), &vars).unwrap();
        assert_eq!(
            got.traces.unwrap().url,
            "http://h:4318/otlp/v1/traces?token=a"
        );
        assert_eq!(
            got.metrics.unwrap().url,
            "http://h:4318/otlp/v1/metrics?token=a"
        );
    }

    #[test]
    fn protocol_precedence_and_refusal() {
        let vars = [
            BASE,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
        ];
        let got = resolve(&OtlpArgs::default(), &vars).unwrap();
        assert_eq!(got.traces.unwrap().protocol, Protocol::Json);
        assert_eq!(got.logs.unwrap().protocol, Protocol::Protobuf);

        let args = OtlpArgs {
            otlp_protocol: Some("http/protobuf".into()),
            ..OtlpArgs::default()
        };
        assert_eq!(
            resolve(&args, &vars).unwrap().traces.unwrap().protocol,
            Protocol::Protobuf
        );

        let err = resolve(
            &OtlpArgs::default(),
            &[BASE, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "OTEL_EXPORTER_OTLP_PROTOCOL is `grpc`, which is not supported \
             (use `http/protobuf` or `http/json`)"
        );
    }

    #[test]
    fn headers_are_decoded_and_later_ones_win() {
        let vars = [
            BASE,
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,tenant=one"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Tenant=two"),
        ];
        let args = OtlpArgs {
            otlp_header: vec!["api-key=from-flag".into()],
            ..OtlpArgs::default()
        };
        let got = resolve(&args, &vars).unwrap();
        let traces = got.traces.unwrap().headers;
        assert_eq!(
            traces,
            [
                ("Tenant".to_owned(), "two".to_owned()),
                ("api-key".to_owned(), "from-flag".to_owned())
            ]
        );
        let logs = got.logs.unwrap().headers;
        assert_eq!(
            logs,
            [
                ("tenant".to_owned(), "one".to_owned()),
                ("api-key".to_owned(), "from-flag".to_owned())
            ]
        );
        let bad = [BASE, ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals")];
        assert!(resolve(&OtlpArgs::default(), &bad).is_err());
    }

    #[test]
    fn a_timeout_of_zero_means_no_limit() {
        let got = resolve(&OtlpArgs::default(), &[BASE]).unwrap();
        assert_eq!(got.traces.unwrap().timeout, Some(DEFAULT_TIMEOUT));
        let vars = [
            BASE,
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "250"),
        ];
        let got = resolve(&OtlpArgs::default(), &vars).unwrap();
        assert_eq!(got.traces.unwrap().timeout, None);
        assert_eq!(
            got.metrics.unwrap().timeout,
            Some(Duration::from_millis(250))
        );
        let bad = [BASE, ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")];
        assert!(resolve(&OtlpArgs::default(), &bad).is_err());
    }

    #[test]
    fn compression_is_gzip_or_none() {
        let vars = [BASE, ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")];
        let got = resolve(&OtlpArgs::default(), &vars).unwrap();
        assert_eq!(got.traces.unwrap().compression, Compression::Gzip);
        let args = OtlpArgs {
            otlp_compression: Some("zstd".into()),
            ..OtlpArgs::default()
        };
        let err = resolve(&args, &vars).unwrap_err().to_string();
        assert!(
            err.contains("`zstd`") && err.contains("--otlp-compression"),
            "{err}"
        );
    }

    #[test]
    fn batching_reads_the_bsp_variables() {
        let mut warnings = Vec::new();
        let env = env_of(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ]);
        let got = batching(&env, &mut warnings);
        assert_eq!(got.queue, 100);
        assert_eq!(got.delay, Duration::from_millis(20));
        assert_eq!(got.batch, 10);
        assert_eq!(got.export_timeout, None);
        assert!(warnings.is_empty());

        let env = env_of(&[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]);
        let got = batching(&env, &mut warnings);
        assert_eq!(got.queue, Batching::default().queue);
        assert_eq!(warnings.len(), 1);
    }
}
