//! A hostile guest that tries to escape its directory grants:
//! `fs-escape RO RW OUTSIDE_ABS`.
//!
//! RO and RW are the guest paths of a read-only and a read-write preopen;
//! `OUTSIDE_ABS` is the host's absolute path of a file outside both. The
//! guest expects RO/inside.txt to hold `inside`, RO/link-out to be a
//! symlink to `OUTSIDE_ABS` and RW/rw.txt to hold `rw`.
//!
//! It runs a fixed list of attempts (reads outside the grants, writes
//! into the read-only one, moves and links across the two) and prints
//! one line for each, in order: `NAME: allowed` or
//! `NAME: denied (ERROR)`, where ERROR is the `io::Error`'s Display. A
//! read that succeeds prints its content too, as
//! `NAME: allowed: CONTENT`, with a trailing line break dropped and
//! other control characters escaped. It goes on after every failure
//! and exits 0.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What an attempt that was allowed did.
enum Allowed {
    /// It changed something; there is nothing to show.
    Done,
    /// It read a file; this is the content.
    Read(String),
}

/// The outcome of one attempt.
type Attempt = io::Result<Allowed>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, ro, rw, outside] = args.as_slice() else {
        eprintln!("usage: fs-escape RO RW OUTSIDE_ABS");
        std::process::exit(2);
    };
    let (ro, rw, outside) = (Path::new(ro), Path::new(rw), Path::new(outside));
    let inside = ro.join("inside.txt");

    // Reads that should see only what is inside the grants.
    report("read_inside", read(&inside));
    report("read_dotdot", read_dotdot(ro, outside));
    report("read_absolute", read(outside));
    report("read_etc_passwd", read(Path::new("/etc/passwd")));
    report("read_symlink_out", read(&ro.join("link-out")));

    // Changes to the read-only grant, which should all be refused.
    report(
        "ro_write",
        write_existing(&inside, OpenOptions::new().write(true)),
    );
    report("ro_create", done(fs::File::create(ro.join("new.txt"))));
    report(
        "ro_truncate",
        done(OpenOptions::new().write(true).truncate(true).open(&inside)),
    );
    report(
        "ro_append",
        write_existing(&inside, OpenOptions::new().append(true)),
    );
    report("ro_mkdir", done(fs::create_dir(ro.join("sub"))));
    report("ro_remove", done(fs::remove_file(&inside)));
    report("ro_rename", done(fs::rename(&inside, ro.join("moved.txt"))));
    report(
        "ro_symlink",
        done(symlink_path("inside.txt", ro.join("newlink"))),
    );

    // Moves and links between the grants, in both directions.
    let rw_file = rw.join("rw.txt");
    report(
        "rename_ro_to_rw",
        done(fs::rename(&inside, rw.join("stolen.txt"))),
    );
    report(
        "hardlink_ro_to_rw",
        done(fs::hard_link(&inside, rw.join("linked.txt"))),
    );
    report(
        "rename_rw_to_ro",
        done(fs::rename(&rw_file, ro.join("planted.txt"))),
    );
    report(
        "hardlink_rw_to_ro",
        done(fs::hard_link(&rw_file, ro.join("planted-link.txt"))),
    );

    // The read-write grant: allowed inside, refused beyond it.
    report(
        "rw_write",
        done(fs::write(rw.join("written.txt"), "written")),
    );
    report(
        "rw_dotdot",
        done(fs::write(rw.join("../escaped.txt"), "escaped")),
    );
    report("rw_symlink_escape", symlink_escape(rw, outside));

    // The read-only file must have survived everything above.
    report("read_inside_after", read(&inside));
}

/// Prints the line for attempt `name`.
fn report(name: &str, attempt: Attempt) {
    let mut out = io::stdout().lock();
    let _ = match attempt {
        Ok(Allowed::Done) => writeln!(out, "{name}: allowed"),
        Ok(Allowed::Read(content)) => {
            let content = content.strip_suffix('\n').unwrap_or(&content);
            let content = content.strip_suffix('\r').unwrap_or(content);
            writeln!(out, "{name}: allowed: {}", content.escape_debug())
        }
        Err(error) => writeln!(out, "{name}: denied ({error})"),
    };
    let _ = out.flush();
}

/// Turns the result of a change into an attempt.
fn done<T>(result: io::Result<T>) -> Attempt {
    result.map(|_| Allowed::Done)
}

/// Reads the file at `path`, lossily as UTF-8.
fn read(path: &Path) -> Attempt {
    let bytes = fs::read(path)?;
    Ok(Allowed::Read(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Opens the existing file at `path` with `options` and writes `x`.
fn write_existing(path: &Path, options: &OpenOptions) -> Attempt {
    options.open(path)?.write_all(b"x")?;
    Ok(Allowed::Done)
}

/// Tries to climb out of `ro` with relative `..` steps: one step to
/// `outside.txt`, one step to the outside file's own name, and enough
/// steps to reach the root followed by its absolute path. Allowed if
/// any read succeeds; otherwise the first error is reported.
fn read_dotdot(ro: &Path, outside: &Path) -> Attempt {
    let mut tries = vec![ro.join("../outside.txt")];
    if let Some(name) = outside.file_name() {
        tries.push(ro.join("..").join(name));
    }
    let mut deep = ro.join("../../../../../../../..");
    deep.push(outside.strip_prefix("/").unwrap_or(outside));
    tries.push(deep);
    first_read(&tries)
}

/// Makes symlinks in `rw` that point out of it, to `..` and to the
/// outside file's directory, and reads the outside file through them.
/// Making a link may succeed; the attempt is allowed only if a read
/// through one does. Otherwise the first read's error is reported.
fn symlink_escape(rw: &Path, outside: &Path) -> Attempt {
    let Some(name) = outside.file_name() else {
        return Err(io::Error::other("OUTSIDE_ABS has no file name"));
    };
    let mut tries: Vec<PathBuf> = Vec::new();

    // A relative link to the parent of the grant.
    let _ = symlink_path("..", rw.join("up"));
    tries.push(rw.join("up").join(name));

    // An absolute link to the directory the host keeps the file in.
    if let Some(dir) = outside.parent() {
        let _ = symlink_path(dir, rw.join("up-abs"));
        tries.push(rw.join("up-abs").join(name));
    }
    first_read(&tries)
}

/// Makes a symlink at `link` pointing to `target`.
///
/// This is what `std::os::wasi::fs::symlink_path` does, but that is
/// still unstable (`wasi_ext`), while the deprecated `fs::soft_link`
/// is stable and on WASI makes the same `path_symlink` call.
#[allow(deprecated, reason = "the stable way to make a symlink on WASI")]
fn symlink_path<T: AsRef<Path>>(target: T, link: PathBuf) -> io::Result<()> {
    fs::soft_link(target, link)
}

/// Reads the paths in order and returns the first success, or the
/// first error when all fail.
fn first_read(paths: &[PathBuf]) -> Attempt {
    let mut first_error = None;
    for path in paths {
        match read(path) {
            Ok(allowed) => return Ok(allowed),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| io::Error::other("nothing to try")))
}
