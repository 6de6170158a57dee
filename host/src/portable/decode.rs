//! OTLP records, as decoded from a line, turned back into the `wasi:otel`
//! records a native guest would have sent, so they are checked, bounded
//! and counted by the same code.
//!
//! What the conversion cannot carry is said where it happens: metric
//! points of one metric share the first point's start and end times, as
//! `wasi:otel` has one pair per metric, and attribute values that are not
//! scalars or arrays of scalars become their JSON text.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

use crate::telemetry::bindings::wasi::otel as wit;
use wit::metrics as m;
use wit::tracing::{Datetime, TraceFlags};

/// Nanoseconds since the epoch as a `wasi:clocks` datetime.
pub fn datetime(nanos: u64) -> Datetime {
    Datetime {
        seconds: nanos / 1_000_000_000,
        nanoseconds: (nanos % 1_000_000_000) as u32,
    }
}

/// Lowercase hex of an id; empty for an empty one.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn flags(flags: u32) -> TraceFlags {
    match flags & 1 {
        1 => TraceFlags::SAMPLED,
        _ => TraceFlags::empty(),
    }
}

/// An OTLP `AnyValue` as the JSON text `wasi:otel` carries values in.
pub fn value_json(value: Option<&AnyValue>) -> String {
    json(value.and_then(|v| v.value.as_ref())).to_string()
}

