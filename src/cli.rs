//! The command line: argument parsing, dispatch, output, and the one mapping from errors to
//! exit codes. stdout carries data; stderr carries `planledger: ...` diagnostics.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{json, Value};

use planledger::clock::{Clock, FixedClock, SystemClock, V7Ids};
use planledger::codec::hex;
use planledger::decide::{Command, EventRef, Submission};
use planledger::error::{Error, Result};
use planledger::input;
use planledger::ledger::{Ack, Ledger};
use planledger::model::{Date, Timestamp};
use planledger::query::AsOf;
use planledger::store::StoreAt;
use planledger::store::BATCH_EVENTS_MAX;
use planledger::{audit, msg, plan_sheet, proof, read, summary, Lang, Msg};

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
        Error::Invalid(_) | Error::Unknown { .. } | Error::Problems { .. } => exit::INVALID,
        Error::Forbidden(_) => exit::FORBIDDEN,
        Error::Conflict(_) => exit::CONFLICT,
        Error::StoreInUse(_)
        | Error::FormatTooNew { .. }
        | Error::FormatTooOld { .. }
        | Error::NoStore(_)
        | Error::Behind { .. }
        | Error::Database { lost: true, .. } => exit::UNAVAILABLE,
        Error::Database { .. } => exit::IO,
        Error::Corrupt { .. } => exit::INTEGRITY,
        Error::Storage { corrupt: true, .. } | Error::Integrity(_) => exit::INTEGRITY,
        Error::Remote { code, .. } => *code,
        Error::Io { .. } | Error::Storage { .. } => exit::IO,
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
    /// Store directory, or a PostgreSQL ledger postgresql://…?ledger=NAME [env: PLANLEDGER_STORE] [default: ./planledger-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,
    /// Talk to a planledger server instead of a local store [env: PLANLEDGER_SERVER]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// With --server on a PostgreSQL database of several ledgers: the ledger to use (default: the one the server was started on) [env: PLANLEDGER_LEDGER]
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) ledger: Option<String>,
    /// With --server https://…: the CA certificate (PEM) the server's certificate must chain to [env: PLANLEDGER_CA]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// With --server https://…: this client's certificate (PEM), for a server that asks for one (mutual TLS) [env: PLANLEDGER_CLIENT_CERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert [env: PLANLEDGER_CLIENT_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) client_key: Option<PathBuf>,
    /// Sign what you submit with this key file (`dept keygen`) [env: PLANLEDGER_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// Print JSON on stdout (one document; JSON Lines for `log` and `submit`)
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// zh | en: the language of messages, tables and reports [env: PLANLEDGER_LANG, else zh
    /// under a zh_* locale, else en]
    #[arg(long, global = true, value_name = "LANG")]
    pub(crate) lang: Option<String>,
    /// Read an audit bundle (`planledger bundle`) instead of a store: read commands only;
    /// the bundle is checked in full before anything is read from it
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) bundle: Option<PathBuf>,
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
    /// Serve this store over gRPC (proto/planledger/v1/ledger.proto, --listen) and/or as the read-only web view (--http) until SIGINT/SIGTERM
    Serve(ServeArgs),
    /// Tokens for the web view: issue one (printed once, stored hashed), revoke one, list them
    #[command(name = "web-token", subcommand)]
    WebToken(WebTokenCmd),
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
    /// Where the ledger is kept: make a PostgreSQL database ready, migrate its tables, copy a
    /// ledger between a directory and PostgreSQL
    #[command(subcommand)]
    Store(StoreCmd),
    /// Build a fresh store from the embedded Guancheng example and print its state
    Demo,
    /// Rebuild a store's index from its log segments; cut a damaged tail only when told
    Repair {
        /// Say what would be done, and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Cut a damaged record at the end of the last segment (and what follows it), saving
        /// the bytes in the store's quarantine/ directory first; the seqs lost are printed
        #[arg(long)]
        cut_tail: bool,
    },
    /// The official execution report (执行情况报告) of a year, in Chinese: Markdown, one
    /// offline HTML file with its charts, or a .docx in 公文 layout
    Report(ReportArgs),
    /// Draw a chart of a year as SVG or PNG: cumulative (completed investment by month against
    /// the plan and 序时进度), levels, departments (completion rates), indicators
    Chart(ChartArgs),
    /// Write a year's tables as a spreadsheet (.xlsx) or CSV: projects (项目明细表),
    /// indicators, summary, monthly (project × month), audit (the trail), or all
    Export(ExportArgs),
    /// Back up the whole log (and the ledger's key and time zone) to FILE; the backup is
    /// restored into a scratch store and checked before this reports success
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into --store DIR (which must be new or empty): the same events, the
    /// same chain and Merkle root, verified before the store is put in place
    Restore {
        /// The backup file
        file: PathBuf,
    },
    /// Export the whole log as JSON Lines (each event with its envelope, canonical bytes and
    /// hash; zstd-compressed when FILE ends in .zst), read back and checked before success
    #[command(name = "export-log")]
    ExportLog {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Import an exported log into --store DIR (new or empty): the same events, chain and
    /// Merkle root; the store can be read and verified but not continued (it cannot sign)
    #[command(name = "import-log")]
    ImportLog {
        /// The exported log (.jsonl or .jsonl.zst)
        file: PathBuf,
    },
    /// Make an audit bundle: the log up to a point, the tree head the ledger signs for it,
    /// the key registry and the snapshot, for `verify --bundle` on a machine with no store
    Bundle {
        /// The point: a seq, a time (RFC 3339) or a date; the whole log when absent
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the shell completion script for bash, zsh or fish (packages install it)
    Completions {
        /// bash | zsh | fish
        shell: String,
    },
    /// Write the manual pages (roff): planledger.1 and one per command, into DIR
    Man {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// The ledger's time zone (which day "today" is; how an --as-of time without an offset
    /// is read): Asia/Shanghai unless set
    TimeZone {
        /// Set it: Asia/Shanghai, Asia/Urumqi, UTC, or an offset such as +08:00
        #[arg(long, value_name = "ZONE")]
        set: Option<String>,
    },
    /// Write the blank import template (.xlsx: sheets 计划, 项目, 指标, with drop-down lists),
    /// or with --report the monthly report template (月报)
    Template(TemplateArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML; dist/planledger.toml, docs/operations.md); flags given
    /// here override it [env: PLANLEDGER_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// gRPC address to listen on, e.g. 127.0.0.1:7420 (port 0: any free port)
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Also serve the read-only web view on this address (docs/web.md); tokens from
    /// `planledger web-token issue`
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Serve Prometheus metrics on http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// gRPC over TLS: the server's certificate chain (PEM)
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: refuse clients without a certificate signed by this CA (PEM)
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// The access log: a file (rotated daily), `stderr` (the default) or `off`
    #[arg(long, value_name = "FILE")]
    access_log: Option<String>,
    /// Verify the whole log this often while serving (24h, 30m, 90s): the result in
    /// /metrics, a failure on stderr
    #[arg(long, value_name = "INTERVAL")]
    verify_every: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    #[arg(long)]
    pub(crate) year: i32,
    /// Only this plan (when a year has several)
    #[arg(long)]
    pub(crate) plan: Option<String>,
    /// projects | indicators | summary | monthly | audit | all; repeatable (default projects)
    #[arg(long, value_name = "TABLE")]
    pub(crate) what: Vec<String>,
    /// xlsx | csv [default: from --out's extension]
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// The file to write
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    /// Valid time: figures as on this date (default: the year's end, or today)
    #[arg(long, value_name = "DATE")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    #[arg(long)]
    pub(crate) year: i32,
    /// Only this plan (when a year has several)
    #[arg(long)]
    pub(crate) plan: Option<String>,
    /// md | html | docx [default: from --out's extension, else md]
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// The file to write [default: standard output, for md and html]
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Transaction time: a seq, or a time
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    /// Valid time: the report as on this date (default: the year's end, or today)
    #[arg(long, value_name = "DATE")]
    pub(crate) at: Option<String>,
    /// Percentage decimals (half away from zero)
    #[arg(long, default_value_t = 1)]
    pub(crate) decimals: u32,
}

#[derive(Args, Debug)]
pub(crate) struct ChartArgs {
    /// cumulative | levels | departments | indicators
    pub(crate) kind: String,
    #[arg(long)]
    pub(crate) year: i32,
    #[arg(long)]
    pub(crate) plan: Option<String>,
    /// The .svg or .png file to write [default: standard output]
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// svg | png [default: from --out's extension, else svg]
    #[arg(long)]
    pub(crate) format: Option<String>,
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    #[arg(long, value_name = "DATE")]
    pub(crate) at: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct TemplateArgs {
    /// The .xlsx file to write
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// The monthly report template instead of the plan's
    #[arg(long)]
    pub(crate) report: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum WebTokenCmd {
    /// Issue a token for a principal: a department sees its own projects' details and every
    /// aggregate; a coordinator or an auditor sees everything
    Issue {
        #[arg(long)]
        principal: String,
        /// auditor | department | coordinator
        #[arg(long)]
        role: String,
        /// The last day the token is valid (YYYY-MM-DD, the ledger's time zone)
        #[arg(long, value_name = "DATE")]
        expires: String,
    },
    /// Revoke a token by its id (as `web-token list` shows it)
    Revoke { id: String },
    /// The tokens issued: id, principal, role, expiry, revoked
    List,
}

#[derive(Subcommand, Debug)]
pub(crate) enum StoreCmd {
    /// Create planledger's tables in the PostgreSQL database of --store (a URL) and its
    /// ledger (`ledger=NAME`, default `main`); a database already set up is left as it is
    Init,
    /// Bring the database's planledger tables to this build's version (forward only, one
    /// transaction per version)
    Migrate,
    /// The ledgers a PostgreSQL database holds
    Ledgers,
    /// Copy a ledger into an empty store, between a directory and PostgreSQL either way:
    /// every event, checkpoint and key, verified on arrival (same chain, same Merkle root)
    Copy {
        /// The ledger to copy (default: --store)
        #[arg(long, value_name = "DIR|URL")]
        from: Option<PathBuf>,
        /// The empty store to copy it into: a directory, or postgresql://…?ledger=NAME
        #[arg(long, value_name = "DIR|URL")]
        to: PathBuf,
    },
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
    pub(crate) checkpoint: Option<PathBuf>,
    /// Fail on any unsigned event after the first key registration
    #[arg(long)]
    pub(crate) require_signatures: bool,
}

#[derive(Args, Debug)]
pub(crate) struct SummaryArgs {
    #[arg(long)]
    pub(crate) year: i32,
    /// Only this plan (when a year has several)
    #[arg(long)]
    pub(crate) plan: Option<String>,
    /// Break down by a dimension of the plan file (block, type, sector, ...); twice for two levels
    #[arg(long, value_name = "DIMENSION")]
    pub(crate) by: Vec<String>,
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    /// Valid time: the state of the world on this date (default: the year's end, or today)
    #[arg(long, value_name = "DATE")]
    pub(crate) at: Option<String>,
    /// text | md | csv (default text; --json for JSON)
    #[arg(long, default_value = "text")]
    pub(crate) format: String,
    /// Month by month: completed investment per month against the plan and 序时进度; rows by
    /// --by (project, department, level or any grouping), else by department
    #[arg(long)]
    pub(crate) monthly: bool,
}

#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    /// A project, indicator, department or plan id
    #[arg(long)]
    pub(crate) entity: Option<String>,
    /// Acting department
    #[arg(long, value_name = "DEPT")]
    pub(crate) actor: Option<String>,
    /// Event type (investment, milestone, actual, revise-target, correct, retract, ...)
    #[arg(long = "type", value_name = "KIND")]
    pub(crate) kind: Option<String>,
    /// Recorded at or after this time
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Recorded at or before this time
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// Transaction time: what the ledger had recorded then
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    /// text | csv (default text; --json for JSON)
    #[arg(long, default_value = "text")]
    pub(crate) format: String,
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
    /// Import a plan: a plan file (TOML) or the plan office's spreadsheet (.xlsx, .xls,
    /// .ods, .csv; docs/spreadsheets.md); re-importing the same file writes nothing
    Import(PlanImportArgs),
    /// Amend a plan mid-year: add projects (a plan file or spreadsheet of them) or take one
    /// off the list (调出) from a date with the reason; the change is recorded, never erased
    Amend(PlanAmendArgs),
}

#[derive(Args, Debug)]
pub(crate) struct PlanAmendArgs {
    /// Acting department (must be a coordinator)
    #[arg(long = "as", value_name = "DEPT")]
    pub(crate) actor: String,
    /// The plan amended
    #[arg(long, value_name = "ID")]
    pub(crate) plan: String,
    /// Add the projects of this file (TOML plan file, or a spreadsheet with a 项目 sheet)
    #[arg(long, value_name = "FILE", conflicts_with = "withdraw", required_unless_present = "withdraw")]
    pub(crate) add: Option<PathBuf>,
    /// Take this project off the plan's list
    #[arg(long, value_name = "PROJECT", requires_all = ["date", "reason"])]
    pub(crate) withdraw: Option<String>,
    /// YYYY-MM-DD: the project counts out from this date on
    #[arg(long)]
    pub(crate) date: Option<String>,
    #[arg(long)]
    pub(crate) reason: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct PlanImportArgs {
    pub(crate) file: PathBuf,
    /// Acting department (must be a coordinator)
    #[arg(long = "as", value_name = "DEPT")]
    pub(crate) actor: String,
    /// Spreadsheets: the plan's id [default: a 计划 sheet's 计划编号, else JURISDICTION-YEAR]
    #[arg(long, value_name = "ID")]
    plan: Option<String>,
    /// Spreadsheets: the plan year [default: a 计划 sheet's 年度, else the title row's 2021年]
    #[arg(long)]
    year: Option<i32>,
    /// Spreadsheets: the plan's title [default: a 计划 sheet's 标题, else the title row]
    #[arg(long)]
    title: Option<String>,
    /// Spreadsheets: the jurisdiction [default: a 计划 sheet's 行政区, else the title row's start]
    #[arg(long)]
    jurisdiction: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct SubmitArgs {
    /// Acting department
    #[arg(long = "as", value_name = "DEPT")]
    pub(crate) actor: String,
    /// A JSONL file of submissions, committed as one atomic batch; or a monthly report
    /// spreadsheet (.xlsx, .xls, .ods, .csv; docs/spreadsheets.md), reconciled with what is
    /// recorded (a running 累计 becomes the month's amount; rows already recorded write nothing)
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Spreadsheets: the month the report is for, when it has no 月份 column (YYYY-MM)
    #[arg(long, value_name = "YYYY-MM", requires = "file")]
    pub(crate) period: Option<String>,
    /// Spreadsheets: record a row that differs from what is recorded as a correction
    /// (reason: the file's name) instead of refusing the report
    #[arg(long, requires = "file")]
    pub(crate) corrections: bool,
    /// Spreadsheets: refuse the report when any figure is implausible (otherwise a warning)
    #[arg(long, requires = "file")]
    pub(crate) strict: bool,
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
        /// YYYY, YYYY-Hn (half), YYYY-Qn or YYYY-MM
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
    /// Take a project off a plan's list (调出) from a date, with the reason (coordinators)
    Withdraw {
        #[arg(long)]
        project: String,
        /// The plan, when the project is in several plans
        #[arg(long)]
        plan: Option<String>,
        /// YYYY-MM-DD: summaries count the project out from this date on
        #[arg(long)]
        date: String,
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
    pub(crate) plan: Option<String>,
    /// Transaction time: a seq, or an RFC 3339 time
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
    /// Valid time: the state of the world on this date (milestones, months, periods up to it)
    #[arg(long, value_name = "DATE")]
    pub(crate) at: Option<String>,
    /// List only this department's projects
    #[arg(long, value_name = "DEPT")]
    pub(crate) dept: Option<String>,
    /// List only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// List only projects of this level (province, city, county, district, or 省/市/县/区)
    #[arg(long)]
    pub(crate) level: Option<String>,
    /// List only projects behind schedule (滞后: completed share below the year's elapsed
    /// share) on --at, or today
    #[arg(long)]
    pub(crate) lagging: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LogArgs {
    /// First seq to print
    #[arg(long, default_value_t = 1)]
    pub(crate) from: u64,
    /// Transaction time: stop at what the ledger had recorded then
    #[arg(long, value_name = "TIME|SEQ")]
    pub(crate) as_of: Option<String>,
}

/// Runs the CLI with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let lang = early_lang(&args);
    let parsed = localized_command(lang).try_get_matches_from(&args).and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return exit::OK;
            }
            if let Some(m) = usage_message(&e) {
                eprintln!("planledger: {}", m.render(lang));
                return exit::USAGE;
            }
            if matches!(e.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand) {
                eprintln!("planledger: {}", msg!("cli.command_missing").render(lang));
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
            eprintln!("planledger: {}", msg!("cli.usage", what = lines.join(" ")).render(lang));
            return exit::USAGE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let lang = user_lang(cli.lang.as_deref()).unwrap_or(lang);
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
            let one_line = |t: &str| t.replace('\n', "\\n").replace('\r', "\\r");
            match e.root() {
                // A file checked whole: where and how many, then one line per problem.
                Error::Problems { lines, .. } => {
                    let head = e.render(lang);
                    let head = head.split('\n').next().unwrap_or_default();
                    eprintln!("planledger: {head}");
                    for l in lines {
                        eprintln!("  {}", one_line(&l.render(lang)));
                    }
                }
                // One line, whatever the offending value held.
                _ => eprintln!("planledger: {}", one_line(&e.render(lang))),
            }
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

fn open_ledger(at: &StoreAt) -> Result<Ledger> {
    Ledger::open_at(at, clock()?, Box::new(V7Ids))
}

/// A ledger holding only the plans `subs` need (`Ledger::open_for`): what one submission
/// costs stays flat as the ledger grows.
fn open_ledger_for(at: &StoreAt, subs: &[Submission]) -> Result<Ledger> {
    Ledger::open_for_at(at, clock()?, Box::new(V7Ids), subs)
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(msg!("io.cannot_read", path = path.display()), e))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::invalid(msg!("cli.not_utf8")).at(msg!("at.file_line", file = path.display(), line = line))
    })
}

/// Opens an existing store for reading, read-only: a mistyped path is an error, not an empty
/// ledger, and nothing in the store is changed (`EmbeddedStore::open_read_only`). Its
/// warnings are printed in `lang`.
fn open_existing(at: &StoreAt, lang: Lang) -> Result<Reading> {
    let Some(dir) = at.dir() else {
        return at.open_read_only().map(|s| Reading(s, lang));
    };
    match std::fs::metadata(dir.join("db")) {
        // Readers never modify a store.
        Ok(_) => at.open_read_only().map(|s| Reading(s, lang)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoStore(dir.to_path_buf())),
        Err(e) => Err(Error::io(msg!("cli.cannot_open_store", dir = dir.display()), e)),
    }
}

/// A store a read command opened: what its reads noticed and passed over (a damaged
/// checkpoint, say) is printed on stderr as a warning when the command is done with it.
struct Reading(Box<dyn planledger::store::Store>, Lang);

impl std::ops::Deref for Reading {
    type Target = dyn planledger::store::Store + 'static;
    fn deref(&self) -> &(dyn planledger::store::Store + 'static) {
        &*self.0
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        for w in self.0.warnings() {
            eprintln!("planledger: {}", msg!("cli.warning", what = w).render(self.1).replace('\n', "\\n"));
        }
    }
}

pub(crate) type Out<'a> = dyn Write + 'a;

pub(crate) fn emit(out: &mut Out, text: &str) -> Result<()> {
    out.write_all(text.as_bytes()).map_err(|e| Error::io(msg!("io.writing_stdout"), e))
}

pub(crate) fn emit_json(out: &mut Out, v: &Value) -> Result<()> {
    // Values built from strings, numbers and maps always serialize.
    let s = serde_json::to_string(v).unwrap_or_default();
    emit(out, &s)?;
    emit(out, "\n")
}

pub fn run(cli: Cli, out: &mut Out) -> Result<i32> {
    let server = cli.server.clone().or_else(|| std::env::var("PLANLEDGER_SERVER").ok());
    if let Some(url) = server.filter(|_| cli.bundle.is_none()) {
        return crate::remote::run(cli, &url, out);
    }
    run_local(cli, out)
}

/// What every command needs besides its own arguments.
pub(crate) struct Ctx {
    pub(crate) store: Option<PathBuf>,
    /// `--ledger`: another ledger of the PostgreSQL database `store` names.
    pub(crate) ledger: Option<String>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) json: bool,
    /// The language of what people read (`user_lang`).
    pub(crate) lang: Lang,
    /// Whether --lang was given (the report refuses an explicit `--lang en`).
    pub(crate) lang_given: bool,
    /// The audit bundle the store was read from (`--bundle`), and what it holds.
    pub(crate) bundle: Option<(PathBuf, planledger::bundle::Bundle)>,
}

impl Ctx {
    /// Where the store is: `--store`, else PLANLEDGER_STORE, else ./planledger-data; a
    /// directory, or a PostgreSQL ledger's URL.
    fn at(&self) -> Result<StoreAt> {
        let at = StoreAt::parse(store_dir(&self.store).as_os_str())?;
        match (at, &self.ledger) {
            (at, None) => Ok(at),
            (StoreAt::Postgres(t), Some(name)) => Ok(StoreAt::Postgres(Box::new(t.with_ledger(name)?))),
            (StoreAt::Dir(d), Some(name)) => {
                Err(Error::invalid(msg!("cli.ledger_needs_database", ledger = name, dir = d.display())))
            }
        }
    }

    /// The store's directory, for the commands that work on the embedded store's files
    /// alone (`repair`, `restore`, ...): a PostgreSQL URL is refused, naming `store copy`.
    fn dir(&self) -> Result<PathBuf> {
        match self.at()? {
            StoreAt::Dir(d) => Ok(d),
            StoreAt::Postgres(t) => Err(Error::invalid(msg!("cli.needs_directory", url = t.shown()))),
        }
    }
}

/// Runs a parsed command against the local store: one function per command.
pub fn run_local(cli: Cli, out: &mut Out) -> Result<i32> {
    let mut ctx = Ctx {
        store: cli.store,
        ledger: cli.ledger.or_else(|| std::env::var("PLANLEDGER_LEDGER").ok().filter(|v| !v.is_empty())),
        key: cli.key,
        json: cli.json,
        lang: user_lang(cli.lang.as_deref())?,
        lang_given: cli.lang.is_some(),
        bundle: None,
    };
    // A bundle is read into a scratch store that lives as long as the command.
    let _scratch = match &cli.bundle {
        Some(file) => Some(open_bundle(&mut ctx, file, &cli.command)?),
        None => None,
    };
    match cli.command {
        Cmd::Plan(PlanCmd::Import(args)) => cmd_plan_import(&ctx, &args, out),
        Cmd::Plan(PlanCmd::Amend(args)) => cmd_plan_amend(&ctx, &args, out),
        Cmd::Submit(args) => cmd_submit(&ctx, &args, out),
        Cmd::State(args) => cmd_state(&ctx, &args, out),
        Cmd::Summary(args) => cmd_summary(&ctx, &args, out),
        Cmd::Audit(args) => cmd_audit(&ctx, &args, out),
        Cmd::Show { event } => cmd_show(&ctx, &event, out),
        Cmd::Snapshot(args) => cmd_snapshot(&ctx, args, out),
        Cmd::Diff { a, b } => cmd_diff(&ctx, &a, b.as_deref(), out),
        Cmd::Checkpoint { out: file } => cmd_checkpoint(&ctx, file.as_deref(), out),
        Cmd::Key => cmd_key(&ctx, out),
        Cmd::Proof { event, size, out: file } => cmd_proof(&ctx, &event, size, file.as_deref(), out),
        Cmd::VerifyProof { file, checkpoint } => cmd_verify_proof(&ctx, &file, checkpoint.as_deref(), out),
        Cmd::Log(args) => cmd_log(&ctx, &args, out),
        Cmd::Verify(args) => cmd_verify(&ctx, &args, out),
        Cmd::Serve(args) => cmd_serve(&ctx, args, out),
        Cmd::WebToken(c) => cmd_web_token(&ctx, c, out),
        Cmd::Subscribe { from, count } => cmd_subscribe(&ctx, from, count, out),
        Cmd::Dept(DeptCmd::Keygen { out: file }) => cmd_keygen(&ctx, &file, out),
        Cmd::Dept(DeptCmd::Register { principal, public_key, role, actor }) => {
            cmd_register(&ctx, principal, &public_key, role.as_deref(), &actor, out)
        }
        Cmd::Dept(DeptCmd::Revoke { principal, public_key, reason, actor }) => {
            cmd_revoke(&ctx, principal, &public_key, reason, &actor, out)
        }
        Cmd::Demo => cmd_demo(&ctx, out),
        Cmd::Store(StoreCmd::Init) => cmd_store_migrate(&ctx, true, out),
        Cmd::Store(StoreCmd::Migrate) => cmd_store_migrate(&ctx, false, out),
        Cmd::Store(StoreCmd::Ledgers) => cmd_store_ledgers(&ctx, out),
        Cmd::Store(StoreCmd::Copy { from, to }) => cmd_store_copy(&ctx, from.as_deref(), &to, out),
        Cmd::Repair { dry_run, cut_tail } => cmd_repair(&ctx, dry_run, cut_tail, out),
        Cmd::Export(args) => cmd_export(&ctx, &args, out),
        Cmd::Report(args) => cmd_report(&ctx, &args, out),
        Cmd::Chart(args) => cmd_chart(&ctx, &args, out),
        Cmd::Template(args) => cmd_template(&ctx, &args, out),
        Cmd::TimeZone { set } => cmd_time_zone(&ctx, set.as_deref(), out),
        Cmd::Completions { shell } => cmd_completions(&shell, out),
        Cmd::Backup { out: file } => cmd_backup(&ctx, &file, out),
        Cmd::Restore { file } => cmd_restore(&ctx, &file, out),
        Cmd::ExportLog { out: file } => cmd_export_log(&ctx, &file, out),
        Cmd::ImportLog { file } => cmd_import_log(&ctx, &file, out),
        Cmd::Bundle { as_of, out: file } => cmd_bundle(&ctx, as_of.as_deref(), &file, out),
        Cmd::Man { out: dir } => cmd_man(&ctx, &dir, out),
    }
    .map(|()| exit::OK)
}

fn cmd_plan_import(ctx: &Ctx, args: &PlanImportArgs, out: &mut Out) -> Result<()> {
    let (file, actor) = (args.file.as_path(), args.actor.as_str());
    let import = if planledger_sheets::is_spreadsheet(file) {
        plan_of_spreadsheet(ctx, args)?
    } else {
        let text = read_file(file)?;
        input::parse_plan(&text).map_err(|e| in_file(e, &file.display().to_string()))?
    };
    import_plan(ctx, actor, import, &file.display().to_string(), out)
}

/// Records a parsed plan (or the projects added to one) as one atomic batch.
fn import_plan(
    ctx: &Ctx,
    actor: &str,
    import: planledger::decide::PlanImport,
    name: &str,
    out: &mut Out,
) -> Result<()> {
    let pair = key_pair(&ctx.key)?;
    let mut ledger = open_ledger(&ctx.at()?)?;
    let plan_id = import.plan.plan.clone();
    let mut subs =
        vec![Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) }];
    sign_all(pair.as_ref(), &ledger.public_key(), actor, &mut subs)?;
    let acks = ledger.submit(actor, &subs, &|_| Some(Msg::text(name)))?;
    print_import(out, ctx.json, ctx.lang, &plan_id, &acks)
}

/// `plan amend`: projects added to a plan (an import of them into that plan), or one withdrawn.
fn cmd_plan_amend(ctx: &Ctx, args: &PlanAmendArgs, out: &mut Out) -> Result<()> {
    if let Some(sub) = withdrawal_of(args)? {
        return submit_one(ctx, &args.actor, sub.command, out);
    }
    let Some(file) = &args.add else {
        return Err(Error::invalid(msg!("cli.amend_needs")));
    };
    let import = if planledger_sheets::is_spreadsheet(file) {
        let def = plan_def(&ctx.at()?, &args.plan, ctx.lang)?;
        let import_args = PlanImportArgs {
            file: file.clone(),
            actor: args.actor.clone(),
            plan: Some(def.plan),
            year: Some(def.year),
            title: Some(def.title),
            jurisdiction: Some(def.jurisdiction),
        };
        plan_of_spreadsheet(ctx, &import_args)?
    } else {
        let import = input::parse_plan(&read_file(file)?).map_err(|e| in_file(e, &file.display().to_string()))?;
        if import.plan.plan != args.plan {
            return Err(Error::invalid(msg!(
                "cli.file_of_other_plan",
                file = file.display(),
                found = &import.plan.plan,
                plan = &args.plan
            )));
        }
        import
    };
    import_plan(ctx, &args.actor, import, &file.display().to_string(), out)
}

/// The withdrawal `plan amend --withdraw` asks for, if it does.
pub(crate) fn withdrawal_of(args: &PlanAmendArgs) -> Result<Option<Submission>> {
    let (Some(project), Some(date), Some(reason)) = (&args.withdraw, &args.date, &args.reason) else {
        return Ok(None);
    };
    let f: BTreeMap<String, String> = [("project", project), ("plan", &args.plan), ("date", date), ("reason", reason)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    input::submission_from_fields("withdraw", &f).map(Some)
}

/// The definition of an existing plan, read without writing.
fn plan_def(at: &StoreAt, plan: &str, lang: Lang) -> Result<planledger::event::PlanDeclared> {
    let reading = open_existing(at, lang)?;
    let store: &dyn planledger::store::Store = &*reading;
    let state = planledger::query::plans_at(store, store.head().events(), &[plan.to_string()])?;
    state.plans.get(plan).map(|p| p.def.clone()).ok_or_else(|| {
        Error::unknown_among(planledger::error::Kind::Plan, plan, state.years.values().flatten().map(String::as_str))
    })
}

/// The plan in a spreadsheet, its 责任单位 matched to the store's departments.
fn plan_of_spreadsheet(ctx: &Ctx, args: &PlanImportArgs) -> Result<planledger::decide::PlanImport> {
    let name = args.file.display().to_string();
    let workbook = planledger_sheets::read_workbook(&args.file).map_err(sheet_error)?;
    let meta = plan_sheet::PlanMeta {
        plan: args.plan.clone(),
        year: args.year,
        title: args.title.clone(),
        jurisdiction: args.jurisdiction.clone(),
    };
    let known = known_departments(&ctx.at()?, ctx.lang)?;
    plan_sheet::plan_from_workbook(&workbook, &meta, &known, &args.actor).map_err(|e| in_file(e, &name))
}

/// The store's departments (none when there is no store yet), read without writing.
fn known_departments(at: &StoreAt, lang: Lang) -> Result<Vec<plan_sheet::KnownDepartment>> {
    let reading = match open_existing(at, lang) {
        Ok(r) => r,
        Err(Error::NoStore(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let store: &dyn planledger::store::Store = &*reading;
    let state = planledger::query::plans_at(store, store.head().events(), &[])?;
    Ok(state
        .departments
        .iter()
        .map(|(id, d)| plan_sheet::KnownDepartment { id: id.clone(), name: d.name.clone() })
        .collect())
}

/// A spreadsheet that cannot be read, as the error the command prints.
pub(crate) fn sheet_error(e: planledger_sheets::SheetError) -> Error {
    match e {
        planledger_sheets::SheetError::Io { path, source } => Error::io(msg!("io.cannot_read", path = path), source),
        other => Error::invalid(other.to_msg()),
    }
}

fn cmd_submit(ctx: &Ctx, args: &SubmitArgs, out: &mut Out) -> Result<()> {
    if let Some(file) = args.file.as_deref().filter(|f| planledger_sheets::is_spreadsheet(f)) {
        return cmd_submit_report(ctx, args, file, out);
    }
    if args.period.is_some() || args.corrections || args.strict {
        return Err(Error::invalid(msg!("cli.report_flags_need_sheet")));
    }
    if let (Some(n), Some(file), None) = (args.batch, args.file.as_deref(), &args.kind) {
        return cmd_submit_batched(ctx, args, file, n, out);
    }
    let (mut subs, origins) = submissions_of(args)?;
    let pair = key_pair(&ctx.key)?;
    let expected = parse_expected(&args.expect)?;
    // One atomic request: the ledger loads the plans it names (`--file --batch`, above, every plan).
    let mut ledger = open_ledger_for(&ctx.at()?, &subs)?;
    sign_all(pair.as_ref(), &ledger.public_key(), &args.actor, &mut subs)?;
    let origin = |i: usize| origins[i].clone();
    let acks = ledger.submit_expecting(&args.actor, &subs, &origin, &expected)?;
    print_acks(out, ctx.json, ctx.lang, &acks)
}

/// `submit --batch N --file FILE.jsonl`: the file checked whole, then read again on a
/// thread of its own and decided batch by batch while the batch before is written
/// (`crate::import`).
fn cmd_submit_batched(ctx: &Ctx, args: &SubmitArgs, file: &Path, n: usize, out: &mut Out) -> Result<()> {
    // Checked before the file is read and the store is opened (or created).
    check_batched(args, n)?;
    let total = crate::import::check_file(file, input::BATCHED_FILE_LINES_MAX)?;
    let pair = key_pair(&ctx.key)?;
    let mut ledger = open_ledger(&ctx.at()?)?;
    let to = crate::import::Printing { out, as_json: ctx.json, lang: ctx.lang };
    crate::import::submit_file(to, &mut ledger, &args.actor, pair.as_ref(), file, total, n)
}

/// What `submit --batch N --file` takes, locally or to a server: 1 ≤ N ≤ `BATCH_EVENTS_MAX`,
/// and no `--expect` (batches durable one by one cannot all expect the versions at the start).
pub(crate) fn check_batched(args: &SubmitArgs, n: usize) -> Result<()> {
    if n == 0 || n > BATCH_EVENTS_MAX {
        return Err(Error::invalid(msg!("cli.batch_out_of_range", n = n, max = BATCH_EVENTS_MAX)));
    }
    if !parse_expected(&args.expect)?.is_empty() {
        return Err(Error::invalid(msg!("cli.expect_with_batch")));
    }
    Ok(())
}

/// `submit --file 月报.xlsx`: a department's monthly report, reconciled with what is recorded
/// and recorded as one atomic batch.
fn cmd_submit_report(ctx: &Ctx, args: &SubmitArgs, file: &Path, out: &mut Out) -> Result<()> {
    use planledger::report_sheet;
    if args.batch.is_some() || !args.expect.is_empty() {
        return Err(Error::invalid(msg!("cli.batch_expect_not_for_sheet")));
    }
    let name = file.display().to_string();
    let period = args.period.as_deref().map(|p| planledger::model::Month::parse("--period", p)).transpose()?;
    let workbook = planledger_sheets::read_workbook(file).map_err(sheet_error)?;
    let rows = report_sheet::report_rows(&workbook, period).map_err(|e| in_file(e, &name))?;
    let pair = key_pair(&ctx.key)?;
    let mut ledger = open_ledger(&ctx.at()?)?;
    let source = file.file_name().map_or_else(|| name.clone(), |f| f.to_string_lossy().into_owned());
    let options = report_sheet::Options { corrections: args.corrections, strict: args.strict, source };
    let report =
        report_sheet::reconcile(ledger.state(), &args.actor, &rows, &options).map_err(|e| in_file(e, &name))?;
    for w in &report.warnings {
        let warning = msg!("cli.warning", what = msg!("error.at", location = &name, message = w.clone()));
        eprintln!("planledger: {}", warning.render(ctx.lang));
    }
    let (mut subs, origins): (Vec<Submission>, Vec<String>) = report.submissions.into_iter().unzip();
    sign_all(pair.as_ref(), &ledger.public_key(), &args.actor, &mut subs)?;
    let acks = if subs.is_empty() {
        Vec::new()
    } else {
        ledger.submit(&args.actor, &subs, &|i| origins.get(i).map(|o| Msg::text(format!("{name} {o}"))))?
    };
    print_acks(out, ctx.json, ctx.lang, &acks)?;
    if ctx.json {
        for w in &report.warnings {
            emit_json(out, &json!({"warning": w.render(ctx.lang)}))?;
        }
        emit_json(out, &json!({"recorded": acks.len(), "unchanged": report.unchanged}))
    } else {
        let done = msg!("cli.report_recorded", name = &name, recorded = acks.len(), unchanged = report.unchanged);
        emit(out, &(done.render(ctx.lang) + "\n"))
    }
}

/// The command tree with its help in `lang`: each command's about-text from the catalogue
/// (`help.<command path>`), the headings too. English is the `///` text as written.
fn localized_command(lang: Lang) -> clap::Command {
    let mut cmd = Cli::command();
    if lang == Lang::En {
        return cmd;
    }
    // Built first, so the generated help flags and `help` commands, and the global flags
    // each command inherits, are there to be localized too.
    cmd.build();
    localize(cmd, "cmd", lang)
}

fn localize(cmd: clap::Command, path: &str, lang: Lang) -> clap::Command {
    let key = if path.ends_with(".help") { "cmd.help" } else { path };
    let about = planledger::msg::text(lang, key).to_string();
    let mut cmd = cmd
        .about(about)
        .help_template(planledger::msg::text(lang, "help.template").to_string())
        .subcommand_help_heading(planledger::msg::text(lang, "help.commands"))
        .mut_args(|a| {
            let heading = if a.is_positional() { "help.arguments" } else { "help.options" };
            let a = a.help_heading(planledger::msg::text(lang, heading));
            match a.get_id().as_str() {
                "help" => a.help(planledger::msg::text(lang, "help.help")),
                "version" => a.help(planledger::msg::text(lang, "help.version")),
                "store" => a.help(planledger::msg::text(lang, "opt.store")),
                "server" => a.help(planledger::msg::text(lang, "opt.server")),
                "ledger" => a.help(planledger::msg::text(lang, "opt.ledger")),
                "ca" => a.help(planledger::msg::text(lang, "opt.ca")),
                "client_cert" => a.help(planledger::msg::text(lang, "opt.client_cert")),
                "client_key" => a.help(planledger::msg::text(lang, "opt.client_key")),
                "key" => a.help(planledger::msg::text(lang, "opt.key")),
                "json" => a.help(planledger::msg::text(lang, "opt.json")),
                "lang" => a.help(planledger::msg::text(lang, "opt.lang")),
                "bundle" => a.help(planledger::msg::text(lang, "opt.bundle")),
                _ => a,
            }
        });
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let sub_path = format!("{path}.{name}");
        cmd = cmd.mut_subcommand(&name, |s| localize(s, &sub_path, lang));
    }
    cmd
}

/// A usage error in our words, for the kinds people make: an unknown flag or command, a
/// missing or bad value. `None` for the rest (clap's own words).
fn usage_message(e: &clap::Error) -> Option<planledger::Msg> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(vec![s.clone()]),
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(v.clone()),
        _ => None,
    };
    let one = |k: ContextKind| ctx(k).map(|v| v.join(", ")).unwrap_or_default();
    let arg = one(ContextKind::InvalidArg);
    match e.kind() {
        ErrorKind::UnknownArgument => Some(match ctx(ContextKind::SuggestedArg) {
            Some(s) => msg!("cli.unknown_flag_near", flag = arg, near = planledger::Msg::Choices(s)),
            None => msg!("cli.unknown_flag", flag = arg),
        }),
        ErrorKind::InvalidSubcommand => {
            let command = one(ContextKind::InvalidSubcommand);
            Some(match ctx(ContextKind::SuggestedSubcommand) {
                Some(s) => msg!("cli.unknown_command_near", command = command, near = planledger::Msg::Choices(s)),
                None => msg!("cli.unknown_command", command = command),
            })
        }
        ErrorKind::MissingRequiredArgument => Some(msg!("cli.missing_argument", argument = arg)),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = one(ContextKind::InvalidValue);
            Some(msg!("cli.bad_value", argument = arg, value = value))
        }
        ErrorKind::ArgumentConflict => Some(msg!("cli.conflict", argument = arg)),
        _ => None,
    }
}

/// The language of output for people: `--lang`, else `PLANLEDGER_LANG`, else the locale
/// (zh_CN and any zh_* → zh), else English.
pub(crate) fn user_lang(flag: Option<&str>) -> Result<Lang> {
    if let Some(l) = flag {
        return read::parse_lang(l);
    }
    if let Ok(l) = std::env::var("PLANLEDGER_LANG") {
        return read::parse_lang(&l).map_err(|e| e.at(Msg::text("PLANLEDGER_LANG")));
    }
    Ok(locale_lang())
}

/// The locale's language: zh under any zh_* locale, else English.
fn locale_lang() -> Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
    if locale.is_some_and(|l| l.starts_with("zh")) {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// The language for what is printed before the arguments are parsed (help, usage errors,
/// a bad --lang itself): `--lang` as written in `args` when valid, else as `user_lang`.
fn early_lang(args: &[std::ffi::OsString]) -> Lang {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let v = if a == "--lang" { it.next() } else { a.strip_prefix("--lang=") };
        if let Some(l) = v.and_then(Lang::from_tag) {
            return l;
        }
    }
    std::env::var("PLANLEDGER_LANG").ok().and_then(|l| Lang::from_tag(&l)).unwrap_or_else(locale_lang)
}

/// The bytes of tables in the format asked for, or named by the file's extension.
fn sheet_bytes(
    tables: &[planledger::sheet::Table],
    format: Option<&str>,
    out: &Path,
    drop_downs: &[planledger_sheets::DropDown],
) -> Result<Vec<u8>> {
    let ext = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match format.or(ext.as_deref()) {
        Some("xlsx") => planledger_sheets::xlsx_bytes(tables, drop_downs).map_err(sheet_error),
        Some("csv") => planledger_sheets::csv_bytes(tables).map_err(sheet_error),
        Some(other) => Err(Error::invalid(msg!("cli.sheet_format", value = other))),
        None => Err(Error::invalid(msg!("cli.sheet_format_needed", path = out.display()))),
    }
}

/// Writes a file whole: to a temporary name beside it, synced, then renamed over it, so a
/// reader never sees half a spreadsheet.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.partial"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn cmd_export(ctx: &Ctx, args: &ExportArgs, out: &mut Out) -> Result<()> {
    let mut what = Vec::new();
    for w in if args.what.is_empty() { vec!["projects".to_string()] } else { args.what.clone() } {
        for x in read::ExportWhat::parse(&w)? {
            if !what.contains(&x) {
                what.push(x);
            }
        }
    }
    let q = read::ExportQuery {
        what,
        year: args.year,
        plan: args.plan.clone(),
        as_of: parse_as_of(&args.as_of)?,
        at: args.at.as_deref().map(|d| Date::parse("--at", d)).transpose()?,
        now: clock()?.now(),
        lang: ctx.lang,
    };
    // The format is checked before the store is read.
    sheet_bytes(&[], args.format.as_deref(), &args.out, &[])?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let tables = read::export(&*store, &q)?;
    let bytes = sheet_bytes(&tables, args.format.as_deref(), &args.out, &[])?;
    write_whole(&args.out, &bytes)?;
    let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
    if ctx.json {
        emit_json(out, &json!({"wrote": args.out.display().to_string(), "tables": tables.len(), "rows": rows}))
    } else {
        let wrote = msg!("cli.wrote_tables", path = args.out.display(), tables = tables.len(), rows = rows);
        emit(out, &(wrote.render(ctx.lang) + "\n"))
    }
}

