//! The PostgreSQL backend: the same log, chain, Merkle tree and checkpoints as the embedded
//! store, kept in tables of one database that several `planledger serve` processes share,
//! each database holding any number of ledgers (`ledger=NAME`).
//!
//! An append is one transaction per ledger: the ledger's head row is locked
//! (`SELECT … FOR UPDATE`), the commit is refused as `Error::Behind` unless it starts at that
//! head (another writer got in first: the caller folds what it wrote and decides again), the
//! chain hashes and the Merkle frontier are computed here, in Rust, from the locked head, the
//! events are inserted (multi-row) and the head row updated. `PRIMARY KEY (ledger, seq)`,
//! `UNIQUE (ledger, id)` and `UNIQUE (ledger, stream, version)` make a fork impossible even
//! if this code were wrong. Only transactions, `FOR UPDATE`, plain INSERT/UPDATE/DELETE and
//! unique constraints are used (no `ON CONFLICT`, no LISTEN/NOTIFY), so the schema runs on
//! the PostgreSQL-derived databases too (docs/deploy-ha.md).
//!
//! Events are stored as the embedded store encodes them (`codec::encode_event`), with their
//! chain hash: `raw_chunks` seals them into the embedded store's chunk format, so `verify`
//! and the proofs check a PostgreSQL ledger byte for byte as they check a directory.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls};
use uuid::Uuid;

use crate::codec::{self, Hash};
use crate::event::{Event, Payload};
use crate::merkle;
use crate::store::{CheckpointWrite, Head, Store, Stored, BATCH_EVENTS_MAX, CHUNK_BYTES_MAX};
use crate::{Error, Msg, Result};

/// The schema version this build writes and reads; `store migrate` brings an older one here.
pub const SCHEMA_VERSION: i32 = 1;

/// The schema, one entry per version: entry `i` takes a database from version `i` to
/// `i + 1`. Forward only; a version once released is never edited.
///
/// The application role needs SELECT and INSERT on every table, UPDATE on
/// `planledger_ledgers` (the head) and `planledger_files`, DELETE on `planledger_files`;
/// never UPDATE or DELETE on `planledger_events` (docs/deploy-ha.md grants exactly this).
const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE planledger_schema (version integer NOT NULL)",
    "INSERT INTO planledger_schema (version) VALUES (0)",
    // One row per ledger: its head (next seq, last hash, Merkle frontier), locked by appends.
    "CREATE TABLE planledger_ledgers (
        name text PRIMARY KEY,
        next_seq bigint NOT NULL,
        head bytea NOT NULL)",
    "CREATE TABLE planledger_events (
        ledger text NOT NULL REFERENCES planledger_ledgers (name),
        seq bigint NOT NULL,
        id uuid NOT NULL,
        stream text NOT NULL,
        version bigint NOT NULL,
        hash bytea NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (ledger, seq),
        UNIQUE (ledger, id),
        UNIQUE (ledger, stream, version))",
    // Which plans list a project or define an indicator (derived from the events).
    "CREATE TABLE planledger_listings (
        ledger text NOT NULL,
        kind char(1) NOT NULL,
        key text NOT NULL,
        seq bigint NOT NULL,
        plan text NOT NULL,
        PRIMARY KEY (ledger, kind, key, seq))",
    "CREATE TABLE planledger_checkpoints (
        ledger text NOT NULL,
        seq bigint NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (ledger, seq))",
    "CREATE TABLE planledger_partitions (
        ledger text NOT NULL,
        hash bytea NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (ledger, hash))",
    // The ledger's own small files: its signing key, its time zone.
    "CREATE TABLE planledger_files (
        ledger text NOT NULL,
        name text NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (ledger, name))",
]];

/// Longest ledger name (`ledger=NAME`): letters, digits, `-` and `_`.
pub const LEDGER_NAME_MAX: usize = 63;

/// The ledger a URL without `ledger=` names.
pub const DEFAULT_LEDGER: &str = "main";

/// Longest a connection attempt waits for one host before the next of the URL's list.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Idle time before TCP keepalives probe a connection to the database.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Longest data sent to the database may go unacknowledged before the connection counts as
/// lost (Linux's TCP_USER_TIMEOUT).
const TCP_USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Rows per multi-row INSERT (7 parameters a row, under PostgreSQL's 65,535).
const INSERT_ROWS_MAX: usize = 1_000;

/// Rows read per query when scanning the log.
const SCAN_PAGE_ROWS: i64 = 2_048;

/// Where a PostgreSQL ledger is: a libpq-style URL (its password never in it) and the
/// ledger's name in that database.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    ledger: String,
    /// The URL as given, for messages (it holds no password).
    shown: String,
}

