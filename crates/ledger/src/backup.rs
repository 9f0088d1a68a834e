//! Backups: the whole log of a store, as a file another machine restores into a store that is
//! byte for byte the same (the same events, the same chain hashes, the same Merkle root).
//!
//! The file is text, one JSON document per line, so it can be inspected, compressed and
//! compared with ordinary tools:
//! - line 1, the header: `{"format":"planledger-backup/1","events":N,"head":HEX,"root":HEX,
//!   "recorded_at":…,"time_zone":…,"ledger_key":HEX|null}`;
//! - then one line per event in seq order: `{"seq":N,"hash":HEX,"event":HEX}`, `event` being
//!   its canonical bytes (what its hash covers).
//!
//! A backup is taken from a store's durable prefix (a read-only open, or the server's own
//! store through the `Backup` RPC while writers go on), and is consistent at its `events`. It holds the ledger's signing key (the key a restored server
//! signs tree heads with), so it is written readable by its owner only, and is as secret as
//! the store. Restore writes into a new directory beside the target and renames it into
//! place only once the chain, the head and the Merkle root match the header: a bad or
//! altered backup leaves nothing behind.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{json, Value};

use crate::codec::{self, hex};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{EmbeddedStore, Store, BATCH_EVENTS_MAX};

pub const FORMAT: &str = "planledger-backup/1";
/// Longest line a backup holds: an event's canonical bytes, in hex, and its frame.
const LINE_BYTES_MAX: usize = 2 * crate::event::EVENT_BYTES_MAX as usize + 256;

/// What a backup states about itself (its header), and what `restore` checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub head: String,
    pub root: String,
}

fn unhex(field: &str, t: &str) -> Result<Vec<u8>> {
    crate::keys::unhex_any(field, t)
}

