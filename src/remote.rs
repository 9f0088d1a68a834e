//! The CLI against a server (`--server URL`, or `PLANLEDGER_SERVER`): each command becomes a
//! typed request of the `Ledger` service, and prints what the same command prints against a
//! local store, with the same errors and exit codes. Writes go through `Append` (every
//! submission signed with `--key`); reads are signed typed requests, answered by the same
//! library functions on the server's store. Files a command reads (snapshots, tree heads)
//! are read here and sent as documents; files it writes (`--out`) are written here.

use std::sync::Arc;

use tokio_stream::StreamExt;

use crate::cli::{self, exit, Cli, Cmd, Ctx, DeptCmd, Out, PlanCmd, SnapshotCmd};
use planledger::decide::{Command, Submission};
use planledger::error::{Error, Result};
use planledger::keys::{self, KeyPair};
use planledger::{msg, Lang};
use planledger_server::{self as server, proto, Rpc, Signed};

type Client = proto::ledger_client::LedgerClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Headers>,
>;

/// Names the user's language on every request (`server::LANG_HEADER`), so the server's
/// refusals come back in it, and the ledger (`server::LEDGER_HEADER`, `--ledger`) when the
/// server's database holds several.
#[derive(Clone)]
struct Headers {
    lang: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    ledger: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl tonic::service::Interceptor for Headers {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert(server::LANG_HEADER, self.lang.clone());
        if let Some(ledger) = &self.ledger {
            req.metadata_mut().insert(server::LEDGER_HEADER, ledger.clone());
        }
        Ok(req)
    }
}

/// Where the server is, and the TLS files to reach it with (`--ca`, `--client-cert`,
/// `--client-key`).
pub struct Target {
    pub url: String,
    pub tls: server::tls::ClientFiles,
    /// The ledger to use on a server whose database holds several (`--ledger`).
    pub ledger: Option<String>,
}

pub fn run(cli: Cli, url: &str, out: &mut Out<'_>) -> Result<i32> {
    // Commands that never need a server run here, as they would locally.
    match &cli.command {
        Cmd::Dept(DeptCmd::Keygen { .. })
        | Cmd::VerifyProof { .. }
        | Cmd::Template(_)
        | Cmd::Completions { .. }
        | Cmd::Man { .. } => return cli::run_local(cli, out),
        Cmd::Export(_) | Cmd::Report(_) | Cmd::Chart(_) => return Err(Error::invalid(msg!("remote.local_only_reads"))),
        Cmd::TimeZone { .. } => return Err(Error::invalid(msg!("remote.time_zone_local"))),
        Cmd::Demo => return Err(Error::invalid(msg!("remote.demo_local"))),
        Cmd::Serve(_) => return Err(Error::invalid(msg!("remote.serve_no_server"))),
        Cmd::WebToken(_) => return Err(Error::invalid(msg!("remote.web_token_local"))),
        Cmd::Restore { .. } | Cmd::ImportLog { .. } => return Err(Error::invalid(msg!("remote.backup_local"))),
        Cmd::Store(_) => return Err(Error::invalid(msg!("remote.store_local"))),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(msg!("remote.starting_runtime"), e))?;
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let tls = server::tls::ClientFiles {
        ca: cli.ca.clone().or_else(|| env("PLANLEDGER_CA")),
        cert: cli.client_cert.clone().or_else(|| env("PLANLEDGER_CLIENT_CERT")),
        key: cli.client_key.clone().or_else(|| env("PLANLEDGER_CLIENT_KEY")),
    };
    let ledger = cli.ledger.clone().or_else(|| std::env::var("PLANLEDGER_LEDGER").ok().filter(|v| !v.is_empty()));
    let target = Target { url: url.to_string(), tls, ledger };
    let _ = LANG.set(cli::user_lang(cli.lang.as_deref())?);
    runtime.block_on(run_async(cli, &target, out))
}

