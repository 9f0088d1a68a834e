//! A ledger opened for its submissions (`Ledger::open_for`: only the plans they need, the
//! store's id index instead of every id in memory) decides exactly as a whole one: the same
//! acknowledgements, the same refusals in the same words, the same events byte for byte,
//! across checkpoints, resends, corrections named by id, and a store reopened for each
//! submission as the CLI does.

use std::path::Path;

use planledger::clock::{CountingIds, SteppingClock};
use planledger::decide::{Command, EventRef, Submission};
use planledger::ledger::Ledger;
use planledger::store::Store;
use planledger::workload::{self, Workload};
use rust_decimal::Decimal;

fn clock(at: i64) -> Box<SteppingClock> {
    Box::new(SteppingClock::new(planledger::model::Timestamp(workload::clock_start().0 + at), 1_000))
}

/// Submits `sub` as a one-shot process would, scoped or whole; the outcome as text.
fn one_shot(dir: &Path, scoped: bool, i: usize, sub: &Submission) -> (String, bool) {
    let ids = Box::new(CountingIds((1 << 100) + (i as u128) * 1_000));
    let at = (i as i64) * 1_000_000;
    let subs = std::slice::from_ref(sub);
    let mut ledger = if scoped {
        Ledger::open_for(dir, clock(at), ids, subs).unwrap()
    } else {
        Ledger::open(dir, clock(at), ids).unwrap()
    };
    let opened_scoped = !ledger.is_whole();
    let outcome = match ledger.submit(workload::ACTOR, subs, &|_| None) {
        Ok(acks) => format!("{acks:?}"),
        Err(e) => format!("refused: {e}"),
    };
    (outcome, opened_scoped)
}

#[test]
fn a_ledger_scoped_to_its_submissions_decides_as_a_whole_one() {
    let w = Workload { projects_per_year: 40, first_year: 2001, batch: 1 };
    let all: Vec<Submission> = w.batches(18_000).flatten().collect();
    let base = tempfile::tempdir().unwrap();
    let mut submitted = 0;
    {
        let mut ledger = Ledger::open(base.path(), clock(0), Box::new(CountingIds(1 << 64))).unwrap();
        // Up to a little before the first checkpoint, so the one-shots below cross it.
        while ledger.store().head().events() + 120 < planledger::checkpoint::CHECKPOINT_EVERY {
            let near = ledger.store().head().events() + 2_000 > planledger::checkpoint::CHECKPOINT_EVERY;
            let n = if near { 1 } else { 100 };
            ledger.submit(workload::ACTOR, &all[submitted..submitted + n], &|_| None).unwrap();
            submitted += n;
        }
    }
    let after = &all[submitted..submitted + 200];
    let (scoped, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [scoped.path(), whole.path()] {
        copy_dir(base.path(), dir);
    }
    // What a clerk sends: the workload's next submissions one at a time, then resends of
    // some of them, a correction named by id, and mistakes.
    let mut subs: Vec<Submission> = after.to_vec();
    subs.extend(after.iter().step_by(25).cloned());
    let recorded_id = after.iter().find_map(|s| match s.command {
        Command::Investment { .. } => s.id,
        _ => None,
    });
    let recorded_id = recorded_id.expect("the workload reports investments");
    let correct = |event: EventRef, cents: i64| Submission {
        signature: None,
        id: None,
        note: None,
        command: Command::Correct { event, value: Decimal::new(cents, 2), reason: "复核更正".into() },
    };
    subs.push(correct(EventRef::Id(recorded_id), 12_345));
    subs.push(correct(EventRef::Id(uuid::Uuid::from_u128(99)), 1));
    let unknown = Command::Investment {
        project: "w-2001-p0001x".into(),
        period: planledger::model::Month::parse("period", "2001-03").unwrap(),
        amount: Decimal::new(5, 0),
    };
    subs.push(Submission { signature: None, id: None, note: None, command: unknown });
    let mut scoped_opens = 0;
    let mut refusals = 0;
    for (i, sub) in subs.iter().enumerate() {
        let (theirs, _) = one_shot(whole.path(), false, i, sub);
        let (ours, opened_scoped) = one_shot(scoped.path(), true, i, sub);
        assert_eq!(ours, theirs, "submission {i}: {sub:?}");
        scoped_opens += usize::from(opened_scoped);
        refusals += usize::from(ours.starts_with("refused"));
    }
    assert!(scoped_opens * 10 > subs.len() * 9, "{scoped_opens} of {} opened scoped", subs.len());
    assert!(refusals >= 2, "{refusals} refusals compared");
    let duplicates = subs.len() - after.len();
    assert!(duplicates > 5);
    let a = planledger::store::EmbeddedStore::open(scoped.path()).unwrap();
    let b = planledger::store::EmbeddedStore::open(whole.path()).unwrap();
    assert_eq!(a.head(), b.head(), "the same events, hash chain and Merkle tree");
    let events = |s: &dyn Store| s.events(1).map(|e| e.unwrap()).collect::<Vec<_>>();
    assert_eq!(events(&a), events(&b));
    let checkpoints = |s: &dyn Store| s.checkpoints().map(|c| c.unwrap()).collect::<Vec<_>>();
    assert_eq!(checkpoints(&a).len(), 1, "the one-shots took the first checkpoint");
    assert_eq!(checkpoints(&a), checkpoints(&b));
    assert!(planledger::verify::verify(&a).unwrap().ok());
    // The id index answers for every event.
    for e in a.events(1).step_by(97) {
        let e = e.unwrap();
        assert_eq!(a.seq_of_id(&e.id).unwrap(), Some(e.seq));
    }
    assert_eq!(a.seq_of_id(&uuid::Uuid::from_u128(99)).unwrap(), None);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
