//! Renders folded state for people and programs: `state` as JSON (the contract in
//! docs/cli.md) and as text. Pure functions of the state: the same events always print the
//! same bytes.

use std::fmt::Write;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::model::{fmt_decimal, fmt_pct, percent, Comparison, Date, Level, Measure, Milestone};
use crate::msg::{Lang, Msg};
use crate::projection::{Indicator, Plan, State};
use crate::text::{self, Align};

/// Investment totals of a group of projects.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub projects: u64,
    pub planned: Decimal,
    pub completed: Decimal,
}

impl Totals {
    pub fn add(&mut self, planned: Decimal, completed: Decimal) {
        self.projects += 1;
        self.planned += planned;
        self.completed += completed;
    }

    pub fn pct(&self) -> Option<Decimal> {
        percent(self.completed, self.planned)
    }

    pub fn json(&self) -> Value {
        json!({
            "projects": self.projects,
            "planned_investment": fmt_decimal(self.planned),
            "completed_investment": fmt_decimal(self.completed),
            "completion_pct": self.pct().map(fmt_pct),
        })
    }
}

/// A plan's totals, overall and by level (plus province and city combined, as reports
/// count "省市重点项目" together).
#[derive(Clone, Debug, Default)]
pub struct PlanTotals {
    pub all: Totals,
    pub province: Totals,
    pub city: Totals,
    pub county: Totals,
    pub district: Totals,
}

impl PlanTotals {
    pub fn province_city(&self) -> Totals {
        Totals {
            projects: self.province.projects + self.city.projects,
            planned: self.province.planned + self.city.planned,
            completed: self.province.completed + self.city.completed,
        }
    }

    pub fn by_level_json(&self) -> Value {
        json!({
            "province": self.province.json(),
            "city": self.city.json(),
            "county": self.county.json(),
            "district": self.district.json(),
            "province_city": self.province_city().json(),
        })
    }
}

pub fn plan_totals(plan: &Plan, at: Option<Date>) -> PlanTotals {
    let mut t = PlanTotals::default();
    // A project withdrawn (调出) by `at` (or at all, for now) is off the list.
    let listed = |l: &crate::projection::Listing| l.withdrawn.is_none_or(|w| at.is_some_and(|d| w.date > d));
    for listing in plan.projects.values().filter(|l| listed(l)) {
        let completed = listing.progress.completed(at);
        t.all.add(listing.planned_investment, completed);
        match listing.def.level {
            Level::Province => t.province.add(listing.planned_investment, completed),
            Level::City => t.city.add(listing.planned_investment, completed),
            Level::County => t.county.add(listing.planned_investment, completed),
            Level::District => t.district.add(listing.planned_investment, completed),
        }
    }
    t
}

/// An indicator judged against its target: the figures the report prints.
pub struct Judgement {
    pub actual: Option<crate::projection::ActualEntry>,
    pub met: Option<bool>,
    pub gap: Option<Decimal>,
    pub completion_pct: Option<Decimal>,
}

pub fn judge(ind: &Indicator, at: Option<Date>) -> Judgement {
    let actual = ind.current_actual_until(at).cloned();
    // Without a target there is nothing to judge.
    let judged = actual.as_ref().zip(ind.target);
    let met = judged.map(|(a, target)| match ind.def.comparison {
        Comparison::AtLeast => a.value >= target,
        Comparison::AtMost => a.value <= target,
    });
    let gap = judged.map(|(a, target)| a.value - target);
    let completion_pct = match ind.def.measure {
        Measure::Amount => judged.and_then(|(a, target)| percent(a.value, target)),
        Measure::Rate => None,
    };
    Judgement { actual, met, gap, completion_pct }
}

pub fn indicator_json(ind: &Indicator, at: Option<Date>) -> Value {
    let j = judge(ind, at);
    json!({
        "id": ind.def.indicator,
        "name": ind.def.name,
        "unit": ind.def.unit,
        "measure": ind.def.measure.as_str(),
        "comparison": ind.def.comparison.as_str(),
        "approximate": ind.def.approximate,
        "nature": ind.def.nature.as_str(),
        "department": ind.def.department,
        "target": ind.target.map(fmt_decimal),
        "actual": j.actual.as_ref().map(|a| fmt_decimal(a.value)),
        "actual_period": j.actual.as_ref().map(|a| a.period.to_string()),
        "actual_basis": j.actual.as_ref().map(|a| a.basis.as_str()),
        "met": j.met,
        "gap": j.gap.map(fmt_decimal),
        "completion_pct": j.completion_pct.map(fmt_pct),
    })
}

