//! Checkpoints of the folded state, so that opening a large store, or asking what was known
//! at a past seq, replays at most `CHECKPOINT_EVERY` events instead of the whole log.
//!
//! A checkpoint is partitioned like the state: one partition per plan and one for what
//! every plan shares (departments, the year index). Partitions are stored once under their
//! SHA-256, so a checkpoint rewrites only the plans that changed since the previous one,
//! and a question about one plan decodes that plan alone. Checkpoints are caches of the log:
//! `verify` recomputes every one of them from the events.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{self, Hash};
use crate::error::{Error, Result};
use crate::event::{Event, Payload, Subject};
use crate::model::Timestamp;
use crate::projection::check_fold;
use crate::projection::{self, Department, Plan, Principal, State};
use crate::store::{CheckpointWrite, Store};

/// Events between checkpoints (at least; one is taken at the end of the first commit that
/// reaches it). Bounds the tail a point-in-time query replays.
pub const CHECKPOINT_EVERY: u64 = 16_384;

/// A checkpoint rewrites the partitions of the plans that changed since the last one: for
/// a large plan that is far more than the events that changed it (one plan of 90,000
/// projects: 180 MB of partitions for a 29 MB log). So one is taken only once the events
/// since the last (their encoded bytes) reach this many times the stored bytes it would
/// write: checkpoints stay a bounded fraction of the log whatever the plans' shape, at the
/// price of a longer tail to replay after a checkpoint of a very large plan.
pub const CHECKPOINT_LOG_RATIO: u64 = 12;

/// The checkpoint record: which partitions make up the state after `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub global: Hash,
    pub plans: Vec<(String, Hash)>,
}

/// The part of the state every plan shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Global {
    pub last_seq: u64,
    pub last_recorded_at: Timestamp,
    pub departments: BTreeMap<String, Department>,
    pub years: BTreeMap<i32, Vec<String>>,
    pub principals: BTreeMap<String, Principal>,
}

fn global_of(state: &State) -> Global {
    Global {
        last_seq: state.last_seq,
        last_recorded_at: state.last_recorded_at,
        departments: state.departments.clone(),
        years: state.years.clone(),
        principals: state.principals.clone(),
    }
}

