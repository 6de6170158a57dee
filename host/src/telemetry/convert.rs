//! Guest records to SDK data. Every function here takes untrusted input.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::{TelemetryStats, trace_flags, wit};
use crate::ids::{self, BadId};

use wit::tracing as t;

/// Turns a guest's span into SDK span data, keeping its ids and times.
///
/// Returns the drop reason when the span cannot be kept at all (its own ids
/// are unusable or its times are out of range). Smaller faults (a bad link,
/// an end before the start) are repaired and counted in `stats`.
pub fn convert_span(
    span: t::SpanData,
    stats: &mut TelemetryStats,
) -> Result<SpanData, &'static str> {
    let span_context = context_of(&span.span_context).map_err(|bad| match bad {
        BadId::Malformed => "span_id_malformed",
        BadId::Zero => "span_id_zero",
    })?;
    let parent_span_id =
        ids::parse_parent_id(&span.parent_span_id).map_err(|_| "parent_id_malformed")?;

    let start_time = system_time(span.start_time).ok_or("timestamp_out_of_range")?;
    let mut end_time = system_time(span.end_time).ok_or("timestamp_out_of_range")?;
    if end_time < start_time {
        stats.count("end_before_start_repaired");
        end_time = start_time;
    }

    let mut events = SpanEvents::default();
    for event in span.events {
        let Some(time) = system_time(event.time) else {
            stats.count("event_timestamp_out_of_range");
            continue;
        };
        let attributes = key_values(event.attributes);
        events
            .events
            .push(Event::new(event.name, time, attributes, 0));
    }
    events.dropped_count = span.dropped_events;

    let mut links = SpanLinks::default();
    for link in span.links {
        match context_of(&link.span_context) {
            Ok(context) => links
                .links
                .push(Link::new(context, key_values(link.attributes), 0)),
            Err(_) => stats.count("link_id_invalid"),
        }
    }
    links.dropped_count = span.dropped_links;

    Ok(SpanData {
        span_context,
        parent_span_id,
        parent_span_is_remote: false,
        span_kind: span_kind(span.span_kind),
        name: Cow::Owned(span.name),
        start_time,
        end_time,
        attributes: key_values(span.attributes),
        dropped_attributes_count: span.dropped_attributes,
        events,
        links,
        status: match span.status {
            t::Status::Unset => Status::Unset,
            t::Status::Ok => Status::Ok,
            t::Status::Error(message) => Status::error(message),
        },
        instrumentation_scope: scope(span.instrumentation_scope),
    })
}

