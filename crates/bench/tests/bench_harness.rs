//! The benchmark harness at `--quick` size: checks that it runs end to end and that every
//! comparison produces a figure. It asserts no speed: timings belong in benches/, not tests.

#[path = "../benches/harness.rs"]
mod harness;

#[test]
fn the_benchmark_harness_runs_at_quick_size() {
    let tmp = tempfile::tempdir().unwrap();
    let report = harness::run(&harness::Config::quick(tmp.path().to_path_buf()));
    let table = report.markdown();
    assert_eq!(report.rows.len(), 8, "{table}");
    for row in &report.rows {
        assert!(!row.planledger.is_empty() && !row.baseline.is_empty(), "{table}");
    }
    assert!(table.contains("bulk import") && table.contains("point-in-time"), "{table}");
    assert!(table.contains("while full verify and audit"), "{table}");
    let rss = harness::replay_rss(&tmp.path().join("pit"));
    assert!(rss.starts_with("replayed "), "{rss}");
}

/// `--group-commit` runs goal 4's measure alone, with a figure and a ratio from every round.
#[test]
fn the_group_commit_measure_runs_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let report = harness::run_group_commit(&harness::Config::quick(tmp.path().to_path_buf()));
    assert_eq!(report.rows.len(), 1, "{}", report.markdown());
    let row = &report.rows[0];
    assert!(row.what.contains("concurrent writers") && row.ratio.is_some_and(|r| r > 0.0), "{row:?}");
    let rounds = row.what.split_once('(').map(|(_, r)| r.split(", ").filter(|x| x.contains('x')).count());
    assert_eq!(rounds, Some(harness::GROUP_ROUNDS), "one ratio per round: {row:?}");
}

/// `--remote` runs #19's remote appends end to end: a server in process, every submitter
/// with its own key and connection, every append acknowledged, a figure and a ratio.
#[test]
fn the_remote_appends_measure_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let report = harness::run_remote(&harness::Config::quick(tmp.path().to_path_buf()));
    assert_eq!(report.rows.len(), 2, "{}", report.markdown());
    let row = &report.rows[1];
    assert!(row.what.contains("remote signed submitters") && row.ratio.is_some_and(|r| r > 0.0), "{row:?}");
    assert!(row.baseline.starts_with("in-process group commit"), "{row:?}");
    let rounds = row.what.split_once('(').and_then(|(_, r)| r.rsplit_once('(')).map(|(_, r)| r.split(", ").count());
    assert_eq!(rounds, Some(harness::REMOTE_ROUNDS), "one rate per round: {row:?}");
}
