//! Indexes on disk from a 32-bit key to the seqs of the events that have it, so that a
//! process submitting one event reads a few blocks instead of the whole log:
//! - **the id index** (`ids/`, dense: an entry for every event, its key mixed from its id):
//!   "was this id recorded?" (it took seconds and gigabytes at 10 M events from the log);
//! - **the listings index** (`listings/`, sparse: an entry for each event that lists a
//!   project in a plan or defines an indicator in one, keyed by the project or indicator):
//!   "which plans can this command touch?", the catalogue a scoped ledger loads plans by.
//!
//! An index is sorted runs of fixed-width entries, each run covering a contiguous range of
//! seqs; together they cover the log from seq 1 to `cover`, and the entries after it (of
//! fewer than `ID_RUN_EVERY` events) are held in memory, read from the log when the index is
//! first used. A run is written when that tail spans `ID_RUN_EVERY` events, after the commit
//! that makes it so; `ID_RUN_FANIN` runs of one level are merged into one of the next, so a
//! 10 M-event log has at most ~25 runs and every entry is rewritten about four times in all.
//!
//! An entry is 8 bytes: the key, and the seq as an offset from the run's first seq. Keys
//! collide (in a run of millions, thousands do): every hit is checked against the event it
//! names, so an index answers "maybe at seq N", never wrongly "yes"; a new id meets a
//! stranger's key in one lookup of a few hundred.
//! Runs are derived data, like checkpoints: a run that is damaged, or that reaches beyond
//! the head (a log cut by `repair`), is set aside with a warning and its ids read from the
//! log again.
//!
//! A run file (`ids/<first seq>-<last seq>.ids`, 20 digits each; likewise in `listings/`):
//!
//! | bytes            | what                                                          |
//! |------------------|---------------------------------------------------------------|
//! | 0..8             | magic `PLIDS\0\0\x01`                                          |
//! | 8..40            | first seq, last seq, entries, blocks (u64 LE each)            |
//! | 40..44           | CRC-32 of bytes 0..40                                          |
//! | 44..48           | zero                                                          |
//! | 48..48+4·blocks  | the first key of each block (u32 LE), then their CRC-32       |
//! | then             | blocks of `BLOCK_BYTES`: 511 entries (key u32 LE, seq offset   |
//! |                  | u32 LE), zero padding, CRC-32 of the block's first 4092 bytes  |

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{Error, Result};

/// Directory of the id runs, inside the store's directory.
pub const IDS_DIR: &str = "ids";
/// Directory of the listings runs, inside the store's directory.
pub const LISTINGS_DIR: &str = "listings";
/// Events whose entries are held in memory before they are written as a run (an id run:
/// 128 KiB on disk).
pub const ID_RUN_EVERY: usize = 16_384;
/// Runs of one level merged into one of the next.
pub const ID_RUN_FANIN: usize = 8;
/// A run's seqs are offsets from its first seq: no run spans more.
const RUN_SPAN_MAX: u64 = u32::MAX as u64;

const MAGIC: &[u8; 8] = b"PLIDS\0\0\x01";
const HEADER_BYTES: u64 = 48;
const BLOCK_BYTES: usize = 4096;
const ENTRY_BYTES: usize = 8;
const ENTRIES_PER_BLOCK: usize = (BLOCK_BYTES - 4) / ENTRY_BYTES;
const BLOCK_CRC_AT: usize = BLOCK_BYTES - 4;

/// The key an id is indexed under: its two halves mixed (splitmix64's finalizer), so that
/// ids from any source (counters, UUIDv7 clocks) spread evenly over the key space.
pub fn key_of(id: &Uuid) -> u32 {
    let v = id.as_u128();
    let mut x = (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) >> 32) as u32
}

