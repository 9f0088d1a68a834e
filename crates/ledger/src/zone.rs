//! The ledger's time zone, kept in `<store>/time-zone` beside the ledger key: which day
//! "today" is for `decide` and `summary`, and how an `--as-of` time typed without an offset
//! is read. A store without the file (every store made before it existed) is on 北京时间,
//! Asia/Shanghai. Set with `planledger time-zone --set ZONE`; it changes no recorded event.

use crate::error::{Error, Result};
use crate::model::TimeZone;
use crate::store::Files;

pub const ZONE_FILE: &str = "time-zone";

/// The store's time zone (Asia/Shanghai when it has none set).
pub fn load<F: Files + ?Sized>(files: &F) -> Result<TimeZone> {
    match files.read_file(ZONE_FILE)? {
        Some(bytes) => {
            let at = || format!("{}/{ZONE_FILE}", files.shown());
            let text = String::from_utf8(bytes).map_err(|_| Error::invalid(msg!("cli.not_utf8")).at(at()))?;
            TimeZone::parse(text.trim()).map_err(|e| e.at(at()))
        }
        None => Ok(TimeZone::SHANGHAI),
    }
}

/// Sets the store's time zone: written whole (a temporary file, synced, renamed).
pub fn save<F: Files + ?Sized>(files: &F, zone: TimeZone) -> Result<()> {
    let text = match zone.name {
        Some(n) => format!("{n}\n"),
        None => format!("{}\n", zone.to_string().trim_start_matches("UTC")),
    };
    files.write_file(ZONE_FILE, text.as_bytes(), false)
}
