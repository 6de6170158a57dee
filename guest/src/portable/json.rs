//! `wasi:otel` records written in the OTLP JSON mapping: one
//! `TracesData`, `LogsData` or `MetricsData` object per line, as the
//! OpenTelemetry file exporter writes them.
//!
//! Ids are lowercase hex, 64-bit integers and timestamps are decimal
//! strings, enums are numbers. Attribute values, which `wasi:otel` carries
//! as JSON text, become `AnyValue`s by the rule the host applies to them:
//! strings, booleans, integers, doubles and homogeneous arrays keep their
//! type; anything else is kept as a string holding the text.

use crate::bindings::logs::LogRecord;
use crate::bindings::metrics as m;
use crate::bindings::tracing::{SpanData, SpanKind, Status, TraceFlags};
use crate::bindings::types::{InstrumentationScope, KeyValue};
use crate::bindings::{Datetime, types};
use crate::value::{write_f64, write_i64, write_string};

/// A JSON text being written, with the comma bookkeeping of objects and
/// arrays.
pub(super) struct Writer {
    out: String,
    /// Per open object or array: whether it has no member yet.
    empty: Vec<bool>,
}

impl Writer {
    pub(super) fn new() -> Self {
        Writer {
            out: String::new(),
            empty: Vec::new(),
        }
    }

    /// Writes the comma that separates a member from the one before.
    fn separate(&mut self) {
        if let Some(empty) = self.empty.last_mut() {
            if !*empty {
                self.out.push(',');
            }
            *empty = false;
        }
    }

    pub(super) fn open(&mut self, bracket: char) {
        self.out.push(bracket);
        self.empty.push(true);
    }

    pub(super) fn close(&mut self, bracket: char) {
        self.empty.pop();
        self.out.push(bracket);
    }

    /// Starts the member `key` of the open object; its value comes next.
    fn key(&mut self, key: &str) -> &mut Self {
        self.separate();
        write_string(&mut self.out, key);
        self.out.push(':');
        // The value must not write another comma.
        self.empty.push(true);
        self
    }

    /// Ends a value begun by [`Writer::key`] or an array item.
    fn done(&mut self) {
        self.empty.pop();
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(&mut self.out, value);
        self.done();
    }

    /// A string member, left out when empty.
    fn nonempty(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.string(key, value);
        }
    }

    /// A 64-bit unsigned integer, as the JSON mapping writes it: a string.
    fn u64(&mut self, key: &str, value: u64) {
        self.string(key, &value.to_string());
    }

    /// A 32-bit integer or an enum, as a number; left out when zero.
    fn number(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.key(key);
            write_i64(&mut self.out, value);
            self.done();
        }
    }

    fn f64(&mut self, key: &str, value: f64) {
        self.key(key);
        write_f64(&mut self.out, value);
        self.done();
    }

    fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self.done();
    }

    fn time(&mut self, key: &str, time: &Datetime) {
        self.u64(key, nanos(time));
    }

    /// The member `key` holding an object that `body` writes.
    fn object(&mut self, key: &str, body: impl FnOnce(&mut Self)) {
        self.key(key);
        self.open('{');
        body(self);
        self.close('}');
        self.done();
    }

    /// The member `key` holding an array of `items`, each written by
    /// `item`; left out when there are none.
    fn array<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        if items.is_empty() {
            return;
        }
        self.key(key);
        self.open('[');
        for each in items {
            self.separate();
            item(self, each);
        }
        self.close(']');
        self.done();
    }

    /// An array of objects, each one's members written by `item`.
    fn objects<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.array(key, items, |w, each| {
            w.open('{');
            item(w, each);
            w.close('}');
        });
    }

    /// An array of scalars, each written by `item`.
    fn scalars<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut String, &T)) {
        self.array(key, items, |w, each| item(&mut w.out, each));
    }

    fn attributes(&mut self, key: &str, attributes: &[KeyValue]) {
        self.objects(key, attributes, |w, kv| {
            w.string("key", &kv.key);
            w.object("value", |w| any_value(w, &kv.value));
        });
    }

    fn scope(&mut self, scope: &InstrumentationScope) {
        self.object("scope", |w| {
            w.string("name", &scope.name);
            w.nonempty("version", scope.version.as_deref().unwrap_or_default());
            w.attributes("attributes", &scope.attributes);
        });
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// Nanoseconds since the epoch, saturating far in the future.
fn nanos(time: &Datetime) -> u64 {
    time.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(time.nanoseconds))
}

