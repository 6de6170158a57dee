//! Where telemetry goes: the host's `wasi:otel` imports on wasm32, nowhere
//! on other targets, and a recorder in this crate's tests.
//!
//! The rest of the crate reaches the host only through [`Backend`], so the
//! unit tests can run on the build machine, where the generated imports
//! would panic.

use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::tracing::{SpanContext, SpanData};

/// The host side of `wasi:otel`, one method per import the crate uses.
pub(crate) trait Backend {
    /// `tracing.outer-span-context`.
    fn outer_span_context(&self) -> SpanContext;

    /// `tracing.on-start`.
    fn on_start(&self, context: &SpanContext);

    /// `tracing.on-end`.
    fn on_end(&self, span: &SpanData);
}

thread_local! {
    static CURRENT: RefCell<Rc<dyn Backend>> = RefCell::new(default_backend());
}

/// The backend in use on this thread.
pub(crate) fn current() -> Rc<dyn Backend> {
    CURRENT.with(|current| Rc::clone(&current.borrow()))
}

/// Replaces this thread's backend.
#[cfg(test)]
pub(crate) fn install(backend: Rc<dyn Backend>) {
    CURRENT.with(|current| *current.borrow_mut() = backend);
}

#[cfg(target_arch = "wasm32")]
fn default_backend() -> Rc<dyn Backend> {
    Rc::new(Wit)
}

#[cfg(not(target_arch = "wasm32"))]
fn default_backend() -> Rc<dyn Backend> {
    Rc::new(Discard)
}

/// Calls the host through the generated `wasi:otel` imports.
#[cfg(target_arch = "wasm32")]
struct Wit;

#[cfg(target_arch = "wasm32")]
impl Backend for Wit {
    fn outer_span_context(&self) -> SpanContext {
        crate::bindings::tracing::outer_span_context()
    }

    fn on_start(&self, context: &SpanContext) {
        crate::bindings::tracing::on_start(context);
    }

    fn on_end(&self, span: &SpanData) {
        crate::bindings::tracing::on_end(span);
    }
}

/// Off wasm32 there is no host: the spans still get ids and parents, so
/// code using the crate runs, but they are dropped when they end.
#[cfg(not(target_arch = "wasm32"))]
struct Discard;

#[cfg(not(target_arch = "wasm32"))]
impl Backend for Discard {
    fn outer_span_context(&self) -> SpanContext {
        use crate::bindings::tracing::TraceFlags;

        SpanContext {
            trace_id: "0".repeat(crate::id::TRACE_ID_LEN),
            span_id: "0".repeat(crate::id::SPAN_ID_LEN),
            trace_flags: TraceFlags::empty(),
            is_remote: false,
            trace_state: Vec::new(),
        }
    }

    fn on_start(&self, _context: &SpanContext) {}

    fn on_end(&self, _span: &SpanData) {}
}

/// A backend for tests: it answers `outer-span-context` with a given
/// context and records every call.
#[cfg(test)]
pub(crate) mod recording {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::Backend;
    use crate::bindings::tracing::{SpanContext, SpanData};

    /// One recorded call.
    #[derive(Debug)]
    pub(crate) enum Call {
        Start(SpanContext),
        End(Box<SpanData>),
    }

    pub(crate) struct Recording {
        outer: SpanContext,
        outer_calls: Cell<usize>,
        calls: RefCell<Vec<Call>>,
    }

    impl Recording {
        /// Installs a recorder on this thread that offers `outer` as the
        /// host's span.
        pub(crate) fn install(outer: SpanContext) -> Rc<Recording> {
            let recording = Rc::new(Recording {
                outer,
                outer_calls: Cell::new(0),
                calls: RefCell::new(Vec::new()),
            });
            super::install(recording.clone());
            recording
        }

        /// How often `outer-span-context` was called.
        pub(crate) fn outer_calls(&self) -> usize {
            self.outer_calls.get()
        }

        /// The calls so far, removed from the recorder.
        pub(crate) fn take(&self) -> Vec<Call> {
            self.calls.take()
        }

        /// The spans ended so far, removed from the recorder.
        pub(crate) fn take_ended(&self) -> Vec<SpanData> {
            self.take()
                .into_iter()
                .filter_map(|call| match call {
                    Call::End(span) => Some(*span),
                    Call::Start(_) => None,
                })
                .collect()
        }
    }

    impl Backend for Recording {
        fn outer_span_context(&self) -> SpanContext {
            self.outer_calls.set(self.outer_calls.get() + 1);
            self.outer.clone()
        }

        fn on_start(&self, context: &SpanContext) {
            self.calls.borrow_mut().push(Call::Start(context.clone()));
        }

        fn on_end(&self, span: &SpanData) {
            self.calls
                .borrow_mut()
                .push(Call::End(Box::new(span.clone())));
        }
    }
}
