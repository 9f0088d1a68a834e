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
//!
//! `Appender` is group commit for callers that must not block a thread per request (the
//! server's async handlers): requests whose signatures were verified beforehand, off the
//! ledger's lock (`keys::verify_request`), are staged in groups by one thread and
//! acknowledged a group at a time by another.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::decide::Submission;
use crate::error::{Error, Result};
use crate::keys::Verified;
use crate::ledger::{Ack, Ledger, Ticket};

/// Longest a leader waits for other active submitters to join its group (it waits only while
/// some submitter is neither queued nor in a group being written: one returning from the
/// previous group). About one slow fsync here: measured against 200 µs and 1 ms with
/// `examples/group_profile`, alternated; a longer wait gathers larger groups.
pub const GROUP_WAIT_MAX: Duration = Duration::from_micros(500);

/// How long a leader on a shared store sleeps between looks at the queue while it gathers
/// its group (a commit there is a millisecond of round trips: gathering costs little).
const SHARED_GATHER_PAUSE: Duration = Duration::from_micros(50);

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
                for (_, outcome) in group.iter_mut() {
                    *outcome = Err(internal_error(&what));
                }
                recovered.and(Err(internal_error(&what)))
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
        if ledger.store().is_shared() {
            return self.stage_shared(&mut ledger, group).map(|()| None);
        }
        let alone = loop {
            let first = group.len();
            let (complete, alone) = self.take_arrived(group, since);
            let idle = group.len() == first;
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

    /// Moves the requests queued since the last look into `group` (refused until staged);
    /// whether the group is complete (every active submitter is in a group, or the leader
    /// has waited `GROUP_WAIT_MAX` since `since`) and whether the group is alone (no other
    /// submitter is about).
    fn take_arrived(&self, group: &mut Vec<Staged>, since: Instant) -> (bool, bool) {
        let mut q = lock(&self.queue);
        let arrived = std::mem::take(&mut q.waiting);
        q.writing += arrived.len();
        group.extend(arrived.into_iter().map(|r| (r, Err(Error::invalid(msg!("commit.not_decided"))))));
        (q.writing >= q.active || since.elapsed() >= GROUP_WAIT_MAX, q.active == group.len())
    }

    /// Group commit on a store other servers append to: whoever has queued is the group,
    /// decided on what every writer appended and committed here, decided again when another
    /// writer got in first (`Ledger::stage_and_commit`).
    fn stage_shared(&self, ledger: &mut Ledger, group: &mut Vec<Staged>) -> Result<()> {
        // The group is gathered as `gather_and_stage` gathers it (the submitters on their way
        // back from the previous group are waited for, briefly), then decided whole: a
        // retry decides it again.
        let since = Instant::now();
        while !self.take_arrived(group, since).0 {
            // A commit costs round trips to the database: a short sleep, not a spin, which
            // would take the cores other ledgers' leaders and the database need.
            std::thread::sleep(SHARED_GATHER_PAUSE);
        }
        let (_, committed) = ledger.stage_and_commit(
            |l| {
                for (r, outcome) in group.iter_mut() {
                    let origin = |i: usize| r.origins.get(i).cloned().flatten();
                    *outcome = l.stage_expecting(&r.actor, &r.submissions, &origin, &r.expected);
                }
                group.iter().any(|(_, o)| o.is_err())
            },
            |refused| *refused,
        );
        committed
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

/// What the requests of a group get when a panic (a bug) failed it.
fn internal_error(what: &str) -> Error {
    Error::io(
        msg!("commit.group_commit"),
        std::io::Error::other(format!(
            "the request failed on an internal error (a bug: {what}); nothing of its group was written"
        )),
    )
}

/// What a caught panic said.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// How a queued request learns its outcome: called once, on the thread that acknowledges
/// its group, when the group is durable (or the request refused).
pub type Done = Box<dyn FnOnce(Result<Vec<Ack>>) + Send>;

/// A request for the appender: verified already, with where each submission came from and
/// the stream versions it expects.
struct Queued {
    request: Verified,
    origins: Vec<Option<crate::Msg>>,
    expected: Vec<(String, u64)>,
    chain: Option<Chain>,
    done: Done,
}

/// Requests that must be recorded in order or not at all past the first refused one: those
/// of one client's stream (a file sent in batches, each sent before the one before it is
/// acknowledged). Once a request of the chain is refused, every later one queued on it is
/// refused without being decided, so nothing after a refused batch is written.
#[derive(Clone, Default)]
pub struct Chain(Arc<AtomicBool>);

impl Chain {
    pub fn new() -> Chain {
        Chain::default()
    }

    /// Whether a request of the chain was refused.
    pub fn broken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn same(&self, other: &Chain) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A group staged and handed to the writer, on its way to the acknowledging thread.
struct Handed {
    group: Vec<Queued>,
    outcomes: Vec<Result<Vec<Ack>>>,
    written: Result<Ticket>,
}

/// Group commit without a thread per request, for callers that must not block one (the
/// server's async handlers): requests verified beforehand (`keys::verify_request`, in
/// parallel, off the ledger's lock) are queued; one thread stages whatever has queued as a
/// group under the ledger's lock, only checking each verified key against the state, and
/// hands it to the writer; a second thread waits for each group to be durable and
/// acknowledges all of its requests at once (their `Done`), in order. Staging the next group
/// overlaps the fsync of this one. Dropping the appender lets both threads finish what is
/// queued, then joins them.
pub struct Appender {
    queue: Option<mpsc::Sender<Queued>>,
    stager: Option<std::thread::JoinHandle<()>>,
    /// The two threads', which must not join themselves.
    threads: [std::thread::ThreadId; 2],
}

impl Appender {
    /// Starts the appender's two threads on `group`'s ledger.
    pub fn start(group: Arc<GroupCommit>) -> Result<Appender> {
        let (queue, queued) = mpsc::channel::<Queued>();
        let (hand, handed) = mpsc::channel::<Handed>();
        let spawn_failed = |e| Error::io(msg!("commit.group_commit"), e);
        let acker = std::thread::Builder::new()
            .name("acknowledge".into())
            .spawn(move || acknowledge(handed))
            .map_err(spawn_failed)?;
        let acker_id = acker.thread().id();
        let stager = std::thread::Builder::new()
            .name("stage".into())
            .spawn(move || {
                stage_queued(&group, queued, hand);
                // The acknowledging thread ends once every group handed to it is acknowledged.
                let _ = acker.join();
            })
            .map_err(spawn_failed)?;
        let threads = [stager.thread().id(), acker_id];
        Ok(Appender { queue: Some(queue), stager: Some(stager), threads })
    }

    /// Queues a verified request; `done` is called with its acks once its group is durable,
    /// or with why it was refused. A request on a `chain` is refused undecided once an
    /// earlier request of the chain was refused.
    pub fn enqueue(
        &self,
        request: Verified,
        origins: Vec<Option<crate::Msg>>,
        expected: Vec<(String, u64)>,
        chain: Option<&Chain>,
        done: Done,
    ) {
        let queued = Queued { request, origins, expected, chain: chain.cloned(), done };
        let Some(queue) = &self.queue else {
            return (queued.done)(Err(stopped()));
        };
        if let Err(mpsc::SendError(q)) = queue.send(queued) {
            (q.done)(Err(stopped()));
        }
    }
}

fn stopped() -> Error {
    Error::io(msg!("commit.group_commit"), std::io::Error::other("the appender has stopped"))
}

impl Drop for Appender {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(stager) = self.stager.take() {
            // Not from the appender's own threads (a `Done` may hold the last reference to
            // its owner): they end by themselves once the queue is closed.
            if !self.threads.contains(&std::thread::current().id()) {
                let _ = stager.join();
            }
        }
    }
}

/// The staging thread: each group is whatever has queued; staged under one hold of the
/// ledger and handed to the writer without waiting for the fsync. A panic while staging (a
/// bug) fails that group alone, as in `GroupCommit::lead`.
fn stage_queued(group: &GroupCommit, queued: mpsc::Receiver<Queued>, hand: mpsc::Sender<Handed>) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        batch.extend(queued.try_iter());
        let mut outcomes: Vec<Result<Vec<Ack>>> =
            batch.iter().map(|_| Err(Error::invalid(msg!("commit.not_decided")))).collect();
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut ledger = lock(&group.ledger);
            // Whether any request of the group was refused.
            let stage_all = |ledger: &mut Ledger, outcomes: &mut Vec<Result<Vec<Ack>>>| {
                // Chains broken by this decision of the group (a shared store may decide it
                // again: its chains are broken for good only by the decision committed).
                let mut broken: Vec<&Chain> = Vec::new();
                for (q, outcome) in batch.iter().zip(outcomes.iter_mut()) {
                    if let Some(chain) = &q.chain {
                        if chain.broken() || broken.iter().any(|b| b.same(chain)) {
                            *outcome = Err(Error::invalid(msg!("commit.chain_broken")));
                            continue;
                        }
                    }
                    let origin = |i: usize| q.origins.get(i).cloned().flatten();
                    *outcome = ledger.stage_verified(&q.request, &origin, &q.expected);
                    if let (Err(_), Some(chain)) = (&outcome, &q.chain) {
                        broken.push(chain);
                    }
                }
                outcomes.iter().any(|o| o.is_err())
            };
            if ledger.store().is_shared() {
                // Other servers append too: committed here, decided again if one got in first.
                let (_, committed) = ledger.stage_and_commit(|l| stage_all(l, &mut outcomes), |refused| *refused);
                return committed.map(|()| Ticket::durable());
            }
            stage_all(&mut ledger, &mut outcomes);
            ledger.commit_async()
        }))
        .unwrap_or_else(|panic| {
            let what = panic_text(&*panic);
            let recovered = lock(&group.ledger).abandon_staged();
            let e = internal_error(&what);
            for outcome in outcomes.iter_mut() {
                *outcome = Err(internal_error(&what));
            }
            recovered.and(Err(e))
        });
        for (q, outcome) in batch.iter().zip(&outcomes) {
            if let (Some(chain), Err(_)) = (&q.chain, outcome) {
                chain.break_off();
            }
        }
        if let Err(mpsc::SendError(h)) = hand.send(Handed { group: batch, outcomes, written }) {
            // The acknowledging thread is gone (it panicked): answer here.
            for q in h.group {
                (q.done)(Err(stopped()));
            }
        }
    }
}

