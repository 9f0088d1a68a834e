//! The log segments: the write-ahead journal that is also where event chunks live.
//!
//! A commit appends one record holding its whole sled batch to the current segment file and
//! syncs it once (one device round trip; sled's own `flush()` costs two), then applies the
//! batch to sled in memory with every chunk replaced by its [`Location`] in the segment: the
//! events are written once, and sled holds only a small index, the head and checkpoints.
//! sled's files are made durable lazily (flush + fdatasync + blob fsyncs), together with the
//! position up to which sled holds every record (`store`'s `J` key); opening a store applies
//! again the records after that position. A segment is closed at `SEGMENT_BYTES_MAX` and the
//! next one started; segments are never rewritten.
//!
//! Segment `log/NNNNNNNN`: records `len:u32 LE | crc32(body):u32 LE | body`, where
//! `body = format:u8 (1) | count:u32 LE | (klen:u32 LE | key | vlen:u32 LE | value){count}`.
//! A torn record at the end of the last segment (a crash mid-append: a record running past
//! the end of the file, or a zero-filled tail of any length) was never acknowledged and is
//! cut off. A complete record whose checksum fails is damage, wherever it stands: the log is
//! refused, untouched. A segment the index covers that is missing is reported, not made anew.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

const RECORD_FORMAT: u8 = 1;

/// Directory of the segments, inside the store's directory.
pub const SEGMENTS_DIR: &str = "log";

/// Told how long each commit's `fdatasync` took, when set: a server's metrics set it once
/// (`observe_fsync`); the store knows nothing of what it is for.
static FSYNC_OBSERVER: std::sync::OnceLock<fn(std::time::Duration)> = std::sync::OnceLock::new();

/// Sets the function told each commit's `fdatasync` time (the first call wins; later calls
/// are ignored). It runs on the writer's thread, after the sync: it must be cheap.
pub fn observe_fsync(f: fn(std::time::Duration)) {
    let _ = FSYNC_OBSERVER.set(f);
}

/// A segment is closed (and sled made durable) once it holds this many bytes.
pub const SEGMENT_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Segment files kept open for reading (file descriptors are a bounded resource).
const READ_FILES_MAX: usize = 64;

/// One commit's sled writes: (key, value) pairs, applied as one atomic batch.
pub type Items = Vec<(Vec<u8>, Vec<u8>)>;

/// Where a byte string lies in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

impl Location {
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self.segment.to_le_bytes());
        b[4..12].copy_from_slice(&self.offset.to_le_bytes());
        b[12..].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Location> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&b[4..12]);
        Some(Location { segment: u32_at(0), offset: u64::from_le_bytes(offset), len: u32_at(12) })
    }
}

/// A position in the log: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u32,
    pub offset: u64,
}

impl Position {
    pub const START: Position = Position { segment: 1, offset: 0 };

    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.segment.to_le_bytes());
        b[4..].copy_from_slice(&self.offset.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Position> {
        let b: &[u8; 12] = b.try_into().ok()?;
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&b[4..]);
        Some(Position { segment: u32::from_le_bytes([b[0], b[1], b[2], b[3]]), offset: u64::from_le_bytes(offset) })
    }
}

/// A record read back at open: its items and where each item's value lies.
#[derive(Debug)]
pub struct Replayed {
    pub items: Items,
    pub values: Vec<Location>,
}

/// Read access to the segments, shared by the store and its scans.
#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    files: Mutex<HashMap<u32, Arc<File>>>,
}

impl Segments {
    fn path(&self, segment: u32) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    /// Reads the bytes at `at` into `buf` (replacing its contents).
    pub fn read_into(&self, at: Location, buf: &mut Vec<u8>) -> Result<()> {
        let file = {
            // A poisoned lock only means a reader panicked while opening a file; the map of
            // open read handles is still valid.
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            match files.get(&at.segment) {
                Some(f) => Arc::clone(f),
                None => {
                    let path = self.path(at.segment);
                    let f = File::open(&path).map_err(|e| Error::io(msg!("io.opening", path = path.display()), e))?;
                    let f = Arc::new(f);
                    if files.len() >= READ_FILES_MAX {
                        // Bounded, not LRU: reads run mostly in log order, so starting over
                        // costs one reopen per segment.
                        files.clear();
                    }
                    files.insert(at.segment, Arc::clone(&f));
                    f
                }
            }
        };
        buf.clear();
        buf.resize(at.len as usize, 0);
        file.read_exact_at(buf, at.offset).map_err(|e| {
            let path = self.path(at.segment);
            Error::io(msg!("wal.reading_at", bytes = at.len, offset = at.offset, path = path.display()), e)
        })
    }
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}"))
}

