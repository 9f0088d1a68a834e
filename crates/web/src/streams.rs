//! Which seqs each stream holds (a plan, a project in a plan, an indicator in a plan), kept
//! in memory by the web view and brought up to the head before each use: a project's page
//! shows its whole audit trail by reading its own events (`audit::stream_trail`), not the
//! whole log. The store has no such index; this one is built by reading the log once when
//! the view starts (about 10 bytes an event).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use planledger::error::{Error, Result};
use planledger::event::{plan_stream, project_stream};
use planledger::msg;
use planledger::store::Store;

#[derive(Default)]
struct Index {
    /// Every event up to this seq is indexed.
    upto: u64,
    seqs: HashMap<String, Vec<u64>>,
}

#[derive(Default)]
pub struct Streams(Mutex<Index>);

impl Streams {
    /// Indexes the events after the last one indexed, to the store's head.
    pub fn catch_up(&self, store: &dyn Store) -> Result<()> {
        let mut ix = self.0.lock().map_err(|_| Error::invalid(msg!("web.index_poisoned")))?;
        let from = ix.upto + 1;
        for e in store.events(from) {
            let e = e?;
            ix.seqs.entry(e.payload.stream()).or_default().push(e.seq);
            ix.upto = e.seq;
        }
        Ok(())
    }

    /// The audit rows of project `id` in `plan`, up to `until` (the view's `as_of`).
    pub fn trail(&self, store: &dyn Store, plan: &str, id: &str, until: u64) -> Result<Vec<Value>> {
        self.catch_up(store)?;
        let (plan_seq, seqs) = {
            let ix = self.0.lock().map_err(|_| Error::invalid(msg!("web.index_poisoned")))?;
            let plan_seq = ix.seqs.get(&plan_stream(plan)).and_then(|s| s.first().copied());
            let seqs: Vec<u64> =
                ix.seqs.get(&project_stream(plan, id)).into_iter().flatten().copied().filter(|s| *s <= until).collect();
            (plan_seq, seqs)
        };
        match plan_seq {
            Some(p) if p <= until => planledger::audit::stream_trail(store, p, &seqs),
            _ => Ok(Vec::new()),
        }
    }
}
