//! A department's monthly report (月报) from its spreadsheet: one row per project and month,
//! with the month's investment (本月完成投资) and/or the year's running total (1—N月累计完成
//! 投资), milestones reached, and the progress and problems in words. Reconciled against
//! what the ledger already holds, the rows become the submissions that record what is new:
//!
//! - a running total becomes the month's amount: the total minus the months already
//!   recorded before it (refused, with the figures, when it is lower than those);
//! - a row saying exactly what is recorded writes nothing, so sending the same sheet twice
//!   records it once; a row that differs is refused with the recorded seq and the `correct`
//!   command to use, or, with `corrections`, recorded as that correction;
//! - implausible figures (a month above the project's whole annual plan, a cumulative above
//!   its total investment, a "-0") are warned of, never silently taken; `strict` refuses them.
//!
//! Every row is checked and every problem listed before anything is written.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::decide::{Command, EventRef, Submission};
use crate::error::Result;
use crate::model::{fmt_decimal, Date, Milestone, Month};
use crate::msg::Msg;
use crate::projection::{Listing, Plan, State};
use crate::sheet::{
    cell_amount, cell_date, cell_month, find_header, is_total_row, normalize_header, Cell, Header, Problems, Sheet,
    Unit, Workbook,
};

/// The monthly report's columns and their other names. A header such as "1—3月累计完成投资"
/// is read as 累计完成投资 for months 1 to 3 (`month_range`).
pub const REPORT_COLUMNS: &[(&str, &[&str])] = &[
    ("序号", &[]),
    ("项目编号", &["编号", "项目代码"]),
    ("项目名称", &["名称", "项目"]),
    ("月份", &["报告月份", "所属月份", "期间", "月度"]),
    ("本月完成投资", &["当月完成投资", "本月投资", "月度完成投资", "本月完成"]),
    (
        "累计完成投资",
        &["本年累计完成投资", "年度累计完成投资", "累计投资", "自年初累计完成投资", "本年累计", "累计完成"],
    ),
    ("是否开工", &["开工情况", "是否已开工"]),
    ("开工时间", &["实际开工时间", "开工日期"]),
    ("竣工时间", &["实际竣工时间", "竣工日期"]),
    ("投产时间", &["实际投产时间", "投产日期"]),
    ("形象进度", &["工程形象进度", "进展情况", "项目进展", "工程进度"]),
    ("存在问题", &["问题", "存在的问题", "困难问题", "存在问题及建议"]),
];

/// Strips a leading month range from a header ("1—3月累计完成投资" → 3, "累计完成投资").
pub fn month_range(header: &str) -> (Option<u8>, String) {
    let h = crate::names::look_alike_key(header);
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let a = digits(&h);
    if a == 0 {
        return (None, h);
    }
    let rest = &h[a..];
    let Some(sep) = rest.chars().next().filter(|c| matches!(c, '-' | '—' | '–' | '~' | '至' | '到')) else {
        return (None, h);
    };
    let rest = &rest[sep.len_utf8()..];
    // "1—N月累计" as a template writes it: a range, its end given per row by 月份.
    if let Some(tail) = rest.strip_prefix("N月").or_else(|| rest.strip_prefix("n月")) {
        return (None, tail.to_string());
    }
    let b = digits(rest);
    match (rest[..b].parse::<u8>().ok(), rest[b..].strip_prefix('月')) {
        (Some(n), Some(tail)) if (1..=12).contains(&n) => (Some(n), tail.to_string()),
        _ => (None, h),
    }
}

/// One row of a monthly report, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRow {
    /// "sheet 月报 row 7": where a submission came from, as the ledger names it.
    pub origin: String,
    /// The sheet's name and the row's number (1-based), for messages (`at`).
    pub sheet: String,
    pub number: usize,
    /// 项目编号 and 项目名称 as written (either may be empty).
    pub code: String,
    pub name: String,
    pub month: Month,
    pub monthly: Option<Decimal>,
    pub cumulative: Option<Decimal>,
    pub reached: [Option<Date>; 3],
    pub progress: Option<String>,
    pub issues: Option<String>,
    /// The row wrote a "-0" somewhere (a typing slip worth a warning).
    pub negative_zero: bool,
}

