//! Commands and the one place that validates them: `decide(&State, command) -> events`.
//!
//! Every rule a submission must satisfy lives here, checked against the state before anything
//! is written. `decide` is deterministic: given the same state, command, date and lookups it
//! returns the same payloads or the same error.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{
    ActualReported, CarriedMilestone, Corrected, DepartmentRegistered, Event, IndicatorDefined, IndicatorTracked,
    InvestmentReported, KeyRegistered, KeyRevoked, MilestoneReached, Payload, PlanDeclared, ProjectListed,
    ProjectScheduled, ProjectWithdrawn, Retracted, Subject, TargetRef, TargetRevised,
};
use crate::model::{check_text, Basis, Date, Milestone, Month, Period, Role};
use crate::msg::Msg;
use crate::names::kind_word;
use crate::projection::{Listing, Plan, Progress, State};

/// A plan file, parsed: the events it would declare if everything in it were new.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PlanImport {
    pub plan: PlanDeclared,
    pub departments: Vec<DepartmentRegistered>,
    pub indicators: Vec<IndicatorDefined>,
    pub projects: Vec<ProjectListed>,
    /// What the plan says of its projects beyond the listing (建设性质, planned months),
    /// for the projects that have it.
    pub schedules: Vec<ProjectScheduled>,
    /// Indicators reported without a target.
    pub tracked: Vec<IndicatorTracked>,
}

/// Names an event by its seq or its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventRef {
    Seq(u64),
    Id(Uuid),
}

impl EventRef {
    pub fn parse(field: &str, text: &str) -> Result<EventRef> {
        if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) {
            return text
                .parse()
                .map(EventRef::Seq)
                .map_err(|_| Error::invalid(msg!("decide.not_a_seq", field = field, text = text)));
        }
        Uuid::parse_str(text)
            .map(EventRef::Id)
            .map_err(|_| Error::invalid(msg!("decide.not_seq_nor_id", field = field, text = text)))
    }

    /// The reference as a message names it: "seq 5" / "序号 5", "id …" / "编号 …".
    pub fn msg(&self) -> Msg {
        match self {
            EventRef::Seq(s) => msg!("decide.event_seq", seq = s),
            EventRef::Id(id) => msg!("decide.event_id", id = id),
        }
    }
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventRef::Seq(s) => write!(f, "seq {s}"),
            EventRef::Id(id) => write!(f, "id {id}"),
        }
    }
}

/// What a target revision names, before the plan is resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetSpec {
    Indicator { indicator: String, plan: Option<String> },
    Project { project: String, plan: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    ImportPlan(Box<PlanImport>),
    Investment {
        project: String,
        period: Month,
        amount: Decimal,
    },
    Milestone {
        project: String,
        milestone: Milestone,
        date: Date,
    },
    Actual {
        indicator: String,
        plan: Option<String>,
        period: Period,
        value: Decimal,
        basis: Basis,
    },
    ReviseTarget {
        target: TargetSpec,
        value: Decimal,
        reason: String,
    },
    Correct {
        event: EventRef,
        value: Decimal,
        reason: String,
    },
    Retract {
        event: EventRef,
        reason: String,
    },
    /// A coordinator takes a project off a plan's list (调出) from `date`.
    Withdraw {
        project: String,
        plan: Option<String>,
        date: Date,
        reason: String,
    },
    /// A coordinator registers a principal's signing key (`dept register`).
    RegisterKey {
        principal: String,
        role: Option<Role>,
        key: Vec<u8>,
    },
    /// A coordinator revokes one (`dept revoke`); rotation is a register then a revoke.
    RevokeKey {
        principal: String,
        key: Vec<u8>,
        reason: String,
    },
}

impl Command {
    /// The event type this command records (plan import records several).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::ImportPlan(_) => "plan-import",
            Command::Investment { .. } => "investment",
            Command::Milestone { .. } => "milestone",
            Command::Actual { .. } => "actual",
            Command::ReviseTarget { .. } => "revise-target",
            Command::Correct { .. } => "correct",
            Command::Retract { .. } => "retract",
            Command::RegisterKey { .. } => "key-registered",
            Command::RevokeKey { .. } => "key-revoked",
            Command::Withdraw { .. } => "withdraw",
        }
    }
}

/// A command as a department submits it.
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    /// Idempotency key: resubmitting the same id with the same content is acknowledged again
    /// without writing; the same id with other content is refused.
    pub id: Option<Uuid>,
    pub note: Option<String>,
    pub command: Command,
    /// The submitting principal's signature over the submission's canonical text.
    pub signature: Option<Box<crate::event::Signature>>,
}

/// Finds a committed (or earlier in the same batch) event by seq or id.
pub type Lookup<'a> = dyn Fn(&EventRef) -> Result<Option<Event>> + 'a;

