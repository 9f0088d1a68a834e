//! Injected sources of time and identity, so the ledger is deterministic under test.

use uuid::Uuid;

use crate::model::Timestamp;

pub trait Clock: Send {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(chrono::Utc::now().timestamp_micros())
    }
}

/// A clock stopped at one instant (tests, `PLANLEDGER_NOW`).
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

pub trait IdSource: Send {
    fn next_id(&mut self) -> Uuid;
}

/// UUID v7: time-ordered, random low bits.
pub struct V7Ids;

impl IdSource for V7Ids {
    fn next_id(&mut self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Ids 1, 2, 3, ... as UUIDs: deterministic, for tests.
pub struct CountingIds(pub u128);

impl IdSource for CountingIds {
    fn next_id(&mut self) -> Uuid {
        self.0 += 1;
        Uuid::from_u128(self.0)
    }
}

/// A clock that moves forward by `step` microseconds on every reading: deterministic and
/// strictly increasing, for benchmarks and tests that query by time.
pub struct SteppingClock {
    next: std::sync::atomic::AtomicI64,
    step: i64,
}

impl SteppingClock {
    pub fn new(start: Timestamp, step_micros: i64) -> SteppingClock {
        SteppingClock { next: std::sync::atomic::AtomicI64::new(start.0), step: step_micros }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.next.fetch_add(self.step, std::sync::atomic::Ordering::Relaxed))
    }
}
