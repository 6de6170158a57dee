//! The guest's stdout and stderr, relayed by the host with a cap, and,
//! when asked, turned line by line into log records.
//!
//! Past the cap, further output is discarded and counted, and the guest
//! keeps running: a guest flooding its output cannot fill a disk or a
//! pipe's reader. Writes go straight to the host's own stream, which is
//! line-buffered on stdout, so interactive output appears promptly.
//!
//! Each line becomes a log record correlated with the run's span: INFO
//! for stdout, WARN for stderr, with `log.iostream` saying which. A line
//! longer than [`MAX_LINE`] is sent in pieces of that size.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use opentelemetry::trace::SpanContext;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use crate::export::{LogItem, Pipeline};
use crate::portable::Portable;

/// Which of the host's streams a relay writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The host's stdout.
    Stdout,
    /// The host's stderr.
    Stderr,
}

/// Counts of one relayed stream.
#[derive(Debug, Default)]
pub struct OutputCounts {
    written: AtomicU64,
    dropped: AtomicU64,
}

impl OutputCounts {
    /// Bytes passed through to the host's stream.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Bytes discarded past the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Whether the guest's last write to stderr left a line unfinished, so
/// the host's own next line starts on a fresh one.
static STDERR_MID_LINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes one line of the host's own on stderr: on a line of its own even
/// after unfinished guest output, and without failing when stderr is
/// closed (a diagnostic nobody can read is not an error).
pub fn host_line(line: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    if STDERR_MID_LINE.swap(false, Ordering::Relaxed) {
        let _ = err.write_all(b"\n");
    }
    let _ = writeln!(err, "{line}");
}

/// The longest line kept whole as one log record, in bytes.
pub const MAX_LINE: usize = 16 << 10;

/// Turns a stream's lines into log records for a run's pipeline.
pub struct LineLogs {
    pipeline: Arc<Pipeline>,
    run: SpanContext,
    /// The unfinished last line of stdout and of stderr.
    partial: [Mutex<Vec<u8>>; 2],
    /// Records still allowed; past it lines are counted, not sent.
    left: AtomicU64,
    over_limit: AtomicU64,
}

impl std::fmt::Debug for LineLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineLogs").finish_non_exhaustive()
    }
}

impl LineLogs {
    /// Lines sent to `pipeline` under the run span `run`, at most `max`.
    pub fn new(pipeline: Arc<Pipeline>, run: SpanContext, max: u64) -> Arc<Self> {
        Arc::new(Self {
            pipeline,
            run,
            partial: Default::default(),
            left: AtomicU64::new(max),
            over_limit: AtomicU64::new(0),
        })
    }

    /// Lines not sent because the run's log budget was used up.
    pub fn over_limit(&self) -> u64 {
        self.over_limit.load(Ordering::Relaxed)
    }

    fn feed(&self, stream: Stream, bytes: &[u8]) {
        let mut partial = self.partial[stream as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            partial.extend_from_slice(piece);
            while partial.len() >= MAX_LINE {
                let cut = char_boundary(&partial, MAX_LINE);
                let rest = partial.split_off(cut);
                let line = std::mem::replace(&mut *partial, rest);
                self.send(stream, &line);
            }
            if partial.last() == Some(&b'\n') {
                let line = std::mem::take(&mut *partial);
                self.send(stream, &line);
            }
        }
    }

    /// Sends what is left of an unfinished last line.
    fn finish(&self, stream: Stream) {
        let mut partial = self.partial[stream as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let line = std::mem::take(&mut *partial);
        drop(partial);
        if !line.is_empty() {
            self.send(stream, &line);
        }
    }

    fn send(&self, stream: Stream, line: &[u8]) {
        let allowed = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if !allowed {
            self.over_limit.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (severity_number, severity_text, name) = match stream {
            Stream::Stdout => (9, "INFO", "stdout"),
            Stream::Stderr => (13, "WARN", "stderr"),
        };
        let now = crate::telemetry::nanos(SystemTime::now());
        let string = |s: String| {
            Some(AnyValue {
                value: Some(Value::StringValue(s)),
            })
        };
        self.pipeline.on_log(LogItem {
            extra_resource: Vec::new(),
            scope: InstrumentationScope {
                name: "wasm-otel".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            },
            record: LogRecord {
                time_unix_nano: now,
                observed_time_unix_nano: now,
                severity_number,
                severity_text: severity_text.to_owned(),
                body: string(String::from_utf8_lossy(line).into_owned()),
                attributes: vec![KeyValue {
                    key: "log.iostream".to_owned(),
                    value: string(name.to_owned()),
                    ..KeyValue::default()
                }],
                trace_id: self.run.trace_id().to_bytes().to_vec(),
                span_id: self.run.span_id().to_bytes().to_vec(),
                flags: u32::from(self.run.trace_flags().to_u8()),
                ..LogRecord::default()
            },
        });
    }
}

/// Where to cut `bytes` at or before `at` without splitting a UTF-8
/// character (at `at` itself when the bytes are not UTF-8 there).
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let is_continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&i| i == 0 || i >= bytes.len() || !is_continuation(bytes[i]))
        .filter(|&i| i > 0)
        .unwrap_or(at)
}

