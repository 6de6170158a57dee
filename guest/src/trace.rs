//! Spans: tracers, span builders and the guard that ends a span.
//!
//! Each thread keeps a stack of its open spans. A new span's parent is the
//! most recently started span that is still open; a span with none takes
//! the host's span as its remote parent, or starts a trace of its own when
//! the host has none to offer.

use std::cell::{OnceCell, RefCell};

use crate::bindings::tracing::{self as wit, TraceFlags};
use crate::bindings::types::{self, InstrumentationScope};
use crate::value::{KeyValue, Value};
use crate::{backend, clock, id};

/// A source of spans, named after the library or program that makes them.
///
/// The name and version become the instrumentation scope of every span the
/// tracer starts.
#[derive(Clone, Debug)]
pub struct Tracer {
    scope: InstrumentationScope,
}

impl Tracer {
    /// A tracer for the instrumentation scope `name`, with no version.
    pub fn new(name: impl Into<String>) -> Self {
        Tracer {
            scope: crate::bindings::scope(name.into()),
        }
    }

    /// Sets the scope's version, such as `env!("CARGO_PKG_VERSION")`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.scope.version = Some(version.into());
        self
    }

    /// Prepares a span named `name`; nothing is recorded until
    /// [`SpanBuilder::start`].
    pub fn span(&self, name: impl Into<String>) -> SpanBuilder {
        SpanBuilder {
            scope: self.scope.clone(),
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
        }
    }
}

/// A span about to start. Made by [`Tracer::span`] or [`crate::span`].
#[derive(Debug)]
#[must_use = "a span is only recorded once `start` is called"]
pub struct SpanBuilder {
    scope: InstrumentationScope,
    name: String,
    kind: SpanKind,
    attributes: Vec<types::KeyValue>,
}

impl SpanBuilder {
    /// Sets the span's kind; the default is [`SpanKind::Internal`].
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets an attribute from the start, replacing any earlier value of
    /// the same key.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        set(&mut self.attributes, KeyValue::new(key, value));
        self
    }

    /// Starts the span as a child of the most recently started span still
    /// open, and tells the host it started.
    pub fn start(self) -> Span {
        let span = self.start_under(Parent::Current);
        enter(&span.data.span_context);
        span
    }

    /// Starts the span under `parent` and tells the host, without putting
    /// it on this thread's stack of open spans: [`enter`] and [`exit`] do
    /// that, for spans entered and left many times, as `tracing`'s are.
    pub(crate) fn start_under(self, parent: Parent) -> Span {
        let start_time = clock::now();
        let lineage = SPANS.with(|spans| spans.borrow().lineage(parent));
        let context = wit::SpanContext {
            trace_id: lineage.trace_id,
            span_id: id::span_id(),
            trace_flags: lineage.trace_flags,
            is_remote: false,
            trace_state: lineage.trace_state,
        };

        backend::current().on_start(&context);
        Span {
            data: wit::SpanData {
                span_context: context,
                parent_span_id: lineage.parent_span_id,
                span_kind: self.kind.to_wit(),
                name: self.name,
                start_time,
                end_time: start_time,
                attributes: self.attributes,
                events: Vec::new(),
                links: Vec::new(),
                status: wit::Status::Unset,
                instrumentation_scope: self.scope,
                dropped_attributes: 0,
                dropped_events: 0,
                dropped_links: 0,
            },
        }
    }
}

/// Where a span started by [`SpanBuilder::start_under`] takes its parent.
#[derive(Debug)]
pub(crate) enum Parent {
    /// The top of this thread's stack of open spans, else the host's span.
    Current,
    /// The host's span, whatever is open.
    #[cfg(feature = "tracing")]
    Outer,
    /// This span.
    #[cfg(feature = "tracing")]
    Span(wit::SpanContext),
}

/// The role of a span in a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanKind {
    /// An outgoing request to a remote service.
    Client,
    /// The handling of an incoming request.
    Server,
    /// The sending of a message to a broker or queue.
    Producer,
    /// The receiving of a message from a broker or queue.
    Consumer,
    /// An operation inside the program; the default.
    #[default]
    Internal,
}

impl SpanKind {
    fn to_wit(self) -> wit::SpanKind {
        match self {
            SpanKind::Client => wit::SpanKind::Client,
            SpanKind::Server => wit::SpanKind::Server,
            SpanKind::Producer => wit::SpanKind::Producer,
            SpanKind::Consumer => wit::SpanKind::Consumer,
            SpanKind::Internal => wit::SpanKind::Internal,
        }
    }
}

