//! Checkpoints: a point-in-time state built from a checkpoint and the tail equals the fold of
//! the whole log up to that point, for the whole state and for one plan; a damaged
//! checkpoint is caught by `verify` and by the query that would have used it.

use planledger::checkpoint::{self, CHECKPOINT_EVERY};
use planledger::clock::{CountingIds, SteppingClock};
use planledger::ledger::Ledger;
use planledger::projection::{self, State};
use planledger::report;
use planledger::workload::{self, Workload};

fn build(dir: &std::path::Path, events: u64) -> Ledger {
    let mut ledger =
        Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(0)))
            .unwrap();
    let w = Workload { projects_per_year: 300, first_year: 2001, batch: 500 };
    for batch in w.batches(events) {
        ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
    }
    ledger
}

/// The fold of events 1..=seq, with no checkpoint involved.
fn fold_to(ledger: &Ledger, seq: u64) -> State {
    let mut s = State::default();
    for e in ledger.store().events(1) {
        let e = e.unwrap();
        if e.seq > seq {
            break;
        }
        projection::apply(&mut s, &e);
    }
    s
}

/// With a checkpoint damaged, the ledger still takes a correction; then `repair` runs through
/// the binary, successfully: its stdout.
fn correct_then_repair(dir: &std::path::Path) -> String {
    let mut ledger =
        Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(1 << 80)))
            .unwrap();
    let target = workload::investments(ledger.store(), 1).unwrap()[0];
    ledger.submit(workload::ACTOR, &[workload::correction(target, 99_999, "复核")], &|_| None).unwrap();
    drop(ledger);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planledger"))
        .args(["--store", dir.to_str().unwrap(), "repair"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn point_in_time_from_checkpoints_equals_the_full_fold() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 3 * CHECKPOINT_EVERY + 5_000);
    let store = ledger.store();
    let checkpoints: Vec<u64> = store.checkpoints().map(|c| c.unwrap().0).collect();
    assert!(checkpoints.len() >= 3, "{checkpoints:?}");
    let head = store.head().events();
    assert_eq!(&checkpoint::state_at(store, head, None).unwrap(), ledger.state());
    // Points right at, just after and between checkpoints.
    let mut points = vec![1, 17, head];
    for &c in &checkpoints {
        points.extend([c, c + 1, c + 2_345]);
    }
    for seq in points.into_iter().filter(|&s| s <= head) {
        let full = fold_to(&ledger, seq);
        let fast = checkpoint::state_at(store, seq, None).unwrap();
        assert_eq!(fast, full, "state at seq {seq}");
        // No plan at all: still the whole year index (what `summary` asks first).
        let probe = checkpoint::state_at(store, seq, Some(&[])).unwrap();
        assert!(probe.plans.is_empty());
        assert_eq!(probe.years, full.years, "year index at seq {seq}");
        // One plan alone: the same plan, and the same report bytes for it.
        for (plan, _) in full.plans.sorted().into_iter().take(3) {
            let one = checkpoint::state_at(store, seq, Some(&[plan.to_string()])).unwrap();
            assert_eq!(one.plans.len(), 1, "only {plan} is loaded at seq {seq}");
            assert_eq!(one.plans.get(plan), full.plans.get(plan), "plan {plan} at seq {seq}");
            assert_eq!(
                report::state_json(&one, Some(plan), None).to_string(),
                report::state_json(&full, Some(plan), None).to_string()
            );
        }
    }
    assert!(planledger::verify::verify(store).unwrap().ok());
    // The CLI answers per-year questions on a checkpointed store (the year index comes from
    // the checkpoint's shared part).
    let year = *full_years(&ledger).last().unwrap();
    drop(ledger);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planledger"))
        .args(["--store", tmp.path().to_str().unwrap(), "summary", "--json", "--year", &year.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plans"], serde_json::json!([format!("w-{year}")]));
    assert!(v["projects"]["count"].as_u64().unwrap() > 0);
}

fn full_years(ledger: &Ledger) -> Vec<i32> {
    ledger.state().years.keys().copied().collect()
}

#[test]
fn reopening_resumes_from_the_latest_checkpoint_and_keeps_checkpointing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = build(tmp.path(), CHECKPOINT_EVERY + 3_000).state().clone();
    // Reopen (from checkpoint + tail) and continue the same workload's later batches.
    let mut ledger = Ledger::open(
        tmp.path(),
        Box::new(SteppingClock::new(workload::clock_start(), 1_000)),
        Box::new(CountingIds(10_000_000)),
    )
    .unwrap();
    assert_eq!(ledger.state(), &state);
    let w = Workload { projects_per_year: 300, first_year: 2001, batch: 500 };
    let done = ledger.store().head().events();
    let mut skipped = 0u64;
    for batch in w.batches(3 * CHECKPOINT_EVERY) {
        // Resubmitting what is already recorded is acknowledged without writing (ids match).
        let acks = ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
        skipped += acks.iter().filter(|a| a.duplicate).count() as u64;
    }
    assert!(skipped > 0);
    assert!(ledger.store().head().events() > done);
    assert!(ledger.store().checkpoints().count() >= 2);
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
}

/// A checkpoint's record is a file beside its partitions, and sled holds its hash: the
/// value of each checkpoint key is 33 bytes whatever the number of plans. A record an older
/// build kept in sled itself is read as it is.
#[test]
fn checkpoint_records_are_files_named_by_hash_and_records_held_in_sled_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 2 * CHECKPOINT_EVERY + 3_000);
    let state = ledger.state().clone();
    let records: Vec<(u64, Vec<u8>)> = ledger.store().checkpoints().map(|c| c.unwrap()).collect();
    assert!(records.len() >= 2, "{}", records.len());
    drop(ledger);
    let key = |seq: u64| [&[b'C'][..], &seq.to_be_bytes()].concat();
    {
        let store = planledger::store::EmbeddedStore::open(tmp.path()).unwrap();
        for (seq, bytes) in &records {
            let value = store.raw_tree().get(key(*seq)).unwrap().unwrap();
            let hash = planledger::store::record_file_of(&value).expect("a reference to the record's file");
            assert_eq!(value.len(), 33);
            assert_eq!(store.partition(&hash).unwrap().as_deref(), Some(bytes.as_slice()));
            // As an older build left it: the record itself in sled.
            store.raw_tree().insert(key(*seq), bytes.as_slice()).unwrap();
        }
    }
    let ledger = Ledger::open(
        tmp.path(),
        Box::new(SteppingClock::new(workload::clock_start(), 1_000)),
        Box::new(CountingIds(10_000_000)),
    )
    .unwrap();
    assert_eq!(ledger.state(), &state);
    assert!(ledger.store().warnings().is_empty(), "{:?}", ledger.store().warnings());
    let found: Vec<(u64, Vec<u8>)> = ledger.store().checkpoints().map(|c| c.unwrap()).collect();
    assert_eq!(found, records);
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
}

