//! `wasm-otel inspect`: what a `.wasm` file is and what running it would
//! need, told without running it and without compiling its code.
//!
//! The file is read with `wasmparser` and its code validated; its imports
//! are checked against the very linkers `run` uses, on stand-ins that have
//! no code to compile; the capabilities it would use are read from the
//! names of its imports; directories it mentions are guessed from its
//! data.

mod link;
mod needs;
mod parse;
mod paths;
mod show;

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use crate::limits::Limits;
use crate::load::{self, LoadError};
use crate::run::EXIT_USAGE;

pub use link::Unknown;
pub use needs::Capability;
pub use parse::PORTABLE_SECTION;
pub use paths::{MAX_PATHS, Paths};

/// What a file is and what running it would need.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file, as given.
    pub file: PathBuf,
    /// A core module or a component.
    pub kind: Kind,
    /// Which WASI it imports.
    pub wasi: Wasi,
    /// Whether the host makes a component of it with the preview-1
    /// adapter before running it, because it imports WIT interfaces.
    pub componentized: bool,
    /// How it reports telemetry.
    pub telemetry: Telemetry,
    /// The guest SDK's portable-mode mark, `wasm-otel-guest <version>`,
    /// when it carries one.
    pub guest_sdk: Option<String>,
    /// Its imports, by module or interface.
    pub imports: Vec<Group>,
    /// The names of its exports.
    pub exports: Vec<String>,
    /// The export `run` would call: `_start` or `wasi:cli/run@…`.
    pub entry: Option<String>,
    /// Imports the host does not provide.
    pub unknown: Vec<Unknown>,
    /// What it would ask of its sandbox.
    pub needs: Vec<Capability>,
    /// Directories its data mentions: a guess.
    pub paths: Paths,
}

/// Imports from one core module, or one import of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The module (`wasi_snapshot_preview1`) or interface
    /// (`wasi:cli/environment@0.2.6`) name.
    pub name: String,
    /// Its functions; other kinds of core items as `name (kind)`.
    pub items: Vec<String>,
}

/// The outermost structure of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A core WebAssembly module.
    Module,
    /// A component of the component model.
    Component,
}

/// The WASI a guest is written against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wasi {
    /// It imports `wasi_snapshot_preview1`.
    Preview1,
    /// It imports `wasi:*` interfaces of version 0.2.
    Preview2,
    /// Neither.
    None,
}

/// How a guest reports telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Telemetry {
    /// It imports `wasi:otel` interfaces.
    Native,
    /// It carries the guest SDK's portable-mode section.
    Portable,
    /// Neither.
    None,
}

/// A file that cannot be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file is missing, unreadable or not WebAssembly.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The engine the check needs could not be set up.
    #[error("cannot set up the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
}

impl InspectError {
    /// The process exit code that reports this error, as `run` would.
    pub fn exit_code(&self) -> u8 {
        match self {
            InspectError::Load(err) => err.exit_code(),
            InspectError::Engine(_) => EXIT_USAGE,
        }
    }
}

const PREVIEW1: &str = "wasi_snapshot_preview1";
const OTEL: &str = "wasi:otel/";

/// Inspects the file at `path`.
pub fn inspect(path: &Path) -> Result<Report, InspectError> {
    let bytes = load::read(path)?;
    let invalid = |reason: wasmtime::Error| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let is_component = wasmparser::Parser::is_component(&bytes);
    if !is_component && !wasmparser::Parser::is_core_wasm(&bytes) {
        let reason = crate::load::not_wasm(&bytes);
        return Err(invalid(wasmtime::format_err!("{reason}")).into());
    }
    let parsed = parse::parse(&bytes).map_err(|err| invalid(err.into()))?;

    // The engine `run` would build with its default limits.
    let mut config = wasmtime::Config::new();
    Limits::default().configure(&mut config);
    let engine = Engine::new(&config).map_err(InspectError::Engine)?;

    validate_code(&engine, &bytes, is_component, &parsed).map_err(invalid)?;
    let mut report = if is_component {
        component(&engine, &bytes)
    } else {
        module(&engine, &bytes, &parsed)
    }
    .map_err(invalid)?;
    report.file = path.to_owned();
    report.needs = needs::capabilities(&report.imports);
    report.guest_sdk = parsed.portable;
    report.paths = parsed.paths;
    report.telemetry = telemetry(&report.imports, report.guest_sdk.is_some());
    Ok(report)
}

