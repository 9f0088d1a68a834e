//! The network service (`planledger serve`): gRPC over tokio (tonic), the contract in
//! proto/planledger/v1/ledger.proto. The server owns the store; departments append signed
//! submissions through group commit; every read needs a request signed by a registered key,
//! fresh (timestamp) and used once (nonce). Protobuf types stay in this module and
//! `remote`; conversion to the ledger's own types is by hand, here.

// tonic's service methods return `Result<_, Status>`; the helpers keep that shape.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::cli::{self, exit};
use crate::codec::hex;
use crate::commit::GroupCommit;
use crate::decide::{Command, Submission};
use crate::error::{Error, Result};
use crate::event::{Event, Payload, Signature, Subject, TargetRef};
use crate::ledger::Ledger;
use crate::model::{fmt_decimal, Timestamp};

pub mod proto {
    tonic::include_proto!("planledger.v1");
}

use proto::ledger_server::{Ledger as LedgerRpc, LedgerServer};

/// How far a request's timestamp may be from the server's clock.
pub const REQUEST_SKEW_MAX_MICROS: i64 = 300_000_000;
/// Events read from the store per step of a `Read` or `Subscribe`.
const READ_BATCH: u64 = 1_000;
/// Events buffered per subscriber before the server waits for it.
const STREAM_BUFFER: usize = 1_024;

/// Commands a `QueryRequest` may run: the reads (writes go through `Append`).
const QUERY_COMMANDS: &[&str] =
    &["state", "log", "verify", "summary", "audit", "show", "snapshot", "diff", "checkpoint", "key", "proof"];

struct Shared {
    group: GroupCommit,
    head: watch::Sender<u64>,
    shutdown: watch::Receiver<bool>,
    nonces: Mutex<NonceCache>,
}

#[derive(Default)]
struct NonceCache {
    seen: HashSet<Vec<u8>>,
    order: VecDeque<(i64, Vec<u8>)>,
}

impl NonceCache {
    /// Records `nonce` at `ts`; false if it was already used within the window.
    fn fresh(&mut self, ts: i64, now: i64, nonce: &[u8]) -> bool {
        while let Some((t, n)) = self.order.front() {
            if *t >= now - REQUEST_SKEW_MAX_MICROS {
                break;
            }
            self.seen.remove(n);
            self.order.pop_front();
        }
        if !self.seen.insert(nonce.to_vec()) {
            return false;
        }
        self.order.push_back((ts, nonce.to_vec()));
        true
    }
}

/// The gRPC status for an error: the code follows the CLI's exit code, the message is the
/// same one line.
pub fn status_of(e: &Error) -> Status {
    let msg = e.to_string();
    match cli::exit_code(e) {
        exit::INVALID => Status::invalid_argument(msg),
        exit::FORBIDDEN => Status::permission_denied(msg),
        exit::CONFLICT => Status::aborted(msg),
        exit::UNAVAILABLE => Status::unavailable(msg),
        exit::INTEGRITY => Status::data_loss(msg),
        _ => Status::internal(msg),
    }
}

/// The exit code for a status a server sent.
pub fn exit_of(s: &Status) -> i32 {
    match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::NotFound => exit::INVALID,
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => exit::FORBIDDEN,
        tonic::Code::Aborted | tonic::Code::AlreadyExists => exit::CONFLICT,
        tonic::Code::Unavailable => exit::UNAVAILABLE,
        tonic::Code::DataLoss => exit::INTEGRITY,
        _ => exit::IO,
    }
}

/// The text a request's signature covers (docs/server.md).
pub fn request_message(method: &str, ts: i64, nonce: &[u8], body: &[u8]) -> String {
    format!("planledger-request/1\n{method}\n{ts}\n{}\n{}\n", hex(nonce), hex(&Sha256::digest(body)))
}

/// The body a `QueryRequest` signs: its arguments and the hashes of the files it carries.
pub fn query_body(args: &[String], files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut b = args.join("\n").into_bytes();
    for (name, data) in files {
        b.extend_from_slice(format!("\n{name} {}", hex(&Sha256::digest(data))).as_bytes());
    }
    b
}

