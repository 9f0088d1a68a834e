//! The fold from events to state. `State` is everything `decide` needs to validate a command
//! and everything `report` needs to print; it is bounded by the number of entities and
//! periods, never by the number of events.
//!
//! The state is partitioned by plan: every event but a department's belongs to one plan
//! (`Payload::plan`), and a plan's partition folds from its own events alone, so a
//! checkpoint stores each plan separately and a question about one plan loads one plan.
//! The one crossing is a project's milestones, which later listings of the project see:
//! a listing carries the milestones known when it was made (in its event), and a milestone
//! reached later is folded into every later listing that is loaded.
//!
//! `apply` is the Decider's `evolve`, done in place: `apply(&mut s, e)` leaves `s` equal to
//! `evolve(s, e)`. It reads nothing but the event, so the same events give the same state.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::event::{
    Event, IndicatorDefined, Payload, PlanDeclared, ProjectListed, ProjectScheduled, Subject, TargetRef,
};
use crate::model::{Basis, Date, Milestone, Month, Period, Role, Status, Timestamp};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub last_seq: u64,
    pub last_recorded_at: Timestamp,
    pub departments: BTreeMap<String, Department>,
    pub plans: IdMap<Plan>,
    /// Plan ids by year: an index over `plans`, kept by `apply`.
    pub years: BTreeMap<i32, Vec<String>>,
    /// Signing keys by principal (department or auditor).
    pub principals: BTreeMap<String, Principal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub role: Role,
    pub version: u64,
    pub keys: Vec<KeyEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// ed25519 public key.
    pub key: Vec<u8>,
    pub registered: u64,
    pub revoked: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    pub coordinator: bool,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub def: PlanDeclared,
    pub version: u64,
    pub projects: Projects,
    pub indicators: BTreeMap<String, Indicator>,
}

/// Entities by id: hashed, because the fold looks one up for nearly every event; serialized
/// in id order (as a `BTreeMap` would be), so checkpoint bytes stay canonical. Output that
/// lists entities uses `sorted`.
#[derive(Clone, Debug, PartialEq)]
pub struct IdMap<V>(HashMap<crate::event::Id, V, Hasher>);

/// foldhash: several times faster than SipHash on short ids, and seeded per process, so
/// crafted ids cannot be aimed at a known hash function.
pub type Hasher = foldhash::fast::RandomState;

/// A plan's projects by id.
pub type Projects = IdMap<Box<Listing>>;

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap(HashMap::default())
    }
}

