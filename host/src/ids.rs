//! Trace and span ids: minting them for the host's own spans, and reading
//! the hex strings guests send, which are untrusted.

use opentelemetry::trace::{SpanId, TraceId};

/// A fresh random trace id, never the invalid all-zero one.
pub fn new_trace_id() -> TraceId {
    loop {
        let id = TraceId::from_bytes(random_bytes());
        if id != TraceId::INVALID {
            return id;
        }
    }
}

/// A fresh random span id, never the invalid all-zero one.
pub fn new_span_id() -> SpanId {
    loop {
        let id = SpanId::from_bytes(random_bytes());
        if id != SpanId::INVALID {
            return id;
        }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    // The OS random source failing is not something a run can recover
    // from, and it does not happen on the platforms Wasmtime supports.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// Hex digits in a trace id.
pub const TRACE_ID_HEX_LEN: usize = 32;
/// Hex digits in a span id.
pub const SPAN_ID_HEX_LEN: usize = 16;

/// Why an id from a guest was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadId {
    /// Not the right number of hex digits, or not hex at all.
    Malformed,
    /// All zeros: the invalid id.
    Zero,
}

/// Reads a trace id: exactly 32 hex digits, not all zeros.
pub fn parse_trace_id(text: &str) -> Result<TraceId, BadId> {
    let bytes: [u8; 16] = parse_hex(text)?;
    match TraceId::from_bytes(bytes) {
        TraceId::INVALID => Err(BadId::Zero),
        id => Ok(id),
    }
}

/// Reads a span id: exactly 16 hex digits, not all zeros.
pub fn parse_span_id(text: &str) -> Result<SpanId, BadId> {
    let bytes: [u8; 8] = parse_hex(text)?;
    match SpanId::from_bytes(bytes) {
        SpanId::INVALID => Err(BadId::Zero),
        id => Ok(id),
    }
}

/// Reads a parent span id, where an empty string or all zeros means "no
/// parent" and is not an error.
pub fn parse_parent_id(text: &str) -> Result<SpanId, BadId> {
    if text.is_empty() {
        return Ok(SpanId::INVALID);
    }
    match parse_span_id(text) {
        Err(BadId::Zero) => Ok(SpanId::INVALID),
        other => other,
    }
}

/// Reads an exemplar's id of `N` bytes: `2N` hex digits, or, as one guest
/// SDK sends them, `N` characters each standing for one byte (U+0000 to
/// U+00FF). All zeros is refused as for span ids.
pub fn parse_id_bytes<const N: usize>(text: &str) -> Result<[u8; N], BadId> {
    let bytes = match parse_hex::<N>(text) {
        Ok(bytes) => bytes,
        Err(_) if text.chars().count() == N => {
            let mut bytes = [0; N];
            for (byte, c) in bytes.iter_mut().zip(text.chars()) {
                *byte = u8::try_from(u32::from(c)).map_err(|_| BadId::Malformed)?;
            }
            bytes
        }
        Err(bad) => return Err(bad),
    };
    if bytes.iter().all(|&b| b == 0) {
        return Err(BadId::Zero);
    }
    Ok(bytes)
}

fn parse_hex<const N: usize>(text: &str) -> Result<[u8; N], BadId> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(BadId::Malformed);
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(bytes)
}

fn nibble(digit: u8) -> Result<u8, BadId> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(BadId::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_well_formed_ids() {
        let trace = parse_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let span = parse_span_id("00F067AA0BA902B7").unwrap();
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn refuses_bad_ids() {
        assert_eq!(parse_trace_id("42"), Err(BadId::Malformed));
        assert_eq!(parse_span_id("00f067aa0ba902bz"), Err(BadId::Malformed));
        assert_eq!(parse_span_id("00f067aa0ba902b7aa"), Err(BadId::Malformed));
        assert_eq!(parse_span_id("ü0f067aa0ba902b"), Err(BadId::Malformed));
        assert_eq!(parse_trace_id(&"0".repeat(32)), Err(BadId::Zero));
    }

    #[test]
    fn exemplar_ids_may_be_hex_or_raw_bytes() {
        assert_eq!(parse_id_bytes::<2>("0aff"), Ok([0x0a, 0xff]));
        assert_eq!(parse_id_bytes::<2>("\u{1}\u{ff}"), Ok([0x01, 0xff]));
        assert_eq!(parse_id_bytes::<2>("\u{100}a"), Err(BadId::Malformed));
        assert_eq!(parse_id_bytes::<2>("abc"), Err(BadId::Malformed));
        assert_eq!(parse_id_bytes::<2>("\0\0"), Err(BadId::Zero));
    }

    #[test]
    fn empty_or_zero_parent_is_root() {
        assert_eq!(parse_parent_id(""), Ok(SpanId::INVALID));
        assert_eq!(parse_parent_id("0000000000000000"), Ok(SpanId::INVALID));
        assert_eq!(parse_parent_id("xyz"), Err(BadId::Malformed));
    }

    #[test]
    fn minted_ids_are_valid_and_distinct() {
        assert_ne!(new_trace_id(), new_trace_id());
        assert_ne!(new_span_id(), SpanId::INVALID);
    }
}
