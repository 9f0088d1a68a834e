//! The PostgreSQL test harness (tests/common/pg.rs) checked on its own: a server starts and
//! answers, survives a kill -9, and a synchronous standby promoted after the primary's crash has
//! every acknowledged commit, reached through the failover URL. Skipped without PostgreSQL
//! unless PLANLEDGER_TEST_PG=1.

mod common;

use common::pg::{self, Cluster};
use std::time::Instant;

/// A server starts, takes a database and a table, and has the committed row after a kill -9 and
/// a restart (crash recovery from its WAL).
#[test]
fn a_cluster_answers_and_recovers_from_kill9() {
    if pg::skipped() {
        return;
    }
    let t = Instant::now();
    let mut pg = Cluster::start();
    println!("started in {:?}", t.elapsed());
    pg.create_db("ledger");
    assert_eq!(pg.psql("ledger", "SELECT 1"), "1");
    assert_eq!(pg.psql("ledger", "SHOW fsync"), "on");
    assert_eq!(pg.psql("ledger", "SELECT current_database(), current_user"), "ledger|postgres");
    assert_eq!(pg::psql_url(&pg.url("ledger"), "SELECT current_setting('port')").unwrap(), pg.port.to_string());
    pg.psql("ledger", "CREATE TABLE events (seq bigint PRIMARY KEY, body text NOT NULL)");
    pg.psql("ledger", "INSERT INTO events VALUES (1, 'before the crash')");

    pg.kill9();
    assert!(pg.try_psql("ledger", "SELECT 1").is_err(), "a killed server answers");
    pg.restart();
    assert_eq!(pg.psql("ledger", "SELECT body FROM events"), "before the crash");
    println!("whole test in {:?}", t.elapsed());
}

/// A row committed on the primary is on its synchronous standby when the primary is killed; the
/// promoted standby takes writes, and the failover URL reaches the primary first, the promoted
/// standby after.
#[test]
fn a_promoted_sync_replica_has_every_commit() {
    if pg::skipped() {
        return;
    }
    let t = Instant::now();
    let mut primary = Cluster::start();
    primary.create_db("ledger");
    let replica = primary.start_sync_replica();
    println!("primary and sync replica in {:?}", t.elapsed());
    assert_eq!(replica.psql("ledger", "SELECT pg_is_in_recovery()"), "t");

    let url = pg::failover_url(&primary, &replica, "ledger");
    let port = "SELECT current_setting('port')";
    assert_eq!(pg::psql_url(&url, port).unwrap(), primary.port.to_string(), "{url}");
    // Through the URL: the table and the row go to the primary; the commit returns once the
    // standby has flushed it.
    pg::psql_url(&url, "CREATE TABLE events (seq bigint PRIMARY KEY, body text NOT NULL)").unwrap();
    pg::psql_url(&url, "INSERT INTO events VALUES (1, 'acknowledged')").unwrap();

    primary.kill9();
    // Before the promotion no server takes writes: the URL finds none.
    let refused = pg::psql_url(&url, port).unwrap_err();
    assert!(refused.contains("session is read-only"), "{refused}");
    let t2 = Instant::now();
    replica.promote();
    println!("promoted in {:?}", t2.elapsed());

    assert_eq!(replica.psql("ledger", "SELECT body FROM events WHERE seq = 1"), "acknowledged");
    assert_eq!(pg::psql_url(&url, port).unwrap(), replica.port.to_string(), "{url}");
    pg::psql_url(&url, "INSERT INTO events VALUES (2, 'after the failover')").unwrap();
    assert_eq!(replica.psql("ledger", "SELECT count(*) FROM events"), "2");
    println!("whole test in {:?}", t.elapsed());
}