/// The rows of a monthly report workbook. `period` (from the command line) is the month of
/// rows without a 月份 column; a "1—N月" header gives the month too.
pub fn report_rows(wb: &Workbook, period: Option<Month>) -> Result<Vec<ReportRow>> {
    let mut problems = Problems::default();
    let mut rows = Vec::new();
    let mut found = false;
    for sheet in &wb.sheets {
        let Some(header) = header_of(sheet) else { continue };
        if header.index("项目名称").is_none() && header.index("项目编号").is_none() {
            continue;
        }
        // A sheet of projects without figures or dates (a plan's list beside the report)
        // is not a report.
        if header.index("本月完成投资").is_none()
            && header.index("累计完成投资").is_none()
            && ["开工时间", "竣工时间", "投产时间"].iter().all(|c| header.index(c).is_none())
        {
            continue;
        }
        found = true;
        let range_end = sheet_range_end(sheet, &header);
        for (i, cells) in sheet.rows.iter().enumerate().skip(header.last_row + 1) {
            if cells.iter().all(Cell::is_empty) || is_total_row(cells) {
                continue;
            }
            // A row with no figure and no date (a section row "一、省级重点项目", a project
            // not reported this month) records nothing.
            let filled = |name: &str| header.index(name).and_then(|c| cells.get(c)).is_some_and(|c| !c.is_empty());
            if !["本月完成投资", "累计完成投资", "开工时间", "竣工时间", "投产时间", "是否开工"]
                .iter()
                .any(|c| filled(c))
            {
                continue;
            }
            if let Some(r) = read_row(sheet, &header, i + 1, cells, period, range_end, &mut problems) {
                rows.push(r);
            }
        }
    }
    if !found {
        problems.add(msg!("report_sheet.no_sheet"));
    }
    problems.into_result(msg!("input.report"))?;
    Ok(rows)
}

/// The header of a report sheet, its "1—N月" prefixes read as the column they name.
fn header_of(sheet: &Sheet) -> Option<Header> {
    let stripped = Sheet {
        name: sheet.name.clone(),
        rows: sheet
            .rows
            .iter()
            .take(crate::sheet::HEADER_SEARCH_ROWS)
            .map(|r| {
                r.iter().map(|c| if let Cell::Text(t) = c { Cell::Text(month_range(t).1) } else { c.clone() }).collect()
            })
            .collect(),
    };
    let mut header = find_header(&stripped, REPORT_COLUMNS, 2)?;
    // Keep the written text (with its range) for messages.
    for (col, cell) in header.columns.iter_mut().zip(sheet.rows.get(header.last_row).into_iter().flatten()) {
        if !cell.is_empty() && col.canonical.is_some() {
            col.written = cell.text();
        }
    }
    Some(header)
}

/// The N of a "1—N月累计" header, if the sheet has one.
fn sheet_range_end(sheet: &Sheet, header: &Header) -> Option<u8> {
    let top = header.last_row.saturating_sub(1);
    sheet.rows[top..=header.last_row].iter().flatten().find_map(|c| month_range(&c.text()).0)
}

