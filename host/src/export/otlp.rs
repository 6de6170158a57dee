//! OTLP over HTTP (protobuf or JSON) or to a file: one worker thread
//! batches spans, log records and metrics and posts them to the receiver,
//! retrying what may succeed later, or appends them to a file as OTLP
//! JSON Lines.
//!
//! The worker is ours rather than the OpenTelemetry SDK's exporters: the
//! SDK cannot carry a guest's metrics (its metric data has no public
//! constructor) nor its log event names (they must be `&'static str`), and
//! its batch processor drops spans on a full queue without saying how
//! many. Here every item is either delivered or counted as dropped, by
//! signal and reason. The encoding is `opentelemetry-proto`'s, and spans
//! are converted from the SDK's `SpanData` by its transform code.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Attempts' first wait; it doubles each time, with jitter, up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts, unless the receiver asks for more
/// with `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Attempts per request when exports have no time limit.
const UNBOUNDED_ATTEMPTS: u32 = 10;

/// How items wait for the worker and how long sending them may take, from
/// `OTEL_BSP_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batching {
    /// Items waiting for the worker (`OTEL_BSP_MAX_QUEUE_SIZE`, default
    /// 8192); when it is full, a new item waits up to 100 ms for room,
    /// then is dropped and counted (`queue_full`).
    pub queue: usize,
    /// How long an item may wait for its batch to fill
    /// (`OTEL_BSP_SCHEDULE_DELAY`, default 5000 ms).
    pub delay: Duration,
    /// Items in one request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default
    /// 512; metric exports count one each).
    pub batch: usize,
    /// How long one export may take with its retries, and how long
    /// shutdown may spend on what is left (`OTEL_BSP_EXPORT_TIMEOUT`,
    /// default 10000 ms, a third of the specification's, so that a run
    /// whose collector is down ends within ten seconds; `None`, from `0`,
    /// for no limit).
    pub export_timeout: Option<Duration>,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            queue: 8192,
            delay: Duration::from_millis(5000),
            batch: 512,
            export_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// How a request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`.
    Protobuf,
    /// `http/json`: the OTLP JSON mapping (hex ids, integers as strings).
    Json,
}

/// How a request's body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not at all.
    None,
    /// With gzip, said in `Content-Encoding`.
    Gzip,
}

/// Where and how one signal is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The full URL.
    pub url: String,
    /// The body's encoding.
    pub protocol: Protocol,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
    /// The body's compression.
    pub compression: Compression,
    /// How long one request may take; `None` for no limit.
    pub timeout: Option<Duration>,
}

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
    /// `count` items of the signal, in words: `1 span`, `3 log records`.
    pub fn items(self, count: u64) -> String {
        let one = match self {
            Signal::Traces => "span",
            Signal::Logs => "log record",
            Signal::Metrics => "metric point",
        };
        match count {
            1 => format!("1 {one}"),
            n => format!("{n} {one}s"),
        }
    }
}

/// Where each signal is posted. A signal without a target is not
/// exported: its items are counted as dropped (`no_endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where spans go.
    pub traces: Option<Target>,
    /// Where log records go.
    pub logs: Option<Target>,
    /// Where metrics go.
    pub metrics: Option<Target>,
}

impl Endpoints {
    fn target(&self, signal: Signal) -> Option<&Target> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Logs => self.logs.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
        }
    }
}

/// Where the worker delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// OTLP/HTTP receivers.
    Http(Endpoints),
    /// A file, appended to: one `TracesData`, `LogsData` or `MetricsData`
    /// JSON object a line, the OpenTelemetry file exporter's format.
    File(std::path::PathBuf),
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
    endpoints: Option<Endpoints>,
    queue: Mutex<Option<SyncSender<Item>>>,
    /// The host's own last items (the run's span and metrics), kept out of
    /// the queue so a guest that fills it cannot push them out, and sent
    /// first at shutdown.
    last: Arc<Mutex<Vec<Item>>>,
    /// When shutdown must be done, once it has begun.
    shutdown_by: Arc<std::sync::OnceLock<Option<Instant>>>,
    export_timeout: Option<Duration>,
    worker: Mutex<Option<JoinHandle<()>>>,
    report: Arc<Mutex<ExportReport>>,
    /// Set when an item waited [`FULL_QUEUE_WAIT`] for room in vain: later
    /// items are dropped at once until one finds room again.
    saturated: AtomicBool,
}

