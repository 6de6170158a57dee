//! Log records of the OpenTelemetry SDK, sent through `wasi:otel` as they
//! are emitted.

use std::time::Duration;

use ::opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};

use super::convert;
use crate::backend;

/// A log processor for an `SdkLoggerProvider`: it calls `on-emit` with
/// each record as the SDK emits it. Timestamps, severity, body,
/// attributes, event name and trace context are kept as they are; the SDK
/// fills the trace context from the active span. A record's target, when
/// set, names its scope, as the SDK's OTLP exporter does. It holds nothing
/// back, so flushing and shutting down have nothing to do.
///
/// Use it in place of the SDK's batch processor, which needs a thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasiLogProcessor {
    _private: (),
}

impl WasiLogProcessor {
    /// The processor.
    pub fn new() -> Self {
        WasiLogProcessor::default()
    }
}

impl LogProcessor for WasiLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        backend::current().on_emit(&convert::log_record(record, scope));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
