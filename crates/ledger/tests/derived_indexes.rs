//! The store's derived indexes (the catalogue of which plans list a project, the id index on
//! disk) are checked by `verify` against the log, rebuilt by `repair`, and caught up from the
//! log for a store an older build wrote.

use std::path::Path;

use planledger::clock::{CountingIds, SteppingClock};
use planledger::ledger::Ledger;
use planledger::store::{test_hooks, EmbeddedStore, Store};
use planledger::workload::{self, Workload};

fn open(dir: &Path) -> Ledger {
    Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(1 << 64)))
        .unwrap()
}

fn verified(dir: &Path) -> Result<(), String> {
    let store = EmbeddedStore::open_read_only(dir).unwrap();
    let v = planledger::verify::verify(&store).unwrap();
    match v.problem {
        None => Ok(()),
        Some(p) => Err(p.what.render(planledger::Lang::En)),
    }
}

fn runs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("ids")).map_or(0, |d| d.count())
}

#[test]
fn verify_checks_the_catalogue_and_the_id_index_and_repair_rebuilds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = Workload { projects_per_year: 60, first_year: 2001, batch: 1_000 };
    open(dir).submit_batches(workload::ACTOR, w.batches(40_000), &|_, _| None, &mut |_, _| {}).unwrap();
    assert_eq!(runs(dir), 2, "two runs of 16,384 ids, the rest in memory");
    verified(dir).unwrap();

    // A run that reads back whole but maps two ids to each other's seqs.
    test_hooks::swap_in_id_run(dir).unwrap();
    let err = verified(dir).unwrap_err();
    assert!(err.contains("id index run 1..=16384"), "{err}");
    planledger::repair::repair(dir, false).unwrap();
    assert_eq!(runs(dir), 0, "repair removes the id index");
    verified(dir).unwrap();
    // The next write builds it again from the log.
    let investment = workload::investments(&EmbeddedStore::open_read_only(dir).unwrap(), 1).unwrap()[0];
    open(dir).submit(workload::ACTOR, &[workload::correction(investment, 5, "复核")], &|_| None).unwrap();
    assert_eq!(runs(dir), 2);
    verified(dir).unwrap();

    // A listing the catalogue lost.
    test_hooks::forget_listing(dir, "p-0", "w-2001").unwrap();
    let err = verified(dir).unwrap_err();
    assert!(err.contains("catalogue lacks the listing"), "{err}");
    planledger::repair::repair(dir, false).unwrap();
    verified(dir).unwrap();
}

#[test]
fn a_store_without_a_catalogue_is_caught_up_on_its_next_writable_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = Workload { projects_per_year: 30, first_year: 2001, batch: 500 };
    open(dir).submit_batches(workload::ACTOR, w.batches(3_000), &|_, _| None, &mut |_, _| {}).unwrap();
    let listing = EmbeddedStore::open_read_only(dir).unwrap().plans_listing("p-1").unwrap().unwrap();
    assert_eq!(listing, ["w-2001", "w-2002", "w-2003"], "a project is listed three years");
    test_hooks::forget_catalogue(dir).unwrap();
    // Read-only, it cannot tell (and a ledger then folds every plan)...
    assert_eq!(EmbeddedStore::open_read_only(dir).unwrap().plans_listing("p-1").unwrap(), None);
    // ...and the first writable open catches it up from the log.
    let store = EmbeddedStore::open(dir).unwrap();
    assert_eq!(store.plans_listing("p-1").unwrap().unwrap(), listing);
    assert_eq!(store.plans_defining("ind-03").unwrap().unwrap().len(), plans_count(&store));
    drop(store);
    verified(dir).unwrap();
}

fn plans_count(store: &dyn Store) -> usize {
    let global = planledger::checkpoint::state_at(store, u64::MAX, Some(&[])).unwrap();
    global.years.values().map(Vec::len).sum()
}
