//! The network service, driven by the real CLI against a real server on a loopback port:
//! appends, idempotent retries, optimistic concurrency, refused writes and reads, a
//! subscription that sees every event exactly once across catch-up and live while writers
//! append, and a graceful shutdown under load that loses no acknowledged event.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::*;
use common::*;

const INV: [&str; 9] =
    ["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-03", "--amount"];

fn inv(amount: &str) -> Vec<&str> {
    let mut v = INV.to_vec();
    v.push(amount);
    v
}

#[test]
fn the_cli_behaves_the_same_against_a_server() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let h = Some(keys.housing.as_str());
    let ack = remote(
        &srv,
        h,
        &[
            "--json",
            "submit",
            "--as",
            "housing",
            "investment",
            "--project",
            "park",
            "--period",
            "2022-03",
            "--amount",
            "2.5",
        ],
    )
    .ok()
    .json();
    assert_eq!(ack["type"], "investment");
    let batch = env.file("b.jsonl", "{\"type\":\"milestone\",\"project\":\"park\",\"milestone\":\"start\",\"date\":\"2022-03-01\"}\n{\"type\":\"investment\",\"project\":\"nope\",\"period\":\"2022-03\",\"amount\":\"1\"}\n");
    // The same one-line error, located in the file, the same exit code.
    remote(&srv, h, &["submit", "--as", "housing", "--file", path_str(&batch)])
        .fails(3, "b.jsonl line 2: unknown project 'nope'");
    let remote_state = remote(&srv, h, &["state", "--json"]).ok().stdout;
    let filtered = ["state", "--json", "--dept", "housing", "--level", "区", "--at", "2022-06-30", "--lagging"];
    let remote_filtered = remote(&srv, h, &filtered).ok().stdout;
    let remote_summary = remote(&srv, h, &["summary", "--year", "2022", "--format", "md", "--lang", "zh"]).ok().stdout;
    let remote_audit = remote(&srv, h, &["audit", "--json", "--entity", "park"]).ok().stdout;
    // The language travels with the request: the server answers in Chinese what the CLI
    // prints in Chinese locally.
    let in_chinese: [&[&str]; 5] = [
        &["--lang", "zh", "state"],
        &["--lang", "zh", "audit", "--entity", "park"],
        &["--lang", "zh", "diff", "5"],
        &["--lang", "zh", "log"],
        &["--lang", "zh", "summary", "--year", "2022", "--monthly", "--by", "level"],
    ];
    let remote_zh: Vec<String> = in_chinese.iter().map(|a| remote(&srv, h, a).ok().stdout).collect();
    assert!(remote_zh[1].contains("报送投资") && remote_zh[2].starts_with("从序号 5 到序号"), "{remote_zh:?}");
    let cp = env.tmp.path().join("cp.json");
    remote(&srv, h, &["checkpoint", "--out", path_str(&cp)]).ok();
    remote(&srv, h, &["verify", "--checkpoint", path_str(&cp)]).ok();
    remote(&srv, h, &["state", "--plan", "nope"]).fails(3, "unknown plan 'nope'");
    // A refusal comes back in the client's language.
    remote(&srv, h, &["--lang", "zh", "state", "--plan", "nope"]).fails(3, "未知的计划“nope”");
    remote(&srv, h, &["--lang", "zh", "submit", "--file", path_str(&batch), "--as", "housing"])
        .fails(3, "未知的项目“nope”");
    // Files go up with the request and keep their names in what comes back.
    let snap = env.tmp.path().join("snap.json");
    remote(&srv, h, &["snapshot", "--out", path_str(&snap)]).ok();
    let ok = remote(&srv, h, &["snapshot", "verify", path_str(&snap)]).ok();
    assert_eq!(ok.stdout, format!("ok: {} matches the ledger at seq 13\n", snap.display()));
    drop(srv);
    // Locally, on the same store, the same bytes.
    assert_eq!(env.run(&["state", "--json"]).ok().stdout, remote_state);
    assert_eq!(env.run(&filtered).ok().stdout, remote_filtered);
    assert_eq!(env.run(&["summary", "--year", "2022", "--format", "md", "--lang", "zh"]).ok().stdout, remote_summary);
    assert_eq!(env.run(&["audit", "--json", "--entity", "park"]).ok().stdout, remote_audit);
    for (args, remote) in in_chinese.iter().zip(&remote_zh) {
        assert_eq!(&env.run(args).ok().stdout, remote, "{args:?}");
    }
    env.run(&["verify", "--checkpoint", path_str(&cp), "--require-signatures"]).ok();
}

#[test]
fn retries_are_idempotent_and_stale_versions_conflict() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let h = Some(keys.housing.as_str());
    let id = "0190a5c2-0000-7000-8000-0000000000aa";
    let mut args = inv("1.5");
    args.extend(["--id", id, "--json"]);
    let first = remote(&srv, h, &args).ok().json();
    // The acknowledgement was lost; the client sends the same request again.
    let again = remote(&srv, h, &args).ok().json();
    assert_eq!((again["seq"].clone(), again["duplicate"].clone()), (first["seq"].clone(), serde_json::json!(true)));
    // Optimistic concurrency: the project's stream moved past version 1.
    let stream = "plan/test-2022/project/park";
    remote(
        &srv,
        h,
        &[
            "submit",
            "--as",
            "housing",
            "--expect",
            &format!("{stream}=1"),
            "investment",
            "--project",
            "park",
            "--period",
            "2022-04",
            "--amount",
            "1",
        ],
    )
    .fails(5, &format!("stream {stream} is at version 2, not the expected 1"));
    remote(
        &srv,
        h,
        &[
            "submit",
            "--as",
            "housing",
            "--expect",
            &format!("{stream}=2"),
            "investment",
            "--project",
            "park",
            "--period",
            "2022-04",
            "--amount",
            "1",
        ],
    )
    .ok();
}

#[test]
fn unsigned_forged_foreign_and_auditor_writes_are_refused_with_nothing_written() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    remote(&srv, None, &inv("1")).fails(4, "unsigned submission refused");
    // Signed with another department's key.
    remote(&srv, Some(&keys.stats), &inv("1")).fails(4, "is not registered to 'housing'");
    // A department writing another's entity, with its own key.
    remote(
        &srv,
        Some(&keys.stats),
        &["submit", "--as", "stats", "investment", "--project", "park", "--period", "2022-03", "--amount", "1"],
    )
    .fails(4, "not responsible for project 'park'");
    // An auditor writes nothing.
    remote(
        &srv,
        Some(&keys.auditor),
        &["submit", "--as", "audit-office", "investment", "--project", "park", "--period", "2022-03", "--amount", "1"],
    )
    .fails(4, "auditors only read");
    // Reads need a registered key; an auditor may read.
    remote(&srv, None, &["state"]).fails(4, "must be signed");
    let stranger = env.tmp.path().join("stranger.key");
    env.run(&["dept", "keygen", "--out", path_str(&stranger)]).ok();
    remote(&srv, Some(path_str(&stranger)), &["state"]).fails(4, "not registered to anyone");
    remote(&srv, Some(&keys.auditor), &["state"]).ok();
    assert_eq!(remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout, before);
}

