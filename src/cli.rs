//! The command line: argument parsing, dispatch, output, and the one mapping from errors to
//! exit codes. stdout carries data; stderr carries `planledger: ...` diagnostics.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::clock::{Clock, FixedClock, SystemClock, V7Ids};
use crate::codec::hex;
use crate::decide::{Command, EventRef, Submission};
use crate::error::{Error, Result};
use crate::input;
use crate::ledger::{Ack, Ledger};
use crate::model::{Date, Timestamp};
use crate::query::{self, AsOf};
use crate::report;
use crate::store::{Store, BATCH_EVENTS_MAX};
use crate::{audit, proof, snapshot, summary};

/// Exit codes, documented in docs/cli.md.
pub mod exit {
    pub const OK: i32 = 0;
    /// `verify` found the log altered or damaged, or a read hit damaged bytes.
    pub const INTEGRITY: i32 = 1;
    /// Bad command line (unknown flag, missing argument).
    pub const USAGE: i32 = 2;
    /// Input refused: malformed file or value, unknown entity, rule broken. Nothing written.
    pub const INVALID: i32 = 3;
    /// The acting department may not do this. Nothing written.
    pub const FORBIDDEN: i32 = 4;
    /// Collides with what is recorded (id reused with other content, plan redefined).
    pub const CONFLICT: i32 = 5;
    /// The store cannot be opened: in use by another process, or of a newer format.
    pub const UNAVAILABLE: i32 = 6;
    /// I/O or storage engine failure.
    pub const IO: i32 = 7;
}