/// A guest output stream that relays to one of the host's streams, or
/// keeps what it is given in memory, up to `cap` bytes.
#[derive(Debug, Clone)]
pub struct CappedOutput {
    stream: Stream,
    /// Where the bytes go: the host's stream when `None`.
    kept: Option<Arc<Mutex<Vec<u8>>>>,
    cap: u64,
    counts: Arc<OutputCounts>,
    logs: Option<Arc<LineLogs>>,
    portable: Option<Arc<Portable>>,
}

impl CappedOutput {
    /// A relay to `stream` that passes at most `cap` bytes.
    pub fn new(stream: Stream, cap: u64) -> Self {
        Self {
            stream,
            kept: None,
            cap,
            counts: Arc::default(),
            logs: None,
            portable: None,
        }
    }

    /// A stream that keeps at most `cap` bytes in memory instead of
    /// relaying them; `stream` says which of the guest's it is.
    pub fn kept(stream: Stream, cap: u64) -> Self {
        Self {
            kept: Some(Arc::default()),
            ..Self::new(stream, cap)
        }
    }

    /// What a stream made by [`CappedOutput::kept`] holds, taken out.
    pub fn take_kept(&self) -> Vec<u8> {
        self.kept
            .as_ref()
            .map(|kept| std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }

    /// Also takes a portable guest's OTLP JSON lines out of the stream
    /// and forwards them as telemetry.
    pub fn with_portable(mut self, portable: Arc<Portable>) -> Self {
        self.portable = Some(portable);
        self
    }

    /// Also turns each line relayed into a log record.
    pub fn with_logs(mut self, logs: Arc<LineLogs>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Ends the stream: an unfinished last line is decoded as telemetry
    /// or relayed, and sent as a log record, if lines are.
    pub fn finish(&self) {
        if let Some(portable) = &self.portable {
            let _ = portable.finish(|bytes| self.pass(bytes));
        }
        if let Some(logs) = &self.logs {
            logs.finish(self.stream);
        }
    }

    /// Lines not sent as log records because the budget was used up.
    pub fn logs_over_limit(&self) -> u64 {
        self.logs.as_ref().map_or(0, |logs| logs.over_limit())
    }

    /// The relay's counts, shared with every stream it hands out.
    pub fn counts(&self) -> Arc<OutputCounts> {
        self.counts.clone()
    }

    /// Relays `bytes` of the guest's, less any telemetry lines.
    fn relay(&self, bytes: &[u8]) -> io::Result<()> {
        match &self.portable {
            Some(portable) => portable.filter(bytes, |bytes| self.pass(bytes)),
            None => self.pass(bytes),
        }
    }

    /// Writes what fits under the cap and counts the rest.
    fn pass(&self, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        // Reserve room under the cap first, so concurrent writers never
        // pass more than `cap` bytes between them.
        let before = self
            .counts
            .written
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_add(len).min(self.cap.max(w)))
            })
            .unwrap_or_else(|w| w);
        let room = self.cap.saturating_sub(before).min(len) as usize;
        let dropped = len - room as u64;
        if dropped > 0 {
            self.counts.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if room == 0 {
            return Ok(());
        }
        let written = match (&self.kept, self.stream) {
            (Some(kept), _) => {
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                kept.extend_from_slice(&bytes[..room]);
                Ok(())
            }
            (None, Stream::Stdout) => io::stdout().write_all(&bytes[..room]),
            (None, Stream::Stderr) => io::stderr().write_all(&bytes[..room]),
        };
        if written.is_err() {
            // Nothing reached the host's stream (a closed pipe, say): the
            // guest is told, and the bytes do not count against the cap.
            self.counts
                .written
                .fetch_sub(room as u64, Ordering::Relaxed);
        } else {
            if self.stream == Stream::Stderr && self.kept.is_none() {
                STDERR_MID_LINE.store(bytes[room - 1] != b'\n', Ordering::Relaxed);
            }
            if let Some(logs) = &self.logs {
                logs.feed(self.stream, &bytes[..room]);
            }
        }
        written
    }

    fn flush_host(&self) -> io::Result<()> {
        match (&self.kept, self.stream) {
            (Some(_), _) => Ok(()),
            (None, Stream::Stdout) => io::stdout().flush(),
            (None, Stream::Stderr) => io::stderr().flush(),
        }
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        match (&self.kept, self.stream) {
            (Some(_), _) => false,
            (None, Stream::Stdout) => io::IsTerminal::is_terminal(&io::stdout()),
            (None, Stream::Stderr) => io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// The most a guest may hand over in one write; larger writes are split
/// by the guest's WASI layer.
const WRITE_BUDGET: usize = 64 << 10;

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.relay(&bytes)
            .map_err(|err| StreamError::LastOperationFailed(err.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.flush_host()
            .map_err(|err| StreamError::LastOperationFailed(err.into()))
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.relay(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.flush_host())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::char_boundary;

    #[test]
    fn long_lines_are_cut_between_characters() {
        let text = "aé".repeat(10);
        let bytes = text.as_bytes();
        // Byte 2 is the second byte of the first `é`.
        assert_eq!(char_boundary(bytes, 2), 1);
        assert_eq!(char_boundary(bytes, 3), 3);
        assert!(std::str::from_utf8(&bytes[..char_boundary(bytes, 8)]).is_ok());
        // Not UTF-8 at all: cut where asked.
        assert_eq!(char_boundary(&[0x80; 8], 4), 4);
    }
}
