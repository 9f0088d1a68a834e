//! The two input file formats, parsed into commands: the plan file (TOML) and submission
//! batches (JSON Lines). CLI flags go through the same field parser as JSONL lines, so a
//! field is spelled, checked and reported the same way wherever it comes from.
//! Formats: docs/plan-format.md and docs/events.md.

use std::collections::BTreeMap;

use serde::Deserialize;
use uuid::Uuid;

use crate::decide::{Command, EventRef, PlanImport, Submission, TargetSpec};
use crate::error::{Error, Result, ResultExt};
use crate::event::{
    DepartmentRegistered, IndicatorDefined, IndicatorTracked, PlanDeclared, ProjectListed, ProjectScheduled,
};
use crate::model::{
    check_id, check_text, parse_amount, parse_decimal, Basis, Comparison, Construction, Date, Level, Measure,
    Milestone, Month, Nature, Period, YEAR_MAX, YEAR_MIN,
};
use crate::msg::Msg;

/// Most lines a submission file may hold (each line is at least one event of a batch).
pub const FILE_LINES_MAX: usize = crate::event::BATCH_EVENTS_MAX;
/// Most lines a file committed in batches (`submit --batch`) may hold: it is parsed whole
/// before anything is written (~150 bytes of memory a line).
pub const BATCHED_FILE_LINES_MAX: usize = 10_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlanFile {
    plan: RawPlan,
    #[serde(default)]
    departments: Vec<RawDepartment>,
    #[serde(default)]
    indicators: Vec<RawIndicator>,
    #[serde(default)]
    projects: Vec<RawProject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: String,
    year: i64,
    title: String,
    jurisdiction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    id: String,
    name: String,
    #[serde(default)]
    coordinator: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: String,
    name: String,
    unit: String,
    measure: String,
    /// With a target: required. Without one (an indicator only reported), absent.
    comparison: Option<String>,
    #[serde(default)]
    approximate: bool,
    nature: Option<String>,
    target: Option<toml::Value>,
    department: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    id: String,
    name: String,
    level: String,
    department: String,
    planned_investment: toml::Value,
    total_investment: Option<toml::Value>,
    #[serde(default)]
    planned_milestones: Vec<String>,
    started: Option<String>,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    /// 建设性质: new, continuing or preparatory (新建, 续建, 前期).
    construction: Option<String>,
    planned_start: Option<String>,
    planned_complete: Option<String>,
    planned_operate: Option<String>,
    prior_investment: Option<toml::Value>,
}

/// A decimal in TOML: a string ("12.5") or an integer. Floats are refused because TOML
/// floats are binary and 0.1 + 0.2 is not 0.3 in a plan.
fn toml_decimal(field: &str, v: &toml::Value, non_negative: bool) -> Result<rust_decimal::Decimal> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => return Err(Error::invalid(msg!("input.toml_float", field = field, value = f))),
        other => return Err(Error::invalid(msg!("input.not_decimal_string", field = field, found = toml_type(other)))),
    };
    if non_negative {
        parse_amount(field, &text)
    } else {
        parse_decimal(field, &text)
    }
}

/// The kind of a TOML value as a message names it ("array" / 数组).
fn toml_type(v: &toml::Value) -> Msg {
    match v {
        toml::Value::Boolean(_) => msg!("input.toml_boolean"),
        toml::Value::Datetime(_) => msg!("input.toml_datetime"),
        toml::Value::Array(_) => msg!("input.toml_array"),
        toml::Value::Table(_) => msg!("input.toml_table"),
        other => Msg::text(other.type_str()),
    }
}