/// How long the guest's thread waits for room when the queue is full
/// before the item is dropped (`queue_full`). A worker that is merely
/// behind (a busy machine) frees room within milliseconds, and nothing is
/// lost; one stuck on a dead collector makes one item wait this long, and
/// the items after it are dropped at once until the queue drains.
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(100);

impl OtlpExporter {
    /// Starts the worker, delivering to `destination` with `resource` as
    /// the resource of everything sent. Fails when the file cannot be
    /// opened for appending.
    pub fn start(
        destination: Destination,
        batching: Batching,
        resource: Vec<KeyValue>,
    ) -> std::io::Result<Self> {
        let (queue, items) = std::sync::mpsc::sync_channel(batching.queue);
        let report = Arc::new(Mutex::new(ExportReport::default()));
        let (endpoints, transport) = match destination {
            Destination::Http(endpoints) => {
                let client = reqwest::blocking::Client::builder()
                    .timeout(None::<Duration>)
                    .build()
                    .ok();
                let transport = Transport::Http {
                    endpoints: Box::new(endpoints.clone()),
                    client,
                };
                (Some(endpoints), transport)
            }
            Destination::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                (None, Transport::File(file))
            }
        };
        let last = Arc::new(Mutex::new(Vec::new()));
        let shutdown_by = Arc::new(std::sync::OnceLock::new());
        let export_timeout = batching.export_timeout;
        let worker = Worker {
            transport,
            last: last.clone(),
            shutdown_by: shutdown_by.clone(),
            batching,
            resource,
            report: report.clone(),
            warned: false,
        };
        let worker = std::thread::Builder::new()
            .name("wasm-otel-export".into())
            .spawn(move || worker.run(&items))
            .expect("the OS can start a thread");
        Ok(Self {
            endpoints,
            queue: Mutex::new(Some(queue)),
            last,
            shutdown_by,
            export_timeout,
            worker: Mutex::new(Some(worker)),
            report,
            saturated: AtomicBool::new(false),
        })
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

    /// Keeps the host's own last span for shutdown, where it goes first.
    pub fn last_span(&self, span: SpanData) {
        lock(&self.last).push(Item::Span(Box::new(span)));
    }

    /// Keeps the host's own last metrics for shutdown, where they go first.
    pub fn last_metrics(&self, metrics: ResourceMetrics) {
        lock(&self.last).push(Item::Metrics(Box::new(metrics)));
    }

