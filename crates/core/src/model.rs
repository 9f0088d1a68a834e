//! The plan domain: identifiers, money and percentages, periods and dates, and the closed
//! vocabularies of the plan file (level, measure, comparison, nature, basis, milestone).
//!
//! Everything here parses strictly from text and prints back to the same text, so the plan
//! file, the JSONL submissions, the CLI flags and the JSON output share one grammar.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::msg::Msg;

/// Longest free text accepted (names, titles, reasons, notes), in bytes.
pub const TEXT_LEN_MAX: usize = 4096;
/// Significant digits of a decimal kept exactly (rust_decimal's 96-bit mantissa holds 28).
pub const DECIMAL_DIGITS_MAX: usize = 28;
/// Years the ledger accepts in periods and dates: wide enough for any plan, narrow enough to
/// catch typos such as 20222.
pub const YEAR_MIN: i32 = 1949;
pub const YEAR_MAX: i32 = 2999;

/// An identifier of a plan, department, project or indicator: any text people write,
/// within the rules of `names::check_id`.
pub use crate::names::check_id;

/// Free text: not blank (when `required`), at most `TEXT_LEN_MAX` bytes, no control characters
/// other than newline and tab.
pub fn check_text(field: &str, text: &str, required: bool) -> Result<()> {
    if required && text.trim().is_empty() {
        return Err(Error::invalid(msg!("model.text_empty", field = field)));
    }
    if text.len() > TEXT_LEN_MAX {
        return Err(Error::invalid(msg!("model.text_too_long", field = field, max = TEXT_LEN_MAX)));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(msg!("model.text_control", field = field)));
    }
    Ok(())
}

/// Parses an exact decimal written in plain notation ("12.5", "-9.8", "694"). Exponents,
/// thousands separators, NaN and infinities are refused: figures in plans are plain decimals.
pub fn parse_decimal(field: &str, text: &str) -> Result<Decimal> {
    let t = text.trim();
    let body = t.strip_prefix('-').or_else(|| t.strip_prefix('+')).unwrap_or(t);
    let plain = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.matches('.').count() <= 1
        && !body.starts_with('.')
        && !body.ends_with('.');
    if !plain {
        return Err(Error::invalid(msg!("model.not_decimal", field = field, text = text)));
    }
    let significant = body.trim_start_matches(['0', '.']).chars().filter(char::is_ascii_digit).count();
    if significant > DECIMAL_DIGITS_MAX {
        return Err(Error::invalid(msg!(
            "model.too_many_digits",
            field = field,
            text = text,
            max = DECIMAL_DIGITS_MAX
        )));
    }
    let d = Decimal::from_str(t)
        .map_err(|e| Error::invalid(msg!("model.not_decimal_because", field = field, text = text, reason = e)))?;
    check_magnitude(field, text, d)?;
    Ok(d)
}

/// The largest figure planledger accepts, exclusive: 10^15 (in 亿元, far beyond any plan).
/// With at most `DECIMAL_PLACES_MAX` places, sums of billions of figures and their
/// percentages stay within what a decimal holds exactly, so no valid log makes a report
/// overflow.
pub const MAGNITUDE_MAX: i64 = 1_000_000_000_000_000;
/// Decimal places a figure may have.
pub const DECIMAL_PLACES_MAX: u32 = 6;

/// Whether a figure is within the bounds (`MAGNITUDE_MAX`, `DECIMAL_PLACES_MAX`), without
/// allocating: what the fold asks of every figure.
pub fn within_bounds(d: Decimal) -> bool {
    d.abs() < Decimal::from(MAGNITUDE_MAX)
        && (d.scale() <= DECIMAL_PLACES_MAX || d.normalize().scale() <= DECIMAL_PLACES_MAX)
}

/// Refuses a figure outside the documented bounds.
pub fn check_magnitude(field: &str, text: &str, d: Decimal) -> Result<()> {
    if within_bounds(d) {
        return Ok(());
    }
    if d.abs() >= Decimal::from(MAGNITUDE_MAX) {
        return Err(Error::invalid(msg!("model.too_large", field = field, text = text)));
    }
    if d.normalize().scale() > DECIMAL_PLACES_MAX {
        return Err(Error::invalid(msg!(
            "model.too_many_places",
            field = field,
            text = text,
            places = DECIMAL_PLACES_MAX
        )));
    }
    Ok(())
}

