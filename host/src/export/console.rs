//! The console exporter: after the run, the spans as a tree on stderr,
//! each with the log records emitted in it, then the metrics, so a first
//! run shows something without any collector.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, Value};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_sdk::trace::SpanData;

use super::otlp::LogItem;

/// How many attributes a line shows.
const ATTRIBUTES_SHOWN: usize = 4;
/// How many characters of an attribute value a line shows.
const VALUE_CHARS: usize = 40;
/// How many spans, log records and metrics are kept for printing; later
/// ones are counted only.
const MAX_KEPT: usize = 10_000;

/// Collects spans, logs and metrics and prints them.
#[derive(Debug)]
pub struct ConsoleTree {
    service: String,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    spans: Vec<SpanData>,
    logs: Vec<LogLine>,
    metrics: Vec<String>,
    not_shown: u64,
}

/// A log record, reduced to what a line shows.
#[derive(Debug)]
struct LogLine {
    span_id: Option<SpanId>,
    text: String,
}

impl ConsoleTree {
    /// An empty tree for the service `service`.
    pub fn new(service: String) -> Self {
        Self {
            service,
            kept: Mutex::default(),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one span.
    pub fn push(&self, span: SpanData) {
        let mut kept = self.kept();
        if kept.spans.len() < MAX_KEPT {
            kept.spans.push(span);
        } else {
            kept.not_shown += 1;
        }
    }

    /// Adds one log record, shown under the span it was emitted in.
    pub fn push_log(&self, log: &LogItem) {
        let record = &log.record;
        let span_id = <[u8; 8]>::try_from(record.span_id.as_slice())
            .ok()
            .map(SpanId::from_bytes);
        let severity = match record.severity_text.as_str() {
            // No text: the number, or UNSPECIFIED for none.
            "" if record.severity_number == 0 => "UNSPECIFIED".to_owned(),
            "" => format!("SEVERITY{}", record.severity_number),
            text => text.to_owned(),
        };
        let body = record.body.as_ref().map(format_any).unwrap_or_default();
        let mut text = format!("log {severity}  {}", clip(&body));
        if !record.event_name.is_empty() {
            text.push_str(&format!("  event={}", record.event_name));
        }
        let mut kept = self.kept();
        if kept.logs.len() < MAX_KEPT {
            kept.logs.push(LogLine { span_id, text });
        } else {
            kept.not_shown += 1;
        }
    }

    /// Adds one metrics export: a line for each metric.
    pub fn push_metrics(&self, metrics: &ResourceMetrics) {
        let mut kept = self.kept();
        for metric in metrics.scope_metrics.iter().flat_map(|s| &s.metrics) {
            if kept.metrics.len() >= MAX_KEPT {
                kept.not_shown += 1;
                continue;
            }
            let (kind, summary) = summarize(metric.data.as_ref());
            let unit = match metric.unit.as_str() {
                "" => String::new(),
                unit => format!(" ({unit})"),
            };
            kept.metrics.push(format!(
                "metric {}{unit}  {kind}  {summary}",
                clip(&metric.name)
            ));
        }
    }

    /// Writes everything pushed so far, and forgets it.
    pub fn print(&self, out: &mut dyn Write) {
        let kept = std::mem::take(&mut *self.kept());
        let _ = write_tree(out, &self.service, &kept);
        for line in &kept.metrics {
            let _ = writeln!(out, "{line}");
        }
        if kept.not_shown > 0 {
            let _ = writeln!(out, "({} more items not shown)", kept.not_shown);
        }
    }
}

/// A metric's kind, and its value when it has one point, else how many
/// points it has.
fn summarize(data: Option<&Data>) -> (&'static str, String) {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;

    let number = |points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint]| match points
    {
        [point] => match point.value {
            Some(Number::AsInt(i)) => i.to_string(),
            Some(Number::AsDouble(d)) => d.to_string(),
            None => String::new(),
        },
        points => format!("{} points", points.len()),
    };
    match data {
        Some(Data::Gauge(g)) => ("gauge", number(&g.data_points)),
        Some(Data::Sum(s)) => ("sum", number(&s.data_points)),
        Some(Data::Histogram(h)) => {
            let summary = match h.data_points.as_slice() {
                [point] => format!(
                    "count {}  sum {}",
                    point.count,
                    point.sum.map_or_else(String::new, |s| format!("{s:.6}"))
                ),
                points => format!("{} points", points.len()),
            };
            ("histogram", summary)
        }
        Some(Data::ExponentialHistogram(h)) => (
            "exponential histogram",
            format!("{} points", h.data_points.len()),
        ),
        Some(Data::Summary(s)) => ("summary", format!("{} points", s.data_points.len())),
        None => ("empty", String::new()),
    }
}

/// A log body or attribute value on one line.
fn format_any(value: &AnyValue) -> String {
    match &value.value {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(Any::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(format_any).collect();
            format!("[{}]", items.join(", "))
        }
        Some(Any::KvlistValue(kv)) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|kv| {
                    let value = kv.value.as_ref().map(format_any).unwrap_or_default();
                    format!("{}: {value}", kv.key)
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(Any::BytesValue(b)) => format!("<{} bytes>", b.len()),
        Some(Any::StringValueStrindex(_)) | None => String::new(),
    }
}

fn write_tree(out: &mut dyn Write, service: &str, kept: &Kept) -> std::io::Result<()> {
    let spans = &kept.spans;
    if spans.is_empty() && kept.logs.is_empty() && kept.metrics.is_empty() {
        return Ok(());
    }
    let mut logs: HashMap<SpanId, Vec<&str>> = HashMap::new();
    let mut loose = Vec::new();

    // Children by parent id; a span whose parent is not here is a root.
    let ids: std::collections::HashSet<SpanId> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if span.parent_span_id != SpanId::INVALID && ids.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_time);
    }
    roots.sort_by_key(|s| s.start_time);
    for log in &kept.logs {
        match log.span_id {
            Some(id) if ids.contains(&id) => logs.entry(id).or_default().push(&log.text),
            _ => loose.push(&log.text),
        }
    }

