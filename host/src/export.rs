//! Where finished spans go: an OTLP/HTTP exporter behind the SDK's batch
//! processor, a span tree printed on stderr, or nowhere.

mod console;

use std::fmt;

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanData, SpanProcessor};

use crate::cli::ExportConfig;

pub use console::ConsoleTree;

/// The span pipeline of a host: every run's spans pass through one.
pub struct Pipeline {
    sink: Sink,
}

enum Sink {
    Otlp(BatchSpanProcessor),
    Console(ConsoleTree),
    None,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.sink {
            Sink::Otlp(_) => "otlp",
            Sink::Console(_) => "console",
            Sink::None => "none",
        };
        f.debug_struct("Pipeline").field("sink", &kind).finish()
    }
}

/// The exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP exporter for `{endpoint}`: {source}")]
pub struct ExportSetupError {
    endpoint: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

impl Pipeline {
    /// Builds the pipeline `config` asks for, describing spans with
    /// `resource`.
    pub fn new(config: &ExportConfig, resource: Resource) -> Result<Self, ExportSetupError> {
        let sink = match config {
            ExportConfig::Otlp { traces_endpoint } => {
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(traces_endpoint.clone())
                    .build()
                    .map_err(|source| ExportSetupError {
                        endpoint: traces_endpoint.clone(),
                        source,
                    })?;
                let mut processor = BatchSpanProcessor::builder(exporter).build();
                processor.set_resource(&resource);
                Sink::Otlp(processor)
            }
            ExportConfig::Console => Sink::Console(ConsoleTree::new(resource)),
            ExportConfig::None => Sink::None,
        };
        Ok(Self { sink })
    }

    /// Hands one finished span to the pipeline. Never blocks on the
    /// network.
    pub fn on_end(&self, span: SpanData) {
        match &self.sink {
            Sink::Otlp(processor) => processor.on_end(span),
            Sink::Console(tree) => tree.push(span),
            Sink::None => {}
        }
    }

    /// Sends or prints everything still held, then stops the pipeline.
    pub fn shutdown(&self) {
        match &self.sink {
            Sink::Otlp(processor) => {
                if let Err(err) = processor.shutdown() {
                    tracing::warn!(error = %err, "export.shutdown failed");
                }
            }
            Sink::Console(tree) => tree.print(&mut std::io::stderr().lock()),
            Sink::None => {}
        }
    }
}
