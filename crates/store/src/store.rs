//! The store: events in chunks in the log segments (`wal`), where a commit writes them once
//! and makes them durable with one fdatasync before anything is acknowledged; one sled tree
//! indexing them, with the head and the checkpoint records (a commit's entries inserted key
//! by key after its log record is durable); checkpoint partitions as files. docs/design.md
//! has the whole layout.
//!
//! Key layout (one tree, `ledger`; big-endian seqs so keys sort in log order):
//!
//! | key                 | value                                                  |
//! |---------------------|--------------------------------------------------------|
//! | `F`                 | store format version (u32 LE)                          |
//! | `H`                 | head record: next seq, last hash, last recorded_at     |
//! | `L` + first seq     | where that chunk lies in the log (`wal::Location`)     |
//! | `C` + seq           | checkpoint: its record's hash (the record is a file)   |
//! | `J`                 | the log position sled durably holds everything before  |
//!
//! Why chunks: sled pays ~4.6 µs and ~250 bytes of overhead per key, so a key per event caps
//! ingest far below what the disk can take. A commit writes one index key per
//! `CHUNK_BYTES_MAX` bytes of events instead. Chunks are compressed (events repeat their ids,
//! streams and departments) and keep an 8-byte prefix of each event's chain hash (the full
//! hash is recomputed from the chunk's `prev_hash`). Why not in sled: sled rewrites whole
//! leaf nodes and keeps every page a scan reads resident. The idempotency index is rebuilt
//! from the ids at the head of each event.
//!
//! Two indexes on disk (`ids`): every event's id → its seq (`ids/`), and which events list a
//! project or define an indicator (`listings/`, the catalogue a scoped ledger loads plans
//! by). The store adds each commit's events to both once the commit is durable.
//!
//! Checkpoint partitions (one plan's state, or the shared part, LZ4-compressed) are files
//! `partitions/<sha256 hex>`, content-addressed and immutable, written and fsynced before
//! the commit that names them. So is each checkpoint's record (which partitions make up the
//! state: 45 bytes a plan), and sled holds its hash (`record_ref`): a record in sled shared a
//! leaf with the head, which sled rewrites whole every few commits, so each record was
//! written again and again (300 plans: 4 MB of sled's file for six records), and records
//! of thousands of plans became sled blobs, each fsynced again by every process that opened
//! the store. A store an older build wrote holds records in sled; they are read as they are.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::ops::DerefMut;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{self, Chunk, ChunkWriter, CodecError, Hash};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::event::Payload;
use crate::ids::{self, SeqIndex};
use crate::merkle::{self, Frontier};
use crate::model::Timestamp;
use crate::wal::{Items, Location, Position, Replayed, Segments, Wal, SEGMENT_BYTES_MAX};

/// Version of the key layout and records above. Stores with a higher version are refused.
pub const STORE_FORMAT: u32 = 2;
/// A chunk is closed once its body reaches this many bytes (it may exceed it by one event).
/// Compressed, chunks stay well below sled's blob threshold (segment size / 4).
pub const CHUNK_BYTES_MAX: usize = 32 * 1024;
/// Decompressed chunks kept for point reads (a correction reads the event it corrects, most
/// often from the last few months): 64 × ~32 KiB.
const CHUNK_CACHE_MAX: usize = 64;
/// First byte of a stored partition: LZ4 block with its length prepended.
const PARTITION_LZ4: u8 = 0xC4;
/// First byte of a checkpoint key's value that names its record's file (`record_ref`); a
/// record held in sled starts with its format byte (`codec::CHECKPOINT_FORMAT`, far below).
const RECORD_BY_HASH: u8 = 0xFE;
const RECORD_REF_BYTES: usize = 33;
/// Directory of the checkpoint partitions, inside the store's directory.
pub const PARTITIONS_DIR: &str = "partitions";
/// Threads decoding for a fold (`Store::fold_events`), and how many decoded chunks (~450
/// events each) each may hold ready.
const FOLD_LANES: usize = 2;
const FOLD_CHUNKS_AHEAD: usize = 4;
pub use crate::event::BATCH_EVENTS_MAX;
pub use crate::open::{Files, StoreAt};

/// sled's page cache (in sled's own measure, the on-disk size of the pages it holds). A
/// scan keeps the pages it read resident whatever this is (measured: a verify of 10 M events
/// peaks at 363 MiB with 8 MiB here, 447 MiB with 64 MiB; spacejam/sled#1036, #1093).
const SLED_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// How many times (10 ms apart) to retry sled's file lock held by a dropped handle.
const SLED_LOCK_ATTEMPTS: u32 = 300;

const KEY_FORMAT: &[u8] = b"F";
const KEY_HEAD: &[u8] = b"H";
/// The log position before which sled durably holds every record (12 bytes).
const KEY_LOG_APPLIED: &[u8] = b"J";
const PREFIX_CHUNK: u8 = b'L';
const PREFIX_CHECKPOINT: u8 = b'C';
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

/// The store. Reads take `&self` and may run while a commit is in progress on another
/// thread (the ledger's writer): a commit holds `writer` throughout; its chunks become
/// visible to scans when sled indexes them, after the fsync (only durable events are ever
/// read), and its head is replaced last. Point reads stop at the head.
pub struct EmbeddedStore {
    dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    head: RwLock<Head>,
    /// Everything only a commit changes; one commit at a time.
    writer: Mutex<Writer>,
    /// Read access to the log's segments, shared with scans.
    segments: Arc<Segments>,
    /// Recently read chunks, decompressed, by first seq (most recent last).
    chunk_cache: Mutex<VecDeque<(u64, Arc<Chunk>)>>,
    /// What reads noticed and passed over (`Store::warn`).
    warnings: Mutex<Vec<crate::Msg>>,
    /// Where sled's files are: the store's directory, or for a read-only open a scratch
    /// copy of them (so that a reader never writes to the store).
    index_dir: PathBuf,
    /// Opened by `open_read_only`: every commit is refused.
    read_only: bool,
    /// The id index and the listings index, opened on first need (a lookup, or the first
    /// commit).
    ids: Mutex<Option<SeqIndex>>,
    listings: Mutex<Option<SeqIndex>>,
    // Held for the store's lifetime: the OS lock that keeps a second process out (shared for
    // a reader, where the store's medium allows one).
    _lock: Option<File>,
    // A read-only open's scratch copy of sled's files, removed with the store.
    _scratch: Option<tempfile::TempDir>,
}

/// The commit side of the store.
struct Writer {
    wal: Wal,
    db_file: File,
    synced_blobs: HashSet<OsString>,
    /// The log position sled durably holds everything before (the `J` record).
    applied: Position,
    /// A segment is closed once it holds this many bytes (`SEGMENT_BYTES_MAX`; tests lower it).
    segment_bytes_max: u64,
    /// Set when an append to the log failed, or a batch reached the log but not sled: the
    /// store must be reopened (which reads the log back) before anything else is committed,
    /// or seqs would be reused and offsets would be wrong.
    poisoned: bool,
}

// A poisoned lock means a thread panicked while holding it, which only a bug can cause; the
// writer's fields are each left consistent between statements, and `poisoned` (ours) is set
// before any step that could leave the log and sled apart.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn chunk_key(first_seq: u64) -> [u8; 9] {
    let mut k = [PREFIX_CHUNK; 9];
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

fn checkpoint_key(seq: u64) -> [u8; 9] {
    let mut k = [PREFIX_CHECKPOINT; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The value of a checkpoint's key: the hash of its record, stored as a partition.
fn record_ref(hash: &Hash) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_REF_BYTES);
    v.push(RECORD_BY_HASH);
    v.extend_from_slice(hash);
    v
}

/// The record file a checkpoint key's value names, if it names one.
pub fn record_file_of(value: &[u8]) -> Option<Hash> {
    match value {
        [RECORD_BY_HASH, hash @ ..] if value.len() == RECORD_REF_BYTES => Hash::try_from(hash).ok(),
        _ => None,
    }
}

/// A checkpoint partition's stored bytes (see [`Store::partition`]) from its record bytes.
pub fn pack_partition(raw: &[u8]) -> Vec<u8> {
    // One allocation, compressed in place (partitions are megabytes): the marker, the length
    // (`decompress_size_prepended`'s layout), then the block.
    let mut stored = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(raw.len())];
    stored[0] = PARTITION_LZ4;
    // Records are bounded by codec::RECORD_BYTES_MAX (1 GiB) when encoded.
    stored[1..5].copy_from_slice(&u32::try_from(raw.len()).unwrap_or(u32::MAX).to_le_bytes());
    match lz4_flex::block::compress_into(raw, &mut stored[5..]) {
        Ok(n) => stored.truncate(5 + n),
        // Cannot happen with an output of the maximum size; the plain path is still correct.
        Err(_) => {
            stored.truncate(1);
            stored.extend_from_slice(&lz4_flex::block::compress_prepend_size(raw));
        }
    }
    stored
}

