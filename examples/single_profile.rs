//! Profiling aid: durable single appends (p50) against raw append + fdatasync on the same disk.
//! `cargo run --release --example single_profile -- /tmp/planledger-single`
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::io::Write;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/planledger-single".into()));
    let mut ledger = common::fresh_ledger(&dir);
    ledger
        .submit(planledger::workload::ACTOR, &common::workload(3_000).batches(3_000).next().unwrap(), &|_| None)
        .unwrap();
    let target = planledger::workload::investments(ledger.store(), 1).unwrap()[0];
    let mut raw = std::fs::File::create(dir.join("raw")).unwrap();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let sub = common::correction(target, 1_000 + i);
        let t = std::time::Instant::now();
        ledger.submit(planledger::workload::ACTOR, &[sub], &|_| None).unwrap();
        ours.push(t.elapsed());
        let t = std::time::Instant::now();
        raw.write_all(&[0x5a; 108]).unwrap();
        raw.sync_data().unwrap();
        base.push(t.elapsed());
    }
    ours.sort();
    base.sort();
    println!("p50 {:?} raw {:?} ratio {:.2}", ours[150], base[150], ours[150].as_secs_f64() / base[150].as_secs_f64());
}
