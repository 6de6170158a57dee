//! `hello [NAME]...`: greets the names given (`world` when none is), and
//! traces each step through `wasm-otel-guest`.
//!
//! The spans, their names and their attributes are what the host's tests
//! check, so they are fixed:
//!
//! ```text
//! hello                 hello.names, hello.name_count
//! ├── hello.parse       hello.valid_count, hello.all_valid
//! ├── hello.load_config config.path; an error status when the file is unreadable
//! └── hello.greet       event greeting.built { greeting.length }
//!     └── hello.score   hello.average_length
//! ```

use std::fmt;
use std::process::ExitCode;

use wasm_otel_guest::{KeyValue, Status, Tracer};

/// The configuration file, whose `greeting=` line replaces the salutation.
/// The sandbox grants no directories, so reading it normally fails.
const CONFIG_PATH: &str = "/etc/hello.conf";

/// The salutation when the configuration gives none.
const DEFAULT_SALUTATION: &str = "Hello";

/// Who is greeted when no name is given.
const DEFAULT_NAME: &str = "world";

fn main() -> ExitCode {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names.push(DEFAULT_NAME.to_owned());
    }

    match run(&names) {
        Ok(outcome) => {
            println!("{}", outcome.greeting);
            println!("average name length: {:.2}", outcome.average_length);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// What a successful run prints.
#[derive(Debug, PartialEq)]
struct Outcome {
    greeting: String,
    average_length: f64,
}

/// Every name given was invalid.
#[derive(Debug, PartialEq)]
struct NoValidName(Vec<String>);

impl fmt::Display for NoValidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self.0.iter().map(|name| format!("`{name}`")).collect();
        write!(
            f,
            "no valid name among {} (give at least one name made of letters only)",
            quoted.join(", ")
        )
    }
}

/// Greets `names` under a `hello` span; every span has ended on return.
fn run(names: &[String]) -> Result<Outcome, NoValidName> {
    let tracer = Tracer::new("hello").with_version(env!("CARGO_PKG_VERSION"));
    let mut root = tracer
        .span("hello")
        .attribute("hello.names", names)
        .attribute("hello.name_count", names.len() as i64)
        .start();

    let valid = parse(&tracer, names);
    if valid.is_empty() {
        root.set_status(Status::error("no valid name"));
        return Err(NoValidName(names.to_vec()));
    }

    let salutation = load_config(&tracer);
    let (greeting, average_length) = greet(&tracer, &salutation, &valid);
    Ok(Outcome {
        greeting,
        average_length,
    })
}

/// Keeps the valid names, with a note on stderr for each one skipped.
fn parse<'a>(tracer: &Tracer, names: &'a [String]) -> Vec<&'a str> {
    let mut span = tracer.span("hello.parse").start();

    let mut valid = Vec::new();
    for name in names {
        if is_valid(name) {
            valid.push(name.as_str());
        } else {
            eprintln!("hello: skipping `{name}`: a name is one or more letters");
        }
    }

    span.set_attribute("hello.valid_count", valid.len() as i64);
    span.set_attribute("hello.all_valid", valid.len() == names.len());
    valid
}

/// The salutation from the configuration file, or the default one.
fn load_config(tracer: &Tracer) -> String {
    let mut span = tracer
        .span("hello.load_config")
        .attribute("config.path", CONFIG_PATH)
        .start();

    match std::fs::read_to_string(CONFIG_PATH) {
        Ok(text) => {
            span.set_status(Status::Ok);
            configured_salutation(&text)
                .unwrap_or(DEFAULT_SALUTATION)
                .to_owned()
        }
        Err(err) => {
            span.set_status(Status::error(err.to_string()));
            DEFAULT_SALUTATION.to_owned()
        }
    }
}

/// Builds the greeting and scores the names it greets.
fn greet(tracer: &Tracer, salutation: &str, names: &[&str]) -> (String, f64) {
    let mut span = tracer.span("hello.greet").start();

    let greeting = greeting(salutation, names);
    let length = greeting.chars().count() as i64;
    span.add_event(
        "greeting.built",
        &[KeyValue::new("greeting.length", length)],
    );

    let average_length = score(tracer, names);
    (greeting, average_length)
}

/// The average length of `names`, in characters.
fn score(tracer: &Tracer, names: &[&str]) -> f64 {
    let mut span = tracer.span("hello.score").start();

    let total: usize = names.iter().map(|name| name.chars().count()).sum();
    let average_length = total as f64 / names.len() as f64;
    span.set_attribute("hello.average_length", average_length);
    average_length
}

/// A name is one or more alphabetic characters.
fn is_valid(name: &str) -> bool {
    !name.is_empty() && name.chars().all(char::is_alphabetic)
}

/// `Hello, a, b and c!` for three names; `names` is not empty.
fn greeting(salutation: &str, names: &[&str]) -> String {
    let listed = match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    format!("{salutation}, {listed}!")
}

/// The value of the first non-empty `greeting=` line.
fn configured_salutation(config: &str) -> Option<&str> {
    config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("greeting="))
        .map(str::trim)
        .find(|salutation| !salutation.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|&name| name.to_owned()).collect()
    }

    #[test]
    fn greeting_lists_the_names_with_commas_and_a_final_and() {
        assert_eq!(greeting("Hello", &["world"]), "Hello, world!");
        assert_eq!(greeting("Hello", &["a", "b"]), "Hello, a and b!");
        assert_eq!(greeting("Hi", &["a", "b", "c"]), "Hi, a, b and c!");
    }

    #[test]
    fn a_valid_name_is_non_empty_and_all_letters() {
        assert!(is_valid("Ada"));
        assert!(is_valid("Zo\u{eb}"));
        assert!(!is_valid(""));
        assert!(!is_valid("R2D2"));
        assert!(!is_valid("Mary Ann"));
    }

    #[test]
    fn the_configured_salutation_comes_from_the_greeting_line() {
        assert_eq!(
            configured_salutation("x=1\ngreeting= Howdy \n"),
            Some("Howdy")
        );
        assert_eq!(
            configured_salutation("greeting=\ngreeting=Hey"),
            Some("Hey")
        );
        assert_eq!(configured_salutation("name=world"), None);
    }

    #[test]
    fn run_skips_invalid_names_and_averages_the_valid_ones() {
        let outcome = run(&strings(&["Ada", "b4d", "Grace"])).unwrap();
        assert!(
            outcome.greeting.ends_with(", Ada and Grace!"),
            "{outcome:?}"
        );
        assert_eq!(outcome.average_length, 4.0);
    }

    #[test]
    fn run_fails_when_no_name_is_valid() {
        let err = run(&strings(&["1", ""])).unwrap_err();
        assert_eq!(err, NoValidName(strings(&["1", ""])));
        assert_eq!(
            err.to_string(),
            "no valid name among `1`, `` (give at least one name made of letters only)"
        );
    }
}