/// A partition's record bytes from its stored bytes (the inverse of [`pack_partition`]); bytes
/// that do not unpack are returned as stored, for the caller's hash check to refuse.
pub fn unpack_partition(stored: Vec<u8>) -> Vec<u8> {
    match stored.split_first() {
        Some((&PARTITION_LZ4, packed)) => lz4_flex::block::decompress_size_prepended(packed).unwrap_or(stored),
        _ => stored,
    }
}

/// What a commit writes besides events: a checkpoint record and the partitions it names
/// (the content hash of each encoded partition, and its stored bytes: [`pack_partition`]).
pub struct CheckpointWrite {
    pub seq: u64,
    pub record: Vec<u8>,
    pub partitions: Vec<(Hash, Vec<u8>)>,
}

/// Which of the store's indexes on disk.
#[derive(Clone, Copy)]
enum Which {
    Ids,
    Listings,
}

impl Which {
    /// Its directory, and whether every event has an entry.
    fn dir(self) -> (&'static str, bool) {
        match self {
            Which::Ids => (ids::IDS_DIR, true),
            Which::Listings => (ids::LISTINGS_DIR, false),
        }
    }
}

impl Which {
    /// The key `event` has in this index: its id's, or, for an event that lists a project
    /// or defines an indicator, the project's or indicator's (others have none there).
    fn key(self, event: &Event) -> Option<u32> {
        match (self, &event.payload) {
            (Which::Ids, _) => Some(ids::key_of(&event.id)),
            (Which::Listings, Payload::ProjectListed(p)) => Some(ids::listing_key(b'P', &p.project)),
            (Which::Listings, Payload::IndicatorDefined(i)) => Some(ids::listing_key(b'I', &i.indicator)),
            (Which::Listings, _) => None,
        }
    }
}

fn key_seq(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if key.len() == 9 {
        b.copy_from_slice(&key[1..]);
    }
    u64::from_be_bytes(b)
}

fn corrupt(seq: u64, e: CodecError) -> Error {
    Error::corrupt(seq, e.to_msg())
}

/// Reads a chunk from the log through its sled index entry (a [`Location`]).
fn read_chunk(segments: &Segments, first: u64, index: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let at = Location::decode(index).ok_or_else(|| Error::corrupt(first, msg!("store.index_entry_damaged")))?;
    if at.len as usize > codec::CHUNK_BODY_MAX + codec::CHUNK_HEADER_LEN {
        return Err(Error::corrupt(first, msg!("store.index_entry_claims", bytes = at.len)));
    }
    segments.read_into(at, out)
}

