//! Group commit: many threads submit at once; one of them (the leader) stages every waiting
//! request and commits them all with a single fsync, so throughput grows with concurrency
//! while each request stays atomic and is acknowledged only once durable.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::decide::Submission;
use crate::error::{Error, Result};
use crate::ledger::{Ack, Ledger};

struct Request {
    actor: String,
    submissions: Vec<Submission>,
    result: Mutex<Option<Result<Vec<Ack>>>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Arc<Request>>,
    leader: bool,
    /// Threads inside `submit`: the leader waits (briefly) for all of them to queue, so a
    /// group is not cut short by submitters still waking from the previous commit.
    active: usize,
}

/// Longest a leader waits for other active submitters to join its group.
pub const GROUP_WAIT_MAX: std::time::Duration = std::time::Duration::from_micros(200);

/// A ledger shared by threads, committing concurrent submissions in groups.
pub struct GroupCommit {
    ledger: Mutex<Ledger>,
    queue: Mutex<Queue>,
    done: Condvar,
}

// A poisoned lock means a thread panicked while holding it, which only a bug can cause; the
// data behind these locks stays consistent across a panic (requests are filled once), so go on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GroupCommit {
    pub fn new(ledger: Ledger) -> GroupCommit {
        GroupCommit { ledger: Mutex::new(ledger), queue: Mutex::new(Queue::default()), done: Condvar::new() }
    }

    pub fn into_inner(self) -> Ledger {
        self.ledger.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// Submits one request (atomic on its own); returns once it is durable or refused.
    pub fn submit(&self, actor: &str, submissions: Vec<Submission>) -> Result<Vec<Ack>> {
        let request = Arc::new(Request { actor: actor.to_string(), submissions, result: Mutex::new(None) });
        let mut q = lock(&self.queue);
        q.waiting.push(request.clone());
        q.active += 1;
        loop {
            if let Some(r) = lock(&request.result).take() {
                q.active -= 1;
                return r;
            }
            if !q.leader {
                q.leader = true;
                let since = std::time::Instant::now();
                while q.waiting.len() < q.active && since.elapsed() < GROUP_WAIT_MAX {
                    drop(q);
                    std::thread::yield_now();
                    q = lock(&self.queue);
                }
                let group = std::mem::take(&mut q.waiting);
                drop(q);
                self.commit_group(&group);
                q = lock(&self.queue);
                q.leader = false;
                self.done.notify_all();
                continue;
            }
            q = self.done.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn commit_group(&self, group: &[Arc<Request>]) {
        let mut ledger = lock(&self.ledger);
        let staged: Vec<Result<Vec<Ack>>> =
            group.iter().map(|r| ledger.stage(&r.actor, &r.submissions, &|_| None)).collect();
        let committed = ledger.commit_staged();
        for (r, outcome) in group.iter().zip(staged) {
            let outcome = match (&committed, outcome) {
                (Ok(()), o) => o,
                (Err(_), Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(Error::io("group commit", std::io::Error::other(e.to_string()))),
            };
            *lock(&r.result) = Some(outcome);
        }
    }
}
