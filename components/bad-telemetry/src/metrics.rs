//! Mode `metrics`: one export per fault: values that are not finite,
//! histograms that contradict themselves, exemplar ids that are not hex,
//! and lists far longer than any SDK batches.

use crate::data::{kv, now};
use crate::say;
use crate::span::scope;
use crate::wasi::otel::metrics::{
    self, Exemplar, ExponentialBucket, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    GaugeDataPoint, Histogram, HistogramDataPoint, Metric, MetricData, MetricNumber,
    ResourceMetrics, ScopeMetrics, Sum, SumDataPoint, Temporality,
};
use crate::wasi::otel::tracing::SpanContext;
use crate::wasi::otel::types::Resource;

/// Buckets in the `exponential_buckets` case.
const MANY_BUCKETS: usize = 100_000;

/// Points in the `many_points` case.
const MANY_POINTS: usize = 100_000;

/// Metrics in the `many_metrics` case.
const MANY_METRICS: usize = 10_000;

/// The bytes of a trace id, each made a `char` as one SDK does instead
/// of writing hex: NUL, a quote, a backslash, a line feed, DEL and bytes
/// past ASCII among them.
const RAW_TRACE_ID: [u8; 16] = [
    0x00, 0x01, b'"', b'\\', b'\n', 0x7f, 0x80, 0xff, 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d,
    0xa6,
];

/// The bytes of a span id, made a string the same way.
const RAW_SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

/// The wrappers of one numeric type's four aggregations.
struct Kinds {
    name: &'static str,
    value: MetricNumber,
    gauge: fn(Gauge) -> MetricData,
    sum: fn(Sum) -> MetricData,
    histogram: fn(Histogram) -> MetricData,
    exponential: fn(ExponentialHistogram) -> MetricData,
}

/// The three numeric types, with a value each that sits in the first
/// bucket of both histograms built here.
const KINDS: [Kinds; 3] = [
    Kinds {
        name: "f64",
        value: MetricNumber::F64(1.5),
        gauge: MetricData::F64Gauge,
        sum: MetricData::F64Sum,
        histogram: MetricData::F64Histogram,
        exponential: MetricData::F64ExponentialHistogram,
    },
    Kinds {
        name: "u64",
        value: MetricNumber::U64(2),
        gauge: MetricData::U64Gauge,
        sum: MetricData::U64Sum,
        histogram: MetricData::U64Histogram,
        exponential: MetricData::U64ExponentialHistogram,
    },
    Kinds {
        name: "s64",
        value: MetricNumber::S64(2),
        gauge: MetricData::S64Gauge,
        sum: MetricData::S64Sum,
        histogram: MetricData::S64Histogram,
        exponential: MetricData::S64ExponentialHistogram,
    },
];

/// Sends every case, in the order of the module doc.
pub fn run(outer: &SpanContext) {
    let valid = exemplar(&outer.trace_id, &outer.span_id);
    export("control", KINDS.iter().flat_map(|k| all_four(k, &valid)));
    non_finite_values();
    contradicting_histograms();
    bad_exemplar_ids();

    // A nameless metric, then far too many buckets, points and metrics.
    let nameless = Metric {
        name: String::new(),
        ..f64_gauge("empty_name", 1.0)
    };
    export("empty_name", [nameless]);
    export("exponential_buckets", [exponential_buckets()]);
    export("many_points", [many_points()]);
    export("many_metrics", many_metrics());
}

