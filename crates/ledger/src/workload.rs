//! A synthetic but realistic workload, for benchmarks and tests at sizes no real example
//! reaches: a plan a year with `projects_per_year` key projects (each listed for three
//! years: started in the first, completed in the second, in operation in the third), monthly
//! investment reports for every project, quarterly and annual indicator actuals (preliminary,
//! then final), and a few percent of corrections and retractions. Every submission carries
//! an id, as a client retrying over a network would send.
//!
//! Deterministic: the same parameters give the same submissions.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::decide::{Command, EventRef, PlanImport, Submission};
use crate::event::{DepartmentRegistered, IndicatorDefined, PlanDeclared, ProjectListed};
use crate::model::{Basis, Comparison, Date, Level, Measure, Milestone, Month, Nature, Period, Timestamp};

pub const ACTOR: &str = "drc";
const INDICATORS: usize = 20;
const DEPARTMENTS: usize = 10;
/// Every `CORRECT_EVERY`-th investment is corrected in the next month's round.
const CORRECT_EVERY: u64 = 40;
/// Every `RETRACT_EVERY`-th investment is retracted in the next month's round.
const RETRACT_EVERY: u64 = 250;

#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub projects_per_year: usize,
    pub first_year: i32,
    /// Submissions per batch (one plan import is one submission of many events).
    pub batch: usize,
}

/// A clock for the workload: after every period it reports on.
/// An unsigned correction, without an id, of the event at `seq` to `cents` / 100: what the
/// benchmarks, the profiles and tests submit again and again (each value a new event).
pub fn correction(seq: u64, cents: i64, reason: &str) -> Submission {
    Submission {
        signature: None,
        id: None,
        note: None,
        command: Command::Correct { event: EventRef::Seq(seq), value: Decimal::new(cents, 2), reason: reason.into() },
    }
}

/// The seqs of the first `n` investment reports in `store`: events a correction can name.
pub fn investments(store: &dyn crate::store::Store, n: usize) -> crate::Result<Vec<u64>> {
    let mut seqs = Vec::with_capacity(n);
    for event in store.events(1) {
        if seqs.len() == n {
            break;
        }
        let event = event?;
        if matches!(event.payload, crate::event::Payload::InvestmentReported(_)) {
            seqs.push(event.seq);
        }
    }
    Ok(seqs)
}

pub fn clock_start() -> Timestamp {
    Timestamp::parse("start", "2990-01-01T00:00:00Z").map(|t| t.0).map(Timestamp).unwrap_or_default()
}

impl Workload {
    /// Rough events per plan year, to size a run.
    pub fn events_per_year(&self) -> u64 {
        let p = self.projects_per_year as u64;
        p * 12 + p + p * 12 / CORRECT_EVERY + p * 12 / RETRACT_EVERY + p + 150
    }

    /// Batches of submissions, in order, until about `events` events have been produced.
    pub fn batches(&self, events: u64) -> impl Iterator<Item = Vec<Submission>> {
        let mut gen = Generator { w: *self, year: self.first_year, ids: 0, approx_events: 0, limit: events };
        let batch = self.batch.max(1);
        let mut pending: std::collections::VecDeque<Submission> = std::collections::VecDeque::new();
        std::iter::from_fn(move || {
            while pending.len() < batch {
                if gen.approx_events >= gen.limit {
                    break;
                }
                pending.extend(gen.year_submissions());
            }
            if pending.is_empty() {
                return None;
            }
            let n = batch.min(pending.len());
            Some(pending.drain(..n).collect())
        })
    }
}

struct Generator {
    w: Workload,
    year: i32,
    ids: u128,
    approx_events: u64,
    limit: u64,
}

fn date(y: i32, m: u32, d: u32) -> Date {
    // Day 1..=28 exists in every month.
    Date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
}

