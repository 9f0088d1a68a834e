//! `summary --monthly`: completed investment month by month, a row per group (project,
//! department, level or any grouping), against the annual plan and 序时进度 — the view in
//! which an odd month stands out (like hledger's `balance --budget --monthly`).

use std::collections::BTreeMap;
use std::fmt::Write;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::model::{fmt_decimal, fmt_pct, percent, Level, Month};
use crate::msg::Lang;
use crate::projection::{Listing, State};
use crate::summary::On;
use crate::text::{self, Align};

/// Rows of the monthly view: one per project, or one per group of a grouping.
pub const PROJECT: &str = "project";

/// One row: a group's annual plan and its completed investment per elapsed month.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What the row is: a project id, a department, a level, a dimension's value.
    pub key: String,
    /// How people name it (a project's or a department's name; a level in words).
    pub label: String,
    pub planned: Decimal,
    /// Completed investment of months 1..=`months`.
    pub months: Vec<Decimal>,
}

impl Row {
    fn new(key: String, label: String, months: usize) -> Row {
        Row { key, label, planned: Decimal::ZERO, months: vec![Decimal::ZERO; months] }
    }

    fn add(&mut self, l: &Listing, year: i32) {
        self.planned += l.planned_investment;
        for (i, m) in self.months.iter_mut().enumerate() {
            let month = Month { year, month: (i + 1) as u8 };
            if let Some(e) = l.progress.investments.get(&month) {
                *m += e.amount;
            }
        }
    }

    pub fn total(&self) -> Decimal {
        self.months.iter().copied().sum()
    }

    /// The completion rate at the end of month `i` (0-based): running total / plan.
    pub fn running_pct(&self, i: usize) -> Option<Decimal> {
        percent(self.months.iter().take(i + 1).copied().sum(), self.planned)
    }
}

pub struct Monthly {
    pub year: i32,
    pub on: On,
    /// What the rows are: `PROJECT`, or a grouping (`summary::GROUPINGS`) or dimension.
    pub rows_by: String,
    pub rows: Vec<Row>,
    pub total: Row,
}

/// The 序时进度 at the end of month `m` (1-based): m / 12.
fn schedule_pct(m: usize) -> Decimal {
    Decimal::from(m as u64) * Decimal::from(100) / Decimal::from(12)
}

pub fn monthly(state: &State, year: i32, on: On, rows_by: &str, lang: Lang) -> Monthly {
    let months = usize::from(on.months_elapsed);
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut total = Row::new(String::new(), crate::msg::text(lang, "monthly.total").to_string(), months);
    for plan in state.plans_by_year().filter(|p| p.def.year == year) {
        for (id, l) in plan.projects.sorted() {
            if !l.listed_on(on.date) {
                continue;
            }
            let (key, label) = if rows_by == PROJECT {
                (id.to_string(), l.def.name.clone())
            } else {
                let v = crate::summary::group_value(rows_by, l).unwrap_or_default();
                let label = group_label(state, rows_by, &v, lang);
                (v, label)
            };
            rows.entry(key.clone()).or_insert_with(|| Row::new(key, label, months)).add(l, year);
            total.add(l, year);
        }
    }
    let mut rows: Vec<Row> = rows.into_values().collect();
    if rows_by == "level" || rows_by == "级别" {
        let rank =
            |k: &str| Level::parse("level", k).ok().and_then(|l| Level::REPORT_ORDER.iter().position(|x| *x == l));
        rows.sort_by_key(|r| rank(&r.key));
    }
    Monthly { year, on, rows_by: rows_by.to_string(), rows, total }
}

/// A department by its name, a level or a status in words, anything else as the
/// grouping names it.
fn group_label(state: &State, rows_by: &str, value: &str, lang: Lang) -> String {
    if rows_by == "department" || rows_by == "责任单位" {
        if let Some(d) = state.departments.get(value) {
            return d.name.clone();
        }
    }
    crate::summary::group_label(rows_by, value, lang)
}

