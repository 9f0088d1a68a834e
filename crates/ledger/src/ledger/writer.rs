//! The writer thread: commits handed over by `Ledger::commit_async` are sealed, appended,
//! fsynced and indexed here, strictly in order, several queued ones as one when they follow
//! on; `Done`/`Ticket` tell their submitters when each is durable.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::COMMITS_IN_FLIGHT_MAX;
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{Store, BATCH_EVENTS_MAX};

pub(super) struct InFlight {
    pub(super) events: Arc<Vec<Event>>,
    pub(super) done: Arc<Done>,
}

pub(super) struct Job {
    pub(super) events: Arc<Vec<Event>>,
    /// Encoded here, on the writer thread, just before its commit.
    pub(super) checkpoint: Option<Snapshot>,
    pub(super) done: Arc<Done>,
    /// Earlier batches to free, once this one's outcome is given.
    pub(super) spent: Vec<Arc<Vec<Event>>>,
}

pub(super) struct WriterThread {
    pub(super) jobs: Sender<Job>,
    pub(super) thread: JoinHandle<()>,
    /// Batches the writer emptied, back for the next staging: a fresh buffer of a thousand
    /// events is fresh pages to fault in (a sixth of deciding an import, in `perf`).
    pub(super) recycled: mpsc::Receiver<Vec<Event>>,
}

/// Largest emptied batch (in events of capacity) the writer hands back for reuse; larger ones
/// are freed, so what waits to be reused stays small.
pub(super) const RECYCLED_EVENTS_MAX: usize = 16_384;

impl WriterThread {
    pub(super) fn start(store: &Arc<dyn Store>) -> Result<WriterThread> {
        let (jobs, queue) = mpsc::channel();
        let (give_back, recycled) = mpsc::sync_channel(COMMITS_IN_FLIGHT_MAX);
        let store = Arc::clone(store);
        let thread = std::thread::Builder::new()
            .name("planledger-writer".into())
            .spawn(move || write_jobs(store, queue, give_back))
            .map_err(|e| Error::io(msg!("writer.starting_thread"), e))?;
        Ok(WriterThread { jobs, thread, recycled })
    }
}

/// Where the writer leaves a commit's outcome.
#[derive(Default)]
pub(super) struct Done {
    pub(super) outcome: Mutex<Outcome>,
    pub(super) finished: Condvar,
}

#[derive(Default)]
pub(super) struct Outcome {
    pub(super) finished: bool,
    pub(super) failed: bool,
    /// The failure, for the first to wait on it (errors are not `Clone`)...
    pub(super) error: Option<Error>,
    /// ...and its message, for any other (a request of only duplicates waits on the
    /// commit of what it names).
    pub(super) message: String,
}