/// The SHA-256 a partition or checkpoint record is stored and checked under.
pub(crate) fn hash_of(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Tracks which partitions changed since the last checkpoint, and takes the next one.
#[derive(Debug, Default)]
pub struct Checkpointer {
    last_seq: u64,
    /// The plans some checkpoint taken so far holds (encoded, or in a snapshot waiting to
    /// be): a plan not among them goes into the next one even when nothing dirtied it.
    taken: BTreeSet<String>,
    dirty: BTreeSet<String>,
    /// The committed events after the last checkpoint have not been `touch`ed yet (they
    /// were folded before this checkpointer existed): scan them when a checkpoint is due.
    tail_unscanned: bool,
    /// Encoded bytes of the events `touch`ed since the last checkpoint...
    log_bytes: u64,
    /// ...of which those of the tail scan.
    tail_bytes: u64,
    /// Shared with the snapshots it hands out, which fill it as they are encoded.
    encoded: Arc<Mutex<Encoded>>,
}

/// What encoding snapshots has produced so far.
#[derive(Debug, Default)]
struct Encoded {
    /// Hash of each plan's partition in the last checkpoint encoded.
    hashes: BTreeMap<String, Hash>,
    /// Stored bytes of partitions, by hash: those this checkpointer encoded, and those it
    /// looked up (`stored_bytes`).
    sizes: HashMap<Hash, u64>,
    /// Hash of the shared partition in the last checkpoint.
    global: Option<Hash>,
    /// Where each partition is encoded before it is hashed and compressed, kept between
    /// checkpoints: partitions are megabytes, and a fresh allocation that size is fresh
    /// pages to fault in each time.
    scratch: Vec<u8>,
}

/// A checkpoint taken but not yet encoded: copies of the plans that changed since the
/// previous one (cheap: a listing shares its definition) and of the shared part. Encoding
/// them (bincode, SHA-256) is most of a checkpoint's cost and needs nothing else of the
/// state, so the ledger's writer thread does it while the next batch is decided.
/// Snapshots must be encoded in the order they were taken (the writer encodes each with its
/// commit, in commit order): a snapshot's record names the hashes its predecessors computed
/// for the plans it does not copy.
pub struct Snapshot {
    seq: u64,
    plans: Vec<(String, Plan)>,
    global: Global,
    encoded: Arc<Mutex<Encoded>>,
}

/// A partition's content hash (of its encoded bytes) and its stored bytes (compressed).
fn encode_partition<T: Serialize>(scratch: &mut Vec<u8>, value: &T) -> (Hash, Vec<u8>) {
    scratch.clear();
    codec::encode_checkpoint_into(value, scratch);
    (hash_of(scratch), crate::store::pack_partition(scratch))
}

impl Snapshot {
    /// The partitions and record to write with the commit that ends at the snapshot's seq.
    pub fn encode(self) -> CheckpointWrite {
        // Poisoned only by a panic while encoding (a bug); the hashes are whole entries.
        let mut guard = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        let encoded = &mut *guard;
        let mut partitions = Vec::with_capacity(self.plans.len() + 1);
        for (id, plan) in &self.plans {
            let (h, bytes) = encode_partition(&mut encoded.scratch, plan);
            encoded.hashes.insert(id.clone(), h);
            encoded.sizes.insert(h, bytes.len() as u64);
            partitions.push((h, bytes));
        }
        let (global_hash, global) = encode_partition(&mut encoded.scratch, &self.global);
        encoded.sizes.insert(global_hash, global.len() as u64);
        encoded.global = Some(global_hash);
        partitions.push((global_hash, global));
        let record = Record {
            seq: self.seq,
            global: global_hash,
            plans: encoded.hashes.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        };
        CheckpointWrite { seq: self.seq, record: codec::encode_checkpoint(&record), partitions }
    }
}

impl Checkpointer {
    /// Starts from the store's latest checkpoint (all plans count as dirty when none).
    pub fn resume(store: &dyn Store) -> Result<Checkpointer> {
        let mut c = Checkpointer { tail_unscanned: true, ..Checkpointer::default() };
        if let Some((seq, bytes)) = store.checkpoint_at_or_before(u64::MAX)? {
            // A stale checkpoint (an older build's) counts as none, and so does a damaged one
            // (derived data: the fold that opens the ledger passes it over, with a warning):
            // the next is taken whole.
            let Ok(Some(r)) = decode_record(seq, &bytes) else { return Ok(c) };
            c.last_seq = r.seq;
            c.taken = r.plans.iter().map(|(id, _)| id.clone()).collect();
            c.encoded = Arc::new(Mutex::new(Encoded {
                hashes: r.plans.into_iter().collect(),
                sizes: HashMap::new(),
                global: Some(r.global),
                scratch: Vec::new(),
            }));
        }
        Ok(c)
    }

    /// Notes the plans an event changes. A milestone also changes every later listing of
    /// its project, and a retracted milestone every listing that carried it.
    /// `bytes`: the event's encoded length.
    pub fn touch(&mut self, state: &State, payload: &Payload, bytes: u64) {
        self.log_bytes += bytes;
        match payload {
            Payload::MilestoneReached(m) => {
                let later = state.years.range(m.date.year()..).flat_map(|(_, ids)| ids.iter());
                self.dirty.extend(later.cloned());
            }
            Payload::Retracted(r) => {
                if let Subject::Milestone { project, .. } = &r.subject {
                    self.dirty.extend(state.listings_of(project).map(|p| p.def.plan.clone()));
                }
            }
            _ => {}
        }
        if let Some(plan) = payload.plan() {
            // Checked first: most events touch a plan that is already dirty.
            if !self.dirty.contains(plan) {
                self.dirty.insert(plan.to_string());
            }
        }
    }

    /// Whether `due` would read the store's log (the first checkpoint after a resume notes
    /// the plans of the events since the last one): the store must then hold every event
    /// before `state`'s staged ones.
    pub fn reads_store_when_due(&self, state: &State) -> bool {
        self.is_due(state) && self.tail_unscanned && !self.taken.is_empty()
    }

    fn is_due(&self, state: &State) -> bool {
        state.last_seq >= self.last_seq + CHECKPOINT_EVERY
    }

    /// Whether a commit that leaves `state` at its head takes a checkpoint: `CHECKPOINT_EVERY`
    /// events since the last, whose encoded bytes reach `CHECKPOINT_LOG_RATIO` times the
    /// stored bytes the partitions it would rewrite now take. The first one after a resume
    /// reads the log since the last checkpoint (see `reads_store_when_due`).
    pub fn is_due_now(&mut self, state: &State, store: &dyn Store) -> Result<bool> {
        if !self.is_due(state) {
            return Ok(false);
        }
        if self.taken.is_empty() {
            // The first checkpoint of a store, or after a reset: every plan is written.
            return Ok(true);
        }
        if self.tail_unscanned {
            for e in store.events(self.last_seq + 1) {
                let e = e?;
                let bytes = codec::event_len(&e);
                self.tail_bytes += bytes;
                self.touch(state, &e.payload, bytes);
            }
            self.tail_unscanned = false;
        }
        Ok(self.log_bytes >= CHECKPOINT_LOG_RATIO.saturating_mul(self.would_write(store)?))
    }

    /// Forgets the scan of the tail (made on a state holding only some plans, which may
    /// not see every plan an event changes): the next `is_due_now` scans it again.
    pub fn forget_tail_scan(&mut self) {
        if !self.tail_unscanned {
            self.log_bytes -= self.tail_bytes;
            self.tail_bytes = 0;
            self.tail_unscanned = true;
        }
    }

    /// Stored bytes of the partitions a checkpoint now would rewrite (as they are stored
    /// now: the plans that changed since, and the shared part). A plan no checkpoint holds
    /// yet counts nothing: it is new, and small next to the log it came in with.
    fn would_write(&self, store: &dyn Store) -> Result<u64> {
        let mut encoded = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        let mut hashes: Vec<Hash> = self.dirty.iter().filter_map(|id| encoded.hashes.get(id).copied()).collect();
        hashes.extend(encoded.global);
        let mut total = 0;
        for hash in hashes {
            let size = match encoded.sizes.get(&hash) {
                Some(&n) => n,
                None => {
                    let n = store.partition_bytes(&hash)?.unwrap_or(0);
                    encoded.sizes.insert(hash, n);
                    n
                }
            };
            total += size;
        }
        Ok(total)
    }

    /// The checkpoint to write with a commit that leaves `state` at its head, if one is due:
    /// a snapshot, to encode (`Snapshot::encode`) just before that commit.
    pub fn due(&mut self, state: &State, store: &dyn Store) -> Result<Option<Snapshot>> {
        if !self.is_due_now(state, store)? {
            return Ok(None);
        }
        Ok(Some(self.take(state)))
    }

    /// A checkpoint of `state`, due or not: the plans changed since the last one, and
    /// those no checkpoint holds yet (the first of a store, or after a reset).
    pub fn take(&mut self, state: &State) -> Snapshot {
        let untaken: Vec<String> =
            state.plans.keys().filter(|id| !self.taken.contains(id.as_str())).map(|id| id.to_string()).collect();
        self.dirty.extend(untaken);
        let mut plans = Vec::with_capacity(self.dirty.len());
        for id in std::mem::take(&mut self.dirty) {
            if let Some(plan) = state.plans.get(&id) {
                plans.push((id.clone(), plan.clone()));
                self.taken.insert(id);
            }
        }
        self.last_seq = state.last_seq;
        self.log_bytes = 0;
        self.tail_bytes = 0;
        Snapshot { seq: state.last_seq, plans, global: global_of(state), encoded: Arc::clone(&self.encoded) }
    }

    /// After a failed commit the pending checkpoint was not written: forget it.
    pub fn reset(&mut self, store: &dyn Store) -> Result<()> {
        *self = Checkpointer::resume(store)?;
        // Everything may have changed relative to the last written checkpoint.
        self.taken.clear();
        self.encoded = Arc::new(Mutex::new(Encoded::default()));
        Ok(())
    }
}

fn corrupt(seq: u64, e: codec::CodecError) -> Error {
    Error::corrupt(seq, msg!("checkpoint.codec", error = e.to_msg()))
}

/// What is wrong with the checkpoint record `bytes`, which did not decode (`e`): its file
/// is missing or altered (the store gave the reference it holds instead), or the bytes are.
fn record_problem(bytes: &[u8], e: codec::CodecError) -> crate::Msg {
    match crate::store::record_file_of(bytes) {
        Some(hash) => msg!("checkpoint.record_file_damaged", hash = codec::hex(&hash)),
        None => msg!("checkpoint.record_does_not_decode", error = e.to_msg()),
    }
}

/// The checkpoint record at `seq`; `None` when an older build wrote it (stale).
fn decode_record(seq: u64, bytes: &[u8]) -> Result<Option<Record>> {
    match codec::decode_checkpoint(bytes) {
        Ok(r) => Ok(Some(r)),
        Err(codec::CodecError::Stale(_)) => Ok(None),
        Err(e) => Err(Error::corrupt(seq, record_problem(bytes, e))),
    }
}

fn load_partition<T: serde::de::DeserializeOwned>(store: &dyn Store, seq: u64, hash: &Hash) -> Result<T> {
    let bytes = store
        .partition(hash)?
        .ok_or_else(|| Error::corrupt(seq, msg!("checkpoint.partition_missing", hash = codec::hex(hash))))?;
    if hash_of(&bytes) != *hash {
        return Err(Error::corrupt(seq, msg!("checkpoint.partition_altered", hash = codec::hex(hash))));
    }
    codec::decode_checkpoint(&bytes).map_err(|e| corrupt(seq, e))
}

/// The state right after `until_seq`: the latest checkpoint at or before it, then the log's
/// tail. With `plans`, only those plans are loaded (and folded): a partial state that
/// answers questions about them at a fraction of the cost.
pub fn state_at(store: &dyn Store, until_seq: u64, plans: Option<&[String]>) -> Result<State> {
    let until_seq = until_seq.min(store.head().events());
    // Checkpoints are derived data: one whose partitions are missing or altered is passed
    // over (the store keeps a warning for the caller), and an earlier one, or the log from
    // its start, gives the same state.
    let mut before = until_seq;
    let mut state = State::default();
    while let Some((seq, bytes)) = store.checkpoint_at_or_before(before)? {
        match from_checkpoint(store, seq, &bytes, plans) {
            Ok(Some(s)) => {
                state = s;
                break;
            }
            // Written by an older build: so is every earlier one. Fold the log.
            Ok(None) => break,
            Err(e @ Error::Corrupt { .. }) if seq > 0 => {
                store.warn(msg!("checkpoint.passed_over", error = e.to_msg()));
                before = seq - 1;
            }
            Err(e) => return Err(e),
        }
    }
    if state.last_seq >= until_seq {
        return Ok(state);
    }
    store.fold_events(state.last_seq + 1, &mut |event| {
        if event.seq > until_seq {
            return Ok(false);
        }
        match plans {
            None => {
                check_fold(&state, event)?;
                projection::apply(&mut state, event);
            }
            Some(want) => {
                projection::check_bounds(event)?;
                projection::apply_partial(&mut state, event, &|id| want.iter().any(|w| w == id))
            }
        }
        Ok(true)
    })?;
    Ok(state)
}

/// Whether every partition a checkpoint record names is there and unaltered (for `repair`).
pub fn partitions_whole(store: &dyn Store, seq: u64, bytes: &[u8]) -> bool {
    let record = match codec::decode_checkpoint::<Record>(bytes) {
        Ok(r) => r,
        // Stale is not damaged: readers pass it over, and repair leaves it.
        Err(codec::CodecError::Stale(_)) => return true,
        Err(_) => return false,
    };
    let whole = |hash: &Hash| store.partition(hash).ok().flatten().is_some_and(|b| hash_of(&b) == *hash);
    record.seq == seq && whole(&record.global) && record.plans.iter().all(|(_, h)| whole(h))
}

/// The state a checkpoint record holds (for `plans`, or whole); `None` when it is stale.
fn from_checkpoint(store: &dyn Store, seq: u64, bytes: &[u8], plans: Option<&[String]>) -> Result<Option<State>> {
    let mut state = State::default();
    let Some(record) = decode_record(seq, bytes)? else { return Ok(None) };
    let g: Global = load_partition(store, seq, &record.global)?;
    state.last_seq = g.last_seq;
    state.last_recorded_at = g.last_recorded_at;
    state.departments = g.departments;
    state.years = g.years;
    state.principals = g.principals;
    for (id, hash) in &record.plans {
        if plans.is_none_or(|want| want.contains(id)) {
            let plan: Plan = load_partition(store, seq, hash)?;
            state.plans.insert(id.clone(), plan);
        }
    }
    if let Some(want) = plans {
        state.retain_plans(want);
    }
    if state.last_seq != seq {
        return Err(Error::corrupt(seq, msg!("checkpoint.seq_disagrees")));
    }
    Ok(Some(state))
}

/// Checks checkpoint records against the fold as `verify` passes their seqs, in memory that
/// follows the active plans rather than the whole history:
/// - at a checkpoint it re-encodes only the plans events may have changed since the previous
///   one (a superset read from the payloads and the year index, written independently of the
///   `Checkpointer`'s own bookkeeping); the others must keep the hash already verified;
/// - it then evicts the plans no event reached during the interval: each equals its verified
///   partition, which is loaded again (and its hash checked) when an event reaches the plan.
#[derive(Debug)]
pub struct Verifier {
    /// The partition hash of each plan, as verified at the latest checkpoint that had it.
    verified: HashMap<String, Hash>,
    /// Plans events may have changed since the last checkpoint.
    reached: HashSet<String>,
    /// Compare every plan at the next checkpoint (the first one).
    compare_all: bool,
    /// Plans dropped from the state; each equals its `verified` partition.
    evicted: HashSet<String>,
    /// How many times an evicted plan was loaded again.
    pub reloaded: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            verified: HashMap::new(),
            reached: HashSet::new(),
            compare_all: true,
            evicted: HashSet::new(),
            reloaded: 0,
        }
    }
}