/// The exit code for a status a server sent: the same the local command exits with.
pub fn exit_of(s: &tonic::Status) -> i32 {
    match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::NotFound | tonic::Code::OutOfRange => exit::INVALID,
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => exit::FORBIDDEN,
        tonic::Code::Aborted | tonic::Code::AlreadyExists => exit::CONFLICT,
        tonic::Code::Unavailable => exit::UNAVAILABLE,
        tonic::Code::DataLoss => exit::INTEGRITY,
        _ => exit::IO,
    }
}

fn remote_error(s: tonic::Status) -> Error {
    // A status with a cause was made here, from a failed connection, not sent by the server.
    if std::error::Error::source(&s).is_some() {
        let lang = LANG.get().copied().unwrap_or(Lang::En);
        return Error::Remote {
            code: exit::UNAVAILABLE,
            message: msg!(
                "remote.connection_failed",
                error = with_causes(s.message().to_string(), std::error::Error::source(&s))
            )
            .render(lang),
        };
    }
    Error::Remote { code: exit_of(&s), message: s.message().to_string() }
}

/// The language of this run's own errors (one run per process).
static LANG: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();

/// An error and its causes on one line (a TLS failure is in the causes of tonic's
/// "transport error").
fn causes(e: &dyn std::error::Error) -> String {
    with_causes(e.to_string(), e.source())
}

fn with_causes(mut text: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

/// Connects to the server at `url` (https:// with the TLS files, which a URL without a
/// scheme then implies); a failure is said in `lang` (it is this client's error, not the
/// server's).
async fn connect(target: &Target, lang: Lang) -> Result<Client> {
    let tls = target.tls.config()?;
    let url = match (target.url.contains("://"), &tls) {
        (true, _) => target.url.clone(),
        (false, Some(_)) => format!("https://{}", target.url),
        (false, None) => format!("http://{}", target.url),
    };
    let https = url.starts_with("https://");
    if https && target.tls.ca.is_none() {
        return Err(Error::invalid(msg!("remote.https_needs_ca", url = &url)));
    }
    if !https && tls.is_some() {
        return Err(Error::invalid(msg!("remote.tls_needs_https", url = &url)));
    }
    let unreachable = |e: &dyn std::error::Error| Error::Remote {
        code: exit::UNAVAILABLE,
        message: msg!("remote.cannot_reach", url = &url, error = causes(e)).render(lang),
    };
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.clone()).map_err(|e| unreachable(&e))?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| unreachable(&e))?;
    }
    let channel = endpoint.connect().await.map_err(|e| unreachable(&e))?;
    let ledger = match &target.ledger {
        Some(name) => Some(name.parse().map_err(|_| Error::invalid(msg!("remote.ledger_name", ledger = name)))?),
        None => None,
    };
    let headers = Headers { lang: tonic::metadata::MetadataValue::from_static(lang.tag()), ledger };
    Ok(proto::ledger_client::LedgerClient::with_interceptor(channel, headers))
}

/// The server's ledger key, which a signed submission names (asked with a signed `Key`).
async fn ledger_key(client: &mut Client, pair: &KeyPair) -> Result<[u8; 32]> {
    let r = signed(Some(pair), Rpc::Key, proto::KeyRequest { auth: None, json: true })?;
    let doc = collect(client.key(r).await).await?;
    let v: serde_json::Value = serde_json::from_str(&doc).map_err(|_| Error::invalid(msg!("remote.key_not_json")))?;
    keys::unhex32(msg!("remote.server_ledger_key"), v["public_key"].as_str().unwrap_or_default())
}

/// Signs `subs` as `actor` for the server's ledger, when there is a key to sign with.
async fn sign_for(client: &mut Client, pair: Option<&KeyPair>, actor: &str, subs: &mut [Submission]) -> Result<()> {
    let Some(pair) = pair else { return Ok(()) };
    let ledger = ledger_key(client, pair).await?;
    cli::sign_all(Some(pair), &ledger, actor, subs)
}

/// Signs a typed request for `rpc`: fresh, single-use, over its body.
fn signed<R: Signed>(pair: Option<&KeyPair>, rpc: Rpc, mut r: R) -> Result<R> {
    let auth = auth(pair, rpc.method(), &r.body())?;
    r.set_auth(auth);
    Ok(r)
}

