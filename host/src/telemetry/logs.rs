//! Guest log records to OTLP log records.
//!
//! A record keeps the guest's timestamps, severity, body, attributes,
//! event name and trace context. A record with no trace context, or an
//! unusable one, is correlated with the run's `wasm.run` span instead.
//! Resource attributes a guest sends are added to the host's resource for
//! that record; where a key is also the host's, the host's value stands.

use std::time::SystemTime;

use base64::Engine as _;
use opentelemetry::trace::SpanContext;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::transform::common::tonic::Attributes;

use super::convert::Clean;
use super::wit;
use crate::export::LogItem;
use crate::ids;

/// How an OTLP `bytes` value is written as a JSON string in `wasi:otel`.
const BYTES_PREFIX: &str = "data:application/octet-stream;base64,";

/// Turns a guest's log record into an OTLP one, within the budget.
pub fn convert_log(
    record: wit::logs::LogRecord,
    run: &SpanContext,
    host_resource: &[KeyValue],
    clean: &mut Clean<'_>,
) -> LogItem {
    let time_unix_nano = record
        .timestamp
        .and_then(|t| clean.time(t, "timestamp_out_of_range"))
        .map_or(0, nanos);
    let observed_time_unix_nano = record
        .observed_timestamp
        .and_then(|t| clean.time(t, "timestamp_out_of_range"))
        .map_or_else(|| nanos(SystemTime::now()), nanos);
    let severity_number = match record.severity_number {
        Some(n @ 1..=24) => i32::from(n),
        Some(_) => {
            clean.stats.count("severity_out_of_range");
            0
        }
        None => 0,
    };
    let (trace_id, span_id, flags) = correlation(&record, run, clean);
    let (attributes, dropped) = clean.attributes(record.attributes.unwrap_or_default());

    let scope = record
        .instrumentation_scope
        .map(|scope| proto_scope(clean.scope(scope)))
        .unwrap_or_default();
    let extra_resource = match record.resource {
        Some(resource) => {
            let (attributes, _) = clean.attributes(resource.attributes);
            Attributes::from(attributes)
                .0
                .into_iter()
                .filter(|kv| !host_resource.iter().any(|host| host.key == kv.key))
                .collect()
        }
        None => Vec::new(),
    };

    LogItem {
        extra_resource,
        scope,
        record: LogRecord {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text: record
                .severity_text
                .map(|t| clean.name(t))
                .unwrap_or_default(),
            body: record.body.map(|body| self::body(&body, clean)),
            attributes: Attributes::from(attributes).0,
            dropped_attributes_count: dropped,
            flags,
            trace_id,
            span_id,
            event_name: record.event_name.map(|n| clean.name(n)).unwrap_or_default(),
        },
    }
}

/// The record's trace id, span id and flags: the guest's when both ids
/// are usable, else the run span's.
fn correlation(
    record: &wit::logs::LogRecord,
    run: &SpanContext,
    clean: &mut Clean<'_>,
) -> (Vec<u8>, Vec<u8>, u32) {
    let sampled = |flags: Option<wit::tracing::TraceFlags>| {
        flags.map_or(u32::from(run.trace_flags().to_u8()), |f| {
            u32::from(super::trace_flags(f).to_u8())
        })
    };
    match (&record.trace_id, &record.span_id) {
        (Some(trace_id), Some(span_id)) => {
            match (ids::parse_trace_id(trace_id), ids::parse_span_id(span_id)) {
                (Ok(trace_id), Ok(span_id)) => {
                    let flags = sampled(record.trace_flags);
                    return (
                        trace_id.to_bytes().to_vec(),
                        span_id.to_bytes().to_vec(),
                        flags,
                    );
                }
                _ => clean.stats.count("log_trace_context_invalid"),
            }
        }
        (None, None) => {}
        _ => clean.stats.count("log_trace_context_invalid"),
    }
    (
        run.trace_id().to_bytes().to_vec(),
        run.span_id().to_bytes().to_vec(),
        sampled(None),
    )
}

/// A log body from its JSON encoding. Unlike attributes, bodies keep maps
/// and mixed arrays. Text that is not JSON (or nested deeper than the JSON
/// reader allows) is kept as a string; a body past the value budget is
/// kept as its text, cut.
pub fn body(text: &str, clean: &mut Clean<'_>) -> AnyValue {
    let max = clean.budget.value_bytes;
    let parsed = serde_json::from_str::<serde_json::Value>(text).ok();
    let value = match parsed {
        Some(serde_json::Value::String(s)) => {
            return any_value(serde_json::Value::String(clean.text(s)));
        }
        Some(json) if text.len() <= max => return any_value(json),
        _ => {
            if text.len() > max {
                clean.stats.count("log_body_truncated");
            }
            let mut text = text.to_owned();
            super::budget::truncate(&mut text, max);
            Any::StringValue(text)
        }
    };
    AnyValue { value: Some(value) }
}

