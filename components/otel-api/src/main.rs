//! `otel-api [TEXT]...`: computes the Adler-32 checksum of the text given
//! (a built-in line when none is), in chunks of 16 bytes, instrumented
//! only with the `opentelemetry` crate; the SDK's providers are built with
//! `wasm-otel-guest`'s span processor, log processor and metric reader.
//!
//! With the built-in line, `hello, wasm and otel` (20 bytes), it prints
//! `adler32 4bf50740 over 20 bytes` and emits exactly this, every scope
//! named `otel-api` at the crate's version:
//!
//! ```text
//! spans (the root's parent is the host's span, through `outer_context`)
//! checksum.run          checksum.algorithm="adler32", input.bytes=20 (int)
//! ├── checksum.chunk    chunk.index=0, chunk.bytes=16 (int)
//! ├── checksum.chunk    chunk.index=1, chunk.bytes=4 (int)
//! └── checksum.finish   checksum.value="4bf50740"; status ok
//!
//! log records (through the SDK's logs API)                    in span
//! INFO  "checksum computed"  checksum.value="4bf50740",
//!       event checksum.done                                   checksum.finish
//! INFO  "done"               none                             the host's span
//!
//! metrics (cumulative, exported when the meter provider shuts down)
//! checksum.bytes        u64 counter, By          20
//! checksum.chunk_size   f64 histogram, By        bounds [8, 16, 32]: 16, 4
//! ```

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::{Status, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use wasm_otel_guest::opentelemetry::{
    WasiLogProcessor, WasiMetricReader, WasiSpanProcessor, outer_context,
};

/// Checksummed when no text is given.
const DEFAULT_TEXT: &str = "hello, wasm and otel";

/// Bytes summed per `checksum.chunk` span.
const CHUNK_BYTES: usize = 16;

/// The Adler-32 modulus.
const MOD_ADLER: u32 = 65521;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = if args.is_empty() {
        DEFAULT_TEXT.to_owned()
    } else {
        args.join(" ")
    };

    let providers = Providers::new();
    let telemetry = providers.telemetry();

    // Root spans join the host's trace.
    let outer = outer_context().attach();
    let checksum = checksum(&telemetry, text.as_bytes());
    emit(&telemetry.logger, "done", None, &[]);
    drop(outer);

    println!("adler32 {checksum:08x} over {} bytes", text.len());
    providers.shutdown();
}

/// The SDK providers, each with its `wasi:otel` part.
struct Providers {
    tracers: SdkTracerProvider,
    loggers: SdkLoggerProvider,
    meters: SdkMeterProvider,
}

/// What the program instruments with.
struct Telemetry {
    tracer: SdkTracer,
    logger: SdkLogger,
    bytes: Counter<u64>,
    chunk_size: Histogram<f64>,
}

impl Providers {
    fn new() -> Self {
        Providers {
            tracers: SdkTracerProvider::builder()
                .with_span_processor(WasiSpanProcessor::new())
                .build(),
            loggers: SdkLoggerProvider::builder()
                .with_log_processor(WasiLogProcessor::new())
                .build(),
            meters: SdkMeterProvider::builder()
                .with_reader(WasiMetricReader::new())
                .build(),
        }
    }

    fn telemetry(&self) -> Telemetry {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let meter = self.meters.meter_with_scope(scope.clone());
        Telemetry {
            tracer: self.tracers.tracer_with_scope(scope.clone()),
            logger: self.loggers.logger_with_scope(scope),
            bytes: meter
                .u64_counter("checksum.bytes")
                .with_description("Bytes checksummed")
                .with_unit("By")
                .build(),
            chunk_size: meter
                .f64_histogram("checksum.chunk_size")
                .with_description("Bytes in each chunk")
                .with_unit("By")
                .with_boundaries(vec![8.0, 16.0, 32.0])
                .build(),
        }
    }

    /// Shuts every provider down; the meter provider exports then.
    fn shutdown(self) {
        let results = [
            ("metrics", self.meters.shutdown()),
            ("logs", self.loggers.shutdown()),
            ("traces", self.tracers.shutdown()),
        ];
        for (signal, result) in results {
            if let Err(err) = result {
                eprintln!("otel-api: {signal}: {err}");
            }
        }
    }
}

/// The Adler-32 checksum of `bytes`, traced chunk by chunk.
fn checksum(telemetry: &Telemetry, bytes: &[u8]) -> u32 {
    let tracer = &telemetry.tracer;
    let attributes = vec![
        KeyValue::new("checksum.algorithm", "adler32"),
        KeyValue::new("input.bytes", bytes.len() as i64),
    ];
    let root = tracer
        .span_builder("checksum.run")
        .with_attributes(attributes)
        .start(tracer);
    let _active = Context::current_with_span(root).attach();

    let (mut a, mut b) = (1u32, 0u32);
    for (index, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
        tracer.in_span("checksum.chunk", |cx| {
            let span = cx.span();
            span.set_attribute(KeyValue::new("chunk.index", index as i64));
            span.set_attribute(KeyValue::new("chunk.bytes", chunk.len() as i64));
            for &byte in chunk {
                a = (a + u32::from(byte)) % MOD_ADLER;
                b = (b + a) % MOD_ADLER;
            }
            telemetry.bytes.add(chunk.len() as u64, &[]);
            telemetry.chunk_size.record(chunk.len() as f64, &[]);
        });
    }

    tracer.in_span("checksum.finish", |cx| {
        let checksum = (b << 16) | a;
        let value = format!("{checksum:08x}");
        let span = cx.span();
        span.set_attribute(KeyValue::new("checksum.value", value.clone()));
        span.set_status(Status::Ok);
        let attributes = [KeyValue::new("checksum.value", value)];
        emit(
            &telemetry.logger,
            "checksum computed",
            Some("checksum.done"),
            &attributes,
        );
        checksum
    })
}

/// Emits an INFO record through the SDK's logs API.
fn emit(
    logger: &SdkLogger,
    body: &'static str,
    event_name: Option<&'static str>,
    attributes: &[KeyValue],
) {
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Info);
    record.set_severity_text("INFO");
    record.set_body(body.into());
    if let Some(name) = event_name {
        record.set_event_name(name);
    }
    record.add_attributes(
        attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.to_string())),
    );
    logger.emit(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adler32(bytes: &[u8]) -> u32 {
        let providers = Providers::new();
        checksum(&providers.telemetry(), bytes)
    }

    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(DEFAULT_TEXT.as_bytes()), 0x4bf5_0740);
    }

    #[test]
    fn chunks_give_the_same_sum_as_one_pass() {
        let long = "x".repeat(100);
        let one_pass = long.bytes().fold((1u32, 0u32), |(a, b), byte| {
            let a = (a + u32::from(byte)) % MOD_ADLER;
            (a, (b + a) % MOD_ADLER)
        });
        assert_eq!(adler32(long.as_bytes()), (one_pass.1 << 16) | one_pass.0);
    }
}
