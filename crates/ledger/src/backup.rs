//! Backups, exported logs and audit bundles: the log of a store, as a file another machine
//! reads back into a store that is byte for byte the same (the same events, the same chain
//! hashes, the same Merkle root).
//!
//! The three share one layout, text with one JSON document per line, so they can be
//! inspected and compared with ordinary tools (docs/operations.md, docs/proofs.md):
//! - line 1, the header: `{"format":F,"events":N,"head":HEX,"root":HEX,"recorded_at":…,
//!   "time_zone":…,…}`;
//! - then exactly N lines, one per event in seq order: `{"seq":N,"hash":HEX,"event":HEX}`,
//!   `event` being its canonical bytes (what its hash covers);
//! - a bundle then has one more line, what the log folds to (bundle.rs).
//!
//! What differs is what the header carries and who may read the file:
//! - a **backup** (`planledger-backup/1`) holds the ledger's signing key (the key a restored
//!   server signs tree heads with), so it is written readable by its owner only, and is as
//!   secret as the store;
//! - an **exported log** (`planledger-log/1`) holds only the ledger's public key, and each
//!   event line also carries the event as `log --json` prints it (`"envelope"`), so it can be
//!   read without our code; a store imported from it can be read and verified but not
//!   continued (it cannot sign);
//! - an **audit bundle** (`planledger-bundle/1`, bundle.rs) is a log up to a point with the
//!   tree head the ledger signed for it.
//!
//! Files are written zstd-compressed (a backup and a bundle always, a log when its name ends
//! in `.zst`); readers take either. A backup is taken from a store's durable prefix (a
//! read-only open, or the server's own store through the `Backup` RPC while writers go on),
//! and is consistent at its `events`. Reading back writes into a new directory beside the
//! target and renames it into place only once the chain, the head and the Merkle root match
//! the header and the store verifies: a bad or altered file leaves nothing behind.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use serde_json::{json, Value};

use crate::codec::{self, hex};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{EmbeddedStore, Store, BATCH_EVENTS_MAX};

pub const FORMAT: &str = "planledger-backup/1";
pub const LOG_FORMAT: &str = "planledger-log/1";
/// Longest line a backup holds: an event's canonical bytes, in hex, and its frame.
const LINE_BYTES_MAX: usize = 2 * crate::event::EVENT_BYTES_MAX as usize + 256;
/// Longest line of an exported log: the hex and the event as JSON (at most a few times its
/// canonical size: every byte of a string escaped as \uXXXX is 6).
const LOG_LINE_BYTES_MAX: usize = 8 * crate::event::EVENT_BYTES_MAX as usize + 4096;
/// Longest last line of a bundle (what the log folds to): bounded by the state of a ledger
/// this store can hold, generously.
pub(crate) const CONTENTS_BYTES_MAX: usize = 1 << 30;
/// How zstd compresses what we write: fast, and a log of hex shrinks about 3x.
const ZSTD_LEVEL: i32 = 3;
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// What a backup or exported log states about itself (its header), and what reading it back checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub head: String,
    pub root: String,
}

/// Which kind of file is written or read back, and what it must say in its first line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Backup,
    Log,
    Bundle,
}

impl Kind {
    /// The file's mode: a backup holds the ledger's signing key, readable by its owner only.
    pub fn mode(self) -> u32 {
        if self == Kind::Backup {
            0o600
        } else {
            0o644
        }
    }

    /// A backup and a bundle are always compressed; a log when its name ends in `.zst`.
    pub fn compressed(self, file: &Path) -> bool {
        self != Kind::Log || file.extension().is_some_and(|e| e == "zst")
    }

    /// Reads a file of this kind back into `dir` (new or empty) and checks it as `restore`,
    /// `import-log` or `--bundle` do; its summary.
    pub fn read_back(self, input: &mut dyn BufRead, dir: &Path) -> Result<Summary> {
        match self {
            Kind::Backup => restore(input, dir),
            Kind::Log => import_log(input, dir),
            Kind::Bundle => crate::bundle::open(input, dir).map(|b| b.summary),
        }
    }

    fn format(self) -> &'static str {
        match self {
            Kind::Backup => FORMAT,
            Kind::Log => LOG_FORMAT,
            Kind::Bundle => crate::bundle::FORMAT,
        }
    }

    fn line_max(self) -> usize {
        match self {
            Kind::Backup | Kind::Bundle => LINE_BYTES_MAX,
            Kind::Log => LOG_LINE_BYTES_MAX,
        }
    }

    fn not_this(self) -> crate::Msg {
        match self {
            Kind::Backup => msg!("backup.not_a_backup", format = FORMAT),
            Kind::Log => msg!("backup.not_a_log", format = LOG_FORMAT),
            Kind::Bundle => msg!("bundle.not_a_bundle", format = crate::bundle::FORMAT),
        }
    }
}

