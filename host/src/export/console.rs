//! The console exporter: after the run, the spans as a tree on stderr, so
//! a first run shows something without any collector.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

/// How many attributes a line shows.
const ATTRIBUTES_SHOWN: usize = 4;
/// How many characters of an attribute value a line shows.
const VALUE_CHARS: usize = 40;
/// How many spans are kept for the tree; later ones are counted only.
const MAX_SPANS: usize = 10_000;

/// Collects spans and prints them as a tree.
#[derive(Debug)]
pub struct ConsoleTree {
    resource: Resource,
    spans: Mutex<Spans>,
}

#[derive(Debug, Default)]
struct Spans {
    kept: Vec<SpanData>,
    not_shown: u64,
}

impl ConsoleTree {
    /// An empty tree for spans of `resource`.
    pub fn new(resource: Resource) -> Self {
        Self {
            resource,
            spans: Mutex::default(),
        }
    }

    /// Adds one span.
    pub fn push(&self, span: SpanData) {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if spans.kept.len() < MAX_SPANS {
            spans.kept.push(span);
        } else {
            spans.not_shown += 1;
        }
    }

    /// Writes the tree of every span pushed so far, and forgets them.
    pub fn print(&self, out: &mut dyn Write) {
        let spans = std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = write_tree(out, &self.resource, &spans.kept);
        if spans.not_shown > 0 {
            let _ = writeln!(out, "({} more spans not shown)", spans.not_shown);
        }
    }
}

fn write_tree(out: &mut dyn Write, resource: &Resource, spans: &[SpanData]) -> std::io::Result<()> {
    if spans.is_empty() {
        return Ok(());
    }
    let service = resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .map(|v| v.to_string())
        .unwrap_or_default();

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

    writeln!(out, "service {service}")?;
    for root in roots {
        writeln!(out, "trace {}", root.span_context.trace_id())?;
        write_span(out, root, &children, "", "", 0)?;
    }
    Ok(())
}

fn write_span(
    out: &mut dyn Write,
    span: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    lead: &str,
    rest: &str,
    depth: usize,
) -> std::io::Result<()> {
    writeln!(out, "{lead}{}", describe(span))?;

    // A guest can nest spans arbitrarily deep; past this the tree stops
    // indenting rather than print unbounded lines.
    let kids = children
        .get(&span.span_context.span_id())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, child) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let (branch, cont) = if depth >= 32 {
            ("", "")
        } else if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        write_span(
            out,
            child,
            children,
            &format!("{rest}{branch}"),
            &format!("{rest}{cont}"),
            depth + 1,
        )?;
    }
    Ok(())
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