/// The members of an `AnyValue` for a `wasi:otel` value given as JSON.
pub(super) fn any_value(w: &mut Writer, text: &str) {
    use serde_json::Value as Json;

    match serde_json::from_str::<Json>(text) {
        Ok(Json::Bool(b)) => w.bool("boolValue", b),
        Ok(Json::Number(n)) if n.is_i64() => w.string("intValue", &n.to_string()),
        Ok(Json::Number(n)) if n.as_f64().is_some() => {
            w.f64("doubleValue", n.as_f64().unwrap_or_default())
        }
        Ok(Json::String(s)) => w.string("stringValue", &s),
        Ok(Json::Array(items)) if is_homogeneous(&items) => {
            w.object("arrayValue", |w| {
                w.objects("values", &items, |w, item| {
                    any_value(w, &item.to_string());
                });
            });
        }
        _ => w.string("stringValue", text),
    }
}

/// Whether `items` are all strings, all booleans, all integers or all
/// numbers: the arrays an attribute may hold.
fn is_homogeneous(items: &[serde_json::Value]) -> bool {
    use serde_json::Value as Json;

    let all = |pred: fn(&Json) -> bool| items.iter().all(pred);
    all(Json::is_string) || all(Json::is_boolean) || all(Json::is_i64) || all(Json::is_number)
}

/// The resource every line describes itself with.
pub(crate) struct Resource {
    pub(crate) attributes: Vec<KeyValue>,
}

fn resource(w: &mut Writer, resource: &Resource, extra: &[KeyValue]) {
    w.object("resource", |w| {
        // A key the guest's own resource repeats is the guest's.
        let own: Vec<KeyValue> = resource
            .attributes
            .iter()
            .filter(|kv| !extra.iter().any(|e| e.key == kv.key))
            .chain(extra)
            .cloned()
            .collect();
        w.attributes("attributes", &own);
    });
}

/// Groups `items` by the scope `scope_of` gives, keeping first-seen order.
fn by_scope<'a, T>(
    items: &'a [T],
    scope_of: impl Fn(&'a T) -> &'a InstrumentationScope,
) -> Vec<(&'a InstrumentationScope, Vec<&'a T>)> {
    let mut groups: Vec<(&InstrumentationScope, Vec<&T>)> = Vec::new();
    for item in items {
        let scope = scope_of(item);
        match groups.iter_mut().find(|(s, _)| same_scope(s, scope)) {
            Some((_, members)) => members.push(item),
            None => groups.push((scope, vec![item])),
        }
    }
    groups
}

fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    let pairs = |s: &InstrumentationScope| -> Vec<(String, String)> {
        let kvs = s.attributes.iter();
        kvs.map(|kv| (kv.key.clone(), kv.value.clone())).collect()
    };
    a.name == b.name
        && a.version == b.version
        && a.schema_url == b.schema_url
        && pairs(a) == pairs(b)
}

/// One `TracesData` line (without the newline) holding `spans`.
pub(crate) fn traces(res: &Resource, spans: &[SpanData]) -> String {
    let mut w = Writer::new();
    w.open('{');
    w.objects("resourceSpans", &[()], |w, ()| {
        resource(w, res, &[]);
        let groups = by_scope(spans, |span| &span.instrumentation_scope);
        w.objects("scopeSpans", &groups, |w, (scope, spans)| {
            w.scope(scope);
            w.objects("spans", spans, |w, span| self::span(w, span));
            w.nonempty("schemaUrl", scope.schema_url.as_deref().unwrap_or_default());
        });
    });
    w.close('}');
    w.finish()
}