/// Parses and checks a plan file. Errors name the entry ("projects[3] ('kp-003'): ...") or,
/// for TOML syntax, the line.
pub fn parse_plan(text: &str) -> Result<PlanImport> {
    let raw: RawPlanFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = msg!("input.toml_syntax", message = e.message().trim().replace('\n', " "));
        match line {
            Some(l) => Error::invalid(message).at_line(l),
            None => Error::invalid(message),
        }
    })?;
    let p = &raw.plan;
    check_id("plan", &p.id).map_err(|e| e.at(msg!("at.plan")))?;
    if !(i64::from(YEAR_MIN)..=i64::from(YEAR_MAX)).contains(&p.year) {
        return Err(Error::invalid(msg!("input.year_outside", year = p.year, min = YEAR_MIN, max = YEAR_MAX))
            .at(msg!("at.plan")));
    }
    check_text("title", &p.title, true).at_with(|| msg!("at.plan"))?;
    check_text("jurisdiction", &p.jurisdiction, true).at_with(|| msg!("at.plan"))?;
    let plan = PlanDeclared {
        plan: p.id.clone(),
        // Range-checked just above.
        year: p.year as i32,
        title: p.title.clone(),
        jurisdiction: p.jurisdiction.clone(),
    };

    // Every entry is checked; every bad one is reported (`Errors`).
    let mut errors = Errors::default();
    let mut departments = Vec::new();
    for (i, d) in raw.departments.iter().enumerate() {
        let at = || msg!("input.at_department", i = i, id = &d.id);
        match check_id("department", &d.id).and_then(|()| check_text("name", &d.name, true)).at_with(at) {
            Ok(()) => departments.push(DepartmentRegistered {
                dept: d.id.clone(),
                name: d.name.clone(),
                coordinator: d.coordinator,
            }),
            Err(e) => errors.push(e),
        }
    }

    let mut indicators = Vec::new();
    let mut tracked = Vec::new();
    for (i, d) in raw.indicators.iter().enumerate() {
        let at = || msg!("input.at_indicator", i = i, id = &d.id);
        let ind = (|| {
            check_id("indicator", &d.id)?;
            check_text("name", &d.name, true)?;
            check_text("unit", &d.unit, true)?;
            check_id("department", &d.department)?;
            let Some(target) = &d.target else {
                if d.comparison.is_some() || d.nature.is_some() || d.approximate {
                    return Err(Error::invalid(msg!("input.target_fields_without_target")));
                }
                tracked.push(IndicatorTracked {
                    plan: plan.plan.clone(),
                    indicator: d.id.clone(),
                    name: d.name.clone(),
                    unit: d.unit.clone(),
                    measure: Measure::parse("measure", &d.measure)?,
                    department: d.department.clone(),
                });
                return Ok(None);
            };
            let needed = |field: &str, v: &Option<String>| {
                v.clone().ok_or_else(|| Error::invalid(msg!("input.required_with_target", field = field)))
            };
            Ok(Some(IndicatorDefined {
                plan: plan.plan.clone(),
                indicator: d.id.clone(),
                name: d.name.clone(),
                unit: d.unit.clone(),
                measure: Measure::parse("measure", &d.measure)?,
                comparison: Comparison::parse("comparison", &needed("comparison", &d.comparison)?)?,
                approximate: d.approximate,
                nature: Nature::parse("nature", &needed("nature", &d.nature)?)?,
                target: toml_decimal("target", target, false)?,
                department: d.department.clone(),
            }))
        })()
        .at_with(at);
        match ind {
            Ok(ind) => indicators.extend(ind),
            Err(e) => errors.push(e),
        }
    }

    let mut projects = Vec::new();
    let mut schedules = Vec::new();
    for (i, d) in raw.projects.iter().enumerate() {
        let at = || msg!("input.at_project", i = i, id = &d.id);
        let schedule = (|| {
            let month = |field: &str, v: &Option<String>| v.as_deref().map(|m| Month::parse(field, m)).transpose();
            let s = ProjectScheduled {
                plan: plan.plan.clone(),
                project: d.id.clone(),
                construction: d.construction.as_deref().map(|c| Construction::parse("construction", c)).transpose()?,
                planned: [
                    month("planned_start", &d.planned_start)?,
                    month("planned_complete", &d.planned_complete)?,
                    month("planned_operate", &d.planned_operate)?,
                ],
                prior_investment: d
                    .prior_investment
                    .as_ref()
                    .map(|v| toml_decimal("prior_investment", v, true))
                    .transpose()?,
            };
            let empty =
                s.construction.is_none() && s.planned.iter().all(Option::is_none) && s.prior_investment.is_none();
            Ok(if empty { None } else { Some(s) })
        })()
        .at_with(at);
        match schedule {
            Ok(s) => schedules.extend(s),
            Err(e) => errors.push(e),
        }
        let at = || msg!("input.at_project", i = i, id = &d.id);
        let pr = (|| {
            check_id("project", &d.id)?;
            check_text("name", &d.name, true)?;
            check_id("department", &d.department)?;
            let mut planned_milestones = Vec::new();
            for m in &d.planned_milestones {
                let m = Milestone::parse("planned_milestones", m)?;
                if planned_milestones.contains(&m) {
                    return Err(Error::invalid(msg!("input.milestone_twice", milestone = m)));
                }
                planned_milestones.push(m);
            }
            planned_milestones.sort();
            for (k, v) in &d.dimensions {
                check_text("dimension key", k, true)?;
                check_text(&format!("dimensions.{k}"), v, true)?;
            }
            Ok(ProjectListed {
                plan: plan.plan.clone(),
                project: d.id.clone(),
                name: d.name.clone(),
                level: Level::parse("level", &d.level)?,
                department: d.department.clone(),
                planned_investment: toml_decimal("planned_investment", &d.planned_investment, true)?,
                total_investment: d
                    .total_investment
                    .as_ref()
                    .map(|v| toml_decimal("total_investment", v, true))
                    .transpose()?,
                planned_milestones,
                started: d.started.as_deref().map(|s| Date::parse("started", s)).transpose()?,
                dimensions: d.dimensions.clone(),
                carried: Vec::new(),
            })
        })()
        .at_with(at);
        match pr {
            Ok(pr) => projects.push(pr),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(msg!("input.plan_file"))?;
    Ok(PlanImport { plan, departments, indicators, projects, schedules, tracked })
}

/// Field names each submission kind takes, besides the common `id` and `note`.
fn kind_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "investment" => &["project", "period", "amount"],
        "milestone" => &["project", "milestone", "date"],
        "actual" => &["indicator", "plan", "period", "value", "basis"],
        "revise-target" => &["indicator", "project", "plan", "value", "reason"],
        "correct" => &["event", "value", "reason"],
        "retract" => &["event", "reason"],
        "withdraw" => &["project", "plan", "date", "reason"],
        _ => return None,
    })
}

