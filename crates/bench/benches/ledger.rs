//! `cargo bench -p planledger-bench --bench ledger [-- --quick] [--dir DIR] [--events N] [--pit-events N] [--group-commit] [--remote]`
//! (`--group-commit`: only the concurrent-writers measure; `--reads`: only appends while
//! full reads run; `--web`: only the web view's pages, on `--events` events; `--cli`: one CLI
//! command's time and memory on ledgers of `--events` and `--pit-events` events, after
//! `cargo build --release`; `--bytes [--big N] [--many N]`: store bytes by part for one plan
//! of N projects and N plans of N, after `cargo build --release`; `--remote`: #19's remote
//! appends, signed submitters over gRPC to a server in this process, against the in-process
//! group commit measured in the same run; `--cli-import`: #19's CLI import, `submit --batch
//! 1000 --file` of `--events` investments (default 1 M) by the release binary against the
//! engine in process and a Python script into SQLite, after `cargo build --release`)
//! Runs the comparative harness (benches/harness.rs) and prints its table.
//! `cargo bench -p planledger-bench --bench ledger -- --replay-rss DIR` folds the store in DIR in this fresh
//! process and prints its peak memory; `--verify-rss DIR` does the same for `verify`.

mod harness;

// The allocator the planledger binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(i) = args.iter().position(|a| a == "--cli-once") {
        println!("{}", harness::cli_once_here(&args[i + 1], &args[i + 2..]));
        return;
    }
    if let Some(dir) = value("--replay-rss") {
        println!("{}", harness::replay_rss(std::path::Path::new(&dir)));
        return;
    }
    if let Some(dir) = value("--verify-rss") {
        println!("{}", harness::verify_rss(std::path::Path::new(&dir)));
        return;
    }
    let dir =
        value("--dir").map(std::path::PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("planledger-bench"));
    let mut cfg =
        if args.iter().any(|a| a == "--quick") { harness::Config::quick(dir) } else { harness::Config::full(dir) };
    if let Some(n) = value("--events").and_then(|v| v.parse().ok()) {
        cfg.events = n;
    }
    if let Some(n) = value("--pit-events").and_then(|v| v.parse().ok()) {
        cfg.pit_events = n;
    }
    let report = if let Some(url) = value("--postgres") {
        let ledgers = value("--ledgers").and_then(|v| v.parse().ok()).unwrap_or(200);
        harness::run_postgres(&cfg, &url, ledgers)
    } else if args.iter().any(|a| a == "--cli-import") {
        harness::run_cli_import(&cfg)
    } else if args.iter().any(|a| a == "--bytes") {
        let big = value("--big").and_then(|v| v.parse().ok()).unwrap_or(99_000);
        let many = value("--many").and_then(|v| v.parse().ok()).unwrap_or(300);
        harness::run_bytes(&cfg, big, many)
    } else if args.iter().any(|a| a == "--cli") {
        harness::run_cli(&cfg)
    } else if args.iter().any(|a| a == "--web") {
        harness::run_web(&cfg)
    } else if args.iter().any(|a| a == "--remote") {
        harness::run_remote(&cfg)
    } else if args.iter().any(|a| a == "--group-commit") {
        harness::run_group_commit(&cfg)
    } else if args.iter().any(|a| a == "--reads") {
        harness::run_appends_under_reads(&cfg)
    } else {
        harness::run(&cfg)
    };
    println!("{}", report.markdown());
}
