//! End-to-end tests of the CLI contract: every command, every validation error (with the
//! store unchanged after it), idempotency, the second-process refusal, exit codes.

mod common;

use common::*;

const INVALID: i32 = 3;
const FORBIDDEN: i32 = 4;
const CONFLICT: i32 = 5;
const UNAVAILABLE: i32 = 6;

fn setup() -> Env {
    let env = Env::new();
    env.import(PLAN_2022).ok();
    env
}

fn project<'a>(state: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    state["plans"][0]["projects"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()
}

fn indicator<'a>(state: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    state["plans"][0]["indicators"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()
}

#[test]
fn help_never_opens_the_store() {
    let env = Env::new();
    let r = env.run(&["--help"]).ok();
    assert!(r.stdout.contains("submit"));
    env.run(&["submit", "--help"]).ok();
    assert!(!env.store().exists(), "--help created the store");
}

#[test]
fn import_then_state_shows_the_plan_worked_by_hand() {
    let env = setup();
    let s = env.state();
    let plan = &s["plans"][0];
    assert_eq!(plan["id"], "test-2022");
    assert_eq!(plan["year"], 2022);
    assert_eq!(plan["totals"]["projects"], 2);
    assert_eq!(plan["totals"]["planned_investment"], "14");
    assert_eq!(plan["totals"]["completed_investment"], "0");
    assert_eq!(plan["totals"]["by_level"]["province"]["planned_investment"], "10");
    assert_eq!(project(&s, "road")["status"], "started");
    assert_eq!(project(&s, "park")["status"], "planned");
    assert_eq!(indicator(&s, "gdp-growth")["target"], "7.5");
    assert_eq!(indicator(&s, "gdp-growth")["actual"], serde_json::Value::Null);
    // 1 plan + 3 departments + 2 indicators + 2 projects.
    assert_eq!(s["as_of"]["seq"], 8);
}

#[test]
fn reimporting_the_same_file_is_a_no_op_and_a_changed_definition_is_refused() {
    let env = setup();
    let before = env.log();
    let r = env.import(PLAN_2022).ok();
    assert!(r.stdout.contains("nothing written"), "{}", r.stdout);
    assert_eq!(env.log(), before);
    env.import(&PLAN_2022.replace("planned_investment = \"4\"", "planned_investment = \"5\""))
        .fails(CONFLICT, "projects[1] ('road')");
    assert_eq!(env.log(), before);
}

#[test]
fn progress_flows_into_state_with_exact_totals() {
    let env = setup();
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "start", "--date", "2022-02-10"]).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-02", "--amount", "3.35"]).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "8.2"]).ok();
    env.submit("housing", &["investment", "--project", "road", "--period", "2022-03", "--amount", "1.45"]).ok();
    env.submit("stats", &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "3.1"]).ok();
    env.submit(
        "stats",
        &["actual", "--indicator", "new-jobs", "--period", "2022", "--value", "15314", "--basis", "preliminary"],
    )
    .ok();
    let s = env.state();
    let park = project(&s, "park");
    assert_eq!(park["status"], "started");
    assert_eq!(park["completed_investment"], "11.55");
    // 11.55 / 10 = 115.5 %
    assert_eq!(park["completion_pct"], "115.5");
    assert_eq!(park["milestones"]["start"], "2022-02-10");
    assert_eq!(project(&s, "road")["completion_pct"], "36.3"); // 1.45 / 4 = 36.25 -> 36.3 (half away from zero)
    let t = &s["plans"][0]["totals"];
    assert_eq!(t["completed_investment"], "13");
    assert_eq!(t["completion_pct"], "92.9"); // 13 / 14 = 92.857
    assert_eq!(t["by_level"]["district"]["completed_investment"], "1.45");
    let gdp = indicator(&s, "gdp-growth");
    assert_eq!(gdp["actual"], "3.1");
    assert_eq!(gdp["met"], false);
    assert_eq!(gdp["gap"], "-4.4");
    assert_eq!(gdp["completion_pct"], serde_json::Value::Null);
    let jobs = indicator(&s, "new-jobs");
    assert_eq!(jobs["actual_basis"], "preliminary");
    assert_eq!(jobs["completion_pct"], "127.6"); // 15314 / 12000 = 127.616
    assert_eq!(jobs["met"], true);
    env.assert_verifies();
}

#[test]
fn milestones_run_through_every_status() {
    let env = setup();
    for (m, d, status) in [
        ("start", "2022-01-05", "started"),
        ("complete", "2022-09-30", "completed"),
        ("operate", "2022-11-01", "operating"),
    ] {
        env.submit("housing", &["milestone", "--project", "park", "--milestone", m, "--date", d]).ok();
        assert_eq!(project(&env.state(), "park")["status"], status);
    }
}

#[test]
fn a_later_basis_supersedes_and_an_earlier_one_is_refused() {
    let env = setup();
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "3.5", "--basis", "estimate"],
    )
    .ok();
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "3.2", "--basis", "preliminary"],
    )
    .ok();
    let s = env.state();
    assert_eq!(indicator(&s, "gdp-growth")["actual"], "3.2");
    assert_eq!(indicator(&s, "gdp-growth")["actual_basis"], "preliminary");
    let before = env.log();
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "3.0", "--basis", "estimate"],
    )
    .fails(INVALID, "already has a preliminary actual for 2022");
    assert_eq!(env.log(), before);
}

#[test]
fn corrections_and_retractions_amend_without_erasing() {
    let env = setup();
    let r = env
        .submit("housing", &["--json", "investment", "--project", "park", "--period", "2022-04", "--amount", "2"])
        .ok();
    let ack = r.json();
    let seq = ack["seq"].as_u64().unwrap().to_string();
    let id = ack["id"].as_str().unwrap().to_string();
    env.submit("housing", &["correct", "--event", &seq, "--value", "2.5", "--reason", "统计口径调整"]).ok();
    assert_eq!(project(&env.state(), "park")["completed_investment"], "2.5");
    // Correct again, by id this time.
    env.submit("drc", &["correct", "--event", &id, "--value", "2.25", "--reason", "复核"]).ok();
    assert_eq!(project(&env.state(), "park")["completed_investment"], "2.25");
    env.submit("housing", &["retract", "--event", &seq, "--reason", "重复上报"]).ok();
    assert_eq!(project(&env.state(), "park")["completed_investment"], "0");
    // The original stays readable in the log.
    let log = env.log();
    let original: serde_json::Value = serde_json::from_str(log.lines().find(|l| l.contains(&id)).unwrap()).unwrap();
    assert_eq!(original["amount"], "2");
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "retract");
    assert_eq!(last["retracts"].to_string(), seq);
    // After a retraction the month may be reported again.
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-04", "--amount", "1.75"]).ok();
    assert_eq!(project(&env.state(), "park")["completed_investment"], "1.75");
    env.assert_verifies();
}

