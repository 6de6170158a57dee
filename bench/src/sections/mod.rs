//! One module per section of BENCHMARKS.md, each a function that runs
//! its benchmark and writes its part of the report.

mod cold_start;
mod limits;
mod memory;
mod size;
mod span_cost;
mod throughput;

use anyhow::Result;

use crate::Bench;
use crate::report::Section;

/// Makes one section.
pub type Maker = fn(&Bench) -> Result<Section>;

/// Every section, in the report's order, with its title for when it fails.
pub const ALL: [(&str, Maker); 6] = [
    (span_cost::TITLE, span_cost::run),
    (throughput::TITLE, throughput::run),
    (cold_start::TITLE, cold_start::run),
    (limits::TITLE, limits::run),
    (memory::TITLE, memory::run),
    (size::TITLE, size::run),
];

/// The spans, exported and lost, in a host's `telemetry: exported ...;
/// lost ...` line on `stderr`: `(exported, lost)`, zeros when the line
/// is absent or names no spans.
pub fn span_summary(stderr: &str) -> (u64, u64) {
    let Some(line) = stderr.lines().rev().find(|l| l.starts_with("telemetry: ")) else {
        return (0, 0);
    };
    let line = line.trim_start_matches("telemetry: exported ");
    let (exported, lost) = line.split_once("; lost ").unwrap_or((line, ""));
    (spans_in(exported), spans_in(lost))
}

/// The sum of the `N span(s)` items of a `, `-separated list.
fn spans_in(list: &str) -> u64 {
    list.split(", ")
        .filter_map(|item| {
            let mut words = item.split_whitespace();
            let count: u64 = words.next()?.parse().ok()?;
            matches!(words.next(), Some("span" | "spans")).then_some(count)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_read_from_both_halves_of_the_summary() {
        let stderr = "noise\ntelemetry: exported 6 spans, 2 metric points; \
                      lost 3 spans (queue_full), 1 span (timeout), 4 log records (queue_full)\n";
        assert_eq!(span_summary(stderr), (6, 4));
        assert_eq!(span_summary("telemetry: exported 1 span\n"), (1, 0));
        assert_eq!(span_summary("no summary\n"), (0, 0));
    }
}
