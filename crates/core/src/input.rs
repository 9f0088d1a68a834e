//! The two input file formats, parsed into commands: the plan file (TOML) and submission
//! batches (JSON Lines). CLI flags go through the same field parser as JSONL lines, so a
//! field is spelled, checked and reported the same way wherever it comes from.
//! Formats: docs/plan-format.md and docs/events.md.

use std::borrow::Cow;
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
/// Most lines a file committed in batches (`submit --batch`) may hold: it is checked whole
/// before anything is written, then read again batch by batch (a line at a time, so memory
/// does not grow with it; the bound keeps the time of a refusal reasonable).
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
    submission_from(kind, fields.keys().map(String::as_str), |name| fields.get(name).map(String::as_str))
}

/// Builds a submission of `kind` from the field names `keys` (each once) and their values
/// (`value`). An unknown field is reported by the first of them in sorted order.
fn submission_from<'f>(
    kind: &str,
    keys: impl Iterator<Item = &'f str>,
    value: impl Fn(&str) -> Option<&'f str>,
) -> Result<Submission> {
    let allowed = kind_fields(kind)
        .ok_or_else(|| Error::invalid(msg!("input.not_a_kind", kind = kind, kinds = KINDS.join(", "))))?;
    if let Some(k) = keys.filter(|k| *k != "id" && *k != "note" && !allowed.contains(k)).min() {
        return Err(Error::invalid(msg!("input.unknown_field", field = k, kind = kind, fields = allowed.join(", "))));
    }
    let get = |name: &str| -> Result<&str> {
        let missing = || Error::invalid(msg!("input.needs", kind = kind, field = name));
        value(name).ok_or_else(missing)
    };
    let opt = |name: &str| value(name);
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
    let mut check = JsonlCheck::new(max_lines);
    for (i, line) in text.lines().enumerate() {
        if let Some(sub) = check.line(i + 1, line)? {
            out.push((i + 1, sub));
        }
    }
    check.finish()?;
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

    /// `later`'s errors after these, as if each had been pushed here.
    pub fn append(&mut self, later: Errors) {
        let Some(first) = later.first else { return };
        self.push(first);
        self.count += later.count - 1;
        self.rest.append(later.rest);
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

/// Checks a JSONL file line by line as `parse_jsonl_max` does, for a reader that does not
/// hold the whole text: blank lines are skipped, at most `max_lines` submissions, every bad
/// line kept (up to `sheet::PROBLEMS_MAX` reported) for `finish`.
pub struct JsonlCheck {
    max_lines: usize,
    lines: usize,
    bad: Errors,
}

impl JsonlCheck {
    pub fn new(max_lines: usize) -> JsonlCheck {
        JsonlCheck { max_lines, lines: 0, bad: Errors::default() }
    }

    /// Line `n` (1-based): its submission, or `None` for a blank line or a bad one (kept for
    /// `finish`). An error here ends the file: it holds more than `max_lines` submissions.
    pub fn line(&mut self, n: usize, line: &str) -> Result<Option<Submission>> {
        if is_blank(line) {
            return Ok(None);
        }
        if self.lines >= self.max_lines {
            return Err(Error::invalid(msg!("input.too_many_lines", max = self.max_lines)).at_line(n));
        }
        self.lines += 1;
        match parse_jsonl_line(line).at_with(|| msg!("at.line", line = n)) {
            Ok(sub) => Ok(Some(sub)),
            Err(e) => {
                self.bad.push(e);
                Ok(None)
            }
        }
    }

    /// Submissions (non-blank lines) seen so far, good or bad.
    pub fn submissions(&self) -> usize {
        self.lines
    }

    /// This check followed by `later`'s, which checked the lines after these: the counts
    /// added, `later`'s bad lines after these (as one check of both parts would have them).
    /// The limit is this check's: the caller compares `submissions` with it.
    pub fn then(mut self, later: JsonlCheck) -> JsonlCheck {
        self.lines += later.lines;
        self.bad.append(later.bad);
        self
    }

    /// The submissions the file holds, or every bad line's error.
    pub fn finish(self) -> Result<usize> {
        let good = self.lines - self.bad.count;
        self.bad.into_result(msg!("input.file"))?;
        Ok(good)
    }
}

/// A line holding nothing but white space, which a JSONL file may have anywhere.
pub fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Most fields of a JSONL line kept without allocating; a line with more (only a line of
/// many null fields can be valid) keeps the rest in a `Vec`.
const INLINE_FIELDS: usize = 8;

/// One field's value as the line holds it: text (a string, borrowed from the line when it
/// has no escapes, or a number's literal), null, or a value that is not a scalar.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Null,
    Other(Found),
}

/// What a field holds that is not a scalar.
#[derive(Clone, Copy)]
enum Found {
    Boolean,
    Array,
    Object,
}

/// A key of a JSONL object, borrowed from the line when it has no escapes.
struct Key<'a>(Cow<'a, str>);

/// A JSONL line's fields in order of first appearance (a repeated key keeps its place and
/// takes its last value, as a JSON object read into a map does).
struct Fields<'a> {
    inline: [(Cow<'a, str>, Scalar<'a>); INLINE_FIELDS],
    len: usize,
    more: Vec<(Cow<'a, str>, Scalar<'a>)>,
}

