//! What IT staff install beside the binary, made by the binary itself and checked as the
//! tools that use them would: shell completions, the manual pages, the systemd unit.

mod common;

use std::process::Command;

use common::{output, Env, Run, BIN};

/// The CLI on the store at `dir` (not the test's own).
fn run_in(dir: &std::path::Path, args: &[&str]) -> Run {
    output(Command::new(BIN).arg("--store").arg(dir).args(args).env_remove("PLANLEDGER_LANG").output().unwrap())
}

#[test]
fn completions_for_each_shell_name_every_command() {
    let env = Env::new();
    for (shell, opening) in
        [("bash", "_planledger()"), ("zsh", "#compdef planledger"), ("fish", "complete -c planledger")]
    {
        let script = env.run(&["completions", shell]).ok().stdout;
        assert!(script.contains(opening), "{shell}: {}", &script[..script.len().min(200)]);
        for command in ["summary", "web-token", "report", "time-zone"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
    env.run(&["completions", "tcsh"]).fails(3, "'tcsh' is not bash, zsh or fish");
    // bash reads its script without an error.
    let script = env.run(&["completions", "bash"]).ok().stdout;
    let file = env.file("planledger.bash", &script);
    let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_manual_has_a_page_for_every_command() {
    let env = Env::new();
    let dir = env.tmp.path().join("man1");
    let said = env.run(&["man", "--out", dir.to_str().unwrap()]).ok().stdout;
    let pages: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(said.contains(&format!("wrote {} manual pages", pages.len())), "{said}");
    let main = std::fs::read_to_string(dir.join("planledger.1")).unwrap();
    assert!(main.lines().any(|l| l.starts_with(".TH PLANLEDGER 1")), "{}", &main[..200]);
    // Every command of `--help` has its page, and subcommands theirs.
    let help = env.run(&["--help"]).ok().stdout;
    let commands = common::help_commands(&help, "Commands:");
    assert!(commands.len() > 20, "{commands:?}");
    for c in &commands {
        assert!(pages.contains(&format!("planledger-{c}.1")), "no page for {c}");
    }
    assert!(pages.contains(&"planledger-plan-import.1".to_string()));
    let serve = std::fs::read_to_string(dir.join("planledger-serve.1")).unwrap();
    assert!(serve.contains("http"), "serve's page names --http");
}

/// `systemd-analyze verify` accepts the unit (with ExecStart pointing at the binary under
/// test), when this machine has systemd's tools.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dist/planledger.service")).unwrap();
    for needle in [
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/planledger",
        "PrivateTmp=true",
        "User=planledger",
    ] {
        assert!(unit.contains(needle), "the unit lacks {needle}");
    }
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: the unit's text was checked, not its verification");
        return;
    };
    assert!(out.status.success());
    let env = Env::new();
    let path = env.file("planledger.service", &unit.replace("/usr/bin/planledger", BIN));
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !said.contains("planledger.service:"), "{said}");
}

/// backup → restore gives the same log byte for byte (events, chain, Merkle root, the
/// ledger's key); an altered backup restores nothing; a non-empty target is refused.
#[test]
fn a_backup_restores_to_the_same_ledger_and_an_altered_one_to_nothing() {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    env.run(&["checkpoint"]).ok(); // makes the ledger's key, which the backup carries
    let file = env.tmp.path().join("备份.jsonl");
    let said = env.run(&["--json", "backup", "--out", file.to_str().unwrap()]).ok().json();
    let events = said["events"].as_u64().unwrap();
    assert!(events > 2_000);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "it holds the ledger's key");
    let restored = env.tmp.path().join("restored");
    let back = run_in(&restored, &["--json", "restore", file.to_str().unwrap()]).ok().json();
    assert_eq!((back["head"].clone(), back["root"].clone()), (said["head"].clone(), said["root"].clone()));
    let log = |dir: &std::path::Path| {
        let out = Command::new(BIN).args(["--store", dir.to_str().unwrap(), "log", "--json"]).output().unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert!(log(&env.store()) == log(&restored), "the same events, byte for byte");
    let key = |dir: &std::path::Path| {
        Command::new(BIN).args(["--store", dir.to_str().unwrap(), "key"]).output().unwrap().stdout
    };
    assert_eq!(key(&env.store()), key(&restored), "the same ledger key");
    // Into a store that exists: refused.
    run_in(&restored, &["restore", file.to_str().unwrap()]).fails(3, "is not empty");
    // One event altered: refused, and nothing left behind.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let line = &mut lines[100];
    let at = line.rfind('"').unwrap() - 2;
    let flipped = if &line[at..at + 1] == "0" { "1" } else { "0" };
    line.replace_range(at..at + 1, flipped);
    let altered = env.file("altered.jsonl", &(lines.join("\n") + "\n"));
    let target = env.tmp.path().join("never");
    let r = run_in(&target, &["restore", altered.to_str().unwrap()]);
    assert!(r.code == 1 || r.code == 3, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was restored") || r.stderr.contains("altered.jsonl line"), "{}", r.stderr);
    assert!(!target.exists(), "nothing written");
    // A cut backup: refused the same way.
    let cut = env.file("cut.jsonl", &(lines[..50].join("\n") + "\n"));
    run_in(&target, &["restore", cut.to_str().unwrap()]).fails(1, "the backup is incomplete or altered");
    assert!(!target.exists());
}