/// Lookups by `&str`, so a `&String` id finds its entry too (`HashMap` would want a key of
/// its own type).
impl<V> IdMap<V> {
    pub fn get(&self, id: &str) -> Option<&V> {
        self.0.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        self.0.get_mut(id)
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    pub fn remove(&mut self, id: &str) -> Option<V> {
        self.0.remove(id)
    }

    pub fn insert(&mut self, id: impl Into<crate::event::Id>, value: V) -> Option<V> {
        self.0.insert(id.into(), value)
    }

    /// The entries in id order, for output.
    pub fn sorted(&self) -> Vec<(&crate::event::Id, &V)> {
        let mut v: Vec<(&crate::event::Id, &V)> = self.0.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
}

impl<V> std::ops::Deref for IdMap<V> {
    type Target = HashMap<crate::event::Id, V, Hasher>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<V> std::ops::DerefMut for IdMap<V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<V: Serialize> Serialize for IdMap<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let sorted = self.sorted();
        let mut m = s.serialize_map(Some(sorted.len()))?;
        for (k, v) in sorted {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for IdMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IdMap<V>, D::Error> {
        HashMap::deserialize(d).map(IdMap)
    }
}

/// A project as one plan lists it, with its progress as that plan sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// Shared, never changed after listing: a copy of the plan (a checkpoint's snapshot)
    /// copies a pointer, not the strings.
    pub def: std::sync::Arc<ProjectListed>,
    pub version: u64,
    /// Planned investment after revisions.
    #[serde(with = "crate::serde_decimal::decimal")]
    pub planned_investment: Decimal,
    pub progress: Progress,
    /// What the plan's table said beyond the listing (建设性质, planned months).
    pub schedule: Option<Box<ProjectScheduled>>,
    /// Taken off the plan's list (调出) from this date.
    pub withdrawn: Option<MilestoneEntry>,
}

impl Listing {
    /// Whether the plan still lists the project on `date` (it was not withdrawn by then).
    pub fn listed_on(&self, date: Date) -> bool {
        self.withdrawn.is_none_or(|w| w.date > date)
    }

    /// Whether the project aims at `m` this plan year: the plan file names it among its
    /// planned milestones, or the plan's table gives a planned month in the year.
    pub fn aims_at(&self, m: Milestone, year: i32) -> bool {
        self.def.planned_milestones.contains(&m)
            || self.schedule.as_ref().and_then(|s| s.planned_month(m)).is_some_and(|month| month.year == year)
    }

    /// The month the plan's table gives for `m`, if any.
    pub fn planned_month(&self, m: Milestone) -> Option<Month> {
        self.schedule.as_ref().and_then(|s| s.planned_month(m))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Started before it was first listed (续建), with no start event.
    pub opening_started: Option<Date>,
    /// Listed as 续建 (under way before the plan year) with no start date given: started,
    /// on a day nobody recorded.
    pub continuing: bool,
    /// Milestones reached, this plan's and earlier plans'.
    pub milestones: Milestones,
    /// Investment per month of this plan's year: one live report per month (a second is
    /// refused; a correction keeps the original seq).
    pub investments: Months,
}

/// A slot per milestone: the three a project can reach, inline (no allocation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Milestones([Option<MilestoneEntry>; 3]);

impl Milestones {
    fn slot(m: Milestone) -> usize {
        m as usize
    }

    pub fn get(&self, m: &Milestone) -> Option<&MilestoneEntry> {
        self.0[Milestones::slot(*m)].as_ref()
    }

    pub fn contains_key(&self, m: &Milestone) -> bool {
        self.get(m).is_some()
    }

    pub fn insert(&mut self, m: Milestone, e: MilestoneEntry) {
        self.0[Milestones::slot(m)] = Some(e);
    }

    pub fn remove(&mut self, m: &Milestone) {
        self.0[Milestones::slot(*m)] = None;
    }

    /// Reached milestones in order: start, complete, operate.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Milestone, &MilestoneEntry)> + '_ {
        Milestone::ALL.iter().zip(self.0.iter()).filter_map(|(m, e)| e.as_ref().map(|e| (m, e)))
    }
}

/// A slot per month of one year: a project's investment reports in one plan, inline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Months {
    year: i32,
    slots: [Option<InvestmentEntry>; 12],
}

impl Months {
    pub fn of_year(year: i32) -> Months {
        Months { year, slots: Default::default() }
    }

    fn slot(&self, m: &Month) -> Option<usize> {
        (m.year == self.year && (1..=12).contains(&m.month)).then(|| usize::from(m.month) - 1)
    }

    pub fn get(&self, m: &Month) -> Option<&InvestmentEntry> {
        self.slot(m).and_then(|i| self.slots[i].as_ref())
    }

    pub fn get_mut(&mut self, m: &Month) -> Option<&mut InvestmentEntry> {
        self.slot(m).and_then(|i| self.slots[i].as_mut())
    }

    /// Sets a month of this year; `decide` only lets months of the plan's year through.
    pub fn insert(&mut self, m: Month, e: InvestmentEntry) {
        debug_assert!(self.slot(&m).is_some(), "month {m} outside {}", self.year);
        if let Some(i) = self.slot(&m) {
            self.slots[i] = Some(e);
        }
    }

    pub fn remove(&mut self, m: &Month) {
        if let Some(i) = self.slot(m) {
            self.slots[i] = None;
        }
    }

