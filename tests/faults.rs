//! Faults of the machine, not of the input: a disk that fills up. Needs a filesystem of its
//! own to fill: a small tmpfs, mounted here (as root, as CI runs); where none can be mounted
//! the test says so and does nothing else.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(Mount(at.to_path_buf()))
}

fn free_bytes(p: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Leaves `free` bytes free on the filesystem of `dir`, with a filler file.
fn fill_to(dir: &Path, free: u64) {
    let filler = dir.join("filler");
    let now = free_bytes(dir) + std::fs::metadata(&filler).map(|m| m.len()).unwrap_or(0);
    let size = now.saturating_sub(free);
    std::fs::write(&filler, vec![0u8; size as usize]).unwrap();
}

/// A disk that fills up while departments submit: the commit that would cut into the
/// reserve is refused with a clear line and nothing written; on the still-full disk reads go
/// on and writes refuse cleanly; the store is never damaged, and once space is back it
/// opens and takes writes with no repair.
#[test]
fn a_full_disk_refuses_writes_cleanly_and_never_damages_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = match mount_tmpfs(tmp.path(), "48m") {
        Ok(m) => m,
        Err(e) => {
            println!("a_full_disk_refuses_writes_cleanly: skipped, no tmpfs could be mounted here ({e})");
            return;
        }
    };
    let env = Env::new();
    let store = mount.0.join("store");
    let run = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.arg("--store").arg(&store).args(args).env_remove("PLANLEDGER_NOW").env_remove("PLANLEDGER_STORE");
        output(c.output().unwrap())
    };
    let plan = env.file("plan.toml", PLAN_2022);
    run(&["plan", "import", path_str(&plan), "--as", "drc"]).ok();
    let first = run(&[
        "--json",
        "submit",
        "--as",
        "housing",
        "investment",
        "--project",
        "park",
        "--period",
        "2022-03",
        "--amount",
        "1",
    ])
    .ok()
    .json()["seq"]
        .as_u64()
        .unwrap();
    let lines: String = (0..2_000)
        .map(|i| {
            format!(
                "{{\"type\":\"correct\",\"event\":\"{first}\",\"value\":\"{}.{:02}\",\"reason\":\"{}\"}}\n",
                2 + i / 100,
                i % 100,
                "核".repeat(300)
            )
        })
        .collect();
    let batch = env.file("many.jsonl", &lines);
    // Room for a few batches beyond the reserve.
    fill_to(&mount.0, (16 << 20) + (600 << 10));
    let mut refused = None;
    for _ in 0..50 {
        let r = run(&["submit", "--as", "drc", "--batch", "500", "--file", path_str(&batch)]);
        if r.code != 0 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("the disk never filled up");
    assert!(
        refused.stderr.contains("in reserve") && refused.stderr.contains("nothing was written"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1);
    let acknowledged = run(&["log"]).ok().stdout.lines().count();
    run(&["verify"]).ok();
    // Fuller still, below the reserve: reads go on (they write nothing to the store), writes
    // refuse cleanly, and nothing is damaged.
    fill_to(&mount.0, 8 << 20);
    run(&["state"]).ok();
    run(&["verify"]).ok();
    let r =
        run(&["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-04", "--amount", "1"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in reserve"), "{}", r.stderr);
    // Space back: the store opens, holds exactly what was acknowledged, and takes writes.
    std::fs::remove_file(mount.0.join("filler")).unwrap();
    assert_eq!(run(&["log"]).ok().stdout.lines().count(), acknowledged);
    run(&["verify"]).ok();
    run(&["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-04", "--amount", "1"]).ok();
    run(&["verify"]).ok();
}

/// An auditor reads a store on read-only media: a read-only bind mount of the store, where
/// nothing can be created or locked. Every read works; a write is refused.
#[test]
fn a_store_on_read_only_media_is_read() {
    let env = Env::new();
    env.import(PLAN_2022).ok();
    env.submit("housing", &["investment", "--project", "park", "--period", "2022-03", "--amount", "1"]).ok();
    let ro = env.tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let bind = Command::new("mount").arg("--bind").arg(env.store()).arg(&ro).output().unwrap();
    if !bind.status.success() {
        println!(
            "a_store_on_read_only_media_is_read: skipped, no bind mount here ({})",
            String::from_utf8_lossy(&bind.stderr).trim()
        );
        return;
    }
    let _mount = Mount(ro.clone());
    let remount = Command::new("mount").args(["-o", "remount,ro,bind"]).arg(&ro).status().unwrap();
    assert!(remount.success());
    assert!(std::fs::write(ro.join("probe"), b"x").is_err(), "the mount is read-only");
    let run = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.arg("--store").arg(&ro).args(args).env_remove("PLANLEDGER_NOW").env_remove("PLANLEDGER_STORE");
        output(c.output().unwrap())
    };
    let local = env.run(&["state", "--json"]).ok().stdout;
    assert_eq!(run(&["state", "--json"]).ok().stdout, local);
    run(&["verify"]).ok();
    run(&["summary", "--year", "2022"]).ok();
    run(&["audit"]).ok();
    let w =
        run(&["submit", "--as", "housing", "investment", "--project", "park", "--period", "2022-04", "--amount", "1"]);
    assert_ne!(w.code, 0, "a write to read-only media is refused");
}
