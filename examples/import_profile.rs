//! Profiling aid: imports N workload events into a fresh store (no baselines).
//! `cargo run --release --example import_profile -- 300000 /tmp/prof`
// The allocator the planledger binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::cpu_secs;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let dir = std::path::PathBuf::from(args.get(2).cloned().unwrap_or_else(|| "/tmp/planledger-prof".into()));
    let batches: Vec<_> = common::workload(1_000).batches(n).collect();
    let mut ledger = common::fresh_ledger(&dir);
    let (main0, all0) = (cpu_secs("/proc/thread-self/stat"), cpu_secs("/proc/self/stat"));
    let t = std::time::Instant::now();
    ledger.submit_batches(planledger::workload::ACTOR, &batches, &|_, _| None, &mut |_, _| ()).unwrap();
    let e = ledger.store().head().events();
    println!(
        "{e} events in {:.2}s: {:.0} ev/s; {} bytes on disk",
        t.elapsed().as_secs_f64(),
        e as f64 / t.elapsed().as_secs_f64(),
        ledger.store().disk_bytes()
    );
    let (main1, all1) = (cpu_secs("/proc/thread-self/stat"), cpu_secs("/proc/self/stat"));
    println!(
        "cpu: {:.2} µs/event on the importing thread, {:.2} µs/event in all threads",
        (main1 - main0) * 1e6 / e as f64,
        (all1 - all0) * 1e6 / e as f64
    );
    let t = std::time::Instant::now();
    let mut s = planledger::projection::State::default();
    for ev in ledger.store().events(1) {
        planledger::projection::apply(&mut s, &ev.unwrap());
    }
    println!("replay {:.0} ev/s", e as f64 / t.elapsed().as_secs_f64());
    sizes(ledger.store().embedded().unwrap().raw_tree());
    drop(ledger);
    let store = planledger::store::EmbeddedStore::open(&dir).unwrap();
    println!("after close: {} bytes on disk, {:.0} B/event", store.disk_bytes(), store.disk_bytes() as f64 / e as f64);
}

#[allow(dead_code)]
fn sizes(tree: &sled::Tree) {
    let mut by: std::collections::BTreeMap<u8, (u64, u64, u64)> = Default::default();
    for kv in tree.iter() {
        let (k, v) = kv.unwrap();
        let e = by.entry(k[0]).or_default();
        e.0 += 1;
        e.1 += v.len() as u64;
        e.2 += lz4_flex::compress(&v).len() as u64;
    }
    for (p, (n, b, c)) in by {
        println!("prefix {}: {n} keys, {b} bytes, lz4 {c}", p as char);
    }
}
