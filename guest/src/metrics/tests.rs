//! Aggregation and encoding, checked on what reaches a recording backend.

use std::rc::Rc;

use super::*;
use crate::backend::recording::Recording;
use crate::bindings::metrics::{self as wit, MetricData, MetricNumber, Temporality};
use crate::bindings::tracing::{SpanContext, TraceFlags};
use crate::clock;
use crate::value::KeyValue;

/// A recorder, with this thread's instruments from earlier tests gone.
fn recording() -> Rc<Recording> {
    aggregate::reset();
    Recording::install(SpanContext {
        trace_id: "0".repeat(32),
        span_id: "0".repeat(16),
        trace_flags: TraceFlags::empty(),
        is_remote: true,
        trace_state: Vec::new(),
    })
}

/// Flushes and returns the one export it made.
fn flush_one(recording: &Recording) -> wit::ResourceMetrics {
    flush().expect("the recorder accepts exports");
    let mut exports = recording.take_exports();
    assert_eq!(exports.len(), 1, "{exports:?}");
    exports.remove(0)
}

fn metric<'a>(metrics: &'a wit::ResourceMetrics, name: &str) -> &'a wit::Metric {
    metrics
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric `{name}` in {metrics:?}"))
}

fn attributes(attributes: &[crate::bindings::types::KeyValue]) -> Vec<(&str, &str)> {
    attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect()
}

fn u64_of(number: &MetricNumber) -> u64 {
    match number {
        MetricNumber::U64(u) => *u,
        other => panic!("not a u64: {other:?}"),
    }
}

fn f64_of(number: &MetricNumber) -> f64 {
    match number {
        MetricNumber::F64(f) => *f,
        other => panic!("not an f64: {other:?}"),
    }
}

fn s64_of(number: &MetricNumber) -> i64 {
    match number {
        MetricNumber::S64(i) => *i,
        other => panic!("not an s64: {other:?}"),
    }
}

fn sum_points(data: &wit::Sum) -> Vec<(Vec<(&str, &str)>, &MetricNumber)> {
    data.data_points
        .iter()
        .map(|p| (attributes(&p.attributes), &p.value))
        .collect()
}

