//! planledger-sheets: spreadsheet files, and nothing else. It reads .xlsx, .xlsm, .xls and
//! .ods workbooks (calamine) and .csv files (UTF-8 with or without a byte-order mark, or
//! GB18030 as WPS and Excel on Chinese Windows write them) into the core's `Workbook` grid,
//! and writes the core's `Table`s as .xlsx (rust_xlsxwriter: number formats, a frozen
//! header, column widths, drop-down lists) or as .csv with a byte-order mark, which Excel
//! needs to read UTF-8. What the rows mean is the core's business (`plan_sheet`,
//! `report_sheet`); this crate knows file formats only (docs/ARCHITECTURE.md).
//!
//! Spreadsheet files store numbers as binary floating point. Reading turns each into the
//! decimal text the spreadsheet displays (at most 15 significant digits, as Excel shows
//! them) and hands that text to the core, which parses it exactly like typed input; writing
//! puts a figure into a number cell only when that cell reads back as exactly the same
//! decimal, and as text otherwise. Those two functions are the only place a float exists.

use std::io::Cursor;
use std::path::Path;

use planledger_core::model::Date;
use planledger_core::sheet::{Cell, ColumnKind, Sheet, Table, Value, Workbook, SHEET_ROWS_MAX};
use rust_decimal::Decimal;

/// Largest spreadsheet file read (a plan of thousands of projects is a few megabytes).
pub const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Significant digits a spreadsheet displays of a number.
const SPREADSHEET_DIGITS: usize = 15;

#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is larger than {FILE_BYTES_MAX} bytes; split it")]
    TooLarge { path: String },
    #[error("{path} is not a spreadsheet planledger reads ({why}); save it as .xlsx or .csv")]
    Format { path: String, why: String },
    #[error("{path} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 from Excel or WPS")]
    Encoding { path: String },
    #[error("{path}: sheet {sheet} has more than {SHEET_ROWS_MAX} rows; split it")]
    TooManyRows { path: String, sheet: String },
    #[error("cannot write the spreadsheet: {0}")]
    Write(String),
}

impl SheetError {
    /// The error as a message (the catalogue's words; `Display` is the English of it). What
    /// the spreadsheet libraries said stays in their words.
    pub fn to_msg(&self) -> planledger_core::Msg {
        use planledger_core::msg;
        match self {
            SheetError::Io { path, source } => msg!("sheets.cannot_read", path = path, error = source),
            SheetError::TooLarge { path } => msg!("sheets.too_large", path = path, max = FILE_BYTES_MAX),
            SheetError::Format { path, why } => msg!("sheets.not_spreadsheet", path = path, why = why),
            SheetError::Encoding { path } => msg!("sheets.encoding", path = path),
            SheetError::TooManyRows { path, sheet } => {
                msg!("sheets.too_many_rows", path = path, sheet = sheet, max = SHEET_ROWS_MAX)
            }
            SheetError::Write(why) => msg!("sheets.cannot_write", error = why),
        }
    }
}

pub type Result<T> = std::result::Result<T, SheetError>;

/// The kinds of file `read_workbook` reads, by extension.
pub const EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xls", "ods", "csv"];

