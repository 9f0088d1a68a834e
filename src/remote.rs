//! The CLI against a server (`--server URL`, or `PLANLEDGER_SERVER`): each command becomes a
//! request of the `Ledger` service, and prints what the same command prints against a local
//! store, with the same errors and exit codes. Writes go through `Append` (every submission
//! signed with `--key`); reads are signed requests that the server runs on its store.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::{self, exit, Cli, Cmd, DeptCmd, Out, PlanCmd};
use crate::decide::{Command, Submission};
use crate::error::{Error, Result};
use crate::keys::{self, KeyPair};
use crate::server::{self, proto};

type Client = proto::ledger_client::LedgerClient<tonic::transport::Channel>;

pub fn run(cli: Cli, url: &str, out: &mut Out<'_>) -> Result<i32> {
    // Commands that never need a server run here, as they would locally.
    match &cli.command {
        Cmd::Dept(DeptCmd::Keygen { .. }) | Cmd::VerifyProof { .. } => return cli::run_on(cli, None, out),
        Cmd::Demo => return Err(Error::invalid("demo builds a local store; run it without --server")),
        Cmd::Serve { .. } => return Err(Error::invalid("serve runs a server; it takes no --server")),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the client runtime", e))?;
    runtime.block_on(run_async(cli, url, out))
}

fn remote_error(s: tonic::Status) -> Error {
    Error::Remote { code: server::exit_of(&s), message: s.message().to_string() }
}

async fn connect(url: &str) -> Result<Client> {
    let url = if url.contains("://") { url.to_string() } else { format!("http://{url}") };
    Client::connect(url.clone())
        .await
        .map_err(|e| Error::Remote { code: exit::UNAVAILABLE, message: format!("cannot reach server {url} ({e})") })
}

fn key_pair(cli: &Cli) -> Result<Option<KeyPair>> {
    match cli.key.clone().or_else(|| std::env::var_os("PLANLEDGER_KEY").map(Into::into)) {
        Some(p) => KeyPair::read(&p).map(Some),
        None => Ok(None),
    }
}

/// A signed, fresh, single-use request header over `body`.
fn auth(pair: Option<&KeyPair>, method: &str, body: &[u8]) -> Result<Option<proto::RequestAuth>> {
    let Some(pair) = pair else { return Ok(None) };
    let mut nonce = vec![0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| Error::io("making a nonce", std::io::Error::other(e.to_string())))?;
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

async fn append(client: &mut Client, req: proto::AppendRequest) -> Result<Vec<crate::ledger::Ack>> {
    let resp = client.append(req).await.map_err(remote_error)?.into_inner();
    resp.acks
        .into_iter()
        .map(|a| {
            let kind = crate::event::KINDS.iter().find(|k| **k == a.r#type).copied().unwrap_or("event");
            let id = uuid::Uuid::parse_str(&a.id).map_err(|_| Error::invalid("server sent a bad event id"))?;
            Ok(crate::ledger::Ack { seq: a.seq, id, kind, duplicate: a.duplicate })
        })
        .collect()
}

/// The arguments of this invocation without the flags that only the client uses.
fn forwarded_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" | "--key" | "--store" | "--out" => {
                args.next();
            }
            _ if a.starts_with("--server=")
                || a.starts_with("--key=")
                || a.starts_with("--store=")
                || a.starts_with("--out=") => {}
            _ => out.push(a),
        }
    }
    out
}

async fn run_async(cli: Cli, url: &str, out: &mut Out<'_>) -> Result<i32> {
    let pair = key_pair(&cli)?;
    let json = cli.json;
    match cli.command {
        Cmd::Plan(PlanCmd::Import { file, actor }) => {
            let text = cli::read_file(&file)?;
            let name = file.display().to_string();
            let import = crate::input::parse_plan(&text).map_err(|e| cli::in_file(e, &name))?;
            let plan_id = import.plan.plan.clone();
            let mut subs =
                [Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) }];
            if let Some(p) = &pair {
                keys::sign(p, &actor, &mut subs[0]);
            }
            let mut client = connect(url).await?;
            let req = proto::AppendRequest {
                actor,
                submissions: vec![wire(&subs[0], Some(name))],
                expected: Vec::new(),
                plan_toml: text,
                auth: None,
            };
            let acks = append(&mut client, req).await?;
            cli::print_import(out, json, &plan_id, &acks)?;
        }
        Cmd::Submit(args) => {
            let (mut subs, origins) = cli::submissions_of(&args)?;
            if let Some(p) = &pair {
                for s in subs.iter_mut() {
                    keys::sign(p, &args.actor, s);
                }
            }
            let expected = cli::parse_expected(&args.expect)?
                .into_iter()
                .map(|(stream, version)| proto::ExpectedVersion { stream, version })
                .collect();
            let mut client = connect(url).await?;
            let req = proto::AppendRequest {
                actor: args.actor.clone(),
                submissions: subs.iter().zip(origins).map(|(s, o)| wire(s, o)).collect(),
                expected,
                plan_toml: String::new(),
                auth: None,
            };
            let acks = append(&mut client, req).await?;
            cli::print_acks(out, json, &acks)?;
        }
        Cmd::Dept(DeptCmd::Register { principal, public_key, role, actor }) => {
            let key = keys::read_public(&public_key)?.to_vec();
            let role = role.as_deref().map(|r| crate::model::Role::parse("--role", r)).transpose()?;
            let command = Command::RegisterKey { principal, role, key };
            dept_change(url, pair.as_ref(), actor, command, json, out).await?;
        }
        Cmd::Dept(DeptCmd::Revoke { principal, public_key, reason, actor }) => {
            let key = keys::read_public(&public_key)?.to_vec();
            let command = Command::RevokeKey { principal, key, reason };
            dept_change(url, pair.as_ref(), actor, command, json, out).await?;
        }
        Cmd::Subscribe { from, count } => {
            let mut client = connect(url).await?;
            let body = format!("from={from}");
            let req =
                proto::SubscribeRequest { from_seq: from, auth: auth(pair.as_ref(), "Subscribe", body.as_bytes())? };
            let mut stream = client.subscribe(req).await.map_err(remote_error)?.into_inner();
            let mut n = 0u64;
            while count.is_none_or(|c| n < c) {
                let Some(e) = stream.message().await.map_err(remote_error)? else { break };
                let event = crate::codec::decode_event(&e.canonical)
                    .map_err(|err| Error::Corrupt { seq: e.seq, what: format!("from the server: {err}") })?;
                let hash: crate::codec::Hash =
                    e.hash.as_slice().try_into().map_err(|_| Error::invalid("server sent a bad hash"))?;
                let line = if json {
                    serde_json::to_string(&crate::report::event_json(&event, &hash)).unwrap_or_default() + "\n"
                } else {
                    crate::report::event_line(&event, &hash)
                };
                out.write_all(line.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("writing to stdout", e))?;
                n += 1;
            }
        }
        command => return query(url, pair.as_ref(), command, json, out).await,
    }
    Ok(exit::OK)
}

