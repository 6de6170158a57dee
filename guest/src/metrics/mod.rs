//! Metrics: meters, their instruments, and the flush that sends what they
//! measured to the host.
//!
//! Instruments aggregate in the guest, one point per attribute set, with
//! cumulative temporality: every flush sends the totals since each
//! instrument's first measurement, which is also the start time of its
//! points. Nothing reaches the host until [`flush`] is called, or a
//! [`FlushGuard`] is dropped; a flush sends every instrument of the thread
//! that has been used, under every meter, as one `resource-metrics`.
//!
//! ```
//! use wasm_otel_guest::KeyValue;
//! use wasm_otel_guest::metrics::{self, Meter};
//!
//! let meter = Meter::new("shop").with_version("1.0.0");
//! let orders = meter.u64_counter("shop.orders").with_unit("{order}").build();
//! let amount = meter
//!     .f64_histogram("shop.order.amount")
//!     .with_unit("EUR")
//!     .with_boundaries([10.0, 50.0, 100.0])
//!     .build();
//!
//! orders.add(1, &[KeyValue::new("shop.payment", "card")]);
//! amount.record(27.5, &[]);
//! metrics::flush()?;
//! # Ok::<(), wasm_otel_guest::metrics::ExportError>(())
//! ```
//!
//! Instruments belong to the thread that built them, as open spans do; a
//! guest built for `wasm32-wasip1` has one thread.

pub(crate) mod aggregate;
mod instruments;

use std::error::Error;
use std::fmt;

pub use instruments::{
    Counter, DEFAULT_HISTOGRAM_BOUNDARIES, Gauge, Histogram, InstrumentBuilder, UpDownCounter,
};

use crate::backend;
use crate::bindings::types::InstrumentationScope;

/// A source of instruments, named after the library or program that
/// measures.
///
/// The name and version become the instrumentation scope of every metric
/// the meter's instruments send.
#[derive(Clone, Debug)]
pub struct Meter {
    scope: InstrumentationScope,
}

impl Meter {
    /// A meter for the instrumentation scope `name`, with no version.
    pub fn new(name: impl Into<String>) -> Self {
        Meter {
            scope: crate::bindings::scope(name.into()),
        }
    }

    /// Sets the scope's version, such as `env!("CARGO_PKG_VERSION")`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.scope.version = Some(version.into());
        self
    }

    /// Prepares a counter of unsigned integers.
    pub fn u64_counter(&self, name: impl Into<String>) -> InstrumentBuilder<Counter<u64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a counter of doubles.
    pub fn f64_counter(&self, name: impl Into<String>) -> InstrumentBuilder<Counter<f64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares an up-down counter of signed integers.
    pub fn i64_up_down_counter(
        &self,
        name: impl Into<String>,
    ) -> InstrumentBuilder<UpDownCounter<i64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a histogram of doubles.
    pub fn f64_histogram(&self, name: impl Into<String>) -> InstrumentBuilder<Histogram<f64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a histogram of unsigned integers.
    pub fn u64_histogram(&self, name: impl Into<String>) -> InstrumentBuilder<Histogram<u64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a gauge of doubles.
    pub fn f64_gauge(&self, name: impl Into<String>) -> InstrumentBuilder<Gauge<f64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a gauge of signed integers.
    pub fn i64_gauge(&self, name: impl Into<String>) -> InstrumentBuilder<Gauge<i64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }

    /// Prepares a gauge of unsigned integers.
    pub fn u64_gauge(&self, name: impl Into<String>) -> InstrumentBuilder<Gauge<u64>> {
        InstrumentBuilder::new(&self.scope, name.into())
    }
}

/// Sends everything this thread's instruments have measured, as one
/// `resource-metrics`, through `metrics.export`. Instruments never used
/// are left out, and nothing is sent when none was used.
///
/// The totals are kept: the next flush sends them again, grown by what
/// was measured meanwhile.
///
/// # Errors
///
/// The host's reason, when it refuses the export.
pub fn flush() -> Result<(), ExportError> {
    let Some(metrics) = aggregate::collect() else {
        return Ok(());
    };
    backend::current()
        .export_metrics(&metrics)
        .map_err(ExportError)
}

/// A guard that calls [`flush`] when dropped, so that a guest's metrics
/// are sent however `main` returns. Made by [`flush_on_drop`].
///
/// Dropping cannot report a refused export; [`FlushGuard::finish`] flushes
/// and returns the host's answer. Like every drop, it does not run when
/// the program ends with `std::process::exit`.
#[derive(Debug)]
#[must_use = "the guard flushes when it is dropped, so keep it until the end"]
pub struct FlushGuard {
    armed: bool,
}

/// A guard that flushes this thread's metrics when it is dropped; keep it
/// in `main`: `let _metrics = metrics::flush_on_drop();`.
pub fn flush_on_drop() -> FlushGuard {
    FlushGuard { armed: true }
}

impl FlushGuard {
    /// Flushes now, and not again on drop.
    ///
    /// # Errors
    ///
    /// The host's reason, when it refuses the export.
    pub fn finish(mut self) -> Result<(), ExportError> {
        self.armed = false;
        flush()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if self.armed {
            // There is no caller to hand a refusal to; `finish` has one.
            let _ = flush();
        }
    }
}

/// The host refused a metrics export, for the reason it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportError(String);

impl ExportError {
    /// The host's reason, as it gave it.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the host refused the metrics export: {}", self.0)
    }
}

impl Error for ExportError {}

#[cfg(test)]
mod tests;
