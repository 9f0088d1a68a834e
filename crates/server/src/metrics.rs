//! The server's counters, in the Prometheus text exposition format (version 0.0.4) on
//! `/metrics` (`serve --metrics ADDR`). A handful of fixed series, so the format is written
//! here by hand (a few dozen lines) rather than through a metrics crate: every counter is a
//! relaxed atomic, so the hot path (an append, a read, a fsync) pays an increment or three.
//! One server runs per process, so the counters are process-wide statics (the store's fsync
//! hook, `wal::observe_fsync`, takes a plain function).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::access::Outcome;
use crate::Rpc;

/// A histogram with fixed upper bounds (seconds); counts per bucket, cumulated when written.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; BUCKETS_MAX],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

const BUCKETS_MAX: usize = 16;

impl Histogram {
    const fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; BUCKETS_MAX],
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        // The first bucket it fits; past the last bound it counts only in +Inf (`count`).
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_nanos.load(Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

const RPCS: usize = Rpc::ALL.len();
const OUTCOMES: usize = Outcome::ALL.len();

/// Every series the server exports.
pub struct Metrics {
    /// Events appended (acknowledged, not counting resent duplicates).
    pub appends: AtomicU64,
    /// gRPC calls by method and outcome.
    rpcs: [[AtomicU64; OUTCOMES]; RPCS],
    /// Web view requests by outcome.
    web: [AtomicU64; OUTCOMES],
    /// Open subscriptions.
    pub subscribers: AtomicI64,
    /// Access log lines that could not be written.
    pub access_log_errors: AtomicU64,
    /// An `Append`'s group commit, from submission to acknowledgement (durable).
    pub commit: Histogram,
    /// The store's `fdatasync` of a commit's log record.
    pub fsync: Histogram,
    /// The last scheduled verify (`serve --verify-every`): 1 passed, 0 failed, -1 none yet.
    pub verify_ok: AtomicI64,
    /// When it ended (Unix seconds; 0: none yet), and the events it covered.
    pub verify_at: AtomicU64,
    pub verify_events: AtomicU64,
}

const LATENCY_BOUNDS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const FSYNC_BOUNDS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

pub static METRICS: Metrics = Metrics {
    appends: AtomicU64::new(0),
    rpcs: [const { [const { AtomicU64::new(0) }; OUTCOMES] }; RPCS],
    web: [const { AtomicU64::new(0) }; OUTCOMES],
    subscribers: AtomicI64::new(0),
    access_log_errors: AtomicU64::new(0),
    verify_ok: AtomicI64::new(-1),
    verify_at: AtomicU64::new(0),
    verify_events: AtomicU64::new(0),
    commit: Histogram::new(LATENCY_BOUNDS),
    fsync: Histogram::new(FSYNC_BOUNDS),
};

/// The store's fsync hook (`wal::observe_fsync`).
pub fn observe_fsync(d: Duration) {
    METRICS.fsync.observe(d);
}

impl Metrics {
    pub fn rpc(&self, rpc: Rpc, outcome: Outcome) {
        self.rpcs[rpc as usize][outcome as usize].fetch_add(1, Relaxed);
    }

    pub fn web(&self, outcome: Outcome) {
        self.web[outcome as usize].fetch_add(1, Relaxed);
    }

    /// The exposition text; `head` is the log's last durable seq.
    pub fn render(&self, head: u64) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        counter(
            &mut out,
            "planledger_appends_total",
            "Events appended and acknowledged (resent duplicates not counted).",
            self.appends.load(Relaxed),
        );
        gauge(
            &mut out,
            "planledger_head_seq",
            "The seq of the last durable event.",
            i64::try_from(head).unwrap_or(i64::MAX),
        );
        gauge(&mut out, "planledger_subscribers", "Open subscriptions.", self.subscribers.load(Relaxed));
        gauge(
            &mut out,
            "planledger_verify_ok",
            "The last scheduled verify of the whole log: 1 passed, 0 failed, -1 none yet.",
            self.verify_ok.load(Relaxed),
        );
        gauge(
            &mut out,
            "planledger_verify_last_timestamp_seconds",
            "When the last scheduled verify ended (Unix time; 0: none yet).",
            i64::try_from(self.verify_at.load(Relaxed)).unwrap_or(i64::MAX),
        );
        gauge(
            &mut out,
            "planledger_verify_events",
            "Events the last scheduled verify covered.",
            i64::try_from(self.verify_events.load(Relaxed)).unwrap_or(i64::MAX),
        );
        let _ = writeln!(
            out,
            "# HELP planledger_refusals_total Refused gRPC calls and web requests, by reason.\n# TYPE planledger_refusals_total counter"
        );
        for o in Outcome::ALL.iter().filter(|o| o.is_refusal()) {
            let n: u64 = self.rpcs.iter().map(|r| r[*o as usize].load(Relaxed)).sum::<u64>()
                + self.web[*o as usize].load(Relaxed);
            let _ = writeln!(out, "planledger_refusals_total{{reason=\"{}\"}} {n}", o.code());
        }
        let _ = writeln!(
            out,
            "# HELP planledger_rpc_total gRPC calls by method and outcome.\n# TYPE planledger_rpc_total counter"
        );
        for rpc in Rpc::ALL {
            for o in Outcome::ALL {
                let n = self.rpcs[rpc as usize][o as usize].load(Relaxed);
                if n > 0 {
                    let _ =
                        writeln!(out, "planledger_rpc_total{{rpc=\"{}\",outcome=\"{}\"}} {n}", rpc.method(), o.code());
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP planledger_web_requests_total Web view requests by outcome.\n# TYPE planledger_web_requests_total counter"
        );
        for o in Outcome::ALL {
            let n = self.web[o as usize].load(Relaxed);
            if n > 0 {
                let _ = writeln!(out, "planledger_web_requests_total{{outcome=\"{}\"}} {n}", o.code());
            }
        }
        self.commit.write(
            &mut out,
            "planledger_commit_seconds",
            "Append latency: submission to durable acknowledgement.",
        );
        self.fsync.write(&mut out, "planledger_fsync_seconds", "fdatasync of a commit's log record.");
        counter(
            &mut out,
            "planledger_access_log_errors_total",
            "Access log lines that could not be written.",
            self.access_log_errors.load(Relaxed),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_cumulative_and_counts_past_its_last_bound() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        let mut out = String::new();
        h.write(&mut out, "x", "test");
        assert!(out.contains("x_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.01\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }
}