/// A signed, fresh, single-use request header over `body`.
fn auth(pair: Option<&KeyPair>, method: &str, body: &[u8]) -> Result<Option<proto::RequestAuth>> {
    let Some(pair) = pair else { return Ok(None) };
    let mut nonce = vec![0u8; server::NONCE_BYTES];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::io(msg!("remote.making_nonce"), std::io::Error::other(e.to_string())))?;
    let ts = chrono::Utc::now().timestamp_micros();
    let msg = server::request_message(method, ts, &nonce, body);
    Ok(Some(proto::RequestAuth {
        public_key: pair.public().to_vec(),
        timestamp_micros: ts,
        nonce,
        signature: pair.sign(msg.as_bytes()).to_vec(),
    }))
}

/// A submission on the wire: its canonical form, its signature, where it came from.
fn wire(sub: &Submission, origin: Option<String>) -> proto::Submission {
    let (kind, fields) = keys::command_form(sub);
    let (public_key, signature, signed) = match &sub.signature {
        Some(s) => (s.key.clone(), s.bytes.clone(), s.signed.clone()),
        None => (Vec::new(), Vec::new(), String::new()),
    };
    proto::Submission {
        r#type: kind,
        fields: fields.into_iter().collect(),
        public_key,
        signature,
        signed,
        origin: origin.unwrap_or_default(),
    }
}

async fn append(client: &mut Client, req: proto::AppendRequest) -> Result<Vec<planledger::ledger::Ack>> {
    acks_of(client.append(req).await.map_err(remote_error)?.into_inner())
}