    /// Reported months in order.
    pub fn iter(&self) -> impl Iterator<Item = (Month, &InvestmentEntry)> + '_ {
        let year = self.year;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, e)| e.as_ref().map(|e| (Month { year, month: i as u8 + 1 }, e)))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub def: IndicatorDefined,
    pub version: u64,
    /// Target after revisions; `None` for an indicator reported without one
    /// (`IndicatorTracked`, whose `def` then holds no target of meaning).
    #[serde(with = "crate::serde_decimal::opt_decimal")]
    pub target: Option<Decimal>,
    /// Live (not retracted) actuals, in the order recorded.
    pub actuals: Vec<ActualEntry>,
    /// The seq that defined it: the plan's order of indicators (reports lead with GDP).
    pub defined: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActualEntry {
    pub seq: u64,
    pub period: Period,
    pub basis: Basis,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub value: Decimal,
    /// The note it was reported with: a missed indicator's stated reason.
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MilestoneEntry {
    pub seq: u64,
    pub date: Date,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvestmentEntry {
    pub seq: u64,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub amount: Decimal,
}

impl Indicator {
    /// The actual that stands for the indicator, counting only periods that ended by `at`
    /// (valid time) when given: the latest period (by its last day, the broader period
    /// winning a tie, so the annual figure beats Q4 and December), and within it the firmest
    /// basis, the later report winning a tie.
    pub fn current_actual_until(&self, at: Option<Date>) -> Option<&ActualEntry> {
        self.actuals
            .iter()
            .filter(|a| at.is_none_or(|d| a.period.last_day() <= d))
            .max_by_key(|a| (a.period.last_day(), a.period.breadth(), a.basis, a.seq))
    }
}

impl Progress {
    pub fn started_on(&self) -> Option<Date> {
        self.milestones.get(&Milestone::Start).map(|m| m.date).or(self.opening_started)
    }

    /// Whether the project had started by `at` (valid time; now when `None`): a start
    /// milestone or opening date by then, or 续建 without a date (started before the year).
    pub fn started_by(&self, at: Option<Date>) -> bool {
        self.continuing || self.started_on().is_some_and(|s| at.is_none_or(|d| s <= d))
    }

    /// Status on `at` (valid time), or now when `at` is `None`.
    pub fn status(&self, at: Option<Date>) -> Status {
        let reached = |m: Milestone| self.milestones.get(&m).is_some_and(|e| at.is_none_or(|d| e.date <= d));
        let started = self.started_by(at);
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

    /// Investment completed in the plan's year, counting months that ended by `at` if given.
    pub fn completed(&self, at: Option<Date>) -> Decimal {
        self.investments.iter().filter(|(m, _)| at.is_none_or(|d| m.last_day() <= d)).map(|(_, e)| e.amount).sum()
    }
}

impl State {
    /// The version of the stream named `stream` (`plan/P`, `dept/D`, `key/K`,
    /// `plan/P/project/X`, `plan/P/indicator/X`): 0 when it has no event yet; `None` when
    /// `stream` is not a stream name.
    pub fn version_of_stream(&self, stream: &str) -> Option<u64> {
        let parts: Vec<&str> = stream.split('/').collect();
        Some(match parts.as_slice() {
            ["plan", p] => self.plans.get(p).map_or(0, |x| x.version),
            ["dept", d] => self.departments.get(*d).map_or(0, |x| x.version),
            ["key", k] => self.principals.get(*k).map_or(0, |x| x.version),
            ["plan", p, "project", x] => self.plans.get(p).and_then(|pl| pl.projects.get(x)).map_or(0, |l| l.version),
            ["plan", p, "indicator", x] => {
                self.plans.get(p).and_then(|pl| pl.indicators.get(*x)).map_or(0, |i| i.version)
            }
            _ => return None,
        })
    }

    /// The principal's key `key` if it is registered and not revoked.
    pub fn active_key(&self, principal: &str, key: &[u8]) -> Option<&KeyEntry> {
        self.principals.get(principal)?.keys.iter().find(|k| k.key == key && k.revoked.is_none())
    }

    pub fn is_coordinator(&self, dept: &str) -> bool {
        self.departments.get(dept).is_some_and(|d| d.coordinator)
    }

    /// Plans in year order (then id), the order reports list them.
    pub fn plans_by_year(&self) -> impl Iterator<Item = &Plan> + '_ {
        self.years.values().flatten().filter_map(|id| self.plans.get(id))
    }

    /// The plan of `year` that lists `project` (a project is listed once per year), and its
    /// listing there.
    pub fn listing_plan(&self, project: &str, year: i32) -> Option<(&Plan, &Listing)> {
        self.years
            .get(&year)?
            .iter()
            .filter_map(|id| self.plans.get(id))
            .find_map(|plan| plan.projects.get(project).map(|listing| (plan, &**listing)))
    }

    /// The plan of the latest year before `year` that lists `project`: walks the years back
    /// from `year`, so a project listed last year is found at once.
    pub fn latest_listing_before(&self, project: &str, year: i32) -> Option<&Plan> {
        self.years
            .range(..year)
            .rev()
            .flat_map(|(_, ids)| ids.iter().rev())
            .filter_map(|id| self.plans.get(id))
            .find(|p| p.projects.contains_key(project))
    }

    /// Every plan listing `project`, in year order.
    pub fn listings_of<'s>(&'s self, project: &'s str) -> impl Iterator<Item = &'s Plan> + 's {
        self.plans_by_year().filter(move |p| p.projects.contains_key(project))
    }

    /// Version of the stream `payload` belongs to, before `payload` (0 for a new stream, or
    /// when its plan is not loaded in a partial state).
    pub fn stream_version(&self, payload: &Payload) -> u64 {
        let plan = |id: &str| self.plans.get(id);
        let project = |p: &str, id: &str| plan(p).and_then(|x| x.projects.get(id)).map_or(0, |l| l.version);
        let indicator = |p: &str, id: &str| plan(p).and_then(|x| x.indicators.get(id)).map_or(0, |i| i.version);
        match payload {
            Payload::PlanDeclared(p) => plan(&p.plan).map_or(0, |x| x.version),
            Payload::DepartmentRegistered(d) => self.departments.get(&d.dept).map_or(0, |x| x.version),
            Payload::IndicatorDefined(i) => indicator(&i.plan, &i.indicator),
            Payload::ProjectListed(p) => project(&p.plan, &p.project),
            Payload::InvestmentReported(i) => project(&i.plan, &i.project),
            Payload::MilestoneReached(m) => project(&m.plan, &m.project),
            Payload::ActualReported(a) => indicator(&a.plan, &a.indicator),
            Payload::TargetRevised(t) => match &t.target {
                TargetRef::Indicator { plan, indicator: i } => indicator(plan, i),
                TargetRef::Project { plan, project: p } => project(plan, p),
            },
            Payload::Corrected(c) => subject_version(self, &c.subject),
            Payload::Retracted(r) => subject_version(self, &r.subject),
            Payload::KeyRegistered(k) => self.principals.get(&k.principal).map_or(0, |p| p.version),
            Payload::KeyRevoked(k) => self.principals.get(&k.principal).map_or(0, |p| p.version),
            Payload::ProjectScheduled(p) => project(&p.plan, &p.project),
            Payload::ProjectWithdrawn(p) => project(&p.plan, &p.project),
            Payload::IndicatorTracked(i) => indicator(&i.plan, &i.indicator),
        }
    }

    /// Keeps only `plans` (and the departments, and the whole year index): the partial state
    /// a question about those plans needs. Events of other plans then fold to nothing.
    pub fn retain_plans(&mut self, keep: &[String]) {
        self.plans.retain(|id, _| keep.iter().any(|k| k == id));
    }
}

/// Folds `event` into a partial state that holds only the plans `wanted` accepts: events of
/// other plans only advance the seq (a plan's declaration still enters the year index, so
/// the partial state knows which plans exist), except milestones, which later listings of
/// wanted plans must see.
pub fn apply_partial(state: &mut State, event: &Event, wanted: &dyn Fn(&str) -> bool) {
    let p = &event.payload;
    let foreign = p.plan().is_some_and(|id| !wanted(id));
    let crossing = matches!(p, Payload::MilestoneReached(_) | Payload::Retracted(_));
    if !foreign || crossing {
        return apply(state, event);
    }
    assert_eq!(event.seq, state.last_seq + 1, "events must be applied in seq order");
    state.last_seq = event.seq;
    state.last_recorded_at = event.recorded_at;
    if let Payload::PlanDeclared(d) = p {
        let ids = state.years.entry(d.year).or_default();
        ids.push(d.plan.clone());
        ids.sort();
    }
}

impl State {}

fn subject_version(state: &State, s: &Subject) -> u64 {
    let plan = state.plans.get(s.plan());
    match s {
        Subject::Investment { project, .. } | Subject::Milestone { project, .. } => {
            plan.and_then(|p| p.projects.get(project)).map_or(0, |l| l.version)
        }
        Subject::Actual { indicator, .. } => plan.and_then(|p| p.indicators.get(indicator)).map_or(0, |i| i.version),
    }
}

/// Folds an event of a partial replay: a state that holds only some streams (a plan's
/// declaration and one project's events, for that project's audit trail) passes over the
/// seqs of the others. Seqs still only grow, and each stream's versions are still checked.
pub fn apply_skipping(state: &mut State, event: &Event) {
    assert!(event.seq > state.last_seq, "a partial replay goes forward");
    state.last_seq = event.seq - 1;
    apply(state, event);
}

/// Folds one event into the state. Events arrive in seq order, each exactly once; the
/// asserts catch a caller that breaks that (a bug), not bad input, which `decide` refuses.
/// An event of a plan the state does not hold (a partial state) changes nothing but the seq.
pub fn apply(state: &mut State, event: &Event) {
    assert_eq!(event.seq, state.last_seq + 1, "events must be applied in seq order");
    state.last_seq = event.seq;
    state.last_recorded_at = event.recorded_at;
    let payload = &event.payload;
    let loaded = payload.plan().is_none_or(|p| state.plans.contains_key(p));
    if !loaded && !matches!(payload, Payload::PlanDeclared(_) | Payload::MilestoneReached(_) | Payload::Retracted(_)) {
        return;
    }
    let seq = event.seq;
    let version_checked = |v: &mut u64| {
        assert_eq!(event.stream_version, *v + 1, "stream version out of order at seq {seq}");
        *v += 1;
    };

    match payload {
        Payload::PlanDeclared(p) => {
            let mut plan =
                Plan { def: p.clone(), version: 0, projects: Projects::default(), indicators: BTreeMap::new() };
            version_checked(&mut plan.version);
            state.plans.insert(p.plan.clone(), plan);
            let ids = state.years.entry(p.year).or_default();
            ids.push(p.plan.clone());
            ids.sort();
        }
        Payload::DepartmentRegistered(d) => {
            let mut dept = Department { name: d.name.clone(), coordinator: d.coordinator, version: 0 };
            version_checked(&mut dept.version);
            state.departments.insert(d.dept.clone(), dept);
        }
        Payload::IndicatorDefined(i) => {
            if let Some(plan) = state.plans.get_mut(&i.plan) {
                let mut ind = Indicator {
                    def: (**i).clone(),
                    version: 0,
                    target: Some(i.target),
                    actuals: Vec::new(),
                    defined: seq,
                };
                version_checked(&mut ind.version);
                plan.indicators.insert(i.indicator.clone(), ind);
            }
        }
        Payload::ProjectListed(p) => {
            if let Some(plan) = state.plans.get_mut(&p.plan) {
                let mut progress = Progress {
                    opening_started: p.started,
                    investments: Months::of_year(plan.def.year),
                    ..Progress::default()
                };
                for c in &p.carried {
                    if c.seq == 0 && c.milestone == Milestone::Start {
                        progress.opening_started.get_or_insert(c.date);
                    } else {
                        progress.milestones.insert(c.milestone, MilestoneEntry { seq: c.seq, date: c.date });
                    }
                }
                let mut listing = Listing {
                    def: std::sync::Arc::clone(p),
                    version: 0,
                    planned_investment: p.planned_investment,
                    progress,
                    schedule: None,
                    withdrawn: None,
                };
                version_checked(&mut listing.version);
                plan.projects.insert(p.project.clone(), Box::new(listing));
            }
        }
        Payload::InvestmentReported(i) => {
            if let Some(l) = listing_mut(state, &i.plan, &i.project) {
                version_checked(&mut l.version);
                l.progress.investments.insert(i.period, InvestmentEntry { seq, amount: i.amount });
            }
        }
        Payload::MilestoneReached(m) => {
            let year = m.date.year();
            let entry = MilestoneEntry { seq, date: m.date };
            if let Some(l) = listing_mut(state, &m.plan, &m.project) {
                version_checked(&mut l.version);
            }
            // This plan's listing and every later one that is loaded see the milestone.
            let later: Vec<String> = state.years.range(year..).flat_map(|(_, ids)| ids.iter().cloned()).collect();
            for id in later {
                if let Some(l) = listing_mut(state, &id, &m.project) {
                    l.progress.milestones.insert(m.milestone, entry);
                }
            }
        }
        Payload::ActualReported(a) => {
            if let Some(ind) = indicator_mut(state, &a.plan, &a.indicator) {
                version_checked(&mut ind.version);
                ind.actuals.push(ActualEntry {
                    seq,
                    period: a.period,
                    basis: a.basis,
                    value: a.value,
                    note: event.note.clone(),
                });
            }
        }
        Payload::TargetRevised(t) => match &t.target {
            TargetRef::Indicator { plan, indicator } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    version_checked(&mut ind.version);
                    ind.target = Some(t.value);
                }
            }
            TargetRef::Project { plan, project } => {
                if let Some(l) = listing_mut(state, plan, project) {
                    version_checked(&mut l.version);
                    l.planned_investment = t.value;
                }
            }
        },
        Payload::Corrected(c) => match &c.subject {
            Subject::Investment { plan, project, period } => {
                if let Some(l) = listing_mut(state, plan, project) {
                    version_checked(&mut l.version);
                    if let Some(e) = l.progress.investments.get_mut(period) {
                        debug_assert_eq!(e.seq, c.target_seq);
                        e.amount = c.value;
                    }
                }
            }
            Subject::Actual { plan, indicator, .. } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    version_checked(&mut ind.version);
                    if let Some(a) = ind.actuals.iter_mut().find(|a| a.seq == c.target_seq) {
                        a.value = c.value;
                    }
                }
            }
            // decide refuses to correct a milestone.
            Subject::Milestone { plan, project, .. } => {
                if let Some(l) = listing_mut(state, plan, project) {
                    version_checked(&mut l.version);
                }
            }
        },
        Payload::Retracted(r) => match &r.subject {
            Subject::Investment { plan, project, period } => {
                if let Some(l) = listing_mut(state, plan, project) {
                    version_checked(&mut l.version);
                    if l.progress.investments.get(period).is_some_and(|e| e.seq == r.target_seq) {
                        l.progress.investments.remove(period);
                    }
                }
            }
            Subject::Milestone { plan, project, milestone } => {
                if let Some(l) = listing_mut(state, plan, project) {
                    version_checked(&mut l.version);
                }
                // Gone from every loaded listing that saw it.
                for p in state.plans.values_mut() {
                    if let Some(l) = p.projects.get_mut(project) {
                        if l.progress.milestones.get(milestone).is_some_and(|e| e.seq == r.target_seq) {
                            l.progress.milestones.remove(milestone);
                        }
                    }
                }
            }
            Subject::Actual { plan, indicator, .. } => {
                if let Some(ind) = indicator_mut(state, plan, indicator) {
                    version_checked(&mut ind.version);
                    ind.actuals.retain(|a| a.seq != r.target_seq);
                }
            }
        },
        Payload::ProjectScheduled(p) => {
            if let Some(l) = listing_mut(state, &p.plan, &p.project) {
                version_checked(&mut l.version);
                l.progress.continuing = p.construction == Some(crate::model::Construction::Continuing);
                l.schedule = Some(p.clone());
            }
        }
        Payload::IndicatorTracked(i) => {
            if let Some(plan) = state.plans.get_mut(&i.plan) {
                let def = IndicatorDefined {
                    plan: i.plan.clone(),
                    indicator: i.indicator.clone(),
                    name: i.name.clone(),
                    unit: i.unit.clone(),
                    measure: i.measure,
                    comparison: crate::model::Comparison::AtLeast,
                    approximate: false,
                    nature: crate::model::Nature::Expected,
                    target: Decimal::ZERO,
                    department: i.department.clone(),
                };
                let mut ind = Indicator { def, version: 0, target: None, actuals: Vec::new(), defined: seq };
                version_checked(&mut ind.version);
                plan.indicators.insert(i.indicator.clone(), ind);
            }
        }
        Payload::ProjectWithdrawn(w) => {
            if let Some(l) = listing_mut(state, &w.plan, &w.project) {
                version_checked(&mut l.version);
                l.withdrawn = Some(MilestoneEntry { seq, date: w.date });
            }
        }
        Payload::KeyRegistered(k) => {
            let p = state.principals.entry(k.principal.clone()).or_insert_with(|| Principal {
                role: k.role,
                version: 0,
                keys: Vec::new(),
            });
            version_checked(&mut p.version);
            p.role = k.role;
            p.keys.push(KeyEntry { key: k.key.clone(), registered: seq, revoked: None });
        }
        Payload::KeyRevoked(k) => {
            if let Some(p) = state.principals.get_mut(&k.principal) {
                version_checked(&mut p.version);
                if let Some(e) = p.keys.iter_mut().find(|e| e.key == k.key && e.revoked.is_none()) {
                    e.revoked = Some(seq);
                }
            }
        }
    }
}

