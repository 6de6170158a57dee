//! The wall clock that timestamps spans and events.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::Datetime;

/// The current wall-clock time. On wasm32-wasip1 `SystemTime` reads the
/// WASI wall clock; a clock set before 1970 reads as the epoch itself.
pub(crate) fn now() -> Datetime {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Datetime {
        seconds: since_epoch.as_secs(),
        nanoseconds: since_epoch.subsec_nanos(),
    }
}

/// Whether `a` is earlier than `b`.
pub(crate) fn is_before(a: &Datetime, b: &Datetime) -> bool {
    (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
}

/// The later of `a` and `b`.
pub(crate) fn later(a: Datetime, b: Datetime) -> Datetime {
    if is_before(&a, &b) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, nanoseconds: u32) -> Datetime {
        Datetime {
            seconds,
            nanoseconds,
        }
    }

    #[test]
    fn now_is_after_the_epoch_and_well_formed() {
        let now = now();
        assert!(now.seconds > 1_600_000_000, "{now:?}");
        assert!(now.nanoseconds < 1_000_000_000, "{now:?}");
    }

    #[test]
    fn is_before_compares_seconds_then_nanoseconds() {
        assert!(is_before(&at(1, 999_999_999), &at(2, 0)));
        assert!(is_before(&at(2, 0), &at(2, 1)));
        assert!(!is_before(&at(2, 1), &at(2, 1)));
        assert!(!is_before(&at(3, 0), &at(2, 999_999_999)));
    }

    #[test]
    fn later_picks_the_later_time_in_either_order() {
        let (early, late) = (at(5, 900), at(6, 100));
        assert_eq!(later(early, late).seconds, 6);
        assert_eq!(later(late, early).seconds, 6);
        assert_eq!(later(at(5, 1), at(5, 2)).nanoseconds, 2);
    }
}
