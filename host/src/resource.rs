//! The resource every item of a run is sent with: who ran what, where.
//!
//! `service.name` comes from `--service-name`, else `OTEL_SERVICE_NAME`,
//! else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else the module's
//! file stem. The other attributes of `OTEL_RESOURCE_ATTRIBUTES` are kept
//! and win over what the host detects (`host.name`, `process.pid`,
//! `container.id`, ...); the module's name and digest are always the
//! host's.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// What a run knows of the module it runs.
#[derive(Debug, Clone)]
pub struct Module<'a> {
    /// The file's name.
    pub name: &'a str,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: &'a str,
}

/// The run's resource attributes, in a stable order.
pub fn attributes(
    service_name: &str,
    from_env: &[(String, String)],
    module: &Module<'_>,
) -> Vec<KeyValue> {
    let mut attributes = vec![string("service.name", service_name)];
    let mut add = |key: &str, value: Value| {
        if key != "service.name" && !attributes.iter().any(|kv| kv.key == key) {
            attributes.push(KeyValue {
                key: key.to_owned(),
                value: Some(AnyValue { value: Some(value) }),
                ..KeyValue::default()
            });
        }
    };

    // The module, then what the user set, then what the host detects.
    add(
        "wasm.module.name",
        Value::StringValue(module.name.to_owned()),
    );
    add(
        "wasm.module.sha256",
        Value::StringValue(module.sha256.to_owned()),
    );
    for (key, value) in from_env {
        add(key, Value::StringValue(value.clone()));
    }
    add(
        "process.runtime.name",
        Value::StringValue("wasmtime".to_owned()),
    );
    add(
        "process.runtime.version",
        Value::StringValue(env!("WASM_OTEL_WASMTIME_VERSION").to_owned()),
    );
    add(
        "process.runtime.description",
        Value::StringValue(format!("wasm-otel {}", env!("CARGO_PKG_VERSION"))),
    );
    add(
        "telemetry.sdk.name",
        Value::StringValue("wasm-otel".to_owned()),
    );
    add(
        "telemetry.sdk.language",
        Value::StringValue("rust".to_owned()),
    );
    add(
        "telemetry.sdk.version",
        Value::StringValue(env!("CARGO_PKG_VERSION").to_owned()),
    );
    if let Some(name) = host_name() {
        add("host.name", Value::StringValue(name));
    }
    add(
        "process.pid",
        Value::IntValue(i64::from(std::process::id())),
    );
    if let Some(id) = container_id() {
        add("container.id", Value::StringValue(id));
    }
    attributes
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// Reads `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by
/// commas, keys and values percent-decoded. As the specification asks, a
/// value with any malformed pair is discarded whole; the error says why.
pub fn parse_attributes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut attributes = Vec::new();
    for pair in text.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            format!(
                "ignoring OTEL_RESOURCE_ATTRIBUTES: `{pair}` {why} \
                 (write `key=value,key2=value2`, percent-encoding `,` `=` `%`)"
            )
        };
        let Some((key, value)) = pair.split_once('=') else {
            return Err(bad("has no `=`"));
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text.trim())
                .decode_utf8()
                .map(|s| s.into_owned())
        };
        let (Ok(key), Ok(value)) = (decode(key), decode(value)) else {
            return Err(bad("is not UTF-8 once percent-decoded"));
        };
        if key.is_empty() {
            return Err(bad("has an empty key"));
        }
        attributes.retain(|(k, _): &(String, String)| *k != key);
        attributes.push((key, value));
    }
    Ok(attributes)
}

/// The machine's host name.
fn host_name() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the
    // call; `gethostname` writes at most that many bytes.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name = String::from_utf8_lossy(&buffer[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// The id of the container the host runs in, from the process's cgroup