impl Shared {
    /// Checks a read request's signature, freshness and nonce; returns the principal.
    fn authenticate(&self, auth: Option<&proto::RequestAuth>, method: &str, body: &[u8]) -> Result<String, Status> {
        let a = auth.ok_or_else(|| Status::permission_denied("requests to the server must be signed (--key)"))?;
        let key = <[u8; 32]>::try_from(a.public_key.as_slice())
            .map_err(|_| Status::permission_denied("request key is not an ed25519 key"))?;
        let principal = self
            .group
            .with_ledger(|l| {
                l.state()
                    .principals
                    .iter()
                    .find(|(_, p)| p.keys.iter().any(|k| k.key == key && k.revoked.is_none()))
                    .map(|(name, _)| name.clone())
            })
            .ok_or_else(|| {
                Status::permission_denied("the request's key is not registered to anyone, or was revoked")
            })?;
        let now = Timestamp(chrono::Utc::now().timestamp_micros());
        if (a.timestamp_micros - now.0).abs() > REQUEST_SKEW_MAX_MICROS {
            return Err(Status::permission_denied("the request's timestamp is too far from the server's clock"));
        }
        let msg = request_message(method, a.timestamp_micros, &a.nonce, body);
        if !crate::keys::verify_signature(&key, msg.as_bytes(), &a.signature) {
            return Err(Status::permission_denied("the request's signature does not verify"));
        }
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if a.nonce.len() < 16 || !nonces.fresh(a.timestamp_micros, now.0, &a.nonce) {
            return Err(Status::permission_denied("replayed request refused (nonce already used)"));
        }
        Ok(principal)
    }

    fn append(&self, r: proto::AppendRequest) -> Result<proto::AppendResponse, Status> {
        let mut subs = Vec::new();
        let mut origins = Vec::new();
        if !r.plan_toml.is_empty() {
            let import = crate::input::parse_plan(&r.plan_toml).map_err(|e| {
                status_of(&cli::in_file(e, r.submissions.first().map_or("plan", |s| s.origin.as_str())))
            })?;
            let mut sub =
                Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) };
            sub.signature = r.submissions.first().and_then(signature_of);
            origins.push(r.submissions.first().map(|s| s.origin.clone()).filter(|o| !o.is_empty()));
            subs.push(sub);
        } else {
            for s in &r.submissions {
                let at = |e: Error| if s.origin.is_empty() { e } else { e.at(s.origin.clone()) };
                let mut sub = submission_of(s).map_err(|e| status_of(&at(e)))?;
                sub.signature = signature_of(s);
                origins.push(Some(s.origin.clone()).filter(|o| !o.is_empty()));
                subs.push(sub);
            }
        }
        if subs.is_empty() {
            return Err(Status::invalid_argument("no submissions"));
        }
        if let Some(i) = subs.iter().position(|s| s.signature.is_none()) {
            let e = Error::Forbidden(
                "unsigned submission refused: the server takes only signed submissions (--key)".into(),
            );
            return Err(status_of(&match &origins[i] {
                Some(o) => e.at(o.clone()),
                None => e,
            }));
        }
        let expected = r.expected.iter().map(|x| (x.stream.clone(), x.version)).collect();
        let acks = self.group.submit_with(&r.actor, subs, origins, expected).map_err(|e| status_of(&e))?;
        // The store's own head: no wait for the ledger, nor for the groups committing after ours.
        let head = self.group.store().next_seq() - 1;
        self.head.send_replace(head);
        Ok(proto::AppendResponse {
            acks: acks
                .into_iter()
                .map(|a| proto::Ack { seq: a.seq, id: a.id.to_string(), r#type: a.kind.into(), duplicate: a.duplicate })
                .collect(),
        })
    }

    /// Events `from..=to` of the log (or of one stream), read under the ledger lock.
    fn read_batch(&self, from: u64, to: u64, stream: &str) -> Result<Vec<proto::RecordedEvent>, Status> {
        self.group.with_ledger(|l| {
            let store = l.store();
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
        })
    }

    fn query(&self, r: proto::QueryRequest) -> Output {
        let tmp = match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => return failed(&Error::io("temporary directory", e)),
        };
        // Files the client sent in place of its local paths; its names come back in the output.
        let mut args = r.args.clone();
        let mut renamed: Vec<(String, String)> = Vec::new();
        for (i, (name, data)) in r.files.iter().enumerate() {
            let path = tmp.path().join(format!("f{i}"));
            if let Err(e) = std::fs::write(&path, data) {
                return failed(&Error::io("writing an uploaded file", e));
            }
            for a in args.iter_mut().filter(|a| *a == name) {
                *a = path.display().to_string();
            }
            renamed.push((path.display().to_string(), name.clone()));
        }
        let restore = |text: String| renamed.iter().fold(text, |t, (tmp, name)| t.replace(tmp.as_str(), name));
        let command = args.iter().find(|a| !a.starts_with('-')).cloned().unwrap_or_default();
        if !QUERY_COMMANDS.contains(&command.as_str()) {
            return failed(&Error::invalid(format!("'{command}' is not a read command the server runs")));
        }
        let argv = std::iter::once("planledger".to_string()).chain(args);
        let parsed = match <Cli as clap::Parser>::try_parse_from(argv) {
            Ok(c) => c,
            Err(e) => return failed(&Error::invalid(e.render().to_string().lines().next().unwrap_or("bad arguments"))),
        };
        let mut stdout: Vec<u8> = Vec::new();
        let result = self.group.with_ledger(|l| cli::run_on(parsed, Some(l.store()), &mut stdout));
        let stdout = restore(String::from_utf8_lossy(&stdout).into_owned());
        match result {
            Ok(code) => Output { exit_code: code, stdout, error: String::new() },
            Err(e) => Output { exit_code: cli::exit_code(&e), stdout, error: restore(e.to_string()) },
        }
    }
}