fn listing_mut<'a>(state: &'a mut State, plan: &str, project: &str) -> Option<&'a mut Listing> {
    state.plans.get_mut(plan).and_then(|p| p.projects.get_mut(project)).map(|l| &mut **l)
}

fn indicator_mut<'a>(state: &'a mut State, plan: &str, indicator: &str) -> Option<&'a mut Indicator> {
    state.plans.get_mut(plan).and_then(|p| p.indicators.get_mut(indicator))
}
/// Refuses to fold an event holding a figure beyond the bounds (a log written before them):
/// summing it could overflow. Reads `--as-of` an earlier seq still work.
pub fn check_bounds(event: &Event) -> crate::error::Result<()> {
    match event.payload.out_of_bounds() {
        None => Ok(()),
        Some(what) => Err(crate::error::Error::Corrupt {
            seq: event.seq,
            what: msg!("corrupt.figure_out_of_bounds", what = what),
        }),
    }
}

/// Refuses to fold an event whose envelope breaks the log's invariants (a damaged or
/// tampered store), so `apply` only ever sees well-formed sequences.
pub fn check_fold(state: &State, event: &Event) -> crate::error::Result<()> {
    let expected = state.stream_version(&event.payload) + 1;
    if event.stream_version != expected {
        return Err(crate::error::Error::Corrupt {
            seq: event.seq,
            what: msg!("corrupt.stream_version", found = event.stream_version, expected = expected),
        });
    }
    if event.recorded_at < state.last_recorded_at {
        return Err(crate::error::Error::Corrupt { seq: event.seq, what: msg!("projection.recorded_at_goes_back") });
    }
    check_bounds(event)?;
    if event.seq != state.last_seq + 1 {
        return Err(crate::error::Error::Corrupt {
            seq: event.seq,
            what: msg!("corrupt.seq_order", last = state.last_seq),
        });
    }
    Ok(())
}
