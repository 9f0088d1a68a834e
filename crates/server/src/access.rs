//! The access log: one JSON line per gRPC call and per web view request (docs/operations.md,
//! "The access log"), written to a file (one `write` per line, appended) or to stderr
//! (journald under systemd).
//!
//! The file is rotated here rather than through a logging crate: at the first line of a new
//! day (UTC) the file is renamed `NAME.YYYY-MM-DD` (the day it covers) and a new one opened
//! under the configured name, so the live file keeps one path (`tail -f`, a collecting
//! agent); files older than the retention are removed at each rotation and at start. (The
//! `tracing-appender` crate names the live file by its date, counts files rather than days,
//! and brings `tracing-subscriber`; this is ~150 lines.)
//!
//! No line holds a signature, a token, a key's secret or a request's body: the fields are
//! typed values set where they exist (the principal from the registered key the signature
//! verified against, the key's id as the first 16 hex digits of its public key, a web
//! token's public id).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use planledger::error::{Error, Result};
use planledger::msg;

use crate::metrics::METRICS;

/// What became of a call: `ok`, or why it was refused or failed. The code in the log and in
/// the metrics' labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// No signature, a bad or stale one, an unknown or revoked key, a replayed nonce; a web
    /// request without a valid token.
    Unauthenticated,
    /// A verified caller whose role may not make the call, or a submission its principal may
    /// not make.
    PermissionDenied,
    /// A malformed request or a submission the rules refuse.
    Invalid,
    /// A stale expected version, an id reused with other content.
    Conflict,
    /// No such page (web).
    NotFound,
    /// The store cannot serve (in use, format).
    Unavailable,
    /// Damage found while answering.
    DataLoss,
    /// The client went away before the answer was whole.
    Cancelled,
    /// Anything else: a failure of ours or of the machine.
    Internal,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Unauthenticated,
        Outcome::PermissionDenied,
        Outcome::Invalid,
        Outcome::Conflict,
        Outcome::NotFound,
        Outcome::Unavailable,
        Outcome::DataLoss,
        Outcome::Cancelled,
        Outcome::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::PermissionDenied => "permission_denied",
            Outcome::Invalid => "invalid",
            Outcome::Conflict => "conflict",
            Outcome::NotFound => "not_found",
            Outcome::Unavailable => "unavailable",
            Outcome::DataLoss => "data_loss",
            Outcome::Cancelled => "cancelled",
            Outcome::Internal => "internal",
        }
    }

    /// Counted in `planledger_refusals_total`: everything but success and a client leaving.
    pub fn is_refusal(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Cancelled)
    }

    /// The outcome a gRPC status stands for.
    pub fn of_code(code: tonic::Code) -> Outcome {
        use tonic::Code;
        match code {
            Code::Ok => Outcome::Ok,
            Code::Unauthenticated => Outcome::Unauthenticated,
            Code::PermissionDenied => Outcome::PermissionDenied,
            Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => Outcome::Invalid,
            Code::Aborted | Code::AlreadyExists => Outcome::Conflict,
            Code::NotFound => Outcome::NotFound,
            Code::Unavailable | Code::ResourceExhausted => Outcome::Unavailable,
            Code::DataLoss => Outcome::DataLoss,
            Code::Cancelled | Code::DeadlineExceeded => Outcome::Cancelled,
            Code::Unknown | Code::Internal | Code::Unimplemented => Outcome::Internal,
        }
    }

    /// The outcome of a web response's status.
    pub fn of_http(status: u16) -> Outcome {
        match status {
            200..=399 => Outcome::Ok,
            401 => Outcome::Unauthenticated,
            403 => Outcome::PermissionDenied,
            404 | 405 => Outcome::NotFound,
            400..=499 => Outcome::Invalid,
            503 => Outcome::Unavailable,
            _ => Outcome::Internal,
        }
    }
}

/// Where the access log goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// No access log (benchmarks; not for production).
    Off,
    Stderr,
    /// A file, rotated daily, files older than `retention_days` removed.
    File {
        path: PathBuf,
        retention_days: u32,
    },
}

