//! Profiling aid: 32 threads correcting investments through group commit.
//! `cargo run --release --example group_profile -- /tmp/planledger-group`
use std::sync::Arc;

use planledger::decide::{Command, EventRef, Submission};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/planledger-group".into()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = planledger::workload::Workload { projects_per_year: 3_000, first_year: 1950, batch: 1_000 };
    let mut ledger = planledger::ledger::Ledger::open(
        &dir,
        Box::new(planledger::clock::SteppingClock::new(planledger::workload::clock_start(), 1_000)),
        Box::new(planledger::clock::CountingIds(1 << 64)),
    )
    .unwrap();
    for b in w.batches(3_000).take(3) {
        ledger.submit(planledger::workload::ACTOR, &b, &|_| None).unwrap();
    }
    let targets: Vec<u64> = ledger
        .store()
        .events(1)
        .map(|e| e.unwrap())
        .filter(|e| e.payload.kind() == "investment")
        .map(|e| e.seq)
        .take(32)
        .collect();
    let group = Arc::new(planledger::commit::GroupCommit::new(ledger));
    let t = std::time::Instant::now();
    let per = 300;
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let g = group.clone();
            let target = targets[i];
            std::thread::spawn(move || {
                for k in 0..per {
                    let sub = Submission {
                        signature: None,
                        id: None,
                        note: None,
                        command: Command::Correct {
                            event: EventRef::Seq(target),
                            value: rust_decimal::Decimal::new(1_000 + (i * per + k) as i64, 2),
                            reason: "r".into(),
                        },
                    };
                    g.submit(planledger::workload::ACTOR, vec![sub]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let n = 32 * per;
    println!("{n} appends in {:.2}s: {:.0}/s", t.elapsed().as_secs_f64(), n as f64 / t.elapsed().as_secs_f64());
}