impl Generator {
    /// Shaped like the UUID v7 ids the CLI makes (a millisecond clock, then random bits), the
    /// random part from a fixed-seed mixer so runs repeat: counting ids would compress far
    /// better than real ones and flatter the bytes-per-event figure.
    fn id(&mut self) -> Uuid {
        self.ids += 1;
        let n = self.ids as u64;
        let millis = 1_700_000_000_000 + n / 8;
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&splitmix64(n).to_le_bytes());
        random[8..].copy_from_slice(&splitmix64(!n).to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    fn sub(&mut self, command: Command) -> Submission {
        self.approx_events += 1;
        Submission { signature: None, id: Some(self.id()), note: None, command }
    }

    /// Every submission of one plan year: the plan, twelve monthly rounds, the actuals.
    fn year_submissions(&mut self) -> Vec<Submission> {
        let y = self.year;
        self.year += 1;
        let p = self.w.projects_per_year;
        // Projects of this year: a third new, a third in their second and third years.
        let cohort = |k: usize| (y - self.w.first_year) as usize * p.div_ceil(3) + k;
        let mut listed: Vec<(usize, u8)> = Vec::new(); // (serial, age 0..=2)
        for age in 0..3u8 {
            for k in 0..p.div_ceil(3) {
                if listed.len() == p || (y - self.w.first_year) < i32::from(age) {
                    break;
                }
                let serial = cohort(k) - usize::from(age) * p.div_ceil(3);
                listed.push((serial, age));
            }
        }
        let mut out = Vec::new();
        let first = y == self.w.first_year;
        let departments = if first { departments() } else { Vec::new() };
        let plan = format!("w-{y}");
        let indicators = (0..INDICATORS)
            .map(|i| IndicatorDefined {
                plan: plan.clone(),
                indicator: format!("ind-{i:02}"),
                name: format!("指标{i}"),
                unit: if i % 2 == 0 { "%".into() } else { "亿元".into() },
                measure: if i % 2 == 0 { Measure::Rate } else { Measure::Amount },
                comparison: if i % 5 == 0 { Comparison::AtMost } else { Comparison::AtLeast },
                approximate: i % 3 == 0,
                nature: if i % 5 == 0 { Nature::Binding } else { Nature::Expected },
                target: Decimal::new(50 + i as i64 * 7, 1),
                department: "stats".into(),
            })
            .collect();
        let projects = listed
            .iter()
            .map(|&(serial, age)| {
                let mut dimensions = BTreeMap::new();
                dimensions.insert("block".to_string(), format!("板块{}", serial % 4));
                dimensions.insert("type".to_string(), if age == 0 { "新建".into() } else { "续建".into() });
                ProjectListed {
                    plan: plan.clone(),
                    project: format!("p-{serial}"),
                    name: format!("重点项目{serial}"),
                    level: match serial % 10 {
                        0 => Level::Province,
                        1 | 2 => Level::City,
                        _ => Level::District,
                    },
                    department: format!("d{}", serial % DEPARTMENTS),
                    planned_investment: Decimal::new(((serial * 7919) % 3000 + 100) as i64, 2),
                    total_investment: Some(Decimal::new(((serial * 7919) % 9000 + 3000) as i64, 2)),
                    planned_milestones: vec![
                        [Milestone::Start, Milestone::Complete, Milestone::Operate][usize::from(age)],
                    ],
                    started: None,
                    dimensions,
                    carried: Vec::new(),
                }
            })
            .collect();
        let import = PlanImport {
            plan: PlanDeclared {
                plan: plan.clone(),
                year: y,
                title: format!("{y}年计划"),
                jurisdiction: "示例市".into(),
            },
            departments,
            indicators,
            projects,
            schedules: Vec::new(),
            tracked: Vec::new(),
        };
        self.approx_events += p as u64 + INDICATORS as u64;
        out.push(Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) });

        let mut amend: Vec<(Uuid, Decimal, bool)> = Vec::new();
        let mut counter: u64 = 0;
        for m in 1..=12u8 {
            // Last month's corrections and retractions come with this month's round.
            for (id, value, retract) in std::mem::take(&mut amend) {
                let command = if retract {
                    Command::Retract { event: EventRef::Id(id), reason: "重复上报".into() }
                } else {
                    Command::Correct { event: EventRef::Id(id), value, reason: "统计口径调整".into() }
                };
                let s = self.sub(command);
                out.push(s);
            }
            for &(serial, age) in &listed {
                let milestone = match age {
                    0 if usize::from(m) == serial % 6 + 1 => Some(Milestone::Start),
                    1 if usize::from(m) == serial % 6 + 7 => Some(Milestone::Complete),
                    2 if usize::from(m) == serial % 3 + 1 => Some(Milestone::Operate),
                    _ => None,
                };
                if let Some(milestone) = milestone {
                    let s = self.sub(Command::Milestone {
                        project: format!("p-{serial}"),
                        milestone,
                        date: date(y, u32::from(m), (serial % 28) as u32 + 1),
                    });
                    out.push(s);
                }
                let amount = Decimal::new(((serial * 131 + usize::from(m) * 17 + y as usize) % 500 + 1) as i64, 2);
                let s = self.sub(Command::Investment {
                    project: format!("p-{serial}"),
                    period: Month { year: y, month: m },
                    amount,
                });
                counter += 1;
                if counter.is_multiple_of(CORRECT_EVERY) && m < 12 {
                    amend.push((s.id.unwrap_or_default(), amount + Decimal::new(25, 2), false));
                } else if counter.is_multiple_of(RETRACT_EVERY) && m < 12 {
                    amend.push((s.id.unwrap_or_default(), Decimal::ZERO, true));
                }
                out.push(s);
            }
            if m.is_multiple_of(3) {
                for i in 0..INDICATORS {
                    let s = self.sub(Command::Actual {
                        indicator: format!("ind-{i:02}"),
                        plan: None,
                        period: Period::Quarter(y, m / 3),
                        value: Decimal::new((y as i64 * 7 + i as i64 * 13 + i64::from(m)) % 120 - 10, 1),
                        basis: Basis::Final,
                    });
                    out.push(s);
                }
            }
        }
        for i in 0..INDICATORS {
            for (basis, delta) in [(Basis::Preliminary, 0), (Basis::Final, 3)] {
                let s = self.sub(Command::Actual {
                    indicator: format!("ind-{i:02}"),
                    plan: None,
                    period: Period::Year(y),
                    value: Decimal::new((y as i64 * 11 + i as i64 * 7) % 120 - 10 + delta, 1),
                    basis,
                });
                out.push(s);
            }
        }
        out
    }
}

