//! A year's plan from the plan office's spreadsheet (docs/spreadsheets.md): the key-project
//! list (sheet 项目) and the indicator table (sheet 指标), with Chinese headers, into the same
//! `PlanImport` a plan file gives.
//!
//! Every row is checked and every problem listed (up to `sheet::PROBLEMS_MAX`) before the
//! import is refused, so one run tells the clerk everything to fix. Departments are named as
//! the sheet names them (责任单位) and matched to the ledger's by name or id; a name the
//! ledger does not know becomes a new department whose id is that name.

use std::collections::{BTreeMap, BTreeSet};

use crate::decide::PlanImport;
use crate::error::{Error, Result};
use crate::event::{
    DepartmentRegistered, IndicatorDefined, IndicatorTracked, PlanDeclared, ProjectListed, ProjectScheduled,
};
use crate::model::{check_text, Comparison, Construction, Level, Measure, Milestone, Nature, YEAR_MAX, YEAR_MIN};
use crate::msg::Msg;
use crate::sheet::{
    cell_amount, cell_decimal, cell_month, find_header, is_total_row, normalize_header, year_in, Cell, Header,
    Problems, Sheet, Workbook,
};

/// The project sheet's columns (the template's names) and the other names tables use for them.
pub const PROJECT_COLUMNS: &[(&str, &[&str])] = &[
    ("序号", &["编号序号", "No", "no"]),
    ("项目编号", &["编号", "项目代码", "项目编码", "项目代号", "id"]),
    ("项目名称", &["名称", "项目", "项目名", "name"]),
    ("建设性质", &["性质", "项目性质", "建设类型", "construction"]),
    ("级别", &["项目级别", "层级", "级次", "类别", "level"]),
    ("责任单位", &["牵头单位", "责任部门", "牵头部门", "主管部门", "主管单位", "责任主体", "department"]),
    ("建设单位", &["业主单位", "项目单位", "实施单位", "项目业主", "builder"]),
    ("建设地点", &["地点", "项目地点", "建设地址", "所在地", "项目所在地", "location"]),
    ("总投资", &["项目总投资", "计划总投资", "估算总投资", "totalinvestment"]),
    (
        "至上年底累计完成投资",
        &["至上年底累计", "截至上年底累计完成投资", "以前年度完成投资", "至上年底完成投资", "completedbeforetheyear"],
    ),
    (
        "年度计划投资",
        &["本年计划投资", "年度投资计划", "计划投资", "本年度计划投资", "年度计划", "年计划投资", "plannedinvestment"],
    ),
    ("计划开工时间", &["开工时间", "计划开工", "开工日期", "计划开工日期", "plannedstart"]),
    ("计划竣工时间", &["竣工时间", "计划竣工", "竣工日期", "计划竣工日期", "plannedcompletion"]),
    ("计划投产时间", &["投产时间", "计划投产", "投产日期", "plannedoperation"]),
    ("年度建设目标", &["建设目标", "年度目标", "年度建设内容", "年度形象进度", "形象进度目标", "goaloftheyear"]),
    ("备注", &["说明", "remark"]),
    // What `export` adds after the template's columns: known, so they are not taken for
    // dimensions, and not imported (they are computed from events).
    ("完成投资", &["本年完成投资", "completedinvestment"]),
    ("完成率", &["completion"]),
    ("状态", &["status"]),
    ("实际开工日期", &["startedon"]),
    ("实际竣工日期", &["completedon"]),
    ("实际投产日期", &["operatingsince"]),
    ("滞后", &["behindschedule"]),
    ("调出日期", &["withdrawnon"]),
];

/// The indicator sheet's columns.
pub const INDICATOR_COLUMNS: &[(&str, &[&str])] = &[
    ("序号", &[]),
    ("指标编号", &["编号", "指标代码"]),
    ("指标名称", &["指标", "名称", "主要指标"]),
    ("单位", &["计量单位", "单位名称"]),
    ("类型", &["指标类型", "类别"]),
    ("目标值", &["目标", "预期目标", "年度目标", "计划目标", "年度预期目标", "目标任务"]),
    ("比较", &["比较方式", "要求"]),
    ("属性", &["指标属性", "性质"]),
    ("责任单位", &["牵头单位", "责任部门", "牵头部门"]),
    // What `export` adds (see PROJECT_COLUMNS).
    ("实际值", &[]),
    ("实际值期间", &[]),
    ("口径", &[]),
    ("完成情况", &[]),
    ("差距", &[]),
    ("完成率", &[]),
];