fn read_row(
    sheet: &Sheet,
    header: &Header,
    number: usize,
    cells: &[Cell],
    period: Option<Month>,
    range_end: Option<u8>,
    problems: &mut Problems,
) -> Option<ReportRow> {
    let before = problems.len();
    let get = |name: &str| header.index(name).and_then(|i| cells.get(i)).filter(|c| !c.is_empty());
    let text = |name: &str| get(name).map(Cell::text).unwrap_or_default();
    let problem = |problems: &mut Problems, column: &str, why: Msg| {
        problems.cell(&sheet.name, number, header.written(column), &text(column), why);
    };
    let (code, name) = (text("项目编号"), text("项目名称"));
    if code.is_empty() && name.is_empty() {
        problem(problems, "项目名称", msg!("report_sheet.name_empty"));
    }
    let month = match get("月份").map(cell_month) {
        Some(Ok(Some(m))) => Some(m),
        Some(Err(why)) => {
            problem(problems, "月份", why);
            None
        }
        _ => match (period, range_end) {
            (Some(p), Some(n)) if n != p.month => {
                problem(problems, "月份", msg!("report_sheet.range_against_period", n = n, period = p));
                None
            }
            (Some(p), _) => Some(p),
            (None, _) => {
                problem(problems, "月份", msg!("report_sheet.no_month"));
                None
            }
        },
    };
    let amount = |problems: &mut Problems, column: &str| {
        let cell = get(column)?;
        let unit = header.index(column).map_or(Unit::Yi, |i| header.unit(i));
        cell_amount(cell, unit).unwrap_or_else(|why| {
            problem(problems, column, why);
            None
        })
    };
    let monthly = amount(problems, "本月完成投资");
    let cumulative = amount(problems, "累计完成投资");
    let negative_zero = ["本月完成投资", "累计完成投资"].iter().any(|c| text(c).trim_start().starts_with('-'));
    let mut reached = [None; 3];
    for (column, m) in
        [("开工时间", Milestone::Start), ("竣工时间", Milestone::Complete), ("投产时间", Milestone::Operate)]
    {
        match get(column).map(cell_date) {
            Some(Ok(d)) => reached[m as usize] = d,
            Some(Err(why)) => problem(problems, column, why),
            None => {}
        }
    }
    let said_started = matches!(normalize_header(&text("是否开工")).as_str(), "是" | "已开工" | "开工" | "Y" | "y");
    if said_started && reached[0].is_none() {
        problem(problems, "开工时间", msg!("report_sheet.started_without_date"));
    }
    let words = |column: &str| Some(text(column)).filter(|t| !t.is_empty());
    if problems.len() > before {
        return None;
    }
    Some(ReportRow {
        origin: format!("sheet {} row {number}", sheet.name),
        sheet: sheet.name.clone(),
        number,
        code,
        name,
        month: month?,
        monthly,
        cumulative,
        reached,
        progress: words("形象进度"),
        issues: words("存在问题"),
        negative_zero,
    })
}

impl ReportRow {
    /// Where the row is, as a message names it: "sheet 月报 row 7" / 工作表“月报”第7行.
    pub fn at(&self) -> Msg {
        msg!("report_sheet.row", sheet = &self.sheet, row = self.number)
    }
}

/// How to reconcile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Record a row that differs from what is recorded as a correction (reason: `source`).
    pub corrections: bool,
    /// Refuse the report when any warning is raised.
    pub strict: bool,
    /// The report's name (its file), for correction reasons.
    pub source: String,
}

/// What a report adds to the ledger.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// The submissions to record (one atomic batch), each with the row it came from.
    pub submissions: Vec<(Submission, String)>,
    /// Rows that say exactly what is recorded already.
    pub unchanged: usize,
    /// Implausible figures, each naming its row (`--strict` refuses them).
    pub warnings: Vec<Msg>,
}

