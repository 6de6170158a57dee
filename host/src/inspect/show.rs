//! A [`Report`] for people, short and aligned, and for scripts, as JSON
//! whose field names are listed in `wasm-otel inspect --help`.

use std::fmt::Write;

use serde_json::{Value, json};

use super::Report;

/// Width of the label column.
const LABEL: usize = 11;

/// Where wrapped lists stop.
const WIDTH: usize = 79;

impl Report {
    /// The report as JSON.
    pub fn json(&self) -> Value {
        json!({
            "file": self.file.display().to_string(),
            "kind": self.kind.as_str(),
            "wasi": self.wasi.as_str(),
            "componentized": self.componentized,
            "telemetry": self.telemetry.as_str(),
            "guest_sdk": self.guest_sdk,
            "imports": self.imports.iter().map(|g| json!({
                "name": g.name,
                "items": g.items,
            })).collect::<Vec<_>>(),
            "exports": self.exports,
            "entry": self.entry,
            "runnable": self.runnable(),
            "unknown_imports": self.unknown.iter().map(|u| json!({
                "name": u.name,
                "reason": u.reason,
            })).collect::<Vec<_>>(),
            "needs": self.needs.iter().map(|c| json!({
                "capability": c.name,
                "grant": c.grant,
                "imports": c.imports,
            })).collect::<Vec<_>>(),
            "mentioned_paths": self.paths.list(),
            "mentioned_paths_truncated": self.paths.truncated(),
        })
    }

    /// The report as lines of text, each `label  value`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        line(&mut out, "file", &self.file.display().to_string());
        line(&mut out, "kind", &self.kind_text());
        line(&mut out, "telemetry", &self.telemetry_text());
        self.imports_text(&mut out);
        line(&mut out, "exports", &list(&self.exports));
        self.runs_text(&mut out);
        self.needs_text(&mut out);
        self.paths_text(&mut out);
        out
    }

    fn kind_text(&self) -> String {
        let kind = match self.kind {
            super::Kind::Module => "core module",
            super::Kind::Component => "component",
        };
        let wasi = match self.wasi {
            super::Wasi::Preview1 => ", WASI preview 1",
            super::Wasi::Preview2 => ", WASI preview 2",
            super::Wasi::None => ", no WASI",
        };
        let adapted = if self.componentized {
            "; it imports WIT interfaces, so the host makes it a component \
             with the preview-1 adapter"
        } else {
            ""
        };
        format!("{kind}{wasi}{adapted}")
    }

    fn telemetry_text(&self) -> String {
        let sdk = self.guest_sdk.as_deref();
        match (self.telemetry, sdk) {
            (super::Telemetry::Native, Some(sdk)) => format!("native (wasi:otel), {sdk}"),
            (super::Telemetry::Native, None) => "native (wasi:otel)".to_owned(),
            (super::Telemetry::Portable, sdk) => {
                format!("portable ({})", sdk.unwrap_or_default())
            }
            (super::Telemetry::None, _) => "none".to_owned(),
        }
    }

    fn imports_text(&self, out: &mut String) {
        if self.imports.is_empty() {
            line(out, "imports", "none");
        }
        for (i, group) in self.imports.iter().enumerate() {
            let label = if i == 0 { "imports" } else { "" };
            line(out, label, &group.name);
            if !group.items.is_empty() {
                line(out, "", &format!("  {}", list(&group.items)));
            }
        }
    }

    fn runs_text(&self, out: &mut String) {
        let entry = match &self.entry {
            Some(entry) => format!("calls `{entry}`"),
            None => "no entry point: it exports neither `_start` nor \
                     `wasi:cli/run`"
                .to_owned(),
        };
        if self.unknown.is_empty() {
            line(
                out,
                "runs",
                &format!("{entry}; the host provides every import"),
            );
            return;
        }
        let count = self.unknown.len();
        let s = if count == 1 { "" } else { "s" };
        line(
            out,
            "runs",
            &format!("no: {count} import{s} the host does not provide:"),
        );
        for unknown in &self.unknown {
            line(out, "", &format!("  {}: {}", unknown.name, unknown.reason));
        }
        line(
            out,
            "",
            "(to run it anyway, with those imports trapping when called, add \
             --trap-unknown-imports)",
        );
    }

    fn needs_text(&self, out: &mut String) {
        let width = self.needs.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for (i, capability) in self.needs.iter().enumerate() {
            let label = if i == 0 { "needs" } else { "" };
            let grant = format!("{:width$}  {}", capability.name, capability.grant);
            line(out, label, &grant);
            let imports = capability.imports.join(", ");
            line(out, "", &format!("{:pad$}{imports}", "", pad = width + 2));
        }
        if self.needs.is_empty() {
            line(
                out,
                "needs",
                "nothing beyond arguments and standard streams",
            );
        }
    }

    fn paths_text(&self, out: &mut String) {
        if self.paths.list().is_empty() {
            return;
        }
        let more = if self.paths.truncated() { ", …" } else { "" };
        let paths = format!("{}{more}", self.paths.list().join(", "));
        line(out, "mentions", "paths (a guess from strings in its data):");
        line(out, "", &format!("  {paths}"));
    }
}

/// One `label  value` line, the value wrapped under itself.
fn line(out: &mut String, label: &str, value: &str) {
    let wrapped = wrap(value, LABEL);
    let _ = writeln!(out, "{label:LABEL$}{}", &wrapped[LABEL..]);
}

/// Items joined by commas.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.join(", ")
}

/// Text wrapped at spaces to [`WIDTH`], each line indented by `indent`
/// and by the spaces `text` starts with.
fn wrap(text: &str, indent: usize) -> String {
    let body = text.trim_start_matches(' ');
    let indent = indent + text.len() - body.len();
    let mut lines = vec![String::new()];
    for word in body.split(' ') {
        let current = lines.last_mut().expect("one line at least");
        if !current.is_empty() && indent + current.len() + 1 + word.len() > WIDTH {
            lines.push(word.to_owned());
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
    }
    let pad = " ".repeat(indent);
    lines
        .iter()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
