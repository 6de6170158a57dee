//! Guest records to SDK data. Every function here takes untrusted input:
//! what can be kept is kept, what can be repaired is repaired, the rest is
//! dropped, and each repair or drop is counted by reason.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::budget::{Budget, truncate};
use super::{TelemetryStats, trace_flags, wit};
use crate::ids::{self, BadId};

use wit::tracing as t;

/// The budget of a run and the counts of what it cost, for one
/// conversion.
pub struct Clean<'a> {
    /// The caps.
    pub budget: &'a Budget,
    /// Where repairs and drops are counted.
    pub stats: &'a mut TelemetryStats,
}

impl Clean<'_> {
    /// A name or key cut to the budget.
    pub fn name(&mut self, mut name: String) -> String {
        if truncate(&mut name, self.budget.name_bytes) {
            self.stats.count("name_truncated");
        }
        name
    }

    /// A free text (status message, string value) cut to the budget.
    pub fn text(&mut self, mut text: String) -> String {
        if truncate(&mut text, self.budget.value_bytes) {
            self.stats.count("value_truncated");
        }
        text
    }

    /// Attributes read from their JSON values, within the budget: empty
    /// keys and repeated keys (the first is kept) are dropped, and past
    /// the cap the rest are. Returns them with how many were dropped.
    pub fn attributes(&mut self, attributes: Vec<wit::types::KeyValue>) -> (Vec<KeyValue>, u32) {
        /// Up to this many kept keys, a repeat is looked for by a scan.
        const SCANNED_KEYS: usize = 16;

        let mut kept: Vec<KeyValue> =
            Vec::with_capacity(attributes.len().min(self.budget.attributes));
        // Repeated keys are found by a scan while there are few, and by a
        // set once there are many.
        let mut keys: Option<HashSet<String>> = None;
        let mut dropped = 0u32;
        for kv in attributes {
            let reason = if kept.len() >= self.budget.attributes {
                "attributes_over_limit"
            } else {
                // Empty once cut to the budget is empty too.
                let key = self.name(kv.key);
                let new = match &mut keys {
                    None if kept.len() < SCANNED_KEYS => {
                        !kept.iter().any(|kept| kept.key.as_str() == key)
                    }
                    _ => keys
                        .get_or_insert_with(|| {
                            kept.iter().map(|kv| kv.key.as_str().to_owned()).collect()
                        })
                        .insert(key.clone()),
                };
                if key.is_empty() {
                    "attribute_key_empty"
                } else if new {
                    let value = self.value(&kv.value);
                    kept.push(KeyValue::new(key, value));
                    continue;
                } else {
                    "attribute_key_repeated"
                }
            };
            self.stats.count(reason);
            dropped = dropped.saturating_add(1);
        }
        (kept, dropped)
    }

    /// A value read from its JSON encoding, cut to the budget.
    pub fn value(&mut self, text: &str) -> Value {
        let max = self.budget.value_bytes;
        let mut cut = false;
        let value = match json_to_value(text) {
            Value::String(s) if s.as_str().len() > max => {
                let mut s = s.to_string();
                cut = truncate(&mut s, max);
                Value::String(s.into())
            }
            Value::Array(array) => {
                let (array, was_cut) = cut_array(array, max);
                cut = was_cut;
                Value::Array(array)
            }
            other => other,
        };
        if cut {
            self.stats.count("value_truncated");
        }
        value
    }

    /// A guest datetime as a system time, counting `reason` when it
    /// cannot be represented.
    pub fn time(
        &mut self,
        time: wit::tracing::Datetime,
        reason: &'static str,
    ) -> Option<SystemTime> {
        let converted = system_time(time);
        if converted.is_none() {
            self.stats.count(reason);
        }
        converted
    }

    /// An instrumentation scope with its name and attributes in budget.
    pub fn scope(&mut self, scope: wit::types::InstrumentationScope) -> InstrumentationScope {
        let (attributes, _) = self.attributes(scope.attributes);
        let mut builder =
            InstrumentationScope::builder(self.name(scope.name)).with_attributes(attributes);
        if let Some(version) = scope.version {
            builder = builder.with_version(self.name(version));
        }
        if let Some(url) = scope.schema_url {
            builder = builder.with_schema_url(self.text(url));
        }
        builder.build()
    }
}

