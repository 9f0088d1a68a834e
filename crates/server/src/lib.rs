//! The network service (`planledger serve`): gRPC over tokio (tonic), the contract in
//! proto/planledger/v1/ledger.proto. The server owns the store; departments append signed
//! submissions through group commit; every read is a typed request, signed by a registered
//! key, fresh (timestamp) and used once (nonce), answered by the library's typed read API
//! (`read`) on the store without the writers' lock. Protobuf types stay in this module and
//! `remote`; conversion to the ledger's own types is by hand, here.

// tonic's service methods return `Result<_, Status>`; the helpers keep that shape.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use planledger::clock::Clock;
use planledger::codec::hex;
use planledger::commit::{Appender, Chain, GroupCommit};
use planledger::decide::{Command, EventRef, Submission};
use planledger::error::{Error, Result};
use planledger::event::{Event, Payload, Signature, Subject, TargetRef};
use planledger::ledger::Ledger;
use planledger::model::{fmt_decimal, Date, Role, Timestamp};
use planledger::query::AsOf;
use planledger::read;
use planledger::store::Store;
use planledger::store::StoreAt;
use planledger::{msg, Lang, Msg};

pub mod access;
pub mod codec;
pub mod config;
pub mod metrics;
pub mod tls;

use access::{AccessLog, Entry, Outcome};
use metrics::METRICS;

pub mod proto {
    tonic::include_proto!("planledger.v1");
}

use proto::ledger_server::{Ledger as LedgerRpc, LedgerServer};

/// How far a request's timestamp may be from the server's clock.
pub const REQUEST_SKEW_MAX_MICROS: i64 = 300_000_000;
/// A request's nonce: exactly this many random bytes.
pub const NONCE_BYTES: usize = 16;
/// The largest request message the server decodes (a plan import is the largest kind).
pub const REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Submissions in one `Append` (the ledger's batch limit bounds the events they make).
pub const APPEND_SUBMISSIONS_MAX: usize = planledger::store::BATCH_EVENTS_MAX;
/// A read's output is streamed in pieces of at most this many bytes.
pub const OUTPUT_CHUNK_BYTES: usize = 1024 * 1024;
/// How long a stopping server waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// Events read from the store per step of a `Read` or `Subscribe`.
const READ_BATCH: u64 = 1_000;
/// Events buffered per subscriber before the server waits for it.
const STREAM_BUFFER: usize = 1_024;
/// Output pieces buffered per read before the reader waits for the client.
const OUTPUT_BUFFER: usize = 4;
/// Most requests of one `AppendStream` waiting for their answers (queued, or being
/// verified): past it the stream is not read until an answer goes.
pub const STREAM_IN_FLIGHT_MAX: usize = 256;
/// Most bytes of requests of one `AppendStream` waiting for their answers.
pub const STREAM_BYTES_IN_FLIGHT_MAX: usize = 64 * 1024 * 1024;
/// Most requests of a stream taken at once (those already arrived), verified on one trip
/// to the blocking pool.
const STREAM_TAKE_MAX: usize = 64;

/// Every RPC of the service, as the authorization table names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rpc {
    Append,
    AppendStream,
    Read,
    Subscribe,
    State,
    Summary,
    Audit,
    Show,
    Log,
    Snapshot,
    SnapshotVerify,
    Diff,
    Verify,
    Checkpoint,
    Key,
    Proof,
    Backup,
    ExportLog,
    Bundle,
}

impl Rpc {
    pub const ALL: [Rpc; 19] = [
        Rpc::Append,
        Rpc::AppendStream,
        Rpc::Read,
        Rpc::Subscribe,
        Rpc::State,
        Rpc::Summary,
        Rpc::Audit,
        Rpc::Show,
        Rpc::Log,
        Rpc::Snapshot,
        Rpc::SnapshotVerify,
        Rpc::Diff,
        Rpc::Verify,
        Rpc::Checkpoint,
        Rpc::Key,
        Rpc::Proof,
        Rpc::Backup,
        Rpc::ExportLog,
        Rpc::Bundle,
    ];

    /// The method name a request's signature covers.
    pub fn method(self) -> &'static str {
        match self {
            Rpc::Append => "Append",
            Rpc::AppendStream => "AppendStream",
            Rpc::Read => "Read",
            Rpc::Subscribe => "Subscribe",
            Rpc::State => "State",
            Rpc::Summary => "Summary",
            Rpc::Audit => "Audit",
            Rpc::Show => "Show",
            Rpc::Log => "Log",
            Rpc::Snapshot => "Snapshot",
            Rpc::SnapshotVerify => "SnapshotVerify",
            Rpc::Diff => "Diff",
            Rpc::Verify => "Verify",
            Rpc::Checkpoint => "Checkpoint",
            Rpc::Key => "Key",
            Rpc::Proof => "Proof",
            Rpc::Backup => "Backup",
            Rpc::ExportLog => "ExportLog",
            Rpc::Bundle => "Bundle",
        }
    }

    /// Whether a principal of `role` may make this call (docs/server.md's table). Every
    /// read is open to every registered principal; appending is not an auditor's; a backup
    /// (it holds the ledger's signing key) is a coordinator's only; the whole log, exported
    /// or as an audit bundle, is a coordinator's or an auditor's.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Rpc::Append | Rpc::AppendStream => role != Role::Auditor,
            Rpc::Backup => role == Role::Coordinator,
            Rpc::ExportLog | Rpc::Bundle => matches!(role, Role::Coordinator | Role::Auditor),
            _ => true,
        }
    }
}

/// Who a registered key belongs to.
#[derive(Clone, Debug)]
struct Principal {
    name: String,
    role: Role,
}

/// The active keys, as of a count of key changes (`Shared::key_changes`): refreshed when a
/// key was registered or revoked, or a plan imported, since it was built.
#[derive(Default)]
struct Registry {
    /// The key changes acknowledged here, and on a shared store the head it was built at
    /// (other servers register and revoke keys too); `None`: never built.
    changes: Option<(u64, u64)>,
    keys: HashMap<[u8; 32], Principal>,
}

struct Shared {
    /// Appends: verified on the blocking pool, staged and acknowledged in groups.
    appender: Appender,
    group: Arc<GroupCommit>,
    /// The ledger's public key, which signed texts must name (checked before the lock).
    ledger_key: [u8; 32],
    /// Appends acknowledged that registered or revoked a key or imported a plan: what the
    /// cached registry is keyed on. The server owns its store, so no key changes elsewhere.
    key_changes: std::sync::atomic::AtomicU64,
    head: watch::Sender<u64>,
    shutdown: watch::Receiver<bool>,
    /// One cache for every ledger this server serves: a signed read request is good once.
    nonces: Arc<Mutex<NonceCache>>,
    registry: Mutex<Arc<Registry>>,
    /// Long reads run a few at a time, leaving a core to appends (one gate for the machine).
    reads: Arc<read::Gate>,
    /// Where each call is recorded.
    log: Arc<AccessLog>,
}

/// One gRPC call's record: counted and written to the access log when dropped, on whatever
/// path the call ended (a panic on the way is `internal`).
struct Call {
    rpc: Rpc,
    entry: Entry,
    /// Set once, by what first knew how the call ended.
    outcome: Option<Outcome>,
    shared: Arc<Shared>,
}

impl Call {
    fn new<T>(shared: &Arc<Shared>, rpc: Rpc, req: &Request<T>) -> Call {
        Call::from(shared, rpc, req.remote_addr())
    }

    /// A call from `peer`: one request of a stream, each recorded on its own.
    fn from(shared: &Arc<Shared>, rpc: Rpc, peer: Option<SocketAddr>) -> Call {
        Call { rpc, entry: Entry::new("grpc", rpc.method(), peer), outcome: None, shared: shared.clone() }
    }

    fn end(&mut self, outcome: Outcome) {
        self.outcome.get_or_insert(outcome);
    }

    fn refused(&mut self, s: &Status) {
        self.end(Outcome::of_code(s.code()));
    }

    /// Ends the call as `result` did.
    fn ended<T>(&mut self, result: &Result<T, Status>) {
        match result {
            Ok(_) => self.end(Outcome::Ok),
            Err(s) => self.refused(s),
        }
    }

    /// The caller, once its signature verified against this registered key.
    fn verified(&mut self, key: &[u8], p: &Principal) {
        self.entry.principal = Some(p.name.clone());
        self.entry.role = Some(p.role.as_str());
        self.entry.key_id = Some(access::key_id(key));
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.entry.outcome = self.outcome.unwrap_or(Outcome::Internal);
        METRICS.rpc(self.rpc, self.entry.outcome);
        self.shared.log.write(&self.entry);
    }
}

/// Counts an open subscription while it lives.
struct Subscriber;

impl Subscriber {
    fn new() -> Subscriber {
        METRICS.subscribers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Subscriber
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        METRICS.subscribers.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Default)]
struct NonceCache {
    seen: HashSet<[u8; NONCE_BYTES]>,
    order: VecDeque<(i64, [u8; NONCE_BYTES])>,
}

