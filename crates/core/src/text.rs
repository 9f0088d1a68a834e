//! Text for a terminal: tables aligned by display width (a Chinese character takes two
//! columns, so tabs and `{:<n}` misalign it), and the words of the domain in each language.

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use crate::model::{Basis, Level, Milestone, Status};
use crate::msg::{text, Lang};

/// Column alignment of a `grid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Rows under a header, columns aligned by display width, no borders and no tabs; each line
/// starts with `indent` and has no trailing spaces.
pub fn grid(indent: &str, header: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(header.iter().map(|h| h.to_string()));
    for r in rows {
        t.add_row(r.iter().map(|c| c.replace(['\n', '\r', '\t'], " ")));
    }
    for (i, a) in align.iter().enumerate() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(match a {
                Align::Left => CellAlignment::Left,
                Align::Right => CellAlignment::Right,
            });
        }
    }
    let mut out = String::new();
    for line in t.to_string().lines() {
        // comfy-table pads each cell by one space on each side.
        let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
        out.push_str(indent);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The display width of `s` in a terminal.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `w` display columns.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

pub fn status(lang: Lang, s: Status) -> &'static str {
    text(
        lang,
        match s {
            Status::Planned => "word.status.planned",
            Status::Started => "word.status.started",
            Status::Completed => "word.status.completed",
            Status::Operating => "word.status.operating",
        },
    )
}

pub fn level(lang: Lang, l: Level) -> &'static str {
    match lang {
        Lang::Zh => match l {
            Level::Province => "省",
            Level::City => "市",
            Level::County => "县",
            Level::District => "区",
        },
        Lang::En => l.as_str(),
    }
}

pub fn milestone(lang: Lang, m: Milestone) -> &'static str {
    text(
        lang,
        match m {
            Milestone::Start => "word.milestone.start",
            Milestone::Complete => "word.milestone.complete",
            Milestone::Operate => "word.milestone.operate",
        },
    )
}

pub fn basis(lang: Lang, b: Basis) -> &'static str {
    text(
        lang,
        match b {
            Basis::Estimate => "word.basis.estimate",
            Basis::Preliminary => "word.basis.preliminary",
            Basis::Final => "word.basis.final",
        },
    )
}

pub fn role(lang: Lang, r: crate::model::Role) -> &'static str {
    use crate::model::Role;
    text(
        lang,
        match r {
            Role::Coordinator => "word.role.coordinator",
            Role::Department => "word.role.department",
            Role::Auditor => "word.role.auditor",
        },
    )
}

pub fn construction(lang: Lang, c: crate::model::Construction) -> &'static str {
    match lang {
        Lang::Zh => c.zh(),
        Lang::En => c.as_str(),
    }
}

/// The name of an event type (`Payload::kind`) as people call it.
pub fn event_kind(lang: Lang, kind: &str) -> &str {
    let key = match kind {
        "plan-declared" => "word.event.plan_declared",
        "department-registered" => "word.event.department_registered",
        "indicator-defined" => "word.event.indicator_defined",
        "project-listed" => "word.event.project_listed",
        "investment" => "word.event.investment",
        "milestone" => "word.event.milestone",
        "actual" => "word.event.actual",
        "revise-target" => "word.event.revise_target",
        "correct" => "word.event.correct",
        "retract" => "word.event.retract",
        "key-registered" => "word.event.key_registered",
        "key-revoked" => "word.event.key_revoked",
        "project-scheduled" => "word.event.project_scheduled",
        "withdraw" => "word.event.withdraw",
        "indicator-tracked" => "word.event.indicator_tracked",
        other => return other,
    };
    text(lang, key)
}

/// A status as the JSON records it (`started`) in words; any other text as it is.
pub fn status_named(lang: Lang, s: &str) -> String {
    [Status::Planned, Status::Started, Status::Completed, Status::Operating]
        .into_iter()
        .find(|x| x.as_str() == s)
        .map_or_else(|| s.to_string(), |x| status(lang, x).to_string())
}

/// A level as recorded (`city`, or 市) in words; any other text as it is.
pub fn level_named(lang: Lang, s: &str) -> String {
    Level::parse("level", s).map_or_else(|_| s.to_string(), |l| level(lang, l).to_string())
}

/// A basis as recorded (`final`) in words; any other text as it is.
pub fn basis_named(lang: Lang, s: &str) -> String {
    Basis::parse("basis", s).map_or_else(|_| s.to_string(), |b| basis(lang, b).to_string())
}

/// A period as recorded (`2021-03`) as people write it (2021年3月); any other text as it is.
pub fn period_named(lang: Lang, s: &str) -> String {
    crate::model::Period::parse("period", s).map_or_else(|_| s.to_string(), |p| period(lang, p))
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An instant as people read it on the ledger's clock: "2022-01-20 10:00:00 +08:00".
pub fn time(t: crate::model::Timestamp, zone: crate::model::TimeZone) -> String {
    let local = t.0.saturating_add(i64::from(zone.offset_seconds) * 1_000_000);
    let Some(dt) = chrono::DateTime::from_timestamp_micros(local) else { return t.to_string() };
    let off = zone.offset_seconds;
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!("{} {sign}{:02}:{:02}", dt.format("%Y-%m-%d %H:%M:%S"), off / 3600, off % 3600 / 60)
}

/// An RFC 3339 time as `time` prints it; the text itself when it is not one.
pub fn time_text(rfc3339: &str, zone: crate::model::TimeZone) -> String {
    crate::model::Timestamp::parse("time", rfc3339).map_or_else(|_| rfc3339.to_string(), |t| time(t, zone))
}

/// A period as people write it: `2021-03` / 2021年3月.
pub fn period(lang: Lang, p: crate::model::Period) -> String {
    match lang {
        Lang::Zh => p.zh(),
        Lang::En => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_lines_up_by_display_width() {
        let rows =
            vec![vec!["观城区人民医院".to_string(), "12.5".to_string()], vec!["road-7".to_string(), "3".to_string()]];
        let t = grid("  ", &["名称", "完成投资"], &[Align::Left, Align::Right], &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        let widths: Vec<usize> = lines.iter().map(|l| width(l)).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{t}");
        assert!(!t.contains('\t'));
        assert!(lines[2].starts_with("  road-7"));
    }
}
