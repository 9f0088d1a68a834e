//! Spreadsheets as the plan office keeps them: the grid a workbook or CSV file holds (read by
//! the sheets crate, which knows the file formats), and how its headers are recognised.
//!
//! Real tables are not tidy: a title row above the header ("管城区2021年重点项目计划表"), a
//! "单位：万元" line, a header split over two merged rows ("投资情况" over "总投资 | 年度计划
//! 投资"), line breaks inside header cells, section rows ("一、省级重点项目"), a 合计 row. This
//! module finds the header among the first rows, names each column by the template's name
//! through a table of synonyms, and gives each amount column its unit. Turning rows into a
//! plan or a monthly report is `plan_sheet` and `report_sheet`.

use crate::msg::Msg;
use rust_decimal::Decimal;

use crate::model::{parse_decimal, Date, Month, DECIMAL_PLACES_MAX};

/// One cell as read from a file. Numbers keep the decimal text the spreadsheet shows (see the
/// sheets crate for how binary spreadsheet numbers become that text), so every figure is
/// parsed by `model::parse_decimal` like any other input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(String),
    Date(Date),
}

impl Cell {
    /// The cell as text, trimmed; empty for an empty cell.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) | Cell::Number(t) => t.trim().to_string(),
            Cell::Date(d) => d.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// One sheet: its name (the file's name for a CSV) and its rows, top to bottom.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
}

/// A workbook: its sheets in order (one for a CSV file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workbook {
    pub sheets: Vec<Sheet>,
}

/// Rows searched for the header from the top of a sheet (title rows, a unit line, notes).
pub const HEADER_SEARCH_ROWS: usize = 12;
/// Most problems one run lists before it stops counting.
pub const PROBLEMS_MAX: usize = 50;
/// Most rows a sheet may hold.
pub const SHEET_ROWS_MAX: usize = 200_000;

/// The unit an amount column is written in; the ledger keeps 亿元.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Yi,
    Wan,
}

impl Unit {
    /// The unit named in `text` ("（万元）", "单位：亿元"), if any.
    pub fn find(text: &str) -> Option<Unit> {
        if text.contains("万元") {
            Some(Unit::Wan)
        } else if text.contains("亿元") {
            Some(Unit::Yi)
        } else {
            None
        }
    }

    /// A figure in this unit, in 亿元, exactly (万元 / 10 000).
    pub fn to_yi(self, d: Decimal) -> Decimal {
        match self {
            Unit::Yi => d,
            Unit::Wan => d / Decimal::from(10_000),
        }
    }
}

