//! A stream's trail folded on its own (`audit::stream_trail`, what the web view's project
//! page shows) gives the same rows as the whole log's trail (`audit::trail`, what `audit
//! --entity` prints) for that stream's events: for projects with corrections and
//! retractions, in plans after the first.

use planledger::audit::{self, Filter};
use planledger::clock::{CountingIds, SteppingClock};
use planledger::event::{plan_stream, project_stream};
use planledger::ledger::Ledger;
use planledger::workload::{self, Workload};

#[test]
fn a_streams_own_fold_gives_the_whole_logs_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(
        dir.path(),
        Box::new(SteppingClock::new(workload::clock_start(), 1_000)),
        Box::new(CountingIds(1 << 64)),
    )
    .unwrap();
    let w = Workload { projects_per_year: 60, first_year: 2001, batch: 500 };
    ledger.submit_batches(workload::ACTOR, w.batches(5_000), &|_, _| None, &mut |_, _| {}).unwrap();
    let store = ledger.store();
    let head = store.head().events();
    let mut streams: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for e in store.events(1) {
        let e = e.unwrap();
        streams.entry(e.payload.stream()).or_default().push(e.seq);
    }
    let mut compared = 0;
    let mut amended = 0;
    for plan in ["w-2001", "w-2002"] {
        let plan_seq = streams[&plan_stream(plan)][0];
        let prefix = project_stream(plan, "");
        let mut ids: Vec<String> =
            streams.keys().filter_map(|s| s.strip_prefix(prefix.as_str())).map(str::to_string).collect();
        ids.sort();
        for id in ids {
            let seqs = &streams[&project_stream(plan, &id)];
            let ours = audit::stream_trail(store, plan_seq, seqs).unwrap();
            let filter = Filter { entity: Some(id.clone()), actor: None, kind: None, since: None, until: None };
            let theirs: Vec<_> =
                audit::trail(store, head, &filter).unwrap().into_iter().filter(|r| r["plan"] == plan).collect();
            assert_eq!(ours, theirs, "{plan} {id}");
            compared += ours.len();
            amended += ours.iter().filter(|r| r["type"] == "correct" || r["type"] == "retract").count();
        }
    }
    assert!(compared > 100 && amended > 0, "{compared} rows, {amended} amendments compared");
}