#[test]
fn revised_targets_change_the_judgement() {
    let env = setup();
    env.submit("stats", &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "6"]).ok();
    assert_eq!(indicator(&env.state(), "gdp-growth")["met"], false);
    env.submit(
        "drc",
        &["revise-target", "--indicator", "gdp-growth", "--value", "5.5", "--reason", "疫情影响，人大批准调整"],
    )
    .ok();
    let s = env.state();
    assert_eq!(indicator(&s, "gdp-growth")["target"], "5.5");
    assert_eq!(indicator(&s, "gdp-growth")["met"], true);
    assert_eq!(indicator(&s, "gdp-growth")["gap"], "0.5");
    env.submit("drc", &["revise-target", "--project", "park", "--value", "12", "--reason", "追加投资"]).ok();
    assert_eq!(env.state()["plans"][0]["totals"]["planned_investment"], "16");
}

#[test]
fn as_of_a_seq_or_a_time_ignores_later_events() {
    let mut env = Env::new();
    env.now = Some("2022-01-10T00:00:00Z".into());
    env.import(PLAN_2022).ok();
    env.now = Some("2022-12-31T12:00:00Z".into());
    env.run_at(
        Some("2022-03-01T00:00:00Z"),
        &["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-02", "--amount", "5"],
    )
    .ok();
    env.run_at(
        Some("2022-06-01T00:00:00Z"),
        &["submit", "--as", "housing", "correct", "--event", "9", "--value", "4", "--reason", "核减"],
    )
    .ok();
    let then = env.run(&["state", "--json", "--as-of", "9"]).ok().json();
    assert_eq!(project(&then, "park")["completed_investment"], "5");
    assert_eq!(then["as_of"]["seq"], 9);
    let then = env.run(&["state", "--json", "--as-of", "2022-04-01T00:00:00+08:00"]).ok().json();
    assert_eq!(project(&then, "park")["completed_investment"], "5");
    assert_eq!(then["as_of"]["recorded_at"], "2022-03-01T00:00:00Z");
    let now = env.state();
    assert_eq!(project(&now, "park")["completed_investment"], "4");
    env.run(&["state", "--as-of", "99"]).fails(INVALID, "beyond the end of the log");
    env.run(&["state", "--as-of", "last tuesday"]).fails(INVALID, "is not a time (e.g. 2022-01-15");
}

#[test]
fn idempotent_resubmission_writes_nothing_and_reused_ids_are_refused() {
    let env = setup();
    let id = "0190a5c2-0000-7000-8000-000000000001";
    let args = ["--json", "investment", "--project", "park", "--period", "2022-05", "--amount", "1.2", "--id", id];
    let first = env.submit("housing", &args).ok().json();
    let before = env.log();
    let again = env.submit("housing", &args).ok().json();
    assert_eq!(again["seq"], first["seq"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(env.log(), before);
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-05", "--amount", "1.3", "--id", id])
        .fails(CONFLICT, &format!("id {id} is already recorded"));
    // A batch re-sent whole after a lost acknowledgement is acknowledged again, unchanged.
    let batch = format!(
        "{{\"type\":\"investment\",\"project\":\"road\",\"period\":\"2022-06\",\"amount\":\"0.5\",\"id\":\"{}\"}}\n\
         {{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-05\",\"amount\":\"1.2\",\"id\":\"{id}\"}}\n",
        "0190a5c2-0000-7000-8000-000000000002"
    );
    env.submit_file("housing", &batch).ok();
    let before = env.log();
    let r = env.submit_file("housing", &batch).ok();
    assert_eq!(r.stdout.matches("already recorded").count(), 2, "{}", r.stdout);
    assert_eq!(env.log(), before);
    assert_eq!(env.assert_verifies()["events"], 10);
}

#[test]
fn a_jsonl_batch_is_atomic() {
    let env = setup();
    let before = env.log();
    let batch = "{\"type\":\"milestone\",\"project\":\"park\",\"milestone\":\"start\",\"date\":\"2022-03-01\"}\n\
                 {\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-03\",\"amount\":\"1\"}\n\
                 {\"type\":\"investment\",\"project\":\"nope\",\"period\":\"2022-03\",\"amount\":\"1\"}\n";
    let r = env.submit_file("housing", batch).fails(INVALID, "line 3: unknown project 'nope'");
    assert!(r.stderr.contains("batch.jsonl line 3"), "{}", r.stderr);
    assert_eq!(env.log(), before);
    // Later lines see earlier ones of the same batch: start then complete in one file.
    let batch = "{\"type\":\"milestone\",\"project\":\"park\",\"milestone\":\"start\",\"date\":\"2022-03-01\"}\n\
                 {\"type\":\"milestone\",\"project\":\"park\",\"milestone\":\"complete\",\"date\":\"2022-10-01\"}\n";
    let r = env.run(&["submit", "--as", "housing", "--json", "--file", path_str(&env.file("b2.jsonl", batch))]).ok();
    let acks: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0]["seq"], 9);
    assert_eq!(acks[1]["type"], "milestone");
    assert_eq!(project(&env.state(), "park")["status"], "completed");
}