/// Validates the code of the file's core modules, which the checks on
/// stand-ins never see, as Wasmtime would before compiling it.
fn validate_code(
    engine: &Engine,
    bytes: &[u8],
    is_component: bool,
    parsed: &parse::Parsed,
) -> wasmtime::Result<()> {
    if !is_component {
        return Module::validate(engine, bytes);
    }
    for range in &parsed.nested_modules {
        Module::validate(engine, &bytes[range.clone()])?;
    }
    Ok(())
}

/// A component: its shape as Wasmtime reads it, checked on the preview-2
/// and `wasi:otel` linker.
fn component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Report> {
    let (shape, unknown) = link::check_component(engine, bytes)?;
    let imports: Vec<Group> = shape
        .imports
        .into_iter()
        .map(|(name, items)| Group { name, items })
        .collect();
    let wasi = if imports.iter().any(|g| is_preview2(&g.name)) {
        Wasi::Preview2
    } else {
        Wasi::None
    };
    let entry = shape
        .exports
        .iter()
        .find(|name| name.starts_with("wasi:cli/run@0.2."))
        .cloned();
    Ok(Report {
        kind: Kind::Component,
        wasi,
        componentized: false,
        imports,
        exports: shape.exports,
        entry,
        unknown,
        ..Report::empty()
    })
}

/// A core module: run as it is on the preview-1 linker, or, when it
/// imports WIT interfaces, made into a component as `run` would.
fn module(engine: &Engine, bytes: &[u8], parsed: &parse::Parsed) -> wasmtime::Result<Report> {
    let componentized = load::imports_wit(bytes)?;
    let unknown = if componentized {
        link::check_component(engine, &load::componentize(bytes)?)?.1
    } else {
        link::check_module(engine, bytes)?
    };
    let imports = group_core_imports(&parsed.imports);
    let wasi = if imports.iter().any(|g| g.name == PREVIEW1) {
        Wasi::Preview1
    } else {
        Wasi::None
    };
    let entry = parsed
        .exports
        .iter()
        .find(|e| e.name == "_start" && e.kind == "func")
        .map(|e| e.name.clone());
    Ok(Report {
        kind: Kind::Module,
        wasi,
        componentized,
        imports,
        exports: parsed.exports.iter().map(|e| e.name.clone()).collect(),
        entry,
        unknown,
        ..Report::empty()
    })
}

/// Core imports by module, modules in the order first imported from.
fn group_core_imports(imports: &[parse::CoreImport]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for import in imports {
        let item = match import.item.kind {
            "func" => import.item.name.clone(),
            kind => format!("{} ({kind})", import.item.name),
        };
        match groups.iter_mut().find(|g| g.name == import.module) {
            Some(group) => group.items.push(item),
            None => groups.push(Group {
                name: import.module.clone(),
                items: vec![item],
            }),
        }
    }
    groups
}

/// Whether an import is a WASI 0.2 interface other than `wasi:otel`.
fn is_preview2(name: &str) -> bool {
    name.starts_with("wasi:") && !name.starts_with(OTEL) && name.contains("@0.2.")
}

fn telemetry(imports: &[Group], portable: bool) -> Telemetry {
    if imports.iter().any(|g| g.name.starts_with(OTEL)) {
        Telemetry::Native
    } else if portable {
        Telemetry::Portable
    } else {
        Telemetry::None
    }
}

impl Report {
    fn empty() -> Self {
        Report {
            file: PathBuf::new(),
            kind: Kind::Module,
            wasi: Wasi::None,
            componentized: false,
            telemetry: Telemetry::None,
            guest_sdk: None,
            imports: Vec::new(),
            exports: Vec::new(),
            entry: None,
            unknown: Vec::new(),
            needs: Vec::new(),
            paths: Paths::default(),
        }
    }

    /// Whether `run` would start it: every import provided and an entry
    /// point to call.
    pub fn runnable(&self) -> bool {
        self.unknown.is_empty() && self.entry.is_some()
    }
}

impl Kind {
    /// The name `--json` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Module => "module",
            Kind::Component => "component",
        }
    }
}

impl Wasi {
    /// The name `--json` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Wasi::Preview1 => "preview1",
            Wasi::Preview2 => "preview2",
            Wasi::None => "none",
        }
    }
}

impl Telemetry {
    /// The name `--json` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Telemetry::Native => "native",
            Telemetry::Portable => "portable",
            Telemetry::None => "none",
        }
    }
}
