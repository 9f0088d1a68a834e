//! The sled store: chunks of events, their id blocks, and the head, all in one sled tree so a
//! commit is one atomic `apply_batch`, made durable first through the write-ahead journal
//! (`wal`) with one fdatasync, before anything is acknowledged.
//!
//! Key layout (one tree, `ledger`; big-endian seqs so keys sort in log order):
//!
//! | key                 | value                                                 |
//! |---------------------|-------------------------------------------------------|
//! | `F`                 | store format version (u32 LE)                         |
//! | `H`                 | head record: next seq, last hash, last recorded_at    |
//! | `L` + first seq     | chunk: consecutive events committed together          |
//! | `I` + first seq     | the 16-byte ids of that chunk's events, in order      |
//! | `C` + seq           | checkpoint: the state after `seq`, as partition hashes |
//! | `P` + SHA-256       | a partition of a checkpoint (one plan, or the global)  |
//!
//! Why chunks: sled pays ~4.6 µs and ~250 bytes of overhead per key, so a key per event caps
//! ingest far below what the disk can take. A commit writes one key pair per `CHUNK_BYTES_MAX`
//! bytes of events instead. The id blocks let the idempotency index be rebuilt by reading 16
//! bytes per event instead of decoding every event.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{self, ChunkWriter, CodecError, Hash};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::merkle::{self, Frontier};
use crate::model::Timestamp;
use crate::wal::{Items, Wal, WAL_BYTES_MAX};

/// Version of the key layout and records above. Stores with a higher version are refused.
pub const STORE_FORMAT: u32 = 1;
/// A chunk is closed once it reaches this many bytes (it may exceed it by one event). Kept
/// well below sled's blob threshold (segment size / 4) so chunks stay inline in sled's log.
pub const CHUNK_BYTES_MAX: usize = 32 * 1024;
/// Most events one commit may carry; bounds a batch's memory and its sled write.
pub const BATCH_EVENTS_MAX: usize = 100_000;

/// How many times (10 ms apart) to retry sled's file lock held by a dropped handle.
const SLED_LOCK_ATTEMPTS: u32 = 300;

const KEY_FORMAT: &[u8] = b"F";
const KEY_HEAD: &[u8] = b"H";
const PREFIX_CHUNK: u8 = b'L';
const PREFIX_IDS: u8 = b'I';
const PREFIX_CHECKPOINT: u8 = b'C';
const PREFIX_PARTITION: u8 = b'P';
const TREE: &str = "ledger";

/// What the store knows about the end of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Seq the next event gets; the log holds `next_seq - 1` events.
    pub next_seq: u64,
    /// Chain hash of the last event (all zeros for an empty log).
    pub last_hash: Hash,
    pub last_recorded_at: Timestamp,
    /// The Merkle tree over the log so far (RFC 6962), maintained one leaf per event.
    pub merkle: Frontier,
}

impl Default for Head {
    fn default() -> Self {
        Head { next_seq: 1, last_hash: [0; 32], last_recorded_at: Timestamp(0), merkle: Frontier::default() }
    }
}

impl Head {
    pub fn events(&self) -> u64 {
        self.next_seq - 1
    }
}

/// An event as stored: decoded, with its encoded bytes' chain hash.
#[derive(Clone, Debug)]
pub struct Stored {
    pub event: Event,
    pub hash: Hash,
}

pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    head: Head,
    db_file: File,
    synced_blobs: HashSet<OsString>,
    wal: Wal,
    /// Set when a batch reached the journal but not sled: the store must be reopened (which
    /// replays the journal) before anything else is committed, or seqs would be reused.
    poisoned: bool,
    // Held for the store's lifetime: the OS lock that keeps a second process out.
    _lock: File,
}

