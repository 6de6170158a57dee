//! The run's own metrics, sent with the run's resource: how long it took,
//! the fuel and memory it used, and what of the guest's telemetry was
//! dropped. Each run is one process, so every metric is delta over the
//! run.

use std::time::SystemTime;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::span::RunFacts;
use crate::telemetry::nanos;

/// Bucket bounds of `wasm.run.duration`, in seconds.
const DURATION_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The run's metrics, for a run from `started` to `ended`.
pub fn run_metrics(
    resource: &[KeyValue],
    started: SystemTime,
    ended: SystemTime,
    facts: &RunFacts,
) -> ResourceMetrics {
    let start = nanos(started);
    let time = nanos(ended);
    let seconds = ended
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();

    let mut metrics = vec![duration(seconds, start, time)];
    if let Some(fuel) = facts.fuel_consumed {
        metrics.push(counter(
            "wasm.fuel.consumed",
            "Fuel the guest used, about one unit per instruction",
            "{fuel}",
            vec![point(int(fuel), Vec::new(), start, time)],
        ));
    }
    if let Some(peak) = facts.peak_memory {
        metrics.push(Metric {
            name: "wasm.memory.peak".to_owned(),
            description: "The guest's linear memories at their largest".to_owned(),
            unit: "By".to_owned(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point(int(peak as u64), Vec::new(), start, time)],
            })),
            ..Metric::default()
        });
    }
    let dropped: Vec<NumberDataPoint> = facts
        .stats
        .dropped
        .iter()
        .map(|(reason, count)| {
            let attributes = vec![string_kv("reason", reason)];
            point(int(*count), attributes, start, time)
        })
        .collect();
    if !dropped.is_empty() {
        metrics.push(counter(
            "wasm.telemetry.dropped",
            "Guest telemetry items dropped or repaired, by reason",
            "{item}",
            dropped,
        ));
    }

    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource.to_vec(),
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "wasm-otel".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn duration(seconds: f64, start: u64, time: u64) -> Metric {
    let mut bucket_counts = vec![0; DURATION_BOUNDS.len() + 1];
    let bucket = DURATION_BOUNDS.partition_point(|&bound| bound < seconds);
    bucket_counts[bucket] = 1;
    Metric {
        name: "wasm.run.duration".to_owned(),
        description: "How long the run took, from loading the module to the end".to_owned(),
        unit: "s".to_owned(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: 1,
                sum: Some(seconds),
                bucket_counts,
                explicit_bounds: DURATION_BOUNDS.to_vec(),
                min: Some(seconds),
                max: Some(seconds),
                ..HistogramDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Metric::default()
    }
}

fn counter(name: &str, description: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    }
}

fn point(
    value: number_data_point::Value,
    attributes: Vec<KeyValue>,
    start: u64,
    time: u64,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(value),
        ..NumberDataPoint::default()
    }
}

/// OTLP integers are signed.
fn int(value: u64) -> number_data_point::Value {
    number_data_point::Value::AsInt(i64::try_from(value).unwrap_or(i64::MAX))
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_lands_in_its_bucket() {
        let metric = duration(0.3, 1, 2);
        let Some(Data::Histogram(h)) = metric.data else {
            panic!()
        };
        let counts = &h.data_points[0].bucket_counts;
        // 0.3 s is past 0.25 and within 0.5: the eighth bucket.
        assert_eq!(counts.iter().position(|&c| c == 1), Some(7));
        assert_eq!(counts.iter().sum::<u64>(), 1);
    }
}
