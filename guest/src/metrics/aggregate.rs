//! Aggregation in the guest: each instrument keeps one point per attribute
//! set, cumulative from its first measurement, and this thread's registry
//! turns them all into one `resource-metrics` when asked.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::bindings::Datetime;
use crate::bindings::metrics as wit;
use crate::bindings::types::{self, InstrumentationScope, Resource};
use crate::clock;
use crate::value::KeyValue;

/// Attribute sets an instrument keeps apart before it folds every new one
/// into a single overflow point, as OpenTelemetry SDKs do by default.
pub(crate) const CARDINALITY_LIMIT: usize = 2000;

/// The attribute marking the overflow point.
pub(crate) const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

/// The numeric type an instrument measures in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberKind {
    /// Doubles.
    F64,
    /// Unsigned integers.
    U64,
    /// Signed integers.
    I64,
}

/// One measurement, or an aggregate of some, in the instrument's type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Number {
    /// A double.
    F64(f64),
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
}

impl Number {
    /// `self + other`, saturating for integers. Numbers of different
    /// kinds never meet: an instrument records in one kind only.
    fn plus(self, other: Number) -> Number {
        match (self, other) {
            (Number::F64(a), Number::F64(b)) => Number::F64(a + b),
            (Number::U64(a), Number::U64(b)) => Number::U64(a.saturating_add(b)),
            (Number::I64(a), Number::I64(b)) => Number::I64(a.saturating_add(b)),
            (a, _) => a,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::F64(f) => f,
            Number::U64(u) => u as f64,
            Number::I64(i) => i as f64,
        }
    }

    fn less_than(self, other: Number) -> bool {
        match (self, other) {
            (Number::U64(a), Number::U64(b)) => a < b,
            (Number::I64(a), Number::I64(b)) => a < b,
            (a, b) => a.as_f64() < b.as_f64(),
        }
    }

    fn to_wit(self) -> wit::MetricNumber {
        match self {
            Number::F64(f) => wit::MetricNumber::F64(f),
            Number::U64(u) => wit::MetricNumber::U64(u),
            Number::I64(i) => wit::MetricNumber::S64(i),
        }
    }
}

/// How an instrument aggregates what it measures.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Aggregation {
    /// A running total; `monotonic` for counters, which only grow.
    Sum {
        /// Whether the total only grows.
        monotonic: bool,
    },
    /// The last value measured.
    Gauge,
    /// Counts in buckets with these upper bounds, ascending and finite.
    Histogram {
        /// The buckets' upper bounds.
        bounds: Vec<f64>,
    },
}

/// What an instrument is: everything but its points.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Descriptor {
    /// The instrument's name.
    pub(crate) name: String,
    /// What it measures, for a person.
    pub(crate) description: String,
    /// Its unit, such as `ms` or `By`.
    pub(crate) unit: String,
    /// How it aggregates.
    pub(crate) aggregation: Aggregation,
    /// The type it measures in.
    pub(crate) number: NumberKind,
}

/// An attribute set as a map key: key and JSON value, sorted by key.
type AttributeSet = Vec<(String, String)>;

/// An instrument's state: its descriptor and its points so far.
#[derive(Debug)]
pub(crate) struct Instrument {
    descriptor: Descriptor,
    start: Option<Datetime>,
    points: BTreeMap<AttributeSet, Point>,
}

#[derive(Debug)]
enum Point {
    Sum(Number),
    Gauge(Number),
    Histogram(Buckets),
}

#[derive(Debug)]
struct Buckets {
    count: u64,
    counts: Vec<u64>,
    sum: Number,
    min: Number,
    max: Number,
}

impl Instrument {
    /// Adds `value` to the point of `attributes`. A value the instrument
    /// cannot take (NaN or an infinity, a negative increment of a counter)
    /// is dropped.
    pub(crate) fn record(&mut self, value: Number, attributes: &[KeyValue]) {
        if !self.accepts(value) {
            return;
        }
        let now = clock::now();
        self.start.get_or_insert(now);

        let set = self.attribute_set(attributes);
        let bounds = match &self.descriptor.aggregation {
            Aggregation::Histogram { bounds } => bounds.as_slice(),
            _ => &[],
        };
        match self.points.get_mut(&set) {
            Some(point) => point.add(value, bounds),
            None => {
                let point = Point::first(&self.descriptor.aggregation, value);
                self.points.insert(set, point);
            }
        }
    }

