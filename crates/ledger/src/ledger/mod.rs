//! The ledger: a store, the state folded from it, the idempotency index and the checkpointer,
//! behind one API. `stage` runs decide → envelope → apply for each submission of a request;
//! `commit_staged` writes everything staged as one atomic, durable commit. `submit` is the
//! two together; group commit (`commit::GroupCommit`) stages many requests, then commits
//! them with one fsync.
//!
//! Pipelining: `commit_async` hands what is staged to the ledger's writer thread (which
//! seals, appends, fsyncs and indexes it) and returns at once, so the next batch is decided
//! while the previous one is written. Commits reach the store strictly in order; nothing is
//! acknowledged before its `Ticket` says it is durable; a failed commit fails every commit
//! after it, and the ledger then folds its state again from what the store holds.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use uuid::Uuid;

mod ids;
mod scope;
mod stage;
mod writer;

use ids::IdIndex;
pub use scope::{plans_needed, Scope};
pub use writer::Ticket;
use writer::{commit_failed, Done, InFlight, Job, WriterThread};

use crate::checkpoint::{self, Checkpointer, Snapshot};
use crate::clock::{Clock, IdSource};
use crate::decide::Submission;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::projection::{self, State};
use crate::store::{Store, StoreAt, BATCH_EVENTS_MAX};

/// Most commits handed to the writer and not yet known durable; `commit_async` waits for the
/// oldest beyond this (or beyond `EVENTS_IN_FLIGHT_MAX`). Deep enough that a caller deciding
/// faster than the disk rides out a slow fsync instead of stalling on it, while the writer
/// folds the queue into one commit (`write_jobs`). `examples/import_profile`, alternated:
/// 306–464 k ev/s with 2, 441–524 k with 8, 488–588 k with 16 (502–621 k with the writer
/// merging its queue); group commit gained as well (docs/performance.md).
pub const COMMITS_IN_FLIGHT_MAX: usize = 16;

/// Most events in flight: what large batches may hold in memory (two of the largest).
pub const EVENTS_IN_FLIGHT_MAX: usize = 2 * BATCH_EVENTS_MAX;

/// Longest a commit to a shared store (PostgreSQL) keeps deciding again after another
/// writer got in first, or reconnecting after the database went away (a failover takes
/// seconds): past it the request fails, and nothing of it was written.
pub const SHARED_RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// First pause before reconnecting to a database that went away; doubled each time, up to
/// `SHARED_RETRY_PAUSE_MAX`.
const SHARED_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
const SHARED_RETRY_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// The ids one `stage_and_commit` generated, and how many its current attempt has used.
#[derive(Default)]
struct Replay {
    drawn: Vec<Uuid>,
    next: usize,
}

/// What the ledger answers for each event of an accepted submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub id: Uuid,
    pub kind: &'static str,
    /// True when the submission's id was already recorded with the same content: nothing new
    /// was written, and `seq` is the original event's.
    pub duplicate: bool,
}

pub struct Ledger {
    /// The ledger's public key, which format-2 signed texts must name.
    ledger_key: [u8; 32],
    /// Which day "today" is (`zone`).
    zone: crate::model::TimeZone,
    store: Arc<dyn Store>,
    /// The state after the committed log, the commits in flight and the staged events.
    state: State,
    /// Which plans `state` holds (`scope`).
    scope: Scope,
    /// id → seq of every committed, in-flight and staged event, built on first need (reads
    /// need none); with `ids_on_disk`, of the in-flight and staged ones only.
    ids: Option<IdIndex>,
    /// The store's id index answers for the durable ids (a ledger opened for one request:
    /// a few lookups cost less than reading every id).
    ids_on_disk: bool,
    /// Decided and applied to `state`, not yet handed to a commit; numbered after the
    /// commits in flight.
    staged: Vec<Event>,
    /// Handed to the writer, oldest first, kept until known durable (lookups read them).
    in_flight: VecDeque<InFlight>,
    /// Durable batches no longer needed, handed to the writer with the next job to free
    /// there (a batch's strings are thousands of frees the deciding thread need not pay).
    spent: Vec<Arc<Vec<Event>>>,
    /// Set when a failed commit in flight discarded staged events: their commit must fail.
    staged_lost: bool,
    /// The ids generated during `stage_and_commit`, handed out again when it retries.
    replay: Option<Replay>,
    /// Set while `state` may not be what the store holds (a fold after a failed commit
    /// did not complete): the next request folds it again first.
    stale: bool,
    /// The writer thread, started by the first `commit_async`.
    writer: Option<WriterThread>,
    checkpointer: Checkpointer,
    clock: Box<dyn Clock>,
    id_source: Box<dyn IdSource>,
}

