//! The `wasm.run` span: opened before the guest starts, finished with the
//! outcome and what the run measured.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::outcome::{Ended, Outcome};
use crate::ids;
use crate::telemetry::TelemetryStats;

/// What a run measured, beside how it ended.
#[derive(Debug, Default)]
pub struct RunFacts {
    /// How guest code stopped.
    pub ended: Ended,
    /// What the guest's telemetry amounted to.
    pub stats: TelemetryStats,
    /// Fuel used, when metered.
    pub fuel_consumed: Option<u64>,
    /// All the guest's linear memories at their largest, in bytes; unknown
    /// when the run was ended from outside while the guest was blocked.
    pub peak_memory: Option<usize>,
    /// Whether a memory growth was refused at the cap.
    pub memory_denied: bool,
    /// Guest output discarded past `--max-output`, in bytes.
    pub output_dropped: u64,
}

/// The run's span, before it is finished.
#[derive(Debug, Clone)]
pub struct RunSpan {
    /// Its context, handed to the guest as `outer-span-context`.
    pub context: SpanContext,
    /// The caller's span, or the invalid id when the run is a root.
    pub parent: SpanId,
    /// When the run started.
    pub started: SystemTime,
    /// The file's name.
    pub module_name: String,
    /// What the file turned out to be.
    pub kind: &'static str,
}

impl RunSpan {
    /// A run's span, opened at `started`: a child of `parent` in its
    /// trace when given, else the root of a new, sampled trace.
    pub fn open(
        parent: Option<&SpanContext>,
        started: SystemTime,
        module_name: &str,
        kind: &'static str,
    ) -> RunSpan {
        let (trace_id, flags, parent_id, trace_state) = match parent {
            Some(parent) => (
                parent.trace_id(),
                parent.trace_flags(),
                parent.span_id(),
                parent.trace_state().clone(),
            ),
            None => (
                ids::new_trace_id(),
                TraceFlags::SAMPLED,
                SpanId::INVALID,
                TraceState::default(),
            ),
        };
        RunSpan {
            context: SpanContext::new(trace_id, ids::new_span_id(), flags, false, trace_state),
            parent: parent_id,
            started,
            module_name: module_name.to_owned(),
            kind,
        }
    }

    /// The finished span, ending at `end`, with the outcome recorded on it.
    pub fn finish(&self, outcome: &Outcome, facts: &RunFacts, end: SystemTime) -> SpanData {
        let mut attributes = vec![
            KeyValue::new("wasm.module.name", self.module_name.clone()),
            KeyValue::new("wasm.module.kind", self.kind),
        ];
        match outcome {
            Outcome::Exited(code) => {
                attributes.push(KeyValue::new("wasm.exit_code", i64::from(*code)));
            }
            Outcome::MemoryLimit {
                exit_code: Some(code),
                ..
            } => attributes.push(KeyValue::new("wasm.exit_code", i64::from(*code))),
            _ => {}
        }
        if let Some(kind) = outcome.trap_kind() {
            attributes.push(KeyValue::new("wasm.trap", kind.to_owned()));
        }
        if let Some(fuel) = facts.fuel_consumed {
            attributes.push(KeyValue::new("wasm.fuel.consumed", clamp(fuel)));
        }
        if let Some(peak) = facts.peak_memory {
            attributes.push(KeyValue::new("wasm.memory.peak_bytes", clamp(peak as u64)));
        }
        attributes.push(KeyValue::new(
            "wasm.output.dropped_bytes",
            clamp(facts.output_dropped),
        ));
        attributes.push(KeyValue::new(
            "wasm.telemetry.spans",
            clamp(facts.stats.spans),
        ));
        attributes.push(KeyValue::new(
            "wasm.telemetry.dropped",
            clamp(facts.stats.dropped_total()),
        ));
        for (reason, count) in &facts.stats.dropped {
            attributes.push(KeyValue::new(
                format!("wasm.telemetry.dropped.{reason}"),
                clamp(*count),
            ));
        }

        let status = match (outcome, outcome.message()) {
            (Outcome::Exited(0), _) => Status::Ok,
            (Outcome::Exited(code), _) => Status::error(format!("guest exited with code {code}")),
            (_, Some(message)) => Status::error(message),
            (_, None) => Status::Unset,
        };

        SpanData {
            span_context: self.context.clone(),
            parent_span_id: self.parent,
            parent_span_is_remote: self.parent != SpanId::INVALID,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed("wasm.run"),
            start_time: self.started,
            end_time: end,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: InstrumentationScope::builder("wasm-otel")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }
}

/// OTLP integers are signed.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
