//! planledger-store: how the log and its derived data are kept on disk. The stored byte
//! formats (`codec`, the only place that knows bincode), the write-ahead log segments
//! (`wal`), the sled index and the atomic commit (`store`, the only place that knows sled),
//! checkpoints of the fold (`checkpoint`) and the Merkle tree (`merkle`). It depends on the
//! core's types only; the ledger above it decides what to write.

#[macro_use]
extern crate planledger_core;

pub mod checkpoint;
pub mod codec;
pub mod ids;
pub mod merkle;
pub mod open;
pub mod pg;
pub mod repair;
pub mod store;
pub mod wal;

// The core's modules, so that paths inside this crate read as they do in the ledger's.
pub use planledger_core::{clock, error, event, model, projection};
pub use planledger_core::{Error, Msg, Result};
