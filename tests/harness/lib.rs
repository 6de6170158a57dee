//! Test harness for the end-to-end tests: where the built binary and
//! components are, how to run the host, and a loopback OTLP/HTTP receiver
//! that decodes what it is sent with the official protobuf definitions.

mod receiver;

use std::path::PathBuf;
use std::process::{Command, Output};

pub use receiver::{Receiver, SpanRecord};

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
    let path = target_dir()
        .join(target)
        .join("release")
        .join(format!("{name}.wasm"));
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

/// A `wasm-otel` command with a clean environment: no `OTEL_*` variable
/// or trace context of the machine running the tests leaks into it.
pub fn host() -> Command {
    let mut command = Command::new(host_binary());
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
    /// Everything written to stderr.
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
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

    /// Lowercase hex of an id's bytes.
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
