//! Caps on what one run's guest may send through `wasi:otel`, part of its
//! sandbox like memory. Past a cap, data is truncated or dropped, and
//! counted by reason.

/// The caps of one run. Each has a flag on `wasm-otel run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Spans exported per run (`--max-spans`).
    pub spans: u64,
    /// Spans started and not yet ended that the host tracks
    /// (`--max-open-spans`).
    pub open_spans: usize,
    /// Attributes on one span, event, link, log record, data point or
    /// resource (`--max-attributes`).
    pub attributes: usize,
    /// Events on one span (`--max-events`).
    pub events: usize,
    /// Links on one span (`--max-links`).
    pub links: usize,
    /// Bytes of one attribute value, log body or status message
    /// (`--max-value-size`).
    pub value_bytes: usize,
    /// Bytes of one name or key: spans, events, attribute keys, metrics,
    /// scopes (`--max-name-size`).
    pub name_bytes: usize,
    /// Entries of one trace state (`--max-trace-state`).
    pub trace_state: usize,
    /// Log records per run (`--max-logs`).
    pub logs: u64,
    /// Metric exports per run (`--max-metric-exports`).
    pub metric_exports: u64,
    /// Data points in one metric export, and buckets in one exponential
    /// histogram point (`--max-data-points`).
    pub data_points: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            spans: 100_000,
            open_spans: 10_000,
            attributes: 128,
            events: 128,
            links: 128,
            value_bytes: 16 << 10,
            name_bytes: 1 << 10,
            trace_state: 32,
            logs: 100_000,
            metric_exports: 10_000,
            data_points: 10_000,
        }
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn truncate(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut text = "aé".to_owned();
        assert!(truncate(&mut text, 2));
        assert_eq!(text, "a");
        let mut short = "ok".to_owned();
        assert!(!truncate(&mut short, 2));
        assert_eq!(short, "ok");
    }
}