/// A checkpoint whose record file is gone is damage like a missing partition: reads pass it
/// over with a warning, `verify` names the file, writes go on, `repair` drops it.
#[test]
fn a_missing_checkpoint_record_file_is_passed_over_named_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 2 * CHECKPOINT_EVERY + 3_000);
    let whole = planledger::query::state_at(ledger.store(), u64::MAX).unwrap();
    let (latest, _) = ledger.store().checkpoint_at_or_before(u64::MAX).unwrap().unwrap();
    drop(ledger);
    let hash = {
        let store = planledger::store::EmbeddedStore::open(tmp.path()).unwrap();
        let value = store.raw_tree().get([&[b'C'][..], &latest.to_be_bytes()].concat()).unwrap().unwrap();
        planledger::store::record_file_of(&value).unwrap()
    };
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::remove_file(tmp.path().join("partitions").join(&hex)).unwrap();
    let store = planledger::store::EmbeddedStore::open(tmp.path()).unwrap();
    assert_eq!(planledger::query::state_at(&store, u64::MAX).unwrap(), whole);
    let warnings = planledger::store::Store::warnings(&store);
    assert!(warnings.iter().any(|w| w.en().contains(&hex) && w.en().contains("missing or altered")), "{warnings:?}");
    let v = planledger::verify::verify(&store).unwrap();
    let problem = v.problem.expect("verify names the damage");
    assert_eq!(problem.seq, latest);
    assert!(problem.what.en().contains(&format!("record file partitions/{hex}")), "{}", problem.what.en());
    drop(store);
    let stdout = correct_then_repair(tmp.path());
    assert!(stdout.contains(&format!("dropped the checkpoint at seq {latest}")), "{stdout}");
    assert!(stdout.contains("chain intact"), "{stdout}");
}

