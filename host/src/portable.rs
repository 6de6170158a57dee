//! Telemetry from portable guests: modules that have no `wasi:otel` and
//! write OTLP JSON Lines instead (the guest SDK's `portable` feature, or
//! any writer of the OpenTelemetry file-exporter format).
//!
//! A line of the guest's stderr that starts like a `TracesData`,
//! `LogsData` or `MetricsData` object is held until it ends; if it decodes,
//! it is taken out of the output and its records go through the same
//! checks, budgets and counts as a native guest's, under `wasm.run`. A
//! line that does not decode passes through as ordinary output. Lines may
//! also be read from a file after the run (`--telemetry-file`).
//!
//! The guest runs in its own trace as far as it knows, so its records are
//! moved into the run's: every trace id becomes the run's, and a span with
//! no parent becomes a child of `wasm.run`. The resource a line carries
//! is not used: the host describes the service, as for native guests.

mod decode;

use std::io::{self, BufRead, Read};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use opentelemetry::trace::SpanContext;
use opentelemetry_proto::tonic::logs::v1::LogsData;
use opentelemetry_proto::tonic::metrics::v1::MetricsData;
use opentelemetry_proto::tonic::trace::v1::TracesData;

use crate::telemetry::bindings::wasi::otel as wit;
use crate::telemetry::{GuestTelemetry, TelemetryStats};

/// The first key of a line of OTLP JSON, one per signal, after its `{`
/// and any whitespace JSON allows.
const KEYS: [&[u8]; 3] = [
    b"\"resourceSpans\"",
    b"\"resourceLogs\"",
    b"\"resourceMetrics\"",
];

/// What the start of a line says it is.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// OTLP JSON of the signal `KEYS[n]` names.
    Signal(usize),
    /// Ordinary output.
    Output,
    /// Not known until more of the line comes.
    Unknown,
}

fn start(bytes: &[u8]) -> Start {
    let rest = bytes.trim_ascii_start();
    if rest.is_empty() {
        return Start::Unknown;
    }
    let Some(rest) = rest.strip_prefix(b"{") else {
        return Start::Output;
    };
    let rest = rest.trim_ascii_start();
    if let Some(signal) = KEYS.iter().position(|key| rest.starts_with(key)) {
        return Start::Signal(signal);
    }
    match KEYS.iter().any(|key| key.starts_with(rest)) {
        true => Start::Unknown,
        false => Start::Output,
    }
}

/// The longest line held to be decoded; a longer one passes through as
/// output.
pub const MAX_LINE: usize = 16 << 20;

/// Where a guest's stderr is in its current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At the start of a line, or within the first bytes of one that may
    /// still turn out to be OTLP.
    Deciding,
    /// In a line that starts like OTLP: held until its end.
    Holding,
    /// In a line of ordinary output: passed through as it comes.
    Passing,
}

struct Line {
    mode: Mode,
    held: Vec<u8>,
}

/// The telemetry of one portable guest, and the line it is writing.
pub struct Portable {
    telemetry: Mutex<GuestTelemetry>,
    run: SpanContext,
    line: Mutex<Line>,
}

impl std::fmt::Debug for Portable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portable").finish_non_exhaustive()
    }
}

impl Portable {
    /// Lines decoded into `telemetry`, whose root spans hang under `run`.
    pub fn new(telemetry: GuestTelemetry, run: SpanContext) -> Self {
        Self {
            telemetry: Mutex::new(telemetry),
            run,
            line: Mutex::new(Line {
                mode: Mode::Deciding,
                held: Vec::new(),
            }),
        }
    }

    /// What the guest's lines have carried so far.
    pub fn stats(&self) -> TelemetryStats {
        self.lock_telemetry().stats().clone()
    }