fn unhex(field: &str, t: &str) -> Result<Vec<u8>> {
    crate::keys::unhex_any(field, t)
}

/// A file being written: buffered, and zstd-compressed when asked. `finish` ends the
/// compressed frame and makes the file durable; a file dropped unfinished is incomplete.
pub struct FileWriter {
    inner: Inner,
}

enum Inner {
    Plain(std::io::BufWriter<std::fs::File>),
    Zstd(zstd::Encoder<'static, std::io::BufWriter<std::fs::File>>),
}

impl FileWriter {
    pub fn new(file: std::fs::File, compress: bool) -> Result<FileWriter> {
        let w = std::io::BufWriter::with_capacity(1 << 16, file);
        let inner = if compress {
            Inner::Zstd(zstd::Encoder::new(w, ZSTD_LEVEL).map_err(|e| Error::io(msg!("backup.writing"), e))?)
        } else {
            Inner::Plain(w)
        };
        Ok(FileWriter { inner })
    }

    /// Ends the file and fsyncs it.
    pub fn finish(self) -> Result<()> {
        let io = |e| Error::io(msg!("backup.writing"), e);
        let buffered = match self.inner {
            Inner::Plain(w) => w,
            Inner::Zstd(z) => z.finish().map_err(io)?,
        };
        let file = buffered.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(w) => w.write(buf),
            Inner::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Plain(w) => w.flush(),
            Inner::Zstd(z) => z.flush(),
        }
    }
}

/// Opens a backup, exported log or bundle for reading, compressed or not (told by its first
/// bytes).
pub fn open_file(path: &Path) -> Result<Box<dyn BufRead>> {
    let io = |e| Error::io(msg!("io.cannot_read", path = path.display()), e);
    let mut f = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path).map_err(io)?);
    let compressed = f.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
    if compressed {
        let z = zstd::Decoder::with_buffer(f).map_err(io)?;
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, z)))
    } else {
        Ok(Box::new(f))
    }
}

/// The header every kind of file opens with, plus what `extra` adds.
/// The point of the log a file covers: its first `events` events, the chain hash and Merkle
/// root after them, and when the last was recorded.
pub(crate) struct Point {
    pub events: u64,
    pub last_hash: crate::codec::Hash,
    pub root: crate::codec::Hash,
    pub recorded_at: crate::model::Timestamp,
}

impl Point {
    /// The whole log, from the store's head.
    fn head(store: &dyn Store) -> Point {
        let head = store.head();
        Point {
            events: head.events(),
            last_hash: head.last_hash,
            root: head.merkle.root(),
            recorded_at: head.last_recorded_at,
        }
    }
}

fn header(store: &dyn Store, format: &str, at: &Point, extra: Value) -> Result<(Value, Summary)> {
    let (events, last_hash, root, recorded_at) = (at.events, at.last_hash, at.root, at.recorded_at);
    let zone = crate::zone::load(store)?;
    // As `zone::save` writes it: the name, or the offset.
    let zone = match zone.name {
        Some(n) => n.to_string(),
        None => zone.to_string().trim_start_matches("UTC").to_string(),
    };
    let mut h = json!({
        "format": format,
        "events": events,
        "head": hex(&last_hash),
        "root": hex(&root),
        "recorded_at": recorded_at.to_string(),
        "time_zone": zone,
    });
    if let (Some(h), Value::Object(extra)) = (h.as_object_mut(), extra) {
        h.extend(extra);
    }
    Ok((h, Summary { events, head: hex(&last_hash), root: hex(&root) }))
}

/// The ledger's public key, in hex, if the store has a key.
fn ledger_public(store: &dyn Store) -> Result<Value> {
    Ok(crate::keys::public_of(store)?.map_or(Value::Null, |k| Value::String(hex(&k))))
}