/// Reads the chunk starting at `first` through its index entry into `packed`, and its
/// checked, decompressed body into `body`: what every chunk walk does first.
fn open_indexed_chunk(
    segments: &Segments,
    first: u64,
    index: &[u8],
    packed: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<codec::ChunkHeader> {
    read_chunk(segments, first, index, packed)?;
    codec::open_chunk_into(packed, body).map_err(|e| corrupt(first, e))
}

/// The chunk walks' two checks of the index against the log: contiguous chunks, and chunks
/// up to the head.
fn log_jumps(expected: u64, first: u64) -> Error {
    Error::corrupt(expected, msg!("store.log_jumps", first = first))
}

fn log_ends_early(expected: u64, end_seq: u64) -> Error {
    Error::corrupt(expected, msg!("store.log_ends_early", events = end_seq - 1))
}

fn decode_at(bytes: &[u8], seq: u64) -> Result<Event> {
    let event = codec::decode_event(bytes).map_err(|e| corrupt(seq, e))?;
    if event.seq != seq {
        return Err(Error::corrupt(seq, msg!("store.event_records_seq", found = event.seq)));
    }
    Ok(event)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`, taking an exclusive lock on it.
    pub fn open(dir: &Path) -> Result<EmbeddedStore> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(msg!("store.creating_store", dir = dir.display()), e))?;
        let lock = lock_store(dir)?;
        // sled writes as it opens: on a full disk it would leave its files half written.
        check_room(dir, 0)?;
        EmbeddedStore::open_at(dir, dir, Some(lock), None)
    }

    /// Opens the existing store in `dir` for reading, changing nothing in it: sled (which
    /// writes as it opens) runs on a scratch copy of its files in the temporary directory,
    /// the log segments are read where they are (a torn tail is left uncut), no file is made,
    /// and every commit is refused. Where the store's `LOCK` can be opened, a shared lock
    /// keeps a writer out meanwhile; on read-only media there is none to take.
    pub fn open_read_only(dir: &Path) -> Result<EmbeddedStore> {
        if !dir.join("db").exists() {
            return Err(Error::NoStore(dir.to_path_buf()));
        }
        let lock = match File::open(dir.join("LOCK")) {
            Ok(f) => match f.try_lock_shared() {
                Ok(()) => Some(f),
                Err(std::fs::TryLockError::WouldBlock) => return Err(Error::StoreInUse(dir.to_path_buf())),
                Err(std::fs::TryLockError::Error(_)) => None,
            },
            Err(_) => None,
        };
        let scratch = tempfile::Builder::new()
            .prefix("planledger-read-")
            .tempdir()
            .map_err(|e| Error::io(msg!("store.making_scratch"), e))?;
        copy_index(dir, scratch.path())?;
        let index_dir = scratch.path().to_path_buf();
        EmbeddedStore::open_at(dir, &index_dir, lock, Some(scratch))
    }

    fn open_at(
        dir: &Path,
        index_dir: &Path,
        lock: Option<File>,
        scratch: Option<tempfile::TempDir>,
    ) -> Result<EmbeddedStore> {
        let read_only = scratch.is_some();
        // An index that does not open is named by the store it belongs to.
        let named = |e: Error| e.at(dir.display().to_string());
        let db = open_sled(index_dir).map_err(named)?;
        let tree = db.open_tree(TREE).map_err(sled_error).map_err(named)?;
        let db_path = index_dir.join("db");
        let db_file = File::open(&db_path).map_err(|e| Error::io(msg!("io.opening", path = db_path.display()), e))?;
        let created = match tree.get(KEY_FORMAT).map_err(sled_error)? {
            None => {
                tree.insert(KEY_FORMAT, &STORE_FORMAT.to_le_bytes()).map_err(sled_error)?;
                true
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_le_bytes)
                    .map_err(|_| Error::corrupt(0, msg!("store.format_record_damaged")))?;
                if found > STORE_FORMAT {
                    return Err(Error::FormatTooNew { dir: dir.to_path_buf(), found, supported: STORE_FORMAT });
                }
                if found < STORE_FORMAT {
                    return Err(Error::FormatTooOld { dir: dir.to_path_buf(), found, supported: STORE_FORMAT });
                }
                false
            }
        };
        let replay_from = match tree.get(KEY_LOG_APPLIED).map_err(sled_error)? {
            None => Position::START,
            Some(v) => Position::decode(&v).ok_or_else(|| Error::corrupt(0, msg!("store.position_record_damaged")))?,
        };
        let (wal, journal) =
            if read_only { Wal::open_read_only(dir, replay_from)? } else { Wal::open(dir, replay_from)? };
        let segments = Arc::clone(wal.segments());
        let mut store = EmbeddedStore {
            dir: dir.to_path_buf(),
            db,
            tree,
            head: RwLock::new(Head::default()),
            writer: Mutex::new(Writer {
                wal,
                db_file,
                synced_blobs: HashSet::new(),
                applied: replay_from,
                segment_bytes_max: SEGMENT_BYTES_MAX,
                poisoned: false,
            }),
            segments,
            chunk_cache: Mutex::new(VecDeque::new()),
            warnings: Mutex::new(Vec::new()),
            index_dir: index_dir.to_path_buf(),
            read_only,
            ids: Mutex::new(None),
            listings: Mutex::new(None),
            _lock: lock,
            _scratch: scratch,
        };
        if created && read_only {
            return Err(Error::NoStore(dir.to_path_buf()));
        }
        if created {
            store.sync(locked(&store.writer).deref_mut())?;
            sync_dir(dir)?;
        }
        let partitions = dir.join(PARTITIONS_DIR);
        if !partitions.exists() && !read_only {
            std::fs::create_dir_all(&partitions)
                .map_err(|e| Error::io(msg!("io.creating", path = partitions.display()), e))?;
            sync_dir(dir)?;
        }
        store.load_head()?;
        store.replay_journal(journal)?;
        store.load_head()?;
        Ok(store)
    }

    /// The plans listing `project`, through the listings index.
    pub fn plans_listing(&self, project: &str) -> Result<Option<Vec<String>>> {
        self.listed(b'P', project)
    }

    /// The plans defining `indicator`, through the listings index.
    pub fn plans_defining(&self, indicator: &str) -> Result<Option<Vec<String>>> {
        self.listed(b'I', indicator)
    }

    /// The plans of the events that list `id` (`kind` b'P': a project, b'I': an indicator),
    /// each candidate checked against its event.
    fn listed(&self, kind: u8, id: &str) -> Result<Option<Vec<String>>> {
        let candidates = self.candidates(Which::Listings, ids::listing_key(kind, id))?;
        let mut plans: Vec<String> = Vec::new();
        for seq in candidates {
            let Some(event) = self.get_event(seq)? else { continue };
            let plan = match (&event.payload, kind) {
                (Payload::ProjectListed(p), b'P') if p.project == id => &p.plan,
                (Payload::IndicatorDefined(i), b'I') if i.indicator == id => &i.plan,
                _ => continue,
            };
            if !plans.contains(plan) {
                plans.push(plan.clone());
            }
        }
        plans.sort();
        Ok(Some(plans))
    }

    fn index_of(&self, which: Which) -> &Mutex<Option<SeqIndex>> {
        match which {
            Which::Ids => &self.ids,
            Which::Listings => &self.listings,
        }
    }

    /// Opens index `which` as its files stand (`writable`: it may write runs and remove
    /// what does not fit the chain).
    fn open_index(&self, which: Which, writable: bool) -> Result<SeqIndex> {
        let warn = |m| self.warn(m);
        let (name, dense) = which.dir();
        SeqIndex::open(&self.dir, name, dense, self.next_seq() - 1, writable, &warn)
    }

    /// The index in `slot`, opened into it first if need be.
    fn opened<'s>(&self, which: Which, slot: &'s mut Option<SeqIndex>) -> Result<&'s mut SeqIndex> {
        if slot.is_none() {
            *slot = Some(self.open_index(which, !self.read_only)?);
        }
        // Filled just above when it was empty.
        Ok(slot.get_or_insert_with(|| unreachable!("the index was opened above")))
    }

    /// Runs `f` on one of the store's indexes, opening it first if need be and feeding it
    /// the log's events it does not hold yet (up to the head as it is now).
    fn with_index<R>(&self, which: Which, f: impl FnOnce(&mut SeqIndex) -> Result<R>) -> Result<R> {
        let mut guard = locked(self.index_of(which));
        let index = self.opened(which, &mut guard)?;
        self.feed(which, index)?;
        f(index)
    }

    /// Runs `f` on an index's runs, without reading the log's events after them (a store
    /// an older build wrote has no runs, and `verify` keeps its memory flat).
    fn with_runs<R>(&self, which: Which, f: impl FnOnce(&SeqIndex) -> Result<R>) -> Result<R> {
        let guard = locked(self.index_of(which));
        match guard.as_ref() {
            Some(index) => f(index),
            None => f(&self.open_index(which, false)?),
        }
    }

    /// Feeds `index` the log's events after what it holds, up to the head.
    fn feed(&self, which: Which, index: &mut SeqIndex) -> Result<()> {
        let from = index.through() + 1;
        if from >= self.next_seq() {
            return Ok(());
        }
        match which {
            Which::Ids => self.ids_from(from, &mut |id, seq| index.push(seq, Some(ids::key_of(&id)))),
            Which::Listings => self.fold_events(from, |event: &Event| {
                index.push(event.seq, which.key(event))?;
                Ok(true)
            }),
        }
    }

    /// Candidate seqs for `key` in an index; a damaged run is set aside (with a warning)
    /// and its events read from the log again.
    fn candidates(&self, which: Which, key: u32) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.with_index(which, |index| loop {
            out.clear();
            match index.candidates(key, &mut out) {
                Ok(()) => return Ok(()),
                Err(damaged) => {
                    self.warn(index.set_aside_from(&damaged));
                    self.feed(which, index)?;
                }
            }
        })?;
        Ok(out)
    }

    /// Checks the derived indexes against the log's first `through` events (for `verify`):
    /// every run of the id index holds exactly the ids of its events, and every run of the
    /// listings index exactly the events of its seqs that list a project or define an
    /// indicator. One fold of the log, in constant memory. `None` if they hold.
    pub fn check_indexes(&self, through: u64) -> Result<Option<crate::Msg>> {
        // (first, last, count, digest) of the log's entries over each run's seqs.
        let ranges = |which| -> Result<Vec<(u64, u64, u64, u64)>> {
            self.with_runs(which, |index| Ok(index.run_ranges().iter().map(|&(f, l)| (f, l, 0, 0)).collect()))
        };
        let (mut id_sums, mut listing_sums) = (ranges(Which::Ids)?, ranges(Which::Listings)?);
        let (ids, listings) = (&mut id_sums, &mut listing_sums);
        let mut at = [0usize; 2];
        self.fold_events(1, |event: &Event| {
            if event.seq > through {
                return Ok(false);
            }
            let keys = [Which::Ids.key(event), Which::Listings.key(event)];
            for (i, sums) in [&mut *ids, &mut *listings].into_iter().enumerate() {
                while sums.get(at[i]).is_some_and(|r| r.1 < event.seq) {
                    at[i] += 1;
                }
                if let (Some(r), Some(key)) = (sums.get_mut(at[i]).filter(|r| r.0 <= event.seq), keys[i]) {
                    r.2 += 1;
                    r.3 = r.3.wrapping_add(ids::entry_digest(key, event.seq));
                }
            }
            Ok(true)
        })?;
        for (which, sums) in [(Which::Ids, &*ids), (Which::Listings, &*listings)] {
            let problem = self.with_runs(which, |index| {
                let now = index.run_ranges();
                for (i, &(first, last, count, sum)) in sums.iter().enumerate() {
                    // A commit meanwhile may have merged runs: those gone are not compared.
                    if last > through || now.get(i) != Some(&(first, last)) {
                        continue;
                    }
                    match index.run_digest(i) {
                        Ok(held) if held == (count, sum) => {}
                        Ok(_) => {
                            return Ok(Some(msg!(
                                "store.index_run_differs",
                                path = which.dir().0,
                                first = first,
                                last = last
                            )))
                        }
                        Err(damaged) => return Ok(Some(damaged.error.to_msg())),
                    }
                }
                Ok(None)
            })?;
            if problem.is_some() {
                return Ok(problem);
            }
        }
        Ok(None)
    }

    /// The seq of the event with `id`, through the id index: `None` if no event has it.
    pub fn seq_of_id(&self, id: &Uuid) -> Result<Option<u64>> {
        for seq in self.candidates(Which::Ids, ids::key_of(id))? {
            if let Some((bytes, _)) = self.record(seq)? {
                if codec::event_id(&bytes).map_err(|e| corrupt(seq, e))? == *id {
                    return Ok(Some(seq));
                }
            }
        }
        Ok(None)
    }

    fn load_head(&mut self) -> Result<()> {
        if let Some(h) = self.tree.get(KEY_HEAD).map_err(sled_error)? {
            *self.head.get_mut().unwrap_or_else(|p| p.into_inner()) =
                codec::decode_record(&h).map_err(|e| corrupt(0, e))?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head as of now (a commit on another thread may move it on).
    pub fn head(&self) -> Head {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Seq the next event gets (cheaper than `head()`, which copies the Merkle frontier).
    /// The head with no commit in progress: index and head agree up to it. It waits for a
    /// commit under way (one fsync at most); reads that check the index against the head
    /// (`verify`) start from it.
    pub fn settled_head(&self) -> Head {
        let _no_commit = locked(&self.writer);
        self.head()
    }

    pub fn next_seq(&self) -> u64 {
        self.head.read().unwrap_or_else(|p| p.into_inner()).next_seq
    }

    /// Appends `events` (already numbered from `head.next_seq`) atomically and durably: when
    /// this returns `Ok`, every event is on disk and survives a crash or power loss.
    pub fn commit(&self, events: &[Event], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        self.commit_batches(&[events], checkpoint)
    }

    /// Refuses every later commit until the store is reopened (which reads the log back):
    /// for a commit that stopped halfway in a way `commit` could not see (a panic).
    pub fn poison(&self) {
        locked(&self.writer).poisoned = true;
    }

    /// As `commit`, for batches that follow one another (the writer thread's queue): one
    /// log record and one fsync for all, atomic together. A checkpoint covers the last.
    pub fn commit_batches(&self, batches: &[&[Event]], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        let total: usize = batches.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(());
        }
        let events = batches.iter().flat_map(|b| b.iter());
        let mut writer = locked(&self.writer);
        let w = writer.deref_mut();
        if w.poisoned {
            return Err(Error::io(
                msg!("store.commit"),
                std::io::Error::other("an earlier commit failed halfway; reopen the store to recover it"),
            ));
        }
        assert!(total <= BATCH_EVENTS_MAX, "batch of {total} events over BATCH_EVENTS_MAX");
        let base = self.head();
        let mut items: Items = Vec::new();
        let mut hash = base.last_hash;
        let mut chunk = ChunkWriter::new(hash);
        let mut chunk_first = base.next_seq;
        let mut last_recorded_at = base.last_recorded_at;
        let mut tree = base.merkle;
        for (i, event) in events.enumerate() {
            // Invariants of the log, checked on every write: gap-free seqs, time never goes back.
            assert_eq!(event.seq, base.next_seq + i as u64, "seq gap in commit");
            assert!(event.recorded_at >= last_recorded_at, "recorded_at went backwards at seq {}", event.seq);
            last_recorded_at = event.recorded_at;
            hash = chunk.push(event, &hash);
            tree.push(merkle::leaf_hash(chunk.last_event_bytes()));
            if chunk.len_bytes() >= CHUNK_BYTES_MAX {
                let full = std::mem::replace(&mut chunk, ChunkWriter::new(hash));
                items.push((chunk_key(chunk_first).to_vec(), full.finish()));
                chunk_first = event.seq + 1;
            }
        }
        if chunk.count() > 0 {
            items.push((chunk_key(chunk_first).to_vec(), chunk.finish()));
        }
        let head = Head { next_seq: base.next_seq + total as u64, last_hash: hash, last_recorded_at, merkle: tree };
        items.push((KEY_HEAD.to_vec(), codec::encode_record(&head)));
        if let Some(cp) = checkpoint {
            assert_eq!(cp.seq, head.next_seq - 1, "a checkpoint covers exactly the committed log");
            let mut wrote = false;
            let record_hash = crate::checkpoint::hash_of(&cp.record);
            let record_file = (record_hash, pack_partition(&cp.record));
            for (hash, bytes) in cp.partitions.into_iter().chain(std::iter::once(record_file)) {
                // Content-addressed: an unchanged plan is stored once for every checkpoint.
                let path = self.partition_path(&hash);
                if !path.exists() {
                    write_durably(&path, &bytes)?;
                    wrote = true;
                }
            }
            if wrote {
                sync_dir(&self.dir.join(PARTITIONS_DIR))?;
            }
            items.push((checkpoint_key(cp.seq).to_vec(), record_ref(&record_hash)));
        }
        // Durable once in the log; then visible in sled, which indexes each chunk by where
        // it lies in the log instead of holding its bytes.
        self.log_and_index(w, items)?;
        *self.head.write().unwrap_or_else(|p| p.into_inner()) = head;
        if w.wal.segment_len() >= w.segment_bytes_max {
            self.sync_to_log_end(w)?;
            w.wal.rotate()?;
        }
        self.index_ids(batches)
    }

    /// Adds a durable commit's events to the indexes on disk (opening them, and catching
    /// them up from the log, on the first commit). The commit stands whatever happens here:
    /// a run that cannot be written is derived data, read from the log again by the next
    /// process.
    fn index_ids(&self, batches: &[&[Event]]) -> Result<()> {
        let first = batches.iter().find_map(|b| b.first()).map_or(0, |e| e.seq);
        for which in [Which::Ids, Which::Listings] {
            let indexed = (|| {
                let mut guard = locked(self.index_of(which));
                let index = self.opened(which, &mut guard)?;
                // Only an index that lags behind this commit reads the log (which holds the
                // commit by now); one that is up to date takes its events as they are.
                if index.through() + 1 < first {
                    self.feed(which, index)?;
                }
                for event in batches.iter().flat_map(|b| b.iter()) {
                    // The catch-up above may have read this commit from the log already.
                    if event.seq == index.through() + 1 {
                        index.push(event.seq, which.key(event))?;
                    }
                }
                Ok::<(), Error>(())
            })();
            if let Err(e) = indexed {
                // Opened again, and caught up from the log, on next need.
                *locked(self.index_of(which)) = None;
                self.warn(msg!("ids.not_written", error = e.to_msg()));
            }
        }
        Ok(())
    }

    /// Appends one record to the log (durable on return), then indexes it in sled. After a
    /// failure of either the store is poisoned: the record may be in the segment whole, in
    /// part or not at all, and only a reopen (which reads the segment back) knows.
    fn log_and_index(&self, w: &mut Writer, items: Items) -> Result<()> {
        if self.read_only {
            return Err(Error::invalid(msg!("store.read_only", dir = self.dir.display())));
        }
        // Refused before anything is written: nothing to poison.
        check_room(&self.dir, items.iter().map(|(k, v)| (k.len() + v.len() + 8) as u64).sum())?;
        let values = match w.wal.append(&items) {
            Ok(v) => v,
            Err(e) => {
                w.poisoned = true;
                return Err(e);
            }
        };
        if let Err(e) = self.index(items, &values) {
            w.poisoned = true;
            return Err(e);
        }
        Ok(())
    }

    /// Applies one log record to sled: chunks become their location, the rest as is, key by
    /// key in the record's order (chunks, head, checkpoint). Not one `apply_batch`: sled
    /// 0.34's batch seals and writes its IO buffer on every call (a device write and a
    /// thread hand-off per commit: 80-140 µs against ~17 µs for the inserts, measured in
    /// `examples/group_profile`), and the atomicity it buys is already the log's: readers see
    /// the record only once the head in memory moves past it, and after a crash
    /// `replay_journal` applies it again whole.
    fn index(&self, items: Items, values: &[Location]) -> Result<()> {
        for ((k, v), at) in items.into_iter().zip(values) {
            if k.first() == Some(&PREFIX_CHUNK) {
                self.tree.insert(k, &at.encode()[..]).map_err(sled_error)?;
            } else {
                self.tree.insert(k, v).map_err(sled_error)?;
            }
        }
        Ok(())
    }

    /// Applies again the log's records after the position sled durably holds, then makes
    /// sled durable up to the end of the log. sled may hold any part of those records (it
    /// writes its buffers as they fill, and a record's keys are separate inserts), so each is
    /// applied whole again: the same keys get the same values.
    fn replay_journal(&mut self, journal: Vec<Replayed>) -> Result<()> {
        if journal.is_empty() {
            return Ok(());
        }
        let mut next_seq = 0;
        for record in journal {
            let head: Head = record
                .items
                .iter()
                .find(|(k, _)| k.as_slice() == KEY_HEAD)
                .map(|(_, v)| codec::decode_record(v))
                .transpose()
                .map_err(|e| corrupt(0, e))?
                .ok_or_else(|| Error::corrupt(0, msg!("store.record_without_head")))?;
            if head.next_seq <= next_seq {
                return Err(Error::corrupt(head.next_seq, msg!("store.record_out_of_order")));
            }
            next_seq = head.next_seq;
            self.index(record.items, &record.values)?;
        }
        self.sync_to_log_end(locked(&self.writer).deref_mut())
    }

    /// Makes sled durable together with the log position it now holds everything before, so
    /// the next open replays nothing older.
    fn sync_to_log_end(&self, w: &mut Writer) -> Result<()> {
        let at = w.wal.position();
        self.tree.insert(KEY_LOG_APPLIED, &at.encode()[..]).map_err(sled_error)?;
        self.sync(w)?;
        w.applied = at;
        Ok(())
    }

    /// Makes sled's files durable. sled's `flush()` writes its buffers and ends in
    /// `sync_file_range`, which neither flushes the device cache nor file metadata, so we
    /// follow it with `fdatasync` on sled's log file, and `fsync` on each blob file sled wrote
    /// since the last sync (sled writes large values to separate files and never syncs them).
    fn sync(&self, w: &mut Writer) -> Result<()> {
        self.db.flush().map_err(sled_error)?;
        w.db_file.sync_data().map_err(|e| Error::io(msg!("store.fsync_index_log"), e))?;
        let blobs = self.index_dir.join("blobs");
        let mut new_blobs = false;
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if w.synced_blobs.contains(&name) {
                    continue;
                }
                // A blob sled removed meanwhile needs no sync.
                if let Ok(f) = File::open(entry.path()) {
                    f.sync_all().map_err(|e| Error::io(msg!("io.fsync", path = entry.path().display()), e))?;
                }
                w.synced_blobs.insert(name);
                new_blobs = true;
            }
        }
        if new_blobs {
            sync_dir(&blobs)?;
        }
        Ok(())
    }

    /// The decompressed chunk holding `seq` and its first seq, through the chunk cache.
    fn chunk_of(&self, seq: u64) -> Result<Option<(u64, Arc<Chunk>)>> {
        if seq == 0 || seq >= self.next_seq() {
            return Ok(None);
        }
        // Looked up in the cache by the seqs each chunk covers first: chunks are never
        // rewritten, and a sled range query costs more than deciding a correction does.
        if let Some(hit) = self.cached_chunk(seq) {
            return Ok(Some(hit));
        }
        let Some(found) = self.tree.range(chunk_key(0)..=chunk_key(seq)).next_back() else {
            return Ok(None);
        };
        let (key, index) = found.map_err(sled_error)?;
        let first = key_seq(&key);
        let mut bytes = Vec::new();
        read_chunk(&self.segments, first, &index, &mut bytes)?;
        let chunk = Arc::new(codec::open_chunk(&bytes).map_err(|e| corrupt(first, e))?);
        let mut cache = locked(&self.chunk_cache);
        if cache.len() >= CHUNK_CACHE_MAX {
            cache.pop_front();
        }
        cache.push_back((first, Arc::clone(&chunk)));
        Ok(Some((first, chunk)))
    }

    /// The cached chunk holding `seq`, made the most recent.
    fn cached_chunk(&self, seq: u64) -> Option<(u64, Arc<Chunk>)> {
        let mut cache = locked(&self.chunk_cache);
        let at = cache.iter().position(|(first, c)| *first <= seq && seq - first < u64::from(c.header.count))?;
        let hit = cache.remove(at)?;
        cache.push_back(hit.clone());
        Some(hit)
    }

    /// The stored bytes and full chain hash of event `seq`, if the log has it: the hash is
    /// recomputed from its chunk's `prev_hash` and checked against the stored prefixes.
    pub fn record(&self, seq: u64) -> Result<Option<(Vec<u8>, Hash)>> {
        let Some((first, chunk)) = self.chunk_of(seq)? else { return Ok(None) };
        let index = (seq - first) as usize;
        match chunk.record_with_hash(index) {
            Ok(Some((r, hash))) => Ok(Some((r.bytes.to_vec(), hash))),
            Ok(None) => Err(Error::corrupt(seq, msg!("store.missing_from_chunk"))),
            Err(CodecError::HashMismatch(i)) => Err(corrupt(first + i as u64, CodecError::HashMismatch(i))),
            Err(e) => Err(corrupt(first, e)),
        }
    }

    /// The event at `seq` with its chain hash, if the log has it.
    pub fn get(&self, seq: u64) -> Result<Option<Stored>> {
        let Some((bytes, hash)) = self.record(seq)? else { return Ok(None) };
        let event = decode_at(&bytes, seq)?;
        Ok(Some(Stored { event, hash }))
    }

    /// The event at `seq`, if the log has it, without recomputing its hash: what `decide`
    /// reads to amend an earlier event.
    pub fn get_event(&self, seq: u64) -> Result<Option<Event>> {
        let Some((first, chunk)) = self.chunk_of(seq)? else { return Ok(None) };
        let mut rest = &chunk.body[..];
        for _ in first..seq {
            rest = codec::next_record(rest).map_err(|e| corrupt(first, e))?.1;
        }
        let (r, _) = codec::next_record(rest).map_err(|e| corrupt(seq, e))?;
        decode_at(r.bytes, seq).map(Some)
    }

    /// Events from `from_seq` (inclusive) to the head, in order, with their chain hashes,
    /// decoded lazily chunk by chunk.
    pub fn scan(&self, from_seq: u64) -> Scan {
        self.scan_with(from_seq, true)
    }

    /// Calls `f` with each event from `from_seq` to the head, in order, until it returns
    /// false: a fold. Chunks are read and decoded by `FOLD_LANES` threads, chunk `j` by lane
    /// `j % FOLD_LANES`, while `f` runs on this thread taking them in turn: a replay is about
    /// three parts decoding to one part folding, so the decoding is what is split. Each lane
    /// runs at most `FOLD_CHUNKS_AHEAD` chunks ahead, so memory stays flat. The log's
    /// invariants are checked as a scan checks them (chunks contiguous, no trailing bytes,
    /// nothing missing before the head). An error stops the fold and is returned.
    pub fn fold_events(&self, from_seq: u64, mut f: impl FnMut(&Event) -> Result<bool>) -> Result<()> {
        let from_seq = from_seq.max(1);
        let end_seq = self.next_seq();
        if from_seq >= end_seq {
            return Ok(());
        }
        let start = self.chunk_start(from_seq);
        std::thread::scope(|scope| {
            let lanes: Vec<_> = (0..FOLD_LANES)
                .map(|lane| {
                    let (chunks, decoded) = std::sync::mpsc::sync_channel(FOLD_CHUNKS_AHEAD);
                    let (give_back, spent) = std::sync::mpsc::sync_channel(FOLD_CHUNKS_AHEAD);
                    scope.spawn(move || self.decode_lane(start, from_seq, end_seq, lane, chunks, spent));
                    (decoded, give_back)
                })
                .collect();
            let mut expect = start;
            for (decoded, give_back) in lanes.iter().cycle() {
                // A lane that has no more chunks has closed its channel.
                let Ok(chunk) = decoded.recv() else { break };
                let (first, count, events) = chunk?;
                if first != expect {
                    return Err(log_jumps(expect, first));
                }
                expect = first + count;
                for event in &events {
                    if !f(event)? {
                        return Ok(());
                    }
                }
                // Freed where they were allocated: a free from another thread costs mimalloc
                // atomics (a sixth of this thread's time in `perf`). If the lane is gone or
                // behind, here.
                let _ = give_back.try_send(events);
            }
            if expect < end_seq {
                return Err(log_ends_early(expect, end_seq));
            }
            Ok(())
        })
    }

    /// One lane of `fold_events`: decodes every `FOLD_LANES`-th chunk from `start` (those
    /// before `end_seq`), sending `(first seq, records, events from from_seq)` per chunk.
    fn decode_lane(
        &self,
        start: u64,
        from_seq: u64,
        end_seq: u64,
        lane: usize,
        out: std::sync::mpsc::SyncSender<Result<(u64, u64, Vec<Event>)>>,
        spent: std::sync::mpsc::Receiver<Vec<Event>>,
    ) {
        let (mut packed, mut body) = (Vec::new(), Vec::new());
        let chunks = self.tree.range(chunk_key(start)..=chunk_key(u64::MAX));
        for entry in chunks.skip(lane).step_by(FOLD_LANES) {
            let decoded = (|| {
                let (key, index) = entry.map_err(sled_error)?;
                let first = key_seq(&key);
                if first >= end_seq {
                    // Committed after the fold began.
                    return Ok(None);
                }
                let header = open_indexed_chunk(&self.segments, first, &index, &mut packed, &mut body)?;
                let count = u64::from(header.count);
                // The folded events of an earlier chunk, dropped here; their buffer reused.
                let mut events = spent.try_recv().unwrap_or_default();
                while let Ok(more) = spent.try_recv() {
                    drop(more);
                }
                events.clear();
                events.reserve(header.count as usize);
                let mut rest = &body[..];
                for seq in first..first + count {
                    let (record, more) = codec::next_record(rest).map_err(|e| corrupt(seq, e))?;
                    if seq >= from_seq {
                        events.push(decode_at(record.bytes, seq)?);
                    }
                    rest = more;
                }
                if !rest.is_empty() {
                    return Err(corrupt(
                        first + count,
                        CodecError::Bincode("trailing bytes after the last record".into()),
                    ));
                }
                Ok(Some((first, count, events)))
            })();
            match decoded {
                Ok(Some(chunk)) => {
                    // The fold stopped early: stop reading.
                    if out.send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = out.send(Err(e));
                    return;
                }
            }
        }
    }

    /// First seq of the chunk holding `seq` (the last chunk key at or before it).
    fn chunk_start(&self, seq: u64) -> u64 {
        self.tree
            .range(chunk_key(0)..=chunk_key(seq))
            .next_back()
            .and_then(|r| r.ok())
            .map(|(k, _)| key_seq(&k))
            .unwrap_or(1)
    }

    /// Events from `from_seq` to the head without their hashes: what folds read.
    pub fn events(&self, from_seq: u64) -> impl Iterator<Item = Result<Event>> {
        self.scan_with(from_seq, false).map(|r| r.map(|s| s.event))
    }

    fn scan_with(&self, from_seq: u64, hashes: bool) -> Scan {
        let from_seq = from_seq.max(1);
        // Start at the chunk holding `from_seq`.
        let start = self.chunk_start(from_seq);
        Scan {
            chunks: self.tree.range(chunk_key(start)..=chunk_key(u64::MAX)),
            segments: Arc::clone(&self.segments),
            packed: Vec::new(),
            body: Vec::new(),
            at: 0,
            seq: start,
            chunk_end: start,
            hash: [0; 32],
            hashes,
            from_seq,
            expect_seq: start,
            end_seq: self.next_seq(),
            failed: false,
        }
    }

    /// Raw chunks from the start of the log: `(first seq, chunk bytes)`. For verification,
    /// so not bounded by the head (a chunk beyond it is damage to report, once no commit is
    /// under way: `settled_head`); a commit's keys go in one by one, so a chunk beyond the
    /// head may be a commit in progress.
    pub fn raw_chunks(&self) -> impl Iterator<Item = Result<(u64, Vec<u8>)>> + '_ {
        self.tree.range(chunk_key(0)..=chunk_key(u64::MAX)).map(|r| {
            let (k, index) = r.map_err(sled_error)?;
            let first = key_seq(&k);
            let mut bytes = Vec::new();
            read_chunk(&self.segments, first, &index, &mut bytes)?;
            Ok((first, bytes))
        })
    }

    #[cfg(feature = "test-hooks")]
    /// Closes segments at `bytes` instead of `SEGMENT_BYTES_MAX`: for tests of rotation.
    #[doc(hidden)]
    pub fn set_segment_bytes_max(&self, bytes: u64) {
        locked(&self.writer).segment_bytes_max = bytes;
    }

    /// Where the next commit's record goes in the log.
    pub fn log_position(&self) -> Position {
        locked(&self.writer).wal.position()
    }

    #[cfg(feature = "test-hooks")]
    /// Replaces the stored bytes of the chunk starting at `first_seq`, as someone rewriting
    /// the store's files would: for tests of what `verify` and proofs catch.
    #[doc(hidden)]
    pub fn tamper_chunk(&self, first_seq: u64, bytes: Vec<u8>) -> Result<()> {
        let head = codec::encode_record(&self.head());
        let mut writer = locked(&self.writer);
        let w = writer.deref_mut();
        self.log_and_index(w, vec![(chunk_key(first_seq).to_vec(), bytes), (KEY_HEAD.to_vec(), head)])?;
        locked(&self.chunk_cache).clear();
        self.sync_to_log_end(w)
    }

    /// The latest checkpoint record at or before `seq`: `(its seq, record bytes)`.
    pub fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>> {
        match self.tree.range(checkpoint_key(0)..=checkpoint_key(seq)).next_back() {
            Some(r) => {
                let (k, v) = r.map_err(sled_error)?;
                Ok(Some((key_seq(&k), self.record_of(v)?)))
            }
            None => Ok(None),
        }
    }

    /// Every checkpoint record, in seq order.
    pub fn checkpoints(&self) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + '_ {
        self.tree
            .range(checkpoint_key(0)..=checkpoint_key(u64::MAX))
            .map(|r| r.map_err(sled_error).and_then(|(k, v)| Ok((key_seq(&k), self.record_of(v)?))))
    }

    /// A checkpoint's record from its key's value: read from the file the value names (its
    /// hash checked), or the value itself as an older build stored it. A record file that is
    /// missing or altered gives the value as it is (`record_file_of` names the file), which
    /// readers take for a damaged checkpoint: passed over, named by `verify`, dropped by
    /// `repair`.
    fn record_of(&self, value: sled::IVec) -> Result<sled::IVec> {
        let Some(hash) = record_file_of(&value) else { return Ok(value) };
        Ok(match self.partition(&hash)? {
            Some(bytes) if crate::checkpoint::hash_of(&bytes) == hash => bytes.into(),
            _ => value,
        })
    }

    /// A checkpoint partition by its hash, decompressed. Bytes that do not decompress are
    /// returned as stored: they cannot hash to their key, so every caller reports them altered.
    pub fn partition(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        let path = self.partition_path(hash);
        let stored = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(msg!("io.reading", path = path.display()), e)),
        };
        Ok(Some(unpack_partition(stored)))
    }

    /// Drops the checkpoint record at `seq` from the index (for `repair`, when its partitions
    /// are damaged): checkpoints are derived, reads fold from an earlier one or the log.
    pub fn forget_checkpoint(&self, seq: u64) -> Result<()> {
        let mut w = locked(&self.writer);
        self.tree.remove(checkpoint_key(seq)).map_err(sled_error)?;
        self.sync(w.deref_mut())
    }

    /// Where the partition with this content hash is (or would be) stored.
    pub fn partition_path(&self, hash: &Hash) -> PathBuf {
        self.dir.join(PARTITIONS_DIR).join(codec::hex(hash))
    }

    /// Every (id, seq) of the log, read from the head of each encoded event, in log order.
    pub fn for_each_id(&self, mut f: impl FnMut(Uuid, u64)) -> Result<()> {
        self.ids_from(1, &mut |id, seq| {
            f(id, seq);
            Ok(())
        })
    }

    /// The (id, seq) of every event from `from_seq` up to the head, in log order.
    fn ids_from(&self, from_seq: u64, f: &mut dyn FnMut(Uuid, u64) -> Result<()>) -> Result<()> {
        let end_seq = self.next_seq();
        let (mut packed, mut body) = (Vec::new(), Vec::new());
        let start = self.chunk_start(from_seq.max(1));
        let mut expect = start;
        for r in self.tree.range(chunk_key(start)..=chunk_key(u64::MAX)) {
            let (k, index) = r.map_err(sled_error)?;
            let first = key_seq(&k);
            if first >= end_seq {
                // A commit under way: not durable yet.
                break;
            }
            if first != expect {
                return Err(log_jumps(expect, first));
            }
            let header = open_indexed_chunk(&self.segments, first, &index, &mut packed, &mut body)?;
            expect = first + u64::from(header.count);
            let mut rest = &body[..];
            for i in 0..u64::from(header.count) {
                let (record, more) = codec::next_record(rest).map_err(|e| corrupt(first + i, e))?;
                let seq = first + i;
                if seq >= from_seq && seq < end_seq {
                    f(codec::event_id(record.bytes).map_err(|e| corrupt(seq, e))?, seq)?;
                }
                rest = more;
            }
        }
        if expect < end_seq {
            return Err(log_ends_early(expect, end_seq));
        }
        Ok(())
    }

    /// Bytes the store occupies on disk (sled's files, the log, the partitions).
    pub fn disk_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }

    #[cfg(feature = "test-hooks")]
    /// Replaces the checkpoint record at `seq` (a test writes one as an older build would).
    #[doc(hidden)]
    pub fn replace_checkpoint_record(&self, seq: u64, bytes: &[u8]) -> Result<()> {
        let mut w = locked(&self.writer);
        self.tree.insert(checkpoint_key(seq), bytes).map_err(sled_error)?;
        self.sync(w.deref_mut())
    }

    #[cfg(feature = "test-hooks")]
    /// Direct access to the sled tree, for tests that tamper with stored bytes.
    #[doc(hidden)]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.tree
    }
}

/// What the ledger and its readers need of a backend that keeps the log: one atomic,
/// durable commit of a run of events (with a checkpoint when due), the head (next seq, last
/// hash, Merkle frontier), reads by seq and from a seq, checkpoint records and partitions,
/// and the ids. `EmbeddedStore` (log segments indexed by sled) is the one backend today;
/// a second one implements the same contract without the ledger above it changing.
///
/// Reads take `&self` and may run while a commit is in progress on another thread; they
/// see only durable events, up to the head they read.
pub trait Store: Send + Sync {
    /// The directory the ledger's key file (`ledger.key`) lives in.
    fn dir(&self) -> &Path;
    /// The head as of now (a commit on another thread may move it on).
    fn head(&self) -> Head;
    /// The head with no commit in progress (waits for one under way).
    fn settled_head(&self) -> Head;
    fn next_seq(&self) -> u64 {
        self.head().next_seq
    }
    /// Commits runs of events that follow the head, in order, as one atomic, durable write.
    fn commit_batches(&self, batches: &[&[Event]], checkpoint: Option<CheckpointWrite>) -> Result<()>;
    fn commit(&self, events: &[Event], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        self.commit_batches(&[events], checkpoint)
    }
    /// Refuses every later commit until the store is opened again (after a failure that may
    /// have left the log and its index apart).
    fn poison(&self);
    /// One event's encoded bytes and chain hash.
    fn record(&self, seq: u64) -> Result<Option<(Vec<u8>, Hash)>>;
    fn get(&self, seq: u64) -> Result<Option<Stored>>;
    fn get_event(&self, seq: u64) -> Result<Option<Event>>;
    /// Events from `from_seq` to the head, in order, with their chain hashes.
    fn scan(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Stored>> + '_>;
    /// Events from `from_seq` to the head without their hashes.
    fn events(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Event>> + '_>;
    /// Calls `f` with each event from `from_seq` to the head until it returns false.
    fn fold_events(&self, from_seq: u64, f: &mut dyn FnMut(&Event) -> Result<bool>) -> Result<()>;
    /// The stored chunks from the start of the log, for verification and proofs.
    fn raw_chunks(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_>;
    /// The latest checkpoint record at or before `seq`: `(its seq, record bytes)`.
    fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>>;
    /// Every checkpoint record, in seq order.
    fn checkpoints(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_>;
    /// A checkpoint partition by its content hash.
    fn partition(&self, hash: &Hash) -> Result<Option<Vec<u8>>>;
    /// How many bytes a partition takes where it is stored (`None`: not there).
    fn partition_bytes(&self, hash: &Hash) -> Result<Option<u64>>;
    /// Every (id, seq) of the log, in log order.
    fn for_each_id(&self, f: &mut dyn FnMut(Uuid, u64)) -> Result<()>;
    /// The seq of the durable event with `id`, if any, without reading every id.
    fn seq_of_id(&self, id: &Uuid) -> Result<Option<u64>>;
    /// The plans listing `project` (`None`: the backend cannot tell; load every plan).
    fn plans_listing(&self, project: &str) -> Result<Option<Vec<String>>>;
    /// The plans defining `indicator` (`None`: the backend cannot tell).
    fn plans_defining(&self, indicator: &str) -> Result<Option<Vec<String>>>;
    /// Bytes the store occupies.
    fn disk_bytes(&self) -> u64;
    /// Checks the backend's derived indexes (which plans list what, which seq has an id)
    /// against its first `through` events, for `verify`: `None` if they hold.
    fn check_indexes(&self, through: u64) -> Result<Option<crate::Msg>>;
    /// Checks the backend's own framing of what it stored (for `verify`): `None` if it
    /// holds, else what is wrong and where.
    fn check_framing(&self) -> Result<Option<crate::Msg>>;
    /// Notes something the caller should hear of that did not stop the read (a damaged
    /// checkpoint passed over); `warnings` hands the notes out.
    fn warn(&self, what: crate::Msg);
    /// The notes so far, taken (each is handed out once).
    fn warnings(&self) -> Vec<crate::Msg>;
    /// The embedded store under this one, when it is one (for tests and profiling aids
    /// that look at its files).
    fn embedded(&self) -> Option<&EmbeddedStore> {
        None
    }
    /// The head as every writer has moved it: a shared backend (PostgreSQL, appended to by
    /// several servers) asks its database, and `head` moves on to it; the embedded store has
    /// one writer, and its head is this.
    fn latest_head(&self) -> Result<Head> {
        Ok(self.head())
    }
    /// Whether other processes append to this store while it is open (PostgreSQL): the
    /// ledger then reads what they wrote before it decides (`Ledger::catch_up`).
    fn is_shared(&self) -> bool {
        false
    }
    /// One of the ledger's own small files beside its events (its key, its time zone):
    /// `None` when there is none.
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Writes such a file whole and durably, replacing it; `private`: readable by its owner
    /// alone.
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()>;
    /// Writes such a file whole and durably unless it exists: whether it was written.
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool>;
}

impl Store for EmbeddedStore {
    fn dir(&self) -> &Path {
        EmbeddedStore::dir(self)
    }
    fn head(&self) -> Head {
        EmbeddedStore::head(self)
    }
    fn settled_head(&self) -> Head {
        EmbeddedStore::settled_head(self)
    }
    fn next_seq(&self) -> u64 {
        EmbeddedStore::next_seq(self)
    }
    fn commit_batches(&self, batches: &[&[Event]], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        EmbeddedStore::commit_batches(self, batches, checkpoint)
    }
    fn commit(&self, events: &[Event], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        EmbeddedStore::commit(self, events, checkpoint)
    }
    fn poison(&self) {
        EmbeddedStore::poison(self)
    }
    fn record(&self, seq: u64) -> Result<Option<(Vec<u8>, Hash)>> {
        EmbeddedStore::record(self, seq)
    }
    fn get(&self, seq: u64) -> Result<Option<Stored>> {
        EmbeddedStore::get(self, seq)
    }
    fn get_event(&self, seq: u64) -> Result<Option<Event>> {
        EmbeddedStore::get_event(self, seq)
    }
    fn scan(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Stored>> + '_> {
        Box::new(EmbeddedStore::scan(self, from_seq))
    }
    fn events(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Event>> + '_> {
        Box::new(EmbeddedStore::events(self, from_seq))
    }
    fn fold_events(&self, from_seq: u64, f: &mut dyn FnMut(&Event) -> Result<bool>) -> Result<()> {
        EmbeddedStore::fold_events(self, from_seq, f)
    }
    fn raw_chunks(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        Box::new(EmbeddedStore::raw_chunks(self))
    }
    fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(EmbeddedStore::checkpoint_at_or_before(self, seq)?.map(|(s, v)| (s, v.to_vec())))
    }
    fn checkpoints(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        Box::new(EmbeddedStore::checkpoints(self).map(|r| r.map(|(s, v)| (s, v.to_vec()))))
    }
    fn partition(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        EmbeddedStore::partition(self, hash)
    }
    fn partition_bytes(&self, hash: &Hash) -> Result<Option<u64>> {
        match std::fs::metadata(self.partition_path(hash)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(msg!("io.reading", path = self.partition_path(hash).display()), e)),
        }
    }
    fn for_each_id(&self, f: &mut dyn FnMut(Uuid, u64)) -> Result<()> {
        EmbeddedStore::for_each_id(self, f)
    }
    fn seq_of_id(&self, id: &Uuid) -> Result<Option<u64>> {
        EmbeddedStore::seq_of_id(self, id)
    }
    fn plans_listing(&self, project: &str) -> Result<Option<Vec<String>>> {
        EmbeddedStore::plans_listing(self, project)
    }
    fn plans_defining(&self, indicator: &str) -> Result<Option<Vec<String>>> {
        EmbeddedStore::plans_defining(self, indicator)
    }
    fn disk_bytes(&self) -> u64 {
        EmbeddedStore::disk_bytes(self)
    }
    fn check_indexes(&self, through: u64) -> Result<Option<crate::Msg>> {
        EmbeddedStore::check_indexes(self, through)
    }
    fn check_framing(&self) -> Result<Option<crate::Msg>> {
        // Where the last complete commit ends: beyond it, an append may be under way.
        let end = locked(&self.writer).wal.position();
        crate::wal::check_segments(&self.dir, end)
    }
    fn warn(&self, what: crate::Msg) {
        let mut notes = locked(&self.warnings);
        if !notes.contains(&what) {
            notes.push(what);
        }
    }
    fn warnings(&self) -> Vec<crate::Msg> {
        std::mem::take(&mut *locked(&self.warnings))
    }
    fn embedded(&self) -> Option<&EmbeddedStore> {
        Some(self)
    }
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        crate::open::Files::read_file(self.dir.as_path(), name)
    }
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()> {
        crate::open::Files::write_file(self.dir.as_path(), name, bytes, private)
    }
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool> {
        crate::open::Files::create_file(self.dir.as_path(), name, bytes, private)
    }
}

/// Writes a new file durably (`replace`: one left by an interrupted write goes first);
/// `private`: mode 0600.
pub(crate) fn write_new(path: &Path, bytes: &[u8], private: bool, replace: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Free space the store keeps in reserve: no open and no commit goes ahead with less (plus
/// the commit's own bytes) left on the disk, so that sled, which writes as it opens and
/// flushes, never meets a full disk half way through a write (it left its files unreadable
/// then, until the index was rebuilt).
pub const FREE_BYTES_MIN: u64 = 16 << 20;

/// Refuses to go on when the disk holding `dir` has less than `FREE_BYTES_MIN` + `need`
/// bytes free for this process.
fn check_room(dir: &Path, need: u64) -> Result<()> {
    let Some(free) = free_bytes(dir) else { return Ok(()) };
    if free < FREE_BYTES_MIN + need {
        return Err(Error::io(
            msg!("store.disk_full", dir = dir.display(), free = free / 1024, reserve = FREE_BYTES_MIN >> 20),
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        ));
    }
    Ok(())
}

/// Bytes free on the filesystem holding `dir` for an unprivileged writer, where it can be
/// known.
fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let s = rustix::fs::statvfs(dir).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        None
    }
}

/// Copies sled's files of the store in `dir` into `to`, for a read-only open.
fn copy_index(dir: &Path, to: &Path) -> Result<()> {
    fn copy(from: &Path, to: &Path) -> Result<()> {
        let meta = std::fs::metadata(from).map_err(|e| Error::io(msg!("io.reading", path = from.display()), e))?;
        if meta.is_dir() {
            std::fs::create_dir_all(to).map_err(|e| Error::io(msg!("io.creating", path = to.display()), e))?;
            let entries =
                std::fs::read_dir(from).map_err(|e| Error::io(msg!("io.listing", path = from.display()), e))?;
            for entry in entries.flatten() {
                copy(&entry.path(), &to.join(entry.file_name()))?;
            }
            return Ok(());
        }
        std::fs::copy(from, to).map(|_| ()).map_err(|e| Error::io(msg!("io.copying", path = from.display()), e))
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(msg!("io.listing", path = dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches!(name.as_str(), "db" | "conf" | "blobs") || name.starts_with("snap.") {
            copy(&entry.path(), &to.join(&name))?;
        }
    }
    Ok(())
}

/// Takes the exclusive lock on the store in `dir` (its `LOCK` file): held while the file
/// stays open, so no other process has the store meanwhile.
pub(crate) fn lock_store(dir: &Path) -> Result<File> {
    let lock_path = dir.join("LOCK");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(msg!("io.opening", path = lock_path.display()), e))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::StoreInUse(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(msg!("io.locking", path = lock_path.display()), e)),
    }
}

/// The head a log record sets, if `items` holds one.
pub(crate) fn head_in(items: &[(Vec<u8>, Vec<u8>)]) -> Option<Head> {
    items.iter().find(|(k, _)| k.as_slice() == KEY_HEAD).and_then(|(_, v)| codec::decode_record(v).ok())
}

/// A sled failure as the library reports it: the engine's message, and whether sled found
/// its own files damaged.
pub(crate) fn sled_error(e: sled::Error) -> Error {
    let corrupt = matches!(e, sled::Error::Corruption { .. });
    Error::Storage { message: e.to_string(), corrupt }
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
            // Flushing is ours: a commit is durable in the log; sled is synced with `J`
            // (`sync_to_log_end`) when a segment closes and when the store closes.
            .flush_every_ms(None)
            .cache_capacity(SLED_CACHE_BYTES)
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
            Err(e) => return Err(sled_error(e)),
        }
    }
}

impl Drop for EmbeddedStore {
    /// A clean close leaves sled durable up to the end of the log, so other tools (and tests)
    /// reading sled directly see everything and the next open replays nothing. Best effort: a
    /// failure here loses nothing, the log is replayed at the next open.
    fn drop(&mut self) {
        let mut writer = locked(&self.writer);
        let w = writer.deref_mut();
        if !w.poisoned && w.applied != w.wal.position() {
            let _ = self.sync_to_log_end(w);
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

/// Writes `bytes` to `path` so that it is complete or absent after a crash: a temporary file,
/// fsynced, renamed into place (the caller fsyncs the directory).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let io = |e| Error::io(msg!("io.writing", path = path.display()), e);
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(msg!("io.fsync_dir", path = dir.display()), e))
}

/// Iterator over stored events; see [`Store::scan`]. Decompresses one chunk at a time into
/// a reused buffer, decodes one event per step, and checks that seqs run gap-free; with
/// hashes, it recomputes the chain from each chunk's `prev_hash` and checks the stored prefixes.
pub struct Scan {
    chunks: sled::Iter,
    segments: Arc<Segments>,
    /// The current chunk as stored (compressed).
    packed: Vec<u8>,
    /// The current chunk's decompressed body, the offset of its next record, and its seq.
    body: Vec<u8>,
    at: usize,
    seq: u64,
    /// Seq one past the last record of the current chunk (where the next chunk must start).
    chunk_end: u64,
    /// Chain hash of the record before `seq` (when `hashes`).
    hash: Hash,
    hashes: bool,
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
        let (key, index) = next.map_err(sled_error)?;
        let first = key_seq(&key);
        if first != self.expect_seq {
            return Err(log_jumps(self.expect_seq, first));
        }
        let header = open_indexed_chunk(&self.segments, first, &index, &mut self.packed, &mut self.body)?;
        self.chunk_end = first + u64::from(header.count);
        self.expect_seq = self.chunk_end;
        self.at = 0;
        self.seq = first;
        self.hash = header.prev_hash;
        Ok(true)
    }

    /// The next record of the current chunk, decoded unless it lies before `from_seq`.
    fn next_record(&mut self) -> Result<Option<Option<Stored>>> {
        if self.seq >= self.chunk_end {
            if self.at != self.body.len() {
                return Err(corrupt(self.seq, CodecError::Bincode("trailing bytes after the last record".into())));
            }
            return Ok(None);
        }
        let this = self.seq;
        let (record, rest) = codec::next_record(&self.body[self.at..]).map_err(|e| corrupt(this, e))?;
        let (bytes, prefix) = (record.bytes, record.hash_prefix);
        if self.hashes {
            self.hash = codec::chain_hash(&self.hash, bytes);
            if self.hash[..codec::HASH_PREFIX_LEN] != prefix {
                return Err(Error::corrupt(this, msg!("store.hash_mismatch")));
            }
        }
        let event = if this < self.from_seq { None } else { Some(decode_at(bytes, this)?) };
        self.at = self.body.len() - rest.len();
        self.seq += 1;
        Ok(Some(event.map(|event| Stored { event, hash: self.hash })))
    }

    fn step(&mut self) -> Result<Option<Stored>> {
        loop {
            if self.seq < self.chunk_end || self.at < self.body.len() {
                match self.next_record()? {
                    Some(Some(stored)) => return Ok(Some(stored)),
                    Some(None) => continue,
                    None => {}
                }
            }
            if !self.next_chunk()? {
                if self.expect_seq < self.end_seq && self.from_seq < self.end_seq {
                    return Err(log_ends_early(self.expect_seq, self.end_seq));
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

/// Hooks for tests of recovery and tampering (the `test-hooks` feature): they do to a
/// closed store what a crash or an attacker could, and are no part of the store's API.
#[cfg(feature = "test-hooks")]
pub mod test_hooks {
    use super::*;

    /// In the closed store at `dir`, drops the index entry of the chunk starting at
    /// `first_seq` and marks no record as applied: what sled may hold after a crash that
    /// wrote a record's head but not its chunk.
    pub fn forget_chunk_and_applied(dir: &Path, first_seq: u64) -> Result<()> {
        let db = open_sled(dir)?;
        let tree = db.open_tree(TREE).map_err(sled_error)?;
        tree.remove(chunk_key(first_seq)).map_err(sled_error)?;
        tree.insert(KEY_LOG_APPLIED, &Position::START.encode()[..]).map_err(sled_error)?;
        db.flush().map_err(sled_error)?;
        Ok(())
    }

    /// In the closed store at `dir`, rewrites the first run of the id index (`listings`:
    /// of the listings index) with two entries' seqs swapped, its checksums made whole
    /// again: a run that reads back fine and is wrong.
    pub fn swap_in_run(dir: &Path, listings: bool) -> Result<()> {
        let name = if listings { crate::ids::LISTINGS_DIR } else { crate::ids::IDS_DIR };
        crate::ids::swap_two_seqs_of_first_run(dir, name)
    }
}