/// The submissions a report's rows make against `state`, as `actor`.
pub fn reconcile(state: &State, actor: &str, rows: &[ReportRow], options: &Options) -> Result<Reconciled> {
    let mut problems = Problems::default();
    let mut out = Reconciled::default();
    // What this report records per project, month by month: later rows of the same project
    // count the months earlier rows recorded.
    let mut this_report: BTreeMap<(String, String), BTreeMap<Month, Decimal>> = BTreeMap::new();
    let mut order: Vec<&ReportRow> = rows.iter().collect();
    order.sort_by_key(|r| r.month);
    let mut seen = BTreeMap::new();
    for row in order {
        let Some((plan, id, listing)) = find_listing(state, row, &mut problems) else { continue };
        if let Some(other) = seen.insert((id.to_string(), row.month), row.at()) {
            problems.add(msg!(
                "report_sheet.reported_twice",
                at = row.at(),
                project = id,
                month = row.month,
                other = other
            ));
            continue;
        }
        if listing.def.department != actor && !state.is_coordinator(actor) {
            problems.add(msg!(
                "report_sheet.not_reporter",
                at = row.at(),
                project = id,
                responsible = &listing.def.department,
                actor = actor
            ));
            continue;
        }
        let mine = this_report.entry((plan.def.plan.clone(), id.to_string())).or_default();
        let before = problems.len();
        let note = note_of(row);
        let mut first = true;
        let mut push = |command: Command, out: &mut Reconciled| {
            let note = if std::mem::take(&mut first) { note.clone() } else { None };
            out.submissions.push((Submission { id: None, note, command, signature: None }, row.origin.clone()));
        };
        if let Some(amount) = month_amount(row, listing, mine, &mut problems) {
            warn_implausible(row, listing, mine, amount, &mut out.warnings);
            mine.insert(row.month, amount);
            match listing.progress.investments.get(&row.month) {
                Some(e) if e.amount == amount => out.unchanged += 1,
                Some(e) if options.corrections => push(
                    Command::Correct {
                        event: EventRef::Seq(e.seq),
                        value: amount,
                        reason: format!("{} 更正", options.source),
                    },
                    &mut out,
                ),
                Some(e) => problems.add(msg!(
                    "report_sheet.investment_differs",
                    at = row.at(),
                    project = id,
                    month = row.month,
                    recorded = fmt_decimal(e.amount),
                    seq = e.seq,
                    amount = fmt_decimal(amount),
                    actor = actor
                )),
                None => push(Command::Investment { project: id.to_string(), period: row.month, amount }, &mut out),
            }
        }
        for m in Milestone::ALL {
            let Some(date) = row.reached[*m as usize] else { continue };
            match listing.progress.milestones.get(m) {
                Some(e) if e.date == date => {}
                Some(e) => problems.add(msg!(
                    "report_sheet.milestone_differs",
                    at = row.at(),
                    project = id,
                    milestone = m.word(),
                    recorded = e.date,
                    seq = e.seq,
                    date = date,
                    actor = actor
                )),
                None if *m == Milestone::Start && listing.progress.started_by(None) => {}
                None => push(Command::Milestone { project: id.to_string(), milestone: *m, date }, &mut out),
            }
        }
        if problems.len() > before {
            continue;
        }
    }
    if options.strict {
        for w in &out.warnings {
            problems.add(msg!("report_sheet.refused_strict", warning = w.clone()));
        }
    }
    problems.into_result(msg!("input.report"))?;
    Ok(out)
}

