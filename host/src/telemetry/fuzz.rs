//! Property tests of the three conversions of guest telemetry: arbitrary,
//! mostly hostile `span-data`, `log-record` and `resource-metrics` values
//! go through `convert_span`, `convert_log` and `convert_metrics`, and each
//! result is held to what those functions promise. Nothing panics; every
//! list and string stays within a small budget; ids have their lengths;
//! numbers are ones OTLP can carry; histograms agree with themselves; what
//! is kept is what the documented rules keep; and whatever the output lost
//! is matched by at least as many drop or repair counts.
//!
//! A signal runs at most `CASES` cases and at most `TIME_LIMIT`, whichever
//! ends first. Case `i` of a run from seed `S` is generated from seed
//! `S + i` alone, so every finding names the seed that reproduces it with
//! `WASM_OTEL_FUZZ_SEED=<seed> WASM_OTEL_FUZZ_CASES=1`. Findings are
//! collected over the whole run rather than stopping at the first, so one
//! known fault does not hide another.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, Gauge, Histogram, Metric,
    NumberDataPoint, ResourceMetrics, Sum, exemplar, exponential_histogram_data_point::Buckets,
    metric::Data, number_data_point,
};
use opentelemetry_proto::transform::common::tonic::Attributes;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value as Json;

use super::wit::{logs as l, metrics as m, tracing as t, types as ty};
use super::{
    Budget, Clean, TelemetryStats, convert_log, convert_metrics, convert_span, json_to_value, nanos,
};
use crate::export::LogItem;

/// Cases per signal (`WASM_OTEL_FUZZ_CASES`).
const CASES: u64 = 1_000;
/// Wall-clock time per signal (`WASM_OTEL_FUZZ_SECS`, whole seconds).
const TIME_LIMIT: Duration = Duration::from_secs(2);
/// The first case's seed (`WASM_OTEL_FUZZ_SEED`, decimal or `0x` hex).
const SEED: u64 = 0x0e1f_0ca1_5eed;

#[test]
fn spans() {
    run("spans", |make, check| {
        let input = make.span();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: check.budget,
            stats: &mut stats,
        };
        let output = convert_span(input.clone(), &mut clean);
        check_span(check, &input, output);
        check.all_counted(&stats);
    });
}

#[test]
fn logs() {
    let run_span = SpanContext::new(
        TraceId::from_bytes([1; 16]),
        SpanId::from_bytes([2; 8]),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let host = host_resource();
    run("logs", |make, check| {
        let input = make.log_record();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: check.budget,
            stats: &mut stats,
        };
        let item = convert_log(input.clone(), &run_span, &host, &mut clean);
        check_log(check, &input, &item, &run_span, &host);
        check.all_counted(&stats);
    });
}

#[test]
fn metrics() {
    let host = host_resource();
    run("metrics", |make, check| {
        let input = make.resource_metrics();
        let mut stats = TelemetryStats::default();
        let mut clean = Clean {
            budget: check.budget,
            stats: &mut stats,
        };
        let output = convert_metrics(input.clone(), &host, &mut clean);
        check_metrics(check, &input, &output, &host);
        check.all_counted(&stats);
    });
}

/// The budget most cases run under: small, so its bounds are easy to hit.
fn small_budget() -> Budget {
    Budget {
        attributes: 8,
        events: 4,
        links: 4,
        value_bytes: 64,
        name_bytes: 16,
        trace_state: 4,
        data_points: 16,
        ..Budget::default()
    }
}

/// A host resource with the key guests most like to spoof.
fn host_resource() -> Vec<KeyValue> {
    Attributes::from([opentelemetry::KeyValue::new("service.name", "host")]).0
}

// ---------------------------------------------------------------------
// Running cases and collecting what they find.
// ---------------------------------------------------------------------

/// Runs the cases of one signal and fails with every kind of finding.
fn run(signal: &str, mut case: impl FnMut(&mut Make, &mut Check<'_>)) {
    let seed = env("WASM_OTEL_FUZZ_SEED").unwrap_or(SEED);
    let cases = env("WASM_OTEL_FUZZ_CASES").unwrap_or(CASES);
    let limit = env("WASM_OTEL_FUZZ_SECS").map_or(TIME_LIMIT, Duration::from_secs);
    let started = Instant::now();
    let mut findings = Findings::default();
    let mut ran = 0;
    while ran < cases && started.elapsed() < limit {
        let case_seed = seed.wrapping_add(ran);
        let mut make = Make::new(case_seed);
        let budget = make.budget();
        let mut check = Check {
            budget: &budget,
            seed: case_seed,
            findings: &mut findings,
            losses: BTreeMap::new(),
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| case(&mut make, &mut check)));
        if let Err(payload) = outcome {
            findings.add("a panic", case_seed, panic_message(&*payload));
        }
        ran += 1;
    }
    findings.report(signal, seed, ran, started.elapsed());
}

fn env(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("`{name}={text}` is not a number")))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Each kind of violation seen, with its first case.
#[derive(Default)]
struct Findings(BTreeMap<&'static str, Finding>);

struct Finding {
    times: u64,
    seed: u64,
    detail: String,
}

impl Findings {
    fn add(&mut self, what: &'static str, seed: u64, detail: String) {
        let finding = self.0.entry(what).or_insert_with(|| Finding {
            times: 0,
            seed,
            detail: cut(&detail, 400).to_owned(),
        });
        finding.times += 1;
    }

    fn report(self, signal: &str, seed: u64, cases: u64, took: Duration) {
        eprintln!("fuzz {signal}: {cases} cases from seed {seed:#x} in {took:.2?}");
        if self.0.is_empty() {
            return;
        }
        let mut text = format!(
            "{} kinds of violation in {cases} {signal} cases from seed {seed:#x}:\n",
            self.0.len()
        );
        for (what, found) in &self.0 {
            let _ = writeln!(
                text,
                "- {what}: {} times, first at seed {:#x}: {}",
                found.times, found.seed, found.detail
            );
        }
        let _ = write!(
            text,
            "one case again: WASM_OTEL_FUZZ_SEED=<seed> WASM_OTEL_FUZZ_CASES=1 \
             cargo test --release -p wasm-otel-host fuzz::{signal}"
        );
        panic!("{text}");
    }
}

/// The checks of one case: its budget, and what its output lost.
struct Check<'a> {
    budget: &'a Budget,
    seed: u64,
    findings: &'a mut Findings,
    losses: BTreeMap<&'static str, u64>,
}

impl Check<'_> {
    fn ensure(&mut self, ok: bool, what: &'static str, detail: impl FnOnce() -> String) {
        if !ok {
            self.findings.add(what, self.seed, detail());
        }
    }

    /// Notes that the output lost `n` things the input had.
    fn lost(&mut self, what: &'static str, n: usize) {
        if n > 0 {
            *self.losses.entry(what).or_default() += n as u64;
        }
    }

    /// Every loss is counted once or more, never silently.
    fn all_counted(&mut self, stats: &TelemetryStats) {
        let losses = std::mem::take(&mut self.losses);
        let lost: u64 = losses.values().sum();
        let counted = stats.dropped_total();
        self.ensure(counted >= lost, "output lost more than was counted", || {
            format!(
                "lost {lost}, counted {counted}: lost {losses:?}, counted {:?}",
                stats.dropped
            )
        });
    }
}

// ---------------------------------------------------------------------
// Generators: a seeded splitmix64 and what it makes.
// ---------------------------------------------------------------------

/// Words guests use, with repeats and truncation near-misses among them:
/// the 17-byte key cuts to the 16-byte one, 9 `é` cut to 8.
const WORDS: &[&str] = &[
    "k",
    "dup",
    "service.name",
    "http.request.method",
    "aaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaab",
    "éééééééé",
    "ééééééééé",
    "ключ",
    "名前",
    "😀",
    "a\0b",
    " ",
    "unnamed",
];

/// Numbers in JSON, and things that look like numbers and are not.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0",
    "-0.0",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1.7976931348623157e308",
    "1e309",
    "-1e400",
    "1e-400",
    "5e-324",
    "0.1",
    "01",
    "+1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1.",
    ".5",
    "1e",
    "0x10",
];

/// JSON with escapes, lone surrogates, odd shapes and near-misses.
const ODD_JSON: &[&str] = &[
    r#""\u0000""#,
    r#""\ud83d\ude00""#,
    r#""\ud800""#,
    r#""\udc00\ud800""#,
    r#""a\"b""#,
    r#""\/\b\f\n\r\t""#,
    "\"\u{0}\"",
    "\"unterminated",
    r#""\x41""#,
    "\"é\"",
    r#"["a",]"#,
    "[1,]",
    r#"{"a":1,"a":2}"#,
    r#"{"":null}"#,
    "{}",
    "[]",
    "[[]]",
    "[null]",
    r#"[1,"a"]"#,
    "[true,1]",
    "[1,1.5]",
    "[18446744073709551615,1]",
    r#""data:application/octet-stream;base64,""#,
    r#""data:application/octet-stream;base64,!!!""#,
    " 1 ",
    "1 x",
];

/// Makes inputs from a seed. A case's strings take at most 256 KiB (one
/// case in eight may have one string of 1 MiB besides), its lists at most
/// 4000 items in all, so that one case stays quick.
struct Make {
    state: u64,
    bytes_left: usize,
    items_left: usize,
    mebibyte_left: bool,
}