impl Verifier {
    /// Plans the fold of `payload` may change: the plan it names, and for a milestone every
    /// plan of its year or later (which list the project again and carry its milestones); a
    /// corrected or retracted milestone may reach any listing of its project, so every plan.
    fn reach(state: &State, payload: &Payload, out: &mut Vec<String>) {
        match payload {
            Payload::MilestoneReached(m) => {
                out.extend(state.years.range(m.date.year()..).flat_map(|(_, ids)| ids.iter().cloned()));
            }
            Payload::Corrected(c) if matches!(c.subject, Subject::Milestone { .. }) => {
                out.extend(state.years.values().flatten().cloned());
            }
            Payload::Retracted(r) if matches!(r.subject, Subject::Milestone { .. }) => {
                out.extend(state.years.values().flatten().cloned());
            }
            _ => {}
        }
        if let Some(plan) = payload.plan() {
            out.push(plan.to_string());
        }
    }

    /// Before `event` is folded: notes the plans it may change and loads those evicted.
    pub fn before(&mut self, store: &dyn Store, state: &mut State, event: &Event) -> Result<()> {
        // The common case, first and without allocating: an event of a plan already reached.
        let crossing =
            matches!(event.payload, Payload::MilestoneReached(_) | Payload::Corrected(_) | Payload::Retracted(_));
        if let (false, Some(plan)) = (crossing, event.payload.plan()) {
            if self.reached.contains(plan) {
                return Ok(());
            }
        }
        let mut reach = Vec::new();
        Self::reach(state, &event.payload, &mut reach);
        for id in reach {
            if self.evicted.remove(&id) {
                let hash = self.verified.get(&id).copied();
                // An evicted plan always has a verified hash: it was compared before eviction.
                let hash = hash.ok_or_else(|| Error::corrupt(event.seq, msg!("checkpoint.plan_lost", plan = &id)))?;
                let plan: Plan = load_partition(store, event.seq, &hash)?;
                state.plans.insert(id.clone(), plan);
                self.reloaded += 1;
            }
            if !self.reached.contains(&id) {
                self.reached.insert(id);
            }
        }
        Ok(())
    }