pub struct Wal {
    dir: PathBuf,
    file: File,
    segment: u32,
    len: u64,
    segments: Arc<Segments>,
    /// The record being appended, kept between appends: a commit's record is up to
    /// megabytes, and a fresh allocation that size is fresh pages to fault in each time.
    record: Vec<u8>,
}

impl Wal {
    /// Opens (creating) the log in `store_dir/log`; returns it with the intact records from
    /// `from` to the end, in order, after cutting off a torn tail of the last segment.
    pub fn open(store_dir: &Path, from: Position) -> Result<(Wal, Vec<Replayed>)> {
        Wal::open_as(store_dir, from, false)
    }

    /// As `open`, for a reader: nothing is created, cut or synced; a torn tail is left
    /// where it is (the records before it are all there is), and appending fails.
    pub fn open_read_only(store_dir: &Path, from: Position) -> Result<(Wal, Vec<Replayed>)> {
        Wal::open_as(store_dir, from, true)
    }

    fn open_as(store_dir: &Path, from: Position, read_only: bool) -> Result<(Wal, Vec<Replayed>)> {
        let dir = store_dir.join(SEGMENTS_DIR);
        if !dir.exists() && read_only {
            return Err(Error::corrupt(0, msg!("wal.log_dir_missing", dir = dir.display())));
        }
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(msg!("io.creating", path = dir.display()), e))?;
            sync_dir(store_dir)?;
        }
        let mut numbers: Vec<u32> = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(msg!("io.listing", path = dir.display()), e))?;
        for entry in entries.flatten() {
            if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let last = numbers.last().copied().unwrap_or(from.segment).max(from.segment);
        let mut records = Vec::new();
        let mut end = 0u64;
        for segment in from.segment..=last {
            let path = segment_path(&dir, segment);
            let is_last = segment == last;
            // Only what lies after `from`: sled already holds the rest.
            let start = if segment == from.segment { from.offset } else { 0 };
            let bytes = match read_from(&path, start) {
                Ok(b) => b,
                // Only a segment that holds nothing yet may be absent: the first of a new
                // store, or the next one when a rotation was cut short.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_last && start == 0 => Vec::new(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::corrupt(
                        0,
                        msg!("wal.segment_missing_covered", path = path.display(), bytes = start),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // `read_from` found the segment shorter than the index covers.
                    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                    return Err(Error::corrupt(
                        0,
                        msg!("wal.segment_short", path = path.display(), len = len, covered = start),
                    ));
                }
                Err(e) => return Err(Error::io(msg!("io.reading", path = path.display()), e)),
            };
            let at = read_records(&bytes, start, segment, is_last, &path, &mut records)?;
            end = start + at as u64;
        }
        let path = segment_path(&dir, last);
        if read_only {
            let file = File::open(&path).map_err(|e| Error::io(msg!("io.opening", path = path.display()), e))?;
            let segments = Arc::new(Segments { dir: dir.clone(), files: Mutex::new(HashMap::new()) });
            return Ok((Wal { dir, file, segment: last, len: end, segments, record: Vec::new() }, records));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(msg!("io.opening", path = path.display()), e))?;
        let on_disk = file.metadata().map_err(|e| Error::io(msg!("io.reading", path = path.display()), e))?.len();
        if on_disk != end {
            // A torn tail: never acknowledged. Cut it so new records follow the intact ones.
            file.set_len(end)
                .and_then(|()| file.sync_data())
                .map_err(|e| Error::io(msg!("io.truncating", path = path.display()), e))?;
        }
        file.seek(SeekFrom::Start(end)).map_err(|e| Error::io(msg!("io.seeking", path = path.display()), e))?;
        sync_dir(&dir)?;
        let segments = Arc::new(Segments { dir: dir.clone(), files: Mutex::new(HashMap::new()) });
        Ok((Wal { dir, file, segment: last, len: end, segments, record: Vec::new() }, records))
    }

    /// Where the next record will start.
    pub fn position(&self) -> Position {
        Position { segment: self.segment, offset: self.len }
    }

    pub fn segments(&self) -> &Arc<Segments> {
        &self.segments
    }

    /// Bytes in the current segment.
    pub fn segment_len(&self) -> u64 {
        self.len
    }

    /// Appends one commit's items and makes them durable; returns where each value lies.
    pub fn append(&mut self, items: &Items) -> Result<Vec<Location>> {
        // One buffer, one write: header, then the body built in place after it.
        let size: usize = 8 + 5 + items.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>();
        let mut rec = std::mem::take(&mut self.record);
        rec.clear();
        rec.reserve(size);
        let mut values = Vec::with_capacity(items.len());
        rec.extend_from_slice(&[0u8; 8]);
        rec.push(RECORD_FORMAT);
        rec.extend_from_slice(&u32_len(items.len())?.to_le_bytes());
        for (k, v) in items {
            rec.extend_from_slice(&u32_len(k.len())?.to_le_bytes());
            rec.extend_from_slice(k);
            let vlen = u32_len(v.len())?;
            rec.extend_from_slice(&vlen.to_le_bytes());
            values.push(Location { segment: self.segment, offset: self.len + rec.len() as u64, len: vlen });
            rec.extend_from_slice(v);
        }
        let len = u32_len(rec.len() - 8)?;
        let crc = crc32fast::hash(&rec[8..]);
        rec[..4].copy_from_slice(&len.to_le_bytes());
        rec[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all(&rec)
            .and_then(|()| {
                let started = std::time::Instant::now();
                self.file.sync_data()?;
                if let Some(observe) = FSYNC_OBSERVER.get() {
                    observe(started.elapsed());
                }
                Ok(())
            })
            .map_err(|e| Error::io(msg!("io.appending", path = segment_path(&self.dir, self.segment).display()), e))?;
        self.len += rec.len() as u64;
        self.record = rec;
        Ok(values)
    }

    /// Starts the next segment; call once sled holds everything in the current one durably.
    pub fn rotate(&mut self) -> Result<()> {
        let next = self.segment + 1;
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(msg!("io.creating", path = path.display()), e))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.segment = next;
        self.len = 0;
        Ok(())
    }
}