/// A decimal that must not be negative (investment amounts, planned investment).
pub fn parse_amount(field: &str, text: &str) -> Result<Decimal> {
    let d = parse_decimal(field, text)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(Error::invalid(msg!("model.negative", field = field, text = text)));
    }
    Ok(d)
}

/// Exact decimal as printed in output: trailing zeros dropped ("694.00" -> "694").
pub fn fmt_decimal(d: Decimal) -> String {
    let n = d.normalize();
    // -0 prints as "0".
    if n.is_zero() {
        "0".to_string()
    } else {
        n.to_string()
    }
}

/// `part / whole * 100`, exact; `None` when `whole` is zero (no target, no rate).
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        return None;
    }
    part.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(whole)
}

/// A percentage as reports print it: one decimal, half away from zero ("111.5", "100.0").
pub fn fmt_pct(p: Decimal) -> String {
    let r = p.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    format!("{r:.1}")
}

/// A calendar date (valid time: milestone dates, investment periods). Stored as the day
/// number from the Common Era (a varint of three bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.num_days_from_ce().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Date, D::Error> {
        let days = i32::deserialize(d)?;
        NaiveDate::from_num_days_from_ce_opt(days)
            .map(Date)
            .ok_or_else(|| serde::de::Error::custom(format!("day number {days} is not a date")))
    }
}

impl Date {
    pub fn parse(field: &str, text: &str) -> Result<Date> {
        let bad = || Error::invalid(msg!("model.not_date", field = field, text = text));
        let b = text.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err(bad());
        }
        let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
        check_year(field, d.year())?;
        Ok(Date(d))
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> Month {
        // NaiveDate months are 1..=12, so the cast and the Month invariant hold.
        Month { year: self.0.year(), month: self.0.month() as u8 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

fn check_year(field: &str, year: i32) -> Result<()> {
    if !(YEAR_MIN..=YEAR_MAX).contains(&year) {
        return Err(Error::invalid(msg!(
            "model.year_outside",
            field = field,
            year = year,
            min = YEAR_MIN,
            max = YEAR_MAX
        )));
    }
    Ok(())
}

fn parse_year(field: &str, text: &str, whole: &str) -> Result<i32> {
    if text.len() != 4 || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(msg!("model.not_period_year", field = field, text = whole)));
    }
    // Four ASCII digits always parse.
    let y: i32 = text.parse().map_err(|_| Error::invalid(msg!("model.bad_year", field = field, text = whole)))?;
    check_year(field, y)?;
    Ok(y)
}

/// A calendar month, the period of an investment report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    /// 1..=12.
    pub month: u8,
}

impl Month {
    pub fn parse(field: &str, text: &str) -> Result<Month> {
        match Period::parse(field, text)? {
            Period::Month(m) => Ok(m),
            _ => Err(Error::invalid(msg!("model.not_month", field = field, text = text))),
        }
    }

    pub fn first_day(self) -> Date {
        // Month invariant: 1..=12, day 1 always exists.
        Date(NaiveDate::from_ymd_opt(self.year, u32::from(self.month), 1).unwrap_or(NaiveDate::MIN))
    }

    pub fn last_day(self) -> Date {
        let (y, m) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, u32::from(self.month) + 1) };
        let next = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MAX);
        Date(next.pred_opt().unwrap_or(next))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The period an indicator's actual refers to: a year, a half (上半年 = 1—6月), a quarter or
/// a month. Variants are only appended (the stored form is the variant's index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    Year(i32),
    Quarter(i32, u8),
    Month(Month),
    /// 1 (January to June) or 2 (July to December).
    Half(i32, u8),
}

