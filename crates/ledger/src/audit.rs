//! The audit trail: every change as an auditor reads it — who did what, when, why, the value
//! before and after, and the links between an event and the corrections or retractions of it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::event::{Event, Payload, Subject, TargetRef};
use crate::ledger::check_fold;
use crate::model::{fmt_decimal, Timestamp};
use crate::msg::Lang;
use crate::projection::{self, State};
use crate::report::judge;
use crate::store::Store;

/// Which events an audit shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub entity: Option<String>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Filter {
    fn matches(&self, e: &Event) -> bool {
        self.entity.as_ref().is_none_or(|x| e.payload.entity() == x || e.payload.plan() == Some(x.as_str()))
            && self.actor.as_ref().is_none_or(|x| e.actor == x)
            && self.kind.as_ref().is_none_or(|x| e.payload.kind() == x)
            && self.since.is_none_or(|t| e.recorded_at >= t)
            && self.until.is_none_or(|t| e.recorded_at <= t)
    }
}

/// A project's figure in one plan: "planned_investment", "status" or "completed_investment".
fn project_figure(state: &State, plan: &str, project: &str, field: &'static str) -> Option<(&'static str, Value)> {
    let l = state.plans.get(plan)?.projects.get(project)?;
    Some(match field {
        "planned_investment" => (field, json!(fmt_decimal(l.planned_investment))),
        "status" => (field, json!(l.progress.status(None).as_str())),
        "withdrawn" => (field, json!(l.withdrawn.map(|w| w.date.to_string()))),
        _ => ("completed_investment", json!(fmt_decimal(l.progress.completed(None)))),
    })
}

/// An indicator's figure in one plan: "target" or "actual".
fn indicator_figure(state: &State, plan: &str, indicator: &str, field: &'static str) -> Option<(&'static str, Value)> {
    let i = state.plans.get(plan)?.indicators.get(indicator)?;
    Some(match field {
        "target" => (field, json!(i.target.map(fmt_decimal))),
        _ => ("actual", judge(i, None).actual.map(|a| json!(fmt_decimal(a.value))).unwrap_or(Value::Null)),
    })
}

/// The figure a correction or retraction of `subject` changes.
fn subject_figure(state: &State, subject: &Subject) -> Option<(&'static str, Value)> {
    match subject {
        Subject::Investment { plan, project, .. } => project_figure(state, plan, project, "completed_investment"),
        Subject::Milestone { plan, project, .. } => project_figure(state, plan, project, "status"),
        Subject::Actual { plan, indicator, .. } => indicator_figure(state, plan, indicator, "actual"),
    }
}

/// The figure an event changes, as (field, value) read from the state.
fn measure(state: &State, p: &Payload) -> Option<(&'static str, Value)> {
    match p {
        Payload::InvestmentReported(i) => project_figure(state, &i.plan, &i.project, "completed_investment"),
        Payload::MilestoneReached(m) => project_figure(state, &m.plan, &m.project, "status"),
        Payload::ActualReported(a) => indicator_figure(state, &a.plan, &a.indicator, "actual"),
        Payload::TargetRevised(t) => match &t.target {
            TargetRef::Indicator { plan, indicator } => indicator_figure(state, plan, indicator, "target"),
            TargetRef::Project { plan, project } => project_figure(state, plan, project, "planned_investment"),
        },
        Payload::Corrected(c) => subject_figure(state, &c.subject),
        Payload::Retracted(r) => subject_figure(state, &r.subject),
        Payload::ProjectListed(l) => project_figure(state, &l.plan, &l.project, "planned_investment"),
        Payload::IndicatorDefined(i) => indicator_figure(state, &i.plan, &i.indicator, "target"),
        Payload::ProjectScheduled(p) => project_figure(state, &p.plan, &p.project, "status"),
        Payload::ProjectWithdrawn(w) => project_figure(state, &w.plan, &w.project, "withdrawn"),
        Payload::IndicatorTracked(i) => indicator_figure(state, &i.plan, &i.indicator, "target"),
        Payload::PlanDeclared(_)
        | Payload::DepartmentRegistered(_)
        | Payload::KeyRegistered(_)
        | Payload::KeyRevoked(_) => None,
    }
}