impl<'a> Fields<'a> {
    fn new() -> Fields<'a> {
        Fields { inline: std::array::from_fn(|_| (Cow::Borrowed(""), Scalar::Null)), len: 0, more: Vec::new() }
    }

    fn iter(&self) -> impl Iterator<Item = &(Cow<'a, str>, Scalar<'a>)> {
        self.inline[..self.len].iter().chain(&self.more)
    }

    fn put(&mut self, key: Cow<'a, str>, value: Scalar<'a>) {
        let slot = self.inline[..self.len].iter_mut().chain(self.more.iter_mut()).find(|(k, _)| *k == key);
        match slot {
            Some((_, v)) => *v = value,
            None if self.len < INLINE_FIELDS => {
                self.inline[self.len] = (key, value);
                self.len += 1;
            }
            None => self.more.push((key, value)),
        }
    }

    /// The text of field `name`, if it has some (a null field is absent).
    fn text(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == name).and_then(|(_, v)| match v {
            Scalar::Text(t) => Some(&**t),
            _ => None,
        })
    }
}

/// serde_json's name for a number read with `arbitrary_precision`: a map of this one key to
/// the number's literal text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct ScalarVisitor;

impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }
    // Without `arbitrary_precision` numbers would come this way; with it, as the map below.
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E>(self) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Scalar<'de>, E> {
        Ok(Scalar::Other(Found::Boolean))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Scalar<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other(Found::Array))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Scalar<'de>, A::Error> {
        match map.next_key::<Key>()? {
            Some(Key(k)) if k == NUMBER_TOKEN => Ok(Scalar::Text(Cow::Owned(map.next_value::<String>()?))),
            Some(_) => {
                map.next_value::<serde::de::IgnoredAny>()?;
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other(Found::Object))
            }
            None => Ok(Scalar::Other(Found::Object)),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// Reads a JSONL line into `fields`, in place (a line's fields are not moved about):
/// `true` for an object, `false` for any other JSON value.
struct LineSeed<'f, 'a>(&'f mut Fields<'a>);

impl<'de> serde::de::DeserializeSeed<'de> for LineSeed<'_, 'de> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LineSeed<'_, 'de> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<bool, A::Error> {
        match map.next_key::<Key>()? {
            // A number at the top level (arbitrary_precision).
            Some(Key(k)) if k == NUMBER_TOKEN => {
                map.next_value::<serde::de::IgnoredAny>()?;
                return Ok(false);
            }
            Some(Key(k)) => self.0.put(k, map.next_value()?),
            None => {}
        }
        while let Some(Key(k)) = map.next_key::<Key>()? {
            let v = map.next_value()?;
            self.0.put(k, v);
        }
        Ok(true)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<bool, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> std::result::Result<bool, E> {
        Ok(false)
    }
}