/// Template columns kept on a listing as dimensions (descriptions and groupings, not figures
/// the ledger computes with), under the template's name. 建设性质, the planned months and
/// 至上年底累计完成投资 are recorded typed, in the listing's schedule.
const PROJECT_DIMENSIONS: &[&str] = &["建设单位", "建设地点", "年度建设目标", "备注"];

/// What the command line says of the plan (flags win over the workbook).
#[derive(Clone, Debug, Default)]
pub struct PlanMeta {
    pub plan: Option<String>,
    pub year: Option<i32>,
    pub title: Option<String>,
    pub jurisdiction: Option<String>,
}

/// A department the ledger knows: id and name.
#[derive(Clone, Debug)]
pub struct KnownDepartment {
    pub id: String,
    pub name: String,
}

/// The plan in a workbook. `known` are the ledger's departments; `actor` the importing one,
/// registered as the coordinator when the ledger has no department yet.
pub fn plan_from_workbook(
    wb: &Workbook,
    meta: &PlanMeta,
    known: &[KnownDepartment],
    actor: &str,
) -> Result<PlanImport> {
    let projects_sheet = pick_sheet(wb, "项目", PROJECT_COLUMNS, &["项目名称", "项目编号"]);
    let indicators_sheet = pick_sheet(wb, "指标", INDICATOR_COLUMNS, &["指标名称"]);
    if projects_sheet.is_none() && indicators_sheet.is_none() {
        return Err(Error::invalid(msg!("plan_sheet.no_sheet")));
    }
    let plan = plan_declared(wb, meta, projects_sheet.as_ref().or(indicators_sheet.as_ref()))?;
    let mut problems = Problems::default();
    let mut depts = Departments::new(known, actor);
    let projects = match projects_sheet {
        Some((sheet, header)) => read_projects(sheet, &header, &plan, &mut depts, &mut problems),
        None => Vec::new(),
    };
    let indicators = match indicators_sheet {
        Some((sheet, header)) => read_indicators(sheet, &header, &plan, &mut depts, &mut problems),
        None => (Vec::new(), Vec::new()),
    };
    let (indicators, tracked) = indicators;
    problems.into_result(msg!("input.workbook"))?;
    let (projects, schedules): (Vec<ProjectListed>, Vec<Option<ProjectScheduled>>) = projects.into_iter().unzip();
    let schedules = schedules.into_iter().flatten().collect();
    Ok(PlanImport { plan, departments: depts.new, indicators, projects, schedules, tracked })
}

/// The sheet named `name` (or the only sheet, or one whose header has the `key` columns),
/// with its header.
fn pick_sheet<'w>(
    wb: &'w Workbook,
    name: &str,
    columns: &'static [(&'static str, &'static [&'static str])],
    key: &[&str],
) -> Option<(&'w Sheet, Header)> {
    let with_header =
        |s: &'w Sheet| find_header(s, columns, 2).filter(|h| key.iter().any(|k| h.index(k).is_some())).map(|h| (s, h));
    wb.sheets
        .iter()
        .filter(|s| s.name.contains(name))
        .find_map(with_header)
        .or_else(|| wb.sheets.iter().find_map(with_header))
}