fn report_query(
    year: i32,
    plan: &Option<String>,
    as_of: &Option<String>,
    at: &Option<String>,
    decimals: u32,
) -> Result<read::ReportQuery> {
    Ok(read::ReportQuery {
        year,
        plan: plan.clone(),
        as_of: parse_as_of(as_of)?,
        at: at.as_deref().map(|d| Date::parse("--at", d)).transpose()?,
        now: clock()?.now(),
        decimals,
    })
}

/// The report's format: `--format`, else the file's extension, else Markdown.
fn report_format(format: Option<&str>, out: Option<&Path>) -> Result<&'static str> {
    let ext = out.and_then(|p| p.extension()).and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match format.or(ext.as_deref()) {
        None | Some("md") => Ok("md"),
        Some("html") | Some("htm") => Ok("html"),
        Some("docx") => Ok("docx"),
        Some(other) => Err(Error::invalid(msg!("cli.report_format", value = other))),
    }
}

fn cmd_report(ctx: &Ctx, args: &ReportArgs, out: &mut Out) -> Result<()> {
    if ctx.lang_given && ctx.lang != Lang::Zh {
        return Err(Error::invalid(msg!("report.chinese_only")));
    }
    let format = report_format(args.format.as_deref(), args.out.as_deref())?;
    if format == "docx" && args.out.is_none() {
        return Err(Error::invalid(msg!("cli.docx_needs_out")));
    }
    let q = report_query(args.year, &args.plan, &args.as_of, &args.at, args.decimals)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let answer = read::report(&*store, &q)?;
    let bytes = match format {
        "html" => {
            let mut svgs = Vec::new();
            for (k, data) in &answer.charts {
                svgs.push((*k, planledger_render::chart_svg(data).map_err(|e| Error::invalid(e.to_msg()))?));
            }
            let chart = |k| svgs.iter().find(|(x, _)| *x == k).map(|(_, s)| strip_xml_prolog(s));
            planledger::execution::html(&answer.doc, &chart).into_bytes()
        }
        "docx" => planledger_render::docx_bytes(&answer.doc).map_err(|e| Error::invalid(e.to_msg()))?,
        _ => planledger::execution::markdown(&answer.doc).into_bytes(),
    };
    match &args.out {
        Some(path) => {
            write_whole(path, &bytes)?;
            emit(out, &(msg!("cli.wrote", path = path.display()).render(ctx.lang) + "\n"))
        }
        None => out.write_all(&bytes).map_err(|e| Error::io(msg!("cli.writing_report"), e)),
    }
}

