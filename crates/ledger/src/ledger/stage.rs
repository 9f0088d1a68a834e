//! Staging: a request's submissions are checked (signature, text, size), decided against
//! the state, given their envelopes and folded in, all or nothing.

use std::collections::HashSet;

use uuid::Uuid;

use super::{Ack, IdIndex, Ledger};
use crate::decide::{self, EventRef, Submission};
use crate::error::{Error, Result};
use crate::event::{Event, SCHEMA_VERSION};
use crate::keys::Verified;
use crate::model::check_text;
use crate::projection;
use crate::store::Store;
use crate::store::BATCH_EVENTS_MAX;

/// How staging checks each submission's signature.
#[derive(Clone, Copy)]
enum Signatures<'a> {
    /// In full, on the state (`keys::check_submission`).
    Check,
    /// Verified before the lock (`keys::verify_request`): only each verified key against the
    /// state (`keys::check_verified_key`).
    Verified(&'a Verified),
}

impl Ledger {
    /// Decides `submissions` and applies them to the state, staged for the next commit.
    /// All or nothing: on an error, nothing of this request stays staged.
    pub fn stage(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
    ) -> Result<Vec<Ack>> {
        self.stage_expecting(actor, submissions, origin, &[])
    }

    /// As `stage`, first checking optimistic concurrency: each named stream must be at the
    /// given version (0: no event yet), else a conflict and nothing staged.
    pub fn stage_expecting(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        expected: &[(String, u64)],
    ) -> Result<Vec<Ack>> {
        self.stage_checked(actor, submissions, origin, expected, Signatures::Check)
    }

    /// As `stage_expecting`, for a request whose signatures and texts `keys::verify_request`
    /// verified before the ledger was locked: what is left is each verified key against the
    /// state as it is when its submission is staged (registered to the actor, not revoked, a
    /// role that writes), so a key revoked after the verification — even by a submission
    /// staged just before — is refused.
    pub fn stage_verified(
        &mut self,
        request: &Verified,
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        expected: &[(String, u64)],
    ) -> Result<Vec<Ack>> {
        if *request.ledger() != self.ledger_key {
            return Err(Error::forbidden(msg!(
                "keys.signed_text_refused",
                why = msg!("keys.signed_text_other_ledger")
            )));
        }
        let signatures = Signatures::Verified(request);
        self.stage_checked(request.actor(), request.submissions(), origin, expected, signatures)
    }

    fn stage_checked(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        expected: &[(String, u64)],
        signatures: Signatures<'_>,
    ) -> Result<Vec<Ack>> {
        if self.stale && self.staged.is_empty() {
            // A fold after a failed commit did not complete: nothing is decided on that state.
            self.recover()?;
        }
        match self.stage_once(actor, submissions, origin, expected, signatures) {
            // A scoped ledger refuses only what a whole one refuses, in its words (a message
            // may name near misses among every plan): decided again on the whole state.
            Err(e)
                if !self.is_whole()
                    && !matches!(e, Error::Io { .. } | Error::Corrupt { .. } | Error::Storage { .. }) =>
            {
                self.widen()?;
                self.stage_once(actor, submissions, origin, expected, signatures)
            }
            other => other,
        }
    }