/// The plan's id, year, title and jurisdiction: the flags, else a 计划 sheet (rows of name
/// and value), else the title row ("管城区2021年重点项目计划表").
fn plan_declared(wb: &Workbook, meta: &PlanMeta, main: Option<&(&Sheet, Header)>) -> Result<PlanDeclared> {
    let info: BTreeMap<String, String> = wb
        .sheets
        .iter()
        .filter(|s| s.name.contains("计划") && !s.name.contains("项目"))
        .flat_map(|s| s.rows.iter())
        .filter_map(|r| Some((normalize_header(&r.first()?.text()), r.get(1)?.text())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let title_row = main.and_then(|(_, h)| h.title_rows.iter().find(|t| year_in(t).is_some()).cloned());
    let from_title = title_row.as_deref().and_then(year_in);
    let year = match meta.year.or_else(|| info.get("年度").and_then(|y| y.trim_end_matches('年').parse().ok())) {
        Some(y) => y,
        None => from_title.map(|(y, _)| y).ok_or_else(|| Error::invalid(msg!("plan_sheet.no_year")))?,
    };
    if !(YEAR_MIN..=YEAR_MAX).contains(&year) {
        return Err(Error::invalid(msg!("input.year_outside", year = year, min = YEAR_MIN, max = YEAR_MAX)));
    }
    let jurisdiction = meta
        .jurisdiction
        .clone()
        .or_else(|| info.get("行政区").or(info.get("地区")).cloned())
        .or_else(|| from_title.map(|(_, j)| j.trim().to_string()).filter(|j| !j.is_empty()))
        .ok_or_else(|| Error::invalid(msg!("plan_sheet.no_jurisdiction")))?;
    let title = meta
        .title
        .clone()
        .or_else(|| info.get("标题").cloned())
        .or(title_row)
        .unwrap_or_else(|| format!("{jurisdiction}{year}年重点项目计划"));
    let plan =
        meta.plan.clone().or_else(|| info.get("计划编号").cloned()).unwrap_or_else(|| format!("{jurisdiction}-{year}"));
    crate::model::check_id("plan", &plan)?;
    check_text("title", &title, true)?;
    check_text("jurisdiction", &jurisdiction, true)?;
    Ok(PlanDeclared { plan, year, title, jurisdiction })
}

/// Departments named in the sheets, resolved to ids: the ledger's (by id or name, ignoring
/// width and spaces), else new ones (id = name).
struct Departments<'k> {
    known: &'k [KnownDepartment],
    new: Vec<DepartmentRegistered>,
}

impl<'k> Departments<'k> {
    fn new(known: &'k [KnownDepartment], actor: &str) -> Self {
        let mut d = Departments { known, new: Vec::new() };
        if known.is_empty() {
            d.new.push(DepartmentRegistered { dept: actor.to_string(), name: actor.to_string(), coordinator: true });
        }
        d
    }

    /// The id of the department a 责任单位 cell names (its first, when it lists several).
    fn resolve(&mut self, cell: &str) -> std::result::Result<String, Msg> {
        let lead = cell.split(['、', '，', ',', '；', ';', '/']).map(str::trim).find(|s| !s.is_empty()).unwrap_or("");
        if lead.is_empty() {
            return Err(msg!("plan_sheet.department_empty"));
        }
        let key = crate::names::look_alike_key(lead);
        let same = |id: &str, name: &str| {
            id == lead
                || name == lead
                || crate::names::look_alike_key(name) == key
                || crate::names::look_alike_key(id) == key
        };
        if let Some(k) = self.known.iter().find(|k| same(&k.id, &k.name)) {
            return Ok(k.id.clone());
        }
        if let Some(n) = self.new.iter().find(|n| same(&n.dept, &n.name)) {
            return Ok(n.dept.clone());
        }
        crate::model::check_id("department", lead).map_err(|e| e.to_msg())?;
        self.new.push(DepartmentRegistered { dept: lead.to_string(), name: lead.to_string(), coordinator: false });
        Ok(lead.to_string())
    }
}

/// The cells of one data row, by canonical column, with where each is for messages.
struct Row<'a> {
    sheet: &'a str,
    /// 1-based, as the spreadsheet numbers rows.
    number: usize,
    cells: &'a [Cell],
    header: &'a Header,
}

impl Row<'_> {
    fn get(&self, name: &str) -> Option<&Cell> {
        self.header.index(name).and_then(|i| self.cells.get(i)).filter(|c| !c.is_empty())
    }

    fn text(&self, name: &str) -> String {
        self.get(name).map(Cell::text).unwrap_or_default()
    }

    /// A problem in `column`, named as the sheet's header writes it.
    fn problem(&self, problems: &mut Problems, column: &str, why: impl Into<Msg>) {
        problems.cell(self.sheet, self.number, self.header.written(column), &self.text(column), why);
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_empty)
    }
}

/// Data rows of a sheet below its header: blank and total rows skipped.
fn data_rows<'a>(sheet: &'a Sheet, header: &'a Header) -> impl Iterator<Item = Row<'a>> + 'a {
    sheet
        .rows
        .iter()
        .enumerate()
        .skip(header.last_row + 1)
        .map(move |(i, cells)| Row { sheet: &sheet.name, number: i + 1, cells, header })
        .filter(|r| !r.is_blank() && !is_total_row(r.cells))
}