pub(crate) fn chunk_key(first_seq: u64) -> [u8; 9] {
    let mut k = [PREFIX_CHUNK; 9];
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

fn ids_key(first_seq: u64) -> [u8; 9] {
    let mut k = [PREFIX_IDS; 9];
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

fn checkpoint_key(seq: u64) -> [u8; 9] {
    let mut k = [PREFIX_CHECKPOINT; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn partition_key(hash: &Hash) -> [u8; 33] {
    let mut k = [PREFIX_PARTITION; 33];
    k[1..].copy_from_slice(hash);
    k
}

/// What a commit writes besides events: a checkpoint record and the partitions it names
/// that the store does not hold yet.
pub struct CheckpointWrite {
    pub seq: u64,
    pub record: Vec<u8>,
    pub partitions: Vec<(Hash, Vec<u8>)>,
}

fn key_seq(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if key.len() == 9 {
        b.copy_from_slice(&key[1..]);
    }
    u64::from_be_bytes(b)
}

fn corrupt(seq: u64, e: CodecError) -> Error {
    Error::Corrupt { seq, what: e.to_string() }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, taking an exclusive lock on it.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating store {}", dir.display()), e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::StoreInUse(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", lock_path.display()), e))
            }
        }
        let fresh = !dir.join("db").exists();
        let db = open_sled(dir)?;
        let tree = db.open_tree(TREE)?;
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(|e| Error::io(format!("opening {}", db_path.display()), e))?;
        let (wal, journal) = Wal::open(dir)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            db,
            tree,
            head: Head::default(),
            db_file,
            synced_blobs: HashSet::new(),
            wal,
            poisoned: false,
            _lock: lock,
        };
        match store.tree.get(KEY_FORMAT)? {
            None => {
                store.tree.insert(KEY_FORMAT, &STORE_FORMAT.to_le_bytes())?;
                store.sync()?;
                sync_dir(dir)?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_le_bytes)
                    .map_err(|_| Error::Corrupt { seq: 0, what: "store format record is damaged".into() })?;
                if found > STORE_FORMAT {
                    return Err(Error::FormatTooNew { dir: dir.to_path_buf(), found, supported: STORE_FORMAT });
                }
            }
        }
        if fresh {
            // The ledger's signing key is made with the store (docs/proofs.md).
            crate::keys::LedgerKey::load_or_create(dir)?;
            sync_dir(dir)?;
        }
        if let Some(h) = store.tree.get(KEY_HEAD)? {
            store.head = codec::decode_record(&h).map_err(|e| corrupt(0, e))?;
        }
        store.replay_journal(journal)?;
        if let Some(h) = store.tree.get(KEY_HEAD)? {
            store.head = codec::decode_record(&h).map_err(|e| corrupt(0, e))?;
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Appends `events` (already numbered from `head.next_seq`) atomically and durably: when
    /// this returns `Ok`, every event is on disk and survives a crash or power loss.
    pub fn commit(&mut self, events: &[Event], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if self.poisoned {
            return Err(Error::io(
                "commit",
                std::io::Error::other("an earlier commit failed halfway; reopen the store to recover it"),
            ));
        }
        assert!(events.len() <= BATCH_EVENTS_MAX, "batch of {} events over BATCH_EVENTS_MAX", events.len());
        let mut items: Items = Vec::new();
        let mut hash = self.head.last_hash;
        let mut chunk = ChunkWriter::new();
        let mut ids: Vec<u8> = Vec::new();
        let mut chunk_first = self.head.next_seq;
        let mut last_recorded_at = self.head.last_recorded_at;
        let mut tree = self.head.merkle.clone();
        for (i, event) in events.iter().enumerate() {
            // Invariants of the log, checked on every write: gap-free seqs, time never goes back.
            assert_eq!(event.seq, self.head.next_seq + i as u64, "seq gap in commit");
            assert!(event.recorded_at >= last_recorded_at, "recorded_at went backwards at seq {}", event.seq);
            last_recorded_at = event.recorded_at;
            hash = chunk.push(event, &hash);
            tree.push(merkle::leaf_hash(chunk.last_event_bytes()));
            ids.extend_from_slice(event.id.as_bytes());
            if chunk.len_bytes() >= CHUNK_BYTES_MAX {
                let full = std::mem::take(&mut chunk);
                items.push((chunk_key(chunk_first).to_vec(), full.finish()));
                items.push((ids_key(chunk_first).to_vec(), std::mem::take(&mut ids)));
                chunk_first = event.seq + 1;
            }
        }
        if chunk.count() > 0 {
            items.push((chunk_key(chunk_first).to_vec(), chunk.finish()));
            items.push((ids_key(chunk_first).to_vec(), ids));
        }
        let head = Head {
            next_seq: self.head.next_seq + events.len() as u64,
            last_hash: hash,
            last_recorded_at,
            merkle: tree,
        };
        items.push((KEY_HEAD.to_vec(), codec::encode_record(&head)));
        if let Some(cp) = checkpoint {
            assert_eq!(cp.seq, head.next_seq - 1, "a checkpoint covers exactly the committed log");
            for (hash, bytes) in cp.partitions {
                // Content-addressed: an unchanged plan is stored once for every checkpoint.
                if !self.tree.contains_key(partition_key(&hash))? {
                    items.push((partition_key(&hash).to_vec(), bytes));
                }
            }
            items.push((checkpoint_key(cp.seq).to_vec(), cp.record));
        }
        // Durable once in the journal; then visible in sled.
        self.wal.append(&items)?;
        if let Err(e) = self.tree.apply_batch(batch_of(items)) {
            self.poisoned = true;
            return Err(e.into());
        }
        self.head = head;
        if self.wal.len() >= WAL_BYTES_MAX {
            self.empty_journal()?;
        }
        Ok(())
    }

    /// Re-applies the journal's batches that sled does not hold yet (it may hold a prefix of
    /// them: sled writes its buffers when they fill), then makes sled durable and empties it.
    fn replay_journal(&mut self, journal: Vec<Items>) -> Result<()> {
        if journal.is_empty() {
            return Ok(());
        }
        let mut next_seq = self.head.next_seq;
        for items in journal {
            let head: Head = items
                .iter()
                .find(|(k, _)| k.as_slice() == KEY_HEAD)
                .map(|(_, v)| codec::decode_record(v))
                .transpose()
                .map_err(|e| corrupt(0, e))?
                .ok_or_else(|| Error::Corrupt { seq: 0, what: "journal record without a head".into() })?;
            if head.next_seq > next_seq {
                next_seq = head.next_seq;
                self.tree.apply_batch(batch_of(items))?;
            }
        }
        self.empty_journal()
    }

    /// Makes sled durable, then empties the journal.
    fn empty_journal(&mut self) -> Result<()> {
        self.sync()?;
        self.wal.reset()
    }

    /// Makes sled's files durable. sled's `flush()` writes its buffers and ends in
    /// `sync_file_range`, which neither flushes the device cache nor file metadata, so we
    /// follow it with `fdatasync` on sled's log file, and `fsync` on each blob file sled wrote
    /// since the last sync (sled writes large values to separate files and never syncs them).
    fn sync(&mut self) -> Result<()> {
        self.db.flush()?;
        self.db_file.sync_data().map_err(|e| Error::io("fsync of the store's log file", e))?;
        let blobs = self.dir.join("blobs");
        let mut new_blobs = false;
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if self.synced_blobs.contains(&name) {
                    continue;
                }
                // A blob sled removed meanwhile needs no sync.
                if let Ok(f) = File::open(entry.path()) {
                    f.sync_all().map_err(|e| Error::io(format!("fsync of {}", entry.path().display()), e))?;
                }
                self.synced_blobs.insert(name);
                new_blobs = true;
            }
        }
        if new_blobs {
            sync_dir(&blobs)?;
        }
        Ok(())
    }

    /// The stored bytes and chain hash of event `seq`, if the log has it: found by walking
    /// its chunk's length prefixes, without decoding anything.
    pub fn record(&self, seq: u64) -> Result<Option<(Vec<u8>, Hash)>> {
        if seq == 0 || seq >= self.head.next_seq {
            return Ok(None);
        }
        let Some(found) = self.tree.range(chunk_key(0)..=chunk_key(seq)).next_back() else {
            return Ok(None);
        };
        let (key, chunk) = found?;
        let first = key_seq(&key);
        let Some(r) = codec::chunk_record(&chunk, (seq - first) as usize).map_err(|e| corrupt(first, e))? else {
            return Err(Error::Corrupt { seq, what: "missing from its chunk".into() });
        };
        Ok(Some((r.bytes.to_vec(), r.hash)))
    }

    /// The event at `seq`, if the log has it. Decodes that one event, not its whole chunk.
    pub fn get(&self, seq: u64) -> Result<Option<Stored>> {
        let Some((bytes, hash)) = self.record(seq)? else { return Ok(None) };
        let event = codec::decode_event(&bytes).map_err(|e| corrupt(seq, e))?;
        if event.seq != seq {
            return Err(Error::Corrupt { seq, what: format!("event records seq {}", event.seq) });
        }
        Ok(Some(Stored { event, hash }))
    }

    /// Events from `from_seq` (inclusive) to the head, in order, decoded lazily chunk by chunk.
    pub fn scan(&self, from_seq: u64) -> Scan {
        let from_seq = from_seq.max(1);
        // Start at the chunk holding `from_seq`: the last chunk key at or before it.
        let start = self
            .tree
            .range(chunk_key(0)..=chunk_key(from_seq))
            .next_back()
            .and_then(|r| r.ok())
            .map(|(k, _)| key_seq(&k))
            .unwrap_or(1);
        Scan {
            chunks: self.tree.range(chunk_key(start)..=chunk_key(u64::MAX)),
            chunk: None,
            chunk_end: start,
            from_seq,
            expect_seq: start,
            end_seq: self.head.next_seq,
            failed: false,
        }
    }

    /// Raw chunks from the start of the log: `(first seq, chunk bytes)`. For verification.
    pub fn raw_chunks(&self) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + '_ {
        self.tree
            .range(chunk_key(0)..=chunk_key(u64::MAX))
            .map(|r| r.map(|(k, v)| (key_seq(&k), v)).map_err(Error::from))
    }

    /// The id block of the chunk starting at `first_seq`.
    pub fn ids_block(&self, first_seq: u64) -> Result<Option<sled::IVec>> {
        Ok(self.tree.get(ids_key(first_seq))?)
    }

    /// The latest checkpoint record at or before `seq`: `(its seq, record bytes)`.
    pub fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>> {
        match self.tree.range(checkpoint_key(0)..=checkpoint_key(seq)).next_back() {
            Some(r) => {
                let (k, v) = r?;
                Ok(Some((key_seq(&k), v)))
            }
            None => Ok(None),
        }
    }

    /// Every checkpoint record, in seq order.
    pub fn checkpoints(&self) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + '_ {
        self.tree
            .range(checkpoint_key(0)..=checkpoint_key(u64::MAX))
            .map(|r| r.map(|(k, v)| (key_seq(&k), v)).map_err(Error::from))
    }

    /// A checkpoint partition by its hash.
    pub fn partition(&self, hash: &Hash) -> Result<Option<sled::IVec>> {
        Ok(self.tree.get(partition_key(hash))?)
    }

    /// Every (id, seq) of the log, from the id blocks, in log order.
    pub fn for_each_id(&self, mut f: impl FnMut(Uuid, u64)) -> Result<()> {
        for r in self.tree.range(ids_key(0)..=ids_key(u64::MAX)) {
            let (k, v) = r?;
            let first = key_seq(&k);
            if v.len() % 16 != 0 {
                return Err(Error::Corrupt { seq: first, what: "id block length is not a multiple of 16".into() });
            }
            for (i, id) in v.chunks_exact(16).enumerate() {
                let mut b = [0u8; 16];
                b.copy_from_slice(id);
                f(Uuid::from_bytes(b), first + i as u64);
            }
        }
        Ok(())
    }

    /// Bytes the store occupies on disk (sled's files and blobs).
    pub fn disk_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }

    /// Direct access to the sled tree, for tests that tamper with stored bytes.
    #[doc(hidden)]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.tree
    }
}

