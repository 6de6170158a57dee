//! Running commands side by side and reducing their times to medians.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One finished process: how long it took from spawn to exit, and what
/// it printed.
#[derive(Debug)]
pub struct Ran {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `command` to the end, timing it; fails unless it exits 0.
pub fn run(command: &mut Command) -> Result<Ran> {
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{command:?}`"))?;
    let wall = started.elapsed();
    let ran = Ran {
        wall,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if !output.status.success() {
        bail!(
            "`{command:?}` failed with {}: {}",
            output.status,
            ran.stderr.trim_end()
        );
    }
    Ok(ran)
}

/// A command to be run many times, under a label.
pub struct Variant<'a> {
    /// What the report calls it.
    pub label: String,
    /// Makes a fresh command for each run.
    pub command: Box<dyn Fn() -> Command + 'a>,
}

impl<'a> Variant<'a> {
    /// A variant labelled `label`.
    pub fn new(label: impl Into<String>, command: impl Fn() -> Command + 'a) -> Self {
        Self {
            label: label.into(),
            command: Box::new(command),
        }
    }
}

/// Runs every variant `rounds` times, interleaved: each round runs all of
/// them once, starting one further along each time, so a slow spell of
/// the machine falls on all of them alike. Returns the runs by variant.
pub fn interleaved(variants: &[Variant], rounds: usize) -> Result<Vec<Vec<Ran>>> {
    let mut runs: Vec<Vec<Ran>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for offset in 0..variants.len() {
            let index = (round + offset) % variants.len();
            let ran = run(&mut (variants[index].command)())
                .with_context(|| format!("{} (round {})", variants[index].label, round + 1))?;
            runs[index].push(ran);
        }
    }
    Ok(runs)
}

/// The median of `values`; the mean of the middle two for an even count.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The median wall time of `runs`, in milliseconds.
pub fn median_wall_ms(runs: &[Ran]) -> f64 {
    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64() * 1e3).collect();
    median(&walls)
}

/// The median over `runs` of the number each printed after `key`.
pub fn median_field(runs: &[Ran], key: &str) -> Result<f64> {
    let values: Vec<f64> = runs
        .iter()
        .map(|r| field(&r.stdout, key))
        .collect::<Result<_>>()?;
    Ok(median(&values))
}

/// The value after `key` in a `key value key value ...` line of `text`.
pub fn field(text: &str, key: &str) -> Result<f64> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.by_ref().any(|w| w == key) {
            let value = words.next().unwrap_or_default();
            return value
                .parse()
                .with_context(|| format!("`{key}` is followed by `{value}`, not a number"));
        }
    }
    bail!("no `{key}` in the output: {text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_field_is_the_word_after_its_key() {
        let text = "noise\nspans 10 elapsed_ns 2500 ns_per_span 250.0\n";
        assert_eq!(field(text, "elapsed_ns").unwrap(), 2500.0);
        assert_eq!(field(text, "ns_per_span").unwrap(), 250.0);
        assert!(field(text, "exported").is_err());
    }
}
