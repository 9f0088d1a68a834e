//! The tables `planledger export` writes (项目明细表, 指标完成情况表, 汇总表, 月度完成投资表),
//! computed from a folded state on a date: the same figures `state` and `summary` print, laid
//! out as a plan office's spreadsheets are. Headers are Chinese or English (`Lang`).
//!
//! The project table carries every column of the import template under the template's
//! names, then the computed ones; the importer knows the computed ones and passes over them,
//! so an exported table imports again as the same listings (docs/spreadsheets.md).

use rust_decimal::Decimal;

use crate::model::{percent, Milestone, Status};
use crate::projection::{Indicator, Listing, Plan, State};
use crate::report::judge;
use crate::sheet::{ColumnKind as K, Table, Value};
use crate::summary::{behind_schedule, summarize, Group, Lang, On};

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// The plan as the plan office keeps it: sheets 项目 and 指标 with the template's
    /// columns only, ready to import (next year's draft, another store).
    Plan,
    Projects,
    Indicators,
    Summary,
    Monthly,
}

impl What {
    /// The tables `--what all` writes (the plan's own columns are in the project table).
    pub const ALL: [What; 4] = [What::Projects, What::Indicators, What::Summary, What::Monthly];

    pub fn parse(text: &str) -> crate::Result<What> {
        Ok(match text {
            "plan" | "计划" => What::Plan,
            "projects" | "项目" => What::Projects,
            "indicators" | "指标" => What::Indicators,
            "summary" | "汇总" => What::Summary,
            "monthly" | "月度" => What::Monthly,
            _ => return Err(crate::Error::invalid(msg!("export.not_a_table", what = text))),
        })
    }
}

/// A header in both languages.
type Header = (&'static str, &'static str, K);

fn table(name: (&'static str, &'static str), headers: &[Header], lang: Lang) -> Table {
    let pick = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
    let columns: Vec<(&str, K)> = headers.iter().map(|(zh, en, k)| (pick(zh, en), *k)).collect();
    Table::new(pick(name.0, name.1), &columns)
}

fn text(s: impl Into<String>) -> Value {
    let s = s.into();
    if s.is_empty() {
        Value::Empty
    } else {
        Value::Text(s)
    }
}

fn amount(d: Option<Decimal>) -> Value {
    d.map_or(Value::Empty, Value::Decimal)
}

/// A percentage as reports print it (one decimal, half away from zero), as a figure.
fn pct(p: Option<Decimal>) -> Value {
    p.map_or(Value::Empty, |p| {
        Value::Decimal(p.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
    })
}

fn status_name(s: Status, lang: Lang) -> &'static str {
    match (s, lang) {
        (Status::Planned, Lang::Zh) => "未开工",
        (Status::Started, Lang::Zh) => "在建",
        (Status::Completed, Lang::Zh) => "已竣工",
        (Status::Operating, Lang::Zh) => "已投产",
        (s, Lang::En) => s.as_str(),
    }
}

fn yes(b: bool, lang: Lang) -> Value {
    match (b, lang) {
        (true, Lang::Zh) => text("是"),
        (false, Lang::Zh) => text("否"),
        (true, Lang::En) => text("yes"),
        (false, Lang::En) => text("no"),
    }
}

/// The columns of the project table that the import template has (the 项目 sheet).
pub const PROJECT_TEMPLATE: &[Header] = &[
    ("项目编号", "id", K::Text),
    ("项目名称", "name", K::Text),
    ("建设性质", "construction", K::Text),
    ("级别", "level", K::Text),
    ("责任单位", "department", K::Text),
    ("建设单位", "builder", K::Text),
    ("建设地点", "location", K::Text),
    ("总投资（亿元）", "total investment (100M yuan)", K::Amount),
    ("至上年底累计完成投资（亿元）", "completed before the year (100M yuan)", K::Amount),
    ("年度计划投资（亿元）", "planned investment (100M yuan)", K::Amount),
    ("计划开工时间", "planned start", K::Text),
    ("计划竣工时间", "planned completion", K::Text),
    ("计划投产时间", "planned operation", K::Text),
    ("年度建设目标", "goal of the year", K::Text),
    ("备注", "remark", K::Text),
];