impl NonceCache {
    /// Records `nonce` at `ts`; false if it was already used within the window.
    fn fresh(&mut self, ts: i64, now: i64, nonce: [u8; NONCE_BYTES]) -> bool {
        while let Some((t, n)) = self.order.front() {
            if *t >= now - REQUEST_SKEW_MAX_MICROS {
                break;
            }
            self.seen.remove(n);
            self.order.pop_front();
        }
        if !self.seen.insert(nonce) {
            return false;
        }
        self.order.push_back((ts, nonce));
        true
    }
}

/// The gRPC status for an error, by its kind; the message is the CLI's one line, in English.
pub fn status_of(e: &Error) -> Status {
    status_in(e, Lang::En)
}

/// The header a client names its language in (`zh` or `en`); refusals of the domain (a
/// rule, an unknown id, a conflict) are said in it, answers are rendered in their request's
/// `lang` field.
pub const LANG_HEADER: &str = "planledger-lang";

/// The header a client names the ledger in, when the server's store is a PostgreSQL
/// database holding several (`ledger=NAME`); without it, the ledger the server was started on.
pub const LEDGER_HEADER: &str = "planledger-ledger";

/// Most ledgers one server serves at once besides the one it was started on: each holds two
/// database connections, its appender's threads and its state.
pub const LEDGERS_SERVED_MAX: usize = 256;

/// The language a request asked for in `LANG_HEADER`, English when none.
fn lang_of<T>(req: &Request<T>) -> Lang {
    req.metadata().get(LANG_HEADER).and_then(|v| v.to_str().ok()).and_then(Lang::from_tag).unwrap_or(Lang::En)
}

/// As `status_of`, the message in `lang`.
pub fn status_in(e: &Error, lang: Lang) -> Status {
    let msg = e.render(lang);
    match e.root() {
        Error::Invalid(_) | Error::Unknown { .. } | Error::Problems { .. } => Status::invalid_argument(msg),
        Error::Forbidden(_) => Status::permission_denied(msg),
        Error::Conflict(_) => Status::aborted(msg),
        Error::StoreInUse(_)
        | Error::FormatTooNew { .. }
        | Error::FormatTooOld { .. }
        | Error::NoStore(_)
        | Error::Behind { .. }
        | Error::Database { lost: true, .. } => Status::unavailable(msg),
        Error::Database { .. } => Status::internal(msg),
        Error::Corrupt { .. } | Error::Integrity(_) | Error::Storage { corrupt: true, .. } => Status::data_loss(msg),
        Error::Remote { .. } | Error::Io { .. } | Error::Storage { .. } | Error::At { .. } => Status::internal(msg),
    }
}

/// The text a request's signature covers (docs/server.md).
pub fn request_message(method: &str, ts: i64, nonce: &[u8], body: &[u8]) -> String {
    format!("planledger-request/2\n{method}\n{ts}\n{}\n{}\n", hex(nonce), hex(&Sha256::digest(body)))
}

/// A request that carries a `RequestAuth`: what its signature covers is its encoding
/// without it.
pub trait Signed: Message + Clone + Default {
    fn auth(&self) -> Option<&proto::RequestAuth>;
    fn set_auth(&mut self, auth: Option<proto::RequestAuth>);
    /// The bytes a request's signature covers.
    fn body(&self) -> Vec<u8> {
        let mut bare = self.clone();
        bare.set_auth(None);
        bare.encode_to_vec()
    }
}

macro_rules! signed {
    ($($t:ident),*) => {$(
        impl Signed for proto::$t {
            fn auth(&self) -> Option<&proto::RequestAuth> { self.auth.as_ref() }
            fn set_auth(&mut self, auth: Option<proto::RequestAuth>) { self.auth = auth; }
        }
    )*};
}

signed!(
    ReadRequest,
    SubscribeRequest,
    StateRequest,
    SummaryRequest,
    AuditRequest,
    ShowRequest,
    LogRequest,
    SnapshotRequest,
    SnapshotVerifyRequest,
    DiffRequest,
    VerifyRequest,
    CheckpointRequest,
    KeyRequest,
    ProofRequest,
    BackupRequest,
    ExportLogRequest,
    BundleRequest
);

impl Shared {
    /// The active keys as of the ledger's current state.
    fn registry(&self) -> Arc<Registry> {
        // Read before the state is: a change acknowledged meanwhile makes the next call build again.
        let here = self.key_changes.load(std::sync::atomic::Ordering::Acquire);
        let store = self.group.store();
        // On a shared store, what other servers appended may have changed a key (a request
        // by a key revoked through another server is refused here at once): one read of the
        // head, which also moves the store's head on, and this server's subscribers' with it,
        // so the read the request then makes sees what others wrote until now. A database
        // that cannot be reached leaves both as they were.
        let head = if store.is_shared() {
            let head = store.latest_head().unwrap_or_else(|_| store.head()).events();
            self.publish_head(head);
            head
        } else {
            0
        };
        let changes = (here, head);
        let mut cached = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if cached.changes != Some(changes) {
            let fresh = self.group.with_ledger(|l| {
                if store.is_shared() {
                    // Unreachable now: the keys as last folded; the commit's own check of
                    // each key, on the state it commits on, still holds.
                    let _ = l.catch_up();
                }
                let state = l.state();
                let mut keys = HashMap::new();
                for (name, p) in &state.principals {
                    for k in p.keys.iter().filter(|k| k.revoked.is_none()) {
                        if let Ok(key) = <[u8; 32]>::try_from(k.key.as_slice()) {
                            keys.insert(key, Principal { name: name.clone(), role: p.role });
                        }
                    }
                }
                Registry { changes: Some(changes), keys }
            });
            *cached = Arc::new(fresh);
        }
        Arc::clone(&cached)
    }

    /// Checks a read request's signature, freshness and nonce, and that the principal's role
    /// may make the call; returns the principal.
    fn authenticate<R: Signed>(&self, rpc: Rpc, r: &R, call: &mut Call) -> Result<String, Status> {
        // Until the signature verifies, a refusal is `unauthenticated` in the access log (the
        // status stays PERMISSION_DENIED, as docs/server.md's table says).
        let checked = self.check_request(rpc, r, call);
        if checked.is_err() && call.entry.principal.is_none() {
            call.end(Outcome::Unauthenticated);
        }
        checked
    }

    fn check_request<R: Signed>(&self, rpc: Rpc, r: &R, call: &mut Call) -> Result<String, Status> {
        let a = r.auth().ok_or_else(|| Status::permission_denied("requests to the server must be signed (--key)"))?;
        let key = <[u8; 32]>::try_from(a.public_key.as_slice())
            .map_err(|_| Status::permission_denied("the request's key is not 32 bytes (an ed25519 public key)"))?;
        let nonce = <[u8; NONCE_BYTES]>::try_from(a.nonce.as_slice()).map_err(|_| {
            call.end(Outcome::Invalid);
            Status::invalid_argument(format!(
                "the request's nonce is {} bytes; it must be exactly {NONCE_BYTES} random bytes",
                a.nonce.len()
            ))
        })?;
        if a.signature.len() != 64 {
            return Err(Status::permission_denied("the request's signature is not 64 bytes (ed25519)"));
        }
        let registry = self.registry();
        let principal = registry.keys.get(&key).cloned().ok_or_else(|| {
            Status::permission_denied("the request's key is not registered to anyone, or was revoked")
        })?;
        let now = Timestamp(chrono::Utc::now().timestamp_micros());
        if (a.timestamp_micros.saturating_sub(now.0)).abs() > REQUEST_SKEW_MAX_MICROS {
            return Err(Status::permission_denied("the request's timestamp is too far from the server's clock"));
        }
        let msg = request_message(rpc.method(), a.timestamp_micros, &a.nonce, &r.body());
        if !planledger::keys::verify_signature(&key, msg.as_bytes(), &a.signature) {
            return Err(Status::permission_denied("the request's signature does not verify"));
        }
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if !nonces.fresh(a.timestamp_micros, now.0, nonce) {
            return Err(Status::permission_denied("replayed request refused (nonce already used)"));
        }
        drop(nonces);
        call.verified(&key, &principal);
        if !rpc.allows(principal.role) {
            call.end(Outcome::PermissionDenied);
            return Err(Status::permission_denied(format!(
                "'{}' is {}; {} is not open to that role",
                principal.name,
                principal.role,
                rpc.method()
            )));
        }
        Ok(principal.name)
    }

