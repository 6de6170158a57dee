//! Guest metric exports to OTLP metrics, for all twelve kinds.
//!
//! Data points that OTLP cannot carry truthfully are dropped and counted:
//! values that are NaN or infinite, integers past `i64`, histograms whose
//! bounds, bucket counts and count disagree. Exemplar ids may be hex, as
//! the interface says, or raw bytes, as one guest SDK sends them; others
//! lose the exemplar, not the point. Temporality `low-memory` is sent as
//! delta, except for non-monotonic sums, which are cumulative, as the
//! OpenTelemetry SDKs define it.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::Attributes;

use super::convert::Clean;
use super::logs::{nanos, proto_scope};
use super::wit::metrics as m;
use crate::ids;

/// Turns a guest's metric export into an OTLP one, within the budget:
/// at most the budget's data points in all, the rest dropped and counted.
pub fn convert_metrics(
    export: m::ResourceMetrics,
    host_resource: &[KeyValue],
    clean: &mut Clean<'_>,
) -> ResourceMetrics {
    let mut resource = host_resource.to_vec();
    let (guest, _) = clean.attributes(export.resource.attributes);
    for kv in Attributes::from(guest).0 {
        if !resource.iter().any(|host| host.key == kv.key) {
            resource.push(kv);
        }
    }

    let mut points_left = clean.budget.data_points;
    let scope_metrics = export
        .scope_metrics
        .into_iter()
        .map(|scope| ScopeMetrics {
            scope: Some(proto_scope(clean.scope(scope.scope))),
            metrics: scope
                .metrics
                .into_iter()
                .filter_map(|metric| convert_metric(metric, &mut points_left, clean))
                .collect(),
            schema_url: String::new(),
        })
        .collect();
    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource,
            ..Resource::default()
        }),
        scope_metrics,
        schema_url: export
            .resource
            .schema_url
            .map(|url| clean.text(url))
            .unwrap_or_default(),
    }
}

/// The kind of number a metric's points carry.
#[derive(Clone, Copy)]
enum Kind {
    F64,
    U64,
    S64,
}

fn convert_metric(
    metric: m::Metric,
    points_left: &mut usize,
    clean: &mut Clean<'_>,
) -> Option<Metric> {
    // Empty once cut to the budget is empty too.
    let name = clean.name(metric.name);
    if name.is_empty() {
        clean.stats.count("metric_name_empty");
        return None;
    }
    let mut points = Points {
        left: points_left,
        clean,
    };
    let data = match metric.data {
        m::MetricData::F64Gauge(g) => points.gauge(g, Kind::F64),
        m::MetricData::U64Gauge(g) => points.gauge(g, Kind::U64),
        m::MetricData::S64Gauge(g) => points.gauge(g, Kind::S64),
        m::MetricData::F64Sum(s) => points.sum(s, Kind::F64),
        m::MetricData::U64Sum(s) => points.sum(s, Kind::U64),
        m::MetricData::S64Sum(s) => points.sum(s, Kind::S64),
        m::MetricData::F64Histogram(h)
        | m::MetricData::U64Histogram(h)
        | m::MetricData::S64Histogram(h) => points.histogram(h),
        m::MetricData::F64ExponentialHistogram(h)
        | m::MetricData::U64ExponentialHistogram(h)
        | m::MetricData::S64ExponentialHistogram(h) => points.exponential(h),
    };
    Some(Metric {
        name,
        description: clean.text(metric.description),
        unit: clean.name(metric.unit),
        data: Some(data),
        ..Metric::default()
    })
}

/// Converts data points while the export's point budget lasts.
struct Points<'a, 'b> {
    left: &'a mut usize,
    clean: &'a mut Clean<'b>,
}

impl Points<'_, '_> {
    /// Takes one point from the budget, or counts it as dropped.
    fn take(&mut self) -> bool {
        if *self.left == 0 {
            self.clean.stats.count("data_points_over_limit");
            return false;
        }
        *self.left -= 1;
        true
    }

    fn time(&mut self, time: m::Datetime) -> u64 {
        self.clean
            .time(time, "timestamp_out_of_range")
            .map_or(0, nanos)
    }