/// An array cut so its items take at most about `max` bytes.
fn cut_array(array: Array, max: usize) -> (Array, bool) {
    fn keep<T>(items: Vec<T>, size: impl Fn(&T) -> usize, max: usize) -> (Vec<T>, bool) {
        let mut total = 0;
        let mut kept = Vec::new();
        let len = items.len();
        for item in items {
            total += size(&item);
            if total > max {
                break;
            }
            kept.push(item);
        }
        let cut = kept.len() < len;
        (kept, cut)
    }
    match array {
        Array::String(items) => {
            let (items, cut) = keep(items, |s| s.as_str().len() + 1, max);
            (Array::String(items), cut)
        }
        Array::I64(items) => {
            let (items, cut) = keep(items, |_| 8, max);
            (Array::I64(items), cut)
        }
        Array::F64(items) => {
            let (items, cut) = keep(items, |_| 8, max);
            (Array::F64(items), cut)
        }
        Array::Bool(items) => {
            let (items, cut) = keep(items, |_| 1, max);
            (Array::Bool(items), cut)
        }
        other => (other, false),
    }
}

/// Turns a guest's span into SDK span data, keeping its ids and times.
///
/// Returns the drop reason when the span cannot be kept at all (its own ids
/// are unusable or its times are out of range). Smaller faults (a bad link,
/// an end before the start, too many attributes) are repaired and counted.
pub fn convert_span(span: t::SpanData, clean: &mut Clean<'_>) -> Result<SpanData, &'static str> {
    let span_context = context_of(&span.span_context, clean)?;
    let parent_span_id =
        ids::parse_parent_id(&span.parent_span_id).map_err(|_| "parent_id_malformed")?;

    let start_time = system_time(span.start_time).ok_or("timestamp_out_of_range")?;
    let mut end_time = system_time(span.end_time).ok_or("timestamp_out_of_range")?;
    if end_time < start_time {
        clean.stats.count("end_before_start_repaired");
        end_time = start_time;
    }

    let mut name = clean.name(span.name);
    if name.is_empty() {
        clean.stats.count("span_name_empty_repaired");
        name = "unnamed".to_owned();
        truncate(&mut name, clean.budget.name_bytes);
    }
    let (attributes, dropped_attributes) = clean.attributes(span.attributes);
    let events = events(span.events, span.dropped_events, clean);
    let links = links(span.links, span.dropped_links, clean);
    let status = match span.status {
        t::Status::Unset => Status::Unset,
        t::Status::Ok => Status::Ok,
        t::Status::Error(message) => Status::error(clean.text(message)),
    };

    Ok(SpanData {
        span_context,
        parent_span_id,
        parent_span_is_remote: false,
        span_kind: span_kind(span.span_kind),
        name: Cow::Owned(name),
        start_time,
        end_time,
        attributes,
        dropped_attributes_count: span.dropped_attributes.saturating_add(dropped_attributes),
        events,
        links,
        status,
        instrumentation_scope: clean.scope(span.instrumentation_scope),
    })
}

fn events(events: Vec<t::Event>, dropped: u32, clean: &mut Clean<'_>) -> SpanEvents {
    let mut kept = SpanEvents::default();
    kept.dropped_count = dropped;
    for event in events {
        if kept.events.len() >= clean.budget.events {
            clean.stats.count("events_over_limit");
            kept.dropped_count = kept.dropped_count.saturating_add(1);
            continue;
        }
        let Some(time) = clean.time(event.time, "event_timestamp_out_of_range") else {
            kept.dropped_count = kept.dropped_count.saturating_add(1);
            continue;
        };
        let (attributes, dropped) = clean.attributes(event.attributes);
        let name = clean.name(event.name);
        kept.events
            .push(Event::new(name, time, attributes, dropped));
    }
    kept
}

fn links(links: Vec<t::Link>, dropped: u32, clean: &mut Clean<'_>) -> SpanLinks {
    let mut kept = SpanLinks::default();
    kept.dropped_count = dropped;
    for link in links {
        if kept.links.len() >= clean.budget.links {
            clean.stats.count("links_over_limit");
            kept.dropped_count = kept.dropped_count.saturating_add(1);
            continue;
        }
        match context_of(&link.span_context, clean) {
            Ok(context) => {
                let (attributes, dropped) = clean.attributes(link.attributes);
                kept.links.push(Link::new(context, attributes, dropped));
            }
            Err(_) => {
                clean.stats.count("link_id_invalid");
                kept.dropped_count = kept.dropped_count.saturating_add(1);
            }
        }
    }
    kept
}

/// A guest's span context, or why it cannot be used.
fn context_of(
    context: &t::SpanContext,
    clean: &mut Clean<'_>,
) -> Result<SpanContext, &'static str> {
    let trace_id = ids::parse_trace_id(&context.trace_id).map_err(|bad| match bad {
        BadId::Malformed => "trace_id_malformed",
        BadId::Zero => "trace_id_zero",
    })?;
    let span_id = ids::parse_span_id(&context.span_id).map_err(|bad| match bad {
        BadId::Malformed => "span_id_malformed",
        BadId::Zero => "span_id_zero",
    })?;
    Ok(SpanContext::new(
        trace_id,
        span_id,
        trace_flags(context.trace_flags),
        context.is_remote,
        trace_state(&context.trace_state, clean),
    ))
}