/// Writes events 1..=`events`, one line each (with the event as JSON when `envelope`).
fn write_events(store: &dyn Store, events: u64, envelope: bool, out: &mut dyn Write) -> Result<()> {
    let io = |e| Error::io(msg!("backup.writing"), e);
    let mut bytes = Vec::new();
    for stored in store.scan(1) {
        let stored = stored?;
        if stored.event.seq > events {
            break;
        }
        bytes.clear();
        codec::encode_event(&stored.event, &mut bytes);
        write!(out, "{{\"seq\":{},\"hash\":\"{}\",\"event\":\"{}\"", stored.event.seq, hex(&stored.hash), hex(&bytes))
            .map_err(io)?;
        if envelope {
            let doc = crate::report::event_json(&stored.event, &stored.hash);
            write!(out, ",\"envelope\":{doc}").map_err(io)?;
        }
        writeln!(out, "}}").map_err(io)?;
    }
    Ok(())
}

/// Writes a backup of `store` up to its head to `out`; returns its summary.
pub fn write(store: &dyn Store, out: &mut dyn Write) -> Result<Summary> {
    // The ledger's signing key (its seed, in hex, as the store keeps it), if it has one.
    let ledger_key = match store.read_file(crate::keys::KEY_FILE)? {
        Some(bytes) => Value::String(String::from_utf8_lossy(&bytes).trim().to_string()),
        None => Value::Null,
    };
    let at = Point::head(store);
    let (h, summary) = header(store, FORMAT, &at, json!({ "ledger_key": ledger_key }))?;
    writeln!(out, "{h}").map_err(|e| Error::io(msg!("backup.writing"), e))?;
    write_events(store, at.events, false, out)?;
    out.flush().map_err(|e| Error::io(msg!("backup.writing"), e))?;
    Ok(summary)
}

/// Writes the whole log, with each event also as JSON, and the ledger's public key (not its
/// signing key): what `export-log` writes.
pub fn write_log(store: &dyn Store, out: &mut dyn Write) -> Result<Summary> {
    let at = Point::head(store);
    let (h, summary) = header(store, LOG_FORMAT, &at, json!({ "ledger_public_key": ledger_public(store)? }))?;
    writeln!(out, "{h}").map_err(|e| Error::io(msg!("backup.writing"), e))?;
    write_events(store, at.events, true, out)?;
    out.flush().map_err(|e| Error::io(msg!("backup.writing"), e))?;
    Ok(summary)
}

/// Writes a bundle's header and the events up to `at` (bundle.rs writes the rest).
pub(crate) fn write_bundle_log(store: &dyn Store, at: &Point, extra: Value, out: &mut dyn Write) -> Result<Summary> {
    let (h, summary) = header(store, crate::bundle::FORMAT, at, extra)?;
    writeln!(out, "{h}").map_err(|e| Error::io(msg!("backup.writing"), e))?;
    write_events(store, at.events, false, out)?;
    Ok(summary)
}

/// Restores the backup read from `input` into `dir`, which must not exist or be empty.
pub fn restore(input: &mut dyn BufRead, dir: &Path) -> Result<Summary> {
    read_back(input, dir, Kind::Backup).map(|(s, _)| s)
}

/// Imports an exported log read from `input` into `dir`, which must not exist or be empty.
pub fn import_log(input: &mut dyn BufRead, dir: &Path) -> Result<Summary> {
    read_back(input, dir, Kind::Log).map(|(s, _)| s)
}