/// Which events amend which: a correction or a retraction names its target's seq.
type Amended = BTreeMap<u64, Vec<(u64, &'static str)>>;

fn note_amendment(amended_by: &mut Amended, e: &Event) {
    match &e.payload {
        Payload::Corrected(c) => amended_by.entry(c.target_seq).or_default().push((e.seq, "correct")),
        Payload::Retracted(r) => amended_by.entry(r.target_seq).or_default().push((e.seq, "retract")),
        _ => {}
    }
}

/// Audit rows for the events up to `until_seq` that pass `filter`, in log order.
pub fn trail(store: &dyn Store, until_seq: u64, filter: &Filter) -> Result<Vec<Value>> {
    // First pass: who corrected or retracted what.
    let mut amended_by = Amended::new();
    for e in store.events(1) {
        let e = e?;
        if e.seq > until_seq {
            break;
        }
        note_amendment(&mut amended_by, &e);
    }
    let mut state = State::default();
    let mut rows = Vec::new();
    for stored in store.scan(1) {
        let stored = stored?;
        if stored.event.seq > until_seq {
            break;
        }
        check_fold(&state, &stored.event)?;
        let wanted = filter.matches(&stored.event);
        rows.extend(fold_row(&mut state, &stored, wanted, &amended_by, projection::apply));
    }
    Ok(rows)
}

/// The trail of one stream — a project's or an indicator's events in one plan, `seqs` in log
/// order — without reading the rest of the log: the same rows `trail` gives for those events.
/// An event's before and after depend only on its own stream (corrections, retractions,
/// revisions and withdrawals of an entity are in its stream), so folding the plan's
/// declaration (`plan_seq`) and then the stream gives the same figures as folding the whole
/// log. It checks nothing `verify` checks; it reads only what it shows.
pub fn stream_trail(store: &dyn Store, plan_seq: u64, seqs: &[u64]) -> Result<Vec<Value>> {
    let mut events = Vec::with_capacity(seqs.len() + 1);
    for seq in std::iter::once(plan_seq).chain(seqs.iter().copied()) {
        let stored = store.get(seq)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = seq)))?;
        events.push(stored);
    }
    let mut amended_by = Amended::new();
    for s in &events[1..] {
        note_amendment(&mut amended_by, &s.event);
    }
    let mut state = State::default();
    let mut rows = Vec::new();
    for (i, stored) in events.iter().enumerate() {
        // Only this stream is folded: the seqs of the others are passed over.
        rows.extend(fold_row(&mut state, stored, i > 0, &amended_by, projection::apply_skipping));
    }
    Ok(rows)
}

