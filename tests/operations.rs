//! What IT staff install beside the binary, made by the binary itself and checked as the
//! tools that use them would: shell completions, the manual pages, the systemd unit.

mod common;

use std::process::Command;

use common::{Env, BIN};

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
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
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
