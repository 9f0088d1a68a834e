//! Throwaway PostgreSQL servers for the tests that need one: a cluster of its own per test, in
//! a temporary directory, reached only through a Unix socket in that directory, gone when the
//! test ends.
//!
//! Whether the suite runs is `PLANLEDGER_TEST_PG`: `1` runs it and fails when PostgreSQL is
//! missing (CI must not pass by skipping), `0` skips it, unset runs it when the binaries are
//! found. The tests run as root in CI and initdb refuses root, so the server programs run as the
//! `postgres` OS user through `runuser` (directly when the tests are not root); the temporary
//! directory is made theirs for that, under /tmp so that every directory above it can be
//! traversed.
//!
//! The connection URLs use one form, the one both libpq (psql) and the `postgres` /
//! `tokio-postgres` crates (0.19 / 0.7) parse: the socket directory percent-encoded in the host
//! part, with its port, and the hosts separated by commas:
//!
//! ```text
//! postgresql://postgres@%2Ftmp%2Fplanledger-pg.XXXX%2Fsock:PORT/DB
//! postgresql://postgres@%2Ftmp%2FA%2Fsock:P1,%2Ftmp%2FB%2Fsock:P2/DB?target_session_attrs=read-write
//! ```
//!
//! tokio-postgres documents that "Unix socket paths in the host section of the URL should be
//! percent-encoded" and that "multiple host/port pairs can be comma-separated". The other form
//! libpq takes, `postgresql://postgres@/DB?host=/a,/b&port=P1,P2`, is not used: tokio-postgres
//! takes a `host` query parameter as a single path (it splits only `port` on commas), so two
//! socket directories given that way would be read as one directory named "/a,/b". (Both
//! forms checked with psql 15 and with postgres 0.19.14 / tokio-postgres 0.7.18: the second
//! fails there with "invalid configuration", two ports for one host.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that says whether the PostgreSQL suite runs (`1`, `0`, or unset).
pub const ENV: &str = "PLANLEDGER_TEST_PG";

/// How long a server gets to start, to promote or to be caught up by its standby: generous,
/// for a loaded CI machine; a healthy run takes a second or two.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The name the synchronous standby gives the primary (its `application_name`), which the
/// primary's `synchronous_standby_names` waits for.
const STANDBY_NAME: &str = "replica1";

/// Whether the PostgreSQL suite runs: true when `PLANLEDGER_TEST_PG=1`, false when it is `0`,
/// otherwise true when PostgreSQL's server programs are found. With `PLANLEDGER_TEST_PG=1` and
/// no server, an error in one line: the tests then fail instead of passing by skipping.
pub fn wanted() -> Result<bool, String> {
    decide().map(|skip| skip.is_none())
}

/// For the first line of each test of the suite: true (and a line saying why) when the test is
/// to return at once; panics when the suite was asked for and cannot run.
pub fn skipped() -> bool {
    match decide() {
        Ok(None) => false,
        Ok(Some(why)) => {
            println!("postgres suite: skipped ({why})");
            true
        }
        Err(e) => panic!("{e}"),
    }
}

/// `Ok(None)`: run; `Ok(Some(why))`: skip; `Err`: asked for and impossible.
fn decide() -> Result<Option<String>, String> {
    let found = server();
    match std::env::var(ENV).unwrap_or_default().as_str() {
        "0" => Ok(Some(format!("{ENV}=0"))),
        "1" => match found {
            Ok(_) => Ok(None),
            Err(why) => Err(format!("{ENV}=1 but the PostgreSQL suite cannot run: {why}")),
        },
        "" => Ok(found.as_ref().err().cloned()),
        other => Err(format!("{ENV} is 0 or 1 (or unset), not {other:?}")),
    }
}

/// The directory of initdb, pg_ctl, pg_basebackup, psql and postgres, or why there is none.
/// Looked up once per test binary.
fn server() -> Result<&'static Path, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let dir = bindir().ok_or("no PostgreSQL binaries")?;
            if root() && !Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success()) {
                return Err(format!("running as root with no `postgres` user to run {} as", dir.display()));
            }
            Ok(dir)
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// `pg_config --bindir` when it has the server programs (a libpq-only pg_config points at
/// /usr/bin), else Debian's /usr/lib/postgresql/15/bin, else the highest version there.
fn bindir() -> Option<PathBuf> {
    let complete =
        |d: &Path| ["initdb", "pg_ctl", "pg_basebackup", "psql", "postgres"].iter().all(|p| d.join(p).is_file());
    let configured = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.split('.').map(|n| n.parse().ok()).collect::<Option<Vec<u32>>>()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    configured
        .into_iter()
        .chain([PathBuf::from("/usr/lib/postgresql/15/bin")])
        .chain(versions.into_iter().rev().map(|(_, d)| d))
        .find(|d| complete(d))
}