// A poisoned lock means a thread panicked while holding it, which only a bug can cause; an
// outcome is written once, whole, under the lock.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Done {
    pub(super) fn finish(&self, result: Result<()>) {
        let mut o = lock(&self.outcome);
        o.finished = true;
        if let Err(e) = result {
            o.failed = true;
            o.message = e.to_string();
            o.error = Some(e);
        }
        self.finished.notify_all();
    }

    /// Blocks until the commit is durable or failed, leaving its error for its ticket.
    pub(super) fn wait_finished(&self) {
        let mut o = lock(&self.outcome);
        while !o.finished {
            o = self.finished.wait(o).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// What the ticket reports: the error goes to the first to ask (the ledger's own waits
    /// use `wait_finished`, so the submitter gets the cause, not a placeholder).
    pub(super) fn wait(&self) -> Result<()> {
        self.wait_finished();
        let mut o = lock(&self.outcome);
        if !o.failed {
            return Ok(());
        }
        let message = o.message.clone();
        Err(o.error.take().unwrap_or_else(|| commit_failed(message)))
    }

    pub(super) fn finished() -> Done {
        let d = Done::default();
        d.finish(Ok(()));
        d
    }

    pub(super) fn state(&self) -> (bool, bool) {
        let o = lock(&self.outcome);
        (o.finished, o.failed)
    }
}

/// A commit handed to the writer thread; `wait` returns once it is durable, or its error.
pub struct Ticket(pub(super) Arc<Done>);

impl Ticket {
    pub fn wait(&self) -> Result<()> {
        self.0.wait()
    }

    /// The ticket of a commit that is durable already.
    pub fn durable() -> Ticket {
        Ticket(Arc::new(Done::finished()))
    }
}

/// The writer thread's loop: commits jobs in order. What has queued while it wrote goes
/// into its next commit, one log record and one fsync for all (a checkpoint ends a group:
/// it covers exactly the log up to its job), so a writer that fell behind a slow fsync
/// catches up instead of paying one fsync per job. A job that does not start at the
/// store's head follows a failed one and fails too (its events were numbered after events
/// that are not in the store).
pub(super) fn write_jobs(store: Arc<dyn Store>, jobs: mpsc::Receiver<Job>, give_back: mpsc::SyncSender<Vec<Event>>) {
    let mut next = None;
    // After a panic nothing more is written: the store may hold half of that commit.
    let mut panicked = false;
    loop {
        let Some(first) = next.take().or_else(|| jobs.recv().ok()) else { return };
        let mut group = vec![first];
        let mut events = group[0].events.len();
        while group.last().is_some_and(|j| j.checkpoint.is_none()) {
            let Ok(job) = jobs.try_recv() else { break };
            let follows =
                group.last().and_then(|j| j.events.last()).map(|e| e.seq + 1) == job.events.first().map(|e| e.seq);
            if !follows || events + job.events.len() > BATCH_EVENTS_MAX {
                next = Some(job);
                break;
            }
            events += job.events.len();
            group.push(job);
        }
        let first_seq = group[0].events.first().map_or(0, |e| e.seq);
        let result = if panicked {
            Err(commit_failed("the writer thread panicked earlier (a bug); reopen the store"))
        } else if first_seq == store.next_seq() {
            // A panic here is a bug (a broken invariant); caught so that every waiter gets an
            // error instead of waiting forever for a thread that is gone.
            let commit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let checkpoint = group.last_mut().and_then(|j| j.checkpoint.take()).map(Snapshot::encode);
                let batches: Vec<&[Event]> = group.iter().map(|j| j.events.as_slice()).collect();
                store.commit_batches(&batches, checkpoint)
            }));
            commit.unwrap_or_else(|_| {
                panicked = true;
                // Nor may a commit on another thread (a lone `submit`) follow it.
                store.poison();
                Err(commit_failed("the writer thread panicked (a bug); reopen the store"))
            })
        } else {
            Err(commit_failed("an earlier commit in the pipeline failed"))
        };
        match result {
            Ok(()) => group.iter().for_each(|j| j.done.finish(Ok(()))),
            Err(e) => {
                // The cause goes to the group's first job; the others fail with its message.
                let message = e.to_string();
                let mut e = Some(e);
                for j in &group {
                    j.done.finish(Err(e.take().unwrap_or_else(|| commit_failed(message.as_str()))));
                }
            }
        }
        // Only now, with every outcome given: the jobs' spent batches are freed here, and
        // their buffers handed back (when the deciding thread holds no other reference).
        for job in group {
            for batch in job.spent {
                if let Ok(mut events) = Arc::try_unwrap(batch) {
                    events.clear();
                    if events.capacity() <= RECYCLED_EVENTS_MAX {
                        // Full: enough wait to be reused already; this one is freed.
                        let _ = give_back.try_send(events);
                    }
                }
            }
        }
    }
}

/// A commit that did not happen, and why.
pub(super) fn commit_failed(why: impl Into<String>) -> Error {
    Error::io(msg!("store.commit"), std::io::Error::other(why.into()))
}