    /// Compares the checkpoint record at `seq` with `state` (folded to `seq`); `None` if they
    /// agree, else what differs. Then evicts the plans no event reached since the last one.
    pub fn check(
        &mut self,
        store: &dyn Store,
        seq: u64,
        record_bytes: &[u8],
        state: &mut State,
    ) -> Result<Option<crate::Msg>> {
        let record: Record = match codec::decode_checkpoint(record_bytes) {
            Ok(r) => r,
            // An older build's: nothing to compare (the state's shape changed since).
            Err(codec::CodecError::Stale(_)) => return Ok(None),
            Err(e) => return Ok(Some(record_problem(record_bytes, e))),
        };
        if record.seq != seq {
            return Ok(Some(msg!("checkpoint.record_says_seq", found = record.seq)));
        }
        if hash_of(&codec::encode_checkpoint(&global_of(state))) != record.global {
            return Ok(Some(msg!("checkpoint.shared_differs")));
        }
        let listed: HashSet<&str> = record.plans.iter().map(|(id, _)| id.as_str()).collect();
        let known = state.plans.len() + self.evicted.len();
        let all_known = state
            .plans
            .keys()
            .map(|k| k.as_str())
            .chain(self.evicted.iter().map(|k| k.as_str()))
            .all(|k| listed.contains(k));
        if listed.len() != record.plans.len() || listed.len() != known || !all_known {
            return Ok(Some(msg!("checkpoint.other_plans")));
        }
        for (id, hash) in &record.plans {
            let unchanged = !self.compare_all && !self.reached.contains(id) && self.verified.get(id) == Some(hash);
            if unchanged {
                continue;
            }
            // Evicted plans are never reached (reaching loads them), so here they are loaded.
            let Some(plan) = state.plans.get(id) else {
                return Ok(Some(msg!("checkpoint.plan_differs", plan = id)));
            };
            if hash_of(&codec::encode_checkpoint(plan)) != *hash {
                return Ok(Some(msg!("checkpoint.plan_differs", plan = id)));
            }
            if store.partition(hash)?.is_none_or(|b| hash_of(&b) != *hash) {
                return Ok(Some(msg!("checkpoint.plan_missing_or_altered", plan = id)));
            }
            self.verified.insert(id.clone(), *hash);
        }
        let idle: Vec<String> =
            state.plans.keys().filter(|id| !self.reached.contains(id.as_str())).map(|id| id.to_string()).collect();
        for id in idle {
            state.plans.remove(&id);
            self.evicted.insert(id);
        }
        self.reached.clear();
        self.compare_all = false;
        Ok(None)
    }
}