/// The bytes of the file at `path` from byte `offset` on; an error if it is shorter.
fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < offset {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{len} bytes, shorter than the {offset} the store's index covers"),
        ));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity((len - offset) as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses the records of one segment's bytes from byte `base` of the segment on, appending
/// them to `out`; returns how many bytes are intact records. Damage before the end of the log
/// is refused.
fn read_records(
    bytes: &[u8],
    base: u64,
    segment: u32,
    is_last: bool,
    path: &Path,
    out: &mut Vec<Replayed>,
) -> Result<usize> {
    let damaged = |at: usize, what: crate::Msg| {
        Error::corrupt(0, msg!("wal.segment_damaged", path = path.display(), what = what, at = base + at as u64))
    };
    let mut at = 0usize;
    while bytes.len() - at >= 8 {
        let rest = &bytes[at..];
        if is_last && rest.iter().all(|&b| b == 0) {
            // A zero-filled tail of any length: a torn append (the file grew, its data did
            // not reach the disk). Never acknowledged.
            break;
        }
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        // A record running past the end of the last segment is a torn append, unless the
        // rest carries its checksum: then it is complete and its length is damaged.
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            if complete_with_damaged_len(bytes, at) {
                return Err(damaged(at, msg!("wal.damaged_length")));
            }
            break;
        };
        if crc32fast::hash(body) != crc {
            // A complete record whose checksum fails held an acknowledged commit: it is
            // damage, never cut silently, wherever it stands. Which events it held, when its
            // keys still read.
            let held = decode_record(body, segment, base + (at + 8) as u64)
                .and_then(|r| r.items.iter().filter_map(|(k, _)| chunk_first_seq(k)).min());
            return Err(damaged(
                at,
                match held {
                    Some(seq) => msg!("wal.damaged_checksum_held", len = len, seq = seq),
                    None => msg!("wal.damaged_checksum", len = len),
                },
            ));
        }
        let record = decode_record(body, segment, base + (at + 8) as u64)
            .ok_or_else(|| damaged(at, msg!("wal.damaged_undecodable")))?;
        out.push(record);
        at += 8 + len;
    }
    if at != bytes.len() && !is_last {
        return Err(damaged(at, msg!("wal.damaged_torn")));
    }
    Ok(at)
}

