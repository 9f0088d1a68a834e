//! PostgreSQL beyond one process: two `planledger serve` on one ledger and on several, with
//! concurrent writers through the real CLI; a synchronous standby promoted after the
//! primary is killed mid-load; a ledger copied from a directory to PostgreSQL and back.
//! Skipped (saying so) without PostgreSQL, unless `PLANLEDGER_TEST_PG=1` asks for it.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg::{self, Cluster};
use common::serve::*;
use common::*;

/// One signed submission through the server at `addr` (a revised target, which a project
/// may take any number of), with its own id: the ack's seq and whether it was a duplicate,
/// or the failure (exit code, stderr).
fn invest(addr: &str, key: &str, id: &str, amount: &str) -> Result<(u64, bool), (i32, String)> {
    let r = output(
        Command::new(BIN)
            .args(["--server", addr, "--key", key, "--json", "submit", "--as", "housing"])
            .args(["revise-target", "--project", "park", "--value", amount, "--reason", "调度", "--id", id])
            .env_remove("PLANLEDGER_STORE")
            .output()
            .unwrap(),
    );
    if r.code != 0 {
        return Err((r.code, r.stderr));
    }
    let ack = r.json();
    Ok((ack["seq"].as_u64().unwrap(), ack["duplicate"].as_bool().unwrap()))
}

/// Writes a figure of the test on stderr past the test harness's capture, so that a CI log
/// shows it (`.ci/run`'s output, the note).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "postgres suite: {line}");
}

/// A deterministic id for writer `w`'s `i`-th submission.
fn id_of(w: usize, i: usize) -> String {
    format!("0190a5c2-{w:04x}-7000-8000-{i:012x}")
}

/// A revised target of project park, signed with `key` and sent through `srv` with `flags`
/// (`--ledger NAME`) before the command.
fn revise(srv: &Server, key: &str, flags: &[&str], value: &str) -> Run {
    let what =
        ["submit", "--as", "housing", "revise-target", "--project", "park", "--value", value, "--reason", "调度"];
    remote(srv, Some(key), &[flags, &what[..]].concat())
}

/// A target no other submission of the test sets (a revision to the value in force is
/// refused as nothing to revise).
fn value_of(w: usize, i: usize) -> String {
    format!("{}.{:04}", w + 1, i + 1)
}

/// The ledger's log as (seq, id) pairs, checking that the seqs run 1..=n with no gap and the
/// chain verifies.
fn dense_verified_log(env: &Env) -> Vec<(u64, String)> {
    env.assert_verifies();
    let log: Vec<(u64, String)> = env
        .log()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["seq"].as_u64().unwrap(), v["id"].as_str().unwrap().to_string())
        })
        .collect();
    let seqs: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>(), "seqs are not dense");
    log
}

/// `writers` threads, each sending `per_writer` investments alternately through the servers
/// at `addrs`; returns every acknowledgement: id → seq.
fn load(addrs: &[String], key: &str, writers: usize, per_writer: usize, first_writer: usize) -> HashMap<String, u64> {
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (addrs, key, acked) = (addrs.to_vec(), key.to_string(), acked.clone());
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    let id = id_of(first_writer + w, i);
                    let addr = &addrs[(w + i) % addrs.len()];
                    let value = value_of(first_writer + w, i);
                    let (seq, duplicate) = invest(addr, &key, &id, &value).unwrap_or_else(|e| panic!("{id}: {e:?}"));
                    assert!(!duplicate, "{id} acknowledged as a duplicate on first sending");
                    acked.lock().unwrap().insert(id, seq);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

/// A subscriber of `addr` for events 1..=`count`: the seqs it printed, in order.
fn subscriber(addr: &str, key: &str, count: u64) -> std::thread::JoinHandle<Vec<u64>> {
    let child = Command::new(BIN)
        .args(["--server", addr, "--key", key, "--json", "subscribe", "--from", "1", "--count", &count.to_string()])
        .env_remove("PLANLEDGER_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::spawn(move || {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "subscribe: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
            .collect()
    })
}