#[cfg(feature = "test-hooks")]
/// See `store::test_hooks::swap_in_id_run`.
pub(crate) fn swap_two_seqs_of_first_run(store_dir: &Path, name: &str) -> Result<()> {
    let index = SeqIndex::open(store_dir, name, false, u64::MAX, false, &|_| {})?;
    let run = index.runs.first().ok_or_else(|| Error::invalid(msg!("ids.part_header")))?;
    let mut entries: Vec<(u32, u64)> = run.iter().collect::<Result<_>>()?;
    let (first, last, path) = (run.first, run.last, run.path.clone());
    let n = entries.len();
    let (a, b) = (entries[0].1, entries[n - 1].1);
    entries[0].1 = b;
    entries[n - 1].1 = a;
    drop(index);
    std::fs::remove_file(&path).map_err(|e| Error::io(msg!("io.removing", path = path.display()), e))?;
    write_run(&store_dir.join(name), first, last, n as u64, entries.into_iter().map(Ok))?;
    Ok(())
}

/// One entry's share of a run's digest: order-independent (summed), so a run and the log
/// can be compared in constant memory.
pub(crate) fn entry_digest(key: u32, seq: u64) -> u64 {
    let mut x = (u64::from(key) << 32 ^ seq.rotate_left(17)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The key a project (`kind` b'P') or an indicator (`kind` b'I') is listed under: FNV-1a
/// of the kind and the id, mixed as `key_of` mixes.
pub fn listing_key(kind: u8, id: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(kind).chain(id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    key_of(&Uuid::from_u64_pair(h, h.rotate_left(32)))
}

/// A run's entries in key order, as a merge reads them.
type Entries<'r> = Box<dyn Iterator<Item = Result<(u32, u64)>> + 'r>;

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(msg!("io.writing", path = path.display()), e)
}

/// Which part of a run failed its check.
#[derive(Clone, Copy)]
enum Part {
    Header,
    Length,
    BlockIndex,
    Block,
}

fn damaged(path: &Path, part: Part) -> Error {
    let what = match part {
        Part::Header => msg!("ids.part_header"),
        Part::Length => msg!("ids.part_length"),
        Part::BlockIndex => msg!("ids.part_block_index"),
        Part::Block => msg!("ids.part_block"),
    };
    Error::corrupt(0, msg!("ids.run_damaged", path = path.display(), what = what))
}

/// One run, open: its header and the first key of each block; entries are read by block.
struct Run {
    path: PathBuf,
    file: File,
    first: u64,
    last: u64,
    entries: u64,
    /// First key of each block.
    sparse: Vec<u32>,
}

fn data_offset(blocks: u64) -> u64 {
    HEADER_BYTES + 4 * blocks + 4
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

impl Run {
    /// Opens a run and checks its header, its block index and its length (the blocks
    /// themselves are checked as they are read). A `dense` run has an entry for every seq.
    fn open(path: &Path, dense: bool) -> Result<Run> {
        let file = File::open(path).map_err(|e| Error::io(msg!("io.opening", path = path.display()), e))?;
        let mut header = [0u8; HEADER_BYTES as usize];
        file.read_exact_at(&mut header, 0).map_err(|_| damaged(path, Part::Header))?;
        if &header[..8] != MAGIC || crc32fast::hash(&header[..40]) != le32(&header[40..]) {
            return Err(damaged(path, Part::Header));
        }
        let (first, last, entries, blocks) =
            (le64(&header[8..]), le64(&header[16..]), le64(&header[24..]), le64(&header[32..]));
        let len = file.metadata().map_err(|e| Error::io(msg!("io.reading", path = path.display()), e))?.len();
        let sane = first >= 1
            && last >= first
            && last - first <= RUN_SPAN_MAX
            && (entries == last - first + 1 || !dense && entries < last - first + 1)
            && blocks == entries.div_ceil(ENTRIES_PER_BLOCK as u64)
            && len == data_offset(blocks) + blocks * BLOCK_BYTES as u64;
        if !sane {
            return Err(damaged(path, Part::Length));
        }
        let mut index = vec![0u8; 4 * blocks as usize + 4];
        file.read_exact_at(&mut index, HEADER_BYTES).map_err(|_| damaged(path, Part::BlockIndex))?;
        let (keys, crc) = index.split_at(4 * blocks as usize);
        if crc32fast::hash(keys) != le32(crc) {
            return Err(damaged(path, Part::BlockIndex));
        }
        let sparse = keys.chunks_exact(4).map(le32).collect();
        Ok(Run { path: path.to_path_buf(), file, first, last, entries, sparse })
    }

    /// Reads block `b` into `buf` and checks it; returns how many entries it holds.
    fn block(&self, b: usize, buf: &mut [u8; BLOCK_BYTES]) -> Result<usize> {
        let at = data_offset(self.sparse.len() as u64) + (b * BLOCK_BYTES) as u64;
        self.file.read_exact_at(buf, at).map_err(|_| damaged(&self.path, Part::Block))?;
        if crc32fast::hash(&buf[..BLOCK_CRC_AT]) != le32(&buf[BLOCK_CRC_AT..]) {
            return Err(damaged(&self.path, Part::Block));
        }
        let before = (b * ENTRIES_PER_BLOCK) as u64;
        Ok((self.entries - before).min(ENTRIES_PER_BLOCK as u64) as usize)
    }

    fn entry(&self, buf: &[u8], i: usize) -> (u32, u64) {
        let e = &buf[i * ENTRY_BYTES..];
        (le32(e), self.first + u64::from(le32(&e[4..])))
    }

    /// Pushes the seqs of every entry with `key` (equal keys may span blocks).
    fn find(&self, key: u32, out: &mut Vec<u64>) -> Result<()> {
        let mut b = self.sparse.partition_point(|&k| k < key).saturating_sub(1);
        let mut buf = [0u8; BLOCK_BYTES];
        while b < self.sparse.len() && self.sparse[b] <= key {
            let n = self.block(b, &mut buf)?;
            for i in 0..n {
                let (k, seq) = self.entry(&buf, i);
                if k == key {
                    out.push(seq);
                } else if k > key {
                    return Ok(());
                }
            }
            b += 1;
        }
        Ok(())
    }

    /// Every entry, in key order (for a merge).
    fn iter(&self) -> impl Iterator<Item = Result<(u32, u64)>> + '_ {
        let mut buf = Box::new([0u8; BLOCK_BYTES]);
        let mut b = 0;
        let mut i = 0;
        let mut n = 0;
        std::iter::from_fn(move || {
            if i == n {
                if b == self.sparse.len() {
                    return None;
                }
                match self.block(b, &mut buf) {
                    Ok(count) => n = count,
                    Err(e) => {
                        b = self.sparse.len();
                        return Some(Err(e));
                    }
                }
                b += 1;
                i = 0;
            }
            i += 1;
            Some(Ok(self.entry(&buf[..], i - 1)))
        })
    }

    fn level(&self) -> u32 {
        level_of(self.entries)
    }
}

/// A run's level: 0 below `ID_RUN_EVERY × ID_RUN_FANIN` entries, one more for each factor
/// of `ID_RUN_FANIN` above.
fn level_of(entries: u64) -> u32 {
    let mut level = 0;
    let mut size = (ID_RUN_EVERY * ID_RUN_FANIN) as u64;
    while entries >= size {
        level += 1;
        size = size.saturating_mul(ID_RUN_FANIN as u64);
    }
    level
}

fn run_name(first: u64, last: u64) -> String {
    format!("{first:020}-{last:020}.ids")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let (first, last) = name.strip_suffix(".ids")?.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// Writes a run of `entries` (sorted by key, then seq; seqs within `first..=last`): a
/// temporary file renamed into place. Not fsynced: a run is derived data, every byte of it
/// is checked (CRC-32s, its length) when it is read, and one that a crash left short or
/// zeroed is set aside and its events read from the log again. So the writer's path pays
/// no fsync for it.
fn write_run(
    dir: &Path,
    first: u64,
    last: u64,
    count: u64,
    entries: impl Iterator<Item = Result<(u32, u64)>>,
) -> Result<Run> {
    let path = dir.join(run_name(first, last));
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let blocks = count.div_ceil(ENTRIES_PER_BLOCK as u64);
    let mut sparse = Vec::with_capacity(blocks as usize);
    {
        let mut out = BufWriter::with_capacity(1 << 16, &file);
        // The blocks go after the header and block index, written last.
        std::io::Seek::seek(&mut out, std::io::SeekFrom::Start(data_offset(blocks))).map_err(io(&tmp))?;
        let mut block = [0u8; BLOCK_BYTES];
        let mut n = 0usize;
        let mut written = 0u64;
        let flush = |block: &mut [u8; BLOCK_BYTES], out: &mut BufWriter<&File>| -> Result<()> {
            let crc = crc32fast::hash(&block[..BLOCK_CRC_AT]);
            block[BLOCK_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
            out.write_all(&block[..]).map_err(io(&tmp))?;
            *block = [0u8; BLOCK_BYTES];
            Ok(())
        };
        for entry in entries {
            let (key, seq) = entry?;
            // The caller's bug: entries outside the run's seqs, or more than it said.
            assert!((first..=last).contains(&seq) && written < count, "id run entry out of range");
            if n == 0 {
                sparse.push(key);
            }
            let e = &mut block[n * ENTRY_BYTES..(n + 1) * ENTRY_BYTES];
            e[..4].copy_from_slice(&key.to_le_bytes());
            e[4..].copy_from_slice(&((seq - first) as u32).to_le_bytes());
            n += 1;
            written += 1;
            if n == ENTRIES_PER_BLOCK {
                flush(&mut block, &mut out)?;
                n = 0;
            }
        }
        if n > 0 {
            flush(&mut block, &mut out)?;
        }
        assert_eq!(written, count, "id run shorter than announced");
        out.flush().map_err(io(&tmp))?;
    }
    let mut head = Vec::with_capacity(data_offset(blocks) as usize);
    head.extend_from_slice(MAGIC);
    for v in [first, last, count, blocks] {
        head.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&head);
    head.extend_from_slice(&crc.to_le_bytes());
    head.extend_from_slice(&[0u8; 4]);
    let keys_at = head.len();
    for k in &sparse {
        head.extend_from_slice(&k.to_le_bytes());
    }
    let crc = crc32fast::hash(&head[keys_at..]);
    head.extend_from_slice(&crc.to_le_bytes());
    file.write_all_at(&head, 0).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Run::open(&path, false)
}

/// A run that failed a read: which one (its place in the chain), and how.
#[derive(Debug)]
pub(crate) struct Damaged {
    pub(crate) run: usize,
    pub(crate) error: Error,
}

/// One index of one store: the runs covering seqs `1..=cover`, and the entries of the events
/// after it.
pub(crate) struct SeqIndex {
    dir: PathBuf,
    /// Runs in seq order, each starting where the previous ends.
    runs: Vec<Run>,
    /// The entries of events `cover + 1 ..= through`, in seq order.
    tail: Vec<(u32, u64)>,
    through: u64,
    /// A read-only store's index writes and deletes nothing; its tail only grows.
    writable: bool,
}

impl SeqIndex {
    /// Opens the runs in `store_dir/ids` that chain from seq 1 up to at most `head`. Files
    /// that do not fit the chain (merged already, beyond the head, damaged) are removed
    /// when `writable`; damaged ones are reported through `warn`.
    pub(crate) fn open(
        store_dir: &Path,
        name: &str,
        dense: bool,
        head: u64,
        writable: bool,
        warn: &dyn Fn(crate::Msg),
    ) -> Result<SeqIndex> {
        let dir = store_dir.join(name);
        if writable && !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(msg!("io.creating", path = dir.display()), e))?;
            crate::store::sync_dir(store_dir)?;
        }
        let mut found: Vec<(u64, u64, PathBuf)> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                match name.to_str().and_then(parse_name) {
                    Some((first, last)) => found.push((first, last, entry.path())),
                    // A temporary file of a run never finished.
                    None if writable => {
                        let _ = std::fs::remove_file(entry.path());
                    }
                    None => {}
                }
            }
        }
        // Widest first among runs starting at the same seq: a merge's output before its inputs.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut runs: Vec<Run> = Vec::new();
        let mut unused: Vec<PathBuf> = Vec::new();
        let mut expect = 1;
        for (first, last, path) in found {
            if first != expect || last > head {
                unused.push(path);
                continue;
            }
            match Run::open(&path, dense) {
                Ok(run) if run.first == first && run.last == last => {
                    expect = last + 1;
                    runs.push(run);
                }
                Ok(_) => {
                    warn(msg!("ids.run_set_aside", error = damaged(&path, Part::Header).to_msg()));
                    unused.push(path);
                }
                Err(e @ Error::Corrupt { .. }) => {
                    warn(msg!("ids.run_set_aside", error = e.to_msg()));
                    unused.push(path);
                }
                Err(e) => return Err(e),
            }
        }
        if writable {
            for path in &unused {
                let _ = std::fs::remove_file(path);
            }
        }
        let through = runs.last().map_or(0, |r| r.last);
        Ok(SeqIndex { dir, runs, tail: Vec::new(), through, writable })
    }

    /// Seqs after which the log's ids are not in the index yet.
    pub(crate) fn through(&self) -> u64 {
        self.through
    }

    fn cover(&self) -> u64 {
        self.runs.last().map_or(0, |r| r.last)
    }

    /// Notes event `seq`, the next after `through`, with its key if it has one; writes a
    /// run when the tail spans `ID_RUN_EVERY` events (and the index is writable).
    pub(crate) fn push(&mut self, seq: u64, key: Option<u32>) -> Result<()> {
        // The caller's bug: events must come in log order, each once.
        assert_eq!(seq, self.through + 1, "index fed out of order");
        if let Some(key) = key {
            self.tail.push((key, seq));
        }
        self.through = seq;
        if self.writable && self.through - self.cover() >= ID_RUN_EVERY as u64 {
            self.write_tail()?;
        }
        Ok(())
    }

    /// Candidate seqs for `key`, from the tail and the runs (the caller checks each against
    /// its event).
    pub(crate) fn candidates(&self, key: u32, out: &mut Vec<u64>) -> std::result::Result<(), Damaged> {
        out.extend(self.tail.iter().filter(|e| e.0 == key).map(|e| e.1));
        for (i, run) in self.runs.iter().enumerate().rev() {
            run.find(key, out).map_err(|error| Damaged { run: i, error })?;
        }
        Ok(())
    }

    /// Drops run `damaged.run` and every later one: their ids are read from the log again
    /// (the caller feeds them from `through() + 1`). Returns the warning to give.
    pub(crate) fn set_aside_from(&mut self, damaged: &Damaged) -> crate::Msg {
        let from = damaged.run.min(self.runs.len());
        let what = msg!("ids.run_set_aside", error = damaged.error.to_msg());
        for run in self.runs.drain(from..) {
            if self.writable {
                let _ = std::fs::remove_file(&run.path);
            }
        }
        self.tail.clear();
        self.through = self.cover();
        what
    }

    /// Writes the tail as a run, then merges runs level by level.
    fn write_tail(&mut self) -> Result<()> {
        let first = self.cover() + 1;
        let last = self.through;
        let mut entries = std::mem::take(&mut self.tail);
        entries.sort_unstable();
        let count = entries.len() as u64;
        let run = write_run(&self.dir, first, last, count, entries.into_iter().map(Ok))?;
        self.runs.push(run);
        self.merge()
    }

    fn merge(&mut self) -> Result<()> {
        loop {
            let n = self.runs.len();
            if n < ID_RUN_FANIN {
                return Ok(());
            }
            let group = &self.runs[n - ID_RUN_FANIN..];
            let level = group[0].level();
            let (first, last) = (group[0].first, group[ID_RUN_FANIN - 1].last);
            if group.iter().any(|r| r.level() != level) || last - first > RUN_SPAN_MAX {
                return Ok(());
            }
            let count = group.iter().map(|r| r.entries).sum();
            let merged = write_run(&self.dir, first, last, count, MergeIter::new(group))?;
            for old in self.runs.drain(n - ID_RUN_FANIN..) {
                let _ = std::fs::remove_file(&old.path);
            }
            self.runs.push(merged);
        }
    }

    /// The seqs each run covers, in order.
    pub(crate) fn run_ranges(&self) -> Vec<(u64, u64)> {
        self.runs.iter().map(|r| (r.first, r.last)).collect()
    }

    /// Run `i`'s entries summed with `entry_digest` (what `verify` compares with the log's
    /// ids over the same seqs), and their count.
    pub(crate) fn run_digest(&self, i: usize) -> std::result::Result<(u64, u64), Damaged> {
        let mut sum = 0u64;
        let mut count = 0u64;
        if let Some(run) = self.runs.get(i) {
            for entry in run.iter() {
                let (key, seq) = entry.map_err(|error| Damaged { run: i, error })?;
                sum = sum.wrapping_add(entry_digest(key, seq));
                count += 1;
            }
        }
        Ok((count, sum))
    }
}