/// A header cell's text as compared with the template's names: line breaks and spaces
/// removed, full-width forms folded, a trailing unit in brackets dropped ("总投资（万元）"
/// → "总投资"), a leading year dropped ("2021年计划投资" → "计划投资").
pub fn normalize_header(text: &str) -> String {
    let mut s = crate::names::look_alike_key(text);
    for (open, close) in [("(", ")"), ("（", "）"), ("[", "]"), ("【", "】")] {
        if let Some(i) = s.find(open) {
            if s[i..].contains(close) {
                let j = i + s[i..].find(close).map_or(0, |k| k + close.len());
                s.replace_range(i..j, "");
            }
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits == 4 && s[4..].starts_with('年') {
        s = s[4 + '年'.len_utf8()..].to_string();
    }
    s
}

/// A header's canonical name: the template's column it means, or `None` for a column of its
/// own (kept as a dimension).
pub fn canonical<'a>(normalized: &str, synonyms: &'a [(&'a str, &'a [&'a str])]) -> Option<&'a str> {
    synonyms.iter().find(|(name, syn)| *name == normalized || syn.contains(&normalized)).map(|(name, _)| *name)
}

/// A sheet's header, found: where it is and what each column means.
#[derive(Clone, Debug)]
pub struct Header {
    /// Index of the last header row (data starts below it).
    pub last_row: usize,
    /// Per column: the text as written (both rows of a two-row header joined), and the
    /// canonical name when the template knows it.
    pub columns: Vec<Column>,
    /// A unit line above the header ("单位：万元"), applying to every amount column that
    /// does not name its own.
    pub sheet_unit: Option<Unit>,
    /// The rows above the header, as text (a title such as "管城区2021年重点项目计划表").
    pub title_rows: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub written: String,
    pub canonical: Option<&'static str>,
    /// The unit its header (or the merged header above it) names.
    pub unit: Option<Unit>,
}

impl Header {
    /// The index of the column with this canonical name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.canonical == Some(name))
    }

    /// The header of the column with this canonical name as the sheet writes it ("牵头单位"
    /// for 责任单位), or the canonical name when the sheet has no such column.
    pub fn written<'a>(&'a self, name: &'a str) -> &'a str {
        self.index(name).map(|i| self.columns[i].written.as_str()).filter(|w| !w.is_empty()).unwrap_or(name)
    }

    /// The unit of an amount column: its own, else the sheet's, else 亿元.
    pub fn unit(&self, col: usize) -> Unit {
        self.columns.get(col).and_then(|c| c.unit).or(self.sheet_unit).unwrap_or(Unit::Yi)
    }
}

/// Finds the header among the first rows: the row naming most of the template's columns
/// (at least `min_known`), joined with the row below when that one names more of them (the
/// second row of a merged two-row header). `None` when no row names enough.
pub fn find_header(
    sheet: &Sheet,
    synonyms: &'static [(&'static str, &'static [&'static str])],
    min_known: usize,
) -> Option<Header> {
    let known =
        |row: &[Cell]| row.iter().filter(|c| canonical(&normalize_header(&c.text()), synonyms).is_some()).count();
    let (best, n) = sheet
        .rows
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .enumerate()
        .map(|(i, r)| (i, known(r)))
        .max_by_key(|(i, n)| (*n, std::cmp::Reverse(*i)))?;
    if n < min_known {
        return None;
    }
    // The best row may be either row of a two-row header.
    let above = best.checked_sub(1).map_or(0, |i| known(&sheet.rows[i]));
    let below = sheet.rows.get(best + 1).map_or(0, |r| known(r));
    let (top, two_rows) = if above > 0 { (best - 1, true) } else { (best, below > 0) };
    let first = &sheet.rows[top];
    let second: &[Cell] = if two_rows { &sheet.rows[top + 1] } else { &[] };
    let width = first.len().max(second.len());
    let mut columns = Vec::with_capacity(width);
    // A merged group header ("投资情况（万元）") is written in its first column only; its
    // text (for the unit) carries over the empty cells to its right.
    let mut group = String::new();
    for col in 0..width {
        let upper = first.get(col).map(Cell::text).unwrap_or_default();
        let lower = second.get(col).map(Cell::text).unwrap_or_default();
        if !upper.is_empty() {
            group = upper.clone();
        }
        let upper_name = canonical(&normalize_header(&upper), synonyms);
        let lower_name = canonical(&normalize_header(&lower), synonyms);
        let (written, name) = match (lower_name, upper_name) {
            (Some(l), _) => (lower.clone(), Some(l)),
            (None, Some(u)) => (upper.clone(), Some(u)),
            (None, None) if !lower.is_empty() => (lower.clone(), None),
            (None, None) => (upper.clone(), None),
        };
        let unit = Unit::find(&written).or_else(|| if two_rows { Unit::find(&group) } else { None });
        columns.push(Column { written: written.split_whitespace().collect(), canonical: name, unit });
    }
    let title_rows: Vec<String> = sheet.rows[..top]
        .iter()
        .map(|r| r.iter().map(Cell::text).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect();
    let sheet_unit = title_rows.iter().find_map(|t| Unit::find(t));
    Some(Header { last_row: top + usize::from(two_rows), columns, sheet_unit, title_rows })
}

/// Whether a row is a total (合计, 总计, 小计) rather than an entry: its first cells say so.
pub fn is_total_row(row: &[Cell]) -> bool {
    row.iter().take(3).any(|c| {
        let t = normalize_header(&c.text());
        t.starts_with("合计") || t.starts_with("总计") || t.starts_with("小计") || t == "总合计"
    })
}

/// The problems found in a file, each on its own line with where it is, capped at
/// `PROBLEMS_MAX`: a file is checked whole and reported whole, and nothing is written
/// unless it has none.
#[derive(Debug, Default)]
pub struct Problems {
    lines: Vec<Msg>,
    more: usize,
}

impl Problems {
    pub fn add(&mut self, line: impl Into<Msg>) {
        let line = line.into();
        if self.lines.len() < PROBLEMS_MAX {
            self.lines.push(line);
        } else {
            self.more += 1;
        }
    }

    /// A problem in one cell: "项目 row 7, 年度计划投资 'abc': why".
    pub fn cell(&mut self, sheet: &str, row: usize, column: &str, value: &str, why: impl Into<Msg>) {
        self.add(msg!(
            "sheet.cell_problem",
            sheet = sheet,
            row = row,
            column = column,
            value = value,
            why = why.into()
        ));
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds `other`'s problems after these.
    pub fn append(&mut self, other: Problems) {
        for l in other.lines {
            self.add(l);
        }
        self.more += other.more;
    }

    pub fn len(&self) -> usize {
        self.lines.len() + self.more
    }

    /// `Ok(())` when there is none; else one error listing them all.
    /// `what` names the input: `msg!("input.file")`, `msg!("input.report")`.
    pub fn into_result(self, what: Msg) -> crate::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let n = self.lines.len() + self.more;
        let summary =
            if n == 1 { msg!("problems.one", what = what) } else { msg!("problems.many", n = n, what = what) };
        let mut lines = self.lines;
        if self.more > 0 {
            lines.push(msg!("problems.more", n = self.more));
        }
        Err(crate::Error::Problems { summary, lines })
    }
}

/// A figure in a cell: a number, or text such as "1,234.5" or "12.5%" (separators and a
/// trailing % dropped). `None` for an empty cell.
pub fn cell_decimal(cell: &Cell) -> Result<Option<Decimal>, Msg> {
    let text = match cell {
        Cell::Empty => return Ok(None),
        Cell::Date(d) => return Err(msg!("sheet.date_not_number", date = d)),
        Cell::Text(t) | Cell::Number(t) => t.trim(),
    };
    if text.is_empty() || text == "-" || text == "—" || text == "/" {
        return Ok(None);
    }
    let folded = crate::names::look_alike_key(text);
    let cleaned: String = folded.trim_end_matches('%').chars().filter(|c| *c != ',').collect();
    parse_decimal("value", &cleaned).map(Some).map_err(|_| msg!("sheet.not_a_number"))
}

/// An amount in a cell, in `unit`, as exact 亿元 within the ledger's decimal places.
pub fn cell_amount(cell: &Cell, unit: Unit) -> Result<Option<Decimal>, Msg> {
    let Some(d) = cell_decimal(cell)? else { return Ok(None) };
    if d.is_sign_negative() && !d.is_zero() {
        return Err(msg!("sheet.amount_negative"));
    }
    let yi = unit.to_yi(d).normalize();
    if yi.scale() > DECIMAL_PLACES_MAX {
        return Err(msg!("sheet.too_many_places", places = DECIMAL_PLACES_MAX));
    }
    Ok(Some(yi))
}

/// A month in a cell: a date cell, "2021-03", "2021.3", "2021/03", "2021年3月", or a date
/// "2021-03-15" (its month). `None` for an empty cell.
pub fn cell_month(cell: &Cell) -> Result<Option<Month>, Msg> {
    let text = match cell {
        Cell::Empty => return Ok(None),
        Cell::Date(d) => return Ok(Some(d.month())),
        Cell::Text(t) | Cell::Number(t) => crate::names::look_alike_key(t),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || msg!("sheet.not_a_month");
    let cleaned = text.trim_end_matches('日').trim_end_matches('份');
    let parts: Vec<&str> = cleaned.split(['-', '.', '/', '年', '月']).filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 || parts.len() > 3 || parts[0].len() != 4 {
        return Err(bad());
    }
    let year: i32 = parts[0].parse().map_err(|_| bad())?;
    let month: u8 = parts[1].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(bad());
    }
    let text = format!("{year:04}-{month:02}");
    Month::parse("month", &text).map(Some).map_err(|e| e.to_msg())
}

/// A date in a cell: a date cell, "2021-03-15", "2021.3.15", "2021/3/15", "2021年3月15日".
pub fn cell_date(cell: &Cell) -> Result<Option<Date>, Msg> {
    let text = match cell {
        Cell::Empty => return Ok(None),
        Cell::Date(d) => return Ok(Some(*d)),
        Cell::Text(t) | Cell::Number(t) => crate::names::look_alike_key(t),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || msg!("sheet.not_a_date");
    let parts: Vec<&str> = text.split(['-', '.', '/', '年', '月', '日']).filter(|p| !p.is_empty()).collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return Err(bad());
    }
    let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let (y, m, d) = (n(parts[0])?, n(parts[1])?, n(parts[2])?);
    Date::parse("date", &format!("{y:04}-{m:02}-{d:02}")).map(Some).map_err(|_| bad())
}

/// The first four-digit year followed by 年 in `text` ("管城区2021年重点项目" → 2021), and
/// the text before it.
pub fn year_in(text: &str) -> Option<(i32, &str)> {
    text.char_indices().find_map(|(i, _)| {
        let digits = text.get(i..i + 4).filter(|d| d.bytes().all(|c| c.is_ascii_digit()))?;
        let before_ok = !text[..i].ends_with(|c: char| c.is_ascii_digit());
        (before_ok && text[i + 4..].starts_with('年')).then(|| digits.parse().ok().map(|y| (y, &text[..i])))?
    })
}

/// A table to write as a spreadsheet (an export): a sheet name, a header, typed rows. Which
/// file format is the sheets crate's business; what the columns mean is the exporter's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// The sheet's name (项目明细表, 指标完成情况表, ...).
    pub name: String,
    pub columns: Vec<TableColumn>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableColumn {
    pub header: String,
    pub kind: ColumnKind,
}

/// How a column's figures are shown: amounts in 亿元 with their decimals, percentages with
/// one decimal, counts as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Amount,
    Percent,
    Count,
}

/// A table cell: exact figures stay decimals until the file format is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Empty,
    Text(String),
    Decimal(Decimal),
    Count(u64),
}