/// Whether `path` names a spreadsheet (by extension), rather than a plan file or JSONL.
pub fn is_spreadsheet(path: &Path) -> bool {
    extension(path).is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// Reads a spreadsheet file into a grid.
pub fn read_workbook(path: &Path) -> Result<Workbook> {
    let shown = path.display().to_string();
    let io = |source| SheetError::Io { path: shown.clone(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > FILE_BYTES_MAX {
        return Err(SheetError::TooLarge { path: shown });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("csv").to_string();
    match extension(path).as_deref() {
        Some("csv") => read_csv(&bytes, &stem, &shown),
        _ => read_book(bytes, &shown),
    }
}

/// Reads a workbook (xlsx, xls, ods) from its bytes.
pub fn read_book(bytes: Vec<u8>, shown: &str) -> Result<Workbook> {
    use calamine::Reader;
    let format = |e: calamine::Error| SheetError::Format { path: shown.to_string(), why: e.to_string() };
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(format)?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(format)?;
        if range.height() > SHEET_ROWS_MAX {
            return Err(SheetError::TooManyRows { path: shown.to_string(), sheet: name });
        }
        // A range starts at its first used cell: pad back to A1 so row numbers are the
        // spreadsheet's own.
        let (top, left) = range.start().unwrap_or((0, 0));
        let mut rows: Vec<Vec<Cell>> = (0..top).map(|_| Vec::new()).collect();
        for row in range.rows() {
            let mut cells: Vec<Cell> = (0..left).map(|_| Cell::Empty).collect();
            cells.extend(row.iter().map(cell_of));
            while cells.last().is_some_and(Cell::is_empty) {
                cells.pop();
            }
            rows.push(cells);
        }
        sheets.push(Sheet { name, rows });
    }
    Ok(Workbook { sheets })
}

fn cell_of(data: &calamine::Data) -> Cell {
    use calamine::Data;
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(i.to_string()),
        Data::Float(f) => Cell::Number(number_text(*f)),
        Data::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.to_string()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if !dt.is_duration() => Cell::Date(Date(t.date())),
            _ => Cell::Text(dt.to_string()),
        },
    }
}

/// The decimal a spreadsheet displays for a stored number: the shortest text that reads back
/// as the same binary number, rounded to the 15 significant digits spreadsheets show (so a
/// formula's 0.30000000000000004 is the 0.3 on the screen).
fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let shortest = format!("{f}");
    let digits = shortest.bytes().filter(u8::is_ascii_digit).skip_while(|b| *b == b'0').count();
    if digits <= SPREADSHEET_DIGITS {
        return shortest;
    }
    let rounded = format!("{f:.*e}", SPREADSHEET_DIGITS - 1);
    Decimal::from_scientific(&rounded).map_or(shortest, |d| d.normalize().to_string())
}

/// Reads CSV text: a UTF-8 byte-order mark is dropped; text that is not UTF-8 is read as
/// GB18030 (which includes GBK and GB2312).
pub fn read_csv(bytes: &[u8], name: &str, shown: &str) -> Result<Workbook> {
    let text = decode_text(bytes).ok_or_else(|| SheetError::Encoding { path: shown.to_string() })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| SheetError::Format { path: shown.to_string(), why: e.to_string() })?;
        if rows.len() >= SHEET_ROWS_MAX {
            return Err(SheetError::TooManyRows { path: shown.to_string(), sheet: name.to_string() });
        }
        let mut cells: Vec<Cell> =
            record.iter().map(|c| if c.trim().is_empty() { Cell::Empty } else { Cell::Text(c.to_string()) }).collect();
        while cells.last().is_some_and(Cell::is_empty) {
            cells.pop();
        }
        rows.push(cells);
    }
    Ok(Workbook { sheets: vec![Sheet { name: name.to_string(), rows }] })
}

fn decode_text(bytes: &[u8]) -> Option<String> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Some(s.to_string());
    }
    encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(body).map(|s| s.into_owned())
}

/// The bytes of `tables` as a CSV file: UTF-8 with a byte-order mark (so Excel on Chinese
/// Windows opens it as UTF-8); several tables are separated by a blank line.
pub fn csv_bytes(tables: &[Table]) -> Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let mut w = csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        let write = |e: csv::Error| SheetError::Write(e.to_string());
        w.write_record(t.columns.iter().map(|c| c.header.as_str())).map_err(write)?;
        for row in &t.rows {
            w.write_record(row.iter().map(Value::text)).map_err(write)?;
        }
        out.extend(w.into_inner().map_err(|e| SheetError::Write(e.to_string()))?);
    }
    Ok(out)
}