/// The guest's trace state within the budget. One the SDK refuses (bad
/// keys or values) is treated as empty, as the W3C specification asks.
fn trace_state(entries: &[(String, String)], clean: &mut Clean<'_>) -> TraceState {
    if entries.is_empty() {
        return TraceState::default();
    }
    if entries.len() > clean.budget.trace_state {
        clean.stats.count("trace_state_over_limit");
    }
    let kept = entries.iter().take(clean.budget.trace_state);
    TraceState::from_key_value(kept.map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_else(|_| {
        clean.stats.count("trace_state_invalid");
        TraceState::default()
    })
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

/// A `wasi:clocks` datetime as a system time; `None` when it cannot be
/// represented. Nanoseconds past a full second are carried into seconds.
pub fn system_time(time: wit::tracing::Datetime) -> Option<SystemTime> {
    let since_epoch = Duration::from_secs(time.seconds)
        .checked_add(Duration::from_nanos(u64::from(time.nanoseconds)))?;
    // OTLP carries times as u64 nanoseconds since 1970, up to 2554.
    u64::try_from(since_epoch.as_nanos()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

/// Reads an attribute value from its JSON encoding.
///
/// Strings, booleans, integers that fit in `i64`, other numbers, and
/// homogeneous arrays of those keep their type. Anything else (objects,
/// `null`, mixed arrays, text that is not JSON at all) is kept as a string
/// holding the guest's text, since span attributes have no richer type.
pub fn json_to_value(text: &str) -> Value {
    use serde_json::Value as Json;

    // The common cases, read without building a JSON tree: a string
    // without escapes, a boolean, a small integer.
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains(['"', '\\'])
        && !inner.chars().any(char::is_control)
    {
        return Value::String(inner.to_owned().into());
    }
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if text.len() <= 18
        && let Some(digits) = text.strip_prefix('-').or(Some(text))
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.starts_with('0') && (digits.len() > 1 || text.starts_with('-')))
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::I64(i);
    }

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
    fn the_fast_paths_read_values_as_the_json_parser_does() {
        let slow = |text: &str| match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::String(s)) => Value::String(s.into()),
            Ok(serde_json::Value::Bool(b)) => Value::Bool(b),
            Ok(serde_json::Value::Number(n)) => number(&n).unwrap(),
            _ => Value::String(text.to_owned().into()),
        };
        for text in [
            r#""plain""#,
            r#""""#,
            r#""é ✓""#,
            r#""a\"b""#,
            "\"tab\there\"",
            "true",
            "false",
            "0",
            "-0",
            "7",
            "-7",
            "007",
            "-",
            "123456789012345678",
            "-123456789012345678",
            "9223372036854775807",
            "1.5",
            "1e3",
            "tru",
            "\"open",
        ] {
            assert_eq!(json_to_value(text), slow(text), "{text}");
        }
    }

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