/// One JSONL line as a submission. Keys and string values are borrowed from the line (no
/// map, no copy) unless they hold escapes; the errors are those of reading the line into a
/// `serde_json::Value` and its fields into a map, in the same order. The usual line (plain
/// strings and nulls) is read without serde_json (`read_plain_object`), any other by it.
pub fn parse_jsonl_line(line: &str) -> Result<Submission> {
    let mut fields = Fields::new();
    if !read_plain_object(line, &mut fields) {
        fields = Fields::new();
        read_json_object(line, &mut fields)?;
    }
    submission_of_fields(&fields)
}

/// Reads `line` into `fields` with serde_json: any JSON, its errors named as serde_json
/// names them.
fn read_json_object<'a>(line: &'a str, fields: &mut Fields<'a>) -> Result<()> {
    let not_json = |e| Error::invalid(msg!("input.not_json", reason = e));
    let mut de = serde_json::Deserializer::from_str(line);
    let object = serde::de::DeserializeSeed::deserialize(LineSeed(fields), &mut de).map_err(not_json)?;
    de.end().map_err(not_json)?;
    match object {
        true => Ok(()),
        false => Err(Error::invalid(msg!("input.not_object"))),
    }
}

/// The white space JSON allows between tokens (serde_json skips exactly these).
fn skip_json_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string token opening at `line[i]` (a `"`), if it holds no escape and no control
/// character: its text, borrowed, and the offset after its closing quote.
fn plain_string(line: &str, i: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    let start = i + 1;
    let len = b.get(start..)?.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    let end = start + len;
    (b[end] == b'"').then(|| (&line[start..end], end + 1))
}

/// The line as a clerk's tool writes it, read without serde_json: one object whose values
/// are strings without escapes or `null`, with JSON's white space anywhere between tokens.
/// Fills `fields` as `read_json_object` would and says `true`; for any other line (an escape,
/// a number, a nested value, a syntax error, serde_json's number token) says `false`, and
/// `fields` is to be thrown away: that line is read by `read_json_object`, errors and all.
fn read_plain_object<'a>(line: &'a str, fields: &mut Fields<'a>) -> bool {
    let b = line.as_bytes();
    let mut i = skip_json_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_json_space(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return skip_json_space(b, i + 1) == b.len();
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return false;
        }
        let Some((key, after)) = plain_string(line, i) else { return false };
        if fields.len == 0 && key == NUMBER_TOKEN {
            return false;
        }
        i = skip_json_space(b, after);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_json_space(b, i + 1);
        let value = match b.get(i) {
            Some(b'"') => match plain_string(line, i) {
                Some((text, after)) => {
                    i = after;
                    Scalar::Text(Cow::Borrowed(text))
                }
                None => return false,
            },
            Some(b'n') if b[i..].starts_with(b"null") => {
                i += 4;
                Scalar::Null
            }
            _ => return false,
        };
        fields.put(Cow::Borrowed(key), value);
        i = skip_json_space(b, i);
        match b.get(i) {
            Some(b',') => i = skip_json_space(b, i + 1),
            Some(b'}') => return skip_json_space(b, i + 1) == b.len(),
            _ => return false,
        }
    }
}

