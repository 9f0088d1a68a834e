//! planledger: the ledger. Numbering, chaining and committing decided events through the
//! store (`ledger`), group commit for concurrent submitters (`commit`), the typed read API
//! (`read`: one function per question, used by the CLI and the server alike), the questions
//! behind it (`query`, `audit`, `snapshot`, `proof`, `verify`), signing keys and signed texts
//! (`keys`), and a deterministic workload for benchmarks and large tests (`workload`).
//!
//! The core's and the store's modules are re-exported, so `planledger::model` or
//! `planledger::store` name the same modules as the crates below.

#[macro_use]
extern crate planledger_core;

pub mod audit;
pub mod backup;
pub mod bundle;
pub mod commit;
pub mod copy;
pub mod keys;
pub mod ledger;
pub mod proof;
pub mod query;
pub mod read;
pub mod snapshot;
pub mod verify;
pub mod workload;
pub mod zone;

pub use planledger_core::{
    clock, decide, error, event, execution, export, hash, input, model, monthly, names, plan_sheet, projection, report,
    report_sheet, sheet, summary, text,
};
pub use planledger_core::{msg, tr, Error, Lang, Msg, Result};
pub use planledger_store::{checkpoint, codec, merkle, pg, repair, store, wal};
