//! Snapshots and diffs for auditors: a self-describing JSON file of the state and every
//! year's summary at a point of the log, with the seq, chain hash and Merkle root it covers,
//! so it can be archived and later proven to come from this log; and the difference between
//! two points, field by field, with the events that explain each change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::merkle;
use crate::msg::Lang;
use crate::projection::{self, State};
use crate::proof;
use crate::query;
use crate::report;
use crate::store::Store;
use crate::summary::{self, On};

pub const FORMAT: &str = "planledger-snapshot/1";

/// The snapshot document after `seq`. Summaries are taken at each year's end, so the same
/// log gives the same snapshot whenever it is made.
pub fn make(store: &dyn Store, seq: u64) -> Result<Value> {
    let state = query::state_at(store, seq)?;
    let chain = if seq == 0 { [0u8; 32] } else { store.get(seq)?.map(|s| s.hash).unwrap_or([0; 32]) };
    let root = merkle::root(&proof::leaves(store, seq)?);
    let as_of = json!({
        "seq": state.last_seq,
        "recorded_at": (state.last_seq > 0).then(|| state.last_recorded_at.to_string()),
        "hash": hex(&chain),
    });
    let years: BTreeSet<i32> = state.plans.values().map(|p| p.def.year).collect();
    let summaries: Vec<Value> = years
        .iter()
        .map(|&y| {
            let on = On::new(y, None, crate::model::Month { year: y, month: 12 }.last_day());
            summary::summarize(&state, y, on, &[]).json(json!({"seq": state.last_seq}))
        })
        .collect();
    Ok(json!({
        "format": FORMAT,
        "as_of": as_of,
        "merkle": {"size": seq, "root": hex(&root)},
        "state": report::state_json(&state, None, None),
        "summaries": summaries,
    }))
}

pub fn parse(text: &str) -> Result<Value> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::invalid(msg!("snapshot.not_snapshot", error = e)))?;
    if v["format"] != FORMAT {
        return Err(Error::invalid(msg!("proof.format_is_not", format = FORMAT)));
    }
    if !v["as_of"]["seq"].is_u64() {
        return Err(Error::invalid(msg!("snapshot.no_as_of_seq")));
    }
    Ok(v)
}

/// Recomputes `snapshot` from the log: `Ok(())` if every part matches, else the parts that
/// differ.
pub fn check(store: &dyn Store, snapshot: &Value) -> Result<std::result::Result<(), Vec<crate::Msg>>> {
    let seq = snapshot["as_of"]["seq"].as_u64().unwrap_or(0);
    if seq > store.head().events() {
        return Ok(Err(vec![msg!("snapshot.beyond_log", seq = seq, events = store.head().events())]));
    }
    let fresh = make(store, seq)?;
    let mut differ = Vec::new();
    for (part, differs) in [
        ("as_of", msg!("snapshot.as_of_differs")),
        ("merkle", msg!("snapshot.merkle_differs")),
        ("state", msg!("snapshot.state_differs")),
        ("summaries", msg!("snapshot.summaries_differ")),
    ] {
        if fresh[part] != snapshot[part] {
            differ.push(differs);
        }
    }
    Ok(if differ.is_empty() { Ok(()) } else { Err(differ) })
}

/// One side of a diff: a state JSON and the seq it stands at.
pub struct Side {
    pub seq: u64,
    pub state: Value,
}

const PROJECT_FIELDS: &[&str] =
    &["status", "planned_investment", "completed_investment", "completion_pct", "milestones", "level", "department"];
const INDICATOR_FIELDS: &[&str] =
    &["target", "actual", "actual_period", "actual_basis", "met", "gap", "completion_pct"];

fn entities(state: &Value, list: &str) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for plan in state["plans"].as_array().into_iter().flatten() {
        let pid = plan["id"].as_str().unwrap_or_default().to_string();
        for e in plan[list].as_array().into_iter().flatten() {
            out.insert((pid.clone(), e["id"].as_str().unwrap_or_default().to_string()), e.clone());
        }
    }
    out
}

/// An entity's state JSON (as `state --json` lists it), or null when the plan does not
/// list it.
fn entity_json(state: &State, plan: &str, id: &str) -> Value {
    let Some(p) = state.plans.get(plan) else { return Value::Null };
    if let Some(l) = p.projects.get(id) {
        return report::project_json(id, l, None);
    }
    p.indicators.get(id).map_or(Value::Null, |i| report::indicator_json(i, None))
}

/// For each (plan, entity, field) that changed between seq `lo` and `hi`, the last event
/// that changed it: the log replayed from `lo`, each event's entity compared before and
/// after it.
fn causes(store: &dyn Store, lo: u64, hi: u64) -> Result<BTreeMap<(String, String, &'static str), u64>> {
    let mut state = query::state_at(store, lo)?;
    let mut out = BTreeMap::new();
    for e in store.events(lo + 1) {
        let e = e?;
        if e.seq > hi {
            break;
        }
        let Some(plan) = e.payload.plan().map(str::to_string) else {
            projection::apply(&mut state, &e);
            continue;
        };
        let id = e.payload.entity().to_string();
        let before = entity_json(&state, &plan, &id);
        projection::apply(&mut state, &e);
        let after = entity_json(&state, &plan, &id);
        if before.is_null() != after.is_null() {
            out.insert((plan.clone(), id.clone(), LISTED), e.seq);
        }
        for f in PROJECT_FIELDS.iter().chain(INDICATOR_FIELDS) {
            if before[*f] != after[*f] {
                out.insert((plan.clone(), id.clone(), *f), e.seq);
            }
        }
    }
    Ok(out)
}