async fn run_async(cli: Cli, url: &Target, out: &mut Out<'_>) -> Result<i32> {
    let pair = cli::key_pair(&cli.key)?.map(Arc::new);
    let json = cli.json;
    let (lang, lang_given) = (cli::user_lang(cli.lang.as_deref())?, cli.lang.is_some());
    match cli.command {
        Cmd::Plan(PlanCmd::Import(args)) => {
            let (file, actor) = (args.file, args.actor);
            if planledger_sheets::is_spreadsheet(&file) {
                return Err(Error::invalid(msg!("remote.sheet_plan_local", file = file.display())));
            }
            let text = cli::read_file(&file)?;
            let name = file.display().to_string();
            let import = planledger::input::parse_plan(&text).map_err(|e| cli::in_file(e, &name))?;
            let plan_id = import.plan.plan.clone();
            let mut subs =
                [Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) }];
            let mut client = connect(url, lang).await?;
            sign_for(&mut client, pair.as_deref(), &actor, &mut subs).await?;
            let req = proto::AppendRequest {
                actor,
                submissions: vec![wire(&subs[0], Some(name))],
                expected: Vec::new(),
                plan_toml: text,
                auth: None,
            };
            let acks = append(&mut client, req).await?;
            cli::print_import(out, json, lang, &plan_id, &acks)?;
        }
        Cmd::Plan(PlanCmd::Amend(args)) => {
            let Some(sub) = cli::withdrawal_of(&args)? else {
                return Err(Error::invalid(msg!("remote.amend_add_local")));
            };
            let mut subs = [sub];
            let mut client = connect(url, lang).await?;
            sign_for(&mut client, pair.as_deref(), &args.actor, &mut subs).await?;
            let req = proto::AppendRequest {
                actor: args.actor.clone(),
                submissions: vec![wire(&subs[0], None)],
                expected: Vec::new(),
                plan_toml: String::new(),
                auth: None,
            };
            let acks = append(&mut client, req).await?;
            cli::print_acks(out, json, lang, &acks)?;
        }
        Cmd::Submit(args) => {
            if let Some(f) = args.file.as_deref().filter(|f| planledger_sheets::is_spreadsheet(f)) {
                return Err(Error::invalid(msg!("remote.sheet_report_local", file = f.display())));
            }
            if let (Some(n), Some(file), None) = (args.batch, args.file.clone(), &args.kind) {
                let to = crate::import::Printing { out, as_json: json, lang };
                return submit_batched(url, pair.clone(), &args, &file, n, to).await.map(|()| exit::OK);
            }
            let (mut subs, origins) = cli::submissions_of(&args)?;
            let expected = cli::parse_expected(&args.expect)?
                .into_iter()
                .map(|(stream, version)| proto::ExpectedVersion { stream, version })
                .collect();
            let mut client = connect(url, lang).await?;
            sign_for(&mut client, pair.as_deref(), &args.actor, &mut subs).await?;
            // Said in the user's language: the server puts them into its refusals as they are.
            let req = proto::AppendRequest {
                actor: args.actor.clone(),
                submissions: subs.iter().zip(origins).map(|(s, o)| wire(s, o.map(|m| m.render(lang)))).collect(),
                expected,
                plan_toml: String::new(),
                auth: None,
            };
            let acks = append(&mut client, req).await?;
            cli::print_acks(out, json, lang, &acks)?;
        }
        Cmd::Dept(DeptCmd::Register { principal, public_key, role, actor }) => {
            let key = keys::read_public(&public_key)?.to_vec();
            let role = role.as_deref().map(|r| planledger::model::Role::parse("--role", r)).transpose()?;
            let command = Command::RegisterKey { principal, role, key };
            dept_change(url, pair.as_deref(), actor, command, json, lang, out).await?;
        }
        Cmd::Dept(DeptCmd::Revoke { principal, public_key, reason, actor }) => {
            let key = keys::read_public(&public_key)?.to_vec();
            let command = Command::RevokeKey { principal, key, reason };
            dept_change(url, pair.as_deref(), actor, command, json, lang, out).await?;
        }
        Cmd::Backup { out: file } => {
            // Taken by the server while its writers go on, streamed into the file here, then
            // checked here by restoring it, as a local backup is.
            let mut client = connect(url, lang).await?;
            let req = signed(pair.as_deref(), Rpc::Backup, proto::BackupRequest { auth: None })?;
            let stream = client.backup(req).await.map_err(remote_error)?.into_inner();
            let ctx = Ctx { store: None, ledger: None, key: None, json, lang, lang_given, bundle: None };
            receive_archive(stream, &ctx, &file, cli::Archive::Backup, out).await?;
        }
        Cmd::ExportLog { out: file } => {
            let mut client = connect(url, lang).await?;
            let req = signed(pair.as_deref(), Rpc::ExportLog, proto::ExportLogRequest { auth: None })?;
            let stream = client.export_log(req).await.map_err(remote_error)?.into_inner();
            let ctx = Ctx { store: None, ledger: None, key: None, json, lang, lang_given, bundle: None };
            receive_archive(stream, &ctx, &file, cli::Archive::Log, out).await?;
        }
        Cmd::Bundle { as_of, out: file } => {
            let mut client = connect(url, lang).await?;
            let req = proto::BundleRequest { auth: None, as_of: as_of.unwrap_or_default() };
            let req = signed(pair.as_deref(), Rpc::Bundle, req)?;
            let stream = client.bundle(req).await.map_err(remote_error)?.into_inner();
            let ctx = Ctx { store: None, ledger: None, key: None, json, lang, lang_given, bundle: None };
            receive_archive(stream, &ctx, &file, cli::Archive::Bundle, out).await?;
        }
        Cmd::Subscribe { from, count } => {
            let mut client = connect(url, lang).await?;
            let req = signed(pair.as_deref(), Rpc::Subscribe, proto::SubscribeRequest { from_seq: from, auth: None })?;
            let mut stream = client.subscribe(req).await.map_err(remote_error)?.into_inner();
            let mut n = 0u64;
            while count.is_none_or(|c| n < c) {
                let Some(e) = stream.message().await.map_err(remote_error)? else { break };
                let event = planledger::codec::decode_event(&e.canonical)
                    .map_err(|err| Error::corrupt(e.seq, msg!("remote.from_server", error = err.to_msg())))?;
                let hash: planledger::codec::Hash =
                    e.hash.as_slice().try_into().map_err(|_| Error::invalid(msg!("remote.bad_hash")))?;
                let line = if json {
                    serde_json::to_string(&planledger::report::event_json(&event, &hash)).unwrap_or_default() + "\n"
                } else {
                    planledger::report::event_line(&event, &hash, lang, planledger::model::TimeZone::UTC)
                };
                out.write_all(line.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io(msg!("io.writing_stdout"), e))?;
                n += 1;
            }
        }
        command => {
            let ctx = Ctx { store: None, ledger: None, key: None, json, lang, lang_given, bundle: None };
            return question(url, pair.as_deref(), &ctx, command, out).await.map(|()| exit::OK);
        }
    }
    Ok(exit::OK)
}

