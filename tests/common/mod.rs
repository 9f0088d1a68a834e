//! Helpers for tests that drive the real `planledger` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod pg;
pub mod serve;

pub const BIN: &str = env!("CARGO_BIN_EXE_planledger");

/// A scratch store (a directory, or under `on_postgres` a fresh PostgreSQL ledger) plus the
/// files a test writes beside it.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub now: Option<String>,
    /// The PostgreSQL ledger's URL, when the test runs on that backend.
    pub url: Option<String>,
}

thread_local! {
    /// Set while `on_postgres` runs a test: its `Env`s are PostgreSQL ledgers.
    static ON_POSTGRES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `test`, written for the embedded store, against PostgreSQL: every `Env` it makes is
/// a new ledger in this test process's cluster (`pg::shared`), given to each command as
/// `--store postgresql://…?ledger=NAME`. `None` at once when the suite is skipped.
pub fn on_postgres<T>(test: impl FnOnce() -> T) -> Option<T> {
    if pg::skipped() {
        return None;
    }
    ON_POSTGRES.with(|c| c.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_POSTGRES.with(|c| c.set(false));
        }
    }
    let _reset = Reset;
    Some(test())
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success, got {}: {}{}", self.code, self.stderr, self.stdout);
        self
    }

    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        assert!(self.stderr.starts_with("planledger: "), "stderr: {}", self.stderr);
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "one line expected: {}", self.stderr);
        assert!(self.stderr.contains(needle), "stderr {:?} lacks {:?}", self.stderr, needle);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Env {
    pub fn new() -> Env {
        let url = ON_POSTGRES.with(|c| c.get()).then(pg::fresh_ledger);
        Env { tmp: tempfile::tempdir().unwrap(), now: Some("2022-12-31T12:00:00Z".into()), url }
    }

    /// A scratch directory for files, and the store at `url` (a PostgreSQL ledger).
    pub fn at_url(url: &str) -> Env {
        Env { tmp: tempfile::tempdir().unwrap(), now: Some("2022-12-31T12:00:00Z".into()), url: Some(url.into()) }
    }

    /// `--store`: the directory, or the PostgreSQL ledger's URL.
    pub fn store(&self) -> PathBuf {
        match &self.url {
            Some(url) => PathBuf::from(url),
            None => self.tmp.path().join("store"),
        }
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_at(self.now.as_deref(), args)
    }

    pub fn run_at(&self, now: Option<&str>, args: &[&str]) -> Run {
        let mut c = Command::new(BIN);
        c.arg("--store").arg(self.store()).args(args);
        c.env_remove("PLANLEDGER_STORE").env_remove("PLANLEDGER_NOW").env_remove("PLANLEDGER_LANG");
        if let Some(n) = now {
            c.env("PLANLEDGER_NOW", n);
        }
        output(c.output().unwrap())
    }

    /// The whole log as JSON lines: compared before and after refused commands.
    pub fn log(&self) -> String {
        self.run(&["log", "--json"]).ok().stdout
    }

    /// seq → event id of the whole log: to check that acknowledged events are all there.
    pub fn ids_by_seq(&self) -> std::collections::HashMap<u64, String> {
        self.log()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["seq"].as_u64().unwrap(), v["id"].as_str().unwrap().to_string())
            })
            .collect()
    }

    #[track_caller]
    pub fn assert_verifies(&self) -> serde_json::Value {
        let v = self.run(&["verify", "--json"]).ok().json();
        assert_eq!(v["ok"], true, "{v}");
        v
    }

    pub fn import(&self, text: &str) -> Run {
        let p = self.file("plan.toml", text);
        self.run(&["plan", "import", p.to_str().unwrap(), "--as", "drc"])
    }

    pub fn submit(&self, actor: &str, args: &[&str]) -> Run {
        let mut v = vec!["submit", "--as", actor];
        v.extend_from_slice(args);
        self.run(&v)
    }

    pub fn submit_file(&self, actor: &str, jsonl: &str) -> Run {
        let p = self.file("batch.jsonl", jsonl);
        self.run(&["submit", "--as", actor, "--file", p.to_str().unwrap()])
    }

    pub fn state(&self) -> serde_json::Value {
        self.run(&["state", "--json"]).ok().json()
    }
}

pub fn output(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A small plan worked by hand in the tests: two projects (one provincial, one district)
/// and two indicators (a rate and an amount), three departments.
pub const PLAN_2022: &str = r#"
[plan]
id = "test-2022"
year = 2022
title = "测试区2022年计划"
jurisdiction = "测试区"

[[departments]]
id = "drc"
name = "发改委"
coordinator = true

[[departments]]
id = "stats"
name = "统计局"

[[departments]]
id = "housing"
name = "住建局"

[[indicators]]
id = "gdp-growth"
name = "地区生产总值增长"
unit = "%"
measure = "rate"
comparison = "at-least"
approximate = true
nature = "expected"
target = "7.5"
department = "stats"

[[indicators]]
id = "new-jobs"
name = "新增城镇就业"
unit = "人"
measure = "amount"
comparison = "at-least"
nature = "expected"
target = "12000"
department = "stats"

[[projects]]
id = "park"
name = "产业园"
level = "province"
department = "housing"
planned_investment = "10"
planned_milestones = ["start", "complete"]
dimensions = { block = "A", type = "新建" }

[[projects]]
id = "road"
name = "道路"
level = "district"
department = "housing"
planned_investment = "4"
started = "2021-05-01"
dimensions = { block = "B", type = "续建" }
"#;

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The commands a `--help` lists under `heading` ("Commands:" or "命令:"), `help` left out.
pub fn help_commands(help: &str, heading: &str) -> Vec<String> {
    help.split(heading)
        .nth(1)
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

/// A store with the test plan, keys for drc (coordinator), housing and stats, and an auditor.
pub fn bootstrap() -> (Env, Keys) {
    let env = Env::new();
    let keys = bootstrap_in(&env);
    (env, keys)
}

/// `bootstrap`'s plan, keys and registrations, in the store of `env`.
pub fn bootstrap_in(env: &Env) -> Keys {
    env.import(PLAN_2022).ok();
    let key = |name: &str| {
        let p = env.tmp.path().join(format!("{name}.key"));
        env.run(&["dept", "keygen", "--out", path_str(&p)]).ok();
        path_str(&p).to_string()
    };
    let keys = Keys { drc: key("drc"), housing: key("housing"), stats: key("stats"), auditor: key("auditor") };
    env.run(&["dept", "register", "drc", "--public-key", &keys.drc, "--as", "drc"]).ok();
    for (who, k) in [("housing", &keys.housing), ("stats", &keys.stats)] {
        env.run(&["--key", &keys.drc, "dept", "register", who, "--public-key", k, "--as", "drc"]).ok();
    }
    env.run(&[
        "--key",
        &keys.drc,
        "dept",
        "register",
        "audit-office",
        "--role",
        "auditor",
        "--public-key",
        &keys.auditor,
        "--as",
        "drc",
    ])
    .ok();
    keys
}

/// Key files (paths) of the principals `bootstrap` registers.
pub struct Keys {
    pub drc: String,
    pub housing: String,
    pub stats: String,
    pub auditor: String,
}