fn json(value: Option<&Any>) -> serde_json::Value {
    use base64::Engine;
    use serde_json::Value as Json;

    match value {
        None => Json::Null,
        Some(Any::StringValue(s)) => Json::String(s.clone()),
        Some(Any::BoolValue(b)) => Json::Bool(*b),
        Some(Any::IntValue(i)) => Json::from(*i),
        Some(Any::DoubleValue(f)) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            // JSON has no NaN or infinities; the SDK sends them as text.
            .unwrap_or_else(|| Json::String(format!("{f}"))),
        Some(Any::BytesValue(bytes)) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(Any::ArrayValue(array)) => Json::Array(
            array
                .values
                .iter()
                .map(|v| json(v.value.as_ref()))
                .collect(),
        ),
        // An index into a string table that OTLP JSON lines do not carry.
        Some(Any::StringValueStrindex(_)) => Json::Null,
        Some(Any::KvlistValue(list)) => Json::Object(
            list.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        json(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect(),
        ),
    }
}

fn attributes(attributes: &[KeyValue]) -> Vec<wit::types::KeyValue> {
    attributes
        .iter()
        .map(|kv| wit::types::KeyValue {
            key: kv.key.clone(),
            value: value_json(kv.value.as_ref()),
        })
        .collect()
}

fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// An OTLP instrumentation scope as `wasi:otel`'s.
pub fn scope(
    scope: Option<&InstrumentationScope>,
    schema_url: &str,
) -> wit::types::InstrumentationScope {
    let scope = scope.cloned().unwrap_or_default();
    wit::types::InstrumentationScope {
        name: scope.name,
        version: optional(&scope.version),
        schema_url: optional(schema_url),
        attributes: attributes(&scope.attributes),
    }
}

fn trace_state(header: &str) -> Vec<(String, String)> {
    header
        .split(',')
        .filter_map(|member| member.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// An OTLP span as `wasi:otel` span data.
pub fn span(span: &Span, scope: &wit::types::InstrumentationScope) -> wit::tracing::SpanData {
    let context =
        |trace_id: &[u8], span_id: &[u8], state: &str, f: u32| wit::tracing::SpanContext {
            trace_id: hex(trace_id),
            span_id: hex(span_id),
            trace_flags: flags(f),
            is_remote: false,
            trace_state: trace_state(state),
        };
    let kind = match span::SpanKind::try_from(span.kind) {
        Ok(span::SpanKind::Server) => wit::tracing::SpanKind::Server,
        Ok(span::SpanKind::Client) => wit::tracing::SpanKind::Client,
        Ok(span::SpanKind::Producer) => wit::tracing::SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => wit::tracing::SpanKind::Consumer,
        _ => wit::tracing::SpanKind::Internal,
    };
    let status = match &span.status {
        Some(s) if s.code == status::StatusCode::Ok as i32 => wit::tracing::Status::Ok,
        Some(s) if s.code == status::StatusCode::Error as i32 => {
            wit::tracing::Status::Error(s.message.clone())
        }
        _ => wit::tracing::Status::Unset,
    };
    wit::tracing::SpanData {
        span_context: context(&span.trace_id, &span.span_id, &span.trace_state, span.flags),
        parent_span_id: hex(&span.parent_span_id),
        span_kind: kind,
        name: span.name.clone(),
        start_time: datetime(span.start_time_unix_nano),
        end_time: datetime(span.end_time_unix_nano),
        attributes: attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| wit::tracing::Event {
                name: event.name.clone(),
                time: datetime(event.time_unix_nano),
                attributes: attributes(&event.attributes),
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|link| wit::tracing::Link {
                span_context: context(&link.trace_id, &link.span_id, &link.trace_state, link.flags),
                attributes: attributes(&link.attributes),
            })
            .collect(),
        status,
        instrumentation_scope: scope.clone(),
        dropped_attributes: span.dropped_attributes_count,
        dropped_events: span.dropped_events_count,
        dropped_links: span.dropped_links_count,
    }
}

/// An OTLP log record as `wasi:otel`'s.
pub fn log(record: &LogRecord, scope: &wit::types::InstrumentationScope) -> wit::logs::LogRecord {
    let time = |nanos: u64| (nanos != 0).then(|| datetime(nanos));
    let id = |bytes: &[u8]| (!bytes.is_empty()).then(|| hex(bytes));
    wit::logs::LogRecord {
        timestamp: time(record.time_unix_nano),
        observed_timestamp: time(record.observed_time_unix_nano),
        severity_text: optional(&record.severity_text),
        // Out of `u8`, the number is out of the data model's range anyway;
        // 255 keeps it out of range, to be counted as such.
        severity_number: match record.severity_number {
            0 => None,
            n => Some(u8::try_from(n).unwrap_or(u8::MAX)),
        },
        body: record.body.as_ref().map(|body| value_json(Some(body))),
        attributes: Some(attributes(&record.attributes)),
        event_name: optional(&record.event_name),
        resource: None,
        instrumentation_scope: Some(scope.clone()),
        trace_id: id(&record.trace_id),
        span_id: id(&record.span_id),
        trace_flags: id(&record.trace_id).map(|_| flags(record.flags)),
    }
}

/// An OTLP metric as `wasi:otel`'s, with the number of its points that
/// could not be carried; the reason it was dropped when none could.
pub fn metric(metric: &pm::Metric) -> Result<(m::Metric, u64), &'static str> {
    use pm::metric::Data;

    let mut dropped = 0;
    let data = match &metric.data {
        Some(Data::Gauge(gauge)) => gauge_data(gauge),
        Some(Data::Sum(sum)) => sum_data(sum),
        Some(Data::Histogram(histogram)) => histogram_data(histogram),
        Some(Data::ExponentialHistogram(histogram)) => exponential_data(histogram, &mut dropped),
        // `wasi:otel` has no summaries.
        Some(Data::Summary(_)) => return Err("portable_metric_unsupported"),
        None => return Err("portable_metric_without_data"),
    };
    let metric = m::Metric {
        name: metric.name.clone(),
        description: metric.description.clone(),
        unit: metric.unit.clone(),
        data,
    };
    Ok((metric, dropped))
}

/// The first point's start and end times: `wasi:otel` has one pair per
/// metric.
fn times(first: Option<(u64, u64)>) -> (Datetime, Datetime) {
    let (start, time) = first.unwrap_or_default();
    (datetime(start), datetime(time))
}

fn temporality(value: i32) -> m::Temporality {
    match pm::AggregationTemporality::try_from(value) {
        Ok(pm::AggregationTemporality::Delta) => m::Temporality::Delta,
        _ => m::Temporality::Cumulative,
    }
}

/// Whether any of `points` holds a double, which makes the whole metric
/// one of doubles.
fn any_double(points: &[pm::NumberDataPoint]) -> bool {
    use pm::number_data_point::Value;
    points
        .iter()
        .any(|p| matches!(p.value, Some(Value::AsDouble(_))))
}

fn number(value: Option<pm::number_data_point::Value>, doubles: bool) -> m::MetricNumber {
    use pm::number_data_point::Value;
    match (value, doubles) {
        (Some(Value::AsDouble(f)), _) => m::MetricNumber::F64(f),
        (Some(Value::AsInt(i)), true) => m::MetricNumber::F64(i as f64),
        (Some(Value::AsInt(i)), false) => m::MetricNumber::S64(i),
        (None, _) => m::MetricNumber::S64(0),
    }
}

fn exemplars(exemplars: &[pm::Exemplar], doubles: bool) -> Vec<m::Exemplar> {
    use pm::exemplar::Value as E;
    use pm::number_data_point::Value as N;
    exemplars
        .iter()
        .map(|e| m::Exemplar {
            filtered_attributes: attributes(&e.filtered_attributes),
            time: datetime(e.time_unix_nano),
            value: number(
                e.value.as_ref().map(|v| match v {
                    E::AsDouble(f) => N::AsDouble(*f),
                    E::AsInt(i) => N::AsInt(*i),
                }),
                doubles,
            ),
            span_id: hex(&e.span_id),
            trace_id: hex(&e.trace_id),
        })
        .collect()
}

/// A gauge's or a sum's points, as the parts both kinds of point have.
struct NumberPoints {
    /// Whether any point holds a double, making all of them doubles.
    doubles: bool,
    /// The first point's start and end times.
    first: Option<(u64, u64)>,
    /// Each point's attributes, value and exemplars.
    parts: Vec<(Vec<wit::types::KeyValue>, m::MetricNumber, Vec<m::Exemplar>)>,
}

fn number_points(points: &[pm::NumberDataPoint]) -> NumberPoints {
    let doubles = any_double(points);
    NumberPoints {
        doubles,
        first: points
            .first()
            .map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
        parts: points
            .iter()
            .map(|p| {
                let value = number(p.value, doubles);
                let exemplars = exemplars(&p.exemplars, doubles);
                (attributes(&p.attributes), value, exemplars)
            })
            .collect(),
    }
}

fn gauge_data(gauge: &pm::Gauge) -> m::MetricData {
    let points = number_points(&gauge.data_points);
    let (start, time) = times(points.first);
    let data = m::Gauge {
        data_points: points
            .parts
            .into_iter()
            .map(|(attributes, value, exemplars)| m::GaugeDataPoint {
                attributes,
                value,
                exemplars,
            })
            .collect(),
        start_time: points.first.filter(|(s, _)| *s != 0).map(|_| start),
        time,
    };
    match points.doubles {
        true => m::MetricData::F64Gauge(data),
        false => m::MetricData::S64Gauge(data),
    }
}

fn sum_data(sum: &pm::Sum) -> m::MetricData {
    let points = number_points(&sum.data_points);
    let (start_time, time) = times(points.first);
    let data = m::Sum {
        data_points: points
            .parts
            .into_iter()
            .map(|(attributes, value, exemplars)| m::SumDataPoint {
                attributes,
                value,
                exemplars,
            })
            .collect(),
        start_time,
        time,
        temporality: temporality(sum.aggregation_temporality),
        is_monotonic: sum.is_monotonic,
    };
    match points.doubles {
        true => m::MetricData::F64Sum(data),
        false => m::MetricData::S64Sum(data),
    }
}

fn histogram_data(histogram: &pm::Histogram) -> m::MetricData {
    let points = &histogram.data_points;
    let (start_time, time) = times(
        points
            .first()
            .map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
    );
    m::MetricData::F64Histogram(m::Histogram {
        data_points: points
            .iter()
            .map(|p| m::HistogramDataPoint {
                attributes: attributes(&p.attributes),
                count: p.count,
                bounds: p.explicit_bounds.clone(),
                bucket_counts: p.bucket_counts.clone(),
                min: p.min.map(m::MetricNumber::F64),
                max: p.max.map(m::MetricNumber::F64),
                sum: m::MetricNumber::F64(p.sum.unwrap_or_default()),
                exemplars: exemplars(&p.exemplars, true),
            })
            .collect(),
        start_time,
        time,
        temporality: temporality(histogram.aggregation_temporality),
    })
}

fn exponential_data(histogram: &pm::ExponentialHistogram, dropped: &mut u64) -> m::MetricData {
    let points = &histogram.data_points;
    let (start_time, time) = times(
        points
            .first()
            .map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
    );
    let bucket = |b: Option<&pm::exponential_histogram_data_point::Buckets>| {
        let b = b.cloned().unwrap_or_default();
        m::ExponentialBucket {
            offset: b.offset,
            counts: b.bucket_counts,
        }
    };
    m::MetricData::F64ExponentialHistogram(m::ExponentialHistogram {
        data_points: points
            .iter()
            // A scale outside `wasi:otel`'s `s8` cannot be carried; such a
            // point is dropped and counted, the metric's other points kept.
            .filter_map(|p| {
                let Ok(scale) = i8::try_from(p.scale) else {
                    *dropped += 1;
                    return None;
                };
                Some(m::ExponentialHistogramDataPoint {
                    attributes: attributes(&p.attributes),
                    count: p.count,
                    min: p.min.map(m::MetricNumber::F64),
                    max: p.max.map(m::MetricNumber::F64),
                    sum: m::MetricNumber::F64(p.sum.unwrap_or_default()),
                    scale,
                    zero_count: p.zero_count,
                    positive_bucket: bucket(p.positive.as_ref()),
                    negative_bucket: bucket(p.negative.as_ref()),
                    zero_threshold: p.zero_threshold,
                    exemplars: exemplars(&p.exemplars, true),
                })
            })
            .collect(),
        start_time,
        time,
        temporality: temporality(histogram.aggregation_temporality),
    })
}
