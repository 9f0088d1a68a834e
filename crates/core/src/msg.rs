//! The message catalogue: every sentence planledger says to a person, in each language it
//! speaks, kept in one table per language (`messages/zh.txt`, `messages/en.txt`) rather than
//! in format strings scattered through the code.
//!
//! A `Msg` is typed data: a catalogue key and its arguments (themselves messages, so a
//! nested reason is translated too), or a verbatim text for what is not ours to translate
//! (an id, a path, a storage engine's own words). It becomes a sentence only when rendered
//! in a `Lang`. Errors carry `Msg`s, so the same error reads in Chinese on a clerk's
//! terminal and in English in a log.
//!
//! The table format, one entry per line: `key = text`, `#` starts a comment line, `{name}`
//! is an argument, `\n` a line break. Both tables have the same keys and, per key, the same
//! arguments (a test checks it, and that every key the code names exists).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

/// A language planledger speaks to people in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en` (also `zh-CN`, `zh_CN.UTF-8`, `en_US` and the like); `None` otherwise.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "zh" || t.starts_with("zh_") || t.starts_with("zh-") || t.starts_with("zh.") {
            Some(Lang::Zh)
        } else if t == "en" || t.starts_with("en_") || t.starts_with("en-") || t.starts_with("en.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

const ZH: &str = include_str!("../messages/zh.txt");
const EN: &str = include_str!("../messages/en.txt");

/// The table of one language, parsed once.
fn table(lang: Lang) -> &'static HashMap<&'static str, String> {
    static ZH_TABLE: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    static EN_TABLE: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    match lang {
        Lang::Zh => ZH_TABLE.get_or_init(|| parse(ZH)),
        Lang::En => EN_TABLE.get_or_init(|| parse(EN)),
    }
}

/// Parses a catalogue text (the format in the module comment). A line without ` = ` is
/// skipped; the catalogue tests refuse such lines, so none ships.
pub fn parse(text: &'static str) -> HashMap<&'static str, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.replace("\\n", "\n")))
        .collect()
}

/// The text of `key` in `lang`, falling back to English, then to the key itself (a missing
/// key is our bug, which the catalogue tests catch; it is never a panic).
pub fn text(lang: Lang, key: &str) -> &str {
    table(lang).get(key).or_else(|| table(Lang::En).get(key)).map(String::as_str).unwrap_or(key)
}

/// A message: a catalogue entry with its arguments, or a verbatim text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Key {
        key: &'static str,
        args: Vec<(&'static str, Msg)>,
    },
    /// Shown as is in every language: an id, a path, a number, another program's words.
    Text(String),
    /// Ids quoted and joined in the language's way: "'a', 'b' or 'c'" / "“a”、“b”或“c”".
    Choices(Vec<String>),
    /// Lines, each rendered, joined by line breaks (a summary and its problems).
    Lines(Vec<Msg>),
}

impl Msg {
    pub fn key(key: &'static str, args: Vec<(&'static str, Msg)>) -> Msg {
        Msg::Key { key, args }
    }

    pub fn text(t: impl Into<String>) -> Msg {
        Msg::Text(t.into())
    }

    /// The sentence in `lang`, its arguments rendered in `lang` too.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Msg::Text(t) => t.clone(),
            Msg::Choices(items) => quoted_list(lang, items),
            Msg::Lines(lines) => lines.iter().map(|l| l.render(lang)).collect::<Vec<_>>().join("\n  "),
            Msg::Key { key, args } => {
                fill(text(lang, key), |name| args.iter().find(|(n, _)| *n == name).map(|(_, m)| m.render(lang)))
            }
        }
    }

    /// The sentence in English (logs, `Display`).
    pub fn en(&self) -> String {
        self.render(Lang::En)
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Msg::Text(t) if t.is_empty())
    }
}

