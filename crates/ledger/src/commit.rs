//! Group commit: many threads submit at once; one of them (the leader) stages every waiting
//! request and commits them all with a single fsync, so throughput grows with concurrency
//! while each request stays atomic and is acknowledged only once durable.
//!
//! Waiting threads are parked one by one and woken only for their own result, or to lead
//! the next group: no thundering herd on every commit.
//!
//! The leader decides requests as they queue, while it waits for the rest of its group (the
//! submitters on their way back from the previous one), so deciding overlaps their return.
//! Groups are pipelined: a leader hands its group to the ledger's writer thread
//! (`Ledger::commit_async`) and passes leadership on before waiting for the fsync, so the
//! next group is decided while this one is written. Results are given out only once the
//! group is durable; groups become durable in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::decide::Submission;
use crate::error::{Error, Result};
use crate::ledger::{Ack, Ledger, Ticket};

/// Longest a leader waits for other active submitters to join its group (it waits only while
/// some submitter is neither queued nor in a group being written: one returning from the
/// previous group). About one slow fsync here: measured against 200 µs and 1 ms with
/// `examples/group_profile`, alternated; a longer wait gathers larger groups.
pub const GROUP_WAIT_MAX: Duration = Duration::from_micros(500);

struct Request {
    actor: String,
    submissions: Vec<Submission>,
    origins: Vec<Option<crate::Msg>>,
    expected: Vec<(String, u64)>,
    result: Mutex<Option<Result<Vec<Ack>>>>,
    /// Set when this request's thread is to lead the next group.
    lead: AtomicBool,
    thread: Thread,
}

/// A request of a group, with what staging it gave (its acks, or why it was refused).
type Staged = (Arc<Request>, Result<Vec<Ack>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Arc<Request>>,
    leader: bool,
    /// Threads inside `submit`: the leader waits (briefly) for all of them to queue, so a
    /// group is not cut short by submitters still returning from the previous commit.
    active: usize,
    /// Requests in groups being written: in `active`, but not coming to queue.
    writing: usize,
}

/// A ledger shared by threads, committing concurrent submissions in groups.
pub struct GroupCommit {
    ledger: Mutex<Ledger>,
    /// The ledger's store, for reads that need no lock (`store`).
    store: Arc<dyn crate::store::Store>,
    queue: Mutex<Queue>,
}