/// A section row ("一、省级重点项目（15个）"): text in its first cells only, no figures. Gives
/// the level of the rows below it that do not name one.
fn section_level(row: &Row<'_>) -> Option<Option<Level>> {
    let filled: Vec<String> = row.cells.iter().map(Cell::text).filter(|t| !t.is_empty()).collect();
    if filled.len() > 2 || row.get("年度计划投资").is_some() {
        return None;
    }
    let text = filled.join("");
    let level = [("省", Level::Province), ("市", Level::City), ("县", Level::County), ("区", Level::District)]
        .into_iter()
        .find(|(zh, _)| text.contains(&format!("{zh}级")) || text.contains(&format!("{zh}重点")))
        .map(|(_, l)| l);
    Some(level)
}

fn read_projects(
    sheet: &Sheet,
    header: &Header,
    plan: &PlanDeclared,
    depts: &mut Departments<'_>,
    problems: &mut Problems,
) -> Vec<(ProjectListed, Option<ProjectScheduled>)> {
    for needed in ["项目名称", "年度计划投资"] {
        if header.index(needed).is_none() && !(needed == "项目名称" && header.index("项目编号").is_some()) {
            problems.add(msg!("plan_sheet.no_column", sheet = &sheet.name, column = needed));
        }
    }
    if !problems.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut section: Option<Level> = None;
    for row in data_rows(sheet, header) {
        if let Some(level) = section_level(&row) {
            section = level.or(section);
            continue;
        }
        if let Some(p) = read_project(&row, plan, section, depts, problems) {
            if !ids.insert(p.0.project.clone()) {
                row.problem(problems, "项目编号", msg!("plan_sheet.listed_twice"));
                continue;
            }
            out.push(p);
        }
    }
    out
}