    fn attributes(&mut self, attributes: Vec<m::KeyValue>) -> Vec<KeyValue> {
        Attributes::from(self.clean.attributes(attributes).0).0
    }

    fn gauge(&mut self, gauge: m::Gauge, kind: Kind) -> Data {
        let start = gauge.start_time.map_or(0, |t| self.time(t));
        let time = self.time(gauge.time);
        let data_points = gauge
            .data_points
            .into_iter()
            .filter_map(|p| self.number(p.attributes, p.value, p.exemplars, kind, start, time))
            .collect();
        Data::Gauge(Gauge { data_points })
    }

    fn sum(&mut self, sum: m::Sum, kind: Kind) -> Data {
        let start = self.time(sum.start_time);
        let time = self.time(sum.time);
        let data_points = sum
            .data_points
            .into_iter()
            .filter_map(|p| self.number(p.attributes, p.value, p.exemplars, kind, start, time))
            .collect();
        Data::Sum(Sum {
            data_points,
            aggregation_temporality: temporality(sum.temporality, sum.is_monotonic) as i32,
            is_monotonic: sum.is_monotonic,
        })
    }

    fn number(
        &mut self,
        attributes: Vec<m::KeyValue>,
        value: m::MetricNumber,
        exemplars: Vec<m::Exemplar>,
        kind: Kind,
        start_time_unix_nano: u64,
        time_unix_nano: u64,
    ) -> Option<NumberDataPoint> {
        if !self.take() {
            return None;
        }
        let Some(value) = number_value(value, kind) else {
            self.clean.stats.count("metric_value_invalid");
            return None;
        };
        Some(NumberDataPoint {
            attributes: self.attributes(attributes),
            start_time_unix_nano,
            time_unix_nano,
            exemplars: self.exemplars(exemplars),
            value: Some(value),
            ..NumberDataPoint::default()
        })
    }

    fn histogram(&mut self, histogram: m::Histogram) -> Data {
        let start = self.time(histogram.start_time);
        let time = self.time(histogram.time);
        let mut data_points = Vec::new();
        for point in histogram.data_points {
            if !self.take() {
                continue;
            }
            if !histogram_is_consistent(&point) {
                self.clean.stats.count("histogram_inconsistent");
                continue;
            }
            data_points.push(HistogramDataPoint {
                attributes: self.attributes(point.attributes),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: point.count,
                sum: self.finite(point.sum),
                bucket_counts: point.bucket_counts,
                explicit_bounds: point.bounds,
                exemplars: self.exemplars(point.exemplars),
                min: point.min.and_then(|v| self.finite(v)),
                max: point.max.and_then(|v| self.finite(v)),
                ..HistogramDataPoint::default()
            });
        }
        Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: temporality(histogram.temporality, true) as i32,
        })
    }

    fn exponential(&mut self, histogram: m::ExponentialHistogram) -> Data {
        let start = self.time(histogram.start_time);
        let time = self.time(histogram.time);
        let mut data_points = Vec::new();
        for point in histogram.data_points {
            if !self.take() {
                continue;
            }
            let buckets = point.positive_bucket.counts.len() + point.negative_bucket.counts.len();
            if buckets > self.clean.budget.data_points {
                self.clean.stats.count("histogram_too_many_buckets");
                continue;
            }
            if !exponential_is_consistent(&point) {
                self.clean.stats.count("histogram_inconsistent");
                continue;
            }
            let buckets = |b: m::ExponentialBucket| Buckets {
                offset: b.offset,
                bucket_counts: b.counts,
            };
            data_points.push(ExponentialHistogramDataPoint {
                attributes: self.attributes(point.attributes),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: point.count,
                sum: self.finite(point.sum),
                scale: i32::from(point.scale),
                zero_count: point.zero_count,
                positive: Some(buckets(point.positive_bucket)),
                negative: Some(buckets(point.negative_bucket)),
                exemplars: self.exemplars(point.exemplars),
                min: point.min.and_then(|v| self.finite(v)),
                max: point.max.and_then(|v| self.finite(v)),
                zero_threshold: point.zero_threshold,
                ..ExponentialHistogramDataPoint::default()
            });
        }
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality: temporality(histogram.temporality, true) as i32,
        })
    }

    /// A histogram's sum, min or max, left out and counted when OTLP
    /// cannot carry it (NaN, infinite).
    fn finite(&mut self, value: m::MetricNumber) -> Option<f64> {
        let value = finite(as_f64(value));
        if value.is_none() {
            self.clean.stats.count("metric_value_invalid");
        }
        value
    }

    fn exemplars(&mut self, exemplars: Vec<m::Exemplar>) -> Vec<Exemplar> {
        let mut kept = Vec::new();
        for exemplar in exemplars {
            if kept.len() >= self.clean.budget.attributes {
                self.clean.stats.count("exemplars_over_limit");
                continue;
            }
            let ids = match (exemplar.trace_id.is_empty(), exemplar.span_id.is_empty()) {
                (true, true) => Some((Vec::new(), Vec::new())),
                _ => match (
                    ids::parse_id_bytes::<16>(&exemplar.trace_id),
                    ids::parse_id_bytes::<8>(&exemplar.span_id),
                ) {
                    (Ok(trace), Ok(span)) => Some((trace.to_vec(), span.to_vec())),
                    _ => None,
                },
            };
            let value = match exemplar.value {
                m::MetricNumber::F64(v) if v.is_finite() => Some(exemplar::Value::AsDouble(v)),
                m::MetricNumber::F64(_) => None,
                m::MetricNumber::S64(v) => Some(exemplar::Value::AsInt(v)),
                m::MetricNumber::U64(v) => i64::try_from(v).ok().map(exemplar::Value::AsInt),
            };
            let (Some((trace_id, span_id)), Some(value)) = (ids, value) else {
                self.clean.stats.count("exemplar_invalid");
                continue;
            };
            kept.push(Exemplar {
                filtered_attributes: self.attributes(exemplar.filtered_attributes),
                time_unix_nano: self.time(exemplar.time),
                span_id,
                trace_id,
                value: Some(value),
            });
        }
        kept
    }
}