/// The listing a row names, in the plan of its month's year: by 项目编号, else by 项目名称
/// as an id, else by the listing's name.
fn find_listing<'s>(
    state: &'s State,
    row: &ReportRow,
    problems: &mut Problems,
) -> Option<(&'s Plan, &'s str, &'s Listing)> {
    let year = row.month.year;
    let plans: Vec<&Plan> =
        state.years.get(&year).into_iter().flatten().filter_map(|id| state.plans.get(id.as_str())).collect();
    let by_id = |id: &str| plans.iter().find_map(|p| p.projects.get_key_value(id).map(|(k, l)| (*p, k.as_str(), &**l)));
    let found = [&row.code, &row.name].into_iter().filter(|s| !s.is_empty()).find_map(|id| by_id(id)).or_else(|| {
        let mut named = plans.iter().flat_map(|p| {
            p.projects
                .iter()
                .filter(|(_, l)| !row.name.is_empty() && l.def.name == row.name)
                .map(|(k, l)| (*p, k.as_str(), &**l))
        });
        match (named.next(), named.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    });
    if found.is_none() {
        let asked = if row.code.is_empty() { &row.name } else { &row.code };
        let known = plans.iter().flat_map(|p| p.projects.iter().flat_map(|(k, l)| [k.as_str(), l.def.name.as_str()]));
        let nearest = crate::names::nearest(asked, known);
        problems.add(if nearest.is_empty() {
            msg!("report_sheet.no_project", at = row.at(), project = asked, year = year)
        } else {
            msg!(
                "report_sheet.no_project_near",
                at = row.at(),
                project = asked,
                year = year,
                nearest = Msg::Choices(nearest)
            )
        });
    }
    found
}

/// The month's amount a row states: 本月完成投资, or 累计 minus what earlier months hold
/// (recorded, or in this report). Both given must agree.
fn month_amount(
    row: &ReportRow,
    listing: &Listing,
    this_report: &BTreeMap<Month, Decimal>,
    problems: &mut Problems,
) -> Option<Decimal> {
    let earlier: Decimal = (1..row.month.month)
        .map(|m| Month { year: row.month.year, month: m })
        .filter_map(|m| this_report.get(&m).copied().or_else(|| listing.progress.investments.get(&m).map(|e| e.amount)))
        .sum();
    let from_total = row.cumulative.map(|c| c - earlier);
    if from_total.is_some_and(|d| d.is_sign_negative() && !d.is_zero()) {
        problems.add(msg!(
            "report_sheet.cumulative_below_recorded",
            at = row.at(),
            n = row.month.month,
            cumulative = fmt_decimal(row.cumulative.unwrap_or_default()),
            earlier = fmt_decimal(earlier),
            month = row.month
        ));
        return None;
    }
    match (row.monthly, from_total) {
        (Some(m), Some(t)) if m != t => {
            problems.add(msg!(
                "report_sheet.monthly_against_cumulative",
                at = row.at(),
                monthly = fmt_decimal(m),
                cumulative = fmt_decimal(row.cumulative.unwrap_or_default()),
                earlier = fmt_decimal(earlier),
                derived = fmt_decimal(t)
            ));
            None
        }
        (Some(m), _) => Some(m),
        (None, t) => t,
    }
}

fn warn_implausible(
    row: &ReportRow,
    listing: &Listing,
    this_report: &BTreeMap<Month, Decimal>,
    amount: Decimal,
    warnings: &mut Vec<Msg>,
) {
    let id = &listing.def.project;
    if amount > listing.planned_investment && !listing.planned_investment.is_zero() {
        warnings.push(msg!(
            "report_sheet.month_over_annual_plan",
            at = row.at(),
            project = id,
            month = row.month,
            amount = fmt_decimal(amount),
            planned = fmt_decimal(listing.planned_investment)
        ));
    }
    if let Some(total) = listing.def.total_investment {
        let prior = listing.schedule.as_ref().and_then(|s| s.prior_investment).unwrap_or_default();
        let year: Decimal = listing
            .progress
            .investments
            .iter()
            .filter(|(m, _)| *m != row.month && !this_report.contains_key(m))
            .map(|(_, e)| e.amount)
            .chain(this_report.values().copied())
            .sum::<Decimal>()
            + amount;
        if prior + year > total {
            warnings.push(msg!(
                "report_sheet.over_total_investment",
                at = row.at(),
                project = id,
                completed = fmt_decimal(prior + year),
                prior = fmt_decimal(prior),
                total = fmt_decimal(total)
            ));
        }
    }
    if row.negative_zero && amount.is_zero() {
        warnings.push(msg!("report_sheet.negative_zero", at = row.at()));
    }
}

/// The words of a row, kept on its first event: 形象进度 and 存在问题.
fn note_of(row: &ReportRow) -> Option<String> {
    let parts: Vec<String> = [("形象进度", &row.progress), ("存在问题", &row.issues)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}：{v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join("；"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ranges_in_headers() {
        assert_eq!(month_range("1—3月累计完成投资"), (Some(3), "累计完成投资".to_string()));
        assert_eq!(month_range("1-12月累计"), (Some(12), "累计".to_string()));
        assert_eq!(month_range("本月完成投资"), (None, "本月完成投资".to_string()));
        assert_eq!(month_range("1—N月累计完成投资"), (None, "累计完成投资".to_string()));
        assert_eq!(month_range("2021年计划"), (None, "2021年计划".to_string()));
    }
}
