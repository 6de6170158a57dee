//! The compiled-code cache: what a file compiled to, kept so the next run
//! of the same file starts without compiling (or componentizing) it.
//!
//! Entries live under `<root>/<wasmtime version>-<engine hash>/`, named by
//! the SHA-256 of the file's bytes and what it became. The engine hash
//! covers every setting that changes compiled code (fuel metering, epoch
//! checks, the compiler's own flags), so a Wasmtime upgrade or a change of
//! settings never meets another's code; Wasmtime checks the same again
//! when an entry is loaded, and an entry that fails the check is compiled
//! anew and replaced. Entries are written to a temporary file and renamed
//! into place, so concurrent runs never see half of one.
//!
//! The root is `WASM_OTEL_CACHE_DIR` when set, else `wasm-otel` in the
//! user's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
//! `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows). Deleting it
//! (`wasm-otel cache clean` deletes the entries and nothing else) is
//! always safe.
//!
//! Loading compiled code runs it without validation, so the cache must be
//! writable by no one but the user, like the binary itself.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;

/// The environment variable that moves the cache.
pub const CACHE_DIR_VAR: &str = "WASM_OTEL_CACHE_DIR";

/// What a cached file became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A component, given as one.
    Component,
    /// A component made from a wasip1 module with WIT imports.
    Componentized,
    /// A plain wasip1 module.
    Module,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Component, Kind::Componentized, Kind::Module];

    fn suffix(self) -> &'static str {
        match self {
            Kind::Component => "component",
            Kind::Componentized => "componentized",
            Kind::Module => "module",
        }
    }
}

/// The cache of one engine's compiled code.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// The cache's root directory: `WASM_OTEL_CACHE_DIR`, or `wasm-otel` in
/// the user's cache directory; `None` when there is neither.
pub fn root() -> Option<PathBuf> {
    match std::env::var_os(CACHE_DIR_VAR) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|dir| dir.join("wasm-otel")),
    }
}

impl Cache {
    /// The cache for code compiled by `engine`, under `root`.
    pub fn new(root: &Path, engine: &Engine) -> Cache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_dir = format!("wasmtime-{}-{:016x}", wasmtime_version(), hasher.finish());
        Cache {
            dir: root.join(engine_dir),
        }
    }

    /// The directory this engine's entries are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, sha256: &str, kind: Kind) -> PathBuf {
        self.dir.join(format!("{sha256}.{}.cwasm", kind.suffix()))
    }

    /// The entry for the file whose bytes hash to `sha256`, with its kind.
    pub fn find(&self, sha256: &str) -> Option<(Kind, PathBuf)> {
        Kind::ALL
            .into_iter()
            .map(|kind| (kind, self.path(sha256, kind)))
            .find(|(_, path)| path.is_file())
    }

    /// Keeps `compiled` as the entry for `sha256`. The cache only saves
    /// time, so a failure to write is logged, not returned.
    pub fn store(&self, sha256: &str, kind: Kind, compiled: &[u8]) {
        let path = self.path(sha256, kind);
        match self.write(&path, compiled) {
            Ok(()) => tracing::debug!(path = %path.display(), "cache.stored"),
            Err(err) => tracing::warn!(
                "cannot keep compiled code in the cache `{}`: {err}; every run \
                 compiles again (fix the directory, move the cache with {CACHE_DIR_VAR}, \
                 or pass --no-cache)",
                self.dir.display()
            ),
        }
    }

    fn write(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        // Private to the user, whatever the umask: see `is_private`.
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
            dirs.mode(0o700);
            options.mode(0o600);
        }
        dirs.create(&self.dir)?;
        let temp = self.dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let mut file = options.open(&temp)?;
        let written = file
            .write_all(compiled)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }

    /// Whether `path` (an entry) and its directory are writable by the
    /// user alone: code others could have written there is not loaded.
    pub fn is_private(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private =
                |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o022 == 0);
            private(path) && private(&self.dir)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            true
        }
    }

    /// Drops an entry that could not be loaded.
    pub fn remove(&self, path: &Path) {
        let _ = std::fs::remove_file(path);
    }
}

/// The Wasmtime version this host was built with.
pub fn wasmtime_version() -> &'static str {
    env!("WASM_OTEL_WASMTIME_VERSION")
}

/// Deletes every entry of the cache under `root`: the `.cwasm` files (and
/// temporary files) in its `wasmtime-*` directories, then those
/// directories and `root` itself once empty. Nothing else there is
/// touched, so a root pointed at a directory of other files loses none of
/// them. Returns how many files were deleted.
pub fn clean(root: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut removed = 0;
    for entry in entries {
        let dir = entry?.path();
        let ours = dir
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("wasmtime-"));
        if !ours || !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir)? {
            let file = file?.path();
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if file.is_file() && (name.ends_with(".cwasm") || name.ends_with(".tmp")) {
                std::fs::remove_file(&file)?;
                removed += 1;
            }
        }
        // Left in place when something else is in it.
        let _ = std::fs::remove_dir(&dir);
    }
    let _ = std::fs::remove_dir(root);
    Ok(removed)
}
