//! The instruments a [`Meter`](super::Meter) makes, and their builder.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use super::aggregate::{self, Aggregation, Descriptor, Instrument, Number, NumberKind};
use crate::bindings::types::InstrumentationScope;
use crate::value::KeyValue;

/// The bucket bounds of a histogram built without
/// [`InstrumentBuilder::with_boundaries`]: the OpenTelemetry SDKs' default.
pub const DEFAULT_HISTOGRAM_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The handle every instrument type wraps: the shared state in this
/// thread's registry, typed by what the instrument takes.
struct Handle<T> {
    instrument: Rc<RefCell<Instrument>>,
    number: PhantomData<fn(T)>,
}

impl<T> Handle<T> {
    fn record(&self, value: Number, attributes: &[KeyValue]) {
        self.instrument.borrow_mut().record(value, attributes);
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Handle {
            instrument: Rc::clone(&self.instrument),
            number: PhantomData,
        }
    }
}

macro_rules! instrument_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $(
            $(#[$doc])*
            pub struct $name<T>(Handle<T>);

            impl<T> Clone for $name<T> {
                fn clone(&self) -> Self {
                    $name(self.0.clone())
                }
            }

            impl<T> fmt::Debug for $name<T> {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.debug_tuple(stringify!($name))
                        .field(&self.0.instrument)
                        .finish()
                }
            }
        )*
    };
}

instrument_types! {
    /// A sum that only grows, such as requests served: exported as a
    /// monotonic cumulative sum. Made by [`Meter::u64_counter`] or
    /// [`Meter::f64_counter`](super::Meter::f64_counter).
    ///
    /// [`Meter::u64_counter`]: super::Meter::u64_counter
    Counter;
    /// A sum that grows and shrinks, such as items in a queue: exported as
    /// a non-monotonic cumulative sum. Made by
    /// [`Meter::i64_up_down_counter`](super::Meter::i64_up_down_counter).
    UpDownCounter;
    /// A distribution of measurements, such as request durations: exported
    /// as a cumulative histogram with explicit bucket bounds. Made by
    /// [`Meter::f64_histogram`](super::Meter::f64_histogram) or
    /// [`Meter::u64_histogram`](super::Meter::u64_histogram).
    Histogram;
    /// The latest value of something, such as a temperature: exported as a
    /// gauge holding the last value of each attribute set. Made by
    /// [`Meter::f64_gauge`](super::Meter::f64_gauge) and its `i64` and
    /// `u64` siblings.
    Gauge;
}

impl Counter<u64> {
    /// Adds `value` to the total of `attributes`.
    pub fn add(&self, value: u64, attributes: &[KeyValue]) {
        self.0.record(Number::U64(value), attributes);
    }
}

impl Counter<f64> {
    /// Adds `value` to the total of `attributes`. A negative value, NaN or
    /// an infinity is dropped, since a counter only grows.
    pub fn add(&self, value: f64, attributes: &[KeyValue]) {
        self.0.record(Number::F64(value), attributes);
    }
}

impl UpDownCounter<i64> {
    /// Adds `value`, which may be negative, to the total of `attributes`.
    pub fn add(&self, value: i64, attributes: &[KeyValue]) {
        self.0.record(Number::I64(value), attributes);
    }
}

impl Histogram<f64> {
    /// Records `value` in the distribution of `attributes`. NaN and the
    /// infinities are dropped.
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        self.0.record(Number::F64(value), attributes);
    }
}

impl Histogram<u64> {
    /// Records `value` in the distribution of `attributes`.
    pub fn record(&self, value: u64, attributes: &[KeyValue]) {
        self.0.record(Number::U64(value), attributes);
    }
}

impl Gauge<f64> {
    /// Sets the value of `attributes`. NaN and the infinities are dropped.
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        self.0.record(Number::F64(value), attributes);
    }
}

impl Gauge<i64> {
    /// Sets the value of `attributes`.
    pub fn record(&self, value: i64, attributes: &[KeyValue]) {
        self.0.record(Number::I64(value), attributes);
    }
}

impl Gauge<u64> {
    /// Sets the value of `attributes`.
    pub fn record(&self, value: u64, attributes: &[KeyValue]) {
        self.0.record(Number::U64(value), attributes);
    }
}

