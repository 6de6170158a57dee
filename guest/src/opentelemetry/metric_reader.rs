//! Metrics of the OpenTelemetry SDK, sent through `metrics.export` when
//! the meter provider is flushed or shut down.

use std::sync::Weak;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Exemplar, ExponentialBucket, Metric, MetricData, ResourceMetrics,
};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use super::convert::{self, datetime};
use crate::backend;
use crate::bindings::metrics as wit;
use crate::bindings::types::Resource;

/// A metric reader for an `SdkMeterProvider` that exports through
/// `metrics.export` when the provider is flushed (`force_flush`) or shut
/// down, including the shutdown when the provider's last clone is
/// dropped. Sums and histograms are cumulative unless
/// [`WasiMetricReader::with_temporality`] says otherwise.
///
/// It stands in for the SDK's `PeriodicReader`, whose timer thread cannot
/// start on wasm32-wasip1: that reader builds, but its flushes and
/// shutdown fail and it never exports.
#[derive(Debug)]
pub struct WasiMetricReader {
    reader: ManualReader,
    exporter: WasiMetricExporter,
}

impl Default for WasiMetricReader {
    fn default() -> Self {
        WasiMetricReader::new()
    }
}

impl WasiMetricReader {
    /// A reader with cumulative temporality.
    pub fn new() -> Self {
        WasiMetricReader::with_temporality(Temporality::Cumulative)
    }

    /// A reader with `temporality`: with `Delta`, counters and histograms
    /// restart at each export while up-down counters stay cumulative, as
    /// the SDK's readers do.
    pub fn with_temporality(temporality: Temporality) -> Self {
        WasiMetricReader {
            reader: ManualReader::builder()
                .with_temporality(temporality)
                .build(),
            exporter: WasiMetricExporter { temporality },
        }
    }

    fn collect_and_export(&self) -> OTelSdkResult {
        let mut metrics = ResourceMetrics::default();
        self.reader.collect(&mut metrics)?;
        self.exporter.export_now(&metrics)
    }
}

impl MetricReader for WasiMetricReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.reader.register_pipeline(pipeline);
    }

    fn collect(&self, metrics: &mut ResourceMetrics) -> OTelSdkResult {
        self.reader.collect(metrics)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.collect_and_export()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        // Export what is left even if the host refuses it, then stop.
        let exported = self.collect_and_export();
        self.reader.shutdown_with_timeout(timeout)?;
        exported
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.reader.temporality(kind)
    }
}

/// A push exporter for readers of your own: it sends each collection
/// through `metrics.export` at once. A refusal from the host is an
/// `InternalFailure` error carrying the host's reason.
#[derive(Clone, Copy, Debug)]
pub struct WasiMetricExporter {
    temporality: Temporality,
}

impl Default for WasiMetricExporter {
    fn default() -> Self {
        WasiMetricExporter::new()
    }
}

impl WasiMetricExporter {
    /// An exporter asking for cumulative temporality.
    pub fn new() -> Self {
        WasiMetricExporter::with_temporality(Temporality::Cumulative)
    }

    /// An exporter asking for `temporality`.
    pub fn with_temporality(temporality: Temporality) -> Self {
        WasiMetricExporter { temporality }
    }

    fn export_now(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let Some(metrics) = resource_metrics(metrics) else {
            return Ok(());
        };
        backend::current()
            .export_metrics(&metrics)
            .map_err(|reason| {
                OTelSdkError::InternalFailure(format!(
                    "the host refused the metrics export: {reason}"
                ))
            })
    }
}