/// Folds one event into `state` and, when it is `wanted`, returns its audit row: the figure
/// it changed before and after, its reason, its links.
fn fold_row(
    state: &mut State,
    stored: &crate::store::Stored,
    wanted: bool,
    amended_by: &Amended,
    fold: fn(&mut State, &Event),
) -> Option<Value> {
    let e = &stored.event;
    let before = if wanted { measure(state, &e.payload) } else { None };
    fold(state, e);
    if !wanted {
        return None;
    }
    let after = measure(state, &e.payload);
    let links = amended_by.get(&e.seq).cloned().unwrap_or_default();
    let by = |kind: &str| links.iter().filter(|(_, k)| *k == kind).map(|(s, _)| *s).collect::<Vec<u64>>();
    let (reason, corrects, retracts, value) = match &e.payload {
        Payload::Corrected(c) => {
            (Some(c.reason.clone()), Some(c.target_seq), None, Some((fmt_decimal(c.previous), fmt_decimal(c.value))))
        }
        Payload::Retracted(r) => (Some(r.reason.clone()), None, Some(r.target_seq), None),
        Payload::KeyRevoked(k) => (Some(k.reason.clone()), None, None, None),
        Payload::ProjectWithdrawn(w) => (Some(w.reason.clone()), None, None, None),
        Payload::TargetRevised(t) => {
            (Some(t.reason.clone()), None, None, Some((fmt_decimal(t.previous), fmt_decimal(t.value))))
        }
        _ => (None, None, None, None),
    };
    let field = after.as_ref().or(before.as_ref()).map(|(f, _)| *f);
    Some(json!({
        "seq": e.seq,
        "id": e.id.to_string(),
        "recorded_at": e.recorded_at.to_string(),
        "actor": e.actor,
        "signed_by": e.signature.as_ref().map(|s| hex(&s.key)),
        "plan": e.payload.plan(),
        "entity": e.payload.entity(),
        "name": entity_name(state, &e.payload),
        "period": period_of(&e.payload),
        "type": e.payload.kind(),
        "field": field,
        "before": before.map(|(_, v)| v).unwrap_or(Value::Null),
        "after": after.map(|(_, v)| v).unwrap_or(Value::Null),
        "value_before": value.as_ref().map(|v| v.0.clone()),
        "value_after": value.as_ref().map(|v| v.1.clone()),
        "reason": reason,
        "note": e.note,
        "corrects": corrects,
        "corrected_by": by("correct"),
        "retracts": retracts,
        "retracted_by": by("retract"),
        "hash": hex(&stored.hash),
    }))
}

/// The audit trail as a table (`export --what audit`): one row per event, with the entity's
/// name and the period it concerns.
pub fn table(rows: &[Value], lang: crate::summary::Lang) -> crate::sheet::Table {
    use crate::sheet::{ColumnKind as K, Table, Value as V};
    let zh = lang == crate::summary::Lang::Zh;
    let headers: [(&str, &str); 14] = [
        ("序号", "seq"),
        ("记录时间", "recorded at"),
        ("提交单位", "actor"),
        ("类型", "type"),
        ("计划", "plan"),
        ("项目或指标", "entity"),
        ("名称", "name"),
        ("期间", "period"),
        ("字段", "field"),
        ("变更前", "before"),
        ("变更后", "after"),
        ("原因", "reason"),
        ("备注", "note"),
        ("签名公钥", "signed by"),
    ];
    let columns: Vec<(&str, K)> = headers
        .iter()
        .map(|(z, e)| (if zh { *z } else { *e }, if *z == "序号" { K::Count } else { K::Text }))
        .collect();
    let mut t = Table::new(if zh { "审计轨迹" } else { "audit" }, &columns);
    let cell = |v: &Value| match v {
        Value::Null => V::Empty,
        Value::String(s) if s.is_empty() => V::Empty,
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    };
    for r in rows {
        let before = if r["value_before"].is_null() { &r["before"] } else { &r["value_before"] };
        let after = if r["value_after"].is_null() { &r["after"] } else { &r["value_after"] };
        t.rows.push(vec![
            r["seq"].as_u64().map_or(V::Empty, V::Count),
            cell(&r["recorded_at"]),
            cell(&r["actor"]),
            cell(&r["type"]),
            cell(&r["plan"]),
            cell(&r["entity"]),
            cell(&r["name"]),
            cell(&r["period"]),
            cell(&r["field"]),
            cell(before),
            cell(after),
            cell(&r["reason"]),
            cell(&r["note"]),
            cell(&r["signed_by"]),
        ]);
    }
    t
}

/// The name of the project or indicator an event concerns, as the state has it.
fn entity_name(state: &State, p: &Payload) -> Option<String> {
    let plan = state.plans.get(p.plan()?)?;
    let id = p.entity();
    plan.projects.get(id).map(|l| l.def.name.clone()).or_else(|| plan.indicators.get(id).map(|i| i.def.name.clone()))
}