#[test]
fn a_replayed_read_request_is_refused() {
    use planledger_server::{proto, request_message, Signed};
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let pair = planledger::keys::KeyPair::read(std::path::Path::new(&keys.auditor)).unwrap();
    let req = proto::StateRequest { json: true, ..Default::default() };
    let ts = chrono::Utc::now().timestamp_micros();
    let nonce = vec![7u8; 16];
    let msg = request_message("State", ts, &nonce, &req.body());
    let auth = proto::RequestAuth {
        public_key: pair.public().to_vec(),
        timestamp_micros: ts,
        nonce,
        signature: pair.sign(msg.as_bytes()).to_vec(),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut client = proto::ledger_client::LedgerClient::connect(format!("http://{}", srv.addr)).await.unwrap();
        let signed = || proto::StateRequest { auth: Some(auth.clone()), ..req.clone() };
        let mut first = client.state(signed()).await.unwrap().into_inner();
        let mut text = Vec::new();
        while let Some(piece) = first.message().await.unwrap() {
            text.extend(piece.data);
        }
        assert!(String::from_utf8(text).unwrap().contains("\"plans\""));
        let again = client.state(signed()).await.unwrap_err();
        assert_eq!(again.code(), tonic::Code::PermissionDenied);
        assert!(again.message().contains("replayed"), "{}", again.message());
    });
}