    /// The role of the principal a submission's key is registered to, for an append by `rpc`.
    fn check_append_role(&self, rpc: Rpc, r: &proto::AppendRequest) -> Result<Arc<Registry>, Status> {
        let registry = self.registry();
        for s in &r.submissions {
            let Ok(key) = <[u8; 32]>::try_from(s.public_key.as_slice()) else { continue };
            if let Some(p) = registry.keys.get(&key) {
                if !rpc.allows(p.role) {
                    return Err(Status::permission_denied(format!(
                        "'{}' is {}; {} is not open to that role (auditors only read)",
                        p.name,
                        p.role,
                        rpc.method()
                    )));
                }
            }
        }
        Ok(registry)
    }

    /// An append (`Append`, or one request of an `AppendStream`, on its `chain`), on a thread
    /// of the blocking pool: checks what needs no state (limits, the role, every submission
    /// signed) and verifies the signatures here, off the ledger's lock and in parallel with
    /// other requests; then queues the verified request. The appender's acknowledging thread
    /// answers on `reply` once its group is durable, or at once here on a refusal. False when
    /// refused here, before it was queued.
    fn append(
        self: &Arc<Self>,
        r: proto::AppendRequest,
        lang: Lang,
        mut call: Call,
        chain: Option<&Chain>,
        reply: oneshot::Sender<Result<proto::AppendResponse, Status>>,
    ) -> bool {
        let (request, origins, expected, registry, first_key) = match self.verify_append(r, lang, &mut call) {
            Ok(v) => v,
            Err(s) => {
                call.refused(&s);
                let _ = reply.send(Err(s));
                return false;
            }
        };
        let changes_keys = request.submissions().iter().any(|s| {
            matches!(s.command, Command::RegisterKey { .. } | Command::RevokeKey { .. } | Command::ImportPlan(_))
        });
        let shared = Arc::clone(self);
        let started = std::time::Instant::now();
        let done: planledger::commit::Done = Box::new(move |result| {
            METRICS.commit.observe(started.elapsed());
            let answer = result
                .map_err(|e| status_in(&e, lang))
                .map(|acks| shared.acknowledged(acks, changes_keys, &registry, first_key.as_ref(), &mut call));
            call.ended(&answer);
            // The access log line is written now, before the answer goes.
            drop(call);
            let _ = reply.send(answer);
        });
        self.appender.enqueue(request, origins, expected, chain, done);
        true
    }

