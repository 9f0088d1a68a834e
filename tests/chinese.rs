//! The Chinese interface, through the real binary on the Guancheng example: every command's
//! zh output has no English words outside ids, units and numbers; tables line up by display
//! width; errors and help speak Chinese; the monthly view, the audit trail and the diff say
//! what an auditor asks.

mod common;

use common::Env;
use serde_json::Value;

/// A store of the Guancheng example (2021 reported, 2022 planned), built by `demo`.
fn guancheng() -> Env {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    env
}

fn zh(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["--lang", "zh"];
    all.extend_from_slice(args);
    env.run(&all).ok().stdout
}

/// Every id and name the ledger holds (data, not our words), longest first.
fn allowed_words(env: &Env) -> Vec<String> {
    let state = env.state();
    let mut words: Vec<String> = Vec::new();
    for plan in state["plans"].as_array().unwrap() {
        words.push(plan["id"].as_str().unwrap().to_string());
        for list in ["projects", "indicators"] {
            for e in plan[list].as_array().unwrap() {
                for k in ["id", "name", "department", "unit"] {
                    if let Some(s) = e[k].as_str() {
                        words.push(s.to_string());
                    }
                }
            }
        }
    }
    for line in env.log().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        for k in ["actor", "dept", "name", "title", "jurisdiction", "stream", "principal"] {
            if let Some(s) = e[k].as_str() {
                words.push(s.to_string());
            }
        }
    }
    // Units, names no language translates, the plan's own dimension names, and commands
    // (`planledger chart levels`), which are typed as they are.
    words.extend(["亿元", "Asia/Shanghai", "UTC", "PM2.5", "GDP", "RFC 3339"].map(String::from));
    words.extend(["block", "program", "sector", "type"].map(String::from));
    words.extend(
        ["planledger chart cumulative", "planledger chart levels", "planledger chart departments"].map(String::from),
    );
    words.push("planledger chart indicators".into());
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.dedup();
    words
}

/// The ASCII words left in `text` once ids, names, hex hashes and flags are taken out.
fn english_words(text: &str, allowed: &[String]) -> Vec<String> {
    let mut t = text.to_string();
    for w in allowed {
        if w.chars().any(|c| c.is_ascii_alphabetic()) {
            t = t.replace(w.as_str(), " ");
        }
    }
    let mut found = Vec::new();
    for token in t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == ':')) {
        // Hashes and event ids (UUIDs) are hex; times are ISO 8601 (2021-03-05T10:00:00Z).
        let is_hex = token.len() >= 8 && token.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        let is_time = token.starts_with(|c: char| c.is_ascii_digit())
            && token.chars().all(|c| c.is_ascii_digit() || "-:.TZ".contains(c));
        let is_flag = token.starts_with("--");
        if token.chars().any(|c| c.is_ascii_alphabetic()) && !is_hex && !is_time && !is_flag {
            found.push(token.to_string());
        }
    }
    found.sort();
    found.dedup();
    found.truncate(20);
    found
}