/// The segment numbers in `dir`, in order.
fn segment_numbers(dir: &Path) -> Result<Vec<u32>> {
    let mut numbers: Vec<u32> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(msg!("io.listing", path = dir.display()), e))?;
    for entry in entries.flatten() {
        if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// What `repair` found in the log: where the first damaged record stands, and what the
/// intact records before it and any after it say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub path: PathBuf,
    pub segment: u32,
    /// Byte of the segment where the damaged record starts.
    pub offset: u64,
    /// Bytes from it to the end of the segment.
    pub bytes: u64,
    /// Whether it is in the last segment (only a tail there can be cut).
    pub last_segment: bool,
    /// Events before it: what the last intact record's head says (0 when none does).
    pub events_before: u64,
    /// Events the log would hold with it and everything after it, when a record after the
    /// last intact one still says (its head reads).
    pub events_after: Option<u64>,
    pub what: crate::Msg,
}

/// Walks every record of every segment for `repair`: the first damaged one, if any. A torn
/// tail of the last segment is not damage (an open cuts it). Reads only.
pub fn find_damage(store_dir: &Path) -> Result<Option<Damage>> {
    let dir = store_dir.join(SEGMENTS_DIR);
    let numbers = segment_numbers(&dir)?;
    let mut events_before = 0u64;
    for (i, &n) in numbers.iter().enumerate() {
        let path = segment_path(&dir, n);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(msg!("io.reading", path = path.display()), e))?;
        let last_segment = i + 1 == numbers.len();
        let mut at = 0usize;
        let mut damage = None;
        while bytes.len() - at >= 8 {
            if last_segment && bytes[at..].iter().all(|&b| b == 0) {
                break;
            }
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
            let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
            let Some(body) = bytes.get(at + 8..at + 8 + len) else {
                if complete_with_damaged_len(&bytes, at) {
                    damage = Some((at, msg!("wal.found_length")));
                }
                break;
            };
            let decoded = decode_record(body, n, (at + 8) as u64);
            if crc32fast::hash(body) != crc {
                damage = Some((at, msg!("wal.found_checksum")));
                break;
            }
            if decoded.is_none() {
                damage = Some((at, msg!("wal.found_undecodable")));
                break;
            }
            if let Some(h) = decoded.as_ref().and_then(|r| crate::store::head_in(&r.items)) {
                events_before = h.events();
            }
            at += 8 + len;
        }
        if damage.is_none() && at != bytes.len() && !last_segment {
            damage = Some((at, msg!("wal.found_torn")));
        }
        if let Some((at, what)) = damage {
            // What the records after it say, where their heads still read.
            let mut events_after = None;
            let mut k = at;
            while bytes.len() - k >= 8 {
                let len = u32::from_le_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]) as usize;
                let Some(body) = bytes.get(k + 8..k + 8 + len) else { break };
                if let Some(h) = decode_record(body, n, (k + 8) as u64).and_then(|r| crate::store::head_in(&r.items)) {
                    events_after = Some(h.events());
                }
                k += 8 + len;
            }
            return Ok(Some(Damage {
                path,
                segment: n,
                offset: at as u64,
                bytes: (bytes.len() - at) as u64,
                last_segment,
                events_before,
                events_after: if last_segment { events_after } else { None },
                what,
            }));
        }
    }
    Ok(None)
}

/// Cuts the last segment at `damage` for `repair --cut-tail`: the bytes from there on are
/// first saved whole in `quarantine` (a new file, fsynced), then the segment is truncated
/// and fsynced. Returns the quarantine file.
pub fn cut_tail(store_dir: &Path, damage: &Damage) -> Result<PathBuf> {
    assert!(damage.last_segment, "only the last segment's tail is cut");
    let bytes =
        std::fs::read(&damage.path).map_err(|e| Error::io(msg!("io.reading", path = damage.path.display()), e))?;
    let tail = bytes.get(damage.offset as usize..).unwrap_or_default();
    let qdir = store_dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&qdir).map_err(|e| Error::io(msg!("io.creating", path = qdir.display()), e))?;
    let qpath = qdir.join(format!("{:08}-{}.bin", damage.segment, damage.offset));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&qpath)
        .map_err(|e| Error::io(msg!("io.creating", path = qpath.display()), e))?;
    f.write_all(tail)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(msg!("io.writing", path = qpath.display()), e))?;
    sync_dir(&qdir)?;
    sync_dir(store_dir)?;
    let seg = OpenOptions::new()
        .write(true)
        .open(&damage.path)
        .map_err(|e| Error::io(msg!("io.opening", path = damage.path.display()), e))?;
    seg.set_len(damage.offset)
        .and_then(|()| seg.sync_all())
        .map_err(|e| Error::io(msg!("io.truncating", path = damage.path.display()), e))?;
    Ok(qpath)
}

