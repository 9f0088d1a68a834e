//! The comparative benchmark harness: the same synthetic workload (planledger::workload)
//! through planledger, an SQLite event table and a raw sled one-key-per-event layout, with
//! the same durability (an fsync per committed batch), measured in one run and printed as
//! one table of figures and ratios. `benches/ledger.rs` runs it at full size; the test
//! `tests/bench_harness.rs` (`cargo test -p planledger-bench`) runs it at `--quick` size to
//! check that it works.

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use planledger::checkpoint;
use planledger::clock::{CountingIds, SteppingClock};
use planledger::codec;
use planledger::commit::GroupCommit;
use planledger::decide::Submission;
use planledger::event::Event;
use planledger::ledger::Ledger;
use planledger::projection::{self, State};
use planledger::store::{EmbeddedStore, Store};
use planledger::workload::{self, Workload};

#[derive(Clone, Debug)]
pub struct Config {
    /// Events of the bulk import / replay / storage comparison.
    pub events: u64,
    /// Events of the ledger the point-in-time queries run against.
    pub pit_events: u64,
    /// Durable single appends timed (each its own commit).
    pub singles: usize,
    pub writers: usize,
    pub per_writer: usize,
    pub pit_queries: usize,
    /// Events of the ledger that full `verify` and `audit` read while appends are timed.
    pub read_events: u64,
    pub dir: PathBuf,
}

impl Config {
    pub fn full(dir: PathBuf) -> Config {
        Config {
            events: 1_000_000,
            pit_events: 10_000_000,
            singles: 300,
            writers: 32,
            per_writer: 100,
            pit_queries: 20,
            read_events: 200_000,
            dir,
        }
    }

    pub fn quick(dir: PathBuf) -> Config {
        Config {
            events: 6_000,
            pit_events: 40_000,
            singles: 20,
            writers: 8,
            per_writer: 5,
            pit_queries: 4,
            read_events: 5_000,
            dir,
        }
    }
}

pub const WORKLOAD: Workload = Workload { projects_per_year: 3_000, first_year: 1950, batch: 1_000 };

/// One row of the results table.
#[derive(Clone, Debug)]
pub struct Row {
    pub what: String,
    pub planledger: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub goal: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, ours: String, base: String, ratio: Option<f64>, goal: &str) {
        eprintln!("  {what}: {ours} | {base} | {}", ratio.map(|r| format!("{r:.2}x")).unwrap_or_default());
        self.rows.push(Row { what: what.into(), planledger: ours, baseline: base, ratio, goal: goal.into() });
    }

    pub fn markdown(&self) -> String {
        let mut s = String::from("| measure | planledger | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            let ratio = r.ratio.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into());
            s.push_str(&format!("| {} | {} | {} | {} | {} |\n", r.what, r.planledger, r.baseline, ratio, r.goal));
        }
        for n in &self.notes {
            s.push_str(&format!("\n{n}\n"));
        }
        s
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M ev/s", r / 1e6)
    } else {
        format!("{:.0} k ev/s", r / 1e3)
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// A remote measure's cell: its rate, then the median and 99th percentile of its latencies.
fn rate_and_latency(rate: String, sorted: &[Duration]) -> String {
    format!("{rate} (p50 {} / p99 {})", ms(pct(sorted, 0.5)), ms(pct(sorted, 0.99)))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Peak and current resident memory of this process, from /proc (KiB).
pub fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn open_ledger(dir: &Path) -> Ledger {
    Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(1 << 64)))
        .unwrap()
}

/// A fresh ledger at `dir` holding the workload's first 3,000 events, and the seqs of its
/// first `writers` investments (what the single and concurrent appends correct).
fn seeded_ledger(dir: &Path, writers: usize) -> (Ledger, Vec<u64>) {
    let _ = std::fs::remove_dir_all(dir);
    let mut ledger = open_ledger(dir);
    let seed = WORKLOAD.batches(3_000).next().unwrap();
    ledger.submit(workload::ACTOR, &seed, &|_| None).unwrap();
    let targets = workload::investments(ledger.store(), writers.max(1)).unwrap();
    (ledger, targets)
}

/// Rounds of the concurrent-writers measure, each against its own single-writer baseline;
/// the median round's ratio is the figure. Seven, not three: a round is ~0.1 s and this
/// machine's stalls last about that long, so a stall is one outlier among seven.
pub const GROUP_ROUNDS: usize = 7;

/// Imports about `events` workload events into a fresh store at `dir`, batch after batch,
/// each atomic and fsynced (`Ledger::submit_batches`: the next batch is decided while the
/// previous one is written); returns the time spent importing (generation excluded) and the
/// event count. `keep_batches` generates every batch first; otherwise batches are generated
/// as they go (the 10 M ledger would not fit) and the time includes generating them.
fn import(dir: &Path, events: u64, keep_batches: bool) -> (Duration, u64) {
    let mut ledger = open_ledger(dir);
    let mut acked = 0u64;
    let mut count = |_: usize, acks: Vec<planledger::ledger::Ack>| acked += acks.len() as u64;
    let spent = if keep_batches {
        let batches: Vec<Vec<Submission>> = WORKLOAD.batches(events).collect();
        let t = Instant::now();
        ledger.submit_batches(workload::ACTOR, &batches, &|_, _| None, &mut count).unwrap();
        t.elapsed()
    } else {
        let t = Instant::now();
        ledger.submit_batches(workload::ACTOR, WORKLOAD.batches(events), &|_, _| None, &mut count).unwrap();
        t.elapsed()
    };
    assert_eq!(acked, ledger.store().head().events(), "every event acknowledged once");
    (spent, acked)
}

/// Folds the whole log, ignoring checkpoints: what a full replay costs.
pub fn fold_all(store: &dyn Store) -> State {
    let mut s = State::default();
    store
        .fold_events(1, &mut |e| {
            projection::apply(&mut s, e);
            Ok(true)
        })
        .unwrap();
    s
}

fn fdatasync(f: &File) {
    f.sync_data().unwrap();
}