/// An instrument about to be made: set its description, unit and, for a
/// histogram, its bucket bounds, then call `build`.
///
/// Building the same name twice with the same settings in one meter gives
/// the same instrument: measurements through either add up.
#[must_use = "an instrument is only made once `build` is called"]
pub struct InstrumentBuilder<I> {
    scope: InstrumentationScope,
    name: String,
    description: String,
    unit: String,
    boundaries: Option<Vec<f64>>,
    instrument: PhantomData<fn() -> I>,
}

impl<I> fmt::Debug for InstrumentBuilder<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentBuilder")
            .field("scope", &self.scope.name)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("unit", &self.unit)
            .field("boundaries", &self.boundaries)
            .finish()
    }
}

impl<I> InstrumentBuilder<I> {
    pub(super) fn new(scope: &InstrumentationScope, name: String) -> Self {
        InstrumentBuilder {
            scope: scope.clone(),
            name,
            description: String::new(),
            unit: String::new(),
            boundaries: None,
            instrument: PhantomData,
        }
    }

    /// Describes what the instrument measures, for a person; empty by
    /// default.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the unit as a UCUM code, such as `ms`, `By` or `{order}`;
    /// empty by default.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    fn register<T>(self, aggregation: Aggregation, number: NumberKind) -> Handle<T> {
        let descriptor = Descriptor {
            name: self.name,
            description: self.description,
            unit: self.unit,
            aggregation,
            number,
        };
        Handle {
            instrument: aggregate::register(&self.scope, descriptor),
            number: PhantomData,
        }
    }
}

impl<T> InstrumentBuilder<Histogram<T>> {
    /// Sets the upper bounds of the buckets; the default is
    /// [`DEFAULT_HISTOGRAM_BOUNDARIES`]. Bounds that are NaN or infinite
    /// are left out, and the rest are sorted with repeats removed. A value
    /// equal to a bound counts in that bound's bucket.
    pub fn with_boundaries(mut self, boundaries: impl Into<Vec<f64>>) -> Self {
        self.boundaries = Some(boundaries.into());
        self
    }

    fn histogram_bounds(&mut self) -> Aggregation {
        let mut bounds = self
            .boundaries
            .take()
            .unwrap_or_else(|| DEFAULT_HISTOGRAM_BOUNDARIES.to_vec());
        bounds.retain(|b| b.is_finite());
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        Aggregation::Histogram { bounds }
    }
}

impl InstrumentBuilder<Counter<u64>> {
    /// Makes the counter.
    pub fn build(self) -> Counter<u64> {
        Counter(self.register(Aggregation::Sum { monotonic: true }, NumberKind::U64))
    }
}

impl InstrumentBuilder<Counter<f64>> {
    /// Makes the counter.
    pub fn build(self) -> Counter<f64> {
        Counter(self.register(Aggregation::Sum { monotonic: true }, NumberKind::F64))
    }
}

impl InstrumentBuilder<UpDownCounter<i64>> {
    /// Makes the up-down counter.
    pub fn build(self) -> UpDownCounter<i64> {
        UpDownCounter(self.register(Aggregation::Sum { monotonic: false }, NumberKind::I64))
    }
}

impl InstrumentBuilder<Histogram<f64>> {
    /// Makes the histogram.
    pub fn build(mut self) -> Histogram<f64> {
        let aggregation = self.histogram_bounds();
        Histogram(self.register(aggregation, NumberKind::F64))
    }
}

impl InstrumentBuilder<Histogram<u64>> {
    /// Makes the histogram.
    pub fn build(mut self) -> Histogram<u64> {
        let aggregation = self.histogram_bounds();
        Histogram(self.register(aggregation, NumberKind::U64))
    }
}

impl InstrumentBuilder<Gauge<f64>> {
    /// Makes the gauge.
    pub fn build(self) -> Gauge<f64> {
        Gauge(self.register(Aggregation::Gauge, NumberKind::F64))
    }
}

impl InstrumentBuilder<Gauge<i64>> {
    /// Makes the gauge.
    pub fn build(self) -> Gauge<i64> {
        Gauge(self.register(Aggregation::Gauge, NumberKind::I64))
    }
}

impl InstrumentBuilder<Gauge<u64>> {
    /// Makes the gauge.
    pub fn build(self) -> Gauge<u64> {
        Gauge(self.register(Aggregation::Gauge, NumberKind::U64))
    }
}