impl Monthly {
    fn header(&self, lang: Lang) -> Vec<String> {
        let first = if self.rows_by == PROJECT {
            crate::msg::text(lang, "state.col.project").to_string()
        } else {
            crate::summary::dimension_label(&self.rows_by, lang)
        };
        let mut h = vec![first, crate::msg::text(lang, "monthly.planned").to_string()];
        h.extend((1..=self.rows_months()).map(|m| month_label(self.year, m, lang)));
        h.push(crate::msg::text(lang, "monthly.sum").to_string());
        h.push(crate::msg::text(lang, "state.col.pct").to_string());
        h
    }

    /// Whether a row shows its id before its name (projects and departments: the name alone
    /// may not be unique; a level or a status in words is).
    fn keyed(&self) -> bool {
        matches!(self.rows_by.as_str(), PROJECT | "department" | "责任单位")
    }

    fn rows_months(&self) -> usize {
        self.total.months.len()
    }

    /// A cell: the month's amount and, in brackets, the running completion rate, starred
    /// when it is below 序时进度.
    fn cell(row: &Row, i: usize, lang: Lang) -> String {
        let amount = fmt_decimal(row.months[i]);
        match row.running_pct(i) {
            Some(p) => {
                let star = if p < schedule_pct(i + 1) { "*" } else { "" };
                match lang {
                    Lang::Zh => format!("{amount}（{}%{star}）", fmt_pct(p)),
                    Lang::En => format!("{amount} ({}%{star})", fmt_pct(p)),
                }
            }
            None => amount,
        }
    }

    fn line(row: &Row, lang: Lang, with_key: bool) -> Vec<String> {
        let name = if with_key && row.key != row.label && !row.label.is_empty() {
            format!("{} {}", row.key, row.label)
        } else {
            row.label.clone()
        };
        let mut r = vec![name, fmt_decimal(row.planned)];
        r.extend((0..row.months.len()).map(|i| Monthly::cell(row, i, lang)));
        r.push(fmt_decimal(row.total()));
        r.push(percent(row.total(), row.planned).map(|p| format!("{}%", fmt_pct(p))).unwrap_or_else(|| "-".into()));
        r
    }

    fn schedule_line(&self, lang: Lang) -> Vec<String> {
        let mut r = vec![crate::msg::text(lang, "monthly.schedule").to_string(), String::new()];
        r.extend((1..=self.rows_months()).map(|m| format!("{}%", fmt_pct(schedule_pct(m)))));
        r.push(String::new());
        r.push(String::new());
        r
    }

    fn title(&self, lang: Lang) -> String {
        msg!("monthly.title", year = self.year, date = date_text(self.on.date, lang)).render(lang)
    }

    /// Text: a table aligned by display width, the 序时进度 row under it, and the key to `*`.
    pub fn text(&self, lang: Lang) -> String {
        let mut out = self.title(lang);
        out.push_str("\n\n");
        if self.rows_months() == 0 {
            out.push_str(crate::msg::text(lang, "monthly.no_month"));
            out.push('\n');
            return out;
        }
        let header = self.header(lang);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut rows: Vec<Vec<String>> = self.rows.iter().map(|r| Monthly::line(r, lang, self.keyed())).collect();
        rows.push(Monthly::line(&self.total, lang, false));
        rows.push(self.schedule_line(lang));
        let mut align = vec![Align::Right; header.len()];
        align[0] = Align::Left;
        out.push_str(&text::grid("", &header, &align, &rows));
        out.push('\n');
        out.push_str(crate::msg::text(lang, "monthly.star"));
        out.push('\n');
        out
    }