pub fn run(cfg: &Config) -> Report {
    let mut report = Report::default();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let ours_dir = cfg.dir.join("planledger");
    let _ = std::fs::remove_dir_all(&ours_dir);

    // 1. Bulk import.
    eprintln!("bulk import of ~{} events ...", cfg.events);
    let (spent, n) = import(&ours_dir, cfg.events, true);
    let ours_import = rate(n, spent);
    let store = EmbeddedStore::open(&ours_dir).unwrap();
    let events: Vec<Event> = store.events(1).map(|e| e.unwrap()).collect();
    let mut encoded_total = 0u64;
    for e in &events {
        let mut b = Vec::new();
        codec::encode_event(e, &mut b);
        encoded_total += b.len() as u64;
    }
    let encoded_avg = encoded_total as f64 / n as f64;
    let ours_bytes = store.disk_bytes() as f64 / n as f64;

    let sqlite_path = cfg.dir.join("baseline.sqlite");
    let _ = std::fs::remove_file(&sqlite_path);
    let _ = std::fs::remove_file(cfg.dir.join("baseline.sqlite-wal"));
    let conn = rusqlite::Connection::open(&sqlite_path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, data BLOB NOT NULL);",
    )
    .unwrap();
    let t = Instant::now();
    for chunk in events.chunks(WORKLOAD.batch) {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut stmt = tx.prepare_cached("INSERT INTO events (seq, stream, data) VALUES (?1, ?2, ?3)").unwrap();
            let mut buf = Vec::new();
            for e in chunk {
                buf.clear();
                codec::encode_event(e, &mut buf);
                stmt.execute(rusqlite::params![e.seq as i64, e.payload.stream(), &buf]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let sqlite_import = rate(n, t.elapsed());
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    let sqlite_bytes = std::fs::metadata(&sqlite_path).map(|m| m.len()).unwrap_or(0) as f64 / n as f64;

    let raw_dir = cfg.dir.join("raw-sled");
    let _ = std::fs::remove_dir_all(&raw_dir);
    let raw = sled::Config::new().path(&raw_dir).flush_every_ms(None).mode(sled::Mode::HighThroughput).open().unwrap();
    let raw_file = File::open(raw_dir.join("db")).unwrap();
    let t = Instant::now();
    for chunk in events.chunks(WORKLOAD.batch) {
        let mut buf = Vec::new();
        for e in chunk {
            buf.clear();
            codec::encode_event(e, &mut buf);
            raw.insert(e.seq.to_be_bytes(), buf.as_slice()).unwrap();
        }
        raw.flush().unwrap();
        fdatasync(&raw_file);
    }
    let raw_import = rate(n, t.elapsed());
    raw.flush().unwrap();
    let raw_bytes = dir_bytes(&raw_dir) as f64 / n as f64;
    report.row(
        &format!("bulk import, {n} events in batches of {} (fsync each)", WORKLOAD.batch),
        fmt_rate(ours_import),
        format!("SQLite {} / raw sled {}", fmt_rate(sqlite_import), fmt_rate(raw_import)),
        Some(ours_import / sqlite_import),
        "≥ 1.0x SQLite",
    );

    // 2. Full replay into state (the same fold everywhere; no checkpoint used).
    eprintln!("full replay ...");
    let mut ours_t = Vec::new();
    let mut sql_t = Vec::new();
    let mut raw_t = Vec::new();
    let reference = fold_all(&store);
    for _ in 0..3 {
        let t = Instant::now();
        let s = fold_all(&store);
        ours_t.push(t.elapsed());
        assert_eq!(s.last_seq, n);

        let t = Instant::now();
        let mut s = State::default();
        let mut stmt = conn.prepare_cached("SELECT data FROM events ORDER BY seq").unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let data: &[u8] = row.get_ref(0).unwrap().as_blob().unwrap();
            projection::apply(&mut s, &codec::decode_event(data).unwrap());
        }
        sql_t.push(t.elapsed());
        assert_eq!(s, reference);

        let t = Instant::now();
        let mut s = State::default();
        for kv in raw.iter() {
            let (_, v) = kv.unwrap();
            projection::apply(&mut s, &codec::decode_event(&v).unwrap());
        }
        raw_t.push(t.elapsed());
        assert_eq!(s.last_seq, n);
    }
    let (ours_r, sql_r, raw_r) = (rate(n, median(ours_t)), rate(n, median(sql_t)), rate(n, median(raw_t)));
    report.row(
        &format!("full replay into state, {n} events (median of 3)"),
        fmt_rate(ours_r),
        format!("SQLite {} / raw sled {}", fmt_rate(sql_r), fmt_rate(raw_r)),
        Some(ours_r / sql_r),
        "≥ 1.0x SQLite and ≥ 2 M ev/s",
    );

    // 6. Storage.
    report.row(
        "bytes on disk per event",
        format!("{ours_bytes:.0} B ({:.2}x the {encoded_avg:.0} B encoded event)", ours_bytes / encoded_avg),
        format!("SQLite {sqlite_bytes:.0} B / raw sled {raw_bytes:.0} B"),
        Some(ours_bytes / encoded_avg),
        "≤ 1.5x encoded size",
    );
    drop(store);
    drop(conn);
    drop(raw);

    // 3. Durable single append vs raw append + fdatasync on the same disk.
    eprintln!("durable single appends ...");
    let (mut ledger, targets) = seeded_ledger(&cfg.dir.join("single"), cfg.writers);
    // Interleaved, one of ours then one raw: the disk's speed drifts within seconds here, and
    // both sides of the ratio should see the same disk.
    let raw_path = cfg.dir.join("raw-append.log");
    let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(&raw_path).unwrap();
    let record = vec![0x5au8; encoded_avg.round() as usize + 40];
    let (mut lat, mut raw_lat) = (Vec::new(), Vec::new());
    for i in 0..cfg.singles {
        let sub = correction(targets[i % targets.len()], i as i64);
        let t = Instant::now();
        ledger.submit(workload::ACTOR, &[sub], &|_| None).unwrap();
        lat.push(t.elapsed());
        let t = Instant::now();
        f.write_all(&record).unwrap();
        fdatasync(&f);
        raw_lat.push(t.elapsed());
    }
    lat.sort();
    raw_lat.sort();
    let (p50, raw_p50) = (pct(&lat, 0.5), pct(&raw_lat, 0.5));
    report.row(
        &format!("durable single append, {} appends (interleaved with the raw ones)", cfg.singles),
        format!("p50 {} / p99 {}", us(p50), us(pct(&lat, 0.99))),
        format!("append+fdatasync p50 {} / p99 {}", us(raw_p50), us(pct(&raw_lat, 0.99))),
        Some(p50.as_secs_f64() / raw_p50.as_secs_f64()),
        "p50 ≤ 2x raw",
    );

    // 4. Concurrent writers through group commit.
    let ledger = group_commit(&mut report, cfg, ledger, &targets);
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
    drop(ledger);

    // 8. Appends while full reads run.
    appends_under_reads(&mut report, cfg);

    // 5. Point-in-time queries on a large ledger, and 7. replay memory.
    eprintln!("point-in-time ledger of ~{} events ...", cfg.pit_events);
    let pit_dir = cfg.dir.join("pit");
    let reuse = EmbeddedStore::open(&pit_dir).map(|s| s.head().events() >= cfg.pit_events * 9 / 10).unwrap_or(false);
    if !reuse {
        let _ = std::fs::remove_dir_all(&pit_dir);
        let (spent, m) = import(&pit_dir, cfg.pit_events, false);
        report.notes.push(format!(
            "The point-in-time ledger ({m} events) was imported at {} (generating the workload as it went).",
            fmt_rate(rate(m, spent))
        ));
    }
    let store = EmbeddedStore::open(&pit_dir).unwrap();
    let m = store.head().events();
    let pit_bytes = store.disk_bytes() as f64 / m as f64;
    report.notes.push(format!(
        "The point-in-time ledger occupies {pit_bytes:.0} B per event on disk ({:.2}x the {encoded_avg:.0} B encoded event of the import above).",
        pit_bytes / encoded_avg
    ));
    let mut one = Vec::new();
    let mut whole = Vec::new();
    let mut replay = Vec::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for q in 0..cfg.pit_queries {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let seq = 1 + rng % m;
        // The plan an auditor would ask about at that point: the newest one then.
        let probe = checkpoint::state_at(&store, seq, Some(&[])).unwrap();
        let plan = probe.years.values().last().and_then(|ids| ids.last()).cloned();
        let plans: Vec<String> = plan.into_iter().collect();
        let t = Instant::now();
        let s = checkpoint::state_at(&store, seq, Some(&plans)).unwrap();
        one.push(t.elapsed());
        assert_eq!(s.last_seq, seq);
        let t = Instant::now();
        let s = checkpoint::state_at(&store, seq, None).unwrap();
        whole.push(t.elapsed());
        if q < 2 {
            // Full replay to the same point, for the comparison (slow at full size: twice).
            let t = Instant::now();
            let mut f = State::default();
            for e in store.events(1) {
                let e = e.unwrap();
                if e.seq > seq {
                    break;
                }
                projection::apply(&mut f, &e);
            }
            replay.push(t.elapsed());
            assert_eq!(f, s, "checkpointed state differs from the full fold at seq {seq}");
        }
    }
    one.sort();
    whole.sort();
    let replay_med = median(replay);
    report.row(
        &format!(
            "point-in-time state of one plan (`summary --year --as-of`), {m}-event ledger, {} random seqs",
            one.len()
        ),
        format!("p50 {} / max {}", ms(pct(&one, 0.5)), ms(*one.last().unwrap())),
        format!("full replay to the seq {}", ms(replay_med)),
        Some(replay_med.as_secs_f64() / pct(&one, 0.5).as_secs_f64()),
        "≤ 50 ms",
    );
    report.row(
        "point-in-time state of every plan (`state --as-of`)",
        format!("p50 {} / max {}", ms(pct(&whole, 0.5)), ms(*whole.last().unwrap())),
        format!("full replay to the seq {}", ms(replay_med)),
        Some(replay_med.as_secs_f64() / pct(&whole, 0.5).as_secs_f64()),
        "-",
    );
    drop(store);
    report.notes.push(format!(
        "Peak RSS of the whole bench process: {} MiB (VmHWM). The replay-memory figure is measured in a separate \
         process: `cargo bench -p planledger-bench --bench ledger -- --replay-rss <dir>`.",
        rss_kib().0 / 1024
    ));
    report
}

/// Goal 4: `cfg.writers` threads, each appending `cfg.per_writer` single-event corrections
/// one after another (each waiting for its own to be durable: a closed loop) through one
/// `GroupCommit`, against one thread doing the same through the same API. Each round times
/// the single writer just before and just after the group (half its appends each side), so
/// both sides of the round's ratio see the same disk; both are events over wall time, so a
/// stall counts on both sides. The writer threads are started once, before the first
/// round, and released together by a barrier: a round times appending, not starting
/// threads. Returns the ledger.
fn group_commit(report: &mut Report, cfg: &Config, ledger: Ledger, targets: &[u64]) -> Ledger {
    group_commit_rate(report, cfg, ledger, targets).0
}

/// As `group_commit`, also returning the median round's rate of the group (events/s).
fn group_commit_rate(report: &mut Report, cfg: &Config, ledger: Ledger, targets: &[u64]) -> (Ledger, f64) {
    use std::sync::Barrier;
    eprintln!("{} concurrent writers ...", cfg.writers);
    let group = Arc::new(GroupCommit::new(ledger));
    let (start, end) = (Arc::new(Barrier::new(cfg.writers + 1)), Arc::new(Barrier::new(cfg.writers + 1)));
    let writers: Vec<_> = (0..cfg.writers)
        .map(|w| {
            let (group, start, end) = (group.clone(), start.clone(), end.clone());
            let (target, per) = (targets[w % targets.len()], cfg.per_writer);
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per * GROUP_ROUNDS);
                // A refused append is reported after the rounds: a thread that panicked here
                // would never reach the barriers, and the measure would hang instead of fail.
                let mut refused = None;
                for round in 0..GROUP_ROUNDS {
                    start.wait();
                    for i in 0..per {
                        let sub = correction(target, (round * 10_000_000 + w * 100_000 + i) as i64 + 1_000_000);
                        let t = Instant::now();
                        if let Err(e) = group.submit(workload::ACTOR, vec![sub]) {
                            refused.get_or_insert(e.to_string());
                            break;
                        }
                        lat.push(t.elapsed());
                    }
                    end.wait();
                }
                (lat, refused)
            })
        })
        .collect();
    let half = (cfg.singles / 4).max(1);
    let mut next = 0usize;
    let mut single = |group: &GroupCommit| {
        let t = Instant::now();
        for _ in 0..half {
            let sub = correction(targets[next % targets.len()], next as i64 + 500_000);
            group.submit(workload::ACTOR, vec![sub]).unwrap();
            next += 1;
        }
        t.elapsed()
    };
    let mut rounds = Vec::new();
    for _ in 0..GROUP_ROUNDS {
        let before = single(&group);
        start.wait();
        let t = Instant::now();
        end.wait();
        let group_rate = rate((cfg.writers * cfg.per_writer) as u64, t.elapsed());
        let single_rate = rate(2 * half as u64, before + single(&group));
        rounds.push((group_rate / single_rate, group_rate, single_rate));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for writer in writers {
        let (l, refused) = writer.join().unwrap();
        assert!(refused.is_none(), "a concurrent append was refused: {refused:?}");
        lat.extend(l);
    }
    lat.sort();
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, group_rate, single_rate) = rounds[rounds.len() / 2];
    let spread = rounds.iter().map(|r| format!("{:.1}x", r.0)).collect::<Vec<_>>().join(", ");
    report.row(
        &format!(
            "{} concurrent writers × {} single-event appends, median of {GROUP_ROUNDS} rounds ({spread})",
            cfg.writers, cfg.per_writer
        ),
        format!("{} (p50 {} / p99 {})", fmt_rate(group_rate), us(pct(&lat, 0.5)), us(pct(&lat, 0.99))),
        format!("single writer {}", fmt_rate(single_rate)),
        Some(ratio),
        "≥ 10x single writer",
    );
    (Arc::try_unwrap(group).ok().map(GroupCommit::into_inner).unwrap(), group_rate)
}

