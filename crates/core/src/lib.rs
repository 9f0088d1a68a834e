//! planledger-core: the domain, with no I/O. Values and vocabularies (`model`), the events
//! and their payloads (`event`), the Decider (`decide(&State, Command) -> Vec<Payload>`) and
//! the fold (`projection::apply`), the reports computed from a state (`summary`, `report`),
//! the parsers of plan files and submissions (`input`), and the injected clock and id
//! sources (`clock`). It knows no storage engine, no byte format, no network and no command
//! line: the crates above it do (docs/ARCHITECTURE.md).

#[macro_use]
pub mod msg;
pub mod clock;
pub mod decide;
pub mod error;
pub mod event;
pub mod execution;
pub mod export;
pub mod hash;
pub mod input;
pub mod model;
pub mod monthly;
pub mod names;
pub mod plan_sheet;
pub mod projection;
pub mod report;
pub mod report_sheet;
pub mod serde_decimal;
pub mod sheet;
pub mod summary;
pub mod text;

pub use error::{Error, Result};
pub use msg::{Lang, Msg};