    fn lock_telemetry(&self) -> std::sync::MutexGuard<'_, GuestTelemetry> {
        self.telemetry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the OTLP lines out of `bytes`, a piece of the guest's stderr,
    /// and hands the rest to `relay`.
    pub fn filter(
        &self,
        mut bytes: &[u8],
        mut relay: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let mut passed = Vec::new();
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let (piece, rest) = bytes.split_at(end.map_or(bytes.len(), |i| i + 1));
            bytes = rest;
            let ends_line = end.is_some();

            if line.mode == Mode::Passing {
                passed.extend_from_slice(piece);
                if ends_line {
                    line.mode = Mode::Deciding;
                }
                continue;
            }
            line.held.extend_from_slice(piece);
            if line.mode == Mode::Deciding {
                line.mode = decide(&line.held);
            }
            match (line.mode, ends_line) {
                (Mode::Passing, _) => {
                    passed.append(&mut line.held);
                    if ends_line {
                        line.mode = Mode::Deciding;
                    }
                }
                (_, true) => {
                    let held = std::mem::take(&mut line.held);
                    if !self.take_line(&held) {
                        passed.extend_from_slice(&held);
                    }
                    line.mode = Mode::Deciding;
                }
                (_, false) if line.held.len() > MAX_LINE => {
                    passed.append(&mut line.held);
                    line.mode = Mode::Passing;
                }
                (_, false) => {}
            }
        }
        drop(line);
        match passed.is_empty() {
            true => Ok(()),
            false => relay(&passed),
        }
    }

    /// Ends the guest's stderr: a last line without a newline is decoded
    /// or relayed.
    pub fn finish(&self, relay: impl FnOnce(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let held = std::mem::take(&mut line.held);
        line.mode = Mode::Deciding;
        drop(line);
        if held.is_empty() || self.take_line(&held) {
            return Ok(());
        }
        relay(&held)
    }

    /// Decodes the lines appended to `path` past its first `from` bytes.
    /// A line that is not OTLP JSON is counted (`portable_line_invalid`).
    pub fn read_file(&self, path: &Path, from: FileMark) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};

        let mut file = std::fs::File::open(path)?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::other("it is not a regular file"));
        }
        // A file the guest made anew, or cut short, is read from its start.
        let from = match from.is_same_file(&metadata) && metadata.len() >= from.len {
            true => from.len,
            false => 0,
        };
        file.seek(SeekFrom::Start(from))?;
        let mut reader = io::BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)?;
            if read == 0 {
                return Ok(());
            }
            if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
                // Too long to hold: skip to the end of it.
                reader.skip_until(b'\n')?;
                self.lock_telemetry().count("portable_line_too_long");
                continue;
            }
            let blank = line.iter().all(u8::is_ascii_whitespace);
            if !blank && !self.take_line(&line) {
                self.lock_telemetry().count("portable_line_invalid");
            }
        }
    }

    /// Decodes one line and sends its records on; false when it is not
    /// OTLP JSON of any signal.
    fn take_line(&self, line: &[u8]) -> bool {
        let line = line.trim_ascii();
        match start(line) {
            Start::Signal(0) => decode(line).map(|data| self.traces(data)),
            Start::Signal(1) => decode(line).map(|data| self.logs(data)),
            Start::Signal(_) => decode(line).map(|data| self.metrics(data)),
            Start::Output | Start::Unknown => None,
        }
        .is_some()
    }

    /// The run's trace id, for a record of the guest's trace `trace_id`.
    fn adopt_trace(&self, trace_id: &mut String) {
        if !trace_id.is_empty() {
            *trace_id = self.run.trace_id().to_string();
        }
    }

    fn traces(&self, data: TracesData) {
        let mut telemetry = self.lock_telemetry();
        for resource in &data.resource_spans {
            for scope_spans in &resource.scope_spans {
                let scope = decode::scope(scope_spans.scope.as_ref(), &scope_spans.schema_url);
                for span in &scope_spans.spans {
                    let mut span = decode::span(span, &scope);
                    self.adopt_trace(&mut span.span_context.trace_id);
                    if span.parent_span_id.is_empty() {
                        span.parent_span_id = self.run.span_id().to_string();
                    }
                    telemetry.on_portable_span(span);
                }
            }
        }
    }

    fn logs(&self, data: LogsData) {
        use wit::logs::Host;

        let mut telemetry = self.lock_telemetry();
        for resource in &data.resource_logs {
            for scope_logs in &resource.scope_logs {
                let scope = decode::scope(scope_logs.scope.as_ref(), &scope_logs.schema_url);
                for record in &scope_logs.log_records {
                    let mut record = decode::log(record, &scope);
                    if let Some(trace_id) = &mut record.trace_id {
                        self.adopt_trace(trace_id);
                    }
                    telemetry.on_emit(record);
                }
            }
        }
    }

    fn metrics(&self, data: MetricsData) {
        use wit::metrics::Host;

        let mut telemetry = self.lock_telemetry();
        for resource in &data.resource_metrics {
            let mut scope_metrics = Vec::new();
            for scope in &resource.scope_metrics {
                let mut metrics = Vec::new();
                for metric in &scope.metrics {
                    match decode::metric(metric) {
                        Ok((metric, dropped_points)) => {
                            for _ in 0..dropped_points {
                                telemetry.count("portable_point_unsupported");
                            }
                            metrics.push(metric);
                        }
                        Err(reason) => telemetry.count(reason),
                    }
                }
                scope_metrics.push(wit::metrics::ScopeMetrics {
                    scope: decode::scope(scope.scope.as_ref(), &scope.schema_url),
                    metrics,
                });
            }
            let metrics = wit::metrics::ResourceMetrics {
                resource: wit::types::Resource {
                    attributes: Vec::new(),
                    schema_url: None,
                },
                scope_metrics,
            };
            // A refusal (the export budget is used up) is counted there.
            let _ = telemetry.export(metrics);
        }
    }
}