/// The submission kinds, as the CLI and JSONL `type` name them.
pub const KINDS: &[&str] = &["investment", "milestone", "actual", "revise-target", "correct", "retract", "withdraw"];

/// Builds a submission of `kind` from named text fields (JSONL keys or CLI flags).
pub fn submission_from_fields(kind: &str, fields: &BTreeMap<String, String>) -> Result<Submission> {
    let allowed = kind_fields(kind)
        .ok_or_else(|| Error::invalid(msg!("input.not_a_kind", kind = kind, kinds = KINDS.join(", "))))?;
    for k in fields.keys() {
        if k != "id" && k != "note" && !allowed.contains(&k.as_str()) {
            return Err(Error::invalid(msg!(
                "input.unknown_field",
                field = k,
                kind = kind,
                fields = allowed.join(", ")
            )));
        }
    }
    let get = |name: &str| -> Result<&str> {
        let missing = || Error::invalid(msg!("input.needs", kind = kind, field = name));
        fields.get(name).map(String::as_str).ok_or_else(missing)
    };
    let opt = |name: &str| fields.get(name).map(String::as_str);
    let id_of = |name: &str, v: &str| -> Result<String> {
        check_id(name, v)?;
        Ok(v.to_string())
    };
    let reason = || -> Result<String> {
        let r = get("reason")?;
        check_text("reason", r, true)?;
        Ok(r.to_string())
    };
    let command = match kind {
        "investment" => Command::Investment {
            project: id_of("project", get("project")?)?,
            period: Month::parse("period", get("period")?)?,
            amount: parse_amount("amount", get("amount")?)?,
        },
        "milestone" => Command::Milestone {
            project: id_of("project", get("project")?)?,
            milestone: Milestone::parse("milestone", get("milestone")?)?,
            date: Date::parse("date", get("date")?)?,
        },
        "actual" => Command::Actual {
            indicator: id_of("indicator", get("indicator")?)?,
            plan: opt("plan").map(|p| id_of("plan", p)).transpose()?,
            period: Period::parse("period", get("period")?)?,
            value: parse_decimal("value", get("value")?)?,
            basis: opt("basis").map(|b| Basis::parse("basis", b)).transpose()?.unwrap_or(Basis::Final),
        },
        "revise-target" => {
            let plan = opt("plan").map(|p| id_of("plan", p)).transpose()?;
            let target = match (opt("indicator"), opt("project")) {
                (Some(i), None) => TargetSpec::Indicator { indicator: id_of("indicator", i)?, plan },
                (None, Some(p)) => TargetSpec::Project { project: id_of("project", p)?, plan },
                _ => return Err(Error::invalid(msg!("input.revise_needs_one"))),
            };
            Command::ReviseTarget { target, value: parse_decimal("value", get("value")?)?, reason: reason()? }
        }
        "correct" => Command::Correct {
            event: EventRef::parse("event", get("event")?)?,
            value: parse_decimal("value", get("value")?)?,
            reason: reason()?,
        },
        "retract" => Command::Retract { event: EventRef::parse("event", get("event")?)?, reason: reason()? },
        "withdraw" => Command::Withdraw {
            project: id_of("project", get("project")?)?,
            plan: opt("plan").map(|p| id_of("plan", p)).transpose()?,
            date: Date::parse("date", get("date")?)?,
            reason: reason()?,
        },
        _ => unreachable!("kind checked by kind_fields"),
    };
    let id = opt("id")
        .map(|t| Uuid::parse_str(t).map_err(|_| Error::invalid(msg!("input.not_uuid", id = t))))
        .transpose()?;
    let note = opt("note").map(str::to_string);
    if let Some(n) = &note {
        check_text("note", n, false)?;
    }
    Ok(Submission { signature: None, id, note, command })
}