/// Validates `command` from `actor` against `state` on `today`; returns the payloads to record.
pub fn decide(state: &State, actor: &str, command: &Command, today: Date, lookup: &Lookup) -> Result<Vec<Payload>> {
    if let Command::ImportPlan(import) = command {
        return decide_import(state, actor, import);
    }
    if !state.departments.contains_key(actor) {
        if state.principals.get(actor).is_some_and(|p| p.role == Role::Auditor) {
            return Err(Error::forbidden(msg!("decide.auditor_reads_only", actor = actor)));
        }
        return Err(unknown_department(state, actor));
    }
    let payload = match command {
        Command::ImportPlan(_) => unreachable!("handled above"),
        Command::RegisterKey { principal, role, key } => {
            require_coordinator(state, actor, msg!("decide.to_register_keys"))?;
            crate::model::check_id("principal", principal)?;
            // A weak (small-order) key would let anyone forge its signatures.
            let valid = <[u8; 32]>::try_from(key.as_slice())
                .ok()
                .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok())
                .is_some_and(|k| !k.is_weak());
            if !valid {
                return Err(Error::invalid(msg!("decide.not_ed25519")));
            }
            let role = match (state.departments.get(principal), role) {
                (Some(_), Some(Role::Auditor)) => {
                    return Err(Error::invalid(msg!("decide.department_not_auditor", principal = principal)))
                }
                (Some(d), _) if d.coordinator => Role::Coordinator,
                (Some(_), _) => Role::Department,
                (None, Some(Role::Auditor)) => Role::Auditor,
                (None, _) => return Err(unknown_department(state, principal)),
            };
            if let Some((who, _)) =
                state.principals.iter().find(|(_, p)| p.keys.iter().any(|k| &k.key == key && k.revoked.is_none()))
            {
                return Err(Error::conflict(msg!("decide.key_registered_to", who = who)));
            }
            Payload::KeyRegistered(Box::new(KeyRegistered { principal: principal.clone(), role, key: key.clone() }))
        }
        Command::RevokeKey { principal, key, reason } => {
            require_coordinator(state, actor, msg!("decide.to_revoke_keys"))?;
            check_text("reason", reason, true)?;
            if state.active_key(principal, key).is_none() {
                return Err(Error::invalid(msg!(
                    "decide.no_active_key",
                    principal = principal,
                    key = crate::hash::hex(key)
                )));
            }
            Payload::KeyRevoked(Box::new(KeyRevoked {
                principal: principal.clone(),
                key: key.clone(),
                reason: reason.clone(),
            }))
        }
        Command::Withdraw { project, plan, date, reason } => {
            require_coordinator(state, actor, msg!("decide.to_withdraw"))?;
            check_text("reason", reason, true)?;
            let plan = project_plan(state, project, plan.as_deref())?;
            not_future("date", *date, date, today)?;
            if date.year() != plan.def.year {
                return Err(Error::invalid(msg!(
                    "decide.date_outside_plan_year",
                    date = date,
                    year = plan.def.year,
                    plan = &plan.def.plan
                )));
            }
            let listing = &plan.projects[project.as_str()];
            if let Some(w) = listing.withdrawn {
                return Err(Error::conflict(msg!(
                    "decide.already_withdrawn",
                    project = project,
                    plan = &plan.def.plan,
                    date = w.date,
                    seq = w.seq
                )));
            }
            if let Some((month, e)) = listing.progress.investments.iter().find(|(m, _)| m.first_day() > *date) {
                return Err(Error::invalid(msg!(
                    "decide.investment_after_withdrawal",
                    project = project,
                    month = month,
                    seq = e.seq,
                    date = date
                )));
            }
            Payload::ProjectWithdrawn(Box::new(ProjectWithdrawn {
                plan: plan.def.plan.clone(),
                project: project.clone(),
                date: *date,
                reason: reason.clone(),
            }))
        }
        Command::Investment { project, period, amount } => {
            let (plan, listing) = plan_listing(state, project, period.year, "period", period)?;
            if let Some(w) = listing.withdrawn.filter(|w| period.first_day() > w.date) {
                return Err(Error::invalid(msg!(
                    "decide.withdrawn_before",
                    project = project,
                    plan = &plan.def.plan,
                    date = w.date,
                    seq = w.seq,
                    when = period
                )));
            }
            authorize_listing(state, actor, plan, listing)?;
            not_future("period", period.first_day(), period, today)?;
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(Error::invalid(msg!("model.negative", field = "amount", text = amount)));
            }
            if let Some(e) = listing.progress.investments.get(period) {
                return Err(Error::invalid(msg!(
                    "decide.investment_recorded",
                    project = project,
                    period = period,
                    seq = e.seq
                )));
            }
            Payload::InvestmentReported(InvestmentReported {
                plan: plan.def.plan.as_str().into(),
                project: project.as_str().into(),
                period: *period,
                amount: *amount,
            })
        }
        Command::Milestone { project, milestone, date } => {
            let (plan, listing) = plan_listing(state, project, date.year(), "date", date)?;
            if let Some(w) = listing.withdrawn.filter(|w| *date > w.date) {
                return Err(Error::invalid(msg!(
                    "decide.withdrawn_before",
                    project = project,
                    plan = &plan.def.plan,
                    date = w.date,
                    seq = w.seq,
                    when = date
                )));
            }
            authorize_listing(state, actor, plan, listing)?;
            not_future("date", *date, date, today)?;
            check_milestone_order(&listing.progress, project, *milestone, *date)?;
            Payload::MilestoneReached(MilestoneReached {
                plan: plan.def.plan.as_str().into(),
                project: project.as_str().into(),
                milestone: *milestone,
                date: *date,
            })
        }
        Command::Actual { indicator, plan, period, value, basis } => {
            let plan = indicator_plan(state, indicator, plan.as_deref(), Some(period.year()))?;
            authorize_indicator(state, actor, plan, indicator)?;
            not_future("period", period.first_day(), period, today)?;
            let ind = &plan.indicators[indicator.as_str()];
            if let Some(firm) =
                ind.actuals.iter().filter(|a| a.period == *period && a.basis >= *basis).max_by_key(|a| a.basis)
            {
                return Err(Error::invalid(msg!(
                    "decide.actual_superseded",
                    indicator = indicator,
                    firm = basis_phrase(firm.basis),
                    period = period,
                    seq = firm.seq,
                    basis = basis_phrase(*basis)
                )));
            }
            Payload::ActualReported(ActualReported {
                plan: plan.def.plan.as_str().into(),
                indicator: indicator.as_str().into(),
                period: *period,
                value: *value,
                basis: *basis,
            })
        }
        Command::ReviseTarget { target, value, reason } => {
            check_text("reason", reason, true)?;
            let (target, previous) = match target {
                TargetSpec::Indicator { indicator, plan } => {
                    let plan = indicator_plan(state, indicator, plan.as_deref(), None)?;
                    authorize_indicator(state, actor, plan, indicator)?;
                    let previous = plan.indicators[indicator.as_str()]
                        .target
                        .ok_or_else(|| Error::invalid(msg!("decide.no_target_to_revise", indicator = indicator)))?;
                    (TargetRef::Indicator { plan: plan.def.plan.clone(), indicator: indicator.clone() }, previous)
                }
                TargetSpec::Project { project, plan } => {
                    let plan = project_plan(state, project, plan.as_deref())?;
                    authorize_project(state, actor, plan, project)?;
                    if value.is_sign_negative() && !value.is_zero() {
                        return Err(Error::invalid(msg!("decide.planned_negative", value = value)));
                    }
                    let previous = plan.projects[project.as_str()].planned_investment;
                    (TargetRef::Project { plan: plan.def.plan.clone(), project: project.clone() }, previous)
                }
            };
            if previous == *value {
                return Err(Error::invalid(msg!("decide.target_unchanged", value = value)));
            }
            Payload::TargetRevised(TargetRevised { target, previous, value: *value, reason: reason.clone() })
        }
        Command::Correct { event, value, reason } => {
            check_text("reason", reason, true)?;
            let target = find_target(event, lookup)?;
            let (subject, previous) = live_subject(state, &target)?;
            match &subject {
                Subject::Investment { plan, project, .. } => {
                    authorize_project(state, actor, &state.plans[plan.as_str()], project)?;
                    if value.is_sign_negative() && !value.is_zero() {
                        return Err(Error::invalid(msg!("decide.investment_negative", value = value)));
                    }
                }
                Subject::Actual { plan, indicator, .. } => {
                    let plan = indicator_plan(state, indicator, Some(plan), None)?;
                    authorize_indicator(state, actor, plan, indicator)?;
                }
                Subject::Milestone { .. } => {
                    return Err(Error::invalid(msg!("decide.milestone_no_value", event = event.msg())))
                }
            }
            let previous = previous.unwrap_or_default();
            if previous == *value {
                return Err(Error::invalid(msg!("decide.value_unchanged", event = event.msg(), value = value)));
            }
            Payload::Corrected(Box::new(Corrected {
                target_seq: target.seq,
                target_id: target.id,
                subject,
                previous,
                value: *value,
                reason: reason.clone(),
            }))
        }
        Command::Retract { event, reason } => {
            check_text("reason", reason, true)?;
            let target = find_target(event, lookup)?;
            let (subject, _) = live_subject(state, &target)?;
            match &subject {
                Subject::Investment { plan, project, .. } => {
                    authorize_project(state, actor, &state.plans[plan.as_str()], project)?;
                }
                Subject::Milestone { plan, project, milestone } => {
                    authorize_project(state, actor, &state.plans[plan.as_str()], project)?;
                    let standing = |m: Milestone| {
                        state
                            .listings_of(project)
                            .find_map(|p| p.projects[project.as_str()].progress.milestones.get(&m).copied())
                    };
                    let later = match milestone {
                        Milestone::Start => Some(Milestone::Complete),
                        Milestone::Complete => Some(Milestone::Operate),
                        Milestone::Operate => None,
                    };
                    if let Some(later) = later {
                        if let Some(e) = standing(later) {
                            return Err(Error::invalid(msg!(
                                "decide.retract_before_later",
                                milestone = milestone.word(),
                                project = project,
                                later = later.word(),
                                seq = e.seq
                            )));
                        }
                    }
                }
                Subject::Actual { plan, indicator, .. } => {
                    let plan = indicator_plan(state, indicator, Some(plan), None)?;
                    authorize_indicator(state, actor, plan, indicator)?;
                }
            }
            Payload::Retracted(Box::new(Retracted {
                target_seq: target.seq,
                target_id: target.id,
                subject,
                reason: reason.clone(),
            }))
        }
    };
    Ok(vec![payload])
}