    /// An `Append`'s checks that need no state, and its signatures verified: the request as
    /// the appender takes it, with the registry its role was checked in and the first
    /// submission's key (for the access log).
    #[allow(clippy::type_complexity)]
    fn verify_append(
        &self,
        r: proto::AppendRequest,
        lang: Lang,
        call: &mut Call,
    ) -> Result<
        (planledger::keys::Verified, Vec<Option<Msg>>, Vec<(String, u64)>, Arc<Registry>, Option<[u8; 32]>),
        Status,
    > {
        let status_of = |e: &Error| status_in(e, lang);
        if r.submissions.len() > APPEND_SUBMISSIONS_MAX {
            return Err(Status::invalid_argument(format!(
                "{} submissions in one request; at most {APPEND_SUBMISSIONS_MAX}: split it",
                r.submissions.len()
            )));
        }
        let registry = self.check_append_role(call.rpc, &r)?;
        let mut subs = Vec::new();
        let mut origins = Vec::new();
        if !r.plan_toml.is_empty() {
            let origin = r.submissions.first().map_or("plan", |s| s.origin.as_str());
            let import = planledger::input::parse_plan(&r.plan_toml).map_err(|e| status_of(&e.in_file(origin)))?;
            let mut sub =
                Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) };
            if let Some(first) = r.submissions.first() {
                sub.id = first_id(first).map_err(|e| status_of(&e))?;
                sub.signature = signature_of(first);
            }
            origins.push(r.submissions.first().map(|s| s.origin.clone()).filter(|o| !o.is_empty()).map(Msg::from));
            subs.push(sub);
        } else {
            for s in &r.submissions {
                let at = |e: Error| if s.origin.is_empty() { e } else { e.at(s.origin.clone()) };
                let mut sub = submission_of(s).map_err(|e| status_of(&at(e)))?;
                sub.signature = signature_of(s);
                origins.push(Some(s.origin.clone()).filter(|o| !o.is_empty()).map(Msg::from));
                subs.push(sub);
            }
        }
        if subs.is_empty() {
            return Err(Status::invalid_argument("no submissions"));
        }
        if let Some(i) = subs.iter().position(|s| s.signature.is_none()) {
            call.end(Outcome::Unauthenticated);
            let e = Error::forbidden(msg!("server.unsigned_refused"));
            return Err(status_of(&match &origins[i] {
                Some(o) => e.at(o.clone()),
                None => e,
            }));
        }
        let origin = |i: usize| origins.get(i).cloned().flatten();
        let request =
            planledger::keys::verify_request(&self.ledger_key, &r.actor, subs, &origin).map_err(|e| status_of(&e))?;
        let expected = r.expected.iter().map(|x| (x.stream.clone(), x.version)).collect();
        let first_key = r.submissions.first().and_then(|s| <[u8; 32]>::try_from(s.public_key.as_slice()).ok());
        Ok((request, origins, expected, registry, first_key))
    }

    /// What an acknowledged `Append` answers, and what it records: the principal, the seqs
    /// written, the new head for subscribers, and a key change for the registry.
    fn acknowledged(
        &self,
        acks: Vec<planledger::ledger::Ack>,
        changes_keys: bool,
        registry: &Registry,
        first_key: Option<&[u8; 32]>,
        call: &mut Call,
    ) -> proto::AppendResponse {
        // Acknowledged: the ledger checked every verified key against its principal's.
        if let Some((key, p)) = first_key.and_then(|k| registry.keys.get(k).map(|p| (k, p))) {
            call.verified(key, p);
        }
        let written: Vec<u64> = acks.iter().filter(|a| !a.duplicate).map(|a| a.seq).collect();
        if let (Some(first), Some(last)) = (written.iter().min(), written.iter().max()) {
            call.entry.seqs = Some((*first, *last));
        }
        if changes_keys && !written.is_empty() {
            self.key_changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        METRICS.appends.fetch_add(written.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // The store's own head: no wait for the ledger, nor for the groups committing after ours.
        self.publish_head(self.group.store().next_seq() - 1);
        proto::AppendResponse {
            acks: acks
                .into_iter()
                .map(|a| proto::Ack { seq: a.seq, id: a.id.to_string(), r#type: a.kind.into(), duplicate: a.duplicate })
                .collect(),
        }
    }

    /// Tells subscribers the log reaches `head` (never moving it back: the poller of a shared
    /// store and the appends publish from different threads).
    fn publish_head(&self, head: u64) {
        self.head.send_if_modified(|h| {
            let later = head > *h;
            if later {
                *h = head;
            }
            later
        });
    }

    /// Events `from..=to` of the log (or of one stream), read from the store: it holds only
    /// durable events, and reading it takes no lock a writer holds.
    fn read_batch(&self, from: u64, to: u64, stream: &str) -> Result<Vec<proto::RecordedEvent>, Status> {
        let store = self.group.store();
        let mut out = Vec::new();
        for s in store.scan(from) {
            let s = s.map_err(|e| status_of(&e))?;
            if s.event.seq > to {
                break;
            }
            if stream.is_empty() || s.event.payload.stream() == stream {
                out.push(recorded(&s.event, &s.hash));
            }
        }
        Ok(out)
    }
}

/// The id a plan import's submission names in its fields, if any.
fn first_id(s: &proto::Submission) -> Result<Option<uuid::Uuid>> {
    s.fields
        .get("id")
        .map(|id| uuid::Uuid::parse_str(id).map_err(|_| Error::invalid(msg!("server.id_not_uuid", id = id))))
        .transpose()
}

/// Where a read writes what it answers: pieces of at most `OUTPUT_CHUNK_BYTES`, sent as
/// they fill, so no output is held whole and none is over a message's limit.
struct Sink {
    tx: mpsc::Sender<Result<proto::Output, Status>>,
    buf: Vec<u8>,
    /// The language of the request, for an error met while answering.
    lang: Lang,
    /// The client went away before the answer was whole.
    gone: bool,
}

/// A sink is where a backup is written: bytes go out in pieces as they come.
impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_bytes(bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn write(&mut self, text: &str) -> Result<()> {
        self.write_bytes(text.as_bytes())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        while self.buf.len() >= OUTPUT_CHUNK_BYTES {
            let rest = self.buf.split_off(OUTPUT_CHUNK_BYTES);
            let piece = std::mem::replace(&mut self.buf, rest);
            self.send(piece)?;
        }
        Ok(())
    }

    fn send(&mut self, data: Vec<u8>) -> Result<()> {
        self.tx.blocking_send(Ok(proto::Output { data })).map_err(|_| {
            self.gone = true;
            Error::io(msg!("server.answering"), std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        })
    }

    /// Sends what is left, or the error the answer ended in; says how the call ended.
    fn finish(mut self, result: Result<()>) -> Outcome {
        let rest = std::mem::take(&mut self.buf);
        let sent = if rest.is_empty() { Ok(()) } else { self.send(rest) };
        if self.gone {
            return Outcome::Cancelled;
        }
        match (sent, result) {
            (Ok(()), Err(e)) => {
                let status = status_in(&e, self.lang);
                let outcome = Outcome::of_code(status.code());
                let _ = self.tx.blocking_send(Err(status));
                outcome
            }
            (Ok(()), Ok(())) => Outcome::Ok,
            (Err(_), _) => Outcome::Cancelled,
        }
    }
}

/// `as_of` as the CLI's flag takes it; empty: now.
fn as_of_field(text: &str) -> Result<Option<AsOf>> {
    (!text.is_empty()).then(|| AsOf::parse(text)).transpose()
}

fn at_field(text: &str) -> Result<Option<Date>> {
    (!text.is_empty()).then(|| Date::parse("--at", text)).transpose()
}

fn opt(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

fn or_default<'a>(text: &'a str, default: &'a str) -> &'a str {
    if text.is_empty() {
        default
    } else {
        text
    }
}

fn utf8(field: Msg, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::invalid(msg!("server.not_utf8", field = field)))
}

type Output = proto::Output;
type Job = Box<dyn FnOnce(&dyn Store, &mut Sink) -> Result<()> + Send>;

// ---- the read questions, from typed requests to the typed read API ----------------------

fn state_job(r: proto::StateRequest) -> Result<Job> {
    let filter = planledger::report::ProjectFilter {
        department: opt(&r.department),
        project: opt(&r.project),
        level: opt(&r.level).map(|l| planledger::model::Level::parse("level", &l)).transpose()?,
        lagging_on: None,
    };
    let q = read::StateQuery {
        plan: opt(&r.plan),
        as_of: as_of_field(&r.as_of)?,
        at: at_field(&r.at)?,
        filter,
        lagging: r.lagging,
        now: planledger::clock::SystemClock.now(),
    };
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    Ok(Box::new(move |store, sink| sink.write(&read::state(store, &q)?.render(r.json, lang))))
}

fn summary_job(r: proto::SummaryRequest) -> Result<Job> {
    let format = read::SummaryFormat::parse(or_default(&r.format, "text"))?;
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    let q = read::SummaryQuery {
        year: r.year,
        plan: opt(&r.plan),
        by: r.by.clone(),
        monthly: r.monthly,
        as_of: as_of_field(&r.as_of)?,
        at: at_field(&r.at)?,
        now: planledger::clock::SystemClock.now(),
    };
    Ok(Box::new(move |store, sink| sink.write(&read::summary(store, &q)?.render(r.json, format, lang))))
}

fn audit_job(r: proto::AuditRequest) -> Result<Job> {
    let filter = planledger::audit::Filter {
        entity: opt(&r.entity),
        actor: opt(&r.actor),
        kind: opt(&r.r#type).as_deref().map(read::audit_kind).transpose()?,
        since: opt(&r.since).as_deref().map(read::audit_since).transpose()?,
        until: opt(&r.until).as_deref().map(|t| Timestamp::parse("--until", t)).transpose()?,
    };
    let format = read::AuditFormat::parse(or_default(&r.format, "text"))?;
    let q = read::AuditQuery { filter, as_of: as_of_field(&r.as_of)? };
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    Ok(Box::new(move |store, sink| sink.write(&read::audit(store, &q)?.render(r.json, format, lang))))
}

fn show_job(r: proto::ShowRequest) -> Result<Job> {
    let event = EventRef::parse("event", &r.event)?;
    Ok(Box::new(move |store, sink| sink.write(&read::render_document(&read::show(store, &event)?, r.json))))
}

fn log_job(r: proto::LogRequest) -> Result<Job> {
    let q = read::LogQuery { from: r.from_seq, as_of: as_of_field(&r.as_of)? };
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    Ok(Box::new(move |store, sink| {
        let zone = planledger::zone::load(store)?;
        read::log(store, &q, &mut |e, h| sink.write(&read::log_line(e, h, r.json, lang, zone)))
    }))
}

fn snapshot_job(r: proto::SnapshotRequest) -> Result<Job> {
    let as_of = as_of_field(&r.as_of)?;
    Ok(Box::new(move |store, sink| sink.write(&read::pretty(&read::snapshot(store, as_of)?.1))))
}

fn snapshot_verify_job(r: proto::SnapshotVerifyRequest) -> Result<Job> {
    let text = utf8(msg!("server.the_snapshot"), r.document)?;
    let name = or_default(&r.name, "snapshot").to_string();
    Ok(Box::new(move |store, sink| {
        let check = read::snapshot_check(store, &name, &text)?;
        sink.write(&check.render(r.json, planledger::Lang::En))?;
        check.failure().map_or(Ok(()), Err)
    }))
}

fn diff_side(side: Option<proto::DiffSide>) -> Result<read::DiffSide> {
    use proto::diff_side::Side;
    match side.and_then(|s| s.side) {
        Some(Side::Snapshot(doc)) => Ok(read::DiffSide::Snapshot {
            name: or_default(&doc.name, "snapshot").to_string(),
            text: utf8(msg!("server.the_snapshot"), doc.document)?,
        }),
        Some(Side::AsOf(t)) => Ok(read::DiffSide::Ledger(as_of_field(&t)?)),
        None => Ok(read::DiffSide::Ledger(None)),
    }
}

fn diff_job(r: proto::DiffRequest) -> Result<Job> {
    let (a, b) = (diff_side(r.from)?, diff_side(r.to)?);
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    Ok(Box::new(move |store, sink| sink.write(&read::diff(store, &a, &b)?.render(r.json, lang))))
}

fn verify_job(r: proto::VerifyRequest) -> Result<Job> {
    let checkpoint = if r.checkpoint.is_empty() {
        None
    } else {
        Some(
            planledger::proof::TreeHead::parse(&utf8(msg!("server.the_checkpoint"), r.checkpoint)?)
                .map_err(|e| e.at(msg!("server.at_checkpoint")))?,
        )
    };
    let q = read::VerifyQuery { require_signatures: r.require_signatures, checkpoint };
    let lang = read::parse_lang(or_default(&r.lang, "en"))?;
    Ok(Box::new(move |store, sink| {
        let answer = read::verify(store, &q)?;
        sink.write(&answer.render(r.json, lang))?;
        answer.failure().map_or(Ok(()), Err)
    }))
}

fn checkpoint_job(_: proto::CheckpointRequest) -> Result<Job> {
    Ok(Box::new(move |store, sink| sink.write(&read::pretty(&read::checkpoint(store)?.json()))))
}

fn key_job(r: proto::KeyRequest) -> Result<Job> {
    Ok(Box::new(move |store, sink| sink.write(&read::render_key(&read::ledger_key(store)?, r.json))))
}

fn backup_job(_: proto::BackupRequest) -> Result<Job> {
    Ok(Box::new(move |store, sink| {
        planledger::backup::write(store, sink)?;
        Ok(())
    }))
}

fn export_log_job(_: proto::ExportLogRequest) -> Result<Job> {
    Ok(Box::new(move |store, sink| {
        planledger::backup::write_log(store, sink)?;
        Ok(())
    }))
}

fn bundle_job(r: proto::BundleRequest) -> Result<Job> {
    let as_of = (!r.as_of.is_empty()).then(|| AsOf::parse(&r.as_of)).transpose()?;
    Ok(Box::new(move |store, sink| {
        planledger::bundle::write(store, as_of, sink)?;
        Ok(())
    }))
}

fn proof_job(r: proto::ProofRequest) -> Result<Job> {
    let event = EventRef::parse("event", &r.event)?;
    Ok(Box::new(move |store, sink| sink.write(&read::pretty(&read::proof(store, &event, r.size)?.1))))
}

fn signature_of(s: &proto::Submission) -> Option<Box<Signature>> {
    (!s.signature.is_empty()).then(|| {
        Box::new(Signature { key: s.public_key.clone(), bytes: s.signature.clone(), signed: s.signed.clone() })
    })
}

/// A submission from its type and fields (the JSONL form; key changes have forms of their own).
pub fn submission_of(s: &proto::Submission) -> Result<Submission> {
    let fields: BTreeMap<String, String> = s.fields.clone().into_iter().collect();
    let key = |f: &BTreeMap<String, String>| -> Result<Vec<u8>> {
        let h = f.get("public_key").ok_or_else(|| Error::invalid(msg!("server.needs_field", field = "public_key")))?;
        Ok(planledger::keys::unhex32("public_key", h)?.to_vec())
    };
    let get = |k: &str| fields.get(k).cloned().ok_or_else(|| Error::invalid(msg!("server.needs_field", field = k)));
    let command = match s.r#type.as_str() {
        "register-key" => Command::RegisterKey {
            principal: get("principal")?,
            role: fields.get("role").map(|r| planledger::model::Role::parse("role", r)).transpose()?,
            key: key(&fields)?,
        },
        "revoke-key" => Command::RevokeKey { principal: get("principal")?, key: key(&fields)?, reason: get("reason")? },
        kind => return planledger::input::submission_from_fields(kind, &fields),
    };
    let id = fields
        .get("id")
        .map(|id| uuid::Uuid::parse_str(id).map_err(|_| Error::invalid(msg!("server.id_not_uuid", id = id))))
        .transpose()?;
    Ok(Submission { signature: None, id, note: fields.get("note").cloned(), command })
}

/// An event as the wire carries it.
pub fn recorded(e: &Event, hash: &planledger::codec::Hash) -> proto::RecordedEvent {
    use proto::recorded_event::Payload as W;
    let subject = |s: &Subject| match s {
        Subject::Investment { plan, project, period } => proto::Subject {
            kind: "investment".into(),
            plan: plan.clone(),
            project: project.clone(),
            period: period.to_string(),
            ..Default::default()
        },
        Subject::Milestone { plan, project, milestone } => proto::Subject {
            kind: "milestone".into(),
            plan: plan.clone(),
            project: project.clone(),
            milestone: milestone.to_string(),
            ..Default::default()
        },
        Subject::Actual { plan, indicator, period, basis } => proto::Subject {
            kind: "actual".into(),
            plan: plan.clone(),
            indicator: indicator.clone(),
            period: period.to_string(),
            basis: basis.to_string(),
            ..Default::default()
        },
    };
    let payload = match &e.payload {
        Payload::PlanDeclared(p) => W::PlanDeclared(proto::PlanDeclared {
            plan: p.plan.clone(),
            year: p.year,
            title: p.title.clone(),
            jurisdiction: p.jurisdiction.clone(),
        }),
        Payload::DepartmentRegistered(d) => W::DepartmentRegistered(proto::DepartmentRegistered {
            dept: d.dept.clone(),
            name: d.name.clone(),
            coordinator: d.coordinator,
        }),
        Payload::IndicatorDefined(i) => W::IndicatorDefined(proto::IndicatorDefined {
            plan: i.plan.clone(),
            indicator: i.indicator.clone(),
            name: i.name.clone(),
            unit: i.unit.clone(),
            measure: i.measure.to_string(),
            comparison: i.comparison.to_string(),
            approximate: i.approximate,
            nature: i.nature.to_string(),
            target: fmt_decimal(i.target),
            department: i.department.clone(),
        }),
        Payload::ProjectListed(p) => W::ProjectListed(proto::ProjectListed {
            plan: p.plan.clone(),
            project: p.project.clone(),
            name: p.name.clone(),
            level: p.level.to_string(),
            department: p.department.clone(),
            planned_investment: fmt_decimal(p.planned_investment),
            total_investment: p.total_investment.map(fmt_decimal).unwrap_or_default(),
            planned_milestones: p.planned_milestones.iter().map(|m| m.to_string()).collect(),
            started: p.started.map(|d| d.to_string()).unwrap_or_default(),
            dimensions: p.dimensions.clone().into_iter().collect(),
            carried: p
                .carried
                .iter()
                .map(|c| proto::CarriedMilestone {
                    milestone: c.milestone.to_string(),
                    seq: c.seq,
                    date: c.date.to_string(),
                })
                .collect(),
        }),
        Payload::InvestmentReported(i) => W::Investment(proto::InvestmentReported {
            plan: i.plan.to_string(),
            project: i.project.to_string(),
            period: i.period.to_string(),
            amount: fmt_decimal(i.amount),
        }),
        Payload::MilestoneReached(m) => W::Milestone(proto::MilestoneReached {
            plan: m.plan.to_string(),
            project: m.project.to_string(),
            milestone: m.milestone.to_string(),
            date: m.date.to_string(),
        }),
        Payload::ActualReported(a) => W::Actual(proto::ActualReported {
            plan: a.plan.to_string(),
            indicator: a.indicator.to_string(),
            period: a.period.to_string(),
            value: fmt_decimal(a.value),
            basis: a.basis.to_string(),
        }),
        Payload::TargetRevised(t) => {
            let (plan, indicator, project) = match &t.target {
                TargetRef::Indicator { plan, indicator } => (plan.clone(), indicator.clone(), String::new()),
                TargetRef::Project { plan, project } => (plan.clone(), String::new(), project.clone()),
            };
            W::ReviseTarget(proto::TargetRevised {
                plan,
                indicator,
                project,
                previous: fmt_decimal(t.previous),
                value: fmt_decimal(t.value),
                reason: t.reason.clone(),
            })
        }
        Payload::Corrected(c) => W::Correct(proto::Corrected {
            target_seq: c.target_seq,
            target_id: c.target_id.to_string(),
            subject: Some(subject(&c.subject)),
            previous: fmt_decimal(c.previous),
            value: fmt_decimal(c.value),
            reason: c.reason.clone(),
        }),
        Payload::Retracted(r) => W::Retract(proto::Retracted {
            target_seq: r.target_seq,
            target_id: r.target_id.to_string(),
            subject: Some(subject(&r.subject)),
            reason: r.reason.clone(),
        }),
        Payload::KeyRegistered(k) => W::KeyRegistered(proto::KeyRegistered {
            principal: k.principal.clone(),
            role: k.role.to_string(),
            public_key: k.key.clone(),
        }),
        Payload::KeyRevoked(k) => W::KeyRevoked(proto::KeyRevoked {
            principal: k.principal.clone(),
            public_key: k.key.clone(),
            reason: k.reason.clone(),
        }),
        Payload::ProjectScheduled(p) => {
            let month = |m: planledger::model::Milestone| p.planned_month(m).map(|x| x.to_string()).unwrap_or_default();
            W::ProjectScheduled(proto::ProjectScheduled {
                plan: p.plan.clone(),
                project: p.project.clone(),
                construction: p.construction.map(|c| c.to_string()).unwrap_or_default(),
                planned_start: month(planledger::model::Milestone::Start),
                planned_complete: month(planledger::model::Milestone::Complete),
                planned_operate: month(planledger::model::Milestone::Operate),
                prior_investment: p.prior_investment.map(fmt_decimal).unwrap_or_default(),
            })
        }
        Payload::IndicatorTracked(i) => W::IndicatorTracked(proto::IndicatorTracked {
            plan: i.plan.clone(),
            indicator: i.indicator.clone(),
            name: i.name.clone(),
            unit: i.unit.clone(),
            measure: i.measure.to_string(),
            department: i.department.clone(),
        }),
        Payload::ProjectWithdrawn(w) => W::Withdraw(proto::ProjectWithdrawn {
            plan: w.plan.clone(),
            project: w.project.clone(),
            date: w.date.to_string(),
            reason: w.reason.clone(),
        }),
    };
    let mut canonical = Vec::new();
    planledger::codec::encode_event(e, &mut canonical);
    proto::RecordedEvent {
        seq: e.seq,
        id: e.id.to_string(),
        r#type: e.payload.kind().into(),
        stream: e.payload.stream(),
        stream_version: e.stream_version,
        recorded_at: e.recorded_at.to_string(),
        actor: e.actor.to_string(),
        schema: u32::from(e.schema),
        note: e.note.clone().unwrap_or_default(),
        signature: e.signature.as_ref().map(|s| proto::Signature {
            public_key: s.key.clone(),
            signature: s.bytes.clone(),
            signed: s.signed.clone(),
        }),
        hash: hash.to_vec(),
        canonical,
        payload: Some(payload),
    }
}

pub struct Service {
    ledgers: Arc<Ledgers>,
}

/// What every ledger's `Shared` of one server has in common.
#[derive(Clone)]
struct Common {
    shutdown: watch::Receiver<bool>,
    nonces: Arc<Mutex<NonceCache>>,
    reads: Arc<read::Gate>,
    log: Arc<AccessLog>,
}

/// The ledgers a server serves: the one it was started on, and on a PostgreSQL database the
/// others a request names (`LEDGER_HEADER`), each opened on its first request.
struct Ledgers {
    first: Arc<Shared>,
    /// The database's URL and the first ledger's name; `None` for a directory.
    database: Option<planledger::pg::PgTarget>,
    others: Mutex<HashMap<String, Arc<Shared>>>,
    common: Common,
}

impl Ledgers {
    /// The ledger `req` names (the first when it names none).
    async fn of<T>(self: &Arc<Self>, req: &Request<T>) -> Result<Arc<Shared>, Status> {
        let lang = lang_of(req);
        let Some(name) = req.metadata().get(LEDGER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string) else {
            return Ok(self.first.clone());
        };
        let Some(database) = &self.database else {
            return Err(status_in(&Error::invalid(msg!("server.one_ledger", ledger = &name)), lang));
        };
        if name == database.ledger() {
            return Ok(self.first.clone());
        }
        if let Some(shared) = lock(&self.others).get(&name) {
            return Ok(shared.clone());
        }
        let (this, database) = (self.clone(), database.clone());
        blocking(move || this.open(&database, &name)).await?.map_err(|e| status_in(&e, lang))
    }

    /// Opens ledger `name` of the database (it must exist: a request never makes one).
    fn open(&self, database: &planledger::pg::PgTarget, name: &str) -> Result<Arc<Shared>> {
        let target = database.with_ledger(name)?;
        if !planledger::pg::ledgers(&target)?.iter().any(|l| l == name) {
            return Err(Error::NoStore(std::path::PathBuf::from(format!("{}?ledger={name}", database.shown()))));
        }
        if lock(&self.others).len() >= LEDGERS_SERVED_MAX {
            return Err(Error::invalid(msg!("server.too_many_ledgers", max = LEDGERS_SERVED_MAX)));
        }
        let at = StoreAt::Postgres(Box::new(target));
        let ledger =
            Ledger::open_at(&at, Box::new(planledger::clock::SystemClock), Box::new(planledger::clock::V7Ids))?;
        let opened = shared_of(ledger, &self.common)?;
        // Two first requests at once: the first to get here is kept, the other closed.
        let mut others = lock(&self.others);
        Ok(others.entry(name.to_string()).or_insert(opened).clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A ledger as the server serves it: its group commit and appender, its head for
/// subscribers (polled from the database when others append too), its key registry.
fn shared_of(ledger: Ledger, common: &Common) -> Result<Arc<Shared>> {
    let (head_tx, _) = watch::channel(ledger.store().head().events());
    let ledger_key = ledger.public_key();
    let group = Arc::new(GroupCommit::new(ledger));
    let appender = Appender::start(Arc::clone(&group))?;
    let shared = Arc::new(Shared {
        appender,
        group,
        ledger_key,
        key_changes: std::sync::atomic::AtomicU64::new(0),
        head: head_tx,
        shutdown: common.shutdown.clone(),
        nonces: common.nonces.clone(),
        registry: Mutex::new(Arc::new(Registry::default())),
        reads: common.reads.clone(),
        log: common.log.clone(),
    });
    if shared.group.store().is_shared() {
        tokio::spawn(poll_head(shared.clone()));
    }
    Ok(shared)
}

type AnswerStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::AppendResponse, Status>> + Send>>;

/// One streamed append's answer, to come once it is durable or refused.
type Answer = oneshot::Receiver<Result<proto::AppendResponse, Status>>;
/// Where a streamed append's answer goes, with the room its request takes until then.
type AnswerSlot = (Answer, tokio::sync::OwnedSemaphorePermit);
/// What the stream gave next: a request, its end, or its failure.
type Next = Result<Option<proto::AppendRequest>, Status>;

/// A request's size on the wire (what `REQUEST_BYTES_MAX` bounds).
pub fn encoded_bytes(r: &proto::AppendRequest) -> usize {
    r.encoded_len()
}

/// An `AppendStream`'s requests as they come: those already arrived are taken together
/// (`take_arrived`), verified and queued on the stream's chain in order, on the blocking pool;
/// their answers go to `answers` in the same order. Ends at the client's end, at a request
/// refused, or once the client stops reading answers.
async fn take_appends(
    shared: Arc<Shared>,
    mut inbound: tonic::Streaming<proto::AppendRequest>,
    lang: Lang,
    peer: Option<SocketAddr>,
    answers: mpsc::Sender<AnswerSlot>,
    room: Arc<tokio::sync::Semaphore>,
) {
    let chain = Chain::new();
    let mut carried = None;
    loop {
        let Some(Taken { requests, ended }) = take_arrived(&mut inbound, &mut carried, &answers, &room).await else {
            return;
        };
        if !requests.is_empty() {
            let (s, c) = (shared.clone(), chain.clone());
            let queued = blocking(move || {
                requests.into_iter().all(|(r, reply)| {
                    let call = Call::from(&s, Rpc::AppendStream, peer);
                    s.append(r, lang, call, Some(&c), reply)
                })
            })
            .await;
            if !matches!(queued, Ok(true)) {
                // Refused before it was queued: it is the stream's last answer.
                return;
            }
        }
        if ended || chain.broken() {
            return;
        }
    }
}

/// A group of a stream's requests, each with where its answer goes, and whether the stream
/// ended after it (or failed: its failure is answered in its place, after the group).
struct Taken {
    requests: Vec<(proto::AppendRequest, oneshot::Sender<Result<proto::AppendResponse, Status>>)>,
    ended: bool,
}

/// Waits for the stream's next request (or takes the one `carried` over), then takes those
/// already arrived after it, at most `STREAM_TAKE_MAX`, each given its answer's place in
/// `answers` and its bytes' room. At most `STREAM_IN_FLIGHT_MAX` requests and
/// `STREAM_BYTES_IN_FLIGHT_MAX` bytes wait for their answers: past that, the stream is not
/// read (HTTP/2 flow control holds the client). Room is waited for only with nothing taken —
/// a group is answered only once it is queued, so waiting while holding one would wait for
/// itself — and what does not fit is carried into the next group. `None`: the client stopped
/// reading answers.
async fn take_arrived(
    inbound: &mut tonic::Streaming<proto::AppendRequest>,
    carried: &mut Option<Next>,
    answers: &mpsc::Sender<AnswerSlot>,
    room: &Arc<tokio::sync::Semaphore>,
) -> Option<Taken> {
    let mut taken = Taken { requests: Vec::new(), ended: false };
    let mut next = match carried.take() {
        Some(n) => n,
        None => inbound.message().await,
    };
    loop {
        let (failed, bytes) = match &next {
            Ok(Some(r)) => {
                (None, u32::try_from(r.encoded_len().clamp(1, STREAM_BYTES_IN_FLIGHT_MAX)).unwrap_or(u32::MAX))
            }
            Ok(None) => {
                taken.ended = true;
                return Some(taken);
            }
            // A message too large, or not protobuf.
            Err(status) => (Some(status.clone()), 1),
        };
        let waits = taken.requests.is_empty();
        let permit = if waits {
            room.clone().acquire_many_owned(bytes).await.ok()?
        } else {
            match room.clone().try_acquire_many_owned(bytes) {
                Ok(p) => p,
                Err(_) => {
                    *carried = Some(next);
                    return Some(taken);
                }
            }
        };
        let slot = if waits { answers.reserve().await.ok() } else { answers.try_reserve().ok() };
        let Some(slot) = slot else {
            if answers.is_closed() {
                return None;
            }
            *carried = Some(next);
            return Some(taken);
        };
        let (tx, rx) = oneshot::channel();
        slot.send((rx, permit));
        if let Some(status) = failed {
            let _ = tx.send(Err(status));
            taken.ended = true;
            return Some(taken);
        }
        if let Ok(Some(request)) = next {
            taken.requests.push((request, tx));
        }
        if taken.requests.len() >= STREAM_TAKE_MAX {
            return Some(taken);
        }
        match ready(inbound.message()) {
            Some(n) => next = n,
            None => return Some(taken),
        }
    }
}

/// `f`'s output if it is ready now, without waiting.
fn ready<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::RecordedEvent, Status>> + Send>>;
type OutputStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<Output, Status>> + Send>>;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Status::internal(format!("request failed: {e}")))
}

/// Sends events `*next..=head` of `stream` (every stream when empty), batch by batch, at
/// most `left` more of them; `None` while the call goes on, else how it ended.
async fn send_up_to(
    shared: &Arc<Shared>,
    next: &mut u64,
    head: u64,
    stream: &str,
    left: &mut Option<u64>,
    tx: &mpsc::Sender<Result<proto::RecordedEvent, Status>>,
) -> Option<Outcome> {
    while *next <= head {
        let (from, to) = (*next, (*next + READ_BATCH - 1).min(head));
        let (s, stream) = (shared.clone(), stream.to_string());
        let batch = match blocking(move || s.read_batch(from, to, &stream)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) | Err(e) => {
                let outcome = Outcome::of_code(e.code());
                let _ = tx.send(Err(e)).await;
                return Some(outcome);
            }
        };
        for e in batch {
            if *left == Some(0) {
                return Some(Outcome::Ok);
            }
            if tx.send(Ok(e)).await.is_err() {
                return Some(Outcome::Cancelled);
            }
            if let Some(n) = left.as_mut() {
                *n -= 1;
            }
        }
        *next = to + 1;
    }
    None
}

/// Sends the events `Read` asked for; says how it ended.
async fn read_events(
    shared: &Arc<Shared>,
    r: &proto::ReadRequest,
    tx: &mpsc::Sender<Result<proto::RecordedEvent, Status>>,
) -> Outcome {
    // On a shared store, authenticating the request published the database's head.
    let head = *shared.head.borrow();
    let mut next = r.from_seq.max(1);
    let mut left = (r.max_count > 0).then_some(r.max_count);
    send_up_to(shared, &mut next, head, &r.stream, &mut left, tx).await.unwrap_or(Outcome::Ok)
}

/// Sends every event from `r.from_seq`, then each as it is written, until the client goes
/// or the server stops; says how it ended.
async fn subscribe_events(
    shared: &Arc<Shared>,
    r: &proto::SubscribeRequest,
    tx: &mpsc::Sender<Result<proto::RecordedEvent, Status>>,
) -> Outcome {
    let mut heads = shared.head.subscribe();
    let mut shutdown = shared.shutdown.clone();
    // The next seq to send: catch-up and live read the same log, so the switch from
    // one to the other can neither skip nor repeat an event.
    let mut next = r.from_seq.max(1);
    loop {
        let head = *heads.borrow_and_update();
        if let Some(ended) = send_up_to(shared, &mut next, head, "", &mut None, tx).await {
            return ended;
        }
        tokio::select! {
            changed = heads.changed() => if changed.is_err() { return Outcome::Ok },
            _ = shutdown.changed() => return Outcome::Ok,
            () = tx.closed() => return Outcome::Cancelled,
        }
    }
}

#[tonic::async_trait]
impl LedgerRpc for Service {
    async fn append(&self, req: Request<proto::AppendRequest>) -> Result<Response<proto::AppendResponse>, Status> {
        let shared = self.ledgers.of(&req).await?;
        let call = Call::new(&shared, Rpc::Append, &req);
        let lang = lang_of(&req);
        let r = req.into_inner();
        let (reply, answer) = oneshot::channel();
        // Verified on the blocking pool, then queued: no thread waits for the commit.
        drop(tokio::task::spawn_blocking(move || shared.append(r, lang, call, None, reply)));
        answer.await.map_err(|_| Status::internal("request failed: the server dropped it"))?.map(Response::new)
    }

    type AppendStreamStream = AnswerStream;

    async fn append_stream(
        &self,
        req: Request<tonic::Streaming<proto::AppendRequest>>,
    ) -> Result<Response<AnswerStream>, Status> {
        let (lang, peer) = (lang_of(&req), req.remote_addr());
        // The ledger is chosen by the headers alone (the stream's body is not `Sync`).
        let mut headers = Request::new(());
        *headers.metadata_mut() = req.metadata().clone();
        let shared = self.ledgers.of(&headers).await?;
        let (answers, answered) = mpsc::channel(STREAM_IN_FLIGHT_MAX);
        let room = Arc::new(tokio::sync::Semaphore::new(STREAM_BYTES_IN_FLIGHT_MAX));
        tokio::spawn(take_appends(shared, req.into_inner(), lang, peer, answers, room));
        let answers =
            tokio_stream::StreamExt::then(ReceiverStream::new(answered), |(answer, room): AnswerSlot| async move {
                let answer =
                    answer.await.unwrap_or_else(|_| Err(Status::internal("request failed: the server dropped it")));
                // The request's bytes count until its answer goes.
                drop(room);
                answer
            });
        Ok(Response::new(Box::pin(answers)))
    }

    type ReadStream = EventStream;

    async fn read(&self, req: Request<proto::ReadRequest>) -> Result<Response<EventStream>, Status> {
        let ledger = self.ledgers.of(&req).await?;
        let call = Call::new(&ledger, Rpc::Read, &req);
        let r = req.into_inner();
        let shared = ledger.clone();
        let checked = r.clone();
        let mut call = blocking(move || {
            let mut call = call;
            shared.authenticate(Rpc::Read, &checked, &mut call).map(|_| call)
        })
        .await??;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let shared = ledger.clone();
        tokio::spawn(async move {
            // Every way out of the loop says how the call ended; running past it is success.
            let ended = read_events(&shared, &r, &tx).await;
            call.end(ended);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(&self, req: Request<proto::SubscribeRequest>) -> Result<Response<EventStream>, Status> {
        let ledger = self.ledgers.of(&req).await?;
        let call = Call::new(&ledger, Rpc::Subscribe, &req);
        let r = req.into_inner();
        let shared = ledger.clone();
        let checked = r.clone();
        let mut call = blocking(move || {
            let mut call = call;
            shared.authenticate(Rpc::Subscribe, &checked, &mut call).map(|_| call)
        })
        .await??;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let shared = ledger.clone();
        tokio::spawn(async move {
            let _counted = Subscriber::new();
            let ended = subscribe_events(&shared, &r, &tx).await;
            call.end(ended);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type StateStream = OutputStream;
    type SummaryStream = OutputStream;
    type AuditStream = OutputStream;
    type ShowStream = OutputStream;
    type LogStream = OutputStream;
    type SnapshotStream = OutputStream;
    type SnapshotVerifyStream = OutputStream;
    type DiffStream = OutputStream;
    type VerifyStream = OutputStream;
    type CheckpointStream = OutputStream;
    type KeyStream = OutputStream;
    type ProofStream = OutputStream;
    type BackupStream = OutputStream;
    type ExportLogStream = OutputStream;
    type BundleStream = OutputStream;

    async fn state(&self, req: Request<proto::StateRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::State, req, state_job).await
    }
    async fn summary(&self, req: Request<proto::SummaryRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Summary, req, summary_job).await
    }
    async fn audit(&self, req: Request<proto::AuditRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Audit, req, audit_job).await
    }
    async fn show(&self, req: Request<proto::ShowRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Show, req, show_job).await
    }
    async fn log(&self, req: Request<proto::LogRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Log, req, log_job).await
    }
    async fn snapshot(&self, req: Request<proto::SnapshotRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Snapshot, req, snapshot_job).await
    }
    async fn snapshot_verify(
        &self,
        req: Request<proto::SnapshotVerifyRequest>,
    ) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::SnapshotVerify, req, snapshot_verify_job).await
    }
    async fn diff(&self, req: Request<proto::DiffRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Diff, req, diff_job).await
    }
    async fn verify(&self, req: Request<proto::VerifyRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Verify, req, verify_job).await
    }
    async fn checkpoint(&self, req: Request<proto::CheckpointRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Checkpoint, req, checkpoint_job).await
    }
    async fn key(&self, req: Request<proto::KeyRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Key, req, key_job).await
    }
    async fn proof(&self, req: Request<proto::ProofRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Proof, req, proof_job).await
    }
    async fn backup(&self, req: Request<proto::BackupRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Backup, req, backup_job).await
    }
    async fn export_log(&self, req: Request<proto::ExportLogRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::ExportLog, req, export_log_job).await
    }
    async fn bundle(&self, req: Request<proto::BundleRequest>) -> Result<Response<OutputStream>, Status> {
        self.answer(Rpc::Bundle, req, bundle_job).await
    }
}

