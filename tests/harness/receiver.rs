//! A loopback OTLP/HTTP receiver on 127.0.0.1 that keeps every request it
//! is sent and decodes traces, logs and metrics with `opentelemetry-proto`.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One HTTP request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, such as `POST`.
    pub method: String,
    /// Path and query, such as `/v1/traces`.
    pub url: String,
    /// Headers as lowercase name and value.
    pub headers: Vec<(String, String)>,
    /// The body, undecoded.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A span with the resource and scope it was sent under.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The resource of its `ResourceSpans`.
    pub resource: Resource,
    /// The scope of its `ScopeSpans`.
    pub scope: InstrumentationScope,
    /// The schema URL of its `ScopeSpans`.
    pub scope_schema_url: String,
    /// The span.
    pub span: Span,
}

/// A log record with the resource and scope it was sent under.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// The resource of its `ResourceLogs`.
    pub resource: Resource,
    /// The scope of its `ScopeLogs`.
    pub scope: InstrumentationScope,
    /// The record.
    pub record: LogRecord,
}

/// A metric with the resource and scope it was sent under.
#[derive(Debug, Clone)]
pub struct MetricEntry {
    /// The resource of its `ResourceMetrics`.
    pub resource: Resource,
    /// The scope of its `ScopeMetrics`.
    pub scope: InstrumentationScope,
    /// The metric.
    pub metric: Metric,
}

/// A receiver listening on an ephemeral port of 127.0.0.1. It answers
/// every request with 200 and an empty OTLP response, and stops when
/// dropped.
pub struct Receiver {
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts listening.
    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = server.clone();
            let requests = requests.clone();
            std::thread::spawn(move || serve(&server, &requests))
        };
        Self {
            server,
            requests,
            thread: Some(thread),
        }
    }

    /// The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.server_addr())
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Every span received on `path`, decoded, in arrival order.
    pub fn spans_at(&self, path: &str) -> Vec<SpanRecord> {
        let mut spans = Vec::new();
        for request in self.requests().iter().filter(|r| r.url == path) {
            assert_eq!(
                request.header("content-type"),
                Some("application/x-protobuf"),
                "OTLP/HTTP protobuf content type"
            );
            let decoded = ExportTraceServiceRequest::decode(request.body.as_slice())
                .expect("the body is an ExportTraceServiceRequest");
            for resource_spans in decoded.resource_spans {
                let resource = resource_spans.resource.unwrap_or_default();
                for scope_spans in resource_spans.scope_spans {
                    let scope = scope_spans.scope.unwrap_or_default();
                    for span in scope_spans.spans {
                        spans.push(SpanRecord {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            scope_schema_url: scope_spans.schema_url.clone(),
                            span,
                        });
                    }
                }
            }
        }
        spans
    }

    /// Every span received on the standard path `/v1/traces`.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.spans_at("/v1/traces")
    }

    /// The bodies of the protobuf requests received on `path`.
    fn bodies(&self, path: &str) -> Vec<Vec<u8>> {
        self.requests()
            .into_iter()
            .filter(|r| r.url == path)
            .map(|request| {
                assert_eq!(
                    request.header("content-type"),
                    Some("application/x-protobuf"),
                    "OTLP/HTTP protobuf content type"
                );
                request.body
            })
            .collect()
    }

    /// Every log record received on `/v1/logs`, decoded, in arrival order.
    pub fn logs(&self) -> Vec<LogEntry> {
        let mut logs = Vec::new();
        for body in self.bodies("/v1/logs") {
            let decoded = ExportLogsServiceRequest::decode(body.as_slice())
                .expect("the body is an ExportLogsServiceRequest");
            for resource_logs in decoded.resource_logs {
                let resource = resource_logs.resource.unwrap_or_default();
                for scope_logs in resource_logs.scope_logs {
                    let scope = scope_logs.scope.unwrap_or_default();
                    for record in scope_logs.log_records {
                        logs.push(LogEntry {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            record,
                        });
                    }
                }
            }
        }
        logs
    }

    /// Every metric received on `/v1/metrics`, decoded, in arrival order.
    pub fn metrics(&self) -> Vec<MetricEntry> {
        let mut metrics = Vec::new();
        for body in self.bodies("/v1/metrics") {
            let decoded = ExportMetricsServiceRequest::decode(body.as_slice())
                .expect("the body is an ExportMetricsServiceRequest");
            for resource_metrics in decoded.resource_metrics {
                let resource = resource_metrics.resource.unwrap_or_default();
                for scope_metrics in resource_metrics.scope_metrics {
                    let scope = scope_metrics.scope.unwrap_or_default();
                    for metric in scope_metrics.metrics {
                        metrics.push(MetricEntry {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            metric,
                        });
                    }
                }
            }
        }
        metrics
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, requests: &Mutex<Vec<Request>>) {
    for mut request in server.incoming_requests() {
        let mut body = Vec::new();
        let _ = request.as_reader().read_to_end(&mut body);
        requests.lock().unwrap().push(Request {
            method: request.method().to_string(),
            url: request.url().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_owned(),
                    )
                })
                .collect(),
            body,
        });

        let reply = ExportTraceServiceResponse::default().encode_to_vec();
        let header = tiny_http::Header::from_bytes("Content-Type", "application/x-protobuf")
            .expect("a valid header");
        let _ = request.respond(tiny_http::Response::from_data(reply).with_header(header));
    }
}
