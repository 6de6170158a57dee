//! The host side of `wasi:otel`: what a guest reports becomes OpenTelemetry
//! SDK data with the guest's own ids and timestamps.
//!
//! Everything a guest sends is untrusted. A span that cannot be kept is
//! dropped and counted by reason; a field that can be repaired is repaired
//! and counted. Nothing here traps the guest or panics the host.

mod convert;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, TraceFlags};

use crate::export::Pipeline;

pub use convert::{convert_span, json_to_value};

/// Generated bindings for `wasi:otel@0.2.0-rc.2`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasm-otel:guest/guest",
    });
}

use bindings::wasi::otel as wit;

/// How many spans a guest may have open (started, not yet ended) at once
/// before further starts stop being tracked.
const MAX_OPEN_SPANS: usize = 10_000;

/// What one guest instance has reported, and where its spans go.
pub struct GuestTelemetry {
    pipeline: Arc<Pipeline>,
    outer: SpanContext,
    open: HashSet<String>,
    stats: TelemetryStats,
}

/// Counts of what a guest sent and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Spans handed to the exporter.
    pub spans: u64,
    /// Log records received. This host does not export logs yet, so each
    /// one is also counted in `dropped` under `logs_not_exported`.
    pub logs: u64,
    /// Metric exports received; counted in `dropped` under
    /// `metrics_not_exported` for the same reason.
    pub metric_exports: u64,
    /// Items dropped or repaired, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
}

impl TelemetryStats {
    /// Counts one item dropped or repaired for `reason`.
    pub fn count(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    /// The total over every reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

impl GuestTelemetry {
    /// Telemetry for one guest whose root spans hang under `outer`.
    pub fn new(pipeline: Arc<Pipeline>, outer: SpanContext) -> Self {
        Self {
            pipeline,
            outer,
            open: HashSet::new(),
            stats: TelemetryStats::default(),
        }
    }

    /// What the guest has reported so far.
    pub fn stats(&self) -> &TelemetryStats {
        &self.stats
    }

    /// Spans the guest started and never ended.
    pub fn open_spans(&self) -> usize {
        self.open.len()
    }
}

impl wit::types::Host for GuestTelemetry {}

impl wit::tracing::Host for GuestTelemetry {
    fn on_start(&mut self, context: wit::tracing::SpanContext) {
        if self.open.len() >= MAX_OPEN_SPANS {
            self.stats.count("open_spans_untracked");
            return;
        }
        self.open.insert(context.span_id);
    }

    fn on_end(&mut self, span: wit::tracing::SpanData) {
        self.open.remove(&span.span_context.span_id);
        match convert_span(span, &mut self.stats) {
            Ok(data) => {
                self.stats.spans += 1;
                self.pipeline.on_end(data);
            }
            Err(reason) => self.stats.count(reason),
        }
    }

    fn outer_span_context(&mut self) -> wit::tracing::SpanContext {
        let sampled = self.outer.trace_flags().is_sampled();
        wit::tracing::SpanContext {
            trace_id: self.outer.trace_id().to_string(),
            span_id: self.outer.span_id().to_string(),
            trace_flags: if sampled {
                wit::tracing::TraceFlags::SAMPLED
            } else {
                wit::tracing::TraceFlags::empty()
            },
            // Seen from inside the guest, the host's span is remote.
            is_remote: true,
            trace_state: trace_state_pairs(self.outer.trace_state()),
        }
    }
}

impl wit::logs::Host for GuestTelemetry {
    fn on_emit(&mut self, _data: wit::logs::LogRecord) {
        self.stats.logs += 1;
        self.stats.count("logs_not_exported");
    }
}

impl wit::metrics::Host for GuestTelemetry {
    fn export(&mut self, _metrics: wit::metrics::ResourceMetrics) -> Result<(), String> {
        self.stats.metric_exports += 1;
        self.stats.count("metrics_not_exported");
        Ok(())
    }
}

fn trace_state_pairs(state: &opentelemetry::trace::TraceState) -> Vec<(String, String)> {
    let header = state.header();
    header
        .split(',')
        .filter_map(|member| member.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Links the four `wasi:otel` interfaces into `linker`, reaching the
/// guest's [`GuestTelemetry`] through `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut GuestTelemetry,
) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    wit::types::add_to_linker::<T, HasSelf<GuestTelemetry>>(linker, get)?;
    wit::tracing::add_to_linker::<T, HasSelf<GuestTelemetry>>(linker, get)?;
    wit::logs::add_to_linker::<T, HasSelf<GuestTelemetry>>(linker, get)?;
    wit::metrics::add_to_linker::<T, HasSelf<GuestTelemetry>>(linker, get)?;
    Ok(())
}

/// The trace flags a guest sent, as SDK flags.
fn trace_flags(flags: wit::tracing::TraceFlags) -> TraceFlags {
    if flags.contains(wit::tracing::TraceFlags::SAMPLED) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    }
}