/// The period or date an event concerns: an investment's month, an actual's period, a
/// milestone's or a withdrawal's date, a correction's subject.
fn period_of(p: &Payload) -> Option<String> {
    let subject = |s: &Subject| match s {
        Subject::Investment { period, .. } => Some(period.to_string()),
        Subject::Actual { period, .. } => Some(period.to_string()),
        Subject::Milestone { .. } => None,
    };
    match p {
        Payload::InvestmentReported(i) => Some(i.period.to_string()),
        Payload::MilestoneReached(m) => Some(m.date.to_string()),
        Payload::ActualReported(a) => Some(a.period.to_string()),
        Payload::ProjectWithdrawn(w) => Some(w.date.to_string()),
        Payload::Corrected(c) => subject(&c.subject),
        Payload::Retracted(r) => subject(&r.subject),
        _ => None,
    }
}

pub const CSV_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "recorded_at",
    "actor",
    "plan",
    "entity",
    "type",
    "field",
    "before",
    "after",
    "value_before",
    "value_after",
    "reason",
    "note",
    "corrects",
    "corrected_by",
    "retracts",
    "retracted_by",
    "signed_by",
    "hash",
];

/// The CSV headers in Chinese, column for column with `CSV_COLUMNS`.
const CSV_COLUMNS_ZH: &[&str] = &[
    "序号",
    "事件编号",
    "记录时间",
    "提交单位",
    "计划",
    "项目或指标",
    "类型",
    "字段",
    "变更前",
    "变更后",
    "数值变更前",
    "数值变更后",
    "原因",
    "备注",
    "更正序号",
    "被更正于",
    "撤回序号",
    "被撤回于",
    "签名公钥",
    "哈希",
];

