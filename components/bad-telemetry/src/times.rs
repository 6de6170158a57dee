//! Mode `times`: span and event times that are backwards, past what a
//! system clock holds, or not normalised.

use crate::data::{before, now};
use crate::span::{self, span_id};
use crate::wasi::clocks::wall_clock::Datetime;
use crate::wasi::otel::tracing::{Event, SpanContext, SpanData};

/// The last instant a `datetime` can name.
const MAX: Datetime = Datetime {
    seconds: u64::MAX,
    nanoseconds: 999_999_999,
};

/// Twice what a nanoseconds field should ever hold.
const TWO_SECONDS_OF_NANOS: u32 = 2_000_000_000;

/// Sends one span per case, in the order of the module doc.
pub fn run(outer: &SpanContext) {
    let time = now();
    let span = |n, name| {
        let context = span::context(&outer.trace_id, &span_id(n));
        span::span(context, &outer.span_id, name)
    };

    let backwards = span(1, "bad.times.backwards");
    span::send(&timed(backwards, time, before(time, 1)));

    span::send(&timed(span(2, "bad.times.max"), MAX, MAX));

    let nanos = Datetime {
        nanoseconds: TWO_SECONDS_OF_NANOS,
        ..time
    };
    span::send(&timed(span(3, "bad.times.nanos"), nanos, nanos));

    let mut event = span(4, "bad.times.event");
    event.events = vec![Event {
        name: "bad.times.event.max".to_owned(),
        time: MAX,
        attributes: Vec::new(),
    }];
    span::send(&event);

    let epoch = Datetime {
        seconds: 0,
        nanoseconds: 0,
    };
    span::send(&timed(span(5, "bad.times.epoch"), epoch, epoch));
}

/// `span` with its start and end times replaced.
fn timed(mut span: SpanData, start: Datetime, end: Datetime) -> SpanData {
    span.start_time = start;
    span.end_time = end;
    span
}