/// Whether `text` names a PostgreSQL store rather than a directory.
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl PgTarget {
    /// Parses `postgresql://[user@][host][:port]/db?…&ledger=NAME` (libpq's URL form; the
    /// `host` parameter may name a Unix socket directory, several hosts and ports make a
    /// failover list with `target_session_attrs=read-write`). A password in the URL is
    /// refused (it would show in `ps` and shell history): it comes from `PGPASSWORD` or the
    /// password file (`PGPASSFILE`, else `~/.pgpass`).
    pub fn parse(url: &str) -> Result<PgTarget> {
        let refused = |why: Msg| Error::invalid(msg!("pg.url_refused", url = url, why = why));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ledger = DEFAULT_LEDGER.to_string();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("ledger", name)) => ledger = name.to_string(),
                Some(("password", _)) => return Err(refused(msg!("pg.password_in_url"))),
                _ => kept.push(pair),
            }
        }
        check_ledger_name(&ledger).map_err(refused)?;
        let rebuilt = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        let mut config: postgres::Config =
            rebuilt.parse().map_err(|e: postgres::Error| refused(Msg::text(e.to_string())))?;
        if config.get_password().is_some() {
            return Err(refused(msg!("pg.password_in_url")));
        }
        if config.get_dbname().is_none() {
            return Err(refused(msg!("pg.no_database")));
        }
        if let Some(password) = password_for(&config) {
            config.password(password);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        // A primary that vanished without closing its connections (its machine lost power) is
        // noticed within seconds, not after the kernel's two hours: the commit fails as lost,
        // and is retried on the new primary.
        config.keepalives_idle(KEEPALIVE_IDLE);
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
        Ok(PgTarget { config, ledger, shown: url.to_string() })
    }

    pub fn ledger(&self) -> &str {
        &self.ledger
    }

    /// The URL as given (for messages).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The same database, another ledger.
    pub fn with_ledger(&self, ledger: &str) -> Result<PgTarget> {
        check_ledger_name(ledger)
            .map_err(|why| Error::invalid(msg!("pg.url_refused", url = &self.shown, why = why)))?;
        Ok(PgTarget { ledger: ledger.to_string(), ..self.clone() })
    }

    fn connect(&self) -> Result<Client> {
        self.config.connect(NoTls).map_err(|e| database_error(&e))
    }
}

fn check_ledger_name(name: &str) -> std::result::Result<(), Msg> {
    let fits = !name.is_empty()
        && name.len() <= LEDGER_NAME_MAX
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(msg!("pg.ledger_name", name = name, max = LEDGER_NAME_MAX))
    }
}

/// The password for `config` from `PGPASSWORD`, else from the password file as libpq reads
/// it (`host:port:database:user:password`, `*` matching anything).
fn password_for(config: &postgres::Config) -> Option<Vec<u8>> {
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Some(p.into_bytes());
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = config.get_dbname().unwrap_or_default().to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let wanted = [host, port, db, user];
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let fields = split_pgpass(line);
        let matches = fields.len() == 5 && fields.iter().zip(&wanted).all(|(f, w)| f == "*" || f == w);
        matches.then(|| fields[4].clone().into_bytes())
    })
}

/// A password file line's fields (`\:` and `\\` escaped).
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c)
                }
            }
        }
    }
    fields
}

/// A database error as the ledger reports it: a dropped connection is `lost` (retried by
/// the caller after reconnecting), anything else the database's own words.
fn database_error(e: &postgres::Error) -> Error {
    let lost = e.is_closed() || e.code().is_none_or(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    Error::Database { message, lost }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The schema version a database holds (`None`: no planledger schema yet).
fn schema_version(client: &mut Client) -> Result<Option<i32>> {
    // information_schema, not a PostgreSQL function: the derived databases have it too.
    let present = client
        .query_opt(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'planledger_schema'",
            &[],
        )
        .map_err(|e| database_error(&e))?
        .is_some();
    if !present {
        return Ok(None);
    }
    let row = client.query_one("SELECT version FROM planledger_schema", &[]).map_err(|e| database_error(&e))?;
    Ok(Some(row.get(0)))
}

/// What `store init` and `store migrate` did: the schema version before and after.
pub struct Migrated {
    pub from: i32,
    pub to: i32,
}

/// Brings the database's schema to `SCHEMA_VERSION` (creating it in an empty database), one
/// transaction per version, and creates the target's ledger when `create_ledger`. A
/// database newer than this build is refused, never touched.
pub fn migrate(target: &PgTarget, create_ledger: bool) -> Result<Migrated> {
    let mut client = target.connect()?;
    let db = |e: postgres::Error| database_error(&e);
    let from = schema_version(&mut client)?.unwrap_or(0);
    if from > SCHEMA_VERSION {
        return Err(too_new(target, from));
    }
    for (version, steps) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let mut tx = client.transaction().map_err(db)?;
        if version > 0 {
            // Two migrations at once: the second waits here, then finds the version moved.
            let now: i32 = tx.query_one("SELECT version FROM planledger_schema FOR UPDATE", &[]).map_err(db)?.get(0);
            if now != version as i32 {
                continue;
            }
        }
        for step in *steps {
            tx.batch_execute(step).map_err(db)?;
        }
        tx.execute("UPDATE planledger_schema SET version = $1", &[&(version as i32 + 1)]).map_err(db)?;
        tx.commit().map_err(db)?;
    }
    if create_ledger {
        ensure_ledger(&mut client, &target.ledger)?;
    }
    Ok(Migrated { from, to: SCHEMA_VERSION })
}

fn too_new(target: &PgTarget, found: i32) -> Error {
    Error::FormatTooNew { dir: PathBuf::from(target.shown()), found: found as u32, supported: SCHEMA_VERSION as u32 }
}

/// Creates the ledger's row with an empty head unless it exists (two servers starting at
/// once: the second's insert fails on the primary key, and it reads the first's row).
fn ensure_ledger(client: &mut Client, ledger: &str) -> Result<()> {
    let db = |e: postgres::Error| database_error(&e);
    let exists = !client.query("SELECT 1 FROM planledger_ledgers WHERE name = $1", &[&ledger]).map_err(db)?.is_empty();
    if exists {
        return Ok(());
    }
    let head = codec::encode_record(&Head::default());
    match client.execute("INSERT INTO planledger_ledgers (name, next_seq, head) VALUES ($1, 1, $2)", &[&ledger, &head])
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(()),
        Err(e) => Err(db(e)),
    }
}