/// A drop-down list on a column of a sheet (data validation), for templates.
#[derive(Clone, Debug)]
pub struct DropDown {
    pub sheet: String,
    pub column: usize,
    pub choices: Vec<String>,
}

/// The bytes of `tables` as an .xlsx workbook, one sheet per table: a bold frozen header,
/// columns as wide as their text (CJK counted double), amounts with their decimals,
/// percentages with one, and `drop_downs` as lists on their columns.
pub fn xlsx_bytes(tables: &[Table], drop_downs: &[DropDown]) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{DataValidation, Format, FormatAlign, FormatBorder};
    let err = |e: rust_xlsxwriter::XlsxError| SheetError::Write(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_background_color("DDEBF7");
    let amount = Format::new().set_num_format("#,##0.00####");
    let percent = Format::new().set_num_format("0.0");
    let count = Format::new().set_num_format("0");
    for table in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(&table.name).map_err(err)?;
        for (c, col) in table.columns.iter().enumerate() {
            let c16 = column_index(c)?;
            sheet.write_string_with_format(0, c16, &col.header, &header).map_err(err)?;
            let widest = table.rows.iter().map(|r| r.get(c).map_or(0, |v| display_width(&v.text()))).max().unwrap_or(0);
            let width = widest.max(display_width(&col.header)).clamp(6, 60) + 2;
            sheet.set_column_width(c16, width as u32).map_err(err)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(err)?;
        for (r, row) in table.rows.iter().enumerate() {
            let r32 = u32::try_from(r + 1).map_err(|_| SheetError::Write("too many rows for a sheet".into()))?;
            for (c, value) in row.iter().enumerate() {
                let c16 = column_index(c)?;
                let kind = table.columns.get(c).map_or(ColumnKind::Text, |col| col.kind);
                let format = match kind {
                    ColumnKind::Amount => &amount,
                    ColumnKind::Percent => &percent,
                    ColumnKind::Count => &count,
                    ColumnKind::Text => &Format::new(),
                };
                match value {
                    Value::Empty => {}
                    Value::Text(t) => {
                        sheet.write_string(r32, c16, t).map_err(err)?;
                    }
                    Value::Count(n) => match exact_number(Decimal::from(*n)) {
                        Some(f) => {
                            sheet.write_number_with_format(r32, c16, f, format).map_err(err)?;
                        }
                        None => {
                            sheet.write_string(r32, c16, n.to_string()).map_err(err)?;
                        }
                    },
                    Value::Decimal(d) => match exact_number(*d) {
                        Some(f) => {
                            sheet.write_number_with_format(r32, c16, f, format).map_err(err)?;
                        }
                        None => {
                            sheet.write_string(r32, c16, value.text()).map_err(err)?;
                        }
                    },
                }
            }
        }
        for (i, d) in drop_downs.iter().enumerate().filter(|(_, d)| d.sheet == table.name) {
            // A list written into the rule holds at most 255 characters; a longer one (many
            // departments) is written in a hidden sheet and referred to.
            let inline: usize = d.choices.iter().map(|c| c.chars().count() + 1).sum();
            let v = if inline <= LIST_CHARS_MAX {
                DataValidation::new().allow_list_strings(&d.choices).map_err(err)?
            } else {
                let column = lists_column(i)?;
                let n = d.choices.len();
                DataValidation::new().allow_list_formula(rust_xlsxwriter::Formula::new(format!(
                    "='{LISTS_SHEET}'!${column}$1:${column}${n}"
                )))
            };
            let c16 = column_index(d.column)?;
            sheet.add_data_validation(1, c16, TEMPLATE_ROWS, c16, &v).map_err(err)?;
        }
    }
    let long: Vec<(usize, &DropDown)> = drop_downs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.choices.iter().map(|c| c.chars().count() + 1).sum::<usize>() > LIST_CHARS_MAX)
        .collect();
    if !long.is_empty() {
        let sheet = book.add_worksheet();
        sheet.set_name(LISTS_SHEET).map_err(err)?;
        for (i, d) in long {
            let c16 = column_index(i)?;
            for (r, choice) in d.choices.iter().enumerate() {
                let r32 = u32::try_from(r).map_err(|_| SheetError::Write("too many choices".into()))?;
                sheet.write_string(r32, c16, choice).map_err(err)?;
            }
        }
        sheet.set_hidden(true);
    }
    book.save_to_buffer().map_err(err)
}