/// Only goal 4's measure, on a fresh ledger seeded like section 3's (`--group-commit`): for
/// iterating on group commit without the minutes the rest takes.
pub fn run_group_commit(cfg: &Config) -> Report {
    let mut report = Report::default();
    let (ledger, targets) = seeded_ledger(&cfg.dir.join("group"), cfg.writers);
    let ledger = group_commit(&mut report, cfg, ledger, &targets);
    assert!(planledger::verify::verify(ledger.store()).unwrap().ok());
    report
}

/// Goal 8 (the server boundary issue): single durable appends, one after another through
/// group commit as the server makes them, timed idle and then while a full `verify` and a
/// full `audit` run over and over on two other threads, on a ledger of `cfg.read_events`
/// events. Reads use the typed read API on the store, as the server's do: they take no lock
/// a writer holds, so the appends' p99 should stay within 2x of idle (the 2 cores are shared
/// with the readers, which run at a lower priority and at most cores-1 at once, as the
/// server's read threads do).
/// Before, a read held the ledger lock for its whole run and an append waited for it.
fn appends_under_reads(report: &mut Report, cfg: &Config) {
    use planledger::read;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    eprintln!("appends while verify and audit read ~{} events ...", cfg.read_events);
    let dir = cfg.dir.join("reads");
    let _ = std::fs::remove_dir_all(&dir);
    import(&dir, cfg.read_events, false);
    let ledger = open_ledger(&dir);
    let targets = workload::investments(ledger.store(), 4).unwrap();
    let group = GroupCommit::new(ledger);
    let appends = (cfg.singles * 4).max(20);
    let mut next = 0usize;
    let mut timed = |group: &GroupCommit| -> Vec<Duration> {
        let mut lat: Vec<Duration> = (0..appends)
            .map(|_| {
                let sub = correction(targets[next % targets.len()], next as i64 + 7_000_000);
                next += 1;
                let t = Instant::now();
                group.submit(workload::ACTOR, vec![sub]).unwrap();
                t.elapsed()
            })
            .collect();
        lat.sort();
        lat
    };
    let idle = timed(&group);
    let stop = AtomicBool::new(false);
    let (verifies, audits) = (AtomicU64::new(0), AtomicU64::new(0));
    // The server's admission of long reads: as many at once as there are cores less one.
    let gate = read::Gate::for_this_machine();
    let busy = std::thread::scope(|scope| {
        let store = group.store();
        scope.spawn(|| {
            read::lower_thread_priority();
            while !stop.load(Ordering::Relaxed) {
                let _pass = gate.enter();
                let v = read::verify(store, &read::VerifyQuery::default()).unwrap();
                assert!(v.failure().is_none());
                verifies.fetch_add(1, Ordering::Relaxed);
            }
        });
        scope.spawn(|| {
            read::lower_thread_priority();
            while !stop.load(Ordering::Relaxed) {
                let _pass = gate.enter();
                let a = read::audit(store, &read::AuditQuery::default()).unwrap();
                assert!(!a.rows.is_empty());
                audits.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Both readers under way before the appends are timed.
        std::thread::sleep(Duration::from_millis(50));
        let busy = timed(&group);
        stop.store(true, Ordering::Relaxed);
        busy
    });
    let (p99_idle, p99_busy) = (pct(&idle, 0.99), pct(&busy, 0.99));
    report.row(
        &format!(
            "{appends} single appends while full verify and audit of {} events run ({} verify, {} audit passes, {} at once)",
            cfg.read_events,
            verifies.load(Ordering::Relaxed),
            audits.load(Ordering::Relaxed),
            gate.permits()
        ),
        format!("p50 {} / p99 {}", us(pct(&busy, 0.5)), us(p99_busy)),
        format!("idle p50 {} / p99 {}", us(pct(&idle, 0.5)), us(p99_idle)),
        Some(p99_busy.as_secs_f64() / p99_idle.as_secs_f64()),
        "p99 ≤ 2x idle",
    );
}

/// Only goal 8's measure (`--reads`).
pub fn run_appends_under_reads(cfg: &Config) -> Report {
    let mut report = Report::default();
    appends_under_reads(&mut report, cfg);
    report
}

fn correction(target: u64, i: i64) -> Submission {
    workload::correction(target, 10_000 + i, "调度复核")
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Folds a store's whole log in this process and reports its memory: run in a fresh process
/// so the peak belongs to the replay alone.
pub fn replay_rss(dir: &Path) -> String {
    let before = rss_kib().0;
    let store = EmbeddedStore::open(dir).unwrap();
    let t = Instant::now();
    let s = fold_all(&store);
    let took = t.elapsed();
    let (peak, now) = rss_kib();
    let state_bytes = codec::encode_record(&s).len();
    format!(
        "replayed {} events in {:.2} s: peak RSS {} MiB (process start {} MiB, after {} MiB); the folded state encodes to {} MiB",
        s.last_seq,
        took.as_secs_f64(),
        peak / 1024,
        before / 1024,
        now / 1024,
        state_bytes / (1 << 20)
    )
}

/// `verify` of the store in `dir` in this (fresh) process: the full replay an auditor runs,
/// with the chain, the Merkle tree, every checkpoint and idle plans evicted.
pub fn verify_rss(dir: &Path) -> String {
    let before = rss_kib().0;
    let store = EmbeddedStore::open(dir).unwrap();
    let t = Instant::now();
    let v = planledger::verify::verify(&store).unwrap();
    let took = t.elapsed();
    assert!(v.ok(), "{v:?}");
    let (peak, _) = rss_kib();
    format!(
        "verified {} events in {:.2} s: peak RSS {} MiB (process start {} MiB); {} idle plans reloaded",
        v.events,
        took.as_secs_f64(),
        peak / 1024,
        before / 1024,
        v.plans_reloaded
    )
}

/// The web view's pages (the web-view issue): server time of each page of one 300-project
/// plan year, on a ledger of `cfg.events` events in plans of 300 projects (≥ 100 plans at
/// 1 M), served in process by `serve_with` and the web front end exactly as `serve --http`
/// runs them, timed over loopback HTTP (request written → response read whole). Baseline:
/// `summary --year` through the typed read API for the same year, in process: the fold every
/// page stands on. Goal: each plan page ≤ 200 ms (median).
pub fn run_web(cfg: &Config) -> Report {
    const PAGE_ROUNDS: usize = 15;
    let mut report = Report::default();
    let dir = cfg.dir.join("web");
    let _ = std::fs::remove_dir_all(&dir);
    let shape = Workload { projects_per_year: 300, first_year: 1800, batch: 1_000 };
    let mut ledger = open_ledger(&dir);
    ledger.submit_batches(workload::ACTOR, shape.batches(cfg.events), &|_, _| None, &mut |_, _| {}).unwrap();
    let events = ledger.store().head().events();
    let state = planledger::read::state(
        ledger.store(),
        &planledger::read::StateQuery {
            plan: None,
            as_of: None,
            at: None,
            filter: Default::default(),
            lagging: false,
            now: workload::clock_start(),
        },
    )
    .unwrap()
    .state;
    let plans = state.plans.len();
    let years = (events / shape.events_per_year()).max(1) as i32;
    let year = shape.first_year + years / 2;
    let plan_id = format!("w-{year}");
    let project_id =
        state.plans.get(plan_id.as_str()).and_then(|p| p.projects.keys().next()).map(|k| k.to_string()).unwrap();
    drop(state);
    let summary_q = planledger::read::SummaryQuery {
        year,
        plan: None,
        by: Vec::new(),
        monthly: false,
        as_of: None,
        at: None,
        now: workload::clock_start(),
    };
    let baseline = median(
        (0..PAGE_ROUNDS)
            .map(|_| {
                let t = Instant::now();
                let s = planledger::read::summary(ledger.store(), &summary_q).unwrap();
                std::hint::black_box(s.render(true, planledger::read::SummaryFormat::Text, planledger::Lang::Zh));
                t.elapsed()
            })
            .collect(),
    );
    drop(ledger);
    let expires = planledger::model::Date::parse("d", "2999-12-31").unwrap();
    let (token, _) = planledger_web::tokens::issue(
        &dir,
        "bench",
        planledger::model::Role::Auditor,
        expires,
        workload::clock_start(),
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let web_dir = dir.clone();
    let serve_dir = dir.clone();
    // The server runs until the process exits, as under systemd until SIGTERM.
    std::thread::spawn(move || {
        let front: planledger_server::FrontEnd =
            Box::new(move |reader, stop| Box::pin(planledger_web::serve(listener, web_dir, reader, stop)));
        planledger_server::serve_with(&serve_dir, None, Some(front), &mut std::io::sink())
    });
    let get = |path: &str| -> (Duration, usize) {
        let t = Instant::now();
        let mut s = loop {
            match std::net::TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut body).unwrap();
        assert!(body.starts_with(b"HTTP/1.1 200"), "{path}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
        (t.elapsed(), body.len())
    };
    // The first request waits for the store to open; it is not a page view.
    get(&format!("/indicators?year={year}"));
    let project = format!("/project/{plan_id}/{project_id}");
    let pages = [
        ("总览 /overview", format!("/overview?year={year}")),
        ("项目 /projects (300 rows)", format!("/projects?year={year}")),
        ("项目 /projects?lagging=1&sort=pct", format!("/projects?year={year}&lagging=1&sort=pct")),
        ("a project's page", project),
        ("指标 /indicators", format!("/indicators?year={year}")),
        ("总览 as of half the log", format!("/overview?year={year}&as_of={}", events / 2)),
    ];
    for (what, path) in pages {
        let mut times: Vec<Duration> = (0..PAGE_ROUNDS).map(|_| get(&path).0).collect();
        times.sort();
        let m = pct(&times, 0.5);
        report.row(
            &format!("web {what}, median (p95 {})", us(pct(&times, 0.95))),
            us(m),
            us(baseline),
            Some(m.as_secs_f64() / baseline.as_secs_f64()),
            "≤ 200 ms",
        );
    }
    report.notes.push(format!(
        "Web view: {events} events in {plans} plans of 300 projects; pages of the plan year {year} (plan {plan_id}), \
         {PAGE_ROUNDS} requests each over loopback HTTP; baseline: `summary --year {year}` through the read API in process."
    ));
    report
}

/// The planledger binary of this build (`cargo build --release` first): beside the bench's
/// own directory, `target/release/planledger`.
fn cli_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("planledger")).unwrap();
    assert!(bin.exists(), "{} is missing: run `cargo build --release` first", bin.display());
    bin
}

/// Runs the CLI once, as a clerk would: a new process, timed whole (spawn to exit), with its
/// peak resident memory. Started from a small process of its own (`--cli-once`, this bench
/// again): a child's ru_maxrss counts the memory of the process it was forked from, and this
/// one holds a ledger's state.
fn cli_once(bin: &Path, args: &[&str], now: &str) -> (Duration, u64) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--cli-once")
        .arg(bin)
        .args(args)
        .env("PLANLEDGER_NOW", now)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut words = text.split_whitespace().map(|w| w.parse::<u64>().unwrap());
    (Duration::from_nanos(words.next().unwrap()), words.next().unwrap())
}

/// `--cli-once BIN ARGS…`: runs BIN once and prints its wall time (ns) and peak RSS (KiB,
/// wait4's ru_maxrss).
// wait4 reaps the child (std's `Child::wait` cannot give its rusage).
#[allow(clippy::zombie_processes)]
pub fn cli_once_here(bin: &str, args: &[String]) -> String {
    let t = Instant::now();
    let child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's, not yet waited for; both pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let spent = t.elapsed();
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{args:?} failed");
    format!("{} {}", spent.as_nanos(), usage.ru_maxrss)
}

/// The arguments of the one-event submit the CLI measures time: a coordinator revises a
/// project's planned investment in the store at `dir`.
fn revise_target<'a>(dir: &'a str, project: &'a str, plan: &'a str, value: &'a str) -> [&'a str; 14] {
    let reason = "bench";
    [
        "--store",
        dir,
        "submit",
        "--as",
        "drc",
        "revise-target",
        "--project",
        project,
        "--plan",
        plan,
        "--value",
        value,
        "--reason",
        reason,
    ]
}

/// Events after the latest checkpoint that each ledger of `run_cli` is brought to before it
/// is measured: opening folds them (every one decoded, whatever plan it is of), so a
/// ledger measured just after a checkpoint and one measured just before the next would
/// differ by up to 16,384 decoded events for reasons that have nothing to do with size.
/// Half the interval: what a command meets on average.
pub const CLI_TAIL: u64 = checkpoint::CHECKPOINT_EVERY / 2;

/// Events after the latest checkpoint of `store`.
fn tail_of(store: &dyn Store) -> u64 {
    let head = store.head().events();
    head - store.checkpoint_at_or_before(head).unwrap().map_or(0, |(seq, _)| seq)
}

/// The seqs of the first `n` investments of `store` that no later event retracts (of the
/// first 100,000 events).
fn standing_investments(store: &dyn Store, n: usize) -> Vec<u64> {
    let (mut seqs, mut retracted) = (Vec::new(), std::collections::HashSet::new());
    for event in store.events(1).take(100_000) {
        let event = event.unwrap();
        match &event.payload {
            planledger::event::Payload::InvestmentReported(_) => seqs.push(event.seq),
            planledger::event::Payload::Retracted(r) => {
                retracted.insert(r.target_seq);
            }
            _ => {}
        }
    }
    seqs.retain(|s| !retracted.contains(s));
    seqs.truncate(n);
    seqs
}

/// Appends corrections of early investments to the ledger at `dir` until `CLI_TAIL`
/// events follow its latest checkpoint (through the next checkpoint if it is past that).
/// Returns the tail it found.
fn bring_tail_to(dir: &Path) -> u64 {
    let store = EmbeddedStore::open(dir).unwrap();
    let (head, before) = (store.head().events(), tail_of(&store));
    drop(store);
    // Ids counted from the head: each run's corrections are new submissions.
    let ids = CountingIds((1 << 96) + (u128::from(head) << 32));
    let mut ledger =
        Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(ids)).unwrap();
    let targets = standing_investments(ledger.store(), 1_000);
    let base = 1_000_000 + (head % 1_000_000) as i64 * 100_000;
    let mut k = 0usize;
    loop {
        let tail = tail_of(ledger.store());
        if tail == CLI_TAIL {
            return before;
        }
        let need = if tail < CLI_TAIL { (CLI_TAIL - tail).min(1_000) } else { 1_000 };
        let batch: Vec<Submission> = (0..need)
            .map(|_| {
                k += 1;
                // Values no earlier run on this ledger gave (it grew since: `head` differs),
                // so none is refused as unchanged.
                workload::correction(targets[k % targets.len()], base + k as i64, "调度")
            })
            .collect();
        ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
    }
}

/// What a clerk's command costs as the ledger grows: one CLI `submit` (open, decide,
/// commit, fsync, exit) and two one-plan reads, each a new process of the release binary,
/// on ledgers of `cfg.events` and `cfg.pit_events` events shaped as many small plans (370
/// projects a year: ≥ 100 plans at 1 M). Both are first brought to the same point of the
/// checkpoint interval (`CLI_TAIL`), and their rounds alternate (small, large, small, …),
/// so that the machine's moments fall on both alike. Figures: median wall time and the
/// largest peak RSS of `CLI_ROUNDS` runs; the ratio compares the large ledger with the
/// small one. Goal (#19): submit ≤ 50 ms and ≤ 64 MB at both sizes, within 1.5x of each
/// other.
pub fn run_cli(cfg: &Config) -> Report {
    const CLI_ROUNDS: usize = 7;
    let bin = cli_binary();
    let shape = Workload { projects_per_year: 370, first_year: 1000, batch: 1_000 };
    let mut report = Report::default();
    /// A ledger ready to be measured: its directory, events, plans, the tail it had before
    /// `bring_tail_to`, and what its commands name.
    struct Ready {
        dir: String,
        events: u64,
        plans: usize,
        tail_found: u64,
        plan: String,
        project: String,
        year: String,
        now: String,
    }
    let mut ready: Vec<Ready> = Vec::new();
    for events in [cfg.events, cfg.pit_events] {
        // Kept between runs (`rm -r DIR/cli-*` to make them again): the 10 M ledger takes
        // minutes to write.
        let dir = cfg.dir.join(format!("cli-{events}"));
        let mut ledger = open_ledger(&dir);
        if ledger.store().head().events() == 0 {
            ledger.submit_batches(workload::ACTOR, shape.batches(events), &|_, _| None, &mut |_, _| {}).unwrap();
        }
        drop(ledger);
        let tail_found = bring_tail_to(&dir);
        let ledger = open_ledger(&dir);
        let store = ledger.store();
        let n = store.head().events();
        let global = checkpoint::state_at(store, n, Some(&[])).unwrap();
        let plans: usize = global.years.values().map(Vec::len).sum();
        let year = *global.years.keys().nth(global.years.len() / 2).unwrap();
        let plan = format!("w-{year}");
        let state = planledger::query::plans_at(store, n, std::slice::from_ref(&plan)).unwrap();
        let project = state.plans.get(plan.as_str()).and_then(|p| p.projects.keys().next()).unwrap().to_string();
        let now = planledger::model::Timestamp(store.head().last_recorded_at.0 + 86_400_000_000).to_string();
        drop(ledger);
        let dir = dir.to_str().unwrap().to_string();
        ready.push(Ready { dir, events: n, plans, tail_found, plan, project, year: year.to_string(), now });
    }
    // Per ledger: the runs of submit, state --plan, summary --year.
    let mut runs: Vec<[Vec<(Duration, u64)>; 3]> = vec![Default::default(), Default::default()];
    for i in 0..CLI_ROUNDS {
        for (r, at) in ready.iter().zip(runs.iter_mut()) {
            let value = format!("{}.{i}", 100 + i);
            let d = r.dir.as_str();
            at[0].push(cli_once(&bin, &revise_target(d, &r.project, &r.plan, &value), &r.now));
            at[1].push(cli_once(&bin, &["--store", d, "state", "--plan", &r.plan, "--json"], &r.now));
            at[2].push(cli_once(&bin, &["--store", d, "summary", "--year", &r.year, "--json"], &r.now));
        }
    }
    let figures: Vec<[(Duration, u64); 3]> = runs
        .iter()
        .map(|per| {
            std::array::from_fn(|c| {
                let r = &per[c];
                (median(r.iter().map(|x| x.0).collect()), r.iter().map(|x| x.1).max().unwrap())
            })
        })
        .collect();
    let (a, b) = (figures[0], figures[1]);
    let (small, large) = (&ready[0], &ready[1]);
    let mib = |k: u64| format!("{:.0} MiB", k as f64 / 1024.0);
    for (i, what) in ["CLI submit", "CLI state --plan", "CLI summary --year"].iter().enumerate() {
        let goal_t = if i == 0 { "≤ 50 ms, ≤ 1.5x" } else { "-" };
        let goal_m = if i == 0 { "≤ 64 MiB, ≤ 1.5x" } else { "-" };
        report.row(
            &format!("{what}: wall (at {} / {} events)", large.events, small.events),
            ms(b[i].0),
            ms(a[i].0),
            Some(b[i].0.as_secs_f64() / a[i].0.as_secs_f64()),
            goal_t,
        );
        report.row(
            &format!("{what}: peak RSS (at {} / {} events)", large.events, small.events),
            mib(b[i].1),
            mib(a[i].1),
            Some(b[i].1 as f64 / a[i].1 as f64),
            goal_m,
        );
    }
    report.notes.push(format!(
        "Ledgers of {} events ({} plans) and {} events ({} plans), 370 projects a year, each brought to \
         {CLI_TAIL} events after its latest checkpoint (they were at {} and {}); rounds alternate between \
         them; each figure the median (time) or the largest (RSS) of {CLI_ROUNDS} runs of the release binary.",
        small.events, small.plans, large.events, large.plans, small.tail_found, large.tail_found
    ));
    report
}

/// Store bytes by part for the plan shapes whose checkpoints cost most (#19): one plan of
/// `big` projects, and `many` plans of `many` projects, each with twelve monthly investment
/// reports for every project (every plan changes between two checkpoints), imported in
/// batches of 1,000 through `submit_batches`. Goal: everything the store holds ≤ 1.5x its
/// log. Also the import rate (checkpoint time per event is part of it) and one CLI submit on
/// each, as a clerk would run it (`cargo build --release` first).
pub fn run_bytes(cfg: &Config, big: usize, many: usize) -> Report {
    let mut report = Report::default();
    let bin = cli_binary();
    for (plans, projects) in [(1, big), (many, many)] {
        let dir = cfg.dir.join(format!("bytes-{plans}x{projects}"));
        let _ = std::fs::remove_dir_all(&dir);
        let mut ledger = open_ledger(&dir);
        let t = Instant::now();
        ledger
            .submit_batches(
                workload::ACTOR,
                workload::side_by_side(plans, projects, 12, 1_000),
                &|_, _| None,
                &mut |_, _| {},
            )
            .unwrap();
        let spent = t.elapsed();
        let n = ledger.store().head().events();
        let checkpoints = ledger.store().checkpoints().count();
        let now = planledger::model::Timestamp(ledger.store().head().last_recorded_at.0 + 86_400_000_000).to_string();
        drop(ledger);
        let part = |name: &str| dir_bytes(&dir.join(name));
        let (log, partitions, ids) = (part("log"), part("partitions"), part("ids"));
        let total = dir_bytes(&dir);
        let index = total - log - partitions - ids;
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
        let shape = format!("{plans} plan(s) × {projects} projects, {n} events, {checkpoints} checkpoints");
        report.row(
            &format!("store bytes / log bytes ({shape})"),
            mb(total),
            mb(log),
            Some(total as f64 / log as f64),
            "≤ 1.5x",
        );
        report.row(
            &format!("  of which checkpoint partitions ({shape})"),
            mb(partitions),
            mb(log),
            Some(partitions as f64 / log as f64),
            "-",
        );
        report.row(&format!("  of which the id index ({shape})"), mb(ids), mb(log), Some(ids as f64 / log as f64), "-");
        report.row(
            &format!("  of which sled's index ({shape})"),
            mb(index),
            mb(log),
            Some(index as f64 / log as f64),
            "-",
        );
        report.row(&format!("import rate ({shape})"), fmt_rate(rate(n, spent)), "-".into(), None, "-");
        let d = dir.to_str().unwrap();
        let project = format!("s{:03}-p{}", plans / 2, projects / 2);
        let plan = format!("s-{:03}", plans / 2);
        let mut runs = Vec::new();
        for i in 0..5 {
            let value = format!("{}.{i}", 100 + i);
            runs.push(cli_once(&bin, &revise_target(d, &project, &plan, &value), &now));
        }
        let wall = median(runs.iter().map(|r| r.0).collect());
        let peak = runs.iter().map(|r| r.1).max().unwrap_or(0);
        report.row(
            &format!("CLI submit ({shape})"),
            format!("{:.1} ms, {:.0} MiB", wall.as_secs_f64() * 1e3, peak as f64 / 1024.0),
            "-".into(),
            None,
            "-",
        );
    }
    report
}

/// Rounds of the remote-appends measure (`--remote`); the median round's rate is the figure.
pub const REMOTE_ROUNDS: usize = 5;

/// Collects what the server announces on its `out` ("listening on ADDR"), line by line.
struct Announced(std::sync::mpsc::Sender<String>);

impl Write for Announced {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(bytes).into_owned());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One signed single-event `Append` as a department's client sends it: a target revision of
/// its own project, signed with its own key (format 2: this ledger, the event's id).
fn remote_append(
    pair: &planledger::keys::KeyPair,
    ledger: &[u8; 32],
    actor: &str,
    project: &str,
    value: &str,
) -> planledger_server::proto::AppendRequest {
    use planledger::decide::{Command, TargetSpec};
    use planledger_server::proto;
    let mut sub = Submission {
        signature: None,
        id: None,
        note: None,
        command: Command::ReviseTarget {
            target: TargetSpec::Project { project: project.into(), plan: None },
            value: value.parse().unwrap(),
            reason: "月度调度".into(),
        },
    };
    planledger::keys::sign(pair, ledger, actor, &mut sub);
    let (kind, fields) = planledger::keys::command_form(&sub);
    let sig = sub.signature.unwrap();
    proto::AppendRequest {
        actor: actor.into(),
        submissions: vec![proto::Submission {
            r#type: kind,
            fields: fields.into_iter().collect(),
            public_key: sig.key,
            signature: sig.bytes,
            signed: sig.signed,
            origin: String::new(),
        }],
        expected: Vec::new(),
        plan_toml: String::new(),
        auth: None,
    }
}

/// #19's remote appends (`--remote`): `cfg.writers` departments, each with its own
/// registered ed25519 key and its own gRPC connection (opened once and reused, as a client
/// does), append signed single-event submissions to a real server on loopback, closed loop
/// (each waits for its ack before sending the next). The server is the server crate's
/// `serve_options` in this process (the code `planledger serve` runs, with an access log
/// file as the shipped configuration has), on its own tokio runtime; the clients run on
/// another. Client and server share the 2 cores. The submissions are signed before the
/// clock starts (a department signs on its own machine); everything after — encoding,
/// HTTP/2 both ways, the server's verification, group commit, the fsync, the ack — is timed.
/// Each round releases every submitter together for `cfg.per_writer` appends; the figure is
/// the median round's rate (events over wall time), the latencies those of every append.
/// Baseline, in the same run and before the server starts: goal 4's in-process group commit
/// (the same number of threads, unsigned corrections, no network). Goal: ≥ 20 k signed
/// events/s, p99 ≤ 20 ms.
pub fn run_remote(cfg: &Config) -> Report {
    use planledger::clock::{SystemClock, V7Ids};
    use planledger::decide::Command;
    use planledger::keys::KeyPair;
    use planledger_server::proto;
    let mut report = Report::default();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let (ledger, targets) = seeded_ledger(&cfg.dir.join("group"), cfg.writers);
    let (ledger, in_process) = group_commit_rate(&mut report, cfg, ledger, &targets);
    drop(ledger);

    let dir = cfg.dir.join("remote");
    let _ = std::fs::remove_dir_all(&dir);
    let n = cfg.writers;
    let dept = |w: usize| format!("dept-{w:02}");
    let project = |w: usize| format!("p-{w:02}");
    let mut plan = String::from(
        "[plan]\nid = \"remote-2022\"\nyear = 2022\ntitle = \"Remote appends\"\njurisdiction = \"Bench\"\n\
         [[departments]]\nid = \"drc\"\nname = \"DRC\"\ncoordinator = true\n",
    );
    for w in 0..n {
        plan.push_str(&format!("[[departments]]\nid = \"{0}\"\nname = \"{0}\"\n", dept(w)));
    }
    for w in 0..n {
        plan.push_str(&format!(
            "[[projects]]\nid = \"{}\"\nname = \"{0}\"\nlevel = \"district\"\ndepartment = \"{}\"\nplanned_investment = \"10\"\n",
            project(w),
            dept(w)
        ));
    }
    let pairs: Vec<Arc<KeyPair>> = (0..n).map(|_| Arc::new(KeyPair::generate().unwrap())).collect();
    {
        let mut ledger = Ledger::open(&dir, Box::new(SystemClock), Box::new(V7Ids)).unwrap();
        let sub = |command| Submission { signature: None, id: None, note: None, command };
        let import = planledger::input::parse_plan(&plan).unwrap();
        ledger.submit("drc", &[sub(Command::ImportPlan(Box::new(import)))], &|_| None).unwrap();
        let keys: Vec<Submission> = (0..n)
            .map(|w| sub(Command::RegisterKey { principal: dept(w), role: None, key: pairs[w].public().to_vec() }))
            .collect();
        ledger.submit("drc", &keys, &|_| None).unwrap();
    }
    let ledger_key = planledger::keys::load(&dir).unwrap().public();
    let (tx, rx) = std::sync::mpsc::channel();
    let serve_dir = dir.clone();
    let access_log = planledger_server::access::Destination::File { path: dir.join("access.log"), retention_days: 1 };
    // The server runs until the process exits, as under systemd until SIGTERM.
    std::thread::spawn(move || {
        let options =
            planledger_server::Options { listen: Some("127.0.0.1:0".into()), access_log, ..Default::default() };
        planledger_server::serve_options(
            &planledger::store::StoreAt::from(serve_dir.as_path()),
            &options,
            None,
            &mut Announced(tx),
        )
    });
    let addr = loop {
        let line = rx.recv().expect("the server stopped before it listened");
        if let Some(addr) = line.trim().strip_prefix("listening on ") {
            break addr.to_string();
        }
    };
    eprintln!("{n} remote submitters on {addr} ...");
    let per = cfg.per_writer;
    // Request 0 of each submitter is a warm-up (its connection's first call), then the rounds.
    let requests: Vec<Vec<proto::AppendRequest>> = (0..n)
        .map(|w| {
            (0..=REMOTE_ROUNDS * per)
                .map(|k| remote_append(&pairs[w], &ledger_key, &dept(w), &project(w), &format!("11.{:04}", k + 1)))
                .collect()
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (rounds, lat) = runtime.block_on(async {
        let start = Arc::new(tokio::sync::Barrier::new(n + 1));
        let end = Arc::new(tokio::sync::Barrier::new(n + 1));
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|reqs| {
                let (start, end, url) = (start.clone(), end.clone(), format!("http://{addr}"));
                tokio::spawn(async move {
                    let mut client = proto::ledger_client::LedgerClient::connect(url).await.unwrap();
                    let mut reqs = reqs.into_iter();
                    // A refused append is reported after the rounds: a task that panicked here
                    // would never reach the barriers, and the measure would hang instead of fail.
                    let mut refused = None;
                    if let Some(first) = reqs.next() {
                        if let Err(e) = client.append(first).await {
                            refused = Some(e.to_string());
                        }
                    }
                    let mut lat = Vec::with_capacity(per * REMOTE_ROUNDS);
                    for _ in 0..REMOTE_ROUNDS {
                        start.wait().await;
                        for req in reqs.by_ref().take(per) {
                            if refused.is_some() {
                                break;
                            }
                            let t = Instant::now();
                            match client.append(req).await {
                                Ok(_) => lat.push(t.elapsed()),
                                Err(e) => refused = Some(e.to_string()),
                            }
                        }
                        end.wait().await;
                    }
                    (lat, refused)
                })
            })
            .collect();
        let rounds = time_rounds(&start, &end, (n * per) as u64).await;
        let lat = latencies(tasks, "a remote append").await;
        (rounds, lat)
    });
    let k = |r: f64| format!("{:.1} k ev/s", r / 1e3);
    let spread = rounds.iter().map(|r| k(*r)).collect::<Vec<_>>().join(", ");
    let remote = median_rate(&rounds);
    report.row(
        &format!(
            "{n} remote signed submitters × {per} single-event appends over gRPC (own key and connection each), \
             median of {REMOTE_ROUNDS} rounds ({spread})"
        ),
        rate_and_latency(k(remote), &lat),
        format!("in-process group commit {}", fmt_rate(in_process)),
        Some(remote / in_process),
        "≥ 20 k ev/s, p99 ≤ 20 ms",
    );
    let streamed: Vec<Vec<proto::AppendRequest>> = (0..n)
        .map(|w| {
            (0..=REMOTE_ROUNDS * REMOTE_STREAMED)
                .map(|k| remote_append(&pairs[w], &ledger_key, &dept(w), &project(w), &format!("12.{:05}", k + 1)))
                .collect()
        })
        .collect();
    let url = format!("http://{addr}");
    let (rounds, lat) = runtime.block_on(streamed_rounds(&url, streamed, REMOTE_STREAMED, REMOTE_WINDOW, 1));
    let streamed_rate = median_rate(&rounds);
    report.row(
        &format!(
            "{n} remote signed submitters × {REMOTE_STREAMED} single-event appends each on its own AppendStream \
             (≤ {REMOTE_WINDOW} unanswered, each acknowledged once durable), median of {REMOTE_ROUNDS} rounds ({})",
            rounds.iter().map(|r| k(*r)).collect::<Vec<_>>().join(", ")
        ),
        rate_and_latency(k(streamed_rate), &lat),
        format!("in-process group commit {}", fmt_rate(in_process)),
        Some(streamed_rate / in_process),
        "≥ 20 k ev/s, p99 ≤ 20 ms",
    );
    // A clerk's file: the same signed events, REMOTE_FILE_BATCH to a request, as `submit
    // --server URL --batch 100 --file F` sends them.
    let files: Vec<Vec<proto::AppendRequest>> = (0..n)
        .map(|w| {
            let singles: Vec<proto::AppendRequest> = (0..(REMOTE_ROUNDS * REMOTE_FILE_BATCHES + 1) * REMOTE_FILE_BATCH)
                .map(|k| remote_append(&pairs[w], &ledger_key, &dept(w), &project(w), &format!("13.{:05}", k + 1)))
                .collect();
            singles
                .chunks(REMOTE_FILE_BATCH)
                .map(|c| {
                    let mut r = c[0].clone();
                    r.submissions = c.iter().flat_map(|x| x.submissions.clone()).collect();
                    r
                })
                .collect()
        })
        .collect();
    let (rounds, lat) =
        runtime.block_on(streamed_rounds(&url, files, REMOTE_FILE_BATCHES, REMOTE_FILE_WINDOW, REMOTE_FILE_BATCH));
    let file_rate = median_rate(&rounds);
    report.row(
        &format!(
            "{n} remote signed submitters × {REMOTE_FILE_BATCHES} batches of {REMOTE_FILE_BATCH} events each on its own \
             AppendStream (a clerk's file, ≤ {REMOTE_FILE_WINDOW} batches unanswered; latency per batch), median of \
             {REMOTE_ROUNDS} rounds ({})",
            rounds.iter().map(|r| k(*r)).collect::<Vec<_>>().join(", ")
        ),
        rate_and_latency(k(file_rate), &lat),
        format!("in-process group commit {}", fmt_rate(in_process)),
        Some(file_rate / in_process),
        "none (the goal is for single events)",
    );
    report
}

/// Batches a streaming submitter sends in a round of the file measure, events in each, and
/// most sent and not yet answered.
pub const REMOTE_FILE_BATCHES: usize = 5;
pub const REMOTE_FILE_BATCH: usize = 100;
pub const REMOTE_FILE_WINDOW: usize = 2;

/// Single-event appends each submitter streams in a round (`--remote`'s second measure).
pub const REMOTE_STREAMED: usize = 500;
/// Most appends a streaming submitter has sent and not yet seen answered.
pub const REMOTE_WINDOW: usize = 4;

/// The median of `rates`.
fn median_rate(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// `--remote`'s streamed rounds: each submitter opens one `AppendStream` on its own
/// connection, sends its first request as a warm-up, then in each round (all released
/// together) its next `per` requests (of `events` events each), keeping at most `window`
/// unanswered; a request's latency runs from its send to its answer. The rounds' rates
/// (events over wall time) and every latency, sorted.
async fn streamed_rounds(
    url: &str,
    requests: Vec<Vec<planledger_server::proto::AppendRequest>>,
    per: usize,
    window: usize,
    events: usize,
) -> (Vec<f64>, Vec<Duration>) {
    use planledger_server::proto;
    let n = requests.len();
    let start = Arc::new(tokio::sync::Barrier::new(n + 1));
    let end = Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|reqs| {
            let (start, end, url) = (start.clone(), end.clone(), url.to_string());
            tokio::spawn(async move {
                let mut client = proto::ledger_client::LedgerClient::connect(url).await.unwrap();
                let (tx, rx) = tokio::sync::mpsc::channel(window);
                let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
                let mut reqs = reqs.into_iter();
                tx.send(reqs.next().unwrap()).await.unwrap();
                // A refusal is reported after the rounds (a task panicking here would leave
                // the barriers waiting).
                let mut refused = None;
                let mut answers = match client.append_stream(stream).await {
                    Ok(a) => Some(a.into_inner()),
                    Err(e) => {
                        refused = Some(e.to_string());
                        None
                    }
                };
                let mut lat = Vec::with_capacity(per * REMOTE_ROUNDS);
                if let Some(a) = answers.as_mut() {
                    if let Err(e) = a.message().await {
                        refused = Some(e.to_string());
                    }
                }
                for _ in 0..REMOTE_ROUNDS {
                    start.wait().await;
                    let mut sent = std::collections::VecDeque::with_capacity(window);
                    let mut left = per;
                    while let (None, Some(a)) = (&refused, answers.as_mut()) {
                        while sent.len() < window && left > 0 {
                            sent.push_back(Instant::now());
                            tx.send(reqs.next().unwrap()).await.unwrap();
                            left -= 1;
                        }
                        let Some(t) = sent.pop_front() else { break };
                        match a.message().await {
                            Ok(Some(_)) => lat.push(t.elapsed()),
                            Ok(None) => refused = Some("the stream ended early".into()),
                            Err(e) => refused = Some(e.to_string()),
                        }
                    }
                    end.wait().await;
                }
                (lat, refused)
            })
        })
        .collect();
    let rounds = time_rounds(&start, &end, (n * per * events) as u64).await;
    (rounds, latencies(tasks, "a streamed append").await)
}

/// Releases the submitters waiting on `start` for each of `REMOTE_ROUNDS` rounds and times
/// each until all of them reach `end`: each round's rate of `events` events.
async fn time_rounds(start: &tokio::sync::Barrier, end: &tokio::sync::Barrier, events: u64) -> Vec<f64> {
    let mut rounds = Vec::new();
    for _ in 0..REMOTE_ROUNDS {
        start.wait().await;
        let t = Instant::now();
        end.wait().await;
        rounds.push(rate(events, t.elapsed()));
    }
    rounds
}

/// Every submitter's latencies, sorted, once all have finished; a refusal any of them met
/// (`what` was refused) fails the measure.
async fn latencies(tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, Option<String>)>>, what: &str) -> Vec<Duration> {
    let mut lat = Vec::new();
    for task in tasks {
        let (l, refused) = task.await.unwrap();
        assert!(refused.is_none(), "{what} was refused: {refused:?}");
        lat.extend(l);
    }
    lat.sort();
    lat
}

/// Copies the directory `from` (a store) to `to`, which must not exist, file by file.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// One JSONL line of an investment, as `log --json` and `export-log` spell its fields (the
/// amount as a decimal string), with its id.
fn investment_line(sub: &Submission) -> Option<String> {
    let planledger::decide::Command::Investment { project, period, amount } = &sub.command else { return None };
    let id = sub.id?;
    Some(format!(
        "{{\"type\":\"investment\",\"id\":\"{id}\",\"project\":\"{project}\",\"period\":\"{period}\",\"amount\":\"{amount}\"}}\n"
    ))
}

/// Rounds of the CLI import measure; each runs the three imports once, one after another.
pub const CLI_IMPORT_ROUNDS: usize = 3;

/// #19's CLI import: `cfg.events` investments of the workload (3,000 projects a year, with
/// ids) written as a JSONL file, for a ledger whose plans were imported first; then, in each
/// round, on a fresh copy of that ledger: (a) the release binary, `planledger submit --batch
/// 1000 --file F`, a new process timed from spawn to exit (with its peak RSS); (b) the engine
/// in this process, `Ledger::submit_batches` of the same submissions already parsed, in
/// batches of 1,000 (open excluded); (c) `scripts/sqlite_import.py` inserting the same lines
/// into SQLite (WAL, synchronous=FULL, 1,000 a transaction), a new process timed the same way.
/// Figures: the median of `CLI_IMPORT_ROUNDS` rounds. Goals: the CLI ≥ 70 % of the engine's
/// rate and ≥ 2x the script's.
pub fn run_cli_import(cfg: &Config) -> Report {
    let bin = cli_binary();
    let n = cfg.events as usize;
    let root = cfg.dir.join("cli-import");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    // The workload's plans, and its first `n` investments (every month of every project).
    let mut plans: Vec<Submission> = Vec::new();
    let mut investments: Vec<Submission> = Vec::with_capacity(n);
    let mut batches = WORKLOAD.batches(u64::MAX);
    while investments.len() < n {
        for sub in batches.next().unwrap() {
            match sub.command {
                planledger::decide::Command::ImportPlan(_) => plans.push(sub),
                planledger::decide::Command::Investment { .. } if investments.len() < n => investments.push(sub),
                _ => {}
            }
        }
    }
    eprintln!("cli import: {} plans, then {} investments ...", plans.len(), investments.len());
    let seed = root.join("seed");
    let mut ledger = open_ledger(&seed);
    ledger.submit_batches(workload::ACTOR, plans.chunks(1), &|_, _| None, &mut |_, _| {}).unwrap();
    let seeded = ledger.store().head().events();
    let now = planledger::model::Timestamp(ledger.store().head().last_recorded_at.0 + 86_400_000_000).to_string();
    drop(ledger);

    let file = root.join("investments.jsonl");
    let mut w = std::io::BufWriter::new(File::create(&file).unwrap());
    for sub in &investments {
        w.write_all(investment_line(sub).unwrap().as_bytes()).unwrap();
    }
    w.into_inner().unwrap().sync_all().unwrap();
    let file_bytes = std::fs::metadata(&file).unwrap().len();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sqlite_import.py");

    let mut cli: Vec<(Duration, u64)> = Vec::new();
    let mut engine: Vec<Duration> = Vec::new();
    let mut python: Vec<Duration> = Vec::new();
    for round in 0..CLI_IMPORT_ROUNDS {
        // (a) the CLI, on a fresh copy of the seeded ledger.
        let dir = root.join(format!("cli-{round}"));
        copy_dir(&seed, &dir);
        let d = dir.to_str().unwrap();
        let f = file.to_str().unwrap();
        let run =
            cli_once(&bin, &["--store", d, "submit", "--as", workload::ACTOR, "--batch", "1000", "--file", f], &now);
        let head = EmbeddedStore::open(&dir).unwrap().head().events();
        assert_eq!(head, seeded + n as u64, "the CLI recorded every line");
        cli.push(run);
        let _ = std::fs::remove_dir_all(&dir);

        // (b) the engine, in process, on the same submissions already parsed.
        let dir = root.join(format!("engine-{round}"));
        copy_dir(&seed, &dir);
        let mut ledger = open_ledger(&dir);
        let mut acked = 0usize;
        let t = Instant::now();
        ledger
            .submit_batches(workload::ACTOR, investments.chunks(1_000), &|_, _| None, &mut |_, a| acked += a.len())
            .unwrap();
        engine.push(t.elapsed());
        assert_eq!(acked, n);
        drop(ledger);
        let _ = std::fs::remove_dir_all(&dir);

        // (c) the Python script into SQLite.
        let db = root.join(format!("sqlite-{round}.db"));
        let t = Instant::now();
        let out = std::process::Command::new("python3").arg(&script).arg(&file).arg(&db).output().unwrap();
        python.push(t.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n.to_string());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        eprintln!(
            "  round {round}: CLI {} ({:.0} MiB), engine {}, python {}",
            fmt_rate(rate(n as u64, run.0)),
            run.1 as f64 / 1024.0,
            fmt_rate(rate(n as u64, engine[round])),
            fmt_rate(rate(n as u64, python[round]))
        );
    }
    let rounds: Vec<String> = (0..CLI_IMPORT_ROUNDS)
        .map(|i| {
            format!(
                "{:.2}x / {:.2}x",
                engine[i].as_secs_f64() / cli[i].0.as_secs_f64(),
                python[i].as_secs_f64() / cli[i].0.as_secs_f64()
            )
        })
        .collect();
    let cli_t = median(cli.iter().map(|r| r.0).collect());
    let cli_rss = cli.iter().map(|r| r.1).max().unwrap();
    let engine_t = median(engine);
    let python_t = median(python);
    let mut report = Report::default();
    report.row(
        &format!(
            "CLI import `submit --batch 1000 --file` of {n} investments, whole process, against the engine in process"
        ),
        fmt_rate(rate(n as u64, cli_t)),
        format!("engine {}", fmt_rate(rate(n as u64, engine_t))),
        Some(engine_t.as_secs_f64() / cli_t.as_secs_f64()),
        "≥ 0.70x",
    );
    report.row(
        "CLI import against the Python script into SQLite (WAL, synchronous=FULL, 1,000 a transaction)",
        fmt_rate(rate(n as u64, cli_t)),
        format!("SQLite script {}", fmt_rate(rate(n as u64, python_t))),
        Some(python_t.as_secs_f64() / cli_t.as_secs_f64()),
        "≥ 2x",
    );
    report.row(
        "CLI import: peak RSS of the process",
        format!("{:.0} MiB", cli_rss as f64 / 1024.0),
        "-".into(),
        None,
        "-",
    );
    report.notes.push(format!(
        "CLI import: {n} investments ({:.0} MB of JSONL, ids included) into a ledger of {seeded} events ({} plans \
         imported first), a fresh copy each time; medians of {CLI_IMPORT_ROUNDS} rounds (each round's ratios, \
         engine/CLI and SQLite/CLI: {}).",
        file_bytes as f64 / 1e6,
        plans.len(),
        rounds.join(", ")
    ));
    report
}

/// Opens the ledger at `at` (a directory or a PostgreSQL ledger) with the benchmark's clock
/// and ids.
fn open_at(at: &planledger::store::StoreAt) -> Ledger {
    Ledger::open_at(at, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(1 << 64)))
        .unwrap()
}

