//! Crash safety: SIGKILL a process that appends in a loop, many times; every event it
//! acknowledged must be present afterwards, and the chain must verify.
//!
//! The appending process is this test binary itself, re-run with `PLANLEDGER_CRASH_CHILD`
//! set: it opens the store through the library, appends single events and batches in a loop,
//! and prints `ack <seq> <id>` only after `submit` returned (that is, after the fsync). Every
//! eighth round goes through the pipelined path (`submit_batches`, the writer thread), which
//! prints a batch's acks when its ticket says durable.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use planledger::clock::{SystemClock, V7Ids};
use planledger::decide::{Command as Cmd, Submission};
use planledger::ledger::Ledger;
use rust_decimal::Decimal;

const CHILD_ENV: &str = "PLANLEDGER_CRASH_CHILD";

/// The child: appends until killed, one event at a time and, every fourth round, a batch of
/// three; every eighth round, four pipelined batches of three. Corrections of the two
/// investments can be repeated without end (each a new value).
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let mut ledger = Ledger::open(std::path::Path::new(&dir), Box::new(SystemClock), Box::new(V7Ids)).unwrap();
    let start = ledger.store().head().events();
    let mut n = start as usize;
    println!("ready {start}");
    let corrections = |from: usize, size: usize| -> Vec<Submission> {
        (from..from + size)
            .map(|i| Submission {
                signature: None,
                id: None,
                note: Some(format!("crash-test {i}")),
                command: Cmd::Correct {
                    event: planledger::decide::EventRef::Seq(9 + (i % 2) as u64),
                    value: Decimal::from(i as u64 + 1000),
                    reason: "crash loop".into(),
                },
            })
            .collect()
    };
    let mut round = 0usize;
    loop {
        round += 1;
        if round.is_multiple_of(8) {
            let batches: Vec<Vec<Submission>> = (0..4).map(|b| corrections(n + 3 * b, 3)).collect();
            ledger
                .submit_batches("housing", &batches, &|_, _| None, &mut |_, acks| {
                    for a in acks {
                        println!("ack {} {}", a.seq, a.id);
                    }
                })
                .unwrap();
            n += 12;
            continue;
        }
        let size = if n.is_multiple_of(4) { 3 } else { 1 };
        let acks = ledger.submit("housing", &corrections(n, size), &|_| None).unwrap();
        for a in acks {
            println!("ack {} {}", a.seq, a.id);
        }
        n += size;
    }
}

#[test]
fn sigkill_while_appending_loses_nothing_acknowledged() {
    let env = Env::new();
    env.import(PLAN_2022).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-01", "--amount", "1"]).ok();
    env.submit("housing", &["investment", "--project", "road", "--period", "2022-01", "--amount", "1"]).ok();
    let me = std::env::current_exe().unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    let rounds = 25;
    let deadline = Instant::now() + Duration::from_secs(120);
    for round in 0..rounds {
        let mut child = Command::new(&me)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, env.store())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        // libtest prints "test crash_child ... " before the child's first line.
                        if l.contains("ready ") {
                            let _ = ready_tx.send(());
                        }
                        lines.push(l)
                    }
                    Err(_) => break,
                }
            }
            lines
        });
        // The kill is timed from the child's open, not its spawn: on a loaded machine starting
        // the test binary alone can take longer than the whole window below.
        ready_rx.recv_timeout(Duration::from_secs(30)).expect("the crash child never opened the ledger");
        // Let it run a varying while: from just after open to a few dozen appends.
        std::thread::sleep(Duration::from_millis(15 + (round * 37 % 120) as u64));
        unsafe {
            libc_kill(child.id() as i32);
        }
        let _ = child.wait();
        let lines = reader.join().unwrap();
        for l in lines {
            if let Some(rest) = l.strip_prefix("ack ") {
                let (seq, id) = rest.split_once(' ').unwrap();
                acked.push((seq.parse().unwrap(), id.to_string()));
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    eprintln!("{} acknowledged events over the kills", acked.len());
    assert!(acked.len() > 20, "the child acknowledged too little to test anything: {}", acked.len());
    // Every acknowledged event is in the log with the same id, and the chain verifies.
    let by_seq = env.ids_by_seq();
    for (seq, id) in &acked {
        assert_eq!(by_seq.get(seq), Some(id), "acknowledged seq {seq} lost or changed");
    }
    let v = env.assert_verifies();
    assert!(v["events"].as_u64().unwrap() >= acked.last().unwrap().0);
}

unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}
