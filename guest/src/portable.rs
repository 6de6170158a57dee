//! Portable mode: telemetry as OTLP JSON Lines, for runtimes that do not
//! provide `wasi:otel` (WasmEdge, `docker run` with a wasm runtime, Node's
//! `node:wasi`, any WASI preview 1 runtime).
//!
//! Built with the `portable` feature, the guest imports nothing but WASI.
//! Each line it writes is one `TracesData`, `LogsData` or `MetricsData`
//! object in the OTLP JSON mapping, the format of the OpenTelemetry file
//! exporter, which a collector's `otlpjsonfile` receiver reads and
//! `wasm-otel run` picks out of the guest's stderr.
//!
//! - **Where**: stderr, or the file `WASM_OTEL_FILE` names (appended to;
//!   when it cannot be opened, one warning on stderr and stderr instead).
//! - **When**: spans and log records are held until the last open span
//!   ends (so a unit of work is one line), until 512 are held, or until
//!   the guest exits: by returning from `main`, by `std::process::exit`,
//!   or by a panic. Metrics are written when [`crate::metrics::flush`] is
//!   called.
//! - **Context**: a W3C `TRACEPARENT` (and `TRACESTATE`) in the guest's
//!   environment is the parent of its root spans, as `outer-span-context`
//!   would be.
//! - **Spans never ended** when the guest exits are written as `unended
//!   span`, with `wasm.span.unended = true` and an error status, as the
//!   native host does.
//! - The resource carries `service.name` from `OTEL_SERVICE_NAME`
//!   (`unknown_service` without it) and the SDK's name and version.

// Off wasm32, or without the feature, the module is built only for its
// unit tests, which do not reach the environment, exit or panic hooks.
#![cfg_attr(
    not(all(target_arch = "wasm32", feature = "portable")),
    allow(dead_code)
)]

mod json;

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;

use crate::backend::Backend;
use crate::bindings::Datetime;
use crate::bindings::logs::LogRecord;
use crate::bindings::metrics::ResourceMetrics;
use crate::bindings::tracing::{SpanContext, SpanData, SpanKind, Status, TraceFlags};
use crate::{clock, id};

/// The environment variable naming a file to write the lines to.
pub(crate) const FILE_VAR: &str = "WASM_OTEL_FILE";

/// How many spans, or log records, are held before a line is written.
const BATCH: usize = 512;

/// The text of the `wasm-otel-portable` custom section, which tells
/// `wasm-otel inspect` and `wasm-otel run` how the module reports.
const MARKER_TEXT: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));

#[cfg(target_arch = "wasm32")]
#[unsafe(link_section = "wasm-otel-portable")]
#[used]
static MARKER: [u8; MARKER_TEXT.len()] = bytes(MARKER_TEXT);

const fn bytes<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = text.as_bytes()[i];
        i += 1;
    }
    out
}

/// The backend that writes OTLP JSON Lines.
pub(crate) struct Portable {
    state: RefCell<State>,
    outer: SpanContext,
}

struct State {
    resource: json::Resource,
    sink: Sink,
    spans: Vec<SpanData>,
    logs: Vec<LogRecord>,
    /// Spans started and not yet ended, with their start times.
    open: Vec<(SpanContext, Datetime)>,
}

/// Where lines go.
enum Sink {
    Stderr,
    File(File),
    /// Lines kept in memory, for tests.
    #[cfg(test)]
    Memory(std::rc::Rc<RefCell<Vec<String>>>),
}

impl Sink {
    /// The file `WASM_OTEL_FILE` names, or stderr.
    fn from_env() -> Sink {
        let Some(path) = std::env::var_os(FILE_VAR) else {
            return Sink::Stderr;
        };
        match File::options().create(true).append(true).open(&path) {
            Ok(file) => Sink::File(file),
            Err(err) => {
                eprintln!(
                    "{}: cannot open `{}` ({FILE_VAR}) for telemetry: {err}; \
                     writing it to stderr instead",
                    env!("CARGO_PKG_NAME"),
                    path.to_string_lossy(),
                );
                Sink::Stderr
            }
        }
    }

    /// Writes `line` and a newline in one write, so no other output of
    /// the guest's lands inside it.
    fn write_line(&mut self, mut line: String) {
        line.push('\n');
        // There is nowhere left to report a sink that fails.
        let _ = match self {
            Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Sink::File(file) => file.write_all(line.as_bytes()),
            #[cfg(test)]
            Sink::Memory(lines) => {
                lines.borrow_mut().push(line);
                Ok(())
            }
        };
    }
}

impl Portable {
    /// A backend configured from the guest's environment, flushed when the
    /// guest exits or panics.
    pub(crate) fn from_env() -> Portable {
        // The marker is read by tools, never by code: this keeps the
        // linker from discarding it.
        #[cfg(target_arch = "wasm32")]
        std::hint::black_box(&MARKER);
        flush_at_exit();

        let service_name = std::env::var("OTEL_SERVICE_NAME").ok();
        Portable::new(Sink::from_env(), outer_from_env(), service_name)
    }