#[test]
fn two_servers_append_to_one_gap_free_chain_and_subscribers_of_each_see_every_event_once() {
    let Some((env, keys)) = on_postgres(bootstrap) else { return };
    let (a, b) = (start(&env), start(&env));
    let addrs = vec![a.addr.clone(), b.addr.clone()];
    // A key registered through one server signs through the other at once; revoked through
    // one, it is refused by the other.
    let new_key = env.tmp.path().join("housing-2.key");
    env.run(&["dept", "keygen", "--out", path_str(&new_key)]).ok();
    let rotate = |verb: &str| {
        let mut args = vec!["dept", verb, "housing", "--public-key", path_str(&new_key), "--as", "drc"];
        if verb == "revoke" {
            args.extend(["--reason", "轮换"]);
        }
        remote(&a, Some(&keys.drc), &args).ok();
    };
    let with_new_key = |value: &str| revise(&b, path_str(&new_key), &[], value);
    rotate("register");
    with_new_key("99").ok();
    rotate("revoke");
    with_new_key("98").fails(4, "revoked");
    let before = env.log().lines().count() as u64;
    let (writers, per_writer) = (8, 6);
    // Concurrent writers on one stream with the same expected version: exactly one wins.
    // A stream the load below does not write: the contenders race only each other.
    let stream = "plan/test-2022/project/road";
    let contenders = 6;
    let total = before + (writers * per_writer) as u64 + 1 + 1;
    let subs = [subscriber(&a.addr, &keys.auditor, total), subscriber(&b.addr, &keys.auditor, total)];
    let version = env.log().lines().filter(|l| l.contains(&format!("\"stream\":\"{stream}\""))).count();
    let race: Vec<_> = (0..contenders)
        .map(|c| {
            let (addr, key) = (addrs[c % 2].clone(), keys.housing.clone());
            std::thread::spawn(move || {
                output(
                    Command::new(BIN)
                        .args(["--server", &addr, "--key", &key, "submit", "--as", "housing"])
                        .args(["--expect", &format!("{stream}={version}")])
                        .args(["revise-target", "--project", "road", "--value", "12", "--reason", "调度"])
                        .env_remove("PLANLEDGER_STORE")
                        .output()
                        .unwrap(),
                )
            })
        })
        .collect();
    let acked = load(&addrs, &keys.housing, writers, per_writer, 0);
    let race: Vec<Run> = race.into_iter().map(|t| t.join().unwrap()).collect();
    let winners = race.iter().filter(|r| r.code == 0).count();
    assert_eq!(winners, 1, "one winner per expected version: {:?}", race.iter().map(|r| &r.stderr).collect::<Vec<_>>());
    for r in race.iter().filter(|r| r.code != 0) {
        assert_eq!(r.code, 5, "a loser is a conflict: {}", r.stderr);
    }
    // The same id through both servers at once: recorded once, acknowledged with one seq.
    let dup = id_of(99, 0);
    let both: Vec<_> = addrs
        .iter()
        .map(|addr| {
            let (addr, key, dup) = (addr.clone(), keys.housing.clone(), dup.clone());
            std::thread::spawn(move || invest(&addr, &key, &dup, "7").unwrap())
        })
        .collect();
    let both: Vec<(u64, bool)> = both.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(both[0].0, both[1].0, "one seq for one id: {both:?}");
    assert_eq!(both.iter().filter(|(_, d)| !d).count(), 1, "written once, a duplicate the other time: {both:?}");
    let log = dense_verified_log(&env);
    assert_eq!(log.len() as u64, total);
    let at: HashMap<&str, u64> = log.iter().map(|(s, id)| (id.as_str(), *s)).collect();
    for (id, seq) in &acked {
        assert_eq!(at.get(id.as_str()), Some(seq), "acknowledged {id} at {seq}");
    }
    for s in subs {
        assert_eq!(s.join().unwrap(), (1..=total).collect::<Vec<_>>(), "a subscriber saw every event once, in order");
    }
    say(&format!("two servers: {} acknowledged appends, {total} events, one chain", acked.len()));
}

