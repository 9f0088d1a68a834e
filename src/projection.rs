//! The fold from events to state. `State` is everything `decide` needs to validate a command
//! and everything `report` needs to print the plan; it is bounded by the number of entities
//! and periods, never by the number of events, so it can be checkpointed.
//!
//! `apply` is the Decider's `evolve`, done in place: `apply(&mut s, e)` leaves `s` equal to
//! `evolve(s, e)`. It never reads anything but the event, so replaying the same events always
//! yields the same state.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::event::{
    Event, IndicatorDefined, Payload, PlanDeclared, ProjectListed, Subject, TargetRef,
};
use crate::model::{Basis, Date, Milestone, Month, Period, Status, Timestamp};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub last_seq: u64,
    pub last_recorded_at: Timestamp,
    pub departments: BTreeMap<String, Department>,
    pub plans: BTreeMap<String, Plan>,
    /// Progress of each project, across every plan that lists it.
    pub projects: BTreeMap<String, Project>,
    /// Events per stream so far: the stream version of the last event.
    pub streams: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    pub coordinator: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub def: PlanDeclared,
    pub projects: BTreeMap<String, Listing>,
    pub indicators: BTreeMap<String, Indicator>,
}

/// A project as one plan lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub def: ProjectListed,
    /// Planned investment after revisions.
    #[serde(with = "crate::codec::decimal")]
    pub planned_investment: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub def: IndicatorDefined,
    /// Target after revisions.
    #[serde(with = "crate::codec::decimal")]
    pub target: Decimal,
    /// Live (not retracted) actuals, in the order recorded.
    pub actuals: Vec<ActualEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActualEntry {
    pub seq: u64,
    pub period: Period,
    pub basis: Basis,
    #[serde(with = "crate::codec::decimal")]
    pub value: Decimal,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Opening state from a listing: already started before the plan year (续建).
    pub opening_started: Option<Date>,
    pub milestones: BTreeMap<Milestone, MilestoneEntry>,
    /// One live investment report per month (a second is refused; corrections keep the seq).
    pub investments: BTreeMap<Month, InvestmentEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MilestoneEntry {
    pub seq: u64,
    pub date: Date,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvestmentEntry {
    pub seq: u64,
    #[serde(with = "crate::codec::decimal")]
    pub amount: Decimal,
}

impl Indicator {
    /// The actual that stands for the indicator: the latest period (by its last day, the
    /// broader period winning a tie, so the annual figure beats Q4 and December), and within
    /// it the firmest basis, the later report winning a tie.
    pub fn current_actual(&self) -> Option<&ActualEntry> {
        self.current_actual_until(None)
    }

    /// As `current_actual`, counting only periods that ended by `at` (valid time).
    pub fn current_actual_until(&self, at: Option<Date>) -> Option<&ActualEntry> {
        self.actuals
            .iter()
            .filter(|a| at.is_none_or(|d| a.period.last_day() <= d))
            .max_by_key(|a| (a.period.last_day(), a.period.breadth(), a.basis, a.seq))
    }
}

impl Project {
    pub fn started_on(&self) -> Option<Date> {
        self.milestones
            .get(&Milestone::Start)
            .map(|m| m.date)
            .or(self.opening_started)
    }

    /// Status on `at` (valid time), or now when `at` is `None`.
    pub fn status(&self, at: Option<Date>) -> Status {
        let reached = |m: Milestone| {
            self.milestones
                .get(&m)
                .is_some_and(|e| at.is_none_or(|d| e.date <= d))
        };
        let started = reached(Milestone::Start)
            || self
                .opening_started
                .is_some_and(|s| at.is_none_or(|d| s <= d));
        if reached(Milestone::Operate) {
            Status::Operating
        } else if reached(Milestone::Complete) {
            Status::Completed
        } else if started {
            Status::Started
        } else {
            Status::Planned
        }
    }

    /// Investment completed in `year`, counting months that ended by `at` when given.
    pub fn completed_in(&self, year: i32, at: Option<Date>) -> Decimal {
        let from = Month { year, month: 1 };
        let to = Month { year, month: 12 };
        self.investments
            .range(from..=to)
            .filter(|(m, _)| at.is_none_or(|d| m.last_day() <= d))
            .map(|(_, e)| e.amount)
            .sum()
    }
}

impl State {
    pub fn is_coordinator(&self, dept: &str) -> bool {
        self.departments.get(dept).is_some_and(|d| d.coordinator)
    }

    pub fn stream_version(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }

    /// Plans in year order (then id), the order reports list them.
    pub fn plans_by_year(&self) -> Vec<&Plan> {
        let mut v: Vec<&Plan> = self.plans.values().collect();
        v.sort_by(|a, b| (a.def.year, &a.def.plan).cmp(&(b.def.year, &b.def.plan)));
        v
    }
}

/// Folds one event into the state. Events arrive in seq order, each exactly once; the
/// asserts catch a caller that breaks that (a bug), not bad input, which `decide` refuses.
pub fn apply(state: &mut State, event: &Event) {
    assert_eq!(
        event.seq,
        state.last_seq + 1,
        "events must be applied in seq order"
    );
    let stream = event.payload.stream();
    let version = state.streams.entry(stream).or_insert(0);
    assert_eq!(
        event.stream_version,
        *version + 1,
        "stream version out of order at seq {}",
        event.seq
    );
    *version += 1;
    state.last_seq = event.seq;
    state.last_recorded_at = event.recorded_at;

    match &event.payload {
        Payload::PlanDeclared(p) => {
            state.plans.insert(
                p.plan.clone(),
                Plan {
                    def: p.clone(),
                    projects: BTreeMap::new(),
                    indicators: BTreeMap::new(),
                },
            );
        }
        Payload::DepartmentRegistered(d) => {
            state.departments.insert(
                d.dept.clone(),
                Department {
                    name: d.name.clone(),
                    coordinator: d.coordinator,
                },
            );
        }
        Payload::IndicatorDefined(i) => {
            if let Some(plan) = state.plans.get_mut(&i.plan) {
                plan.indicators.insert(
                    i.indicator.clone(),
                    Indicator {
                        def: i.clone(),
                        target: i.target,
                        actuals: Vec::new(),
                    },
                );
            }
        }
        Payload::ProjectListed(p) => {
            if let Some(plan) = state.plans.get_mut(&p.plan) {
                plan.projects.insert(
                    p.project.clone(),
                    Listing {
                        def: p.clone(),
                        planned_investment: p.planned_investment,
                    },
                );
            }
            let progress = state.projects.entry(p.project.clone()).or_default();
            if let Some(started) = p.started {
                progress.opening_started.get_or_insert(started);
            }
        }
        Payload::InvestmentReported(i) => {
            state
                .projects
                .entry(i.project.clone())
                .or_default()
                .investments
                .insert(
                    i.period,
                    InvestmentEntry {
                        seq: event.seq,
                        amount: i.amount,
                    },
                );
        }
        Payload::MilestoneReached(m) => {
            state
                .projects
                .entry(m.project.clone())
                .or_default()
                .milestones
                .insert(
                    m.milestone,
                    MilestoneEntry {
                        seq: event.seq,
                        date: m.date,
                    },
                );
        }
        Payload::ActualReported(a) => {
            if let Some(ind) = indicator_mut(state, &a.plan, &a.indicator) {
                ind.actuals.push(ActualEntry {
                    seq: event.seq,
                    period: a.period,
                    basis: a.basis,
                    value: a.value,
                });
            }
        }
        Payload::TargetRevised(t) => match &t.target {
            TargetRef::Indicator { plan, indicator } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    ind.target = t.value;
                }
            }
            TargetRef::Project { plan, project } => {
                if let Some(l) = state
                    .plans
                    .get_mut(plan)
                    .and_then(|p| p.projects.get_mut(project))
                {
                    l.planned_investment = t.value;
                }
            }
        },
        Payload::Corrected(c) => match &c.subject {
            Subject::Investment { project, period } => {
                if let Some(e) = state
                    .projects
                    .get_mut(project)
                    .and_then(|p| p.investments.get_mut(period))
                {
                    debug_assert_eq!(e.seq, c.target_seq);
                    e.amount = c.value;
                }
            }
            Subject::Actual {
                plan, indicator, ..
            } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    if let Some(a) = ind.actuals.iter_mut().find(|a| a.seq == c.target_seq) {
                        a.value = c.value;
                    }
                }
            }
            // decide refuses to correct a milestone; nothing to fold.
            Subject::Milestone { .. } => {}
        },
        Payload::Retracted(r) => match &r.subject {
            Subject::Investment { project, period } => {
                if let Some(p) = state.projects.get_mut(project) {
                    if p.investments
                        .get(period)
                        .is_some_and(|e| e.seq == r.target_seq)
                    {
                        p.investments.remove(period);
                    }
                }
            }
            Subject::Milestone { project, milestone } => {
                if let Some(p) = state.projects.get_mut(project) {
                    if p.milestones
                        .get(milestone)
                        .is_some_and(|e| e.seq == r.target_seq)
                    {
                        p.milestones.remove(milestone);
                    }
                }
            }
            Subject::Actual {
                plan, indicator, ..
            } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    ind.actuals.retain(|a| a.seq != r.target_seq);
                }
            }
        },
    }
}

fn indicator_mut<'a>(
    state: &'a mut State,
    plan: &str,
    indicator: &str,
) -> Option<&'a mut Indicator> {
    state
        .plans
        .get_mut(plan)
        .and_then(|p| p.indicators.get_mut(indicator))
}

/// Folds a whole sequence of events from the empty state.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
    let mut s = State::default();
    for e in events {
        apply(&mut s, e);
    }
    s
}
