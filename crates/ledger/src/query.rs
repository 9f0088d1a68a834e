//! Questions about the past. Transaction time: `--as-of <SEQ | RFC 3339>` answers with what
//! the ledger had recorded at that point, ignoring every later event (later corrections too).

use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::projection::State;
use crate::store::Store;

/// A point of transaction time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Seq(u64),
    /// An instant (RFC 3339 with an offset).
    Time(Timestamp),
    /// A time typed without an offset ("2022-01-15", "2022-01-15T09:30:00"), read in the
    /// ledger's time zone when resolved: held as that wall-clock time taken as UTC.
    Local(Timestamp),
}

impl AsOf {
    pub fn parse(text: &str) -> Result<AsOf> {
        if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) {
            return text.parse().map(AsOf::Seq).map_err(|_| Error::invalid(msg!("query.as_of_not_seq", value = text)));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::Time(Timestamp(t.timestamp_micros())));
        }
        Timestamp::parse_in("--as-of", text, crate::model::TimeZone::UTC).map(AsOf::Local)
    }
}

/// The last seq recorded at `as_of` (0 when nothing was).
pub fn resolve(store: &dyn Store, as_of: AsOf) -> Result<u64> {
    let head = store.head();
    let as_of = match as_of {
        AsOf::Local(t) => {
            let zone = crate::zone::load(store)?;
            AsOf::Time(Timestamp(t.0 - i64::from(zone.offset_seconds) * 1_000_000))
        }
        other => other,
    };
    match as_of {
        AsOf::Local(_) => unreachable!("converted just above"),
        AsOf::Seq(s) if s > head.events() => {
            Err(Error::invalid(msg!("query.as_of_beyond_end", seq = s, events = head.events())))
        }
        AsOf::Seq(s) => Ok(s),
        AsOf::Time(t) if t >= head.last_recorded_at => Ok(head.events()),
        AsOf::Time(t) => {
            // recorded_at never decreases along the log: binary search the last seq at or
            // before `t`, reading one event per probe (O(log n), no scan).
            let (mut lo, mut hi) = (0u64, head.events());
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                let at = store
                    .get(mid)?
                    .ok_or_else(|| Error::corrupt(mid, msg!("query.missing_from_log")))?
                    .event
                    .recorded_at;
                if at <= t {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            Ok(lo)
        }
    }
}

/// The state as it was right after `seq` (from the nearest checkpoint, then the tail).
pub fn state_at(store: &dyn Store, seq: u64) -> Result<State> {
    crate::checkpoint::state_at(store, seq, None)
}

/// As `state_at`, loading and folding only `plans`: what a question about them needs.
pub fn plans_at(store: &dyn Store, seq: u64, plans: &[String]) -> Result<State> {
    crate::checkpoint::state_at(store, seq, Some(plans))
}
