//! The store's indexes on disk (the id index; the listings index, which says which plans
//! list a project) are checked by `verify` against the log, rebuilt by `repair`, and built
//! from the log for a store an older build wrote.

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

fn runs(dir: &Path, index: &str) -> usize {
    std::fs::read_dir(dir.join(index)).map_or(0, |d| d.count())
}

#[test]
fn verify_checks_the_indexes_on_disk_and_repair_rebuilds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = Workload { projects_per_year: 60, first_year: 2001, batch: 1_000 };
    open(dir).submit_batches(workload::ACTOR, w.batches(40_000), &|_, _| None, &mut |_, _| {}).unwrap();
    assert_eq!((runs(dir, "ids"), runs(dir, "listings")), (2, 2), "two runs of 16,384 events each, the rest in memory");
    verified(dir).unwrap();

    // A run that reads back whole but maps two ids to each other's seqs.
    test_hooks::swap_in_run(dir, false).unwrap();
    let err = verified(dir).unwrap_err();
    assert!(err.contains("run 1..=16384 of the store's ids index"), "{err}");
    planledger::repair::repair(dir, false).unwrap();
    assert_eq!((runs(dir, "ids"), runs(dir, "listings")), (0, 0), "repair removes the indexes");
    verified(dir).unwrap();
    // The next write builds them again from the log.
    let investment = workload::investments(&EmbeddedStore::open_read_only(dir).unwrap(), 1).unwrap()[0];
    open(dir).submit(workload::ACTOR, &[workload::correction(investment, 5, "复核")], &|_| None).unwrap();
    assert_eq!((runs(dir, "ids"), runs(dir, "listings")), (2, 2));
    verified(dir).unwrap();

    // Two listings swapped: each seq now claims the other's project.
    test_hooks::swap_in_run(dir, true).unwrap();
    let err = verified(dir).unwrap_err();
    assert!(err.contains("of the store's listings index"), "{err}");
    planledger::repair::repair(dir, false).unwrap();
    verified(dir).unwrap();
}

#[test]
fn a_store_without_the_indexes_answers_from_the_log_and_its_first_writer_builds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = Workload { projects_per_year: 30, first_year: 2001, batch: 500 };
    open(dir).submit_batches(workload::ACTOR, w.batches(40_000), &|_, _| None, &mut |_, _| {}).unwrap();
    let listing = EmbeddedStore::open_read_only(dir).unwrap().plans_listing("p-1").unwrap().unwrap();
    assert_eq!(listing, ["w-2001", "w-2002", "w-2003"], "a project is listed three years");
    // As a store an older build wrote: no indexes on disk.
    for index in ["ids", "listings"] {
        std::fs::remove_dir_all(dir.join(index)).unwrap();
    }
    // Read-only, the answers come from the log, and nothing is written...
    let store = EmbeddedStore::open_read_only(dir).unwrap();
    assert_eq!(store.plans_listing("p-1").unwrap().unwrap(), listing);
    assert_eq!(store.seq_of_id(&store.get_event(777).unwrap().unwrap().id).unwrap(), Some(777));
    drop(store);
    assert!(!dir.join("listings").exists() && !dir.join("ids").exists());
    // ...and the first writable use builds the runs.
    let store = EmbeddedStore::open(dir).unwrap();
    assert_eq!(store.plans_listing("p-1").unwrap().unwrap(), listing);
    assert_eq!(store.plans_defining("ind-03").unwrap().unwrap().len(), plans_count(&store));
    assert_eq!(runs(dir, "listings"), 2);
    drop(store);
    verified(dir).unwrap();
}

fn plans_count(store: &dyn Store) -> usize {
    let global = planledger::checkpoint::state_at(store, u64::MAX, Some(&[])).unwrap();
    global.years.values().map(Vec::len).sum()
}