/// Replaces each `{name}` in `template` by `arg(name)`; an unknown name stays as written.
fn fill(template: &str, arg: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                match arg(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The argument names a template uses, in order of first use.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                if !names.contains(&&after[..close]) {
                    names.push(&after[..close]);
                }
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

/// What may be an argument of a message: another message (translated with it), or any
/// displayable value (shown as is).
pub trait Arg {
    fn into_msg(self) -> Msg;
}

impl Arg for Msg {
    fn into_msg(self) -> Msg {
        self
    }
}

impl<T: Display> Arg for T {
    fn into_msg(self) -> Msg {
        Msg::Text(self.to_string())
    }
}

impl From<String> for Msg {
    fn from(t: String) -> Msg {
        Msg::Text(t)
    }
}

impl From<&str> for Msg {
    fn from(t: &str) -> Msg {
        Msg::Text(t.to_string())
    }
}

/// `msg!("key", name = value, ...)`: a catalogue message. A value is a `Msg` (translated
/// with the sentence) or anything `Display` (shown as is).
#[macro_export]
macro_rules! msg {
    ($key:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::msg::Msg::key($key, vec![$((stringify!($name), $crate::msg::Arg::into_msg($value))),*])
    };
}

/// `tr!(lang, "key")`: the text of a catalogue entry without arguments (a table header,
/// a word).
#[macro_export]
macro_rules! tr {
    ($lang:expr, $key:literal) => {
        $crate::msg::text($lang, $key)
    };
}

/// A list in the language's way: "'a', 'b' or 'c'" / "“a”、“b”或“c”".
pub fn quoted_list(lang: Lang, items: &[String]) -> String {
    let q = |s: &String| match lang {
        Lang::Zh => format!("“{s}”"),
        Lang::En => format!("'{s}'"),
    };
    match items {
        [] => String::new(),
        [one] => q(one),
        [init @ .., last] => {
            let sep = if lang == Lang::Zh { "、" } else { ", " };
            let init: Vec<String> = init.iter().map(q).collect();
            format!("{}{}{}", init.join(sep), text(lang, "list.or"), q(last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_known_names_and_keeps_the_rest() {
        let got = fill("a {x} b {y} {not a name} {", |n| (n == "x").then(|| "1".to_string()));
        assert_eq!(got, "a 1 b {y} {not a name} {");
    }

    #[test]
    fn nested_messages_are_translated_with_their_sentence() {
        let m = msg!("error.at", location = msg!("at.line", line = 3), message = "x");
        assert_eq!(m.render(Lang::En), "line 3: x");
        assert_eq!(m.render(Lang::Zh), "第3行：x");
    }

    #[test]
    fn lang_tags_from_locales() {
        assert_eq!(Lang::from_tag("zh_CN.UTF-8"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("en_US.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::from_tag("C"), None);
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_arguments() {
        for (name, text) in [("zh", ZH), ("en", EN)] {
            for (i, l) in text.lines().enumerate() {
                let t = l.trim();
                assert!(t.is_empty() || t.starts_with('#') || t.contains(" = "), "{name}.txt line {}: {l}", i + 1);
            }
        }
        let (zh, en) = (parse(ZH), parse(EN));
        let mut missing: Vec<String> =
            en.keys().filter(|k| !zh.contains_key(*k)).map(|k| format!("zh lacks {k}")).collect();
        missing.extend(zh.keys().filter(|k| !en.contains_key(*k)).map(|k| format!("en lacks {k}")));
        missing.sort();
        assert!(missing.is_empty(), "{missing:#?}");
        for (k, e) in &en {
            let (mut a, mut b) = (placeholders(e), placeholders(&zh[k]));
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "arguments of {k}");
        }
        for (lang, t) in [("zh", ZH), ("en", EN)] {
            let mut seen = std::collections::HashSet::new();
            for l in t.lines().filter_map(|l| l.split_once(" = ")) {
                assert!(seen.insert(l.0.trim()), "{lang}.txt names {} twice", l.0);
            }
        }
    }

    /// Every `msg!("key"` in the workspace's sources names a catalogue entry, with the
    /// arguments the entry uses.
    #[test]
    fn every_key_the_code_names_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["crates", "src"] {
            collect_rs(&root.join(dir), &mut files);
        }
        let en = parse(EN);
        let mut bad = Vec::new();
        let mut used = 0;
        for f in files {
            if f.ends_with("msg.rs") {
                continue;
            }
            let Ok(src) = std::fs::read_to_string(&f) else { continue };
            for (i, _) in src.match_indices("msg!(\"") {
                let rest = &src[i + 6..];
                let Some(end) = rest.find('"') else { continue };
                let key = &rest[..end];
                used += 1;
                if !en.contains_key(key) {
                    bad.push(format!("{}: {key}", f.display()));
                }
            }
            for (i, _) in src.match_indices("tr!(") {
                let rest = &src[i + 4..];
                let Some(q) = rest.find('"') else { continue };
                let Some(end) = rest[q + 1..].find('"') else { continue };
                let key = &rest[q + 1..q + 1 + end];
                if rest[..q].contains(',') && !key.contains(' ') {
                    used += 1;
                    if !en.contains_key(key) {
                        bad.push(format!("{}: {key}", f.display()));
                    }
                }
            }
        }
        assert!(used > 0);
        assert!(bad.is_empty(), "keys not in the catalogue: {bad:#?}");
    }

    /// No sentence a person reads is a format string handed to an error: each goes through
    /// the catalogue (`msg!`). Verbatim texts (`Msg::text`) are for ids, paths and other
    /// programs' words.
    #[test]
    fn errors_are_not_built_from_format_strings() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["crates", "src"] {
            collect_rs(&root.join(dir), &mut files);
        }
        let patterns = [
            "invalid(format!",
            "invalid(\"",
            "forbidden(format!",
            "conflict(format!",
            "integrity(format!",
            "Msg::from(format!",
            ".at(format!",
            ".at(\"",
            "Error::io(format!",
            "Error::io(\"",
        ];
        let mut bad = Vec::new();
        for f in files.iter().filter(|f| !f.to_string_lossy().contains("/tests/") && !f.ends_with("msg.rs")) {
            let Ok(src) = std::fs::read_to_string(f) else { continue };
            // Unit tests at the end of a file may build errors however they like.
            let src = src.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in src.lines().enumerate() {
                if patterns.iter().any(|p| line.contains(p)) {
                    bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }

    fn collect_rs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("target") {
                collect_rs(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
}
