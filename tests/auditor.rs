//! Scenario tests of the auditor's questions, driving the binary: a year with late reports,
//! a correction and a retraction, a preliminary then final actual and a revised target,
//! asked at several transaction times (--as-of) and valid times (--at), with every expected
//! figure worked out by hand below; the seed report's 2021 summary; snapshots and diffs;
//! Merkle proofs that hold and proofs that fail once the log is altered or truncated.

mod common;

use common::*;
use serde_json::Value;

/// The scenario. `PLAN_2022`: park (province, planned 10, aims to start and complete),
/// road (district, planned 4, under way since 2021-05-01); gdp-growth (rate, ≥ 7.5),
/// new-jobs (amount, ≥ 12000).
///
/// | seq | recorded   | event                                                    |
/// |-----|------------|----------------------------------------------------------|
/// | 1-8 | 2022-01-05 | plan import                                              |
/// | 9   | 2022-02-10 | park start, dated 2022-02-01                             |
/// | 10  | 2022-02-10 | park 2022-01: 2                                          |
/// | 11  | 2022-04-10 | park 2022-02: 3                                          |
/// | 12  | 2022-04-10 | park 2022-03: 1                                          |
/// | 13  | 2022-04-10 | road 2022-03: 1.5                                        |
/// | 14  | 2022-05-20 | road 2022-01: 0.5 (a late report)                        |
/// | 15  | 2022-05-20 | correct seq 11: 3 -> 2.5                                 |
/// | 16  | 2022-07-15 | gdp-growth 2022-Q2: 4.0 preliminary                      |
/// | 17  | 2022-07-15 | new-jobs 2022-06: 6000 preliminary                       |
/// | 18  | 2022-09-01 | retract seq 12                                           |
/// | 19  | 2022-09-01 | revise gdp-growth target 7.5 -> 6.5                      |
/// | 20  | 2023-01-20 | gdp-growth 2022: 5.9 preliminary                         |
/// | 21  | 2023-01-20 | park complete, dated 2022-12-20 (reported after the year)|
/// | 22  | 2023-03-01 | gdp-growth 2022: 6.0 final                               |
/// | 23  | 2023-03-01 | correct seq 13: 1.5 -> 1.8 (after the year closed)        |
fn scenario() -> Env {
    let mut env = Env::new();
    let at = |env: &mut Env, t: &str| env.now = Some(format!("{t}T08:00:00Z"));
    at(&mut env, "2022-01-05");
    env.import(PLAN_2022).ok();
    at(&mut env, "2022-02-10");
    env.submit_file(
        "housing",
        r#"{"type":"milestone","project":"park","milestone":"start","date":"2022-02-01"}
{"type":"investment","project":"park","period":"2022-01","amount":"2"}"#,
    )
    .ok();
    at(&mut env, "2022-04-10");
    env.submit_file(
        "housing",
        r#"{"type":"investment","project":"park","period":"2022-02","amount":"3"}
{"type":"investment","project":"park","period":"2022-03","amount":"1"}
{"type":"investment","project":"road","period":"2022-03","amount":"1.5"}"#,
    )
    .ok();
    at(&mut env, "2022-05-20");
    env.submit("housing", &["investment", "--project", "road", "--period", "2022-01", "--amount", "0.5"]).ok();
    env.submit("housing", &["correct", "--event", "11", "--value", "2.5", "--reason", "统计口径调整"]).ok();
    at(&mut env, "2022-07-15");
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022-Q2", "--value", "4.0", "--basis", "preliminary"],
    )
    .ok();
    env.submit(
        "stats",
        &["actual", "--indicator", "new-jobs", "--period", "2022-06", "--value", "6000", "--basis", "preliminary"],
    )
    .ok();
    at(&mut env, "2022-09-01");
    env.submit("housing", &["retract", "--event", "12", "--reason", "重复上报"]).ok();
    env.submit("drc", &["revise-target", "--indicator", "gdp-growth", "--value", "6.5", "--reason", "人大批准调整"])
        .ok();
    at(&mut env, "2023-01-20");
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "5.9", "--basis", "preliminary"],
    )
    .ok();
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "complete", "--date", "2022-12-20"]).ok();
    at(&mut env, "2023-03-01");
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "6.0", "--basis", "final"],
    )
    .ok();
    env.submit("drc", &["correct", "--event", "13", "--value", "1.8", "--reason", "审计调整"]).ok();
    assert_eq!(env.assert_verifies()["events"], 23);
    env
}

fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|x| x["id"] == id).unwrap_or_else(|| panic!("{id} not in {list}"))
}

fn state(env: &Env, args: &[&str]) -> Value {
    let mut v = vec!["state", "--json"];
    v.extend_from_slice(args);
    env.run(&v).ok().json()
}

fn summary(env: &Env, args: &[&str]) -> Value {
    let mut v = vec!["summary", "--year", "2022", "--json"];
    v.extend_from_slice(args);
    env.run(&v).ok().json()
}

#[test]
fn state_now_and_in_transaction_time() {
    let env = scenario();
    // Now: park = 2 + 2.5 (Feb corrected), March retracted; road = 0.5 + 1.8 (corrected).
    let s = state(&env, &[]);
    let p = &s["plans"][0];
    assert_eq!(find(&p["projects"], "park")["completed_investment"], "4.5");
    assert_eq!(find(&p["projects"], "park")["completion_pct"], "45.0");
    assert_eq!(find(&p["projects"], "park")["status"], "completed");
    assert_eq!(find(&p["projects"], "road")["completed_investment"], "2.3");
    assert_eq!(find(&p["projects"], "road")["completion_pct"], "57.5");
    assert_eq!(p["totals"]["completion_pct"], "48.6"); // 6.8 / 14 = 48.57
    let gdp = find(&p["indicators"], "gdp-growth");
    assert_eq!(
        (gdp["target"].as_str(), gdp["actual"].as_str(), gdp["actual_basis"].as_str()),
        (Some("6.5"), Some("6"), Some("final"))
    );
    assert_eq!((gdp["met"].as_bool(), gdp["gap"].as_str()), (Some(false), Some("-0.5")));

    // As recorded on 2022-06-01: the correction of seq 11 known, the retraction not yet.
    let s = state(&env, &["--as-of", "2022-06-01T00:00:00Z"]);
    let p = &s["plans"][0];
    assert_eq!(s["as_of"]["seq"], 15);
    assert_eq!(find(&p["projects"], "park")["completed_investment"], "5.5");
    assert_eq!(find(&p["projects"], "road")["completed_investment"], "2");
    assert_eq!(find(&p["indicators"], "gdp-growth")["target"], "7.5");
    assert_eq!(find(&p["indicators"], "gdp-growth")["actual"], Value::Null);

    // As of seq 13: before the late report and the correction.
    let s = state(&env, &["--as-of", "13"]);
    assert_eq!(find(&s["plans"][0]["projects"], "park")["completed_investment"], "6");
    assert_eq!(find(&s["plans"][0]["projects"], "road")["completed_investment"], "1.5");

    // Before the year's last reports: the Q2 preliminary stands, the target already revised.
    let s = state(&env, &["--as-of", "2022-12-31T23:59:59Z"]);
    let gdp = find(&s["plans"][0]["indicators"], "gdp-growth");
    assert_eq!(
        (gdp["actual"].as_str(), gdp["actual_period"].as_str(), gdp["target"].as_str()),
        (Some("4"), Some("2022-Q2"), Some("6.5"))
    );
    assert_eq!(find(&s["plans"][0]["projects"], "park")["status"], "started");
}

#[test]
fn state_in_valid_time_and_in_both_times() {
    let env = scenario();
    // The world on 2022-02-28 as known now: January and February only (corrected Feb 2.5).
    let s = state(&env, &["--at", "2022-02-28"]);
    let p = &s["plans"][0];
    assert_eq!(s["at"], "2022-02-28");
    assert_eq!(find(&p["projects"], "park")["completed_investment"], "4.5");
    assert_eq!(find(&p["projects"], "park")["status"], "started");
    assert_eq!(find(&p["projects"], "road")["completed_investment"], "0.5");
    // The same world as known on 2022-04-30: February was still 3, January of road unreported.
    let s = state(&env, &["--as-of", "2022-04-30T00:00:00Z", "--at", "2022-02-28"]);
    let p = &s["plans"][0];
    assert_eq!(find(&p["projects"], "park")["completed_investment"], "5");
    assert_eq!(find(&p["projects"], "road")["completed_investment"], "0");
    // Before the start date the project was only planned.
    let s = state(&env, &["--at", "2022-01-31"]);
    assert_eq!(find(&s["plans"][0]["projects"], "park")["status"], "planned");
    // Mid-year, the indicator stands at its Q2 figure: the annual period has not ended.
    let s = state(&env, &["--at", "2022-06-30"]);
    let gdp = find(&s["plans"][0]["indicators"], "gdp-growth");
    assert_eq!((gdp["actual"].as_str(), gdp["actual_period"].as_str()), (Some("4"), Some("2022-Q2")));
}