impl PushMetricExporter for WasiMetricExporter {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        // The host call is synchronous; the future is ready at once.
        std::future::ready(self.export_now(metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// The SDK's collection as `wasi:otel`'s, or `None` when it holds no
/// metric. The resource is left empty: the host describes the service
/// for every signal of the run, as it does for spans.
fn resource_metrics(metrics: &ResourceMetrics) -> Option<wit::ResourceMetrics> {
    let scope_metrics: Vec<wit::ScopeMetrics> = metrics
        .scope_metrics()
        .filter_map(|scope_metrics| {
            let metrics: Vec<wit::Metric> = scope_metrics.metrics().map(metric).collect();
            (!metrics.is_empty()).then(|| wit::ScopeMetrics {
                scope: convert::scope(scope_metrics.scope()),
                metrics,
            })
        })
        .collect();
    (!scope_metrics.is_empty()).then(|| wit::ResourceMetrics {
        resource: Resource {
            attributes: Vec::new(),
            schema_url: None,
        },
        scope_metrics,
    })
}

fn metric(metric: &Metric) -> wit::Metric {
    use wit::MetricData as D;

    let data = match metric.data() {
        AggregatedMetrics::F64(data) => match data_of(data, wit::MetricNumber::F64) {
            Data::Gauge(g) => D::F64Gauge(g),
            Data::Sum(s) => D::F64Sum(s),
            Data::Histogram(h) => D::F64Histogram(h),
            Data::Exponential(e) => D::F64ExponentialHistogram(e),
        },
        AggregatedMetrics::U64(data) => match data_of(data, wit::MetricNumber::U64) {
            Data::Gauge(g) => D::U64Gauge(g),
            Data::Sum(s) => D::U64Sum(s),
            Data::Histogram(h) => D::U64Histogram(h),
            Data::Exponential(e) => D::U64ExponentialHistogram(e),
        },
        AggregatedMetrics::I64(data) => match data_of(data, wit::MetricNumber::S64) {
            Data::Gauge(g) => D::S64Gauge(g),
            Data::Sum(s) => D::S64Sum(s),
            Data::Histogram(h) => D::S64Histogram(h),
            Data::Exponential(e) => D::S64ExponentialHistogram(e),
        },
    };
    wit::Metric {
        name: metric.name().to_owned(),
        description: metric.description().to_owned(),
        unit: metric.unit().to_owned(),
        data,
    }
}

/// A metric's data before its numeric type picks the variant.
enum Data {
    Gauge(wit::Gauge),
    Sum(wit::Sum),
    Histogram(wit::Histogram),
    Exponential(wit::ExponentialHistogram),
}

fn data_of<T: Copy>(data: &MetricData<T>, number: fn(T) -> wit::MetricNumber) -> Data {
    let exemplars = |exemplars: &mut dyn Iterator<Item = &Exemplar<T>>| {
        exemplars.map(|e| exemplar(e, number)).collect::<Vec<_>>()
    };
    match data {
        MetricData::Gauge(gauge) => Data::Gauge(wit::Gauge {
            data_points: gauge
                .data_points()
                .map(|p| wit::GaugeDataPoint {
                    attributes: p.attributes().map(convert::key_value).collect(),
                    value: number(p.value()),
                    exemplars: exemplars(&mut p.exemplars()),
                })
                .collect(),
            start_time: gauge.start_time().map(datetime),
            time: datetime(gauge.time()),
        }),
        MetricData::Sum(sum) => Data::Sum(wit::Sum {
            data_points: sum
                .data_points()
                .map(|p| wit::SumDataPoint {
                    attributes: p.attributes().map(convert::key_value).collect(),
                    value: number(p.value()),
                    exemplars: exemplars(&mut p.exemplars()),
                })
                .collect(),
            start_time: datetime(sum.start_time()),
            time: datetime(sum.time()),
            temporality: temporality(sum.temporality()),
            is_monotonic: sum.is_monotonic(),
        }),
        MetricData::Histogram(histogram) => Data::Histogram(wit::Histogram {
            data_points: histogram
                .data_points()
                .map(|p| wit::HistogramDataPoint {
                    attributes: p.attributes().map(convert::key_value).collect(),
                    count: p.count(),
                    bounds: p.bounds().collect(),
                    bucket_counts: p.bucket_counts().collect(),
                    min: p.min().map(number),
                    max: p.max().map(number),
                    sum: number(p.sum()),
                    exemplars: exemplars(&mut p.exemplars()),
                })
                .collect(),
            start_time: datetime(histogram.start_time()),
            time: datetime(histogram.time()),
            temporality: temporality(histogram.temporality()),
        }),
        MetricData::ExponentialHistogram(histogram) => {
            Data::Exponential(wit::ExponentialHistogram {
                data_points: histogram
                    .data_points()
                    .map(|p| wit::ExponentialHistogramDataPoint {
                        attributes: p.attributes().map(convert::key_value).collect(),
                        count: p.count() as u64,
                        min: p.min().map(number),
                        max: p.max().map(number),
                        sum: number(p.sum()),
                        scale: p.scale(),
                        zero_count: p.zero_count(),
                        positive_bucket: bucket(p.positive_bucket()),
                        negative_bucket: bucket(p.negative_bucket()),
                        zero_threshold: p.zero_threshold(),
                        exemplars: exemplars(&mut p.exemplars()),
                    })
                    .collect(),
                start_time: datetime(histogram.start_time()),
                time: datetime(histogram.time()),
                temporality: temporality(histogram.temporality()),
            })
        }
    }
}

fn bucket(bucket: &ExponentialBucket) -> wit::ExponentialBucket {
    wit::ExponentialBucket {
        offset: bucket.offset(),
        counts: bucket.counts().collect(),
    }
}

/// An exemplar with its ids as hexadecimal, as `wasi:otel` defines them.
fn exemplar<T: Copy>(exemplar: &Exemplar<T>, number: fn(T) -> wit::MetricNumber) -> wit::Exemplar {
    wit::Exemplar {
        filtered_attributes: exemplar
            .filtered_attributes()
            .map(convert::key_value)
            .collect(),
        time: datetime(exemplar.time()),
        value: number(exemplar.value),
        span_id: crate::id::hex(exemplar.span_id()),
        trace_id: crate::id::hex(exemplar.trace_id()),
    }
}

fn temporality(temporality: Temporality) -> wit::Temporality {
    match temporality {
        Temporality::Delta => wit::Temporality::Delta,
        Temporality::LowMemory => wit::Temporality::LowMemory,
        // Cumulative, and any kind added to the SDK later.
        _ => wit::Temporality::Cumulative,
    }
}
