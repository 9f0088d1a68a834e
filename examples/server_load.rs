//! Load run of the network service: 32 concurrent remote submitters, each appending signed
//! single-event submissions over gRPC to one server on loopback. Prints throughput and
//! latency percentiles.
//! `cargo run --release --example server_load -- [SUBMITTERS] [PER_SUBMITTER]`
//! (`PLANLEDGER_ACCESS_LOG=FILE` to write the access log meanwhile; off by default)

use std::time::{Duration, Instant};

use planledger::clock::{SystemClock, V7Ids};
use planledger::decide::{Command, Submission};
use planledger::keys::{self, KeyPair};
use planledger::ledger::Ledger;
use planledger_server::proto;

const PLAN: &str = r#"
[plan]
id = "load-2022"
year = 2022
title = "Load"
jurisdiction = "Loadtown"
[[departments]]
id = "drc"
name = "DRC"
coordinator = true
[[projects]]
id = "park"
name = "Park"
level = "district"
department = "drc"
planned_investment = "10"
"#;

fn main() {
    planledger_cli::memory::no_huge_pages();
    let args: Vec<String> = std::env::args().collect();
    let submitters: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let per: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate().unwrap();
    {
        let mut ledger = Ledger::open(dir.path(), Box::new(SystemClock), Box::new(V7Ids)).unwrap();
        let import = planledger::input::parse_plan(PLAN).unwrap();
        let sub = |command| Submission { signature: None, id: None, note: None, command };
        ledger.submit("drc", &[sub(Command::ImportPlan(Box::new(import)))], &|_| None).unwrap();
        let key = pair.public().to_vec();
        ledger
            .submit("drc", &[sub(Command::RegisterKey { principal: "drc".into(), role: None, key })], &|_| None)
            .unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let store = dir.path().to_path_buf();
    let ledger_key = planledger::keys::load(&store).unwrap().public();
    let listen = addr.clone();
    // The access log: PLANLEDGER_ACCESS_LOG=FILE | stderr | off (the default: as before it existed).
    let access_log = match std::env::var("PLANLEDGER_ACCESS_LOG").as_deref() {
        Ok("stderr") => planledger_server::access::Destination::Stderr,
        Ok(path) if !path.is_empty() && path != "off" => {
            planledger_server::access::Destination::File { path: path.into(), retention_days: 180 }
        }
        _ => planledger_server::access::Destination::Off,
    };
    let options = planledger_server::Options { listen: Some(listen), access_log, ..Default::default() };
    std::thread::spawn(move || {
        planledger_server::serve_options(
            &planledger::store::StoreAt::from(store.as_path()),
            &options,
            None,
            &mut std::io::sink(),
        )
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(500));

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let pair = std::sync::Arc::new(pair);
    let (elapsed, mut lat) = rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..submitters)
            .map(|t| {
                let pair = pair.clone();
                let url = format!("http://{addr}");
                tokio::spawn(async move {
                    let mut client = proto::ledger_client::LedgerClient::connect(url).await.unwrap();
                    let mut lat = Vec::with_capacity(per);
                    for i in 0..per {
                        let value = format!("{}.{:04}", t + 1, i + 1);
                        let mut sub = Submission {
                            signature: None,
                            id: None,
                            note: None,
                            command: Command::ReviseTarget {
                                target: planledger::decide::TargetSpec::Project { project: "park".into(), plan: None },
                                value: value.parse().unwrap(),
                                reason: "load".into(),
                            },
                        };
                        keys::sign(&pair, &ledger_key, "drc", &mut sub);
                        let (kind, fields) = keys::command_form(&sub);
                        let sig = sub.signature.unwrap();
                        let req = proto::AppendRequest {
                            actor: "drc".into(),
                            submissions: vec![proto::Submission {
                                r#type: kind,
                                fields: fields.into_iter().collect(),
                                public_key: sig.key,
                                signature: sig.bytes,
                                signed: sig.signed,
                                origin: String::new(),
                            }],
                            expected: Vec::new(),
                            plan_toml: String::new(),
                            auth: None,
                        };
                        let t0 = Instant::now();
                        client.append(req).await.unwrap();
                        lat.push(t0.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        (start.elapsed(), all)
    });
    lat.sort();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    let n = submitters * per;
    println!(
        "{submitters} remote submitters × {per} signed single-event appends: {n} in {:.2} s = {:.0} events/s; latency p50 {:.0} µs, p99 {:.0} µs",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        p(0.5).as_secs_f64() * 1e6,
        p(0.99).as_secs_f64() * 1e6
    );
}