/// A point's value as OTLP carries it: doubles for `f64` metrics, integers
/// otherwise. `None` for NaN, infinities and integers past `i64`.
fn number_value(value: m::MetricNumber, kind: Kind) -> Option<number_data_point::Value> {
    use number_data_point::Value as V;

    let value = match (kind, value) {
        (Kind::F64, number) => V::AsDouble(as_f64(number)),
        (_, m::MetricNumber::S64(v)) => V::AsInt(v),
        (_, m::MetricNumber::U64(v)) => V::AsInt(i64::try_from(v).ok()?),
        (Kind::U64 | Kind::S64, m::MetricNumber::F64(v)) => V::AsDouble(v),
    };
    match value {
        V::AsDouble(v) if !v.is_finite() => None,
        value => Some(value),
    }
}

fn as_f64(number: m::MetricNumber) -> f64 {
    match number {
        m::MetricNumber::F64(v) => v,
        m::MetricNumber::S64(v) => v as f64,
        m::MetricNumber::U64(v) => v as f64,
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Bounds finite and strictly increasing, one more bucket than bounds,
/// and a count that is the buckets' total.
fn histogram_is_consistent(point: &m::HistogramDataPoint) -> bool {
    let bounds_ok =
        point.bounds.iter().all(|b| b.is_finite()) && point.bounds.windows(2).all(|w| w[0] < w[1]);
    let total = point
        .bucket_counts
        .iter()
        .try_fold(0u64, |sum, &n| sum.checked_add(n));
    bounds_ok && point.bucket_counts.len() == point.bounds.len() + 1 && total == Some(point.count)
}

/// A scale OTLP allows, a zero threshold that is a non-negative number,
/// and a count that is the zero count plus both sides' buckets.
fn exponential_is_consistent(point: &m::ExponentialHistogramDataPoint) -> bool {
    let total = point
        .positive_bucket
        .counts
        .iter()
        .chain(&point.negative_bucket.counts)
        .try_fold(point.zero_count, |sum, &n| sum.checked_add(n));
    (-10..=20).contains(&point.scale)
        && point.zero_threshold.is_finite()
        && point.zero_threshold >= 0.0
        && total == Some(point.count)
}

fn temporality(temporality: m::Temporality, monotonic: bool) -> AggregationTemporality {
    match temporality {
        m::Temporality::Cumulative => AggregationTemporality::Cumulative,
        m::Temporality::Delta => AggregationTemporality::Delta,
        m::Temporality::LowMemory if monotonic => AggregationTemporality::Delta,
        m::Temporality::LowMemory => AggregationTemporality::Cumulative,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Budget, TelemetryStats};

    fn point(bounds: Vec<f64>, counts: Vec<u64>, count: u64) -> m::HistogramDataPoint {
        m::HistogramDataPoint {
            attributes: Vec::new(),
            count,
            bounds,
            bucket_counts: counts,
            min: None,
            max: None,
            sum: m::MetricNumber::F64(1.0),
            exemplars: Vec::new(),
        }
    }

    #[test]
    fn histograms_must_agree_with_themselves() {
        assert!(histogram_is_consistent(&point(
            vec![1.0, 2.0],
            vec![1, 2, 3],
            6
        )));
        assert!(!histogram_is_consistent(&point(
            vec![1.0, 2.0],
            vec![1, 2],
            3
        )));
        assert!(!histogram_is_consistent(&point(
            vec![2.0, 1.0],
            vec![1, 2, 3],
            6
        )));
        assert!(!histogram_is_consistent(&point(
            vec![1.0, 2.0],
            vec![1, 2, 3],
            7
        )));
        assert!(!histogram_is_consistent(&point(
            vec![f64::NAN],
            vec![1, 2],
            3
        )));
        assert!(!histogram_is_consistent(&point(
            vec![],
            vec![u64::MAX, 1],
            0
        )));
    }

    #[test]
    fn values_otlp_cannot_carry_are_refused() {
        assert!(number_value(m::MetricNumber::F64(f64::NAN), Kind::F64).is_none());
        assert!(number_value(m::MetricNumber::F64(f64::INFINITY), Kind::F64).is_none());
        assert!(number_value(m::MetricNumber::U64(u64::MAX), Kind::U64).is_none());
        assert_eq!(
            number_value(m::MetricNumber::U64(7), Kind::U64),
            Some(number_data_point::Value::AsInt(7))
        );
        assert_eq!(
            number_value(m::MetricNumber::S64(-7), Kind::F64),
            Some(number_data_point::Value::AsDouble(-7.0))
        );
    }

    #[test]
    fn the_point_budget_covers_the_whole_export() {
        let budget = Budget {
            data_points: 3,
            ..Budget::default()
        };
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: &budget,
            stats: &mut stats,
        };
        let datetime = m::Datetime {
            seconds: 1,
            nanoseconds: 0,
        };
        let sum = |n: usize| m::Metric {
            name: "requests".into(),
            description: String::new(),
            unit: "{request}".into(),
            data: m::MetricData::U64Sum(m::Sum {
                data_points: (0..n)
                    .map(|i| m::SumDataPoint {
                        attributes: Vec::new(),
                        value: m::MetricNumber::U64(i as u64),
                        exemplars: Vec::new(),
                    })
                    .collect(),
                start_time: datetime,
                time: datetime,
                temporality: m::Temporality::Cumulative,
                is_monotonic: true,
            }),
        };
        let export = m::ResourceMetrics {
            resource: m::Resource {
                attributes: Vec::new(),
                schema_url: None,
            },
            scope_metrics: vec![m::ScopeMetrics {
                scope: m::InstrumentationScope {
                    name: "s".into(),
                    version: None,
                    schema_url: None,
                    attributes: Vec::new(),
                },
                metrics: vec![sum(2), sum(2)],
            }],
        };
        let got = convert_metrics(export, &[], &mut clean);
        let points: Vec<usize> = got.scope_metrics[0]
            .metrics
            .iter()
            .map(|metric| match &metric.data {
                Some(Data::Sum(s)) => s.data_points.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(points, [2, 1]);
        assert_eq!(stats.dropped.get("data_points_over_limit"), Some(&1));
    }
}