// A poisoned lock means a thread panicked while holding it, which only a bug can cause; the
// data behind these locks stays consistent across a panic (requests are filled once), so go on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GroupCommit {
    pub fn new(ledger: Ledger) -> GroupCommit {
        GroupCommit { store: ledger.shared_store(), ledger: Mutex::new(ledger), queue: Mutex::new(Queue::default()) }
    }

    pub fn into_inner(self) -> Ledger {
        self.ledger.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// The store, without waiting for the ledger: it holds what is durable (for the head
    /// after an append, say, which must not wait for the groups committing behind it).
    pub fn store(&self) -> &dyn crate::store::Store {
        &*self.store
    }

    /// Runs `f` with the ledger once every commit handed to the writer is durable (reads
    /// never see what is not): for reads.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R {
        let mut ledger = lock(&self.ledger);
        // A failed commit is reported to its submitters; the ledger has folded its state
        // again from the store, which is what reads then see.
        let _ = ledger.settle();
        f(&mut ledger)
    }

    /// Submits one request (atomic on its own); returns once it is durable or refused.
    pub fn submit(&self, actor: &str, submissions: Vec<Submission>) -> Result<Vec<Ack>> {
        self.submit_with(actor, submissions, Vec::new(), Vec::new())
    }

    /// As `submit`, naming where each submission came from (for errors) and the stream
    /// versions the request expects.
    pub fn submit_with(
        &self,
        actor: &str,
        submissions: Vec<Submission>,
        origins: Vec<Option<crate::Msg>>,
        expected: Vec<(String, u64)>,
    ) -> Result<Vec<Ack>> {
        let request = Arc::new(Request {
            actor: actor.to_string(),
            submissions,
            origins,
            expected,
            result: Mutex::new(None),
            lead: AtomicBool::new(false),
            thread: std::thread::current(),
        });
        let lead_now = {
            let mut q = lock(&self.queue);
            q.waiting.push(request.clone());
            q.active += 1;
            !std::mem::replace(&mut q.leader, true)
        };
        if !lead_now {
            loop {
                if let Some(r) = lock(&request.result).take() {
                    lock(&self.queue).active -= 1;
                    return r;
                }
                if request.lead.swap(false, Ordering::AcqRel) {
                    break;
                }
                std::thread::park();
            }
        }
        self.lead();
        let r = lock(&request.result).take();
        lock(&self.queue).active -= 1;
        // The leader's own request was in the group it committed.
        r.unwrap_or_else(|| Err(Error::io(msg!("commit.group_commit"), std::io::Error::other("request lost"))))
    }

    /// Runs one group as leader: decides it, hands it to the writer, passes leadership on,
    /// then waits for the group to be durable and gives each request its result. A panic
    /// while deciding or committing (a bug) fails this group alone: what it staged is
    /// dropped, the ledger is folded again from the store, and leadership still passes on,
    /// so later appends and shutdown go on.
    fn lead(&self) {
        let mut group: Vec<Staged> = Vec::new();
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.gather_and_stage(&mut group)))
            .unwrap_or_else(|panic| {
                let what = panic_text(&*panic);
                let recovered = lock(&self.ledger).abandon_staged();
                let e = Error::io(
                    msg!("commit.group_commit"),
                    std::io::Error::other(format!(
                        "the request failed on an internal error (a bug: {what}); nothing of its group was written"
                    )),
                );
                for (_, outcome) in group.iter_mut() {
                    *outcome = Err(Error::io(msg!("commit.group_commit"), std::io::Error::other(e.to_string())));
                }
                recovered.and(Err(e))
            });
        self.pass_leadership();
        let committed = written.and_then(|ticket| ticket.map_or(Ok(()), |t| t.wait()));
        let mut requests = Vec::with_capacity(group.len());
        for (r, outcome) in group {
            let outcome = match (&committed, outcome) {
                (Ok(()), o) => o,
                (Err(_), Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(Error::io(msg!("commit.group_commit"), std::io::Error::other(e.to_string()))),
            };
            *lock(&r.result) = Some(outcome);
            requests.push(r);
        }
        lock(&self.queue).writing -= requests.len();
        for r in &requests {
            r.thread.unpark();
        }
    }

    /// Gathers the group into `group`, deciding each request as it queues: the leader waits
    /// for the other active submitters (those on their way back from the previous group) for
    /// up to `GROUP_WAIT_MAX`, and stages whoever has queued meanwhile, so deciding overlaps
    /// their return instead of following it. Then commits: on this thread when no other
    /// submitter is about (`None`: already durable), else through the writer (the ticket).
    /// The ledger is held throughout, so no read sees staged events. Each request is in
    /// `group` (refused until staged) before it is decided, so a panic loses none of them.
    fn gather_and_stage(&self, group: &mut Vec<Staged>) -> Result<Option<Ticket>> {
        let since = Instant::now();
        let mut ledger = lock(&self.ledger);
        let alone = loop {
            let (arrived, complete, alone) = {
                let mut q = lock(&self.queue);
                let arrived = std::mem::take(&mut q.waiting);
                q.writing += arrived.len();
                let complete = q.writing >= q.active || since.elapsed() >= GROUP_WAIT_MAX;
                let alone = q.active == group.len() + arrived.len();
                (arrived, complete, alone)
            };
            let idle = arrived.is_empty();
            let first = group.len();
            for r in arrived {
                group.push((r, Err(Error::invalid(msg!("commit.not_decided")))));
            }
            for (r, outcome) in group[first..].iter_mut() {
                let origin = |i: usize| r.origins.get(i).cloned().flatten();
                *outcome = ledger.stage_expecting(&r.actor, &r.submissions, &origin, &r.expected);
            }
            if complete {
                break alone;
            }
            if idle {
                // The submitters on their way need this core (2 here).
                std::thread::yield_now();
            }
        };
        if alone {
            ledger.commit_staged().map(|()| None)
        } else {
            ledger.commit_async().map(Some)
        }
    }

    fn pass_leadership(&self) {
        let mut q = lock(&self.queue);
        match q.waiting.first() {
            Some(next) => {
                next.lead.store(true, Ordering::Release);
                next.thread.unpark();
            }
            None => q.leader = false,
        }
    }
}