#[test]
fn summary_rates_and_schedule() {
    let env = scenario();
    // At the year's end (the default once the year is over).
    let s = summary(&env, &[]);
    let p = &s["projects"];
    assert_eq!(s["at"], "2022-12-31");
    assert_eq!(s["schedule_pct"], "100.0");
    assert_eq!(
        (p["count"].as_u64(), p["planned_investment"].as_str(), p["completed_investment"].as_str()),
        (Some(2), Some("14"), Some("6.8"))
    );
    assert_eq!(p["completion_pct"], "48.6");
    assert_eq!(
        (p["planned_start"].as_u64(), p["started"].as_u64(), p["start_rate_pct"].as_str()),
        (Some(1), Some(1), Some("100.0"))
    );
    assert_eq!((p["planned_complete"].as_u64(), p["completed"].as_u64()), (Some(1), Some(1)));
    assert_eq!((p["planned_operate"].as_u64(), p["operate_rate_pct"].as_str()), (Some(0), None));
    assert_eq!(p["under_way"], 1); // road
    assert_eq!((p["on_schedule"].as_u64(), p["behind_schedule"].as_u64()), (Some(0), Some(2)));
    assert_eq!(p["by_level"]["province"]["completed_investment"], "4.5");
    assert_eq!(p["by_level"]["province_city"]["count"], 1);
    // Mid-year: half the year elapsed; park 45 % is behind, road 57.5 % on schedule.
    let s = summary(&env, &["--at", "2022-06-30"]);
    let p = &s["projects"];
    assert_eq!(s["schedule_pct"], "50.0");
    assert_eq!((p["on_schedule"].as_u64(), p["behind_schedule"].as_u64()), (Some(1), Some(1)));
    assert_eq!((p["completed"].as_u64(), p["complete_rate_pct"].as_str()), (Some(0), Some("0.0")));
    assert_eq!(p["under_way"], 2);
    // As recorded before the completion was reported.
    let s = summary(&env, &["--as-of", "2022-12-31T23:59:59Z"]);
    assert_eq!(s["projects"]["completed"], 0);
    assert_eq!(find(&s["indicators"], "gdp-growth")["actual"], "4");
    // Breakdown by a dimension of the plan file, two levels deep.
    let s = summary(&env, &["--by", "block", "--by", "type"]);
    let groups = s["projects"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!((groups[0]["dimension"].as_str(), groups[0]["value"].as_str()), (Some("block"), Some("A")));
    assert_eq!(groups[0]["completed_investment"], "4.5");
    assert_eq!(groups[0]["groups"][0]["value"], "新建");
    let md = env.run(&["summary", "--year", "2022", "--format", "md", "--by", "block"]).ok().stdout;
    assert!(md.contains("| block | projects |"), "{md}");
    assert!(md.contains("| A | 1 | 10 | 4.5 | 45.0% | 100.0% | 1 |"), "{md}");
    let csv = env.run(&["summary", "--year", "2022", "--format", "csv", "--by", "block"]).ok().stdout;
    assert!(csv.lines().any(|l| l.starts_with("block,B,1,4,2.3,57.5,")), "{csv}");
    env.run(&["summary", "--year", "2023"]).fails(3, "no plan for 2023");
}

#[test]
fn audit_trail_shows_before_after_and_links() {
    let env = scenario();
    let a = env.run(&["audit", "--json", "--entity", "park"]).ok().json();
    let rows = a["entries"].as_array().unwrap();
    let row = |seq: u64| rows.iter().find(|r| r["seq"] == seq).unwrap_or_else(|| panic!("seq {seq}"));
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![7, 9, 10, 11, 12, 15, 18, 21]);
    let r = row(11);
    assert_eq!(
        (r["field"].as_str(), r["before"].as_str(), r["after"].as_str()),
        (Some("completed_investment"), Some("2"), Some("5"))
    );
    assert_eq!(r["corrected_by"], serde_json::json!([15]));
    let r = row(15);
    assert_eq!(
        (r["corrects"].as_u64(), r["value_before"].as_str(), r["value_after"].as_str()),
        (Some(11), Some("3"), Some("2.5"))
    );
    assert_eq!(
        (r["before"].as_str(), r["after"].as_str(), r["reason"].as_str()),
        (Some("6"), Some("5.5"), Some("统计口径调整"))
    );
    assert_eq!(row(12)["retracted_by"], serde_json::json!([18]));
    let r = row(18);
    assert_eq!(
        (r["retracts"].as_u64(), r["before"].as_str(), r["after"].as_str()),
        (Some(12), Some("5.5"), Some("4.5"))
    );
    let r = row(21);
    assert_eq!(
        (r["field"].as_str(), r["before"].as_str(), r["after"].as_str()),
        (Some("status"), Some("started"), Some("completed"))
    );
    assert_eq!(r["recorded_at"], "2023-01-20T08:00:00Z");
    // As the ledger stood on 2022-06-01, the retraction of seq 12 had not happened.
    let a = env.run(&["audit", "--json", "--entity", "park", "--as-of", "2022-06-01T00:00:00Z"]).ok().json();
    let rows = a["entries"].as_array().unwrap();
    assert_eq!(rows.last().unwrap()["seq"], 15);
    assert_eq!(rows.iter().find(|r| r["seq"] == 12).unwrap()["retracted_by"], serde_json::json!([]));
    // Filters: by actor, type and time.
    let by = |args: &[&str]| -> Vec<u64> {
        let mut v = vec!["audit", "--json"];
        v.extend_from_slice(args);
        env.run(&v).ok().json()["entries"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()).collect()
    };
    assert_eq!(by(&["--actor", "stats"]), vec![16, 17, 20, 22]);
    assert_eq!(by(&["--type", "correct"]), vec![15, 23]);
    assert_eq!(by(&["--since", "2023-01-01T00:00:00Z", "--entity", "gdp-growth"]), vec![20, 22]);
    // A bare date after --since starts at the beginning of that day; after --until it ends at its end.
    assert_eq!(by(&["--since", "2023-01-20", "--entity", "gdp-growth"]), vec![20, 22]);
    assert_eq!(by(&["--until", "2022-02-10", "--type", "investment"]), vec![10]);
    env.run(&["audit", "--type", "payment"]).fails(3, "--type 'payment' is not an event type");
    assert_eq!(by(&["--until", "2022-02-10T08:00:00Z", "--type", "investment"]), vec![10]);
    let csv = env.run(&["audit", "--format", "csv", "--type", "retract"]).ok().stdout;
    assert!(csv.starts_with("seq,id,recorded_at,actor,plan,entity,type,field,before,after"));
    assert!(csv.lines().nth(1).unwrap().contains(",retract,completed_investment,5.5,4.5,"), "{csv}");
}

