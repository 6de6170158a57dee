//! Log records: loggers, severities and the builder that emits a record.
//!
//! A record logged while a span of this crate is open carries that span's
//! trace id, span id and flags, so a backend shows it inside the span. A
//! record logged outside every span carries none; the host decides what it
//! belongs to.

use crate::bindings::logs as wit;
use crate::bindings::types::{self, InstrumentationScope};
use crate::value::{KeyValue, Value};
use crate::{backend, clock, trace};

/// A source of log records, named after the library or program that
/// writes them.
///
/// The name and version become the instrumentation scope of every record
/// the logger emits.
#[derive(Clone, Debug)]
pub struct Logger {
    scope: InstrumentationScope,
}

impl Logger {
    /// A logger for the instrumentation scope `name`, with no version.
    pub fn new(name: impl Into<String>) -> Self {
        Logger {
            scope: crate::bindings::scope(name.into()),
        }
    }

    /// Sets the scope's version, such as `env!("CARGO_PKG_VERSION")`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.scope.version = Some(version.into());
        self
    }

    /// Prepares a record of `severity` whose body is `body`; nothing is
    /// sent until [`LogBuilder::emit`].
    pub fn log(&self, severity: Severity, body: impl Into<Value>) -> LogBuilder {
        LogBuilder {
            scope: self.scope.clone(),
            severity,
            body: body.into(),
            attributes: Vec::new(),
            event_name: None,
        }
    }

    /// Prepares a record of severity [`Severity::Trace`].
    pub fn trace(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Trace, body)
    }

    /// Prepares a record of severity [`Severity::Debug`].
    pub fn debug(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Debug, body)
    }

    /// Prepares a record of severity [`Severity::Info`].
    pub fn info(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Info, body)
    }

    /// Prepares a record of severity [`Severity::Warn`].
    pub fn warn(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Warn, body)
    }

    /// Prepares a record of severity [`Severity::Error`].
    pub fn error(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Error, body)
    }

    /// Prepares a record of severity [`Severity::Fatal`].
    pub fn fatal(&self, body: impl Into<Value>) -> LogBuilder {
        self.log(Severity::Fatal, body)
    }
}

/// A log record about to be emitted. Made by [`Logger::log`] and its
/// shorthands.
#[derive(Debug)]
#[must_use = "a log record is only sent once `emit` is called"]
pub struct LogBuilder {
    scope: InstrumentationScope,
    severity: Severity,
    body: Value,
    attributes: Vec<types::KeyValue>,
    event_name: Option<String>,
}

impl LogBuilder {
    /// Adds an attribute, replacing any earlier value of the same key.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let attribute = KeyValue::new(key, value).to_wit();
        match self
            .attributes
            .iter_mut()
            .find(|kv| kv.key == attribute.key)
        {
            Some(existing) => *existing = attribute,
            None => self.attributes.push(attribute),
        }
        self
    }

    /// Names the event this record stands for, such as `order.placed`.
    pub fn event_name(mut self, name: impl Into<String>) -> Self {
        self.event_name = Some(name.into());
        self
    }

    /// Sends the record, timestamped now and tied to the most recently
    /// started span still open, if there is one.
    pub fn emit(self) {
        let record = Record {
            scope: self.scope,
            severity: self.severity,
            body: Some(self.body.to_json()),
            attributes: self.attributes,
            event_name: self.event_name,
        };
        record.emit();
    }
}

/// A record in the form every front end of the crate (the [`Logger`], the
/// `tracing` layer) hands over to be sent.
pub(crate) struct Record {
    /// The scope that produced it.
    pub(crate) scope: InstrumentationScope,
    /// Its severity.
    pub(crate) severity: Severity,
    /// Its body, JSON-encoded, if it has one.
    pub(crate) body: Option<String>,
    /// Its attributes, JSON-encoded.
    pub(crate) attributes: Vec<types::KeyValue>,
    /// The event it stands for, if any.
    pub(crate) event_name: Option<String>,
}

impl Record {
    /// Sends the record timestamped now, tied to the most recently started
    /// span still open.
    pub(crate) fn emit(self) {
        self.emit_in(trace::current());
    }

    /// Sends the record timestamped now, tied to `span` when given.
    pub(crate) fn emit_in(self, span: Option<crate::bindings::tracing::SpanContext>) {
        let now = clock::now();
        let (trace_id, span_id, trace_flags) = match span {
            Some(span) => (
                Some(span.trace_id),
                Some(span.span_id),
                Some(span.trace_flags),
            ),
            None => (None, None, None),
        };
        let record = wit::LogRecord {
            timestamp: Some(now),
            observed_timestamp: Some(now),
            severity_text: Some(self.severity.text().to_owned()),
            severity_number: Some(self.severity.number()),
            body: self.body,
            attributes: Some(self.attributes),
            event_name: self.event_name,
            resource: None,
            instrumentation_scope: Some(self.scope),
            trace_id,
            span_id,
            trace_flags,
        };
        backend::current().on_emit(&record);
    }
}