fn any_value(json: serde_json::Value) -> AnyValue {
    use serde_json::Value as Json;

    let value = match json {
        Json::Null => None,
        Json::Bool(b) => Some(Any::BoolValue(b)),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) => Any::IntValue(i),
            None => Any::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Json::String(s) => Some(match s.strip_prefix(BYTES_PREFIX) {
            Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => Any::BytesValue(bytes),
                Err(_) => Any::StringValue(s),
            },
            None => Any::StringValue(s),
        }),
        Json::Array(items) => Some(Any::ArrayValue(ArrayValue {
            values: items.into_iter().map(any_value).collect(),
        })),
        Json::Object(map) => Some(Any::KvlistValue(KeyValueList {
            values: map
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key,
                    value: Some(any_value(value)),
                    ..KeyValue::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// An SDK scope as an OTLP one.
pub fn proto_scope(scope: opentelemetry::InstrumentationScope) -> InstrumentationScope {
    InstrumentationScope {
        name: scope.name().to_owned(),
        version: scope.version().unwrap_or_default().to_owned(),
        attributes: Attributes::from(scope.attributes().cloned()).0,
        ..InstrumentationScope::default()
    }
}

/// Nanoseconds since 1970; times before it are 0.
pub fn nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Budget, TelemetryStats};
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn run_span() -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes([2; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    fn empty() -> wit::logs::LogRecord {
        wit::logs::LogRecord {
            timestamp: None,
            observed_timestamp: None,
            severity_text: None,
            severity_number: None,
            body: None,
            attributes: None,
            event_name: None,
            resource: None,
            instrumentation_scope: None,
            trace_id: None,
            span_id: None,
            trace_flags: None,
        }
    }

    fn convert(record: wit::logs::LogRecord) -> (LogItem, TelemetryStats) {
        let budget = Budget::default();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: &budget,
            stats: &mut stats,
        };
        let item = convert_log(record, &run_span(), &[], &mut clean);
        (item, stats)
    }

    #[test]
    fn a_record_with_nothing_is_correlated_with_the_run() {
        let (item, stats) = convert(empty());
        assert_eq!(item.record.trace_id, vec![1; 16]);
        assert_eq!(item.record.span_id, vec![2; 8]);
        assert_eq!(item.record.time_unix_nano, 0);
        assert!(item.record.observed_time_unix_nano > 0);
        assert_eq!(stats.dropped_total(), 0);
    }

    #[test]
    fn severities_outside_1_to_24_become_unspecified() {
        for (given, kept) in [(1, 1), (24, 24), (0, 0), (25, 0), (255, 0)] {
            let (item, _) = convert(wit::logs::LogRecord {
                severity_number: Some(given),
                ..empty()
            });
            assert_eq!(item.record.severity_number, kept, "{given}");
        }
    }

    #[test]
    fn bodies_keep_maps_bytes_and_mixed_arrays() {
        let budget = Budget::default();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: &budget,
            stats: &mut stats,
        };
        let got = body(r#"{"k":[1,"a",{"x":true}],"n":null}"#, &mut clean);
        let Some(Any::KvlistValue(list)) = got.value else {
            panic!("{got:?}")
        };
        assert_eq!(list.values[0].key, "k");
        let Some(Any::ArrayValue(items)) = list.values[0].value.clone().unwrap().value else {
            panic!("{list:?}")
        };
        assert_eq!(items.values.len(), 3);
        let bytes = body(r#""data:application/octet-stream;base64,AAEC""#, &mut clean);
        assert_eq!(bytes.value, Some(Any::BytesValue(vec![0, 1, 2])));
        let text = body("not json", &mut clean);
        assert_eq!(text.value, Some(Any::StringValue("not json".into())));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let Some(Any::StringValue(kept)) = body(&deep, &mut clean).value else {
            panic!("deep nesting is kept as text")
        };
        assert_eq!(kept.len(), budget.value_bytes);
        assert_eq!(stats.dropped.get("log_body_truncated"), Some(&1));
    }

    #[test]
    fn a_guest_resource_adds_to_the_host_resource_without_replacing_it() {
        let budget = Budget::default();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: &budget,
            stats: &mut stats,
        };
        let host = Attributes::from([opentelemetry::KeyValue::new("service.name", "host")]).0;
        let resource = wit::types::Resource {
            attributes: vec![
                wit::types::KeyValue {
                    key: "service.name".into(),
                    value: "\"spoof\"".into(),
                },
                wit::types::KeyValue {
                    key: "guest.region".into(),
                    value: "\"eu\"".into(),
                },
            ],
            schema_url: None,
        };
        let record = wit::logs::LogRecord {
            resource: Some(resource),
            ..empty()
        };
        let item = convert_log(record, &run_span(), &host, &mut clean);
        let keys: Vec<&str> = item
            .extra_resource
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, ["guest.region"]);
    }
}
