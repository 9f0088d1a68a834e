//! The year's summary: what an annual execution report states (计划执行情况), computed from
//! the folded state alone: key-project totals by level and by any dimension, milestone rates,
//! schedule progress (序时进度) on a date, and indicators judged against their targets.

use std::collections::BTreeMap;
use std::fmt::Write;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::model::{fmt_decimal, fmt_pct, percent, Comparison, Date, Level, Measure, Milestone, Month};
use crate::projection::{Listing, Plan, State};
use crate::report::{indicator_json, judge};

/// Most `--by` dimensions (a two-level breakdown).
pub const BY_MAX: usize = 2;
/// Group value for projects that lack the dimension.
pub const NONE_VALUE: &str = "(none)";

/// Counts and sums over a group of projects, on a date.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub count: u64,
    pub planned: Decimal,
    pub completed: Decimal,
    pub planned_start: u64,
    pub started: u64,
    pub planned_complete: u64,
    pub completed_n: u64,
    pub planned_operate: u64,
    pub operating: u64,
    pub under_way: u64,
    pub on_schedule: u64,
    pub behind_schedule: u64,
    /// Projects whose planned start month (计划开工时间) has ended by the date, and of those
    /// the ones not started: starts that are late.
    pub start_due: u64,
    pub start_overdue: u64,
}

/// When the summary is taken, in valid time.
#[derive(Clone, Copy, Debug)]
pub struct On {
    pub year: i32,
    pub date: Date,
    /// Months of the year that have ended by `date` (0..=12): the elapsed share is this / 12.
    pub months_elapsed: u8,
}

impl On {
    /// `at`, or else the year's end once the year is over, or `today` while it runs (before
    /// it starts, today: nothing of it has elapsed).
    pub fn new(year: i32, at: Option<Date>, today: Date) -> On {
        let end = Month { year, month: 12 }.last_day();
        let date = at.unwrap_or(today.min(end));
        let months_elapsed = (1..=12u8).filter(|&m| Month { year, month: m }.last_day() <= date).count() as u8;
        On { year, date, months_elapsed }
    }

    pub fn elapsed_pct(&self) -> Decimal {
        Decimal::from(self.months_elapsed) * Decimal::ONE_HUNDRED / Decimal::from(12)
    }
}

/// Whether a project is behind schedule (滞后) on `on`: the share of its year's plan completed
/// is below the share of the year elapsed (序时进度). `None` when it plans no investment.
pub fn behind_schedule(l: &Listing, on: On) -> Option<bool> {
    if l.planned_investment.is_zero() {
        return None;
    }
    let completed = l.progress.completed(Some(on.date));
    Some(completed * Decimal::from(12) < l.planned_investment * Decimal::from(on.months_elapsed))
}

impl Group {
    pub fn add(&mut self, l: &Listing, on: On) {
        let p = &l.progress;
        let at = Some(on.date);
        let reached = |m: Milestone| p.milestones.get(&m).is_some_and(|e| e.date <= on.date);
        let started = p.started_by(at);
        let completed_investment = p.completed(at);
        self.count += 1;
        self.planned += l.planned_investment;
        self.completed += completed_investment;
        let aims = |m: Milestone| l.aims_at(m, on.year);
        if l.planned_month(Milestone::Start).is_some_and(|m| m.last_day() <= on.date) {
            self.start_due += 1;
            self.start_overdue += u64::from(!started);
        }
        if aims(Milestone::Start) {
            self.planned_start += 1;
            self.started += u64::from(started);
        }
        if aims(Milestone::Complete) {
            self.planned_complete += 1;
            self.completed_n += u64::from(reached(Milestone::Complete));
        }
        if aims(Milestone::Operate) {
            self.planned_operate += 1;
            self.operating += u64::from(reached(Milestone::Operate));
        }
        if started && !reached(Milestone::Complete) {
            self.under_way += 1;
        }
        match behind_schedule(l, on) {
            Some(false) => self.on_schedule += 1,
            Some(true) => self.behind_schedule += 1,
            None => {}
        }
    }

    pub fn pct(&self) -> Option<Decimal> {
        percent(self.completed, self.planned)
    }

    fn rate(part: u64, whole: u64) -> Option<String> {
        percent(Decimal::from(part), Decimal::from(whole)).map(fmt_pct)
    }

