//! The pieces every mode builds with: attributes, times, and the large
//! or deep JSON texts.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::wasi::clocks::wall_clock::Datetime;
use crate::wasi::otel::types::KeyValue;

/// Bytes in one MiB.
pub const MIB: usize = 1 << 20;

/// Bytes in one KiB.
pub const KIB: usize = 1 << 10;

/// How deep the deeply nested JSON texts go.
pub const DEPTH: usize = 100_000;

/// An attribute whose value is already JSON (or meant not to be).
pub fn kv(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

/// Attributes `PREFIX.0` to `PREFIX.{count - 1}`, each valued its index.
pub fn numbered(prefix: &str, count: usize) -> Vec<KeyValue> {
    (0..count)
        .map(|i| kv(format!("{prefix}.{i}"), i.to_string()))
        .collect()
}

/// `text` as a JSON string; `text` must hold no quote, backslash or
/// control character.
pub fn json_text(text: &str) -> String {
    format!("\"{text}\"")
}

/// A JSON string of `len` `x` characters, `len + 2` bytes in all.
pub fn huge_json_string(len: usize) -> String {
    json_text(&"x".repeat(len))
}

/// `depth` nested JSON arrays: `[[[…]]]`.
pub fn nested_arrays(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

/// `depth` nested JSON objects: `{"a":{"a":…{}…}}`.
pub fn nested_objects(depth: usize) -> String {
    "{\"a\":".repeat(depth) + "{}" + &"}".repeat(depth)
}

/// The current time by the guest's clock.
pub fn now() -> Datetime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Datetime {
        seconds: since.as_secs(),
        nanoseconds: since.subsec_nanos(),
    }
}

/// A time `seconds` before `time`, kept at or after 1970.
pub fn before(time: Datetime, seconds: u64) -> Datetime {
    Datetime {
        seconds: time.seconds.saturating_sub(seconds),
        ..time
    }
}