/// The project table's computed columns (the importer passes over them).
pub const PROJECT_COMPUTED: &[Header] = &[
    ("完成投资（亿元）", "completed investment (100M yuan)", K::Amount),
    ("完成率（%）", "completion (%)", K::Percent),
    ("状态", "status", K::Text),
    ("实际开工日期", "started on", K::Text),
    ("实际竣工日期", "completed on", K::Text),
    ("实际投产日期", "operating since", K::Text),
    ("滞后", "behind schedule", K::Text),
    ("调出日期", "withdrawn on", K::Text),
];

/// Template columns kept as dimensions; any other dimension gets a column of its own.
const TEMPLATE_DIMENSIONS: &[&str] = &["建设单位", "建设地点", "年度建设目标", "备注"];

/// The plan's own tables (项目 and 指标, the template's columns): what `plan import` reads.
pub fn plan(state: &State, plans: &[&Plan], on: On) -> Vec<Table> {
    let mut projects = projects(state, plans, on, Lang::Zh);
    let keep = projects.columns.len() - PROJECT_COMPUTED.len();
    projects.columns.truncate(keep);
    for r in &mut projects.rows {
        r.truncate(keep);
    }
    projects.name = "项目".into();
    let mut indicators = indicators(state, plans, on, Lang::Zh);
    let keep = PLAN_INDICATOR_COLUMNS;
    indicators.columns.truncate(keep);
    for r in &mut indicators.rows {
        r.truncate(keep);
    }
    indicators.name = "指标".into();
    vec![projects, indicators]
}

/// The indicator table's columns that the import template has (the rest are judgements).
const PLAN_INDICATOR_COLUMNS: usize = 8;

