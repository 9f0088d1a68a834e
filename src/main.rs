// mimalloc: the fold and the decoder allocate small strings per event; measured 10 % faster
// replay than the system allocator (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    planledger_cli::memory::no_huge_pages();
    std::process::exit(planledger_cli::cli::main());
}