/// Writers keep appending while a subscriber catches up and goes live: it sees every seq
/// from 1 to the end exactly once, in order.
#[test]
fn a_subscription_sees_every_event_exactly_once_across_catch_up_and_live() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout.lines().count() as u64;
    let per_writer = 12u64;
    let total = before + 2 * per_writer;
    let sub = Command::new(BIN)
        .args([
            "--server",
            &srv.addr,
            "--key",
            &keys.auditor,
            "subscribe",
            "--from",
            "1",
            "--count",
            &total.to_string(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writers: Vec<_> = [("housing", keys.housing.clone()), ("drc", keys.drc.clone())]
        .into_iter()
        .enumerate()
        .map(|(w, (actor, key))| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    let value = format!("{}.{}", w + 1, i + 1);
                    let r = output(
                        Command::new(BIN)
                            .args(["--server", &addr, "--key", &key, "submit", "--as", actor])
                            .args(["revise-target", "--project", "park", "--value", &value, "--reason", "调度"])
                            .output()
                            .unwrap(),
                    );
                    assert_eq!(r.code, 0, "{}", r.stderr);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<u64>>());
}

/// SIGTERM while writers keep submitting: the server finishes what it took, acknowledges
/// only what is durable, and after a restart every acknowledged event is there.
#[test]
fn graceful_shutdown_under_load_keeps_every_acknowledged_event() {
    shutdown_under_load(false);
}

/// The same load, with the web view served beside gRPC and a reader on it all along.
#[test]
fn graceful_shutdown_under_load_with_the_web_view_keeps_every_acknowledged_event() {
    shutdown_under_load(true);
}

fn shutdown_under_load(http: bool) {
    let (env, keys) = bootstrap();
    let web_token = http.then(|| {
        let v = env
            .run(&[
                "--json",
                "web-token",
                "issue",
                "--principal",
                "audit",
                "--role",
                "auditor",
                "--expires",
                "2099-12-31",
            ])
            .ok()
            .json();
        v["token"].as_str().unwrap().to_string()
    });
    let (mut srv, web) = start_with(&env, http);
    let deadline = Instant::now() + Duration::from_secs(30);
    // A leader keeps reloading the overview while clerks append.
    let pages = web.zip(web_token).map(|(addr, token)| {
        std::thread::spawn(move || {
            let mut served = 0;
            while Instant::now() < deadline {
                let Ok(mut s) = std::net::TcpStream::connect(&addr) else { break };
                let req = format!("GET /overview?year=2022 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
                if std::io::Write::write_all(&mut s, req.as_bytes()).is_err() {
                    break;
                }
                let mut reply = String::new();
                if std::io::Read::read_to_string(&mut s, &mut reply).is_err() || reply.is_empty() {
                    break; // the server is gone
                }
                assert!(reply.starts_with("HTTP/1.1 200"), "{}", &reply[..reply.len().min(200)]);
                served += 1;
            }
            served
        })
    });
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let addr = srv.addr.clone();
            let key = keys.drc.clone();
            std::thread::spawn(move || {
                let mut acked: Vec<(u64, String)> = Vec::new();
                for i in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let value = format!("{}.{:03}", w + 1, i);
                    let r = output(
                        Command::new(BIN)
                            .args(["--server", &addr, "--key", &key, "--json", "submit", "--as", "drc"])
                            .args(["revise-target", "--project", "park", "--value", &value, "--reason", "负载"])
                            .output()
                            .unwrap(),
                    );
                    if r.code != 0 {
                        break; // the server is gone
                    }
                    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
                    acked.push((v["seq"].as_u64().unwrap(), v["id"].as_str().unwrap().to_string()));
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    unsafe {
        kill(srv.child.id() as i32, 15);
    }
    let status = srv.child.wait().unwrap();
    assert!(status.success(), "server exit {status:?}");
    let acked: Vec<(u64, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(acked.len() >= 4, "too little load to test: {}", acked.len());
    if let Some(pages) = pages {
        assert!(pages.join().unwrap() >= 1, "the web view served no page under load");
    }
    // Restart on the same store: every acknowledged event, by seq and id.
    let by_seq = env.ids_by_seq();
    for (seq, id) in &acked {
        assert_eq!(by_seq.get(seq), Some(id), "acknowledged seq {seq} lost");
    }
    env.run(&["verify", "--require-signatures"]).ok();
    let srv = start(&env);
    remote(&srv, Some(&keys.drc), &["verify"]).ok();
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn read_gives_the_global_log_or_one_stream() {
    use planledger_server::{proto, request_message, Signed};
    let (env, keys) = bootstrap();
    let srv = start(&env);
    remote(&srv, Some(&keys.housing), &inv("1.25")).ok();
    let pair = planledger::keys::KeyPair::read(std::path::Path::new(&keys.auditor)).unwrap();
    let sent = std::sync::atomic::AtomicU64::new(0);
    let read = |from: u64, stream: &str, max: u64| {
        let body = proto::ReadRequest { from_seq: from, stream: stream.into(), max_count: max, auth: None }.body();
        let ts = chrono::Utc::now().timestamp_micros();
        // Unique per request: the time and a counter (the server refuses a nonce seen before).
        let n = sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce: Vec<u8> = [ts.to_le_bytes(), n.to_le_bytes()].concat();
        let sig = pair.sign(request_message("Read", ts, &nonce, &body).as_bytes()).to_vec();
        proto::ReadRequest {
            from_seq: from,
            stream: stream.into(),
            max_count: max,
            auth: Some(proto::RequestAuth {
                public_key: pair.public().to_vec(),
                timestamp_micros: ts,
                nonce,
                signature: sig,
            }),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut client = proto::ledger_client::LedgerClient::connect(format!("http://{}", srv.addr)).await.unwrap();
        let collect = |mut s: tonic::Streaming<proto::RecordedEvent>| async move {
            let mut v = Vec::new();
            while let Some(e) = s.message().await.unwrap() {
                v.push(e);
            }
            v
        };
        let all = collect(client.read(read(1, "", 0)).await.unwrap().into_inner()).await;
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=all.len() as u64).collect::<Vec<_>>());
        let park = collect(client.read(read(1, "plan/test-2022/project/park", 0)).await.unwrap().into_inner()).await;
        assert_eq!(park.len(), 2); // listed, then the investment
        assert!(park.iter().all(|e| e.stream == "plan/test-2022/project/park"));
        match park[1].payload.as_ref().unwrap() {
            proto::recorded_event::Payload::Investment(i) => {
                assert_eq!((i.amount.as_str(), i.period.as_str()), ("1.25", "2022-03"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(park[1].signature.as_ref().unwrap().signed.lines().next(), Some("planledger-submission/2"));
        let two = collect(client.read(read(3, "", 2)).await.unwrap().into_inner()).await;
        assert_eq!(two.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    });
}

// ---- the boundary: typed requests, roles, canonical signatures, replays ---------------------

mod wire {
    use planledger::keys::KeyPair;
    use planledger_server::{proto, request_message, Signed};

    pub type Client = proto::ledger_client::LedgerClient<tonic::transport::Channel>;

    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    pub async fn connect(addr: &str) -> Client {
        Client::connect(format!("http://{addr}")).await.unwrap()
    }

    /// `r` signed for `method` by `pair` (fresh nonce), or unsigned.
    pub fn sign<R: Signed>(pair: Option<&KeyPair>, method: &str, mut r: R) -> R {
        let Some(pair) = pair else { return r };
        let ts = chrono::Utc::now().timestamp_micros();
        let mut nonce = vec![0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let msg = request_message(method, ts, &nonce, &r.body());
        r.set_auth(Some(proto::RequestAuth {
            public_key: pair.public().to_vec(),
            timestamp_micros: ts,
            nonce,
            signature: pair.sign(msg.as_bytes()).to_vec(),
        }));
        r
    }

    /// A JSONL-form submission signed (format 2) as `actor` for the ledger `ledger`.
    pub fn submission(
        pair: &KeyPair,
        ledger: &[u8; 32],
        actor: &str,
        kind: &str,
        fields: &[(&str, &str)],
    ) -> proto::Submission {
        let f = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut sub = planledger::input::submission_from_fields(kind, &f).unwrap();
        planledger::keys::sign(pair, ledger, actor, &mut sub);
        let (kind, fields) = planledger::keys::command_form(&sub);
        let sig = sub.signature.unwrap();
        proto::Submission {
            r#type: kind,
            fields: fields.into_iter().collect(),
            public_key: sig.key,
            signature: sig.bytes,
            signed: sig.signed,
            origin: String::new(),
        }
    }

    pub fn append(actor: &str, subs: Vec<proto::Submission>) -> proto::AppendRequest {
        proto::AppendRequest { actor: actor.into(), submissions: subs, ..Default::default() }
    }
}

fn key_of(path: &str) -> planledger::keys::KeyPair {
    planledger::keys::KeyPair::read(std::path::Path::new(path)).unwrap()
}

/// The ledger's public key: from its file (the server holds the directory), or as
/// `planledger key` prints it from a PostgreSQL ledger.
fn ledger_key(env: &Env) -> [u8; 32] {
    if env.url.is_none() {
        return planledger::keys::load(env.store().as_path()).unwrap().public();
    }
    let hex = env.run(&["key"]).ok().stdout;
    planledger::keys::unhex32("key", hex.trim()).unwrap()
}

/// Every RPC × every kind of caller, against a real server: what each may do is decided on
/// the typed request and the principal's role, and a refusal is PERMISSION_DENIED.
#[test]
fn the_role_by_rpc_table_holds_against_a_real_server() {
    use planledger_server::proto;
    let (env, keys) = bootstrap();
    let ledger = ledger_key(&env);
    let stranger = env.tmp.path().join("stranger.key");
    env.run(&["dept", "keygen", "--out", path_str(&stranger)]).ok();
    let srv = start(&env);
    let (drc, housing, auditor, unknown) =
        (key_of(&keys.drc), key_of(&keys.housing), key_of(&keys.auditor), key_of(path_str(&stranger)));
    // Callers: (name, key, may read, may append).
    let callers: [(&str, Option<&planledger::keys::KeyPair>, bool, bool); 5] = [
        ("coordinator", Some(&drc), true, true),
        ("department", Some(&housing), true, true),
        ("auditor", Some(&auditor), true, false),
        ("unknown key", Some(&unknown), false, false),
        ("no key", None, false, false),
    ];
    let rt = wire::runtime();
    rt.block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        let snapshot = {
            let r = wire::sign(Some(&drc), "Snapshot", proto::SnapshotRequest::default());
            let mut s = c.snapshot(r).await.unwrap().into_inner();
            let mut doc = Vec::new();
            while let Some(p) = s.message().await.unwrap() {
                doc.extend(p.data);
            }
            doc
        };
        let mut rows = 0;
        for (who, key, may_read, may_append) in callers {
            // The append each caller would make: its own kind of write, signed with its key
            // for its principal (an auditor's and a stranger's as the department they claim).
            let append = match (who, key) {
                (_, None) => wire::append(
                    "housing",
                    vec![proto::Submission {
                        r#type: "investment".into(),
                        fields: [("project", "park"), ("period", "2022-05"), ("amount", "1")]
                            .into_iter()
                            .map(|(k, v)| (k.into(), v.into()))
                            .collect(),
                        ..Default::default()
                    }],
                ),
                ("coordinator", Some(k)) => wire::append(
                    "drc",
                    vec![wire::submission(
                        k,
                        &ledger,
                        "drc",
                        "revise-target",
                        &[("project", "park"), ("value", "11"), ("reason", "表")],
                    )],
                ),
                ("auditor", Some(k)) => wire::append(
                    "audit-office",
                    vec![wire::submission(
                        k,
                        &ledger,
                        "audit-office",
                        "investment",
                        &[("project", "park"), ("period", "2022-05"), ("amount", "1")],
                    )],
                ),
                (_, Some(k)) => wire::append(
                    "housing",
                    vec![wire::submission(
                        k,
                        &ledger,
                        "housing",
                        "investment",
                        &[("project", "park"), ("period", "2022-05"), ("amount", "1")],
                    )],
                ),
            };
            let outcomes: Vec<(&str, Result<(), tonic::Status>)> = vec![
                ("Append", c.append(append.clone()).await.map(|_| ())),
                (
                    // The same request again, on a stream: answered (or refused) as an Append.
                    "AppendStream",
                    match c.append_stream(tokio_stream::iter(vec![append])).await {
                        Ok(answers) => answers.into_inner().message().await.map(|_| ()),
                        Err(s) => Err(s),
                    },
                ),
                (
                    "Read",
                    c.read(wire::sign(key, "Read", proto::ReadRequest { from_seq: 1, ..Default::default() }))
                        .await
                        .map(|_| ()),
                ),
                (
                    "Subscribe",
                    c.subscribe(wire::sign(key, "Subscribe", proto::SubscribeRequest { from_seq: 1, auth: None }))
                        .await
                        .map(|_| ()),
                ),
                ("State", c.state(wire::sign(key, "State", proto::StateRequest::default())).await.map(|_| ())),
                (
                    "Summary",
                    c.summary(wire::sign(key, "Summary", proto::SummaryRequest { year: 2022, ..Default::default() }))
                        .await
                        .map(|_| ()),
                ),
                ("Audit", c.audit(wire::sign(key, "Audit", proto::AuditRequest::default())).await.map(|_| ())),
                (
                    "Show",
                    c.show(wire::sign(key, "Show", proto::ShowRequest { event: "1".into(), ..Default::default() }))
                        .await
                        .map(|_| ()),
                ),
                (
                    "Log",
                    c.log(wire::sign(key, "Log", proto::LogRequest { from_seq: 1, ..Default::default() }))
                        .await
                        .map(|_| ()),
                ),
                (
                    "Snapshot",
                    c.snapshot(wire::sign(key, "Snapshot", proto::SnapshotRequest::default())).await.map(|_| ()),
                ),
                (
                    "SnapshotVerify",
                    c.snapshot_verify(wire::sign(
                        key,
                        "SnapshotVerify",
                        proto::SnapshotVerifyRequest { document: snapshot.clone(), ..Default::default() },
                    ))
                    .await
                    .map(|_| ()),
                ),
                ("Diff", c.diff(wire::sign(key, "Diff", proto::DiffRequest::default())).await.map(|_| ())),
                ("Verify", c.verify(wire::sign(key, "Verify", proto::VerifyRequest::default())).await.map(|_| ())),
                (
                    "Checkpoint",
                    c.checkpoint(wire::sign(key, "Checkpoint", proto::CheckpointRequest::default())).await.map(|_| ()),
                ),
                ("Key", c.key(wire::sign(key, "Key", proto::KeyRequest::default())).await.map(|_| ())),
                (
                    "Proof",
                    c.proof(wire::sign(key, "Proof", proto::ProofRequest { event: "1".into(), ..Default::default() }))
                        .await
                        .map(|_| ()),
                ),
                ("Backup", c.backup(wire::sign(key, "Backup", proto::BackupRequest::default())).await.map(|_| ())),
                (
                    "ExportLog",
                    c.export_log(wire::sign(key, "ExportLog", proto::ExportLogRequest::default())).await.map(|_| ()),
                ),
                ("Bundle", c.bundle(wire::sign(key, "Bundle", proto::BundleRequest::default())).await.map(|_| ())),
            ];
            assert_eq!(outcomes.len(), 19, "every RPC of the service is in the table");
            for (rpc, outcome) in outcomes {
                let allowed = match rpc {
                    "Append" | "AppendStream" => may_append,
                    "Backup" => who == "coordinator",
                    "ExportLog" | "Bundle" => who == "coordinator" || who == "auditor",
                    _ => may_read,
                };
                match (&outcome, allowed) {
                    (Ok(()), true) => {}
                    (Err(s), false) if s.code() == tonic::Code::PermissionDenied => {}
                    _ => panic!("{rpc} by {who}: expected {}, got {outcome:?}", if allowed { "ok" } else { "refused" }),
                }
                rows += 1;
            }
        }
        assert_eq!(rows, 95);
    });
    drop(srv);
    env.assert_verifies();
}

/// The first attack of the boundary issue: a read-only key asking the server to write a file
/// (`snapshot --out <store>/log/…`) or to run a write command through read arguments. There
/// is no field for either: `--out` is written by the client, and text fields are data.
#[test]
fn a_read_only_key_cannot_make_the_server_write_or_run_anything() {
    use planledger_server::proto;
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let log_dir = env.store().join("log");
    let files = |dir: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = files(&log_dir);
    let before_log = remote(&srv, Some(&keys.auditor), &["log", "--json"]).ok().stdout;
    // The CLI writes --out itself; the server only answers with the document.
    let out = env.tmp.path().join("mine.json");
    remote(&srv, Some(&keys.auditor), &["snapshot", "--out", path_str(&out)]).ok();
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"as_of\""));
    // Flags smuggled into typed fields are values, refused as such.
    let auditor = key_of(&keys.auditor);
    let rt = wire::runtime();
    rt.block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        let r = proto::StateRequest { plan: "--store".into(), as_of: "demo".into(), ..Default::default() };
        let e = c.state(wire::sign(Some(&auditor), "State", r)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        let r = proto::SummaryRequest { year: 2022, format: "--out=/tmp/x".into(), ..Default::default() };
        let e = c.summary(wire::sign(Some(&auditor), "Summary", r)).await.unwrap_err();
        assert!(e.message().contains("is not text, md or csv"), "{e:?}");
        // An auditor's Append is refused at the boundary, before anything is decided.
        let ledger = ledger_key(&env);
        let sub = wire::submission(
            &auditor,
            &ledger,
            "audit-office",
            "investment",
            &[("project", "park"), ("period", "2022-03"), ("amount", "1")],
        );
        let e = c.append(wire::append("audit-office", vec![sub])).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        // A nonce of any length but 16 is refused as malformed, and never kept.
        let mut r = wire::sign(Some(&auditor), "Key", proto::KeyRequest::default());
        if let Some(a) = r.auth.as_mut() {
            a.nonce = vec![1; 3_500_000];
        }
        let e = c.key(r).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        let mut r = wire::sign(Some(&auditor), "Key", proto::KeyRequest::default());
        if let Some(a) = r.auth.as_mut() {
            a.nonce.clear();
        }
        let e = c.key(r).await.unwrap_err();
        assert!(e.message().contains("exactly 16"), "{e:?}");
    });
    assert_eq!(files(&log_dir), before);
    assert_eq!(remote(&srv, Some(&keys.auditor), &["log", "--json"]).ok().stdout, before_log);
    remote(&srv, Some(&keys.auditor), &["verify"]).ok();
}

/// The second attack: a signed submission whose signed text means the same as its fields but
/// is not their canonical text (an amount padded with 70,000 spaces, which made an event over
/// 64 KiB and panicked the commit leader). It is refused before staging; later appends and
/// SIGTERM still work.
#[test]
fn a_padded_signed_text_is_refused_and_the_server_goes_on() {
    use planledger_server::proto;
    let (env, keys) = bootstrap();
    let ledger = ledger_key(&env);
    let mut srv = start(&env);
    let housing = key_of(&keys.housing);
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    let rt = wire::runtime();
    rt.block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        let mut sub = wire::submission(
            &housing,
            &ledger,
            "housing",
            "investment",
            &[("project", "park"), ("period", "2022-03"), ("amount", "1")],
        );
        let padded = sub.signed.replace("amount=1\n", &format!("amount=1{}\n", " ".repeat(70_000)));
        sub.fields.insert("amount".into(), format!("1{}", " ".repeat(70_000)));
        sub.signature = housing.sign(padded.as_bytes()).to_vec();
        sub.signed = padded;
        let e = c.append(wire::append("housing", vec![sub])).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("canonical text"), "{e:?}");
        // A request over the size the server decodes is refused as such.
        let big = proto::AppendRequest { actor: "x".repeat(20 * 1024 * 1024), ..Default::default() };
        assert!(c.append(big).await.is_err());
        // `c` stays connected (its runtime idle) through the SIGTERM below: an idle client
        // must not keep the server from stopping.
        std::mem::forget(c);
    });
    assert_eq!(remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout, before);
    remote(&srv, Some(&keys.housing), &inv("2")).ok();
    unsafe { kill(srv.child.id() as i32, 15) };
    let t0 = Instant::now();
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "SIGTERM did not stop the server");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.assert_verifies();
}

/// Signatures copied from the log and sent again: with their own id they are the idempotent
/// no-op they are (nothing written); on a new id they are refused. A coordinator's old
/// correction cannot revert a later one, and a revoked key cannot be revived by replaying its
/// registration.
#[test]
fn replayed_signatures_write_nothing() {
    use planledger_server::proto;
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let inv_ack = remote(
        &srv,
        Some(&keys.housing),
        &[
            "--json",
            "submit",
            "--as",
            "housing",
            "investment",
            "--project",
            "park",
            "--period",
            "2022-03",
            "--amount",
            "1",
        ],
    )
    .ok()
    .json();
    let target = inv_ack["seq"].as_u64().unwrap().to_string();
    let correct = |v: &str| {
        remote(
            &srv,
            Some(&keys.drc),
            &["--json", "submit", "--as", "drc", "correct", "--event", &target, "--value", v, "--reason", "口径"],
        )
        .ok()
        .json()
    };
    let first = correct("3.3")["seq"].as_u64().unwrap();
    correct("4.4");
    // Revoke housing's key (drc, the coordinator).
    remote(
        &srv,
        Some(&keys.drc),
        &["dept", "revoke", "housing", "--public-key", &keys.housing, "--reason", "离职", "--as", "drc"],
    )
    .ok();
    let log: Vec<serde_json::Value> = remote(&srv, Some(&keys.drc), &["log", "--json"])
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let registration = log
        .iter()
        .find(|e| e["type"] == "key-registered" && e["principal"] == "housing")
        .expect("housing's registration")
        .clone();
    let old_correction = log[first as usize - 1].clone();
    let replay = |e: &serde_json::Value, id: Option<&str>| {
        let text = e["signed"].as_str().unwrap().to_string();
        let parsed = planledger::keys::parse_canonical(&text).unwrap();
        let mut fields: std::collections::HashMap<String, String> = parsed.fields.into_iter().collect();
        if let Some(id) = id {
            fields.insert("id".into(), id.into());
        }
        let unhex = |h: &str| {
            (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        wire::append(
            e["actor"].as_str().unwrap(),
            vec![proto::Submission {
                r#type: parsed.kind,
                fields,
                public_key: unhex(e["signed_by"].as_str().unwrap()),
                signature: unhex(e["signature"].as_str().unwrap()),
                signed: text,
                origin: String::new(),
            }],
        )
    };
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    let rt = wire::runtime();
    rt.block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        for e in [&old_correction, &registration] {
            // The same id: acknowledged as already recorded, nothing written.
            let acks = c.append(replay(e, None)).await.unwrap().into_inner().acks;
            assert!(acks.iter().all(|a| a.duplicate), "{acks:?}");
            // Another id: the signature is not for it.
            let fresh = uuid::Uuid::now_v7().to_string();
            let err = c.append(replay(e, Some(&fresh))).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
            assert!(err.message().contains("another event id"), "{err:?}");
        }
    });
    assert_eq!(remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout, before);
    let state = remote(&srv, Some(&keys.drc), &["state", "--json"]).ok().json();
    let park = &state["plans"][0]["projects"].as_array().unwrap().iter().find(|p| p["id"] == "park").unwrap().clone();
    assert_eq!(park["completed_investment"], "4.4", "{park}");
    // The revoked key stays revoked.
    remote(&srv, Some(&keys.housing), &inv("1")).fails(4, "not registered");
}

/// Outputs of any size come through the server, streamed: `log --json` of a ledger whose log
/// is over 4 MiB (a gRPC message's default ceiling) arrives whole, equal to the local output.
#[test]
fn outputs_over_four_mib_stream_through_the_server() {
    let (env, keys) = bootstrap();
    let first = env
        .run(&[
            "--key",
            &keys.housing,
            "--json",
            "submit",
            "--as",
            "housing",
            "investment",
            "--project",
            "park",
            "--period",
            "2022-01",
            "--amount",
            "1",
        ])
        .ok()
        .json()["seq"]
        .as_u64()
        .unwrap();
    // Corrections of one investment, each to another value: as many events as it takes.
    let lines: String = (0..10_000)
        .map(|i| {
            format!(
                "{{\"type\":\"correct\",\"event\":\"{first}\",\"value\":\"{}.{:04}\",\"reason\":\"第{i}次复核: streamed through the server in pieces\"}}\n",
                i / 10_000 + 2,
                i % 10_000
            )
        })
        .collect();
    let file = env.file("many.jsonl", &lines);
    env.run(&["--key", &keys.drc, "submit", "--as", "drc", "--batch", "1000", "--file", path_str(&file)]).ok();
    let local = env.run(&["log", "--json"]).ok().stdout;
    assert!(local.len() > 4 * 1024 * 1024, "{} bytes is not over 4 MiB", local.len());
    let srv = start(&env);
    let remote_log = remote(&srv, Some(&keys.auditor), &["log", "--json"]).ok().stdout;
    assert_eq!(remote_log.len(), local.len());
    assert!(remote_log == local, "the streamed log differs from the local one");
}

/// A backup through the server, taken while four writers append: it restores into a store
/// that verifies and holds, byte for byte, every event acknowledged before the backup's
/// seq. Only a coordinator may take one (it holds the ledger's key).
#[test]
fn a_backup_through_the_server_while_writers_append_restores_every_acknowledged_event() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, key, stop) = (srv.addr.clone(), keys.drc.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked: Vec<(u64, String)> = Vec::new();
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let value = format!("{}.{:03}", w + 1, i);
                    let r = output(
                        Command::new(BIN)
                            .args(["--server", &addr, "--key", &key, "--json", "submit", "--as", "drc"])
                            .args(["revise-target", "--project", "park", "--value", &value, "--reason", "备份时写入"])
                            .output()
                            .unwrap(),
                    );
                    assert_eq!(r.code, 0, "{}", r.stderr);
                    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
                    acked.push((v["seq"].as_u64().unwrap(), v["id"].as_str().unwrap().to_string()));
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let file = env.tmp.path().join("backup.jsonl");
    remote(&srv, Some(&keys.auditor), &["backup", "--out", path_str(&file)])
        .fails(4, "Backup is not open to that role");
    remote(&srv, Some(&keys.housing), &["backup", "--out", path_str(&file)])
        .fails(4, "Backup is not open to that role");
    remote(&srv, None, &["backup", "--out", path_str(&file)]).fails(4, "must be signed");
    assert!(!file.exists());
    let taken = remote(&srv, Some(&keys.drc), &["--json", "backup", "--out", path_str(&file)]).ok().json();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<(u64, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let events = taken["events"].as_u64().unwrap();
    assert!(
        acked.iter().any(|(s, _)| *s <= events) && acked.iter().any(|(s, _)| *s > events),
        "writers ran on both sides of the backup"
    );
    drop(srv);
    let restored = env.tmp.path().join("restored");
    let r =
        output(Command::new(BIN).arg("--store").arg(&restored).args(["restore", path_str(&file)]).output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids = |dir: &std::path::Path| -> std::collections::HashMap<u64, String> {
        let out = Command::new(BIN).arg("--store").arg(dir).args(["log", "--json"]).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| (v["seq"].as_u64().unwrap(), v["id"].as_str().unwrap().to_string()))
            .collect()
    };
    let in_backup = ids(&restored);
    assert_eq!(in_backup.len() as u64, events);
    for (seq, id) in acked.iter().filter(|(s, _)| *s <= events) {
        assert_eq!(in_backup.get(seq), Some(id), "acknowledged seq {seq} not in the backup");
    }
    let v = output(Command::new(BIN).arg("--store").arg(&restored).args(["--json", "verify"]).output().unwrap());
    assert_eq!(v.code, 0, "{}", v.stderr);
}

/// An auditor takes the whole log and an audit bundle through the server, without access
/// to its machine: the exported log imports to the server's log byte for byte; the bundle,
/// signed by the server's ledger key, verifies on a machine with no store and answers as
/// the ledger did at that point. A department may take neither; an unsigned request neither.
#[test]
fn an_auditor_takes_the_exported_log_and_a_bundle_through_the_server() {
    let (env, keys) = bootstrap();
    let key = env.run(&["key"]).ok().stdout;
    let local_log = env.run(&["log", "--json"]).ok().stdout;
    // The point: the first key registered, after the plan's import.
    let point = local_log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "key-registered")
        .map(|v| v["seq"].as_u64().unwrap().to_string())
        .unwrap();
    let then = env.run(&["summary", "--year", "2022", "--json", "--as-of", &point]).ok().stdout;
    let srv = start(&env);
    let log = env.tmp.path().join("台账日志.jsonl.zst");
    let bundle = env.tmp.path().join("审计包.plbundle");
    for (who, code, says) in [(Some(keys.housing.as_str()), 4, "is not open to that role"), (None, 4, "must be signed")]
    {
        remote(&srv, who, &["export-log", "--out", path_str(&log)]).fails(code, says);
        remote(&srv, who, &["bundle", "--out", path_str(&bundle)]).fails(code, says);
    }
    assert!(!log.exists() && !bundle.exists(), "nothing written");
    let said = remote(&srv, Some(&keys.auditor), &["--json", "export-log", "--out", path_str(&log)]).ok().json();
    remote(&srv, Some(&keys.auditor), &["bundle", "--as-of", &point, "--out", path_str(&bundle)]).ok();
    drop(srv);
    let imported = env.tmp.path().join("imported");
    let r =
        output(Command::new(BIN).arg("--store").arg(&imported).args(["import-log", path_str(&log)]).output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let imported_log =
        output(Command::new(BIN).arg("--store").arg(&imported).args(["log", "--json"]).output().unwrap());
    assert!(imported_log.stdout == local_log, "the same events, byte for byte");
    assert!(said["events"].as_u64().unwrap() > point.parse::<u64>().unwrap());
    // The auditor's machine: no store, only the bundle.
    let nowhere = env.tmp.path().join("no-store");
    let on_bundle = |args: &[&str]| {
        output(Command::new(BIN).arg("--store").arg(&nowhere).arg("--bundle").arg(&bundle).args(args).output().unwrap())
    };
    let v = on_bundle(&["--json", "verify"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let v = v.json();
    assert_eq!(v["bundle"]["tree_head"]["size"].to_string(), point);
    assert_eq!(
        v["bundle"]["tree_head"]["public_key"].as_str().unwrap(),
        key.trim(),
        "signed by the server's ledger key"
    );
    let s = on_bundle(&["summary", "--year", "2022", "--json"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_eq!(s.stdout, then, "the summary as the ledger had it then");
    let audit = on_bundle(&["audit", "--json"]);
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    assert!(!nowhere.exists());
}

/// A submission whose fields are a key change's (`register-key`, `revoke-key`), signed (format 2).
fn key_change(
    pair: &planledger::keys::KeyPair,
    ledger: &[u8; 32],
    actor: &str,
    kind: &str,
    fields: &[(&str, &str)],
) -> planledger_server::proto::Submission {
    use planledger_server::proto;
    let unsigned = proto::Submission {
        r#type: kind.into(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    };
    let mut sub = planledger_server::submission_of(&unsigned).unwrap();
    planledger::keys::sign(pair, ledger, actor, &mut sub);
    let (kind, fields) = planledger::keys::command_form(&sub);
    let sig = sub.signature.unwrap();
    proto::Submission {
        r#type: kind,
        fields: fields.into_iter().collect(),
        public_key: sig.key,
        signature: sig.bytes,
        signed: sig.signed,
        origin: String::new(),
    }
}

/// The server verifies a submission's signature before the ledger is locked and checks its
/// key on the state only when the submission is staged: a key revoked after the
/// verification is refused. In one request — the revocation, then a submission signed with
/// the revoked key, both verified before either was staged — nothing is written. With
/// appends signed by the key in flight on four connections while it is revoked, every one
/// acknowledged lies before the revocation in the log, each connection's first refusal says
/// the key was revoked, and nothing signed by it follows the revocation.
#[test]
fn a_key_revoked_after_its_submission_was_verified_is_refused() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (env, keys) = bootstrap();
    let second = env.tmp.path().join("drc-2.key");
    env.run(&["dept", "keygen", "--out", path_str(&second)]).ok();
    env.run(&["--key", &keys.drc, "dept", "register", "drc", "--public-key", path_str(&second), "--as", "drc"]).ok();
    let ledger = ledger_key(&env);
    let (drc, drc2) = (key_of(&keys.drc), Arc::new(key_of(path_str(&second))));
    let second_hex = planledger::codec::hex(&drc2.public());
    let revoke = key_change(
        &drc,
        &ledger,
        "drc",
        "revoke-key",
        &[("principal", "drc"), ("public_key", &second_hex), ("reason", "rotated")],
    );
    let revise = move |pair: &planledger::keys::KeyPair, value: &str| {
        wire::submission(
            pair,
            &ledger,
            "drc",
            "revise-target",
            &[("project", "park"), ("value", value), ("reason", "r")],
        )
    };
    let srv = start(&env);
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    let rt = wire::runtime();
    let (revoked_at, acked, refusals) = rt.block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        let both = wire::append("drc", vec![revoke.clone(), revise(&drc2, "101.5")]);
        let e = c.append(both).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("or was revoked"), "{e:?}");
        // Appends signed with the second key in flight while it is revoked.
        let acks = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let (addr, pair, acks, revise) = (srv.addr.clone(), drc2.clone(), acks.clone(), revise);
                tokio::spawn(async move {
                    let mut c = wire::connect(&addr).await;
                    let mut seqs = Vec::new();
                    for i in 0..100_000 {
                        let value = format!("{}.{:05}", 200 + t, i + 1);
                        match c.append(wire::append("drc", vec![revise(&pair, &value)])).await {
                            Ok(r) => {
                                seqs.push(r.into_inner().acks[0].seq);
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => return (seqs, Some(e)),
                        }
                    }
                    (seqs, None)
                })
            })
            .collect();
        while acks.load(Ordering::SeqCst) < 20 {
            tokio::task::yield_now().await;
        }
        let r = c.append(wire::append("drc", vec![revoke])).await.unwrap().into_inner();
        let revoked_at = r.acks[0].seq;
        let mut acked = Vec::new();
        let mut refusals = Vec::new();
        for w in writers {
            let (seqs, refused) = w.await.unwrap();
            acked.extend(seqs);
            refusals.push(refused);
        }
        // Sent after the revocation's ack: refused.
        let e = c.append(wire::append("drc", vec![revise(&drc2, "301.5")])).await.unwrap_err();
        refusals.push(Some(e));
        (revoked_at, acked, refusals)
    });
    assert!(acked.len() >= 20, "{acked:?}");
    assert!(acked.iter().all(|&seq| seq < revoked_at), "acked {acked:?}, revoked at {revoked_at}");
    for refused in refusals {
        let e = refused.expect("an append with the revoked key was acknowledged");
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("or was revoked"), "{e:?}");
    }
    // The log: what was there, the acknowledged appends, the revocation last.
    let log = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    assert!(log.starts_with(&before));
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["seq"].as_u64(), Some(revoked_at), "{last}");
    assert_eq!(log.lines().count(), before.lines().count() + acked.len() + 1);
    drop(srv);
    env.assert_verifies();
}