/// `--batch N`: each N lines one atomic, durable batch. A refused line stops the file there:
/// the batches before it are recorded and acknowledged, nothing of its batch is, and the
/// error says both; with ids, running the mended file again writes only what is missing.
#[test]
fn a_file_in_batches_records_the_batches_before_a_refused_line_and_resumes_by_id() {
    let env = setup();
    let before = env.log().lines().count();
    let line = |n: usize, project: &str, amount: &str| {
        format!(
            "{{\"type\":\"investment\",\"id\":\"00000000-0000-7000-8000-{n:012}\",\"project\":\"{project}\",\"period\":\"2022-{n:02}\",\"amount\":\"{amount}\"}}\n"
        )
    };
    // Line 10 names a project the plan does not list: refused when decided, not parsed.
    let file_with = |last: &str| {
        (1..=10).map(|n| if n == 10 { line(n, last, "2.5") } else { line(n, "road", "1.5") }).collect::<String>()
    };
    let path = env.file("many.jsonl", &file_with("nope"));
    // A malformed line is refused before anything is written, batches or not.
    let bad = env.file("bad.jsonl", &(file_with("road") + &line(11, "road", "-2")));
    env.run(&["submit", "--as", "housing", "--batch", "4", "--file", path_str(&bad)])
        .fails(INVALID, "bad.jsonl line 11: amount '-2' is negative");
    assert_eq!(env.log().lines().count(), before);
    let r = env.run(&["submit", "--as", "housing", "--json", "--batch", "4", "--file", path_str(&path)]);
    let r = r.fails(INVALID, "many.jsonl line 10: unknown project 'nope'");
    assert!(r.stderr.contains("recorded through"), "{}", r.stderr);
    assert!(r.stderr.contains("many.jsonl line 8 (2 batches), nothing after it"), "{}", r.stderr);
    let acks: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(acks.len(), 8, "the two durable batches are acknowledged: {}", r.stdout);
    assert_eq!(env.log().lines().count(), before + 8);
    assert_eq!(project(&env.state(), "road")["completed_investment"], "12");
    env.assert_verifies();
    // Mended, the same file again: lines 1-8 are duplicates, 9 and 10 are new.
    std::fs::write(&path, file_with("road")).unwrap();
    let r = env.run(&["submit", "--as", "housing", "--json", "--batch", "4", "--file", path_str(&path)]).ok();
    let acks: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(acks.iter().filter(|a| a["duplicate"] == true).count(), 8);
    assert_eq!(acks.iter().filter(|a| a["duplicate"] == false).count(), 2);
    assert_eq!(env.log().lines().count(), before + 10);
    assert_eq!(project(&env.state(), "road")["completed_investment"], "16");
    // Bad uses of the flag are refused before anything is read or written.
    env.run(&["submit", "--as", "housing", "--batch", "0", "--file", path_str(&path)]).fails(INVALID, "--batch 0");
    env.run(&["submit", "--as", "housing", "--batch", "4", "--expect", "plan/test-2022=1", "--file", path_str(&path)])
        .fails(INVALID, "cannot be combined with --batch");
    env.run(&[
        "submit",
        "--as",
        "housing",
        "--batch",
        "4",
        "investment",
        "--project",
        "road",
        "--period",
        "2022-11",
        "--amount",
        "1",
    ])
    .fails(2, "--file");
    assert_eq!(env.log().lines().count(), before + 10);
    env.assert_verifies();
}

