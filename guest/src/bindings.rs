//! Bindings to `wasi:otel`, generated from the WIT in the workspace's `wit/`.
//!
//! On targets other than wasm32 the generated imports exist but panic when
//! called, so only the wasm32 backend calls them.

wit_bindgen::generate!({
    path: "../wit",
    world: "wasm-otel:guest/guest",
    // Every interface the world imports comes from the WIT here; none is
    // mapped to bindings from another crate.
    generate_all,
});

pub(crate) use wasi::clocks::wall_clock::Datetime;
pub(crate) use wasi::otel::{logs, metrics, tracing, types};

/// An instrumentation scope named `name`, with no version, schema or
/// attributes: what `Tracer`, `Logger` and `Meter` start from.
pub(crate) fn scope(name: String) -> types::InstrumentationScope {
    types::InstrumentationScope {
        name,
        version: None,
        schema_url: None,
        attributes: Vec::new(),
    }
}
