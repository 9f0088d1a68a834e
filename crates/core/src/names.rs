//! Ids as people write them: the rule an id follows, the form two ids are compared in to
//! catch look-alikes (全角/半角, stray spaces), and the nearest known ids to suggest when one
//! is not found.
//!
//! Ids are any Unicode text a clerk would type (项目编号 "GC-2021-001", a 项目名称, a 责任单位's
//! name), stored and shown exactly as given. What they may not hold is what would make them
//! ambiguous or unsafe elsewhere: control and invisible characters (including bidirectional
//! overrides, which make text display as something other than what it is), the path
//! separators `/` and `\` (ids name streams `plan/P/project/X`), and leading or trailing
//! spaces.

use crate::error::{Error, Result};
use crate::msg::Msg;

/// Most characters in an id: a 项目名称 such as "郑州市管城回族区智慧城市运营管理中心建设项目"
/// fits with room to spare.
pub const ID_CHARS_MAX: usize = 64;
/// Most bytes in an id (64 CJK characters are 192 bytes of UTF-8).
pub const ID_BYTES_MAX: usize = 256;
/// Most suggestions an "unknown id" error names.
pub const SUGGESTIONS_MAX: usize = 3;

/// Characters that change how text displays without showing: zero-width spaces and joiners,
/// bidirectional marks and overrides, the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// Checks an id of `kind` (plan, department, project, indicator, principal).
pub fn check_id(kind: &str, id: &str) -> Result<()> {
    // Most ids are short printable ASCII, which passes every check below: answered without
    // looking at characters one by one (a million-line import checks two ids a line).
    let plain = |b: &u8| b.is_ascii_graphic() && *b != b'/' && *b != b'\\';
    if !id.is_empty() && id.len() <= ID_CHARS_MAX.min(ID_BYTES_MAX) && id.bytes().all(|b| plain(&b)) {
        return Ok(());
    }
    check_id_by_char(kind, id)
}

/// `check_id`, every rule applied character by character.
fn check_id_by_char(kind: &str, id: &str) -> Result<()> {
    let (kind, shown) = (kind_word(kind), printable(id));
    let problem = if id.is_empty() {
        Some(msg!("names.id_empty", kind = kind, id = shown))
    } else if id.chars().count() > ID_CHARS_MAX || id.len() > ID_BYTES_MAX {
        Some(msg!("names.id_too_long", kind = kind, id = shown, max = ID_CHARS_MAX))
    } else if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        Some(msg!("names.id_space", kind = kind, id = shown))
    } else if let Some(c) = id.chars().find(|c| c.is_control() || invisible(*c)) {
        Some(msg!("names.id_invisible", kind = kind, id = shown, code = format!("{:04X}", u32::from(c))))
    } else if id.contains(['/', '\\']) {
        Some(msg!("names.id_slash", kind = kind, id = shown))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(m) => Err(Error::invalid(m)),
    }
}

/// The kind of an id as a message names it ("project" → 项目); a kind this table does not
/// know is shown as written.
pub fn kind_word(kind: &str) -> Msg {
    match kind {
        "plan" => msg!("kind.plan"),
        "department" => msg!("kind.department"),
        "project" => msg!("kind.project"),
        "indicator" => msg!("kind.indicator"),
        "principal" => msg!("names.principal"),
        other => Msg::text(other),
    }
}

/// An id as an error message may show it: control characters escaped, so a message stays
/// on one line whatever the input.
fn printable(id: &str) -> String {
    id.chars()
        .flat_map(|c| if c.is_control() || invisible(c) { c.escape_unicode().collect() } else { vec![c] })
        .collect()
}

/// The form in which two ids that differ only by character width (全角 "ＧＣ－００１" and
/// 半角 "GC-001") or by spaces are the same: full-width ASCII folded to ASCII, every kind of
/// space removed.
pub fn look_alike_key(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            // U+FF01..U+FF5E are the full-width forms of U+0021..U+007E.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// The first of `known` that looks like `id` without being it (see [`look_alike_key`]).
pub fn look_alike<'k>(id: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let key = look_alike_key(id);
    known.into_iter().find(|k| *k != id && look_alike_key(k) == key)
}

/// Up to `SUGGESTIONS_MAX` of `known` nearest to `id`: look-alikes first, then those within
/// a third of the id's length in edits (at least one), nearest first.
pub fn nearest<'k>(id: &str, known: impl IntoIterator<Item = &'k str>) -> Vec<String> {
    let key = look_alike_key(id);
    let reach = (key.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|k| *k != id)
        .filter_map(|k| {
            let d = strsim::damerau_levenshtein(&key, &look_alike_key(k));
            let contains = !key.is_empty() && (k.contains(id) || id.contains(k));
            (d <= reach || contains).then_some((d, k))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(SUGGESTIONS_MAX).map(|(_, k)| k.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_what_people_write() {
        for ok in ["jindai-smart-park", "GC-2021-001", "金岱智慧产业园", "区住房和城乡建设局", "Park 2", "kp.2021_001"]
        {
            assert!(check_id("project", ok).is_ok(), "{ok:?} refused");
        }
        let long = "项".repeat(ID_CHARS_MAX + 1);
        for bad in ["", " lead", "trail ", "a/b", "a\\b", "a\nb", "a\u{202E}b", "zero\u{200B}width", long.as_str()] {
            let e = check_id("project", bad).unwrap_err().to_string();
            assert!(e.starts_with("project id '") && !e.contains('\n'), "{bad:?}: {e}");
        }
    }

    /// The ASCII shortcut answers as the rules do, for every ASCII character in every place
    /// and at the length limit.
    #[test]
    fn the_ascii_shortcut_agrees_with_the_rules() {
        let mut ids: Vec<String> = Vec::new();
        for b in 0u8..=127 {
            let c = char::from(b);
            ids.extend([c.to_string(), format!("{c}x"), format!("x{c}"), format!("x{c}y")]);
        }
        ids.extend(["a".repeat(ID_CHARS_MAX), "a".repeat(ID_CHARS_MAX + 1), "é".into(), "金岱".into()]);
        for id in &ids {
            let fast = check_id("project", id).map_err(|e| e.to_string());
            assert_eq!(fast, check_id_by_char("project", id).map_err(|e| e.to_string()), "{id:?}");
        }
        assert!(ids.iter().filter(|id| check_id("project", id).is_ok()).count() > 300);
    }

    #[test]
    fn look_alikes_differ_only_by_width_or_spaces() {
        assert_eq!(look_alike_key("ＧＣ－００１"), "GC-001");
        assert_eq!(look_alike_key("金岱 智慧\u{3000}产业园"), "金岱智慧产业园");
        assert_eq!(look_alike("ＧＣ－００１", ["GC-002", "GC-001"]), Some("GC-001"));
        assert_eq!(look_alike("GC-001", ["GC-001"]), None);
    }

    #[test]
    fn nearest_suggests_look_alikes_then_small_edits() {
        let known = ["金岱智慧产业园", "金岱智慧物流园", "航海路改造", "park"];
        assert_eq!(nearest("金岱智慧产业圆", known), vec!["金岱智慧产业园"]);
        assert_eq!(nearest("金岱智慧", known), vec!["金岱智慧产业园", "金岱智慧物流园"]);
        assert_eq!(nearest("金岱 智慧产业园", known)[0], "金岱智慧产业园");
        assert_eq!(nearest("prak", known), vec!["park"]);
        assert!(nearest("完全不同", known).is_empty());
    }
}
