//! The host side of `wasi:otel`: what a guest reports becomes OpenTelemetry
//! SDK data with the guest's own ids and timestamps.
//!
//! Everything a guest sends is untrusted. A span that cannot be kept is
//! dropped and counted by reason; a field that can be repaired is repaired
//! and counted. Nothing here traps the guest or panics the host.

mod budget;
mod convert;
#[cfg(test)]
mod fuzz;
mod logs;
mod metrics;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceFlags};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::export::Pipeline;
use crate::ids;

pub use budget::Budget;
pub use convert::{Clean, convert_span, json_to_value};
pub use logs::{convert_log, nanos};
pub use metrics::convert_metrics;

/// Generated bindings for `wasi:otel@0.2.0-rc.2`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasm-otel:guest/guest",
    });
}

use bindings::wasi::otel as wit;

/// The error string a metric export past the budget is refused with.
const EXPORTS_USED_UP: &str = "wasm-otel: the metric export budget of this run is used up";

/// What one guest instance has reported, and where it goes.
pub struct GuestTelemetry {
    pipeline: Arc<Pipeline>,
    outer: SpanContext,
    budget: Budget,
    /// Spans started and not yet ended: their trace id and start time.
    open: HashMap<String, (String, SystemTime)>,
    stats: TelemetryStats,
}

/// Counts of what a guest sent and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Spans handed to the exporter.
    pub spans: u64,
    /// Log records handed to the exporter.
    pub logs: u64,
    /// Metric exports handed to the exporter.
    pub metric_exports: u64,
    /// Items dropped or repaired, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
}

impl TelemetryStats {
    /// Counts one item dropped or repaired for `reason`.
    pub fn count(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &TelemetryStats) {
        self.spans += other.spans;
        self.logs += other.logs;
        self.metric_exports += other.metric_exports;
        for (reason, count) in &other.dropped {
            *self.dropped.entry(reason).or_default() += count;
        }
    }

    /// The total over every reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

impl GuestTelemetry {
    /// Telemetry for one guest whose root spans hang under `outer`, within
    /// `budget`.
    pub fn new(pipeline: Arc<Pipeline>, outer: SpanContext, budget: Budget) -> Self {
        Self {
            pipeline,
            outer,
            budget,
            open: HashMap::new(),
            stats: TelemetryStats::default(),
        }
    }

    /// What the guest has reported so far.
    pub fn stats(&self) -> &TelemetryStats {
        &self.stats
    }

    /// Counts one item dropped or repaired for `reason`, found before the
    /// item reached this bridge.
    pub fn count(&mut self, reason: &'static str) {
        self.stats.count(reason);
    }

    /// A span from a portable guest's OTLP lines: ended when it arrives,
    /// with no `on-start` before it.
    pub fn on_portable_span(&mut self, span: wit::tracing::SpanData) {
        self.keep_span(span);
    }

    fn clean(&mut self) -> Clean<'_> {
        Clean {
            budget: &self.budget,
            stats: &mut self.stats,
        }
    }

    /// Ends the run's telemetry: spans the guest started and never ended
    /// are exported, ending at `end`, so their children are not orphans.
    /// They carry `wasm.span.unended = true`, have the run's span as
    /// parent (their own is not known), and are counted
    /// (`span_never_ended`).
    pub fn finish(&mut self, end: SystemTime) {
        let scope = InstrumentationScope::builder("wasm-otel").build();
        for (span_id, (trace_id, start)) in std::mem::take(&mut self.open) {
            self.stats.count("span_never_ended");
            let (Ok(trace_id), Ok(span_id)) =
                (ids::parse_trace_id(&trace_id), ids::parse_span_id(&span_id))
            else {
                continue;
            };
            self.pipeline.on_span(SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    span_id,
                    self.outer.trace_flags(),
                    false,
                    Default::default(),
                ),
                parent_span_id: self.outer.span_id(),
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: Cow::Borrowed("unended span"),
                start_time: start,
                end_time: end.max(start),
                attributes: vec![KeyValue::new("wasm.span.unended", true)],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::error("the guest never ended this span"),
                instrumentation_scope: scope.clone(),
            });
        }
    }
}

impl wit::types::Host for GuestTelemetry {}

impl wit::tracing::Host for GuestTelemetry {
    fn on_start(&mut self, context: wit::tracing::SpanContext) {
        if self.open.len() >= self.budget.open_spans {
            self.stats.count("open_spans_over_limit");
            return;
        }
        let mut span_id = context.span_id;
        let mut trace_id = context.trace_id;
        // Ids are checked when the span ends; here they only need to stay
        // small.
        budget::truncate(&mut span_id, ids::SPAN_ID_HEX_LEN);
        budget::truncate(&mut trace_id, ids::TRACE_ID_HEX_LEN);
        self.open.insert(span_id, (trace_id, SystemTime::now()));
    }

    fn on_end(&mut self, span: wit::tracing::SpanData) {
        if self.open.remove(&span.span_context.span_id).is_none() {
            self.stats.count("span_end_without_start");
        }
        self.keep_span(span);
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

impl GuestTelemetry {
    /// Checks an ended span and hands it to the exporter, within budget.
    fn keep_span(&mut self, span: wit::tracing::SpanData) {
        if self.stats.spans >= self.budget.spans {
            self.stats.count("spans_over_limit");
            return;
        }
        match convert_span(span, &mut self.clean()) {
            Ok(data) => {
                self.stats.spans += 1;
                self.pipeline.on_span(data);
            }
            Err(reason) => self.stats.count(reason),
        }
    }
}

impl wit::logs::Host for GuestTelemetry {
    fn on_emit(&mut self, data: wit::logs::LogRecord) {
        if self.stats.logs >= self.budget.logs {
            self.stats.count("logs_over_limit");
            return;
        }
        let pipeline = self.pipeline.clone();
        let outer = self.outer.clone();
        let item = convert_log(data, &outer, pipeline.resource(), &mut self.clean());
        self.stats.logs += 1;
        pipeline.on_log(item);
    }
}

impl wit::metrics::Host for GuestTelemetry {
    fn export(&mut self, metrics: wit::metrics::ResourceMetrics) -> Result<(), String> {
        if self.stats.metric_exports >= self.budget.metric_exports {
            self.stats.count("metric_exports_over_limit");
            return Err(EXPORTS_USED_UP.to_owned());
        }
        let pipeline = self.pipeline.clone();
        let converted = convert_metrics(metrics, pipeline.resource(), &mut self.clean());
        self.stats.metric_exports += 1;
        pipeline.on_metrics(converted);
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
