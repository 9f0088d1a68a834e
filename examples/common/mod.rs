//! What the profiling examples share: a fresh ledger on the synthetic workload, a correction
//! to submit again and again, and the CPU a process or thread has used.
#![allow(dead_code)] // each example uses part of it

use std::path::Path;

use planledger::decide::Submission;
use planledger::ledger::Ledger;
use planledger::workload::{self, Workload};

/// The workload the profiles run: thousands of projects a year, from 1950 on.
pub fn workload(batch: usize) -> Workload {
    Workload { projects_per_year: 3_000, first_year: 1950, batch }
}

/// A ledger in `dir`, emptied first, with a stepping clock and counting ids (as the bench).
pub fn fresh_ledger(dir: &Path) -> Ledger {
    let _ = std::fs::remove_dir_all(dir);
    Ledger::open(
        dir,
        Box::new(planledger::clock::SteppingClock::new(workload::clock_start(), 1_000)),
        Box::new(planledger::clock::CountingIds(1 << 64)),
    )
    .unwrap()
}

/// A correction of the investment at `target` to `cents` / 100 (each value a new event).
pub fn correction(target: u64, cents: i64) -> Submission {
    workload::correction(target, cents, "r")
}

/// User + system CPU seconds from a `/proc/.../stat` file (fields 14 and 15, in ticks of 10 ms):
/// `/proc/self/stat` for the process, `/proc/thread-self/stat` for the calling thread.
pub fn cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
