//! A bridge from the `opentelemetry` crate's SDK to `wasi:otel`, with the
//! cargo feature `opentelemetry`: code already instrumented with the
//! `opentelemetry` API (0.33) runs in a guest unchanged, once its
//! providers are built with these parts.
//!
//! ```no_run
//! use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
//! use opentelemetry::metrics::MeterProvider;
//! use opentelemetry_sdk::logs::SdkLoggerProvider;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use wasm_otel_guest::opentelemetry::{
//!     WasiLogProcessor, WasiMetricReader, WasiSpanProcessor, outer_context,
//! };
//!
//! let tracers = SdkTracerProvider::builder()
//!     .with_span_processor(WasiSpanProcessor::new())
//!     .build();
//! let loggers = SdkLoggerProvider::builder()
//!     .with_log_processor(WasiLogProcessor::new())
//!     .build();
//! let meters = SdkMeterProvider::builder()
//!     .with_reader(WasiMetricReader::new())
//!     .build();
//!
//! // Root spans started under the host's span join the host's trace.
//! let _outer = outer_context().attach();
//! let tracer = tracers.tracer("my-guest");
//! tracer.in_span("work", |_cx| {
//!     meters.meter("my-guest").u64_counter("items").build().add(3, &[]);
//! });
//!
//! // Metrics leave only when the meter provider is flushed or shut down.
//! meters.shutdown().expect("the host took the metrics");
//! ```
//!
//! What works on wasm32-wasip1, which cannot start threads: the SDK's
//! providers, tracers, loggers, meters, samplers, id generators and the
//! `ManualReader` build and run. Its batch span and log processors spawn
//! a worker thread when built and panic when that fails ("Failed to
//! spawn thread"), which traps the guest: use [`WasiSpanProcessor`] and
//! [`WasiLogProcessor`], which send each span and record at once. Its
//! `PeriodicReader` builds, but without its thread every flush and
//! shutdown fails ("sending on a closed channel") and nothing is
//! exported: use [`WasiMetricReader`], which exports when the meter
//! provider is flushed or shut down (or its last clone dropped).
//! `WasiMetricReader` implements the SDK's `MetricReader`, public only
//! with the SDK's `experimental_metrics_custom_reader` feature, which
//! this crate turns on.
//!
//! The SDK's resource is not forwarded: spans and log records have no
//! field for it, and the host names the service for every signal of the
//! run.

mod convert;
mod log_processor;
mod metric_reader;
mod span_processor;

use ::opentelemetry::Context;
use ::opentelemetry::trace::TraceContextExt;

pub use log_processor::WasiLogProcessor;
pub use metric_reader::{WasiMetricExporter, WasiMetricReader};
pub use span_processor::WasiSpanProcessor;

use crate::trace;

/// A context whose span is the host's span for the run, as a remote
/// parent: attach it (`outer_context().attach()`) or start root spans
/// with it (`tracer.start_with_context(name, &outer_context())`) so they
/// join the host's trace. An empty context when the host offers no valid
/// span.
pub fn outer_context() -> Context {
    let outer = trace::outer().and_then(|outer| convert::otel_span_context(&outer));
    match outer {
        Some(span_context) => Context::new().with_remote_span_context(span_context),
        None => Context::new(),
    }
}

#[cfg(test)]
mod tests;