#[test]
fn show_gives_the_event_and_its_entity_before_and_after() {
    let env = scenario();
    let v = env.run(&["show", "--json", "18"]).ok().json();
    assert_eq!((v["type"].as_str(), v["retracts"].as_u64()), (Some("retract"), Some(12)));
    assert_eq!(v["entity_before"]["completed_investment"], "5.5");
    assert_eq!(v["entity_after"]["completed_investment"], "4.5");
    assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    env.run(&["show", "99"]).fails(3, "event seq 99 does not exist");
}

#[test]
fn outputs_are_byte_identical_for_the_same_events() {
    let (a, b) = (scenario(), scenario());
    for args in [
        &["state", "--json"][..],
        &["summary", "--year", "2022", "--json", "--by", "block"],
        &["state", "--at", "2022-06-30", "--json"],
    ] {
        assert_eq!(a.run(args).ok().stdout, b.run(args).ok().stdout, "{args:?}");
    }
    let audit = ["audit", "--json"];
    assert_eq!(a.run(&audit).ok().stdout, a.run(&audit).ok().stdout);
}

#[test]
fn the_seed_reports_2021_summary_is_reproduced() {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    let s = env.run(&["summary", "--year", "2021", "--json"]).ok().json();
    let p = &s["projects"];
    assert_eq!(
        (p["count"].as_u64(), p["completed_investment"].as_str(), p["completion_pct"].as_str()),
        (Some(246), Some("694"), Some("111.5"))
    );
    let pc = &p["by_level"]["province_city"];
    assert_eq!(
        (
            pc["count"].as_u64(),
            pc["completed_investment"].as_str(),
            pc["planned_investment"].as_str(),
            pc["completion_pct"].as_str()
        ),
        (Some(31), Some("404.8"), Some("360.3"), Some("112.4"))
    );
    let zh = env.run(&["summary", "--year", "2021", "--lang", "zh", "--format", "md"]).ok().stdout;
    assert!(zh.contains("246个重点项目完成投资694亿元，占年度目标的111.5%"), "{zh}");
    assert!(zh.contains("其中31个省市重点项目完成投资404.8亿元，占年度投资目标360.3亿元的112.4%"), "{zh}");
    assert!(zh.contains("| 地区生产总值增长 | 7%左右 | 3%（2021年，正式） | 低于目标4个百分点 |"), "{zh}");
    let s = env.run(&["summary", "--year", "2022", "--json"]).ok().json();
    assert_eq!(
        (s["projects"]["count"].as_u64(), s["projects"]["planned_investment"].as_str()),
        (Some(291), Some("599.6"))
    );
    assert_eq!(
        (s["projects"]["planned_start"].as_u64(), s["projects"]["planned_operate"].as_u64()),
        (Some(100), Some(62))
    );
}

