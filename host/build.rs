//! Records the Wasmtime version the host is built with, for the
//! `process.runtime.version` resource attribute.

fn main() {
    println!("cargo:rerun-if-changed=../Cargo.lock");
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let version = lock
        .split("[[package]]")
        .filter(|package| package.contains("\nname = \"wasmtime\"\n"))
        .find_map(|package| {
            package
                .lines()
                .find_map(|line| line.strip_prefix("version = \""))
                .map(|version| version.trim_end_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=WASM_OTEL_WASMTIME_VERSION={version}");
}