impl Service {
    /// Authenticates a read request, turns it into its typed query (refusing a malformed
    /// field before any reading), then answers it on the store, streaming the output.
    async fn answer<R: Signed + Send + 'static>(
        &self,
        rpc: Rpc,
        req: Request<R>,
        job: fn(R) -> Result<Job>,
    ) -> Result<Response<OutputStream>, Status> {
        let lang = lang_of(&req);
        let ledger = self.ledgers.of(&req).await?;
        let call = Call::new(&ledger, rpc, &req);
        let r = req.into_inner();
        let shared = ledger.clone();
        let (job, mut call) = blocking(move || -> Result<(Job, Call), Status> {
            let mut call = call;
            shared.authenticate(rpc, &r, &mut call)?;
            let job = job(r).map_err(|e| status_in(&e, lang));
            if let Err(s) = &job {
                call.refused(s);
            }
            Ok((job?, call))
        })
        .await??;
        let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
        let shared = ledger.clone();
        // Reads run on the store's durable prefix, on a thread of their own at a lower
        // priority, as many at once as there are cores less one: they take no lock a writer
        // holds, and leave a core to appends.
        let failed = tx.clone();
        let spawned = std::thread::Builder::new().name("planledger-read".into()).spawn(move || {
            read::lower_thread_priority();
            let _pass = shared.reads.enter();
            let mut sink = Sink { tx, buf: Vec::new(), lang, gone: false };
            // On a shared store, authenticating the request moved the store's head to the
            // database's: what other servers appended until now is read too.
            let result = job(shared.group.store(), &mut sink);
            call.end(sink.finish(result));
        });
        if let Err(e) = spawned {
            let _ = failed.try_send(Err(Status::unavailable(format!("cannot start a reader thread: {e}"))));
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Serves the store at `dir` on `listen` until SIGINT or SIGTERM; prints the bound address
/// (`listening on ADDR`) first. On a signal it stops taking requests, lets those in flight
/// finish (each acknowledged only once durable), ends subscriptions and closes the store.
/// What a second front end served beside (or instead of) gRPC gets: the ledger's store, read
/// through the same gate as gRPC's reads, never its writers' lock.
#[derive(Clone)]
pub struct Reader(Arc<Shared>);

impl Reader {
    /// Runs `f` on the store (a blocking call: run it off the async threads).
    pub fn read<T>(&self, f: impl FnOnce(&dyn Store) -> T) -> T {
        let _pass = self.0.reads.enter();
        f(self.0.group.store())
    }

    /// Records a front end's request: in the access log, and counted by outcome.
    pub fn record(&self, entry: &Entry) {
        METRICS.web(entry.outcome);
        self.0.log.write(entry);
    }
}

/// A front end to run in the server's runtime: given the reader and the shutdown signal
/// (true once SIGINT/SIGTERM arrived), it serves until that signal.
pub type FrontEnd = Box<
    dyn FnOnce(Reader, watch::Receiver<bool>) -> Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>> + Send,
>;

/// How `serve` runs beyond the store: where it listens, TLS, the metrics and access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The gRPC address (absent: the front end alone).
    pub listen: Option<String>,
    /// TLS for gRPC.
    pub tls: Option<tls::ServerFiles>,
    /// The address of `/metrics` (plain HTTP).
    pub metrics: Option<String>,
    pub access_log: access::Destination,
    /// Verify the whole log this often while serving (`serve --verify-every`): the served
    /// store is locked, so a separate `planledger verify` cannot open it.
    pub verify_every: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options { listen: None, tls: None, metrics: None, access_log: access::Destination::Stderr, verify_every: None }
    }
}

