//! `cpu-bound ROUNDS`: mixes a 4 KiB buffer ROUNDS times, with no host
//! call inside the loop, and prints a checksum of the result and how long
//! the loop took:
//!
//! ```text
//! checksum 0123456789abcdef elapsed_ns T
//! ```
//!
//! The checksum depends only on ROUNDS, so runs under different limits
//! can be compared. A missing or non-numeric ROUNDS exits 2.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// Words in the buffer: 4 KiB, well inside the first cache level.
const WORDS: usize = 512;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let Some(rounds) = arg.as_deref().and_then(|n| n.parse::<u64>().ok()) else {
        let shown = arg.as_deref().unwrap_or("");
        eprintln!("error: ROUNDS `{shown}` is not a number (usage: cpu-bound ROUNDS)");
        return ExitCode::from(2);
    };

    let started = Instant::now();
    let checksum = mix(black_box(rounds));
    let elapsed = started.elapsed().as_nanos();

    println!("checksum {checksum:016x} elapsed_ns {elapsed}");
    ExitCode::SUCCESS
}

/// Loads, multiplies, rotates and stores every word of the buffer once a
/// round, carrying a state from word to word so nothing can be skipped.
fn mix(rounds: u64) -> u64 {
    let mut words = [0u64; WORDS];
    for (i, word) in words.iter_mut().enumerate() {
        *word = i as u64;
    }

    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..rounds {
        for word in &mut words {
            state = state
                .wrapping_mul(0x5851_f42d_4c95_7f2d)
                .wrapping_add(round);
            *word = (*word ^ state).rotate_left(17);
            state ^= *word >> 7;
        }
    }
    words
        .iter()
        .fold(state, |acc, &word| acc.rotate_left(5) ^ word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_changes_with_the_rounds() {
        assert_ne!(mix(1), mix(2));
        assert_eq!(mix(3), mix(3));
    }
}
