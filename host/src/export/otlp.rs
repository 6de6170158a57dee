//! OTLP/HTTP protobuf: one worker thread batches spans, log records and
//! metrics and posts them to the receiver, retrying what may succeed later.
//!
//! The worker is ours rather than the OpenTelemetry SDK's exporters: the
//! SDK cannot carry a guest's metrics (its metric data has no public
//! constructor) nor its log event names (they must be `&'static str`), and
//! its batch processor drops spans on a full queue without saying how
//! many. Here every item is either delivered or counted as dropped, by
//! signal and reason. The encoding is `opentelemetry-proto`'s, and spans
//! are converted from the SDK's `SpanData` by its transform code.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::{Attributes, ResourceAttributesWithSchema};
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;

/// Items waiting for the worker; past this, new items are dropped and
/// counted (`queue_full`).
pub const QUEUE_CAPACITY: usize = 8192;
/// Spans or log records in one request.
pub const MAX_BATCH: usize = 512;
/// Metric exports (`ResourceMetrics`) in one request.
pub const MAX_METRICS_BATCH: usize = 32;
/// How long an item may wait for its batch to fill.
pub const BATCH_DELAY: Duration = Duration::from_millis(500);
/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown may spend delivering what is left.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per request when the receiver answers with a retryable
/// status or cannot be reached.
const ATTEMPTS: u32 = 4;
/// The first wait between attempts; it doubles each time, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The three OpenTelemetry signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metric data points.
    Metrics,
}

impl Signal {
    /// The word for one item of the signal, plural.
    pub fn items(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
            Signal::Metrics => "metric points",
        }
    }
}

/// Where each signal is posted. A signal without a URL is not exported:
/// its items are counted as dropped (`no_endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The URL spans are posted to.
    pub traces: Option<String>,
    /// The URL log records are posted to.
    pub logs: Option<String>,
    /// The URL metrics are posted to.
    pub metrics: Option<String>,
}

impl Endpoints {
    fn url(&self, signal: Signal) -> Option<&str> {
        match signal {
            Signal::Traces => self.traces.as_deref(),
            Signal::Logs => self.logs.as_deref(),
            Signal::Metrics => self.metrics.as_deref(),
        }
    }
}

/// A guest's or the host's log record, with what it was emitted under.
#[derive(Debug, Clone, PartialEq)]
pub struct LogItem {
    /// Resource attributes beyond the host's own, if any.
    pub extra_resource: Vec<KeyValue>,
    /// The instrumentation scope.
    pub scope: InstrumentationScope,
    /// The record.
    pub record: LogRecord,
}

/// What the exporter delivered and what it lost, by signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Items the receiver accepted.
    pub exported: BTreeMap<Signal, u64>,
    /// Items lost, by signal and reason.
    pub dropped: BTreeMap<(Signal, &'static str), u64>,
}

impl ExportReport {
    fn add_exported(&mut self, signal: Signal, count: u64) {
        *self.exported.entry(signal).or_default() += count;
    }

    fn add_dropped(&mut self, signal: Signal, reason: &'static str, count: u64) {
        if count > 0 {
            *self.dropped.entry((signal, reason)).or_default() += count;
        }
    }
}

/// One queued item, boxed so the queue moves pointers.
enum Item {
    Span(Box<SpanData>),
    Log(Box<LogItem>),
    Metrics(Box<ResourceMetrics>),
}

/// The sending side of the worker.
pub struct OtlpExporter {
    endpoints: Endpoints,
    queue: Mutex<Option<SyncSender<Item>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    report: Arc<Mutex<ExportReport>>,
}

impl OtlpExporter {
    /// Starts the worker, posting to `endpoints` with `resource` as the
    /// resource of everything sent.
    pub fn start(endpoints: Endpoints, resource: Vec<KeyValue>) -> Self {
        let (queue, items) = std::sync::mpsc::sync_channel(QUEUE_CAPACITY);
        let report = Arc::new(Mutex::new(ExportReport::default()));
        let worker = Worker {
            endpoints: endpoints.clone(),
            resource,
            client: reqwest::blocking::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .ok(),
            report: report.clone(),
            warned: false,
        };
        let worker = std::thread::Builder::new()
            .name("wasm-otel-export".into())
            .spawn(move || worker.run(&items))
            .expect("the OS can start a thread");
        Self {
            endpoints,
            queue: Mutex::new(Some(queue)),
            worker: Mutex::new(Some(worker)),
            report,
        }
    }