#[test]
fn zh_output_of_every_command_has_no_english_words() {
    let env = guancheng();
    let mut allowed = allowed_words(&env);
    let dir = env.tmp.path();
    let snap = dir.join("快照.json");
    allowed.insert(0, snap.to_str().unwrap().to_string());
    env.run(&["snapshot", "--as-of", "1000", "--out", snap.to_str().unwrap()]).ok();
    let commands: Vec<Vec<&str>> = vec![
        vec!["state"],
        vec!["state", "--lagging", "--at", "2021-06-30"],
        vec!["state", "--level", "省"],
        vec!["summary", "--year", "2021"],
        vec!["summary", "--year", "2021", "--format", "md"],
        vec!["summary", "--year", "2021", "--by", "level", "--by", "construction"],
        vec!["summary", "--year", "2021", "--by", "status"],
        vec!["summary", "--year", "2021", "--monthly"],
        vec!["summary", "--year", "2021", "--monthly", "--by", "level", "--format", "md"],
        vec!["summary", "--year", "2021", "--monthly", "--by", "project", "--format", "csv"],
        vec!["report", "--year", "2021"],
        vec!["audit"],
        vec!["audit", "--format", "csv"],
        vec!["diff", "1000"],
        vec!["diff", snap.to_str().unwrap()],
        vec!["log"],
        vec!["verify"],
        vec!["time-zone"],
        vec!["snapshot", "verify", snap.to_str().unwrap()],
    ];
    let mut bad = Vec::new();
    for args in &commands {
        let out = zh(&env, args);
        assert!(!out.is_empty(), "{args:?} printed nothing");
        assert!(!out.contains('\t'), "{args:?} separates columns with tabs");
        let words = english_words(&out, &allowed);
        if !words.is_empty() {
            bad.push(format!("{args:?}: {words:?}"));
        }
    }
    // Errors too, each on one line.
    for (args, code) in [
        (vec!["state", "--project", "baixing-road-primay"], 3),
        (vec!["summary", "--year", "2021", "--by", "nope"], 3),
        (vec!["summary", "--year", "1999"], 3),
        (vec!["audit", "--since", "yesterday"], 3),
        (vec!["stat"], 2),
        (vec!["state", "--bogus"], 2),
    ] {
        let mut all = vec!["--lang", "zh"];
        all.extend_from_slice(&args);
        let err = env.run(&all).fails(code, "planledger: ").stderr;
        assert_eq!(err.lines().count(), 1, "{err}");
        // What the user typed and the commands suggested are theirs and ours to keep.
        let mut allowed = allowed.clone();
        allowed.extend(args.iter().map(|a| a.to_string()));
        allowed.extend(["state", "template"].map(String::from));
        allowed.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let words = english_words(&err.replace("planledger", " "), &allowed);
        if !words.is_empty() {
            bad.push(format!("error of {args:?}: {words:?}: {err}"));
        }
    }
    assert!(bad.is_empty(), "English words in zh output:\n{}", bad.join("\n"));
}

#[test]
fn the_language_comes_from_the_flag_the_environment_or_the_locale() {
    let env = guancheng();
    let by_flag = env.run(&["--lang", "zh", "verify"]).ok().stdout;
    assert!(by_flag.starts_with("通过："), "{by_flag}");
    let mut c = std::process::Command::new(common::BIN);
    c.args(["--store", env.store().to_str().unwrap(), "verify"]);
    c.env_remove("PLANLEDGER_LANG").env_remove("LC_ALL").env_remove("LC_MESSAGES").env("LANG", "zh_CN.UTF-8");
    let by_locale = String::from_utf8(c.output().unwrap().stdout).unwrap();
    assert!(by_locale.starts_with("通过："), "{by_locale}");
    c.env("PLANLEDGER_LANG", "en");
    let by_env = String::from_utf8(c.output().unwrap().stdout).unwrap();
    assert!(by_env.starts_with("ok: "), "{by_env}");
    env.run(&["--lang", "fr", "verify"]).fails(3, "--lang 'fr' is not zh or en");
}

#[test]
fn help_is_chinese_for_every_command() {
    let env = Env::new();
    let top = zh(&env, &["--help"]);
    assert!(top.starts_with("事件溯源的政府发展计划执行台账"), "{top}");
    assert!(top.contains("用法：") && top.contains("命令") && top.contains("选项"), "{top}");
    let commands = common::help_commands(&top, "命令:");
    assert!(commands.len() > 20, "{commands:?}");
    for c in &commands {
        let h = zh(&env, &[c, "--help"]);
        let first = h.lines().next().unwrap_or_default();
        assert!(first.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)), "{c}: {first}");
        assert!(h.contains("显示帮助"), "{c}: {h}");
    }
}