/// How a span's operation ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// No status was set; the default.
    #[default]
    Unset,
    /// The operation succeeded.
    Ok,
    /// The operation failed, with a description of the failure.
    Error(String),
}

impl Status {
    /// A failure described by `description`.
    pub fn error(description: impl Into<String>) -> Self {
        Status::Error(description.into())
    }

    fn to_wit(&self) -> wit::Status {
        match self {
            Status::Unset => wit::Status::Unset,
            Status::Ok => wit::Status::Ok,
            Status::Error(description) => wit::Status::Error(description.clone()),
        }
    }
}

/// What identifies a span: its trace, its own id and the trace's flags.
#[derive(Clone, Debug)]
pub struct SpanContext(wit::SpanContext);

impl SpanContext {
    /// The trace id: 32 lowercase hexadecimal digits.
    pub fn trace_id(&self) -> &str {
        &self.0.trace_id
    }

    /// The span id: 16 lowercase hexadecimal digits.
    pub fn span_id(&self) -> &str {
        &self.0.span_id
    }

    /// Whether the trace is sampled: as the host's span says, or true for
    /// a trace this crate started.
    pub fn is_sampled(&self) -> bool {
        self.0.trace_flags.contains(TraceFlags::SAMPLED)
    }

    /// Whether the context came from another process; never true for a
    /// span this crate started.
    pub fn is_remote(&self) -> bool {
        self.0.is_remote
    }

    /// The W3C trace state, inherited from the host's span; empty for a
    /// trace this crate started.
    pub fn trace_state(&self) -> &[(String, String)] {
        &self.0.trace_state
    }
}

/// A started span. It ends when [`Span::end`] is called or when it is
/// dropped, whichever comes first.
#[derive(Debug)]
#[must_use = "dropping a span ends it at once"]
pub struct Span {
    data: wit::SpanData,
}

impl Span {
    /// Sets an attribute, replacing any earlier value of the same key.
    pub fn set_attribute(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        set(&mut self.data.attributes, KeyValue::new(key, value));
    }

    /// Records an event named `name` that happened now, such as
    /// `span.add_event("cache.miss", &[KeyValue::new("cache.key", key)])`.
    pub fn add_event(&mut self, name: impl Into<String>, attributes: &[KeyValue]) {
        self.data.events.push(wit::Event {
            name: name.into(),
            time: clock::now(),
            attributes: attributes.iter().map(KeyValue::to_wit).collect(),
        });
    }

    /// Sets how the operation ended, replacing any earlier status.
    pub fn set_status(&mut self, status: Status) {
        self.data.status = status.to_wit();
    }

    /// The span's context, to hand to code that links or propagates it.
    pub fn span_context(&self) -> SpanContext {
        SpanContext(self.data.span_context.clone())
    }

    /// Ends the span now and sends it to the host.
    pub fn end(self) {
        drop(self);
    }

    /// The span's context as `wasi:otel` carries it.
    #[cfg(feature = "tracing")]
    pub(crate) fn wit_context(&self) -> &wit::SpanContext {
        &self.data.span_context
    }

    /// Renames the span.
    #[cfg(feature = "tracing")]
    pub(crate) fn rename(&mut self, name: impl Into<String>) {
        self.data.name = name.into();
    }

    /// Changes the span's kind.
    #[cfg(feature = "tracing")]
    pub(crate) fn set_kind(&mut self, kind: SpanKind) {
        self.data.span_kind = kind.to_wit();
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        // The wall clock may step back; a span never ends before it starts.
        self.data.end_time = clock::later(clock::now(), self.data.start_time);

        // Off the stack, if it is on it: one started by `start_under` and
        // never entered is not.
        exit(&self.data.span_context.span_id);

        backend::current().on_end(&self.data);
    }
}

thread_local! {
    static SPANS: RefCell<Spans> = RefCell::new(Spans::default());
}

/// Puts `context` on this thread's stack of open spans: spans started and
/// records logged until [`exit`] are its children.
pub(crate) fn enter(context: &wit::SpanContext) {
    SPANS.with(|spans| spans.borrow_mut().open.push(context.clone()));
}

/// Takes the latest entry of span `span_id` off this thread's stack, if it
/// is there. Spans may end in any order, so this goes by id.
pub(crate) fn exit(span_id: &str) {
    SPANS.with(|spans| {
        let open = &mut spans.borrow_mut().open;
        if let Some(at) = open.iter().rposition(|open| open.span_id == span_id) {
            open.remove(at);
        }
    });
}