fn root() -> bool {
    extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// One PostgreSQL server: its data directory, its socket directory and its log in a temporary
/// directory of its own. Dropping it stops the server (immediately: nothing in it is kept) and
/// removes the directory.
pub struct Cluster {
    /// The temporary directory: `data/`, `sock/`, `server.log`.
    tmp: tempfile::TempDir,
    /// The port names the socket (`sock/.s.PGSQL.<port>`); with `listen_addresses=''` the
    /// server opens no TCP port, so nothing outside this directory can clash with it.
    pub port: u16,
    /// "primary" or the standby's name: to say which server a failure is about.
    name: String,
    bin: PathBuf,
}

impl Cluster {
    /// A new server, started and accepting connections, with its superuser `postgres` trusted
    /// on the socket. Settings are those of a production primary where they matter to a ledger
    /// (fsync, synchronous commit, WAL for replicas), small elsewhere.
    pub fn start() -> Cluster {
        let cluster = Cluster::empty("primary");
        let mut initdb = cluster.command("initdb");
        // --no-sync: initdb's own fsync of the new files only guards against the machine
        // losing power in the next seconds; the server itself runs with fsync=on.
        initdb.arg("-D").arg(cluster.data()).args(["--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C"]);
        initdb.arg("--no-sync");
        cluster.run(initdb, "initdb");
        cluster.pg_ctl_start();
        cluster
    }

    /// A Cluster with its directory ready for the postgres user, no server yet. Made before
    /// anything can fail, so that Drop stops whatever was started.
    fn empty(name: &str) -> Cluster {
        let bin = server().unwrap_or_else(|e| panic!("PostgreSQL: {e}")).to_path_buf();
        // Under /tmp rather than TMPDIR: the socket path must stay under the ~107 bytes a
        // Unix socket address holds, and every directory above must be traversable by postgres.
        let tmp = tempfile::Builder::new().prefix("planledger-pg.").tempdir_in("/tmp").unwrap();
        std::fs::create_dir(tmp.path().join("sock")).unwrap();
        std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        if root() {
            let out = Command::new("chown").arg("-R").arg("postgres:postgres").arg(tmp.path()).output().unwrap();
            assert!(out.status.success(), "chown postgres {}: {}", tmp.path().display(), text(&out.stderr));
        }
        Cluster { tmp, port: free_port(), name: name.to_string(), bin }
    }

    /// The directory of the server's socket: a libpq `host`.
    pub fn socket_dir(&self) -> PathBuf {
        self.tmp.path().join("sock")
    }

    /// The data directory (PGDATA).
    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// The server's log (stderr of the postmaster and its children).
    pub fn log_path(&self) -> PathBuf {
        self.tmp.path().join("server.log")
    }

    /// The libpq-style URL of database `db` as user postgres, through the socket (the form is
    /// in this module's comment).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@{}/{}", self.host_port(), encode(db))
    }

    fn host_port(&self) -> String {
        format!("{}:{}", encode(&self.socket_dir().to_string_lossy()), self.port)
    }

    /// Creates database `name` (quoted: any name will do).
    pub fn create_db(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")));
    }

    /// Runs `sql` in database `db` and returns what psql prints unaligned and without headers
    /// (`-At`: one row a line, columns separated by `|`), the last newline taken off. Panics with
    /// psql's error and the end of the server's log when the statement fails.
    #[track_caller]
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql).unwrap_or_else(|e| panic!("psql on {} ({db}): {sql}\n{e}\n{}", self.name, self.log()))
    }

    /// `psql` without the panic: for polling, and for statements a test expects to fail.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        psql_url(&self.url(db), sql)
    }

    /// The end of the server's log: for panic messages, so that a CI failure can be read.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"));
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- {} log, {}:\n{}",
            self.name,
            self.log_path().display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    /// Kills the server with SIGKILL, as a crash of its machine would stop it: the postmaster
    /// and every process it started at once (each of them is in a session of its own, so not
    /// reached through the postmaster's process group), so that no backend or WAL sender of the
    /// dead server finishes a commit or answers afterwards. Returns when they are all dead. The
    /// files stay as the crash left them: `restart` recovers.
    pub fn kill9(&mut self) {
        let pid = self.pid().unwrap_or_else(|| panic!("{} is not running: no pid in its postmaster.pid", self.name));
        // Stopped, the postmaster starts no child between the listing and the kill.
        signal("STOP", pid);
        let mut all = children(pid);
        all.push(pid);
        for &p in &all {
            signal("KILL", p);
        }
        let gone = wait_until(TIMEOUT, || !all.iter().any(|&p| alive(p)));
        assert!(gone, "{} (pids {all:?}) still alive {TIMEOUT:?} after kill -9", self.name);
    }

    /// The postmaster's pid: the first line of postmaster.pid, which stays after a crash.
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
    }

    /// Starts the server again after `kill9`, on the same directory, port and socket: crash
    /// recovery, which replays the WAL before the server accepts connections.
    pub fn restart(&mut self) {
        // The server takes a lock file (postmaster.pid, and one beside the socket) whose pid is
        // alive for a running server's; a zombie is, until reaped, and some container inits
        // reap orphans seconds late. A file is stale once its process is dead: what the
        // server checks, taken one step further.
        if self.pid().is_some_and(|p| !alive(p)) {
            let socket_lock = self.socket_dir().join(format!(".s.PGSQL.{}.lock", self.port));
            for stale in [self.data().join("postmaster.pid"), socket_lock] {
                let _ = std::fs::remove_file(stale);
            }
        }
        self.pg_ctl_start();
    }

    /// A synchronous streaming standby of this server, on a port and socket of its own: from
    /// now on a commit here returns only once the standby has flushed it, so that after
    /// `kill9` of this server and `promote` of the standby no acknowledged commit is lost.
    /// Returns when this server reports the standby as `sync`.
    pub fn start_sync_replica(&mut self) -> Cluster {
        let replica = Cluster::empty(STANDBY_NAME);
        let mut base = replica.command("pg_basebackup");
        // -R writes standby.signal and a primary_conninfo made of these connection settings,
        // application_name included: the name this server's synchronous_standby_names waits for.
        // A fast checkpoint, or the backup waits for a spread one.
        base.arg("-D").arg(replica.data()).args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]);
        base.arg("-d").arg(format!("application_name={STANDBY_NAME}"));
        base.arg("-h").arg(self.socket_dir()).args(["-p", &self.port.to_string(), "-U", "postgres"]);
        replica.run(base, "pg_basebackup");
        // Only now, so that the standby's copy of postgresql.auto.conf has no
        // synchronous_standby_names: once promoted, its commits must not wait for a standby.
        self.psql("postgres", &format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"));
        self.psql("postgres", "SELECT pg_reload_conf()");
        replica.pg_ctl_start();
        let query = format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'");
        let sync = wait_until(TIMEOUT, || self.try_psql("postgres", &query).is_ok_and(|s| s == "sync"));
        assert!(
            sync,
            "{STANDBY_NAME} not a sync standby after {TIMEOUT:?}: pg_stat_replication says {:?}\n{}\n{}",
            self.try_psql("postgres", "SELECT application_name, state, sync_state FROM pg_stat_replication"),
            self.log(),
            replica.log()
        );
        replica
    }

    /// Promotes this standby to a primary and returns when it accepts writes.
    pub fn promote(&self) {
        let mut promote = self.command("pg_ctl");
        promote.arg("promote").arg("-D").arg(self.data()).args(["-w", "-t", &TIMEOUT.as_secs().to_string()]);
        self.run(promote, "pg_ctl promote");
        let query = "SELECT pg_is_in_recovery()";
        let done = wait_until(TIMEOUT, || self.try_psql("postgres", query).is_ok_and(|s| s == "f"));
        assert!(done, "{} still in recovery {TIMEOUT:?} after promote\n{}", self.name, self.log());
    }

    /// `pg_ctl start -w`, which returns once the server accepts connections (a standby:
    /// read-only ones), so no pg_isready loop is needed after it.
    fn pg_ctl_start(&self) {
        let options = format!(
            "-k '{}' -p {} -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c max_connections=200 \
             -c shared_buffers=32MB -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on",
            self.socket_dir().display(),
            self.port
        );
        let mut start = self.command("pg_ctl");
        start.arg("start").arg("-D").arg(self.data()).arg("-l").arg(self.log_path());
        start.args(["-w", "-t", &TIMEOUT.as_secs().to_string(), "-o", &options]);
        self.run(start, "pg_ctl start");
    }

    /// A server program, run as the postgres user when the tests are root. Its working
    /// directory is ours (postgres may not enter the test's: initdb and pg_ctl complain), and
    /// no PG* variable of the caller's environment (PGHOST, PGDATA, PGOPTIONS...) reaches it.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut c = if root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.current_dir(self.tmp.path());
        clean_env(&mut c);
        c
    }

    #[track_caller]
    fn run(&self, mut c: Command, what: &str) {
        let out = c.output().unwrap_or_else(|e| panic!("{what} ({}): {e}", self.name));
        assert!(
            out.status.success(),
            "{what} ({}) failed, {}:\n{}{}\n{}",
            self.name,
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Not after kill9: pg_ctl would wait for a dead server's postmaster.pid to go.
        if self.pid().is_some_and(alive) {
            let mut stop = self.command("pg_ctl");
            stop.arg("stop").arg("-D").arg(self.data()).args(["-m", "immediate", "-w"]);
            let _ = stop.output();
        }
        // The TempDir is removed after this (root may remove the postgres user's files).
    }
}