/// One project of a plan, as `state --json` prints it.
pub fn project_json(id: &str, l: &crate::projection::Listing, at: Option<Date>) -> Value {
    let p = &l.progress;
    let completed = p.completed(at);
    let mut milestones = Map::new();
    if let (Some(s), None) = (p.opening_started, p.milestones.get(&Milestone::Start)) {
        if at.is_none_or(|d| s <= d) {
            milestones.insert("start".into(), Value::String(s.to_string()));
        }
    }
    for (m, e) in p.milestones.iter() {
        if at.is_none_or(|d| e.date <= d) {
            milestones.insert(m.as_str().into(), Value::String(e.date.to_string()));
        }
    }
    json!({
        "id": id,
        "name": l.def.name,
        "level": l.def.level.as_str(),
        "department": l.def.department,
        "dimensions": l.def.dimensions,
        "status": p.status(at).as_str(),
        "planned_investment": fmt_decimal(l.planned_investment),
        "total_investment": l.def.total_investment.map(fmt_decimal),
        "completed_investment": fmt_decimal(completed),
        "completion_pct": percent(completed, l.planned_investment).map(fmt_pct),
        "planned_milestones": l.def.planned_milestones.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "milestones": milestones,
        "construction": l.schedule.as_ref().and_then(|s| s.construction).map(|c| c.as_str()),
        "planned_months": Milestone::ALL.iter().filter_map(|m| l.planned_month(*m).map(|month| (m.as_str().to_string(), Value::String(month.to_string())))).collect::<Map<String, Value>>(),
        "prior_investment": l.schedule.as_ref().and_then(|s| s.prior_investment).map(fmt_decimal),
        "withdrawn": l.withdrawn.filter(|w| at.is_none_or(|d| w.date <= d)).map(|w| w.date.to_string()),
    })
}

/// Which projects `state` lists: all, or those of a department, one project, a level, or
/// those behind schedule (滞后) on a date. Totals and indicators stay the whole plan's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectFilter {
    pub department: Option<String>,
    pub project: Option<String>,
    pub level: Option<crate::model::Level>,
    /// Only projects behind 序时进度 on this date.
    pub lagging_on: Option<Date>,
}

impl ProjectFilter {
    pub fn keeps(&self, id: &str, l: &crate::projection::Listing, year: i32) -> bool {
        self.department.as_ref().is_none_or(|d| l.def.department == *d)
            && self.project.as_ref().is_none_or(|p| id == p)
            && self.level.is_none_or(|lv| l.def.level == lv)
            && self.lagging_on.is_none_or(|d| {
                crate::summary::behind_schedule(l, crate::summary::On::new(year, Some(d), d)) == Some(true)
            })
    }
}

fn plan_json(plan: &Plan, at: Option<Date>, filter: &ProjectFilter) -> Value {
    let year = plan.def.year;
    let projects: Vec<Value> = plan
        .projects
        .sorted()
        .into_iter()
        .filter(|(id, l)| filter.keeps(id, l, year))
        .map(|(id, l)| project_json(id, l, at))
        .collect();
    let indicators: Vec<Value> = plan.indicators.values().map(|i| indicator_json(i, at)).collect();
    let t = plan_totals(plan, at);
    let mut totals = t.all.json();
    if let Value::Object(m) = &mut totals {
        m.insert("by_level".into(), t.by_level_json());
    }
    json!({
        "id": plan.def.plan,
        "year": year,
        "title": plan.def.title,
        "jurisdiction": plan.def.jurisdiction,
        "projects": projects,
        "indicators": indicators,
        "totals": totals,
    })
}

fn selected<'s>(state: &'s State, plan: Option<&str>) -> Vec<&'s Plan> {
    state.plans_by_year().filter(|p| plan.is_none_or(|id| p.def.plan == id)).collect()
}

