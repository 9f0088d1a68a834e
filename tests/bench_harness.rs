//! The benchmark harness at `--quick` size: checks that it runs end to end and that every
//! comparison produces a figure. It asserts no speed: timings belong in benches/, not tests.

#[path = "../benches/harness.rs"]
mod harness;

#[test]
fn the_benchmark_harness_runs_at_quick_size() {
    let tmp = tempfile::tempdir().unwrap();
    let report = harness::run(&harness::Config::quick(tmp.path().to_path_buf()));
    let table = report.markdown();
    assert_eq!(report.rows.len(), 7, "{table}");
    for row in &report.rows {
        assert!(!row.planledger.is_empty() && !row.baseline.is_empty(), "{table}");
    }
    assert!(table.contains("bulk import") && table.contains("point-in-time"), "{table}");
    let rss = harness::replay_rss(&tmp.path().join("pit"));
    assert!(rss.starts_with("replayed "), "{rss}");
}
