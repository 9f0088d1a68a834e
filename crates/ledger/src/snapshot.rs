//! Snapshots and diffs for auditors: a self-describing JSON file of the state and every
//! year's summary at a point of the log, with the seq, chain hash and Merkle root it covers,
//! so it can be archived and later proven to come from this log; and the difference between
//! two points, field by field, with the events that explain each change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::merkle;
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

/// Field-by-field changes from `a` to `b`, each with the events between them that touched
/// the entity.
pub fn diff(store: &dyn Store, a: &Side, b: &Side) -> Result<Vec<Value>> {
    let (lo, hi) = (a.seq.min(b.seq), a.seq.max(b.seq));
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
    let mut changes = Vec::new();
    for (list, kind, fields) in [("projects", "project", PROJECT_FIELDS), ("indicators", "indicator", INDICATOR_FIELDS)]
    {
        let (before, after) = (entities(&a.state, list), entities(&b.state, list));
        let keys: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let events = touched.get(key).cloned().unwrap_or_default();
            match (before.get(key), after.get(key)) {
                (Some(x), Some(y)) => {
                    for f in fields.iter() {
                        if x[*f] != y[*f] {
                            changes.push(json!({
                                "plan": key.0, "kind": kind, "entity": key.1, "field": f,
                                "before": x[*f], "after": y[*f], "events": events,
                            }));
                        }
                    }
                }
                (x, y) => changes.push(json!({
                    "plan": key.0, "kind": kind, "entity": key.1, "field": "(listed)",
                    "before": x.is_some(), "after": y.is_some(), "events": events,
                })),
            }
        }
    }
    Ok(changes)
}

pub fn diff_line(c: &Value) -> String {
    let v = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let events: Vec<String> = c["events"].as_array().into_iter().flatten().map(|s| s.to_string()).collect();
    format!(
        "{} {} {}: {} -> {}{}\n",
        v(&c["plan"]),
        v(&c["entity"]),
        v(&c["field"]),
        v(&c["before"]),
        v(&c["after"]),
        if events.is_empty() { String::new() } else { format!("  (seq {})", events.join(", ")) }
    )
}