/// Parses a JSONL batch: one object per line with `"type"`; blank lines are skipped.
/// Returns each submission with its 1-based line number.
pub fn parse_jsonl(text: &str) -> Result<Vec<(usize, Submission)>> {
    parse_jsonl_max(text, FILE_LINES_MAX)
}

/// As `parse_jsonl`, refusing files of more than `max_lines` submissions.
/// Every bad line is reported (up to `sheet::PROBLEMS_MAX`), so one run tells what to fix.
pub fn parse_jsonl_max(text: &str, max_lines: usize) -> Result<Vec<(usize, Submission)>> {
    let mut out = Vec::new();
    let mut bad = Errors::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if out.len() + bad.count >= max_lines {
            return Err(Error::invalid(msg!("input.too_many_lines", max = max_lines)).at_line(n));
        }
        match parse_jsonl_line(line).at_with(|| msg!("at.line", line = n)) {
            Ok(sub) => out.push((n, sub)),
            Err(e) => bad.push(e),
        }
    }
    bad.into_result(msg!("input.file"))?;
    Ok(out)
}

/// The errors found checking a file whole: the first kept as it is (a file with one bad
/// line gets the usual one-line error), the others as lines of a `Problems`.
#[derive(Default)]
pub struct Errors {
    first: Option<Error>,
    rest: crate::sheet::Problems,
    pub count: usize,
}

impl Errors {
    pub fn push(&mut self, e: Error) {
        self.count += 1;
        match &self.first {
            None => self.first = Some(e),
            Some(_) => self.rest.add(e.to_msg()),
        }
    }

    pub fn into_result(self, what: crate::msg::Msg) -> Result<()> {
        match (self.first, self.count) {
            (None, _) => Ok(()),
            (Some(e), 1) => Err(e),
            (Some(e), _) => {
                let mut all = crate::sheet::Problems::default();
                all.add(e.to_msg());
                all.append(self.rest);
                all.into_result(what)
            }
        }
    }
}