/// The submission a line's fields make.
fn submission_of_fields(fields: &Fields) -> Result<Submission> {
    let mut kind = None;
    for (k, v) in fields.iter() {
        match v {
            Scalar::Text(t) if k == "type" => kind = Some(&**t),
            Scalar::Text(_) | Scalar::Null => {}
            Scalar::Other(found) => {
                let found = match found {
                    Found::Boolean => msg!("input.json_boolean"),
                    Found::Array => msg!("input.json_array"),
                    Found::Object => msg!("input.json_object"),
                };
                return Err(Error::invalid(msg!("input.field_not_scalar", field = &**k, found = found)));
            }
        }
    }
    let kind = kind.ok_or_else(|| Error::invalid(msg!("input.missing_type")))?;
    let keys = fields.iter().filter(|(k, v)| matches!(v, Scalar::Text(_)) && k != "type").map(|(k, _)| &**k);
    submission_from(kind, keys, |name| if name == "type" { None } else { fields.text(name) })
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

    /// The line parser before it borrowed from the line: a `serde_json::Value`, then a map.
    fn parse_via_value(line: &str) -> Result<Submission> {
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

    #[test]
    fn the_borrowing_line_parser_reads_and_refuses_lines_as_a_json_value_did() {
        let lines = [
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"3.35"}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":3.35,"id":"0190a5c2-0000-7000-8000-000000000002","note":"三月调度"}"#,
            r#"{"type":"investment","project":"p\u0061rk","period":"2022-03","amount":1e2}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":0.30000000000000000001}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"1","amount":"2"}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"1","note":null}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"1","note":"a\"b\\c\n"}"#,
            r#"{"project":"park","type":"milestone","milestone":"start","date":"2022-03-01","x":null,"y":null,"z":null,"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":null}"#,
            r#"{"type":"actual","indicator":"gdp","period":"2022","value":-3.1,"basis":"preliminary"}"#,
            r#"{"type":"retract","event":7,"reason":"dup"}"#,
            r#"{"type":"correct","event":"0190a5c2-0000-7000-8000-000000000002","value":"3.5","reason":"r"}"#,
            r#"{"type":"revise-target","indicator":"gdp","value":"5.5","reason":"人大批准调整"}"#,
            r#"{"type":"withdraw","project":"park","date":"2022-07-01","reason":"调出"}"#,
            // Refused, each for the reason the old parser gave.
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"-2"}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amout":"2","zzz":"1"}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":true}"#,
            r#"{"type":"investment","project":"park","b":[1,{"x":2}],"a":{"y":[3]}}"#,
            r#"{"type":"investment","project":"park","a":{},"period":"2022-03","amount":"1"}"#,
            r#"{"type":"investment","project":"park","a":{"y":1},"a":"1","period":"2022-03","amount":"1"}"#,
            r#"{"type":null,"project":"park"}"#,
            r#"{"type":["investment"]}"#,
            r#"{"type":"invest","project":"park"}"#,
            r#"{"type":"investment","project":"park","period":"2022-03","amount":"1","id":"nope"}"#,
            r#"{"type":"investment","project":"pa/rk","period":"2022-03","amount":"1"}"#,
            r#"{"type":"investment","project":"park""#,
            r#"{"type":"investment"} x"#,
            r#"{"type":"investment",}"#,
            "{\"type\":\"investment\",\"project\":\"pa\u{7}rk\"}",
            r#"{}"#,
            r#"[{"type":"investment"}]"#,
            r#""investment""#,
            r#"42"#,
            r#"-1.5e3"#,
            r#"null"#,
            r#"true"#,
            r#"{"type":"investment","project":"\ud800"}"#,
            r#"{"type":"investment","$serde_json::private::Number":"1"}"#,
        ];
        for line in lines {
            let ours = parse_jsonl_line(line).map_err(|e| e.to_string());
            let theirs = parse_via_value(line).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{line}");
        }
    }

    /// Lines made of JSON's pieces, most well formed, some cut or with a piece swapped.
    fn generated_lines(n: usize) -> Vec<String> {
        const KEYS: &[&str] = &[
            r#""type""#,
            r#""project""#,
            r#""period""#,
            r#""amount""#,
            r#""id""#,
            r#""note""#,
            r#""milestone""#,
            r#""date""#,
            r#""x""#,
            r#""$serde_json::private::Number""#,
            r#""ty\u0070e""#,
            r#""a\"b""#,
            "\"a\u{1}\"",
        ];
        const VALUES: &[&str] = &[
            r#""investment""#,
            r#""milestone""#,
            r#""park""#,
            r#""p-1""#,
            r#""2022-03""#,
            r#""2022-03-01""#,
            r#""3.35""#,
            r#""-1""#,
            r#""1e2""#,
            r#""start""#,
            r#""0190a5c2-0000-7000-8000-000000000002""#,
            r#""三月调度""#,
            r#""a\"b""#,
            r#""p\u0061rk""#,
            "\"x\u{7f}y\"",
            "\"x\u{1f}y\"",
            "null",
            "nul",
            "nullx",
            "3.35",
            "1e2",
            "true",
            "[1]",
            "{}",
            r#"{"a":"b"}"#,
            r#""""#,
            r#""\ud800""#,
        ];
        const SPACE: &[&str] = &["", "", "", " ", "\t", "\r", "  \n"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            // Half the lines are an investment's fields in some order, some values swapped.
            let mut fields: Vec<(&str, &str)> = match next(2) {
                0 => (0..next(7)).map(|_| (KEYS[next(KEYS.len())], VALUES[next(VALUES.len())])).collect(),
                _ => vec![
                    (KEYS[0], VALUES[0]),
                    (KEYS[1], VALUES[2]),
                    (KEYS[2], VALUES[4]),
                    (KEYS[3], [VALUES[6], VALUES[7], VALUES[19]][next(3)]),
                    (KEYS[4], VALUES[10]),
                    (KEYS[5], VALUES[next(VALUES.len())]),
                ],
            };
            for i in (1..fields.len()).rev() {
                fields.swap(i, next(i + 1));
            }
            let mut pieces: Vec<&str> = vec![SPACE[next(SPACE.len())], "{"];
            for (f, (key, value)) in fields.into_iter().enumerate() {
                if f > 0 {
                    pieces.push(",");
                }
                pieces.extend([SPACE[next(SPACE.len())], key, SPACE[next(SPACE.len())], ":"]);
                pieces.extend([SPACE[next(SPACE.len())], value, SPACE[next(SPACE.len())]]);
            }
            pieces.extend(["}", SPACE[next(SPACE.len())]]);
            match next(8) {
                0 => {
                    let at = next(pieces.len());
                    pieces.remove(at);
                }
                1 => {
                    let at = next(pieces.len() + 1);
                    pieces.insert(at, [",", ":", "{", "}", "\"", "x", "\\"][next(7)]);
                }
                2 => {
                    let at = next(pieces.len());
                    pieces.truncate(at);
                }
                _ => {}
            }
            lines.push(pieces.concat());
        }
        lines
    }

    #[test]
    fn a_plain_line_is_read_as_serde_json_reads_it() {
        let mut plain = 0;
        let mut accepted = 0;
        let mut accepted_plain = 0;
        for line in generated_lines(60_000) {
            let mut fields = Fields::new();
            let read_plainly = read_plain_object(&line, &mut fields);
            plain += usize::from(read_plainly);
            let ours = parse_jsonl_line(&line).map_err(|e| e.to_string());
            accepted_plain += usize::from(read_plainly && ours.is_ok());
            let mut fields = Fields::new();
            let by_serde = read_json_object(&line, &mut fields)
                .and_then(|()| submission_of_fields(&fields))
                .map_err(|e| e.to_string());
            assert_eq!(ours, by_serde, "{line:?}");
            accepted += usize::from(ours.is_ok());
        }
        // Both readers and both outcomes were exercised.
        assert!(plain > 5_000 && plain < 50_000, "{plain} lines read plainly");
        assert!(accepted > 500, "{accepted} lines accepted");
        assert!(accepted_plain > 500, "{accepted_plain} lines read plainly and accepted");
    }

    #[test]
    fn a_file_checked_line_by_line_gives_what_the_whole_text_gives() {
        let text = "{\"type\":\"retract\",\"event\":7,\"reason\":\"dup\"}\n\n  \n{\"type\":\"retract\"}\n\
                    {\"type\":\"retract\",\"event\":8,\"reason\":\"dup\"}\n{\"type\":\"investment\"}\n";
        let mut check = JsonlCheck::new(10);
        let parsed: Vec<usize> =
            text.lines().enumerate().filter_map(|(i, l)| check.line(i + 1, l).unwrap().map(|_| i + 1)).collect();
        assert_eq!(parsed, vec![1, 5]);
        assert_eq!(check.finish().unwrap_err().to_string(), parse_jsonl(text).unwrap_err().to_string());
        let good = "{\"type\":\"retract\",\"event\":7,\"reason\":\"dup\"}\n\n";
        let mut check = JsonlCheck::new(1);
        assert!(check.line(1, good.lines().next().unwrap()).unwrap().is_some());
        assert!(check.line(2, "").unwrap().is_none());
        let e = check.line(3, good.lines().next().unwrap()).unwrap_err().to_string();
        assert_eq!(e, parse_jsonl_max(&good.repeat(2), 1).unwrap_err().to_string());
        assert_eq!(e, "line 3: more than 1 submissions; split the file");
        assert_eq!(check.finish().unwrap(), 1);
    }
}
