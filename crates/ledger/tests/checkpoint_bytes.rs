//! Checkpoints stay a bounded fraction of the log whatever the plans' shape: one large plan
//! whose every project reports each month is checkpointed only once the log since the last
//! checkpoint is `CHECKPOINT_LOG_RATIO` times what the checkpoint rewrites, while a ledger of
//! small plans keeps a checkpoint every `CHECKPOINT_EVERY` events.

use std::path::Path;

use planledger::checkpoint::CHECKPOINT_EVERY;
use planledger::clock::{CountingIds, SteppingClock};
use planledger::ledger::Ledger;
use planledger::store::Store;
use planledger::workload::{self, Workload};

fn dir_bytes(dir: &Path) -> u64 {
    let size = |e: std::fs::DirEntry| match e.metadata() {
        Ok(m) if m.is_dir() => dir_bytes(&e.path()),
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    std::fs::read_dir(dir).map(|rd| rd.flatten().map(size).sum()).unwrap_or(0)
}

fn open(dir: &Path) -> Ledger {
    Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(1 << 64)))
        .unwrap()
}

fn checkpoint_seqs(store: &dyn Store) -> Vec<u64> {
    store.checkpoints().map(|c| c.unwrap().0).collect()
}

#[test]
fn a_large_plan_is_checkpointed_by_its_size_small_plans_by_the_count() {
    let big = tempfile::tempdir().unwrap();
    let mut ledger = open(big.path());
    ledger
        .submit_batches(workload::ACTOR, workload::side_by_side(1, 15_000, 12, 1_000), &|_, _| None, &mut |_, _| {})
        .unwrap();
    let seqs = checkpoint_seqs(ledger.store());
    let events = ledger.store().head().events();
    assert!(events > 180_000, "{events}");
    // The first is taken whole at the count; later ones wait for the log to outgrow the plan.
    assert!(seqs.len() >= 2 && seqs[0] >= CHECKPOINT_EVERY && seqs[0] < 2 * CHECKPOINT_EVERY, "{seqs:?}");
    let last_gap = seqs[seqs.len() - 1] - seqs[seqs.len() - 2];
    assert!(last_gap > 3 * CHECKPOINT_EVERY, "checkpoints at {seqs:?} of {events} events");
    let (log, partitions) = (dir_bytes(&big.path().join("log")), dir_bytes(&big.path().join("partitions")));
    assert!(partitions * 3 < log, "partitions {partitions} B, log {log} B");
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
    drop(ledger);
    // Reopened (the tail scanned again, the partition sizes read from the store), the rule
    // holds the same: one more month of reports takes no checkpoint while the log is short.
    let mut ledger = open(big.path());
    let last = *checkpoint_seqs(ledger.store()).last().unwrap();
    assert!(ledger.store().head().events() - last >= CHECKPOINT_EVERY, "the tail is past the count");
    let investment = workload::investments(ledger.store(), 1).unwrap()[0];
    let more = workload::correction(investment, 77, "复核");
    ledger.submit(workload::ACTOR, &[more], &|_| None).unwrap();
    assert_eq!(*checkpoint_seqs(ledger.store()).last().unwrap(), last);

    let small = tempfile::tempdir().unwrap();
    let mut ledger = open(small.path());
    let w = Workload { projects_per_year: 30, first_year: 2001, batch: 1_000 };
    ledger.submit_batches(workload::ACTOR, w.batches(70_000), &|_, _| None, &mut |_, _| {}).unwrap();
    let seqs = checkpoint_seqs(ledger.store());
    let events = ledger.store().head().events();
    assert!(seqs.len() as u64 >= events / (CHECKPOINT_EVERY + 2_000), "{seqs:?} for {events} events");
}