/// True when a resubmission with an already-used id asks for exactly what was recorded.
pub fn same_submission(
    sub: &Submission,
    actor: &str,
    stored: &Event,
    resolve: &dyn Fn(&EventRef) -> Option<u64>,
) -> bool {
    if stored.actor != actor || stored.note != sub.note {
        return false;
    }
    match (&sub.command, &stored.payload) {
        (Command::Investment { project, period, amount }, Payload::InvestmentReported(i)) => {
            i.project == project && i.period == *period && i.amount == *amount
        }
        (Command::Milestone { project, milestone, date }, Payload::MilestoneReached(m)) => {
            m.project == project && m.milestone == *milestone && m.date == *date
        }
        (Command::Actual { indicator, plan, period, value, basis }, Payload::ActualReported(a)) => {
            a.indicator == indicator
                && plan.as_ref().is_none_or(|p| p == a.plan)
                && a.period == *period
                && a.value == *value
                && a.basis == *basis
        }
        (Command::ReviseTarget { target, value, reason }, Payload::TargetRevised(t)) => {
            let same_target = match (target, &t.target) {
                (TargetSpec::Indicator { indicator, plan }, TargetRef::Indicator { plan: p, indicator: i }) => {
                    indicator == i && plan.as_ref().is_none_or(|x| x == p)
                }
                (TargetSpec::Project { project, plan }, TargetRef::Project { plan: p, project: i }) => {
                    project == i && plan.as_ref().is_none_or(|x| x == p)
                }
                _ => false,
            };
            same_target && t.value == *value && &t.reason == reason
        }
        (Command::Withdraw { project, plan, date, reason }, Payload::ProjectWithdrawn(w)) => {
            &w.project == project
                && plan.as_ref().is_none_or(|p| p == &w.plan)
                && w.date == *date
                && &w.reason == reason
        }
        (Command::Correct { event, value, reason }, Payload::Corrected(c)) => {
            resolve(event) == Some(c.target_seq) && c.value == *value && &c.reason == reason
        }
        (Command::Retract { event, reason }, Payload::Retracted(r)) => {
            resolve(event) == Some(r.target_seq) && &r.reason == reason
        }
        (Command::RegisterKey { principal, role, key }, Payload::KeyRegistered(k)) => {
            &k.principal == principal && &k.key == key && role.is_none_or(|r| r == k.role)
        }
        (Command::RevokeKey { principal, key, reason }, Payload::KeyRevoked(k)) => {
            &k.principal == principal && &k.key == key && &k.reason == reason
        }
        _ => false,
    }
}