#[test]
fn several_ledgers_in_one_database_keep_chains_of_their_own() {
    let Some(ledgers) = on_postgres(|| (0..3).map(|_| bootstrap()).collect::<Vec<_>>()) else { return };
    let servers: Vec<(Server, Server)> = ledgers.iter().map(|(env, _)| (start(env), start(env))).collect();
    let threads: Vec<_> = ledgers
        .iter()
        .zip(&servers)
        .enumerate()
        .map(|(n, ((_, keys), (a, b)))| {
            let (addrs, key) = (vec![a.addr.clone(), b.addr.clone()], keys.housing.clone());
            std::thread::spawn(move || load(&addrs, &key, 4, 5, n * 10))
        })
        .collect();
    let acked: Vec<HashMap<String, u64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let heads: Vec<String> = ledgers.iter().map(|(env, _)| env.assert_verifies()["head"].to_string()).collect();
    for ((env, _), acked) in ledgers.iter().zip(&acked) {
        let log = dense_verified_log(env);
        let at: HashMap<&str, u64> = log.iter().map(|(s, id)| (id.as_str(), *s)).collect();
        assert_eq!(acked.len(), 20);
        for (id, seq) in acked {
            assert_eq!(at.get(id.as_str()), Some(seq));
        }
    }
    // Each ledger its own chain, keys and head.
    assert!(heads[0] != heads[1] && heads[1] != heads[2], "{heads:?}");
    let keys: Vec<String> = ledgers.iter().map(|(env, _)| env.run(&["key"]).ok().stdout).collect();
    assert!(keys[0] != keys[1] && keys[1] != keys[2], "{keys:?}");
}

