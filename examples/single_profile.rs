//! Profiling aid: durable single appends (p50) against raw append + fdatasync on the same disk.
//! `cargo run --release --example single_profile -- /tmp/planledger-single`
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/planledger-single".into()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = planledger::workload::Workload { projects_per_year: 3_000, first_year: 1950, batch: 3_000 };
    let mut ledger = planledger::ledger::Ledger::open(
        &dir,
        Box::new(planledger::clock::SteppingClock::new(planledger::workload::clock_start(), 1_000)),
        Box::new(planledger::clock::CountingIds(1 << 64)),
    )
    .unwrap();
    ledger.submit(planledger::workload::ACTOR, &w.batches(3_000).next().unwrap(), &|_| None).unwrap();
    let target = ledger.store().events(1).map(|e| e.unwrap()).find(|e| e.payload.kind() == "investment").unwrap().seq;
    let mut raw = std::fs::File::create(dir.join("raw")).unwrap();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let sub = planledger::decide::Submission {
            signature: None,
            id: None,
            note: None,
            command: planledger::decide::Command::Correct {
                event: planledger::decide::EventRef::Seq(target),
                value: rust_decimal::Decimal::new(1_000 + i, 2),
                reason: "r".into(),
            },
        };
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