/// One project row; `None` (with its problems added) when any cell is wrong.
fn read_project(
    row: &Row<'_>,
    plan: &PlanDeclared,
    section: Option<Level>,
    depts: &mut Departments<'_>,
    problems: &mut Problems,
) -> Option<(ProjectListed, Option<ProjectScheduled>)> {
    let before = problems.len();
    let name = row.text("项目名称");
    let code = row.text("项目编号");
    let id = if code.is_empty() { name.clone() } else { code };
    let id_column = if row.get("项目编号").is_some() { "项目编号" } else { "项目名称" };
    if id.is_empty() {
        row.problem(problems, "项目名称", msg!("plan_sheet.project_name_empty"));
    } else if let Err(e) = crate::model::check_id("project", &id) {
        row.problem(problems, id_column, e.to_msg());
    }
    let name = if name.is_empty() { id.clone() } else { name };
    if let Err(e) = check_text("项目名称", &name, true) {
        row.problem(problems, "项目名称", e.to_msg());
    }
    let level = match row.get("级别").map(Cell::text) {
        Some(t) => Level::parse("级别", &t).map_err(|_| ()).ok().or_else(|| {
            row.problem(problems, "级别", msg!("plan_sheet.not_a_level"));
            None
        }),
        None => section.or_else(|| {
            row.problem(problems, "级别", msg!("plan_sheet.level_empty"));
            None
        }),
    };
    let department = match depts.resolve(&row.text("责任单位")) {
        Ok(d) => Some(d),
        Err(why) => {
            row.problem(problems, "责任单位", why);
            None
        }
    };
    let amount = |problems: &mut Problems, column: &str| {
        let cell = row.get(column)?;
        let unit = header_unit(row.header, column);
        cell_amount(cell, unit).unwrap_or_else(|why| {
            row.problem(problems, column, why);
            None
        })
    };
    let planned = amount(problems, "年度计划投资");
    if row.get("年度计划投资").is_none() {
        row.problem(problems, "年度计划投资", msg!("plan_sheet.planned_empty"));
    }
    let total = amount(problems, "总投资");
    let prior = amount(problems, "至上年底累计完成投资");
    let construction = row.get("建设性质").map(Cell::text).and_then(|t| {
        Construction::parse("建设性质", &t)
            .map_err(|_| row.problem(problems, "建设性质", msg!("plan_sheet.not_a_construction")))
            .ok()
    });
    // A project under way before the plan year (续建) may give the day it started, in the
    // start column: the listing's opening state.
    let started = row
        .get("计划开工时间")
        .filter(|_| construction != Some(Construction::New))
        .filter(|c| {
            matches!(c, Cell::Date(_)) || c.text().matches(['-', '.', '/']).count() == 2 || c.text().ends_with('日')
        })
        .and_then(|c| crate::sheet::cell_date(c).ok().flatten())
        .filter(|d| d.year() < plan.year);
    let mut planned_milestones = Vec::new();
    let mut months = [None; 3];
    for (column, milestone) in [
        ("计划开工时间", Milestone::Start),
        ("计划竣工时间", Milestone::Complete),
        ("计划投产时间", Milestone::Operate),
    ] {
        let Some(cell) = row.get(column) else { continue };
        if milestone == Milestone::Start && started.is_some() {
            continue;
        }
        // A year alone ("2021年"): the milestone is planned that year, its month not set.
        let written = cell.text();
        let year_only = written.trim_end_matches('年');
        if year_only.len() == 4 && year_only.bytes().all(|b| b.is_ascii_digit()) {
            if year_only.parse() == Ok(plan.year) {
                planned_milestones.push(milestone);
            }
            continue;
        }
        match cell_month(cell) {
            Ok(Some(m)) => {
                if m.year == plan.year {
                    planned_milestones.push(milestone);
                }
                months[milestone as usize] = Some(m);
            }
            Ok(None) => {}
            Err(why) => row.problem(problems, column, why),
        }
    }
    if construction == Some(Construction::Continuing)
        && months[0].is_some_and(|m: crate::model::Month| m.year >= plan.year)
    {
        row.problem(problems, "计划开工时间", msg!("plan_sheet.continuing_starts_in_year"));
    }
    if let (Some(p), Some(t)) = (prior, total) {
        if p > t {
            row.problem(problems, "至上年底累计完成投资", msg!("plan_sheet.prior_over_total"));
        }
    }
    let mut dimensions = BTreeMap::new();
    for column in PROJECT_DIMENSIONS {
        if let Some(v) = row.get(column).map(Cell::text) {
            dimensions.insert(column.to_string(), v);
        }
    }
    // Columns the template does not know: dimensions under their header (`--by 片区`).
    for (i, col) in row.header.columns.iter().enumerate() {
        if col.canonical.is_some() || col.written.is_empty() {
            continue;
        }
        if let Some(cell) = row.cells.get(i).filter(|c| !c.is_empty()) {
            dimensions.insert(col.written.clone(), cell.text());
        }
    }
    for (k, v) in &dimensions {
        if let Err(e) = check_text(k, v, true) {
            row.problem(problems, k, e.to_msg());
        }
    }
    if problems.len() > before {
        return None;
    }
    let schedule =
        (construction.is_some() || months.iter().any(Option::is_some) || prior.is_some()).then(|| ProjectScheduled {
            plan: plan.plan.clone(),
            project: id.clone(),
            construction,
            planned: months,
            prior_investment: prior,
        });
    let listing = ProjectListed {
        plan: plan.plan.clone(),
        project: id,
        name,
        level: level?,
        department: department?,
        planned_investment: planned?,
        total_investment: total,
        planned_milestones,
        started,
        dimensions,
        carried: Vec::new(),
    };
    Some((listing, schedule))
}

fn header_unit(header: &Header, column: &str) -> crate::sheet::Unit {
    header.index(column).map_or(crate::sheet::Unit::Yi, |i| header.unit(i))
}

fn read_indicators(
    sheet: &Sheet,
    header: &Header,
    plan: &PlanDeclared,
    depts: &mut Departments<'_>,
    problems: &mut Problems,
) -> (Vec<IndicatorDefined>, Vec<IndicatorTracked>) {
    let mut out = (Vec::new(), Vec::new());
    if header.index("指标名称").is_none() {
        problems.add(msg!("plan_sheet.no_column", sheet = &sheet.name, column = "指标名称"));
        return out;
    }
    let mut ids = BTreeSet::new();
    for row in data_rows(sheet, header) {
        let Some(ind) = read_indicator(&row, plan, depts, problems) else { continue };
        let id = match &ind {
            SheetIndicator::Targeted(d) => d.indicator.clone(),
            SheetIndicator::Tracked(t) => t.indicator.clone(),
        };
        if !ids.insert(id) {
            row.problem(problems, "指标名称", msg!("plan_sheet.listed_twice"));
            continue;
        }
        match ind {
            SheetIndicator::Targeted(d) => out.0.push(d),
            SheetIndicator::Tracked(t) => out.1.push(t),
        }
    }
    out
}

