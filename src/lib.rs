//! planledger-cli: the command line (the `planledger` binary). It parses flags with clap
//! into the library's typed commands and queries, runs them against a local store or a server
//! (`remote`), prints the answers, and maps every error to an exit code in one place
//! (`cli::exit_code`). Architecture: docs/ARCHITECTURE.md.

pub mod cli;
pub mod demo;
pub mod import;
pub mod memory;
pub mod progress;
pub mod remote;