/// The tests above run again with the server (and the CLI beside it) on a PostgreSQL ledger
/// (`common::on_postgres`): the web view, which serves a directory, is left out.
mod postgres {
    macro_rules! on_postgres {
        ($($name:ident),* $(,)?) => {
            $(
                #[test]
                fn $name() {
                    super::common::on_postgres(super::$name);
                }
            )*
        };
    }

    on_postgres!(
        the_cli_behaves_the_same_against_a_server,
        retries_are_idempotent_and_stale_versions_conflict,
        unsigned_forged_foreign_and_auditor_writes_are_refused_with_nothing_written,
        a_replayed_read_request_is_refused,
        a_subscription_sees_every_event_exactly_once_across_catch_up_and_live,
        graceful_shutdown_under_load_keeps_every_acknowledged_event,
        read_gives_the_global_log_or_one_stream,
        the_role_by_rpc_table_holds_against_a_real_server,
        a_padded_signed_text_is_refused_and_the_server_goes_on,
        replayed_signatures_write_nothing,
        a_backup_through_the_server_while_writers_append_restores_every_acknowledged_event,
        an_auditor_takes_the_exported_log_and_a_bundle_through_the_server,
        a_key_revoked_after_its_submission_was_verified_is_refused,
    );
}

/// `n` (at most 12) investment lines of `park`, month k of 2022 with amount k, as `submit
/// --file` takes them.
fn park_lines(n: usize) -> String {
    (1..=n)
        .map(|k| {
            format!("{{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-{k:02}\",\"amount\":\"{k}\"}}\n")
        })
        .collect()
}