/// The field a diff reports when an entity is listed on one side only.
const LISTED: &str = "(listed)";

/// Field-by-field changes from `a` to `b`, each naming the one event that made it (`event`,
/// the last event between the two points that changed that field; null when the log does
/// not reach it) and every event between them that touched the entity (`events`).
pub fn diff(store: &dyn Store, a: &Side, b: &Side) -> Result<Vec<Value>> {
    let (lo, hi) = (a.seq.min(b.seq), a.seq.max(b.seq).min(store.head().events()));
    let mut touched: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for e in store.events(lo + 1) {
        let e = e?;
        if e.seq > hi {
            break;
        }
        if let Some(plan) = e.payload.plan() {
            touched.entry((plan.to_string(), e.payload.entity().to_string())).or_default().push(e.seq);
        }
    }
    let cause = if lo < hi { causes(store, lo, hi)? } else { BTreeMap::new() };
    let mut changes = Vec::new();
    for (list, kind, fields) in [("projects", "project", PROJECT_FIELDS), ("indicators", "indicator", INDICATOR_FIELDS)]
    {
        let (before, after) = (entities(&a.state, list), entities(&b.state, list));
        let keys: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let events = touched.get(key).cloned().unwrap_or_default();
            let (x, y) = (before.get(key), after.get(key));
            let name = y.or(x).map_or(Value::Null, |e| e["name"].clone());
            let event = |f: &str| cause.get(&(key.0.clone(), key.1.clone(), f)).copied();
            match (x, y) {
                (Some(x), Some(y)) => {
                    for f in fields.iter() {
                        if x[*f] != y[*f] {
                            changes.push(json!({
                                "plan": key.0, "kind": kind, "entity": key.1, "name": name, "field": f,
                                "before": x[*f], "after": y[*f], "event": event(f), "events": events,
                            }));
                        }
                    }
                }
                (x, y) => changes.push(json!({
                    "plan": key.0, "kind": kind, "entity": key.1, "name": name, "field": LISTED,
                    "before": x.is_some(), "after": y.is_some(), "event": event(LISTED), "events": events,
                })),
            }
        }
    }
    Ok(changes)
}

/// Each plan's completed and planned investment on both sides: the totals section of a
/// diff, as (plan, field, before, after) for the figures that differ or matter.
pub fn diff_totals(a: &Side, b: &Side) -> Vec<Value> {
    let plans = |s: &Side| -> BTreeMap<String, Value> {
        s.state["plans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["id"].as_str().unwrap_or_default().to_string(), p["totals"].clone()))
            .collect()
    };
    let (pa, pb) = (plans(a), plans(b));
    let ids: BTreeSet<&String> = pa.keys().chain(pb.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (x, y) = (pa.get(id).unwrap_or(&Value::Null), pb.get(id).unwrap_or(&Value::Null));
        for f in ["completed_investment", "planned_investment", "completion_pct", "projects"] {
            if f == "completed_investment" || x[f] != y[f] {
                out.push(json!({"plan": id, "field": f, "before": x[f], "after": y[f]}));
            }
        }
    }
    out
}

/// A diff as text in `lang`: the totals, then one row per change with the event that made it.
pub fn diff_text(from: u64, to: u64, totals: &[Value], changes: &[Value], lang: Lang) -> String {
    use planledger_core::text::{grid, Align};
    let mut out = msg!("diff.head", from = from, to = to, n = changes.len()).render(lang);
    out.push('\n');
    if !totals.is_empty() {
        out.push_str(tr!(lang, "diff.totals"));
        out.push('\n');
        let rows: Vec<Vec<String>> = totals
            .iter()
            .map(|t| {
                let f = t["field"].as_str().unwrap_or_default();
                vec![
                    t["plan"].as_str().unwrap_or_default().to_string(),
                    crate::audit::field_word(lang, f),
                    crate::audit::value_words(lang, f, &t["before"]),
                    crate::audit::value_words(lang, f, &t["after"]),
                ]
            })
            .collect();
        let header = [
            tr!(lang, "diff.col.plan"),
            tr!(lang, "diff.col.field"),
            tr!(lang, "diff.col.before"),
            tr!(lang, "diff.col.after"),
        ];
        out.push_str(&grid("  ", &header, &[Align::Left, Align::Left, Align::Right, Align::Right], &rows));
    }
    if !changes.is_empty() {
        out.push_str(tr!(lang, "diff.changes"));
        out.push('\n');
        let rows: Vec<Vec<String>> = changes
            .iter()
            .map(|c| {
                let f = c["field"].as_str().unwrap_or_default();
                let event = match c["event"].as_u64() {
                    Some(seq) => msg!("diff.by_event", seq = seq).render(lang),
                    None => "-".into(),
                };
                vec![
                    c["plan"].as_str().unwrap_or_default().to_string(),
                    c["entity"].as_str().unwrap_or_default().to_string(),
                    c["name"].as_str().unwrap_or("-").to_string(),
                    crate::audit::field_word(lang, f),
                    crate::audit::value_words(lang, f, &c["before"]),
                    crate::audit::value_words(lang, f, &c["after"]),
                    event,
                ]
            })
            .collect();
        let header = [
            tr!(lang, "diff.col.plan"),
            tr!(lang, "diff.col.entity"),
            tr!(lang, "diff.col.name"),
            tr!(lang, "diff.col.field"),
            tr!(lang, "diff.col.before"),
            tr!(lang, "diff.col.after"),
            tr!(lang, "diff.col.event"),
        ];
        let align = [Align::Left, Align::Left, Align::Left, Align::Left, Align::Right, Align::Right, Align::Left];
        out.push_str(&grid("  ", &header, &align, &rows));
    }
    out
}
