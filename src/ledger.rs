//! The ledger: a store, the state folded from it, the idempotency index and the checkpointer,
//! behind one API. `stage` runs decide → envelope → apply for each submission of a request;
//! `commit_staged` writes everything staged in one atomic, durable sled batch. `submit` is
//! the two together; group commit (`commit::GroupCommit`) stages many requests, then commits
//! them with one fsync.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use uuid::Uuid;

use crate::checkpoint::{self, Checkpointer};
use crate::clock::{Clock, IdSource};
use crate::decide::{self, EventRef, Submission};
use crate::error::{Error, Result};
use crate::event::{Event, SCHEMA_VERSION};
use crate::model::check_text;
use crate::projection::{self, State};
use crate::store::{Store, BATCH_EVENTS_MAX};

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
    store: Store,
    /// The state after the committed log and the staged events.
    state: State,
    /// id → seq of every committed and staged event; built on first need (reads need none).
    ids: Option<HashMap<Uuid, u64, crate::projection::Hasher>>,
    /// Decided and applied to `state`, not yet committed; numbered from the store's head.
    staged: Vec<Event>,
    checkpointer: Checkpointer,
    clock: Box<dyn Clock>,
    id_source: Box<dyn IdSource>,
}

impl Ledger {
    /// Opens the store in `dir` and folds its log (from the latest checkpoint) into state.
    pub fn open(dir: &Path, clock: Box<dyn Clock>, id_source: Box<dyn IdSource>) -> Result<Ledger> {
        let store = Store::open(dir)?;
        let state = checkpoint::state_at(&store, u64::MAX, None)?;
        let checkpointer = Checkpointer::resume(&store)?;
        Ok(Ledger { store, state, ids: None, staged: Vec::new(), checkpointer, clock, id_source })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for tests that change its limits.
    #[doc(hidden)]
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    fn id_index(&mut self) -> Result<&mut HashMap<Uuid, u64, crate::projection::Hasher>> {
        if self.ids.is_none() {
            let mut m = HashMap::with_capacity_and_hasher(
                (self.store.head().events() as usize).max(self.staged.len()),
                crate::projection::Hasher::default(),
            );
            self.store.for_each_id(|id, seq| {
                m.insert(id, seq);
            })?;
            for e in &self.staged {
                m.insert(e.id, e.seq);
            }
            self.ids = Some(m);
        }
        // Filled just above when it was empty.
        Ok(self.ids.get_or_insert_with(HashMap::default))
    }

    /// Decides and commits `submissions` from `actor` as one atomic, durable batch.
    /// `origin(i)` names where submission `i` came from, for error messages ("line 3").
    /// On any error nothing is written and the state is as before.
    pub fn submit(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
    ) -> Result<Vec<Ack>> {
        self.submit_expecting(actor, submissions, origin, &[])
    }

    /// As `submit`, with expected stream versions (see `stage_expecting`).
    pub fn submit_expecting(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
        expected: &[(String, u64)],
    ) -> Result<Vec<Ack>> {
        let acks = self.stage_expecting(actor, submissions, origin, expected)?;
        self.commit_staged()?;
        Ok(acks)
    }

    /// Decides `submissions` and applies them to the state, staged for the next commit.
    /// All or nothing: on an error, nothing of this request stays staged.
    pub fn stage(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
    ) -> Result<Vec<Ack>> {
        self.stage_expecting(actor, submissions, origin, &[])
    }

    /// As `stage`, first checking optimistic concurrency: each named stream must be at the
    /// given version (0: no event yet), else a conflict and nothing staged.
    pub fn stage_expecting(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
        expected: &[(String, u64)],
    ) -> Result<Vec<Ack>> {
        self.id_index()?;
        // A resend of what is already recorded is acknowledged as it was, whatever the
        // stream has become since: the expectation held when it was first written.
        let resend = !expected.is_empty()
            && self
                .ids
                .as_ref()
                .is_some_and(|ids| submissions.iter().all(|s| s.id.is_some_and(|id| ids.contains_key(&id))));
        for (stream, version) in expected.iter().filter(|_| !resend) {
            let at = self.state.version_of_stream(stream).ok_or_else(|| {
                Error::invalid(format!(
                    "--expect '{stream}' is not a stream (plan/P, dept/D, key/K, plan/P/project/X, plan/P/indicator/X)"
                ))
            })?;
            if at != *version {
                return Err(Error::Conflict(format!("stream {stream} is at version {at}, not the expected {version}")));
            }
        }
        let mark = self.staged.len();
        match self.stage_inner(actor, submissions, origin) {
            Ok(acks) => Ok(acks),
            Err(e) => {
                self.unstage(mark)?;
                Err(e)
            }
        }
    }

    /// Drops staged events from `mark` on. The state may hold some of them: when it does,
    /// fold it again (from the latest checkpoint) and re-apply what stays staged. Refusals
    /// are rare; copying the state before every request to roll back would tax every append.
    fn unstage(&mut self, mark: usize) -> Result<()> {
        if self.state.last_seq == self.store.head().events() + mark as u64 {
            return Ok(());
        }
        if let Some(ids) = self.ids.as_mut() {
            for e in &self.staged[mark..] {
                ids.remove(&e.id);
            }
        }
        self.staged.truncate(mark);
        let mut state = checkpoint::state_at(&self.store, u64::MAX, None)?;
        for e in &self.staged {
            projection::apply(&mut state, e);
        }
        self.state = state;
        Ok(())
    }

    fn stage_inner(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
    ) -> Result<Vec<Ack>> {
        let head = self.store.head().clone();
        // Ledger time never goes back: not behind the log, nor behind what is staged.
        let floor = self.staged.last().map_or(head.last_recorded_at, |e| e.recorded_at);
        let now = self.clock.now().max(floor);
        let today = now.date();
        let mut acks = Vec::new();
        let mut request_ids: HashSet<Uuid> = HashSet::new();
        let mut ids = self.ids.take().unwrap_or_default();
        let result = (|| {
            for (i, sub) in submissions.iter().enumerate() {
                let wrap = |e: Error| match origin(i) {
                    Some(at) => e.at(at),
                    None => e,
                };
                if let Some(note) = &sub.note {
                    check_text("note", note, false).map_err(wrap)?;
                }
                crate::keys::check_submission(&self.state, actor, sub).map_err(wrap)?;
                let staged = &self.staged;
                let store = &self.store;
                let lookup = |r: &EventRef| -> Result<Option<Event>> {
                    let seq = match r {
                        EventRef::Seq(s) => *s,
                        EventRef::Id(id) => match ids.get(id) {
                            Some(s) => *s,
                            None => return Ok(None),
                        },
                    };
                    if seq >= head.next_seq {
                        return Ok(staged.get((seq - head.next_seq) as usize).cloned());
                    }
                    store.get_event(seq)
                };
                if let Some(id) = sub.id {
                    if !request_ids.insert(id) {
                        return Err(wrap(Error::invalid(format!("id {id} is used twice in this batch"))));
                    }
                    if let Some(&seq) = ids.get(&id) {
                        let stored = lookup(&EventRef::Seq(seq))?
                            .ok_or_else(|| Error::Corrupt { seq, what: "indexed id has no event".into() })?;
                        let resolve = |r: &EventRef| lookup(r).ok().flatten().map(|e| e.seq);
                        if decide::same_submission(sub, actor, &stored, &resolve) {
                            acks.push(Ack { seq, id, kind: stored.payload.kind(), duplicate: true });
                            continue;
                        }
                        return Err(wrap(Error::Conflict(format!(
                            "id {id} is already recorded (seq {seq}, {} by '{}') with other content",
                            stored.payload.kind(),
                            stored.actor
                        ))));
                    }
                }
                let payloads = decide::decide(&self.state, actor, &sub.command, today, &lookup).map_err(wrap)?;
                if self.staged.len() + payloads.len() > BATCH_EVENTS_MAX {
                    return Err(wrap(Error::invalid(format!(
                        "batch is larger than {BATCH_EVENTS_MAX} events; split the file"
                    ))));
                }
                for (k, payload) in payloads.into_iter().enumerate() {
                    let id = match (k, sub.id) {
                        (0, Some(id)) => id,
                        _ => loop {
                            let id = self.id_source.next_id();
                            if !ids.contains_key(&id) {
                                break id;
                            }
                        },
                    };
                    let event = Event {
                        seq: head.next_seq + self.staged.len() as u64,
                        id,
                        stream_version: self.state.stream_version(&payload) + 1,
                        recorded_at: now,
                        actor: actor.to_string(),
                        schema: SCHEMA_VERSION,
                        note: sub.note.clone(),
                        signature: sub.signature.clone(),
                        payload,
                    };
                    projection::apply(&mut self.state, &event);
                    self.checkpointer.touch(&self.state, &event.payload);
                    ids.insert(id, event.seq);
                    acks.push(Ack { seq: event.seq, id, kind: event.payload.kind(), duplicate: false });
                    self.staged.push(event);
                }
            }
            Ok(())
        })();
        self.ids = Some(ids);
        result.map(|()| acks)
    }

    /// Writes every staged event in one atomic sled batch and fsyncs it; with a checkpoint
    /// when one is due. On an error nothing staged is acknowledged, and the state is folded
    /// again from what the store holds.
    pub fn commit_staged(&mut self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let result = self.checkpointer.due(&self.state, &self.store).and_then(|cp| self.store.commit(&self.staged, cp));
        self.staged.clear();
        if let Err(e) = result {
            self.ids = None;
            self.checkpointer.reset(&self.store)?;
            self.state = checkpoint::state_at(&self.store, u64::MAX, None)?;
            return Err(e);
        }
        debug_assert_eq!(self.state.last_seq, self.store.head().events());
        Ok(())
    }
}

/// Folds the store's log up to and including `until_seq` into a fresh state.
pub fn replay_store(store: &Store, until_seq: u64) -> Result<State> {
    checkpoint::state_at(store, until_seq, None)
}

/// Refuses to fold an event whose envelope breaks the log's invariants (a damaged or
/// tampered store), so `apply` only ever sees well-formed sequences.
pub fn check_fold(state: &State, event: &Event) -> Result<()> {
    let expected = state.stream_version(&event.payload) + 1;
    if event.stream_version != expected {
        return Err(Error::Corrupt {
            seq: event.seq,
            what: format!("stream version {} where {expected} was due", event.stream_version),
        });
    }
    if event.recorded_at < state.last_recorded_at {
        return Err(Error::Corrupt { seq: event.seq, what: "recorded_at goes back in time".into() });
    }
    if event.seq != state.last_seq + 1 {
        return Err(Error::Corrupt { seq: event.seq, what: format!("seq follows {}", state.last_seq) });
    }
    Ok(())
}