/// `--batch` reads the file twice, a line at a time: first whole, so a malformed line
/// anywhere (here in the last of many batches) refuses the file with every bad line named
/// and nothing written; then on a thread of its own, batch by batch. Blank lines, CRLF,
/// escapes and numbers read as in a file submitted whole, and a refusal names its line.
#[test]
fn a_batched_file_is_checked_whole_first_then_read_batch_by_batch() {
    let env = setup();
    let before = env.log();
    let id = "00000000-0000-7000-8000-0000000000aa";
    let correct = |value: &str, reason: &str| {
        format!("{{\"type\":\"correct\",\"event\":\"{id}\",\"value\":\"{value}\",\"reason\":\"{reason}\"}}")
    };
    // Line 1 an investment (its amount a JSON number), line 2 blank, lines 3..=302 corrections.
    let mut lines = vec![
        format!("{{\"type\":\"investment\",\"id\":\"{id}\",\"project\":\"road\",\"period\":\"2022-03\",\"amount\":1}}"),
        String::new(),
    ];
    lines.extend((0..300).map(|k| correct(&format!("{}.{:02}", 2 + k / 100, k % 100), &format!("\\u8c03\\u6574 {k}"))));
    let crlf = |lines: &[String]| lines.join("\r\n") + "\r\n";

    let mut bad = lines.clone();
    bad[289] = correct("x", "r");
    let path = env.file("bad.jsonl", &crlf(&bad));
    env.run(&["submit", "--as", "housing", "--batch", "7", "--file", path_str(&path)])
        .fails(INVALID, "bad.jsonl line 290: value 'x'");
    bad[295] = "{\"type\":\"correct\",".into();
    let path = env.file("bad.jsonl", &crlf(&bad));
    let r = env.run(&["submit", "--as", "housing", "--batch", "7", "--file", path_str(&path)]);
    assert_eq!(r.code, INVALID, "{}", r.stderr);
    assert!(r.stderr.contains("line 290: value 'x'") && r.stderr.contains("line 296: not valid JSON"), "{}", r.stderr);
    let mut not_utf8 = crlf(&lines[..5]).into_bytes();
    not_utf8.extend_from_slice(b"{\"type\":\"correct\xff\"}\n");
    std::fs::write(&path, not_utf8).unwrap();
    env.run(&["submit", "--as", "housing", "--batch", "7", "--file", path_str(&path)])
        .fails(INVALID, "bad.jsonl line 6: not UTF-8");
    std::fs::write(&path, "\n  \n").unwrap();
    env.run(&["submit", "--as", "housing", "--batch", "7", "--file", path_str(&path)]).fails(INVALID, "no submissions");
    assert_eq!(env.log(), before, "a malformed file writes nothing");

    let path = env.file("many.jsonl", &crlf(&lines));
    let r = env.run(&["submit", "--as", "housing", "--json", "--batch", "7", "--file", path_str(&path)]).ok();
    let acks: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(acks.len(), 301);
    assert!(acks.iter().enumerate().all(|(i, a)| a["seq"] == 9 + i as u64 && a["duplicate"] == false), "{}", r.stdout);
    assert_eq!(project(&env.state(), "road")["completed_investment"], "4.99");
    let last: serde_json::Value = serde_json::from_str(env.log().lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "调整 299");
    env.assert_verifies();

    // Refused when decided in its fourth batch: the three before stay, named by their last line.
    let mut refused: Vec<String> = vec![String::new()];
    refused.extend((2..=20).map(|n| {
        if n == 17 {
            correct("1", "r").replace(id, "99999")
        } else {
            correct(&format!("5.{n:02}"), "r")
        }
    }));
    let path = env.file("late.jsonl", &(refused.join("\n") + "\n"));
    let r = env.run(&["submit", "--as", "housing", "--json", "--batch", "5", "--file", path_str(&path)]);
    let r = r.fails(INVALID, "late.jsonl line 17: event seq 99999 does not exist");
    assert!(
        r.stderr.contains("recorded through ") && r.stderr.contains("late.jsonl line 16 (3 batches), nothing after it"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 15);
    assert_eq!(env.log().lines().count(), before.lines().count() + 301 + 15);
    env.assert_verifies();
}

/// Every refusal: one line on stderr naming the problem, the right exit code, nothing written.
#[test]
fn every_validation_error_is_refused_with_nothing_written() {
    let env = setup();
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "start", "--date", "2022-02-01"]).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-02", "--amount", "1"]).ok();
    env.submit("housing", &["milestone", "--project", "road", "--milestone", "complete", "--date", "2022-06-01"]).ok();
    env.submit("housing", &["milestone", "--project", "road", "--milestone", "operate", "--date", "2022-07-01"]).ok();
    let retracted = env
        .submit("housing", &["--json", "investment", "--project", "road", "--period", "2022-01", "--amount", "1"])
        .ok()
        .json()["seq"]
        .to_string();
    env.submit("housing", &["retract", "--event", &retracted, "--reason", "错报"]).ok();
    let before = env.log();

    let inv = |p: &str, period: &str, amount: &str| -> Vec<String> {
        ["investment", "--project", p, "--period", period, "--amount", amount].iter().map(|s| s.to_string()).collect()
    };
    let cases: Vec<(&str, Vec<String>, i32, &str)> = vec![
        ("housing", inv("nope", "2022-03", "1"), INVALID, "unknown project 'nope'"),
        ("stats", inv("park", "2022-03", "1"), FORBIDDEN, "department 'stats' is not responsible for project 'park'"),
        ("ghost", inv("park", "2022-03", "1"), INVALID, "unknown department 'ghost'"),
        ("housing", inv("park", "2022-03", "-1"), INVALID, "amount '-1' is negative"),
        ("housing", inv("park", "2022-03", "lots"), INVALID, "amount 'lots' is not a decimal"),
        ("housing", inv("park", "2022-3", "1"), INVALID, "period '2022-3' is not a period"),
        ("housing", inv("park", "2023-01", "1"), INVALID, "period '2023-01' is outside the plan years"),
        ("housing", inv("park", "2021-12", "1"), INVALID, "outside the plan years that list project 'park' (2022)"),
        ("housing", inv("park", "2022-02", "2"), INVALID, "already recorded (seq 10)"),
        (
            "housing",
            vec![
                "milestone".into(),
                "--project".into(),
                "park".into(),
                "--milestone".into(),
                "operate".into(),
                "--date".into(),
                "2022-05-01".into(),
            ],
            INVALID,
            "cannot reach operate before complete",
        ),
        (
            "housing",
            vec![
                "milestone".into(),
                "--project".into(),
                "park".into(),
                "--milestone".into(),
                "start".into(),
                "--date".into(),
                "2022-05-01".into(),
            ],
            INVALID,
            "already reached start on 2022-02-01",
        ),
        (
            "housing",
            vec![
                "milestone".into(),
                "--project".into(),
                "park".into(),
                "--milestone".into(),
                "complete".into(),
                "--date".into(),
                "2022-01-15".into(),
            ],
            INVALID,
            "complete date 2022-01-15 is before the project's start on 2022-02-01",
        ),
        (
            "housing",
            vec![
                "milestone".into(),
                "--project".into(),
                "park".into(),
                "--milestone".into(),
                "complete".into(),
                "--date".into(),
                "2022-02-30".into(),
            ],
            INVALID,
            "date '2022-02-30' is not a date",
        ),
        (
            "stats",
            vec![
                "actual".into(),
                "--indicator".into(),
                "gdp-growth".into(),
                "--period".into(),
                "2021".into(),
                "--value".into(),
                "3".into(),
            ],
            INVALID,
            "period year 2021 is outside the plan years that define indicator 'gdp-growth'",
        ),
        (
            "housing",
            vec![
                "actual".into(),
                "--indicator".into(),
                "gdp-growth".into(),
                "--period".into(),
                "2022".into(),
                "--value".into(),
                "3".into(),
            ],
            FORBIDDEN,
            "not responsible for indicator 'gdp-growth'",
        ),
        (
            "stats",
            vec![
                "actual".into(),
                "--indicator".into(),
                "cpi".into(),
                "--period".into(),
                "2022".into(),
                "--value".into(),
                "3".into(),
            ],
            INVALID,
            "unknown indicator 'cpi'",
        ),
        (
            "housing",
            vec![
                "correct".into(),
                "--event".into(),
                "999".into(),
                "--value".into(),
                "1".into(),
                "--reason".into(),
                "x".into(),
            ],
            INVALID,
            "event seq 999 does not exist",
        ),
        (
            "housing",
            vec![
                "correct".into(),
                "--event".into(),
                retracted.clone(),
                "--value".into(),
                "2".into(),
                "--reason".into(),
                "x".into(),
            ],
            INVALID,
            "has been retracted",
        ),
        (
            "housing",
            vec!["retract".into(), "--event".into(), retracted.clone(), "--reason".into(), "x".into()],
            INVALID,
            "has been retracted",
        ),
        (
            "drc",
            vec![
                "correct".into(),
                "--event".into(),
                "1".into(),
                "--value".into(),
                "2".into(),
                "--reason".into(),
                "x".into(),
            ],
            INVALID,
            "is a plan-declared event",
        ),
        (
            "housing",
            vec![
                "correct".into(),
                "--event".into(),
                "9".into(),
                "--value".into(),
                "2".into(),
                "--reason".into(),
                "x".into(),
            ],
            INVALID,
            "is a milestone",
        ),
        (
            "housing",
            vec![
                "correct".into(),
                "--event".into(),
                "10".into(),
                "--value".into(),
                "2".into(),
                "--reason".into(),
                " ".into(),
            ],
            INVALID,
            "reason must not be empty",
        ),
        (
            "housing",
            vec!["retract".into(), "--event".into(), "11".into(), "--reason".into(), "x".into()],
            INVALID,
            "while its operate (seq 12)",
        ),
        (
            "housing",
            vec![
                "milestone".into(),
                "--project".into(),
                "park".into(),
                "--milestone".into(),
                "complete".into(),
                "--date".into(),
                "2023-01-02".into(),
            ],
            INVALID,
            "outside the plan years",
        ),
    ];
    for (actor, args, code, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.submit(actor, &args).fails(*code, needle);
        assert_eq!(env.log(), before, "{args:?} wrote something");
    }

    // Files: a line that does not parse, a bad plan file, a non-coordinator import.
    env.submit_file(
        "housing",
        "{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-04\",\"amount\":\"1\"}\n{oops\n",
    )
    .fails(INVALID, "batch.jsonl line 2: not valid JSON");
    env.submit_file("housing", "{\"type\":\"bonus\"}\n")
        .fails(INVALID, "line 1: type 'bonus' is not a submission kind");
    env.import("[plan]\nid = \"x\"\nyear = 2022\ntitle = \"t\"\n[[projects]\n").fails(INVALID, "plan.toml line 5");
    let p = env.file("p2.toml", &PLAN_2022.replace("test-2022", "other-2022").replace("测试区\"", "另一区\""));
    env.run(&["plan", "import", path_str(&p), "--as", "housing"]).fails(FORBIDDEN, "not a coordinator");
    env.run(&["plan", "import", "/nonexistent/plan.toml", "--as", "drc"])
        .fails(7, "cannot read /nonexistent/plan.toml");
    assert_eq!(env.log(), before);
    env.assert_verifies();
}