fn decide_import(state: &State, actor: &str, import: &PlanImport) -> Result<Vec<Payload>> {
    let mut out = Vec::with_capacity(1 + import.departments.len() + import.indicators.len() + import.projects.len());
    let file_depts: BTreeMap<&str, &DepartmentRegistered> =
        import.departments.iter().map(|d| (d.dept.as_str(), d)).collect();
    let actor_is_coordinator = state.is_coordinator(actor)
        || file_depts.get(actor).is_some_and(|d| d.coordinator && !state.departments.contains_key(actor));
    if !state.departments.contains_key(actor) && !file_depts.contains_key(actor) {
        return Err(unknown_department(state, actor));
    }
    if !actor_is_coordinator {
        return Err(Error::forbidden(msg!("decide.import_not_coordinator", actor = actor)));
    }

    let p = &import.plan;
    let existing = state.plans.get(&p.plan);
    match existing {
        Some(plan) if plan.def != *p => {
            return Err(Error::conflict(msg!(
                "decide.plan_differs",
                plan = &p.plan,
                year = plan.def.year,
                title = &plan.def.title
            )))
        }
        Some(_) => {}
        None => {
            if let Some(other) =
                state.plans.values().find(|o| o.def.year == p.year && o.def.jurisdiction == p.jurisdiction)
            {
                return Err(Error::conflict(msg!(
                    "decide.one_plan_a_year",
                    jurisdiction = &p.jurisdiction,
                    year = p.year,
                    other = &other.def.plan
                )));
            }
            out.push(Payload::PlanDeclared(p.clone()))
        }
    }

    let mut seen = BTreeSet::new();
    for (i, d) in import.departments.iter().enumerate() {
        let at = || msg!("input.at_department", i = i, id = &d.dept);
        if !seen.insert(d.dept.as_str()) {
            return Err(Error::invalid(msg!("decide.defined_twice")).at(at()));
        }
        match state.departments.get(&d.dept) {
            Some(known) if known.name != d.name || known.coordinator != d.coordinator => {
                return Err(Error::conflict(msg!(
                    "decide.department_differs",
                    name = &known.name,
                    coordinator = known.coordinator
                ))
                .at(at()))
            }
            Some(_) => {}
            None => {
                let known = state.departments.keys().map(String::as_str).chain(seen.iter().copied());
                refuse_look_alike("department", &d.dept, known).map_err(|e| e.at(at()))?;
                out.push(Payload::DepartmentRegistered(d.clone()))
            }
        }
    }
    let dept_known = |d: &str| state.departments.contains_key(d) || file_depts.contains_key(d);

    let mut seen = BTreeSet::new();
    for (i, ind) in import.indicators.iter().enumerate() {
        let at = || msg!("input.at_indicator", i = i, id = &ind.indicator);
        if !seen.insert(ind.indicator.as_str()) {
            return Err(Error::invalid(msg!("decide.defined_twice")).at(at()));
        }
        if !dept_known(&ind.department) {
            return Err(unknown_department(state, &ind.department).at(at()));
        }
        match existing.and_then(|plan| plan.indicators.get(&ind.indicator)) {
            Some(known) if known.def != *ind => return Err(Error::conflict(msg!("decide.indicator_differs")).at(at())),
            Some(_) => {}
            None => out.push(Payload::IndicatorDefined(Box::new(ind.clone()))),
        }
    }

    for (i, ind) in import.tracked.iter().enumerate() {
        let at = || msg!("decide.at_tracked", i = i, id = &ind.indicator);
        if !seen.insert(ind.indicator.as_str()) {
            return Err(Error::invalid(msg!("decide.defined_twice")).at(at()));
        }
        if !dept_known(&ind.department) {
            return Err(unknown_department(state, &ind.department).at(at()));
        }
        match existing.and_then(|plan| plan.indicators.get(&ind.indicator)) {
            Some(known)
                if known.target.is_some()
                    || known.def.name != ind.name
                    || known.def.unit != ind.unit
                    || known.def.measure != ind.measure
                    || known.def.department != ind.department =>
            {
                return Err(Error::conflict(msg!("decide.defined_differently_in_plan")).at(at()))
            }
            Some(_) => {}
            None => out.push(Payload::IndicatorTracked(Box::new(ind.clone()))),
        }
    }

    let mut look_alikes =
        LookAlikes::of(state.plans.values().flat_map(|plan| plan.projects.keys().map(|k| k.as_str())));
    let mut seen = BTreeSet::new();
    for (i, pr) in import.projects.iter().enumerate() {
        let at = || msg!("input.at_project", i = i, id = &pr.project);
        if !seen.insert(pr.project.as_str()) {
            return Err(Error::invalid(msg!("decide.listed_twice")).at(at()));
        }
        if !dept_known(&pr.department) {
            return Err(unknown_department(state, &pr.department).at(at()));
        }
        let earlier = state.latest_listing_before(&pr.project, p.year);
        let carried: Vec<CarriedMilestone> = earlier
            .map(|x| {
                let progress = &x.projects[pr.project.as_str()].progress;
                let opening = progress
                    .opening_started
                    .filter(|_| !progress.milestones.contains_key(&Milestone::Start))
                    .map(|date| CarriedMilestone { milestone: Milestone::Start, seq: 0, date });
                opening
                    .into_iter()
                    .chain(progress.milestones.iter().map(|(m, e)| CarriedMilestone {
                        milestone: *m,
                        seq: e.seq,
                        date: e.date,
                    }))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(started) = pr.started {
            if started.year() >= p.year {
                return Err(
                    Error::invalid(msg!("decide.started_not_before", started = started, year = p.year)).at(at())
                );
            }
            if let Some(known) = carried.iter().find(|c| c.milestone == Milestone::Start) {
                if known.date != started {
                    return Err(Error::conflict(msg!(
                        "decide.started_contradicts",
                        started = started,
                        recorded = known.date
                    ))
                    .at(at()));
                }
            }
        }
        let schedule = import.schedules.iter().find(|s| s.project == pr.project);
        if let Some(s) = schedule {
            check_schedule(s, pr, p.year).map_err(|e| e.at(at()))?;
        }
        match existing.and_then(|plan| plan.projects.get(&pr.project)) {
            Some(known) if ProjectListed { carried: Vec::new(), ..(*known.def).clone() } != *pr => {
                return Err(Error::conflict(msg!("decide.listed_differently")).at(at()))
            }
            Some(known) if known.schedule.as_deref() != schedule => {
                return Err(Error::conflict(msg!("decide.schedule_differs")).at(at()))
            }
            Some(_) => {}
            None => {
                if let Some((other, _)) = state.listing_plan(&pr.project, p.year) {
                    return Err(Error::conflict(msg!(
                        "decide.listed_by_other_plan",
                        year = p.year,
                        plan = &other.def.plan
                    ))
                    .at(at()));
                }
                if earlier.is_none() {
                    look_alikes.refuse("project", &pr.project).map_err(|e| e.at(at()))?;
                }
                out.push(Payload::ProjectListed(std::sync::Arc::new(ProjectListed { carried, ..pr.clone() })));
                if let Some(s) = schedule {
                    out.push(Payload::ProjectScheduled(Box::new(s.clone())));
                }
            }
        }
    }
    Ok(out)
}

/// The plan of `year` that lists `project`: investment periods and milestone dates must fall
/// in a year whose plan includes the project.
// `value` is formatted only for the error: this runs for every event.
/// The plan of `year` listing `project`, and its listing there.
fn plan_listing<'s>(
    state: &'s State,
    project: &'s str,
    year: i32,
    field: &str,
    value: &dyn std::fmt::Display,
) -> Result<(&'s Plan, &'s Listing)> {
    if let Some(found) = state.listing_plan(project, year) {
        return Ok(found);
    }
    let years: Vec<String> = state.listings_of(project).map(|p| p.def.year.to_string()).collect();
    if years.is_empty() {
        return Err(unknown_project(state, project));
    }
    Err(Error::invalid(msg!(
        "decide.outside_listing_years",
        field = field,
        value = value,
        project = project,
        years = years.join(", ")
    )))
}

/// The plan a project-level revision applies to: the one named, or the only one listing it.
fn project_plan<'s>(state: &'s State, project: &'s str, plan: Option<&str>) -> Result<&'s Plan> {
    let listing: Vec<&Plan> = state.listings_of(project).collect();
    if listing.is_empty() {
        return Err(unknown_project(state, project));
    }
    pick_plan(listing, plan, "project", project)
}

/// The plan defining `indicator`: the one named, else the one for `year`, else the only one.
fn indicator_plan<'s>(state: &'s State, indicator: &str, plan: Option<&str>, year: Option<i32>) -> Result<&'s Plan> {
    // The usual case first, through the year index: the plans of that year defining it.
    if let Some(ids) = year.and_then(|y| state.years.get(&y)) {
        let in_year: Vec<&Plan> =
            ids.iter().filter_map(|id| state.plans.get(id)).filter(|p| p.indicators.contains_key(indicator)).collect();
        if !in_year.is_empty() {
            return pick_plan(in_year, plan, "indicator", indicator);
        }
    }
    let defining: Vec<&Plan> = state.plans_by_year().filter(|p| p.indicators.contains_key(indicator)).collect();
    if defining.is_empty() {
        return Err(unknown_indicator(state, indicator));
    }
    let Some(year) = year else {
        return pick_plan(defining, plan, "indicator", indicator);
    };
    let in_year: Vec<&Plan> = defining.iter().copied().filter(|p| p.def.year == year).collect();
    if in_year.is_empty() {
        let years: Vec<String> = defining.iter().map(|p| p.def.year.to_string()).collect();
        return Err(Error::invalid(msg!(
            "decide.outside_indicator_years",
            year = year,
            indicator = indicator,
            years = years.join(", ")
        )));
    }
    pick_plan(in_year, plan, "indicator", indicator)
}