/// A synchronous standby made with pg_basebackup; the primary killed with SIGKILL while two
/// servers take appends; the standby promoted; the servers reconnect through the URL's
/// host list. Every acknowledged event is there, once, and the chain verifies.
#[test]
fn an_acknowledged_append_survives_the_primary_s_crash_and_the_standby_s_promotion() {
    if pg::skipped() {
        return;
    }
    let mut primary = Cluster::start();
    primary.create_db("ha");
    let replica = primary.start_sync_replica();
    let url = format!("{}&ledger=district", pg::failover_url(&primary, &replica, "ha"));
    let env = Env::at_url(&url);
    env.run(&["store", "init"]).ok();
    let keys = bootstrap_in(&env);
    let (a, b) = (start(&env), start(&env));
    let addrs = [a.addr.clone(), b.addr.clone()];
    let acked: Arc<Mutex<BTreeMap<String, (u64, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let resent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (addrs, key, acked, stop) = (addrs.clone(), keys.housing.clone(), acked.clone(), stop.clone());
            let resent = resent.clone();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Acquire) {
                    let id = id_of(w, i);
                    // A client whose request failed sends it again, same id, until it is
                    // acknowledged: as any client of an append-only ledger must.
                    loop {
                        match invest(&addrs[(w + i) % 2], &key, &id, &value_of(w, i)) {
                            Ok((seq, _)) => {
                                acked.lock().unwrap().insert(id.clone(), (seq, Instant::now()));
                                break;
                            }
                            Err((code, e)) => {
                                assert!(code == 6 || code == 7, "only unavailability while failing over: {code} {e}");
                                resent.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let acked_count = || acked.lock().unwrap().len();
    assert!(pg::wait_until(Duration::from_secs(60), || acked_count() >= 40), "no appends before the crash");
    primary.kill9();
    let killed = Instant::now();
    let before_crash = acked_count();
    replica.promote();
    assert!(
        pg::wait_until(Duration::from_secs(120), || acked_count() >= before_crash + 40),
        "no appends after promotion"
    );
    stop.store(true, Ordering::Release);
    for w in writers {
        w.join().unwrap();
    }
    drop((a, b));
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    // Seconds without write service: the longest pause between acknowledgements around the crash.
    let mut times: Vec<Instant> = acked.values().map(|(_, t)| *t).collect();
    times.sort();
    let outage = times.windows(2).filter(|w| w[1] > killed).map(|w| w[1] - w[0]).max().unwrap_or_default();
    let log = dense_verified_log(&env);
    let at: HashMap<&str, u64> = log.iter().map(|(s, id)| (id.as_str(), *s)).collect();
    for (id, (seq, _)) in &acked {
        assert_eq!(at.get(id.as_str()), Some(seq), "acknowledged {id} at {seq} is not there after the failover");
    }
    let ids: std::collections::HashSet<&str> = log.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), log.len(), "an id recorded twice");
    say(&format!(
        "failover: {} acknowledged ({before_crash} before the crash), {} events found, {:.1} s without write service, {} requests sent again",
        acked.len(),
        log.len(),
        outage.as_secs_f64(),
        resent.load(Ordering::Relaxed)
    ));
}

#[test]
fn a_ledger_copied_to_postgresql_and_back_is_the_same_log_byte_for_byte() {
    let (dir, keys) = bootstrap();
    let invest = |env: &Env, period: &str, amount: &str| {
        let what = ["investment", "--project", "park", "--period", period, "--amount", amount];
        env.run(&[&["--key", keys.housing.as_str(), "submit", "--as", "housing"][..], &what[..]].concat()).ok();
    };
    for i in 1..=5 {
        invest(&dir, &format!("2022-0{i}"), &format!("1.{i}"));
    }
    let Some(url) = on_postgres(pg::fresh_ledger) else { return };
    let pg = Env::at_url(&url);
    let copied = dir.run(&["--json", "store", "copy", "--to", &url]).ok().json();
    let back = Env::new();
    pg.run(&["store", "copy", "--to", path_str(&back.store())]).ok();
    let log = dir.log();
    assert_eq!(pg.log(), log, "log --json on PostgreSQL");
    assert_eq!(back.log(), log, "log --json copied back");
    let root = |e: &Env| e.run(&["checkpoint"]).ok().json()["root"].clone();
    assert_eq!(root(&pg), root(&dir));
    assert_eq!(root(&back), root(&dir));
    assert_eq!(copied["root"], root(&dir));
    assert_eq!(pg.run(&["key"]).ok().stdout, dir.run(&["key"]).ok().stdout, "the ledger key travels");
    // Signed events verify on arrival, and a copy is made only into an empty store.
    pg.run(&["verify", "--require-signatures"]).ok();
    dir.run(&["store", "copy", "--to", &url]).fails(3, "already holds");
    // A backup restored into a PostgreSQL ledger, and an exported log read back into
    // another: the same log; a ledger that holds events takes neither.
    let backup = dir.tmp.path().join("b.plbackup");
    let exported = dir.tmp.path().join("e.jsonl.zst");
    dir.run(&["backup", "--out", path_str(&backup)]).ok();
    dir.run(&["export-log", "--out", path_str(&exported)]).ok();
    let restored = Env::at_url(&pg::fresh_ledger());
    restored.run(&["restore", path_str(&backup)]).ok();
    assert_eq!(restored.log(), log);
    assert_eq!(restored.run(&["key"]).ok().stdout, dir.run(&["key"]).ok().stdout);
    let imported = Env::at_url(&pg::fresh_ledger());
    imported.run(&["import-log", path_str(&exported)]).ok();
    assert_eq!(imported.log(), log);
    restored.run(&["restore", path_str(&backup)]).fails(3, "already holds");
    // The copy appends on as the original would.
    invest(&pg, "2022-06", "2");
    invest(&back, "2022-06", "2");
    assert_eq!(pg.run(&["state", "--json"]).ok().stdout, back.run(&["state", "--json"]).ok().stdout);
}

/// The GRANT statements docs/deploy-ha.md gives the application role, as it gives them.
fn documented_grants() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy-ha.md")).unwrap();
    let mut grants = String::new();
    let mut in_grant = false;
    for line in doc.lines() {
        in_grant |= line.starts_with("GRANT ");
        if in_grant {
            grants.push_str(line);
            grants.push('\n');
            in_grant = !line.trim_end().ends_with(';');
        }
    }
    assert!(grants.matches("GRANT ").count() >= 4, "the grants in docs/deploy-ha.md: {grants}");
    grants
}

/// A ledger worked by the application role under the documented grants: plans, keys, the
/// time zone, signed appends and reads all go; its UPDATE and DELETE of an event are refused
/// by the database. An event the superuser alters is named by `verify`.
#[test]
fn the_application_role_cannot_alter_events_and_an_altered_event_is_named_by_verify() {
    if pg::skipped() {
        return;
    }
    let cluster = pg::shared();
    let db = "granted";
    cluster.create_db(db);
    cluster.psql(db, "CREATE ROLE planledger_app LOGIN");
    let owner = format!("{}?ledger=district", cluster.url(db));
    Env::at_url(&owner).run(&["store", "init"]).ok();
    cluster.psql(db, &documented_grants());
    let app = cluster.url(db).replacen("postgres@", "planledger_app@", 1);
    let env = Env::at_url(&format!("{app}?ledger=district"));
    let keys = bootstrap_in(&env);
    env.run(&["time-zone", "--set", "Asia/Urumqi"]).ok();
    for m in 3..=5 {
        let period = format!("2022-0{m}");
        env.run(&[
            "--key",
            &keys.housing,
            "submit",
            "--as",
            "housing",
            "investment",
            "--project",
            "park",
            "--period",
            &period,
            "--amount",
            "1.5",
        ])
        .ok();
    }
    let verified = env.assert_verifies();
    let events = verified["events"].as_u64().unwrap();
    for sql in ["UPDATE planledger_events SET body = body WHERE seq = 3", "DELETE FROM planledger_events WHERE seq = 3"]
    {
        let refused = pg::psql_url(&app, sql).expect_err(sql);
        assert!(refused.contains("permission denied"), "{sql}: {refused}");
    }
    assert_eq!(env.log().lines().count() as u64, events);
    // The superuser flips one byte of the last event's bytes: the chain no longer holds there.
    cluster.psql(
        db,
        &format!(
            "UPDATE planledger_events SET body = overlay(body PLACING '\\xff'::bytea FROM octet_length(body) FOR 1)
             WHERE ledger = 'district' AND seq = {events}"
        ),
    );
    let r = env.run(&["verify", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["first_bad_seq"], events);
    assert!(r.stderr.contains(&format!("verification failed at seq {events}")), "{}", r.stderr);
}

/// A ledger past its first checkpoints, copied to PostgreSQL and back by the real binary:
/// the checkpoints travel (partitions as stored), each is verified on arrival, and the logs
/// are the same bytes.
#[test]
fn a_copy_carries_the_checkpoints_and_verifies_them_on_arrival() {
    use planledger::clock::{CountingIds, SteppingClock};
    use planledger::workload::{self, Workload};
    let Some(url) = on_postgres(pg::fresh_ledger) else { return };
    let dir = Env::new();
    let load = Workload { projects_per_year: 30, first_year: 2001, batch: 1_000 };
    {
        let clock = Box::new(SteppingClock::new(workload::clock_start(), 1_000));
        let mut ledger = planledger::ledger::Ledger::open(&dir.store(), clock, Box::new(CountingIds(1))).unwrap();
        for batch in load.batches(40_000) {
            ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
        }
    }
    let there = dir.run(&["--json", "store", "copy", "--to", &url]).ok().json();
    assert!(there["checkpoints"].as_u64().unwrap() >= 1, "{there}");
    let back = Env::new();
    let again = Env::at_url(&url).run(&["--json", "store", "copy", "--to", path_str(&back.store())]).ok().json();
    assert_eq!(again["checkpoints"], there["checkpoints"]);
    assert_eq!(again["root"], there["root"]);
    let log = dir.log();
    assert_eq!(Env::at_url(&url).log(), log);
    assert_eq!(back.log(), log);
    for env in [&dir, &Env::at_url(&url), &back] {
        env.assert_verifies();
    }
}

/// Servers started on one ledger of a database serve its other ledgers too, named per
/// request (`--ledger`): appends through either server land in that ledger's chain alone; a
/// ledger the database does not hold is refused, never made; and a server of a directory
/// refuses another ledger.
#[test]
fn servers_of_one_database_serve_every_ledger_a_request_names() {
    let Some(((first, first_keys), (other, other_keys))) = on_postgres(|| (bootstrap(), bootstrap())) else { return };
    let other_name = other.url.as_deref().unwrap().rsplit("ledger=").next().unwrap().to_string();
    let (a, b) = (start(&first), start(&first));
    let first_log = first.log();
    for (i, srv) in [&a, &b].into_iter().enumerate() {
        revise(srv, &other_keys.housing, &["--ledger", &other_name], &format!("3{i}")).ok();
    }
    // Each ledger has its own key: a submission signed for one is refused by another.
    revise(&a, &first_keys.housing, &["--ledger", &other_name], "40").fails(4, "");
    let through_b = remote(&b, Some(&other_keys.auditor), &["--ledger", &other_name, "log", "--json"]).ok().stdout;
    assert_eq!(through_b, other.log(), "read through the other server: the same log");
    assert_eq!(other.log().lines().filter(|l| l.contains("\"type\":\"revise-target\"")).count(), 2);
    assert_eq!(first.log(), first_log, "the first ledger is untouched");
    remote(&a, Some(&first_keys.auditor), &["--ledger", "nope", "state"]).fails(6, "no store at");
    let ledgers = first.run(&["store", "ledgers"]).ok().stdout;
    assert!(!ledgers.lines().any(|l| l == "nope"), "a request made a ledger: {ledgers}");
    other.assert_verifies();
    // A directory's server serves its one ledger.
    let (dir, keys) = bootstrap();
    let srv = start(&dir);
    remote(&srv, Some(&keys.auditor), &["--ledger", "x", "state"])
        .fails(3, "serves the ledger of a store directory only");
}
