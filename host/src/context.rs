//! The caller's trace context, read from a W3C `traceparent` value such as
//! the `TRACEPARENT` environment variable carries.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// Reads `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, with the
/// `tracestate` header value beside it when there is one. A trace state
/// that cannot be read is left out, as the W3C specification asks.
///
/// Returns what is wrong with the value when it cannot be used.
pub fn parse_traceparent(value: &str, state: Option<&str>) -> Result<SpanContext, String> {
    const EXPECTED: &str = "expected `00-<32 hex digits>-<16 hex digits>-<2 hex digits>`";

    let fields: Vec<&str> = value.trim().split('-').collect();
    // A later version may add fields after these four; version 00 may not.
    let [version, trace_id, span_id, flags, ..] = fields.as_slice() else {
        return Err(format!("not a W3C traceparent ({EXPECTED})"));
    };
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !hex(version, 2) || *version == "ff" {
        return Err(format!("version `{version}` is not supported ({EXPECTED})"));
    }
    if *version == "00" && fields.len() != 4 {
        return Err(format!("not a W3C traceparent ({EXPECTED})"));
    }
    if !hex(trace_id, 32) || !hex(span_id, 16) || !hex(flags, 2) {
        return Err(format!("not a W3C traceparent ({EXPECTED})"));
    }

    let trace_id = TraceId::from_hex(trace_id).map_err(|_| "bad trace id".to_owned())?;
    let span_id = SpanId::from_hex(span_id).map_err(|_| "bad span id".to_owned())?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return Err("its trace id or span id is all zeros".to_owned());
    }
    let flags = u8::from_str_radix(flags, 16).map_err(|_| "bad flags".to_owned())?;
    let state = state
        .and_then(|state| state.parse::<TraceState>().ok())
        .unwrap_or_default();
    Ok(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags & TraceFlags::SAMPLED.to_u8()),
        true,
        state,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_becomes_a_remote_parent() {
        let context = parse_traceparent(VALID, Some("vendor=value,other=x")).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled());
        assert!(context.is_remote());
        assert_eq!(context.trace_state().get("vendor"), Some("value"));
    }

    #[test]
    fn a_later_version_is_read_as_far_as_version_00_goes() {
        let value = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        let context = parse_traceparent(value, None).unwrap();
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn unsampled_flags_are_kept() {
        let value = VALID.replace("-01", "-00");
        assert!(!parse_traceparent(&value, None).unwrap().is_sampled());
    }

    #[test]
    fn a_bad_trace_state_is_left_out() {
        let context = parse_traceparent(VALID, Some("not a trace state")).unwrap();
        assert_eq!(context.trace_state().header(), "");
    }

    #[test]
    fn invalid_values_say_what_is_wrong() {
        for value in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse_traceparent(value, None).is_err(), "{value}");
        }
    }
}