fn pick_plan<'s>(candidates: Vec<&'s Plan>, plan: Option<&str>, kind: &str, id: &str) -> Result<&'s Plan> {
    match plan {
        Some(name) => candidates
            .into_iter()
            .find(|p| p.def.plan == name)
            .ok_or_else(|| Error::invalid(msg!("decide.plan_lacks", plan = name, kind = kind_word(kind), id = id))),
        None if candidates.len() == 1 => Ok(candidates[0]),
        None => {
            let names: Vec<&str> = candidates.iter().map(|p| p.def.plan.as_str()).collect();
            Err(Error::invalid(msg!(
                "decide.in_several_plans",
                kind = kind_word(kind),
                id = id,
                plans = names.join(", ")
            )))
        }
    }
}

/// A schedule agrees with its listing: same plan and project, and a 续建 project has no
/// planned start in the plan year (it started before).
fn check_schedule(s: &ProjectScheduled, listing: &ProjectListed, year: i32) -> Result<()> {
    debug_assert!(s.plan == listing.plan && s.project == listing.project, "schedule paired with another listing");
    if s.construction == Some(crate::model::Construction::Continuing)
        && s.planned_month(Milestone::Start).is_some_and(|m| m.year >= year)
    {
        return Err(Error::invalid(msg!(
            "decide.continuing_starts_in_year",
            year = year,
            month = s.planned_month(Milestone::Start).map(|m| m.to_string()).unwrap_or_default()
        )));
    }
    if let (Some(prior), Some(total)) = (s.prior_investment, listing.total_investment) {
        if prior > total {
            return Err(Error::invalid(msg!(
                "decide.prior_over_total",
                prior = crate::model::fmt_decimal(prior),
                total = crate::model::fmt_decimal(total)
            )));
        }
    }
    Ok(())
}