fn span(w: &mut Writer, span: &SpanData) {
    let context = &span.span_context;
    w.string("traceId", &context.trace_id);
    w.string("spanId", &context.span_id);
    w.nonempty("traceState", &trace_state(&context.trace_state));
    w.nonempty("parentSpanId", &span.parent_span_id);
    w.number("flags", i64::from(flags(context.trace_flags)));
    w.string("name", &span.name);
    w.number("kind", kind(span.span_kind));
    w.time("startTimeUnixNano", &span.start_time);
    w.time("endTimeUnixNano", &span.end_time);
    w.attributes("attributes", &span.attributes);
    w.number("droppedAttributesCount", i64::from(span.dropped_attributes));
    w.objects("events", &span.events, |w, event| {
        w.time("timeUnixNano", &event.time);
        w.string("name", &event.name);
        w.attributes("attributes", &event.attributes);
    });
    w.number("droppedEventsCount", i64::from(span.dropped_events));
    w.objects("links", &span.links, |w, link| {
        let context = &link.span_context;
        w.string("traceId", &context.trace_id);
        w.string("spanId", &context.span_id);
        w.nonempty("traceState", &trace_state(&context.trace_state));
        w.attributes("attributes", &link.attributes);
        w.number("flags", i64::from(flags(context.trace_flags)));
    });
    w.number("droppedLinksCount", i64::from(span.dropped_links));
    w.object("status", |w| match &span.status {
        Status::Unset => {}
        Status::Ok => w.number("code", 1),
        Status::Error(message) => {
            w.nonempty("message", message);
            w.number("code", 2);
        }
    });
}

fn trace_state(pairs: &[(String, String)]) -> String {
    let members: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    members.join(",")
}

fn flags(flags: TraceFlags) -> u32 {
    u32::from(flags.contains(TraceFlags::SAMPLED))
}

/// The `SpanKind` enum of the OTLP protocol.
fn kind(kind: SpanKind) -> i64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// One `LogsData` line (without the newline) holding `records`.
pub(crate) fn logs(res: &Resource, records: &[LogRecord]) -> String {
    // A record without a scope is grouped under an empty one.
    let unnamed = crate::bindings::scope(String::new());
    let mut w = Writer::new();
    w.open('{');
    w.objects("resourceLogs", &[()], |w, ()| {
        resource(w, res, &[]);
        let groups = by_scope(records, |record| {
            record.instrumentation_scope.as_ref().unwrap_or(&unnamed)
        });
        w.objects("scopeLogs", &groups, |w, (scope, records)| {
            w.scope(scope);
            w.objects("logRecords", records, |w, record| log(w, record));
            w.nonempty("schemaUrl", scope.schema_url.as_deref().unwrap_or_default());
        });
    });
    w.close('}');
    w.finish()
}

fn log(w: &mut Writer, record: &LogRecord) {
    if let Some(time) = &record.timestamp {
        w.time("timeUnixNano", time);
    }
    if let Some(time) = &record.observed_timestamp {
        w.time("observedTimeUnixNano", time);
    }
    w.number(
        "severityNumber",
        i64::from(record.severity_number.unwrap_or_default()),
    );
    w.nonempty(
        "severityText",
        record.severity_text.as_deref().unwrap_or_default(),
    );
    if let Some(body) = &record.body {
        w.object("body", |w| any_value(w, body));
    }
    w.attributes(
        "attributes",
        record.attributes.as_deref().unwrap_or_default(),
    );
    w.number(
        "flags",
        i64::from(record.trace_flags.map(flags).unwrap_or_default()),
    );
    w.nonempty("traceId", record.trace_id.as_deref().unwrap_or_default());
    w.nonempty("spanId", record.span_id.as_deref().unwrap_or_default());
    w.nonempty(
        "eventName",
        record.event_name.as_deref().unwrap_or_default(),
    );
}

