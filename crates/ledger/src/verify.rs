//! `verify`: recomputes the hash chain from the stored bytes, and checks every invariant of
//! the log and its indexes, naming the first seq where something is wrong.

use crate::checkpoint;
use crate::codec::{self, Hash};
use crate::error::Result;
use crate::ledger::check_fold;
use crate::projection::{self, State};
use crate::store::Store;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub seq: u64,
    pub what: crate::Msg,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Events that checked out, from seq 1 up to the first problem.
    pub events: u64,
    /// Chain hash after the last event that checked out.
    pub head: Hash,
    pub problem: Option<Problem>,
    /// Plans verify dropped from memory once idle and loaded again from their verified
    /// checkpoint partition when a later event reached them.
    pub plans_reloaded: u64,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

fn fail(v: &mut Verification, seq: u64, what: impl Into<crate::Msg>) {
    v.problem = Some(Problem { seq, what: what.into() });
}

pub fn verify(store: &dyn Store) -> Result<Verification> {
    verify_with(store, false)
}

/// As `verify`; with `require_signatures`, every event after the first key registration must
/// be signed (the events before it bootstrap the ledger: plans and departments come first).
pub fn verify_with(store: &dyn Store, require_signatures: bool) -> Result<Verification> {
    verify_observed(store, require_signatures, &mut |_| {})
}

