//! The guest's view of the world: its arguments, its standard streams
//! (relayed with a cap), and only the directories and environment
//! variables a run grants. Sockets and name lookup are always denied.

use std::path::PathBuf;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::limits::MAX_RANDOM_SIZE;
use crate::output::CappedOutput;

/// What a run grants the guest beyond its arguments and streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Directories the guest may open, in the order given.
    pub dirs: Vec<Preopen>,
    /// Environment variables the guest sees, in the order given.
    pub env: Vec<(String, String)>,
}

/// One directory granted to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// Where it is on the host.
    pub host: PathBuf,
    /// The path the guest opens it by.
    pub guest: String,
    /// Whether the guest may create, change and remove what is in it.
    pub writable: bool,
}

/// The guest's streams: the host's stdin, and relays to its stdout and
/// stderr.
pub struct Stdio {
    /// The guest's stdout.
    pub stdout: CappedOutput,
    /// The guest's stderr.
    pub stderr: CappedOutput,
}

/// A WASI context builder for a guest started as `argv0 args...` under
/// `policy`.
pub fn wasi_builder(
    argv0: &str,
    args: &[String],
    policy: &Policy,
    stdio: &Stdio,
) -> std::io::Result<WasiCtxBuilder> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdin()
        .stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone())
        .arg(argv0)
        .args(args)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .max_random_size(MAX_RANDOM_SIZE);
    for (name, value) in &policy.env {
        builder.env(name, value);
    }
    for dir in &policy.dirs {
        let perms = if dir.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|err| {
                std::io::Error::other(format!(
                    "cannot open `{}` for the guest: {err}",
                    dir.host.display()
                ))
            })?;
    }
    Ok(builder)
}
