//! `native-spans N`: the native counterpart of the `span-bench` guest.
//! Starts and ends N spans with the same name and four attributes through
//! the `opentelemetry_sdk` tracer, with a batch span processor (queue
//! 8192, batches of 512, the settings wasm-otel uses) feeding an exporter
//! that counts the spans and drops them. Prints, like the guest:
//!
//! ```text
//! spans N elapsed_ns T ns_per_span P exported E
//! ```
//!
//! T covers the loop alone; E, counted after the provider has shut down,
//! says whether the processor's queue overflowed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

/// Counts the spans it is given and keeps none.
#[derive(Debug, Default, Clone)]
struct CountingExporter(Arc<AtomicU64>);

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let Some(count) = arg.as_deref().and_then(|n| n.parse::<u64>().ok()) else {
        let shown = arg.as_deref().unwrap_or("");
        eprintln!("error: N `{shown}` is not a number of spans (usage: native-spans N)");
        return ExitCode::from(2);
    };

    let exporter = CountingExporter::default();
    let exported = exporter.0.clone();
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(8192)
        .with_max_export_batch_size(512)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("native-spans");

    let started = Instant::now();
    for index in 0..count {
        let attributes = vec![
            KeyValue::new("bench.index", index as i64),
            KeyValue::new("bench.kind", "loop"),
            KeyValue::new("bench.ratio", 0.5),
            KeyValue::new("bench.sampled", true),
        ];
        tracer
            .span_builder("bench.span")
            .with_attributes(attributes)
            .start(&tracer)
            .end();
    }
    let elapsed = started.elapsed().as_nanos();

    if let Err(err) = provider.shutdown() {
        eprintln!("error: the tracer provider did not shut down cleanly: {err}");
        return ExitCode::FAILURE;
    }
    let per_span = elapsed as f64 / count.max(1) as f64;
    let exported = exported.load(Ordering::Relaxed);
    println!("spans {count} elapsed_ns {elapsed} ns_per_span {per_span:.1} exported {exported}");
    ExitCode::SUCCESS
}