#[test]
fn snapshot_diff_and_snapshot_verify() {
    let env = scenario();
    let early = env.tmp.path().join("s13.json");
    let now = env.tmp.path().join("now.json");
    env.run(&["snapshot", "--as-of", "13", "--out", path_str(&early)]).ok();
    env.run(&["snapshot", "--out", path_str(&now)]).ok();
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&now).unwrap()).unwrap();
    assert_eq!(snap["as_of"]["seq"], 23);
    assert_eq!(snap["merkle"]["size"], 23);
    assert_eq!(snap["summaries"][0]["year"], 2022);
    env.run(&["snapshot", "verify", path_str(&early)]).ok();
    env.run(&["snapshot", "verify", path_str(&now)]).ok();
    // The diff from seq 13 to now, with the events that explain each change.
    let d = env.run(&["diff", "--json", path_str(&early), path_str(&now)]).ok().json();
    let changes = d["changes"].as_array().unwrap();
    let park = changes.iter().find(|c| c["entity"] == "park" && c["field"] == "completed_investment").unwrap();
    assert_eq!((park["before"].as_str(), park["after"].as_str()), (Some("6"), Some("4.5")));
    assert_eq!(park["events"], serde_json::json!([15, 18, 21]));
    let gdp = changes.iter().find(|c| c["entity"] == "gdp-growth" && c["field"] == "target").unwrap();
    assert_eq!((gdp["before"].as_str(), gdp["after"].as_str()), (Some("7.5"), Some("6.5")));
    // A diff between --as-of points gives the same changes as between the snapshot files.
    let d2 = env.run(&["diff", "--json", "13", "23"]).ok().json();
    assert_eq!(d2["changes"], d["changes"]);
    // A snapshot edited after the fact no longer verifies.
    let edited = std::fs::read_to_string(&early).unwrap().replacen(
        "\"completed_investment\": \"6\"",
        "\"completed_investment\": \"7\"",
        1,
    );
    let forged = env.file("forged.json", &edited);
    env.run(&["snapshot", "verify", path_str(&forged)]).fails(1, "the state (state) differs from the log");
}