    fn new(sink: Sink, outer: SpanContext, service_name: Option<String>) -> Portable {
        Portable {
            state: RefCell::new(State {
                resource: json::default_resource(service_name),
                sink,
                spans: Vec::new(),
                logs: Vec::new(),
                open: Vec::new(),
            }),
            outer,
        }
    }
}

impl State {
    fn flush_spans(&mut self) {
        if !self.spans.is_empty() {
            let line = json::traces(&self.resource, &self.spans);
            self.spans.clear();
            self.sink.write_line(line);
        }
    }

    fn flush_logs(&mut self) {
        if !self.logs.is_empty() {
            let line = json::logs(&self.resource, &self.logs);
            self.logs.clear();
            self.sink.write_line(line);
        }
    }

    /// Ends every open span as `unended span`, for a guest on its way out.
    fn end_open_spans(&mut self) {
        let now = clock::now();
        let scope = crate::bindings::scope(env!("CARGO_PKG_NAME").to_owned());
        for (context, start) in std::mem::take(&mut self.open) {
            self.spans.push(SpanData {
                span_context: context,
                parent_span_id: String::new(),
                span_kind: SpanKind::Internal,
                name: "unended span".to_owned(),
                start_time: start,
                end_time: now,
                attributes: vec![crate::KeyValue::new("wasm.span.unended", true).to_wit()],
                events: Vec::new(),
                links: Vec::new(),
                status: Status::Error("the guest never ended this span".to_owned()),
                instrumentation_scope: scope.clone(),
                dropped_attributes: 0,
                dropped_events: 0,
                dropped_links: 0,
            });
        }
    }
}

impl Backend for Portable {
    fn outer_span_context(&self) -> SpanContext {
        self.outer.clone()
    }

    fn on_start(&self, context: &SpanContext) {
        let mut state = self.state.borrow_mut();
        state.open.push((context.clone(), clock::now()));
    }

    fn on_end(&self, span: &SpanData) {
        let mut state = self.state.borrow_mut();
        let id = &span.span_context.span_id;
        if let Some(at) = state.open.iter().rposition(|(c, _)| &c.span_id == id) {
            state.open.remove(at);
        }
        state.spans.push(span.clone());
        if state.open.is_empty() || state.spans.len() >= BATCH {
            state.flush_spans();
            state.flush_logs();
        }
    }

    fn on_emit(&self, record: &LogRecord) {
        let mut state = self.state.borrow_mut();
        state.logs.push(record.clone());
        if state.logs.len() >= BATCH {
            state.flush_logs();
        }
    }

    fn export_metrics(&self, metrics: &ResourceMetrics) -> Result<(), String> {
        let mut state = self.state.borrow_mut();
        let line = json::metrics(&state.resource, metrics);
        state.sink.write_line(line);
        Ok(())
    }

    fn flush(&self) {
        // A panic while the state is borrowed leaves nothing safe to write.
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.end_open_spans();
            state.flush_spans();
            state.flush_logs();
        }
    }
}

/// The parent of root spans: `TRACEPARENT` from the environment, or none
/// (all-zero ids), in which case each root span starts a trace.
fn outer_from_env() -> SpanContext {
    let traceparent = std::env::var("TRACEPARENT").unwrap_or_default();
    let tracestate = std::env::var("TRACESTATE").unwrap_or_default();
    parse_traceparent(&traceparent, &tracestate).unwrap_or_else(no_parent)
}

/// The all-zero context that stands for no parent.
fn no_parent() -> SpanContext {
    SpanContext {
        trace_id: "0".repeat(id::TRACE_ID_LEN),
        span_id: "0".repeat(id::SPAN_ID_LEN),
        trace_flags: TraceFlags::empty(),
        is_remote: false,
        trace_state: Vec::new(),
    }
}

/// A W3C `traceparent` (version `00`) and its `tracestate`.
fn parse_traceparent(traceparent: &str, tracestate: &str) -> Option<SpanContext> {
    let mut parts = traceparent.trim().split('-');
    let (Some("00"), Some(trace_id), Some(span_id), Some(flags), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let trace_id = id::normalize(trace_id, id::TRACE_ID_LEN)?;
    let span_id = id::normalize(span_id, id::SPAN_ID_LEN)?;
    let flags = match flags.len() {
        2 => u8::from_str_radix(flags, 16).ok()?,
        _ => return None,
    };
    let trace_state = tracestate
        .split(',')
        .filter_map(|member| member.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(SpanContext {
        trace_id,
        span_id,
        trace_flags: match flags & 1 {
            1 => TraceFlags::SAMPLED,
            _ => TraceFlags::empty(),
        },
        is_remote: true,
        trace_state,
    })
}

/// Arranges for held telemetry to be written when the guest exits, by
/// returning from `main` or by `std::process::exit` (both run the C
/// library's exit handlers), and when it panics (a panic aborts on WASI,
/// so only the panic hook runs).
fn flush_at_exit() {
    #[cfg(target_os = "wasi")]
    {
        unsafe extern "C" {
            fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
        }
        extern "C" fn flush() {
            crate::backend::flush();
        }
        // SAFETY: `flush` is a plain function that never unwinds; WASI's
        // C library runs it once at exit.
        unsafe {
            atexit(flush);
        }
    }

    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        crate::backend::flush();
    }));
}

#[cfg(test)]
mod tests;