#[test]
fn an_altered_checkpoint_partition_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), CHECKPOINT_EVERY + 1_000);
    let (cp_seq, _) = ledger.store().checkpoints().next().unwrap().unwrap();
    // Rewrite one partition's bytes (a plan partition: the largest file).
    let dir = ledger.store().dir().join(planledger::store::PARTITIONS_DIR);
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let v = planledger::verify::verify(ledger.store()).unwrap();
    assert_eq!(v.problem.as_ref().map(|p| p.seq), Some(cp_seq), "{v:?}");
    // Reads pass the damaged checkpoint over, with a warning, and fold the log instead.
    let state = checkpoint::state_at(ledger.store(), cp_seq + 10, None).unwrap();
    assert_eq!(state, fold_to(&ledger, cp_seq + 10));
    let warnings = ledger.store().warnings();
    assert!(warnings.iter().any(|w| w.en().contains("was altered")), "{warnings:?}");
}

#[test]
fn verify_reloads_an_idle_plan_that_a_late_correction_reaches() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = build(tmp.path(), 3 * CHECKPOINT_EVERY + 5_000);
    // An investment of the first plan year, long idle by now (verify has evicted its plan).
    let first = ledger
        .store()
        .events(1)
        .map(|e| e.unwrap())
        .find(|e| matches!(&e.payload, planledger::event::Payload::InvestmentReported(i) if i.plan.contains("2001")))
        .expect("an investment of 2001");
    let fix = workload::correction(first.seq, 12345, "audit finding, years later");
    ledger.submit(workload::ACTOR, &[fix], &|_| None).unwrap();
    let v = planledger::verify::verify(ledger.store()).unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.events, ledger.store().head().events());
    assert!(v.plans_reloaded >= 1, "the correction reached an evicted plan: {v:?}");
}

#[test]
fn point_reads_agree_with_the_scan_across_chunks_and_the_chunk_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 40_000);
    let store = ledger.store();
    let scanned: Vec<planledger::store::Stored> = store.scan(1).map(|s| s.unwrap()).collect();
    assert_eq!(scanned.len() as u64, store.head().events());
    assert_eq!(scanned.last().unwrap().hash, store.head().last_hash);
    // Forwards then backwards over far more chunks than the cache holds, so reads hit,
    // miss and evict; every read must give the scan's event and full chain hash.
    let mut seqs: Vec<u64> = (1..=scanned.len() as u64).step_by(97).collect();
    seqs.extend(seqs.clone().into_iter().rev());
    for seq in seqs {
        let want = &scanned[(seq - 1) as usize];
        let got = store.get(seq).unwrap().unwrap();
        assert_eq!(got.event, want.event, "event at seq {seq}");
        assert_eq!(got.hash, want.hash, "hash at seq {seq}");
        assert_eq!(store.get_event(seq).unwrap().unwrap(), want.event);
    }
    // A scan from the middle of a chunk recomputes the same hashes.
    let mid = scanned.len() / 2;
    let tail: Vec<_> = store.scan(mid as u64 + 1).take(3).map(|s| s.unwrap().hash).collect();
    assert_eq!(tail, scanned[mid..mid + 3].iter().map(|s| s.hash).collect::<Vec<_>>());
    assert!(store.get(0).unwrap().is_none());
    assert!(store.get(scanned.len() as u64 + 1).unwrap().is_none());
}