/// The shortest interval between scheduled verifies: each reads the whole log.
pub const VERIFY_EVERY_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads an interval such as `24h`, `30m` or `90s` (`serve --verify-every`, the config's
/// `verify_every`).
pub fn parse_interval(field: &str, text: &str) -> Result<std::time::Duration> {
    let bad = || Error::invalid(msg!("server.bad_interval", field = field, value = text));
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let every = std::time::Duration::from_secs(seconds);
    if every < VERIFY_EVERY_MIN {
        return Err(bad());
    }
    Ok(every)
}

/// Serves the store at `dir` over gRPC on `listen`, and `front` beside it (the web view);
/// either may be absent, not both.
pub fn serve(dir: &Path, listen: &str, out: &mut dyn std::io::Write) -> Result<()> {
    serve_with(dir, Some(listen), None, out)
}

pub fn serve_with(
    dir: &Path,
    listen: Option<&str>,
    front: Option<FrontEnd>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let options = Options { listen: listen.map(str::to_string), ..Options::default() };
    serve_options(&StoreAt::from(dir), &options, front, out)
}

/// Says on `out` where something listens (scripts and tests read these lines: not translated).
fn announce(out: &mut dyn std::io::Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| Error::io(msg!("io.writing_stdout"), e))
}

async fn bind(addr: &str, not_address: Msg) -> Result<tokio::net::TcpListener> {
    let parsed: SocketAddr = addr.parse().map_err(|_| Error::invalid(not_address))?;
    tokio::net::TcpListener::bind(parsed).await.map_err(|e| Error::io(msg!("server.listening_on", addr = parsed), e))
}

