//! A [`tracing-subscriber`](tracing_subscriber) layer that sends `tracing`
//! spans and events through `wasi:otel`, with the cargo feature `tracing`.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! wasm_otel_guest::tracing::init()?;
//!
//! #[tracing::instrument]
//! fn greet(name: &str) {
//!     tracing::info!(greeting.length = name.len() + 7, "greeted {name}");
//! }
//! greet("world");
//! # Ok(())
//! # }
//! ```
//!
//! How `tracing` maps onto `wasi:otel`:
//!
//! - A span starts when it is created and ends when it closes (its last
//!   handle dropped). Its parent is its explicit parent if it has one;
//!   otherwise the span most recently entered and still open, whether a
//!   `tracing` span or one of this crate's [`Span`]s; otherwise the host's
//!   span. A `tracing` span with `parent: None` hangs under the host's
//!   span. While entered, it is the parent of this crate's spans and log
//!   records too.
//! - Span fields, `message` included, become attributes, typed as
//!   recorded: integers, doubles, booleans and strings keep their type, a
//!   `u64` past `i64::MAX` and anything recorded with `Debug` or as an
//!   error become strings. Fields recorded later with `Span::record` are
//!   set then. Four fields are read instead of kept: `otel.name` renames the span, `otel.kind`
//!   (`client`, `server`, `producer`, `consumer`, `internal`) sets its
//!   kind, `otel.status_code` (`ok`, `error`) and `otel.status_description`
//!   its status.
//! - An event becomes a log record: its level the severity (`TRACE` 1,
//!   `DEBUG` 5, `INFO` 9, `WARN` 13, `ERROR` 17), its `message` field the
//!   body, its other fields attributes, typed as span fields are. An event
//!   given a name (`info!(name: "cache.miss", ...)`) has that event name;
//!   `tracing`'s default name, `event file:line`, is not sent. The record
//!   belongs to the event's explicit parent span, or the span most
//!   recently entered and still open; an event outside every span has no
//!   trace context.
//! - The target (by default the module path, such as `my_app::db`) is the
//!   instrumentation scope's name, for spans and records alike, as the
//!   OpenTelemetry log appender for `tracing` does. Scopes have no
//!   version.
//! - Events whose target starts with `opentelemetry` are skipped: they
//!   are the OpenTelemetry SDK's own diagnostics, and sending them would
//!   make telemetry about telemetry.
//!
//! The layer filters nothing else; compose it with a filter layer to drop
//! levels or targets. `follows_from` relations are not sent.

use std::fmt;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::subscriber::SetGlobalDefaultError;
use ::tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::bindings::tracing::SpanContext as WitSpanContext;
use crate::bindings::types::InstrumentationScope;
use crate::logs::{self, Severity};
use crate::trace::{self, Parent};
use crate::value::{KeyValue, Value};
use crate::{Span, SpanKind, Status, Tracer};

/// The layer: add it to a [`tracing_subscriber::Registry`], or call
/// [`init`] to install both as the global default.
#[derive(Clone, Copy, Debug, Default)]
pub struct OtelLayer {
    _private: (),
}

impl OtelLayer {
    /// The layer.
    pub fn new() -> Self {
        OtelLayer::default()
    }
}

/// Installs a [`tracing_subscriber::Registry`] with an [`OtelLayer`] as the
/// global default subscriber.
///
/// # Errors
///
/// When a global default subscriber is already set.
pub fn init() -> Result<(), SetGlobalDefaultError> {
    let subscriber = tracing_subscriber::registry().with(OtelLayer::new());
    ::tracing::subscriber::set_global_default(subscriber)
}