#[test]
fn dates_and_periods_in_the_future_are_refused() {
    let mut env = Env::new();
    env.now = Some("2022-05-10T08:00:00Z".into());
    env.import(PLAN_2022).ok();
    let before = env.log();
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "start", "--date", "2022-06-01"])
        .fails(INVALID, "date '2022-06-01' is in the future (today is 2022-05-10)");
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-06", "--amount", "1"])
        .fails(INVALID, "period '2022-06' is in the future");
    // The current month may be reported; so may an estimate for the running year.
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-05", "--amount", "1"]).ok();
    env.submit(
        "stats",
        &["actual", "--indicator", "gdp-growth", "--period", "2022", "--value", "7", "--basis", "estimate"],
    )
    .ok();
    assert_ne!(env.log(), before);
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let env = setup();
    env.run(&["submit", "--as", "housing", "investment", "--project", "park"]).fails(2, "--period");
    env.run(&["frobnicate"]).fails(2, "frobnicate");
}

#[test]
fn a_second_process_is_refused_while_the_store_is_open() {
    let env = setup();
    let held = planledger::store::EmbeddedStore::open(&env.store()).unwrap();
    env.run(&["state"]).fails(UNAVAILABLE, &format!("store {} is in use by another process", env.store().display()));
    drop(held);
    env.run(&["state"]).ok();
}

#[test]
fn a_store_of_another_format_is_refused_not_misread() {
    // A newer format (a later release), and format 1 (the first: full hashes beside
    // uncompressed events in sled): this build reads format 2 only.
    for (format, says) in [
        (99u32, "was written by format version 99; this planledger reads up to version 2"),
        (1, "was written by format version 1, which this planledger no longer reads"),
    ] {
        let env = setup();
        {
            let db = sled::open(env.store()).unwrap();
            db.open_tree("ledger").unwrap().insert("F", &format.to_le_bytes()).unwrap();
            db.flush().unwrap();
        }
        env.run(&["log"]).fails(UNAVAILABLE, says);
    }
}

#[test]
fn verify_names_the_seq_of_an_altered_event() {
    let env = setup();
    for m in 1..=6 {
        let period = format!("2022-{m:02}");
        env.submit("housing", &["investment", "--project", "park", "--period", &period, "--amount", "1.5"]).ok();
    }
    env.assert_verifies();
    // Flip one byte inside the encoded amount of seq 11 (the third investment) and store the
    // chunk again, as someone rewriting the store's files would.
    {
        let store = planledger::store::EmbeddedStore::open(&env.store()).unwrap();
        let (first, chunk) = store.raw_chunks().map(|c| c.unwrap()).find(|(first, _)| *first == 11).unwrap();
        // Body layout: [u32 len][event bytes][hash prefix]; alter the event's last byte.
        let mut opened = planledger::codec::open_chunk(&chunk).unwrap();
        let len = u32::from_le_bytes(opened.body[..4].try_into().unwrap()) as usize;
        opened.body[4 + len - 1] ^= 0x01;
        let h = opened.header;
        store.tamper_chunk(first, planledger::codec::seal_chunk(h.count, &h.prev_hash, &opened.body)).unwrap();
    }
    let r = env.run(&["verify", "--json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 11);
    assert_eq!(v["events"], 10);
    assert!(r.stderr.contains("verification failed at seq 11"), "{}", r.stderr);
}

#[test]
fn verify_detects_a_dropped_event() {
    let env = setup();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-01", "--amount", "1"]).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-02", "--amount", "1"]).ok();
    {
        let db = sled::open(env.store()).unwrap();
        let tree = db.open_tree("ledger").unwrap();
        let mut key = vec![b'L'];
        key.extend_from_slice(&9u64.to_be_bytes());
        tree.remove(&key).unwrap();
        db.flush().unwrap();
    }
    let r = env.run(&["verify", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["first_bad_seq"], 9);
    // Reads refuse the damaged log rather than print a wrong state.
    env.run(&["state"]).fails(1, "corrupt store at seq 9");
}

#[test]
fn a_flipped_bit_in_a_log_segment_is_named_never_a_panic() {
    let env = setup();
    for m in 1..=4 {
        let period = format!("2022-{m:02}");
        env.submit("housing", &["investment", "--project", "park", "--period", &period, "--amount", "2"]).ok();
    }
    // Where the chunk of seq 10 lies, from its index entry: segment, offset, length.
    let at = {
        let db = sled::open(env.store()).unwrap();
        let tree = db.open_tree("ledger").unwrap();
        let mut key = vec![b'L'];
        key.extend_from_slice(&10u64.to_be_bytes());
        planledger::wal::Location::decode(&tree.get(&key).unwrap().expect("chunk of seq 10")).unwrap()
    };
    let path = env.store().join("log").join(format!("{:08}", at.segment));
    let mut bytes = std::fs::read(&path).unwrap();
    // A bit of the compressed body (past the 41-byte chunk header), as a failing disk would.
    bytes[(at.offset + at.len as u64 - 3) as usize] ^= 0x10;
    std::fs::write(&path, bytes).unwrap();
    let r = env.run(&["verify", "--json"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.json()["first_bad_seq"], 10);
    assert_eq!(r.json()["events"], 9);
    // Every reader stops with one line naming the seq: exit 1, no panic, no wrong output.
    for cmd in [&["state"][..], &["log"], &["audit"]] {
        let r = env.run(cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("planledger: corrupt store at seq 10"), "{cmd:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
}

#[test]
fn log_prints_every_event_with_envelope_and_hash() {
    let env = setup();
    env.submit(
        "housing",
        &["investment", "--project", "park", "--period", "2022-01", "--amount", "0.75", "--note", "一月"],
    )
    .ok();
    let log = env.log();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 9);
    for (i, e) in lines.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1);
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
        assert!(e["recorded_at"].as_str().unwrap().starts_with("2022-12-31T12:00:00"));
    }
    let last = &lines[8];
    assert_eq!(last["type"], "investment");
    assert_eq!(last["actor"], "housing");
    assert_eq!(last["amount"], "0.75");
    assert_eq!(last["note"], "一月");
    assert_eq!(last["stream"], "plan/test-2022/project/park");
    assert_eq!(last["stream_version"], 2);
    let from = env.run(&["log", "--json", "--from", "9"]).ok().stdout;
    assert_eq!(from.lines().count(), 1);
    let text = env.run(&["log"]).ok().stdout;
    assert!(text.lines().last().unwrap().contains("2022-01 0.75 亿元"));
}

#[test]
fn the_same_events_give_byte_identical_json() {
    let a = setup();
    let b = setup();
    for env in [&a, &b] {
        env.submit(
            "housing",
            &[
                "investment",
                "--project",
                "park",
                "--period",
                "2022-01",
                "--amount",
                "1",
                "--id",
                "0190a5c2-0000-7000-8000-00000000000a",
            ],
        )
        .ok();
    }
    // Same events (ids of plan events differ, so compare state, which does not print them).
    assert_eq!(a.run(&["state", "--json"]).ok().stdout, b.run(&["state", "--json"]).ok().stdout);
    assert_eq!(a.run(&["state", "--json"]).ok().stdout, a.run(&["state", "--json"]).ok().stdout);
}

#[test]
fn demo_reproduces_the_seed_report() {
    let env = Env::new();
    let r = env.run_at(None, &["demo", "--json"]).ok();
    let s = r.json();
    let y2021 = &s["plans"][0];
    assert_eq!(y2021["year"], 2021);
    let t = &y2021["totals"];
    // "246个重点项目完成投资694亿元，占年度目标的111.5%"
    assert_eq!(t["projects"], 246);
    assert_eq!(t["completed_investment"], "694");
    assert_eq!(t["completion_pct"], "111.5");
    // "其中31个省市重点项目完成投资404.8亿元，占年度投资目标360.3亿元的112.4%"
    let pc = &t["by_level"]["province_city"];
    assert_eq!(pc["projects"], 31);
    assert_eq!(pc["completed_investment"], "404.8");
    assert_eq!(pc["planned_investment"], "360.3");
    assert_eq!(pc["completion_pct"], "112.4");
    let actual =
        |id: &str| y2021["indicators"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()["actual"].clone();
    assert_eq!(actual("gdp-growth"), "3");
    assert_eq!(actual("fai-growth"), "0.9");
    assert_eq!(actual("budget-revenue-growth"), "-9.8");
    assert_eq!(actual("retail-growth"), "7.4");
    let y2022 = &s["plans"][1];
    assert_eq!(y2022["totals"]["projects"], 291);
    assert_eq!(y2022["totals"]["planned_investment"], "599.6");
    let gdp = y2022["indicators"].as_array().unwrap().iter().find(|i| i["id"] == "gdp-growth").unwrap().clone();
    assert_eq!(gdp["target"], "7.5");
    assert_eq!(gdp["approximate"], true);
    // The demo's store verifies.
    let v = env.run(&["verify", "--json"]).ok().json();
    assert_eq!(v["ok"], true);
    // A second demo into the same store is refused rather than mixed in.
    env.run_at(None, &["demo"]).fails(INVALID, "already holds a store");
}

const PLAN_2023: &str = r#"
[plan]
id = "test-2023"
year = 2023
title = "测试区2023年计划"
jurisdiction = "测试区"

[[projects]]
id = "park"
name = "产业园"
level = "province"
department = "housing"
planned_investment = "6"
planned_milestones = ["complete"]
"#;

#[test]
fn a_project_continues_across_plans_with_its_milestones() {
    let mut env = setup();
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "start", "--date", "2022-04-01"]).ok();
    env.now = Some("2023-12-31T12:00:00Z".into());
    env.import(PLAN_2023).ok();
    let s = env.state();
    let p2023 = s["plans"][1]["projects"][0].clone();
    assert_eq!(p2023["status"], "started", "{p2023}");
    assert_eq!(p2023["milestones"]["start"], "2022-04-01");
    // 2023 investment goes to the 2023 plan; 2022's total is untouched.
    env.submit("housing", &["investment", "--project", "park", "--period", "2023-02", "--amount", "2"]).ok();
    let s = env.state();
    assert_eq!(s["plans"][0]["totals"]["completed_investment"], "0");
    assert_eq!(s["plans"][1]["totals"]["completed_investment"], "2");
    // Completing in 2023 needs the start reached in 2022: it is carried.
    env.submit("housing", &["milestone", "--project", "park", "--milestone", "complete", "--date", "2023-06-30"]).ok();
    // The 2022 start cannot be retracted while the 2023 completion stands.
    env.submit("housing", &["retract", "--event", "9", "--reason", "x"]).fails(INVALID, "while its complete");
    let s = env.state();
    assert_eq!(s["plans"][0]["projects"][0]["status"], "started");
    assert_eq!(s["plans"][1]["projects"][0]["status"], "completed");
    // Revising "park" needs the plan named now that two plans list it.
    env.submit("drc", &["revise-target", "--project", "park", "--value", "7", "--reason", "r"])
        .fails(INVALID, "in several plans (test-2022, test-2023); name one with --plan");
    env.submit("drc", &["revise-target", "--project", "park", "--plan", "test-2023", "--value", "7", "--reason", "r"])
        .ok();
    env.assert_verifies();
}