    fn accepts(&self, value: Number) -> bool {
        let monotonic = matches!(
            self.descriptor.aggregation,
            Aggregation::Sum { monotonic: true }
        );
        match value {
            Number::F64(f) => f.is_finite() && !(monotonic && f < 0.0),
            Number::I64(i) => !(monotonic && i < 0),
            Number::U64(_) => true,
        }
    }

    /// The map key of `attributes`: sorted by key, the last value of a
    /// repeated key kept; or the overflow set once the instrument holds
    /// [`CARDINALITY_LIMIT`] sets and this one is new.
    fn attribute_set(&self, attributes: &[KeyValue]) -> AttributeSet {
        let mut set: BTreeMap<&str, String> = BTreeMap::new();
        for attribute in attributes {
            set.insert(&attribute.key, attribute.value.to_json());
        }
        let set: AttributeSet = set
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        if self.points.len() >= CARDINALITY_LIMIT && !self.points.contains_key(&set) {
            return vec![(OVERFLOW_ATTRIBUTE.to_owned(), "true".to_owned())];
        }
        set
    }

    /// The instrument as a `wasi:otel` metric taken at `time`, or `None`
    /// before its first measurement.
    fn to_wit(&self, time: Datetime) -> Option<wit::Metric> {
        let start = self.start?;
        let time = clock::later(time, start);

        // An instrument's points all have the shape of its aggregation.
        let values = || {
            self.points.iter().filter_map(|(set, point)| match point {
                Point::Sum(value) | Point::Gauge(value) => Some((set, *value)),
                Point::Histogram(_) => None,
            })
        };
        let data = match &self.descriptor.aggregation {
            Aggregation::Sum { monotonic } => {
                let sum = wit::Sum {
                    data_points: values().map(|(set, v)| sum_point(set, v)).collect(),
                    start_time: start,
                    time,
                    temporality: wit::Temporality::Cumulative,
                    is_monotonic: *monotonic,
                };
                match self.descriptor.number {
                    NumberKind::F64 => wit::MetricData::F64Sum(sum),
                    NumberKind::U64 => wit::MetricData::U64Sum(sum),
                    NumberKind::I64 => wit::MetricData::S64Sum(sum),
                }
            }
            Aggregation::Gauge => {
                let gauge = wit::Gauge {
                    data_points: values().map(|(set, v)| gauge_point(set, v)).collect(),
                    start_time: Some(start),
                    time,
                };
                match self.descriptor.number {
                    NumberKind::F64 => wit::MetricData::F64Gauge(gauge),
                    NumberKind::U64 => wit::MetricData::U64Gauge(gauge),
                    NumberKind::I64 => wit::MetricData::S64Gauge(gauge),
                }
            }
            Aggregation::Histogram { bounds } => {
                let points = self.points.iter().filter_map(|(set, point)| match point {
                    Point::Histogram(buckets) => Some(histogram_point(set, buckets, bounds)),
                    Point::Sum(_) | Point::Gauge(_) => None,
                });
                let histogram = wit::Histogram {
                    data_points: points.collect(),
                    start_time: start,
                    time,
                    temporality: wit::Temporality::Cumulative,
                };
                match self.descriptor.number {
                    NumberKind::F64 => wit::MetricData::F64Histogram(histogram),
                    NumberKind::U64 => wit::MetricData::U64Histogram(histogram),
                    NumberKind::I64 => wit::MetricData::S64Histogram(histogram),
                }
            }
        };
        Some(wit::Metric {
            name: self.descriptor.name.clone(),
            description: self.descriptor.description.clone(),
            unit: self.descriptor.unit.clone(),
            data,
        })
    }
}

impl Point {
    fn first(aggregation: &Aggregation, value: Number) -> Point {
        match aggregation {
            Aggregation::Sum { .. } => Point::Sum(value),
            Aggregation::Gauge => Point::Gauge(value),
            Aggregation::Histogram { bounds } => {
                let mut counts = vec![0; bounds.len() + 1];
                counts[bucket(bounds, value)] = 1;
                Point::Histogram(Buckets {
                    count: 1,
                    counts,
                    sum: value,
                    min: value,
                    max: value,
                })
            }
        }
    }