/// The names of the ledgers a database holds.
pub fn ledgers(target: &PgTarget) -> Result<Vec<String>> {
    let mut client = target.connect()?;
    if schema_version(&mut client)?.is_none() {
        return Ok(Vec::new());
    }
    let rows =
        client.query("SELECT name FROM planledger_ledgers ORDER BY name", &[]).map_err(|e| database_error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A connection and the statements prepared on it: each SQL text is parsed once per
/// connection, so a query is one round trip (a commit is five: BEGIN, the head row locked,
/// the events inserted, the head updated, COMMIT).
struct Conn {
    client: Client,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Conn {
    fn statement(&mut self, sql: &str) -> std::result::Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> std::result::Result<Vec<postgres::Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> std::result::Result<Option<postgres::Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params)
    }

    fn query_one(&mut self, sql: &str, params: Params<'_>) -> std::result::Result<postgres::Row, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_one(&s, params)
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> std::result::Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    fn transaction<T>(&mut self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        self.client.batch_execute("BEGIN").map_err(|e| database_error(&e))?;
        match f(self) {
            Ok(v) => self.client.batch_execute("COMMIT").map(|()| v).map_err(|e| database_error(&e)),
            Err(e) => {
                // A connection that cannot roll back is closed, and its transaction with it.
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// A ledger in a PostgreSQL database, as the ledger above uses any store.
pub struct PgStore {
    target: PgTarget,
    /// `shown` as a path, for `Store::dir` (messages name where a store is).
    shown_path: PathBuf,
    /// Commits and their head lock; `None` after the connection was lost (reconnected on
    /// the next use).
    writer: Mutex<Option<Conn>>,
    /// Reads, beside a commit in progress.
    reader: Mutex<Option<Conn>>,
    /// The head as this process last read or wrote it (`latest_head` asks the database).
    head: RwLock<Head>,
    warnings: Mutex<Vec<Msg>>,
    read_only: bool,
    poisoned: AtomicBool,
}

impl PgStore {
    /// Opens the target's ledger for appending, creating its row if the schema is there.
    pub fn open(target: &PgTarget) -> Result<PgStore> {
        PgStore::open_as(target, false)
    }

    /// Opens an existing ledger for reading: nothing is ever written through it.
    pub fn open_read_only(target: &PgTarget) -> Result<PgStore> {
        PgStore::open_as(target, true)
    }

    fn open_as(target: &PgTarget, read_only: bool) -> Result<PgStore> {
        let mut client = target.connect()?;
        match schema_version(&mut client)? {
            None => return Err(Error::invalid(msg!("pg.no_schema", url = target.shown()))),
            Some(v) if v > SCHEMA_VERSION => return Err(too_new(target, v)),
            Some(v) if v < SCHEMA_VERSION => {
                return Err(Error::invalid(msg!(
                    "pg.schema_old",
                    url = target.shown(),
                    found = v,
                    supported = SCHEMA_VERSION
                )))
            }
            Some(_) => {}
        }
        if !read_only {
            ensure_ledger(&mut client, &target.ledger)?;
        }
        let store = PgStore {
            target: target.clone(),
            shown_path: PathBuf::from(target.shown()),
            writer: Mutex::new(None),
            reader: Mutex::new(Some(Conn { client, prepared: Default::default() })),
            head: RwLock::new(Head::default()),
            warnings: Mutex::new(Vec::new()),
            read_only,
            poisoned: AtomicBool::new(false),
        };
        match store.read_head()? {
            Some(_) => Ok(store),
            None => Err(Error::NoStore(store.shown_path.clone())),
        }
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    /// Runs `f` on the connection in `slot`, connecting first when there is none; a lost
    /// connection is dropped, so the next call makes a new one (to the new primary, after a
    /// failover, when the URL lists the standbys).
    fn with<T>(&self, slot: &Mutex<Option<Conn>>, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut guard = locked(slot);
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = Some(Conn { client: self.target.connect()?, prepared: Default::default() });
        }
        let Some(client) = guard.as_mut() else { return Err(lost("no connection")) };
        let result = f(client);
        if matches!(result, Err(Error::Database { lost: true, .. })) {
            *guard = None;
        }
        result
    }

    fn read<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        self.with(&self.reader, f)
    }

    /// The head row as the database holds it now (`None`: no such ledger); the cached head
    /// moves forward to it.
    fn read_head(&self) -> Result<Option<Head>> {
        let ledger = &self.target.ledger;
        let row = self.read(|c| {
            c.query_opt("SELECT head FROM planledger_ledgers WHERE name = $1", &[ledger])
                .map_err(|e| database_error(&e))
        })?;
        let Some(row) = row else { return Ok(None) };
        let head = decode_head(row.get(0))?;
        let mut cached = self.head.write().unwrap_or_else(|p| p.into_inner());
        if head.next_seq > cached.next_seq {
            *cached = head.clone();
        }
        Ok(Some(head))
    }

    fn cached_head(&self) -> Head {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn end(&self) -> i64 {
        self.cached_head().events() as i64
    }

    /// Events `from..=to` (at most `SCAN_PAGE_ROWS`), with their stored hashes and bytes.
    fn page(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>, Hash)>> {
        let ledger = &self.target.ledger;
        let rows = self.read(|c| {
            c.query(
                "SELECT seq, body, hash FROM planledger_events WHERE ledger = $1 AND seq >= $2 AND seq <= $3
                 ORDER BY seq LIMIT $4",
                &[ledger, &(from as i64), &(to as i64), &SCAN_PAGE_ROWS],
            )
            .map_err(|e| database_error(&e))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (expected, row) in (from..).zip(rows) {
            let seq = row.get::<_, i64>(0) as u64;
            if seq != expected {
                return Err(Error::corrupt(expected, msg!("store.log_jumps", first = seq)));
            }
            out.push((seq, row.get(1), hash_of(seq, row.get(2))?));
        }
        if out.is_empty() && from <= to {
            return Err(Error::corrupt(from, msg!("store.log_ends_early", events = from - 1)));
        }
        Ok(out)
    }

    /// Inserts the commit's events and what is derived from them, inside `tx`.
    fn insert_events(&self, tx: &mut Conn, rows: &[Row<'_>]) -> Result<()> {
        let ledger = &self.target.ledger;
        for part in rows.chunks(INSERT_ROWS_MAX) {
            let mut sql =
                String::from("INSERT INTO planledger_events (ledger, seq, id, stream, version, hash, body) VALUES ");
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 7);
            for (i, r) in part.iter().enumerate() {
                let n = i * 7;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                ));
                params.extend_from_slice(&[ledger, &r.seq, &r.id, &r.stream, &r.version, &r.hash, &r.body]);
            }
            tx.execute(&sql, &params).map_err(|e| database_error(&e))?;
        }
        for r in rows.iter().filter(|r| r.listing.is_some()) {
            if let Some((kind, key, plan)) = &r.listing {
                tx.execute(
                    "INSERT INTO planledger_listings (ledger, kind, key, seq, plan) VALUES ($1, $2, $3, $4, $5)",
                    &[ledger, kind, key, &r.seq, plan],
                )
                .map_err(|e| database_error(&e))?;
            }
        }
        Ok(())
    }

    /// Stores the checkpoint's partitions not stored yet (content-addressed) and its record.
    fn insert_checkpoint(&self, tx: &mut Conn, cp: CheckpointWrite) -> Result<()> {
        let ledger = &self.target.ledger;
        let db = |e: postgres::Error| database_error(&e);
        for (hash, bytes) in &cp.partitions {
            let hash = hash.as_slice();
            let there = tx
                .query_opt("SELECT 1 FROM planledger_partitions WHERE ledger = $1 AND hash = $2", &[ledger, &hash])
                .map_err(db)?;
            if there.is_none() {
                tx.execute(
                    "INSERT INTO planledger_partitions (ledger, hash, bytes) VALUES ($1, $2, $3)",
                    &[ledger, &hash, bytes],
                )
                .map_err(db)?;
            }
        }
        tx.execute(
            "INSERT INTO planledger_checkpoints (ledger, seq, record) VALUES ($1, $2, $3)",
            &[ledger, &(cp.seq as i64), &cp.record],
        )
        .map_err(db)?;
        Ok(())
    }

    /// The listings the first `through` events imply, sorted, against those stored.
    fn listings_hold(&self, through: u64) -> Result<bool> {
        let mut implied = Vec::new();
        self.fold_events(1, &mut |e| {
            if e.seq > through {
                return Ok(false);
            }
            if let Some((kind, key, plan)) = listing_of(e) {
                implied.push((kind, key.to_string(), e.seq as i64, plan.to_string()));
            }
            Ok(true)
        })?;
        implied.sort();
        let ledger = &self.target.ledger;
        let rows = self.read(|c| {
            c.query(
                "SELECT kind, key, seq, plan FROM planledger_listings WHERE ledger = $1 AND seq <= $2
                 ORDER BY kind, key, seq, plan",
                &[ledger, &(through as i64)],
            )
            .map_err(|e| database_error(&e))
        })?;
        let stored: Vec<(String, String, i64, String)> =
            rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
        Ok(stored == implied)
    }

    /// Writes one of the ledger's files (`replace`: over one that is there, else only when
    /// there is none), serialized with appends by the ledger's row lock: whether it wrote.
    fn put_file(&self, name: &str, bytes: &[u8], replace: bool) -> Result<bool> {
        if self.read_only {
            return Err(Error::invalid(msg!("pg.read_only", url = self.target.shown())));
        }
        let (ledger, name) = (self.target.ledger.as_str(), name.to_string());
        self.with(&self.writer, |conn| {
            conn.transaction(|tx| {
                let db = |e: postgres::Error| database_error(&e);
                tx.query_opt("SELECT 1 FROM planledger_ledgers WHERE name = $1 FOR UPDATE", &[&ledger]).map_err(db)?;
                let there = tx
                    .query_opt("SELECT 1 FROM planledger_files WHERE ledger = $1 AND name = $2", &[&ledger, &name])
                    .map_err(db)?
                    .is_some();
                if there && !replace {
                    return Ok(false);
                }
                if there {
                    tx.execute("DELETE FROM planledger_files WHERE ledger = $1 AND name = $2", &[&ledger, &name])
                        .map_err(db)?;
                }
                tx.execute(
                    "INSERT INTO planledger_files (ledger, name, bytes) VALUES ($1, $2, $3)",
                    &[&ledger, &name, &bytes],
                )
                .map_err(db)?;
                Ok(true)
            })
        })
    }

    fn listed(&self, kind: &str, key: &str) -> Result<Option<Vec<String>>> {
        let ledger = &self.target.ledger;
        let end = self.end();
        let rows = self.read(|c| {
            c.query(
                "SELECT DISTINCT plan FROM planledger_listings WHERE ledger = $1 AND kind = $2 AND key = $3 AND seq <= $4
                 ORDER BY plan",
                &[ledger, &kind, &key, &end],
            )
            .map_err(|e| database_error(&e))
        })?;
        Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
    }
}

impl Drop for PgStore {
    /// A client runs a runtime of its own, which may not be dropped on an async runtime's
    /// thread (a server closing its ledger at shutdown): the connections close on a thread of
    /// their own.
    fn drop(&mut self) {
        let clients =
            [self.writer.get_mut(), self.reader.get_mut()].map(|c| c.unwrap_or_else(|p| p.into_inner()).take());
        if let Ok(closing) = std::thread::Builder::new().name("planledger-pg-close".into()).spawn(move || drop(clients))
        {
            let _ = closing.join();
        }
    }
}

/// One event as it is inserted.
struct Row<'e> {
    seq: i64,
    id: Uuid,
    stream: String,
    version: i64,
    hash: Vec<u8>,
    body: Vec<u8>,
    listing: Option<(String, &'e str, &'e str)>,
}

/// What an event lists in `planledger_listings`: (kind, key, plan).
fn listing_of(e: &Event) -> Option<(String, &str, &str)> {
    match &e.payload {
        Payload::ProjectListed(p) => Some(("P".to_string(), p.project.as_str(), p.plan.as_str())),
        Payload::IndicatorDefined(i) => Some(("I".to_string(), i.indicator.as_str(), i.plan.as_str())),
        _ => None,
    }
}

fn lost(why: &str) -> Error {
    Error::Database { message: why.to_string(), lost: true }
}

fn decode_head(bytes: Vec<u8>) -> Result<Head> {
    codec::decode_record(&bytes).map_err(|e| Error::corrupt(0, msg!("pg.head_damaged", error = e.to_msg())))
}

fn hash_of(seq: u64, bytes: Vec<u8>) -> Result<Hash> {
    Hash::try_from(bytes.as_slice()).map_err(|_| Error::corrupt(seq, msg!("pg.hash_damaged")))
}

fn decode_at(seq: u64, bytes: &[u8]) -> Result<Event> {
    let event = codec::decode_event(bytes).map_err(|e| Error::corrupt(seq, e.to_msg()))?;
    if event.seq != seq {
        return Err(Error::corrupt(seq, msg!("store.event_records_seq", found = event.seq)));
    }
    Ok(event)
}

/// Reads the log a page at a time, from `next` to `end`.
struct Scan<'s> {
    store: &'s PgStore,
    next: u64,
    end: u64,
    page: VecDeque<(u64, Vec<u8>, Hash)>,
    failed: bool,
}

impl Iterator for Scan<'_> {
    type Item = Result<(u64, Vec<u8>, Hash)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.page.is_empty() {
            if self.next > self.end {
                return None;
            }
            match self.store.page(self.next, self.end) {
                Ok(p) => {
                    self.next += p.len() as u64;
                    self.page = p.into();
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}

impl PgStore {
    fn rows(&self, from_seq: u64) -> Scan<'_> {
        Scan {
            store: self,
            next: from_seq.max(1),
            end: self.cached_head().events(),
            page: VecDeque::new(),
            failed: false,
        }
    }
}

impl Store for PgStore {
    fn dir(&self) -> &Path {
        &self.shown_path
    }
    fn head(&self) -> Head {
        self.cached_head()
    }
    fn settled_head(&self) -> Head {
        // A commit holds the writer connection throughout: once it is free, none is under way.
        drop(locked(&self.writer));
        self.cached_head()
    }
    fn latest_head(&self) -> Result<Head> {
        self.read_head()?.ok_or_else(|| Error::NoStore(self.shown_path.clone()))
    }
    fn is_shared(&self) -> bool {
        true
    }

    fn commit_batches(&self, batches: &[&[Event]], checkpoint: Option<CheckpointWrite>) -> Result<()> {
        let total: usize = batches.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(());
        }
        if self.read_only {
            return Err(Error::invalid(msg!("pg.read_only", url = self.target.shown())));
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(lost("an earlier commit failed halfway; reopen the store"));
        }
        assert!(total <= BATCH_EVENTS_MAX, "batch of {total} events over BATCH_EVENTS_MAX");
        let ledger = self.target.ledger.clone();
        let events: Vec<&Event> = batches.iter().flat_map(|b| b.iter()).collect();
        let first = events[0].seq;
        let head = self.with(&self.writer, |conn| {
            conn.transaction(|tx| {
                let db = |e: postgres::Error| database_error(&e);
                let row = tx
                    .query_opt("SELECT head FROM planledger_ledgers WHERE name = $1 FOR UPDATE", &[&ledger])
                    .map_err(db)?
                    .ok_or_else(|| Error::NoStore(self.shown_path.clone()))?;
                let base = decode_head(row.get(0))?;
                if base.next_seq != first {
                    // Another writer appended since this one read the head: nothing is written.
                    return Err(Error::Behind { expected: first, head: base.events() });
                }
                let mut hash = base.last_hash;
                let mut tree = base.merkle.clone();
                let mut last_recorded_at = base.last_recorded_at;
                let mut rows = Vec::with_capacity(events.len());
                for (i, event) in events.iter().enumerate() {
                    // The log's invariants, checked on every write as the embedded store does.
                    assert_eq!(event.seq, base.next_seq + i as u64, "seq gap in commit");
                    assert!(event.recorded_at >= last_recorded_at, "recorded_at went backwards at seq {}", event.seq);
                    last_recorded_at = event.recorded_at;
                    let mut body = Vec::new();
                    codec::encode_event(event, &mut body);
                    hash = codec::chain_hash(&hash, &body);
                    tree.push(merkle::leaf_hash(&body));
                    rows.push(Row {
                        seq: event.seq as i64,
                        id: event.id,
                        stream: event.payload.stream(),
                        version: event.stream_version as i64,
                        hash: hash.to_vec(),
                        body,
                        listing: listing_of(event),
                    });
                }
                let head =
                    Head { next_seq: base.next_seq + total as u64, last_hash: hash, last_recorded_at, merkle: tree };
                self.insert_events(tx, &rows)?;
                if let Some(cp) = checkpoint {
                    assert_eq!(cp.seq, head.next_seq - 1, "a checkpoint covers exactly the committed log");
                    self.insert_checkpoint(tx, cp)?;
                }
                tx.execute(
                    "UPDATE planledger_ledgers SET next_seq = $2, head = $3 WHERE name = $1",
                    &[&ledger, &(head.next_seq as i64), &codec::encode_record(&head)],
                )
                .map_err(db)?;
                Ok(head)
            })
        });
        match head {
            Ok(head) => {
                *self.head.write().unwrap_or_else(|p| p.into_inner()) = head;
                Ok(())
            }
            Err(Error::Behind { expected, head }) => {
                // The cached head moves on, so the caller's catch-up reads what it missed.
                self.read_head()?;
                Err(Error::Behind { expected, head })
            }
            Err(e) => Err(e),
        }
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }

    fn record(&self, seq: u64) -> Result<Option<(Vec<u8>, Hash)>> {
        if seq == 0 || seq as i64 > self.end() {
            return Ok(None);
        }
        let ledger = &self.target.ledger;
        let row = self.read(|c| {
            c.query_opt(
                "SELECT body, hash FROM planledger_events WHERE ledger = $1 AND seq = $2",
                &[ledger, &(seq as i64)],
            )
            .map_err(|e| database_error(&e))
        })?;
        match row {
            Some(r) => Ok(Some((r.get(0), hash_of(seq, r.get(1))?))),
            None => Err(Error::corrupt(seq, msg!("store.log_ends_early", events = seq - 1))),
        }
    }
    fn get(&self, seq: u64) -> Result<Option<Stored>> {
        match self.record(seq)? {
            Some((bytes, hash)) => Ok(Some(Stored { event: decode_at(seq, &bytes)?, hash })),
            None => Ok(None),
        }
    }
    fn get_event(&self, seq: u64) -> Result<Option<Event>> {
        Ok(self.get(seq)?.map(|s| s.event))
    }
    fn scan(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Stored>> + '_> {
        Box::new(
            self.rows(from_seq)
                .map(|r| r.and_then(|(seq, body, hash)| Ok(Stored { event: decode_at(seq, &body)?, hash }))),
        )
    }
    fn events(&self, from_seq: u64) -> Box<dyn Iterator<Item = Result<Event>> + '_> {
        Box::new(self.rows(from_seq).map(|r| r.and_then(|(seq, body, _)| decode_at(seq, &body))))
    }
    fn fold_events(&self, from_seq: u64, f: &mut dyn FnMut(&Event) -> Result<bool>) -> Result<()> {
        for r in self.rows(from_seq) {
            let (seq, body, _) = r?;
            if !f(&decode_at(seq, &body)?)? {
                break;
            }
        }
        Ok(())
    }
    fn raw_chunks(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        // The embedded store's chunks, sealed from the stored bytes and hashes (the chain is
        // checked by whoever reads them, not assumed here). A chunk ends where a commit with
        // a checkpoint did, as the embedded store's do: `verify` checks each checkpoint
        // against the state after the chunk it ends.
        let ends: std::collections::BTreeSet<u64> = match self.checkpoints().map(|c| c.map(|(s, _)| s)).collect() {
            Ok(ends) => ends,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let mut rows = self.rows(1).peekable();
        let mut prev: Hash = [0; 32];
        Box::new(std::iter::from_fn(move || {
            let mut body = Vec::new();
            let mut count = 0u32;
            let mut first = 0;
            let chunk_prev = prev;
            while body.len() < CHUNK_BYTES_MAX {
                let (seq, bytes, hash) = match rows.next()? {
                    Err(e) => return Some(Err(e)),
                    Ok(row) => row,
                };
                if count == 0 {
                    first = seq;
                }
                body.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
                body.extend_from_slice(&bytes);
                body.extend_from_slice(&hash[..codec::HASH_PREFIX_LEN]);
                prev = hash;
                count += 1;
                if ends.contains(&seq) || rows.peek().is_none() {
                    break;
                }
            }
            (count > 0).then(|| Ok((first, codec::seal_chunk(count, &chunk_prev, &body))))
        }))
    }
    fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let ledger = &self.target.ledger;
        let at = seq.min(i64::MAX as u64) as i64;
        let row = self.read(|c| {
            c.query_opt(
                "SELECT seq, record FROM planledger_checkpoints WHERE ledger = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
                &[ledger, &at],
            )
            .map_err(|e| database_error(&e))
        })?;
        Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }
    fn checkpoints(&self) -> Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        let ledger = &self.target.ledger;
        let rows = self.read(|c| {
            c.query("SELECT seq, record FROM planledger_checkpoints WHERE ledger = $1 ORDER BY seq", &[ledger])
                .map_err(|e| database_error(&e))
        });
        match rows {
            Ok(rows) => Box::new(rows.into_iter().map(|r| Ok((r.get::<_, i64>(0) as u64, r.get(1))))),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
    fn partition(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        let ledger = &self.target.ledger;
        let hash = hash.as_slice();
        let row = self.read(|c| {
            c.query_opt("SELECT bytes FROM planledger_partitions WHERE ledger = $1 AND hash = $2", &[ledger, &hash])
                .map_err(|e| database_error(&e))
        })?;
        // Stored as the embedded store stores them (`pack_partition`).
        Ok(row.map(|r| crate::store::unpack_partition(r.get(0))))
    }
    fn partition_bytes(&self, hash: &Hash) -> Result<Option<u64>> {
        let ledger = &self.target.ledger;
        let hash = hash.as_slice();
        let row = self.read(|c| {
            c.query_opt(
                "SELECT octet_length(bytes)::bigint FROM planledger_partitions WHERE ledger = $1 AND hash = $2",
                &[ledger, &hash],
            )
            .map_err(|e| database_error(&e))
        })?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }
    fn for_each_id(&self, f: &mut dyn FnMut(Uuid, u64)) -> Result<()> {
        let ledger = &self.target.ledger;
        let end = self.end();
        let mut from = 1i64;
        while from <= end {
            let rows = self.read(|c| {
                c.query(
                    "SELECT id, seq FROM planledger_events WHERE ledger = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                    &[ledger, &from, &end, &(SCAN_PAGE_ROWS * 8)],
                )
                .map_err(|e| database_error(&e))
            })?;
            let Some(last) = rows.last().map(|r| r.get::<_, i64>(1)) else { break };
            for r in &rows {
                f(r.get(0), r.get::<_, i64>(1) as u64);
            }
            from = last + 1;
        }
        Ok(())
    }
    fn seq_of_id(&self, id: &Uuid) -> Result<Option<u64>> {
        let ledger = &self.target.ledger;
        let end = self.end();
        let row = self.read(|c| {
            c.query_opt(
                "SELECT seq FROM planledger_events WHERE ledger = $1 AND id = $2 AND seq <= $3",
                &[ledger, id, &end],
            )
            .map_err(|e| database_error(&e))
        })?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }
    fn plans_listing(&self, project: &str) -> Result<Option<Vec<String>>> {
        self.listed("P", project)
    }
    fn plans_defining(&self, indicator: &str) -> Result<Option<Vec<String>>> {
        self.listed("I", indicator)
    }
    fn disk_bytes(&self) -> u64 {
        let ledger = &self.target.ledger;
        let bytes = self.read(|c| {
            c.query_one(
                "SELECT (SELECT coalesce(sum(octet_length(body) + octet_length(hash) + 40), 0) FROM planledger_events WHERE ledger = $1)::bigint
                      + (SELECT coalesce(sum(octet_length(bytes)), 0) FROM planledger_partitions WHERE ledger = $1)::bigint
                      + (SELECT coalesce(sum(octet_length(record)), 0) FROM planledger_checkpoints WHERE ledger = $1)::bigint",
                &[ledger],
            )
            .map_err(|e| database_error(&e))
        });
        bytes.map_or(0, |r| r.get::<_, i64>(0) as u64)
    }
    fn check_indexes(&self, through: u64) -> Result<Option<Msg>> {
        // Ids and stream versions are columns of the events themselves, under unique
        // constraints; the listings are derived, and checked against the events.
        if self.listings_hold(through)? {
            Ok(None)
        } else {
            Ok(Some(msg!("pg.listings_differ")))
        }
    }
    fn check_framing(&self) -> Result<Option<Msg>> {
        // The database checks its own pages (data checksums: docs/deploy-ha.md); the chain
        // over the stored bytes is `verify`'s.
        Ok(None)
    }
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let ledger = &self.target.ledger;
        let row = self.read(|c| {
            c.query_opt("SELECT bytes FROM planledger_files WHERE ledger = $1 AND name = $2", &[ledger, &name])
                .map_err(|e| database_error(&e))
        })?;
        Ok(row.map(|r| r.get(0)))
    }
    fn write_file(&self, name: &str, bytes: &[u8], _private: bool) -> Result<()> {
        self.put_file(name, bytes, true).map(|_| ())
    }
    fn create_file(&self, name: &str, bytes: &[u8], _private: bool) -> Result<bool> {
        self.put_file(name, bytes, false)
    }
    fn warn(&self, what: Msg) {
        let mut notes = locked(&self.warnings);
        if !notes.contains(&what) {
            notes.push(what);
        }
    }
    fn warnings(&self) -> Vec<Msg> {
        std::mem::take(&mut *locked(&self.warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_ledger_and_keeps_libpq_s_parameters() {
        let t = PgTarget::parse(
            "postgresql://app@%2Frun%2Fpostgresql:5433/plans?ledger=zz-guancheng_1&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(t.ledger(), "zz-guancheng_1");
        assert_eq!(t.config.get_dbname(), Some("plans"));
        assert_eq!(t.config.get_user(), Some("app"));
        assert_eq!(t.config.get_ports(), &[5433]);
        assert_eq!(t.config.get_target_session_attrs(), postgres::config::TargetSessionAttrs::ReadWrite);
        assert_eq!(PgTarget::parse("postgres://db1,db2/plans").unwrap().ledger(), DEFAULT_LEDGER);
        assert_eq!(PgTarget::parse("postgres://db1,db2/plans").unwrap().config.get_hosts().len(), 2);
    }

    #[test]
    fn a_password_a_missing_database_or_a_bad_ledger_name_is_refused_in_one_line() {
        for (url, says) in [
            ("postgresql://app:secret@db1/plans", "a password does not belong in the URL"),
            ("postgresql://app@db1/plans?password=secret", "a password does not belong in the URL"),
            ("postgresql://db1", "it names no database"),
            ("postgresql://db1/plans?ledger=a/b", "ledger name 'a/b' must be"),
            ("postgresql://db1/plans?ledger=", "ledger name '' must be"),
            ("postgresql://db1/plans?bogus=1", "cannot use the store URL"),
        ] {
            let e = PgTarget::parse(url).err().unwrap_or_else(|| panic!("{url} was taken"));
            let text = e.to_string();
            assert!(text.contains(says), "{url}: {text}");
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.contains("secret") || text.contains(url), "{text}");
        }
    }

    #[test]
    fn a_password_file_line_matches_with_wildcards_and_escapes() {
        assert_eq!(split_pgpass(r"db1:5432:*:app:pa\:ss\\word"), ["db1", "5432", "*", "app", r"pa:ss\word"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# comment\nother:5432:*:app:wrong\ndb1:*:plans:app:right\n").unwrap();
        // The process environment is shared by the tests of this binary: only this one sets it.
        std::env::remove_var("PGPASSWORD");
        std::env::set_var("PGPASSFILE", &file);
        let config: postgres::Config = "postgresql://app@db1/plans".parse().unwrap();
        assert_eq!(password_for(&config), Some(b"right".to_vec()));
        let config: postgres::Config = "postgresql://nobody@db1/plans".parse().unwrap();
        assert_eq!(password_for(&config), None);
        std::env::remove_var("PGPASSFILE");
    }
}