/// The top of this thread's stack of open spans: the most recently started
/// or entered span still open, if any.
pub(crate) fn current() -> Option<wit::SpanContext> {
    SPANS.with(|spans| spans.borrow().open.last().cloned())
}

/// The host's span for the run, when it offers a valid one.
#[cfg(feature = "opentelemetry")]
pub(crate) fn outer() -> Option<wit::SpanContext> {
    SPANS.with(|spans| spans.borrow().outer().cloned())
}

/// This thread's open spans and the host's span, asked for once.
#[derive(Default)]
struct Spans {
    open: Vec<wit::SpanContext>,
    outer: OnceCell<Option<wit::SpanContext>>,
}

/// What a new span takes from its parent.
struct Lineage {
    trace_id: String,
    parent_span_id: String,
    trace_flags: TraceFlags,
    trace_state: wit::TraceState,
}

impl Spans {
    fn lineage(&self, parent: Parent) -> Lineage {
        let parent = match &parent {
            Parent::Current => self.open.last().or_else(|| self.outer()),
            #[cfg(feature = "tracing")]
            Parent::Outer => self.outer(),
            #[cfg(feature = "tracing")]
            Parent::Span(context) => Some(context),
        };
        match parent {
            Some(parent) => Lineage {
                trace_id: parent.trace_id.clone(),
                parent_span_id: parent.span_id.clone(),
                trace_flags: parent.trace_flags,
                trace_state: parent.trace_state.clone(),
            },
            None => Lineage {
                trace_id: id::trace_id(),
                parent_span_id: String::new(),
                trace_flags: TraceFlags::SAMPLED,
                trace_state: Vec::new(),
            },
        }
    }

    /// The host's span if its trace id is valid, with ids in lowercase. An
    /// invalid span id under a valid trace id is kept as an empty parent.
    fn outer(&self) -> Option<&wit::SpanContext> {
        self.outer
            .get_or_init(|| {
                let outer = backend::current().outer_span_context();
                let trace_id = id::normalize(&outer.trace_id, id::TRACE_ID_LEN)?;
                let span_id = id::normalize(&outer.span_id, id::SPAN_ID_LEN);
                Some(wit::SpanContext {
                    trace_id,
                    span_id: span_id.unwrap_or_default(),
                    ..outer
                })
            })
            .as_ref()
    }
}