impl Ledger {
    /// Opens the store in `dir` and folds its log (from the latest checkpoint) into state.
    pub fn open(dir: &Path, clock: Box<dyn Clock>, id_source: Box<dyn IdSource>) -> Result<Ledger> {
        Ledger::open_scoped(&StoreAt::from(dir), clock, id_source, None)
    }

    /// Opens the store at `location` (a directory, or a PostgreSQL ledger) and folds it.
    pub fn open_at(location: &StoreAt, clock: Box<dyn Clock>, id_source: Box<dyn IdSource>) -> Result<Ledger> {
        Ledger::open_scoped(location, clock, id_source, None)
    }

    /// Opens the store in `dir` holding the plans `submissions` need (`None`: every plan).
    fn open_scoped(
        location: &StoreAt,
        clock: Box<dyn Clock>,
        id_source: Box<dyn IdSource>,
        submissions: Option<&[Submission]>,
    ) -> Result<Ledger> {
        let store: Arc<dyn Store> = Arc::from(location.open()?);
        // A store made before ledger keys existed gets its key from its first writer.
        let ledger_key = crate::keys::LedgerKey::load_or_create(&*store)?.public();
        let zone = crate::zone::load(&*store)?;
        let plans = match submissions {
            Some(subs) => plans_needed(&*store, subs)?,
            None => None,
        };
        let scope = match plans {
            Some(plans) => Scope::Plans(plans),
            None => Scope::Whole,
        };
        let state = match &scope {
            Scope::Whole => checkpoint::state_at(&*store, u64::MAX, None)?,
            Scope::Plans(plans) => checkpoint::state_at(&*store, u64::MAX, Some(plans))?,
        };
        let mut checkpointer = Checkpointer::resume(&*store)?;
        if !store.warnings().is_empty() {
            // The latest checkpoint could not be used: the next one is written whole, from
            // the state folded instead, so the damaged partitions are named by none.
            checkpointer.reset(&*store)?;
        }
        Ok(Ledger {
            ledger_key,
            zone,
            store,
            state,
            // One request (`open_for`), whole or not, asks the store for its few ids.
            ids_on_disk: submissions.is_some_and(|subs| subs.len() <= scope::ON_DISK_LOOKUPS_MAX),
            scope,
            ids: None,
            staged: Vec::new(),
            in_flight: VecDeque::new(),
            spent: Vec::new(),
            staged_lost: false,
            stale: false,
            replay: None,
            writer: None,
            checkpointer,
            clock,
            id_source,
        })
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The ledger's public key: what signed submissions name as their ledger.
    pub fn public_key(&self) -> [u8; 32] {
        self.ledger_key
    }

    /// The store, shared: for readers that need neither the ledger nor its lock (the store
    /// holds only durable events).
    pub fn shared_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    fn id_index(&mut self) -> Result<&mut IdIndex> {
        if self.ids.is_none() && self.ids_on_disk {
            let mut m = IdIndex::with_capacity(self.staged.len());
            for e in self.in_flight.iter().flat_map(|f| f.events.iter()).chain(&self.staged) {
                m.insert(e.id, e.seq);
            }
            self.ids = Some(m);
        }
        if self.ids.is_none() {
            let mut m = IdIndex::with_capacity((self.store.head().events() as usize).max(self.staged.len()));
            self.store.for_each_id(&mut |id, seq| {
                m.insert(id, seq);
            })?;
            for e in self.in_flight.iter().flat_map(|f| f.events.iter()).chain(&self.staged) {
                m.insert(e.id, e.seq);
            }
            self.ids = Some(m);
        }
        // Filled just above when it was empty.
        Ok(self.ids.get_or_insert_with(|| IdIndex::with_capacity(0)))
    }

    /// Decides and commits `submissions` from `actor` as one atomic, durable batch.
    /// `origin(i)` names where submission `i` came from, for error messages ("line 3").
    /// On any error nothing is written and the state is as before.
    pub fn submit(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
    ) -> Result<Vec<Ack>> {
        self.submit_expecting(actor, submissions, origin, &[])
    }

    /// As `submit`, with expected stream versions (see `stage_expecting`).
    pub fn submit_expecting(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        expected: &[(String, u64)],
    ) -> Result<Vec<Ack>> {
        if self.store.is_shared() {
            // Others append too: decided on the state they left, again if they got in first.
            let (acks, committed) = self
                .stage_and_commit(|l| l.stage_expecting(actor, submissions, origin, expected), |acks| acks.is_err());
            committed?;
            return acks.unwrap_or_else(|| Ok(Vec::new()));
        }
        let acks = self.stage_expecting(actor, submissions, origin, expected)?;
        self.commit_staged()?;
        Ok(acks)
    }

    /// Submits `batches` in order, each one atomic and durable on its own, deciding each
    /// batch while the one before is written (see the module's note on pipelining).
    /// `on_durable(i, acks)` is called, in order, once batch `i` is durable. Stops at the
    /// first error: the batches before the refused one are recorded, nothing of it or after.
    /// `origin(i, j)` names where submission `j` of batch `i` came from.
    pub fn submit_batches<B: AsRef<[Submission]>>(
        &mut self,
        actor: &str,
        batches: impl IntoIterator<Item = B>,
        origin: &dyn Fn(usize, usize) -> Option<crate::Msg>,
        on_durable: &mut dyn FnMut(usize, Vec<Ack>),
    ) -> Result<()> {
        if self.store.is_shared() {
            // One batch at a time, each decided on what every writer has appended.
            for (i, batch) in batches.into_iter().enumerate() {
                let acks = self.submit_expecting(actor, batch.as_ref(), &|j| origin(i, j), &[])?;
                on_durable(i, acks);
            }
            return Ok(());
        }
        let mut pending: VecDeque<(usize, Ticket, Vec<Ack>)> = VecDeque::new();
        let mut result = Ok(());
        for (i, batch) in batches.into_iter().enumerate() {
            let staged = self.stage(actor, batch.as_ref(), &|j| origin(i, j)).and_then(|acks| {
                let ticket = self.commit_async()?;
                Ok((acks, ticket))
            });
            match staged {
                Ok((acks, ticket)) => pending.push_back((i, ticket, acks)),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            // `commit_async` bounds the commits in flight; acknowledge those already durable.
            self.acknowledge(&mut pending, false, on_durable)?;
        }
        self.acknowledge(&mut pending, true, on_durable)?;
        result
    }

    /// Acknowledges, in order, the batches at the front of `pending` that are durable; with
    /// `wait`, all of them, as they become durable. A failed one ends it with its error
    /// (the state folded again first); nothing after it is acknowledged.
    fn acknowledge(
        &mut self,
        pending: &mut VecDeque<(usize, Ticket, Vec<Ack>)>,
        wait: bool,
        on_durable: &mut dyn FnMut(usize, Vec<Ack>),
    ) -> Result<()> {
        while pending.front().is_some_and(|(_, t, _)| wait || t.0.state().0) {
            let Some((i, ticket, acks)) = pending.pop_front() else { break };
            if let Err(e) = ticket.wait() {
                self.reap()?;
                return Err(e);
            }
            on_durable(i, acks);
        }
        self.reap()
    }

    /// Writes every staged event as one atomic commit and fsyncs it; with a checkpoint when
    /// one is due. On an error nothing staged is acknowledged, and the state is folded again
    /// from what the store holds.
    pub fn commit_staged(&mut self) -> Result<()> {
        self.check_nothing_lost()?;
        if self.in_flight.is_empty() {
            // Nothing ahead of it: commit on this thread (no hand-off to wait for).
            if self.staged.is_empty() {
                return Ok(());
            }
            self.widen_for_checkpoint()?;
            let result = self
                .checkpointer
                .due(&self.state, &*self.store)
                .and_then(|cp| self.store.commit(&self.staged, cp.map(Snapshot::encode)));
            self.staged.clear();
            if let Err(e) = result {
                self.recover()?;
                return Err(e);
            }
            debug_assert_eq!(self.state.last_seq, self.store.head().events());
            return Ok(());
        }
        // Commits reach the store in order: once this one is durable, so is every earlier
        // one (an all-duplicate request stages nothing but may name events in flight).
        let result = self.commit_async().and_then(|ticket| ticket.wait());
        self.settle()?;
        result
    }

    /// Hands every staged event to the writer thread as one atomic commit (with a checkpoint
    /// when one is due) and returns without waiting: the ticket tells when it is durable.
    /// With nothing staged, the ticket is the last commit in flight's (a request of only
    /// duplicates is acknowledged once what it names is durable).
    pub fn commit_async(&mut self) -> Result<Ticket> {
        self.reap()?;
        while !self.staged.is_empty() && self.in_flight_full() {
            if let Some(f) = self.in_flight.front() {
                // A failure is recovered by `reap` and reported below.
                f.done.wait_finished();
            }
            self.reap()?;
        }
        self.check_nothing_lost()?;
        if self.staged.is_empty() {
            let last = self.in_flight.back().map_or_else(|| Arc::new(Done::finished()), |f| Arc::clone(&f.done));
            return Ok(Ticket(last));
        }
        if self.checkpointer.reads_store_when_due(&self.state) {
            self.settle()?;
        }
        self.widen_for_checkpoint()?;
        let checkpoint = match self.checkpointer.due(&self.state, &*self.store) {
            Ok(cp) => cp,
            Err(e) => {
                self.staged.clear();
                self.recover()?;
                return Err(e);
            }
        };
        // The next batch is likely the size of this one: no growing from empty again.
        let capacity = self.staged.len();
        let reused = self.writer.as_ref().and_then(|w| w.recycled.try_recv().ok()).filter(|v| v.capacity() >= capacity);
        let next = reused.unwrap_or_else(|| Vec::with_capacity(capacity));
        let events = Arc::new(std::mem::replace(&mut self.staged, next));
        let done = Arc::new(Done::default());
        let spent = std::mem::take(&mut self.spent);
        let job = Job { events: Arc::clone(&events), checkpoint, done: Arc::clone(&done), spent };
        let writer = match &self.writer {
            Some(w) => w,
            None => self.writer.insert(WriterThread::start(&self.store)?),
        };
        let sent = writer.jobs.send(job);
        self.in_flight.push_back(InFlight { events, done: Arc::clone(&done) });
        if sent.is_err() {
            done.finish(Err(commit_failed("the writer thread has stopped")));
        }
        Ok(Ticket(done))
    }

    /// A checkpoint records every plan: a scoped ledger widens before one is taken.
    fn widen_for_checkpoint(&mut self) -> Result<()> {
        if !self.is_whole() && self.checkpointer.is_due_now(&self.state, &*self.store)? {
            self.widen()?;
        }
        Ok(())
    }

    fn in_flight_full(&self) -> bool {
        self.in_flight.len() >= COMMITS_IN_FLIGHT_MAX
            || self.in_flight.iter().map(|f| f.events.len()).sum::<usize>() >= EVENTS_IN_FLIGHT_MAX
    }

    /// Fails (once) the commit of staged events a failed commit in flight discarded. Events
    /// staged since then belong to the same commit, which is refused whole: they go too.
    fn check_nothing_lost(&mut self) -> Result<()> {
        if std::mem::take(&mut self.staged_lost) {
            if !self.staged.is_empty() {
                self.recover()?;
                self.staged_lost = false;
            }
            return Err(commit_failed("an earlier commit in the pipeline failed; nothing of this one was written"));
        }
        Ok(())
    }

    /// Waits until every commit in flight is durable (or failed).
    pub fn settle(&mut self) -> Result<()> {
        for f in &self.in_flight {
            // A failure is recovered by `reap`; its ticket reports it.
            f.done.wait_finished();
        }
        self.reap()
    }

    /// Drops the commits in flight that are durable. After a failed one, waits for the rest
    /// (they fail too) and folds the state again from the store.
    fn reap(&mut self) -> Result<()> {
        let mut failed = false;
        while let Some(f) = self.in_flight.front() {
            let (finished, f_failed) = f.done.state();
            if !finished {
                break;
            }
            failed |= f_failed;
            if let Some(f) = self.in_flight.pop_front() {
                self.spent.push(f.events);
            }
        }
        if failed {
            self.recover()?;
        }
        Ok(())
    }

    /// After a failed commit: forgets everything not in the store (commits in flight fail
    /// after it, staged events are numbered after them) and folds the state again.
    /// After a panic while staging or committing (a bug, caught by group commit): drops what
    /// is staged and folds the state again from the store, whose every commit is whole. The
    /// caller fails the requests whose events were staged.
    pub fn abandon_staged(&mut self) -> Result<()> {
        self.recover()?;
        self.staged_lost = false;
        Ok(())
    }

    fn recover(&mut self) -> Result<()> {
        for f in self.in_flight.drain(..) {
            f.done.wait_finished();
        }
        self.staged_lost |= !self.staged.is_empty();
        self.staged.clear();
        self.ids = None;
        self.stale = true;
        self.checkpointer.reset(&*self.store)?;
        self.state = self.fold_scope()?;
        self.stale = false;
        Ok(())
    }

    /// Folds in what other writers appended to a shared store since this ledger last read
    /// it, so the next decision is taken on the state every writer sees (and a state left
    /// half folded by a failed commit is folded again). With nothing new, one read of the
    /// head. The embedded store has one writer: nothing to do.
    pub fn catch_up(&mut self) -> Result<()> {
        if self.stale {
            return self.recover();
        }
        if !self.store.is_shared() {
            return Ok(());
        }
        self.settle()?;
        let head = self.store.latest_head()?.events();
        if head == self.state.last_seq || !self.staged.is_empty() {
            return Ok(());
        }
        if head < self.state.last_seq || !self.is_whole() {
            // Fewer events than this ledger has seen (a standby promoted without them), or a
            // ledger of some plans only: folded again from the store as it is.
            return self.recover();
        }
        self.stale = true;
        let (state, ids) = (&mut self.state, &mut self.ids);
        self.store.fold_events(state.last_seq + 1, &mut |e| {
            projection::check_fold(state, e)?;
            projection::apply(state, e);
            if let Some(ids) = ids.as_mut() {
                ids.insert(e.id, e.seq);
            }
            Ok(true)
        })?;
        // Others' events changed plans this ledger's checkpointer never saw change: the next
        // checkpoint is taken whole (partitions are content-addressed: the unchanged ones
        // cost nothing to store again).
        self.checkpointer.reset(&*self.store)?;
        self.stale = false;
        Ok(())
    }

    /// Stages with `stage` and commits what it staged, on the state as the store holds it.
    /// On a shared store the first attempt is decided on the state as this ledger has it
    /// (no round trip to ask for the head): a commit is refused unless it starts at the
    /// store's head, so what it writes was decided on the head; when another writer got in
    /// first, or the connection to the database dropped, the ledger folds in what the store
    /// holds and stages again, for up to `SHARED_RETRY_WINDOW`. A group that wrote nothing
    /// and has a refusal (`refused`) is checked against the head too, so no request is
    /// refused on a state that others had moved past. Submissions keep their ids across
    /// attempts (the ids the ledger generated are handed out again, in the same order), so a
    /// commit that did land before the connection dropped comes back as duplicates, never
    /// twice. Returns what the last `stage` returned and how the commit went.
    pub fn stage_and_commit<T>(
        &mut self,
        mut stage: impl FnMut(&mut Ledger) -> T,
        refused: impl Fn(&T) -> bool,
    ) -> (Option<T>, Result<()>) {
        let started = std::time::Instant::now();
        let mut pause = SHARED_RETRY_PAUSE;
        let mut staged = None;
        let mut catch_up = self.stale;
        self.replay = Some(Replay::default());
        let done = loop {
            let attempt = (if catch_up { self.catch_up() } else { Ok(()) }).and_then(|()| {
                if let Some(r) = self.replay.as_mut() {
                    r.next = 0;
                }
                staged = Some(stage(self));
                let writes = !self.staged.is_empty();
                self.commit_staged().map(|()| writes)
            });
            match attempt {
                Ok(false) if !catch_up && staged.as_ref().is_some_and(&refused) => {
                    // Refused without writing: on the head, or on a state others moved past?
                    match self.store.latest_head() {
                        Ok(head) if head.events() == self.state.last_seq => break Ok(()),
                        Ok(_) => catch_up = true,
                        Err(e) => break Err(e),
                    }
                }
                Ok(_) => break Ok(()),
                Err(e) if e.is_retryable() && started.elapsed() < SHARED_RETRY_WINDOW => {
                    catch_up = true;
                    if matches!(e.root(), Error::Database { .. }) {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(SHARED_RETRY_PAUSE_MAX);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.replay = None;
        (staged, done)
    }

    /// A new id for a submission that brought none: while `stage_and_commit` retries, the
    /// ids of its first attempt again, in order.
    pub(super) fn next_id(&mut self) -> uuid::Uuid {
        match self.replay.as_mut() {
            Some(r) if r.next < r.drawn.len() => {
                r.next += 1;
                r.drawn[r.next - 1]
            }
            Some(r) => {
                let id = self.id_source.next_id();
                r.drawn.push(id);
                r.next += 1;
                id
            }
            None => self.id_source.next_id(),
        }
    }
}

impl Drop for Ledger {
    /// Commits in flight complete (the writer finishes its queue) before the store closes.
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            drop(w.jobs);
            let _ = w.thread.join();
        }
    }
}

/// Folds the store's log up to and including `until_seq` into a fresh state.
pub fn replay_store(store: &dyn Store, until_seq: u64) -> Result<State> {
    checkpoint::state_at(store, until_seq, None)
}

pub use crate::projection::check_fold;

#[cfg(test)]
mod tests {
    use super::writer::write_jobs;
    use super::*;
    use crate::clock::{CountingIds, SteppingClock};
    use crate::store::EmbeddedStore;
    use crate::workload::{self, Workload};
    use std::sync::mpsc;
    use uuid::Uuid;

    /// Decides `batch` and takes its events out, as if handed to a writer (numbered after what
    /// came before).
    fn stage_out(ledger: &mut Ledger, batch: &[Submission]) -> Arc<Vec<Event>> {
        ledger.stage(workload::ACTOR, batch, &|_| None).unwrap();
        let events = Arc::new(std::mem::take(&mut ledger.staged));
        // Where later batches' lookups find them (a correction names an earlier event).
        ledger.in_flight.push_back(InFlight { events: Arc::clone(&events), done: Arc::new(Done::default()) });
        events
    }

    fn open(dir: &Path) -> Ledger {
        Ledger::open(dir, Box::new(SteppingClock::new(workload::clock_start(), 1_000)), Box::new(CountingIds(0)))
            .unwrap()
    }

    fn job(events: &Arc<Vec<Event>>, checkpoint: Option<Snapshot>) -> (Job, Arc<Done>) {
        let done = Arc::new(Done::default());
        (Job { events: Arc::clone(events), checkpoint, done: Arc::clone(&done), spent: Vec::new() }, done)
    }

    #[test]
    fn the_writer_commits_what_queued_as_one_and_a_checkpoint_or_a_gap_ends_a_group() {
        let tmp = tempfile::tempdir().unwrap();
        let w = Workload { projects_per_year: 50, first_year: 2001, batch: 40 };
        let mut ledger = open(tmp.path());
        let batches: Vec<Vec<Submission>> = w.batches(400).collect();
        let mut decided: Vec<Arc<Vec<Event>>> = Vec::new();
        let mut checkpoint = None;
        for (i, batch) in batches.iter().take(6).enumerate() {
            decided.push(stage_out(&mut ledger, batch));
            if i == 2 {
                checkpoint = Some(ledger.checkpointer.take(&ledger.state));
            }
        }
        let last_of = |i: usize| decided[i].last().unwrap().seq;
        let store = ledger.shared_store();
        // Queued before the writer starts, as when it falls behind: 0, 1 and 2 (which carries
        // a checkpoint) in one commit; 3 and 4 in the next; 5 skipped, so 6 leaves a gap.
        let (tx, rx) = mpsc::channel();
        let mut dones = Vec::new();
        for (i, events) in decided.iter().enumerate().take(5) {
            let (j, d) = job(events, if i == 2 { checkpoint.take() } else { None });
            tx.send(j).unwrap();
            dones.push(d);
        }
        let gap = stage_out(&mut ledger, &batches[6]);
        let (j, gap_done) = job(&gap, None);
        tx.send(j).unwrap();
        drop(tx);
        write_jobs(Arc::clone(&store), rx, mpsc::sync_channel(1).0);
        for d in &dones {
            d.wait().unwrap();
        }
        let err = gap_done.wait().unwrap_err();
        assert!(err.to_string().contains("earlier commit"), "{err}");
        assert_eq!(store.head().events(), last_of(4));
        // Two commits, so two chunks (each commit ends its chunk; these are far below the size cut).
        let chunks: Vec<u64> = store.raw_chunks().map(|c| c.unwrap().0).collect();
        assert_eq!(chunks, vec![1, last_of(2) + 1]);
        let seqs: Vec<u64> = store.checkpoints().map(|c| c.unwrap().0).collect();
        assert_eq!(seqs, vec![last_of(2)]);
        let logged: Vec<Event> = store.events(1).map(|e| e.unwrap()).collect();
        let queued: Vec<Event> = decided.iter().take(5).flat_map(|d| d.iter().cloned()).collect();
        assert_eq!(logged, queued);
        // The checkpoint the writer encoded is the state after batch 2, as a replay gives it.
        let at_2 = checkpoint::state_at(&*store, last_of(2), None).unwrap();
        let mut folded = State::default();
        queued.iter().take_while(|e| e.seq <= last_of(2)).for_each(|e| projection::apply(&mut folded, e));
        assert_eq!(at_2, folded);
        let v = crate::verify::verify(&*store).unwrap();
        assert!(v.ok(), "{v:?}");
        drop(store);
        drop(ledger);
        // Reopened (the log read back): the same events, hash chain and head.
        let reopened = EmbeddedStore::open(tmp.path()).unwrap();
        assert_eq!(reopened.head().events(), last_of(4));
        assert_eq!(reopened.events(1).map(|e| e.unwrap()).collect::<Vec<_>>(), queued);
    }

    #[test]
    fn a_panic_on_the_writer_fails_its_commit_and_every_later_one_instead_of_hanging() {
        let tmp = tempfile::tempdir().unwrap();
        let w = Workload { projects_per_year: 20, first_year: 2001, batch: 30 };
        let mut ledger = open(tmp.path());
        let batches: Vec<Vec<Submission>> = w.batches(100).collect();
        let first = stage_out(&mut ledger, &batches[0]);
        stage_out(&mut ledger, &batches[1]);
        // Not following the first: a group of its own, after the panic.
        let third = stage_out(&mut ledger, &batches[2]);
        // A seq gap inside one commit breaks the store's invariant: its assertion panics.
        let mut broken = (*first).clone();
        broken.remove(1);
        let (tx, rx) = mpsc::channel();
        let (j1, d1) = job(&Arc::new(broken), None);
        let (j2, d2) = job(&third, None);
        tx.send(j1).unwrap();
        tx.send(j2).unwrap();
        drop(tx);
        write_jobs(ledger.shared_store(), rx, mpsc::sync_channel(1).0);
        assert!(d1.wait().unwrap_err().to_string().contains("panicked"));
        assert!(d2.wait().unwrap_err().to_string().contains("panicked earlier"));
        // A commit from another thread (a lone `submit` commits on its own) is refused too,
        // even one that would be well formed: the store may hold half of the panicked one.
        let err = ledger.store().commit(&first, None).unwrap_err();
        assert!(err.to_string().contains("reopen the store"), "{err}");
        assert_eq!(ledger.store().head().events(), 0);
    }

    /// A commit in flight fails while a group is being staged, and a refused request in that
    /// group finds out (its rollback waits for the commits in flight): what was staged before
    /// is discarded then, and what is staged after it must go too when the group's commit is
    /// refused, or it would be written with the next group while its submitter heard "failed".
    #[test]
    fn a_commit_refused_after_a_failure_in_flight_leaves_nothing_staged() {
        let tmp = tempfile::tempdir().unwrap();
        let w = Workload { projects_per_year: 20, first_year: 2001, batch: 100 };
        let mut ledger = open(tmp.path());
        ledger.submit(workload::ACTOR, &w.batches(100).next().unwrap(), &|_| None).unwrap();
        let target = workload::investments(ledger.store(), 1).unwrap()[0];
        let correct = |event: u64, cents: i64| workload::correction(event, cents, "r");
        let durable = ledger.store().head().events();
        stage_out(&mut ledger, &[correct(target, 101)]);
        let in_flight = Arc::clone(&ledger.in_flight.back().unwrap().done);
        ledger.stage(workload::ACTOR, &[correct(target, 102)], &|_| None).unwrap();
        in_flight.finish(Err(commit_failed("the disk is gone")));
        // Its second correction names no event: refused, and rolling back meets the failure.
        let refused = ledger.stage(workload::ACTOR, &[correct(target, 103), correct(durable + 99, 1)], &|_| None);
        assert!(refused.is_err());
        ledger.stage(workload::ACTOR, &[correct(target, 104)], &|_| None).unwrap();
        let err = ledger.commit_async().err().unwrap();
        assert!(err.to_string().contains("nothing of this one was written"), "{err}");
        assert!(ledger.staged.is_empty());
        assert_eq!(ledger.state.last_seq, durable);
        assert_eq!(ledger.state, replay_store(ledger.store(), u64::MAX).unwrap());
        // The next commit writes only its own event.
        ledger.submit(workload::ACTOR, &[correct(target, 105)], &|_| None).unwrap();
        assert_eq!(ledger.store().head().events(), durable + 1);
    }

    #[test]
    fn the_id_index_finds_what_it_holds_across_its_shards() {
        let mut index = IdIndex::with_capacity(0);
        assert_eq!(index.get(&Uuid::from_u128(7)), None);
        for n in 0..2_000u128 {
            assert!(index.insert_new(Uuid::from_u128(n << 64 | n), n as u64));
        }
        assert!(!index.insert_new(Uuid::from_u128(5 << 64 | 5), 99), "an id already indexed is refused");
        assert_eq!(index.get(&Uuid::from_u128(5 << 64 | 5)), Some(&5));
        index.remove(&Uuid::from_u128(5 << 64 | 5));
        assert!(!index.contains_key(&Uuid::from_u128(5 << 64 | 5)));
        index.insert(Uuid::from_u128(5 << 64 | 5), 6);
        assert_eq!(index.get(&Uuid::from_u128(5 << 64 | 5)), Some(&6));
        assert!((0..2_000u128).all(|n| index.contains_key(&Uuid::from_u128(n << 64 | n))));
        assert!(index.shards.iter().filter(|s| !s.is_empty()).count() > 200, "ids spread over the shards");
    }

    /// After a crash sled may hold any part of the records after `J` (it writes its buffers
    /// as they fill, and a record's keys are separate inserts). Here it holds the last
    /// record's head but not its chunk: reopening applies every record after `J` again, whole.
    #[test]
    fn reopening_applies_again_every_record_after_j_even_one_sled_holds_in_part() {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Box::new(SteppingClock::new(workload::clock_start(), 1_000));
        let mut ledger = Ledger::open(tmp.path(), clock, Box::new(CountingIds(0))).unwrap();
        let w = Workload { projects_per_year: 20, first_year: 2001, batch: 30 };
        for batch in w.batches(200).take(3) {
            ledger.submit(workload::ACTOR, &batch, &|_| None).unwrap();
        }
        let events: Vec<Event> = ledger.store().events(1).map(|e| e.unwrap()).collect();
        let chunks: Vec<u64> = ledger.store().raw_chunks().map(|c| c.unwrap().0).collect();
        assert_eq!(chunks.len(), 3, "one chunk per commit");
        drop(ledger);
        crate::store::test_hooks::forget_chunk_and_applied(tmp.path(), chunks[2]).unwrap();
        let store = EmbeddedStore::open(tmp.path()).unwrap();
        assert_eq!(store.raw_chunks().map(|c| c.unwrap().0).collect::<Vec<_>>(), chunks);
        assert_eq!(store.events(1).map(|e| e.unwrap()).collect::<Vec<_>>(), events);
        assert!(crate::verify::verify(&store).unwrap().ok());
    }
}