/// Where `repair --cut-tail` keeps the bytes it cut, inside the store's directory.
pub const QUARANTINE_DIR: &str = "quarantine";

/// Whether bytes that claim a record running past the end of the file are a complete record
/// whose length field was damaged: the rest of the file carries the checksum the header
/// names. A torn append's partial body does not (but with odds of 2^-32).
fn complete_with_damaged_len(bytes: &[u8], at: usize) -> bool {
    let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
    let rest = &bytes[at + 8..];
    !rest.is_empty() && crc32fast::hash(rest) == crc
}

/// Checks the framing of every record of every segment in `store_dir/log` up to `end`, the
/// position after the last complete commit (what lies beyond is an append under way):
/// lengths, checksums, segments in sequence with none missing, no bytes between records.
/// Reads only. `None` if all holds, else what is wrong and where (file and byte).
pub fn check_segments(store_dir: &Path, end: Position) -> Result<Option<crate::Msg>> {
    let dir = store_dir.join(SEGMENTS_DIR);
    let numbers = segment_numbers(&dir)?;
    for (i, &n) in numbers.iter().enumerate() {
        if n != i as u32 + 1 {
            return Ok(Some(msg!("wal.segment_missing", path = segment_path(&dir, i as u32 + 1).display())));
        }
    }
    for &n in numbers.iter().filter(|&&n| n <= end.segment) {
        let path = segment_path(&dir, n);
        let mut bytes = std::fs::read(&path).map_err(|e| Error::io(msg!("io.reading", path = path.display()), e))?;
        if n == end.segment {
            if (bytes.len() as u64) < end.offset {
                return Ok(Some(msg!(
                    "wal.segment_shorter_than_records",
                    path = path.display(),
                    len = bytes.len(),
                    end = end.offset
                )));
            }
            bytes.truncate(end.offset as usize);
        }
        let mut at = 0usize;
        while at < bytes.len() {
            let problem =
                |what: crate::Msg| Some(msg!("wal.segment_problem", path = path.display(), what = what, at = at));
            if bytes.len() - at < 8 {
                return Ok(problem(msg!("wal.torn_header")));
            }
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
            let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
            let Some(body) = bytes.get(at + 8..at + 8 + len) else {
                return Ok(problem(msg!("wal.length_past_end", len = len)));
            };
            if crc32fast::hash(body) != crc {
                return Ok(Some(msg!("wal.record_checksum_fails", path = path.display(), at = at, len = len)));
            }
            at += 8 + len;
        }
    }
    Ok(None)
}

/// The first seq of a chunk's index key (`L` + big-endian seq), if `key` is one.
fn chunk_first_seq(key: &[u8]) -> Option<u64> {
    match key {
        [b'L', seq @ ..] => <[u8; 8]>::try_from(seq).ok().map(u64::from_be_bytes),
        _ => None,
    }
}

fn u32_len(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::invalid(msg!("wal.commit_too_large")))
}