    fn add(&mut self, value: Number, bounds: &[f64]) {
        match self {
            Point::Sum(total) => *total = total.plus(value),
            Point::Gauge(last) => *last = value,
            Point::Histogram(buckets) => {
                buckets.count = buckets.count.saturating_add(1);
                let counts = &mut buckets.counts[bucket(bounds, value)];
                *counts = counts.saturating_add(1);
                buckets.sum = buckets.sum.plus(value);
                if value.less_than(buckets.min) {
                    buckets.min = value;
                }
                if buckets.max.less_than(value) {
                    buckets.max = value;
                }
            }
        }
    }
}

/// The bucket of `value`: the first whose upper bound is at least
/// `value`, or the last, unbounded one.
fn bucket(bounds: &[f64], value: Number) -> usize {
    let value = value.as_f64();
    bounds.partition_point(|&bound| bound < value)
}

fn attributes_to_wit(set: &AttributeSet) -> Vec<types::KeyValue> {
    set.iter()
        .map(|(key, value)| types::KeyValue {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

fn sum_point(set: &AttributeSet, value: Number) -> wit::SumDataPoint {
    wit::SumDataPoint {
        attributes: attributes_to_wit(set),
        value: value.to_wit(),
        exemplars: Vec::new(),
    }
}

fn gauge_point(set: &AttributeSet, value: Number) -> wit::GaugeDataPoint {
    wit::GaugeDataPoint {
        attributes: attributes_to_wit(set),
        value: value.to_wit(),
        exemplars: Vec::new(),
    }
}

fn histogram_point(
    set: &AttributeSet,
    buckets: &Buckets,
    bounds: &[f64],
) -> wit::HistogramDataPoint {
    wit::HistogramDataPoint {
        attributes: attributes_to_wit(set),
        count: buckets.count,
        bounds: bounds.to_vec(),
        bucket_counts: buckets.counts.clone(),
        min: Some(buckets.min.to_wit()),
        max: Some(buckets.max.to_wit()),
        sum: buckets.sum.to_wit(),
        exemplars: Vec::new(),
    }
}

/// The instruments of one scope.
struct ScopeInstruments {
    scope: InstrumentationScope,
    instruments: Vec<Rc<RefCell<Instrument>>>,
}

thread_local! {
    static REGISTRY: RefCell<Vec<ScopeInstruments>> = const { RefCell::new(Vec::new()) };
}

fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.name == b.name && a.version == b.version && a.schema_url == b.schema_url
}

/// The instrument `descriptor` of `scope` on this thread: the one already
/// registered with the same name and descriptor, else a new one.
pub(crate) fn register(
    scope: &InstrumentationScope,
    descriptor: Descriptor,
) -> Rc<RefCell<Instrument>> {
    REGISTRY.with(|registry| {
        let mut registry = registry.borrow_mut();
        let at = match registry.iter().position(|s| same_scope(&s.scope, scope)) {
            Some(at) => at,
            None => {
                registry.push(ScopeInstruments {
                    scope: scope.clone(),
                    instruments: Vec::new(),
                });
                registry.len() - 1
            }
        };
        let instruments = &mut registry[at].instruments;

        let existing = instruments
            .iter()
            .find(|i| i.borrow().descriptor == descriptor);
        if let Some(existing) = existing {
            return Rc::clone(existing);
        }
        let instrument = Rc::new(RefCell::new(Instrument {
            descriptor,
            start: None,
            points: BTreeMap::new(),
        }));
        instruments.push(Rc::clone(&instrument));
        instrument
    })
}

/// Every instrument of this thread with at least one point, as one
/// `resource-metrics` taken now; `None` when there is none.
pub(crate) fn collect() -> Option<wit::ResourceMetrics> {
    let now = clock::now();
    let scope_metrics: Vec<wit::ScopeMetrics> = REGISTRY.with(|registry| {
        registry
            .borrow()
            .iter()
            .filter_map(|entry| {
                let metrics: Vec<wit::Metric> = entry
                    .instruments
                    .iter()
                    .filter_map(|instrument| instrument.borrow().to_wit(now))
                    .collect();
                (!metrics.is_empty()).then(|| wit::ScopeMetrics {
                    scope: entry.scope.clone(),
                    metrics,
                })
            })
            .collect()
    });
    if scope_metrics.is_empty() {
        return None;
    }

    // The host describes the service that ran the guest.
    let resource = Resource {
        attributes: Vec::new(),
        schema_url: None,
    };
    Some(wit::ResourceMetrics {
        resource,
        scope_metrics,
    })
}

/// Forgets every instrument of this thread, for tests that share a thread.
#[cfg(test)]
pub(crate) fn reset() {
    REGISTRY.with(|registry| registry.borrow_mut().clear());
}