#[test]
fn a_late_milestone_reaches_later_plans_and_a_retraction_leaves_them() {
    let mut env = setup();
    env.now = Some("2023-12-31T12:00:00Z".into());
    env.import(PLAN_2023).ok();
    // Reported late: the 2022 start arrives after the 2023 plan listed the project.
    let seq = env
        .submit(
            "housing",
            &["--json", "milestone", "--project", "park", "--milestone", "start", "--date", "2022-11-20"],
        )
        .ok()
        .json()["seq"]
        .to_string();
    assert_eq!(env.state()["plans"][1]["projects"][0]["status"], "started");
    env.submit("housing", &["retract", "--event", &seq, "--reason", "报错了"]).ok();
    let s = env.state();
    assert_eq!(s["plans"][0]["projects"][0]["status"], "planned");
    assert_eq!(s["plans"][1]["projects"][0]["status"], "planned");
}

#[test]
fn reading_a_store_that_does_not_exist_is_an_error_not_an_empty_ledger() {
    let env = Env::new();
    env.run(&["state"]).fails(UNAVAILABLE, "no store at");
    env.run(&["verify"]).fails(UNAVAILABLE, "no store at");
    assert!(!env.store().join("db").exists());
}

#[test]
fn a_bare_command_and_bad_bytes_get_one_line_errors() {
    let env = setup();
    env.run(&[]).fails(2, "see --help");
    let bare = common::output(std::process::Command::new(BIN).output().unwrap());
    assert_eq!(bare.code, 2);
    assert_eq!(bare.stderr, "planledger: a command is missing (see --help)\n");
    env.run(&["plan"]).fails(2, "see --help");
    let p = env.tmp.path().join("latin1.jsonl");
    std::fs::write(&p, b"{\"type\":\"investment\"}\n{\"note\":\"caf\xe9\"}\n").unwrap();
    env.run(&["submit", "--as", "housing", "--file", path_str(&p)]).fails(INVALID, "latin1.jsonl line 2: not UTF-8");
    env.submit(
        "housing",
        &["investment", "--project", "park", "--period", "2022-01", "--amount", "0.1234567890123456789012345678901"],
    )
    .fails(INVALID, "more than 28 significant digits");
}

#[test]
fn an_error_stays_one_line_whatever_the_value_holds() {
    let env = setup();
    let r = env.submit("housing", &["investment", "--project", "park", "--period", "2022-01", "--amount", "1\n2"]);
    r.fails(INVALID, "amount '1\\n2' is not a decimal");
}