/// As `verify_with`, telling `progress` how many events are verified after each chunk (a
/// progress bar's feed; it cannot change the outcome).
pub fn verify_observed(
    store: &dyn Store,
    require_signatures: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Verification> {
    let mut v = Verification { events: 0, head: [0; 32], problem: None, plans_reloaded: 0 };
    // Checkpoints are recomputed from the events as the fold passes their seq.
    let mut state = State::default();
    let mut tree = crate::merkle::Frontier::default();
    let mut checker = checkpoint::Verifier::default();
    // Format-2 signed texts name the ledger; a store with no key can hold none of them, and
    // a key no one has stands in so that any such text is reported as another ledger's.
    let ledger_key = crate::keys::public_of(store).ok().flatten().unwrap_or([0; 32]);
    // Ids resolve references in signed events only: the index is read from the store the
    // first time one needs it (an unsigned ledger never holds every id in memory).
    let ids: std::cell::OnceCell<std::collections::HashMap<uuid::Uuid, u64, crate::projection::Hasher>> =
        std::cell::OnceCell::new();
    let id_index = || {
        ids.get_or_init(|| {
            let mut m = std::collections::HashMap::default();
            // A damaged chunk fails the scan below on its own; here it only leaves ids out.
            let _ = store.for_each_id(&mut |id, seq| {
                m.insert(id, seq);
            });
            m
        })
    };
    // The log is checked up to its head as it stood with no commit under way; a server's
    // writers may append meanwhile, and what lies beyond that head is theirs, unless the
    // head has not reached it once they are done (below).
    let head = store.settled_head();
    let end = head.events();
    let beyond_head = |seq: u64| store.settled_head().events() < seq;
    let mut checkpoints = store.checkpoints().collect::<Result<Vec<_>>>()?;
    if let Some(cp_seq) = checkpoints.iter().map(|(s, _)| *s).find(|s| *s > end) {
        if v.problem.is_none() && beyond_head(cp_seq) {
            fail(&mut v, cp_seq, msg!("verify.checkpoint_beyond_end"));
        }
    }
    checkpoints.retain(|(s, _)| *s <= end);
    let mut checkpoints = checkpoints.into_iter().peekable();
    'chunks: for chunk in store.raw_chunks() {
        if v.problem.is_some() {
            break;
        }
        let (first, bytes) = chunk?;
        if first > end {
            if beyond_head(first) {
                fail(&mut v, first, msg!("verify.events_beyond_head", first = first, events = end));
            }
            break;
        }
        let expected = v.events + 1;
        if first != expected {
            fail(&mut v, expected, msg!("verify.event_missing", first = first));
            break;
        }
        let chunk = match codec::open_chunk(&bytes) {
            Ok(c) => c,
            Err(e) => {
                fail(&mut v, first, msg!("verify.chunk_does_not_decode", error = e.to_msg()));
                break;
            }
        };
        let records = match chunk.records() {
            Ok(r) => r,
            Err(e) => {
                fail(&mut v, first, msg!("verify.chunk_does_not_decode", error = e.to_msg()));
                break;
            }
        };
        if chunk.header.prev_hash != v.head {
            fail(&mut v, first, msg!("verify.chunk_does_not_chain"));
            break;
        }
        for (i, r) in records.iter().enumerate() {
            let seq = first + i as u64;
            let hash = codec::chain_hash(&v.head, r.bytes);
            tree.push(crate::merkle::leaf_hash(r.bytes));
            if hash[..codec::HASH_PREFIX_LEN] != r.hash_prefix {
                fail(&mut v, seq, msg!("store.hash_mismatch"));
                break 'chunks;
            }
            let event = match codec::decode_event(r.bytes) {
                Ok(e) => e,
                Err(e) => {
                    fail(&mut v, seq, msg!("verify.event_does_not_decode", error = e.to_msg()));
                    break 'chunks;
                }
            };
            if event.seq != seq {
                fail(&mut v, seq, msg!("verify.event_says_seq", seq = seq, found = event.seq));
                break 'chunks;
            }
            checker.before(store, &mut state, &event)?;
            if let Some(what) = crate::keys::check_event(&state, &ledger_key, &event, &|r| match r {
                crate::decide::EventRef::Seq(s) => Some(*s),
                crate::decide::EventRef::Id(id) => id_index().get(id).copied().filter(|s| *s < seq),
            }) {
                fail(&mut v, seq, what);
                break 'chunks;
            }
            if require_signatures && event.signature.is_none() && !state.principals.is_empty() {
                fail(&mut v, seq, msg!("verify.unsigned_event"));
                break 'chunks;
            }
            if let Err(e) = check_fold(&state, &event) {
                let what = match e {
                    crate::Error::Corrupt { what, .. } => what,
                    other => other.to_msg(),
                };
                fail(&mut v, seq, what);
                break 'chunks;
            }
            projection::apply(&mut state, &event);
            v.head = hash;
            v.events = seq;
        }
        progress(v.events);
        while let Some((cp_seq, record)) = checkpoints.next_if(|(s, _)| *s <= v.events) {
            let problem = if cp_seq == v.events {
                checker.check(store, cp_seq, &record, &mut state)?
            } else {
                Some(msg!("verify.checkpoint_not_at_commit_end"))
            };
            if let Some(what) = problem {
                fail(&mut v, cp_seq, what);
                break 'chunks;
            }
        }
    }
    if let (None, Some((cp_seq, _))) = (&v.problem, checkpoints.peek()) {
        let at = *cp_seq;
        fail(&mut v, at, msg!("verify.checkpoint_beyond_end"));
    }
    if v.problem.is_none() {
        if head.events() != v.events {
            let at = v.events.min(head.events()) + 1;
            let what = msg!("verify.head_count_differs", events = v.events, head = head.events());
            fail(&mut v, at, what);
        } else if head.last_hash != v.head {
            let at = v.events;
            fail(&mut v, at, msg!("verify.head_hash_differs"));
        } else if head.merkle != tree {
            let at = v.events;
            fail(&mut v, at, msg!("verify.head_merkle_differs"));
        }
    }
    if v.problem.is_none() && require_signatures && state.principals.is_empty() && v.events > 0 {
        fail(&mut v, 0, msg!("verify.signatures_required_none_registered"));
    }
    if v.problem.is_none() {
        if let Some(what) = store.check_framing()? {
            fail(&mut v, 0, what);
        }
    }
    if v.problem.is_none() {
        if let Some(what) = store.check_indexes(v.events)? {
            fail(&mut v, 0, what);
        }
    }
    v.plans_reloaded = checker.reloaded;
    Ok(v)
}