#[test]
fn the_log_rolls_over_segments_and_reopens_where_sled_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let open = || {
        Ledger::open(tmp.path(), Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(0)))
            .unwrap()
    };
    let mut ledger = open();
    ledger.store().embedded().unwrap().set_segment_bytes_max(64 * 1024);
    let w = Workload { projects_per_year: 300, first_year: 2001, batch: 500 };
    let mut batches = w.batches(25_000);
    while ledger.store().head().events() < 20_000 {
        ledger.submit(workload::ACTOR, &batches.next().unwrap(), &|_| None).unwrap();
    }
    let segment = ledger.store().embedded().unwrap().log_position().segment;
    assert!(segment >= 4, "20,000 events in 64 KiB segments: {segment}");
    let head = ledger.store().head().clone();
    let state = ledger.state().clone();
    let first_event = ledger.store().get(1).unwrap().unwrap();
    drop(ledger);
    let files = std::fs::read_dir(tmp.path().join("log")).unwrap().count();
    assert_eq!(files as u32, segment, "one file per segment");
    // Reopened: the same head and state, every event readable from its segment, the chain
    // intact, and new commits go on in the last segment.
    let mut ledger = open();
    assert_eq!(ledger.store().head(), head);
    assert_eq!(ledger.state(), &state);
    assert_eq!(ledger.store().get(1).unwrap().unwrap().hash, first_event.hash);
    let v = planledger::verify::verify(ledger.store()).unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.events, head.events());
    assert_eq!(ledger.store().embedded().unwrap().log_position().segment, segment);
    for batch in batches {
        ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
    }
    assert!(ledger.store().head().events() > head.events());
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
}

/// `fold_events` decodes on a second thread: the fold still sees every event once, in
/// order, from where it asked; it can stop early; the batches it does not read are never
/// waited for.
#[test]
fn a_fold_sees_every_event_in_order_and_can_stop_early() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 5_000);
    let store = ledger.store();
    let head = store.head().events();
    let mut seen = Vec::new();
    store
        .fold_events(1_234, &mut |e| {
            seen.push(e.seq);
            Ok(true)
        })
        .unwrap();
    assert_eq!(seen, (1_234..=head).collect::<Vec<_>>());
    let mut last = 0;
    store
        .fold_events(1, &mut |e| {
            last = e.seq;
            Ok(e.seq < 3_000)
        })
        .unwrap();
    assert_eq!(last, 3_000);
    let err = store.fold_events(1, &mut |e| {
        if e.seq == 2_500 {
            return Err(planledger::error::Error::invalid("stop here"));
        }
        Ok(true)
    });
    assert_eq!(err.unwrap_err().to_string(), "stop here");
    // The same events as the plain scan.
    let mut via_fold = Vec::new();
    store
        .fold_events(1, &mut |e| {
            via_fold.push(e.clone());
            Ok(true)
        })
        .unwrap();
    let via_scan: Vec<_> = store.events(1).map(|e| e.unwrap()).collect();
    assert_eq!(via_fold, via_scan);
}

/// A fold checks the log as a scan does: a chunk missing from the index is named by the
/// seq where the log jumps, on whichever decoding lane the gap falls.
#[test]
fn a_fold_names_a_missing_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 5_000);
    let store = ledger.store().embedded().unwrap();
    let chunks: Vec<u64> = store
        .raw_tree()
        .scan_prefix(b"L")
        .map(|kv| u64::from_be_bytes(kv.unwrap().0[1..9].try_into().unwrap()))
        .collect();
    assert!(chunks.len() >= 6, "{} chunks", chunks.len());
    for gone in [chunks[3], chunks[4]] {
        let mut key = vec![b'L'];
        key.extend_from_slice(&gone.to_be_bytes());
        let value = store.raw_tree().remove(&key).unwrap().unwrap();
        let mut folded = 0u64;
        let err = store
            .fold_events(1, |_| {
                folded += 1;
                Ok(true)
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("corrupt store at seq {gone}: log jumps")), "{err}");
        assert_eq!(folded, gone - 1, "every event before the gap, none after");
        store.raw_tree().insert(&key, value).unwrap();
    }
    let mut n = 0;
    store
        .fold_events(1, |_| {
            n += 1;
            Ok(true)
        })
        .unwrap();
    assert_eq!(n, store.head().events());
}