/// (cgroup v1, and v2 with systemd scopes) or, failing that, its mounts
/// (cgroup v2, where Docker and containerd mount per-container files).
fn container_id() -> Option<String> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Some(id) = container_id_in_cgroup(&cgroup) {
        return Some(id);
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    container_id_in_mountinfo(&mounts)
}

const ID_LEN: usize = 64;

fn is_id(text: &str) -> bool {
    text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id in a `/proc/self/cgroup` text: the last path segment
/// of a line, stripped of a `.scope` suffix and a `docker-` style prefix,
/// when it is 64 hex digits.
fn container_id_in_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let segment = line.rsplit('/').next()?.trim();
        let segment = segment.strip_suffix(".scope").unwrap_or(segment);
        let id = segment.rsplit(['-', ':']).next()?;
        is_id(id).then(|| id.to_owned())
    })
}

/// The container id in a `/proc/self/mountinfo` text: 64 hex digits after
/// `/containers/` or `/sandboxes/` in a mount's root path.
fn container_id_in_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        ["/containers/", "/sandboxes/"].iter().find_map(|marker| {
            let (_, rest) = line.split_once(marker)?;
            let id = rest.split('/').next()?;
            is_id(id).then(|| id.to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4b9a0a10d1c2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff00112";

    #[test]
    fn resource_attributes_are_percent_decoded() {
        let got = parse_attributes("a=1, team=red%2Cblue ,k%3Dx=v%20w,a=2").unwrap();
        let expected = [("team", "red,blue"), ("k=x", "v w"), ("a", "2")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_malformed_pair_discards_the_whole_value() {
        let err = parse_attributes("a=1,oops,b=2").unwrap_err();
        assert!(err.contains("`oops` has no `=`"), "{err}");
        assert!(parse_attributes("=v").is_err());
        assert!(parse_attributes("k=%FF").is_err());
    }

    #[test]
    fn container_ids_are_found_in_cgroup_v1_and_systemd_scopes() {
        let docker = format!("12:memory:/docker/{ID}\n0::/\n");
        assert_eq!(container_id_in_cgroup(&docker).as_deref(), Some(ID));
        let scope = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(container_id_in_cgroup(&scope).as_deref(), Some(ID));
        let cri = format!("0::/kubepods/burstable/pod1/cri-containerd-{ID}.scope\n");
        assert_eq!(container_id_in_cgroup(&cri).as_deref(), Some(ID));
        assert_eq!(container_id_in_cgroup("0::/\n"), None);
        assert_eq!(
            container_id_in_cgroup("0::/user.slice/session-3.scope\n"),
            None
        );
    }

    #[test]
    fn container_ids_are_found_in_mountinfo() {
        let line = format!(
            "622 600 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 \
             /dev/vda1 rw\n"
        );
        assert_eq!(container_id_in_mountinfo(&line).as_deref(), Some(ID));
        let plain = "22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n";
        assert_eq!(container_id_in_mountinfo(plain), None);
    }

    #[test]
    fn the_host_decides_service_name_and_module_attributes() {
        let from_env = vec![
            ("wasm.module.name".to_owned(), "spoofed".to_owned()),
            ("deployment.environment".to_owned(), "ci".to_owned()),
            ("host.name".to_owned(), "given".to_owned()),
        ];
        let module = Module {
            name: "app.wasm",
            sha256: "ab",
        };
        let got = attributes("svc", &from_env, &module);
        let value = |key: &str| {
            got.iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone()?.value)
        };
        let s = |v: &str| Some(Value::StringValue(v.to_owned()));
        assert_eq!(value("service.name"), s("svc"));
        assert_eq!(value("wasm.module.name"), s("app.wasm"));
        assert_eq!(value("deployment.environment"), s("ci"));
        assert_eq!(value("host.name"), s("given"));
        assert_eq!(
            value("process.pid"),
            Some(Value::IntValue(i64::from(std::process::id())))
        );
        let keys: Vec<&str> = got.iter().map(|kv| kv.key.as_str()).collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
    }
}