/// Overwrites the stored bytes of event `seq`, as someone rewriting the store's files would.
fn alter_event(env: &Env, seq: u64) {
    let store = planledger::store::EmbeddedStore::open(&env.store()).unwrap();
    let (first, chunk) = store.raw_chunks().map(|c| c.unwrap()).filter(|(first, _)| *first <= seq).last().unwrap();
    // Walk the decompressed body to the record of `seq` ([len][bytes][hash prefix] per
    // event), alter its last byte and seal the chunk again.
    let mut opened = planledger::codec::open_chunk(&chunk).unwrap();
    let mut at = 0;
    for _ in first..seq {
        let len = u32::from_le_bytes(opened.body[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len + planledger::codec::HASH_PREFIX_LEN;
    }
    let len = u32::from_le_bytes(opened.body[at..at + 4].try_into().unwrap()) as usize;
    opened.body[at + 4 + len - 1] ^= 0x01;
    let h = opened.header;
    store.tamper_chunk(first, planledger::codec::seal_chunk(h.count, &h.prev_hash, &opened.body)).unwrap();
}

#[test]
fn merkle_proofs_hold_and_fail_once_the_log_is_altered() {
    let env = scenario();
    let cp = env.tmp.path().join("cp.json");
    env.run(&["checkpoint", "--out", path_str(&cp)]).ok();
    let head: Value = serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    assert_eq!(head["size"], 23);
    assert_eq!(head["public_key"].as_str().unwrap(), env.run(&["key"]).ok().stdout.trim());
    let proof = env.tmp.path().join("p11.json");
    env.run(&["proof", "11", "--out", path_str(&proof)]).ok();
    let ok = env.run(&["verify-proof", path_str(&proof), "--checkpoint", path_str(&cp)]).ok();
    assert!(ok.stdout.contains("event seq 11 is leaf 10 of the tree of 23 events"));
    // The log grows; the checkpointed tree is a prefix of the new one.
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-04", "--amount", "1"]).ok();
    let r = env.run(&["verify", "--checkpoint", path_str(&cp)]).ok();
    assert!(r.stdout.contains("extends the signed tree of 23 events"), "{}", r.stdout);
    let old = env.tmp.path().join("p11-23.json");
    env.run(&["proof", "11", "--size", "23", "--out", path_str(&old)]).ok();
    env.run(&["verify-proof", path_str(&old), "--checkpoint", path_str(&cp)]).ok();
    // A proof tampered with in transit fails on its own.
    let text = std::fs::read_to_string(&old).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let path0 = v["audit_path"][0].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if path0.starts_with('0') { "1" } else { "0" }, &path0[1..]);
    let bad = env.file("bad-proof.json", &text.replace(&path0, &flipped));
    env.run(&["verify-proof", path_str(&bad)]).fails(1, "does not lead to the root");
    // A forged checkpoint (signature no longer matches) is refused.
    let forged =
        env.file("forged-cp.json", &std::fs::read_to_string(&cp).unwrap().replace("\"size\": 23", "\"size\": 22"));
    env.run(&["verify", "--checkpoint", path_str(&forged)]).fails(1, "signature is not valid");

    // Alter one stored event: verify names it; the ledger no longer proves it (its stored hash
    // prefix disagrees), and the proof issued before still verifies against the signed root.
    alter_event(&env, 11);
    let r = env.run(&["verify", "--json", "--checkpoint", path_str(&cp)]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["first_bad_seq"], 11);
    let again = env.tmp.path().join("p11-again.json");
    env.run(&["proof", "11", "--size", "23", "--out", path_str(&again)]).fails(1, "corrupt store at seq 11");
    env.run(&["verify-proof", path_str(&old), "--checkpoint", path_str(&cp)]).ok();
}

#[test]
fn a_truncated_log_fails_the_checkpoint_with_the_first_missing_seq() {
    let env = scenario();
    let cp = env.tmp.path().join("cp.json");
    env.run(&["checkpoint", "--out", path_str(&cp)]).ok();
    // Truncate consistently to 19 events: drop the chunks of seqs 20..=23 and rewrite the head
    // so the chain alone still verifies. Only the signed checkpoint can tell.
    {
        let store = planledger::store::EmbeddedStore::open(&env.store()).unwrap();
        let leaves = planledger::proof::leaves(&store, 19).unwrap();
        let last = store.get(19).unwrap().unwrap();
        let tree = store.raw_tree();
        for seq in 20..=23u64 {
            let mut k = vec![b'L'];
            k.extend_from_slice(&seq.to_be_bytes());
            tree.remove(&k).unwrap();
            k[0] = b'I';
            tree.remove(&k).unwrap();
        }
        let mut frontier = planledger::merkle::Frontier::default();
        for l in leaves {
            frontier.push(l);
        }
        let head = planledger::store::Head {
            next_seq: 20,
            last_hash: last.hash,
            last_recorded_at: last.event.recorded_at,
            merkle: frontier,
        };
        tree.insert("H", planledger::codec::encode_record(&head)).unwrap();
        tree.flush().unwrap();
    }
    assert_eq!(env.assert_verifies()["events"], 19);
    let r = env.run(&["verify", "--json", "--checkpoint", path_str(&cp)]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["first_bad_seq"], 20);
    assert!(v["problem"].as_str().unwrap().contains("truncated"), "{v}");
}
