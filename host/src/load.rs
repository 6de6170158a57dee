//! Bytes to something runnable: a component as it is, a wasip1 module that
//! imports WIT interfaces made into a component, a plain wasip1 module, or
//! code compiled ahead of time by `wasm-otel compile`; through the
//! compiled-code cache when one is given.

pub mod cache;
mod exit_code;

use std::path::{Path, PathBuf};

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};
use wasmtime::Engine;
use wasmtime::Module;
use wasmtime::component::Component;

use cache::{Cache, Kind};

/// A file read and compiled.
pub struct Loaded {
    /// What it turned out to be.
    pub guest: Guest,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

/// What a file turned out to be, compiled for an engine. Cloning shares
/// the compiled code.
#[derive(Clone)]
pub enum Guest {
    /// A component, given as one or made from a wasip1 module.
    Component {
        /// The compiled component.
        component: Component,
        /// True when it was made from a core module here.
        componentized: bool,
    },
    /// A plain wasip1 module, run on the preview-1 linker.
    Module(Module),
}

impl Guest {
    /// A short name for the kind, for spans and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Guest::Component {
                componentized: false,
                ..
            } => "component",
            Guest::Component {
                componentized: true,
                ..
            } => "wasip1 module with WIT imports",
            Guest::Module(_) => "wasip1 module",
        }
    }
}

/// A file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// There is no such file.
    #[error("no such file `{}`", .0.display())]
    NotFound(PathBuf),
    /// The file exists but cannot be read.
    #[error("cannot read `{}`: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not WebAssembly, or not valid.
    #[error("`{}` is not a valid WebAssembly module or component: {reason:#}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: wasmtime::Error,
    },
    /// The file is compiled code, for another Wasmtime or other settings.
    #[error(
        "`{}` was compiled for another Wasmtime or other settings: {reason:#} \
         (compile it again with this wasm-otel, giving `compile` --with-fuel \
         when running with --fuel and --with-timeout when running with \
         --timeout, or run the .wasm file itself)",
        .path.display()
    )]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// Wasmtime's account of the difference.
        reason: wasmtime::Error,
    },
}

impl LoadError {
    /// The process exit code that reports this error: 127 for a missing
    /// file, 126 for one that cannot be read or is not WebAssembly.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadError::NotFound(_) => crate::run::EXIT_NOT_FOUND,
            _ => crate::run::EXIT_CANNOT_RUN,
        }
    }
}

/// Reads the file at `path` and compiles it, or takes its compiled code
/// from `cache` (and keeps it there when it had to be compiled).
pub fn load(engine: &Engine, path: &Path, cache: Option<&Cache>) -> Result<Loaded, LoadError> {
    let bytes = read(path)?;
    let sha256 = sha256_hex(&bytes);

    if let Some(kind) = Engine::detect_precompiled(&bytes) {
        let guest = precompiled(engine, path, &bytes, kind)?;
        return Ok(Loaded { guest, sha256 });
    }
    if let Some(guest) = cache.and_then(|cache| cached(engine, cache, &sha256)) {
        return Ok(Loaded { guest, sha256 });
    }
    let guest = compile(engine, path, &bytes)?;
    if let Some(cache) = cache {
        keep(cache, &sha256, &guest);
    }
    Ok(Loaded { guest, sha256 })
}

/// Compiles the file at `path` ahead of time: the bytes `wasm-otel run`
/// loads from a `.cwasm` file on an engine of the same settings.
pub fn precompile(engine: &Engine, path: &Path) -> Result<Vec<u8>, LoadError> {
    let bytes = read(path)?;
    let invalid = |reason: wasmtime::Error| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    match compile(engine, path, &bytes)? {
        Guest::Component { component, .. } => component.serialize().map_err(invalid),
        Guest::Module(module) => module.serialize().map_err(invalid),
    }
}

/// Reads the file at `path`, telling a missing file from an unreadable
/// one.
pub fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_owned()),
        _ => LoadError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })
}

/// Loads code compiled by `wasm-otel compile`.
fn precompiled(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    kind: wasmtime::Precompiled,
) -> Result<Guest, LoadError> {
    let incompatible = |reason: wasmtime::Error| LoadError::Incompatible {
        path: path.to_owned(),
        reason,
    };
    // SAFETY: compiled code runs as it is, unchecked. The README's trust
    // rule: run only `.cwasm` files this wasm-otel compiled, kept where
    // no one else can write. Wasmtime still refuses code compiled for
    // another version or other settings.
    match kind {
        wasmtime::Precompiled::Component => {
            let component = unsafe { Component::deserialize(engine, bytes) };
            Ok(Guest::Component {
                component: component.map_err(incompatible)?,
                componentized: false,
            })
        }
        wasmtime::Precompiled::Module => {
            let module = unsafe { Module::deserialize(engine, bytes) };
            Ok(Guest::Module(module.map_err(incompatible)?))
        }
    }
}

