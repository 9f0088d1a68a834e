//! Running the server as IT staff do (docs/operations.md), against the real binary on
//! loopback: the configuration file (flags override it; an unknown key starts nothing), the
//! access log (one line per call and per web request, the verified principal, no secret),
//! `/metrics` after appends and a refusal, and TLS with certificates made here: a TLS client
//! appends and reads, a plain-text one and one trusting another CA are refused, and with
//! `--client-ca` only a client with a certificate from that CA gets through.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Server {
    child: Child,
    /// gRPC, as the CLI's --server takes it.
    addr: String,
    web: Option<String>,
    metrics: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `planledger serve ARGS` (with `env`'s store unless `no_store`), read up to its gRPC line.
fn serve(env: &Env, args: &[&str], vars: &[(&str, &str)], no_store: bool) -> Server {
    let mut cmd = Command::new(BIN);
    if !no_store {
        cmd.args(["--store", path_str(&env.store())]);
    }
    cmd.arg("serve").args(args).env_remove("PLANLEDGER_SERVER").env_remove("PLANLEDGER_STORE");
    cmd.env_remove("PLANLEDGER_CONFIG");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // Killed when dropped, a panic here included.
    let mut srv = Server { child, addr: String::new(), web: None, metrics: None };
    loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let line = line.trim();
        if let Some(w) = line.strip_prefix("web view on http://") {
            srv.web = Some(w.to_string());
        } else if let Some(m) = line.strip_prefix("metrics on http://") {
            srv.metrics = Some(m.to_string());
        } else if let Some(addr) = line.strip_prefix("listening on ") {
            srv.addr = addr.to_string();
            return srv;
        } else {
            panic!("server said {line:?}");
        }
    }
}

/// A key file's fields (public and secret halves, hex).
fn key_field(path: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v[field].as_str().unwrap().to_string()
}

/// The CLI against `server` (a URL or address), with extra global flags.
fn remote(server: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut c = Command::new(BIN);
    c.args(["--lang", "en", "--server", server]).args(flags).args(args);
    c.env_remove("PLANLEDGER_NOW").env_remove("PLANLEDGER_CA").env("PLANLEDGER_STORE", "/nonexistent");
    output(c.output().unwrap())
}

fn investment(amount: &str) -> Vec<&str> {
    investment_in("2022-03", amount)
}

fn investment_in<'a>(period: &'a str, amount: &'a str) -> Vec<&'a str> {
    vec!["submit", "--as", "housing", "investment", "--project", "park", "--period", period, "--amount", amount]
}