/// Serves as `options` say until SIGINT or SIGTERM: prints `metrics on http://ADDR` and
/// `listening on ADDR` (gRPC; `listening on https://ADDR` with TLS) once bound.
pub fn serve_options(
    at: &StoreAt,
    options: &Options,
    front: Option<FrontEnd>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    // Every file is read and checked before the store is opened or a port bound.
    let tls = options.tls.as_ref().map(|t| t.config().map(|c| (t, c))).transpose()?;
    let log = AccessLog::open(&options.access_log, &at.shown())?;
    let ledger = Ledger::open_at(at, Box::new(planledger::clock::SystemClock), Box::new(planledger::clock::V7Ids))?;
    planledger::wal::observe_fsync(metrics::observe_fsync);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(msg!("server.starting_runtime"), e))?;
    runtime.block_on(async move {
        let mut builder = tonic::transport::Server::builder();
        if let Some((files, config)) = tls {
            builder = builder.tls_config(config).map_err(|e| files.refused(&e))?;
        }
        let metrics = match &options.metrics {
            Some(addr) => {
                let listener = bind(addr, msg!("server.metrics_not_address", value = addr)).await?;
                let bound = listener.local_addr().map_err(|e| Error::io(msg!("server.listening"), e))?;
                announce(out, &format!("metrics on http://{bound}"))?;
                Some(listener)
            }
            None => None,
        };
        let listener = match &options.listen {
            Some(listen) => {
                let listener = bind(listen, msg!("server.listen_not_address", value = listen)).await?;
                let bound = listener.local_addr().map_err(|e| Error::io(msg!("server.listening"), e))?;
                let scheme = if options.tls.is_some() { "https://" } else { "" };
                announce(out, &format!("listening on {scheme}{bound}"))?;
                Some(listener)
            }
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let common = Common {
            shutdown: stop_rx,
            nonces: Arc::new(Mutex::new(NonceCache::default())),
            reads: Arc::new(read::Gate::for_this_machine()),
            log: Arc::new(log),
        };
        let shared = shared_of(ledger, &common)?;
        let database = match at {
            StoreAt::Postgres(t) => Some((**t).clone()),
            StoreAt::Dir(_) => None,
        };
        let ledgers = Arc::new(Ledgers { first: shared.clone(), database, others: Mutex::new(HashMap::new()), common });
        let service = Service { ledgers: ledgers.clone() };
        let signal = async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            let _ = stop_tx.send(true);
        };
        let mut stopped = shared.shutdown.clone();
        let metrics = metrics.map(|l| tokio::spawn(serve_metrics(l, shared.clone())));
        if let Some(every) = options.verify_every {
            tokio::spawn(verify_periodically(shared.clone(), every));
        }
        let front = front.map(|f| tokio::spawn(f(Reader(shared.clone()), shared.shutdown.clone())));
        let Some(listener) = listener else {
            // The front end alone: it serves until the signal.
            signal.await;
            if let Some(front) = front {
                front.await.map_err(|e| Error::io(msg!("server.serving"), std::io::Error::other(e.to_string())))??;
            }
            if let Some(m) = metrics {
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, m).await;
            }
            drop(shared);
            return Ok(());
        };
        let serving = builder
            .add_service(LedgerServer::new(service).max_decoding_message_size(REQUEST_BYTES_MAX))
            .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), signal);
        // After the signal, connections get `SHUTDOWN_GRACE` to finish what they asked; a
        // client that holds an idle connection open does not keep the server up.
        let grace = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = serving => {
                served.map_err(|e| Error::io(msg!("server.serving"), std::io::Error::other(e.to_string())))?
            }
            () = grace => {}
        }
        if let Some(front) = front {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, front).await;
        }
        if let Some(m) = metrics {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, m).await;
        }
        // Every request has finished; closing the ledger makes sled durable up to the end of the log.
        drop(shared);
        drop(ledgers);
        Ok(())
    })
}

