//! OpenTelemetry SDK data to `wasi:otel` records: ids as hex, times as
//! wall-clock datetimes, values as JSON.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ::opentelemetry::logs::AnyValue;
use ::opentelemetry::trace::{self as otel, SpanId, TraceFlags, TraceId, TraceState};
use ::opentelemetry::{Array, InstrumentationScope, KeyValue};
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;

use crate::bindings::logs::LogRecord;
use crate::bindings::tracing::{self as wit, TraceFlags as WitTraceFlags};
use crate::bindings::{Datetime, types};
use crate::value::{Value, write_array, write_bool, write_f64, write_i64, write_string};
use crate::{clock, id};

/// How deep a log body or attribute may nest lists and maps; anything
/// deeper is sent as JSON `null`, so a cyclic-looking structure cannot
/// exhaust the guest's stack.
const MAX_DEPTH: usize = 32;

/// `time` as a `wasi:otel` datetime; a time before 1970 reads as the epoch.
pub(crate) fn datetime(time: SystemTime) -> Datetime {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    Datetime {
        seconds: since_epoch.as_secs(),
        nanoseconds: since_epoch.subsec_nanos(),
    }
}

pub(crate) fn trace_id(id: TraceId) -> String {
    id::hex(&id.to_bytes())
}

pub(crate) fn span_id(id: SpanId) -> String {
    id::hex(&id.to_bytes())
}

fn trace_flags(flags: TraceFlags) -> WitTraceFlags {
    if flags.is_sampled() {
        WitTraceFlags::SAMPLED
    } else {
        WitTraceFlags::empty()
    }
}