/// A ledger at `at` holding the first batch of `load` (its first `events` events), and the
/// seqs of its first `targets` investments (what the appends correct).
fn seeded_at(at: &planledger::store::StoreAt, load: &Workload, events: u64, targets: usize) -> (Ledger, Vec<u64>) {
    if let Some(dir) = at.dir() {
        let _ = std::fs::remove_dir_all(dir);
    }
    let mut ledger = open_at(at);
    for batch in load.batches(events) {
        ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
    }
    let targets = workload::investments(ledger.store(), targets.max(1)).unwrap();
    (ledger, targets)
}

/// `n` durable single appends one after another through group commit (as a server makes
/// them): their latencies, sorted.
fn single_appends(ledger: Ledger, targets: &[u64], n: usize) -> (Ledger, Vec<Duration>) {
    let group = GroupCommit::new(ledger);
    let mut lat: Vec<Duration> = (0..n)
        .map(|i| {
            let sub = correction(targets[i % targets.len()], i as i64 + 700_000);
            let t = Instant::now();
            group.submit(workload::ACTOR, vec![sub]).unwrap();
            t.elapsed()
        })
        .collect();
    lat.sort();
    (group.into_inner(), lat)
}

/// `events` inserted into SQLite one transaction each (WAL, `synchronous=FULL`: durable at
/// each commit), as a single append is: their latencies, sorted.
fn sqlite_single_inserts(dir: &Path, events: &[Event]) -> Vec<Duration> {
    let path = dir.join("singles.sqlite");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join("singles.sqlite-wal"));
    std::fs::create_dir_all(dir).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, data BLOB NOT NULL);",
    )
    .unwrap();
    let mut stmt = conn.prepare_cached("INSERT INTO events (seq, stream, data) VALUES (?1, ?2, ?3)").unwrap();
    let mut buf = Vec::new();
    let mut lat: Vec<Duration> = events
        .iter()
        .map(|e| {
            buf.clear();
            codec::encode_event(e, &mut buf);
            let t = Instant::now();
            stmt.execute(rusqlite::params![e.seq as i64, e.payload.stream(), &buf]).unwrap();
            t.elapsed()
        })
        .collect();
    lat.sort();
    lat
}