    pub fn json(&self) -> Map<String, Value> {
        let v = json!({
            "count": self.count,
            "planned_investment": fmt_decimal(self.planned),
            "completed_investment": fmt_decimal(self.completed),
            "completion_pct": self.pct().map(fmt_pct),
            "planned_start": self.planned_start,
            "started": self.started,
            "start_rate_pct": Group::rate(self.started, self.planned_start),
            "planned_complete": self.planned_complete,
            "completed": self.completed_n,
            "complete_rate_pct": Group::rate(self.completed_n, self.planned_complete),
            "planned_operate": self.planned_operate,
            "operating": self.operating,
            "operate_rate_pct": Group::rate(self.operating, self.planned_operate),
            "under_way": self.under_way,
            "on_schedule": self.on_schedule,
            "behind_schedule": self.behind_schedule,
            "start_due": self.start_due,
            "start_overdue": self.start_overdue,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// A breakdown by one dimension, possibly nested one level more.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub dimension: String,
    pub groups: BTreeMap<String, (Group, Option<Breakdown>)>,
}

/// Groupings every listing has, besides its dimensions: `--by level`, `--by department`,
/// `--by construction` (建设性质), `--by status`, also by their Chinese names. A dimension
/// of the same name is shadowed by them.
pub const GROUPINGS: &[(&str, &str)] =
    &[("level", "级别"), ("department", "责任单位"), ("construction", "建设性质"), ("status", "状态")];

/// A listing's value for grouping `by`: a built-in grouping, or the dimension of that name.
pub(crate) fn group_value(by: &str, l: &Listing) -> Option<String> {
    let builtin = GROUPINGS.iter().find(|(en, zh)| *en == by || *zh == by).map(|(en, _)| *en);
    match builtin {
        Some("level") => Some(l.def.level.as_str().to_string()),
        Some("department") => Some(l.def.department.clone()),
        Some("construction") => l.schedule.as_ref().and_then(|s| s.construction).map(|c| c.as_str().to_string()),
        Some("status") => Some(l.progress.status(None).as_str().to_string()),
        _ => l.def.dimensions.get(by).cloned(),
    }
}

/// Checks `--by` against what the plans of `year` have: a built-in grouping, or a dimension
/// some listing carries. An unknown one is an error naming the valid ones.
pub fn check_groupings(state: &State, year: i32, by: &[String]) -> crate::Result<()> {
    check_rows(state, year, by, false)
}

/// As `check_groupings`; `monthly` also accepts `project` (the monthly view's rows), and
/// says so when it refuses.
pub fn check_rows(state: &State, year: i32, by: &[String], monthly: bool) -> crate::Result<()> {
    for b in by {
        if GROUPINGS.iter().any(|(en, zh)| en == b || zh == b) || (monthly && b == crate::monthly::PROJECT) {
            continue;
        }
        let mut dims: Vec<&String> = state
            .plans_by_year()
            .filter(|p| p.def.year == year)
            .flat_map(|p| p.projects.values())
            .flat_map(|l| l.def.dimensions.keys())
            .collect();
        dims.sort();
        dims.dedup();
        if dims.contains(&b) {
            continue;
        }
        let dims: Vec<&str> = dims.iter().map(|d| d.as_str()).collect();
        let dims = if dims.is_empty() {
            crate::Msg::text("")
        } else {
            msg!("summary.or_a_dimension", dimensions = dims.join(", "))
        };
        return Err(crate::Error::invalid(msg!(
            "summary.not_a_grouping",
            by = b,
            year = year,
            groupings = if monthly { msg!("summary.groupings_monthly") } else { msg!("summary.groupings") },
            dimensions = dims
        )));
    }
    Ok(())
}

impl Breakdown {
    fn add(&mut self, by: &[String], l: &Listing, on: On) {
        let Some((dim, rest)) = by.split_first() else { return };
        self.dimension = dim.clone();
        let value = group_value(dim, l).unwrap_or_else(|| NONE_VALUE.to_string());
        let entry = self.groups.entry(value).or_insert_with(|| (Group::default(), None));
        entry.0.add(l, on);
        if !rest.is_empty() {
            entry.1.get_or_insert_with(Breakdown::default).add(rest, l, on);
        }
    }

    fn json(&self) -> Vec<Value> {
        self.groups
            .iter()
            .map(|(value, (g, sub))| {
                let mut m = Map::new();
                m.insert("dimension".into(), json!(self.dimension));
                m.insert("value".into(), json!(value));
                m.extend(g.json());
                if let Some(sub) = sub {
                    m.insert("groups".into(), Value::Array(sub.json()));
                }
                Value::Object(m)
            })
            .collect()
    }
}

/// Everything a year's report states.
pub struct Summary<'s> {
    pub year: i32,
    pub on: On,
    pub plans: Vec<&'s Plan>,
    pub all: Group,
    pub levels: BTreeMap<Level, Group>,
    pub by: Option<Breakdown>,
}

pub fn summarize<'s>(state: &'s State, year: i32, on: On, by: &[String]) -> Summary<'s> {
    let plans: Vec<&Plan> = state.plans_by_year().filter(|p| p.def.year == year).collect();
    let mut all = Group::default();
    let mut levels: BTreeMap<Level, Group> = Level::ALL.iter().map(|l| (*l, Group::default())).collect();
    let mut breakdown = (!by.is_empty()).then(Breakdown::default);
    for plan in &plans {
        for l in plan.projects.values().filter(|l| l.listed_on(on.date)) {
            all.add(l, on);
            levels.entry(l.def.level).or_default().add(l, on);
            if let Some(b) = breakdown.as_mut() {
                b.add(by, l, on);
            }
        }
    }
    Summary { year, on, plans, all, levels, by: breakdown }
}