    /// Markdown: the same table, CommonMark-valid.
    pub fn markdown(&self, lang: Lang) -> String {
        let mut out = format!("## {}\n\n", self.title(lang));
        if self.rows_months() == 0 {
            out.push_str(crate::msg::text(lang, "monthly.no_month"));
            out.push('\n');
            return out;
        }
        let header = self.header(lang);
        // `|` would end a cell, and the `*` of a lagging month would open emphasis.
        let cell = |s: &str| s.replace('|', "\\|").replace('*', "\\*");
        let _ = writeln!(out, "| {} |", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
        let mut sep = vec![":---"];
        sep.extend(std::iter::repeat_n("---:", header.len() - 1));
        let _ = writeln!(out, "|{}|", sep.join("|"));
        let mut rows: Vec<Vec<String>> = self.rows.iter().map(|r| Monthly::line(r, lang, self.keyed())).collect();
        rows.push(Monthly::line(&self.total, lang, false));
        rows.push(self.schedule_line(lang));
        for r in rows {
            let _ = writeln!(out, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
        }
        let _ = writeln!(out, "\n{}", cell(crate::msg::text(lang, "monthly.star")));
        out
    }

    /// CSV: one row per group, the months' amounts in columns (numbers only).
    pub fn csv(&self, lang: Lang) -> String {
        let field = text::csv_field;
        let mut header = vec![crate::msg::text(lang, "monthly.key").to_string()];
        header.extend(self.header(lang));
        let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
        out.push('\n');
        for r in self.rows.iter().chain(std::iter::once(&self.total)) {
            let mut cells = vec![field(&r.key), field(&r.label), fmt_decimal(r.planned)];
            cells.extend(r.months.iter().map(|m| fmt_decimal(*m)));
            cells.push(fmt_decimal(r.total()));
            cells.push(percent(r.total(), r.planned).map(fmt_pct).unwrap_or_default());
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// JSON: exact decimals as strings, the running rate and 序时进度 per month.
    pub fn json(&self, as_of: Value) -> Value {
        let row = |r: &Row| {
            let months: Vec<Value> = (0..r.months.len())
                .map(|i| {
                    json!({
                        "month": format!("{}-{:02}", self.year, i + 1),
                        "completed_investment": fmt_decimal(r.months[i]),
                        "running_pct": r.running_pct(i).map(fmt_pct),
                        "schedule_pct": fmt_pct(schedule_pct(i + 1)),
                    })
                })
                .collect();
            json!({
                "key": r.key,
                "name": r.label,
                "planned_investment": fmt_decimal(r.planned),
                "completed_investment": fmt_decimal(r.total()),
                "completion_pct": percent(r.total(), r.planned).map(fmt_pct),
                "months": months,
            })
        };
        json!({
            "year": self.year,
            "on": self.on.date.to_string(),
            "as_of": as_of,
            "rows_by": self.rows_by,
            "rows": self.rows.iter().map(row).collect::<Vec<_>>(),
            "total": row(&self.total),
        })
    }
}

fn month_label(year: i32, m: usize, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{m}月"),
        Lang::En => format!("{year}-{m:02}"),
    }
}

fn date_text(d: crate::model::Date, lang: Lang) -> String {
    match lang {
        Lang::Zh => crate::execution::date_zh(d),
        Lang::En => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_twelfth_a_month() {
        assert_eq!(fmt_pct(schedule_pct(3)), "25.0");
        assert_eq!(fmt_pct(schedule_pct(12)), "100.0");
    }

    #[test]
    fn running_rate_counts_the_months_so_far() {
        let mut r = Row::new("a".into(), "A".into(), 3);
        r.planned = Decimal::from(10);
        r.months = vec![Decimal::from(1), Decimal::ZERO, Decimal::from(4)];
        assert_eq!(r.running_pct(1).map(fmt_pct).as_deref(), Some("10.0"));
        assert_eq!(r.running_pct(2).map(fmt_pct).as_deref(), Some("50.0"));
        assert_eq!(Monthly::cell(&r, 1, Lang::En), "0 (10.0%*)");
        assert_eq!(Monthly::cell(&r, 2, Lang::Zh), "4（50.0%）");
    }
}