/// The investments of `park` the server's log holds, as (seq, amount), in seq order.
fn park_investments(srv: &Server, key: &str) -> Vec<(u64, String)> {
    let log = remote(srv, Some(key), &["log", "--json"]).ok().stdout;
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "investment" && e["project"] == "park")
        .map(|e| (e["seq"].as_u64().unwrap(), e["amount"].as_str().unwrap().to_string()))
        .collect()
}

/// A clerk's file through the server in batches: sent on one stream without waiting for each
/// answer, every batch acknowledged, the events in the file's order.
#[test]
fn a_batched_file_streams_through_the_server_in_order() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let file = env.file("march.jsonl", &park_lines(7));
    let out =
        remote(&srv, Some(&keys.housing), &["submit", "--as", "housing", "--batch", "3", "--file", path_str(&file)])
            .ok()
            .stdout;
    assert_eq!(out.lines().count(), 7, "one ack a line: {out}");
    let recorded = park_investments(&srv, &keys.drc);
    let amounts: Vec<&str> = recorded.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(amounts, ["1", "2", "3", "4", "5", "6", "7"]);
    assert!(recorded.windows(2).all(|w| w[1].0 == w[0].0 + 1), "consecutive seqs: {recorded:?}");
    drop(srv);
    env.assert_verifies();
}