/// The one place errors become exit codes.
pub fn exit_code(e: &Error) -> i32 {
    match e.root() {
        Error::Invalid(_) | Error::Unknown { .. } => exit::INVALID,
        Error::Forbidden(_) => exit::FORBIDDEN,
        Error::Conflict(_) => exit::CONFLICT,
        Error::StoreInUse(_) | Error::FormatTooNew { .. } | Error::FormatTooOld { .. } | Error::NoStore(_) => {
            exit::UNAVAILABLE
        }
        Error::Corrupt { .. } => exit::INTEGRITY,
        Error::Sled(sled::Error::Corruption { .. }) | Error::Integrity(_) => exit::INTEGRITY,
        Error::Remote { code, .. } => *code,
        Error::Io { .. } | Error::Sled(_) => exit::IO,
        Error::At { .. } => unreachable!("root() unwraps locations"),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "planledger",
    version,
    about = "An event-sourced ledger for the execution of government development plans"
)]
pub struct Cli {
    /// Store directory [env: PLANLEDGER_STORE] [default: ./planledger-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,
    /// Talk to a planledger server instead of a local store [env: PLANLEDGER_SERVER]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// Sign what you submit with this key file (`dept keygen`) [env: PLANLEDGER_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// Print JSON on stdout (one document; JSON Lines for `log` and `submit`)
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Cmd {
    /// Plans: import a year's plan file
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Submit progress as a department: one event, or a JSONL file as one atomic batch
    Submit(SubmitArgs),
    /// Current state of every plan: projects, indicators, totals
    State(StateArgs),
    /// The event log, in order
    Log(LogArgs),
    /// Recompute the hash chain and check the log's invariants; exit 0 only if intact
    Verify(VerifyArgs),
    /// What a year's execution report states: totals, milestone rates, schedule, indicators
    Summary(SummaryArgs),
    /// Every change as an auditor reads it: who, when, before -> after, why, and the links
    Audit(AuditArgs),
    /// One event with its envelope, hash, and its entity just before and after it
    Show {
        /// Seq or id
        event: String,
    },
    /// Write a self-describing snapshot (state, summaries, seq, hash, Merkle root), or verify one
    Snapshot(SnapshotArgs),
    /// What changed between two points (snapshot files or --as-of points), and the events why
    Diff {
        /// A snapshot file, or a seq / RFC 3339 time
        a: String,
        /// A snapshot file, or a seq / RFC 3339 time (default: now)
        b: Option<String>,
    },
    /// Sign the current Merkle tree head (size, root, time) with the ledger's key
    Checkpoint {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the ledger's public key (ed25519, hex)
    Key,
    /// An inclusion proof of one event in the Merkle tree of the log
    Proof {
        /// Seq or id
        event: String,
        /// Prove against the tree of the first N events (e.g. a signed checkpoint's size)
        #[arg(long)]
        size: Option<u64>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check an inclusion proof file on its own, and against a signed checkpoint if given
    VerifyProof {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Serve this store over gRPC (proto/planledger/v1/ledger.proto) until SIGINT/SIGTERM
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:7420 (port 0: any free port)
        #[arg(long, value_name = "ADDR")]
        listen: String,
    },
    /// Events from a seq: catch-up, then live from a server (JSON Lines with --json)
    Subscribe {
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Stop after this many events
        #[arg(long)]
        count: Option<u64>,
    },
    /// Departments' and auditors' signing keys: make one, register one, revoke one
    #[command(subcommand)]
    Dept(DeptCmd),
    /// Build a fresh store from the embedded Guancheng example and print its state
    Demo,
}

#[derive(Subcommand, Debug)]
pub(crate) enum DeptCmd {
    /// Make an ed25519 key pair and write it to a new file (mode 0600)
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Register a principal's public key (a coordinator's act); `--role auditor` for a reader
    Register {
        /// Department id, or the id of a new auditor
        principal: String,
        /// Key file (from `dept keygen`) or a file with the public key in hex
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// auditor (the role of a department follows from the plan file)
        #[arg(long)]
        role: Option<String>,
        /// Acting department (a coordinator)
        #[arg(long = "as", value_name = "DEPT")]
        actor: String,
    },
    /// Revoke a principal's key (rotation: register the new key, then revoke the old)
    Revoke {
        principal: String,
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        #[arg(long)]
        reason: String,
        #[arg(long = "as", value_name = "DEPT")]
        actor: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Also prove that today's log extends the one this signed checkpoint covers
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Fail on any unsigned event after the first key registration
    #[arg(long)]
    require_signatures: bool,
}

#[derive(Args, Debug)]
pub(crate) struct SummaryArgs {
    #[arg(long)]
    year: i32,
    /// Only this plan (when a year has several)
    #[arg(long)]
    plan: Option<String>,
    /// Break down by a dimension of the plan file (block, type, sector, ...); twice for two levels
    #[arg(long, value_name = "DIMENSION")]
    by: Vec<String>,
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    as_of: Option<String>,
    /// Valid time: the state of the world on this date (default: the year's end, or today)
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
    /// text | md | csv (default text; --json for JSON)
    #[arg(long, default_value = "text")]
    format: String,
    /// zh | en
    #[arg(long, default_value = "en")]
    lang: String,
}

#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    /// A project, indicator, department or plan id
    #[arg(long)]
    entity: Option<String>,
    /// Acting department
    #[arg(long, value_name = "DEPT")]
    actor: Option<String>,
    /// Event type (investment, milestone, actual, revise-target, correct, retract, ...)
    #[arg(long = "type", value_name = "KIND")]
    kind: Option<String>,
    /// Recorded at or after this time
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Recorded at or before this time
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Transaction time: what the ledger had recorded then
    #[arg(long, value_name = "TIME|SEQ")]
    as_of: Option<String>,
    /// text | csv (default text; --json for JSON)
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Args, Debug)]
pub(crate) struct SnapshotArgs {
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) verify: Option<SnapshotCmd>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum SnapshotCmd {
    /// Recompute a snapshot from the ledger and say whether it matches
    Verify { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub(crate) enum PlanCmd {
    /// Import a plan file (TOML); re-importing the same file writes nothing
    Import {
        file: PathBuf,
        /// Acting department (must be a coordinator)
        #[arg(long = "as", value_name = "DEPT")]
        actor: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct SubmitArgs {
    /// Acting department
    #[arg(long = "as", value_name = "DEPT")]
    pub(crate) actor: String,
    /// A JSONL file of submissions, committed as one atomic batch
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) file: Option<PathBuf>,
    /// Commit the file in atomic batches of N lines, each durable on its own, deciding each
    /// batch while the one before is written: for imports larger than one batch may be.
    /// The file is parsed whole first; at a refused line, the batches before it stay
    /// recorded (their acks are printed) and nothing from its batch on is written
    #[arg(long, value_name = "N", requires = "file")]
    pub(crate) batch: Option<usize>,
    /// Optimistic concurrency: the stream must be at this version (e.g.
    /// plan/p-2022/project/park=3; 0: no event yet), else a conflict (exit 5); repeatable
    #[arg(long = "expect", value_name = "STREAM=VERSION")]
    pub(crate) expect: Vec<String>,
    #[command(subcommand)]
    pub(crate) kind: Option<Kind>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// Idempotency key (UUID); a UUID v7 is made when absent
    #[arg(long)]
    id: Option<String>,
    /// Free-text note stored with the event
    #[arg(long)]
    note: Option<String>,
}

#[derive(Subcommand, Debug, Clone)]
pub(crate) enum Kind {
    /// Investment completed by a project in one month (亿元)
    Investment {
        #[arg(long)]
        project: String,
        /// YYYY-MM
        #[arg(long)]
        period: String,
        /// 亿元, a non-negative decimal
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[command(flatten)]
        common: Common,
    },
    /// A project milestone reached: start, complete or operate
    Milestone {
        #[arg(long)]
        project: String,
        #[arg(long)]
        milestone: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        #[command(flatten)]
        common: Common,
    },
    /// An indicator's reported actual for a period
    Actual {
        #[arg(long)]
        indicator: String,
        /// YYYY, YYYY-Qn or YYYY-MM
        #[arg(long)]
        period: String,
        #[arg(long, allow_hyphen_values = true)]
        value: String,
        /// estimate | preliminary | final (default final)
        #[arg(long)]
        basis: Option<String>,
        /// The plan, when the indicator is in several plans of that year
        #[arg(long)]
        plan: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Revise an indicator's target or a project's planned investment
    ReviseTarget {
        #[arg(long, conflicts_with = "project", required_unless_present = "project")]
        indicator: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// The plan, when the entity is in several plans
        #[arg(long)]
        plan: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        value: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: Common,
    },
    /// Correct the amount or value of an investment or actual event
    Correct {
        /// Seq or id of the event to correct
        #[arg(long)]
        event: String,
        #[arg(long, allow_hyphen_values = true)]
        value: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: Common,
    },
    /// Retract an investment, milestone or actual event
    Retract {
        /// Seq or id of the event to retract
        #[arg(long)]
        event: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug)]
pub(crate) struct StateArgs {
    /// Only this plan
    #[arg(long)]
    plan: Option<String>,
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    as_of: Option<String>,
    /// Valid time: the state of the world on this date (milestones, months, periods up to it)
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct LogArgs {
    /// First seq to print
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Transaction time: stop at what the ledger had recorded then
    #[arg(long, value_name = "TIME|SEQ")]
    as_of: Option<String>,
}

/// Runs the CLI with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return exit::OK;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!("planledger: a command is missing (see --help)");
                return exit::USAGE;
            }
            // clap explains over several lines; the contract is one line on stderr.
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .map(|l| l.trim_start_matches("error: "))
                .collect();
            eprintln!("planledger: {} (see --help)", lines.join(" "));
            return exit::USAGE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(cli, &mut out) {
        Ok(code) => code,
        Err(e) => {
            // A reader that closed the pipe (`log | head`) is done, not failed.
            if let Error::Io { source, .. } = e.root() {
                if source.kind() == std::io::ErrorKind::BrokenPipe {
                    return exit::OK;
                }
            }
            let _ = out.flush();
            // One line, whatever the offending value held.
            eprintln!("planledger: {}", e.to_string().replace('\n', "\\n").replace('\r', "\\r"));
            exit_code(&e)
        }
    }
}

pub(crate) fn store_dir(cli_store: &Option<PathBuf>) -> PathBuf {
    cli_store
        .clone()
        .or_else(|| std::env::var_os("PLANLEDGER_STORE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./planledger-data"))
}

/// The ledger's clock: the machine's, or the instant in `PLANLEDGER_NOW` (for reproducible
/// examples and tests).
fn clock() -> Result<Box<dyn Clock>> {
    match std::env::var("PLANLEDGER_NOW") {
        Ok(t) => Ok(Box::new(FixedClock(Timestamp::parse("PLANLEDGER_NOW", &t)?))),
        Err(_) => Ok(Box::new(SystemClock)),
    }
}

fn open_ledger(dir: &Path) -> Result<Ledger> {
    Ledger::open(dir, clock()?, Box::new(V7Ids))
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::invalid("not UTF-8 text").at(format!("{} line {line}", path.display()))
    })
}

/// Opens an existing store for reading: a mistyped path is an error, not an empty ledger.
fn open_existing(dir: &Path) -> Result<Store> {
    if !dir.join("db").exists() {
        return Err(Error::NoStore(dir.to_path_buf()));
    }
    Store::open(dir)
}

pub(crate) type Out<'a> = dyn Write + 'a;

pub(crate) fn emit(out: &mut Out, text: &str) -> Result<()> {
    out.write_all(text.as_bytes()).map_err(|e| Error::io("writing to stdout", e))
}

pub(crate) fn emit_json(out: &mut Out, v: &Value) -> Result<()> {
    // Values built from strings, numbers and maps always serialize.
    let s = serde_json::to_string(v).unwrap_or_default();
    emit(out, &s)?;
    emit(out, "\n")
}

pub fn run(cli: Cli, out: &mut Out) -> Result<i32> {
    if let Some(url) = cli.server.clone().or_else(|| std::env::var("PLANLEDGER_SERVER").ok()) {
        return crate::remote::run(cli, &url, out);
    }
    run_on(cli, None, out)
}

/// The store a read command reads: the one the server holds, or the one at `--store`.
fn store_for<'a>(held: Option<&'a Store>, dir: &Path, slot: &'a mut Option<Store>) -> Result<&'a Store> {
    match held {
        Some(s) => Ok(s),
        None => Ok(slot.insert(open_existing(dir)?)),
    }
}

/// Runs a parsed command against the local store, or, for read commands, against `held`
/// (the server's open store: same code, so the same output and exit codes).
pub fn run_on(cli: Cli, held: Option<&Store>, out: &mut Out) -> Result<i32> {
    let dir = store_dir(&cli.store);
    let mut slot: Option<Store> = None;
    match cli.command {
        Cmd::Plan(PlanCmd::Import { file, actor }) => {
            let text = read_file(&file)?;
            let import = input::parse_plan(&text).map_err(|e| in_file(e, &file.display().to_string()))?;
            let mut ledger = open_ledger(&dir)?;
            let plan_id = import.plan.plan.clone();
            let mut subs = vec![Submission {
                signature: None,
                id: None,
                note: None,
                command: Command::ImportPlan(Box::new(import)),
            }];
            sign_all(&cli.key, &actor, &mut subs)?;
            let name = file.display().to_string();
            let acks = ledger.submit(&actor, &subs, &|_| Some(name.clone()))?;
            print_import(out, cli.json, &plan_id, &acks)?;
        }
        Cmd::Submit(args) => {
            let (mut subs, origins) = submissions_of(&args)?;
            sign_all(&cli.key, &args.actor, &mut subs)?;
            let expected = parse_expected(&args.expect)?;
            // Checked before the store is opened (or created).
            if let Some(n) = args.batch {
                if n == 0 || n > BATCH_EVENTS_MAX {
                    return Err(Error::invalid(format!("--batch {n} is not between 1 and {BATCH_EVENTS_MAX}")));
                }
                if !expected.is_empty() {
                    return Err(Error::invalid(
                        "--expect applies to one atomic batch; it cannot be combined with --batch",
                    ));
                }
            }
            let mut ledger = open_ledger(&dir)?;
            let origin = |i: usize| origins[i].clone();
            match args.batch {
                None => {
                    let acks = ledger.submit_expecting(&args.actor, &subs, &origin, &expected)?;
                    print_acks(out, cli.json, &acks)?;
                }
                Some(n) => submit_in_batches(out, cli.json, &mut ledger, &args.actor, &subs, &origins, n)?,
            }
        }
        Cmd::State(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            let seq = as_of_seq(store, &args.as_of)?;
            let at = args.at.as_deref().map(|d| Date::parse("--at", d)).transpose()?;
            let state = match &args.plan {
                Some(p) => query::plans_at(store, seq, std::slice::from_ref(p))?,
                None => query::state_at(store, seq)?,
            };
            if let Some(p) = &args.plan {
                if !state.plans.contains_key(p) {
                    return Err(Error::unknown("plan", p));
                }
            }
            if cli.json {
                emit_json(out, &report::state_json(&state, args.plan.as_deref(), at))?;
            } else {
                emit(out, &report::state_text(&state, args.plan.as_deref(), at))?;
            }
        }
        Cmd::Summary(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            let seq = as_of_seq(store, &args.as_of)?;
            let at = args.at.as_deref().map(|d| Date::parse("--at", d)).transpose()?;
            if args.by.len() > summary::BY_MAX {
                return Err(Error::invalid(format!("--by may be given at most {} times", summary::BY_MAX)));
            }
            let lang = match args.lang.as_str() {
                "zh" => summary::Lang::Zh,
                "en" => summary::Lang::En,
                other => return Err(Error::invalid(format!("--lang '{other}' is not zh or en"))),
            };
            // Load only the plans of that year: the global part says which they are.
            let index = crate::checkpoint::state_at(store, seq, Some(&[]))?;
            let mut ids: Vec<String> = index.years.get(&args.year).cloned().unwrap_or_default();
            if let Some(p) = &args.plan {
                if !ids.contains(p) {
                    return Err(Error::invalid(format!("plan '{p}' is not a plan of {}", args.year)));
                }
                ids = vec![p.clone()];
            }
            if ids.is_empty() {
                return Err(Error::invalid(format!("no plan for {} is recorded", args.year)));
            }
            let state = query::plans_at(store, seq, &ids)?;
            // "Today" of a summary taken --as-of a past point is that point's date.
            let today = match &args.as_of {
                Some(_) => state.last_recorded_at.date(),
                None => clock()?.now().date(),
            };
            let on = summary::On::new(args.year, at, today);
            let s = summary::summarize(&state, args.year, on, &args.by);
            let as_of = json!({"seq": state.last_seq, "recorded_at": (state.last_seq > 0).then(|| state.last_recorded_at.to_string())});
            match (cli.json, args.format.as_str()) {
                (true, _) => emit_json(out, &s.json(as_of))?,
                (false, "text") => emit(out, &s.prose(lang, false))?,
                (false, "md") => emit(out, &s.prose(lang, true))?,
                (false, "csv") => emit(out, &s.csv())?,
                (false, other) => return Err(Error::invalid(format!("--format '{other}' is not text, md or csv"))),
            }
        }
        Cmd::Audit(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            let seq = as_of_seq(store, &args.as_of)?;
            let time = |f: &str, v: &Option<String>| v.as_deref().map(|t| Timestamp::parse(f, t)).transpose();
            // A bare date after --since means from the start of that day.
            let since = match args.since.as_deref() {
                Some(t) if Date::parse("--since", t).is_ok() => {
                    Some(Timestamp(Timestamp::parse("--since", t)?.0 - 86_399_999_999))
                }
                _ => time("--since", &args.since)?,
            };
            if let Some(k) = &args.kind {
                if !crate::event::KINDS.contains(&k.as_str()) {
                    return Err(Error::invalid(format!(
                        "--type '{k}' is not an event type; expected one of: {}",
                        crate::event::KINDS.join(", ")
                    )));
                }
            }
            let filter = audit::Filter {
                entity: args.entity.clone(),
                actor: args.actor.clone(),
                kind: args.kind.clone(),
                since,
                until: time("--until", &args.until)?,
            };
            let rows = audit::trail(store, seq, &filter)?;
            match (cli.json, args.format.as_str()) {
                (true, _) => {
                    let at = store.get(seq)?.map(|s| s.event.recorded_at.to_string());
                    emit_json(out, &json!({"as_of": {"seq": seq, "recorded_at": at}, "entries": rows}))?
                }
                (false, "text") => {
                    for r in &rows {
                        emit(out, &audit::line(r))?;
                    }
                }
                (false, "csv") => emit(out, &audit::csv(&rows))?,
                (false, other) => return Err(Error::invalid(format!("--format '{other}' is not text or csv"))),
            }
        }
        Cmd::Show { event } => {
            let store = store_for(held, &dir, &mut slot)?;
            let doc = show(store, &event)?;
            if cli.json {
                emit_json(out, &doc)?;
            } else {
                emit(out, &serde_json::to_string_pretty(&doc).unwrap_or_default())?;
                emit(out, "\n")?;
            }
        }
        Cmd::Snapshot(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            match (args.verify, args.out) {
                (Some(SnapshotCmd::Verify { file }), _) => {
                    let name = file.display().to_string();
                    let snap = snapshot::parse(&read_file(&file)?).map_err(|e| e.at(name.clone()))?;
                    match snapshot::check(store, &snap)? {
                        Ok(()) => {
                            let seq = &snap["as_of"]["seq"];
                            if cli.json {
                                emit_json(out, &json!({"ok": true, "seq": seq}))?;
                            } else {
                                emit(out, &format!("ok: {name} matches the ledger at seq {seq}\n"))?;
                            }
                        }
                        Err(parts) => {
                            if cli.json {
                                emit_json(out, &json!({"ok": false, "differs": parts}))?;
                            }
                            return Err(Error::Integrity(format!(
                                "{name} does not match the ledger: {}",
                                parts.join("; ")
                            )));
                        }
                    }
                }
                (None, Some(file)) => {
                    let seq = as_of_seq(store, &args.as_of)?;
                    let snap = snapshot::make(store, seq)?;
                    let text = serde_json::to_string_pretty(&snap).unwrap_or_default() + "\n";
                    write_file(&file, &text)?;
                    if cli.json {
                        emit_json(out, &json!({"wrote": file.display().to_string(), "seq": seq}))?;
                    } else {
                        emit(out, &format!("wrote {} (seq {seq})\n", file.display()))?;
                    }
                }
                (None, None) => {
                    // No --out: the snapshot goes to stdout (what a server sends its client).
                    let seq = as_of_seq(store, &args.as_of)?;
                    let snap = snapshot::make(store, seq)?;
                    emit(out, &(serde_json::to_string_pretty(&snap).unwrap_or_default() + "\n"))?;
                }
            }
        }
        Cmd::Diff { a, b } => {
            let store = store_for(held, &dir, &mut slot)?;
            let side = |x: Option<&str>| -> Result<snapshot::Side> {
                match x {
                    Some(p) if p.ends_with(".json") && !Path::new(p).is_file() => {
                        Err(Error::invalid(format!("no snapshot file {p}")))
                    }
                    Some(p) if Path::new(p).is_file() => {
                        let snap = snapshot::parse(&read_file(Path::new(p))?).map_err(|e| e.at(p.to_string()))?;
                        Ok(snapshot::Side {
                            seq: snap["as_of"]["seq"].as_u64().unwrap_or(0),
                            state: snap["state"].clone(),
                        })
                    }
                    other => {
                        let seq = as_of_seq(store, &other.map(str::to_string))?;
                        Ok(snapshot::Side { seq, state: report::state_json(&query::state_at(store, seq)?, None, None) })
                    }
                }
            };
            let (sa, sb) = (side(Some(&a))?, side(b.as_deref())?);
            let changes = snapshot::diff(store, &sa, &sb)?;
            if cli.json {
                emit_json(out, &json!({"from_seq": sa.seq, "to_seq": sb.seq, "changes": changes}))?;
            } else {
                emit(out, &format!("from seq {} to seq {}: {} changes\n", sa.seq, sb.seq, changes.len()))?;
                for c in &changes {
                    emit(out, &snapshot::diff_line(c))?;
                }
            }
        }
        Cmd::Checkpoint { out: file } => {
            let store = store_for(held, &dir, &mut slot)?;
            let head = proof::tree_head(store)?;
            let text = serde_json::to_string_pretty(&head.json()).unwrap_or_default() + "\n";
            match file {
                Some(f) => {
                    write_file(&f, &text)?;
                    if cli.json {
                        emit_json(
                            out,
                            &json!({"wrote": f.display().to_string(), "size": head.size, "root": hex(&head.root)}),
                        )?;
                    } else {
                        emit(out, &format!("wrote {} (size {}, root {})\n", f.display(), head.size, hex(&head.root)))?;
                    }
                }
                None => emit(out, &text)?,
            }
        }
        Cmd::Key => {
            let store = store_for(held, &dir, &mut slot)?;
            let key = crate::keys::LedgerKey::load_or_create(store.dir())?;
            if cli.json {
                emit_json(out, &json!({"algorithm": "ed25519", "public_key": hex(&key.public())}))?;
            } else {
                emit(out, &format!("{}\n", hex(&key.public())))?;
            }
        }
        Cmd::Proof { event, size, out: file } => {
            let store = store_for(held, &dir, &mut slot)?;
            let seq = resolve_event(store, &event)?;
            let doc = proof::inclusion(store, seq, size)?;
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
            match file {
                Some(f) => {
                    write_file(&f, &text)?;
                    if cli.json {
                        emit_json(out, &json!({"wrote": f.display().to_string(), "seq": seq}))?;
                    } else {
                        emit(out, &format!("wrote {} (seq {seq})\n", f.display()))?;
                    }
                }
                None => emit(out, &text)?,
            }
        }
        Cmd::VerifyProof { file, checkpoint } => {
            let head = checkpoint
                .as_ref()
                .map(|c| proof::TreeHead::parse(&read_file(c)?).map_err(|e| e.at(c.display().to_string())))
                .transpose()?;
            let name = file.display().to_string();
            match proof::verify_inclusion(&read_file(&file)?, head.as_ref()).map_err(|e| e.at(name.clone()))? {
                Ok(what) if cli.json => emit_json(out, &json!({"ok": true, "proof": what}))?,
                Ok(what) => emit(out, &format!("ok: {what}\n"))?,
                Err(what) => return Err(Error::Integrity(format!("proof {name} fails: {what}"))),
            }
        }
        Cmd::Log(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            let until = as_of_seq(store, &args.as_of)?;
            for stored in store.scan(args.from) {
                let stored = stored?;
                if stored.event.seq > until {
                    break;
                }
                if cli.json {
                    emit_json(out, &report::event_json(&stored.event, &stored.hash))?;
                } else {
                    emit(out, &report::event_line(&stored.event, &stored.hash))?;
                }
            }
        }
        Cmd::Verify(args) => {
            let store = store_for(held, &dir, &mut slot)?;
            let head = args
                .checkpoint
                .as_ref()
                .map(|c| proof::TreeHead::parse(&read_file(c)?).map_err(|e| e.at(c.display().to_string())))
                .transpose()?;
            let mut v = crate::verify::verify_with(store, args.require_signatures)?;
            let mut checkpoint_ok = None;
            if let (Some(h), true) = (&head, v.ok()) {
                match proof::check_tree_head(store, h)? {
                    Ok(what) => {
                        if !cli.json {
                            emit(out, &format!("checkpoint: {what}\n"))?;
                        }
                        checkpoint_ok = Some(what);
                    }
                    Err((seq, what)) => {
                        v.problem = Some(crate::verify::Problem { seq, what: format!("checkpoint: {what}") })
                    }
                }
            }
            if cli.json {
                let mut doc = json!({"ok": v.ok(), "events": v.events, "head": hex(&v.head)});
                if let Value::Object(m) = &mut doc {
                    if let Some(p) = &v.problem {
                        m.insert("first_bad_seq".into(), (p.seq > 0).then_some(p.seq).into());
                        m.insert("problem".into(), json!(p.what));
                    }
                    if let Some(what) = &checkpoint_ok {
                        m.insert("checkpoint".into(), json!(what));
                    }
                }
                emit_json(out, &doc)?;
            } else if let Some(p) = v.problem.as_ref().filter(|p| p.seq == 0) {
                emit(out, &format!("FAILED: {}\n", p.what))?;
            } else if let Some(p) = &v.problem {
                emit(out, &format!("FAILED at seq {}: {}\n{} events verified before it\n", p.seq, p.what, v.events))?;
            } else {
                emit(out, &format!("ok: {} events, chain intact, head {}\n", v.events, hex(&v.head)))?;
            }
            if let Some(p) = &v.problem {
                return Err(Error::Integrity(match p.seq {
                    0 => format!("verification failed: {}", p.what),
                    seq => format!("verification failed at seq {seq}: {}", p.what),
                }));
            }
        }
        Cmd::Serve { listen } => {
            // A mistyped path would serve a new, empty store no one could set up remotely.
            if !dir.join("db").exists() {
                return Err(Error::NoStore(dir));
            }
            crate::server::serve(&dir, &listen, out)?;
        }
        Cmd::Subscribe { from, count } => {
            // Locally there is no "live": print what is there and stop.
            let store = store_for(held, &dir, &mut slot)?;
            for (n, stored) in store.scan(from).enumerate() {
                if count.is_some_and(|c| n as u64 >= c) {
                    break;
                }
                let stored = stored?;
                if cli.json {
                    emit_json(out, &report::event_json(&stored.event, &stored.hash))?;
                } else {
                    emit(out, &report::event_line(&stored.event, &stored.hash))?;
                }
            }
        }
        Cmd::Dept(DeptCmd::Keygen { out: file }) => {
            let pair = crate::keys::KeyPair::generate()?;
            pair.write_new(&file)?;
            if cli.json {
                emit_json(out, &json!({"wrote": file.display().to_string(), "public_key": hex(&pair.public())}))?;
            } else {
                emit(out, &format!("wrote {} (public key {})\n", file.display(), hex(&pair.public())))?;
            }
        }
        Cmd::Dept(DeptCmd::Register { principal, public_key, role, actor }) => {
            let key = crate::keys::read_public(&public_key)?.to_vec();
            let role = role.as_deref().map(|r| crate::model::Role::parse("--role", r)).transpose()?;
            crate::model::check_id("principal", &principal)?;
            let mut subs = vec![Submission {
                signature: None,
                id: None,
                note: None,
                command: Command::RegisterKey { principal, role, key },
            }];
            sign_all(&cli.key, &actor, &mut subs)?;
            let acks = open_ledger(&dir)?.submit(&actor, &subs, &|_| None)?;
            print_acks(out, cli.json, &acks)?;
        }
        Cmd::Dept(DeptCmd::Revoke { principal, public_key, reason, actor }) => {
            let key = crate::keys::read_public(&public_key)?.to_vec();
            let mut subs = vec![Submission {
                signature: None,
                id: None,
                note: None,
                command: Command::RevokeKey { principal, key, reason },
            }];
            sign_all(&cli.key, &actor, &mut subs)?;
            let acks = open_ledger(&dir)?.submit(&actor, &subs, &|_| None)?;
            print_acks(out, cli.json, &acks)?;
        }
        Cmd::Demo => {
            let demo_dir = match cli.store.clone().or_else(|| std::env::var_os("PLANLEDGER_STORE").map(PathBuf::from)) {
                Some(d) => d,
                None => std::env::temp_dir().join(format!("planledger-demo-{}", std::process::id())),
            };
            crate::demo::run(&demo_dir, cli.json, out)?;
        }
    }
    Ok(exit::OK)
}

/// Puts a file name on an error: "FILE line N: ..." when the error names a line, else "FILE: ...".
pub fn in_file(e: Error, name: &str) -> Error {
    match e {
        Error::At { location, source } if location.starts_with("line ") => {
            Error::At { location: format!("{name} {location}"), source }
        }
        other => other.at(name),
    }
}

/// The submissions of a `submit`, each with where it came from ("FILE line N").
pub(crate) fn submissions_of(args: &SubmitArgs) -> Result<(Vec<Submission>, Vec<Option<String>>)> {
    match (&args.file, &args.kind) {
        (Some(file), None) => {
            let text = read_file(file)?;
            let name = file.display().to_string();
            let max_lines = if args.batch.is_some() { input::BATCHED_FILE_LINES_MAX } else { input::FILE_LINES_MAX };
            let parsed = input::parse_jsonl_max(&text, max_lines).map_err(|e| in_file(e, &name))?;
            if parsed.is_empty() {
                return Err(Error::invalid("no submissions in the file").at(name));
            }
            Ok(parsed.into_iter().map(|(line, sub)| (sub, Some(format!("{name} line {line}")))).unzip())
        }
        (None, Some(kind)) => Ok((vec![kind_submission(kind.clone())?], vec![None])),
        (Some(_), Some(_)) => Err(Error::invalid("give either --file or a submission kind, not both")),
        (None, None) => {
            Err(Error::invalid(format!("submit needs --file <FILE.jsonl> or a kind ({})", input::KINDS.join(", "))))
        }
    }
}

/// `submit --file F --batch N`: the file in pipelined atomic batches of `n` lines. Acks are
/// printed as each batch becomes durable; a refusal names its line and what stays recorded.
fn submit_in_batches(
    out: &mut Out,
    as_json: bool,
    ledger: &mut Ledger,
    actor: &str,
    subs: &[Submission],
    origins: &[Option<String>],
    n: usize,
) -> Result<()> {
    let mut recorded = (0usize, 0usize); // (batches, submissions) durable so far
    let mut printed = Ok(());
    let result = ledger.submit_batches(
        actor,
        subs.chunks(n),
        &|i, j| origins.get(i * n + j).cloned().flatten(),
        &mut |i, acks| {
            recorded = (i + 1, (i * n + n).min(subs.len()));
            if printed.is_ok() {
                printed = print_acks(out, as_json, &acks);
            }
        },
    );
    printed?;
    result.map_err(|e| match recorded {
        (0, _) => e,
        (batches, subs_recorded) => {
            let through = origins.get(subs_recorded - 1).cloned().flatten().unwrap_or_default();
            e.at(format!("recorded through {through} ({batches} batches), nothing after it"))
        }
    })
}

/// `--expect STREAM=VERSION` flags.
pub fn parse_expected(flags: &[String]) -> Result<Vec<(String, u64)>> {
    flags
        .iter()
        .map(|f| {
            let (s, v) =
                f.rsplit_once('=').ok_or_else(|| Error::invalid(format!("--expect '{f}' is not STREAM=VERSION")))?;
            let v = v.parse().map_err(|_| Error::invalid(format!("--expect '{f}': version is not a number")))?;
            Ok((s.to_string(), v))
        })
        .collect()
}

/// Signs every submission with the key file of `--key` / `PLANLEDGER_KEY`, if one is given.
pub(crate) fn sign_all(key: &Option<PathBuf>, actor: &str, subs: &mut [Submission]) -> Result<()> {
    let Some(path) = key.clone().or_else(|| std::env::var_os("PLANLEDGER_KEY").map(PathBuf::from)) else {
        return Ok(());
    };
    let pair = crate::keys::KeyPair::read(&path)?;
    for sub in subs {
        crate::keys::sign(&pair, actor, sub);
    }
    Ok(())
}

/// The last seq of `--as-of` (the whole log when absent).
fn as_of_seq(store: &Store, as_of: &Option<String>) -> Result<u64> {
    match as_of {
        Some(t) => query::resolve(store, AsOf::parse(t)?),
        None => Ok(store.head().events()),
    }
}

fn resolve_event(store: &Store, text: &str) -> Result<u64> {
    match EventRef::parse("event", text)? {
        EventRef::Seq(s) if s >= 1 && s <= store.head().events() => Ok(s),
        EventRef::Seq(s) => Err(Error::invalid(format!("event seq {s} does not exist"))),
        EventRef::Id(id) => {
            let mut found = None;
            store.for_each_id(|i, seq| {
                if i == id {
                    found = Some(seq);
                }
            })?;
            found.ok_or_else(|| Error::invalid(format!("event id {id} does not exist")))
        }
    }
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// `show`: the event, its hash, and its entity's state just before and after it.
fn show(store: &Store, text: &str) -> Result<Value> {
    let seq = resolve_event(store, text)?;
    let stored = store.get(seq)?.ok_or_else(|| Error::invalid(format!("event seq {seq} does not exist")))?;
    let e = &stored.event;
    let plans: Vec<String> = e.payload.plan().map(str::to_string).into_iter().collect();
    let mut state = query::plans_at(store, seq - 1, &plans)?;
    let entity = |state: &crate::projection::State| -> Value {
        let Some(plan) = e.payload.plan().and_then(|p| state.plans.get(p)) else { return Value::Null };
        let id = e.payload.entity();
        if let Some(l) = plan.projects.get(id) {
            return report::project_json(id, l, None);
        }
        if let Some(i) = plan.indicators.get(id) {
            return report::indicator_json(i, None);
        }
        Value::Null
    };
    let before = entity(&state);
    crate::projection::apply(&mut state, e);
    let after = entity(&state);
    let mut event = report::event_json(e, &stored.hash);
    if let Value::Object(m) = &mut event {
        m.insert("entity_before".into(), before);
        m.insert("entity_after".into(), after);
    }
    Ok(event)
}

pub(crate) fn kind_submission(kind: Kind) -> Result<Submission> {
    let mut f: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            f.insert(k.to_string(), v);
        }
    };
    let (name, common) = match kind {
        Kind::Investment { project, period, amount, common } => {
            put("project", Some(project));
            put("period", Some(period));
            put("amount", Some(amount));
            ("investment", common)
        }
        Kind::Milestone { project, milestone, date, common } => {
            put("project", Some(project));
            put("milestone", Some(milestone));
            put("date", Some(date));
            ("milestone", common)
        }
        Kind::Actual { indicator, period, value, basis, plan, common } => {
            put("indicator", Some(indicator));
            put("period", Some(period));
            put("value", Some(value));
            put("basis", basis);
            put("plan", plan);
            ("actual", common)
        }
        Kind::ReviseTarget { indicator, project, plan, value, reason, common } => {
            put("indicator", indicator);
            put("project", project);
            put("plan", plan);
            put("value", Some(value));
            put("reason", Some(reason));
            ("revise-target", common)
        }
        Kind::Correct { event, value, reason, common } => {
            put("event", Some(event));
            put("value", Some(value));
            put("reason", Some(reason));
            ("correct", common)
        }
        Kind::Retract { event, reason, common } => {
            put("event", Some(event));
            put("reason", Some(reason));
            ("retract", common)
        }
    };
    put("id", common.id);
    put("note", common.note);
    input::submission_from_fields(name, &f)
}

pub(crate) fn print_acks(out: &mut Out, as_json: bool, acks: &[Ack]) -> Result<()> {
    for a in acks {
        if as_json {
            emit_json(out, &json!({"seq": a.seq, "id": a.id.to_string(), "type": a.kind, "duplicate": a.duplicate}))?;
        } else {
            let dup = if a.duplicate { "  (already recorded; nothing written)" } else { "" };
            emit(out, &format!("seq {}  {}  {}{dup}\n", a.seq, a.kind, a.id))?;
        }
    }
    Ok(())
}

pub(crate) fn print_import(out: &mut Out, as_json: bool, plan: &str, acks: &[Ack]) -> Result<()> {
    if as_json {
        return emit_json(
            out,
            &json!({
                "plan": plan,
                "events": acks.len(),
                "first_seq": acks.first().map(|a| a.seq),
                "last_seq": acks.last().map(|a| a.seq),
            }),
        );
    }
    match (acks.first(), acks.last()) {
        (Some(f), Some(l)) => emit(
            out,
            &format!(
                "imported plan {plan}: {} event{}, seq {}..={}\n",
                acks.len(),
                if acks.len() == 1 { "" } else { "s" },
                f.seq,
                l.seq
            ),
        ),
        _ => emit(out, &format!("plan {plan} is already imported as given; nothing written\n")),
    }
}