/// Values a double can hold and a metric should not.
fn non_finite_values() {
    for (case, value) in [
        ("nan", f64::NAN),
        ("pos_inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
    ] {
        export(case, non_finite(case, value));
    }
}

/// Histograms whose fields disagree with each other.
fn contradicting_histograms() {
    let faults: [(&str, u64, &[f64], &[u64]); 3] = [
        ("histogram_bucket_count", 3, &[1.0, 2.0, 3.0], &[1, 2]),
        ("histogram_bounds_order", 3, &[3.0, 1.0, 2.0], &[1, 1, 1, 0]),
        ("histogram_count_mismatch", 100, &[1.0, 2.0], &[1, 1, 1]),
    ];
    for (case, count, bounds, buckets) in faults {
        export(case, [histogram(case, count, bounds, buckets)]);
    }
}

/// Exemplar ids that are not hex: raw bytes as chars, then malformed.
fn bad_exemplar_ids() {
    let raw = exemplar(&chars(&RAW_TRACE_ID), &chars(&RAW_SPAN_ID));
    let malformed = exemplar("not-a-trace-id", "xyz");
    for (case, exemplar) in [
        ("exemplar_raw_ids", raw),
        ("exemplar_malformed_ids", malformed),
    ] {
        export(case, [exemplar_gauge(case, exemplar)]);
    }
}

/// Exports `metrics` and prints how the host answered.
fn export(case: &str, metrics: impl IntoIterator<Item = Metric>) {
    let resource = ResourceMetrics {
        resource: Resource {
            attributes: Vec::new(),
            schema_url: None,
        },
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics: metrics.into_iter().collect(),
        }],
    };
    match metrics::export(&resource) {
        Ok(()) => say(&format!("export {case}: ok")),
        Err(error) => say(&format!("export {case}: error: {}", error.escape_debug())),
    }
}

/// A metric `bad.metrics.CASE` with no description or unit.
fn metric(case: &str, data: MetricData) -> Metric {
    Metric {
        name: format!("bad.metrics.{case}"),
        description: String::new(),
        unit: String::new(),
        data,
    }
}

/// One well-formed metric of each aggregation of `kinds`, each with one
/// point and one exemplar like `exemplar`.
fn all_four(kinds: &Kinds, exemplar: &Exemplar) -> [Metric; 4] {
    let value = kinds.value;
    let ex = || {
        vec![Exemplar {
            value,
            ..exemplar.clone()
        }]
    };
    let name = |aggregation| format!("control.{}_{aggregation}", kinds.name);
    let histogram = histogram_point(value, 1, &[10.0], &[1, 0], ex());
    let exponential = exponential_point(value, vec![1], ex());
    [
        metric(&name("gauge"), (kinds.gauge)(gauge(value, ex()))),
        metric(&name("sum"), (kinds.sum)(sum(vec![sum_point(value, ex())]))),
        metric(
            &name("histogram"),
            (kinds.histogram)(histogram_of(histogram)),
        ),
        metric(
            &name("exponential_histogram"),
            (kinds.exponential)(exponential_of(exponential)),
        ),
    ]
}

/// An f64 gauge and an f64 sum, both of `value`.
fn non_finite(case: &str, value: f64) -> [Metric; 2] {
    let value = MetricNumber::F64(value);
    [
        metric(
            &format!("{case}.gauge"),
            MetricData::F64Gauge(gauge(value, Vec::new())),
        ),
        metric(
            &format!("{case}.sum"),
            MetricData::F64Sum(sum(vec![sum_point(value, Vec::new())])),
        ),
    ]
}

/// An f64 histogram `bad.metrics.CASE` of one point with these fields.
fn histogram(case: &str, count: u64, bounds: &[f64], buckets: &[u64]) -> Metric {
    let point = histogram_point(MetricNumber::F64(2.0), count, bounds, buckets, Vec::new());
    metric(case, MetricData::F64Histogram(histogram_of(point)))
}

/// An f64 exponential histogram with one count in each of 100,000
/// positive buckets.
fn exponential_buckets() -> Metric {
    let point = exponential_point(MetricNumber::F64(1.5), vec![1; MANY_BUCKETS], Vec::new());
    let data = MetricData::F64ExponentialHistogram(exponential_of(point));
    metric("exponential_buckets", data)
}

/// An f64 gauge of 1 whose one point carries `exemplar`.
fn exemplar_gauge(case: &str, exemplar: Exemplar) -> Metric {
    let value = MetricNumber::F64(1.0);
    metric(case, MetricData::F64Gauge(gauge(value, vec![exemplar])))
}