/// One `MetricsData` line (without the newline) holding `metrics`.
pub(crate) fn metrics(res: &Resource, metrics: &m::ResourceMetrics) -> String {
    let mut w = Writer::new();
    w.open('{');
    w.objects("resourceMetrics", &[()], |w, ()| {
        resource(w, res, &metrics.resource.attributes);
        w.objects("scopeMetrics", &metrics.scope_metrics, |w, scope| {
            w.scope(&scope.scope);
            w.objects("metrics", &scope.metrics, metric);
            let schema_url = scope.scope.schema_url.as_deref();
            w.nonempty("schemaUrl", schema_url.unwrap_or_default());
        });
        w.nonempty(
            "schemaUrl",
            metrics.resource.schema_url.as_deref().unwrap_or_default(),
        );
    });
    w.close('}');
    w.finish()
}

fn metric(w: &mut Writer, metric: &m::Metric) {
    use m::MetricData as D;

    w.string("name", &metric.name);
    w.nonempty("description", &metric.description);
    w.nonempty("unit", &metric.unit);
    match &metric.data {
        D::F64Gauge(g) | D::U64Gauge(g) | D::S64Gauge(g) => w.object("gauge", |w| {
            let start = g.start_time.as_ref();
            w.objects("dataPoints", &g.data_points, |w, point| {
                if let Some(start) = start {
                    w.time("startTimeUnixNano", start);
                }
                number_point(w, &g.time, &point.attributes, &point.value);
                exemplars(w, &point.exemplars);
            });
        }),
        D::F64Sum(s) | D::U64Sum(s) | D::S64Sum(s) => w.object("sum", |w| {
            w.objects("dataPoints", &s.data_points, |w, point| {
                w.time("startTimeUnixNano", &s.start_time);
                number_point(w, &s.time, &point.attributes, &point.value);
                exemplars(w, &point.exemplars);
            });
            w.number(
                "aggregationTemporality",
                temporality(s.temporality, s.is_monotonic),
            );
            w.bool("isMonotonic", s.is_monotonic);
        }),
        D::F64Histogram(h) | D::U64Histogram(h) | D::S64Histogram(h) => {
            w.object("histogram", |w| {
                w.objects("dataPoints", &h.data_points, |w, point| {
                    histogram_point(w, &h.start_time, &h.time, point);
                });
                w.number("aggregationTemporality", temporality(h.temporality, true));
            })
        }
        D::F64ExponentialHistogram(h)
        | D::U64ExponentialHistogram(h)
        | D::S64ExponentialHistogram(h) => w.object("exponentialHistogram", |w| {
            w.objects("dataPoints", &h.data_points, |w, point| {
                exponential_point(w, &h.start_time, &h.time, point);
            });
            w.number("aggregationTemporality", temporality(h.temporality, true));
        }),
    }
}

/// The `AggregationTemporality` enum; `low-memory` is delta for
/// monotonic data and cumulative otherwise, as the host sends it.
fn temporality(temporality: m::Temporality, monotonic: bool) -> i64 {
    const DELTA: i64 = 1;
    const CUMULATIVE: i64 = 2;
    match temporality {
        m::Temporality::Delta => DELTA,
        m::Temporality::Cumulative => CUMULATIVE,
        m::Temporality::LowMemory if monotonic => DELTA,
        m::Temporality::LowMemory => CUMULATIVE,
    }
}

/// The value of a number point: `asInt` when it fits an `int64`.
fn number_value(w: &mut Writer, value: &m::MetricNumber) {
    match *value {
        m::MetricNumber::F64(f) => w.f64("asDouble", f),
        m::MetricNumber::S64(i) => w.string("asInt", &i.to_string()),
        m::MetricNumber::U64(u) => match i64::try_from(u) {
            Ok(i) => w.string("asInt", &i.to_string()),
            Err(_) => w.f64("asDouble", u as f64),
        },
    }
}