/// An SVG document as an element to embed in HTML (no XML declaration).
fn strip_xml_prolog(svg: &str) -> String {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, body)| body).trim_start().to_string(),
        None => svg.to_string(),
    }
}

fn cmd_chart(ctx: &Ctx, args: &ChartArgs, out: &mut Out) -> Result<()> {
    let kind = planledger::execution::ChartKind::parse(&args.kind)?;
    let png = chart_format(args)?;
    let q = report_query(args.year, &args.plan, &args.as_of, &args.at, 1)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let data = read::chart(&*store, &q, kind)?;
    let bytes = if png {
        planledger_render::chart_png(&data)
    } else {
        planledger_render::chart_svg(&data).map(String::into_bytes)
    }
    .map_err(|e| Error::invalid(e.to_msg()))?;
    match &args.out {
        Some(path) => {
            write_whole(path, &bytes)?;
            emit(out, &(msg!("cli.wrote", path = path.display()).render(ctx.lang) + "\n"))
        }
        None => out.write_all(&bytes).map_err(|e| Error::io(msg!("cli.writing_chart"), e)),
    }
}

/// Whether the chart is a PNG: `--format png`, or an `--out` file named .png; SVG otherwise.
/// A PNG is not written to a terminal's standard output.
fn chart_format(args: &ChartArgs) -> Result<bool> {
    let by_ext = args.out.as_deref().and_then(|p| p.extension()).and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let format = args.format.clone().map(|f| f.to_ascii_lowercase()).or(by_ext.clone());
    let png = match format.as_deref() {
        None | Some("svg") => false,
        Some("png") => true,
        Some(other) => return Err(Error::invalid(msg!("cli.chart_format", format = other))),
    };
    if let (Some(ext), Some(path)) = (&by_ext, &args.out) {
        if ext != if png { "png" } else { "svg" } {
            return Err(Error::invalid(msg!("cli.chart_extension", path = path.display())));
        }
    }
    if png && args.out.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(Error::invalid(msg!("cli.chart_png_terminal")));
    }
    Ok(png)
}

