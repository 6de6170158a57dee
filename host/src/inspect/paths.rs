//! Directories a module's data mentions, found by looking for text that
//! reads like an absolute path. A guess: strings in data are often packed
//! end to end, so only the directory part of a path, up to its last `/`,
//! is trusted; a path with one component is kept whole when it is short.

/// How many directories are kept.
pub const MAX_PATHS: usize = 12;

/// The longest directory kept, in bytes.
const MAX_LEN: usize = 96;

/// The longest one-component path kept, such as `/data`.
const MAX_SINGLE: usize = 16;

/// Directories found so far, in the order first seen, without repeats.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Paths {
    found: Vec<String>,
    /// Whether more were found than [`MAX_PATHS`].
    more: bool,
}

impl Paths {
    /// The directories, at most [`MAX_PATHS`].
    pub fn list(&self) -> &[String] {
        &self.found
    }

    /// Whether some were left out for want of room.
    pub fn truncated(&self) -> bool {
        self.more
    }

    /// Looks for absolute paths in `data`.
    pub fn scan(&mut self, data: &[u8]) {
        let mut at = 0;
        while let Some(offset) = data[at..].iter().position(|&b| b == b'/') {
            let start = at + offset;
            let len = data[start..]
                .iter()
                .position(|&b| !is_path_byte(b))
                .unwrap_or(data.len() - start);
            let run = &data[start..start + len];
            let starts_word = start == 0 || !is_path_byte(data[start - 1]);
            let ends_string = data.get(start + len).is_none_or(|&b| b == 0);
            let dir = if starts_word || under_known_root(run) {
                directory(run, starts_word && ends_string)
            } else {
                None
            };
            // A run that is no path may still hold one further on.
            at = match dir {
                Some(dir) => {
                    self.add(dir);
                    start + len
                }
                None => start + 1,
            };
        }
    }

    fn add(&mut self, dir: &str) {
        if self.found.iter().any(|seen| seen == dir) {
            return;
        }
        if self.found.len() == MAX_PATHS {
            self.more = true;
            return;
        }
        self.found.push(dir.to_owned());
    }
}

/// Top-level directories common enough that a path glued to the text
/// before it (`config.path/etc/app.conf`) is still recognised.
const KNOWN_ROOTS: &str = "app bin data dev etc home lib mnt opt proc root run srv sys tmp usr var";

/// Whether `run` is `/`, one of [`KNOWN_ROOTS`], `/` and more.
fn under_known_root(run: &[u8]) -> bool {
    KNOWN_ROOTS.split(' ').any(|root| {
        run.len() > root.len() + 1
            && &run[1..=root.len()] == root.as_bytes()
            && run[root.len() + 1] == b'/'
    })
}

/// Whether `name` reads like a directory's: lowercase, 3 to
/// [`MAX_SINGLE`] characters.
fn is_dir_name(name: &str) -> bool {
    (3..MAX_SINGLE).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.')
}

/// The directory a path-like run of bytes names, if it is one worth
/// showing: not source locations of the compiler or the build machine.
/// A path of one component counts only when it is a whole string of its
/// own (`whole`) and reads like a directory name.
fn directory(run: &[u8], whole: bool) -> Option<&str> {
    let text = std::str::from_utf8(run).ok()?;
    let text = text.trim_end_matches(['.', '/']);
    // The first component: three characters at least, from a letter or `_`.
    let first = text.as_bytes().get(1)?;
    let first_len = text[1..].find('/').unwrap_or(text.len() - 1);
    let noise = text.contains("//")
        || text.contains("/.cargo/")
        || text.starts_with("/rustc/")
        || text.ends_with(".rs");
    if noise || first_len < 3 || !(first.is_ascii_alphabetic() || *first == b'_') {
        return None;
    }
    let dir = match directory_len(text) {
        0 if whole && is_dir_name(&text[1..]) => text,
        0 => return None,
        end => &text[..end],
    };
    (dir.len() <= MAX_LEN).then_some(dir)
}

/// How much of `text`, an absolute path, is directories: the components
/// followed by a `/`, up to the first that looks like no name (empty,
/// from a punctuation mark, or with `..` in it). 0 when none is.
fn directory_len(text: &str) -> usize {
    let mut end = 0;
    let mut components = text[1..].split('/').peekable();
    while let Some(component) = components.next() {
        let named = component
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !component.contains("..");
        if !named || components.peek().is_none() {
            break;
        }
        end += 1 + component.len();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(data: &[u8]) -> Vec<String> {
        let mut paths = Paths::default();
        paths.scan(data);
        paths.list().to_vec()
    }

    #[test]
    fn keeps_the_directory_of_packed_strings() {
        assert_eq!(scan(b"/etc/passwdread_etc_passwd"), ["/etc"]);
        assert_eq!(scan(b"config.path/etc/hello.confHello"), ["/etc"]);
        assert_eq!(scan(b"\0/usr/local/lib/python3.11\0"), ["/usr/local/lib"]);
        assert_eq!(scan(b"x/data\0/data\0"), ["/data"]);
        assert_eq!(scan(b"read_absolute/etc/passwdread_"), ["/etc"]);
        assert_eq!(
            scan(b"\0/etc/passwdx../y.txt\0/abc/d/../e\0"),
            ["/etc", "/abc/d"]
        );
    }

    #[test]
    fn skips_what_is_not_a_path() {
        assert!(scan(b"a/b 1/2 / // /3x /rustc/abc/lib.rs").is_empty());
        assert!(scan(b"text/plain and/or x/etc").is_empty());
        assert!(scan(b"/home/me/.cargo/registry/src/x/y.rs").is_empty());
        assert!(scan(b"/averyveryverylongsinglecomponent").is_empty());
        assert!(scan(b"\0/A5F\0/e\0/MT\0/gluedOn").is_empty());
        assert!(scan(b"\0/A/C/E/G\0/_/a/c\0/e7/x\0").is_empty());
    }

    #[test]
    fn keeps_a_bounded_number() {
        let data: String = (0..40).map(|i| format!("/d{i}/f\0")).collect();
        let mut paths = Paths::default();
        paths.scan(data.as_bytes());
        assert_eq!(paths.list().len(), MAX_PATHS);
        assert!(paths.truncated());
    }
}