    fn stage_once(
        &mut self,
        actor: &str,
        submissions: &[Submission],
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        expected: &[(String, u64)],
        signatures: Signatures<'_>,
    ) -> Result<Vec<Ack>> {
        self.id_index()?;
        // A resend of what is already recorded is acknowledged as it was, whatever the
        // stream has become since: the expectation held when it was first written.
        let mut resend = !expected.is_empty();
        for s in submissions {
            if !resend {
                break;
            }
            resend = match (s.id, &self.ids) {
                (Some(id), Some(ids)) => find_id(ids, &*self.store, self.ids_on_disk, &id)?.is_some(),
                _ => false,
            };
        }
        for (stream, version) in expected.iter().filter(|_| !resend) {
            let at = self
                .state
                .version_of_stream(stream)
                .ok_or_else(|| Error::invalid(msg!("stage.not_a_stream", stream = stream)))?;
            if at != *version {
                return Err(Error::conflict(msg!(
                    "stage.stream_version",
                    stream = stream,
                    at = at,
                    expected = version
                )));
            }
        }
        let mark = self.staged.len();
        match self.stage_inner(actor, submissions, origin, signatures) {
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
        if self.staged.len() == mark {
            return Ok(());
        }
        // The fold below starts from the store: it must hold everything before `staged`.
        self.settle()?;
        if self.staged.len() < mark {
            // A failed commit in flight discarded everything staged and folded the state again.
            return Ok(());
        }
        if let Some(ids) = self.ids.as_mut() {
            for e in &self.staged[mark..] {
                ids.remove(&e.id);
            }
        }
        self.staged.truncate(mark);
        let mut state = self.fold_scope()?;
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
        origin: &dyn Fn(usize) -> Option<crate::Msg>,
        signatures: Signatures<'_>,
    ) -> Result<Vec<Ack>> {
        if self.staged.is_empty() {
            // Only here, where it cannot discard what is staged (`commit_async` does then).
            self.reap()?;
        }
        // Seq of the first staged event: after the store's log and the commits in flight.
        let staged_from = self.state.last_seq + 1 - self.staged.len() as u64;
        // Ledger time never goes back: not behind the log, nor behind what is in flight or
        // staged (the state has seen all of it).
        let now = self.clock.now().max(self.state.last_recorded_at);
        let today = now.date_in(self.zone);
        let mut acks = Vec::new();
        let mut request_ids: HashSet<Uuid, crate::projection::Hasher> =
            HashSet::with_capacity_and_hasher(submissions.len(), crate::projection::Hasher::default());
        let mut ids = self.ids.take().unwrap_or_else(|| IdIndex::with_capacity(0));
        let on_disk = self.ids_on_disk;
        let result = (|| {
            for (i, sub) in submissions.iter().enumerate() {
                let wrap = |e: Error| match origin(i) {
                    Some(at) => e.at(at),
                    None => e,
                };
                if let Some(note) = &sub.note {
                    check_text("note", note, false).map_err(wrap)?;
                }
                match signatures {
                    Signatures::Check => crate::keys::check_submission(&self.state, &self.ledger_key, actor, sub),
                    Signatures::Verified(v) => crate::keys::check_verified_key(&self.state, actor, v.key(i)),
                }
                .map_err(wrap)?;
                let staged = &self.staged;
                let in_flight = &self.in_flight;
                let store = &*self.store;
                let lookup = |r: &EventRef| -> Result<Option<Event>> {
                    let seq = match r {
                        EventRef::Seq(s) => *s,
                        EventRef::Id(id) => match find_id(&ids, store, on_disk, id)? {
                            Some(s) => s,
                            None => return Ok(None),
                        },
                    };
                    if seq >= staged_from {
                        return Ok(staged.get((seq - staged_from) as usize).cloned());
                    }
                    for f in in_flight {
                        if let Some(first) = f.events.first().map(|e| e.seq).filter(|&first| seq >= first) {
                            if let Some(e) = f.events.get((seq - first) as usize) {
                                return Ok(Some(e.clone()));
                            }
                        }
                    }
                    store.get_event(seq)
                };
                if let Some(id) = sub.id {
                    if !request_ids.insert(id) {
                        return Err(wrap(Error::invalid(msg!("stage.id_twice", id = id))));
                    }
                    if let Some(seq) = find_id(&ids, store, on_disk, &id)? {
                        let stored = lookup(&EventRef::Seq(seq))?
                            .ok_or_else(|| Error::corrupt(seq, msg!("stage.indexed_id_no_event")))?;
                        let resolve = |r: &EventRef| lookup(r).ok().flatten().map(|e| e.seq);
                        if decide::same_submission(sub, actor, &stored, &resolve) {
                            acks.push(Ack { seq, id, kind: stored.payload.kind(), duplicate: true });
                            continue;
                        }
                        return Err(wrap(Error::conflict(msg!(
                            "stage.id_recorded_otherwise",
                            id = id,
                            seq = seq,
                            kind = stored.payload.kind(),
                            actor = &stored.actor
                        ))));
                    }
                }
                let payloads = decide::decide(&self.state, actor, &sub.command, today, &lookup).map_err(wrap)?;
                // The edges check every figure as it enters; a command built in code is held
                // to the same bounds here.
                if let Some(what) = payloads.iter().find_map(|p| p.out_of_bounds()) {
                    return Err(wrap(Error::invalid(what)));
                }
                if self.staged.len() + payloads.len() > BATCH_EVENTS_MAX {
                    return Err(wrap(Error::invalid(msg!("stage.batch_too_large", max = BATCH_EVENTS_MAX))));
                }
                for (k, payload) in payloads.into_iter().enumerate() {
                    let id = match (k, sub.id) {
                        (0, Some(id)) => id,
                        _ => loop {
                            let id = self.next_id();
                            // Indexed with the seq it gets below.
                            let durable = on_disk && self.store.seq_of_id(&id)?.is_some();
                            if !durable && ids.insert_new(id, staged_from + self.staged.len() as u64) {
                                break id;
                            }
                        },
                    };
                    let event = Event {
                        seq: staged_from + self.staged.len() as u64,
                        id,
                        stream_version: self.state.stream_version(&payload) + 1,
                        recorded_at: now,
                        actor: actor.into(),
                        schema: SCHEMA_VERSION,
                        note: sub.note.clone(),
                        signature: sub.signature.clone(),
                        payload,
                    };
                    let bytes = crate::codec::event_len(&event);
                    if bytes > crate::codec::EVENT_BYTES_MAX {
                        return Err(wrap(Error::invalid(msg!(
                            "stage.event_too_large",
                            kind = event.payload.kind(),
                            bytes = bytes,
                            max = crate::codec::EVENT_BYTES_MAX / 1024
                        ))));
                    }
                    projection::apply(&mut self.state, &event);
                    self.checkpointer.touch(&self.state, &event.payload, bytes);
                    if k == 0 && sub.id.is_some() {
                        ids.insert(id, event.seq);
                    }
                    acks.push(Ack { seq: event.seq, id, kind: event.payload.kind(), duplicate: false });
                    self.staged.push(event);
                }
            }
            Ok(())
        })();
        self.ids = Some(ids);
        result.map(|()| acks)
    }
}

/// The seq of the event with `id`: from `ids` (every id; or with `on_disk`, those in flight
/// and staged), else, `on_disk`, from the store's id index.
fn find_id(ids: &IdIndex, store: &dyn Store, on_disk: bool, id: &Uuid) -> Result<Option<u64>> {
    if let Some(&seq) = ids.get(id) {
        return Ok(Some(seq));
    }
    if !on_disk {
        return Ok(None);
    }
    store.seq_of_id(id)
}