/// Writes a backup of `store` up to its head to `out`; returns its summary.
pub fn write(store: &dyn Store, out: &mut dyn Write) -> Result<Summary> {
    let head = store.head();
    let events = head.events();
    let root = hex(&head.merkle.root());
    let dir = store.dir();
    // The ledger's signing key (its seed, in hex, as the store keeps it), if it has one.
    let ledger_key = match std::fs::read_to_string(dir.join(crate::keys::KEY_FILE)) {
        Ok(text) => Value::String(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(Error::io(msg!("io.cannot_read", path = dir.join(crate::keys::KEY_FILE).display()), e)),
    };
    let zone = crate::zone::load(dir)?;
    // As `zone::save` writes it: the name, or the offset.
    let zone = match zone.name {
        Some(n) => n.to_string(),
        None => zone.to_string().trim_start_matches("UTC").to_string(),
    };
    let header = json!({
        "format": FORMAT,
        "events": events,
        "head": hex(&head.last_hash),
        "root": root,
        "recorded_at": head.last_recorded_at.to_string(),
        "time_zone": zone,
        "ledger_key": ledger_key,
    });
    let io = |e| Error::io(msg!("backup.writing"), e);
    writeln!(out, "{header}").map_err(io)?;
    let mut bytes = Vec::new();
    for stored in store.scan(1) {
        let stored = stored?;
        if stored.event.seq > events {
            break;
        }
        bytes.clear();
        codec::encode_event(&stored.event, &mut bytes);
        writeln!(
            out,
            "{{\"seq\":{},\"hash\":\"{}\",\"event\":\"{}\"}}",
            stored.event.seq,
            hex(&stored.hash),
            hex(&bytes)
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(Summary { events, head: hex(&head.last_hash), root })
}

/// Restores the backup read from `input` into `dir`, which must not exist or be empty.
pub fn restore(input: &mut dyn BufRead, dir: &Path) -> Result<Summary> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::invalid(msg!("backup.target_not_empty", dir = dir.display())));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = dir.with_file_name(format!(".{name}.restoring"));
    let _ = std::fs::remove_dir_all(&partial);
    let result = restore_into(input, &partial);
    match result {
        Ok(summary) => {
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
            }
            std::fs::rename(&partial, dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
            if let Some(parent) = dir.parent() {
                let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
            }
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

fn read_line(input: &mut dyn BufRead, n: usize) -> Result<Option<Value>> {
    let mut line = String::new();
    let read = std::io::Read::take(&mut *input, LINE_BYTES_MAX as u64 + 1)
        .read_line(&mut line)
        .map_err(|e| Error::io(msg!("backup.reading"), e))?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > LINE_BYTES_MAX {
        return Err(Error::invalid(msg!("backup.line_too_long", max = LINE_BYTES_MAX)).at_line(n));
    }
    serde_json::from_str(line.trim_end())
        .map(Some)
        .map_err(|e| Error::invalid(msg!("backup.not_json", error = e)).at_line(n))
}

fn restore_into(input: &mut dyn BufRead, dir: &Path) -> Result<Summary> {
    let header = read_line(input, 1)?.ok_or_else(|| Error::invalid(msg!("backup.empty")))?;
    if header["format"].as_str() != Some(FORMAT) {
        return Err(Error::invalid(msg!("backup.not_a_backup", format = FORMAT)).at_line(1));
    }
    let claim = Summary {
        events: header["events"]
            .as_u64()
            .ok_or_else(|| Error::invalid(msg!("backup.header_field", field = "events")))?,
        head: header["head"].as_str().unwrap_or_default().to_string(),
        root: header["root"].as_str().unwrap_or_default().to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
    if let Some(zone) = header["time_zone"].as_str() {
        crate::zone::save(dir, crate::model::TimeZone::parse(zone)?)?;
    }
    if let Some(key) = header["ledger_key"].as_str() {
        // Checked as the store reads it: 32 bytes in hex.
        let seed = crate::keys::unhex32("ledger_key", key).map_err(|e| e.at_line(1))?;
        write_secret(&dir.join(crate::keys::KEY_FILE), hex(&seed).as_bytes())?;
    }
    let store = EmbeddedStore::open(dir)?;
    let mut batch: Vec<Event> = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut next = 1u64;
    let mut last_at = crate::model::Timestamp(i64::MIN);
    let mut n = 1usize;
    let flush = |batch: &mut Vec<Event>, hashes: &mut Vec<String>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        store.commit(batch, None)?;
        // The chain the store computed must be the one the backup states, event by event.
        for (e, h) in batch.iter().zip(hashes.iter()) {
            let stored = store.get(e.seq)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = e.seq)))?;
            if &hex(&stored.hash) != h {
                return Err(Error::integrity(msg!("backup.hash_differs", seq = e.seq)));
            }
        }
        batch.clear();
        hashes.clear();
        Ok(())
    };
    while let Some(v) = {
        n += 1;
        read_line(input, n)?
    } {
        let seq =
            v["seq"].as_u64().ok_or_else(|| Error::invalid(msg!("backup.header_field", field = "seq")).at_line(n))?;
        let bytes = unhex("event", v["event"].as_str().unwrap_or_default()).map_err(|e| e.at_line(n))?;
        let event = codec::decode_event(&bytes).map_err(|e| Error::invalid(e.to_msg()).at_line(n))?;
        // What the store asserts of every commit, checked here as input.
        if seq != next || event.seq != seq {
            return Err(Error::invalid(msg!("backup.seq_gap", expected = next, found = event.seq)).at_line(n));
        }
        if event.recorded_at < last_at {
            return Err(Error::invalid(msg!("backup.time_backwards", seq = seq)).at_line(n));
        }
        last_at = event.recorded_at;
        next += 1;
        batch.push(event);
        hashes.push(v["hash"].as_str().unwrap_or_default().to_string());
        if batch.len() == BATCH_EVENTS_MAX {
            flush(&mut batch, &mut hashes)?;
        }
    }
    flush(&mut batch, &mut hashes)?;
    let head = store.head();
    let got = Summary { events: head.events(), head: hex(&head.last_hash), root: hex(&head.merkle.root()) };
    if got != claim {
        return Err(Error::integrity(msg!(
            "backup.head_differs",
            events = got.events,
            claimed = claim.events,
            head = &got.head,
            root = &got.root
        )));
    }
    let v = crate::verify::verify(&store)?;
    if !v.ok() {
        return Err(Error::integrity(msg!("backup.verify_failed")));
    }
    drop(store);
    Ok(got)
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)
}
