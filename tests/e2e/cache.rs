//! The compiled-code cache and `wasm-otel compile`: a warm run loads what
//! an earlier run compiled, other settings never load it, a broken entry
//! is compiled anew, and ahead-of-time code runs only where it fits.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasm_otel_tests::{Ran, TempDir, component, host, run};

/// `wasm-otel` with its cache in `cache` and cache events on stderr.
fn cached_host(cache: &Path) -> Command {
    let mut command = host();
    command
        .env("WASM_OTEL_CACHE_DIR", cache)
        .env("WASM_OTEL_LOG", "wasm_otel_host=debug");
    command
}

/// Runs hello with `flags` against `cache`, checking that it ran.
fn hello(cache: &Path, flags: &[&str]) -> Ran {
    let ran = run(cached_host(cache)
        .args(["run", "--exporter", "none"])
        .args(flags)
        .arg(component("hello"))
        .arg("Ada"));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stdout.starts_with("Hello, Ada!"), "{ran:?}");
    ran
}

/// Every file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => found.extend(files(&path)),
            false => found.push(path),
        }
    }
    found.sort();
    found
}

#[test]
fn a_second_run_loads_what_the_first_compiled() {
    let cache = TempDir::new("cache-warm");

    let cold = hello(cache.path(), &[]);
    assert!(cold.stderr.contains("cache.stored"), "{}", cold.stderr);
    let entries = files(cache.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // hello imports wasi:otel: it was componentized, and that is cached too.
    assert!(name.ends_with(".componentized.cwasm"), "{name}");
    let parent = entries[0].parent().unwrap().file_name().unwrap();
    assert!(
        parent.to_string_lossy().starts_with("wasmtime-48."),
        "{parent:?}"
    );

    let warm = hello(cache.path(), &[]);
    assert!(warm.stderr.contains("cache.hit"), "{}", warm.stderr);
    assert!(!warm.stderr.contains("cache.stored"), "{}", warm.stderr);
    assert_eq!(warm.stdout, cold.stdout);
    assert_eq!(files(cache.path()), entries);
}

#[test]
fn no_cache_neither_reads_nor_writes_it() {
    let cache = TempDir::new("cache-bypass");
    hello(cache.path(), &[]);
    let ran = hello(cache.path(), &["--no-cache"]);
    assert!(!ran.stderr.contains("cache."), "{}", ran.stderr);

    let empty = TempDir::new("cache-bypass-empty");
    hello(empty.path(), &["--no-cache"]);
    assert!(files(empty.path()).is_empty());
}

#[test]
fn other_settings_never_load_another_setting_s_code() {
    let cache = TempDir::new("cache-settings");
    hello(cache.path(), &[]);
    let plain_entry = files(cache.path()).remove(0);

    // Fuel metering changes the compiled code: a second entry, elsewhere.
    let fueled = hello(cache.path(), &["--fuel", "100000000"]);
    assert!(fueled.stderr.contains("cache.stored"), "{}", fueled.stderr);
    let entries = files(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    let fuel_entry = entries.into_iter().find(|e| *e != plain_entry).unwrap();
    assert_ne!(fuel_entry.parent(), plain_entry.parent());

    // An entry from other settings planted where the fuel run looks is
    // refused by Wasmtime's own check, compiled anew and replaced.
    std::fs::copy(&plain_entry, &fuel_entry).unwrap();
    let ran = hello(cache.path(), &["--fuel", "100000000"]);
    assert!(ran.stderr.contains("cache.stale"), "{}", ran.stderr);
    assert!(ran.stderr.contains("cache.stored"), "{}", ran.stderr);
    let replaced = std::fs::read(&fuel_entry).unwrap();
    assert_ne!(replaced, std::fs::read(&plain_entry).unwrap());
    let ran = hello(cache.path(), &["--fuel", "100000000"]);
    assert!(ran.stderr.contains("cache.hit"), "{}", ran.stderr);

    // And running out of fuel still works from the cache.
    let ran = run(cached_host(cache.path())
        .args(["run", "--exporter", "none", "--fuel", "1000"])
        .arg(component("hello")));
    assert_eq!(ran.code, Some(152), "{ran:?}");
}

#[test]
fn a_corrupt_entry_is_compiled_anew() {
    let cache = TempDir::new("cache-corrupt");
    hello(cache.path(), &[]);
    let entry = files(cache.path()).remove(0);
    std::fs::write(&entry, b"\x7fELF but not really").unwrap();

    let ran = hello(cache.path(), &[]);
    assert!(ran.stderr.contains("cache.stale"), "{}", ran.stderr);
    let ran = hello(cache.path(), &[]);
    assert!(ran.stderr.contains("cache.hit"), "{}", ran.stderr);
}

#[test]
fn concurrent_cold_runs_share_one_entry() {
    let cache = TempDir::new("cache-concurrent");
    let plain = run(cached_host(cache.path())
        .args(["run", "--exporter", "none"])
        .arg(component("plain")));
    assert_eq!(plain.code, Some(0), "{plain:?}");
    let children: Vec<_> = (0..6)
        .map(|_| {
            cached_host(cache.path())
                .args(["run", "--exporter", "none"])
                .arg(component("hello"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("Hello, world!"));
    }
    // One entry for each file, and no temporary file left behind.
    let entries = files(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e.extension().unwrap() == "cwasm"));
}

#[test]
fn cache_dir_and_clean() {
    let cache = TempDir::new("cache-clean");
    let ran = run(cached_host(cache.path()).args(["cache", "dir"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout.trim(), cache.path().display().to_string());

    hello(cache.path(), &[]);
    assert_eq!(files(cache.path()).len(), 1);
    let ran = run(cached_host(cache.path()).args(["cache", "clean"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(!cache.path().exists());
    let ran = run(cached_host(cache.path()).args(["cache", "clean"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        ran.stderr.contains("holds no compiled code"),
        "{}",
        ran.stderr
    );
}

#[test]
fn code_others_could_have_written_is_not_loaded() {
    use std::os::unix::fs::PermissionsExt;

    let cache = TempDir::new("cache-shared");
    hello(cache.path(), &[]);
    let entry = files(cache.path()).remove(0);
    let dir = entry.parent().unwrap();
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the cache's directories are the user's alone");

    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ran = hello(cache.path(), &[]);
    assert!(!ran.stderr.contains("cache.hit"), "{}", ran.stderr);
    assert!(ran.stderr.contains("writable by others"), "{}", ran.stderr);
}

#[test]
fn clean_deletes_compiled_code_and_nothing_else() {
    let cache = TempDir::new("cache-clean-others");
    std::fs::write(cache.path().join("notes.txt"), "keep me").unwrap();
    hello(cache.path(), &[]);
    let entry = files(cache.path())
        .into_iter()
        .find(|f| f.extension().unwrap() == "cwasm")
        .unwrap();
    let engine_dir = entry.parent().unwrap().to_owned();
    std::fs::write(engine_dir.join("mine.txt"), "and me").unwrap();

    let ran = run(cached_host(cache.path()).args(["cache", "clean"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        ran.stderr.contains("removed 1 compiled file"),
        "{}",
        ran.stderr
    );
    assert!(!entry.exists());
    assert_eq!(
        std::fs::read_to_string(cache.path().join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(
        std::fs::read_to_string(engine_dir.join("mine.txt")).unwrap(),
        "and me"
    );
}

#[test]
fn compiled_ahead_of_time_code_runs_where_it_fits() {
    let dir = TempDir::new("precompiled");
    let out = dir.path().join("hello.cwasm");
    let ran = run(host()
        .arg("compile")
        .arg(component("hello"))
        .arg("-o")
        .arg(&out));
    assert_eq!(ran.code, Some(0), "{ran:?}");

    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(&out)
        .arg("Grace"));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stdout.starts_with("Hello, Grace!"), "{ran:?}");

    // Compiled without fuel metering, it cannot run with --fuel.
    let ran = run(host()
        .args(["run", "--exporter", "none", "--fuel", "1000000"])
        .arg(&out));
    assert_eq!(ran.code, Some(126), "{ran:?}");
    assert!(
        ran.stderr
            .contains("was compiled for another Wasmtime or other settings")
    );
    assert!(ran.stderr.contains("--with-fuel"), "{}", ran.stderr);

    let fueled = dir.path().join("hello-fuel.cwasm");
    let ran = run(host()
        .args(["compile", "--with-fuel", "-o"])
        .arg(&fueled)
        .arg(component("hello")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let ran = run(host()
        .args(["run", "--exporter", "none", "--fuel", "1000"])
        .arg(&fueled));
    assert_eq!(ran.code, Some(152), "{ran:?}");

    // Damaged compiled code is told apart from a file that is not wasm.
    let damaged = dir.path().join("damaged.cwasm");
    let bytes = std::fs::read(&out).unwrap();
    std::fs::write(&damaged, &bytes[..64]).unwrap();
    let ran = run(host().args(["run", "--exporter", "none"]).arg(&damaged));
    assert_eq!(ran.code, Some(126), "{ran:?}");
    assert!(ran.stderr.contains("looks like compiled code"), "{ran:?}");

    // A plain preview-1 module compiles to a module, run on that linker.
    let plain = dir.path().join("plain.cwasm");
    let ran = run(host()
        .arg("compile")
        .arg(component("plain"))
        .arg("-o")
        .arg(&plain));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(&plain)
        .args(["7", "x"]));
    assert_eq!(ran.code, Some(7), "{ran:?}");
    assert!(ran.stdout.contains("argv: plain.cwasm 7 x"), "{ran:?}");
}

#[test]
fn compile_reports_bad_input_like_run() {
    let dir = TempDir::new("precompile-bad");
    let missing = run(host()
        .arg("compile")
        .arg(dir.path().join("nope.wasm"))
        .arg("-o")
        .arg(dir.path().join("x.cwasm")));
    assert_eq!(missing.code, Some(127), "{missing:?}");

    let text = dir.path().join("text.wasm");
    std::fs::write(&text, "not wasm").unwrap();
    let invalid = run(host()
        .arg("compile")
        .arg(&text)
        .arg("-o")
        .arg(dir.path().join("x.cwasm")));
    assert_eq!(invalid.code, Some(126), "{invalid:?}");
    assert!(
        invalid.stderr.contains("is not a valid WebAssembly"),
        "{invalid:?}"
    );
}