impl<S> tracing_subscriber::Layer<S> for OtelLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let metadata = attrs.metadata();
        let mut fields = Fields::default();
        attrs.record(&mut fields);

        // The explicit parent if any, else what is open now.
        let parent = if attrs.is_root() {
            Parent::Outer
        } else if let Some(parent) = attrs.parent() {
            context_of(&ctx, parent).map_or(Parent::Current, Parent::Span)
        } else {
            Parent::Current
        };

        let mut builder = Tracer::new(metadata.target()).span(metadata.name());
        for attribute in fields.span_attributes() {
            builder = builder.attribute(attribute.key, attribute.value);
        }
        let mut traced = Traced {
            span: builder.start_under(parent),
            status_code: None,
            status_description: None,
        };
        fields.otel.apply(&mut traced);
        span_ref.extensions_mut().insert(traced);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let mut extensions = span_ref.extensions_mut();
        let Some(traced) = extensions.get_mut::<Traced>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        for attribute in fields.span_attributes() {
            traced.span.set_attribute(attribute.key, attribute.value);
        }
        fields.otel.apply(traced);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(context) = context_of(&ctx, id) {
            trace::enter(&context);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(context) = context_of(&ctx, id) {
            trace::exit(&context.span_id);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        // Dropping the span ends it and sends it.
        let traced = span_ref.extensions_mut().remove::<Traced>();
        drop(traced);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if metadata.target().starts_with("opentelemetry") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);

        let span = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            context_of(&ctx, parent).or_else(trace::current)
        } else {
            trace::current()
        };

        // `tracing` names an unnamed event `event file:line`.
        let name = metadata.name();
        let event_name = (!name.starts_with("event ")).then(|| name.to_owned());

        let record = logs::Record {
            scope: InstrumentationScope {
                name: metadata.target().to_owned(),
                version: None,
                schema_url: None,
                attributes: Vec::new(),
            },
            severity: severity(metadata.level()),
            body: fields.message.map(|body| body.to_json()),
            attributes: fields.attributes.iter().map(KeyValue::to_wit).collect(),
            event_name,
        };
        record.emit_in(span);
    }
}

/// The `wasi:otel` context of span `id`, if this layer started it.
fn context_of<S>(ctx: &Context<'_, S>, id: &Id) -> Option<WitSpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span_ref = ctx.span(id)?;
    let extensions = span_ref.extensions();
    let traced = extensions.get::<Traced>()?;
    Some(traced.span.wit_context().clone())
}

/// What the layer keeps in a `tracing` span's extensions.
#[derive(Debug)]
struct Traced {
    /// The span sent to the host when the `tracing` span closes.
    span: Span,
    /// The last `otel.status_code` recorded, lowercase.
    status_code: Option<String>,
    /// The last `otel.status_description` recorded.
    status_description: Option<String>,
}

/// The severity of a `tracing` level: the first of each band.
fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

/// The fields of a span or event, sorted into what they become.
#[derive(Debug, Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    message: Option<Value>,
    otel: OtelFields,
}

/// The `otel.*` fields a span reads instead of keeping as attributes.
#[derive(Debug, Default)]
struct OtelFields {
    name: Option<String>,
    kind: Option<SpanKind>,
    status_code: Option<String>,
    status_description: Option<String>,
}

impl OtelFields {
    /// Applies the fields to `traced`. The status code and description
    /// may come in separate records, so both are kept.
    fn apply(self, traced: &mut Traced) {
        if let Some(name) = self.name {
            traced.span.rename(name);
        }
        if let Some(kind) = self.kind {
            traced.span.set_kind(kind);
        }
        if let Some(code) = self.status_code {
            traced.status_code = Some(code.to_ascii_lowercase());
        }
        if let Some(description) = self.status_description {
            traced.status_description = Some(description);
        }
        match traced.status_code.as_deref() {
            Some("ok") => traced.span.set_status(Status::Ok),
            Some("error") => {
                let description = traced.status_description.clone().unwrap_or_default();
                traced.span.set_status(Status::error(description));
            }
            _ => {}
        }
    }
}

impl Fields {
    /// The attributes of a span, which has no body: a `message` field is
    /// kept as an attribute.
    fn span_attributes(&mut self) -> Vec<KeyValue> {
        let mut attributes = std::mem::take(&mut self.attributes);
        if let Some(message) = self.message.take() {
            attributes.push(KeyValue::new("message", message));
        }
        attributes
    }

    fn add(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => self.message = Some(value),
            "otel.name" => self.otel.name = Some(text(value)),
            "otel.kind" => self.otel.kind = span_kind(&text(value)),
            "otel.status_code" => self.otel.status_code = Some(text(value)),
            "otel.status_description" => self.otel.status_description = Some(text(value)),
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }
}

/// A value as plain text: a string as it is, anything else as JSON.
fn text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_json(),
    }
}

fn span_kind(kind: &str) -> Option<SpanKind> {
    match kind.to_ascii_lowercase().as_str() {
        "client" => Some(SpanKind::Client),
        "server" => Some(SpanKind::Server),
        "producer" => Some(SpanKind::Producer),
        "consumer" => Some(SpanKind::Consumer),
        "internal" => Some(SpanKind::Internal),
        _ => None,
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(|_| value.to_string().into(), Value::I64);
        self.add(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value = i64::try_from(value).map_or_else(|_| value.to_string().into(), Value::I64);
        self.add(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value = i64::try_from(value).map_or_else(|_| value.to_string().into(), Value::I64);
        self.add(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.add(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests;
