//! Trace and span ids: random, never all zeros, as lowercase hexadecimal.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Hexadecimal digits in a trace id (16 bytes).
pub(crate) const TRACE_ID_LEN: usize = 32;

/// Hexadecimal digits in a span id (8 bytes).
pub(crate) const SPAN_ID_LEN: usize = 16;

/// A fresh trace id: 16 random bytes as 32 lowercase hexadecimal digits.
pub(crate) fn trace_id() -> String {
    hex(&random_bytes::<16>())
}

/// A fresh span id: 8 random bytes as 16 lowercase hexadecimal digits.
pub(crate) fn span_id() -> String {
    hex(&random_bytes::<8>())
}

/// `id` in lowercase if it is `len` hexadecimal digits, not all zeros.
pub(crate) fn normalize(id: &str, len: usize) -> Option<String> {
    let valid = id.len() == len
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && id.bytes().any(|b| b != b'0');
    valid.then(|| id.to_ascii_lowercase())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];

    // All zeros is the invalid id, so draw again in that unlikely case.
    while bytes.iter().all(|&b| b == 0) {
        fill(&mut bytes);
    }
    bytes
}

/// Fills `bytes` from a SplitMix64 sequence seeded once from the WASI
/// random source (from the clock should that fail), as SDKs draw ids from
/// a fast generator seeded once rather than from the system for each id:
/// an id then costs no call to the host. The sequence visits every 64-bit
/// value once before repeating, so ids never repeat within a run; being
/// derived from one seed, they are unpredictable only to those who have
/// not seen earlier ones, which ids never needed to be.
fn fill(bytes: &mut [u8]) {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }

    for chunk in bytes.chunks_mut(8) {
        let next = STATE.with(|state| {
            let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(next);
            next
        });
        chunk.copy_from_slice(&mix(next).to_le_bytes()[..chunk.len()]);
    }
}

/// The generator's seed: random, or from the clock when the random source
/// fails.
fn seed() -> u64 {
    let mut seed = [0u8; 8];
    match getrandom::fill(&mut seed) {
        Ok(()) => u64::from_le_bytes(seed),
        Err(_) => clock_seed(),
    }
}

fn clock_seed() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_nanos() as u64
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `bytes` as lowercase hexadecimal digits.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_lower_hex(id: &str) -> bool {
        id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn trace_ids_are_32_lowercase_hex_digits_and_not_zero() {
        for _ in 0..100 {
            let id = trace_id();
            assert_eq!(id.len(), TRACE_ID_LEN, "{id}");
            assert!(is_lower_hex(&id), "{id}");
            assert!(id.bytes().any(|b| b != b'0'), "{id}");
        }
    }

    #[test]
    fn span_ids_are_16_lowercase_hex_digits_and_not_zero() {
        for _ in 0..100 {
            let id = span_id();
            assert_eq!(id.len(), SPAN_ID_LEN, "{id}");
            assert!(is_lower_hex(&id), "{id}");
            assert!(id.bytes().any(|b| b != b'0'), "{id}");
        }
    }

    #[test]
    fn ids_differ_from_one_draw_to_the_next() {
        assert_ne!(trace_id(), trace_id());
        assert_ne!(span_id(), span_id());
    }

    #[test]
    fn hex_encodes_every_nibble_in_lowercase() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab]), "0123456789ab");
    }

    #[test]
    fn fill_gives_distinct_nonzero_ids() {
        let mut first = [0u8; 16];
        let mut second = [0u8; 16];
        fill(&mut first);
        fill(&mut second);
        assert_ne!(first, [0; 16]);
        assert_ne!(first, second);

        // A length that is not a multiple of 8 is filled to the end.
        let mut odd = [0u8; 12];
        fill(&mut odd);
        assert_ne!(odd[8..], [0; 4]);
    }

    #[test]
    fn normalize_accepts_hex_of_the_right_length_in_lowercase() {
        assert_eq!(
            normalize("4BF92F3577B34DA6A3CE929D0E0E4736", TRACE_ID_LEN).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            normalize("00f067aa0ba902b7", SPAN_ID_LEN).as_deref(),
            Some("00f067aa0ba902b7")
        );
    }

    #[test]
    fn normalize_rejects_zeros_wrong_lengths_and_non_hex() {
        assert_eq!(normalize(&"0".repeat(32), TRACE_ID_LEN), None);
        assert_eq!(normalize("", SPAN_ID_LEN), None);
        assert_eq!(normalize("00f067aa0ba902b", SPAN_ID_LEN), None);
        assert_eq!(normalize("00f067aa0ba902b77", SPAN_ID_LEN), None);
        assert_eq!(normalize("00f067aa0ba902bg", SPAN_ID_LEN), None);
        assert_eq!(normalize("00f067aa0ba902b\u{e9}", 17), None);
    }
}
