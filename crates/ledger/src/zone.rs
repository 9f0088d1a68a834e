//! The ledger's time zone, kept in `<store>/time-zone` beside the ledger key: which day
//! "today" is for `decide` and `summary`, and how an `--as-of` time typed without an offset
//! is read. A store without the file (every store made before it existed) is on 北京时间,
//! Asia/Shanghai. Set with `planledger time-zone --set ZONE`; it changes no recorded event.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::TimeZone;

pub const ZONE_FILE: &str = "time-zone";

/// The store's time zone (Asia/Shanghai when it has none set).
pub fn load(dir: &Path) -> Result<TimeZone> {
    let path = dir.join(ZONE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => TimeZone::parse(text.trim()).map_err(|e| e.at(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TimeZone::SHANGHAI),
        Err(e) => Err(Error::io(msg!("io.cannot_read", path = path.display()), e)),
    }
}

/// Sets the store's time zone: written whole (a temporary file, synced, renamed).
pub fn save(dir: &Path, zone: TimeZone) -> Result<()> {
    let path = dir.join(ZONE_FILE);
    let tmp = dir.join(format!("{ZONE_FILE}.partial"));
    let text = match zone.name {
        Some(n) => format!("{n}\n"),
        None => format!("{}\n", zone.to_string().trim_start_matches("UTC")),
    };
    let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}