/// Refuses a new id that differs from a known one only by width (全角/半角) or spaces: two
/// such ids would read as one project in every report and split its figures.
fn refuse_look_alike<'k>(kind: &str, id: &str, known: impl IntoIterator<Item = &'k str>) -> Result<()> {
    match crate::names::look_alike(id, known) {
        None => Ok(()),
        Some(other) => Err(look_alike_error(kind, id, other)),
    }
}

fn look_alike_error(kind: &str, id: &str, other: &str) -> Error {
    Error::invalid(msg!("decide.look_alike", kind = kind_word(kind), id = id, other = other))
}

/// Known ids by their look-alike form (`names::look_alike_key`): an import of many new
/// projects checks each against every known one in one lookup, not a scan.
struct LookAlikes(std::collections::HashMap<String, String>);

impl LookAlikes {
    fn of<'k>(known: impl Iterator<Item = &'k str>) -> LookAlikes {
        LookAlikes(known.map(|k| (crate::names::look_alike_key(k), k.to_string())).collect())
    }

    /// Refuses `id` when a known id looks like it; else knows it from now on.
    fn refuse(&mut self, kind: &str, id: &str) -> Result<()> {
        match self.0.entry(crate::names::look_alike_key(id)) {
            std::collections::hash_map::Entry::Occupied(o) if o.get() != id => Err(look_alike_error(kind, id, o.get())),
            std::collections::hash_map::Entry::Occupied(_) => Ok(()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id.to_string());
                Ok(())
            }
        }
    }
}

