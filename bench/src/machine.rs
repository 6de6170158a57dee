//! What the benchmarks ran on: the machine, the versions, the date.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// One `key: value` line of the report's header.
pub type Fact = (&'static str, String);

/// The machine and the versions, each read now, not assumed.
pub fn describe(root: &Path, wasmtime_cli: &Path) -> Result<Vec<Fact>> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    Ok(vec![
        ("date", output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])?),
        ("CPU", cpu_model()?),
        ("cores", cores.to_string()),
        ("OS", os_name()?),
        ("kernel", read_trimmed("/proc/sys/kernel/osrelease")?),
        ("load average at the start", load_average()?),
        ("rustc", output("rustc", &["--version"])?),
        ("Wasmtime in wasm-otel", locked_version(root, "wasmtime")?),
        (
            "Wasmtime CLI",
            output(&wasmtime_cli.to_string_lossy(), &["--version"])?,
        ),
        ("Node.js", output("node", &["--version"])?),
    ])
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` has them.
pub fn load_average() -> Result<String> {
    let text = read_trimmed("/proc/loadavg")?;
    Ok(text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}

fn cpu_model() -> Result<String> {
    let text = read_trimmed("/proc/cpuinfo")?;
    let model = text
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map(|(_, model)| model.trim().to_owned());
    Ok(model.unwrap_or_else(|| "unknown (no `model name` in /proc/cpuinfo)".to_owned()))
}

fn os_name() -> Result<String> {
    let text = read_trimmed("/etc/os-release")?;
    let name = text
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_owned());
    Ok(name.unwrap_or_else(|| "unknown (no PRETTY_NAME in /etc/os-release)".to_owned()))
}

/// The version of package `name` in the workspace's `Cargo.lock`.
fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("read Cargo.lock")?;
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == wanted {
            let version = lines.next().and_then(|l| l.strip_prefix("version = "));
            if let Some(version) = version {
                return Ok(version.trim_matches('"').to_owned());
            }
        }
    }
    anyhow::bail!("no package `{name}` in Cargo.lock")
}

fn read_trimmed(path: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read `{path}`"))?;
    Ok(text.trim().to_owned())
}

/// The first line a command prints on stdout.
fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run `{program}`"))?;
    anyhow::ensure!(out.status.success(), "`{program} {args:?}` failed");
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}