/// Characters a drop-down list may hold in its rule (Excel's limit).
const LIST_CHARS_MAX: usize = 255;
/// The hidden sheet holding longer drop-down lists.
const LISTS_SHEET: &str = "选项";
/// Rows of a template that get its drop-down lists.
const TEMPLATE_ROWS: u32 = 10_000;

/// The spreadsheet column letters of column `i` (A, B, ..., Z, AA, ...).
fn lists_column(i: usize) -> Result<String> {
    let mut n = i + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).map_err(|_| SheetError::Write("column".into()))?));
        n = (n - 1) / 26;
    }
    Ok(letters.iter().rev().collect())
}

fn column_index(c: usize) -> Result<u16> {
    u16::try_from(c).map_err(|_| SheetError::Write("too many columns for a sheet".into()))
}

/// The number cell holding exactly `d`: `Some` when the binary number displays as the same
/// decimal (every figure of up to 15 significant digits does), `None` otherwise (the figure
/// is then written as text, never rounded).
fn exact_number(d: Decimal) -> Option<f64> {
    let text = d.normalize().to_string();
    let f: f64 = text.parse().ok()?;
    (number_text(f) == text).then_some(f)
}

/// Columns a text takes in a spreadsheet or terminal: CJK and other wide characters two.
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| if (c as u32) >= 0x1100 && !matches!(c as u32, 0x2000..=0x206F) { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_numbers_become_the_decimals_they_show() {
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(694.0), "694");
        assert_eq!(number_text(32000.5), "32000.5");
        let d: Decimal = "111.5".parse().unwrap();
        assert_eq!(exact_number(d), Some(111.5));
        let long: Decimal = "123456789012.345678".parse().unwrap();
        assert_eq!(exact_number(long), None, "more digits than a number cell holds: written as text");
    }

    #[test]
    fn csv_is_read_as_utf8_with_or_without_bom_and_as_gb18030() {
        let (gb, _, _) = encoding_rs::GB18030.encode("项目名称,年度计划投资\n金岱智慧产业园,12.5\n");
        for bytes in [b"\xEF\xBB\xBF\xE9\xA1\xB9\xE7\x9B\xAE\xE5\x90\x8D\xE7\xA7\xB0,x\n".to_vec(), gb.into_owned()] {
            let wb = read_csv(&bytes, "t", "t.csv").unwrap();
            assert_eq!(wb.sheets[0].rows[0][0], Cell::Text("项目名称".into()));
        }
        assert!(read_csv(b"\xFF\xFE\xFF", "t", "t.csv").is_err());
    }

    #[test]
    fn an_xlsx_written_reads_back_with_its_figures() {
        let mut t = Table::new("项目明细表", &[("项目名称", ColumnKind::Text), ("年度计划投资", ColumnKind::Amount)]);
        t.rows.push(vec![Value::Text("金岱智慧产业园".into()), Value::Decimal("3.20005".parse().unwrap())]);
        let bytes = xlsx_bytes(&[t], &[]).unwrap();
        let wb = read_book(bytes, "t.xlsx").unwrap();
        assert_eq!(wb.sheets[0].name, "项目明细表");
        assert_eq!(wb.sheets[0].rows[1], vec![Cell::Text("金岱智慧产业园".into()), Cell::Number("3.20005".into())]);
        let csv = csv_bytes(&[Table::new("x", &[("指标名称", ColumnKind::Text)])]).unwrap();
        assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    }
}