/// Events per second that `writers` threads on each of `ledgers` append for `spent`
/// (single-event corrections through each ledger's group commit, all ledgers at once).
fn ledgers_at_once(ledgers: Vec<(Ledger, Vec<u64>)>, writers: usize, spent: Duration) -> f64 {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let start = Arc::new(std::sync::Barrier::new(ledgers.len() * writers + 1));
    let mut threads = Vec::new();
    for (l, (ledger, targets)) in ledgers.into_iter().enumerate() {
        let group = Arc::new(GroupCommit::new(ledger));
        for w in 0..writers {
            let (group, stop, done, start) = (group.clone(), stop.clone(), done.clone(), start.clone());
            let target = targets[w % targets.len()];
            threads.push(std::thread::spawn(move || {
                start.wait();
                let mut i = 0;
                while !stop.load(Ordering::Acquire) {
                    let sub = correction(target, (l * 10_000_000 + w * 100_000 + i) as i64 + 2_000_000);
                    group.submit(workload::ACTOR, vec![sub]).unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
    }
    start.wait();
    let t = Instant::now();
    std::thread::sleep(spent);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = t.elapsed();
    stop.store(true, Ordering::Release);
    for t in threads {
        t.join().unwrap();
    }
    rate(counted, elapsed)
}

/// The PostgreSQL backend beside the embedded store (`--postgres URL`: a database for the
/// benchmark, in which it makes ledgers `b<pid>-*`): durable single appends, `cfg.writers`
/// writers on one ledger, many ledgers with 8 writers each at once, and a replay.
pub fn run_postgres(cfg: &Config, url: &str, ledgers: usize) -> Report {
    use planledger::pg::{self, PgTarget};
    use planledger::store::StoreAt;
    let mut report = Report::default();
    let base = PgTarget::parse(url).unwrap();
    pg::migrate(&base, false).unwrap();
    let pid = std::process::id();
    let on_pg = |name: &str| StoreAt::Postgres(Box::new(base.with_ledger(&format!("b{pid}-{name}")).unwrap()));
    let embedded = |name: &str| StoreAt::Dir(cfg.dir.join(format!("pg-beside-{name}")));
    eprintln!("durable single appends ...");
    let singles = cfg.singles;
    let (pg_ledger, pg_targets) = seeded_at(&on_pg("single"), &WORKLOAD, 3_000, cfg.writers);
    let (emb_ledger, emb_targets) = seeded_at(&embedded("single"), &WORKLOAD, 3_000, cfg.writers);
    let (pg_ledger, pg_lat) = single_appends(pg_ledger, &pg_targets, singles);
    let (emb_ledger, emb_lat) = single_appends(emb_ledger, &emb_targets, singles);
    let sample: Vec<Event> = emb_ledger.store().events(1).take(singles).map(|e| e.unwrap()).collect();
    let sqlite_lat = sqlite_single_inserts(&cfg.dir.join("pg-beside-sqlite"), &sample);
    drop(emb_ledger);
    let p = |lat: &[Duration]| format!("{} / {}", us(pct(lat, 0.5)), us(pct(lat, 0.99)));
    report.row(
        &format!("durable single append, {singles} one after another: p50 / p99"),
        format!("PostgreSQL {}", p(&pg_lat)),
        format!("embedded {}; SQLite insert {}", p(&emb_lat), p(&sqlite_lat)),
        Some(pct(&emb_lat, 0.5).as_secs_f64() / pct(&pg_lat, 0.5).as_secs_f64()),
        "- (ratio: embedded p50 / PostgreSQL p50)",
    );
    let (pg_ledger, rate_one) = group_commit_rate(&mut report, cfg, pg_ledger, &pg_targets);
    let k = |r: f64| format!("{:.1} k ev/s", r / 1e3);
    report.row(
        &format!("PostgreSQL: {} concurrent writers on one ledger", cfg.writers),
        k(rate_one),
        "-".into(),
        None,
        "≥ 10 k ev/s",
    );
    drop(pg_ledger);
    // Many ledgers: a small plan each (what a district's ledger holds at the start of a year).
    let small = Workload { projects_per_year: 30, first_year: 1950, batch: 100 };
    let mut aggregate = Vec::new();
    for n in [1, ledgers] {
        eprintln!("{n} ledgers × 8 writers ...");
        let opened: Vec<(Ledger, Vec<u64>)> =
            (0..n).map(|i| seeded_at(&on_pg(&format!("many{n}-{i}")), &small, 100, 8)).collect();
        aggregate.push((n, ledgers_at_once(opened, 8, Duration::from_secs(3))));
    }
    let (one, many) = (aggregate[0].1, aggregate[1].1);
    report.row(
        &format!("PostgreSQL: {ledgers} ledgers × 8 writers at once, aggregate"),
        k(many),
        format!("1 ledger × 8 writers {}", k(one)),
        Some(many / one),
        "grows with ledgers (> 1x)",
    );
    eprintln!("replay ...");
    let events = (cfg.events / 5).max(6_000);
    let (pg_ledger, _) = seeded_at(&on_pg("replay"), &WORKLOAD, events, 1);
    let (emb_ledger, _) = seeded_at(&embedded("replay"), &WORKLOAD, events, 1);
    let replay = |store: &dyn Store| {
        let t = Instant::now();
        let state = fold_all(store);
        (state.last_seq, t.elapsed())
    };
    let (n_pg, t_pg) = replay(pg_ledger.store());
    let (n_emb, t_emb) = replay(emb_ledger.store());
    assert_eq!(n_pg, n_emb, "the same events on both backends");
    report.row(
        &format!("replay of {n_pg} events (the whole log folded)"),
        format!("PostgreSQL {}", fmt_rate(rate(n_pg, t_pg))),
        format!("embedded {}", fmt_rate(rate(n_emb, t_emb))),
        Some(rate(n_pg, t_pg) / rate(n_emb, t_emb)),
        "-",
    );
    assert!(planledger::verify::verify(pg_ledger.store()).unwrap().ok());
    report.notes.push(format!(
        "PostgreSQL at {url}: fsync and synchronous_commit as the server is configured; ledgers b{pid}-* were made for this run."
    ));
    report
}