/// Reads a file of `kind` into `dir` (new or empty) through a hidden directory beside it,
/// renamed into place only once everything checked. Returns the summary, the header and,
/// for a bundle, its last line.
pub(crate) fn read_back(input: &mut dyn BufRead, dir: &Path, kind: Kind) -> Result<(Summary, ReadBack)> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::invalid(msg!("backup.target_not_empty", dir = dir.display())));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = dir.with_file_name(format!(".{name}.restoring"));
    let _ = std::fs::remove_dir_all(&partial);
    match read_into(input, &partial, kind) {
        Ok(done) => {
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
            }
            std::fs::rename(&partial, dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
            if let Some(parent) = dir.parent() {
                let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
            }
            Ok(done)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

/// What was read besides the events: the header, and a bundle's last line.
pub(crate) struct ReadBack {
    pub header: Value,
    pub trailer: Option<Value>,
}

fn read_line(input: &mut dyn BufRead, n: usize, max: usize) -> Result<Option<Value>> {
    let mut line = String::new();
    let read = Read::take(&mut *input, max as u64 + 1)
        .read_line(&mut line)
        .map_err(|e| Error::io(msg!("backup.reading"), e))?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > max {
        return Err(Error::invalid(msg!("backup.line_too_long", max = max)).at_line(n));
    }
    serde_json::from_str(line.trim_end())
        .map(Some)
        .map_err(|e| Error::invalid(msg!("backup.not_json", error = e)).at_line(n))
}

fn read_into(input: &mut dyn BufRead, dir: &Path, kind: Kind) -> Result<(Summary, ReadBack)> {
    let header = read_line(input, 1, kind.line_max())?.ok_or_else(|| Error::invalid(msg!("backup.empty")))?;
    if header["format"].as_str() != Some(kind.format()) {
        return Err(Error::invalid(kind.not_this()).at_line(1));
    }
    let claim = Summary {
        events: header["events"]
            .as_u64()
            .ok_or_else(|| Error::invalid(msg!("backup.header_field", field = "events")).at_line(1))?,
        head: header["head"].as_str().unwrap_or_default().to_string(),
        root: header["root"].as_str().unwrap_or_default().to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
    if let Some(zone) = header["time_zone"].as_str() {
        crate::zone::save(dir, crate::model::TimeZone::parse(zone)?)?;
    }
    match kind {
        Kind::Backup => {
            if let Some(key) = header["ledger_key"].as_str() {
                // Checked as the store reads it: 32 bytes in hex.
                let seed = crate::keys::unhex32("ledger_key", key).map_err(|e| e.at_line(1))?;
                write_secret(&dir.join(crate::keys::KEY_FILE), hex(&seed).as_bytes())?;
            }
        }
        Kind::Log | Kind::Bundle => {
            if let Some(key) = header["ledger_public_key"].as_str() {
                let public = crate::keys::unhex32("ledger_public_key", key).map_err(|e| e.at_line(1))?;
                crate::keys::save_public(dir, &public)?;
            }
        }
    }
    let store = EmbeddedStore::open(dir)?;
    let mut batch: Vec<Event> = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut last_at = crate::model::Timestamp(i64::MIN);
    let flush = |batch: &mut Vec<Event>, hashes: &mut Vec<String>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        store.commit(batch, None)?;
        // The chain the store computed must be the one the file states, event by event.
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
    for seq in 1..=claim.events {
        let n = seq as usize + 1;
        let v = read_line(input, n, kind.line_max())?
            .ok_or_else(|| Error::invalid(msg!("backup.cut", events = claim.events, found = seq - 1)).at_line(n))?;
        let event = event_of_line(&v, n, kind)?;
        // What the store asserts of every commit, checked here as input.
        if v["seq"].as_u64() != Some(seq) || event.seq != seq {
            return Err(Error::invalid(msg!("backup.seq_gap", expected = seq, found = event.seq)).at_line(n));
        }
        if event.recorded_at < last_at {
            return Err(Error::invalid(msg!("backup.time_backwards", seq = seq)).at_line(n));
        }
        last_at = event.recorded_at;
        batch.push(event);
        hashes.push(v["hash"].as_str().unwrap_or_default().to_string());
        if batch.len() == BATCH_EVENTS_MAX {
            flush(&mut batch, &mut hashes)?;
        }
    }
    flush(&mut batch, &mut hashes)?;
    let after = claim.events as usize + 2;
    let trailer = match kind {
        Kind::Bundle => Some(
            read_line(input, after, CONTENTS_BYTES_MAX)?
                .ok_or_else(|| Error::invalid(msg!("bundle.no_contents")).at_line(after))?,
        ),
        Kind::Backup | Kind::Log => None,
    };
    let next = after + usize::from(trailer.is_some());
    if read_line(input, next, kind.line_max())?.is_some() {
        return Err(Error::invalid(msg!("backup.trailing", events = claim.events)).at_line(next));
    }
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
    Ok((got, ReadBack { header, trailer }))
}

/// The event a line carries, from its canonical bytes; an exported log's line must also
/// show that event as JSON, exactly (an edited envelope is an altered log).
fn event_of_line(v: &Value, n: usize, kind: Kind) -> Result<Event> {
    let bytes = unhex("event", v["event"].as_str().unwrap_or_default()).map_err(|e| e.at_line(n))?;
    let event = codec::decode_event(&bytes).map_err(|e| Error::invalid(e.to_msg()).at_line(n))?;
    if kind == Kind::Log {
        let hash = crate::keys::unhex32("hash", v["hash"].as_str().unwrap_or_default()).map_err(|e| e.at_line(n))?;
        if v["envelope"] != crate::report::event_json(&event, &hash) {
            return Err(Error::integrity(msg!("backup.envelope_differs", seq = event.seq)).at_line(n));
        }
    }
    Ok(event)
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)
}
