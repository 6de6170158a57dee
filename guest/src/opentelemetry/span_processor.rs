//! Spans of the OpenTelemetry SDK, sent through `wasi:otel` as they start
//! and end.

use std::time::Duration;

use ::opentelemetry::Context;
use ::opentelemetry::trace::Span as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::convert;
use crate::backend;

/// A span processor for an `SdkTracerProvider`: it calls `on-start` when a
/// span starts and `on-end` with all its data when it ends, keeping the
/// ids, parent, times, attributes, events, links and status the SDK gave
/// it. It holds nothing back, so flushing and shutting down have nothing
/// to do.
///
/// Use it in place of the SDK's batch processor, which needs a thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasiSpanProcessor {
    _private: (),
}

impl WasiSpanProcessor {
    /// The processor.
    pub fn new() -> Self {
        WasiSpanProcessor::default()
    }
}

impl SpanProcessor for WasiSpanProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        let context = convert::span_context(span.span_context());
        backend::current().on_start(&context);
    }

    fn on_end(&self, span: SpanData) {
        backend::current().on_end(&convert::span_data(&span));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