fn cmd_time_zone(ctx: &Ctx, set: Option<&str>, out: &mut Out) -> Result<()> {
    let at = ctx.at()?;
    let zone = match set {
        Some(text) => {
            let zone = planledger::model::TimeZone::parse(text)?;
            // Opened as its writer: no other process is deciding "today" meanwhile.
            if let Some(dir) = at.dir().filter(|d| !d.join("db").exists()) {
                return Err(Error::NoStore(dir.to_path_buf()));
            }
            let writer = open_ledger(&at)?;
            planledger::zone::save(writer.store(), zone)?;
            zone
        }
        None => planledger::zone::load(&*open_existing(&at, ctx.lang)?)?,
    };
    if ctx.json {
        emit_json(out, &json!({"time_zone": zone.to_string(), "offset_seconds": zone.offset_seconds}))
    } else {
        emit(out, &format!("{zone}\n"))
    }
}

fn cmd_template(ctx: &Ctx, args: &TemplateArgs, out: &mut Out) -> Result<()> {
    let departments: Vec<String> = known_departments(&ctx.at()?, ctx.lang)?.into_iter().map(|d| d.name).collect();
    let (tables, drop_downs) = if args.report {
        (vec![planledger::export::report_template()], Vec::new())
    } else {
        planledger::export::plan_template(&departments)
    };
    let drop_downs: Vec<planledger_sheets::DropDown> = drop_downs
        .into_iter()
        .map(|(sheet, column, choices)| planledger_sheets::DropDown { sheet, column, choices })
        .collect();
    let bytes = sheet_bytes(&tables, Some("xlsx"), &args.out, &drop_downs)?;
    write_whole(&args.out, &bytes)?;
    emit(out, &(msg!("cli.wrote", path = args.out.display()).render(ctx.lang) + "\n"))
}