/// 项目明细表: every project of `plans` as on `on`.
pub fn projects(state: &State, plans: &[&Plan], on: On, lang: Lang) -> Table {
    let extra: Vec<String> = {
        let mut keys: Vec<String> = plans
            .iter()
            .flat_map(|p| p.projects.values())
            .flat_map(|l| l.def.dimensions.keys())
            .filter(|k| !TEMPLATE_DIMENSIONS.contains(&k.as_str()))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let mut t = table(("项目明细表", "projects"), PROJECT_TEMPLATE, lang);
    let template_len = t.columns.len();
    t.columns.splice(
        template_len..template_len,
        extra.iter().map(|k| crate::sheet::TableColumn { header: k.clone(), kind: K::Text }),
    );
    let computed = table(("", ""), PROJECT_COMPUTED, lang);
    t.columns.extend(computed.columns);
    for plan in plans {
        for (id, l) in plan.projects.sorted() {
            t.rows.push(project_row(state, id, l, &extra, on, lang));
        }
    }
    t
}

fn project_row(state: &State, id: &str, l: &Listing, extra: &[String], on: On, lang: Lang) -> Vec<Value> {
    let at = Some(on.date);
    let dim = |k: &str| text(l.def.dimensions.get(k).cloned().unwrap_or_default());
    // A planned month, or the year alone when the plan names the milestone without a month.
    let month = |m: Milestone| match l.planned_month(m) {
        // A 续建 project's opening state: the day it started, before the plan year.
        None if m == Milestone::Start && l.def.started.is_some() => {
            text(l.def.started.map(|d| d.to_string()).unwrap_or_default())
        }
        Some(x) => text(x.to_string()),
        None if l.def.planned_milestones.contains(&m) => text(format!("{}年", on.year)),
        None => Value::Empty,
    };
    let reached = |m: Milestone| {
        text(
            l.progress.milestones.get(&m).filter(|e| e.date <= on.date).map(|e| e.date.to_string()).unwrap_or_default(),
        )
    };
    let department = state.departments.get(&l.def.department).map_or(l.def.department.as_str(), |d| d.name.as_str());
    // Listed with an opening start (a plan file's `started`) is 续建 by definition.
    let construction = l
        .schedule
        .as_ref()
        .and_then(|s| s.construction)
        .or(l.def.started.map(|_| crate::model::Construction::Continuing));
    let level = if lang == Lang::Zh { l.def.level.zh() } else { l.def.level.as_str() };
    let completed = l.progress.completed(at);
    let mut row = vec![
        text(id),
        text(l.def.name.clone()),
        text(construction.map_or("", |c| if lang == Lang::Zh { c.zh() } else { c.as_str() })),
        text(level),
        text(department),
        dim("建设单位"),
        dim("建设地点"),
        amount(l.def.total_investment),
        amount(l.schedule.as_ref().and_then(|s| s.prior_investment)),
        Value::Decimal(l.planned_investment),
        month(Milestone::Start),
        month(Milestone::Complete),
        month(Milestone::Operate),
        dim("年度建设目标"),
        dim("备注"),
    ];
    row.extend(extra.iter().map(|k| dim(k)));
    let started_on = l.progress.started_on().filter(|d| *d <= on.date).map(|d| d.to_string());
    row.extend([
        Value::Decimal(completed),
        pct(percent(completed, l.planned_investment)),
        text(status_name(l.progress.status(at), lang)),
        text(started_on.unwrap_or_default()),
        reached(Milestone::Complete),
        reached(Milestone::Operate),
        behind_schedule(l, on).map_or(Value::Empty, |b| yes(b, lang)),
        text(l.withdrawn.filter(|w| w.date <= on.date).map(|w| w.date.to_string()).unwrap_or_default()),
    ]);
    row
}

/// The indicator table's columns: the template's (the 指标 sheet), then the judgement.
pub const INDICATOR_HEADERS: &[Header] = &[
    ("指标编号", "id", K::Text),
    ("指标名称", "name", K::Text),
    ("单位", "unit", K::Text),
    ("类型", "measure", K::Text),
    ("目标值", "target", K::Amount),
    ("比较", "comparison", K::Text),
    ("属性", "nature", K::Text),
    ("责任单位", "department", K::Text),
    ("实际值", "actual", K::Amount),
    ("实际值期间", "actual period", K::Text),
    ("口径", "basis", K::Text),
    ("完成情况", "met", K::Text),
    ("差距", "gap", K::Amount),
    ("完成率（%）", "completion (%)", K::Percent),
];

/// 指标完成情况表.
pub fn indicators(state: &State, plans: &[&Plan], on: On, lang: Lang) -> Table {
    let mut t = table(("指标完成情况表", "indicators"), INDICATOR_HEADERS, lang);
    for plan in plans {
        let mut inds: Vec<(&String, &Indicator)> = plan.indicators.iter().collect();
        inds.sort_by_key(|(id, _)| id.as_str());
        for (id, ind) in inds {
            t.rows.push(indicator_row(state, id, ind, on, lang));
        }
    }
    t
}

fn indicator_row(state: &State, id: &str, ind: &Indicator, on: On, lang: Lang) -> Vec<Value> {
    use crate::model::{Basis, Comparison, Measure, Nature};
    let zh = lang == Lang::Zh;
    let j = judge(ind, Some(on.date));
    let d = &ind.def;
    let department = state.departments.get(&d.department).map_or(d.department.as_str(), |x| x.name.as_str());
    let measure = match (d.measure, zh) {
        (Measure::Amount, true) => "总量",
        (Measure::Rate, true) => "增速",
        (m, false) => m.as_str(),
    };
    let comparison = match (d.comparison, d.approximate, zh) {
        (_, true, true) => "左右",
        (Comparison::AtLeast, false, true) => "不低于",
        (Comparison::AtMost, _, true) => "不高于",
        (c, approx, false) => {
            if approx {
                "about"
            } else {
                c.as_str()
            }
        }
    };
    let nature = match (d.nature, zh) {
        (Nature::Expected, true) => "预期性",
        (Nature::Binding, true) => "约束性",
        (n, false) => n.as_str(),
    };
    let basis = j.actual.as_ref().map(|a| match (a.basis, zh) {
        (Basis::Estimate, true) => "预计",
        (Basis::Preliminary, true) => "初步",
        (Basis::Final, true) => "正式",
        (b, false) => b.as_str(),
    });
    let met = j.met.map(|m| match (m, zh) {
        (true, true) => "完成",
        (false, true) => "未完成",
        (true, false) => "met",
        (false, false) => "not met",
    });
    // Without a target, no comparison nor nature either.
    let (comparison, nature) = if ind.target.is_some() { (comparison, nature) } else { ("", "") };
    vec![
        text(id),
        text(d.name.clone()),
        text(d.unit.clone()),
        text(measure),
        amount(ind.target),
        text(comparison),
        text(nature),
        text(department),
        amount(j.actual.as_ref().map(|a| a.value)),
        text(j.actual.as_ref().map(|a| a.period.to_string()).unwrap_or_default()),
        text(basis.unwrap_or_default()),
        text(met.unwrap_or_default()),
        amount(j.gap),
        pct(j.completion_pct),
    ]
}

const SUMMARY_HEADERS: &[Header] = &[
    ("分组", "group", K::Text),
    ("项目数", "projects", K::Count),
    ("年度计划投资（亿元）", "planned investment (100M yuan)", K::Amount),
    ("完成投资（亿元）", "completed investment (100M yuan)", K::Amount),
    ("完成率（%）", "completion (%)", K::Percent),
    ("计划开工", "planned starts", K::Count),
    ("已开工", "started", K::Count),
    ("开工率（%）", "start rate (%)", K::Percent),
    ("计划竣工", "planned completions", K::Count),
    ("已竣工", "completed", K::Count),
    ("竣工率（%）", "completion rate (%)", K::Percent),
    ("计划投产", "planned operations", K::Count),
    ("已投产", "operating", K::Count),
    ("投产率（%）", "operation rate (%)", K::Percent),
    ("达到序时进度", "on schedule", K::Count),
    ("滞后", "behind schedule", K::Count),
];

fn summary_row(label: &str, g: &Group) -> Vec<Value> {
    let rate = |a: u64, b: u64| pct(percent(Decimal::from(a), Decimal::from(b)));
    vec![
        text(label),
        Value::Count(g.count),
        Value::Decimal(g.planned),
        Value::Decimal(g.completed),
        pct(g.pct()),
        Value::Count(g.planned_start),
        Value::Count(g.started),
        rate(g.started, g.planned_start),
        Value::Count(g.planned_complete),
        Value::Count(g.completed_n),
        rate(g.completed_n, g.planned_complete),
        Value::Count(g.planned_operate),
        Value::Count(g.operating),
        rate(g.operating, g.planned_operate),
        Value::Count(g.on_schedule),
        Value::Count(g.behind_schedule),
    ]
}

/// 汇总表: the year's key projects, all and by level (省市 together as reports count them).
pub fn summary(state: &State, year: i32, on: On, lang: Lang) -> Table {
    let s = summarize(state, year, on, &[]);
    let mut t = table(("汇总表", "summary"), SUMMARY_HEADERS, lang);
    let zh = lang == Lang::Zh;
    t.rows.push(summary_row(if zh { "全部重点项目" } else { "all" }, &s.all));
    for level in crate::model::Level::REPORT_ORDER {
        if let Some(g) = s.levels.get(&level).filter(|g| g.count > 0) {
            t.rows.push(summary_row(if zh { level.zh() } else { level.as_str() }, g));
        }
    }
    t.rows.push(summary_row(if zh { "省市重点项目" } else { "province+city" }, &s.province_city()));
    t
}

/// 月度完成投资表: each project's completed investment month by month.
pub fn monthly(plans: &[&Plan], on: On, lang: Lang) -> Table {
    let zh = lang == Lang::Zh;
    let mut headers: Vec<(String, K)> = vec![
        ((if zh { "项目编号" } else { "id" }).into(), K::Text),
        ((if zh { "项目名称" } else { "name" }).into(), K::Text),
        ((if zh { "年度计划投资（亿元）" } else { "planned (100M yuan)" }).into(), K::Amount),
    ];
    headers.extend((1..=12).map(|m| (if zh { format!("{m}月") } else { format!("{}-{m:02}", on.year) }, K::Amount)));
    headers.push(((if zh { "合计" } else { "total" }).into(), K::Amount));
    headers.push(((if zh { "完成率（%）" } else { "completion (%)" }).into(), K::Percent));
    let columns: Vec<(&str, K)> = headers.iter().map(|(h, k)| (h.as_str(), *k)).collect();
    let mut t = Table::new(if zh { "月度完成投资表" } else { "monthly" }, &columns);
    for plan in plans {
        for (id, l) in plan.projects.sorted() {
            let mut row = vec![text(id.as_str()), text(l.def.name.clone()), Value::Decimal(l.planned_investment)];
            let year = plan.def.year;
            row.extend((1..=12u8).map(|m| {
                let month = crate::model::Month { year, month: m };
                amount(l.progress.investments.get(&month).filter(|_| month.last_day() <= on.date).map(|e| e.amount))
            }));
            let total = l.progress.completed(Some(on.date));
            row.push(Value::Decimal(total));
            row.push(pct(percent(total, l.planned_investment)));
            t.rows.push(row);
        }
    }
    t
}

/// A drop-down list of a template: sheet, column index, choices.
pub type DropDown = (String, usize, Vec<String>);

/// The blank plan import template: sheets 计划 (the plan's id, year, title, jurisdiction),
/// 项目 (the template's columns) and 指标, with drop-down lists for 建设性质, 级别, 类型,
/// 比较, 属性 and 责任单位 (the `departments` named).
pub fn plan_template(departments: &[String]) -> (Vec<Table>, Vec<DropDown>) {
    let mut plan = Table::new("计划", &[("项目", K::Text), ("内容", K::Text)]);
    for k in ["计划编号", "年度", "标题", "行政区"] {
        plan.rows.push(vec![text(k), Value::Empty]);
    }
    let projects = table(("项目", "项目"), PROJECT_TEMPLATE, Lang::Zh);
    let indicators = table(("指标", "指标"), &INDICATOR_HEADERS[..PLAN_INDICATOR_COLUMNS], Lang::Zh);
    let list = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let col = |t: &Table, name: &str| t.columns.iter().position(|c| c.header == name).unwrap_or(0);
    let mut drops = vec![
        ("项目".to_string(), col(&projects, "建设性质"), list(&["新建", "续建", "前期"])),
        ("项目".to_string(), col(&projects, "级别"), list(&["省", "市", "县", "区", "省市"])),
        ("指标".to_string(), col(&indicators, "类型"), list(&["总量", "增速"])),
        ("指标".to_string(), col(&indicators, "比较"), list(&["不低于", "不高于", "左右"])),
        ("指标".to_string(), col(&indicators, "属性"), list(&["预期性", "约束性"])),
    ];
    if !departments.is_empty() {
        drops.push(("项目".to_string(), col(&projects, "责任单位"), departments.to_vec()));
        drops.push(("指标".to_string(), col(&indicators, "责任单位"), departments.to_vec()));
    }
    (vec![plan, projects, indicators], drops)
}

/// The blank monthly report template (月报).
pub fn report_template() -> Table {
    Table::new(
        "月报",
        &[
            ("项目编号", K::Text),
            ("项目名称", K::Text),
            ("月份", K::Text),
            ("本月完成投资（亿元）", K::Amount),
            ("累计完成投资（亿元）", K::Amount),
            ("开工时间", K::Text),
            ("竣工时间", K::Text),
            ("投产时间", K::Text),
            ("形象进度", K::Text),
            ("存在问题", K::Text),
        ],
    )
}
