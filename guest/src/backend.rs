//! Where telemetry goes: the host's `wasi:otel` imports on wasm32, nowhere
//! on other targets, and a recorder in this crate's tests.
//!
//! This is the one place that calls the imports; with the `portable`
//! feature the wasm32 backend writes OTLP JSON Lines instead (module
//! `portable`), and the module imports no `wasi:otel` at all.
//!
//! The rest of the crate reaches the host only through [`Backend`], so the
//! unit tests can run on the build machine, where the generated imports
//! would panic.

use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::logs::LogRecord;
use crate::bindings::metrics::ResourceMetrics;
use crate::bindings::tracing::{SpanContext, SpanData};

/// The host side of `wasi:otel`, one method per import the crate uses.
pub(crate) trait Backend {
    /// `tracing.outer-span-context`.
    fn outer_span_context(&self) -> SpanContext;

    /// `tracing.on-start`.
    fn on_start(&self, context: &SpanContext);

    /// `tracing.on-end`.
    fn on_end(&self, span: &SpanData);

    /// `logs.on-emit`.
    fn on_emit(&self, record: &LogRecord);

    /// `metrics.export`: an error is the host's reason for refusing.
    fn export_metrics(&self, metrics: &ResourceMetrics) -> Result<(), String>;

    /// Sends whatever is held back, for a guest about to exit.
    fn flush(&self) {}
}

thread_local! {
    static CURRENT: RefCell<Rc<dyn Backend>> = RefCell::new(default_backend());
}

/// The backend in use on this thread.
pub(crate) fn current() -> Rc<dyn Backend> {
    CURRENT.with(|current| Rc::clone(&current.borrow()))
}

/// Flushes this thread's backend, if it can be reached: not while it is
/// being replaced, nor once the thread's storage is gone.
#[cfg_attr(not(any(feature = "portable", test)), allow(dead_code))]
pub(crate) fn flush() {
    let _ = CURRENT.try_with(|current| {
        if let Ok(backend) = current.try_borrow() {
            backend.flush();
        }
    });
}

/// Replaces this thread's backend.
#[cfg(test)]
pub(crate) fn install(backend: Rc<dyn Backend>) {
    CURRENT.with(|current| *current.borrow_mut() = backend);
}

#[cfg(all(target_arch = "wasm32", not(feature = "portable")))]
fn default_backend() -> Rc<dyn Backend> {
    Rc::new(Wit)
}

#[cfg(all(target_arch = "wasm32", feature = "portable"))]
fn default_backend() -> Rc<dyn Backend> {
    Rc::new(crate::portable::Portable::from_env())
}

#[cfg(not(target_arch = "wasm32"))]
fn default_backend() -> Rc<dyn Backend> {
    Rc::new(Discard)
}

/// Calls the host through the generated `wasi:otel` imports.
#[cfg(all(target_arch = "wasm32", not(feature = "portable")))]
struct Wit;

#[cfg(all(target_arch = "wasm32", not(feature = "portable")))]
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

    fn on_emit(&self, record: &LogRecord) {
        crate::bindings::logs::on_emit(record);
    }

    fn export_metrics(&self, metrics: &ResourceMetrics) -> Result<(), String> {
        crate::bindings::metrics::export(metrics)
    }
}

/// Off wasm32 there is no host: the spans still get ids and parents, so
/// code using the crate runs, but they are dropped when they end, as are
/// log records and metrics.
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

    fn on_emit(&self, _record: &LogRecord) {}

    fn export_metrics(&self, _metrics: &ResourceMetrics) -> Result<(), String> {
        Ok(())
    }
}

/// A backend for tests: it answers `outer-span-context` with a given
/// context and records every call.
#[cfg(test)]
pub(crate) mod recording {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::Backend;
    use crate::bindings::logs::LogRecord;
    use crate::bindings::metrics::ResourceMetrics;
    use crate::bindings::tracing::{SpanContext, SpanData};

    /// One recorded call.
    #[derive(Debug)]
    pub(crate) enum Call {
        Start(SpanContext),
        End(Box<SpanData>),
        Emit(Box<LogRecord>),
        Export(Box<ResourceMetrics>),
    }

    pub(crate) struct Recording {
        outer: SpanContext,
        outer_calls: Cell<usize>,
        calls: RefCell<Vec<Call>>,
        export_error: RefCell<Option<String>>,
    }

    impl Recording {
        /// Installs a recorder on this thread that offers `outer` as the
        /// host's span.
        pub(crate) fn install(outer: SpanContext) -> Rc<Recording> {
            let recording = Rc::new(Recording {
                outer,
                outer_calls: Cell::new(0),
                calls: RefCell::new(Vec::new()),
                export_error: RefCell::new(None),
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
                    _ => None,
                })
                .collect()
        }

        /// The log records emitted so far, removed from the recorder.
        pub(crate) fn take_logs(&self) -> Vec<LogRecord> {
            self.take()
                .into_iter()
                .filter_map(|call| match call {
                    Call::Emit(record) => Some(*record),
                    _ => None,
                })
                .collect()
        }

        /// The metrics exported so far, removed from the recorder; a
        /// refused export is recorded too.
        pub(crate) fn take_exports(&self) -> Vec<ResourceMetrics> {
            self.take()
                .into_iter()
                .filter_map(|call| match call {
                    Call::Export(metrics) => Some(*metrics),
                    _ => None,
                })
                .collect()
        }

        /// Makes every later `metrics.export` fail with `error`, or
        /// succeed again with `None`.
        pub(crate) fn refuse_exports(&self, error: Option<&str>) {
            *self.export_error.borrow_mut() = error.map(str::to_owned);
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

        fn on_emit(&self, record: &LogRecord) {
            self.calls
                .borrow_mut()
                .push(Call::Emit(Box::new(record.clone())));
        }

        fn export_metrics(&self, metrics: &ResourceMetrics) -> Result<(), String> {
            self.calls
                .borrow_mut()
                .push(Call::Export(Box::new(metrics.clone())));
            match self.export_error.borrow().as_ref() {
                Some(error) => Err(error.clone()),
                None => Ok(()),
            }
        }
    }
}