/// Columns of a text table start at the same display column on every line.
#[test]
fn chinese_tables_line_up_by_display_width() {
    let env = guancheng();
    let out = zh(&env, &["state", "--dept", "education"]);
    // The 2021 plan's project list: its header, then a row per project until the next plan.
    let lines: Vec<&str> =
        out.lines().skip_while(|l| l.trim() != "项目").skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(lines.len() > 3, "{out}");
    // The 级别 column starts where its header does, whatever the names before it.
    let col = |l: &str, needle: &str| l.find(needle).map(|i| unicode_width::UnicodeWidthStr::width(&l[..i]));
    let header = col(lines[0], "级别").unwrap();
    for l in &lines[1..] {
        let level = [" 省 ", " 市 ", " 县 ", " 区 "].iter().filter_map(|n| col(l, n)).min();
        assert_eq!(level.map(|c| c + 1), Some(header), "{l}\n{out}");
    }
}

#[test]
fn the_monthly_view_puts_months_in_columns_against_the_plan_and_the_schedule() {
    let env = guancheng();
    let at = ["--at", "2021-04-30"];
    let json: Value = serde_json::from_str(
        &env.run(&[&["--json", "summary", "--year", "2021", "--monthly", "--by", "level"][..], &at].concat())
            .ok()
            .stdout,
    )
    .unwrap();
    let total = &json["total"];
    assert_eq!(total["planned_investment"], "622.4");
    assert_eq!(total["months"].as_array().unwrap().len(), 4, "January to April");
    assert_eq!(total["months"][3]["schedule_pct"], "33.3");
    // The months add up to the total, exactly.
    let sum: rust_decimal::Decimal = total["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["completed_investment"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(sum.to_string(), total["completed_investment"].as_str().unwrap());
    assert_eq!(json["rows"][0]["key"], "province", "levels top down");
    let text = zh(&env, &[&["summary", "--year", "2021", "--monthly", "--by", "level"][..], &at].concat());
    assert!(text.contains("序时进度") && text.contains("4月") && text.contains("省"), "{text}");
    let md = zh(&env, &[&["summary", "--year", "2021", "--monthly", "--format", "md"][..], &at].concat());
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&md, opts));
    assert_eq!(html.matches("<table>").count(), 1, "{html}");
    assert!(!html.contains("<em>"), "a lagging month's * is not emphasis: {html}");
    assert!(html.contains("<td>区教育局</td>") || html.contains("education 区教育局"), "{html}");
    env.run(&["summary", "--year", "2021", "--monthly", "--by", "nope"]).fails(3, "nope");
}

#[test]
fn audit_and_diff_name_what_changed_and_why() {
    let env = guancheng();
    let audit = zh(&env, &["audit", "--entity", "gdp-growth"]);
    assert!(audit.contains("地区生产总值增长") && audit.contains("2021年") && audit.contains("实际值："), "{audit}");
    let diff = zh(&env, &["diff", "2000"]);
    assert!(diff.starts_with("从序号 2000 到序号"), "{diff}");
    assert!(diff.contains("合计") && diff.contains("完成投资"), "{diff}");
    let json: Value = serde_json::from_str(&env.run(&["--json", "diff", "2000"]).ok().stdout).unwrap();
    let change = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entity"] == "baixing-road-primary" && c["field"] == "completed_investment")
        .unwrap()
        .clone();
    // The one event that made the change: an investment of that project after seq 2000.
    let seq = change["event"].as_u64().unwrap();
    assert!(seq > 2000, "{change}");
    let shown: Value = serde_json::from_str(&env.run(&["show", &seq.to_string()]).ok().stdout).unwrap();
    assert_eq!((shown["type"].as_str(), shown["project"].as_str()), (Some("investment"), Some("baixing-road-primary")));
    assert!(change["events"].as_array().unwrap().contains(&seq.into()));
    let totals = json["totals"].as_array().unwrap();
    let completed = totals.iter().find(|t| t["field"] == "completed_investment").unwrap();
    assert_eq!(completed["after"], "694");
}
