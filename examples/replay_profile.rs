//! Profiling aid: folds an existing store's whole log a few times, ignoring checkpoints.
//! `cargo run --release --example replay_profile -- /tmp/planledger-bench/planledger`
// The allocator the planledger binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/planledger-bench/planledger".into());
    let store = planledger::store::EmbeddedStore::open(std::path::Path::new(&dir)).unwrap();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut s = planledger::projection::State::default();
        store
            .fold_events(1, |e| {
                planledger::projection::apply(&mut s, e);
                Ok(true)
            })
            .unwrap();
        let n = s.last_seq;
        println!("{n} events: {:.2} M ev/s", n as f64 / t.elapsed().as_secs_f64() / 1e6);
    }
}