#[test]
fn a_counter_keeps_one_total_per_attribute_set() {
    let recording = recording();
    let meter = Meter::new("shop").with_version("1.0.0");
    let orders = meter
        .u64_counter("shop.orders")
        .with_description("Orders placed")
        .with_unit("{order}")
        .build();

    let card = KeyValue::new("payment", "card");
    let eu = KeyValue::new("region", "eu");
    orders.add(2, &[card.clone(), eu.clone()]);
    // The same set in another order, and a repeated key whose last value
    // wins, are the same point.
    orders.add(3, &[eu.clone(), KeyValue::new("payment", "cash"), card]);
    orders.add(1, &[]);
    orders.add(4, &[KeyValue::new("payment", "cash")]);

    let exported = flush_one(&recording);
    assert!(exported.resource.attributes.is_empty());
    assert_eq!(exported.scope_metrics.len(), 1);
    let scope = &exported.scope_metrics[0].scope;
    assert_eq!(scope.name, "shop");
    assert_eq!(scope.version.as_deref(), Some("1.0.0"));

    let metric = metric(&exported, "shop.orders");
    assert_eq!(metric.description, "Orders placed");
    assert_eq!(metric.unit, "{order}");
    let MetricData::U64Sum(sum) = &metric.data else {
        panic!("not a u64 sum: {metric:?}");
    };
    assert!(sum.is_monotonic);
    assert!(matches!(sum.temporality, Temporality::Cumulative));
    assert!(!clock::is_before(&sum.time, &sum.start_time));
    let points: Vec<_> = sum_points(sum)
        .into_iter()
        .map(|(attributes, value)| (attributes, u64_of(value)))
        .collect();
    let card_eu = vec![("payment", r#""card""#), ("region", r#""eu""#)];
    assert_eq!(
        points,
        [
            (vec![], 1),
            (card_eu, 5),
            (vec![("payment", r#""cash""#)], 4)
        ]
    );
    assert!(sum.data_points.iter().all(|p| p.exemplars.is_empty()));
}

#[test]
fn counters_of_doubles_drop_what_a_counter_cannot_take() {
    let recording = recording();
    let bytes = Meter::new("io").f64_counter("io.bytes").build();

    bytes.add(1.5, &[]);
    bytes.add(-4.0, &[]);
    bytes.add(f64::NAN, &[]);
    bytes.add(f64::INFINITY, &[]);
    bytes.add(2.25, &[]);

    let exported = flush_one(&recording);
    let MetricData::F64Sum(sum) = &metric(&exported, "io.bytes").data else {
        panic!("not an f64 sum");
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.data_points.len(), 1);
    assert_eq!(f64_of(&sum.data_points[0].value), 3.75);
}

#[test]
fn an_up_down_counter_goes_both_ways() {
    let recording = recording();
    let queue = Meter::new("q").i64_up_down_counter("queue.length").build();

    queue.add(5, &[]);
    queue.add(-7, &[]);
    queue.add(1, &[]);

    let exported = flush_one(&recording);
    let MetricData::S64Sum(sum) = &metric(&exported, "queue.length").data else {
        panic!("not an s64 sum");
    };
    assert!(!sum.is_monotonic);
    assert!(matches!(sum.temporality, Temporality::Cumulative));
    assert_eq!(s64_of(&sum.data_points[0].value), -1);
}

#[test]
fn integer_totals_saturate_instead_of_wrapping() {
    let recording = recording();
    let meter = Meter::new("big");
    let counter = meter.u64_counter("big.count").build();
    let level = meter.i64_up_down_counter("big.level").build();

    counter.add(u64::MAX - 1, &[]);
    counter.add(5, &[]);
    level.add(i64::MIN, &[]);
    level.add(-1, &[]);

    let exported = flush_one(&recording);
    let MetricData::U64Sum(sum) = &metric(&exported, "big.count").data else {
        panic!("not a u64 sum");
    };
    assert_eq!(u64_of(&sum.data_points[0].value), u64::MAX);
    let MetricData::S64Sum(sum) = &metric(&exported, "big.level").data else {
        panic!("not an s64 sum");
    };
    assert_eq!(s64_of(&sum.data_points[0].value), i64::MIN);
}

#[test]
fn a_histogram_counts_in_its_buckets_with_min_max_and_sum() {
    let recording = recording();
    let latency = Meter::new("http")
        .f64_histogram("http.duration")
        .with_unit("ms")
        .with_boundaries([10.0, 50.0, 100.0])
        .build();

    // A value equal to a bound counts in that bound's bucket.
    for value in [3.0, 10.0, 10.5, 75.0, 250.0, f64::NAN] {
        latency.record(value, &[KeyValue::new("route", "/")]);
    }

    let exported = flush_one(&recording);
    let metric = metric(&exported, "http.duration");
    assert_eq!(metric.unit, "ms");
    let MetricData::F64Histogram(histogram) = &metric.data else {
        panic!("not an f64 histogram: {metric:?}");
    };
    assert!(matches!(histogram.temporality, Temporality::Cumulative));
    assert_eq!(histogram.data_points.len(), 1);
    let point = &histogram.data_points[0];
    assert_eq!(attributes(&point.attributes), [("route", r#""/""#)]);
    assert_eq!(point.count, 5);
    assert_eq!(point.bounds, [10.0, 50.0, 100.0]);
    assert_eq!(point.bucket_counts, [2, 1, 1, 1]);
    assert_eq!(f64_of(&point.sum), 348.5);
    assert_eq!(point.min.as_ref().map(f64_of), Some(3.0));
    assert_eq!(point.max.as_ref().map(f64_of), Some(250.0));
}

#[test]
fn a_histogram_of_integers_uses_the_default_bounds_and_integer_stats() {
    let recording = recording();
    let sizes = Meter::new("io").u64_histogram("io.size").build();

    sizes.record(7, &[]);
    sizes.record(20_000, &[]);
    sizes.record(0, &[]);

    let exported = flush_one(&recording);
    let MetricData::U64Histogram(histogram) = &metric(&exported, "io.size").data else {
        panic!("not a u64 histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.bounds, DEFAULT_HISTOGRAM_BOUNDARIES);
    assert_eq!(
        point.bucket_counts.len(),
        DEFAULT_HISTOGRAM_BOUNDARIES.len() + 1
    );
    assert_eq!(point.bucket_counts[0], 1, "0 is in the bucket up to 0");
    assert_eq!(point.bucket_counts[2], 1, "7 is in (5, 10]");
    assert_eq!(point.bucket_counts[15], 1, "20000 is past the last bound");
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 3);
    assert_eq!(u64_of(&point.sum), 20_007);
    assert_eq!(point.min.as_ref().map(u64_of), Some(0));
    assert_eq!(point.max.as_ref().map(u64_of), Some(20_000));
}

#[test]
fn histogram_bounds_are_cleaned_of_nan_infinities_disorder_and_repeats() {
    let recording = recording();
    let histogram = Meter::new("h")
        .f64_histogram("h")
        .with_boundaries(vec![5.0, f64::NAN, 1.0, 5.0, f64::INFINITY, -2.0])
        .build();

    histogram.record(3.0, &[]);

    let exported = flush_one(&recording);
    let MetricData::F64Histogram(data) = &metric(&exported, "h").data else {
        panic!("not an f64 histogram");
    };
    assert_eq!(data.data_points[0].bounds, [-2.0, 1.0, 5.0]);
    assert_eq!(data.data_points[0].bucket_counts, [0, 0, 1, 0]);
}

#[test]
fn gauges_keep_the_last_value_in_their_own_type() {
    let recording = recording();
    let meter = Meter::new("env");
    let temperature = meter.f64_gauge("env.temperature").with_unit("Cel").build();
    let offset = meter.i64_gauge("env.offset").build();
    let free = meter.u64_gauge("env.free").with_unit("By").build();

    temperature.record(21.5, &[]);
    temperature.record(19.0, &[]);
    temperature.record(f64::NAN, &[]);
    offset.record(-3, &[KeyValue::new("axis", "x")]);
    free.record(1024, &[]);
    free.record(512, &[]);

    let exported = flush_one(&recording);
    let MetricData::F64Gauge(gauge) = &metric(&exported, "env.temperature").data else {
        panic!("not an f64 gauge");
    };
    assert_eq!(f64_of(&gauge.data_points[0].value), 19.0);
    let start = gauge
        .start_time
        .expect("a gauge has its first use as start");
    assert!(!clock::is_before(&gauge.time, &start));
    let MetricData::S64Gauge(gauge) = &metric(&exported, "env.offset").data else {
        panic!("not an s64 gauge");
    };
    assert_eq!(s64_of(&gauge.data_points[0].value), -3);
    assert_eq!(
        attributes(&gauge.data_points[0].attributes),
        [("axis", r#""x""#)]
    );
    let MetricData::U64Gauge(gauge) = &metric(&exported, "env.free").data else {
        panic!("not a u64 gauge");
    };
    assert_eq!(u64_of(&gauge.data_points[0].value), 512);
}

#[test]
fn a_flush_sends_used_instruments_grouped_by_scope() {
    let recording = recording();
    let first = Meter::new("first");
    let second = Meter::new("second").with_version("2");
    first.u64_counter("first.used").build().add(1, &[]);
    let _unused = first.u64_counter("first.unused").build();
    second.f64_gauge("second.used").build().record(1.0, &[]);
    let _unused = Meter::new("third").u64_counter("third.unused").build();

    let exported = flush_one(&recording);
    let scopes: Vec<_> = exported
        .scope_metrics
        .iter()
        .map(|s| {
            let names: Vec<_> = s.metrics.iter().map(|m| m.name.as_str()).collect();
            (s.scope.name.as_str(), s.scope.version.as_deref(), names)
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("first", None, vec!["first.used"]),
            ("second", Some("2"), vec!["second.used"])
        ]
    );
}

#[test]
fn nothing_is_sent_before_the_first_measurement() {
    let recording = recording();
    let _counter = Meter::new("idle").u64_counter("idle.count").build();

    assert_eq!(flush(), Ok(()));

    assert!(recording.take().is_empty());
}

#[test]
fn totals_are_cumulative_from_one_flush_to_the_next() {
    let recording = recording();
    let counter = Meter::new("c").u64_counter("c.count").build();

    counter.add(2, &[]);
    let first = flush_one(&recording);
    counter.add(3, &[]);
    let second = flush_one(&recording);

    let sums: Vec<_> = [&first, &second]
        .map(|exported| match &metric(exported, "c.count").data {
            MetricData::U64Sum(sum) => sum.clone(),
            other => panic!("not a u64 sum: {other:?}"),
        })
        .into();
    assert_eq!(u64_of(&sums[0].data_points[0].value), 2);
    assert_eq!(u64_of(&sums[1].data_points[0].value), 5);
    let starts: Vec<_> = sums
        .iter()
        .map(|s| (s.start_time.seconds, s.start_time.nanoseconds))
        .collect();
    assert_eq!(starts[0], starts[1], "the start is the first use");
    assert!(!clock::is_before(&sums[1].time, &sums[0].time));
}

#[test]
fn instruments_of_the_same_name_and_settings_share_their_totals() {
    let recording = recording();
    let meter = Meter::new("shared");
    meter.u64_counter("shared.count").build().add(1, &[]);
    meter.u64_counter("shared.count").build().add(2, &[]);
    // Another unit makes another instrument.
    meter
        .u64_counter("shared.count")
        .with_unit("By")
        .build()
        .add(7, &[]);

    let exported = flush_one(&recording);
    let totals: Vec<_> = exported.scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match &m.data {
            MetricData::U64Sum(sum) => (m.unit.as_str(), u64_of(&sum.data_points[0].value)),
            other => panic!("not a u64 sum: {other:?}"),
        })
        .collect();
    assert_eq!(totals, [("", 3), ("By", 7)]);
}

#[test]
fn attribute_sets_past_the_limit_fold_into_the_overflow_point() {
    let recording = recording();
    let counter = Meter::new("many").u64_counter("many.count").build();

    for i in 0..aggregate::CARDINALITY_LIMIT + 10 {
        counter.add(1, &[KeyValue::new("i", i as i64)]);
    }
    // A set seen before the limit still has its own point.
    counter.add(1, &[KeyValue::new("i", 0)]);

    let exported = flush_one(&recording);
    let MetricData::U64Sum(sum) = &metric(&exported, "many.count").data else {
        panic!("not a u64 sum");
    };
    assert_eq!(sum.data_points.len(), aggregate::CARDINALITY_LIMIT + 1);
    let overflow = sum
        .data_points
        .iter()
        .find(|p| attributes(&p.attributes) == [(aggregate::OVERFLOW_ATTRIBUTE, "true")])
        .expect("an overflow point");
    assert_eq!(u64_of(&overflow.value), 10);
    let zero = sum
        .data_points
        .iter()
        .find(|p| attributes(&p.attributes) == [("i", "0")])
        .expect("the first set");
    assert_eq!(u64_of(&zero.value), 2);
}

#[test]
fn a_refused_export_is_an_error_with_the_hosts_reason() {
    let recording = recording();
    Meter::new("r").u64_counter("r.count").build().add(1, &[]);
    recording.refuse_exports(Some("over budget"));

    let error = flush().unwrap_err();

    assert_eq!(error.reason(), "over budget");
    assert_eq!(
        error.to_string(),
        "the host refused the metrics export: over budget"
    );
    assert_eq!(recording.take_exports().len(), 1);
}

#[test]
fn the_guard_flushes_when_dropped_and_finish_reports_refusals() {
    let recording = recording();
    let counter = Meter::new("g").u64_counter("g.count").build();
    counter.add(1, &[]);

    {
        let _guard = flush_on_drop();
    }
    assert_eq!(recording.take_exports().len(), 1);

    recording.refuse_exports(Some("no"));
    let guard = flush_on_drop();
    assert_eq!(
        guard.finish().map_err(|e| e.reason().to_owned()),
        Err("no".into())
    );
    // `finish` disarmed the guard: one export, not two.
    assert_eq!(recording.take_exports().len(), 1);
}