/// A refused batch in the middle of a stream: the batches before it stay recorded (the error
/// says through which line), the refused one and every one after it are not written, even
/// though the client sent them before the refusal came back.
#[test]
fn a_refused_batch_keeps_the_batches_before_and_writes_none_after() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let mut text = park_lines(9);
    // Line 5 names a project that does not exist.
    text = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 4 { l.replace("\"park\"", "\"no-such-project\"") } else { l.to_string() } + "\n")
        .collect();
    let file = env.file("march.jsonl", &text);
    let run =
        remote(&srv, Some(&keys.housing), &["submit", "--as", "housing", "--batch", "2", "--file", path_str(&file)]);
    let run = run.fails(3, "line 5");
    assert!(run.stderr.contains("recorded through"), "{}", run.stderr);
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 4, "the two batches' acks: {}", run.stdout);
    let amounts: Vec<String> = park_investments(&srv, &keys.drc).into_iter().map(|(_, a)| a).collect();
    assert_eq!(amounts, ["1", "2", "3", "4"]);
    drop(srv);
    env.assert_verifies();
}

/// Refusals on the stream, as on `Append`: an auditor's key, no key, a batch too large for
/// a request, a batch size out of range; nothing written by any.
#[test]
fn streamed_batches_are_refused_as_appends_are_with_nothing_written() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let before = remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout;
    let file = env.file("march.jsonl", &park_lines(5));
    let f = path_str(&file);
    remote(&srv, Some(&keys.auditor), &["submit", "--as", "audit-office", "--batch", "2", "--file", f])
        .fails(4, "auditors only read");
    remote(&srv, None, &["submit", "--as", "housing", "--batch", "2", "--file", f])
        .fails(4, "unsigned submission refused");
    // In Chinese, the line it names too.
    let zh = remote(&srv, None, &["--lang", "zh", "submit", "--as", "housing", "--batch", "2", "--file", f]);
    zh.fails(4, "march.jsonl 第1行：未签名的提交被拒绝");
    remote(&srv, Some(&keys.housing), &["submit", "--as", "housing", "--batch", "0", "--file", f])
        .fails(3, "--batch 0");
    // A batch over the request limit (2,100 lines with notes of 4,095 bytes, each sent with
    // its signed text): named before anything is sent.
    let note = "第".repeat(1_365);
    let long: String = (1..=2_100)
        .map(|k| {
            format!(
                "{{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-03\",\"amount\":\"{k}\",\"note\":\"{note}\"}}\n"
            )
        })
        .collect();
    let long = env.file("long.jsonl", &long);
    remote(&srv, Some(&keys.housing), &["submit", "--as", "housing", "--batch", "2100", "--file", path_str(&long)])
        .fails(3, "use a smaller --batch");
    assert_eq!(remote(&srv, Some(&keys.drc), &["log", "--json"]).ok().stdout, before);
    drop(srv);
}