/// A checkpoint is derived data: with one of its partitions deleted or altered, reads and
/// writes go on from an earlier point of the log (the CLI warns), `verify` names the damage,
/// and the ledger's next checkpoint is written whole.
#[test]
fn a_damaged_checkpoint_partition_is_passed_over_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 40_000);
    let whole = planledger::query::state_at(ledger.store(), u64::MAX).unwrap();
    drop(ledger);
    let partitions = tmp.path().join("partitions");
    let mut files: Vec<_> = std::fs::read_dir(&partitions).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    // One partition gone, one altered.
    std::fs::remove_file(&files[0]).unwrap();
    if let Some(f) = files.get(1) {
        let mut bytes = std::fs::read(f).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(f, bytes).unwrap();
    }
    let store = planledger::store::EmbeddedStore::open(tmp.path()).unwrap();
    assert_eq!(planledger::query::state_at(&store, u64::MAX).unwrap(), whole);
    let warnings = planledger::store::Store::warnings(&store);
    assert!(warnings.iter().any(|w| w.en().contains("folded the log from an earlier point")), "{warnings:?}");
    let v = planledger::verify::verify(&store).unwrap();
    assert!(v.problem.as_ref().is_some_and(|p| p.what.en().contains("partition")), "{:?}", v.problem);
    drop(store);
    // Through the binary: the read works and warns; the ledger still takes writes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planledger"))
        .args(["--store", tmp.path().to_str().unwrap(), "state", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("planledger: warning: ") && stderr.contains("partition"), "{stderr}");
    // `repair` drops the damaged checkpoints from the index: the store verifies again.
    let stdout = correct_then_repair(tmp.path());
    assert!(stdout.contains("dropped the checkpoint at seq") && stdout.contains("chain intact"), "{stdout}");
}

#[test]
fn checkpoints_of_an_older_state_shape_are_passed_over_as_stale_not_as_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = build(tmp.path(), 40_000);
    let whole = planledger::query::state_at(ledger.store(), u64::MAX).unwrap();
    drop(ledger);
    let store = planledger::store::EmbeddedStore::open(tmp.path()).unwrap();
    let records: Vec<(u64, Vec<u8>)> = store
        .checkpoints()
        .map(|c| {
            let (seq, bytes) = c.unwrap();
            (seq, bytes.to_vec())
        })
        .collect();
    assert!(records.len() >= 2, "{} checkpoints", records.len());
    // As an older build wrote them: the format byte before this state's shape.
    for (seq, mut bytes) in records {
        assert_eq!(bytes[0], planledger::codec::CHECKPOINT_FORMAT);
        bytes[0] = planledger::codec::CHECKPOINT_FORMAT - 1;
        store.replace_checkpoint_record(seq, &bytes).unwrap();
    }
    assert_eq!(planledger::query::state_at(&store, u64::MAX).unwrap(), whole, "folded from the log");
    assert!(planledger::store::Store::warnings(&store).is_empty(), "stale is not damage");
    let v = planledger::verify::verify(&store).unwrap();
    assert!(v.problem.is_none(), "{:?}", v.problem);
    drop(store);
    // The next commit writes a checkpoint of the current shape.
    let mut ledger = Ledger::open(
        tmp.path(),
        Box::new(SteppingClock::new(workload::clock_start(), 1_000)),
        Box::new(CountingIds(1 << 80)),
    )
    .unwrap();
    let target = workload::investments(ledger.store(), 1).unwrap()[0];
    ledger.submit(workload::ACTOR, &[workload::correction(target, 99_999, "复核")], &|_| None).unwrap();
    let (_, latest) = ledger.store().checkpoint_at_or_before(u64::MAX).unwrap().unwrap();
    assert_eq!(latest[0], planledger::codec::CHECKPOINT_FORMAT);
}