impl Value {
    /// The cell as CSV and messages show it: decimals in plain notation, trailing zeros
    /// dropped.
    pub fn text(&self) -> String {
        match self {
            Value::Empty => String::new(),
            Value::Text(t) => t.clone(),
            Value::Decimal(d) => crate::model::fmt_decimal(*d),
            Value::Count(n) => n.to_string(),
        }
    }
}

impl Table {
    pub fn new(name: &str, columns: &[(&str, ColumnKind)]) -> Table {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|(h, k)| TableColumn { header: h.to_string(), kind: *k }).collect(),
            rows: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: &[(&str, &[&str])] =
        &[("项目名称", &["名称"]), ("总投资", &["项目总投资"]), ("年度计划投资", &["本年计划投资", "计划投资"])];

    fn t(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.into())
        }
    }

    #[test]
    fn headers_are_normalized() {
        assert_eq!(normalize_header("总投资\n（万元）"), "总投资");
        assert_eq!(normalize_header("2021年计划投资(亿元)"), "计划投资");
        assert_eq!(normalize_header("项目 名称"), "项目名称");
    }

    #[test]
    fn a_title_row_and_a_two_row_merged_header_are_found() {
        let sheet = Sheet {
            name: "项目".into(),
            rows: vec![
                vec![t("管城区2021年重点项目计划表")],
                vec![t("单位：万元")],
                vec![t("项目名称"), t("投资情况（亿元）"), t("")],
                vec![t(""), t("项目总投资"), t("本年计划投资")],
                vec![t("甲"), t("10"), t("2")],
            ],
        };
        let h = find_header(&sheet, SYN, 2).unwrap();
        assert_eq!(h.last_row, 3);
        assert_eq!(h.index("总投资"), Some(1));
        assert_eq!(h.index("年度计划投资"), Some(2));
        assert_eq!(h.unit(2), Unit::Yi, "the merged group names 亿元 over the sheet's 万元");
        assert_eq!(h.sheet_unit, Some(Unit::Wan));
        assert_eq!(year_in(&h.title_rows[0]), Some((2021, "管城区")));
    }

    #[test]
    fn cells_parse_as_people_write_them() {
        assert_eq!(cell_amount(&t("1,234.5"), Unit::Wan).unwrap().unwrap().to_string(), "0.12345");
        assert!(cell_amount(&t("1.23456"), Unit::Wan).unwrap_err().en().contains("decimal places"));
        assert!(cell_amount(&t("-1"), Unit::Yi).is_err());
        assert_eq!(cell_amount(&t("—"), Unit::Yi).unwrap(), None);
        assert_eq!(cell_month(&t("2021年3月")).unwrap().unwrap().to_string(), "2021-03");
        assert_eq!(cell_month(&t("2021.10")).unwrap().unwrap().to_string(), "2021-10");
        assert!(cell_month(&t("三月")).is_err());
        assert_eq!(cell_date(&t("2021年3月5日")).unwrap().unwrap().to_string(), "2021-03-05");
        assert!(is_total_row(&[t(""), t("合  计"), t("100")]));
    }
}
