//! Spans, logs and metrics for Rust WebAssembly guests, sent to the host
//! through the standard `wasi:otel` interface.
//!
//! Build the guest for `wasm32-wasip1`. A span started while another is
//! open becomes its child; a span with no open parent hangs under the
//! host's span for the run, so the guest's spans join the host's trace.
//! Dropping a [`Span`] ends it.
//!
//! ```
//! use wasm_otel_guest::{KeyValue, Status, Tracer};
//!
//! let tracer = Tracer::new("shop").with_version("1.0.0");
//! let mut order = tracer.span("order.place").attribute("order.items", 3).start();
//! {
//!     let mut check = tracer.span("order.check_stock").start();
//!     check.add_event("stock.low", &[KeyValue::new("stock.left", 2)]);
//! }
//! order.set_attribute("order.total", 27.5);
//! order.set_status(Status::Ok);
//! order.end();
//! ```
//!
//! A [`Logger`] emits log records, tied to the innermost open span; a
//! [`Meter`] makes counters, histograms and gauges that aggregate in the
//! guest and reach the host when [`metrics::flush`] is called:
//!
//! ```
//! use wasm_otel_guest::{KeyValue, Logger, Meter, metrics};
//!
//! let logger = Logger::new("shop");
//! logger.warn("stock is low").attribute("stock.left", 2).emit();
//!
//! let orders = Meter::new("shop").u64_counter("shop.orders").build();
//! orders.add(1, &[KeyValue::new("shop.payment", "card")]);
//! metrics::flush()?;
//! # Ok::<(), metrics::ExportError>(())
//! ```
//!
//! Two cargo features bring other instrumentation in: `tracing`, a layer
//! that sends `tracing` spans and events (module `tracing`), and
//! `opentelemetry`, processors and a metric reader for the OpenTelemetry
//! SDK (module `opentelemetry`).
//!
//! Off wasm32 there is no host to send telemetry to: spans get ids and
//! parents as usual and are dropped when they end, as are log records
//! and metrics.

#![deny(missing_docs)]

mod backend;
mod bindings;
mod clock;
mod id;
mod logs;
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod opentelemetry;
#[cfg(any(feature = "portable", test))]
mod portable;
mod trace;
#[cfg(feature = "tracing")]
pub mod tracing;
mod value;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

pub use logs::{LogBuilder, Logger, Severity};
pub use metrics::Meter;
pub use trace::{Span, SpanBuilder, SpanContext, SpanKind, Status, Tracer};
pub use value::{KeyValue, Value};

/// Prepares a span named `name` from this crate's own tracer, whose scope
/// is `wasm-otel-guest` at the crate's version. Use a [`Tracer`] named
/// after your program to have spans show where they came from.
pub fn span(name: impl Into<String>) -> SpanBuilder {
    Tracer::new(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .span(name)
}