fn as_f64(value: &m::MetricNumber) -> f64 {
    match *value {
        m::MetricNumber::F64(f) => f,
        m::MetricNumber::S64(i) => i as f64,
        m::MetricNumber::U64(u) => u as f64,
    }
}

fn number_point(w: &mut Writer, time: &Datetime, attributes: &[KeyValue], value: &m::MetricNumber) {
    w.time("timeUnixNano", time);
    w.attributes("attributes", attributes);
    number_value(w, value);
}

fn exemplars(w: &mut Writer, exemplars: &[m::Exemplar]) {
    w.objects("exemplars", exemplars, |w, exemplar| {
        w.attributes("filteredAttributes", &exemplar.filtered_attributes);
        w.time("timeUnixNano", &exemplar.time);
        number_value(w, &exemplar.value);
        w.nonempty("spanId", &exemplar.span_id);
        w.nonempty("traceId", &exemplar.trace_id);
    });
}

fn min_max(w: &mut Writer, min: &Option<m::MetricNumber>, max: &Option<m::MetricNumber>) {
    if let Some(min) = min {
        w.f64("min", as_f64(min));
    }
    if let Some(max) = max {
        w.f64("max", as_f64(max));
    }
}

/// The members every histogram point starts with.
fn point_head(
    w: &mut Writer,
    attributes: &[KeyValue],
    (start, time): (&Datetime, &Datetime),
    count: u64,
    sum: &m::MetricNumber,
) {
    w.attributes("attributes", attributes);
    w.time("startTimeUnixNano", start);
    w.time("timeUnixNano", time);
    w.u64("count", count);
    w.f64("sum", as_f64(sum));
}

fn histogram_point(
    w: &mut Writer,
    start: &Datetime,
    time: &Datetime,
    point: &m::HistogramDataPoint,
) {
    let times = (start, time);
    point_head(w, &point.attributes, times, point.count, &point.sum);
    w.scalars("bucketCounts", &point.bucket_counts, |out, n| {
        write_string(out, &n.to_string());
    });
    w.scalars("explicitBounds", &point.bounds, |out, b| write_f64(out, *b));
    exemplars(w, &point.exemplars);
    min_max(w, &point.min, &point.max);
}

fn exponential_point(
    w: &mut Writer,
    start: &Datetime,
    time: &Datetime,
    point: &m::ExponentialHistogramDataPoint,
) {
    let times = (start, time);
    point_head(w, &point.attributes, times, point.count, &point.sum);
    w.number("scale", i64::from(point.scale));
    w.u64("zeroCount", point.zero_count);
    let bucket = |w: &mut Writer, key: &str, bucket: &m::ExponentialBucket| {
        w.object(key, |w| {
            w.number("offset", i64::from(bucket.offset));
            w.scalars("bucketCounts", &bucket.counts, |out, n| {
                write_string(out, &n.to_string());
            });
        });
    };
    bucket(w, "positive", &point.positive_bucket);
    bucket(w, "negative", &point.negative_bucket);
    exemplars(w, &point.exemplars);
    min_max(w, &point.min, &point.max);
    w.f64("zeroThreshold", point.zero_threshold);
}

/// The resource a guest describes itself with: `service.name` from
/// `OTEL_SERVICE_NAME` (`unknown_service` without it) and the SDK's name,
/// language and version.
pub(crate) fn default_resource(service_name: Option<String>) -> Resource {
    let string = |key: &str, value: &str| types::KeyValue {
        key: key.to_owned(),
        value: crate::Value::String(value.to_owned()).to_json(),
    };
    let service = service_name.unwrap_or_else(|| "unknown_service".to_owned());
    Resource {
        attributes: vec![
            string("service.name", &service),
            string("telemetry.sdk.name", env!("CARGO_PKG_NAME")),
            string("telemetry.sdk.language", "rust"),
            string("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ],
    }
}