/// A stream whose requests together exceed the room one stream may hold unanswered (seven of
/// ~11 MiB against 64 MiB): the server stops reading until answers go, and every request is
/// answered, in order.
#[test]
fn a_stream_larger_than_its_room_is_answered_whole() {
    let (env, keys) = bootstrap();
    let ledger = ledger_key(&env);
    let srv = start(&env);
    let drc = key_of(&keys.drc);
    let reason = "调".repeat(1_365);
    let (requests, per) = (7, 1_350);
    let batches: Vec<_> = (0..requests)
        .map(|r| {
            let subs = (0..per)
                .map(|k| {
                    let value = (100 + r * per + k).to_string();
                    let fields = [("project", "park"), ("value", value.as_str()), ("reason", reason.as_str())];
                    wire::submission(&drc, &ledger, "drc", "revise-target", &fields)
                })
                .collect();
            wire::append("drc", subs)
        })
        .collect();
    let bytes: usize = batches.iter().map(planledger_server::encoded_bytes).sum();
    assert!(bytes > planledger_server::STREAM_BYTES_IN_FLIGHT_MAX, "{bytes} bytes");
    assert!(batches.iter().all(|b| planledger_server::encoded_bytes(b) < planledger_server::REQUEST_BYTES_MAX));
    let seqs = wire::runtime().block_on(async {
        let mut c = wire::connect(&srv.addr).await;
        let mut answers = c.append_stream(tokio_stream::iter(batches)).await.unwrap().into_inner();
        let mut seqs = Vec::new();
        while let Some(a) = answers.message().await.unwrap() {
            assert_eq!(a.acks.len(), per);
            seqs.extend(a.acks.iter().map(|a| a.seq));
        }
        seqs
    });
    assert_eq!(seqs.len(), requests * per);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, one after another");
    drop(srv);
}