/// How often a server on a shared store asks the database how far the log reaches, so its
/// subscribers see what other servers appended: the most a subscriber waits for an event
/// appended elsewhere (appends through this server wake them at once).
pub const HEAD_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Publishes the shared store's head to this server's subscribers every `HEAD_POLL` until
/// the server stops. A database that cannot be reached is asked again at the next tick
/// (subscribers wait; they miss nothing, as they read from their own cursor).
async fn poll_head(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEAD_POLL) => {}
            _ = stop.changed() => return,
        }
        let s = shared.clone();
        if let Ok(Ok(head)) = blocking(move || s.group.store().latest_head()).await {
            shared.publish_head(head.events());
        }
    }
}

/// Verifies the whole log every `every` until the server stops, at low priority and through
/// the read gate (appends go on): the result goes to /metrics, and a failure is said on
/// stderr in one line (journald under systemd), naming the seq and what is wrong.
async fn verify_periodically(shared: Arc<Shared>, every: std::time::Duration) {
    let mut stop = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let s = shared.clone();
        let verified = blocking(move || {
            read::lower_thread_priority();
            let _pass = s.reads.enter();
            let q = read::VerifyQuery { require_signatures: false, checkpoint: None };
            read::verify(s.group.store(), &q)
        })
        .await;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let failure = match verified {
            Ok(Ok(answer)) => {
                METRICS.verify_events.store(answer.verification.events, std::sync::atomic::Ordering::Relaxed);
                answer.failure()
            }
            Ok(Err(e)) => Some(e),
            Err(status) => {
                Some(Error::io(msg!("server.verifying"), std::io::Error::other(status.message().to_string())))
            }
        };
        METRICS.verify_ok.store(i64::from(failure.is_none()), std::sync::atomic::Ordering::Relaxed);
        METRICS.verify_at.store(now, std::sync::atomic::Ordering::Relaxed);
        if let Some(e) = failure {
            eprintln!("planledger: {}", msg!("server.verify_failed", error = e.to_msg()).render(Lang::En));
        }
    }
}

/// `/metrics` on its own listener, plain HTTP, until the server stops.
async fn serve_metrics(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.clone();
    let head = shared.head.subscribe();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = METRICS.render(*head.borrow());
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text) }
        }),
    );
    drop(shared);
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
}
