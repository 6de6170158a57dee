//! Least-privilege WASI: hostile guests try to reach files, environment
//! variables and the network they were never given, and are denied.

use std::net::TcpListener;
use std::path::Path;

use wasm_otel_tests::{Ran, TempDir, component, component_for, host, run};

/// A directory tree for `fs-escape`: `ro/` to be granted read-only,
/// `rw/` read-write, and `outside.txt` beside them, granted to no one.
struct EscapeTree {
    dir: TempDir,
}

impl EscapeTree {
    fn new() -> Self {
        let dir = TempDir::new("escape");
        let root = dir.path();
        std::fs::create_dir(root.join("ro")).unwrap();
        std::fs::create_dir(root.join("rw")).unwrap();
        std::fs::write(root.join("ro/inside.txt"), "inside\n").unwrap();
        std::fs::write(root.join("rw/rw.txt"), "rw\n").unwrap();
        std::fs::write(root.join("outside.txt"), "secret\n").unwrap();
        std::os::unix::fs::symlink(root.join("outside.txt"), root.join("ro/link-out")).unwrap();
        Self { dir }
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.dir.path().join(relative)
    }

    /// Every file under the tree with its content, sorted, so a test can
    /// see that nothing changed where it must not.
    fn listing(&self, relative: &str) -> Vec<(String, String)> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(self.path(relative)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            let content = if meta.is_symlink() {
                format!("-> {}", std::fs::read_link(entry.path()).unwrap().display())
            } else if meta.is_dir() {
                "<dir>".to_owned()
            } else {
                std::fs::read_to_string(entry.path()).unwrap()
            };
            files.push((name, content));
        }
        files.sort();
        files
    }
}

/// The lines `fs-escape` prints when every escape is denied and the two
/// allowed actions succeed, with the error text left out.
const CONTAINED: &[(&str, &str)] = &[
    ("read_inside", "allowed: inside"),
    ("read_dotdot", "denied"),
    ("read_absolute", "denied"),
    ("read_etc_passwd", "denied"),
    ("read_symlink_out", "denied"),
    ("ro_write", "denied"),
    ("ro_create", "denied"),
    ("ro_truncate", "denied"),
    ("ro_append", "denied"),
    ("ro_mkdir", "denied"),
    ("ro_remove", "denied"),
    ("ro_rename", "denied"),
    ("ro_symlink", "denied"),
    ("rename_ro_to_rw", "denied"),
    ("hardlink_ro_to_rw", "denied"),
    ("rename_rw_to_ro", "denied"),
    ("hardlink_rw_to_ro", "denied"),
    ("rw_write", "allowed"),
    ("rw_dotdot", "denied"),
    ("rw_symlink_escape", "denied"),
    ("read_inside_after", "allowed: inside"),
];

/// Checks `fs-escape`'s report line by line against [`CONTAINED`].
fn assert_contained(ran: &Ran) {
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), CONTAINED.len(), "{}", ran.stdout);
    for (line, (name, expected)) in lines.iter().zip(CONTAINED) {
        let (got_name, got) = line.split_once(": ").unwrap_or((line, ""));
        assert_eq!(got_name, *name, "{}", ran.stdout);
        let verdict = match got.split_once(" (") {
            Some((verdict, _)) if verdict == "denied" => verdict,
            _ => got,
        };
        assert_eq!(verdict, *expected, "`{name}` in:\n{}", ran.stdout);
    }
}

/// Checks that the host's files outside the read-write grant are as the
/// tree made them, and that the one allowed write landed.
fn assert_untouched(tree: &EscapeTree) {
    assert_eq!(
        tree.listing("ro"),
        [
            ("inside.txt".to_owned(), "inside\n".to_owned()),
            (
                "link-out".to_owned(),
                format!("-> {}", tree.path("outside.txt").display())
            ),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("outside.txt")).unwrap(),
        "secret\n"
    );
    assert!(!tree.path("escaped.txt").exists());
    assert_eq!(
        std::fs::read_to_string(tree.path("rw/written.txt")).unwrap(),
        "written"
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("rw/rw.txt")).unwrap(),
        "rw\n"
    );
    assert!(!tree.path("rw/stolen.txt").exists());
    assert!(!tree.path("rw/linked.txt").exists());
}

/// Runs `fs-escape` from `wasm` with `ro/` and `rw/` granted at `/ro` and
/// `/rw`.
fn escape_attempts(tree: &EscapeTree, wasm: &Path) -> Ran {
    let grant = |relative: &str, guest: &str| format!("{}::{guest}", tree.path(relative).display());
    run(host()
        .args(["run", "--exporter", "none"])
        .args(["--dir", &grant("ro", "/ro")])
        .args(["--dir-rw", &grant("rw", "/rw")])
        .arg(wasm)
        .args(["/ro", "/rw"])
        .arg(tree.path("outside.txt")))
}

