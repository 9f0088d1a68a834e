//! Identity in local mode: departments hold ed25519 keys registered by a coordinator, sign
//! what they submit, and `verify` checks every signature against the key registered at that
//! point of the log. Unsigned submissions stay allowed locally; `--require-signatures`
//! refuses them after the first key registration.

mod common;

use common::*;

fn keygen(env: &Env, name: &str) -> String {
    let path = env.tmp.path().join(name);
    env.run(&["dept", "keygen", "--out", path_str(&path)]).ok();
    path_str(&path).to_string()
}

fn signed(env: &Env, key: &str, actor: &str, args: &[&str]) -> Run {
    let mut v = vec!["--key", key, "submit", "--as", actor];
    v.extend_from_slice(args);
    env.run(&v)
}

fn setup_keys() -> (Env, String, String, String) {
    let env = Env::new();
    env.import(PLAN_2022).ok();
    let drc = keygen(&env, "drc.key");
    let housing = keygen(&env, "housing.key");
    let auditor = keygen(&env, "audit.key");
    env.run(&["dept", "register", "drc", "--public-key", &drc, "--as", "drc"]).ok();
    env.run(&["--key", &drc, "dept", "register", "housing", "--public-key", &housing, "--as", "drc"]).ok();
    env.run(&[
        "--key",
        &drc,
        "dept",
        "register",
        "audit-office",
        "--role",
        "auditor",
        "--public-key",
        &auditor,
        "--as",
        "drc",
    ])
    .ok();
    (env, drc, housing, auditor)
}

#[test]
fn signed_submissions_are_recorded_with_their_signer_and_verify() {
    let (env, _drc, housing, _) = setup_keys();
    let key_hex = {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&housing).unwrap()).unwrap();
        v["public_key"].as_str().unwrap().to_string()
    };
    signed(&env, &housing, "housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "3.50"])
        .ok();
    let log = env.log();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["signed_by"], key_hex.as_str());
    let ledger = env.run(&["key"]).ok().stdout.trim().to_string();
    let signed_text = last["signed"].as_str().unwrap();
    assert!(
        signed_text.starts_with(&format!("planledger-submission/2\nledger={ledger}\nactor=housing\ntype=investment\n")),
        "{signed_text}"
    );
    // The id the CLI gave the submission is part of what was signed.
    assert!(signed_text.contains(&format!("\nid={}\n", last["id"].as_str().unwrap())), "{signed_text}");
    let audit = env.run(&["audit", "--json", "--type", "investment"]).ok().json();
    assert_eq!(audit["entries"][0]["signed_by"], key_hex.as_str());
    env.assert_verifies();
    // A JSONL batch is signed line by line.
    let p = env.file("b.jsonl", "{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-04\",\"amount\":1}\n");
    env.run(&["--key", &housing, "submit", "--as", "housing", "--file", path_str(&p)]).ok();
    env.assert_verifies();
    // In batches too: the reading thread signs each line for the ledger it was opened on.
    let lines: String = (5..=9)
        .map(|m| format!("{{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-{m:02}\",\"amount\":1}}\n"))
        .collect();
    let p = env.file("many.jsonl", &lines);
    env.run(&["--key", &housing, "submit", "--as", "housing", "--batch", "2", "--file", path_str(&p)]).ok();
    let log = env.log();
    let signed_lines = log.lines().rev().take(5).filter(|l| l.contains(&format!("\"signed_by\":\"{key_hex}\"")));
    assert_eq!(signed_lines.count(), 5);
    env.run(&["verify", "--require-signatures"]).ok();
}