fn context_of(context: &t::SpanContext) -> Result<SpanContext, BadId> {
    let trace_id = ids::parse_trace_id(&context.trace_id)?;
    let span_id = ids::parse_span_id(&context.span_id)?;
    // A trace state the SDK refuses (bad keys or values) is treated as
    // empty, as the W3C specification asks.
    let trace_state = TraceState::from_key_value(
        context
            .trace_state
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap_or_default();
    Ok(SpanContext::new(
        trace_id,
        span_id,
        trace_flags(context.trace_flags),
        context.is_remote,
        trace_state,
    ))
}

fn span_kind(kind: t::SpanKind) -> SpanKind {
    match kind {
        t::SpanKind::Client => SpanKind::Client,
        t::SpanKind::Server => SpanKind::Server,
        t::SpanKind::Producer => SpanKind::Producer,
        t::SpanKind::Consumer => SpanKind::Consumer,
        t::SpanKind::Internal => SpanKind::Internal,
    }
}

fn scope(scope: wit::types::InstrumentationScope) -> InstrumentationScope {
    let mut builder =
        InstrumentationScope::builder(scope.name).with_attributes(key_values(scope.attributes));
    if let Some(version) = scope.version {
        builder = builder.with_version(version);
    }
    if let Some(url) = scope.schema_url {
        builder = builder.with_schema_url(url);
    }
    builder.build()
}

/// A `wasi:clocks` datetime as a system time; `None` when it cannot be
/// represented. Nanoseconds past a full second are carried into seconds.
fn system_time(time: wit::tracing::Datetime) -> Option<SystemTime> {
    let since_epoch = Duration::from_secs(time.seconds)
        .checked_add(Duration::from_nanos(u64::from(time.nanoseconds)))?;
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

fn key_values(attributes: Vec<wit::types::KeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|kv| KeyValue::new(kv.key, json_to_value(&kv.value)))
        .collect()
}

/// Reads an attribute value from its JSON encoding.
///
/// Strings, booleans, integers that fit in `i64`, other numbers, and
/// homogeneous arrays of those keep their type. Anything else (objects,
/// `null`, mixed arrays, text that is not JSON at all) is kept as a string
/// holding the guest's text, since span attributes have no richer type.
pub fn json_to_value(text: &str) -> Value {
    use serde_json::Value as Json;

    let Ok(json) = serde_json::from_str::<Json>(text) else {
        return Value::String(text.to_owned().into());
    };
    match json {
        Json::String(s) => Value::String(s.into()),
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => number(&n).unwrap_or_else(|| Value::String(text.to_owned().into())),
        Json::Array(items) => {
            array(&items).unwrap_or_else(|| Value::String(text.to_owned().into()))
        }
        Json::Object(_) | Json::Null => Value::String(text.to_owned().into()),
    }
}

fn number(n: &serde_json::Number) -> Option<Value> {
    match n.as_i64() {
        Some(i) => Some(Value::I64(i)),
        None => n.as_f64().map(Value::F64),
    }
}

fn array(items: &[serde_json::Value]) -> Option<Value> {
    use serde_json::Value as Json;

    let all = |pred: fn(&Json) -> bool| items.iter().all(pred);
    let array = if all(Json::is_string) {
        Array::String(
            items
                .iter()
                .filter_map(|v| v.as_str().map(|s| StringValue::from(s.to_owned())))
                .collect(),
        )
    } else if all(Json::is_boolean) {
        Array::Bool(items.iter().filter_map(Json::as_bool).collect())
    } else if all(Json::is_i64) {
        Array::I64(items.iter().filter_map(Json::as_i64).collect())
    } else if all(Json::is_number) {
        Array::F64(items.iter().filter_map(Json::as_f64).collect())
    } else {
        return None;
    };
    Some(Value::Array(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_keep_their_types() {
        assert_eq!(json_to_value(r#""a\"b""#), Value::String("a\"b".into()));
        assert_eq!(json_to_value("true"), Value::Bool(true));
        assert_eq!(json_to_value("-42"), Value::I64(-42));
        assert_eq!(json_to_value("2.5"), Value::F64(2.5));
        assert_eq!(json_to_value("2.0"), Value::F64(2.0));
        assert_eq!(
            json_to_value(r#"["x","y"]"#),
            Value::Array(Array::String(vec!["x".into(), "y".into()]))
        );
        assert_eq!(json_to_value("[1,2]"), Value::Array(Array::I64(vec![1, 2])));
        assert_eq!(
            json_to_value("[1,2.5]"),
            Value::Array(Array::F64(vec![1.0, 2.5]))
        );
        assert_eq!(
            json_to_value("[true]"),
            Value::Array(Array::Bool(vec![true]))
        );
    }

    #[test]
    fn unrepresentable_values_become_strings() {
        for text in [
            r#"{"k":"v"}"#,
            "null",
            r#"[1,"a"]"#,
            "not json",
            "",
            "[[1]]",
        ] {
            assert_eq!(
                json_to_value(text),
                Value::String(text.to_owned().into()),
                "{text}"
            );
        }
    }

    #[test]
    fn integers_beyond_i64_become_doubles() {
        assert_eq!(
            json_to_value("18446744073709551615"),
            Value::F64(u64::MAX as f64)
        );
    }

    #[test]
    fn datetimes_out_of_range_are_refused() {
        let far = wit::tracing::Datetime {
            seconds: u64::MAX,
            nanoseconds: 999_999_999,
        };
        assert_eq!(system_time(far), None);
        let carry = wit::tracing::Datetime {
            seconds: 1,
            nanoseconds: 1_500_000_000,
        };
        let expected = SystemTime::UNIX_EPOCH + Duration::from_millis(2500);
        assert_eq!(system_time(carry), Some(expected));
    }
}