#[test]
fn file_system_escapes_are_denied_on_preview1() {
    let tree = EscapeTree::new();
    let ran = escape_attempts(&tree, &component("fs-escape"));
    assert_contained(&ran);
    assert_untouched(&tree);
}

#[test]
fn file_system_escapes_are_denied_on_preview2() {
    let tree = EscapeTree::new();
    let ran = escape_attempts(&tree, &component_for("wasm32-wasip2", "fs-escape"));
    assert_contained(&ran);
    assert_untouched(&tree);
}

#[test]
fn a_directory_granted_without_a_guest_path_is_seen_at_its_host_path() {
    let tree = EscapeTree::new();
    let ro = tree.path("ro");
    let rw = tree.path("rw");
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg("--dir")
        .arg(&ro)
        .arg("--dir-rw")
        .arg(&rw)
        .arg(component("fs-escape"))
        .arg(&ro)
        .arg(&rw)
        .arg(tree.path("outside.txt")));
    assert_contained(&ran);
    assert_untouched(&tree);
}

#[test]
fn without_a_grant_no_file_is_visible() {
    let tree = EscapeTree::new();
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component("fs-escape"))
        .arg(tree.path("ro"))
        .arg(tree.path("rw"))
        .arg(tree.path("outside.txt")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for line in ran.stdout.lines() {
        assert!(line.contains(": denied ("), "{line} in:\n{}", ran.stdout);
    }
    assert_eq!(ran.stdout.lines().count(), CONTAINED.len());
    assert!(!tree.path("rw/written.txt").exists());
}

#[test]
fn a_missing_directory_is_a_usage_error() {
    let ran = run(host()
        .args(["run", "--dir", "/no/such/dir::/data"])
        .arg(component("plain")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert_eq!(
        ran.stderr,
        "error: `--dir /no/such/dir::/data`: `/no/such/dir` is not a directory \
         (give an existing one)\n"
    );
}

#[test]
fn the_guest_sees_only_the_variables_it_was_given() {
    for target in ["wasm32-wasip1", "wasm32-wasip2"] {
        let ran = run(host()
            .args(["run", "--exporter", "none"])
            .args(["--env", "GIVEN=value", "--env", "FROM_HOST"])
            .env("FROM_HOST", "passed on")
            .env("HOST_SECRET", "not for guests")
            .arg(component_for(target, "env-peek")));
        assert_eq!(ran.code, Some(0), "{target}: {ran:?}");
        assert_eq!(
            ran.stdout, "FROM_HOST=passed on\nGIVEN=value\ncount=2\n",
            "{target}"
        );
    }
}

#[test]
fn by_default_the_guest_sees_no_variable() {
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .env("HOST_SECRET", "not for guests")
        .arg(component("env-peek")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "count=0\n");
}

#[test]
fn an_env_flag_for_an_unset_variable_is_a_usage_error() {
    let ran = run(host()
        .args(["run", "--env", "WASM_OTEL_TEST_UNSET"])
        .env_remove("WASM_OTEL_TEST_UNSET")
        .arg(component("env-peek")));
    assert_eq!(ran.code, Some(125), "{ran:?}");
    assert!(
        ran.stderr
            .contains("give a value with `--env WASM_OTEL_TEST_UNSET=VALUE`"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_component_cannot_open_sockets_or_look_up_names() {
    // A listener of the test's own on loopback: the guest is told where it
    // is, and the test checks that no connection ever reached it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();

    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component_for("wasm32-wasip2", "net-probe"))
        .arg(addr.to_string()));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", ran.stdout);
    for (line, probe) in lines.iter().zip(["tcp", "lookup", "udp"]) {
        assert!(
            line.starts_with(&format!("{probe}: denied (")),
            "{line} in:\n{}",
            ran.stdout
        );
    }
    match listener.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the listener: {other:?}"),
    }
}

#[test]
fn host_flags_after_the_file_are_the_guests() {
    // A wrapper such as `wasm-otel run app.wasm "$@"` must not let its
    // caller grant anything.
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component("env-peek"))
        .args(["--env", "LEAKED=1", "--dir-rw", "/::/host"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "count=0\n");

    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component("plain"))
        .args(["--help", "--timeout", "1s"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "argv: plain.wasm --help --timeout 1s\n");
}
