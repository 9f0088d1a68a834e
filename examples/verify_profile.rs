//! Profiling aid: `verify` of an existing store, with the system allocator (so heap
//! profilers see every allocation).
//! `cargo run --release --example verify_profile -- /tmp/planledger-bench/pit`
fn main() {
    planledger_cli::memory::no_huge_pages();
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/planledger-bench/pit".into());
    let store = planledger::store::EmbeddedStore::open(std::path::Path::new(&dir)).unwrap();
    let t = std::time::Instant::now();
    let v = planledger::verify::verify(&store).unwrap();
    println!("{v:?} in {:.2} s", t.elapsed().as_secs_f64());
}