/// The database `shared` makes for `fresh_ledger`.
pub const SHARED_DB: &str = "planledger";

/// One cluster for the whole test process, started on first use, with planledger's tables in
/// database `SHARED_DB`: tests that need only a ledger of their own take one from it
/// (`fresh_ledger`), instead of a server each. A static is never dropped, so a watchdog
/// process stops the server and removes its directory once this process has exited.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let cluster = Cluster::start();
        cluster.create_db(SHARED_DB);
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {as_postgres}{pg_ctl} stop -D {data} -m immediate -w; rm -rf {tmp}",
            pid = std::process::id(),
            as_postgres = if root() { "runuser -u postgres -- " } else { "" },
            pg_ctl = cluster.bin.join("pg_ctl").display(),
            data = cluster.data().display(),
            tmp = cluster.tmp.path().display(),
        );
        // Outlives this process by design: it is what stops the server after it.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &stop])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the watchdog of the shared cluster: {e}"));
        cluster
    })
}

/// A new, empty ledger in the shared cluster's database: its URL for `--store`. The tables
/// are made by the first (`planledger store init`, as a user makes them).
pub fn fresh_ledger() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    static SCHEMA: OnceLock<()> = OnceLock::new();
    let cluster = shared();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = format!("{}?ledger=t{n}", cluster.url(SHARED_DB));
    SCHEMA.get_or_init(|| {
        let out = Command::new(super::BIN).args(["--store", &url, "store", "init"]).output().unwrap();
        assert!(out.status.success(), "store init: {}", text(&out.stderr));
    });
    url
}

