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

/// How a line of OTLP JSON starts, one per signal.
const PREFIXES: [&[u8]; 3] = [
    b"{\"resourceSpans\"",
    b"{\"resourceLogs\"",
    b"{\"resourceMetrics\"",
];

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
    pub fn read_file(&self, path: &Path, from: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};

        let mut file = std::fs::File::open(path)?;
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
        if line.starts_with(PREFIXES[0]) {
            match serde_json::from_slice::<TracesData>(line) {
                Ok(data) => self.traces(data),
                Err(_) => return false,
            }
        } else if line.starts_with(PREFIXES[1]) {
            match serde_json::from_slice::<LogsData>(line) {
                Ok(data) => self.logs(data),
                Err(_) => return false,
            }
        } else if line.starts_with(PREFIXES[2]) {
            match serde_json::from_slice::<MetricsData>(line) {
                Ok(data) => self.metrics(data),
                Err(_) => return false,
            }
        } else {
            return false;
        }
        true
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

/// What a line that starts with `held` is: OTLP to hold, ordinary output
/// to pass, or not known yet.
fn decide(held: &[u8]) -> Mode {
    let held = held.strip_suffix(b"\n").unwrap_or(held);
    if PREFIXES.iter().any(|p| held.starts_with(p)) {
        Mode::Holding
    } else if PREFIXES.iter().any(|p| p.starts_with(held)) {
        Mode::Deciding
    } else {
        Mode::Passing
    }
}

#[cfg(test)]
mod tests;