/// The acknowledging thread: waits for each group to be durable, in order, and gives every
/// request of it its outcome at once.
fn acknowledge(handed: mpsc::Receiver<Handed>) {
    while let Ok(Handed { group, outcomes, written }) = handed.recv() {
        let committed = written.and_then(|ticket| ticket.wait());
        for (q, outcome) in group.into_iter().zip(outcomes) {
            if let (Some(chain), Err(_)) = (&q.chain, &committed) {
                chain.break_off();
            }
            let outcome = match (&committed, outcome) {
                (Ok(()), o) => o,
                (Err(_), Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(Error::io(msg!("commit.group_commit"), std::io::Error::other(e.to_string()))),
            };
            let done = q.done;
            // A caller's `Done` that panics (a bug) must not stop the acknowledgements of others.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || done(outcome)));
        }
    }
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

    /// The appender stages verified requests in groups and acknowledges each once durable.
    /// The key a request was verified under is checked again on the state when it is staged:
    /// revoked after the verification, the request is refused and nothing of it written,
    /// while the other requests go on.
    #[test]
    fn the_appender_refuses_a_request_whose_key_was_revoked_after_verification() {
        use crate::decide::Command;
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, targets) = seeded(dir.path(), 20, 100, 2);
        let pair = crate::keys::KeyPair::generate().unwrap();
        let key = pair.public().to_vec();
        let change = |command| Submission { signature: None, id: None, note: None, command };
        let register = Command::RegisterKey { principal: workload::ACTOR.into(), role: None, key: key.clone() };
        ledger.submit(workload::ACTOR, &[change(register)], &|_| None).unwrap();
        let ledger_key = ledger.public_key();
        let signed = |target: u64, cents: i64| {
            let mut sub = workload::correction(target, cents, "r");
            crate::keys::sign(&pair, &ledger_key, workload::ACTOR, &mut sub);
            crate::keys::verify_request(&ledger_key, workload::ACTOR, vec![sub], &|_| None).unwrap()
        };
        let group = Arc::new(GroupCommit::new(ledger));
        let appender = Appender::start(group.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        let send = |request: Verified, n: u8| {
            let tx = tx.clone();
            appender.enqueue(request, Vec::new(), Vec::new(), None, Box::new(move |r| tx.send((n, r)).unwrap()));
        };
        send(signed(targets[0], 50_001), 1);
        let (n, first) = rx.recv().unwrap();
        assert_eq!(n, 1);
        let before = first.unwrap()[0].seq;
        // Verified while the key is active, then the key is revoked, then staged.
        let late = signed(targets[1], 50_002);
        let revoke = Command::RevokeKey { principal: workload::ACTOR.into(), key, reason: "rotated".into() };
        group.submit(workload::ACTOR, vec![change(revoke)]).unwrap();
        send(late, 2);
        let unsigned = crate::keys::verify_request(
            &ledger_key,
            workload::ACTOR,
            vec![workload::correction(targets[1], 50_003, "r")],
            &|_| None,
        )
        .unwrap();
        send(unsigned, 3);
        let mut outcomes: Vec<_> = (0..2).map(|_| rx.recv().unwrap()).collect();
        outcomes.sort_by_key(|(n, _)| *n);
        let e = outcomes[0].1.as_ref().unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)) && e.to_string().contains("or was revoked"), "{e}");
        let acks = outcomes[1].1.as_ref().unwrap();
        // The revocation, then the unsigned correction: nothing of the refused request.
        assert_eq!(acks[0].seq, before + 2);
        drop(appender);
        let ledger = Arc::try_unwrap(group).ok().unwrap().into_inner();
        assert_eq!(ledger.store().head().events(), before + 2);
        assert!(crate::verify::verify(ledger.store()).unwrap().ok());
    }
}