impl Summary<'_> {
    pub fn province_city(&self) -> Group {
        let (p, c) = (&self.levels[&Level::Province], &self.levels[&Level::City]);
        Group {
            count: p.count + c.count,
            planned: p.planned + c.planned,
            completed: p.completed + c.completed,
            planned_start: p.planned_start + c.planned_start,
            started: p.started + c.started,
            planned_complete: p.planned_complete + c.planned_complete,
            completed_n: p.completed_n + c.completed_n,
            planned_operate: p.planned_operate + c.planned_operate,
            operating: p.operating + c.operating,
            under_way: p.under_way + c.under_way,
            on_schedule: p.on_schedule + c.on_schedule,
            behind_schedule: p.behind_schedule + c.behind_schedule,
            start_due: p.start_due + c.start_due,
            start_overdue: p.start_overdue + c.start_overdue,
        }
    }

    pub fn json(&self, as_of: Value) -> Value {
        let mut projects = self.all.json();
        let mut by_level = Map::new();
        for (l, g) in Level::REPORT_ORDER.iter().filter_map(|l| self.levels.get(l).map(|g| (l, g))) {
            by_level.insert(l.as_str().into(), Value::Object(g.json()));
        }
        by_level.insert("province_city".into(), Value::Object(self.province_city().json()));
        projects.insert("by_level".into(), Value::Object(by_level));
        projects.insert("groups".into(), Value::Array(self.by.as_ref().map(Breakdown::json).unwrap_or_default()));
        let indicators: Vec<Value> = self
            .plans
            .iter()
            .flat_map(|p| p.indicators.values())
            .map(|i| indicator_json(i, Some(self.on.date)))
            .collect();
        json!({
            "year": self.year,
            "as_of": as_of,
            "at": self.on.date.to_string(),
            "schedule_pct": fmt_pct(self.on.elapsed_pct()),
            "plans": self.plans.iter().map(|p| p.def.plan.clone()).collect::<Vec<_>>(),
            "projects": projects,
            "indicators": indicators,
        })
    }

    /// One CSV row per group: the whole year, each level, then each `--by` group.
    pub fn csv(&self) -> String {
        let head =
            "dimension,value,count,planned_investment,completed_investment,completion_pct,planned_start,started,\
start_rate_pct,planned_complete,completed,complete_rate_pct,planned_operate,operating,operate_rate_pct,under_way,\
on_schedule,behind_schedule\n";
        let mut out = String::from(head);
        let mut row = |dim: &str, value: &str, g: &Group| {
            let j = g.json();
            let cell = |k: &str| match &j[k] {
                Value::String(s) => crate::text::csv_field(s),
                Value::Null => String::new(),
                v => v.to_string(),
            };
            let keys = [
                "count",
                "planned_investment",
                "completed_investment",
                "completion_pct",
                "planned_start",
                "started",
                "start_rate_pct",
                "planned_complete",
                "completed",
                "complete_rate_pct",
                "planned_operate",
                "operating",
                "operate_rate_pct",
                "under_way",
                "on_schedule",
                "behind_schedule",
            ];
            let cells: Vec<String> = keys.iter().map(|k| cell(k)).collect();
            let _ =
                writeln!(out, "{},{},{}", crate::text::csv_field(dim), crate::text::csv_field(value), cells.join(","));
        };
        row("all", "all", &self.all);
        for (l, g) in Level::REPORT_ORDER.iter().filter_map(|l| self.levels.get(l).map(|g| (l, g))) {
            row("level", l.as_str(), g);
        }
        row("level", "province_city", &self.province_city());
        fn walk(b: &Breakdown, prefix: &str, row: &mut dyn FnMut(&str, &str, &Group)) {
            for (value, (g, sub)) in &b.groups {
                let v = if prefix.is_empty() { value.clone() } else { format!("{prefix}/{value}") };
                row(&b.dimension, &v, g);
                if let Some(sub) = sub {
                    walk(sub, &v, row);
                }
            }
        }
        if let Some(b) = &self.by {
            walk(b, "", &mut row);
        }
        out
    }

    /// A report a person would paste into a document, in the seed report's style.
    pub fn prose(&self, lang: Lang, markdown: bool) -> String {
        let mut out = String::new();
        let title = self.plans.first().map(|p| p.def.title.clone()).unwrap_or_else(|| format!("{}", self.year));
        let h = if markdown { "## " } else { "" };
        // A lead-in in bold, its full stop outside the emphasis: CommonMark does not close
        // `**` after punctuation that a letter or digit follows (`**重点项目。**246` shows the
        // asterisks), but does after a letter (`**重点项目**。246`).
        let b = |s: &str| {
            if !markdown {
                return s.to_string();
            }
            match s.strip_suffix('。').map(|w| (w, "。")).or_else(|| s.strip_suffix('.').map(|w| (w, "."))) {
                Some((word, stop)) => format!("**{word}**{stop}"),
                None => format!("**{s}**"),
            }
        };
        let d = |x: Decimal| fmt_decimal(x);
        let pct = |x: Option<Decimal>| x.map(fmt_pct).unwrap_or_else(|| "-".into());
        let pc = self.province_city();
        let g = &self.all;
        let rate = |part: u64, whole: u64| Group::rate(part, whole).unwrap_or_else(|| "-".into());
        let rate_pct =
            |part: u64, whole: u64| Group::rate(part, whole).map(|r| format!("{r}%")).unwrap_or_else(|| "-".into());
        match lang {
            Lang::Zh => {
                let _ = writeln!(out, "{h}{title}执行情况（截至{}）\n", crate::execution::date_zh(self.on.date));
                let _ = writeln!(
                    out,
                    "{}{}个重点项目完成投资{}亿元，占年度目标的{}%；其中{}个省市重点项目完成投资{}亿元，占年度投资目标{}亿元的{}%。\n",
                    b("重点项目。"),
                    g.count,
                    d(g.completed),
                    pct(g.pct()),
                    pc.count,
                    d(pc.completed),
                    d(pc.planned),
                    pct(pc.pct())
                );
                let _ = writeln!(
                    out,
                    "{}计划开工{}个，已开工{}个，开工率{}；计划竣工{}个，已竣工{}个，竣工率{}；计划投产{}个，已投产{}个，投产率{}；开工在建{}个。\n",
                    b("项目进度。"),
                    g.planned_start,
                    g.started,
                    rate_pct(g.started, g.planned_start),
                    g.planned_complete,
                    g.completed_n,
                    rate_pct(g.completed_n, g.planned_complete),
                    g.planned_operate,
                    g.operating,
                    rate_pct(g.operating, g.planned_operate),
                    g.under_way
                );
                let _ = writeln!(
                    out,
                    "{}时间进度{}%，{}个项目达到序时进度，{}个项目滞后。\n",
                    b("序时进度。"),
                    fmt_pct(self.on.elapsed_pct()),
                    g.on_schedule,
                    g.behind_schedule
                );
            }
            Lang::En => {
                let _ = writeln!(out, "{h}{title}: execution on {}\n", self.on.date);
                let _ = writeln!(
                    out,
                    "{} {} key projects completed {} 亿元, {} % of the annual target; of them {} provincial and municipal key projects completed {} 亿元 of their {} 亿元 target ({} %).\n",
                    b("Key projects."),
                    g.count,
                    d(g.completed),
                    pct(g.pct()),
                    pc.count,
                    d(pc.completed),
                    d(pc.planned),
                    pct(pc.pct())
                );
                let _ = writeln!(
                    out,
                    "{} {} of {} planned starts ({} %), {} of {} planned completions ({} %), {} of {} planned operations ({} %); {} under way.\n",
                    b("Milestones."),
                    g.started,
                    g.planned_start,
                    rate(g.started, g.planned_start),
                    g.completed_n,
                    g.planned_complete,
                    rate(g.completed_n, g.planned_complete),
                    g.operating,
                    g.planned_operate,
                    rate(g.operating, g.planned_operate),
                    g.under_way
                );
                let _ = writeln!(
                    out,
                    "{} {} % of the year elapsed; {} projects on schedule, {} behind.\n",
                    b("Schedule."),
                    fmt_pct(self.on.elapsed_pct()),
                    g.on_schedule,
                    g.behind_schedule
                );
            }
        }
        if let Some(by) = &self.by {
            out.push_str(&self.breakdown_table(by, lang, markdown));
        }
        let indicators: Vec<_> = self.plans.iter().flat_map(|p| p.indicators.values()).collect();
        if !indicators.is_empty() {
            let (hdr, sep) = match lang {
                Lang::Zh => ("| 指标 | 目标 | 实际 | 完成情况 |", "|---|---|---|---|"),
                Lang::En => ("| indicator | target | actual | result |", "|---|---|---|---|"),
            };
            if markdown {
                let _ = writeln!(out, "{hdr}\n{sep}");
            }
            for ind in indicators {
                let j = judge(ind, Some(self.on.date));
                let unit = &ind.def.unit;
                let target = match (lang, ind.target, ind.def.comparison, ind.def.approximate) {
                    (Lang::Zh, None, ..) => "不设目标".to_string(),
                    (Lang::En, None, ..) => "no target".to_string(),
                    (Lang::Zh, Some(t), Comparison::AtMost, _) => format!("控制在{}{unit}以内", d(t)),
                    (Lang::Zh, Some(t), _, true) => format!("{}{unit}左右", d(t)),
                    (Lang::Zh, Some(t), _, false) => format!("{}{unit}", d(t)),
                    (Lang::En, Some(t), Comparison::AtMost, _) => format!("at most {} {unit}", d(t)),
                    (Lang::En, Some(t), _, true) => format!("about {} {unit}", d(t)),
                    (Lang::En, Some(t), _, false) => format!("{} {unit}", d(t)),
                };
                let (actual, result) = match &j.actual {
                    None => (
                        "-".to_string(),
                        match lang {
                            Lang::Zh => "尚无数据".to_string(),
                            Lang::En => "no actual yet".to_string(),
                        },
                    ),
                    Some(a) => {
                        let basis = match (lang, a.basis) {
                            (Lang::Zh, crate::model::Basis::Estimate) => "预计",
                            (Lang::Zh, crate::model::Basis::Preliminary) => "初步",
                            (Lang::Zh, crate::model::Basis::Final) => "正式",
                            (Lang::En, x) => x.as_str(),
                        };
                        let actual = match lang {
                            Lang::Zh => format!("{}{unit}（{}，{basis}）", d(a.value), a.period.zh()),
                            Lang::En => format!("{} {unit} ({}, {basis})", d(a.value), a.period),
                        };
                        let gap = j.gap.unwrap_or_default();
                        let result = match (lang, ind.def.measure, j.met) {
                            _ if ind.target.is_none() => "-".to_string(),
                            (Lang::Zh, Measure::Rate, _) if gap.is_zero() => "与目标持平".to_string(),
                            (Lang::Zh, Measure::Rate, _) if gap > Decimal::ZERO => {
                                format!("高于目标{}个百分点", d(gap))
                            }
                            (Lang::Zh, Measure::Rate, _) => format!("低于目标{}个百分点", d(-gap)),
                            (Lang::Zh, Measure::Amount, met) => format!(
                                "完成目标的{}%{}",
                                pct(j.completion_pct),
                                if met == Some(true) { "" } else { "，未达目标" }
                            ),
                            (Lang::En, Measure::Rate, met) => format!(
                                "{} pp {} the target{}",
                                d(gap.abs()),
                                if gap >= Decimal::ZERO { "above" } else { "below" },
                                if met == Some(true) { ", met" } else { ", missed" }
                            ),
                            (Lang::En, Measure::Amount, met) => format!(
                                "{} % of the target{}",
                                pct(j.completion_pct),
                                if met == Some(true) { ", met" } else { ", missed" }
                            ),
                        };
                        (actual, result)
                    }
                };
                if markdown {
                    let _ = writeln!(out, "| {} | {target} | {actual} | {result} |", ind.def.name);
                } else {
                    match lang {
                        Lang::Zh => writeln!(out, "{}：{target}；{actual}；{result}", ind.def.name),
                        Lang::En => writeln!(out, "{}: {target}; {actual}; {result}", ind.def.name),
                    }
                    .unwrap_or(());
                }
            }
        }
        out
    }
}