/// "unknown department 'X'; did you mean ...?"
fn unknown_department(state: &State, id: &str) -> Error {
    Error::unknown_among(crate::error::Kind::Department, id, state.departments.keys().map(String::as_str))
}

/// "unknown project 'X'; did you mean ...?", among the projects of every loaded plan.
fn unknown_project(state: &State, id: &str) -> Error {
    Error::unknown_among(
        crate::error::Kind::Project,
        id,
        state.plans.values().flat_map(|p| p.projects.keys().map(|k| k.as_str())),
    )
}

fn unknown_indicator(state: &State, id: &str) -> Error {
    Error::unknown_among(
        crate::error::Kind::Indicator,
        id,
        state.plans.values().flat_map(|p| p.indicators.keys().map(String::as_str)),
    )
}

/// `what` is what only a coordinator may do: `msg!("decide.to_register_keys")`.
fn require_coordinator(state: &State, actor: &str, what: Msg) -> Result<()> {
    if state.is_coordinator(actor) {
        return Ok(());
    }
    Err(Error::forbidden(msg!("decide.not_coordinator", actor = actor, what = what)))
}

fn authorize_project(state: &State, actor: &str, plan: &Plan, project: &str) -> Result<()> {
    authorize_listing(state, actor, plan, &plan.projects[project])
}

fn authorize_listing(state: &State, actor: &str, plan: &Plan, listing: &Listing) -> Result<()> {
    let responsible = &listing.def.department;
    if actor == responsible || state.is_coordinator(actor) {
        return Ok(());
    }
    Err(Error::forbidden(msg!(
        "decide.not_responsible_project",
        actor = actor,
        project = &listing.def.project,
        plan = &plan.def.plan,
        responsible = responsible
    )))
}