/// The departments the first plan registers: the coordinator (`ACTOR`), the statistics
/// bureau (which reports the indicators) and `DEPARTMENTS` others.
fn departments() -> Vec<DepartmentRegistered> {
    let mut d = vec![
        DepartmentRegistered { dept: ACTOR.into(), name: "发展和改革委员会".into(), coordinator: true },
        DepartmentRegistered { dept: "stats".into(), name: "统计局".into(), coordinator: false },
    ];
    d.extend((0..DEPARTMENTS).map(|i| DepartmentRegistered {
        dept: format!("d{i}"),
        name: format!("部门{i}"),
        coordinator: false,
    }));
    d
}

/// Plans side by side: `plans` plans of one year, each of `projects` projects, and a
/// monthly investment report for every project in every plan for `months` months, each
/// submission with an id: the shapes whose checkpoints cost most (one plan of 100,000
/// projects; 300 plans of 300), where every plan changes between two checkpoints.
pub fn side_by_side(plans: usize, projects: usize, months: u8, batch: usize) -> impl Iterator<Item = Vec<Submission>> {
    let mut gen = Generator {
        w: Workload { projects_per_year: projects, first_year: 2024, batch },
        year: 2024,
        ids: 0,
        approx_events: 0,
        limit: u64::MAX,
    };
    let mut subs: Vec<Submission> = Vec::new();
    for k in 0..plans {
        let plan = format!("s-{k:03}");
        let departments = if k == 0 { departments() } else { Vec::new() };
        let listed = (0..projects)
            .map(|j| ProjectListed {
                plan: plan.clone(),
                project: format!("s{k:03}-p{j}"),
                name: format!("重点项目{k}-{j}"),
                level: if j % 10 == 0 { Level::City } else { Level::District },
                department: format!("d{}", j % DEPARTMENTS),
                planned_investment: Decimal::new(((j * 7919) % 3000 + 100) as i64, 2),
                total_investment: Some(Decimal::new(((j * 7919) % 9000 + 3000) as i64, 2)),
                planned_milestones: vec![Milestone::Start],
                started: None,
                dimensions: BTreeMap::new(),
                carried: Vec::new(),
            })
            .collect();
        let import = PlanImport {
            plan: PlanDeclared {
                plan: plan.clone(),
                year: 2024,
                title: format!("2024年计划{k}"),
                jurisdiction: format!("区{k}"),
            },
            departments,
            indicators: Vec::new(),
            projects: listed,
            schedules: Vec::new(),
            tracked: Vec::new(),
        };
        subs.push(Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(import)) });
    }
    // Imports first (their own batches: one import can be a plan of 100,000 events).
    let imports: Vec<Vec<Submission>> = subs.into_iter().map(|s| vec![s]).collect();
    let batch = batch.max(1);
    let mut month = 1u8;
    let mut k = 0usize;
    let mut j = 0usize;
    let rounds = std::iter::from_fn(move || {
        if month > months {
            return None;
        }
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch && month <= months {
            let amount = Decimal::new(((k * 31 + j * 131 + usize::from(month) * 17) % 500 + 1) as i64, 2);
            let command =
                Command::Investment { project: format!("s{k:03}-p{j}"), period: Month { year: 2024, month }, amount };
            out.push(gen.sub(command));
            j += 1;
            if j == projects {
                j = 0;
                k += 1;
                if k == plans {
                    k = 0;
                    month += 1;
                }
            }
        }
        Some(out)
    });
    imports.into_iter().chain(rounds)
}

/// SplitMix64: a tiny, well-mixed, deterministic generator step.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