/// An indicator row: with a target, or reported without one (no 目标值).
enum SheetIndicator {
    Targeted(IndicatorDefined),
    Tracked(IndicatorTracked),
}

/// A target as written: "7.5", "7.5%", "7.5左右", "5.5以内", "≥7.5": the figure, and the
/// comparison and approximation it says.
fn target_text(text: &str) -> (String, Option<Comparison>, bool) {
    let mut t = crate::names::look_alike_key(text);
    let mut comparison = None;
    let mut approximate = false;
    for (word, c, approx) in [
        ("左右", Some(Comparison::AtLeast), true),
        ("以内", Some(Comparison::AtMost), false),
        ("以下", Some(Comparison::AtMost), false),
        ("以上", Some(Comparison::AtLeast), false),
        ("≤", Some(Comparison::AtMost), false),
        ("<=", Some(Comparison::AtMost), false),
        ("≥", Some(Comparison::AtLeast), false),
        (">=", Some(Comparison::AtLeast), false),
        ("控制在", Some(Comparison::AtMost), false),
        ("约", Some(Comparison::AtLeast), true),
    ] {
        if t.contains(word) {
            t = t.replace(word, "");
            comparison = comparison.or(c);
            approximate |= approx;
        }
    }
    (t.trim_end_matches('%').to_string(), comparison, approximate)
}

fn read_indicator(
    row: &Row<'_>,
    plan: &PlanDeclared,
    depts: &mut Departments<'_>,
    problems: &mut Problems,
) -> Option<SheetIndicator> {
    let before = problems.len();
    let name = row.text("指标名称");
    let code = row.text("指标编号");
    let id = if code.is_empty() { name.clone() } else { code };
    if let Err(e) = crate::model::check_id("indicator", &id) {
        row.problem(problems, "指标名称", e.to_msg());
    }
    let unit = row.text("单位");
    let measure = match row.text("类型").as_str() {
        "总量" | "绝对值" | "数量" => Some(Measure::Amount),
        "增速" | "增长率" | "比率" | "比例" | "率" => Some(Measure::Rate),
        "" if unit == "%" => Some(Measure::Rate),
        "" if !unit.is_empty() => Some(Measure::Amount),
        "" => {
            row.problem(problems, "类型", msg!("plan_sheet.type_empty"));
            None
        }
        _ => {
            row.problem(problems, "类型", msg!("plan_sheet.not_a_type"));
            None
        }
    };
    let unit = if unit.is_empty() && measure == Some(Measure::Rate) { "%".to_string() } else { unit };
    let (target_figure, written_comparison, written_approx) = target_text(&row.text("目标值"));
    // No 目标值: an indicator reported without a target (a level beside its growth rate).
    let target = row.get("目标值").map(|_| {
        cell_decimal(&Cell::Text(target_figure)).unwrap_or_else(|why| {
            row.problem(problems, "目标值", why);
            None
        })
    });
    let (comparison, approximate) = match row.text("比较").as_str() {
        "" => (written_comparison.unwrap_or(Comparison::AtLeast), written_approx),
        "不低于" | "以上" | "≥" | "at-least" => (Comparison::AtLeast, written_approx),
        "不高于" | "以内" | "以下" | "控制在" | "≤" | "at-most" => (Comparison::AtMost, written_approx),
        "左右" | "约" => (Comparison::AtLeast, true),
        _ => {
            row.problem(problems, "比较", msg!("plan_sheet.not_a_comparison"));
            (Comparison::AtLeast, false)
        }
    };
    let nature = match row.text("属性").as_str() {
        "" | "预期性" | "预期" => Nature::Expected,
        "约束性" | "约束" => Nature::Binding,
        _ => {
            row.problem(problems, "属性", msg!("plan_sheet.not_a_nature"));
            Nature::Expected
        }
    };
    let department = match depts.resolve(&row.text("责任单位")) {
        Ok(d) => Some(d),
        Err(why) => {
            row.problem(problems, "责任单位", why);
            None
        }
    };
    for (field, value) in [("指标名称", &name), ("单位", &unit)] {
        if let Err(e) = check_text(field, value, true) {
            row.problem(problems, field, e.to_msg());
        }
    }
    if problems.len() > before {
        return None;
    }
    let Some(target) = target else {
        return Some(SheetIndicator::Tracked(IndicatorTracked {
            plan: plan.plan.clone(),
            indicator: id,
            name,
            unit,
            measure: measure?,
            department: department?,
        }));
    };
    Some(SheetIndicator::Targeted(IndicatorDefined {
        plan: plan.plan.clone(),
        indicator: id,
        name,
        unit,
        measure: measure?,
        comparison,
        approximate,
        nature,
        target: target?,
        department: department?,
    }))
}