impl Period {
    pub fn parse(field: &str, text: &str) -> Result<Period> {
        let bad = || Error::invalid(msg!("model.not_period", field = field, text = text));
        let (y, rest) = match text.split_once('-') {
            None => return Ok(Period::Year(parse_year(field, text, text)?)),
            Some(parts) => parts,
        };
        let year = parse_year(field, y, text)?;
        if let Some(h) = rest.strip_prefix('H') {
            return match h {
                "1" | "2" => Ok(Period::Half(year, h.as_bytes()[0] - b'0')),
                _ => Err(bad()),
            };
        }
        if let Some(q) = rest.strip_prefix('Q') {
            return match q {
                "1" | "2" | "3" | "4" => Ok(Period::Quarter(year, q.as_bytes()[0] - b'0')),
                _ => Err(bad()),
            };
        }
        if rest.len() != 2 || !rest.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let m: u8 = rest.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&m) {
            return Err(Error::invalid(msg!("model.no_such_month", field = field, text = text, month = m)));
        }
        Ok(Period::Month(Month { year, month: m }))
    }

    pub fn year(self) -> i32 {
        match self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Half(y, _) => y,
            Period::Month(m) => m.year,
        }
    }

    pub fn first_day(self) -> Date {
        match self {
            Period::Year(y) => Month { year: y, month: 1 }.first_day(),
            Period::Quarter(y, q) => Month { year: y, month: (q - 1) * 3 + 1 }.first_day(),
            Period::Half(y, h) => Month { year: y, month: (h - 1) * 6 + 1 }.first_day(),
            Period::Month(m) => m.first_day(),
        }
    }

    pub fn last_day(self) -> Date {
        match self {
            Period::Year(y) => Month { year: y, month: 12 }.last_day(),
            Period::Quarter(y, q) => Month { year: y, month: q * 3 }.last_day(),
            Period::Half(y, h) => Month { year: y, month: h * 6 }.last_day(),
            Period::Month(m) => m.last_day(),
        }
    }

    /// Breadth rank, used to prefer the annual figure over a quarter or month ending the same day.
    pub fn breadth(self) -> u8 {
        match self {
            Period::Year(_) => 3,
            Period::Half(..) => 2,
            Period::Quarter(..) => 1,
            Period::Month(_) => 0,
        }
    }

    /// The period as a Chinese report writes it: 2021年, 2021年上半年, 2021年1—3月 (a
    /// quarter is the months it ends the year's running total on), 2021年9月.
    pub fn zh(self) -> String {
        match self {
            Period::Year(y) => format!("{y}年"),
            Period::Half(y, 1) => format!("{y}年上半年"),
            Period::Half(y, _) => format!("{y}年下半年"),
            Period::Quarter(y, q) => format!("{y}年第{}季度", ["一", "二", "三", "四"][usize::from(q.clamp(1, 4) - 1)]),
            Period::Month(m) => format!("{}年{}月", m.year, m.month),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y:04}"),
            Period::Quarter(y, q) => write!(f, "{y:04}-Q{q}"),
            Period::Half(y, h) => write!(f, "{y:04}-H{h}"),
            Period::Month(m) => m.fmt(f),
        }
    }
}

/// What a vocabulary is called in a message ("level" → 级别).
fn vocabulary_word(what: &str) -> Msg {
    match what {
        "level" => msg!("model.word_level"),
        "measure" => msg!("model.word_measure"),
        "comparison" => msg!("model.word_comparison"),
        "nature" => msg!("model.word_nature"),
        "basis" => msg!("model.word_basis"),
        "role" => msg!("model.word_role"),
        "construction" => msg!("model.word_construction"),
        "milestone" => msg!("model.word_milestone"),
        other => Msg::text(other),
    }
}