/// Parses a record body starting at byte `base` of `segment`; `None` if it is not well formed.
fn decode_record(body: &[u8], segment: u32, base: u64) -> Option<Replayed> {
    let (&format, mut rest) = body.split_first()?;
    if format != RECORD_FORMAT {
        return None;
    }
    let mut take = |n: usize| -> Option<&[u8]> {
        let (a, b) = (rest.get(..n)?, rest.get(n..)?);
        rest = b;
        Some(a)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32_at(take(4)?);
    let mut items = Vec::with_capacity(count.min(1 << 16));
    let mut values = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let klen = u32_at(take(4)?);
        let k = take(klen)?.to_vec();
        let vlen = u32_at(take(4)?);
        let v = take(vlen)?;
        // The value's offset within the body, from the two slices' addresses.
        let offset = base + (v.as_ptr() as usize - body.as_ptr() as usize) as u64;
        values.push(Location { segment, offset, len: vlen as u32 });
        items.push((k, v.to_vec()));
    }
    rest.is_empty().then_some(Replayed { items, values })
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(msg!("io.fsync_dir", path = dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(wal: &Wal, at: Location) -> Vec<u8> {
        let mut buf = Vec::new();
        wal.segments().read_into(at, &mut buf).unwrap();
        buf
    }

    #[test]
    fn a_torn_tail_is_cut_and_intact_records_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = {
            let (mut wal, records) = Wal::open(dir.path(), Position::START).unwrap();
            assert!(records.is_empty());
            let a = wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
            let b = wal.append(&vec![(b"b".to_vec(), b"22".to_vec()), (b"c".to_vec(), b"333".to_vec())]).unwrap();
            assert_eq!(read(&wal, b[1]), b"333");
            (a, b)
        };
        let path = segment_path(&dir.path().join(SEGMENTS_DIR), 1);
        let intact = std::fs::metadata(&path).unwrap().len();
        // A crash mid-append: a length prefix and half a body.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        drop(f);
        let (mut wal, records) = Wal::open(dir.path(), Position::START).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].items, vec![(b"b".to_vec(), b"22".to_vec()), (b"c".to_vec(), b"333".to_vec())]);
        // Replay gives the same value locations the append did.
        assert_eq!(records[0].values, first);
        assert_eq!(records[1].values, second);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), intact);
        // New records follow the intact ones; replay starts where it is told to.
        let after = wal.position();
        wal.append(&vec![(b"d".to_vec(), b"4".to_vec())]).unwrap();
        drop(wal);
        assert_eq!(Wal::open(dir.path(), Position::START).unwrap().1.len(), 3);
        let (_, records) = Wal::open(dir.path(), after).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].items[0].0, b"d");
    }

    #[test]
    fn records_continue_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), Position::START).unwrap();
        let a = wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        wal.rotate().unwrap();
        let b = wal.append(&vec![(b"b".to_vec(), b"2".to_vec())]).unwrap();
        assert_eq!((a[0].segment, b[0].segment), (1, 2));
        assert_eq!(read(&wal, a[0]), b"1");
        assert_eq!(read(&wal, b[0]), b"2");
        drop(wal);
        let (wal, records) = Wal::open(dir.path(), Position::START).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(wal.position().segment, 2);
        assert_eq!(Wal::open(dir.path(), Position { segment: 2, offset: 0 }).unwrap().1.len(), 1);
    }

    #[test]
    fn damage_before_the_end_is_refused_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), Position::START).unwrap();
        wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        wal.append(&vec![(b"b".to_vec(), b"2".to_vec())]).unwrap();
        drop(wal);
        let path = segment_path(&dir.path().join(SEGMENTS_DIR), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(Wal::open(dir.path(), Position::START), Err(Error::Corrupt { .. })));
    }

    /// A complete last record whose checksum fails held an acknowledged commit: the log is
    /// refused, not cut, and the segment is left as it was.
    #[test]
    fn a_flipped_byte_in_the_last_record_is_damage_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), Position::START).unwrap();
        wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        wal.append(&vec![(b"b".to_vec(), b"2".to_vec())]).unwrap();
        drop(wal);
        let path = segment_path(&dir.path().join(SEGMENTS_DIR), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Wal::open(dir.path(), Position::START).err().unwrap().to_string();
        assert!(err.contains("checksum fails") && err.contains("nothing was changed"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "the damaged segment is untouched");
    }

    /// A zero-filled tail of any length (a torn append on most filesystems) is cut, and
    /// every intact record comes back.
    #[test]
    fn a_zero_filled_tail_of_any_length_is_a_torn_append() {
        for zeros in [1usize, 7, 8, 9, 16, 100, 4096] {
            let dir = tempfile::tempdir().unwrap();
            let (mut wal, _) = Wal::open(dir.path(), Position::START).unwrap();
            wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
            let end = wal.segment_len();
            drop(wal);
            let path = segment_path(&dir.path().join(SEGMENTS_DIR), 1);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&vec![0u8; zeros]).unwrap();
            drop(f);
            let (wal, records) = Wal::open(dir.path(), Position::START).unwrap();
            assert_eq!(records.len(), 1, "{zeros} zeros");
            assert_eq!(wal.segment_len(), end, "{zeros} zeros");
        }
    }

    /// A segment the index covers that is gone is reported as missing, never recreated.
    #[test]
    fn a_missing_segment_is_reported_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), Position::START).unwrap();
        wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        let at = wal.position();
        drop(wal);
        let path = segment_path(&dir.path().join(SEGMENTS_DIR), 1);
        std::fs::remove_file(&path).unwrap();
        let err = Wal::open(dir.path(), at).err().unwrap().to_string();
        assert!(err.contains("is missing"), "{err}");
        assert!(!path.exists(), "no file was made in its place");
    }
}