/// `submit --server URL --batch N --file F`: the file checked whole first, as locally (every
/// bad line named, nothing sent), then read again on a thread of its own, batch by batch, each
/// batch signed and sent as one request on an `AppendStream` without waiting for the one before
/// to be acknowledged; memory stays flat whatever the file's size. Each batch is atomic and
/// durable on its own and its acks are printed as they come; at a refused batch (or one too
/// large for a request), the batches before it stay recorded (the error says through which
/// line) and none after it is written.
async fn submit_batched(
    url: &Target,
    pair: Option<Arc<KeyPair>>,
    args: &cli::SubmitArgs,
    file: &std::path::Path,
    n: usize,
    to: crate::import::Printing<'_, '_>,
) -> Result<()> {
    let crate::import::Printing { out, as_json, lang } = to;
    cli::check_batched(args, n)?;
    let total = crate::import::check_file(file, planledger::input::BATCHED_FILE_LINES_MAX)?;
    let mut client = connect(url, lang).await?;
    let ledger = match &pair {
        Some(p) => ledger_key(&mut client, p).await?,
        None => [0; 32],
    };
    let (batches, read) = tokio::sync::mpsc::channel(STREAM_SEND_AHEAD);
    read_batches(file, n, pair, ledger, &args.actor, lang, batches)?;
    let sent: Arc<std::sync::Mutex<Unanswered>> = Arc::default();
    let sending = sent.clone();
    let requests = tokio_stream::wrappers::ReceiverStream::new(read).map_while(move |batch: Result<_>| {
        let mut sending = sending.lock().unwrap_or_else(|p| p.into_inner());
        match batch {
            Ok((request, last)) => {
                sending.lasts.push_back(last);
                Some(request)
            }
            Err(e) => {
                sending.stopped = Some(e);
                None
            }
        }
    });
    let mut answers = client.append_stream(requests).await.map_err(remote_error)?.into_inner();
    let bar = crate::progress::bar(total as u64, planledger::msg::text(lang, "progress.import"), lang);
    // Batches recorded, events in them, and the last line of the last one.
    let (mut recorded, mut events, mut through) = (0usize, 0usize, None);
    let answered = loop {
        match answers.message().await {
            Ok(Some(answer)) => {
                let acks = acks_of(answer)?;
                events += acks.len();
                recorded += 1;
                through = sent.lock().unwrap_or_else(|p| p.into_inner()).lasts.pop_front();
                if let Some(b) = &bar {
                    b.set_position(events as u64);
                }
                cli::print_acks(out, as_json, lang, &acks)?;
            }
            Ok(None) => break Ok(()),
            Err(status) => break Err(remote_error(status)),
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let Unanswered { lasts, stopped } = std::mem::take(&mut *sent.lock().unwrap_or_else(|p| p.into_inner()));
    let result = answered.and_then(|()| match stopped {
        Some(e) => Err(e),
        None if !lasts.is_empty() => {
            Err(Error::invalid(msg!("remote.stream_ended", answered = recorded, sent = recorded + lasts.len())))
        }
        None => Ok(()),
    });
    let name = file.display().to_string();
    result.map_err(|e| match through {
        None => e,
        Some(line) => e.at(msg!(
            "cli.recorded_through",
            through = msg!("at.file_line", file = &name, line = line),
            batches = recorded
        )),
    })
}

/// A streamed file's batches sent and not yet answered (each one's last line, in order), and
/// why sending stopped before the file's end, if it did.
#[derive(Default)]
struct Unanswered {
    lasts: std::collections::VecDeque<usize>,
    stopped: Option<Error>,
}

/// Starts the thread that reads a checked file into signed batches of `n` (`import::
/// each_batch`) and sends each as a request, with its last line, into `batches`; a line
/// that no longer parses, or a batch too large for one request, is sent as the last item.
#[allow(clippy::too_many_arguments)]
fn read_batches(
    file: &std::path::Path,
    n: usize,
    pair: Option<Arc<KeyPair>>,
    ledger: [u8; 32],
    actor: &str,
    lang: Lang,
    batches: tokio::sync::mpsc::Sender<Result<(proto::AppendRequest, usize)>>,
) -> Result<()> {
    let (file, actor) = (file.to_path_buf(), actor.to_string());
    let read = move || {
        let name = file.display().to_string();
        let signer = pair.as_deref().map(|p| (p, &ledger, actor.as_str()));
        let fresh = || Vec::with_capacity(n);
        let read = crate::import::each_batch(&file, n, signer, &fresh, &mut |batch| {
            let last = batch.lines.last().copied().unwrap_or(0);
            let request = batch_request(lang, &actor, &batch, &name).map(|r| (r, last));
            let refused = request.is_err();
            batches.blocking_send(request).is_ok() && !refused
        });
        if let Err(e) = read {
            let _ = batches.blocking_send(Err(e));
        }
    };
    std::thread::Builder::new()
        .name("jsonl".into())
        .spawn(read)
        .map(drop)
        .map_err(|e| Error::io(msg!("cli.reader_thread"), e))
}

/// The request a batch of a file is sent in, with its origins ("FILE line N", in `lang`: the
/// server puts them into its refusals as they are); refused if larger than the server takes.
fn batch_request(lang: Lang, actor: &str, batch: &crate::import::Parsed, name: &str) -> Result<proto::AppendRequest> {
    let submissions = batch
        .subs
        .iter()
        .zip(&batch.lines)
        .map(|(s, line)| wire(s, Some(msg!("at.file_line", file = name, line = *line).render(lang))))
        .collect();
    let r = proto::AppendRequest {
        actor: actor.to_string(),
        submissions,
        expected: Vec::new(),
        plan_toml: String::new(),
        auth: None,
    };
    let bytes = server::encoded_bytes(&r);
    if bytes > server::REQUEST_BYTES_MAX {
        let first = msg!("at.file_line", file = name, line = batch.lines.first().copied().unwrap_or(0));
        let too_large =
            msg!("remote.batch_too_large", mib = bytes.div_ceil(1 << 20), max = server::REQUEST_BYTES_MAX >> 20);
        return Err(Error::invalid(too_large).at(first));
    }
    Ok(r)
}

/// Batches of a streamed file read ahead of the stream, beyond those HTTP/2 holds.
const STREAM_SEND_AHEAD: usize = 2;

/// An `AppendResponse`'s acks, typed.
fn acks_of(resp: proto::AppendResponse) -> Result<Vec<planledger::ledger::Ack>> {
    resp.acks
        .into_iter()
        .map(|a| {
            let kind = planledger::event::KINDS.iter().find(|k| **k == a.r#type).copied().unwrap_or("event");
            let id = uuid::Uuid::parse_str(&a.id).map_err(|_| Error::invalid(msg!("remote.bad_event_id")))?;
            Ok(planledger::ledger::Ack { seq: a.seq, id, kind, duplicate: a.duplicate })
        })
        .collect()
}

async fn dept_change(
    url: &Target,
    pair: Option<&KeyPair>,
    actor: String,
    command: Command,
    json: bool,
    lang: Lang,
    out: &mut Out<'_>,
) -> Result<()> {
    let mut subs = [Submission { signature: None, id: None, note: None, command }];
    let mut client = connect(url, lang).await?;
    sign_for(&mut client, pair, &actor, &mut subs).await?;
    let sub = &subs[0];
    let req = proto::AppendRequest {
        actor,
        submissions: vec![wire(sub, None)],
        expected: Vec::new(),
        plan_toml: String::new(),
        auth: None,
    };
    let acks = append(&mut client, req).await?;
    cli::print_acks(out, json, lang, &acks)
}

/// A read command as a typed request, answered by the server; prints what the local command
/// prints, and writes `--out` files here.
async fn question(url: &Target, pair: Option<&KeyPair>, ctx: &Ctx, command: Cmd, out: &mut Out<'_>) -> Result<()> {
    let json = ctx.json;
    let mut client = connect(url, ctx.lang).await?;
    let stream = match command {
        Cmd::State(args) => {
            let q = cli::state_query(&args)?;
            let r = proto::StateRequest {
                auth: None,
                json,
                plan: q.plan.unwrap_or_default(),
                as_of: args.as_of.unwrap_or_default(),
                at: args.at.unwrap_or_default(),
                department: q.filter.department.unwrap_or_default(),
                project: q.filter.project.unwrap_or_default(),
                level: q.filter.level.map(|l| l.to_string()).unwrap_or_default(),
                lagging: q.lagging,
                lang: ctx.lang.tag().to_string(),
            };
            client.state(signed(pair, Rpc::State, r)?).await
        }
        Cmd::Summary(args) => {
            cli::summary_query(&args)?;
            let r = proto::SummaryRequest {
                auth: None,
                json,
                year: args.year,
                plan: args.plan.unwrap_or_default(),
                by: args.by,
                as_of: args.as_of.unwrap_or_default(),
                at: args.at.unwrap_or_default(),
                format: args.format,
                lang: ctx.lang.tag().to_string(),
                monthly: args.monthly,
            };
            client.summary(signed(pair, Rpc::Summary, r)?).await
        }
        Cmd::Audit(args) => {
            cli::audit_query(&args)?;
            let r = proto::AuditRequest {
                auth: None,
                json,
                entity: args.entity.unwrap_or_default(),
                actor: args.actor.unwrap_or_default(),
                r#type: args.kind.unwrap_or_default(),
                since: args.since.unwrap_or_default(),
                until: args.until.unwrap_or_default(),
                as_of: args.as_of.unwrap_or_default(),
                format: args.format,
                lang: ctx.lang.tag().to_string(),
            };
            client.audit(signed(pair, Rpc::Audit, r)?).await
        }
        Cmd::Show { event } => {
            let r = proto::ShowRequest { auth: None, json, event };
            client.show(signed(pair, Rpc::Show, r)?).await
        }
        Cmd::Log(args) => {
            let r = proto::LogRequest {
                auth: None,
                json,
                from_seq: args.from,
                as_of: args.as_of.unwrap_or_default(),
                lang: ctx.lang.tag().to_string(),
            };
            client.log(signed(pair, Rpc::Log, r)?).await
        }
        Cmd::Snapshot(args) => match (args.verify, args.out) {
            (Some(SnapshotCmd::Verify { file }), _) => {
                let document = cli::read_file(&file)?.into_bytes();
                let r = proto::SnapshotVerifyRequest { auth: None, json, name: file.display().to_string(), document };
                client.snapshot_verify(signed(pair, Rpc::SnapshotVerify, r)?).await
            }
            (None, file) => {
                let r = proto::SnapshotRequest { auth: None, as_of: args.as_of.unwrap_or_default() };
                let doc = collect(client.snapshot(signed(pair, Rpc::Snapshot, r)?).await).await?;
                let seq = serde_json::from_str::<serde_json::Value>(&doc).ok().and_then(|d| d["as_of"]["seq"].as_u64());
                return cli::write_or_print(ctx, file.as_deref(), &doc, out, |f| {
                    cli::wrote_seq(f, seq.unwrap_or(0), ctx.lang)
                });
            }
        },
        Cmd::Diff { a, b } => {
            let r = proto::DiffRequest {
                auth: None,
                json,
                from: Some(diff_side(Some(&a))?),
                to: Some(diff_side(b.as_deref())?),
                lang: ctx.lang.tag().to_string(),
            };
            client.diff(signed(pair, Rpc::Diff, r)?).await
        }
        Cmd::Verify(args) => {
            let checkpoint = match &args.checkpoint {
                Some(c) => {
                    cli::read_tree_head(c)?;
                    cli::read_file(c)?.into_bytes()
                }
                None => Vec::new(),
            };
            let r = proto::VerifyRequest {
                auth: None,
                json,
                require_signatures: args.require_signatures,
                checkpoint,
                lang: ctx.lang.tag().to_string(),
            };
            client.verify(signed(pair, Rpc::Verify, r)?).await
        }
        Cmd::Checkpoint { out: file } => {
            let doc =
                collect(client.checkpoint(signed(pair, Rpc::Checkpoint, proto::CheckpointRequest::default())?).await)
                    .await?;
            let head: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
            let size = head["size"].as_u64().unwrap_or(0);
            let root = head["root"].as_str().unwrap_or_default().to_string();
            return cli::write_or_print(ctx, file.as_deref(), &doc, out, |f| cli::wrote_head(f, size, &root, ctx.lang));
        }
        Cmd::Key => {
            let r = proto::KeyRequest { auth: None, json };
            client.key(signed(pair, Rpc::Key, r)?).await
        }
        Cmd::Proof { event, size, out: file } => {
            let r = proto::ProofRequest { auth: None, event, size };
            let doc = collect(client.proof(signed(pair, Rpc::Proof, r)?).await).await?;
            let seq = serde_json::from_str::<serde_json::Value>(&doc).ok().and_then(|d| d["seq"].as_u64());
            return cli::write_or_print(ctx, file.as_deref(), &doc, out, |f| {
                cli::wrote_seq(f, seq.unwrap_or(0), ctx.lang)
            });
        }
        other => return Err(Error::invalid(msg!("remote.not_for_server", command = format!("{other:?}")))),
    };
    let mut stream = stream.map_err(remote_error)?.into_inner();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(remote_error)?;
        out.write_all(&piece.data).map_err(|e| Error::io(msg!("io.writing_stdout"), e))?;
    }
    Ok(())
}

type Answer = std::result::Result<tonic::Response<tonic::Streaming<proto::Output>>, tonic::Status>;

/// A whole answer as text (documents the client writes to a file).
async fn collect(answer: Answer) -> Result<String> {
    let mut stream = answer.map_err(remote_error)?.into_inner();
    let mut data = Vec::new();
    while let Some(piece) = stream.next().await {
        data.extend_from_slice(&piece.map_err(remote_error)?.data);
    }
    String::from_utf8(data).map_err(|_| Error::invalid(msg!("remote.document_not_utf8")))
}

/// A diff side on the wire: a snapshot file's document (read here), or a point of the ledger.
fn diff_side(arg: Option<&str>) -> Result<proto::DiffSide> {
    use proto::diff_side::Side;
    let side = match cli::diff_side(arg)? {
        planledger::read::DiffSide::Snapshot { name, text } => {
            Side::Snapshot(proto::SnapshotDocument { name, document: text.into_bytes() })
        }
        planledger::read::DiffSide::Ledger(_) => Side::AsOf(arg.unwrap_or_default().to_string()),
    };
    Ok(proto::DiffSide { side: Some(side) })
}

/// Writes a backup, exported log or bundle streamed by the server into `file` (compressed
/// here as a local one would be), then checks it by reading it back, as a local one is.
async fn receive_archive(
    mut stream: tonic::Streaming<proto::Output>,
    ctx: &Ctx,
    file: &std::path::Path,
    kind: cli::Archive,
    out: &mut Out<'_>,
) -> Result<()> {
    let (partial, f) = cli::create_partial(file, kind)?;
    let received: Result<()> = async {
        let mut w = planledger::backup::FileWriter::new(f, kind.compressed(file))?;
        while let Some(piece) = stream.next().await {
            std::io::Write::write_all(&mut w, &piece.map_err(remote_error)?.data)
                .map_err(|e| Error::io(msg!("backup.writing"), e))?;
        }
        w.finish()
    }
    .await;
    if let Err(e) = received {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    cli::finish_archive(ctx, &partial, file, kind, out)
}
