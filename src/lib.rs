//! planledger: an event-sourced ledger for the execution of government development plans.
//!
//! Architecture: docs/ARCHITECTURE.md. In short: `input` parses files and flags into
//! `decide::Command`s; `decide` validates them against `projection::State` and returns
//! `event::Payload`s; `ledger` numbers, chains and commits them through `store` (sled, via
//! `codec`); `projection::apply` folds events into state; `report` and `query` answer reads;
//! `cli` is the command line.

pub mod audit;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod codec;
pub mod commit;
pub mod decide;
pub mod demo;
pub mod error;
pub mod event;
pub mod input;
pub mod keys;
pub mod ledger;
pub mod memory;
pub mod merkle;
pub mod model;
pub mod projection;
pub mod proof;
pub mod query;
pub mod read;
pub mod remote;
pub mod report;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod summary;
pub mod verify;
pub mod wal;
pub mod workload;

pub use error::{Error, Result};