/// The entries of several runs in key order (a k-way merge; k is `ID_RUN_FANIN`).
struct MergeIter<'r> {
    heads: Vec<Option<(u32, u64)>>,
    iters: Vec<Entries<'r>>,
    failed: bool,
}

impl<'r> MergeIter<'r> {
    fn new(runs: &'r [Run]) -> MergeIter<'r> {
        let iters: Vec<Entries<'r>> = runs.iter().map(|r| Box::new(r.iter()) as Entries<'r>).collect();
        MergeIter { heads: vec![None; iters.len()], iters, failed: false }
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(u32, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        for (head, it) in self.heads.iter_mut().zip(self.iters.iter_mut()) {
            if head.is_none() {
                match it.next() {
                    Some(Ok(e)) => *head = Some(e),
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    None => {}
                }
            }
        }
        let (i, _) = self.heads.iter().enumerate().filter_map(|(i, h)| h.map(|h| (i, h))).min_by_key(|(_, h)| *h)?;
        self.heads[i].take().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Uuid {
        Uuid::from_u128(u128::from(n) * 0x9E37_79B9_7F4A_7C15 + 7)
    }

    fn fill(index: &mut SeqIndex, to: u64) {
        for seq in index.through() + 1..=to {
            index.push(seq, Some(key_of(&id(seq)))).unwrap();
        }
    }

    fn seqs_of(index: &SeqIndex, n: u64) -> Vec<u64> {
        let mut out = Vec::new();
        index.candidates(key_of(&id(n)), &mut out).unwrap();
        // What the store does with each: check it against the event's id.
        out.retain(|&s| id(s) == id(n));
        out
    }

    fn open(dir: &Path, head: u64) -> SeqIndex {
        SeqIndex::open(dir, IDS_DIR, true, head, true, &|_| {}).unwrap()
    }

    #[test]
    fn every_id_is_found_through_runs_merges_and_the_tail_and_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let total = (ID_RUN_EVERY * (ID_RUN_FANIN + 2) + 100) as u64;
        let mut index = open(tmp.path(), 0);
        fill(&mut index, total);
        // Eight level-0 runs merged into one, two more, and the tail.
        let every = ID_RUN_EVERY as u64;
        let fanin = ID_RUN_FANIN as u64;
        assert_eq!(
            index.run_ranges(),
            vec![
                (1, every * fanin),
                (every * fanin + 1, every * (fanin + 1)),
                (every * (fanin + 1) + 1, every * (fanin + 2))
            ]
        );
        for n in (1..=total).step_by(97).chain([1, every, every + 1, total]) {
            assert!(seqs_of(&index, n).contains(&n), "id of {n}");
        }
        assert!(seqs_of(&index, total + 5).is_empty());
        let files = std::fs::read_dir(tmp.path().join(IDS_DIR)).unwrap().count();
        assert_eq!(files, 3, "merged inputs are removed");
        drop(index);
        // Reopened: the runs again, the tail is the caller's to feed from the log.
        let mut index = open(tmp.path(), total);
        assert_eq!(index.through(), every * (fanin + 2));
        assert!(seqs_of(&index, total).is_empty());
        fill(&mut index, total);
        assert_eq!(seqs_of(&index, total), vec![total]);
        assert_eq!(seqs_of(&index, 5), vec![5]);
    }

    #[test]
    fn runs_beyond_the_head_leftovers_and_damage_are_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let every = ID_RUN_EVERY as u64;
        let mut index = open(tmp.path(), 0);
        fill(&mut index, 3 * every);
        drop(index);
        let dir = tmp.path().join(IDS_DIR);
        // A leftover merge input (covered by nothing wider here, so it is a chain link), a
        // temporary file, and a log cut back into the third run.
        std::fs::write(dir.join("x.tmp"), b"half").unwrap();
        let index = open(tmp.path(), 3 * every - 1);
        assert_eq!(index.run_ranges(), vec![(1, every), (every + 1, 2 * every)]);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        drop(index);
        // A flipped bit in the second run's block: found when read, and reported.
        let second = dir.join(run_name(every + 1, 2 * every));
        let mut bytes = std::fs::read(&second).unwrap();
        let at = bytes.len() - 100;
        bytes[at] ^= 1;
        std::fs::write(&second, &bytes).unwrap();
        let mut index = open(tmp.path(), 3 * every);
        let mut out = Vec::new();
        let mut err = None;
        for n in every + 1..=2 * every {
            if let Err(e) = index.candidates(key_of(&id(n)), &mut out) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("the damaged block is read by some lookup");
        assert!(err.error.to_string().contains("damaged"), "{}", err.error);
        assert_eq!(err.run, 1);
        index.set_aside_from(&err);
        assert_eq!(index.run_ranges(), vec![(1, every)]);
        assert_eq!(index.through(), every);
        // A damaged header: set aside at open, with a warning.
        let first = dir.join(run_name(1, every));
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[9] ^= 1;
        std::fs::write(&first, &bytes).unwrap();
        let warned = std::cell::Cell::new(0);
        let index =
            SeqIndex::open(tmp.path(), IDS_DIR, true, 3 * every, true, &|_| warned.set(warned.get() + 1)).unwrap();
        assert_eq!(index.run_ranges(), vec![]);
        assert_eq!(warned.get(), 1);
    }

    #[test]
    fn ids_sharing_a_key_are_all_candidates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(IDS_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        // 601 entries with one key straddle blocks; the lookup returns them all.
        let entries: Vec<(u32, u64)> =
            (1..=1000u64).map(|s| (if (300..=900).contains(&s) { 42 } else { s as u32 * 1000 }, s)).collect();
        let mut sorted = entries.clone();
        sorted.sort_unstable();
        let run = write_run(&dir, 1, 1000, 1000, sorted.into_iter().map(Ok)).unwrap();
        let mut out = Vec::new();
        run.find(42, &mut out).unwrap();
        assert_eq!(out, (300..=900).collect::<Vec<u64>>());
        out.clear();
        run.find(43, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