/// Opens sled in `dir`. Holding `LOCK` means no other process has the store, so a failure
/// of sled's own file lock can only be this process's previous handle, whose background
/// threads release it shortly after it is dropped: wait for that, briefly.
fn open_sled(dir: &Path) -> Result<sled::Db> {
    let mut attempts = 0;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            // Flushing is ours: every commit flushes and fsyncs before it returns.
            .flush_every_ms(None)
            .cache_capacity(256 * 1024 * 1024)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                attempts += 1;
                if attempts >= SLED_LOCK_ATTEMPTS {
                    return Err(Error::StoreInUse(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(Error::Sled(e)),
        }
    }
}

fn batch_of(items: Items) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for (k, v) in items {
        batch.insert(k, v);
    }
    batch
}

impl Drop for Store {
    /// A clean close leaves sled durable and the journal empty, so other tools (and tests)
    /// reading sled directly see everything. Best effort: a failure here loses nothing, the
    /// journal is replayed at the next open.
    fn drop(&mut self) {
        if !self.poisoned && !self.wal.is_empty() {
            let _ = self.empty_journal();
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("fsync of directory {}", dir.display()), e))
}

/// Iterator over stored events; see [`Store::scan`]. Decodes one event per step straight
/// from the chunk's bytes, and checks that seqs run gap-free.
pub struct Scan {
    chunks: sled::Iter,
    /// The chunk being read, the offset of its next record, and that record's seq.
    chunk: Option<(sled::IVec, usize, u64)>,
    /// Seq one past the last record of the current chunk (where the next chunk must start).
    chunk_end: u64,
    from_seq: u64,
    expect_seq: u64,
    end_seq: u64,
    failed: bool,
}