use crate::cli::Cli;
type Output = proto::Output;

fn failed(e: &Error) -> Output {
    Output { exit_code: cli::exit_code(e), stdout: String::new(), error: e.to_string() }
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
        let h = f.get("public_key").ok_or_else(|| Error::invalid("needs 'public_key'"))?;
        Ok(crate::keys::unhex32("public_key", h)?.to_vec())
    };
    let get = |k: &str| fields.get(k).cloned().ok_or_else(|| Error::invalid(format!("needs '{k}'")));
    let command = match s.r#type.as_str() {
        "register-key" => Command::RegisterKey {
            principal: get("principal")?,
            role: fields.get("role").map(|r| crate::model::Role::parse("role", r)).transpose()?,
            key: key(&fields)?,
        },
        "revoke-key" => Command::RevokeKey { principal: get("principal")?, key: key(&fields)?, reason: get("reason")? },
        kind => return crate::input::submission_from_fields(kind, &fields),
    };
    Ok(Submission { signature: None, id: None, note: None, command })
}

/// An event as the wire carries it.
pub fn recorded(e: &Event, hash: &crate::codec::Hash) -> proto::RecordedEvent {
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
    };
    let mut canonical = Vec::new();
    crate::codec::encode_event(e, &mut canonical);
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
    shared: Arc<Shared>,
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::RecordedEvent, Status>> + Send>>;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl LedgerRpc for Service {
    async fn append(&self, req: Request<proto::AppendRequest>) -> Result<Response<proto::AppendResponse>, Status> {
        let shared = self.shared.clone();
        let r = req.into_inner();
        blocking(move || shared.append(r)).await?.map(Response::new)
    }

    type ReadStream = EventStream;

    async fn read(&self, req: Request<proto::ReadRequest>) -> Result<Response<EventStream>, Status> {
        let r = req.into_inner();
        let body = format!("from={}\nstream={}\nmax={}", r.from_seq, r.stream, r.max_count);
        let shared = self.shared.clone();
        let auth = r.auth.clone();
        blocking(move || shared.authenticate(auth.as_ref(), "Read", body.as_bytes()).map(|_| ())).await??;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let head = *shared.head.borrow();
            let mut next = r.from_seq.max(1);
            let mut sent = 0u64;
            while next <= head {
                let to = (next + READ_BATCH - 1).min(head);
                let s = shared.clone();
                let stream = r.stream.clone();
                let batch = match blocking(move || s.read_batch(next, to, &stream)).await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) | Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for e in batch {
                    if r.max_count > 0 && sent >= r.max_count {
                        return;
                    }
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                    sent += 1;
                }
                next = to + 1;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(&self, req: Request<proto::SubscribeRequest>) -> Result<Response<EventStream>, Status> {
        let r = req.into_inner();
        let body = format!("from={}", r.from_seq);
        let shared = self.shared.clone();
        let auth = r.auth.clone();
        blocking(move || shared.authenticate(auth.as_ref(), "Subscribe", body.as_bytes()).map(|_| ())).await??;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let mut heads = shared.head.subscribe();
            let mut shutdown = shared.shutdown.clone();
            // The next seq to send: catch-up and live read the same log, so the switch from
            // one to the other can neither skip nor repeat an event.
            let mut next = r.from_seq.max(1);
            loop {
                let head = *heads.borrow_and_update();
                while next <= head {
                    let to = (next + READ_BATCH - 1).min(head);
                    let s = shared.clone();
                    let batch = match blocking(move || s.read_batch(next, to, "")).await {
                        Ok(Ok(b)) => b,
                        Ok(Err(e)) | Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    for e in batch {
                        if tx.send(Ok(e)).await.is_err() {
                            return;
                        }
                    }
                    next = to + 1;
                }
                tokio::select! {
                    changed = heads.changed() => if changed.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn state(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("State", req).await
    }
    async fn summary(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Summary", req).await
    }
    async fn audit(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Audit", req).await
    }
    async fn verify(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Verify", req).await
    }
    async fn checkpoint(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Checkpoint", req).await
    }
    async fn proof(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Proof", req).await
    }
    async fn query(&self, req: Request<proto::QueryRequest>) -> Result<Response<Output>, Status> {
        self.run_query("Query", req).await
    }
}

impl Service {
    async fn run_query(
        &self,
        method: &'static str,
        req: Request<proto::QueryRequest>,
    ) -> Result<Response<Output>, Status> {
        let r = req.into_inner();
        let shared = self.shared.clone();
        blocking(move || {
            let files: BTreeMap<String, Vec<u8>> = r.files.clone().into_iter().collect();
            shared.authenticate(r.auth.as_ref(), method, &query_body(&r.args, &files))?;
            Ok(shared.query(r))
        })
        .await?
        .map(Response::new)
    }
}

/// Serves the store at `dir` on `listen` until SIGINT or SIGTERM; prints the bound address
/// (`listening on ADDR`) first. On a signal it stops taking requests, lets those in flight
/// finish (each acknowledged only once durable), ends subscriptions and closes the store.
pub fn serve(dir: &Path, listen: &str, out: &mut dyn std::io::Write) -> Result<()> {
    let ledger = Ledger::open(dir, Box::new(crate::clock::SystemClock), Box::new(crate::clock::V7Ids))?;
    let head = ledger.store().head().events();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the server runtime", e))?;
    runtime.block_on(async move {
        let addr: SocketAddr = listen.parse().map_err(|_| Error::invalid(format!("--listen '{listen}' is not an address")))?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::io(format!("listening on {addr}"), e))?;
        let bound = listener.local_addr().map_err(|e| Error::io("listening", e))?;
        writeln!(out, "listening on {bound}").and_then(|()| out.flush()).map_err(|e| Error::io("writing to stdout", e))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (head_tx, _) = watch::channel(head);
        let shared = Arc::new(Shared {
            group: GroupCommit::new(ledger),
            head: head_tx,
            shutdown: stop_rx,
            nonces: Mutex::new(NonceCache::default()),
        });
        let service = Service { shared: shared.clone() };
        let signal = async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            let _ = stop_tx.send(true);
        };
        tonic::transport::Server::builder()
            .add_service(LedgerServer::new(service))
            .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), signal)
            .await
            .map_err(|e| Error::io("serving", std::io::Error::other(e.to_string())))?;
        // Every request has finished; closing the ledger makes sled durable up to the end of the log.
        drop(shared);
        Ok(())
    })
}