/// A batch too large for one request after batches that fit: the file is read batch by batch
/// (memory stays flat), so the batches before it are recorded and the error says so, as for
/// a refused batch; nothing from it on is written.
#[test]
fn a_batch_too_large_midway_stops_the_file_after_the_batches_before() {
    let (env, keys) = bootstrap();
    let srv = start(&env);
    let before = park_revisions(&srv, &keys.drc);
    let note = "第".repeat(1_365);
    let line = |k: usize, reason: &str| {
        format!(
            "{{\"type\":\"revise-target\",\"project\":\"park\",\"value\":\"{}\",\"reason\":\"{reason}\"}}\n",
            100 + k
        )
    };
    let text: String = (1..=4_200).map(|k| line(k, if k <= 2_100 { "调度" } else { &note })).collect();
    let file = env.file("revisions.jsonl", &text);
    let run = remote(&srv, Some(&keys.drc), &["submit", "--as", "drc", "--batch", "2100", "--file", path_str(&file)]);
    let run = run.fails(3, "use a smaller --batch");
    assert!(run.stderr.contains("recorded through"), "{}", run.stderr);
    assert!(run.stderr.contains("line 2100 (1 batches)"), "{}", run.stderr);
    assert!(run.stderr.contains("revisions.jsonl line 2101"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2_100);
    assert_eq!(park_revisions(&srv, &keys.drc), before + 2_100);
    drop(srv);
}

/// How many target revisions the server's log holds.
fn park_revisions(srv: &Server, key: &str) -> usize {
    let log = remote(srv, Some(key), &["log", "--json"]).ok().stdout;
    log.lines().filter(|l| l.contains("\"type\":\"revise-target\"")).count()
}