impl Scan {
    /// Moves to the next chunk; `false` at the end of the log.
    fn next_chunk(&mut self) -> Result<bool> {
        let Some(next) = self.chunks.next() else {
            return Ok(false);
        };
        let (key, chunk) = next?;
        let first = key_seq(&key);
        if first != self.expect_seq {
            return Err(Error::Corrupt { seq: self.expect_seq, what: format!("log jumps to a chunk at seq {first}") });
        }
        let (&v, rest) = chunk.split_first().ok_or_else(|| corrupt(first, CodecError::Empty))?;
        if v > codec::CHUNK_FORMAT {
            return Err(corrupt(first, CodecError::TooNew(v, codec::CHUNK_FORMAT)));
        }
        let count = rest.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let count = count.ok_or_else(|| corrupt(first, CodecError::Truncated))?;
        self.chunk_end = first + u64::from(count);
        self.expect_seq = self.chunk_end;
        self.chunk = Some((chunk, codec::ChunkWriter::HEADER_LEN, first));
        Ok(true)
    }

    /// The next record of the current chunk, decoded unless it lies before `from_seq`.
    fn next_record(&mut self) -> Result<Option<Option<Stored>>> {
        let Some((chunk, at, seq)) = self.chunk.as_mut() else { return Ok(None) };
        if *seq >= self.chunk_end {
            if *at != chunk.len() {
                return Err(corrupt(*seq, CodecError::Bincode("trailing bytes after the last record".into())));
            }
            self.chunk = None;
            return Ok(None);
        }
        let b = &chunk[*at..];
        let len = b.get(..4).map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
        let len = len.ok_or_else(|| corrupt(*seq, CodecError::Truncated))?;
        if b.len() < 4 + len + 32 {
            return Err(corrupt(*seq, CodecError::Truncated));
        }
        let this = *seq;
        *at += 4 + len + 32;
        *seq += 1;
        if this < self.from_seq {
            return Ok(Some(None));
        }
        let event = codec::decode_event(&b[4..4 + len]).map_err(|e| corrupt(this, e))?;
        if event.seq != this {
            return Err(Error::Corrupt { seq: this, what: format!("event records seq {}", event.seq) });
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[4 + len..4 + len + 32]);
        Ok(Some(Some(Stored { event, hash })))
    }

    fn step(&mut self) -> Result<Option<Stored>> {
        loop {
            match self.next_record()? {
                Some(Some(stored)) => return Ok(Some(stored)),
                Some(None) => continue,
                None => {}
            }
            if !self.next_chunk()? {
                if self.expect_seq < self.end_seq && self.from_seq < self.end_seq {
                    return Err(Error::Corrupt {
                        seq: self.expect_seq,
                        what: format!("log ends before the head ({} events)", self.end_seq - 1),
                    });
                }
                return Ok(None);
            }
        }
    }
}

impl Iterator for Scan {
    type Item = Result<Stored>;

    fn next(&mut self) -> Option<Result<Stored>> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(s) => s.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