#[test]
fn wrong_keys_forged_signatures_and_auditors_are_refused_with_nothing_written() {
    let (env, drc, housing, auditor) = setup_keys();
    let before = env.log();
    let inv = ["investment", "--project", "park", "--period", "2022-03", "--amount", "1"];
    // Signing as housing with drc's key: the key is not housing's.
    signed(&env, &drc, "housing", &inv).fails(4, "is not registered to 'housing'");
    // A key nobody registered.
    let stranger = keygen(&env, "stranger.key");
    signed(&env, &stranger, "housing", &inv).fails(4, "is not registered to 'housing'");
    // An auditor may not write at all, signed or not.
    signed(&env, &auditor, "audit-office", &inv).fails(4, "auditors only read");
    // A department writing another department's entity is refused by authority, signed or not.
    let stats = keygen(&env, "stats.key");
    env.run(&["--key", &drc, "dept", "register", "stats", "--public-key", &stats, "--as", "drc"]).ok();
    assert_eq!(env.log().lines().count(), before.lines().count() + 1, "only the stats registration");
    let before = env.log();
    signed(&env, &stats, "stats", &inv).fails(4, "not responsible for project 'park'");
    // A key file whose secret does not match its public half signs with the secret's key.
    let forged = env.file(
        "forged.key",
        &std::fs::read_to_string(&housing)
            .unwrap()
            .replace(&hex_field(&housing, "secret_key"), &hex_field(&stranger, "secret_key")),
    );
    signed(&env, path_str(&forged), "housing", &inv).fails(4, "is not registered to 'housing'");
    // Only a coordinator registers keys.
    env.run(&[
        "--key",
        &housing,
        "dept",
        "register",
        "road-office",
        "--role",
        "auditor",
        "--public-key",
        &stranger,
        "--as",
        "housing",
    ])
    .fails(4, "not a coordinator");
    assert_eq!(env.log(), before);
    env.assert_verifies();
}

fn hex_field(path: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v[field].as_str().unwrap().to_string()
}

#[test]
fn a_revoked_key_signs_no_more_and_rotation_keeps_working() {
    let (env, drc, housing, _) = setup_keys();
    let inv = |m: &'static str| ["investment", "--project", "park", "--period", m, "--amount", "1"];
    signed(&env, &housing, "housing", &inv("2022-01")).ok();
    let new_key = keygen(&env, "housing2.key");
    env.run(&["--key", &drc, "dept", "register", "housing", "--public-key", &new_key, "--as", "drc"]).ok();
    env.run(&["--key", &drc, "dept", "revoke", "housing", "--public-key", &housing, "--reason", "轮换", "--as", "drc"])
        .ok();
    signed(&env, &housing, "housing", &inv("2022-02")).fails(4, "or was revoked");
    signed(&env, &new_key, "housing", &inv("2022-02")).ok();
    // The event signed with the old key before its revocation still verifies.
    env.assert_verifies();
}

#[test]
fn require_signatures_refuses_unsigned_events_after_the_first_registration() {
    let (env, _, housing, _) = setup_keys();
    // Bootstrap events (plan, the first registration) were unsigned: allowed.
    let r = env.run(&["verify", "--require-signatures", "--json"]).ok().json();
    assert_eq!(r["ok"], true);
    signed(&env, &housing, "housing", &["investment", "--project", "park", "--period", "2022-01", "--amount", "1"])
        .ok();
    env.run(&["verify", "--require-signatures"]).ok();
    // Local mode still accepts an unsigned submission, and records it as such...
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-02", "--amount", "1"]).ok();
    env.assert_verifies();
    // ...which --require-signatures names.
    let r = env.run(&["verify", "--require-signatures", "--json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert!(v["problem"].as_str().unwrap().contains("unsigned event"), "{v}");
    assert_eq!(v["first_bad_seq"], v["events"].as_u64().unwrap() + 1);
}

#[test]
fn weak_keys_and_bad_principal_ids_are_refused() {
    let (env, drc, _, _) = setup_keys();
    let weak = env.file("weak.pub", &"00".repeat(32));
    env.run(&[
        "--key",
        &drc,
        "dept",
        "register",
        "audit-2",
        "--role",
        "auditor",
        "--public-key",
        path_str(&weak),
        "--as",
        "drc",
    ])
    .fails(3, "not an ed25519 key");
    let ok = env.tmp.path().join("ok.key");
    env.run(&["dept", "keygen", "--out", path_str(&ok)]).ok();
    env.run(&[
        "--key",
        &drc,
        "dept",
        "register",
        "a b/c",
        "--role",
        "auditor",
        "--public-key",
        path_str(&ok),
        "--as",
        "drc",
    ])
    .fails(3, "principal id 'a b/c' contains '/'");
}