/// The entries of a W3C trace state, in order.
fn trace_state(state: &TraceState) -> Vec<(String, String)> {
    let header = state.header();
    header
        .split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

pub(crate) fn span_context(context: &otel::SpanContext) -> wit::SpanContext {
    wit::SpanContext {
        trace_id: trace_id(context.trace_id()),
        span_id: span_id(context.span_id()),
        trace_flags: trace_flags(context.trace_flags()),
        is_remote: context.is_remote(),
        trace_state: trace_state(context.trace_state()),
    }
}

/// A `wasi:otel` span context as the SDK's, or `None` when its ids are
/// not valid.
pub(crate) fn otel_span_context(context: &wit::SpanContext) -> Option<otel::SpanContext> {
    let trace_id = TraceId::from_hex(&context.trace_id).ok()?;
    let span_id = SpanId::from_hex(&context.span_id).ok()?;
    let flags = if context.trace_flags.contains(WitTraceFlags::SAMPLED) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let entries = context
        .trace_state
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let state = TraceState::from_key_value(entries).unwrap_or_default();
    let context = otel::SpanContext::new(trace_id, span_id, flags, context.is_remote, state);
    context.is_valid().then_some(context)
}

pub(crate) fn scope(scope: &InstrumentationScope) -> types::InstrumentationScope {
    types::InstrumentationScope {
        name: scope.name().to_owned(),
        version: scope.version().map(str::to_owned),
        schema_url: scope.schema_url().map(str::to_owned),
        attributes: scope.attributes().map(key_value).collect(),
    }
}

pub(crate) fn key_value(kv: &KeyValue) -> types::KeyValue {
    types::KeyValue {
        key: kv.key.as_str().to_owned(),
        value: value(&kv.value).to_json(),
    }
}

/// An SDK attribute value as this crate's, which has a variant for each.
fn value(value: &::opentelemetry::Value) -> Value {
    use ::opentelemetry::Value as V;

    match value {
        V::Bool(b) => Value::Bool(*b),
        V::I64(i) => Value::I64(*i),
        V::F64(f) => Value::F64(*f),
        V::String(s) => Value::String(s.as_str().to_owned()),
        V::Array(Array::Bool(a)) => Value::BoolArray(a.clone()),
        V::Array(Array::I64(a)) => Value::I64Array(a.clone()),
        V::Array(Array::F64(a)) => Value::F64Array(a.clone()),
        V::Array(Array::String(a)) => {
            Value::StringArray(a.iter().map(|s| s.as_str().to_owned()).collect())
        }
        // Kinds added to the SDK later travel as their text.
        other => Value::String(other.to_string()),
    }
}

/// A log body or attribute value as JSON: lists as arrays, maps as
/// objects with their keys sorted, bytes as a base64 `data:` URL string.
pub(crate) fn any_value_json(value: &AnyValue) -> String {
    let mut out = String::new();
    write_any(&mut out, value, 0);
    out
}

fn write_any(out: &mut String, value: &AnyValue, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("null");
        return;
    }
    match value {
        AnyValue::Int(i) => write_i64(out, *i),
        AnyValue::Double(f) => write_f64(out, *f),
        AnyValue::String(s) => write_string(out, s.as_str()),
        AnyValue::Boolean(b) => write_bool(out, *b),
        AnyValue::Bytes(bytes) => {
            let url = format!("data:application/octet-stream;base64,{}", base64(bytes));
            write_string(out, &url);
        }
        AnyValue::ListAny(items) => {
            write_array(out, items, |out, item| write_any(out, item, depth + 1));
        }
        AnyValue::Map(map) => {
            let sorted: BTreeMap<&str, &AnyValue> =
                map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_any(out, item, depth + 1);
            }
            out.push('}');
        }
        // Kinds added to the SDK later travel as their debug text.
        other => write_string(out, &format!("{other:?}")),
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn span_data(span: &SpanData) -> wit::SpanData {
    let parent_span_id = if span.parent_span_id == SpanId::INVALID {
        String::new()
    } else {
        span_id(span.parent_span_id)
    };
    let start_time = datetime(span.start_time);
    wit::SpanData {
        span_context: span_context(&span.span_context),
        parent_span_id,
        span_kind: span_kind(&span.span_kind),
        name: span.name.to_string(),
        start_time,
        end_time: clock::later(datetime(span.end_time), start_time),
        attributes: span.attributes.iter().map(key_value).collect(),
        events: span.events.iter().map(event).collect(),
        links: span.links.iter().map(link).collect(),
        status: match &span.status {
            otel::Status::Unset => wit::Status::Unset,
            otel::Status::Ok => wit::Status::Ok,
            otel::Status::Error { description } => wit::Status::Error(description.to_string()),
        },
        instrumentation_scope: scope(&span.instrumentation_scope),
        dropped_attributes: span.dropped_attributes_count,
        dropped_events: span.events.dropped_count,
        dropped_links: span.links.dropped_count,
    }
}

fn span_kind(kind: &otel::SpanKind) -> wit::SpanKind {
    match kind {
        otel::SpanKind::Client => wit::SpanKind::Client,
        otel::SpanKind::Server => wit::SpanKind::Server,
        otel::SpanKind::Producer => wit::SpanKind::Producer,
        otel::SpanKind::Consumer => wit::SpanKind::Consumer,
        otel::SpanKind::Internal => wit::SpanKind::Internal,
    }
}

fn event(event: &otel::Event) -> wit::Event {
    wit::Event {
        name: event.name.to_string(),
        time: datetime(event.timestamp),
        attributes: event.attributes.iter().map(key_value).collect(),
    }
}

fn link(link: &otel::Link) -> wit::Link {
    wit::Link {
        span_context: span_context(&link.span_context),
        attributes: link.attributes.iter().map(key_value).collect(),
    }
}

/// An SDK log record as `wasi:otel`'s. A record's target, when set,
/// replaces its scope's name, as the SDK's OTLP exporter does.
pub(crate) fn log_record(record: &SdkLogRecord, scope: &InstrumentationScope) -> LogRecord {
    let mut scope = self::scope(scope);
    if let Some(target) = record.target() {
        scope.name = target.to_string();
    }
    let context = record.trace_context();
    LogRecord {
        timestamp: record.timestamp().map(datetime),
        observed_timestamp: record.observed_timestamp().map(datetime),
        severity_text: record.severity_text().map(str::to_owned),
        severity_number: record.severity_number().map(|s| s as u8),
        body: record.body().map(any_value_json),
        attributes: Some(
            record
                .attributes_iter()
                .map(|(key, value)| types::KeyValue {
                    key: key.as_str().to_owned(),
                    value: any_value_json(value),
                })
                .collect(),
        ),
        event_name: record.event_name().map(str::to_owned),
        resource: None,
        instrumentation_scope: Some(scope),
        trace_id: context.map(|c| trace_id(c.trace_id)),
        span_id: context.map(|c| span_id(c.span_id)),
        trace_flags: context.and_then(|c| c.trace_flags).map(trace_flags),
    }
}