/// The typed query of `state`'s flags.
pub(crate) fn state_query(args: &StateArgs) -> Result<read::StateQuery> {
    Ok(read::StateQuery {
        plan: args.plan.clone(),
        as_of: parse_as_of(&args.as_of)?,
        at: args.at.as_deref().map(|d| Date::parse("--at", d)).transpose()?,
        filter: planledger::report::ProjectFilter {
            department: args.dept.clone(),
            project: args.project.clone(),
            level: args.level.as_deref().map(|l| planledger::model::Level::parse("--level", l)).transpose()?,
            lagging_on: None,
        },
        lagging: args.lagging,
        now: clock()?.now(),
    })
}

fn cmd_state(ctx: &Ctx, args: &StateArgs, out: &mut Out) -> Result<()> {
    let q = state_query(args)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::state(&*store, &q)?.render(ctx.json, ctx.lang))
}

/// The typed query of `summary`'s flags, with how to print it.
pub(crate) fn summary_query(args: &SummaryArgs) -> Result<(read::SummaryQuery, read::SummaryFormat)> {
    if args.by.len() > summary::BY_MAX {
        return Err(Error::invalid(msg!("read.by_too_many", max = summary::BY_MAX)));
    }
    let format = read::SummaryFormat::parse(&args.format)?;
    let q = read::SummaryQuery {
        year: args.year,
        plan: args.plan.clone(),
        by: args.by.clone(),
        monthly: args.monthly,
        as_of: parse_as_of(&args.as_of)?,
        at: args.at.as_deref().map(|d| Date::parse("--at", d)).transpose()?,
        now: clock()?.now(),
    };
    Ok((q, format))
}

fn cmd_summary(ctx: &Ctx, args: &SummaryArgs, out: &mut Out) -> Result<()> {
    let (q, format) = summary_query(args)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::summary(&*store, &q)?.render(ctx.json, format, ctx.lang))
}

pub(crate) fn audit_query(args: &AuditArgs) -> Result<(read::AuditQuery, read::AuditFormat)> {
    let time = |f: &str, v: &Option<String>| v.as_deref().map(|t| Timestamp::parse(f, t)).transpose();
    let filter = audit::Filter {
        entity: args.entity.clone(),
        actor: args.actor.clone(),
        kind: args.kind.as_deref().map(read::audit_kind).transpose()?,
        since: args.since.as_deref().map(read::audit_since).transpose()?,
        until: time("--until", &args.until)?,
    };
    let format = read::AuditFormat::parse(&args.format)?;
    Ok((read::AuditQuery { filter, as_of: parse_as_of(&args.as_of)? }, format))
}

fn cmd_audit(ctx: &Ctx, args: &AuditArgs, out: &mut Out) -> Result<()> {
    let (q, format) = audit_query(args)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::audit(&*store, &q)?.render(ctx.json, format, ctx.lang))
}

fn cmd_show(ctx: &Ctx, event: &str, out: &mut Out) -> Result<()> {
    let r = EventRef::parse("event", event)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::render_document(&read::show(&*store, &r)?, ctx.json))
}

fn cmd_snapshot(ctx: &Ctx, args: SnapshotArgs, out: &mut Out) -> Result<()> {
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    match (args.verify, args.out) {
        (Some(SnapshotCmd::Verify { file }), _) => {
            let check = read::snapshot_check(&*store, &file.display().to_string(), &read_file(&file)?)?;
            emit(out, &check.render(ctx.json, ctx.lang))?;
            check.failure().map_or(Ok(()), Err)
        }
        (None, file) => {
            let (seq, doc) = read::snapshot(&*store, parse_as_of(&args.as_of)?)?;
            write_or_print(ctx, file.as_deref(), &read::pretty(&doc), out, |f| wrote_seq(f, seq, ctx.lang))
        }
    }
}

/// The `wrote FILE (seq N)` acknowledgement, as text (in `lang`) and as JSON.
pub(crate) fn wrote_seq(file: &Path, seq: u64, lang: Lang) -> (String, Value) {
    (
        msg!("cli.wrote_seq", path = file.display(), seq = seq).render(lang) + "\n",
        json!({"wrote": file.display().to_string(), "seq": seq}),
    )
}

/// The `wrote FILE (size N, root R)` acknowledgement of a tree head.
pub(crate) fn wrote_head(file: &Path, size: u64, root: &str, lang: Lang) -> (String, Value) {
    (
        msg!("cli.wrote_head", path = file.display(), size = size, root = root).render(lang) + "\n",
        json!({"wrote": file.display().to_string(), "size": size, "root": root}),
    )
}

/// A document to `--out FILE` (then the acknowledgement) or to stdout.
pub(crate) fn write_or_print(
    ctx: &Ctx,
    file: Option<&Path>,
    doc: &str,
    out: &mut Out,
    ack: impl FnOnce(&Path) -> (String, Value),
) -> Result<()> {
    let Some(f) = file else { return emit(out, doc) };
    write_file(f, doc)?;
    let (text, json) = ack(f);
    if ctx.json {
        emit_json(out, &json)
    } else {
        emit(out, &text)
    }
}