/// A plan entry whose event would exceed the 64 KiB an event holds (every field within its
/// own limit) is refused with a clear line, not a panic; nothing is written.
#[test]
fn a_plan_entry_over_the_event_limit_is_refused_clearly() {
    let env = Env::new();
    env.import(PLAN_2022).ok();
    let before = env.log();
    let dims: Vec<String> = (0..20).map(|i| format!("d{i} = \"{}\"", "长".repeat(1_300))).collect();
    let plan = format!(
        "{}\n[[projects]]\nid = \"huge\"\nname = \"大项目\"\nlevel = \"city\"\ndepartment = \"housing\"\nplanned_investment = \"1\"\n[projects.dimensions]\n{}\n",
        PLAN_2022.replace("test-2022", "test-2023").replace("year = 2022", "year = 2023"),
        dims.join("\n")
    );
    let r = env.import(&plan);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("an event holds at most 64 KiB"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    assert_eq!(env.log(), before);
}

/// Figures are bounded where they enter (|x| < 10^15, at most 6 places), so sums and rates of
/// any valid log stay exact: huge corrections are refused, and every read still works.
#[test]
fn huge_figures_are_refused_where_they_enter() {
    let env = setup();
    let seq = env
        .submit("housing", &["--json", "investment", "--project", "park", "--period", "2022-03", "--amount", "1"])
        .ok()
        .json()["seq"]
        .as_u64()
        .unwrap()
        .to_string();
    let huge = "9999999999999999999999999999";
    env.submit("drc", &["correct", "--event", &seq, "--value", huge, "--reason", "x"]).fails(INVALID, "too large");
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-04", "--amount", "1.0000001"])
        .fails(INVALID, "more than 6 decimal places");
    env.submit(
        "housing",
        &["investment", "--project", "park", "--period", "2022-04", "--amount", "999999999999999.999999"],
    )
    .ok();
    for _ in 0..10 {
        env.submit("drc", &["correct", "--event", &seq, "--value", "999999999999999", "--reason", "x"]).ok();
        env.submit("drc", &["correct", "--event", &seq, "--value", "999999999999998", "--reason", "x"]).ok();
    }
    env.run(&["state"]).ok();
    env.run(&["summary", "--year", "2022", "--by", "block"]).ok();
    env.run(&["snapshot"]).ok();
    env.run(&["diff", "1"]).ok();
    env.assert_verifies();
}

/// A flipped bit in a log record's bytes (framing, not events) is found by `verify`, which
/// names the segment and the byte; nothing is cut.
#[test]
fn verify_checks_the_log_records_framing() {
    let env = setup();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "1"]).ok();
    env.assert_verifies();
    let segment = env.store().join("log").join("00000001");
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    let r = env.run(&["verify"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("fails its checksum") && r.stderr.contains("00000001"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    assert_eq!(std::fs::read(&segment).unwrap(), bytes, "the segment is as it was");
}

/// `verify --require-signatures` on a log where no key was ever registered fails: nothing in
/// it is signed, so the requirement cannot hold.
#[test]
fn requiring_signatures_of_an_unsigned_log_fails() {
    let env = setup();
    env.run(&["verify"]).ok();
    env.run(&["verify", "--require-signatures"]).fails(1, "no key is registered in this log");
}

/// `repair`: a damaged last record is never cut unless the operator says so; a dry run says
/// what would be lost; `--cut-tail` saves the bytes in quarantine, cuts, rebuilds the index,
/// and the store verifies and takes writes again.
#[test]
fn repair_cuts_a_damaged_tail_only_when_told_and_saves_it() {
    let env = setup();
    for month in ["2022-03", "2022-04", "2022-05"] {
        env.submit("housing", &["investment", "--project", "park", "--period", month, "--amount", "1"]).ok();
    }
    let events = env.log().lines().count();
    let segment = env.store().join("log").join("00000001");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    env.run(&["verify"]).fails(1, "fails its checksum");
    env.run(&["repair"]).fails(1, "repair --cut-tail");
    assert_eq!(std::fs::read(&segment).unwrap(), bytes, "refused: nothing changed");
    let dry = env.run(&["repair", "--dry-run", "--cut-tail"]).ok();
    assert!(dry.stdout.contains("would: cut") && dry.stdout.contains("loses"), "{}", dry.stdout);
    assert_eq!(std::fs::read(&segment).unwrap(), bytes, "a dry run changes nothing");
    let done = env.run(&["repair", "--cut-tail"]).ok();
    assert!(done.stdout.contains("did: cut") && done.stdout.contains("saved the cut bytes in"), "{}", done.stdout);
    assert!(done.stdout.contains(&format!("ok: {} events", events - 1)), "{}", done.stdout);
    let quarantine: Vec<_> =
        std::fs::read_dir(env.store().join("quarantine")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(quarantine.len(), 1);
    let cut = std::fs::read(&quarantine[0]).unwrap();
    assert!(bytes.ends_with(&cut) && !cut.is_empty());
    assert_eq!(env.log().lines().count(), events - 1);
    env.assert_verifies();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-05", "--amount", "2"]).ok();
    env.assert_verifies();
}

/// A log written before figures were bounded may hold one far out of range (here put in the
/// store directly): reads that would fold it refuse with a line naming its seq instead of
/// overflowing a sum, and reads `--as-of` before it still work.
#[test]
fn an_out_of_range_figure_in_the_log_is_reported_not_crashed_on() {
    let env = setup();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "1"]).ok();
    let before = env.log().lines().count() as u64;
    {
        use planledger::store::Store;
        let store = planledger::store::EmbeddedStore::open(&env.store()).unwrap();
        let mut e = store.get_event(before).unwrap().unwrap();
        e.seq = before + 1;
        e.id = uuid::Uuid::from_u128(0x5eed);
        e.stream_version += 1;
        if let planledger::event::Payload::InvestmentReported(i) = &mut e.payload {
            i.amount = "9999999999999999999999999999".parse().unwrap();
            i.period = planledger::model::Month { year: 2022, month: 4 };
        }
        Store::commit(&store, &[e], None).unwrap();
    }
    let seq = (before + 1).to_string();
    for args in [&["state"][..], &["summary", "--year", "2022"][..], &["snapshot"][..], &["verify"][..]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("seq {seq}")) && r.stderr.contains("too large"), "{args:?}: {}", r.stderr);
    }
    env.run(&["state", "--as-of", &before.to_string()]).ok();
    env.run(&["summary", "--year", "2022", "--as-of", &before.to_string()]).ok();
}

