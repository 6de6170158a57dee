//! The pieces BENCHMARKS.md is made of: sections, goals and tables.

use std::fmt::Write;

/// Whether a goal was reached in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Measured, and within the goal.
    Met,
    /// Measured, and outside the goal.
    Missed,
    /// Not measured in this run.
    NotMeasured,
}

impl Verdict {
    /// `Met` when `ok`, else `Missed`.
    pub fn from_ok(ok: bool) -> Self {
        if ok { Self::Met } else { Self::Missed }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "**missed**",
            Self::NotMeasured => "not measured in this run",
        }
    }
}

/// One goal and what this run measured against it.
#[derive(Debug, Clone)]
pub struct Goal {
    /// What is aimed at, such as `≤ 2× native`.
    pub goal: String,
    /// The figure measured, such as `3.10×`.
    pub measured: String,
    /// Whether the goal was reached.
    pub verdict: Verdict,
}

impl Goal {
    /// A goal measured as `measured`, reached or not as `ok` says.
    pub fn new(goal: impl Into<String>, measured: impl Into<String>, ok: bool) -> Self {
        Self {
            goal: goal.into(),
            measured: measured.into(),
            verdict: Verdict::from_ok(ok),
        }
    }

    /// A goal this run has no figure for.
    pub fn not_measured(goal: impl Into<String>) -> Self {
        Self {
            goal: goal.into(),
            measured: "—".to_owned(),
            verdict: Verdict::NotMeasured,
        }
    }
}

/// One numbered section of the report.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its heading, without the number.
    pub title: &'static str,
    /// Its Markdown, without the heading.
    pub body: String,
    /// The goals it measured.
    pub goals: Vec<Goal>,
}

/// The summary table: every goal of every section.
pub fn summary(sections: &[Section]) -> String {
    let mut rows = Vec::new();
    for section in sections {
        for goal in &section.goals {
            rows.push(vec![
                section.title.to_owned(),
                goal.goal.clone(),
                goal.measured.clone(),
                goal.verdict.text().to_owned(),
            ]);
        }
    }
    table(&["section", "goal", "measured", "verdict"], &rows)
}

/// A Markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let rule: Vec<&str> = headers.iter().map(|_| "---").collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// `1.23×`.
pub fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

/// Milliseconds with a precision that suits their size.
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 1000.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

/// An integer with its digits grouped by three: `200,000`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_three_digits() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(200_000), "200,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn a_table_has_a_rule_under_its_headers() {
        let rows = vec![vec!["1".to_owned(), "2".to_owned()]];
        assert_eq!(
            table(&["a", "b"], &rows),
            "| a | b |\n| --- | --- |\n| 1 | 2 |\n"
        );
    }
}