fn as_of_json(state: &State) -> Value {
    json!({
        "seq": state.last_seq,
        "recorded_at": (state.last_seq > 0).then(|| state.last_recorded_at.to_string()),
    })
}

/// `state --json`.
pub fn state_json(state: &State, plan: Option<&str>, at: Option<Date>) -> Value {
    state_json_of(state, plan, at, &ProjectFilter::default())
}

/// As `state_json`, listing only the projects `filter` keeps.
pub fn state_json_of(state: &State, plan: Option<&str>, at: Option<Date>, filter: &ProjectFilter) -> Value {
    let plans: Vec<Value> = selected(state, plan).into_iter().map(|p| plan_json(p, at, filter)).collect();
    let mut doc = json!({ "as_of": as_of_json(state) });
    if let (Value::Object(m), Some(at)) = (&mut doc, at) {
        m.insert("at".into(), Value::String(at.to_string()));
    }
    if let Value::Object(m) = &mut doc {
        m.insert("plans".into(), Value::Array(plans));
    }
    doc
}

fn pct_text(p: Option<Decimal>) -> String {
    p.map(|p| format!("{} %", fmt_pct(p))).unwrap_or_else(|| "-".into())
}

fn totals_row(label: &str, t: &Totals) -> Vec<String> {
    vec![label.to_string(), t.projects.to_string(), fmt_decimal(t.planned), fmt_decimal(t.completed), pct_text(t.pct())]
}

/// `state` as text, in English, times in UTC.
pub fn state_text(state: &State, plan: Option<&str>, at: Option<Date>) -> String {
    state_text_of(state, plan, at, &ProjectFilter::default(), Lang::En, crate::model::TimeZone::UTC)
}

