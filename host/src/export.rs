//! Where a run's telemetry goes: OTLP/HTTP to a receiver, a readable tree
//! on stderr, or nowhere.

mod console;
pub mod otlp;

use std::fmt;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_sdk::trace::SpanData;

use crate::cli::ExportConfig;

pub use console::ConsoleTree;
pub use otlp::{
    Batching, Compression, Destination, Endpoints, ExportReport, LogItem, Protocol, Signal, Target,
};

/// The telemetry pipeline of a run: spans, log records and metrics from
/// the guest and the host pass through one.
pub struct Pipeline {
    sink: Sink,
    resource: Vec<KeyValue>,
}

enum Sink {
    Otlp(Box<otlp::OtlpExporter>),
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

impl Pipeline {
    /// Builds the pipeline `config` asks for, describing everything with
    /// the resource attributes `resource`.
    /// Fails when the file of `--exporter file:PATH` cannot be opened.
    pub fn new(config: &ExportConfig, resource: Vec<KeyValue>) -> std::io::Result<Self> {
        let start = |destination, batching: &Batching| {
            otlp::OtlpExporter::start(destination, batching.clone(), resource.clone())
        };
        let sink = match config {
            ExportConfig::Otlp {
                endpoints,
                batching,
            } => Sink::Otlp(Box::new(start(
                Destination::Http(endpoints.clone()),
                batching,
            )?)),
            ExportConfig::File { path, batching } => {
                let exporter = start(Destination::File(path.clone()), batching).map_err(|err| {
                    std::io::Error::other(format!(
                        "cannot open `{}` for `--exporter file:`: {err}",
                        path.display()
                    ))
                })?;
                Sink::Otlp(Box::new(exporter))
            }
            ExportConfig::Console => Sink::Console(ConsoleTree::new(service_name(&resource))),
            ExportConfig::None => Sink::None,
        };
        Ok(Self { sink, resource })
    }

    /// The resource attributes everything is sent with.
    pub fn resource(&self) -> &[KeyValue] {
        &self.resource
    }

    /// Whether anything leaves the process over OTLP.
    pub fn is_otlp(&self) -> bool {
        matches!(self.sink, Sink::Otlp(_))
    }

    /// Hands one finished span to the pipeline. Never blocks on the
    /// network.
    pub fn on_span(&self, span: SpanData) {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.span(span),
            Sink::Console(tree) => tree.push(span),
            Sink::None => {}
        }
    }

    /// Hands the host's own last span (the run's) to the pipeline: it is
    /// sent first at shutdown, and a full queue cannot push it out.
    pub fn on_last_span(&self, span: SpanData) {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.last_span(span),
            _ => self.on_span(span),
        }
    }

    /// Hands the host's own last metrics (the run's) to the pipeline, as
    /// [`Pipeline::on_last_span`] does its span.
    pub fn on_last_metrics(&self, metrics: ResourceMetrics) {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.last_metrics(metrics),
            _ => self.on_metrics(metrics),
        }
    }

    /// Hands one log record to the pipeline.
    pub fn on_log(&self, log: LogItem) {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.log(log),
            Sink::Console(tree) => tree.push_log(&log),
            Sink::None => {}
        }
    }

    /// Hands one metrics export to the pipeline.
    pub fn on_metrics(&self, metrics: ResourceMetrics) {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.metrics(metrics),
            Sink::Console(tree) => tree.push_metrics(&metrics),
            Sink::None => {}
        }
    }

    /// Sends or prints everything still held, then stops the pipeline and
    /// says what was delivered and what was lost.
    pub fn shutdown(&self) -> ExportReport {
        match &self.sink {
            Sink::Otlp(exporter) => exporter.shutdown(),
            Sink::Console(tree) => {
                tree.print(&mut std::io::stderr().lock());
                ExportReport::default()
            }
            Sink::None => ExportReport::default(),
        }
    }
}

/// The `service.name` among resource attributes, or an empty string.
fn service_name(resource: &[KeyValue]) -> String {
    resource
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}