/// A diff side from the command line: a snapshot file, or a seq / time (`None`: now).
pub(crate) fn diff_side(arg: Option<&str>) -> Result<read::DiffSide> {
    match arg {
        Some(p) if p.ends_with(".json") && !Path::new(p).is_file() => {
            Err(Error::invalid(msg!("cli.no_snapshot_file", path = p)))
        }
        Some(p) if Path::new(p).is_file() => {
            Ok(read::DiffSide::Snapshot { name: p.to_string(), text: read_file(Path::new(p))? })
        }
        Some(t) => Ok(read::DiffSide::Ledger(Some(AsOf::parse(t)?))),
        None => Ok(read::DiffSide::Ledger(None)),
    }
}

fn cmd_diff(ctx: &Ctx, a: &str, b: Option<&str>, out: &mut Out) -> Result<()> {
    let (sa, sb) = (diff_side(Some(a))?, diff_side(b)?);
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::diff(&*store, &sa, &sb)?.render(ctx.json, ctx.lang))
}

fn cmd_checkpoint(ctx: &Ctx, file: Option<&Path>, out: &mut Out) -> Result<()> {
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let head = read::checkpoint(&*store)?;
    let root = hex(&head.root);
    write_or_print(ctx, file, &read::pretty(&head.json()), out, |f| wrote_head(f, head.size, &root, ctx.lang))
}

fn cmd_key(ctx: &Ctx, out: &mut Out) -> Result<()> {
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    emit(out, &read::render_key(&read::ledger_key(&*store)?, ctx.json))
}

fn cmd_proof(ctx: &Ctx, event: &str, size: Option<u64>, file: Option<&Path>, out: &mut Out) -> Result<()> {
    let r = EventRef::parse("event", event)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let (seq, doc) = read::proof(&*store, &r, size)?;
    write_or_print(ctx, file, &read::pretty(&doc), out, |f| wrote_seq(f, seq, ctx.lang))
}

pub(crate) fn cmd_verify_proof(ctx: &Ctx, file: &Path, checkpoint: Option<&Path>, out: &mut Out) -> Result<()> {
    let head = checkpoint.map(read_tree_head).transpose()?;
    let name = file.display().to_string();
    match proof::verify_inclusion(&read_file(file)?, head.as_ref()).map_err(|e| e.at(name.clone()))? {
        Ok(what) if ctx.json => emit_json(out, &json!({"ok": true, "proof": what.render(ctx.lang)})),
        Ok(what) => emit(out, &(msg!("cli.proof_ok", what = what).render(ctx.lang) + "\n")),
        Err(what) => Err(Error::integrity(msg!("cli.proof_fails", name = &name, what = what))),
    }
}

pub(crate) fn read_tree_head(path: &Path) -> Result<proof::TreeHead> {
    proof::TreeHead::parse(&read_file(path)?).map_err(|e| e.at(path.display().to_string()))
}

fn cmd_log(ctx: &Ctx, args: &LogArgs, out: &mut Out) -> Result<()> {
    let q = read::LogQuery { from: args.from, as_of: parse_as_of(&args.as_of)? };
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let zone = planledger::zone::load(store.dir())?;
    read::log(&*store, &q, &mut |e, h| emit(out, &read::log_line(e, h, ctx.json, ctx.lang, zone)))
}

pub(crate) fn verify_query(args: &VerifyArgs) -> Result<read::VerifyQuery> {
    Ok(read::VerifyQuery {
        require_signatures: args.require_signatures,
        checkpoint: args.checkpoint.as_deref().map(read_tree_head).transpose()?,
    })
}