/// The canonical names of a header's columns, for a test or a message.
pub fn column_names(header: &Header) -> Vec<String> {
    header.columns.iter().map(|c| c.canonical.map_or_else(|| c.written.clone(), str::to_string)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.into())
        }
    }

    fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
        Sheet { name: name.into(), rows: rows.iter().map(|r| r.iter().map(|c| t(c)).collect()).collect() }
    }

    #[test]
    fn a_real_looking_sheet_imports() {
        let wb = Workbook {
            sheets: vec![sheet(
                "项目",
                &[
                    &["管城区2021年重点项目计划表"],
                    &["单位：万元"],
                    &["序号", "项目名称", "牵头单位", "投资情况", "", "计划开工时间", "片区"],
                    &["", "", "", "项目总投资", "本年计划投资", "", ""],
                    &["一、省级重点项目"],
                    &["1", "金岱智慧产业园", "区发展和改革委员会", "125000", "32000.5", "2021年3月", "东片区"],
                    &["二、区级重点项目"],
                    &["2", "航海路改造", "区住建局", "", "800", "", ""],
                    &["", "合计", "", "125000", "32800.5", "", ""],
                ],
            )],
        };
        let known = [KnownDepartment { id: "drc".into(), name: "区发展和改革委员会".into() }];
        let p = plan_from_workbook(&wb, &PlanMeta::default(), &known, "drc").unwrap();
        assert_eq!((p.plan.year, p.plan.jurisdiction.as_str(), p.plan.plan.as_str()), (2021, "管城区", "管城区-2021"));
        assert_eq!(p.projects.len(), 2);
        let a = &p.projects[0];
        assert_eq!((a.project.as_str(), a.level, a.department.as_str()), ("金岱智慧产业园", Level::Province, "drc"));
        assert_eq!(a.planned_investment.to_string(), "3.20005");
        assert_eq!(a.total_investment.unwrap().to_string(), "12.5");
        assert_eq!(a.planned_milestones, vec![Milestone::Start]);
        assert_eq!(a.dimensions["片区"], "东片区");
        assert_eq!(p.schedules[0].planned_month(Milestone::Start).map(|m| m.to_string()), Some("2021-03".into()));
        let b = &p.projects[1];
        assert_eq!((b.level, b.department.as_str()), (Level::District, "区住建局"));
        assert_eq!(p.departments.len(), 1, "区住建局 is new: {:?}", p.departments);
    }

    #[test]
    fn every_bad_row_is_listed() {
        let wb = Workbook {
            sheets: vec![sheet(
                "项目",
                &[
                    &["项目名称", "级别", "责任单位", "年度计划投资"],
                    &["甲", "省", "drc", "abc"],
                    &["乙", "乡", "drc", "1"],
                    &["丙", "区", "", "1"],
                    &["丁", "区", "drc", "-2"],
                    &["戊", "区", "drc", "2"],
                ],
            )],
        };
        let meta = PlanMeta { year: Some(2021), jurisdiction: Some("管城区".into()), ..PlanMeta::default() };
        let e = plan_from_workbook(&wb, &meta, &[KnownDepartment { id: "drc".into(), name: "DRC".into() }], "drc")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("4 problems in this workbook; nothing was written"), "{e}");
        for part in [
            "row 2, column 年度计划投资 'abc'",
            "row 3, column 级别 '乡'",
            "row 4, column 责任单位",
            "row 5, column 年度计划投资 '-2'",
        ] {
            assert!(e.contains(part), "{part} missing from {e}");
        }
    }

    #[test]
    fn targets_say_how_they_compare() {
        assert_eq!(target_text("7.5左右"), ("7.5".into(), Some(Comparison::AtLeast), true));
        assert_eq!(target_text("5.5%以内"), ("5.5".into(), Some(Comparison::AtMost), false));
        assert_eq!(target_text("≥8"), ("8".into(), Some(Comparison::AtLeast), false));
    }
}
