//! Profiling aid: 32 threads correcting investments through group commit, each waiting for
//! its own append to be durable before the next (a closed loop, as the bench's round).
//! `cargo run --release --example group_profile -- /tmp/planledger-group [appends per thread]`
// The allocator the planledger binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::sync::Arc;

const WRITERS: usize = 32;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "/tmp/planledger-group".into()));
    let per: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(300);
    let mut ledger = common::fresh_ledger(&dir);
    for b in common::workload(1_000).batches(3_000).take(3) {
        ledger.submit(planledger::workload::ACTOR, &b, &|_| None).unwrap();
    }
    let targets = planledger::workload::investments(ledger.store(), WRITERS).unwrap();
    let group = Arc::new(planledger::commit::GroupCommit::new(ledger));
    let cpu0 = common::cpu_secs("/proc/self/stat");
    let t = std::time::Instant::now();
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let g = group.clone();
            let target = targets[i];
            std::thread::spawn(move || {
                for k in 0..per {
                    let sub = common::correction(target, 1_000 + (i * per + k) as i64);
                    g.submit(planledger::workload::ACTOR, vec![sub]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let (spent, cpu) = (t.elapsed().as_secs_f64(), common::cpu_secs("/proc/self/stat") - cpu0);
    let n = WRITERS * per;
    println!(
        "{n} appends in {spent:.2}s: {:.0}/s; cpu {:.1} µs/append in all threads",
        n as f64 / spent,
        cpu * 1e6 / n as f64
    );
}