impl Make {
    fn new(seed: u64) -> Self {
        let mut make = Self {
            state: seed,
            bytes_left: 256 << 10,
            items_left: 4_000,
            mebibyte_left: false,
        };
        make.mebibyte_left = make.one_in(8);
        make
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A number from 0 to `n`.
    fn upto(&mut self, n: usize) -> usize {
        self.below(n as u64 + 1) as usize
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    fn maybe<T>(&mut self, make: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.one_in(4) {
            None
        } else {
            Some(make(self))
        }
    }

    /// A list length: often none or a few, around the budgets, sometimes
    /// hundreds.
    fn count(&mut self) -> usize {
        let n = match self.below(16) {
            0 => self.upto(300),
            1..=4 => 0,
            _ => self.upto(12),
        };
        self.take_items(n)
    }

    /// A bucket list length: like `count`, now and then thousands.
    fn many(&mut self) -> usize {
        if self.one_in(64) {
            let n = self.upto(5_000);
            self.take_items(n)
        } else {
            self.count()
        }
    }

    fn take_items(&mut self, n: usize) -> usize {
        let n = n.min(self.items_left);
        self.items_left -= n;
        n
    }

    fn list<T>(&mut self, mut make: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.count();
        (0..n).map(|_| make(self)).collect()
    }

    /// The budget of a case: mostly the small one, sometimes a tiny one,
    /// every cap between 0 and a few.
    fn budget(&mut self) -> Budget {
        if !self.one_in(8) {
            return small_budget();
        }
        Budget {
            attributes: self.upto(2),
            events: self.upto(2),
            links: self.upto(2),
            value_bytes: self.upto(8),
            name_bytes: self.upto(8),
            trace_state: self.upto(2),
            data_points: self.upto(3),
            ..Budget::default()
        }
    }

    /// A string of any kind: empty, a word, one that crosses a budget's
    /// limit in the middle of a character, control and non-ASCII
    /// characters, or a huge one.
    fn text(&mut self) -> String {
        let text = match self.below(24) {
            0..=1 => String::new(),
            2 => self.huge(),
            3..=7 => self.near_limit(),
            8..=11 => {
                let n = self.upto(24);
                self.wild(n)
            }
            _ => self.word(),
        };
        self.bytes_left = self.bytes_left.saturating_sub(text.len());
        text
    }

    fn word(&mut self) -> String {
        if self.one_in(2) {
            return self.pick(WORDS).to_owned();
        }
        let n = 1 + self.upto(11);
        (0..n)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }

    /// ASCII up to around a limit, then characters of 2 to 4 bytes.
    fn near_limit(&mut self) -> String {
        let limit: usize = self.pick(&[0, 1, 2, 3, 7, 8, 16, 64, 1024]);
        let ascii = (limit + 2).saturating_sub(self.upto(5));
        let mut text = "x".repeat(ascii);
        for _ in 0..=self.below(3) {
            text.push(self.pick(&['é', '€', '😀', '\u{10FFFF}', '\u{80}']));
        }
        text
    }

    fn wild(&mut self, n: usize) -> String {
        (0..n).map(|_| self.wild_char()).collect()
    }

    fn wild_char(&mut self) -> char {
        match self.below(6) {
            0 => '\0',
            1 => char::from(self.below(0x20) as u8),
            2 => char::from(self.below(0x100) as u8),
            3 => self.pick(&[
                '\u{FFFD}',
                '\u{FEFF}',
                '\u{200B}',
                '\u{10FFFF}',
                '\u{D7FF}',
                '\u{E000}',
                '"',
                '\\',
                ',',
                '=',
                '@',
            ]),
            _ => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
        }
    }

    /// Up to 64 KiB, now and then 1 MiB, of a repeated pattern with
    /// multi-byte characters, cut at a character boundary.
    fn huge(&mut self) -> String {
        let len = if self.mebibyte_left && self.one_in(32) {
            self.mebibyte_left = false;
            self.bytes_left += 1 << 20;
            1 << 20
        } else {
            self.upto(64 << 10).min(self.bytes_left)
        };
        let unit = self.pick(&["a", "é", "€", "😀", "ab\0", "aé€😀"]);
        let text = unit.repeat(len / unit.len() + 1);
        cut(&text, len).to_owned()
    }

    /// `bytes` random bytes as lowercase hex.
    fn hex(&mut self, bytes: usize) -> String {
        let mut text = String::with_capacity(2 * bytes);
        for _ in 0..bytes {
            let _ = write!(text, "{:02x}", self.below(256));
        }
        text
    }

    /// `bytes` characters from U+0000 to U+00FF: an id as raw bytes.
    fn raw(&mut self, bytes: usize) -> String {
        if self.one_in(8) {
            return "\0".repeat(bytes);
        }
        (0..bytes)
            .map(|_| char::from(self.below(0x100) as u8))
            .collect()
    }

    /// An id of `bytes` bytes in one of the shapes guests send.
    fn id(&mut self, bytes: usize) -> String {
        let digits = 2 * bytes;
        match self.below(16) {
            0..=5 => self.hex(bytes),
            6 => self.hex(bytes).to_ascii_uppercase(),
            7 => "0".repeat(digits),
            8 => {
                let len = self.pick(&[0, 1, digits - 1, digits + 1, digits + 2, 2 * digits]);
                let mut text = self.hex(2 * bytes);
                text.truncate(len);
                text
            }
            9 => {
                let mut text = self.hex(bytes);
                let at = self.below(digits as u64) as usize;
                let bad = self.pick(&["g", "z", "-", " ", "\0", "é", "G"]);
                text.replace_range(at..=at, bad);
                text
            }
            10 => self.raw(bytes),
            11 => self.wild(bytes),
            // The right byte length, and not hex.
            12 => "é".repeat(bytes),
            13 => format!("0x{}", &self.hex(bytes)[2..]),
            14 => format!(" {}", &self.hex(bytes)[1..]),
            _ => self.text(),
        }
    }

    /// An id that is usually well formed.
    fn good_id(&mut self, bytes: usize) -> String {
        if self.one_in(4) {
            self.id(bytes)
        } else {
            self.hex(bytes)
        }
    }

    /// A time: usually an ordinary one; else 0, `u64::MAX` seconds, the
    /// last second OTLP's nanoseconds reach, or nanoseconds past 1e9.
    fn datetime(&mut self) -> t::Datetime {
        const LAST: u64 = u64::MAX / 1_000_000_000;
        let seconds = match self.below(16) {
            0 => 0,
            1 => u64::MAX,
            2 => LAST - 1 + self.below(3),
            3 => self.next(),
            _ => 1_700_000_000 + self.below(1 << 30),
        };
        let nanoseconds = match self.below(16) {
            0 => 0,
            1 => 999_999_999,
            2 => 1_000_000_000,
            3 => u32::MAX,
            4 => 709_551_615 + self.below(2) as u32,
            _ => self.below(1_000_000_000) as u32,
        };
        t::Datetime {
            seconds,
            nanoseconds,
        }
    }

    /// An end time: any time, or just before or after `start`.
    fn end_time(&mut self, start: t::Datetime) -> t::Datetime {
        match self.below(4) {
            0 => self.datetime(),
            1 => t::Datetime {
                seconds: start.seconds.saturating_sub(self.below(3)),
                nanoseconds: self.below(1_000_000_000) as u32,
            },
            _ => t::Datetime {
                seconds: start.seconds.saturating_add(self.below(3)),
                nanoseconds: start.nanoseconds,
            },
        }
    }

    /// An attribute value or log body: JSON of every shape, JSON nested
    /// thousands deep, huge, or not JSON at all.
    fn json(&mut self, depth: u32) -> String {
        let text = match self.below(26) {
            0..=2 => Json::String(self.text()).to_string(),
            3 => self.pick(ODD_JSON).to_owned(),
            4 => self.pick(&["true", "false", "null"]).to_owned(),
            5..=6 => self.number_text(),
            7 => self.array(|make| Json::String(make.word()).to_string()),
            8 => self.array(|make| (make.next() as i64).to_string()),
            9 => self.array(Self::number_text),
            10 => self.array(|make| make.pick(&["true", "false"]).to_owned()),
            11 if depth < 3 => self.array(|make| make.json(depth + 1)),
            12 if depth < 3 => {
                let fields = self.list(|make| {
                    let key = Json::String(make.text()).to_string();
                    format!("{key}:{}", make.json(depth + 1))
                });
                format!("{{{}}}", fields.join(","))
            }
            13 => self.deep(),
            14 => Json::String(self.huge()).to_string(),
            15 => {
                let n = self.upto(80);
                let bytes: Vec<u8> = (0..n).map(|_| self.below(256) as u8).collect();
                let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
                format!("\"data:application/octet-stream;base64,{b64}\"")
            }
            16 => String::new(),
            _ => self.text(),
        };
        self.bytes_left = self.bytes_left.saturating_sub(text.len());
        text
    }

    fn number_text(&mut self) -> String {
        match self.below(3) {
            0 => self.pick(NUMBERS).to_owned(),
            1 => (self.next() as i64).to_string(),
            _ => format!("{:e}", f64::from_bits(self.next())),
        }
    }

    fn array(&mut self, item: impl FnMut(&mut Self) -> String) -> String {
        format!("[{}]", self.list(item).join(","))
    }

    /// Brackets or objects nested from 1 to a few thousand deep, the
    /// reader's limit of 128 among them; sometimes never closed.
    fn deep(&mut self) -> String {
        let n = if self.one_in(2) {
            self.pick(&[1, 64, 127, 128, 129, 500, 4_000])
        } else {
            1 + self.upto(4_000)
        };
        let n = n.min(self.bytes_left / 8);
        let (open, close) = self.pick(&[("[", "]"), (r#"{"a":"#, "}"), (r#"[{"k":"#, "}]")]);
        let mut text = open.repeat(n);
        text.push('1');
        if !self.one_in(4) {
            text.push_str(&close.repeat(n));
        }
        text
    }

    fn key(&mut self) -> String {
        if self.one_in(3) {
            self.pick(WORDS).to_owned()
        } else {
            self.text()
        }
    }

    fn attributes(&mut self) -> Vec<ty::KeyValue> {
        self.list(|make| ty::KeyValue {
            key: make.key(),
            value: make.json(0),
        })
    }

    /// A trace state: valid W3C members, invalid keys and values, and
    /// lists past the 32 members W3C allows.
    fn trace_state(&mut self) -> Vec<(String, String)> {
        if self.one_in(3) {
            return Vec::new();
        }
        let n = if self.one_in(8) {
            let n = self.pick(&[31, 32, 33, 40]);
            self.take_items(n)
        } else {
            self.count()
        };
        (0..n)
            .map(|_| (self.state_key(), self.state_value()))
            .collect()
    }

    fn state_key(&mut self) -> String {
        match self.below(6) {
            0..=2 => self
                .pick(&["rojo", "congo", "vendor@tenant", "a1", "x_y-z*/", "0k"])
                .to_owned(),
            3 => self
                .pick(&["", "Rojo", "a@b@c", "@x", "a@", "-a", "a b", "é"])
                .to_owned(),
            4 => "k".repeat(self.pick(&[256, 257])),
            _ => self.text(),
        }
    }

    fn state_value(&mut self) -> String {
        match self.below(6) {
            0..=2 => self
                .pick(&["00f067aa0ba902b7", "t61rcWkgMzE", "x"])
                .to_owned(),
            3 => self.pick(&["", "a,b", "a=b", "\n", " x ", "é"]).to_owned(),
            4 => "v".repeat(self.pick(&[256, 257])),
            _ => self.text(),
        }
    }

    fn flags(&mut self) -> t::TraceFlags {
        if self.one_in(2) {
            t::TraceFlags::SAMPLED
        } else {
            t::TraceFlags::empty()
        }
    }

    fn scope(&mut self) -> ty::InstrumentationScope {
        ty::InstrumentationScope {
            name: self.text(),
            version: self.maybe(Self::text),
            schema_url: self.maybe(Self::text),
            attributes: self.attributes(),
        }
    }

    fn resource(&mut self) -> ty::Resource {
        ty::Resource {
            attributes: self.attributes(),
            schema_url: self.maybe(Self::text),
        }
    }

    fn dropped(&mut self) -> u32 {
        match self.below(4) {
            0 => self.pick(&[1, u32::MAX - 1, u32::MAX]),
            1 => self.next() as u32,
            _ => 0,
        }
    }

    fn span_context(&mut self, hostile: bool) -> t::SpanContext {
        let (trace_id, span_id) = if hostile {
            (self.id(16), self.id(8))
        } else {
            (self.good_id(16), self.good_id(8))
        };
        t::SpanContext {
            trace_id,
            span_id,
            trace_flags: self.flags(),
            is_remote: self.one_in(2),
            trace_state: self.trace_state(),
        }
    }

    fn span(&mut self) -> t::SpanData {
        let start_time = self.datetime();
        t::SpanData {
            span_context: self.span_context(false),
            parent_span_id: match self.below(4) {
                0 => String::new(),
                1 => self.id(8),
                _ => self.hex(8),
            },
            span_kind: self.pick(&[
                t::SpanKind::Client,
                t::SpanKind::Server,
                t::SpanKind::Producer,
                t::SpanKind::Consumer,
                t::SpanKind::Internal,
            ]),
            name: self.text(),
            start_time,
            end_time: self.end_time(start_time),
            attributes: self.attributes(),
            events: self.list(|make| t::Event {
                name: make.text(),
                time: make.datetime(),
                attributes: make.attributes(),
            }),
            links: self.list(|make| {
                let hostile = make.one_in(2);
                t::Link {
                    span_context: make.span_context(hostile),
                    attributes: make.attributes(),
                }
            }),
            status: match self.below(3) {
                0 => t::Status::Unset,
                1 => t::Status::Ok,
                _ => t::Status::Error(self.text()),
            },
            instrumentation_scope: self.scope(),
            dropped_attributes: self.dropped(),
            dropped_events: self.dropped(),
            dropped_links: self.dropped(),
        }
    }

    fn log_record(&mut self) -> l::LogRecord {
        l::LogRecord {
            timestamp: self.maybe(Self::datetime),
            observed_timestamp: self.maybe(Self::datetime),
            severity_text: self.maybe(Self::text),
            severity_number: self.maybe(|make| {
                if make.one_in(2) {
                    make.pick(&[0, 1, 24, 25, 255])
                } else {
                    make.below(256) as u8
                }
            }),
            body: self.maybe(|make| make.json(0)),
            attributes: self.maybe(Self::attributes),
            event_name: self.maybe(Self::text),
            resource: self.maybe(Self::resource),
            instrumentation_scope: self.maybe(Self::scope),
            trace_id: self.maybe(|make| make.good_id(16)),
            span_id: self.maybe(|make| make.good_id(8)),
            trace_flags: self.maybe(Self::flags),
        }
    }

    fn resource_metrics(&mut self) -> m::ResourceMetrics {
        m::ResourceMetrics {
            resource: self.resource(),
            scope_metrics: self.list(|make| m::ScopeMetrics {
                scope: make.scope(),
                metrics: make.list(Self::metric),
            }),
        }
    }

    fn metric(&mut self) -> m::Metric {
        use m::MetricData as D;

        let data = match self.below(12) {
            0 => D::F64Gauge(self.gauge()),
            1 => D::F64Sum(self.sum()),
            2 => D::F64Histogram(self.histogram()),
            3 => D::F64ExponentialHistogram(self.exponential()),
            4 => D::U64Gauge(self.gauge()),
            5 => D::U64Sum(self.sum()),
            6 => D::U64Histogram(self.histogram()),
            7 => D::U64ExponentialHistogram(self.exponential()),
            8 => D::S64Gauge(self.gauge()),
            9 => D::S64Sum(self.sum()),
            10 => D::S64Histogram(self.histogram()),
            _ => D::S64ExponentialHistogram(self.exponential()),
        };
        m::Metric {
            name: self.text(),
            description: self.text(),
            unit: self.text(),
            data,
        }
    }

    fn float(&mut self) -> f64 {
        match self.below(3) {
            0 => self.pick(&[
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                0.0,
                f64::MAX,
                f64::MIN,
                f64::MIN_POSITIVE,
                5e-324,
            ]),
            1 => f64::from_bits(self.next()),
            _ => (self.below(2_001) as f64 - 1_000.0) / 8.0,
        }
    }

    fn number(&mut self) -> m::MetricNumber {
        match self.below(3) {
            0 => m::MetricNumber::F64(self.float()),
            1 => m::MetricNumber::S64(if self.one_in(2) {
                self.pick(&[0, -1, 1, i64::MIN, i64::MAX])
            } else {
                self.next() as i64
            }),
            _ => m::MetricNumber::U64(if self.one_in(2) {
                self.pick(&[0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX])
            } else {
                self.next()
            }),
        }
    }

    fn temporality(&mut self) -> m::Temporality {
        self.pick(&[
            m::Temporality::Cumulative,
            m::Temporality::Delta,
            m::Temporality::LowMemory,
        ])
    }

    fn gauge(&mut self) -> m::Gauge {
        m::Gauge {
            data_points: self.list(|make| m::GaugeDataPoint {
                attributes: make.attributes(),
                value: make.number(),
                exemplars: make.exemplars(),
            }),
            start_time: self.maybe(Self::datetime),
            time: self.datetime(),
        }
    }

    fn sum(&mut self) -> m::Sum {
        m::Sum {
            data_points: self.list(|make| m::SumDataPoint {
                attributes: make.attributes(),
                value: make.number(),
                exemplars: make.exemplars(),
            }),
            start_time: self.datetime(),
            time: self.datetime(),
            temporality: self.temporality(),
            is_monotonic: self.one_in(2),
        }
    }

    fn histogram(&mut self) -> m::Histogram {
        m::Histogram {
            data_points: self.list(Self::histogram_point),
            start_time: self.datetime(),
            time: self.datetime(),
            temporality: self.temporality(),
        }
    }

    /// A histogram point that agrees with itself, spoilt half the time:
    /// a bound not finite, bounds not increasing, a bucket too many or too
    /// few, a count off by one, counts whose total overflows `u64`.
    fn histogram_point(&mut self) -> m::HistogramDataPoint {
        let n = self.many();
        let ordinary = self.below(2_001) as f64 - 1_000.0;
        let mut at = self.pick(&[-0.0, 0.0, -1e300, ordinary]);
        let mut bounds = Vec::with_capacity(n);
        for _ in 0..n {
            bounds.push(at);
            at += 0.5 + self.below(100) as f64;
        }
        let mut bucket_counts: Vec<u64> = (0..=n).map(|_| self.below(1_000)).collect();
        let mut count: u64 = bucket_counts.iter().sum();
        match self.below(12) {
            0 if !bounds.is_empty() => {
                let at = self.below(bounds.len() as u64) as usize;
                bounds[at] = self.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
            }
            1 if bounds.len() >= 2 => {
                if self.one_in(2) {
                    bounds.reverse();
                } else {
                    bounds[1] = bounds[0];
                }
            }
            2 => {
                if self.one_in(2) {
                    bucket_counts.pop();
                } else {
                    bucket_counts.push(self.below(3));
                }
            }
            3 => count = count.wrapping_add(self.pick(&[1, u64::MAX])),
            4 => {
                bucket_counts[0] = u64::MAX;
                bucket_counts.push(1);
                bounds.push(f64::MAX);
                count = bucket_counts
                    .iter()
                    .fold(0, |sum: u64, &n| sum.wrapping_add(n));
            }
            5 => {
                bounds = (0..self.count()).map(|_| self.float()).collect();
                bucket_counts = (0..self.count()).map(|_| self.next()).collect();
                count = self.next();
            }
            _ => {}
        }
        m::HistogramDataPoint {
            attributes: self.attributes(),
            count,
            bounds,
            bucket_counts,
            min: self.maybe(Self::number),
            max: self.maybe(Self::number),
            sum: self.number(),
            exemplars: self.exemplars(),
        }
    }

    fn exponential(&mut self) -> m::ExponentialHistogram {
        m::ExponentialHistogram {
            data_points: self.list(Self::exponential_point),
            start_time: self.datetime(),
            time: self.datetime(),
            temporality: self.temporality(),
        }
    }

    fn bucket(&mut self) -> m::ExponentialBucket {
        let offset = if self.one_in(2) {
            self.pick(&[0, -1, 1, i32::MIN, i32::MAX])
        } else {
            self.next() as i32
        };
        let n = self.many();
        m::ExponentialBucket {
            offset,
            counts: (0..n).map(|_| self.below(1_000)).collect(),
        }
    }

    /// An exponential histogram point that agrees with itself, spoilt
    /// half the time: a scale anywhere in `s8`, a zero threshold that is
    /// negative zero, negative or not finite, a count off by one, counts
    /// whose total overflows `u64`.
    fn exponential_point(&mut self) -> m::ExponentialHistogramDataPoint {
        let mut positive = self.bucket();
        let negative = self.bucket();
        let mut zero_count = self.below(1_000);
        let mut scale = self.below(31) as i8 - 10;
        let mut zero_threshold = self.pick(&[0.0, 1e-9, 0.5]);
        let total = |zero: u64, positive: &m::ExponentialBucket| {
            let counts = positive.counts.iter().chain(&negative.counts);
            counts.fold(zero, |sum, &n| sum.wrapping_add(n))
        };
        let mut count = total(zero_count, &positive);
        match self.below(10) {
            0 => {
                let any = self.next() as i8;
                scale = self.pick(&[i8::MIN, -11, 21, i8::MAX, any]);
            }
            1 => {
                zero_threshold = self.pick(&[
                    -0.0,
                    -1.0,
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::MAX,
                    5e-324,
                ]);
            }
            2 => count = count.wrapping_add(self.pick(&[1, u64::MAX])),
            3 => {
                positive.counts.push(u64::MAX);
                count = total(zero_count, &positive);
            }
            4 => {
                zero_count = u64::MAX;
                count = total(zero_count, &positive);
            }
            _ => {}
        }
        m::ExponentialHistogramDataPoint {
            attributes: self.attributes(),
            count,
            min: self.maybe(Self::number),
            max: self.maybe(Self::number),
            sum: self.number(),
            scale,
            zero_count,
            positive_bucket: positive,
            negative_bucket: negative,
            zero_threshold,
            exemplars: self.exemplars(),
        }
    }

    /// Exemplars with ids of every shape: none, raw bytes, hex, and the
    /// hostile ones.
    fn exemplars(&mut self) -> Vec<m::Exemplar> {
        self.list(|make| {
            let (trace_id, span_id) = match make.below(4) {
                0 => (String::new(), String::new()),
                1 => (make.raw(16), make.raw(8)),
                2 => (make.hex(16), make.hex(8)),
                _ => (make.id(16), make.id(8)),
            };
            m::Exemplar {
                filtered_attributes: make.attributes(),
                time: make.datetime(),
                value: make.number(),
                span_id,
                trace_id,
            }
        })
    }
}

// ---------------------------------------------------------------------
// The rules, restated from the conversions' documentation.
// ---------------------------------------------------------------------

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A string for a finding: short, escaped.
fn show(text: &str) -> String {
    if text.len() <= 80 {
        format!("{text:?}")
    } else {
        format!("{:?}… ({} bytes)", cut(text, 60), text.len())
    }
}

/// Exactly `2 * n` hex digits, in either case.
fn hex_id(text: &str, n: usize) -> Option<Vec<u8>> {
    if text.len() != 2 * n || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok();
    (0..n).map(byte).collect()
}

fn not_zero(bytes: Vec<u8>) -> Option<Vec<u8>> {
    bytes.iter().any(|&b| b != 0).then_some(bytes)
}

/// A trace or span id a span may carry: hex, not all zeros.
fn usable_id(text: &str, n: usize) -> Option<Vec<u8>> {
    hex_id(text, n).and_then(not_zero)
}

/// An exemplar id: hex, or `n` characters from U+0000 to U+00FF; not all
/// zeros.
fn exemplar_id(text: &str, n: usize) -> Option<Vec<u8>> {
    let raw = || {
        if text.chars().count() != n {
            return None;
        }
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect()
    };
    hex_id(text, n).or_else(raw).and_then(not_zero)
}

/// A time as OTLP nanoseconds, `None` past what they reach.
fn nanos_of(time: t::Datetime) -> Option<u64> {
    let total = u128::from(time.seconds) * 1_000_000_000 + u128::from(time.nanoseconds);
    u64::try_from(total).ok()
}

/// What an attribute value costs against `value_bytes`: a string its
/// bytes; an array its items, a string item its bytes and one, a number
/// eight, a boolean one.
fn value_cost(value: &AnyValue) -> usize {
    let item = |item: &AnyValue| match &item.value {
        Some(Any::StringValue(s)) => s.len() + 1,
        Some(Any::BoolValue(_)) => 1,
        _ => 8,
    };
    match &value.value {
        Some(Any::StringValue(s)) => s.len(),
        Some(Any::ArrayValue(array)) => array.values.iter().map(item).sum(),
        _ => 0,
    }
}

/// Bytes of text in a log body: strings, bytes and map keys, at any depth.
fn body_bytes(value: &AnyValue) -> usize {
    let field = |kv: &KeyValue| kv.key.len() + kv.value.as_ref().map_or(0, body_bytes);
    match &value.value {
        Some(Any::StringValue(s)) => s.len(),
        Some(Any::BytesValue(bytes)) => bytes.len(),
        Some(Any::ArrayValue(array)) => array.values.iter().map(body_bytes).sum(),
        Some(Any::KvlistValue(list)) => list.values.iter().map(field).sum(),
        _ => 0,
    }
}

/// Whether `kept` is `whole` cut short: a prefix of its string or items.
fn is_cut_of(kept: Option<&AnyValue>, whole: &AnyValue) -> bool {
    match (kept.and_then(|v| v.value.as_ref()), &whole.value) {
        (Some(Any::StringValue(a)), Some(Any::StringValue(b))) => b.starts_with(a.as_str()),
        (Some(Any::ArrayValue(a)), Some(Any::ArrayValue(b))) => b.values.starts_with(&a.values),
        _ => false,
    }
}

fn as_f64(number: m::MetricNumber) -> f64 {
    match number {
        m::MetricNumber::F64(v) => v,
        m::MetricNumber::S64(v) => v as f64,
        m::MetricNumber::U64(v) => v as f64,
    }
}

/// The kind of number a metric's points carry.
#[derive(Clone, Copy)]
enum Kind {
    F64,
    U64,
    S64,
}

/// A number point's value: doubles for `f64` metrics, integers otherwise
/// (a double stays one); `None` for NaN, infinities and integers past
/// `i64`.
fn point_value(kind: Kind, number: m::MetricNumber) -> Option<number_data_point::Value> {
    use number_data_point::Value as V;

    let value = match (kind, number) {
        (Kind::F64, number) => V::AsDouble(as_f64(number)),
        (Kind::U64 | Kind::S64, m::MetricNumber::S64(v)) => V::AsInt(v),
        (Kind::U64 | Kind::S64, m::MetricNumber::U64(v)) => V::AsInt(i64::try_from(v).ok()?),
        (Kind::U64 | Kind::S64, m::MetricNumber::F64(v)) => V::AsDouble(v),
    };
    match value {
        V::AsDouble(v) if !v.is_finite() => None,
        value => Some(value),
    }
}

/// An exemplar's ids and value: no ids, or both usable; a value OTLP can
/// carry.
fn usable_exemplar(exemplar: &m::Exemplar) -> Option<(Vec<u8>, Vec<u8>, exemplar::Value)> {
    let (trace_id, span_id) = if exemplar.trace_id.is_empty() && exemplar.span_id.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (
            exemplar_id(&exemplar.trace_id, 16)?,
            exemplar_id(&exemplar.span_id, 8)?,
        )
    };
    Some((trace_id, span_id, exemplar_value(exemplar.value)?))
}

/// An exemplar's value: finite doubles, and integers within `i64`.
fn exemplar_value(number: m::MetricNumber) -> Option<exemplar::Value> {
    match number {
        m::MetricNumber::F64(v) => v.is_finite().then_some(exemplar::Value::AsDouble(v)),
        m::MetricNumber::S64(v) => Some(exemplar::Value::AsInt(v)),
        m::MetricNumber::U64(v) => i64::try_from(v).ok().map(exemplar::Value::AsInt),
    }
}

fn checked_total<'a>(counts: impl IntoIterator<Item = &'a u64>, start: u64) -> Option<u64> {
    counts
        .into_iter()
        .try_fold(start, |sum, &n| sum.checked_add(n))
}

/// Bounds finite and strictly increasing, one more bucket than bounds, a
/// count that is the buckets' total.
fn histogram_agrees(point: &m::HistogramDataPoint) -> bool {
    point.bounds.iter().all(|b| b.is_finite())
        && point.bounds.windows(2).all(|w| w[0] < w[1])
        && point.bucket_counts.len() == point.bounds.len() + 1
        && checked_total(&point.bucket_counts, 0) == Some(point.count)
}

/// A scale from -10 to 20, a zero threshold that is a finite number not
/// below zero, a count that is the zero count plus every bucket.
fn exponential_agrees(point: &m::ExponentialHistogramDataPoint) -> bool {
    let counts = point
        .positive_bucket
        .counts
        .iter()
        .chain(&point.negative_bucket.counts);
    (-10..=20).contains(&point.scale)
        && point.zero_threshold.is_finite()
        && point.zero_threshold >= 0.0
        && checked_total(counts, point.zero_count) == Some(point.count)
}

/// `low-memory` is delta, except for non-monotonic sums.
fn temporality(temporality: m::Temporality, monotonic: bool) -> i32 {
    let converted = match temporality {
        m::Temporality::Cumulative => AggregationTemporality::Cumulative,
        m::Temporality::Delta => AggregationTemporality::Delta,
        m::Temporality::LowMemory if monotonic => AggregationTemporality::Delta,
        m::Temporality::LowMemory => AggregationTemporality::Cumulative,
    };
    converted as i32
}

// ---------------------------------------------------------------------
// Checks shared by the signals.
// ---------------------------------------------------------------------

/// A name or key: the guest's cut to `name_bytes`.
fn check_name(check: &mut Check<'_>, place: &'static str, kept: &str, given: &str) {
    let max = check.budget.name_bytes;
    check.ensure(kept.len() <= max, "a name over name_bytes", || {
        format!("{place} {} over {max}", show(kept))
    });
    check.ensure(
        kept == cut(given, max),
        "a name that is not the guest's cut",
        || format!("{place} {} from {}", show(kept), show(given)),
    );
    check.lost(place, usize::from(kept.len() < given.len()));
}

/// A free text: the guest's cut to `value_bytes`.
fn check_text(check: &mut Check<'_>, place: &'static str, kept: &str, given: &str) {
    let max = check.budget.value_bytes;
    check.ensure(kept.len() <= max, "a text over value_bytes", || {
        format!("{place} {} over {max}", show(kept))
    });
    check.ensure(
        kept == cut(given, max),
        "a text that is not the guest's cut",
        || format!("{place} {} from {}", show(kept), show(given)),
    );
    check.lost(place, usize::from(kept.len() < given.len()));
}

/// Attributes against the rule: keys not empty, the first of each key
/// (after cutting) kept, at most `budget.attributes`, keys cut to
/// `name_bytes`, values to `value_bytes`; keys in `skip` (the host's
/// resource) are then left out. Returns how many of `given` are missing.
fn check_attributes(
    check: &mut Check<'_>,
    place: &'static str,
    given: &[ty::KeyValue],
    kept: &[KeyValue],
    skip: &[KeyValue],
) -> usize {
    let budget = check.budget;

    // Bounds.
    check.ensure(
        kept.len() <= budget.attributes,
        "more attributes than the budget",
        || format!("{place}: {} over {}", kept.len(), budget.attributes),
    );
    let mut seen = HashSet::new();
    for kv in kept {
        check.ensure(!kv.key.is_empty(), "an attribute with an empty key", || {
            format!("{place}, name_bytes {}", budget.name_bytes)
        });
        check.ensure(
            kv.key.len() <= budget.name_bytes,
            "a key over name_bytes",
            || format!("{place}: {}", show(&kv.key)),
        );
        check.ensure(seen.insert(&kv.key), "a repeated attribute key", || {
            format!("{place}: {}", show(&kv.key))
        });
        let cost = kv.value.as_ref().map_or(0, value_cost);
        check.ensure(
            cost <= budget.value_bytes,
            "a value over value_bytes",
            || format!("{place}: {} costs {cost}", show(&kv.key)),
        );
    }

    // What the rule keeps, in order.
    let mut keys = HashSet::new();
    let mut expected = Vec::new();
    for kv in given {
        if expected.len() >= budget.attributes {
            continue;
        }
        // A key empty once cut is dropped like an empty one.
        let key = cut(&kv.key, budget.name_bytes);
        if !key.is_empty() && keys.insert(key) {
            expected.push((key, kv));
        }
    }
    check.lost(place, given.len() - expected.len());
    expected.retain(|(key, _)| !skip.iter().any(|host| host.key == *key));
    check.ensure(
        kept.len() == expected.len(),
        "attributes kept against the rule",
        || format!("{place}: {} kept, {} expected", kept.len(), expected.len()),
    );

    // Each kept one is the guest's, cut.
    for (kv, (key, given)) in kept.iter().zip(&expected) {
        check.ensure(
            kv.key == *key,
            "an attribute key that is not the guest's cut",
            || format!("{place}: {} for {}", show(&kv.key), show(&given.key)),
        );
        check.lost(place, usize::from(key.len() < given.key.len()));
        let whole = AnyValue::from(json_to_value(&given.value));
        if kv.value.as_ref() != Some(&whole) {
            check.lost(place, 1);
            check.ensure(
                is_cut_of(kv.value.as_ref(), &whole),
                "a value changed, not cut",
                || format!("{place}: {} from {}", show(&kv.key), show(&given.value)),
            );
        }
    }
    given.len().saturating_sub(kept.len())
}

/// A scope in OTLP form against the guest's.
fn check_scope(
    check: &mut Check<'_>,
    place: &'static str,
    given: &ty::InstrumentationScope,
    kept: &InstrumentationScope,
) {
    check_name(check, place, &kept.name, &given.name);
    let version = given.version.as_deref().unwrap_or_default();
    check_name(check, place, &kept.version, version);
    check_attributes(check, place, &given.attributes, &kept.attributes, &[]);
}

// ---------------------------------------------------------------------
// Spans.
// ---------------------------------------------------------------------

fn check_span(check: &mut Check<'_>, given: &t::SpanData, output: Result<SpanData, &str>) {
    let budget = check.budget;

    // Whether the span can be kept at all: its ids and times usable.
    let trace_id = usable_id(&given.span_context.trace_id, 16);
    let span_id = usable_id(&given.span_context.span_id, 8);
    let parent = if given.parent_span_id.is_empty() {
        Some(vec![0; 8])
    } else {
        hex_id(&given.parent_span_id, 8)
    };
    let (start, end) = (nanos_of(given.start_time), nanos_of(given.end_time));
    let usable = (trace_id, span_id, parent, start, end);
    let span = match output {
        Ok(span) => span,
        Err(reason) => {
            let keepable = matches!(usable, (Some(_), Some(_), Some(_), Some(_), Some(_)));
            check.ensure(!keepable, "a usable span dropped", || {
                format!("reason `{reason}`")
            });
            return;
        }
    };
    let (Some(trace_id), Some(span_id), Some(parent), Some(start), Some(end)) = usable else {
        check.ensure(false, "an unusable span kept", || {
            let ids = &given.span_context;
            format!(
                "trace {} span {} parent {} times {:?} {:?}",
                show(&ids.trace_id),
                show(&ids.span_id),
                show(&given.parent_span_id),
                (given.start_time.seconds, given.start_time.nanoseconds),
                (given.end_time.seconds, given.end_time.nanoseconds),
            )
        });
        return;
    };

    // Ids and times are the guest's; an end before the start is moved.
    let context = &span.span_context;
    let same_ids = context.trace_id().to_bytes()[..] == trace_id[..]
        && context.span_id().to_bytes()[..] == span_id[..]
        && span.parent_span_id.to_bytes()[..] == parent[..];
    check.ensure(same_ids, "span ids that are not the guest's", || {
        format!("{context:?}, parent {}", span.parent_span_id)
    });
    let (kept_start, kept_end) = (nanos(span.start_time), nanos(span.end_time));
    check.ensure(
        kept_end >= kept_start,
        "a span ending before its start",
        || format!("{kept_start} to {kept_end}"),
    );
    check.ensure(
        kept_start == start && kept_end == end.max(start),
        "span times that are not the guest's",
        || format!("{kept_start}..{kept_end} from {start}..{end}"),
    );
    check.lost("end before start", usize::from(end < start));
    check_trace_state(
        check,
        "span",
        &given.span_context.trace_state,
        context.trace_state(),
    );

    // The name: cut, and an empty one repaired.
    let name = cut(&given.name, budget.name_bytes);
    let name = if name.is_empty() {
        cut("unnamed", budget.name_bytes)
    } else {
        name
    };
    check.ensure(
        span.name.len() <= budget.name_bytes,
        "a name over name_bytes",
        || format!("span {} over {}", show(&span.name), budget.name_bytes),
    );
    check.ensure(span.name == name, "a span name against the rule", || {
        format!("{} from {}", show(&span.name), show(&given.name))
    });
    check.lost("span name", usize::from(span.name != given.name));

    // Attributes, events, links.
    let attributes = Attributes::from(span.attributes.clone()).0;
    let missing = check_attributes(check, "span", &given.attributes, &attributes, &[]);
    let dropped = given.dropped_attributes.saturating_add(missing as u32);
    check.ensure(
        span.dropped_attributes_count == dropped,
        "a span's dropped attribute count is off",
        || format!("{} for {dropped}", span.dropped_attributes_count),
    );
    check_events(check, given, &span);
    check_links(check, given, &span);

    // Status and scope.
    match (&given.status, &span.status) {
        (t::Status::Unset, Status::Unset) | (t::Status::Ok, Status::Ok) => {}
        (t::Status::Error(message), Status::Error { description }) => {
            check_text(check, "status message", description, message);
        }
        (_, status) => check.ensure(false, "a status that is not the guest's", || {
            format!("{status:?}")
        }),
    }
    let scope = &span.instrumentation_scope;
    let given_scope = &given.instrumentation_scope;
    check_name(check, "span scope", scope.name(), &given_scope.name);
    let version = scope.version().unwrap_or_default();
    check_name(
        check,
        "span scope",
        version,
        given_scope.version.as_deref().unwrap_or_default(),
    );
    let url = scope.schema_url().unwrap_or_default();
    let given_url = given_scope.schema_url.as_deref().unwrap_or_default();
    check_text(check, "span scope url", url, given_url);
    let attributes = Attributes::from(scope.attributes().cloned()).0;
    check_attributes(
        check,
        "span scope",
        &given_scope.attributes,
        &attributes,
        &[],
    );
}

fn check_trace_state(
    check: &mut Check<'_>,
    place: &'static str,
    given: &[(String, String)],
    kept: &TraceState,
) {
    let max = check.budget.trace_state;
    let header = kept.header();
    let entries = if header.is_empty() {
        0
    } else {
        header.split(',').count()
    };
    check.ensure(entries <= max, "a trace state over the budget", || {
        format!("{place}: {entries} entries over {max}")
    });
    check.lost("trace state", usize::from(entries < given.len()));
}

/// Events with a usable time, up to the budget; the rest counted.
fn check_events(check: &mut Check<'_>, given: &t::SpanData, span: &SpanData) {
    let budget = check.budget;
    let expected: Vec<&t::Event> = given
        .events
        .iter()
        .filter(|event| nanos_of(event.time).is_some())
        .take(budget.events)
        .collect();
    let kept = &span.events.events;
    check.ensure(
        kept.len() <= budget.events,
        "more events than the budget",
        || format!("{} over {}", kept.len(), budget.events),
    );
    check.ensure(
        kept.len() == expected.len(),
        "events kept against the rule",
        || format!("{} kept, {} expected", kept.len(), expected.len()),
    );
    let missing = given.events.len().saturating_sub(kept.len());
    check.lost("events", missing);
    let dropped = given.dropped_events.saturating_add(missing as u32);
    check.ensure(
        span.events.dropped_count == dropped,
        "a dropped event count is off",
        || format!("{} for {dropped}", span.events.dropped_count),
    );
    for (event, given) in kept.iter().zip(expected) {
        check_name(check, "event", &event.name, &given.name);
        check.ensure(
            Some(nanos(event.timestamp)) == nanos_of(given.time),
            "an event time that is not the guest's",
            || format!("{:?}", event.timestamp),
        );
        let attributes = Attributes::from(event.attributes.clone()).0;
        let missing = check_attributes(check, "event", &given.attributes, &attributes, &[]);
        check.ensure(
            event.dropped_attributes_count as usize == missing,
            "an event's dropped attribute count is off",
            || format!("{} for {missing}", event.dropped_attributes_count),
        );
    }
}

/// Links with usable ids, up to the budget; the rest counted.
fn check_links(check: &mut Check<'_>, given: &t::SpanData, span: &SpanData) {
    let budget = check.budget;
    let usable = |link: &&t::Link| {
        let context = &link.span_context;
        usable_id(&context.trace_id, 16).is_some() && usable_id(&context.span_id, 8).is_some()
    };
    let expected: Vec<&t::Link> = given
        .links
        .iter()
        .filter(usable)
        .take(budget.links)
        .collect();
    let kept = &span.links.links;
    check.ensure(
        kept.len() <= budget.links,
        "more links than the budget",
        || format!("{} over {}", kept.len(), budget.links),
    );
    check.ensure(
        kept.len() == expected.len(),
        "links kept against the rule",
        || format!("{} kept, {} expected", kept.len(), expected.len()),
    );
    let missing = given.links.len().saturating_sub(kept.len());
    check.lost("links", missing);
    let dropped = given.dropped_links.saturating_add(missing as u32);
    check.ensure(
        span.links.dropped_count == dropped,
        "a dropped link count is off",
        || format!("{} for {dropped}", span.links.dropped_count),
    );
    for (link, given) in kept.iter().zip(expected) {
        let context = &link.span_context;
        let ids = &given.span_context;
        let same = usable_id(&ids.trace_id, 16).as_deref()
            == Some(&context.trace_id().to_bytes()[..])
            && usable_id(&ids.span_id, 8).as_deref() == Some(&context.span_id().to_bytes()[..]);
        check.ensure(same, "link ids that are not the guest's", || {
            format!("{context:?}")
        });
        check_trace_state(check, "link", &ids.trace_state, context.trace_state());
        let attributes = Attributes::from(link.attributes.clone()).0;
        let missing = check_attributes(check, "link", &given.attributes, &attributes, &[]);
        check.ensure(
            link.dropped_attributes_count as usize == missing,
            "a link's dropped attribute count is off",
            || format!("{} for {missing}", link.dropped_attributes_count),
        );
    }
}

// ---------------------------------------------------------------------
// Logs.
// ---------------------------------------------------------------------

fn check_log(
    check: &mut Check<'_>,
    given: &l::LogRecord,
    item: &LogItem,
    run: &SpanContext,
    host: &[KeyValue],
) {
    let record = &item.record;

    // Times: the guest's; 0, or now when observed, if missing or out of
    // range.
    let time = given.timestamp.map(nanos_of);
    let expected = time.flatten().unwrap_or(0);
    check.ensure(
        record.time_unix_nano == expected,
        "a log time that is not the guest's",
        || format!("{} for {expected}", record.time_unix_nano),
    );
    check.lost("log time", usize::from(time == Some(None)));
    let observed = given.observed_timestamp.map(nanos_of);
    let kept = record.observed_time_unix_nano;
    let ok = match observed.flatten() {
        Some(expected) => kept == expected,
        None => kept > 0,
    };
    check.ensure(
        ok,
        "an observed time that is not the guest's or now",
        || format!("{kept} for {observed:?}"),
    );
    check.lost("observed time", usize::from(observed == Some(None)));

    // Severity: 1 to 24 kept, others unspecified.
    let expected = match given.severity_number {
        Some(n @ 1..=24) => i32::from(n),
        _ => 0,
    };
    check.ensure(
        record.severity_number == expected,
        "a severity against the rule",
        || format!("{} for {:?}", record.severity_number, given.severity_number),
    );
    check.lost(
        "severity",
        usize::from(given.severity_number.map_or(0, i32::from) != expected),
    );
    let text = given.severity_text.as_deref().unwrap_or_default();
    check_name(check, "severity text", &record.severity_text, text);
    let name = given.event_name.as_deref().unwrap_or_default();
    check_name(check, "event name", &record.event_name, name);

    // Body and attributes.
    match (&given.body, &record.body) {
        (None, None) => {}
        (Some(text), Some(body)) => check_body(check, text, body),
        (_, body) => check.ensure(false, "a body that is not the guest's", || {
            format!("{body:?}")
        }),
    }
    let attributes = given.attributes.as_deref().unwrap_or_default();
    let missing = check_attributes(check, "log record", attributes, &record.attributes, &[]);
    check.ensure(
        record.dropped_attributes_count as usize == missing,
        "a log's dropped attribute count is off",
        || format!("{} for {missing}", record.dropped_attributes_count),
    );

    // Trace context: the guest's when both ids are usable, else the run's.
    check.ensure(
        record.trace_id.len() == 16 && record.span_id.len() == 8,
        "log ids of the wrong length",
        || {
            format!(
                "{} and {} bytes",
                record.trace_id.len(),
                record.span_id.len()
            )
        },
    );
    let guest = match (&given.trace_id, &given.span_id) {
        (None, None) => None,
        (Some(trace_id), Some(span_id)) => usable_id(trace_id, 16).zip(usable_id(span_id, 8)),
        _ => None,
    };
    let has_ids = given.trace_id.is_some() || given.span_id.is_some();
    check.lost("log trace context", usize::from(has_ids && guest.is_none()));
    let (trace_id, span_id) = guest.unwrap_or_else(|| {
        let trace_id = run.trace_id().to_bytes().to_vec();
        (trace_id, run.span_id().to_bytes().to_vec())
    });
    check.ensure(
        record.trace_id == trace_id && record.span_id == span_id,
        "log ids against the rule",
        || format!("{:?} {:?}", record.trace_id, record.span_id),
    );

    // Scope and the guest's resource beside the host's.
    match &given.instrumentation_scope {
        Some(scope) => check_scope(check, "log scope", scope, &item.scope),
        None => check.ensure(
            item.scope == InstrumentationScope::default(),
            "a log scope from nowhere",
            || format!("{:?}", item.scope),
        ),
    }
    let resource = given.resource.as_ref();
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    check_attributes(
        check,
        "log resource",
        attributes,
        &item.extra_resource,
        host,
    );
}

/// A body has at most `value_bytes` of text; past that, it was cut.
fn check_body(check: &mut Check<'_>, text: &str, body: &AnyValue) {
    let max = check.budget.value_bytes;
    let bytes = body_bytes(body);
    check.ensure(bytes <= max, "a log body over value_bytes", || {
        format!("{bytes} bytes over {max}, from {}", show(text))
    });
    let whole = match serde_json::from_str::<Json>(text) {
        Ok(Json::String(s)) => s.len(),
        _ => text.len(),
    };
    check.lost("log body", usize::from(whole > max));
}

// ---------------------------------------------------------------------
// Metrics.
// ---------------------------------------------------------------------

fn check_metrics(
    check: &mut Check<'_>,
    given: &m::ResourceMetrics,
    output: &ResourceMetrics,
    host: &[KeyValue],
) {
    let budget = check.budget;

    // The resource: the host's, then the guest's in budget.
    let resource = output.resource.as_ref();
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    check.ensure(
        attributes.starts_with(host),
        "the host's resource changed",
        || format!("{attributes:?}"),
    );
    let guest = &attributes[host.len().min(attributes.len())..];
    check_attributes(
        check,
        "metric resource",
        &given.resource.attributes,
        guest,
        host,
    );
    let url = &output.schema_url;
    let given_url = given.resource.schema_url.as_deref().unwrap_or_default();
    check.ensure(
        url.len() <= budget.value_bytes,
        "a resource schema url over value_bytes",
        || format!("{} over {}", show(url), budget.value_bytes),
    );
    check.lost(
        "resource schema url",
        usize::from(url.len() < given_url.len()),
    );

    // Scopes all kept, metrics with a name kept, points within budget.
    let scopes = &output.scope_metrics;
    check.ensure(
        scopes.len() == given.scope_metrics.len(),
        "scopes lost or added",
        || format!("{} for {}", scopes.len(), given.scope_metrics.len()),
    );
    let mut left = budget.data_points;
    let mut points = 0;
    for (given, kept) in given.scope_metrics.iter().zip(scopes) {
        match &kept.scope {
            Some(scope) => check_scope(check, "metric scope", &given.scope, scope),
            None => check.ensure(false, "a metric scope lost", String::new),
        }
        let named: Vec<&m::Metric> = given
            .metrics
            .iter()
            .filter(|metric| !cut(&metric.name, check.budget.name_bytes).is_empty())
            .collect();
        check.lost("metric without a name", given.metrics.len() - named.len());
        check.ensure(
            kept.metrics.len() == named.len(),
            "metrics kept against the rule",
            || format!("{} kept, {} named", kept.metrics.len(), named.len()),
        );
        for (given, kept) in named.into_iter().zip(&kept.metrics) {
            points += check_metric(check, given, kept, &mut left);
        }
    }
    check.ensure(
        points <= budget.data_points,
        "more data points than the budget",
        || format!("{points} over {}", budget.data_points),
    );
}

/// One metric against the guest's; returns its points.
fn check_metric(
    check: &mut Check<'_>,
    given: &m::Metric,
    kept: &Metric,
    left: &mut usize,
) -> usize {
    use m::MetricData as D;

    check.ensure(!kept.name.is_empty(), "a metric without a name", || {
        format!("from {}", show(&given.name))
    });
    check_name(check, "metric", &kept.name, &given.name);
    check_name(check, "metric unit", &kept.unit, &given.unit);
    check_text(
        check,
        "metric description",
        &kept.description,
        &given.description,
    );
    match (&given.data, &kept.data) {
        (D::F64Gauge(g), Some(Data::Gauge(k))) => check_gauge(check, g, k, Kind::F64, left),
        (D::U64Gauge(g), Some(Data::Gauge(k))) => check_gauge(check, g, k, Kind::U64, left),
        (D::S64Gauge(g), Some(Data::Gauge(k))) => check_gauge(check, g, k, Kind::S64, left),
        (D::F64Sum(s), Some(Data::Sum(k))) => check_sum(check, s, k, Kind::F64, left),
        (D::U64Sum(s), Some(Data::Sum(k))) => check_sum(check, s, k, Kind::U64, left),
        (D::S64Sum(s), Some(Data::Sum(k))) => check_sum(check, s, k, Kind::S64, left),
        (
            D::F64Histogram(h) | D::U64Histogram(h) | D::S64Histogram(h),
            Some(Data::Histogram(k)),
        ) => check_histogram(check, h, k, left),
        (
            D::F64ExponentialHistogram(h)
            | D::U64ExponentialHistogram(h)
            | D::S64ExponentialHistogram(h),
            Some(Data::ExponentialHistogram(k)),
        ) => check_exponential(check, h, k, left),
        (_, data) => {
            check.ensure(false, "a metric of another kind", || format!("{data:?}"));
            0
        }
    }
}

/// Takes a point from the export's budget, as the conversion does.
fn take(check: &mut Check<'_>, left: &mut usize) -> bool {
    if *left == 0 {
        check.lost("data points", 1);
        return false;
    }
    *left -= 1;
    true
}

/// A metric time in nanoseconds; out of range, 0 and lost.
fn metric_time(check: &mut Check<'_>, time: t::Datetime) -> u64 {
    nanos_of(time).unwrap_or_else(|| {
        check.lost("metric time", 1);
        0
    })
}

/// A histogram sum, min or max: kept when finite, lost when not.
fn check_float(
    check: &mut Check<'_>,
    place: &'static str,
    given: Option<m::MetricNumber>,
    kept: Option<f64>,
) {
    let given = given.map(as_f64);
    check.ensure(
        kept.is_none_or(f64::is_finite),
        "a histogram float not finite",
        || format!("{place} {kept:?}"),
    );
    let expected = given.filter(|v| v.is_finite());
    check.ensure(
        kept == expected,
        "a histogram float that is not the guest's",
        || format!("{place} {kept:?} from {given:?}"),
    );
    check.lost(place, usize::from(given.is_some() && expected.is_none()));
}

type NumberPoint<'a> = (&'a [ty::KeyValue], m::MetricNumber, &'a [m::Exemplar]);

fn check_gauge(
    check: &mut Check<'_>,
    given: &m::Gauge,
    kept: &Gauge,
    kind: Kind,
    left: &mut usize,
) -> usize {
    let start = given.start_time.map_or(0, |time| metric_time(check, time));
    let time = metric_time(check, given.time);
    let points: Vec<NumberPoint<'_>> = given
        .data_points
        .iter()
        .map(|p| (&p.attributes[..], p.value, &p.exemplars[..]))
        .collect();
    check_numbers(check, &points, &kept.data_points, kind, (start, time), left)
}

fn check_sum(
    check: &mut Check<'_>,
    given: &m::Sum,
    kept: &Sum,
    kind: Kind,
    left: &mut usize,
) -> usize {
    let start = metric_time(check, given.start_time);
    let time = metric_time(check, given.time);
    let expected = temporality(given.temporality, given.is_monotonic);
    check.ensure(
        kept.aggregation_temporality == expected && kept.is_monotonic == given.is_monotonic,
        "a sum's temporality against the rule",
        || format!("{} for {expected}", kept.aggregation_temporality),
    );
    let points: Vec<NumberPoint<'_>> = given
        .data_points
        .iter()
        .map(|p| (&p.attributes[..], p.value, &p.exemplars[..]))
        .collect();
    check_numbers(check, &points, &kept.data_points, kind, (start, time), left)
}

fn check_numbers(
    check: &mut Check<'_>,
    given: &[NumberPoint<'_>],
    kept: &[NumberDataPoint],
    kind: Kind,
    (start, time): (u64, u64),
    left: &mut usize,
) -> usize {
    for point in kept {
        let finite = match point.value {
            Some(number_data_point::Value::AsDouble(v)) => v.is_finite(),
            Some(number_data_point::Value::AsInt(_)) => true,
            None => false,
        };
        check.ensure(finite, "a number point that is not a finite number", || {
            format!("{:?}", point.value)
        });
    }

    // Points within the budget with a value OTLP can carry.
    let mut expected = Vec::new();
    for &(attributes, value, exemplars) in given {
        if !take(check, left) {
            continue;
        }
        match point_value(kind, value) {
            Some(value) => expected.push((attributes, value, exemplars)),
            None => check.lost("metric value", 1),
        }
    }
    check.ensure(
        kept.len() == expected.len(),
        "number points kept against the rule",
        || format!("{} kept, {} expected", kept.len(), expected.len()),
    );
    for (point, (attributes, value, exemplars)) in kept.iter().zip(expected) {
        check.ensure(
            point.value == Some(value),
            "a number that is not the guest's",
            || format!("{:?} for {value:?}", point.value),
        );
        check.ensure(
            point.start_time_unix_nano == start && point.time_unix_nano == time,
            "point times that are not the metric's",
            || format!("{} {}", point.start_time_unix_nano, point.time_unix_nano),
        );
        check_attributes(check, "data point", attributes, &point.attributes, &[]);
        check_exemplars(check, exemplars, &point.exemplars);
    }
    kept.len()
}

fn check_histogram(
    check: &mut Check<'_>,
    given: &m::Histogram,
    kept: &Histogram,
    left: &mut usize,
) -> usize {
    let start = metric_time(check, given.start_time);
    let time = metric_time(check, given.time);
    let expected = temporality(given.temporality, true);
    check.ensure(
        kept.aggregation_temporality == expected,
        "a histogram's temporality against the rule",
        || format!("{} for {expected}", kept.aggregation_temporality),
    );
    for point in &kept.data_points {
        let bounds = &point.explicit_bounds;
        check.ensure(
            point.bucket_counts.len() == bounds.len() + 1,
            "histogram buckets and bounds that disagree",
            || {
                format!(
                    "{} buckets, {} bounds",
                    point.bucket_counts.len(),
                    bounds.len()
                )
            },
        );
        check.ensure(
            checked_total(&point.bucket_counts, 0) == Some(point.count),
            "a histogram count that is not its buckets' total",
            || format!("count {}", point.count),
        );
        check.ensure(
            bounds.iter().all(|b| b.is_finite()) && bounds.windows(2).all(|w| w[0] < w[1]),
            "histogram bounds not finite and increasing",
            || format!("{} bounds", bounds.len()),
        );
    }

    // Points within the budget that agree with themselves.
    let mut expected = Vec::new();
    for point in &given.data_points {
        if !take(check, left) {
            continue;
        }
        if histogram_agrees(point) {
            expected.push(point);
        } else {
            check.lost("histogram point", 1);
        }
    }
    let points = &kept.data_points;
    check.ensure(
        points.len() == expected.len(),
        "histogram points kept against the rule",
        || format!("{} kept, {} expected", points.len(), expected.len()),
    );
    for (point, given) in points.iter().zip(expected) {
        check.ensure(
            point.explicit_bounds == given.bounds
                && point.bucket_counts == given.bucket_counts
                && point.count == given.count
                && point.start_time_unix_nano == start
                && point.time_unix_nano == time,
            "a histogram point that is not the guest's",
            || format!("count {} for {}", point.count, given.count),
        );
        check_float(check, "histogram sum", Some(given.sum), point.sum);
        check_float(check, "histogram min", given.min, point.min);
        check_float(check, "histogram max", given.max, point.max);
        check_attributes(
            check,
            "data point",
            &given.attributes,
            &point.attributes,
            &[],
        );
        check_exemplars(check, &given.exemplars, &point.exemplars);
    }
    points.len()
}

fn check_exponential(
    check: &mut Check<'_>,
    given: &m::ExponentialHistogram,
    kept: &ExponentialHistogram,
    left: &mut usize,
) -> usize {
    let budget = check.budget;
    let start = metric_time(check, given.start_time);
    let time = metric_time(check, given.time);
    let expected = temporality(given.temporality, true);
    check.ensure(
        kept.aggregation_temporality == expected,
        "a histogram's temporality against the rule",
        || format!("{} for {expected}", kept.aggregation_temporality),
    );
    let empty = Default::default();
    for point in &kept.data_points {
        let positive = point.positive.as_ref().unwrap_or(&empty);
        let negative = point.negative.as_ref().unwrap_or(&empty);
        let counts = positive.bucket_counts.iter().chain(&negative.bucket_counts);
        let buckets = positive.bucket_counts.len() + negative.bucket_counts.len();
        check.ensure(
            buckets <= budget.data_points,
            "more exponential buckets than the budget",
            || format!("{buckets} over {}", budget.data_points),
        );
        check.ensure(
            checked_total(counts, point.zero_count) == Some(point.count),
            "an exponential count that is not its buckets' total",
            || format!("count {}", point.count),
        );
        check.ensure(
            (-10..=20).contains(&point.scale)
                && point.zero_threshold.is_finite()
                && point.zero_threshold >= 0.0,
            "an exponential scale or zero threshold OTLP does not allow",
            || {
                format!(
                    "scale {}, zero threshold {}",
                    point.scale, point.zero_threshold
                )
            },
        );
    }

    // Points within the budget, with buckets within it, that agree.
    let mut expected = Vec::new();
    for point in &given.data_points {
        if !take(check, left) {
            continue;
        }
        let buckets = point.positive_bucket.counts.len() + point.negative_bucket.counts.len();
        if buckets <= budget.data_points && exponential_agrees(point) {
            expected.push(point);
        } else {
            check.lost("exponential point", 1);
        }
    }
    let points = &kept.data_points;
    check.ensure(
        points.len() == expected.len(),
        "exponential points kept against the rule",
        || format!("{} kept, {} expected", points.len(), expected.len()),
    );
    for (point, given) in points.iter().zip(expected) {
        let same_buckets = |kept: Option<&_>, given: &m::ExponentialBucket| {
            kept.is_some_and(|b: &Buckets| {
                b.offset == given.offset && b.bucket_counts == given.counts
            })
        };
        check.ensure(
            point.count == given.count
                && point.zero_count == given.zero_count
                && point.scale == i32::from(given.scale)
                && point.zero_threshold == given.zero_threshold
                && same_buckets(point.positive.as_ref(), &given.positive_bucket)
                && same_buckets(point.negative.as_ref(), &given.negative_bucket)
                && point.start_time_unix_nano == start
                && point.time_unix_nano == time,
            "an exponential point that is not the guest's",
            || format!("count {} for {}", point.count, given.count),
        );
        check_float(check, "histogram sum", Some(given.sum), point.sum);
        check_float(check, "histogram min", given.min, point.min);
        check_float(check, "histogram max", given.max, point.max);
        check_attributes(
            check,
            "data point",
            &given.attributes,
            &point.attributes,
            &[],
        );
        check_exemplars(check, &given.exemplars, &point.exemplars);
    }
    points.len()
}

/// Exemplars with usable ids (none, hex or raw bytes) and a value OTLP
/// can carry, up to `budget.attributes`; the rest counted.
fn check_exemplars(check: &mut Check<'_>, given: &[m::Exemplar], kept: &[Exemplar]) {
    let budget = check.budget;
    check.ensure(
        kept.len() <= budget.attributes,
        "more exemplars than the budget",
        || format!("{} over {}", kept.len(), budget.attributes),
    );
    for exemplar in kept {
        let lengths = (exemplar.trace_id.len(), exemplar.span_id.len());
        check.ensure(
            matches!(lengths, (0, 0) | (16, 8)),
            "exemplar ids of the wrong length",
            || format!("{lengths:?}"),
        );
        let finite = match exemplar.value {
            Some(exemplar::Value::AsDouble(v)) => v.is_finite(),
            Some(exemplar::Value::AsInt(_)) => true,
            None => false,
        };
        check.ensure(
            finite,
            "an exemplar value that is not a finite number",
            || format!("{:?}", exemplar.value),
        );
    }

    let usable = |exemplar| Some((exemplar, usable_exemplar(exemplar)?));
    let expected: Vec<_> = given
        .iter()
        .filter_map(usable)
        .take(budget.attributes)
        .collect();
    check.lost("exemplars", given.len() - expected.len());
    check.ensure(
        kept.len() == expected.len(),
        "exemplars kept against the rule",
        || format!("{} kept, {} expected", kept.len(), expected.len()),
    );
    for (exemplar, (given, (trace_id, span_id, value))) in kept.iter().zip(expected) {
        check.ensure(
            exemplar.trace_id == trace_id
                && exemplar.span_id == span_id
                && exemplar.value == Some(value),
            "an exemplar that is not the guest's",
            || format!("{exemplar:?}"),
        );
        let time = metric_time(check, given.time);
        check.ensure(
            exemplar.time_unix_nano == time,
            "an exemplar time that is not the guest's",
            || format!("{} for {time}", exemplar.time_unix_nano),
        );
        let attributes = &given.filtered_attributes;
        check_attributes(
            check,
            "exemplar",
            attributes,
            &exemplar.filtered_attributes,
            &[],
        );
    }
}