/// The URL of database `db` through both servers, for a client that must reach whichever is
/// the primary: libpq and tokio-postgres try the hosts in order and keep the first that accepts
/// writes (`target_session_attrs=read-write`), so this reaches `primary`, and after its crash
/// and the promotion of `replica`, the replica.
pub fn failover_url(primary: &Cluster, replica: &Cluster, db: &str) -> String {
    format!(
        "postgresql://postgres@{},{}/{}?target_session_attrs=read-write",
        primary.host_port(),
        replica.host_port(),
        encode(db)
    )
}

/// Runs `sql` with psql on `url` (any URL or connection string libpq takes): what psql prints
/// with `-At`, the last newline taken off, or its error.
pub fn psql_url(url: &str, sql: &str) -> Result<String, String> {
    let bin = server()?;
    let mut c = Command::new(bin.join("psql"));
    // -X: no ~/.psqlrc; ON_ERROR_STOP: a failed statement is a failed command.
    c.args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);
    clean_env(&mut c);
    let out = c.output().map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        let mut s = text(&out.stdout);
        if s.ends_with('\n') {
            s.pop();
        }
        Ok(s)
    } else {
        Err(format!("psql {url} failed, {}: {}", out.status, text(&out.stderr).trim_end()))
    }
}

fn clean_env(c: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PG") {
            c.env_remove(k);
        }
    }
}

/// A port no other test of this run is likely to take: the kernel's choice of a free TCP port.
/// (Only the socket's name needs it, the socket directory being private: distinct ports make
/// the logs and URLs of two servers easier to tell apart.)
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `kill -SIG pid`; a process already gone is not an error (it is what was wanted).
fn signal(sig: &str, pid: u32) {
    let out = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).output().unwrap();
    assert!(out.status.success() || !alive(pid), "kill -{sig} {pid}: {}", text(&out.stderr));
}

/// The processes whose parent is `pid` (from /proc: there is no portable way).
fn children(pid: u32) -> Vec<u32> {
    let parent = |stat: &str| stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse::<u32>().ok();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            (parent(&stat) == Some(pid)).then_some(child)
        })
        .collect()
}

/// Whether process `pid` is alive: a zombie is not (after the kill nobody may reap it at once).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()) != Some("Z"),
        Err(_) => Command::new("kill").args(["-0", &pid.to_string()]).output().is_ok_and(|o| o.status.success()),
    }
}

/// Polls `ok` every 50 ms until it is true (true) or `timeout` has passed (false).
pub fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Percent-encodes all but the unreserved characters of RFC 3986: a socket path in a URL's host.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