    fn enqueue(&self, signal: Signal, count: u64, item: Item) {
        let no_target = self
            .endpoints
            .as_ref()
            .is_some_and(|endpoints| endpoints.target(signal).is_none());
        if no_target {
            lock(&self.report).add_dropped(signal, "no_endpoint", count);
            return;
        }
        let mut item = item;
        let waiting_since = Instant::now();
        let reason = loop {
            let sent = lock(&self.queue).as_ref().map(|queue| queue.try_send(item));
            match sent {
                Some(Ok(())) => {
                    self.saturated.store(false, Ordering::Relaxed);
                    return;
                }
                Some(Err(TrySendError::Full(back)))
                    if !self.saturated.load(Ordering::Relaxed)
                        && waiting_since.elapsed() < FULL_QUEUE_WAIT =>
                {
                    // Room comes back a batch at a time as the worker
                    // takes from the queue.
                    item = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Some(Err(TrySendError::Full(_))) => {
                    self.saturated.store(true, Ordering::Relaxed);
                    break "queue_full";
                }
                Some(Err(TrySendError::Disconnected(_))) | None => break "after_shutdown",
            }
        };
        lock(&self.report).add_dropped(signal, reason, count);
    }

    /// Delivers what is queued, within the export timeout, stops the
    /// worker and says what became of everything.
    pub fn shutdown(&self) -> ExportReport {
        let by = self
            .export_timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let _ = self.shutdown_by.set(by);
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

/// How the worker delivers a request.
enum Transport {
    Http {
        endpoints: Box<Endpoints>,
        client: Option<reqwest::blocking::Client>,
    },
    File(std::fs::File),
}

struct Worker {
    transport: Transport,
    last: Arc<Mutex<Vec<Item>>>,
    shutdown_by: Arc<std::sync::OnceLock<Option<Instant>>>,
    batching: Batching,
    resource: Vec<KeyValue>,
    report: Arc<Mutex<ExportReport>>,
    warned: bool,
}

/// A request, ready for either transport.
enum Request {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Request {
    fn signal(&self) -> Signal {
        match self {
            Request::Traces(_) => Signal::Traces,
            Request::Logs(_) => Signal::Logs,
            Request::Metrics(_) => Signal::Metrics,
        }
    }

    fn encode(&self, protocol: Protocol) -> Vec<u8> {
        match (self, protocol) {
            (Request::Traces(r), Protocol::Protobuf) => r.encode_to_vec(),
            (Request::Logs(r), Protocol::Protobuf) => r.encode_to_vec(),
            (Request::Metrics(r), Protocol::Protobuf) => r.encode_to_vec(),
            (Request::Traces(r), Protocol::Json) => json(r),
            (Request::Logs(r), Protocol::Json) => json(r),
            (Request::Metrics(r), Protocol::Json) => json(r),
        }
    }
}

/// The OTLP JSON encoding. Serializing these generated types cannot fail.
fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl Worker {
    fn run(mut self, items: &Receiver<Item>) {
        let mut batch = Batch::default();
        let mut next_flush = Instant::now() + self.batching.delay;
        let mut last_sent = false;
        loop {
            // Once shutdown has begun, the host's own items go first.
            if !last_sent && self.shutdown_by.get().is_some() {
                last_sent = true;
                self.send_last();
            }
            let wait = next_flush.saturating_duration_since(Instant::now());
            match items.recv_timeout(wait) {
                Ok(item) => self.add(&mut batch, item),
                Err(RecvTimeoutError::Timeout) => {
                    let deadline = self.deadline();
                    self.flush(&mut batch, deadline);
                    next_flush = Instant::now() + self.batching.delay;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }

        // Shutdown: what is left goes out within one export timeout, or is
        // counted as lost.
        if !last_sent {
            self.send_last();
        }
        let deadline = self.deadline();
        self.flush(&mut batch, deadline);
    }

    /// Sends the host's own last items in a batch of their own.
    fn send_last(&mut self) {
        let mut last = Batch::default();
        for item in std::mem::take(&mut *lock(&self.last)) {
            match item {
                Item::Span(span) => last.spans.push(*span),
                Item::Log(log) => last.logs.push(*log),
                Item::Metrics(metrics) => last.metrics.push(*metrics),
            }
        }
        let deadline = self.deadline();
        self.flush(&mut last, deadline);
    }

    /// When an export starting now must be done: one export timeout from
    /// now, and never past the end of shutdown once it has begun.
    fn deadline(&self) -> Option<Instant> {
        let own = self
            .batching
            .export_timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        match self.shutdown_by.get() {
            Some(Some(by)) => Some(own.map_or(*by, |own| own.min(*by))),
            _ => own,
        }
    }

    fn add(&mut self, batch: &mut Batch, item: Item) {
        let full = self.batching.batch;
        match item {
            Item::Span(span) => {
                batch.spans.push(*span);
                if batch.spans.len() >= full {
                    let deadline = self.deadline();
                    self.send_spans(std::mem::take(&mut batch.spans), deadline);
                }
            }
            Item::Log(log) => {
                batch.logs.push(*log);
                if batch.logs.len() >= full {
                    let deadline = self.deadline();
                    self.send_logs(std::mem::take(&mut batch.logs), deadline);
                }
            }
            Item::Metrics(metrics) => {
                batch.metrics.push(*metrics);
                if batch.metrics.len() >= full {
                    let deadline = self.deadline();
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
        self.deliver(Request::Traces(request), count, deadline);
    }

    fn send_logs(&mut self, logs: Vec<LogItem>, deadline: Option<Instant>) {
        let count = logs.len() as u64;
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs(&self.resource, logs),
        };
        self.deliver(Request::Logs(request), count, deadline);
    }

    fn send_metrics(&mut self, metrics: Vec<ResourceMetrics>, deadline: Option<Instant>) {
        let count = metrics.iter().map(metric_points).sum();
        let request = ExportMetricsServiceRequest {
            resource_metrics: metrics,
        };
        self.deliver(Request::Metrics(request), count, deadline);
    }

    /// Delivers one request and counts its items as exported or lost.
    fn deliver(&mut self, request: Request, count: u64, deadline: Option<Instant>) {
        let signal = request.signal();
        let outcome = match &mut self.transport {
            Transport::File(file) => append_line(file, &request),
            Transport::Http { endpoints, client } => {
                match (endpoints.target(signal), client.as_ref()) {
                    (Some(target), Some(client)) => post(client, target, &request, deadline)
                        .map(|rejected| rejected.map(|(n, message)| (n.min(count), message))),
                    (None, _) => Err(Failure::new("no_endpoint", "no endpoint")),
                    (_, None) => Err(Failure::new("client_unavailable", "no HTTP client")),
                }
            }
        };

        let mut report = lock(&self.report);
        let warning = match outcome {
            Ok(None) => {
                report.add_exported(signal, count);
                None
            }
            Ok(Some((rejected, message))) => {
                report.add_exported(signal, count - rejected);
                report.add_dropped(signal, "rejected_by_receiver", rejected);
                Some(format!(
                    "the receiver rejected {}: {message}",
                    signal.items(rejected)
                ))
            }
            Err(failure) => {
                report.add_dropped(signal, failure.reason, count);
                Some(failure.detail)
            }
        };
        drop(report);
        if let Some(warning) = warning
            && !self.warned
        {
            self.warned = true;
            crate::say!(
                "warning: telemetry export failed: {warning} \
                 (later failures are counted in the summary at the end)"
            );
        }
    }
}

/// Appends a request as one JSON line.
fn append_line(
    file: &mut std::fs::File,
    request: &Request,
) -> Result<Option<(u64, String)>, Failure> {
    use std::io::Write;

    let mut line = request.encode(Protocol::Json);
    line.push(b'\n');
    file.write_all(&line)
        .and_then(|()| file.flush())
        .map(|()| None)
        .map_err(|err| Failure::new("write_failed", format!("cannot write the file: {err}")))
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

/// Posts a request to `target`. Connection failures and the statuses the
/// OTLP specification calls retryable (429, 502, 503, 504) are tried again
/// with exponential backoff and jitter, honouring `Retry-After`, until the
/// deadline. On success, says how many items the receiver rejected in a
/// `partial_success`, and its message.
fn post(
    client: &reqwest::blocking::Client,
    target: &Target,
    request: &Request,
    deadline: Option<Instant>,
) -> Result<Option<(u64, String)>, Failure> {
    let body = compress(request.encode(target.protocol), target.compression);
    let content_type = match target.protocol {
        Protocol::Protobuf => "application/x-protobuf",
        Protocol::Json => "application/json",
    };
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        let mut builder = client
            .post(&target.url)
            .header("content-type", content_type)
            .body(body.clone());
        if target.compression == Compression::Gzip {
            builder = builder.header("content-encoding", "gzip");
        }
        for (key, value) in &target.headers {
            builder = builder.header(key, value);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(Failure::new("export_timeout", "the export timeout ran out"));
        }
        let timeout = match (target.timeout, left) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        };
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }

        let (failure, wait) = match builder.send() {
            Ok(response) if response.status().is_success() => {
                return Ok(partial_success(request.signal(), response));
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(&response);
                let text = response.text().unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                let detail = format!(
                    "{} answered HTTP {status}: {}",
                    shown(&target.url),
                    text.escape_debug()
                );
                if !matches!(status, 429 | 502 | 503 | 504) {
                    return Err(Failure::new("rejected", detail));
                }
                let wait = retry_after.unwrap_or_else(|| jittered(backoff));
                (Failure::new("retries_exhausted", detail), wait)
            }
            Err(err) if err.is_timeout() => {
                let detail = format!("{} did not answer in time", shown(&target.url));
                return Err(Failure::new("timeout", detail));
            }
            Err(err) => {
                let detail = format!("cannot reach {}: {}", shown(&target.url), causes(&err));
                (Failure::new("unreachable", detail), jittered(backoff))
            }
        };

        // Try again while the deadline allows; with no deadline, a few
        // times only, so a dead receiver cannot hold the run forever.
        attempts += 1;
        let out_of_time = match deadline {
            Some(deadline) => Instant::now() + wait >= deadline,
            None => attempts >= UNBOUNDED_ATTEMPTS,
        };
        if out_of_time {
            return Err(failure);
        }
        std::thread::sleep(wait);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A URL as messages show it: without credentials or a query, which may
/// hold secrets.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "the endpoint".to_owned(),
    }
}

/// An error and its causes, on one line, the URL left out.
fn causes(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        text = "the request failed".to_owned();
    }
    text.escape_debug().to_string()
}

fn compress(body: Vec<u8>, compression: Compression) -> Vec<u8> {
    use std::io::Write;

    match compression {
        Compression::None => body,
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing to a vector cannot fail.
            let _ = encoder.write_all(&body);
            encoder.finish().unwrap_or_default()
        }
    }
}

/// The rejected count and message of a `partial_success` in a successful
/// answer, read as protobuf or JSON by its content type.
fn partial_success(signal: Signal, response: reqwest::blocking::Response) -> Option<(u64, String)> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;

    let json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = response.bytes().ok()?;
    if body.is_empty() {
        return None;
    }
    fn read<T: prost::Message + Default + serde::de::DeserializeOwned>(
        body: &[u8],
        json: bool,
    ) -> Option<T> {
        if json {
            serde_json::from_slice(body).ok()
        } else {
            T::decode(body).ok()
        }
    }
    let (rejected, message) = match signal {
        Signal::Traces => {
            let p = read::<ExportTraceServiceResponse>(&body, json)?.partial_success?;
            (p.rejected_spans, p.error_message)
        }
        Signal::Logs => {
            let p = read::<ExportLogsServiceResponse>(&body, json)?.partial_success?;
            (p.rejected_log_records, p.error_message)
        }
        Signal::Metrics => {
            let p = read::<ExportMetricsServiceResponse>(&body, json)?.partial_success?;
            (p.rejected_data_points, p.error_message)
        }
    };
    let rejected = u64::try_from(rejected).ok().filter(|&n| n > 0)?;
    Some((rejected, message))
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
        let target = |path: &str| Target {
            url: url(path),
            protocol: Protocol::Protobuf,
            headers: Vec::new(),
            compression: Compression::None,
            timeout: Some(Duration::from_secs(1)),
        };
        let endpoints = Endpoints {
            traces: Some(target("/v1/traces")),
            logs: Some(target("/v1/logs")),
            metrics: None,
        };
        let batching = Batching {
            export_timeout: Some(Duration::from_secs(1)),
            ..Batching::default()
        };
        let exporter =
            OtlpExporter::start(Destination::Http(endpoints), batching, Vec::new()).unwrap();
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