    writeln!(out, "service {service}")?;
    let tree = Tree {
        children: &children,
        logs: &logs,
    };
    for root in roots {
        writeln!(out, "trace {}", root.span_context.trace_id())?;
        tree.write_span(out, root, "", "", 0)?;
    }
    for text in loose {
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// Spans by parent, and log lines by span.
struct Tree<'a> {
    children: &'a HashMap<SpanId, Vec<&'a SpanData>>,
    logs: &'a HashMap<SpanId, Vec<&'a str>>,
}

impl Tree<'_> {
    fn write_span(
        &self,
        out: &mut dyn Write,
        span: &SpanData,
        lead: &str,
        rest: &str,
        depth: usize,
    ) -> std::io::Result<()> {
        writeln!(out, "{lead}{}", describe(span))?;
        let id = span.span_context.span_id();

        // A guest can nest spans arbitrarily deep; past this the tree stops
        // indenting rather than print unbounded lines.
        let kids = self.children.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let logs = self.logs.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let shallow = depth < 32;
        for text in logs {
            let bar = if kids.is_empty() || !shallow {
                "   "
            } else {
                "│  "
            };
            writeln!(out, "{rest}{bar}· {text}")?;
        }
        for (i, child) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            let (branch, cont) = if !shallow {
                ("", "")
            } else if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let lead = format!("{rest}{branch}");
            self.write_span(out, child, &lead, &format!("{rest}{cont}"), depth + 1)?;
        }
        Ok(())
    }
}

/// One line: name, duration, status, events, a few attributes.
fn describe(span: &SpanData) -> String {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let mut line = format!("{}  {}", span.name, format_duration(duration));
    match &span.status {
        Status::Unset => {}
        Status::Ok => line.push_str("  ok"),
        Status::Error { description } => {
            line.push_str(&format!("  error: {}", clip(description)));
        }
    }
    for event in span.events.iter() {
        line.push_str(&format!("  event {}", event.name));
    }
    for kv in span.attributes.iter().take(ATTRIBUTES_SHOWN) {
        line.push_str(&format!("  {}={}", kv.key, clip(&format_value(&kv.value))));
    }
    if span.attributes.len() > ATTRIBUTES_SHOWN {
        line.push_str(&format!(
            "  (+{} attributes)",
            span.attributes.len() - ATTRIBUTES_SHOWN
        ));
    }
    line
}

fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Array(Array::String(items)) => {
            let items: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{:.2}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{}µs", d.as_micros())
    }
}

/// At most `VALUE_CHARS` characters, on one line.
fn clip(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= VALUE_CHARS {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(VALUE_CHARS - 1).collect();
    clipped.push('…');
    clipped
}