/// Declares a closed vocabulary: a Copy enum with its one text name per variant, parsed from
/// and printed to that name (the names are the glossary's, fixed by the file formats).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(field: &str, text: &str) -> Result<$name> {
                match text.trim() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(Error::invalid(msg!(
                        "model.not_in_vocabulary",
                        field = field,
                        text = text,
                        what = vocabulary_word($what),
                        expected = [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// Who lists a key project (省 / 市 / 县 / 区 重点). A project on both the provincial and
    /// the city list (省市重点) counts as provincial; reports count 省市 together anyway.
    /// Variants are only appended (the stored form is the variant's index).
    Level, "level" {
        Province = "province" | "省" | "省级" | "省市",
        City = "city" | "市" | "市级",
        District = "district" | "区" | "区级",
        County = "county" | "县" | "县级",
    }
);
vocabulary!(
    /// How an indicator is judged: a rate by its gap in percentage points, an amount by actual/target.
    Measure, "measure" { Rate = "rate", Amount = "amount" }
);
vocabulary!(
    /// Whether the target is a floor (at least) or a ceiling (控制在…以内).
    Comparison, "comparison" { AtLeast = "at-least", AtMost = "at-most" }
);
vocabulary!(
    /// 预期性 (expected) or 约束性 (binding).
    Nature, "nature" { Expected = "expected", Binding = "binding" }
);
vocabulary!(
    /// How firm a reported actual is; later bases supersede earlier ones for the same period.
    Basis, "basis" { Estimate = "estimate", Preliminary = "preliminary", Final = "final" }
);
vocabulary!(
    /// What a principal may do: coordinators import plans and register keys, departments
    /// submit for their own entities, auditors only read.
    Role, "role" { Coordinator = "coordinator", Department = "department", Auditor = "auditor" }
);
vocabulary!(
    /// 建设性质: a project new this year (新建), continuing from earlier years (续建), or in
    /// preparation (前期, not yet to start).
    Construction, "construction" {
        New = "new" | "新建" | "新开工",
        Continuing = "continuing" | "续建",
        Preparatory = "preparatory" | "前期" | "预备",
    }
);
vocabulary!(
    /// Project milestones, in the order they must be reached.
    Milestone, "milestone" { Start = "start", Complete = "complete", Operate = "operate" }
);

impl Level {
    /// The level in a Chinese report: 省级, 市级, 县级, 区级.
    pub fn zh(self) -> &'static str {
        match self {
            Level::Province => "省级",
            Level::City => "市级",
            Level::County => "县级",
            Level::District => "区级",
        }
    }

    /// Levels in the order reports list them: province, city, county, district.
    pub const REPORT_ORDER: [Level; 4] = [Level::Province, Level::City, Level::County, Level::District];
}

impl Milestone {
    /// The milestone as a message names it: start / 开工, complete / 竣工, operate / 投产.
    pub fn word(self) -> Msg {
        match self {
            Milestone::Start => msg!("model.milestone_start"),
            Milestone::Complete => msg!("model.milestone_complete"),
            Milestone::Operate => msg!("model.milestone_operate"),
        }
    }
}

impl Construction {
    pub fn zh(self) -> &'static str {
        match self {
            Construction::New => "新建",
            Construction::Continuing => "续建",
            Construction::Preparatory => "前期",
        }
    }
}

/// A project's status, derived from its milestones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Planned,
    Started,
    Completed,
    Operating,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Started => "started",
            Status::Completed => "completed",
            Status::Operating => "operating",
        }
    }
}

/// Ledger time (transaction time): microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses RFC 3339 ("2022-01-15T09:30:00+08:00"); a bare date means the end of that day, UTC.
    pub fn parse(field: &str, text: &str) -> Result<Timestamp> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(Timestamp(t.timestamp_micros()));
        }
        if let Ok(d) = Date::parse(field, text) {
            let end = d.0.and_hms_micro_opt(23, 59, 59, 999_999).map(|t| t.and_utc().timestamp_micros());
            if let Some(us) = end {
                return Ok(Timestamp(us));
            }
        }
        Err(Error::invalid(msg!("model.not_rfc3339", field = field, text = text)))
    }

    /// The UTC date of this instant.
    pub fn date(self) -> Date {
        self.date_in(TimeZone::UTC)
    }

    /// The date of this instant on the ledger's clock: 07:30 in Beijing is already the day
    /// that in UTC is still the day before.
    pub fn date_in(self, zone: TimeZone) -> Date {
        let local = self.0.saturating_add(i64::from(zone.offset_seconds) * 1_000_000);
        let dt = chrono::DateTime::from_timestamp_micros(local).unwrap_or_default();
        Date(dt.date_naive())
    }

    /// Parses a time as a person types it for the ledger in `zone`: RFC 3339 with an offset
    /// is exact; "2022-01-15T09:30:00" without one, and a bare date (the end of that day),
    /// are read in `zone`.
    pub fn parse_in(field: &str, text: &str, zone: TimeZone) -> Result<Timestamp> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(Timestamp(t.timestamp_micros()));
        }
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
            .ok()
            .or_else(|| Date::parse(field, text).ok().and_then(|d| d.0.and_hms_micro_opt(23, 59, 59, 999_999)));
        match local {
            Some(t) => Ok(Timestamp(t.and_utc().timestamp_micros() - i64::from(zone.offset_seconds) * 1_000_000)),
            None => Err(Error::invalid(msg!("model.not_time", field = field, text = text))),
        }
    }
}