/// The cached code of the file whose bytes hash to `sha256`, if there is
/// an entry this engine accepts; an entry it refuses is removed.
fn cached(engine: &Engine, cache: &Cache, sha256: &str) -> Option<Guest> {
    let (kind, path) = cache.find(sha256)?;
    if !cache.is_private(&path) {
        tracing::warn!(
            "not loading compiled code from `{}`: it or its directory is writable \
             by others, who could have put code there (make the cache writable by \
             you alone, or pass --no-cache)",
            path.display()
        );
        return None;
    }
    // SAFETY: the cache holds only what this host compiled and wrote
    // there (see the `cache` module on who may write to it).
    let guest = match kind {
        Kind::Component | Kind::Componentized => unsafe {
            Component::deserialize_file(engine, &path)
        }
        .map(|component| Guest::Component {
            component,
            componentized: kind == Kind::Componentized,
        }),
        Kind::Module => unsafe { Module::deserialize_file(engine, &path) }.map(Guest::Module),
    };
    match guest {
        Ok(guest) => {
            tracing::debug!(path = %path.display(), "cache.hit");
            Some(guest)
        }
        Err(err) => {
            tracing::debug!(path = %path.display(), err = %format!("{err:#}"), "cache.stale");
            cache.remove(&path);
            None
        }
    }
}

/// Keeps what `guest` compiled to in `cache`.
fn keep(cache: &Cache, sha256: &str, guest: &Guest) {
    let serialized = match guest {
        Guest::Component {
            component,
            componentized,
        } => {
            let kind = match componentized {
                true => Kind::Componentized,
                false => Kind::Component,
            };
            component.serialize().map(|bytes| (kind, bytes))
        }
        Guest::Module(module) => module.serialize().map(|bytes| (Kind::Module, bytes)),
    };
    match serialized {
        Ok((kind, bytes)) => cache.store(sha256, kind, &bytes),
        Err(err) => tracing::debug!(err = %format!("{err:#}"), "cache.serialize_failed"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;

    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compiles a file's bytes as what they turn out to be.
fn compile(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<Guest, LoadError> {
    let invalid = |reason: wasmtime::Error| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };

    if wasmparser::Parser::is_component(bytes) {
        let component = Component::new(engine, bytes).map_err(invalid)?;
        return Ok(Guest::Component {
            component,
            componentized: false,
        });
    }
    if !wasmparser::Parser::is_core_wasm(bytes) {
        return Err(invalid(wasmtime::format_err!("{}", not_wasm(bytes))));
    }

    if imports_wit(bytes).map_err(invalid)? {
        let component_bytes = componentize(bytes).map_err(invalid)?;
        let component = Component::new(engine, &component_bytes).map_err(invalid)?;
        return Ok(Guest::Component {
            component,
            componentized: true,
        });
    }
    let module = Module::new(engine, bytes).map_err(invalid)?;
    Ok(Guest::Module(module))
}

/// Why `bytes`, which are not WebAssembly, cannot be run: compiled code
/// that Wasmtime did not recognise is told apart from anything else.
pub fn not_wasm(bytes: &[u8]) -> &'static str {
    match bytes.starts_with(b"\x7fELF") {
        true => {
            "it looks like compiled code (a .cwasm file) that is damaged or was \
             not made by `wasm-otel compile`; compile the .wasm file again"
        }
        false => "it does not start with the WebAssembly magic number",
    }
}

/// Whether a core module imports anything beyond WASI preview 1 and says,
/// in the custom section `wit-bindgen` writes, which WIT types it means.
/// A module with other imports but no such section is left to the
/// preview-1 linker, which names the first import it cannot satisfy.
pub(crate) fn imports_wit(bytes: &[u8]) -> wasmtime::Result<bool> {
    use wasmparser::{Parser, Payload};

    let mut foreign_imports = false;
    let mut component_type = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if import?.module != WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME {
                        foreign_imports = true;
                    }
                }
            }
            Payload::CustomSection(section) if section.name().starts_with("component-type") => {
                component_type = true;
            }
            _ => {}
        }
    }
    Ok(foreign_imports && component_type)
}

/// Makes a component of a wasip1 command module, with the preview-1
/// command adapter standing in for WASI preview 1 and the exit-code
/// adapter for `proc_exit`.
pub(crate) fn componentize(bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let rerouted = exit_code::reroute(bytes)?;
    let exit_adapter = match rerouted {
        Some(_) => Some(exit_code::adapter()?),
        None => None,
    };
    let module = rerouted.as_deref().unwrap_or(bytes);

    let encode = || {
        let mut encoder = wit_component::ComponentEncoder::default()
            .module(module)?
            .validate(true)
            .adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            )?;
        if let Some(adapter) = &exit_adapter {
            encoder = encoder.adapter(exit_code::ADAPTER_NAME, adapter)?;
        }
        encoder.encode()
    };
    encode().map_err(wasmtime::Error::from_anyhow)
}
