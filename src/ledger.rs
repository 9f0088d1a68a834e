//! The ledger: a store, the state folded from it, and the idempotency index, behind one API.
//! `submit` runs decide → envelope → apply for each submission of a batch, then commits the
//! whole batch durably or nothing at all.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use uuid::Uuid;

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
    state: State,
    /// id → seq of every committed event; built on first need (reads need none of it).
    ids: Option<HashMap<Uuid, u64>>,
    clock: Box<dyn Clock>,
    id_source: Box<dyn IdSource>,
}

impl Ledger {
    /// Opens the store in `dir` and folds its log into the current state.
    pub fn open(dir: &Path, clock: Box<dyn Clock>, id_source: Box<dyn IdSource>) -> Result<Ledger> {
        let store = Store::open(dir)?;
        let state = replay_store(&store, u64::MAX)?;
        Ok(Ledger { store, state, ids: None, clock, id_source })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Looks up a committed event by seq or id.
    pub fn event(&mut self, r: &EventRef) -> Result<Option<Event>> {
        let seq = match r {
            EventRef::Seq(s) => *s,
            EventRef::Id(id) => match self.id_index()?.get(id) {
                Some(s) => *s,
                None => return Ok(None),
            },
        };
        Ok(self.store.get(seq)?.map(|s| s.event))
    }

    fn id_index(&mut self) -> Result<&HashMap<Uuid, u64>> {
        if self.ids.is_none() {
            let mut m = HashMap::with_capacity(self.store.head().events() as usize);
            self.store.for_each_id(|id, seq| {
                m.insert(id, seq);
            })?;
            self.ids = Some(m);
        }
        // Just filled above when it was empty.
        Ok(self.ids.get_or_insert_with(HashMap::new))
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
        self.id_index()?;
        match self.submit_inner(actor, submissions, origin) {
            Ok(acks) => Ok(acks),
            Err(e) => {
                // The working state may hold part of the refused batch: fold it again from
                // the log, which holds nothing of it. Refusals are rare; cloning the state on
                // every batch to roll back would tax every append instead.
                self.state = replay_store(&self.store, u64::MAX)?;
                Err(e)
            }
        }
    }

    fn submit_inner(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<String>,
    ) -> Result<Vec<Ack>> {
        let now = self.clock.now().max(self.store.head().last_recorded_at);
        let today = now.date();
        let first_seq = self.store.head().next_seq;
        let mut pending: Vec<Event> = Vec::new();
        let mut acks = Vec::new();
        let mut batch_ids: HashSet<Uuid> = HashSet::new();
        let ids = self.ids.take().unwrap_or_default();
        let result = (|| {
            for (i, sub) in submissions.iter().enumerate() {
                let wrap = |e: Error| match origin(i) {
                    Some(at) => e.at(at),
                    None => e,
                };
                if let Some(note) = &sub.note {
                    check_text("note", note, false).map_err(wrap)?;
                }
                let lookup = |r: &EventRef| -> Result<Option<Event>> {
                    let seq = match r {
                        EventRef::Seq(s) => *s,
                        EventRef::Id(id) => match ids.get(id) {
                            Some(s) => *s,
                            None => match pending.iter().find(|e| e.id == *id) {
                                Some(e) => e.seq,
                                None => return Ok(None),
                            },
                        },
                    };
                    if seq >= first_seq {
                        return Ok(pending.get((seq - first_seq) as usize).cloned());
                    }
                    Ok(self.store.get(seq)?.map(|s| s.event))
                };
                if let Some(id) = sub.id {
                    if !batch_ids.insert(id) {
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
                if pending.len() + payloads.len() > BATCH_EVENTS_MAX {
                    return Err(wrap(Error::invalid(format!(
                        "batch is larger than {BATCH_EVENTS_MAX} events; split the file"
                    ))));
                }
                for (k, payload) in payloads.into_iter().enumerate() {
                    let id = match (k, sub.id) {
                        (0, Some(id)) => id,
                        _ => loop {
                            let id = self.id_source.next_id();
                            if !ids.contains_key(&id) && batch_ids.insert(id) {
                                break id;
                            }
                        },
                    };
                    let event = Event {
                        seq: first_seq + pending.len() as u64,
                        id,
                        stream_version: self.state.stream_version(&payload) + 1,
                        recorded_at: now,
                        actor: actor.to_string(),
                        schema: SCHEMA_VERSION,
                        note: sub.note.clone(),
                        signature: None,
                        payload,
                    };
                    projection::apply(&mut self.state, &event);
                    acks.push(Ack { seq: event.seq, id, kind: event.payload.kind(), duplicate: false });
                    pending.push(event);
                }
            }
            Ok(())
        })();
        self.ids = Some(ids);
        result?;
        self.store.commit(&pending)?;
        if let Some(ids) = self.ids.as_mut() {
            for e in &pending {
                ids.insert(e.id, e.seq);
            }
        }
        Ok(acks)
    }
}

/// Folds the store's log up to and including `until_seq` into a fresh state.
pub fn replay_store(store: &Store, until_seq: u64) -> Result<State> {
    let mut state = State::default();
    for stored in store.scan(1) {
        let stored = stored?;
        if stored.event.seq > until_seq {
            break;
        }
        check_fold(&state, &stored.event)?;
        projection::apply(&mut state, &stored.event);
    }
    Ok(state)
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
    Ok(())
}