/// Where a telemetry file ended before the run, and which file it was.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileMark {
    len: u64,
    /// Device and inode, where the platform has them.
    id: Option<(u64, u64)>,
}

impl FileMark {
    /// The mark of the file at `path` now; zero when there is none.
    pub fn of(path: &Path) -> FileMark {
        match std::fs::metadata(path) {
            Ok(metadata) => FileMark {
                len: metadata.len(),
                id: file_id(&metadata),
            },
            Err(_) => FileMark::default(),
        }
    }

    fn is_same_file(&self, metadata: &std::fs::Metadata) -> bool {
        self.id.is_some() && self.id == file_id(metadata)
    }
}

#[cfg(unix)]
fn file_id(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// What a line that starts with `held` is: OTLP to hold, ordinary output
/// to pass, or not known yet.
fn decide(held: &[u8]) -> Mode {
    let held = held.strip_suffix(b"\n").unwrap_or(held);
    match start(held) {
        Start::Signal(_) => Mode::Holding,
        Start::Unknown => Mode::Deciding,
        Start::Output => Mode::Passing,
    }
}

/// Decodes one line of OTLP JSON. A line whose only fault is an id that
/// is not hex is decoded with such ids replaced by `00` (hex, but of no
/// id's length), so that each record carrying one is dropped or repaired
/// and counted, as a native guest's would be, and the line's other
/// records are kept.
fn decode<T: serde::de::DeserializeOwned>(line: &[u8]) -> Option<T> {
    if let Ok(data) = serde_json::from_slice(line) {
        return Some(data);
    }
    let mut json: serde_json::Value = serde_json::from_slice(line).ok()?;
    if !repair_ids(&mut json) {
        return None;
    }
    serde_json::from_value(json).ok()
}

/// Replaces every id in `json` that is not hex; true when one was.
fn repair_ids(json: &mut serde_json::Value) -> bool {
    use serde_json::Value as Json;

    const IDS: [&str; 3] = ["traceId", "spanId", "parentSpanId"];
    let is_hex = |s: &str| s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut repaired = false;
    match json {
        Json::Object(members) => {
            for (key, value) in members.iter_mut() {
                match value {
                    Json::String(id) if IDS.contains(&key.as_str()) && !is_hex(id) => {
                        *id = "00".to_owned();
                        repaired = true;
                    }
                    other => repaired |= repair_ids(other),
                }
            }
        }
        Json::Array(items) => {
            for item in items {
                repaired |= repair_ids(item);
            }
        }
        _ => {}
    }
    repaired
}

#[cfg(test)]
mod tests;