/// A store this user may not read is said to be that, not "no store".
#[test]
fn a_store_this_user_may_not_open_is_named_as_such() {
    let env = setup();
    if !std::path::Path::new("/usr/bin/setpriv").exists() || unsafe { geteuid() } != 0 {
        println!("a_store_this_user_may_not_open_is_named_as_such: skipped (needs root and setpriv)");
        return;
    }
    let private = env.tmp.path();
    std::fs::set_permissions(private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--store"])
        .arg(env.store())
        .arg("state")
        .output()
        .unwrap();
    let r = common::output(out);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("cannot open the store at") && r.stderr.contains("ermission denied"), "{}", r.stderr);
}

extern "C" {
    fn geteuid() -> u32;
}

/// Readers never modify a store: every read command leaves every file of the store byte for
/// byte as it was, a torn tail included (a writer cuts it; a reader reads around it).
#[test]
fn readers_never_modify_the_store() {
    let env = setup();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "1"]).ok();
    let segment = env.store().join("log").join("00000001");
    let mut f = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
    std::io::Write::write_all(&mut f, &[0u8; 100]).unwrap();
    drop(f);
    fn files(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let snapshot = || {
        let mut v = Vec::new();
        files(&env.store(), &mut v);
        v.sort();
        v
    };
    let before = snapshot();
    let snap = env.tmp.path().join("s.json");
    for args in [
        &["state"][..],
        &["log", "--json"],
        &["summary", "--year", "2022"],
        &["audit"],
        &["show", "1"],
        &["verify"],
        &["snapshot", "--out", path_str(&snap)],
        &["diff", "1"],
        &["checkpoint"],
        &["key"],
        &["proof", "1"],
        &["subscribe"],
    ] {
        env.run(args).ok();
        assert!(snapshot() == before, "{args:?} changed the store");
    }
    // A writer then cuts the torn tail, and the log reads the same.
    let log = env.log();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-04", "--amount", "1"]).ok();
    assert!(env.log().starts_with(&log));
    env.assert_verifies();
}

/// `summary --format md` is CommonMark that renders as meant: rendered with a real CommonMark
/// renderer, the `--by` table is a table and every bold lead-in is bold, with no literal
/// asterisks or pipes left in the text.
#[test]
fn summary_markdown_renders_with_a_commonmark_renderer() {
    use pulldown_cmark::{html, Options, Parser};
    let env = setup();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "2"]).ok();
    for lang in ["zh", "en"] {
        let md = env.run(&["summary", "--year", "2022", "--format", "md", "--lang", lang, "--by", "block"]).ok().stdout;
        let mut out = String::new();
        html::push_html(&mut out, Parser::new_ext(&md, Options::ENABLE_TABLES));
        assert!(out.matches("<table>").count() >= 2, "{lang}: the --by and indicator tables are tables:\n{md}\n{out}");
        let lead = if lang == "zh" { "<strong>重点项目</strong>。" } else { "<strong>Key projects</strong>." };
        assert!(out.contains(lead), "{lang}: bold lead-in:\n{out}");
        let text: String = {
            let mut t = String::new();
            let mut inside = false;
            for c in out.chars() {
                match c {
                    '<' => inside = true,
                    '>' => inside = false,
                    c if !inside => t.push(c),
                    _ => {}
                }
            }
            t
        };
        assert!(!text.contains("**") && !text.contains("|"), "{lang}: markup left as text:\n{text}");
    }
}

#[test]
fn today_and_as_of_dates_are_the_ledger_s_time_zone() {
    // 07:30 in Beijing is still the day before in UTC: a milestone dated today is accepted.
    let mut env = Env::new();
    env.now = Some("2022-03-15T07:30:00+08:00".into());
    env.import(PLAN_2022).ok();
    assert_eq!(env.run(&["time-zone"]).ok().stdout, "Asia/Shanghai (UTC+08:00)\n");
    env.run(&[
        "submit",
        "--as",
        "housing",
        "milestone",
        "--project",
        "park",
        "--milestone",
        "start",
        "--date",
        "2022-03-15",
    ])
    .ok();
    // 02:00 on the 16th in Beijing (18:00 on the 15th in UTC).
    env.now = Some("2022-03-16T02:00:00+08:00".into());
    env.run(&["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-03", "--amount", "1"])
        .ok();
    let events = |as_of: &str| env.run(&["state", "--json", "--as-of", as_of]).ok().json()["as_of"]["seq"].clone();
    let all = env.log().lines().count();
    assert_eq!(events("2022-03-15").as_u64(), Some(all as u64 - 1), "the end of the 15th in Beijing");
    assert_eq!(events("2022-03-16T01:59:59").as_u64(), Some(all as u64 - 1));
    assert_eq!(events("2022-03-16T02:00:00").as_u64(), Some(all as u64));
    env.run(&["time-zone", "--set", "UTC"]).ok();
    assert_eq!(events("2022-03-15").as_u64(), Some(all as u64), "the end of the 15th in UTC");
    env.run(&["time-zone", "--set", "Beijing"]).fails(INVALID, "time zone 'Beijing' is not one planledger knows");
}

/// The tests above that do not open the store's files themselves, run again with every
/// command on a PostgreSQL ledger (`common::on_postgres`): the same commands give the same
/// output on either backend.
mod postgres {
    use super::*;

    macro_rules! on_postgres {
        ($($name:ident),* $(,)?) => {
            $(
                #[test]
                fn $name() {
                    common::on_postgres(super::$name);
                }
            )*
        };
    }

    on_postgres!(
        import_then_state_shows_the_plan_worked_by_hand,
        reimporting_the_same_file_is_a_no_op_and_a_changed_definition_is_refused,
        progress_flows_into_state_with_exact_totals,
        milestones_run_through_every_status,
        a_later_basis_supersedes_and_an_earlier_one_is_refused,
        corrections_and_retractions_amend_without_erasing,
        revised_targets_change_the_judgement,
        as_of_a_seq_or_a_time_ignores_later_events,
        idempotent_resubmission_writes_nothing_and_reused_ids_are_refused,
        a_jsonl_batch_is_atomic,
        a_file_in_batches_records_the_batches_before_a_refused_line_and_resumes_by_id,
        a_batched_file_is_checked_whole_first_then_read_batch_by_batch,
        every_validation_error_is_refused_with_nothing_written,
        dates_and_periods_in_the_future_are_refused,
        log_prints_every_event_with_envelope_and_hash,
        the_same_events_give_byte_identical_json,
        a_project_continues_across_plans_with_its_milestones,
        a_late_milestone_reaches_later_plans_and_a_retraction_leaves_them,
        a_plan_entry_over_the_event_limit_is_refused_clearly,
        huge_figures_are_refused_where_they_enter,
        requiring_signatures_of_an_unsigned_log_fails,
        summary_markdown_renders_with_a_commonmark_renderer,
        today_and_as_of_dates_are_the_ledger_s_time_zone,
    );
}