/// Sets `attribute` in `attributes`, replacing an earlier one of its key.
fn set(attributes: &mut Vec<types::KeyValue>, attribute: KeyValue) {
    let attribute = attribute.to_wit();
    match attributes.iter_mut().find(|kv| kv.key == attribute.key) {
        Some(existing) => *existing = attribute,
        None => attributes.push(attribute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::recording::{Call, Recording};

    const OUTER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const OUTER_SPAN: &str = "00f067aa0ba902b7";

    fn outer(trace_id: &str, span_id: &str, trace_flags: TraceFlags) -> wit::SpanContext {
        wit::SpanContext {
            trace_id: trace_id.into(),
            span_id: span_id.into(),
            trace_flags,
            is_remote: true,
            trace_state: vec![("vendor".into(), "value".into())],
        }
    }

    fn no_outer() -> wit::SpanContext {
        outer(&"0".repeat(32), &"0".repeat(16), TraceFlags::empty())
    }

    fn attribute<'a>(span: &'a wit::SpanData, key: &str) -> Option<&'a str> {
        let kv = span.attributes.iter().find(|kv| kv.key == key)?;
        Some(kv.value.as_str())
    }

    fn is_before_or_at(a: &crate::bindings::Datetime, b: &crate::bindings::Datetime) -> bool {
        !clock::is_before(b, a)
    }

    #[test]
    fn a_root_span_is_a_child_of_the_outer_span() {
        let recording = Recording::install(outer(OUTER_TRACE, OUTER_SPAN, TraceFlags::SAMPLED));

        let span = Tracer::new("test").span("root").start();
        let context = span.span_context();
        span.end();

        assert_eq!(context.trace_id(), OUTER_TRACE);
        assert_ne!(context.span_id(), OUTER_SPAN);
        assert!(context.is_sampled());
        assert!(!context.is_remote());
        assert_eq!(context.trace_state(), [("vendor".into(), "value".into())]);

        let ended = recording.take_ended();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].parent_span_id, OUTER_SPAN);
        assert_eq!(ended[0].span_context.trace_id, OUTER_TRACE);
    }

    #[test]
    fn a_root_span_inherits_the_outer_spans_flags() {
        Recording::install(outer(OUTER_TRACE, OUTER_SPAN, TraceFlags::empty()));

        let span = Tracer::new("test").span("root").start();
        assert!(!span.span_context().is_sampled());
    }

    #[test]
    fn the_outer_span_is_asked_for_once() {
        let recording = Recording::install(outer(OUTER_TRACE, OUTER_SPAN, TraceFlags::SAMPLED));
        let tracer = Tracer::new("test");

        tracer.span("first").start().end();
        tracer.span("second").start().end();

        assert_eq!(recording.outer_calls(), 1);
        for span in recording.take_ended() {
            assert_eq!(span.parent_span_id, OUTER_SPAN);
        }
    }

    #[test]
    fn an_outer_span_in_uppercase_is_taken_in_lowercase() {
        let upper = OUTER_TRACE.to_ascii_uppercase();
        let recording = Recording::install(outer(&upper, "00F067AA0BA902B7", TraceFlags::SAMPLED));

        Tracer::new("test").span("root").start().end();

        let ended = recording.take_ended();
        assert_eq!(ended[0].span_context.trace_id, OUTER_TRACE);
        assert_eq!(ended[0].parent_span_id, OUTER_SPAN);
    }

    #[test]
    fn an_invalid_outer_trace_starts_a_fresh_sampled_trace() {
        let recording = Recording::install(no_outer());
        let tracer = Tracer::new("test");

        let first = tracer.span("first").start();
        let first_context = first.span_context();
        first.end();
        let second = tracer.span("second").start();
        let second_context = second.span_context();
        second.end();

        assert_ne!(first_context.trace_id(), "0".repeat(32));
        assert_ne!(first_context.trace_id(), second_context.trace_id());
        assert!(first_context.is_sampled());
        assert!(first_context.trace_state().is_empty());
        for span in recording.take_ended() {
            assert_eq!(span.parent_span_id, "");
        }
    }

    #[test]
    fn an_outer_trace_that_is_not_hex_starts_a_fresh_trace() {
        let recording =
            Recording::install(outer("not a trace id", OUTER_SPAN, TraceFlags::SAMPLED));

        Tracer::new("test").span("root").start().end();

        let ended = recording.take_ended();
        assert_eq!(ended[0].parent_span_id, "");
        assert_eq!(ended[0].span_context.trace_id.len(), 32);
    }

    #[test]
    fn an_invalid_outer_span_id_keeps_the_trace_without_a_parent() {
        let recording =
            Recording::install(outer(OUTER_TRACE, "0000000000000000", TraceFlags::SAMPLED));

        Tracer::new("test").span("root").start().end();

        let ended = recording.take_ended();
        assert_eq!(ended[0].span_context.trace_id, OUTER_TRACE);
        assert_eq!(ended[0].parent_span_id, "");
    }

    #[test]
    fn a_span_started_inside_another_is_its_child() {
        let recording = Recording::install(no_outer());
        let tracer = Tracer::new("test");

        let root = tracer.span("root").start();
        let child = tracer.span("child").start();
        let grandchild = tracer.span("grandchild").start();
        let (root_id, child_id) = (root.span_context(), child.span_context());
        let grandchild_trace = grandchild.span_context().trace_id().to_owned();
        grandchild.end();
        child.end();
        root.end();

        let ended = recording.take_ended();
        let names: Vec<_> = ended.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["grandchild", "child", "root"]);
        assert_eq!(ended[0].parent_span_id, child_id.span_id());
        assert_eq!(ended[1].parent_span_id, root_id.span_id());
        assert_eq!(ended[2].parent_span_id, "");
        assert_eq!(grandchild_trace, root_id.trace_id());
    }

    #[test]
    fn spans_ending_out_of_order_leave_the_others_open() {
        let recording = Recording::install(no_outer());
        let tracer = Tracer::new("test");

        let a = tracer.span("a").start();
        let b = tracer.span("b").start();
        let (a_id, b_id) = (a.span_context(), b.span_context());

        // Ending `a` first must not take `b` off the stack.
        a.end();
        let c = tracer.span("c").start();
        let c_id = c.span_context();
        b.end();
        let d = tracer.span("d").start();
        c.end();
        d.end();
        let e = tracer.span("e").start();
        e.end();

        let parents: Vec<_> = recording
            .take_ended()
            .into_iter()
            .map(|s| (s.name, s.parent_span_id))
            .collect();
        let expected = [
            ("a", ""),
            ("b", a_id.span_id()),
            ("c", b_id.span_id()),
            ("d", c_id.span_id()),
            ("e", ""),
        ]
        .map(|(name, parent)| (name.to_owned(), parent.to_owned()));
        assert_eq!(parents, expected);
    }

    #[test]
    fn dropping_a_span_ends_it() {
        let recording = Recording::install(no_outer());

        {
            let _span = Tracer::new("test").span("scoped").start();
        }

        let ended = recording.take_ended();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].name, "scoped");
    }

    #[test]
    fn on_start_comes_before_on_end_with_the_same_context() {
        let recording = Recording::install(no_outer());

        let span = Tracer::new("test").span("root").start();
        let context = span.span_context();
        span.end();

        let calls = recording.take();
        assert_eq!(calls.len(), 2);
        let Call::Start(started) = &calls[0] else {
            panic!("expected on-start first, got {calls:?}");
        };
        let Call::End(ended) = &calls[1] else {
            panic!("expected on-end second, got {calls:?}");
        };
        assert_eq!(started.span_id, context.span_id());
        assert_eq!(started.trace_id, context.trace_id());
        assert_eq!(ended.span_context.span_id, started.span_id);
        assert!(!started.is_remote);
    }

    #[test]
    fn on_end_carries_everything_recorded() {
        let recording = Recording::install(no_outer());
        let tracer = Tracer::new("lib").with_version("1.2.3");

        let mut span = tracer
            .span("work")
            .kind(SpanKind::Server)
            .attribute("early", "yes")
            .attribute("replaced", 1)
            .start();
        span.set_attribute("replaced", 2.5);
        span.set_attribute("late", vec!["a", "b"]);
        span.add_event("step", &[KeyValue::new("n", 1), KeyValue::new("ok", true)]);
        span.add_event("bare", &[]);
        span.set_status(Status::error("it \"broke\""));
        span.end();

        let ended = recording.take_ended();
        let span = &ended[0];
        assert_eq!(span.name, "work");
        assert!(matches!(span.span_kind, wit::SpanKind::Server));
        assert!(is_before_or_at(&span.start_time, &span.end_time));

        let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["early", "replaced", "late"]);
        assert_eq!(attribute(span, "early"), Some(r#""yes""#));
        assert_eq!(attribute(span, "replaced"), Some("2.5"));
        assert_eq!(attribute(span, "late"), Some(r#"["a","b"]"#));

        assert_eq!(span.events.len(), 2);
        assert_eq!(span.events[0].name, "step");
        let event_attrs: Vec<_> = span.events[0]
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(event_attrs, [("n", "1"), ("ok", "true")]);
        assert!(is_before_or_at(&span.start_time, &span.events[0].time));
        assert!(span.events[1].attributes.is_empty());

        assert!(span.links.is_empty());
        assert!(matches!(&span.status, wit::Status::Error(m) if m == "it \"broke\""));
        assert_eq!(span.instrumentation_scope.name, "lib");
        assert_eq!(span.instrumentation_scope.version.as_deref(), Some("1.2.3"));
        assert_eq!(span.instrumentation_scope.schema_url, None);
        assert!(span.instrumentation_scope.attributes.is_empty());
        assert_eq!(
            (
                span.dropped_attributes,
                span.dropped_events,
                span.dropped_links
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_span_without_settings_is_internal_and_unset() {
        let recording = Recording::install(no_outer());

        Tracer::new("test").span("plain").start().end();

        let ended = recording.take_ended();
        assert!(matches!(ended[0].span_kind, wit::SpanKind::Internal));
        assert!(matches!(ended[0].status, wit::Status::Unset));
        assert_eq!(ended[0].instrumentation_scope.version, None);
    }

    #[test]
    fn the_default_tracer_is_named_after_this_crate() {
        let recording = Recording::install(no_outer());

        let mut span = crate::span("quick").start();
        span.set_status(Status::Ok);
        span.end();

        let ended = recording.take_ended();
        let scope = &ended[0].instrumentation_scope;
        assert_eq!(scope.name, "wasm-otel-guest");
        assert_eq!(scope.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        assert!(matches!(ended[0].status, wit::Status::Ok));
    }
}