fn parse_jsonl_line(line: &str) -> Result<Submission> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| Error::invalid(msg!("input.not_json", reason = e)))?;
    let serde_json::Value::Object(map) = value else {
        return Err(Error::invalid(msg!("input.not_object")));
    };
    let mut fields = BTreeMap::new();
    let mut kind = None;
    for (k, v) in map {
        let text = match v {
            serde_json::Value::String(s) => s,
            // With arbitrary_precision the number keeps its literal text: exact, no float.
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Null => continue,
            other => {
                let found = match other {
                    serde_json::Value::Bool(_) => msg!("input.json_boolean"),
                    serde_json::Value::Array(_) => msg!("input.json_array"),
                    _ => msg!("input.json_object"),
                };
                return Err(Error::invalid(msg!("input.field_not_scalar", field = k, found = found)));
            }
        };
        if k == "type" {
            kind = Some(text);
        } else {
            fields.insert(k, text);
        }
    }
    let kind = kind.ok_or_else(|| Error::invalid(msg!("input.missing_type")))?;
    submission_from_fields(&kind, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[plan]
id = "p-2022"
year = 2022
title = "Plan"
jurisdiction = "District"

[[departments]]
id = "drc"
name = "DRC"
coordinator = true

[[indicators]]
id = "gdp-growth"
name = "GDP growth"
unit = "%"
measure = "rate"
comparison = "at-least"
approximate = true
nature = "expected"
target = "7.5"
department = "drc"

[[projects]]
id = "park"
name = "Park"
level = "district"
department = "drc"
planned_investment = "12.5"
planned_milestones = ["start"]
dimensions = { block = "B" }
"#;

    #[test]
    fn plan_file_parses() {
        let p = parse_plan(PLAN).unwrap();
        assert_eq!(p.plan.year, 2022);
        assert_eq!(p.projects[0].planned_investment.to_string(), "12.5");
        assert_eq!(p.indicators[0].target.to_string(), "7.5");
    }

    #[test]
    fn plan_file_errors_name_the_place() {
        let e = parse_plan(&PLAN.replace("\"12.5\"", "12.5")).unwrap_err().to_string();
        assert!(e.contains("projects[0] ('park')") && e.contains("TOML float"), "{e}");
        let e = parse_plan(&PLAN.replace("\"12.5\"", "\"-1\"")).unwrap_err().to_string();
        assert!(e.contains("negative"), "{e}");
        let e = parse_plan(&PLAN.replace("level = \"district\"", "level = \"township\"")).unwrap_err().to_string();
        assert!(e.contains("projects[0] ('park'): level 'township'"), "{e}");
        let e = parse_plan(&PLAN.replace("[plan]", "[plan\n")).unwrap_err().to_string();
        assert!(e.starts_with("line "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = parse_plan(&PLAN.replace("jurisdiction =", "jurisdictoin =")).unwrap_err().to_string();
        assert!(e.contains("jurisdictoin"), "{e}");
    }

    #[test]
    fn every_bad_entry_and_line_is_reported() {
        let two_bad = PLAN.replace("\"7.5\"", "\"x\"").replace("level = \"district\"", "level = \"township\"");
        let e = parse_plan(&two_bad).unwrap_err();
        assert!(matches!(e, Error::Problems { .. }), "{e}");
        let e = e.to_string();
        assert!(e.starts_with("2 problems in this plan file"), "{e}");
        let e = parse_jsonl("{\"type\":\"retract\"}\n{\"type\":\"investment\"}\n").unwrap_err().to_string();
        assert!(e.contains("\n  line 1: retract needs") && e.contains("\n  line 2: investment needs"), "{e}");
    }

    #[test]
    fn jsonl_lines_parse_with_exact_numbers() {
        let subs = parse_jsonl(
            "{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-03\",\"amount\":0.1}\n\n\
             {\"type\":\"retract\",\"event\":7,\"reason\":\"dup\"}\n",
        )
        .unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[1].0, 3);
        match &subs[0].1.command {
            Command::Investment { amount, .. } => assert_eq!(amount.to_string(), "0.1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jsonl_errors_name_the_line_and_field() {
        let e = parse_jsonl("{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-03\",\"amount\":\"-2\"}")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 1: amount '-2' is negative");
        let e = parse_jsonl("\n{\"type\":\"investment\",\"project\":\"park\"").unwrap_err().to_string();
        assert!(e.starts_with("line 2: not valid JSON"), "{e}");
        let e = parse_jsonl("{\"type\":\"investment\",\"project\":\"park\",\"period\":\"2022-03\",\"amout\":\"2\"}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field 'amout'"), "{e}");
    }
}