/// A ledger's time zone: a fixed offset from UTC (China has kept one, +08:00, since 1991),
/// named when it is one of the zones below. It says which day "today" is, and how a time
/// typed without an offset is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone {
    pub offset_seconds: i32,
    pub name: Option<&'static str>,
}

impl TimeZone {
    pub const UTC: TimeZone = TimeZone { offset_seconds: 0, name: Some("UTC") };
    /// The default: 北京时间.
    pub const SHANGHAI: TimeZone = TimeZone { offset_seconds: 8 * 3600, name: Some("Asia/Shanghai") };
    const NAMED: &'static [(&'static str, i32)] = &[
        ("Asia/Shanghai", 8 * 3600),
        ("Asia/Chongqing", 8 * 3600),
        ("Asia/Harbin", 8 * 3600),
        ("Asia/Hong_Kong", 8 * 3600),
        ("Asia/Macau", 8 * 3600),
        ("Asia/Taipei", 8 * 3600),
        ("Asia/Urumqi", 6 * 3600),
        ("UTC", 0),
    ];

    /// "Asia/Shanghai" (and the other names above), or an offset such as "+08:00".
    pub fn parse(text: &str) -> Result<TimeZone> {
        let t = text.trim();
        if let Some((name, offset)) = TimeZone::NAMED.iter().find(|(n, _)| *n == t) {
            return Ok(TimeZone { offset_seconds: *offset, name: Some(name) });
        }
        let bad = || Error::invalid(msg!("model.bad_time_zone", zone = t));
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h.abs() > 14 || !(0..60).contains(&m) || h < 0 {
            return Err(bad());
        }
        Ok(TimeZone { offset_seconds: sign * (h * 3600 + m * 60), name: None })
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.offset_seconds.abs();
        let offset = format!("{}{:02}:{:02}", if self.offset_seconds < 0 { '-' } else { '+' }, o / 3600, o % 3600 / 60);
        match self.name {
            Some(n) => write!(f, "{n} (UTC{offset})"),
            None => write!(f, "UTC{offset}"),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp_micros(self.0) {
            Some(t) => f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            None => write!(f, "@{}us", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_plain_and_exact() {
        assert_eq!(parse_decimal("v", "12.5").unwrap().to_string(), "12.5");
        assert_eq!(parse_decimal("v", "-9.8").unwrap().to_string(), "-9.8");
        for bad in ["", "1e3", "1,000", "abc", ".5", "5.", "NaN", "1.2.3", "--1"] {
            assert!(parse_decimal("v", bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_amount("amount", "-0.01").is_err());
        assert!(parse_decimal("v", "0.1234567890123456789012345678901").is_err());
        assert!(parse_decimal("v", "0.000001").is_ok());
        assert!(parse_decimal("v", "0.0000001").unwrap_err().to_string().contains("6 decimal places"));
        assert!(parse_decimal("v", "1000000000000000").unwrap_err().to_string().contains("too large"));
        assert!(parse_decimal("v", "-999999999999999.999999").is_ok());
        assert!(parse_amount("amount", "0").is_ok());
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        let p = percent(Decimal::from(694), parse_decimal("v", "622.4").unwrap()).unwrap();
        assert_eq!(fmt_pct(p), "111.5");
        assert_eq!(fmt_pct(parse_decimal("v", "0.05").unwrap()), "0.1");
        assert_eq!(fmt_pct(parse_decimal("v", "-0.05").unwrap()), "-0.1");
        assert_eq!(fmt_pct(Decimal::ONE_HUNDRED), "100.0");
        assert_eq!(percent(Decimal::ONE, Decimal::ZERO), None);
        assert_eq!(fmt_decimal(parse_decimal("v", "694.00").unwrap()), "694");
    }

    #[test]
    fn periods_parse_and_print_back() {
        for t in ["2022", "2022-Q3", "2022-07", "2022-H1", "2022-H2"] {
            assert_eq!(Period::parse("period", t).unwrap().to_string(), t);
        }
        for bad in ["22", "2022-13", "2022-Q5", "2022-7", "2022/07", "20222", "2022-00", "2022-H3", "2022-H0"] {
            assert!(Period::parse("period", bad).is_err(), "{bad:?} accepted");
        }
        let q = Period::parse("p", "2022-Q1").unwrap();
        assert_eq!(q.first_day().to_string(), "2022-01-01");
        assert_eq!(q.last_day().to_string(), "2022-03-31");
        let h = Period::parse("p", "2022-H1").unwrap();
        assert_eq!((h.first_day().to_string(), h.last_day().to_string()), ("2022-01-01".into(), "2022-06-30".into()));
        assert_eq!(h.zh(), "2022年上半年");
        assert_eq!(Month::parse("p", "2024-02").unwrap().last_day().to_string(), "2024-02-29");
    }

    #[test]
    fn dates_are_strict() {
        assert!(Date::parse("date", "2022-02-28").is_ok());
        for bad in ["2022-02-30", "2022-2-28", "28/02/2022", "2022-02-28T00:00"] {
            assert!(Date::parse("date", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn vocabulary_round_trips() {
        for l in Level::ALL {
            assert_eq!(Level::parse("level", l.as_str()).unwrap(), *l);
            assert_eq!(Level::parse("level", l.zh()).unwrap(), *l);
        }
        assert_eq!(Level::parse("级别", "县").unwrap(), Level::County);
        assert_eq!(Level::parse("级别", "区").unwrap(), Level::District);
        assert_eq!(Level::parse("级别", "省市").unwrap(), Level::Province);
        let e = Milestone::parse("milestone", "finish").unwrap_err().to_string();
        assert!(e.contains("start, complete, operate"), "{e}");
    }

    #[test]
    fn the_ledger_day_is_its_time_zone_s() {
        let sh = TimeZone::parse("Asia/Shanghai").unwrap();
        let t = Timestamp::parse("now", "2022-03-15T07:30:00+08:00").unwrap();
        assert_eq!((t.date().to_string(), t.date_in(sh).to_string()), ("2022-03-14".into(), "2022-03-15".into()));
        assert_eq!(Timestamp::parse_in("as-of", "2022-03-15", sh).unwrap().to_string(), "2022-03-15T15:59:59.999999Z");
        assert_eq!(
            Timestamp::parse_in("as-of", "2022-03-15T08:00:00", sh).unwrap().to_string(),
            "2022-03-15T00:00:00Z"
        );
        assert_eq!(TimeZone::parse("+05:30").unwrap().to_string(), "UTC+05:30");
        assert_eq!(sh.to_string(), "Asia/Shanghai (UTC+08:00)");
        for bad in ["Beijing", "+8", "+25:00", "08:00"] {
            assert!(TimeZone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_parse_rfc3339_and_dates() {
        let t = Timestamp::parse("as-of", "2022-01-15T09:30:00+08:00").unwrap();
        assert_eq!(t.to_string(), "2022-01-15T01:30:00Z");
        let d = Timestamp::parse("as-of", "2022-01-15").unwrap();
        assert_eq!(d.to_string(), "2022-01-15T23:59:59.999999Z");
        assert!(Timestamp::parse("as-of", "yesterday").is_err());
    }
}