/// Days a rotated file is kept by default: 等保 2.0 asks for at least six months of logs.
pub const RETENTION_DAYS_DEFAULT: u32 = 180;

/// The open access log.
pub struct AccessLog {
    to: Sink,
    /// The store served, on every line.
    store: String,
}

enum Sink {
    Off,
    Stderr,
    File(Mutex<Rotating>),
}

impl AccessLog {
    /// Opens the log (a file: created if absent, appended to; an old day's file rotated and
    /// expired files removed now). An unwritable file is an error naming it.
    pub fn open(to: &Destination, store: &str) -> Result<AccessLog> {
        let to = match to {
            Destination::Off => Sink::Off,
            Destination::Stderr => Sink::Stderr,
            Destination::File { path, retention_days } => {
                Sink::File(Mutex::new(Rotating::open(path.clone(), *retention_days, Utc::now())?))
            }
        };
        Ok(AccessLog { to, store: store.to_string() })
    }

    pub fn is_off(&self) -> bool {
        matches!(self.to, Sink::Off)
    }

    /// Writes one entry as one line; a failure is counted (`planledger_access_log_errors_total`)
    /// and said once on stderr, never fails the call it records.
    pub fn write(&self, entry: &Entry) {
        if self.is_off() {
            return;
        }
        let now = Utc::now();
        let mut line = entry.json(now, &self.store);
        line.push('\n');
        let written = match &self.to {
            Sink::Off => Ok(()),
            Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Sink::File(f) => f.lock().unwrap_or_else(|p| p.into_inner()).write(line.as_bytes(), now),
        };
        if let Err(e) = written {
            if METRICS.access_log_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                eprintln!("planledger: {}", Error::io(msg!("access.write_failed"), e));
            }
        }
    }
}

/// One access log line's facts. `principal` and `key_id` are set only from a verified
/// signature (gRPC) or a valid token (web).
#[derive(Clone, Debug)]
pub struct Entry {
    pub started: Instant,
    pub peer: Option<std::net::SocketAddr>,
    /// `grpc` or `web`.
    pub via: &'static str,
    /// The gRPC method, or the web request's path (never its query: a login link holds a token).
    pub rpc: String,
    pub principal: Option<String>,
    pub role: Option<&'static str>,
    /// A signing key's first 16 hex digits, or a web token's public id.
    pub key_id: Option<String>,
    pub outcome: Outcome,
    /// The web response's HTTP status.
    pub status: Option<u16>,
    /// The seqs an append wrote, first and last.
    pub seqs: Option<(u64, u64)>,
}

impl Entry {
    pub fn new(via: &'static str, rpc: impl Into<String>, peer: Option<std::net::SocketAddr>) -> Entry {
        Entry {
            started: Instant::now(),
            peer,
            via,
            rpc: rpc.into(),
            principal: None,
            role: None,
            key_id: None,
            outcome: Outcome::Ok,
            status: None,
            seqs: None,
        }
    }