/// How severe a logged event is: the 24 levels of the OpenTelemetry logs
/// data model, four to each of trace, debug, info, warn, error and fatal.
///
/// [`Severity::number`] gives the model's severity number, from 1 for
/// `Trace` to 24 for `Fatal4`; [`Severity::text`] its short name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A fine-grained debugging event (1, `TRACE`).
    Trace,
    /// Severity number 2, `TRACE2`.
    Trace2,
    /// Severity number 3, `TRACE3`.
    Trace3,
    /// Severity number 4, `TRACE4`.
    Trace4,
    /// A debugging event (5, `DEBUG`).
    Debug,
    /// Severity number 6, `DEBUG2`.
    Debug2,
    /// Severity number 7, `DEBUG3`.
    Debug3,
    /// Severity number 8, `DEBUG4`.
    Debug4,
    /// An informational event (9, `INFO`).
    Info,
    /// Severity number 10, `INFO2`.
    Info2,
    /// Severity number 11, `INFO3`.
    Info3,
    /// Severity number 12, `INFO4`.
    Info4,
    /// A warning: something may be wrong (13, `WARN`).
    Warn,
    /// Severity number 14, `WARN2`.
    Warn2,
    /// Severity number 15, `WARN3`.
    Warn3,
    /// Severity number 16, `WARN4`.
    Warn4,
    /// An error: something went wrong (17, `ERROR`).
    Error,
    /// Severity number 18, `ERROR2`.
    Error2,
    /// Severity number 19, `ERROR3`.
    Error3,
    /// Severity number 20, `ERROR4`.
    Error4,
    /// A fatal error: the program cannot go on (21, `FATAL`).
    Fatal,
    /// Severity number 22, `FATAL2`.
    Fatal2,
    /// Severity number 23, `FATAL3`.
    Fatal3,
    /// Severity number 24, `FATAL4`.
    Fatal4,
}

/// Every severity with its short name, in order of severity number.
const SEVERITIES: [(Severity, &str); 24] = [
    (Severity::Trace, "TRACE"),
    (Severity::Trace2, "TRACE2"),
    (Severity::Trace3, "TRACE3"),
    (Severity::Trace4, "TRACE4"),
    (Severity::Debug, "DEBUG"),
    (Severity::Debug2, "DEBUG2"),
    (Severity::Debug3, "DEBUG3"),
    (Severity::Debug4, "DEBUG4"),
    (Severity::Info, "INFO"),
    (Severity::Info2, "INFO2"),
    (Severity::Info3, "INFO3"),
    (Severity::Info4, "INFO4"),
    (Severity::Warn, "WARN"),
    (Severity::Warn2, "WARN2"),
    (Severity::Warn3, "WARN3"),
    (Severity::Warn4, "WARN4"),
    (Severity::Error, "ERROR"),
    (Severity::Error2, "ERROR2"),
    (Severity::Error3, "ERROR3"),
    (Severity::Error4, "ERROR4"),
    (Severity::Fatal, "FATAL"),
    (Severity::Fatal2, "FATAL2"),
    (Severity::Fatal3, "FATAL3"),
    (Severity::Fatal4, "FATAL4"),
];

impl Severity {
    /// The severity number, from 1 (`Trace`) to 24 (`Fatal4`).
    pub fn number(self) -> u8 {
        // The variants are declared in order, so the discriminant is the
        // number less one.
        self as u8 + 1
    }