/// As `state_text`, listing only the projects `filter` keeps, in `lang`, times in `zone`.
pub fn state_text_of(
    state: &State,
    plan: Option<&str>,
    at: Option<Date>,
    filter: &ProjectFilter,
    lang: Lang,
    zone: crate::model::TimeZone,
) -> String {
    let mut out = String::new();
    let mut head = if state.last_seq > 0 {
        msg!("state.as_of_recorded", seq = state.last_seq, recorded = text::time(state.last_recorded_at, zone))
    } else {
        msg!("state.as_of", seq = state.last_seq)
    };
    if let Some(at) = at {
        head = msg!("state.head_at", head = head, at = at);
    }
    out.push_str(&head.render(lang));
    out.push('\n');
    let plans = selected(state, plan);
    if plans.is_empty() {
        out.push_str(tr!(lang, "state.no_plans"));
        out.push('\n');
    }
    for p in plans {
        let year = p.def.year;
        let _ = writeln!(
            out,
            "\n{}",
            msg!(
                "state.plan",
                plan = &p.def.plan,
                year = year,
                jurisdiction = &p.def.jurisdiction,
                title = &p.def.title
            )
            .render(lang)
        );
        let t = plan_totals(p, at);
        let _ = writeln!(out, "  {}", tr!(lang, "state.key_projects"));
        let mut rows = vec![totals_row(tr!(lang, "state.all"), &t.all)];
        for (level, totals) in [(Level::Province, &t.province), (Level::City, &t.city)] {
            rows.push(totals_row(text::level(lang, level), totals));
        }
        if t.county.projects > 0 {
            rows.push(totals_row(text::level(lang, Level::County), &t.county));
        }
        rows.push(totals_row(text::level(lang, Level::District), &t.district));
        rows.push(totals_row(tr!(lang, "state.province_city"), &t.province_city()));
        let header = [
            tr!(lang, "state.col.group"),
            tr!(lang, "state.col.projects"),
            tr!(lang, "state.col.planned"),
            tr!(lang, "state.col.completed"),
            tr!(lang, "state.col.pct"),
        ];
        out.push_str(&text::grid(
            "    ",
            &header,
            &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right],
            &rows,
        ));
        if !p.indicators.is_empty() {
            let _ = writeln!(out, "  {}", tr!(lang, "state.indicators"));
            let rows: Vec<Vec<String>> = p.indicators.values().map(|ind| indicator_row(ind, at, lang)).collect();
            let header = [
                tr!(lang, "state.col.indicator"),
                tr!(lang, "state.col.name"),
                tr!(lang, "state.col.target"),
                tr!(lang, "state.col.actual"),
                tr!(lang, "state.col.measure"),
                tr!(lang, "state.col.verdict"),
            ];
            out.push_str(&text::grid("    ", &header, &[Align::Left; 6], &rows));
        }
        let listed: Vec<Vec<String>> = p
            .projects
            .sorted()
            .into_iter()
            .filter(|(id, l)| filter.keeps(id, l, p.def.year))
            .map(|(id, l)| {
                let completed = l.progress.completed(at);
                vec![
                    id.to_string(),
                    l.def.name.clone(),
                    text::level(lang, l.def.level).to_string(),
                    text::status(lang, l.progress.status(at)).to_string(),
                    fmt_decimal(l.planned_investment),
                    fmt_decimal(completed),
                    percent(completed, l.planned_investment).map(fmt_pct).unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        if !listed.is_empty() {
            let _ = writeln!(out, "  {}", tr!(lang, "state.projects"));
            let header = [
                tr!(lang, "state.col.project"),
                tr!(lang, "state.col.name"),
                tr!(lang, "state.col.level"),
                tr!(lang, "state.col.status"),
                tr!(lang, "state.col.planned"),
                tr!(lang, "state.col.completed"),
                "%",
            ];
            let align = [Align::Left, Align::Left, Align::Left, Align::Left, Align::Right, Align::Right, Align::Right];
            out.push_str(&text::grid("    ", &header, &align, &listed));
        }
    }
    out
}

/// One indicator in `state`: id, name, target, actual, how far, verdict.
fn indicator_row(ind: &Indicator, at: Option<Date>, lang: Lang) -> Vec<String> {
    let j = judge(ind, at);
    let unit = &ind.def.unit;
    let target = match ind.target {
        None => msg!("state.no_target", unit = unit),
        Some(t) => match (ind.def.comparison, ind.def.approximate) {
            (Comparison::AtMost, _) => msg!("state.target_at_most", value = fmt_decimal(t), unit = unit),
            (Comparison::AtLeast, true) => msg!("state.target_about", value = fmt_decimal(t), unit = unit),
            (Comparison::AtLeast, false) => msg!("state.target_at_least", value = fmt_decimal(t), unit = unit),
        },
    };
    let actual = match &j.actual {
        Some(a) => msg!(
            "state.actual",
            value = fmt_decimal(a.value),
            unit = unit,
            period = text::period(lang, a.period),
            basis = text::basis(lang, a.basis)
        ),
        None => msg!("state.no_actual"),
    };
    let measure = match (ind.def.measure, j.gap, j.completion_pct) {
        (Measure::Rate, Some(g), _) => msg!("state.gap", gap = fmt_decimal(g)),
        (Measure::Amount, _, Some(p)) => msg!("state.of_target", pct = fmt_pct(p)),
        _ => Msg::text(""),
    };
    let verdict = match j.met {
        Some(true) => tr!(lang, "state.met"),
        Some(false) => tr!(lang, "state.missed"),
        None => "-",
    };
    vec![
        ind.def.indicator.to_string(),
        ind.def.name.clone(),
        target.render(lang),
        actual.render(lang),
        measure.render(lang),
        verdict.to_string(),
    ]
}

/// The payload's fields as JSON, decimals as exact strings (the `log --json` contract).
pub fn payload_fields(payload: &crate::event::Payload) -> Map<String, Value> {
    use crate::event::{Payload as P, Subject, TargetRef};
    let subject = |s: &Subject| -> Value {
        match s {
            Subject::Investment { plan, project, period } => {
                json!({"kind": "investment", "plan": plan, "project": project, "period": period.to_string()})
            }
            Subject::Milestone { plan, project, milestone } => {
                json!({"kind": "milestone", "plan": plan, "project": project, "milestone": milestone.as_str()})
            }
            Subject::Actual { plan, indicator, period, basis } => json!({
                "kind": "actual", "plan": plan, "indicator": indicator,
                "period": period.to_string(), "basis": basis.as_str()
            }),
        }
    };
    let v = match payload {
        P::PlanDeclared(p) => {
            json!({"plan": p.plan, "year": p.year, "title": p.title, "jurisdiction": p.jurisdiction})
        }
        P::DepartmentRegistered(d) => {
            json!({"dept": d.dept, "name": d.name, "coordinator": d.coordinator})
        }
        P::IndicatorDefined(i) => json!({
            "plan": i.plan, "indicator": i.indicator, "name": i.name, "unit": i.unit,
            "measure": i.measure.as_str(), "comparison": i.comparison.as_str(), "approximate": i.approximate,
            "nature": i.nature.as_str(), "target": fmt_decimal(i.target), "department": i.department,
        }),
        P::ProjectListed(p) => json!({
            "plan": p.plan, "project": p.project, "name": p.name, "level": p.level.as_str(),
            "department": p.department, "planned_investment": fmt_decimal(p.planned_investment),
            "total_investment": p.total_investment.map(fmt_decimal),
            "planned_milestones": p.planned_milestones.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            "started": p.started.map(|d| d.to_string()), "dimensions": p.dimensions,
            "carried": p.carried.iter().map(|c| json!({
                "milestone": c.milestone.as_str(), "seq": c.seq, "date": c.date.to_string()
            })).collect::<Vec<_>>(),
        }),
        P::InvestmentReported(i) => json!({
            "plan": i.plan, "project": i.project, "period": i.period.to_string(), "amount": fmt_decimal(i.amount)
        }),
        P::MilestoneReached(m) => json!({
            "plan": m.plan, "project": m.project, "milestone": m.milestone.as_str(), "date": m.date.to_string()
        }),
        P::ActualReported(a) => json!({
            "plan": a.plan, "indicator": a.indicator, "period": a.period.to_string(),
            "value": fmt_decimal(a.value), "basis": a.basis.as_str(),
        }),
        P::TargetRevised(t) => {
            let mut v = match &t.target {
                TargetRef::Indicator { plan, indicator } => {
                    json!({"plan": plan, "indicator": indicator})
                }
                TargetRef::Project { plan, project } => json!({"plan": plan, "project": project}),
            };
            if let Value::Object(m) = &mut v {
                m.insert("previous".into(), json!(fmt_decimal(t.previous)));
                m.insert("value".into(), json!(fmt_decimal(t.value)));
                m.insert("reason".into(), json!(t.reason));
            }
            v
        }
        P::Corrected(c) => json!({
            "corrects": c.target_seq, "corrects_id": c.target_id.to_string(), "subject": subject(&c.subject),
            "previous": fmt_decimal(c.previous), "value": fmt_decimal(c.value), "reason": c.reason,
        }),
        P::Retracted(r) => json!({
            "retracts": r.target_seq, "retracts_id": r.target_id.to_string(), "subject": subject(&r.subject),
            "reason": r.reason,
        }),
        P::KeyRegistered(k) => {
            json!({"principal": k.principal, "role": k.role.as_str(), "key": crate::hash::hex(&k.key)})
        }
        P::KeyRevoked(k) => json!({"principal": k.principal, "key": crate::hash::hex(&k.key), "reason": k.reason}),
        P::ProjectScheduled(p) => json!({
            "plan": p.plan, "project": p.project,
            "construction": p.construction.map(|c| c.as_str()),
            "planned_start": p.planned[0].map(|m| m.to_string()),
            "planned_complete": p.planned[1].map(|m| m.to_string()),
            "planned_operate": p.planned[2].map(|m| m.to_string()),
            "prior_investment": p.prior_investment.map(fmt_decimal),
        }),
        P::ProjectWithdrawn(w) => json!({
            "plan": w.plan, "project": w.project, "date": w.date.to_string(), "reason": w.reason,
        }),
        P::IndicatorTracked(i) => json!({
            "plan": i.plan, "indicator": i.indicator, "name": i.name, "unit": i.unit,
            "measure": i.measure.as_str(), "department": i.department,
        }),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One `log --json` line.
pub fn event_json(e: &crate::event::Event, hash: &crate::hash::Hash) -> Value {
    let mut m = Map::new();
    m.insert("seq".into(), json!(e.seq));
    m.insert("id".into(), json!(e.id.to_string()));
    m.insert("type".into(), json!(e.payload.kind()));
    m.insert("recorded_at".into(), json!(e.recorded_at.to_string()));
    m.insert("actor".into(), json!(e.actor));
    m.insert("stream".into(), json!(e.payload.stream()));
    m.insert("stream_version".into(), json!(e.stream_version));
    m.insert("schema".into(), json!(e.schema));
    if let Some(n) = &e.note {
        m.insert("note".into(), json!(n));
    }
    if let Some(sig) = &e.signature {
        m.insert("signed_by".into(), json!(crate::hash::hex(&sig.key)));
        m.insert("signature".into(), json!(crate::hash::hex(&sig.bytes)));
        m.insert("signed".into(), json!(sig.signed));
    }
    for (k, v) in payload_fields(&e.payload) {
        m.insert(k, v);
    }
    m.insert("hash".into(), json!(crate::hash::hex(hash)));
    Value::Object(m)
}

/// What an event says, in a few words (the `log` line's last column).
fn event_what(e: &crate::event::Event, lang: Lang) -> Msg {
    use crate::event::Payload as P;
    let d = fmt_decimal;
    let key16 = |k: &[u8]| {
        let h = crate::hash::hex(k);
        h.get(..16).unwrap_or(&h).to_string()
    };
    match &e.payload {
        P::PlanDeclared(p) => msg!("log.plan", year = p.year, title = &p.title),
        P::DepartmentRegistered(x) if x.coordinator => msg!("log.department_coordinator", name = &x.name),
        P::DepartmentRegistered(x) => Msg::text(x.name.clone()),
        P::IndicatorDefined(i) => msg!("log.indicator", value = d(i.target), unit = &i.unit, plan = &i.plan),
        P::ProjectListed(p) => {
            msg!("log.project", level = text::level(lang, p.level), amount = d(p.planned_investment), plan = &p.plan)
        }
        P::InvestmentReported(i) => msg!(
            "log.investment",
            period = text::period(lang, crate::model::Period::Month(i.period)),
            amount = d(i.amount)
        ),
        P::MilestoneReached(m) => msg!("log.milestone", milestone = text::milestone(lang, m.milestone), date = m.date),
        P::ActualReported(a) => msg!(
            "log.actual",
            period = text::period(lang, a.period),
            value = d(a.value),
            basis = text::basis(lang, a.basis)
        ),
        P::TargetRevised(t) => msg!("log.revise", before = d(t.previous), after = d(t.value), reason = &t.reason),
        P::Corrected(c) => {
            msg!("log.correct", seq = c.target_seq, before = d(c.previous), after = d(c.value), reason = &c.reason)
        }
        P::Retracted(r) => msg!("log.retract", seq = r.target_seq, reason = &r.reason),
        P::KeyRegistered(k) => msg!("log.key", role = text::role(lang, k.role), key = key16(&k.key)),
        P::KeyRevoked(k) => msg!("log.key_revoked", key = key16(&k.key), reason = &k.reason),
        P::ProjectScheduled(p) => {
            let months: Vec<String> = Milestone::ALL
                .iter()
                .filter_map(|m| p.planned_month(*m).map(|month| format!("{} {month}", text::milestone(lang, *m))))
                .collect();
            let months = if months.is_empty() { "-".to_string() } else { months.join(", ") };
            match p.construction {
                Some(c) => msg!("log.scheduled_as", construction = text::construction(lang, c), months = months),
                None => msg!("log.scheduled", months = months),
            }
        }
        P::ProjectWithdrawn(w) => msg!("log.withdrawn", plan = &w.plan, date = w.date, reason = &w.reason),
        P::IndicatorTracked(i) => msg!("log.tracked", unit = &i.unit, plan = &i.plan),
    }
}

/// One `log` text line: seq, time, actor, type, entity, the essentials, short hash; in
/// `lang`, the time on the ledger's clock (`zone`), columns padded by display width.
pub fn event_line(
    e: &crate::event::Event,
    hash: &crate::hash::Hash,
    lang: Lang,
    zone: crate::model::TimeZone,
) -> String {
    format!(
        "{:>7}  {}  {} {} {} {}  #{}\n",
        e.seq,
        text::time(e.recorded_at, zone),
        text::pad(&e.actor, 10),
        text::pad(text::event_kind(lang, e.payload.kind()), 21),
        text::pad(e.payload.entity(), 28),
        event_what(e, lang).render(lang),
        &crate::hash::hex(hash)[..12]
    )
}