pub fn csv(rows: &[Value], lang: Lang) -> String {
    let mut out = match lang {
        Lang::Zh => CSV_COLUMNS_ZH.join(","),
        Lang::En => CSV_COLUMNS.join(","),
    };
    out.push('\n');
    for r in rows {
        // In Chinese, the words are Chinese too: the type, the field and its values.
        let field = r["field"].as_str().unwrap_or_default();
        let cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|c| match (&r[*c], *c, lang) {
                (Value::String(s), "type", Lang::Zh) => planledger_core::text::event_kind(lang, s).to_string(),
                (Value::String(s), "field", Lang::Zh) => field_word(lang, s),
                (v @ Value::String(_), "before" | "after", Lang::Zh) => {
                    planledger_core::text::csv_field(&value_words(lang, field, v))
                }
                (v @ Value::Bool(_), "before" | "after", Lang::Zh) => value_words(lang, field, v),
                (Value::Null, ..) => String::new(),
                (Value::String(s), ..) => planledger_core::text::csv_field(s),
                (Value::Array(a), ..) => a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "),
                (v, ..) => v.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A field an audit row or a diff names, as people call it.
pub fn field_word(lang: Lang, field: &str) -> String {
    let key = match field {
        "completed_investment" => "word.field.completed_investment",
        "planned_investment" => "word.field.planned_investment",
        "completion_pct" => "word.field.completion_pct",
        "status" => "word.field.status",
        "milestones" => "word.field.milestones",
        "level" => "word.field.level",
        "department" => "word.field.department",
        "target" => "word.field.target",
        "actual" => "word.field.actual",
        "actual_period" => "word.field.actual_period",
        "actual_basis" => "word.field.actual_basis",
        "met" => "word.field.met",
        "gap" => "word.field.gap",
        "withdrawn" => "word.field.withdrawn",
        "(listed)" => "word.field.listed",
        "projects" => "word.field.projects",
        other => return other.to_string(),
    };
    crate::msg::text(lang, key).to_string()
}

/// A value of `field` as a person writes it: a status or a level in words, yes/no, a
/// milestone list as "开工 2021-03-15", nothing as "-".
pub fn value_words(lang: Lang, field: &str, v: &Value) -> String {
    use planledger_core::model::Milestone;
    use planledger_core::text;
    let yes_no = |b: bool| crate::msg::text(lang, if b { "word.yes" } else { "word.no" }).to_string();
    match (field, v) {
        (_, Value::Null) => "-".into(),
        ("status", Value::String(s)) => text::status_named(lang, s),
        ("actual_basis", Value::String(s)) => text::basis_named(lang, s),
        ("level", Value::String(s)) => text::level_named(lang, s),
        ("met", Value::Bool(b)) => crate::msg::text(lang, if *b { "state.met" } else { "state.missed" }).to_string(),
        (_, Value::Bool(b)) => yes_no(*b),
        ("milestones", Value::Object(m)) if m.is_empty() => "-".into(),
        ("milestones", Value::Object(m)) => m
            .iter()
            .map(|(k, d)| {
                let name =
                    Milestone::parse("milestone", k).map_or_else(|_| k.clone(), |x| text::milestone(lang, x).into());
                format!("{name} {}", d.as_str().unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The audit trail as text: one row per change, aligned by display width, in `lang`.
/// A field of an audit row as text: "-" for nothing.
fn cell(r: &Value, k: &str) -> String {
    match &r[k] {
        Value::Null => "-".to_string(),
        Value::String(x) if x.is_empty() => "-".to_string(),
        Value::String(x) => x.clone(),
        v => v.to_string(),
    }
}

/// What an audit row changed, as people say it: "完成投资：0.21 → 0.45"; "-" for nothing.
pub fn change_text(r: &Value, lang: Lang) -> String {
    let field = r["field"].as_str().unwrap_or_default();
    if field.is_empty() {
        return "-".to_string();
    }
    let (before, after) = if r["value_after"].is_null() {
        (value_words(lang, field, &r["before"]), value_words(lang, field, &r["after"]))
    } else {
        (cell(r, "value_before"), cell(r, "value_after"))
    };
    msg!("audit.change", field = field_word(lang, field), before = before, after = after).render(lang)
}

/// Why an audit row's event was made, and what amends it: its reason and note, the event it
/// corrects or retracts, the events that corrected or retracted it; "-" for nothing.
pub fn why_text(r: &Value, lang: Lang) -> String {
    let mut why = Vec::new();
    if r["reason"].is_string() {
        why.push(cell(r, "reason"));
    }
    if r["note"].as_str().is_some_and(|n| !n.is_empty()) {
        why.push(cell(r, "note"));
    }
    if !r["corrects"].is_null() {
        why.push(msg!("audit.corrects", seq = cell(r, "corrects")).render(lang));
    }
    if !r["retracts"].is_null() {
        why.push(msg!("audit.retracts", seq = cell(r, "retracts")).render(lang));
    }
    for (k, key) in [("corrected_by", "audit.corrected_by"), ("retracted_by", "audit.retracted_by")] {
        if let Some(a) = r[k].as_array().filter(|a| !a.is_empty()) {
            let seqs: Vec<String> = a.iter().map(|v| v.to_string()).collect();
            why.push(crate::msg::Msg::key(key, vec![("seq", crate::msg::Msg::text(seqs.join(", ")))]).render(lang));
        }
    }
    if why.is_empty() {
        "-".into()
    } else {
        why.join("; ")
    }
}

pub fn text(rows: &[Value], lang: Lang, zone: crate::model::TimeZone) -> String {
    use planledger_core::text::{grid, Align};
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                cell(r, "seq"),
                planledger_core::text::time_text(&cell(r, "recorded_at"), zone),
                cell(r, "actor"),
                planledger_core::text::event_kind(lang, r["type"].as_str().unwrap_or_default()).to_string(),
                cell(r, "entity"),
                cell(r, "name"),
                r["period"].as_str().map_or_else(|| "-".to_string(), |p| planledger_core::text::period_named(lang, p)),
                change_text(r, lang),
                why_text(r, lang),
            ]
        })
        .collect();
    let header = [
        tr!(lang, "audit.col.seq"),
        tr!(lang, "audit.col.recorded_at"),
        tr!(lang, "audit.col.actor"),
        tr!(lang, "audit.col.type"),
        tr!(lang, "audit.col.entity"),
        tr!(lang, "audit.col.name"),
        tr!(lang, "audit.col.period"),
        tr!(lang, "audit.col.change"),
        tr!(lang, "audit.col.why"),
    ];
    let mut align = [Align::Left; 9];
    align[0] = Align::Right;
    grid("", &header, &align, &lines)
}
