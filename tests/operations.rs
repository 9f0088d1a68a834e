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
    // Compressed, and readable with zstd.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], &[0x28, 0xB5, 0x2F, 0xFD], "a zstd frame");
    // One event altered: refused, and nothing left behind.
    let text = unzstd(&file);
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
    run_in(&target, &["restore", cut.to_str().unwrap()]).fails(3, "line 51: the file ends after 49 of the");
    assert!(!target.exists());
    // The uncompressed text restores as well as the compressed file.
    let plain = env.file("plain.jsonl", &text);
    run_in(&target, &["restore", plain.to_str().unwrap()]).ok();
}

/// The text of a zstd-compressed file.
fn unzstd(path: &std::path::Path) -> String {
    String::from_utf8(zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap()).unwrap()
}

/// Writes `text` zstd-compressed, as the binary writes its archives.
fn zstd_file(env: &Env, name: &str, text: &str) -> std::path::PathBuf {
    let path = env.tmp.path().join(name);
    std::fs::write(&path, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    path
}

fn log_json(dir: &std::path::Path) -> Vec<u8> {
    let out = Command::new(BIN).args(["--store", dir.to_str().unwrap(), "log", "--json"]).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// export-log → import-log gives byte-identical events, the same head and Merkle root, plain
/// or compressed; each line carries the event as JSON, and an edited one is refused; the
/// imported store reads and verifies but cannot sign.
#[test]
fn an_exported_log_imports_to_the_same_events_and_an_edited_one_to_nothing() {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    let key = env.run(&["key"]).ok().stdout;
    for name in ["日志.jsonl", "日志.jsonl.zst"] {
        let file = env.tmp.path().join(name);
        let said = env.run(&["--json", "export-log", "--out", file.to_str().unwrap()]).ok().json();
        let dir = env.tmp.path().join(format!("imported-{name}"));
        let back = run_in(&dir, &["--json", "import-log", file.to_str().unwrap()]).ok().json();
        assert_eq!((back["head"].clone(), back["root"].clone()), (said["head"].clone(), said["root"].clone()));
        assert!(log_json(&env.store()) == log_json(&dir), "the same events, byte for byte");
        run_in(&dir, &["verify"]).ok();
        assert_eq!(run_in(&dir, &["key"]).ok().stdout, key, "the ledger's public key came along");
        run_in(&dir, &["checkpoint"]).fails(3, "holds only the ledger's public key");
        assert!(!dir.join("ledger.key").exists(), "no new key was made");
    }
    // Readable without our code: the header, then each event as `log --json` shows it.
    let text = std::fs::read_to_string(env.tmp.path().join("日志.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["format"], "planledger-log/1");
    assert_eq!(header["ledger_public_key"].as_str().unwrap(), key.trim());
    let first_log_line = String::from_utf8(log_json(&env.store())).unwrap().lines().next().unwrap().to_string();
    let line1: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(line1["envelope"], serde_json::from_str::<serde_json::Value>(&first_log_line).unwrap());
    // The envelope edited (an actor renamed), the bytes left: refused, nothing written.
    let edited = text.replacen("\"actor\":\"drc\"", "\"actor\":\"audit\"", 1);
    assert_ne!(edited, text);
    let edited = env.file("edited.jsonl", &edited);
    let target = env.tmp.path().join("never");
    run_in(&target, &["import-log", edited.to_str().unwrap()])
        .fails(1, "line 2: the event at seq 1 is not what its line shows");
    assert!(!target.exists(), "nothing written");
    // A backup is not an exported log.
    let backup = env.tmp.path().join("b");
    env.run(&["backup", "--out", backup.to_str().unwrap()]).ok();
    run_in(&target, &["import-log", backup.to_str().unwrap()]).fails(3, "not an exported planledger log");
    assert!(!target.exists());
}

/// bundle --as-of → verify --bundle on a machine with no store: the signed tree head, the
/// chain, the key registry and the snapshot are checked; every read command answers from
/// it as the ledger answered at that point; nothing can be written; an altered bundle is
/// refused whichever part was touched.
#[test]
fn an_audit_bundle_verifies_offline_and_answers_as_the_ledger_did_then() {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    let file = env.tmp.path().join("审计包.plbundle");
    let made = env.run(&["--json", "bundle", "--as-of", "1500", "--out", file.to_str().unwrap()]).ok().json();
    assert_eq!(made["events"], 1500);
    let bundle = file.to_str().unwrap();
    // No store at all: the auditor's machine.
    let nowhere = env.tmp.path().join("no-store");
    let v = run_in(&nowhere, &["--bundle", bundle, "--json", "verify"]).ok().json();
    assert_eq!((v["ok"].clone(), v["events"].clone()), (true.into(), 1500.into()));
    assert_eq!(v["bundle"]["tree_head"]["size"], 1500);
    assert_eq!(v["bundle"]["tree_head"]["public_key"].as_str().unwrap(), env.run(&["key"]).ok().stdout.trim());
    assert!(!nowhere.exists(), "reading a bundle writes no store");
    let zh = run_in(&nowhere, &["--bundle", bundle, "--lang", "zh", "verify"]).ok().stdout;
    assert!(zh.contains("审计包") && zh.contains("1500 个事件") && zh.contains("均已核对"), "{zh}");
    // Read commands answer as the ledger does at that point.
    for args in [
        &["summary", "--year", "2021", "--json"][..],
        &["state", "--plan", "guancheng-2021", "--json"],
        &["audit", "--entity", "example-district-140"],
        &["log", "--json"],
    ] {
        let then = env.run(&[args, &["--as-of", "1500"]].concat()).ok().stdout;
        let from_bundle = run_in(&nowhere, &[&["--bundle", bundle][..], args].concat()).ok().stdout;
        assert_eq!(from_bundle, then, "{args:?}");
    }
    // Nothing can be written to a bundle.
    for args in [&["submit", "--as", "drc", "--file", "x.jsonl"][..], &["checkpoint"], &["time-zone", "--set", "UTC"]] {
        run_in(&nowhere, &[&["--bundle", bundle][..], args].concat())
            .fails(3, "--bundle works with read commands only");
    }
    // Altered: the contents, the tree head's signature, the header's root. Each refused.
    let text = unzstd(&file);
    let last = text.lines().last().unwrap();
    assert!(last.contains("planledger-bundle-contents/1"));
    let altered_sum = text.replacen("\"completed_investment\":\"338.16\"", "\"completed_investment\":\"338.17\"", 1);
    let sig = made["root"].as_str().unwrap();
    let header = text.lines().next().unwrap();
    let tree_sig = serde_json::from_str::<serde_json::Value>(header).unwrap()["tree_head"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let mut flipped = tree_sig.clone();
    flipped.replace_range(0..1, if &tree_sig[..1] == "0" { "1" } else { "0" });
    for (name, altered, says) in [
        ("summary", altered_sum, "snapshot is not what its events fold to"),
        ("signature", text.replacen(&tree_sig, &flipped, 1), "tree head signature does not verify"),
        ("root", text.replacen(sig, &"0".repeat(64), 1), "nothing was restored"),
        ("cut", text.lines().take(1400).collect::<Vec<_>>().join("\n") + "\n", "it is cut"),
    ] {
        assert_ne!(altered, text, "{name}: the alteration took");
        let f = zstd_file(&env, &format!("{name}.plbundle"), &altered);
        let r = run_in(&nowhere, &["--bundle", f.to_str().unwrap(), "verify"]);
        assert!(r.code != 0 && r.stderr.contains(says), "{name}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{name}: nothing read from it: {}", r.stdout);
    }
}