    /// The short name, such as `INFO` or `WARN2`.
    pub fn text(self) -> &'static str {
        SEVERITIES[usize::from(self as u8)].1
    }

    /// The severity of `number`, or `None` outside 1 to 24.
    pub fn from_number(number: u8) -> Option<Severity> {
        let index = usize::from(number.checked_sub(1)?);
        SEVERITIES.get(index).map(|&(severity, _)| severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tracer;
    use crate::backend::recording::Recording;
    use crate::bindings::tracing::{SpanContext, TraceFlags};

    fn no_outer() -> SpanContext {
        SpanContext {
            trace_id: "0".repeat(32),
            span_id: "0".repeat(16),
            trace_flags: TraceFlags::empty(),
            is_remote: true,
            trace_state: Vec::new(),
        }
    }

    fn attributes(record: &wit::LogRecord) -> Vec<(&str, &str)> {
        let attributes = record.attributes.as_deref().unwrap_or_default();
        attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect()
    }

    #[test]
    fn severities_have_the_numbers_and_names_of_the_data_model() {
        let expected = [
            (Severity::Trace, 1, "TRACE"),
            (Severity::Debug, 5, "DEBUG"),
            (Severity::Info, 9, "INFO"),
            (Severity::Info4, 12, "INFO4"),
            (Severity::Warn, 13, "WARN"),
            (Severity::Error, 17, "ERROR"),
            (Severity::Error2, 18, "ERROR2"),
            (Severity::Fatal, 21, "FATAL"),
            (Severity::Fatal4, 24, "FATAL4"),
        ];
        for (severity, number, text) in expected {
            assert_eq!(severity.number(), number, "{severity:?}");
            assert_eq!(severity.text(), text, "{severity:?}");
        }
    }

    #[test]
    fn every_number_from_1_to_24_is_a_severity_and_back() {
        for number in 1..=24 {
            let severity = Severity::from_number(number).unwrap();
            assert_eq!(severity.number(), number);
        }
        assert_eq!(Severity::from_number(0), None);
        assert_eq!(Severity::from_number(25), None);
        assert_eq!(Severity::from_number(u8::MAX), None);
    }

    #[test]
    fn a_record_carries_severity_body_attributes_scope_and_times() {
        let recording = Recording::install(no_outer());
        let before = clock::now();

        Logger::new("shop")
            .with_version("1.0.0")
            .warn("stock is low")
            .attribute("stock.left", 2)
            .attribute("stock.item", "apple")
            .attribute("stock.left", 1)
            .event_name("stock.low")
            .emit();

        let logs = recording.take_logs();
        assert_eq!(logs.len(), 1);
        let record = &logs[0];
        assert_eq!(record.severity_number, Some(13));
        assert_eq!(record.severity_text.as_deref(), Some("WARN"));
        assert_eq!(record.body.as_deref(), Some(r#""stock is low""#));
        assert_eq!(
            attributes(record),
            [("stock.left", "1"), ("stock.item", r#""apple""#)]
        );
        assert_eq!(record.event_name.as_deref(), Some("stock.low"));
        let scope = record.instrumentation_scope.as_ref().unwrap();
        assert_eq!(scope.name, "shop");
        assert_eq!(scope.version.as_deref(), Some("1.0.0"));
        assert!(record.resource.is_none());

        let timestamp = record.timestamp.unwrap();
        let observed = record.observed_timestamp.unwrap();
        assert!(!clock::is_before(&timestamp, &before));
        assert_eq!(
            (observed.seconds, observed.nanoseconds),
            (timestamp.seconds, timestamp.nanoseconds)
        );
    }

    #[test]
    fn bodies_of_any_value_are_json_encoded() {
        let recording = Recording::install(no_outer());
        let logger = Logger::new("test");

        logger.info(42).emit();
        logger.info(2.5).emit();
        logger.info(true).emit();
        logger.info(vec!["a", "b"]).emit();
        logger.info("line\n\"quoted\"").emit();

        let bodies: Vec<_> = recording
            .take_logs()
            .into_iter()
            .map(|r| r.body.unwrap())
            .collect();
        assert_eq!(
            bodies,
            [
                "42",
                "2.5",
                "true",
                r#"["a","b"]"#,
                r#""line\u000a\"quoted\"""#
            ]
        );
    }

    #[test]
    fn a_record_outside_every_span_has_no_trace_context() {
        let recording = Recording::install(no_outer());

        Logger::new("test").info("alone").emit();

        let record = &recording.take_logs()[0];
        assert_eq!(record.trace_id, None);
        assert_eq!(record.span_id, None);
        assert_eq!(record.trace_flags, None);
        assert_eq!(record.event_name, None);
        assert_eq!(attributes(record), []);
    }

    #[test]
    fn a_record_belongs_to_the_innermost_open_span() {
        let recording = Recording::install(no_outer());
        let tracer = Tracer::new("test");
        let logger = Logger::new("test");

        let outer = tracer.span("outer").start();
        let inner = tracer.span("inner").start();
        logger.info("in inner").emit();
        let inner_context = inner.span_context();
        inner.end();
        logger.info("in outer").emit();
        let outer_context = outer.span_context();
        outer.end();
        logger.info("after").emit();

        let logs = recording.take_logs();
        let ids: Vec<_> = logs
            .iter()
            .map(|r| (r.span_id.as_deref(), r.trace_id.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                (
                    Some(inner_context.span_id()),
                    Some(inner_context.trace_id())
                ),
                (
                    Some(outer_context.span_id()),
                    Some(outer_context.trace_id())
                ),
                (None, None),
            ]
        );
        assert_eq!(logs[0].trace_flags, Some(TraceFlags::SAMPLED));
    }
}