/// What a caught panic said.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{CountingIds, SteppingClock};
    use crate::workload::{self, Workload};

    /// A fresh ledger in `dir` holding the first batch of a workload with `projects` a year,
    /// and the seqs of its first `targets` investments (what corrections name).
    fn seeded(dir: &std::path::Path, projects: usize, batch: usize, targets: usize) -> (Ledger, Vec<u64>) {
        let mut ledger = Ledger::open(
            dir,
            Box::new(SteppingClock::new(workload::clock_start(), 1_000)),
            Box::new(CountingIds(1 << 64)),
        )
        .unwrap();
        let w = Workload { projects_per_year: projects, first_year: 2001, batch };
        ledger.submit(workload::ACTOR, &w.batches(batch as u64).next().unwrap(), &|_| None).unwrap();
        let targets = workload::investments(ledger.store(), targets).unwrap();
        (ledger, targets)
    }

    /// Many threads, each request atomic: every acknowledged correction is in the log once,
    /// a refused one (a value equal to the current one) is refused alone.
    #[test]
    fn concurrent_submitters_are_all_acknowledged_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, targets) = seeded(dir.path(), 60, 500, 8);
        let before = ledger.store().head().events();
        let group = Arc::new(GroupCommit::new(ledger));
        let per = 25;
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let g = group.clone();
                let target = targets[t];
                std::thread::spawn(move || {
                    (0..per)
                        .map(|k| {
                            let sub = workload::correction(target, 10_000 + k as i64, "r");
                            g.submit(workload::ACTOR, vec![sub]).unwrap()[0].seq
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut seqs: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        seqs.sort();
        let ledger = Arc::try_unwrap(group).ok().unwrap().into_inner();
        assert_eq!(seqs, ((before + 1)..=(before + 8 * per as u64)).collect::<Vec<_>>());
        assert_eq!(ledger.store().head().events(), before + 8 * per as u64);
        assert!(crate::verify::verify(ledger.store()).unwrap().ok());
    }

    /// Ids that panic once, at the `at`-th id: a bug injected into deciding.
    struct PanickingIds {
        n: u128,
        at: u128,
    }

    impl crate::clock::IdSource for PanickingIds {
        fn next_id(&mut self) -> uuid::Uuid {
            self.n += 1;
            if self.n == self.at {
                panic!("injected fault");
            }
            uuid::Uuid::from_u128(self.n)
        }
    }

    /// A panic on the leader while it decides fails that request's group, hands leadership
    /// on and leaves the ledger as the store has it: later appends from every thread succeed.
    #[test]
    fn a_panic_while_deciding_fails_its_group_and_later_appends_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, targets) = seeded(dir.path(), 20, 100, 4);
        drop(ledger);
        let ledger = Ledger::open(
            dir.path(),
            Box::new(SteppingClock::new(crate::model::Timestamp(workload::clock_start().0 + 1_000_000_000), 1_000)),
            Box::new(PanickingIds { n: 0, at: 3 }),
        )
        .unwrap();
        let before = ledger.store().head().events();
        let group = GroupCommit::new(ledger);
        let mut results = Vec::new();
        for k in 0..6 {
            let sub = workload::correction(targets[k % 4], 20_000 + k as i64, "r");
            results.push(group.submit(workload::ACTOR, vec![sub]));
        }
        let failed: Vec<String> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.to_string()).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("internal error") && failed[0].contains("injected fault"), "{}", failed[0]);
        // Later appends from other threads go on.
        let group = Arc::new(group);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let g = group.clone();
                let target = targets[t];
                std::thread::spawn(move || {
                    g.submit(workload::ACTOR, vec![workload::correction(target, 30_000 + t as i64, "r")])
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let ledger = Arc::try_unwrap(group).ok().unwrap().into_inner();
        assert_eq!(ledger.store().head().events(), before + 5 + 4);
        assert!(crate::verify::verify(ledger.store()).unwrap().ok());
    }

    /// Readers take no lock a writer holds, so `verify` may run while groups commit: it
    /// checks the log up to the head it found settled, and never reports a commit under way
    /// as damage.
    #[test]
    fn verify_while_writers_append_finds_nothing_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, targets) = seeded(dir.path(), 60, 2_000, 2);
        let group = GroupCommit::new(ledger);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                for k in 0..300 {
                    let sub = workload::correction(targets[k % 2], 40_000 + k as i64, "r");
                    group.submit(workload::ACTOR, vec![sub]).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            let mut passes = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || passes == 0 {
                let v = crate::verify::verify(group.store()).unwrap();
                assert!(v.ok(), "{:?}", v.problem);
                passes += 1;
            }
            writer.join().unwrap();
        });
    }
}
