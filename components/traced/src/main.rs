//! `traced [WORD]...`: counts the words given (a built-in sentence when
//! none is) and prints the two most frequent, instrumented only with the
//! `tracing` crate; `wasm-otel-guest`'s layer sends it through
//! `wasi:otel`.
//!
//! Words longer than 20 characters are skipped. With the built-in
//! sentence it prints `top words: the (3), and (2)` and emits exactly
//! this, every scope named after the target, `traced`:
//!
//! ```text
//! spans
//! count_words         text.length=77 (int), words.counted=10 (int, recorded at the end)
//! ├── tokenize        words.total=11 (int, recorded at the end)
//! └── rank            top=2 (int)
//!
//! log records                                             in span
//! WARN  "skipped a long word"  word.length=34, event word.skipped   tokenize
//! DEBUG "split into 11 words"  words=11                              tokenize
//! INFO  "most frequent word"   word="the", count=3, event word.top   rank
//! INFO  "done"                 result="the (3), and (2)"             none (after every span)
//! ```

use std::collections::HashMap;

use tracing::{debug, info, instrument, warn};

/// Counted when no word is given.
const DEFAULT_TEXT: &str =
    "the quick fox and the lazy dog and the supercalifragilisticexpialidocious cat";

/// Words longer than this are skipped.
const MAX_WORD_LENGTH: usize = 20;

/// How many words are printed.
const TOP: u32 = 2;

fn main() {
    if let Err(err) = wasm_otel_guest::tracing::init() {
        eprintln!("traced: no tracing: {err}");
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = if args.is_empty() {
        DEFAULT_TEXT.to_owned()
    } else {
        args.join(" ")
    };

    let top = count_words(&text);
    let result = top
        .iter()
        .map(|(word, count)| format!("{word} ({count})"))
        .collect::<Vec<_>>()
        .join(", ");
    info!(result = %result, "done");
    println!("top words: {result}");
}

/// The most frequent words of `text` with their counts.
#[instrument(skip(text), fields(text.length = text.len(), words.counted))]
fn count_words(text: &str) -> Vec<(String, usize)> {
    let words = tokenize(text);
    tracing::Span::current().record("words.counted", words.len());
    rank(&words, TOP)
}

/// The words of `text`, lowercase, without the overly long ones.
#[instrument(skip(text), fields(words.total))]
fn tokenize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut total = 0;
    for word in text.split_whitespace() {
        total += 1;
        let length = word.chars().count();
        if length > MAX_WORD_LENGTH {
            warn!(name: "word.skipped", { word.length = length }, "skipped a long word");
            continue;
        }
        words.push(word.to_lowercase());
    }
    debug!(words = total, "split into {total} words");
    tracing::Span::current().record("words.total", total);
    words
}

/// The `top` most frequent of `words`, most frequent first, ties in
/// alphabetical order.
#[instrument(skip(words))]
fn rank(words: &[String], top: u32) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in words {
        *counts.entry(word).or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(word, count)| (word.to_owned(), count))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(usize::try_from(top).unwrap_or(usize::MAX));

    if let Some((word, count)) = ranked.first() {
        info!(name: "word.top", word = word.as_str(), count, "most frequent word");
    }
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_text_ranks_the_before_and() {
        let top = count_words(DEFAULT_TEXT);
        assert_eq!(top, [("the".to_owned(), 3), ("and".to_owned(), 2)]);
    }

    #[test]
    fn long_words_are_skipped_and_case_is_folded() {
        let words = tokenize("The THE abcdefghijklmnopqrstuvwxyz");
        assert_eq!(words, ["the", "the"]);
    }

    #[test]
    fn ties_rank_alphabetically() {
        let words: Vec<String> = ["b", "a", "c"].map(String::from).into();
        let top = rank(&words, 2);
        assert_eq!(top, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    }
}