async fn dept_change(
    url: &str,
    pair: Option<&KeyPair>,
    actor: String,
    command: Command,
    json: bool,
    out: &mut Out<'_>,
) -> Result<()> {
    let mut sub = Submission { signature: None, id: None, note: None, command };
    if let Some(p) = pair {
        keys::sign(p, &actor, &mut sub);
    }
    let mut client = connect(url).await?;
    let req = proto::AppendRequest {
        actor,
        submissions: vec![wire(&sub, None)],
        expected: Vec::new(),
        plan_toml: String::new(),
        auth: None,
    };
    let acks = append(&mut client, req).await?;
    cli::print_acks(out, json, &acks)
}

/// A read command, run by the server on its store. Input files named in the arguments are
/// sent along; an `--out` file is written here from what the server prints.
async fn query(url: &str, pair: Option<&KeyPair>, command: Cmd, json: bool, out: &mut Out<'_>) -> Result<i32> {
    let args = forwarded_args();
    let out_file = match &command {
        Cmd::Snapshot(a) if a.verify.is_none() => a.out.clone(),
        Cmd::Checkpoint { out } => out.clone(),
        Cmd::Proof { out, .. } => out.clone(),
        _ => None,
    };
    let mut files = BTreeMap::new();
    for a in &args {
        let p = Path::new(a);
        if !a.starts_with('-') && p.is_file() {
            let data = std::fs::read(p).map_err(|e| Error::io(format!("cannot read {a}"), e))?;
            files.insert(a.clone(), data);
        }
    }
    let method = match args.iter().find(|a| !a.starts_with('-')).map(String::as_str) {
        Some("state") => "State",
        Some("summary") => "Summary",
        Some("audit") => "Audit",
        Some("verify") => "Verify",
        Some("checkpoint") => "Checkpoint",
        Some("proof") => "Proof",
        _ => "Query",
    };
    // With --out the server prints the document itself (never its own ack line).
    let args: Vec<String> =
        if out_file.is_some() { args.into_iter().filter(|a| a != "--json").collect() } else { args };
    let body = server::query_body(&args, &files);
    let req = proto::QueryRequest { args, auth: auth(pair, method, &body)?, files: files.into_iter().collect() };
    let mut client = connect(url).await?;
    let resp = match method {
        "State" => client.state(req).await,
        "Summary" => client.summary(req).await,
        "Audit" => client.audit(req).await,
        "Verify" => client.verify(req).await,
        "Checkpoint" => client.checkpoint(req).await,
        "Proof" => client.proof(req).await,
        _ => client.query(req).await,
    }
    .map_err(remote_error)?
    .into_inner();
    if let (Some(file), 0) = (&out_file, resp.exit_code) {
        cli::write_file(file, &resp.stdout)?;
        let doc: serde_json::Value = serde_json::from_str(&resp.stdout).unwrap_or_default();
        let (what, v) = match &command {
            Cmd::Snapshot(_) => ("seq", doc["as_of"]["seq"].clone()),
            Cmd::Proof { .. } => ("seq", doc["seq"].clone()),
            _ => ("size", doc["size"].clone()),
        };
        let ack = if json {
            let mut m = serde_json::Map::new();
            m.insert("wrote".into(), serde_json::json!(file.display().to_string()));
            m.insert(what.into(), v.clone());
            if what == "size" {
                m.insert("root".into(), doc["root"].clone());
            }
            serde_json::Value::Object(m).to_string() + "\n"
        } else if what == "size" {
            format!("wrote {} (size {}, root {})\n", file.display(), v, doc["root"].as_str().unwrap_or_default())
        } else {
            format!("wrote {} (seq {})\n", file.display(), v)
        };
        out.write_all(ack.as_bytes()).map_err(|e| Error::io("writing to stdout", e))?;
        return Ok(exit::OK);
    }
    out.write_all(resp.stdout.as_bytes()).map_err(|e| Error::io("writing to stdout", e))?;
    if resp.exit_code != 0 {
        return Err(Error::Remote { code: resp.exit_code, message: resp.error });
    }
    Ok(exit::OK)
}