/// GET `path` over HTTP/1.1: (status, body).
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The access log's lines, once `done` holds of them (some are written as a stream ends).
fn log_lines(path: &Path, done: impl Fn(&[serde_json::Value]) -> bool) -> (String, Vec<serde_json::Value>) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        if done(&lines) || Instant::now() > deadline {
            return (text, lines);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_config_file_is_served_and_flags_override_it() {
    let (env, keys) = bootstrap();
    let log = env.tmp.path().join("access.log");
    // A listen address that cannot be bound: the flag must win. Paths are relative to the file.
    let config = env.file(
        "planledger.toml",
        "store = \"store\"\nlisten = \"not an address\"\nmetrics = \"127.0.0.1:0\"\ntime_zone = \"+08:00\"\n\n[access_log]\npath = \"access.log\"\nretention_days = 200\n",
    );
    let srv = serve(&env, &["--listen", "127.0.0.1:0"], &[("PLANLEDGER_CONFIG", path_str(&config))], true);
    assert!(srv.metrics.is_some(), "metrics from the file");
    remote(&srv.addr, &["--key", &keys.housing], &["state", "--json"]).ok();
    let (_, lines) = log_lines(&log, |l| l.iter().any(|v| v["rpc"] == "State"));
    assert!(lines.iter().any(|v| v["rpc"] == "State" && v["outcome"] == "ok"), "{lines:?}");
    drop(srv);

    // --config names the file too; --access-log overrides its [access_log].
    let other = env.tmp.path().join("other.log");
    let srv = serve(
        &env,
        &["--config", path_str(&config), "--listen", "127.0.0.1:0", "--access-log", path_str(&other)],
        &[],
        true,
    );
    remote(&srv.addr, &["--key", &keys.housing], &["state", "--json"]).ok();
    let (_, lines) = log_lines(&other, |l| !l.is_empty());
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn an_unknown_key_or_another_time_zone_in_the_config_starts_nothing() {
    let (env, _) = bootstrap();
    let config = env.file("bad.toml", "listen = \"127.0.0.1:0\"\n\n[tls]\ncertificate = \"server.crt\"\n");
    let out = Command::new(BIN)
        .args(["--store", path_str(&env.store()), "serve", "--config", path_str(&config)])
        .output()
        .unwrap();
    let run = output(out);
    assert!(run.stdout.is_empty(), "nothing listens: {}", run.stdout);
    run.fails(3, "bad.toml:4").fails(3, "certificate");

    let zone = env.file("zone.toml", "listen = \"127.0.0.1:0\"\ntime_zone = \"UTC\"\n");
    let run = env.run(&["serve", "--config", path_str(&zone)]);
    assert!(run.stdout.is_empty(), "nothing listens: {}", run.stdout);
    run.fails(3, "time_zone");
}

#[test]
fn the_access_log_names_the_verified_caller_and_the_outcome_and_holds_no_secret() {
    let (env, keys) = bootstrap();
    let token = env
        .run(&[
            "--json",
            "web-token",
            "issue",
            "--principal",
            "housing",
            "--role",
            "department",
            "--expires",
            "2099-12-31",
        ])
        .ok()
        .json();
    let (web_token, token_id) = (token["token"].as_str().unwrap(), token["id"].as_str().unwrap());
    let log = env.tmp.path().join("access.log");
    let srv =
        serve(&env, &["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--access-log", path_str(&log)], &[], false);
    let head = remote(&srv.addr, &["--key", &keys.housing], &["--json", "log"]).ok().stdout.lines().count() as u64;

    remote(&srv.addr, &["--key", &keys.housing], &investment("1.5")).ok();
    remote(&srv.addr, &["--key", &keys.auditor], &investment("2")).fails(4, "auditor");
    remote(&srv.addr, &[], &["state"]).fails(4, "signed");
    remote(&srv.addr, &[], &investment_in("2022-06", "1")).fails(4, "unsigned");
    let web = srv.web.as_deref().unwrap();
    assert_eq!(get(web, "/overview?lang=en", Some(web_token)).0, 200);
    assert_eq!(get(web, "/overview", None).0, 401);

    let events = remote(&srv.addr, &["--key", &keys.housing], &["--json", "log"]).ok().stdout;
    let last: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    let signature = last["signature"].as_str().unwrap().to_string();
    let (text, lines) = log_lines(&log, |l| l.iter().filter(|v| v["rpc"] == "Log").count() == 2);

    let appends: Vec<_> = lines.iter().filter(|v| v["rpc"] == "Append").collect();
    assert_eq!(appends.len(), 3, "{text}");
    let ok = appends[0];
    assert_eq!(ok["outcome"], "ok", "{text}");
    assert_eq!(ok["principal"], "housing");
    assert_eq!(ok["role"], "department");
    assert_eq!(ok["key_id"], key_field(&keys.housing, "public_key")[..16]);
    assert_eq!(ok["seqs"], format!("{}..{}", head + 1, head + 1));
    assert_eq!(ok["via"], "grpc");
    assert!(ok["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{ok}");
    assert!(ok["duration_ms"].as_f64().is_some() && ok["time"].as_str().unwrap().ends_with('Z'), "{ok}");
    assert_eq!(ok["store"], path_str(&env.store()));
    assert_eq!(appends[1]["outcome"], "permission_denied", "{text}");
    assert!(appends[1]["seqs"].is_null());
    assert_eq!(
        (&appends[2]["outcome"], &appends[2]["principal"]),
        (&"unauthenticated".into(), &serde_json::Value::Null)
    );
    let unsigned = lines.iter().find(|v| v["rpc"] == "State").unwrap();
    assert_eq!(unsigned["outcome"], "unauthenticated");
    assert!(unsigned["principal"].is_null());

    let pages: Vec<_> = lines.iter().filter(|v| v["via"] == "web").collect();
    assert_eq!(pages.len(), 2, "{text}");
    assert_eq!(pages[0]["rpc"], "/overview");
    assert_eq!(
        (&pages[0]["principal"], &pages[0]["key_id"], &pages[0]["status"]),
        (&"housing".into(), &token_id.into(), &200.into())
    );
    assert_eq!((&pages[1]["outcome"], &pages[1]["status"]), (&"unauthenticated".into(), &401.into()));

    for secret in [
        key_field(&keys.housing, "secret_key"),
        key_field(&keys.auditor, "secret_key"),
        web_token.to_string(),
        signature,
    ] {
        assert!(!text.contains(&secret), "the access log holds a secret: {secret}");
    }
}

#[test]
fn metrics_count_appends_refusals_and_the_head() {
    let (env, keys) = bootstrap();
    let srv = serve(&env, &["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--access-log", "off"], &[], false);
    let metrics = srv.metrics.clone().unwrap();
    let head = remote(&srv.addr, &["--key", &keys.housing], &["--json", "log"]).ok().stdout.lines().count() as u64;
    for period in ["2022-03", "2022-04", "2022-05"] {
        remote(&srv.addr, &["--key", &keys.housing], &investment_in(period, "1")).ok();
    }
    remote(&srv.addr, &["--key", &keys.auditor], &investment("4")).fails(4, "auditor");
    let (status, text) = get(&metrics, "/metrics", None);
    assert_eq!(status, 200);
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("planledger_head_seq"), (head + 3) as f64);
    assert_eq!(value("planledger_appends_total"), 3.0);
    assert_eq!(value("planledger_refusals_total{reason=\"permission_denied\"}"), 1.0);
    assert_eq!(value("planledger_rpc_total{rpc=\"Append\",outcome=\"ok\"}"), 3.0);
    assert_eq!(value("planledger_rpc_total{rpc=\"Append\",outcome=\"permission_denied\"}"), 1.0);
    assert_eq!(value("planledger_commit_seconds_count"), 3.0);
    assert_eq!(value("planledger_fsync_seconds_count"), value("planledger_fsync_seconds_bucket{le=\"+Inf\"}"));
    assert!(value("planledger_fsync_seconds_count") >= 3.0, "{text}");
    assert_eq!(value("planledger_subscribers"), 0.0);
    assert!(text.contains("# TYPE planledger_commit_seconds histogram"), "{text}");

    // A subscription counts while it is open, and no longer once its client has gone.
    let mut sub = Command::new(BIN)
        .args(["--server", &srv.addr, "--key", &keys.housing, "subscribe", "--count", "1000000"])
        .env("PLANLEDGER_STORE", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let subscribers = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let text = get(&metrics, "/metrics", None).1;
            if text.lines().any(|l| l == format!("planledger_subscribers {want}")) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(subscribers("1").contains("planledger_subscribers 1\n"), "an open subscription is counted");
    sub.kill().unwrap();
    sub.wait().unwrap();
    assert!(subscribers("0").contains("planledger_subscribers 0\n"), "a closed subscription is not");
}

/// Certificates made with rcgen: a CA, and leaves it signs.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn ca(&self, name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        std::fs::write(self.dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        (cert, key)
    }

    /// A certificate for `names` signed by `ca`: (cert file, key file).
    fn leaf(&self, name: &str, names: &[&str], ca: &(rcgen::Certificate, rcgen::KeyPair)) -> (String, String) {
        let p = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &ca.0, &ca.1).unwrap();
        let (c, k) = (self.dir.join(format!("{name}.crt")), self.dir.join(format!("{name}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (path_str(&c).to_string(), path_str(&k).to_string())
    }

    fn path(&self, file: &str) -> String {
        path_str(&self.dir.join(file)).to_string()
    }
}

#[test]
fn tls_clients_append_and_read_and_plain_text_or_another_ca_is_refused() {
    let (env, keys) = bootstrap();
    let pki = Pki { dir: env.tmp.path().to_path_buf() };
    let ca = pki.ca("ca");
    pki.ca("other-ca");
    let (cert, key) = pki.leaf("server", &["localhost", "127.0.0.1"], &ca);
    let srv = serve(&env, &["--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key], &[], false);
    let url = srv.addr.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let ca_flag = ["--ca", &pki.path("ca.crt"), "--key", &keys.housing];
    remote(&url, &ca_flag, &investment("2.5")).ok();
    let state = remote(&url, &ca_flag, &["state", "--json"]).ok().json();
    assert!(state.to_string().contains("2.5"), "{state}");
    // The CA from the environment, and an address without a scheme: https, since TLS is asked.
    let bare = url.trim_start_matches("https://");
    let mut c = Command::new(BIN);
    c.args(["--server", bare, "--key", &keys.housing, "state"]).env("PLANLEDGER_CA", pki.path("ca.crt"));
    output(c.env("PLANLEDGER_STORE", "/nonexistent").output().unwrap()).ok();

    remote(&format!("http://{bare}"), &["--key", &keys.housing], &["state"]).fails(6, "https:// and --ca FILE");
    let other = remote(&url, &["--ca", &pki.path("other-ca.crt"), "--key", &keys.housing], &["state"]);
    other.fails(6, "certificate");
    remote(&url, &["--key", &keys.housing], &["state"]).fails(3, "--ca");
}

#[test]
fn mutual_tls_lets_only_clients_with_a_certificate_from_the_client_ca_through() {
    let (env, keys) = bootstrap();
    let pki = Pki { dir: env.tmp.path().to_path_buf() };
    let ca = pki.ca("ca");
    let clients = pki.ca("clients-ca");
    let stranger = pki.ca("stranger-ca");
    let (cert, key) = pki.leaf("server", &["localhost", "127.0.0.1"], &ca);
    let (client_cert, client_key) = pki.leaf("housing-desk", &["housing-desk"], &clients);
    let (forged_cert, forged_key) = pki.leaf("forged-desk", &["housing-desk"], &stranger);
    let ca_file = pki.path("ca.crt");
    let srv = serve(
        &env,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &pki.path("clients-ca.crt"),
        ],
        &[],
        false,
    );
    let with = |flags: &[&str]| {
        let mut all = vec!["--ca", ca_file.as_str(), "--key", keys.housing.as_str()];
        all.extend_from_slice(flags);
        remote(&srv.addr, &all, &["state"])
    };
    with(&[]).fails(6, "--client-cert and --client-key");
    with(&["--client-cert", &client_cert, "--client-key", &client_key]).ok();
    with(&["--client-cert", &forged_cert, "--client-key", &forged_key]).fails(6, "the connection to the server failed");
    with(&["--client-cert", &client_cert]).fails(3, "--client-key");
}

#[test]
fn unreadable_or_invalid_pem_files_are_named_and_start_nothing() {
    let (env, keys) = bootstrap();
    let junk = env.file("junk.pem", "not a certificate\n");
    let torn = env.file("torn.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    let pki = Pki { dir: env.tmp.path().to_path_buf() };
    let ca = pki.ca("ca");
    let (cert, _) = pki.leaf("server", &["127.0.0.1"], &ca);
    let run = env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", path_str(&junk), "--tls-key", &cert]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    run.fails(3, "junk.pem holds no certificate");
    env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &cert])
        .fails(3, "server.crt holds no private key");
    env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/server.crt", "--tls-key", &cert])
        .fails(7, "/nonexistent/server.crt");
    env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", path_str(&torn), "--tls-key", &cert])
        .fails(3, "torn.pem is not valid PEM");
    env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", &cert]).fails(3, "--tls-key");
    remote("https://127.0.0.1:1", &["--ca", path_str(&junk), "--key", &keys.housing], &["state"])
        .fails(3, "junk.pem holds no certificate");
}

#[test]
fn the_shipped_example_config_is_valid() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/planledger.toml");
    let c = planledger_server::config::Config::load(&file).unwrap();
    assert_eq!(c.store, Some(PathBuf::from("/var/lib/planledger")));
    assert_eq!(c.listen.as_deref(), Some("127.0.0.1:7420"));
    let log = c.access_log.unwrap();
    assert_eq!(log.path.as_deref(), Some("/var/log/planledger/access.log"));
    assert_eq!(log.retention_days, Some(180));
    planledger::model::TimeZone::parse(&c.time_zone.unwrap()).unwrap();
}

/// A served store is locked, so `planledger verify` cannot open it: the server verifies the
/// whole log itself on a schedule (`--verify-every`, the config's `verify_every`), and says
/// how it went in /metrics, passed, then failed once a log record is damaged under it. A bad
/// interval starts nothing.
#[test]
fn the_server_verifies_its_store_on_a_schedule_and_says_so_in_metrics() {
    let (env, keys) = bootstrap();
    let args = ["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--access-log", "off", "--verify-every", "1s"];
    let srv = serve(&env, &args, &[], false);
    let metrics = srv.metrics.clone().unwrap();
    remote(&srv.addr, &["--key", &keys.housing], &investment_in("2022-03", "1")).ok();
    let head = remote(&srv.addr, &["--key", &keys.housing], &["--json", "log"]).ok().stdout.lines().count();
    let value = |text: &str, series: &str| -> Option<i64> {
        text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' '))).map(|v| v.parse().unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (status, text) = get(&metrics, "/metrics", None);
        assert_eq!(status, 200);
        // Passed, and covering the append made before it.
        if value(&text, "planledger_verify_ok") == Some(1)
            && value(&text, "planledger_verify_events") == Some(head as i64)
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no passing verify of {head} events within 10 s:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(value(&text, "planledger_verify_last_timestamp_seconds").unwrap() > 1_700_000_000, "{text}");
    // A byte of the last log record flipped under the running server: the next verify fails.
    let segment = env.store().join("log").join("00000001");
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, text) = get(&metrics, "/metrics", None);
        if value(&text, "planledger_verify_ok") == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the damage was not found within 10 s:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(srv);
    bytes[last] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    for bad in ["0s", "1w", "h", "99999999999999999999h"] {
        let r = common::output(
            Command::new(BIN)
                .args(["--store", path_str(&env.store()), "serve", "--listen", "127.0.0.1:0", "--verify-every", bad])
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 3, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("is not an interval") && r.stdout.is_empty(), "{bad}: {} {}", r.stderr, r.stdout);
    }
}
