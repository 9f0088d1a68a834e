//! Pipelined commits (`Ledger::submit_batches`, the writer thread): the same log, byte for
//! byte, as committing batch after batch; a commit that fails on the writer fails every
//! commit after it, acknowledges nothing of them, and leaves the ledger's state equal to
//! the fold of what the store holds.

use planledger::checkpoint::CHECKPOINT_EVERY;
use planledger::clock::{CountingIds, SteppingClock};
use planledger::decide::Submission;
use planledger::ledger::{replay_store, Ack, Ledger};
use planledger::store::PARTITIONS_DIR;
use planledger::workload::{self, Workload};

const W: Workload = Workload { projects_per_year: 300, first_year: 2001, batch: 500 };

fn open(dir: &std::path::Path) -> Ledger {
    Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(0))).unwrap()
}

/// Every event with its chain hash (over its stored bytes), in log order.
fn log_of(ledger: &Ledger) -> Vec<(planledger::event::Event, [u8; 32])> {
    ledger.store().scan(1).map(|s| s.unwrap()).map(|s| (s.event, s.hash)).collect()
}

#[test]
fn pipelined_batches_write_the_same_log_as_one_batch_at_a_time() {
    let batches: Vec<Vec<Submission>> = W.batches(CHECKPOINT_EVERY + 3_000).collect();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut one_by_one = open(a.path());
    let mut expected: Vec<Ack> = Vec::new();
    for batch in &batches {
        expected.extend(one_by_one.submit(workload::ACTOR, batch, &|_| None).unwrap());
    }
    let mut pipelined = open(b.path());
    let mut acked: Vec<(usize, Vec<Ack>)> = Vec::new();
    pipelined.submit_batches(workload::ACTOR, &batches, &|_, _| None, &mut |i, acks| acked.push((i, acks))).unwrap();
    // Each batch acknowledged once, in order, with the acks a one-by-one submit gives.
    assert_eq!(acked.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..batches.len()).collect::<Vec<_>>());
    assert_eq!(acked.into_iter().flat_map(|(_, a)| a).collect::<Vec<_>>(), expected);
    assert_eq!(pipelined.store().head(), one_by_one.store().head());
    assert_eq!(log_of(&pipelined), log_of(&one_by_one));
    assert_eq!(pipelined.state(), one_by_one.state());
    // The same checkpoints were written with the commits that reached them.
    let seqs = |l: &Ledger| l.store().checkpoints().map(|c| c.unwrap().0).collect::<Vec<_>>();
    assert_eq!(seqs(&pipelined), seqs(&one_by_one));
    assert!(!seqs(&pipelined).is_empty());
    let v = planledger::verify::verify(pipelined.store()).unwrap();
    assert!(v.ok(), "{v:?}");
}

#[test]
fn a_commit_failing_on_the_writer_fails_the_ones_after_it_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = open(tmp.path());
    let mut batches = W.batches(CHECKPOINT_EVERY + 10_000);
    // Just short of the next checkpoint: the batch that reaches it writes partitions.
    let mut before = 0;
    while before + W.batch as u64 <= CHECKPOINT_EVERY - 100 {
        ledger.submit(workload::ACTOR, &batches.next().unwrap(), &|_| None).unwrap();
        before = ledger.store().head().events();
    }
    let rest: Vec<Vec<Submission>> = batches.collect();
    // A file where the partitions directory was: the checkpoint's partition cannot be written.
    let partitions = tmp.path().join(PARTITIONS_DIR);
    std::fs::rename(&partitions, tmp.path().join("partitions.away")).unwrap();
    std::fs::write(&partitions, b"not a directory").unwrap();
    let mut acked = Vec::new();
    let err = ledger
        .submit_batches(workload::ACTOR, &rest, &|_, _| None, &mut |i, acks| acked.push((i, acks.len())))
        .unwrap_err();
    assert!(err.to_string().contains("partitions"), "{err}");
    // Nothing of the failed commit or after it is in the store or acknowledged; what was
    // acknowledged is there.
    let acked_events: usize = acked.iter().map(|(_, n)| n).sum();
    assert_eq!(ledger.store().head().events(), before + acked_events as u64);
    assert!(ledger.store().head().events() < CHECKPOINT_EVERY);
    // The ledger's state is the fold of the store again (no event of the failed commits).
    assert_eq!(ledger.state(), &replay_store(ledger.store(), u64::MAX).unwrap());
    // Once the disk is right again, the same batches go on from where the store is.
    std::fs::remove_file(&partitions).unwrap();
    std::fs::rename(tmp.path().join("partitions.away"), &partitions).unwrap();
    let resume: Vec<&Vec<Submission>> = rest.iter().skip(acked.len()).collect();
    ledger.submit_batches(workload::ACTOR, resume.iter().map(|b| b.as_slice()), &|_, _| None, &mut |_, _| ()).unwrap();
    assert!(ledger.store().head().events() > CHECKPOINT_EVERY);
    assert!(ledger.store().checkpoints().count() >= 1);
    let v = planledger::verify::verify(ledger.store()).unwrap();
    assert!(v.ok(), "{v:?}");
    let state = ledger.state().clone();
    drop(ledger);
    assert_eq!(open(tmp.path()).state(), &state, "reopened: the same state");
}