fn authorize_indicator(state: &State, actor: &str, plan: &Plan, indicator: &str) -> Result<()> {
    let responsible = &plan.indicators[indicator].def.department;
    if actor == responsible || state.is_coordinator(actor) {
        return Ok(());
    }
    Err(Error::forbidden(msg!(
        "decide.not_responsible_indicator",
        actor = actor,
        indicator = indicator,
        plan = &plan.def.plan,
        responsible = responsible
    )))
}

fn not_future(field: &str, first_day: Date, value: &dyn std::fmt::Display, today: Date) -> Result<()> {
    if first_day > today {
        return Err(Error::invalid(msg!("decide.in_future", field = field, value = value, today = today)));
    }
    Ok(())
}

fn check_milestone_order(progress: &Progress, project: &str, milestone: Milestone, date: Date) -> Result<()> {
    if let Some(e) = progress.milestones.get(&milestone) {
        return Err(Error::invalid(msg!(
            "decide.milestone_reached_once",
            project = project,
            milestone = milestone.word(),
            date = e.date,
            seq = e.seq
        )));
    }
    let (before, before_date) = match milestone {
        Milestone::Start => return Ok(()),
        Milestone::Complete => (Milestone::Start, progress.started_on()),
        Milestone::Operate => (Milestone::Complete, progress.milestones.get(&Milestone::Complete).map(|e| e.date)),
    };
    match before_date {
        None => Err(Error::invalid(msg!(
            "decide.milestone_before_missing",
            project = project,
            milestone = milestone.word(),
            before = before.word()
        ))),
        Some(d) if date < d => Err(Error::invalid(msg!(
            "decide.milestone_date_before",
            milestone = milestone.word(),
            date = date,
            before = before.word(),
            earlier = d
        ))),
        Some(_) => Ok(()),
    }
}

/// "a" or "an" before `word`, by its first letter.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A basis with its article, as the refusal of a superseding actual says it: "an estimate",
/// "a final" (in Chinese, the word with its meaning).
fn basis_phrase(basis: Basis) -> Msg {
    match basis {
        Basis::Estimate => msg!("decide.basis_estimate"),
        Basis::Preliminary => msg!("decide.basis_preliminary"),
        Basis::Final => msg!("decide.basis_final"),
    }
}

fn listing<'s>(state: &'s State, plan: &str, project: &str) -> Option<&'s Listing> {
    state.plans.get(plan).and_then(|p| p.projects.get(project)).map(|l| &**l)
}

fn find_target(event: &EventRef, lookup: &Lookup) -> Result<Event> {
    lookup(event)?.ok_or_else(|| Error::invalid(msg!("decide.event_missing", event = event.msg())))
}

/// The live fact `target` recorded, with its current value; an error when the event is of a
/// kind that cannot be amended, or was already retracted.
fn live_subject(state: &State, target: &Event) -> Result<(Subject, Option<Decimal>)> {
    let seq = target.seq;
    let retracted = || Error::invalid(msg!("decide.retracted", seq = seq));
    match &target.payload {
        Payload::InvestmentReported(i) => {
            let e = listing(state, &i.plan, &i.project).and_then(|l| l.progress.investments.get(&i.period));
            match e {
                Some(e) if e.seq == seq => Ok((
                    Subject::Investment { plan: i.plan.to_string(), project: i.project.to_string(), period: i.period },
                    Some(e.amount),
                )),
                _ => Err(retracted()),
            }
        }
        Payload::MilestoneReached(m) => {
            let e = listing(state, &m.plan, &m.project).and_then(|l| l.progress.milestones.get(&m.milestone));
            match e {
                Some(e) if e.seq == seq => Ok((
                    Subject::Milestone {
                        plan: m.plan.to_string(),
                        project: m.project.to_string(),
                        milestone: m.milestone,
                    },
                    None,
                )),
                _ => Err(retracted()),
            }
        }
        Payload::ActualReported(a) => {
            let entry = state
                .plans
                .get(a.plan.as_str())
                .and_then(|p| p.indicators.get(a.indicator.as_str()))
                .and_then(|i| i.actuals.iter().find(|x| x.seq == seq));
            match entry {
                Some(e) => Ok((
                    Subject::Actual {
                        plan: a.plan.to_string(),
                        indicator: a.indicator.to_string(),
                        period: a.period,
                        basis: a.basis,
                    },
                    Some(e.value),
                )),
                None => Err(retracted()),
            }
        }
        other => {
            let hint = match other {
                Payload::Corrected(c) => msg!("decide.corrects_hint", seq = c.target_seq),
                _ => Msg::text(""),
            };
            let kind = other.kind();
            Err(Error::invalid(if article(kind) == "an" {
                msg!("decide.not_amendable_an", seq = seq, kind = kind, hint = hint)
            } else {
                msg!("decide.not_amendable_a", seq = seq, kind = kind, hint = hint)
            }))
        }
    }
}