    /// Queues a span.
    pub fn span(&self, span: SpanData) {
        self.enqueue(Signal::Traces, 1, Item::Span(Box::new(span)));
    }

    /// Queues a log record.
    pub fn log(&self, log: LogItem) {
        self.enqueue(Signal::Logs, 1, Item::Log(Box::new(log)));
    }

    /// Queues one metrics export.
    pub fn metrics(&self, metrics: ResourceMetrics) {
        let points = metric_points(&metrics);
        self.enqueue(Signal::Metrics, points, Item::Metrics(Box::new(metrics)));
    }

    fn enqueue(&self, signal: Signal, count: u64, item: Item) {
        if self.endpoints.url(signal).is_none() {
            lock(&self.report).add_dropped(signal, "no_endpoint", count);
            return;
        }
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let reason = match queue.as_ref().map(|queue| queue.try_send(item)) {
            Some(Ok(())) => return,
            Some(Err(TrySendError::Full(_))) => "queue_full",
            Some(Err(TrySendError::Disconnected(_))) | None => "after_shutdown",
        };
        lock(&self.report).add_dropped(signal, reason, count);
    }

    /// Delivers what is queued, within [`SHUTDOWN_TIMEOUT`], stops the
    /// worker and says what became of everything.
    pub fn shutdown(&self) -> ExportReport {
        drop(lock(&self.queue).take());
        if let Some(worker) = lock(&self.worker).take() {
            let _ = worker.join();
        }
        lock(&self.report).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Data points in a metrics export: what the report counts for metrics.
fn metric_points(metrics: &ResourceMetrics) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;

    let points = |data: &Option<Data>| match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    metrics
        .scope_metrics
        .iter()
        .flat_map(|scope| &scope.metrics)
        .map(|metric| points(&metric.data) as u64)
        .sum()
}

/// Items collected for the next requests.
#[derive(Default)]
struct Batch {
    spans: Vec<SpanData>,
    logs: Vec<LogItem>,
    metrics: Vec<ResourceMetrics>,
}

struct Worker {
    endpoints: Endpoints,
    resource: Vec<KeyValue>,
    client: Option<reqwest::blocking::Client>,
    report: Arc<Mutex<ExportReport>>,
    warned: bool,
}

impl Worker {
    fn run(mut self, items: &Receiver<Item>) {
        let mut batch = Batch::default();
        let mut next_flush = Instant::now() + BATCH_DELAY;
        loop {
            let wait = next_flush.saturating_duration_since(Instant::now());
            match items.recv_timeout(wait) {
                Ok(item) => self.add(&mut batch, item, None),
                Err(RecvTimeoutError::Timeout) => {
                    self.flush(&mut batch, None);
                    next_flush = Instant::now() + BATCH_DELAY;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }

        // Shutdown: what is left goes out before the deadline, or is
        // counted as lost.
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        self.flush(&mut batch, Some(deadline));
    }

    fn add(&mut self, batch: &mut Batch, item: Item, deadline: Option<Instant>) {
        match item {
            Item::Span(span) => {
                batch.spans.push(*span);
                if batch.spans.len() >= MAX_BATCH {
                    self.send_spans(std::mem::take(&mut batch.spans), deadline);
                }
            }
            Item::Log(log) => {
                batch.logs.push(*log);
                if batch.logs.len() >= MAX_BATCH {
                    self.send_logs(std::mem::take(&mut batch.logs), deadline);
                }
            }
            Item::Metrics(metrics) => {
                batch.metrics.push(*metrics);
                if batch.metrics.len() >= MAX_METRICS_BATCH {
                    self.send_metrics(std::mem::take(&mut batch.metrics), deadline);
                }
            }
        }
    }

    fn flush(&mut self, batch: &mut Batch, deadline: Option<Instant>) {
        if !batch.spans.is_empty() {
            self.send_spans(std::mem::take(&mut batch.spans), deadline);
        }
        if !batch.logs.is_empty() {
            self.send_logs(std::mem::take(&mut batch.logs), deadline);
        }
        if !batch.metrics.is_empty() {
            self.send_metrics(std::mem::take(&mut batch.metrics), deadline);
        }
    }

    fn send_spans(&mut self, spans: Vec<SpanData>, deadline: Option<Instant>) {
        let count = spans.len() as u64;
        let resource = ResourceAttributesWithSchema {
            attributes: Attributes(self.resource.clone()),
            schema_url: None,
        };
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &resource),
        };
        let url = self.endpoints.traces.clone().unwrap_or_default();
        self.post(
            Signal::Traces,
            count,
            &url,
            request.encode_to_vec(),
            deadline,
        );
    }