/// A dimension as people name it: the groupings in words (级别, 责任单位, 建设性质, 状态 /
/// level, department, ...), any other as the plan names it.
pub(crate) fn dimension_label(dimension: &str, lang: Lang) -> String {
    let key = match dimension {
        "level" => "word.field.level",
        "department" => "word.field.department",
        "construction" => "word.field.construction",
        "status" => "word.field.status",
        other => return other.to_string(),
    };
    crate::msg::text(lang, key).to_string()
}

/// A group of a breakdown as people name it: a level, a status or a 建设性质 in words (in
/// `lang`), any other value as recorded; empty as "(none)" / "（未填）".
pub(crate) fn group_label(dimension: &str, value: &str, lang: Lang) -> String {
    use crate::model::Construction;
    if value.is_empty() || value == NONE_VALUE {
        return crate::msg::text(lang, "summary.none").to_string();
    }
    match dimension {
        "level" => crate::text::level_named(lang, value),
        "construction" => Construction::parse("construction", value).map_or_else(
            |_| value.to_string(),
            |c| if lang == Lang::Zh { c.zh().to_string() } else { c.as_str().to_string() },
        ),
        "status" => crate::text::status_named(lang, value),
        _ => value.to_string(),
    }
}

impl Summary<'_> {
    /// The `--by` groups as a table (markdown) or aligned lines (text).
    fn breakdown_table(&self, by: &Breakdown, lang: Lang, markdown: bool) -> String {
        let header = match lang {
            Lang::Zh => ["分组", "项目数", "年度计划投资(亿元)", "完成投资(亿元)", "完成率", "开工率", "滞后项目"],
            Lang::En => {
                ["group", "projects", "planned (亿元)", "completed (亿元)", "completion", "start rate", "behind"]
            }
        };
        // The first column is named by the dimensions: "级别 / 建设性质", "block".
        let mut dims = Vec::new();
        let mut level = Some(by);
        while let Some(b) = level {
            dims.push(dimension_label(&b.dimension, lang));
            level = b.groups.values().find_map(|(_, sub)| sub.as_ref());
        }
        let first = dims.join(" / ");
        let mut header = header;
        header[0] = &first;
        let mut rows: Vec<[String; 7]> = Vec::new();
        fn walk(b: &Breakdown, prefix: &str, rows: &mut Vec<[String; 7]>, lang: Lang) {
            let mut groups: Vec<_> = b.groups.iter().collect();
            if b.dimension == "level" {
                // Reports list levels top down: 省, 市, 县, 区.
                let rank = |v: &str| {
                    crate::model::Level::parse("level", v)
                        .ok()
                        .and_then(|l| crate::model::Level::REPORT_ORDER.iter().position(|x| *x == l))
                        .unwrap_or(usize::MAX)
                };
                groups.sort_by_key(|(v, _)| rank(v));
            }
            for (value, (g, sub)) in groups {
                let label = group_label(&b.dimension, value, lang);
                let name = if prefix.is_empty() { label } else { format!("{prefix} / {label}") };
                rows.push([
                    name.clone(),
                    g.count.to_string(),
                    fmt_decimal(g.planned),
                    fmt_decimal(g.completed),
                    g.pct().map(|p| format!("{}%", fmt_pct(p))).unwrap_or_else(|| "-".into()),
                    Group::rate(g.started, g.planned_start).map(|p| format!("{p}%")).unwrap_or_else(|| "-".into()),
                    g.behind_schedule.to_string(),
                ]);
                if let Some(sub) = sub {
                    walk(sub, &name, rows, lang);
                }
            }
        }
        walk(by, "", &mut rows, lang);
        let mut out = String::new();
        if markdown {
            let _ = writeln!(out, "| {} |\n|{}", header.join(" | "), "---|".repeat(header.len()));
            for r in &rows {
                let _ = writeln!(out, "| {} |", r.join(" | "));
            }
        } else {
            use crate::text::Align::{Left, Right};
            let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
            out.push_str(&crate::text::grid("", &header, &[Left, Right, Right, Right, Right, Right, Right], &rows));
        }
        out.push('\n');
        out
    }
}

pub use crate::msg::Lang;