    fn json(&self, now: DateTime<Utc>, store: &str) -> String {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let line = Line {
            time: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            via: self.via,
            peer: self.peer.map(|p| p.to_string()),
            principal: self.principal.as_deref(),
            role: self.role,
            key_id: self.key_id.as_deref(),
            rpc: &self.rpc,
            store,
            outcome: self.outcome.code(),
            status: self.status,
            seqs: self.seqs.map(|(first, last)| format!("{first}..{last}")),
            events: self.seqs.map(|(first, last)| last + 1 - first),
            duration_ms: (ms * 1000.0).round() / 1000.0,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// An access log line as written: its keys in this order, `status` only for the web,
/// `seqs` and `events` only for an append that wrote.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    via: &'a str,
    peer: Option<String>,
    principal: Option<&'a str>,
    role: Option<&'a str>,
    key_id: Option<&'a str>,
    rpc: &'a str,
    store: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seqs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<u64>,
    duration_ms: f64,
}

/// The first 16 hex digits of a public key: enough to tell keys apart, and no secret.
pub fn key_id(public_key: &[u8]) -> String {
    let mut hex = planledger::codec::hex(public_key);
    hex.truncate(16);
    hex
}

/// A log file renamed at the turn of each day (UTC), old ones removed.
struct Rotating {
    path: PathBuf,
    retention_days: u32,
    file: File,
    day: NaiveDate,
}

impl Rotating {
    fn open(path: PathBuf, retention_days: u32, now: DateTime<Utc>) -> Result<Rotating> {
        let today = now.date_naive();
        // A file left by an earlier run on an earlier day is that day's file.
        if let Ok(meta) = std::fs::metadata(&path) {
            if let Ok(modified) = meta.modified() {
                let day = DateTime::<Utc>::from(modified).date_naive();
                if day < today && meta.len() > 0 {
                    rotate_away(&path, day)?;
                }
            }
        }
        let file = open_append(&path)?;
        let log = Rotating { path, retention_days, file, day: today };
        log.expire(today);
        Ok(log)
    }

    fn write(&mut self, line: &[u8], now: DateTime<Utc>) -> std::io::Result<()> {
        let today = now.date_naive();
        if today > self.day {
            self.rotate(today).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        // One write(2) of the whole line on an O_APPEND file: lines never interleave.
        self.file.write_all(line)
    }

    fn rotate(&mut self, today: NaiveDate) -> Result<()> {
        rotate_away(&self.path, self.day)?;
        self.file = open_append(&self.path)?;
        self.day = today;
        self.expire(today);
        Ok(())
    }

    /// Removes rotated files (`NAME.YYYY-MM-DD…`) of days more than `retention_days` ago.
    fn expire(&self, today: NaiveDate) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name().and_then(|n| n.to_str())) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let Some(oldest) = today.checked_sub_days(chrono::Days::new(u64::from(self.retention_days))) else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(day) = file_name
                .to_str()
                .and_then(|f| f.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|rest| rest.get(..10))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if day < oldest {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Renames `path` to `path.DAY` (`path.DAY.N` if that exists).
fn rotate_away(path: &Path, day: NaiveDate) -> Result<()> {
    let base = format!("{}.{}", path.display(), day.format("%Y-%m-%d"));
    let mut target = PathBuf::from(&base);
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    std::fs::rename(path, &target).map_err(|e| Error::io(msg!("io.cannot_write", path = target.display()), e))
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| Error::io(msg!("access.cannot_open", path = path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn at(day: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{day}T12:00:00Z")).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_file_turns_over_each_day_and_old_days_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        std::fs::write(dir.path().join("access.log.2026-01-01"), "old\n").unwrap();
        std::fs::write(dir.path().join("access.log.2026-11-30"), "recent\n").unwrap();
        std::fs::write(dir.path().join("other.2020-01-01"), "not ours\n").unwrap();
        let mut log = Rotating::open(path.clone(), 180, at("2026-12-01")).unwrap();
        assert!(!dir.path().join("access.log.2026-01-01").exists());
        assert!(dir.path().join("access.log.2026-11-30").exists());
        assert!(dir.path().join("other.2020-01-01").exists());
        log.write(b"one\n", at("2026-12-01")).unwrap();
        log.write(b"two\n", at("2026-12-02")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("access.log.2026-12-01")).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }

    #[test]
    fn a_line_holds_the_fields_and_nothing_else() {
        let mut e = Entry::new("grpc", "Append", "127.0.0.1:5000".parse().ok());
        e.principal = Some("housing".into());
        e.key_id = Some(key_id(&[0xab; 32]));
        e.seqs = Some((7, 9));
        let v: Value = serde_json::from_str(&e.json(Utc::now(), "/var/lib/planledger")).unwrap();
        assert_eq!(v["key_id"], "abababababababab");
        assert_eq!(v["seqs"], "7..9");
        assert_eq!(v["events"], 3);
        assert_eq!(v["outcome"], "ok");
        assert_eq!(v["peer"], "127.0.0.1:5000");
    }
}
