//! The guest's view of the world: its arguments and standard streams, and
//! nothing else. No directory, no environment variable and no network are
//! granted unless a run asks for them.

use wasmtime_wasi::WasiCtxBuilder;

/// A WASI context builder for a guest started as `argv0 args...`.
///
/// Standard input, output and error are the host's own, so a guest reads
/// and writes the terminal it was started from. Sockets and name lookup
/// are denied.
pub fn wasi_builder(argv0: &str, args: &[String]) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdin()
        .inherit_stdout()
        .inherit_stderr()
        .arg(argv0)
        .args(args)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder
}