    fn send_logs(&mut self, logs: Vec<LogItem>, deadline: Option<Instant>) {
        let count = logs.len() as u64;
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs(&self.resource, logs),
        };
        let url = self.endpoints.logs.clone().unwrap_or_default();
        self.post(Signal::Logs, count, &url, request.encode_to_vec(), deadline);
    }

    fn send_metrics(&mut self, metrics: Vec<ResourceMetrics>, deadline: Option<Instant>) {
        let count = metrics.iter().map(metric_points).sum();
        let request = ExportMetricsServiceRequest {
            resource_metrics: metrics,
        };
        let url = self.endpoints.metrics.clone().unwrap_or_default();
        self.post(
            Signal::Metrics,
            count,
            &url,
            request.encode_to_vec(),
            deadline,
        );
    }

    /// Posts one request, retrying while it may still succeed, and counts
    /// its items as exported or dropped.
    fn post(
        &mut self,
        signal: Signal,
        count: u64,
        url: &str,
        body: Vec<u8>,
        deadline: Option<Instant>,
    ) {
        let outcome = match &self.client {
            Some(client) => send_with_retries(client, url, body, deadline),
            None => Err(Failure::new("client_unavailable", "no HTTP client")),
        };
        let mut report = lock(&self.report);
        match outcome {
            Ok(()) => report.add_exported(signal, count),
            Err(failure) => {
                report.add_dropped(signal, failure.reason, count);
                drop(report);
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(
                        url,
                        error = %failure.detail,
                        "export.failed: telemetry could not be delivered \
                         (later failures are counted, not logged)"
                    );
                }
            }
        }
    }
}

/// Log records grouped under one `ResourceLogs` per distinct resource and
/// one `ScopeLogs` per distinct scope, in arrival order.
fn group_logs(host_resource: &[KeyValue], logs: Vec<LogItem>) -> Vec<ResourceLogs> {
    let mut groups: Vec<ResourceLogs> = Vec::new();
    for log in logs {
        let mut attributes = host_resource.to_vec();
        attributes.extend(log.extra_resource);
        let resource = Resource {
            attributes,
            ..Resource::default()
        };
        let index = match groups
            .iter()
            .position(|g| g.resource.as_ref() == Some(&resource))
        {
            Some(index) => index,
            None => {
                groups.push(ResourceLogs {
                    resource: Some(resource),
                    ..ResourceLogs::default()
                });
                groups.len() - 1
            }
        };
        let scopes = &mut groups[index].scope_logs;
        match scopes
            .iter_mut()
            .find(|s| s.scope.as_ref() == Some(&log.scope))
        {
            Some(scope) => scope.log_records.push(log.record),
            None => scopes.push(ScopeLogs {
                scope: Some(log.scope),
                log_records: vec![log.record],
                schema_url: String::new(),
            }),
        }
    }
    groups
}

/// Why a request failed for good.
struct Failure {
    reason: &'static str,
    detail: String,
}

