//! A loopback OTLP/HTTP receiver on 127.0.0.1 that keeps every request it
//! is sent and decodes traces, logs and metrics with `opentelemetry-proto`
//! (protobuf or the OTLP JSON mapping, gzipped or not). It can play a bad
//! collector: answer with any status, headers and body, late or never.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
use std::io::Read;

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
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived.
    pub arrived: Instant,
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

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Extra headers, such as `Retry-After`.
    pub headers: Vec<(String, String)>,
    /// The body; an empty OTLP response when `None`.
    pub body: Option<Vec<u8>>,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Reply {
    /// 200 with an empty OTLP response.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Answers only after `delay` (or never, within a test's life).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Chooses the reply to the `n`th request (from 0).
type Behaviour = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// A receiver listening on an ephemeral port of 127.0.0.1. By default it
/// answers every request with 200 and an empty OTLP response. It stops
/// when dropped.
pub struct Receiver {
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts listening.
    pub fn start() -> Self {
        Self::with(|_, _| Reply::ok())
    }

    /// Starts listening, answering as `behaviour` says.
    pub fn with(behaviour: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::on("127.0.0.1:0", behaviour)
    }

    /// Starts listening on `addr`, answering as `behaviour` says.
    pub fn on(
        addr: &str,
        behaviour: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let server = Arc::new(tiny_http::Server::http(addr).expect("bind 127.0.0.1"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let server = server.clone();
            let requests = requests.clone();
            let stop = stop.clone();
            let behaviour: Box<Behaviour> = Box::new(behaviour);
            std::thread::spawn(move || serve(&server, &requests, &*behaviour, &stop))
        };
        Self {
            server,
            requests,
            stop,
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

    /// Every span accepted on `path`, decoded, in arrival order.
    pub fn spans_at(&self, path: &str) -> Vec<SpanRecord> {
        let mut spans = Vec::new();
        for (body, json) in self.bodies(path) {
            let decoded: ExportTraceServiceRequest = decode(&body, json);
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

    /// The bodies of the requests accepted (answered 2xx) on `path`,
    /// decompressed, each with whether it is JSON.
    pub fn bodies(&self, path: &str) -> Vec<(Vec<u8>, bool)> {
        self.requests()
            .into_iter()
            .filter(|r| r.url == path && (200..300).contains(&r.status))
            .map(|request| {
                let json = match request.header("content-type") {
                    Some("application/x-protobuf") => false,
                    Some("application/json") => true,
                    other => panic!("not an OTLP/HTTP content type: {other:?}"),
                };
                let body = match request.header("content-encoding") {
                    Some("gzip") => gunzip(&request.body),
                    None => request.body,
                    other => panic!("unexpected content encoding {other:?}"),
                };
                (body, json)
            })
            .collect()
    }

    /// Every log record received on `/v1/logs`, decoded, in arrival order.
    pub fn logs(&self) -> Vec<LogEntry> {
        let mut logs = Vec::new();
        for (body, json) in self.bodies("/v1/logs") {
            let decoded: ExportLogsServiceRequest = decode(&body, json);
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
        for (body, json) in self.bodies("/v1/metrics") {
            let decoded: ExportMetricsServiceRequest = decode(&body, json);
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

/// Decodes a request body as protobuf, or as the OTLP JSON mapping.
fn decode<T: Message + Default + serde::de::DeserializeOwned>(body: &[u8], json: bool) -> T {
    if json {
        serde_json::from_slice(body).unwrap_or_else(|err| {
            panic!("not OTLP JSON ({err}): {}", String::from_utf8_lossy(body))
        })
    } else {
        T::decode(body).expect("an OTLP protobuf request")
    }
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    server: &tiny_http::Server,
    requests: &Mutex<Vec<Request>>,
    behaviour: &Behaviour,
    stop: &AtomicBool,
) {
    for (n, mut request) in server.incoming_requests().enumerate() {
        let mut body = Vec::new();
        let _ = request.as_reader().read_to_end(&mut body);
        let mut received = Request {
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
            status: 0,
            arrived: Instant::now(),
        };
        let reply = behaviour(n, &received);
        received.status = reply.status;
        requests.lock().unwrap().push(received);

        // A late answer waits in small steps, so dropping the receiver
        // is never held up by it.
        let until = Instant::now() + reply.delay;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if stop.load(Ordering::Relaxed) && !reply.delay.is_zero() {
            return;
        }

        let body = reply
            .body
            .unwrap_or_else(|| ExportTraceServiceResponse::default().encode_to_vec());
        let mut response = tiny_http::Response::from_data(body).with_status_code(reply.status);
        let content_type = tiny_http::Header::from_bytes("Content-Type", "application/x-protobuf")
            .expect("a valid header");
        response = response.with_header(content_type);
        for (name, value) in &reply.headers {
            let header = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                .expect("a valid header");
            response = response.with_header(header);
        }
        let _ = request.respond(response);
    }
}