fn cmd_verify(ctx: &Ctx, args: &VerifyArgs, out: &mut Out) -> Result<()> {
    let q = verify_query(args)?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let bar = crate::progress::bar(store.head().events(), planledger::msg::text(ctx.lang, "progress.verify"), ctx.lang);
    let answer = read::verify_observed(&*store, &q, &mut |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let answer = answer?;
    match &ctx.bundle {
        Some(b) if ctx.json => {
            let mut v = answer.json(ctx.lang);
            v["bundle"] = bundle_json(b);
            emit_json(out, &v)?;
        }
        Some(b) => {
            emit(out, &(bundle_line(b).render(ctx.lang) + "\n"))?;
            emit(out, &answer.render(false, ctx.lang))?;
        }
        None => emit(out, &answer.render(ctx.json, ctx.lang))?,
    }
    answer.failure().map_or(Ok(()), Err)
}

/// What `verify --bundle` says of the bundle itself, before the log's own verification.
fn bundle_line((file, b): &(PathBuf, planledger::bundle::Bundle)) -> Msg {
    msg!(
        "cli.bundle_ok",
        file = file.display(),
        events = b.summary.events,
        recorded_at = b.tree_head.recorded_at,
        root = &b.summary.root,
        key = planledger::codec::hex(&b.tree_head.public_key)
    )
}

fn bundle_json((file, b): &(PathBuf, planledger::bundle::Bundle)) -> Value {
    json!({
        "file": file.display().to_string(),
        "events": b.summary.events,
        "head": b.summary.head,
        "root": b.summary.root,
        "tree_head": b.tree_head.json(),
        "ok": true,
    })
}

/// Whether a command only reads, and so may run on a bundle.
fn reads_only(cmd: &Cmd) -> bool {
    matches!(
        cmd,
        Cmd::State(_)
            | Cmd::Summary(_)
            | Cmd::Audit(_)
            | Cmd::Show { .. }
            | Cmd::Snapshot(_)
            | Cmd::Diff { .. }
            | Cmd::Key
            | Cmd::Proof { .. }
            | Cmd::VerifyProof { .. }
            | Cmd::Log(_)
            | Cmd::Verify(_)
            | Cmd::Export(_)
            | Cmd::Report(_)
            | Cmd::Chart(_)
            | Cmd::TimeZone { set: None }
    )
}

/// Reads the bundle `file` into a scratch store, checked in full, and points `ctx` at it.
fn open_bundle(ctx: &mut Ctx, file: &Path, cmd: &Cmd) -> Result<tempfile::TempDir> {
    if !reads_only(cmd) {
        return Err(Error::invalid(msg!("cli.bundle_read_only")));
    }
    let scratch = tempfile::Builder::new()
        .prefix("planledger-bundle-")
        .tempdir()
        .map_err(|e| Error::io(msg!("io.cannot_write", path = std::env::temp_dir().display()), e))?;
    let dir = scratch.path().join("store");
    let bundle = planledger::bundle::open(&mut *planledger::backup::open_file(file)?, &dir)
        .map_err(|e| e.in_file(&file.display().to_string()))?;
    ctx.store = Some(dir);
    ctx.bundle = Some((file.to_path_buf(), bundle));
    Ok(scratch)
}

fn cmd_serve(ctx: &Ctx, args: ServeArgs, out: &mut Out) -> Result<()> {
    use planledger_server::{access, config::Config, tls};
    let file =
        args.config.or_else(|| std::env::var_os("PLANLEDGER_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from));
    let config = file.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    // Flags, then the file, then the environment (PLANLEDGER_STORE) and the default.
    let at = match (&ctx.store, &config.store) {
        (None, Some(d)) => StoreAt::parse(d.as_os_str())?,
        _ => ctx.at()?,
    };
    // A mistyped path would serve a new, empty store no one could set up remotely.
    if let Some(dir) = at.dir().filter(|d| !d.join("db").exists()) {
        return Err(Error::NoStore(dir.to_path_buf()));
    }
    if let (Some(zone), Some(file)) = (&config.time_zone, &file) {
        let wanted = planledger::model::TimeZone::parse(zone).map_err(|e| e.at(file.display().to_string()))?;
        let kept = match at.dir() {
            Some(dir) => planledger::zone::load(dir)?,
            None => planledger::zone::load(&*at.open_read_only()?)?,
        };
        if wanted.offset_seconds != kept.offset_seconds {
            return Err(Error::invalid(msg!(
                "cli.serve_zone_differs",
                file = file.display(),
                zone = wanted,
                dir = at.shown(),
                kept = kept
            )));
        }
    }
    let listen = args.listen.or(config.listen);
    let http = args.http.or(config.http);
    if listen.is_none() && http.is_none() {
        return Err(Error::invalid(msg!("cli.serve_needs_listener")));
    }
    let tls_file = config.tls.unwrap_or_default();
    let tls =
        match (args.tls_cert.or(tls_file.cert), args.tls_key.or(tls_file.key), args.client_ca.or(tls_file.client_ca)) {
            (Some(cert), Some(key), client_ca) => Some(tls::ServerFiles { cert, key, client_ca }),
            (None, None, None) => None,
            _ => return Err(Error::invalid(msg!("cli.serve_tls_files"))),
        };
    let log_file = config.access_log.unwrap_or_default();
    let access_log = match args.access_log.or(log_file.path).as_deref() {
        None | Some("stderr") => access::Destination::Stderr,
        Some("off") => access::Destination::Off,
        Some(path) => access::Destination::File {
            path: PathBuf::from(path),
            retention_days: log_file.retention_days.unwrap_or(access::RETENTION_DAYS_DEFAULT),
        },
    };
    // Checked before anything listens: a bad certificate or an unwritable log starts nothing.
    if let Some(t) = &tls {
        t.config()?;
    }
    drop(access::AccessLog::open(&access_log, &at.shown())?);
    let verify_every = match (args.verify_every, config.verify_every) {
        (Some(t), _) => Some(planledger_server::parse_interval("--verify-every", &t)?),
        (None, Some(t)) => Some(planledger_server::parse_interval("verify_every", &t).map_err(|e| match &file {
            Some(f) => e.at(f.display().to_string()),
            None => e,
        })?),
        (None, None) => None,
    };
    let options =
        planledger_server::Options { listen, tls, metrics: args.metrics.or(config.metrics), access_log, verify_every };
    let front = match http {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(&addr)
                .map_err(|e| Error::io(msg!("server.listening_on", addr = &addr), e))?;
            let bound = listener.local_addr().map_err(|e| Error::io(msg!("server.listening"), e))?;
            // Not translated: scripts and tests read the address from this line.
            emit(out, &format!("web view on http://{bound}\n"))?;
            out.flush().map_err(|e| Error::io(msg!("io.writing_stdout"), e))?;
            let Some(web_dir) = at.dir().map(Path::to_path_buf) else {
                return Err(Error::invalid(msg!("cli.web_needs_directory", url = at.shown())));
            };
            let front: planledger_server::FrontEnd =
                Box::new(move |reader, stop| Box::pin(planledger_web::serve(listener, web_dir, reader, stop)));
            Some(front)
        }
        None => None,
    };
    planledger_server::serve_options(&at, &options, front, out)
}

fn cmd_backup(ctx: &Ctx, file: &Path, out: &mut Out) -> Result<()> {
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    write_archive(ctx, file, Archive::Backup, out, &mut |w| planledger::backup::write(&*store, w).map(|_| ()))
}

fn cmd_export_log(ctx: &Ctx, file: &Path, out: &mut Out) -> Result<()> {
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    write_archive(ctx, file, Archive::Log, out, &mut |w| planledger::backup::write_log(&*store, w).map(|_| ()))
}

fn cmd_bundle(ctx: &Ctx, as_of: Option<&str>, file: &Path, out: &mut Out) -> Result<()> {
    let as_of = as_of.map(AsOf::parse).transpose()?;
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    write_archive(ctx, file, Archive::Bundle, out, &mut |w| planledger::bundle::write(&*store, as_of, w).map(|_| ()))
}

/// The files `backup`, `export-log` and `bundle` write (each read back into a scratch store
/// and checked before it is put in place).
pub(crate) use planledger::backup::Kind as Archive;

/// Writes `file` through `write`, then checks it (`finish_archive`).
pub(crate) fn write_archive(
    ctx: &Ctx,
    file: &Path,
    kind: Archive,
    out: &mut Out,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
) -> Result<()> {
    let (partial, f) = create_partial(file, kind)?;
    let written = planledger::backup::FileWriter::new(f, kind.compressed(file)).and_then(|mut w| {
        write(&mut w)?;
        w.finish()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    finish_archive(ctx, &partial, file, kind, out)
}

/// The file an archive is written to before it is checked: beside `file`, hidden.
pub(crate) fn create_partial(file: &Path, kind: Archive) -> Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = file.with_file_name(format!(".{name}.partial"));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(kind.mode())
        .open(&partial)
        .map_err(|e| Error::io(msg!("io.cannot_write", path = file.display()), e))?;
    Ok((partial, f))
}

/// Checks the archive written to `partial` by reading it back into a scratch store beside
/// it (every hash, the head and the Merkle root its header states, `verify`, and for a
/// bundle its signed tree head and contents), then puts it in place as `file` and says
/// what it holds. An archive that does not check is removed.
pub(crate) fn finish_archive(ctx: &Ctx, partial: &Path, file: &Path, kind: Archive, out: &mut Out) -> Result<()> {
    let io = |e| Error::io(msg!("io.cannot_write", path = file.display()), e);
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let scratch = file.with_file_name(format!(".{name}.check"));
    let _ = std::fs::remove_dir_all(&scratch);
    let checked = planledger::backup::open_file(partial).and_then(|mut input| kind.read_back(&mut *input, &scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    let summary = checked.inspect_err(|_| {
        let _ = std::fs::remove_file(partial);
    })?;
    std::fs::rename(partial, file).map_err(io)?;
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    if ctx.json {
        return emit_json(out, &json!({"events": summary.events, "head": summary.head, "root": summary.root}));
    }
    let (file, events, head, root) = (file.display(), summary.events, &summary.head, &summary.root);
    let m = match kind {
        Archive::Backup => msg!("cli.backup_done", file = file, events = events, head = head, root = root),
        Archive::Log => msg!("cli.export_log_done", file = file, events = events, head = head, root = root),
        Archive::Bundle => msg!("cli.bundle_done", file = file, events = events, head = head, root = root),
    };
    emit(out, &(m.render(ctx.lang) + "\n"))
}

fn cmd_restore(ctx: &Ctx, file: &Path, out: &mut Out) -> Result<()> {
    let (summary, at) = read_back_into(ctx, file, planledger::backup::restore)?;
    let (events, head, root) = (summary.events, &summary.head, &summary.root);
    let done = msg!("cli.restore_done", dir = at, events = events, head = head, root = root);
    read_back_done(ctx, &summary, done, out)
}

fn cmd_import_log(ctx: &Ctx, file: &Path, out: &mut Out) -> Result<()> {
    let (summary, at) = read_back_into(ctx, file, planledger::backup::import_log)?;
    let (events, head, root) = (summary.events, &summary.head, &summary.root);
    let done = msg!("cli.import_log_done", dir = at, events = events, head = head, root = root);
    read_back_done(ctx, &summary, done, out)
}

/// A backup or an exported log read back (`read`) into the store of `--store`: a directory
/// directly (it must not hold a store); a PostgreSQL ledger, which must hold no events,
/// through a scratch directory and `store copy`, checked as a copy is. Also where it went.
fn read_back_into(
    ctx: &Ctx,
    file: &Path,
    read: fn(&mut dyn std::io::BufRead, &Path) -> Result<planledger::backup::Summary>,
) -> Result<(planledger::backup::Summary, String)> {
    let at = ctx.at()?;
    let into = |dir: &Path| {
        planledger::backup::open_file(file)
            .and_then(|mut input| read(&mut *input, dir))
            .map_err(|e| e.in_file(&file.display().to_string()))
    };
    if let Some(dir) = at.dir() {
        return Ok((into(dir)?, at.shown()));
    }
    let destination = at.open()?;
    let held = destination.latest_head()?.events();
    if held > 0 {
        return Err(Error::invalid(msg!("copy.not_empty", to = at.shown(), events = held)));
    }
    let scratch = tempfile::Builder::new()
        .prefix("planledger-read-back-")
        .tempdir()
        .map_err(|e| Error::io(msg!("io.cannot_write", path = std::env::temp_dir().display()), e))?;
    let dir = StoreAt::Dir(scratch.path().join("store"));
    let summary = into(scratch.path().join("store").as_path())?;
    let source = dir.open_read_only()?;
    planledger::copy::copy(&*source, &*destination, &mut |_| {})?;
    Ok((summary, at.shown()))
}

/// What `restore` and `import-log` print once the store is in place.
fn read_back_done(ctx: &Ctx, summary: &planledger::backup::Summary, done: Msg, out: &mut Out) -> Result<()> {
    if ctx.json {
        return emit_json(out, &json!({"events": summary.events, "head": summary.head, "root": summary.root}));
    }
    emit(out, &(done.render(ctx.lang) + "\n"))
}

fn cmd_completions(shell: &str, out: &mut Out) -> Result<()> {
    use clap_complete::Shell;
    let sh = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => return Err(Error::invalid(msg!("cli.completions_shell", shell = other))),
    };
    let mut buf = Vec::new();
    clap_complete::generate(sh, &mut Cli::command(), "planledger", &mut buf);
    out.write_all(&buf).map_err(|e| Error::io(msg!("io.writing_stdout"), e))
}

/// The manual: `planledger.1` and `planledger-COMMAND.1` for each command (and each
/// subcommand: `planledger-plan-import.1`), in English, from the same definitions as
/// `--help`.
fn cmd_man(ctx: &Ctx, dir: &Path, out: &mut Out) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(msg!("io.cannot_write", path = dir.display()), e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = 0usize;
    write_man(&cmd, "planledger", dir, &mut written)?;
    emit(out, &(msg!("cli.man_written", dir = dir.display(), pages = written).render(ctx.lang) + "\n"))
}

fn write_man(cmd: &clap::Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .render(&mut buf)
        .map_err(|e| Error::io(msg!("cli.writing_man"), e))?;
    write_whole(&dir.join(format!("{name}.1")), &buf)?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

fn cmd_web_token(ctx: &Ctx, c: WebTokenCmd, out: &mut Out) -> Result<()> {
    let dir = ctx.dir()?;
    match c {
        WebTokenCmd::Issue { principal, role, expires } => {
            let role = planledger::model::Role::parse("--role", &role)?;
            let expires = Date::parse("--expires", &expires)?;
            let (token, grant) = planledger_web::tokens::issue(&dir, &principal, role, expires, clock()?.now())?;
            if ctx.json {
                emit_json(
                    out,
                    &json!({"id": grant.id, "token": token, "principal": grant.principal, "role": grant.role.as_str(), "expires": grant.expires.to_string()}),
                )
            } else {
                let m = msg!("cli.web_token_issued", token = &token, id = &grant.id, expires = grant.expires);
                emit(out, &(m.render(ctx.lang) + "\n"))
            }
        }
        WebTokenCmd::Revoke { id } => {
            let g = planledger_web::tokens::revoke(&dir, &id)?;
            emit(out, &(msg!("cli.web_token_revoked", id = &g.id, principal = &g.principal).render(ctx.lang) + "\n"))
        }
        WebTokenCmd::List => {
            let grants = planledger_web::tokens::load(&dir)?;
            if ctx.json {
                return emit_json(out, &serde_json::to_value(&grants).unwrap_or_default());
            }
            let rows: Vec<Vec<String>> = grants
                .iter()
                .map(|g| {
                    let revoked = planledger::msg::text(ctx.lang, if g.revoked { "word.yes" } else { "word.no" });
                    vec![
                        g.id.clone(),
                        g.principal.clone(),
                        planledger::text::role(ctx.lang, g.role).to_string(),
                        g.expires.to_string(),
                        revoked.to_string(),
                    ]
                })
                .collect();
            let l = ctx.lang;
            let header = [
                planledger::msg::text(l, "web.col.token"),
                planledger::msg::text(l, "web.col.principal"),
                planledger::msg::text(l, "web.col.role"),
                planledger::msg::text(l, "web.col.expires"),
                planledger::msg::text(l, "web.col.revoked"),
            ];
            emit(out, &planledger::text::grid("", &header, &[planledger::text::Align::Left; 5], &rows))
        }
    }
}

fn cmd_subscribe(ctx: &Ctx, from: u64, count: Option<u64>, out: &mut Out) -> Result<()> {
    // Locally there is no "live": print what is there and stop.
    let store = open_existing(&ctx.at()?, ctx.lang)?;
    let zone = planledger::zone::load(store.dir())?;
    for (n, stored) in store.scan(from).enumerate() {
        if count.is_some_and(|c| n as u64 >= c) {
            break;
        }
        let stored = stored?;
        emit(out, &read::log_line(&stored.event, &stored.hash, ctx.json, ctx.lang, zone))?;
    }
    Ok(())
}

pub(crate) fn cmd_keygen(ctx: &Ctx, file: &Path, out: &mut Out) -> Result<()> {
    let pair = planledger::keys::KeyPair::generate()?;
    pair.write_new(file)?;
    if ctx.json {
        emit_json(out, &json!({"wrote": file.display().to_string(), "public_key": hex(&pair.public())}))
    } else {
        let wrote = msg!("cli.wrote_key", path = file.display(), key = hex(&pair.public()));
        emit(out, &(wrote.render(ctx.lang) + "\n"))
    }
}

/// The command of `dept register`.
pub(crate) fn register_command(principal: String, public_key: &Path, role: Option<&str>) -> Result<Command> {
    let key = planledger::keys::read_public(public_key)?.to_vec();
    let role = role.map(|r| planledger::model::Role::parse("--role", r)).transpose()?;
    planledger::model::check_id("principal", &principal)?;
    Ok(Command::RegisterKey { principal, role, key })
}

fn cmd_register(
    ctx: &Ctx,
    principal: String,
    public_key: &Path,
    role: Option<&str>,
    actor: &str,
    out: &mut Out,
) -> Result<()> {
    let command = register_command(principal, public_key, role)?;
    submit_one(ctx, actor, command, out)
}

fn cmd_revoke(
    ctx: &Ctx,
    principal: String,
    public_key: &Path,
    reason: String,
    actor: &str,
    out: &mut Out,
) -> Result<()> {
    let key = planledger::keys::read_public(public_key)?.to_vec();
    submit_one(ctx, actor, Command::RevokeKey { principal, key, reason }, out)
}

fn submit_one(ctx: &Ctx, actor: &str, command: Command, out: &mut Out) -> Result<()> {
    let mut subs = vec![Submission { signature: None, id: None, note: None, command }];
    let pair = key_pair(&ctx.key)?;
    let mut ledger = open_ledger_for(&ctx.at()?, &subs)?;
    sign_all(pair.as_ref(), &ledger.public_key(), actor, &mut subs)?;
    let acks = ledger.submit(actor, &subs, &|_| None)?;
    print_acks(out, ctx.json, ctx.lang, &acks)
}

/// The PostgreSQL database --store names (a directory is refused: it needs no setting up).
fn pg_target(ctx: &Ctx) -> Result<planledger::pg::PgTarget> {
    match ctx.at()? {
        StoreAt::Postgres(t) => Ok(*t),
        StoreAt::Dir(d) => Err(Error::invalid(msg!("cli.store_needs_url", dir = d.display()))),
    }
}

/// `store init` (with the ledger) and `store migrate`.
fn cmd_store_migrate(ctx: &Ctx, init: bool, out: &mut Out) -> Result<()> {
    let target = pg_target(ctx)?;
    let m = planledger::pg::migrate(&target, init)?;
    if ctx.json {
        return emit_json(
            out,
            &json!({"schema_from": m.from, "schema": m.to, "ledger": init.then(|| target.ledger())}),
        );
    }
    let done = if init {
        msg!("cli.store_init_done", from = m.from, to = m.to, ledger = target.ledger())
    } else {
        msg!("cli.store_migrate_done", from = m.from, to = m.to)
    };
    emit(out, &(done.render(ctx.lang) + "\n"))
}

fn cmd_store_ledgers(ctx: &Ctx, out: &mut Out) -> Result<()> {
    let names = planledger::pg::ledgers(&pg_target(ctx)?)?;
    if ctx.json {
        return emit_json(out, &json!({ "ledgers": names }));
    }
    emit(out, &names.iter().map(|n| format!("{n}\n")).collect::<String>())
}

/// `store copy`: the source opened for reading, the destination for writing (a directory is
/// made; a PostgreSQL ledger needs `store init` first).
fn cmd_store_copy(ctx: &Ctx, from: Option<&Path>, to: &Path, out: &mut Out) -> Result<()> {
    let from = match from {
        Some(f) => StoreAt::parse(f.as_os_str())?,
        None => ctx.at()?,
    };
    let to = StoreAt::parse(to.as_os_str())?;
    if let Some(dir) = to.dir().filter(|d| d.join("db").exists()) {
        return Err(Error::invalid(msg!("copy.not_empty", to = dir.display(), events = "?")));
    }
    let source = open_existing(&from, ctx.lang)?;
    let destination = to.open()?;
    let copied = planledger::copy::copy(&*source, &*destination, &mut |_| {})?;
    let (head, root) = (hex(&copied.head), hex(&copied.root));
    if ctx.json {
        return emit_json(
            out,
            &json!({"from": from.shown(), "to": to.shown(), "events": copied.events, "checkpoints": copied.checkpoints,
                    "head": head, "root": root}),
        );
    }
    let done = msg!(
        "cli.store_copy_done",
        from = from.shown(),
        to = to.shown(),
        events = copied.events,
        checkpoints = copied.checkpoints,
        head = head,
        root = root
    );
    emit(out, &(done.render(ctx.lang) + "\n"))
}

fn cmd_repair(ctx: &Ctx, dry_run: bool, cut_tail: bool, out: &mut Out) -> Result<()> {
    use planledger::repair;
    let dir = ctx.dir()?;
    if !dir.join("log").exists() {
        return Err(Error::NoStore(dir));
    }
    let r = if dry_run { repair::plan(&dir, cut_tail)? } else { repair::repair(&dir, cut_tail)? };
    let lang = ctx.lang;
    let verified = if dry_run {
        None
    } else {
        Some(read::verify(&*open_existing(&StoreAt::Dir(dir.clone()), lang)?, &read::VerifyQuery::default())?)
    };
    let damage = r.damage.as_ref().map(|d| {
        json!({"file": d.path.display().to_string(), "byte": d.offset, "bytes": d.bytes, "what": d.what.render(lang),
               "events_before": d.events_before, "events_after": d.events_after,
               "lost": repair::lost(d).render(lang)})
    });
    if ctx.json {
        let actions: Vec<String> = r.actions.iter().map(|a| a.render(lang)).collect();
        let mut doc = json!({"dry_run": dry_run, "damage": damage, "actions": actions, "events": r.events,
                             "quarantined": r.quarantined.as_ref().map(|p| p.display().to_string())});
        if let (Some(v), Value::Object(m)) = (&verified, &mut doc) {
            m.insert("verified".into(), json!(v.failure().is_none()));
        }
        emit_json(out, &doc)?;
    } else {
        let line = |m: Msg| m.render(lang) + "\n";
        if let Some(d) = &r.damage {
            let found = msg!("cli.repair_found", what = d.what.clone(), offset = d.offset, path = d.path.display());
            emit(out, &line(found))?;
        }
        for a in &r.actions {
            let done = if dry_run {
                msg!("cli.repair_would", action = a.clone())
            } else {
                msg!("cli.repair_did", action = a.clone())
            };
            emit(out, &line(done))?;
        }
        if let Some(q) = &r.quarantined {
            emit(out, &line(msg!("cli.repair_saved", path = q.display())))?;
        }
        match (&verified, r.events) {
            (Some(v), _) => emit(out, &v.render(false, lang))?,
            (None, Some(n)) => emit(out, &line(msg!("cli.repair_would_hold", events = n)))?,
            (None, None) => {}
        }
    }
    verified.and_then(|v| v.failure()).map_or(Ok(()), Err)
}

fn cmd_demo(ctx: &Ctx, out: &mut Out) -> Result<()> {
    let demo_dir = match ctx.store.clone().or_else(|| std::env::var_os("PLANLEDGER_STORE").map(PathBuf::from)) {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("planledger-demo-{}", std::process::id())),
    };
    crate::demo::run(&demo_dir, ctx.json, ctx.lang, out)
}

/// `--as-of` as a typed point.
pub(crate) fn parse_as_of(as_of: &Option<String>) -> Result<Option<AsOf>> {
    as_of.as_deref().map(AsOf::parse).transpose()
}

/// Puts a file name on an error: "FILE line N: ..." when the error names a line, else "FILE: ...".
pub fn in_file(e: Error, name: &str) -> Error {
    e.in_file(name)
}

/// The submissions of a `submit`, each with where it came from ("FILE line N").
pub(crate) fn submissions_of(args: &SubmitArgs) -> Result<(Vec<Submission>, Vec<Option<Msg>>)> {
    match (&args.file, &args.kind) {
        (Some(file), None) => {
            let name = file.display().to_string();
            let (subs, lines) = file_submissions(file, input::FILE_LINES_MAX)?;
            Ok((subs, lines.into_iter().map(|line| Some(msg!("at.file_line", file = &name, line = line))).collect()))
        }
        (None, Some(kind)) => Ok((vec![kind_submission(kind.clone())?], vec![None])),
        (Some(_), Some(_)) => Err(Error::invalid(msg!("cli.file_and_kind"))),
        (None, None) => Err(Error::invalid(msg!("cli.submit_needs", kinds = input::KINDS.join(", ")))),
    }
}

/// The submissions of a JSONL file sent as one atomic batch, at most `max_lines` of them,
/// with the line each is on (a file sent in batches goes through `crate::import`).
pub(crate) fn file_submissions(file: &Path, max_lines: usize) -> Result<(Vec<Submission>, Vec<usize>)> {
    let text = read_file(file)?;
    let name = file.display().to_string();
    let parsed = input::parse_jsonl_max(&text, max_lines).map_err(|e| in_file(e, &name))?;
    if parsed.is_empty() {
        return Err(Error::invalid(msg!("cli.no_submissions")).at(name));
    }
    Ok(parsed.into_iter().map(|(line, sub)| (sub, line)).unzip())
}

/// `--expect STREAM=VERSION` flags.
pub fn parse_expected(flags: &[String]) -> Result<Vec<(String, u64)>> {
    flags
        .iter()
        .map(|f| {
            let (s, v) = f.rsplit_once('=').ok_or_else(|| Error::invalid(msg!("cli.expect_form", value = f)))?;
            let v = v.parse().map_err(|_| Error::invalid(msg!("cli.expect_version", value = f)))?;
            Ok((s.to_string(), v))
        })
        .collect()
}

/// The key pair of `--key` / `PLANLEDGER_KEY`, if one is given.
pub(crate) fn key_pair(key: &Option<PathBuf>) -> Result<Option<planledger::keys::KeyPair>> {
    match key.clone().or_else(|| std::env::var_os("PLANLEDGER_KEY").map(PathBuf::from)) {
        Some(path) => planledger::keys::KeyPair::read(&path).map(Some),
        None => Ok(None),
    }
}

/// Signs every submission for the ledger `ledger` with `pair`, if there is one.
pub(crate) fn sign_all(
    pair: Option<&planledger::keys::KeyPair>,
    ledger: &[u8; 32],
    actor: &str,
    subs: &mut [Submission],
) -> Result<()> {
    match pair {
        Some(pair) => planledger::keys::sign_all(pair, ledger, actor, subs),
        None => Ok(()),
    }
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(msg!("io.cannot_write", path = path.display()), e))
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
        Kind::Withdraw { project, plan, date, reason, common } => {
            put("project", Some(project));
            put("plan", plan);
            put("date", Some(date));
            put("reason", Some(reason));
            ("withdraw", common)
        }
    };
    put("id", common.id);
    put("note", common.note);
    input::submission_from_fields(name, &f)
}

pub(crate) fn print_acks(out: &mut Out, as_json: bool, lang: Lang, acks: &[Ack]) -> Result<()> {
    for a in acks {
        if as_json {
            emit_json(out, &json!({"seq": a.seq, "id": a.id.to_string(), "type": a.kind, "duplicate": a.duplicate}))?;
        } else {
            // Written in place: a file of a million lines is a million acks.
            let written = match a.duplicate {
                false => writeln!(out, "seq {}  {}  {}", a.seq, a.kind, a.id),
                true => {
                    writeln!(out, "seq {}  {}  {}  {}", a.seq, a.kind, a.id, msg!("cli.ack_duplicate").render(lang))
                }
            };
            written.map_err(|e| Error::io(msg!("io.writing_stdout"), e))?;
        }
    }
    Ok(())
}

pub(crate) fn print_import(out: &mut Out, as_json: bool, lang: Lang, plan: &str, acks: &[Ack]) -> Result<()> {
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
    let said = match (acks.first(), acks.last()) {
        (Some(f), Some(l)) if acks.len() == 1 => msg!("cli.imported_one", plan = plan, first = f.seq, last = l.seq),
        (Some(f), Some(l)) => {
            msg!("cli.imported_many", plan = plan, events = acks.len(), first = f.seq, last = l.seq)
        }
        _ => msg!("cli.already_imported", plan = plan),
    };
    emit(out, &(said.render(lang) + "\n"))
}