impl Failure {
    fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// Posts `body` to `url`. Connection failures and the statuses the OTLP
/// specification calls retryable (429, 502, 503, 504) are tried again
/// with exponential backoff and jitter, honouring `Retry-After`, as long
/// as the deadline allows.
fn send_with_retries(
    client: &reqwest::blocking::Client,
    url: &str,
    body: Vec<u8>,
    deadline: Option<Instant>,
) -> Result<(), Failure> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let mut request = client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::new("shutdown_timeout", "out of time at shutdown"));
            }
            request = request.timeout(left.min(REQUEST_TIMEOUT));
        }

        let wait = match request.send() {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(&response);
                let text = response.text().unwrap_or_default();
                let detail = format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                );
                if !matches!(status, 429 | 502 | 503 | 504) {
                    return Err(Failure::new("rejected", detail));
                }
                if attempt >= ATTEMPTS {
                    return Err(Failure::new("retries_exhausted", detail));
                }
                retry_after.unwrap_or_else(|| jittered(backoff))
            }
            Err(err) => {
                let reason = if err.is_timeout() {
                    "timeout"
                } else {
                    "unreachable"
                };
                if attempt >= ATTEMPTS {
                    return Err(Failure::new(reason, format!("{err:#}")));
                }
                jittered(backoff)
            }
        };

        if let Some(deadline) = deadline
            && Instant::now() + wait >= deadline
        {
            return Err(Failure::new("shutdown_timeout", "out of time at shutdown"));
        }
        std::thread::sleep(wait);
        backoff *= 2;
        attempt += 1;
    }
}

/// The receiver's `Retry-After`, in seconds, capped at a minute.
fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

/// `base` plus up to half of it again, at random.
fn jittered(base: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    base + base.mul_f64(f64::from(byte[0]) / 510.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    fn log(extra: &[KeyValue], scope: &str, body: &str) -> LogItem {
        LogItem {
            extra_resource: extra.to_vec(),
            scope: InstrumentationScope {
                name: scope.to_owned(),
                ..InstrumentationScope::default()
            },
            record: LogRecord {
                body: Some(AnyValue {
                    value: Some(Value::StringValue(body.to_owned())),
                }),
                ..LogRecord::default()
            },
        }
    }

    #[test]
    fn logs_group_by_resource_then_scope_in_arrival_order() {
        let host = [kv("service.name", "s")];
        let extra = [kv("guest.key", "g")];
        let groups = group_logs(
            &host,
            vec![
                log(&[], "a", "1"),
                log(&extra, "a", "2"),
                log(&[], "b", "3"),
                log(&[], "a", "4"),
            ],
        );
        assert_eq!(groups.len(), 2);
        let plain = &groups[0];
        assert_eq!(plain.resource.as_ref().unwrap().attributes, host);
        let scopes: Vec<(&str, usize)> = plain
            .scope_logs
            .iter()
            .map(|s| (s.scope.as_ref().unwrap().name.as_str(), s.log_records.len()))
            .collect();
        assert_eq!(scopes, [("a", 2), ("b", 1)]);
        let merged = &groups[1].resource.as_ref().unwrap().attributes;
        assert_eq!(merged, &[host[0].clone(), extra[0].clone()]);
    }

    #[test]
    fn an_unreachable_receiver_is_counted_not_waited_for_forever() {
        // A loopback port that was just free: the connection is refused
        // at once and retried a few times.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
        let endpoints = Endpoints {
            traces: Some(url("/v1/traces")),
            logs: Some(url("/v1/logs")),
            metrics: None,
        };
        let exporter = OtlpExporter::start(endpoints, Vec::new());
        exporter.log(log(&[], "a", "lost"));
        let report = exporter.shutdown();
        assert_eq!(report.exported.get(&Signal::Logs), None);
        assert_eq!(report.dropped.get(&(Signal::Logs, "unreachable")), Some(&1));
        exporter.metrics(ResourceMetrics::default());
        exporter.log(log(&[], "a", "late"));
        let report = exporter.shutdown();
        assert_eq!(
            report.dropped.get(&(Signal::Logs, "after_shutdown")),
            Some(&1)
        );
        // A metrics export with no points counts nothing, wherever it goes.
        assert_eq!(report.dropped.get(&(Signal::Metrics, "no_endpoint")), None);
    }
}
