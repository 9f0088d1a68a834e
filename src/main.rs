fn main() {
    std::process::exit(planledger::cli::main());
}