/// An f64 gauge `bad.metrics.CASE` of `value`.
fn f64_gauge(case: &str, value: f64) -> Metric {
    let data = gauge(MetricNumber::F64(value), Vec::new());
    metric(case, MetricData::F64Gauge(data))
}

/// One u64 sum with 100,000 points, each of its own attribute set.
fn many_points() -> Metric {
    let points = (0..MANY_POINTS)
        .map(|i| SumDataPoint {
            attributes: vec![kv("point", i.to_string())],
            value: MetricNumber::U64(1),
            exemplars: Vec::new(),
        })
        .collect();
    metric("many_points", MetricData::U64Sum(sum(points)))
}

/// 10,000 u64 sums of one point each.
fn many_metrics() -> Vec<Metric> {
    (0..MANY_METRICS)
        .map(|i| {
            let data = sum(vec![sum_point(MetricNumber::U64(1), Vec::new())]);
            metric(&format!("many_metrics.{i}"), MetricData::U64Sum(data))
        })
        .collect()
}

/// An exemplar of 1, now, in the span `span_id` of trace `trace_id`.
fn exemplar(trace_id: &str, span_id: &str) -> Exemplar {
    Exemplar {
        filtered_attributes: Vec::new(),
        time: now(),
        value: MetricNumber::F64(1.0),
        span_id: span_id.to_owned(),
        trace_id: trace_id.to_owned(),
    }
}

/// Each byte as the `char` of the same number.
fn chars(bytes: &[u8]) -> String {
    bytes.iter().map(|&byte| char::from(byte)).collect()
}

fn gauge(value: MetricNumber, exemplars: Vec<Exemplar>) -> Gauge {
    Gauge {
        data_points: vec![GaugeDataPoint {
            attributes: Vec::new(),
            value,
            exemplars,
        }],
        start_time: None,
        time: now(),
    }
}

fn sum_point(value: MetricNumber, exemplars: Vec<Exemplar>) -> SumDataPoint {
    SumDataPoint {
        attributes: Vec::new(),
        value,
        exemplars,
    }
}

/// A cumulative, monotonic sum of `points`.
fn sum(points: Vec<SumDataPoint>) -> Sum {
    Sum {
        data_points: points,
        start_time: now(),
        time: now(),
        temporality: Temporality::Cumulative,
        is_monotonic: true,
    }
}

/// A histogram point whose min, max and sum are all `value`.
fn histogram_point(
    value: MetricNumber,
    count: u64,
    bounds: &[f64],
    buckets: &[u64],
    exemplars: Vec<Exemplar>,
) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: Vec::new(),
        count,
        bounds: bounds.to_vec(),
        bucket_counts: buckets.to_vec(),
        min: Some(value),
        max: Some(value),
        sum: value,
        exemplars,
    }
}

/// A cumulative histogram of one point.
fn histogram_of(point: HistogramDataPoint) -> Histogram {
    Histogram {
        data_points: vec![point],
        start_time: now(),
        time: now(),
        temporality: Temporality::Cumulative,
    }
}

/// An exponential histogram point at scale 0 whose positive buckets,
/// from index 0, hold `counts`; min, max and sum are all `value`.
fn exponential_point(
    value: MetricNumber,
    counts: Vec<u64>,
    exemplars: Vec<Exemplar>,
) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        attributes: Vec::new(),
        count: counts.iter().sum(),
        min: Some(value),
        max: Some(value),
        sum: value,
        scale: 0,
        zero_count: 0,
        positive_bucket: ExponentialBucket { offset: 0, counts },
        negative_bucket: ExponentialBucket {
            offset: 0,
            counts: Vec::new(),
        },
        zero_threshold: 0.0,
        exemplars,
    }
}

/// A cumulative exponential histogram of one point.
fn exponential_of(point: ExponentialHistogramDataPoint) -> ExponentialHistogram {
    ExponentialHistogram {
        data_points: vec![point],
        start_time: now(),
        time: now(),
        temporality: Temporality::Cumulative,
    }
}
