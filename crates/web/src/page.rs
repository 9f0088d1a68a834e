//! HTML for the web view: one page frame (navigation, the historical-view banner, offline
//! CSS), escaped text, tables. No script and no asset from anywhere: charts are inline SVG.

use planledger::{tr, Lang};

/// Text made safe for HTML (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query string component, percent-encoded.
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A table: header cells, then rows of cells already escaped (they may hold links).
pub fn table(header: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for (i, h) in header.iter().enumerate() {
        let class = if numeric.contains(&i) { " class=\"n\"" } else { "" };
        out.push_str(&format!("<th{class}>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = if numeric.contains(&i) { " class=\"n\"" } else { "" };
            out.push_str(&format!("<td{class}>{c}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

const CSS: &str = "body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;margin:0;color:#1d2733;background:#f5f6f8}\
header{background:#1f4e79;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}\
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;font-size:13px;opacity:.85}\
main{padding:16px 24px;max-width:1400px}h1{font-size:22px;margin:8px 0 16px}h2{font-size:18px;margin:24px 0 8px}\
.banner{background:#fff4d6;border:1px solid #e0b84a;padding:8px 12px;margin-bottom:12px}\
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #d9dee5;padding:12px 16px;min-width:180px}\
.card .v{font-size:26px;font-weight:bold;color:#1f4e79}.card .k{font-size:13px;color:#5a6570}\
table{border-collapse:collapse;background:#fff;font-size:14px}th,td{border:1px solid #d9dee5;padding:4px 8px;text-align:left}\
th{background:#eef1f5}.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00020}.ok{color:#1b7a3a}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts figure{background:#fff;border:1px solid #d9dee5;margin:0;padding:4px}\
.charts svg{width:660px;height:auto}form.filters{margin-bottom:12px;display:flex;gap:8px;flex-wrap:wrap;align-items:center}\
code{font-size:12px;word-break:break-all}";

/// A whole page: the navigation, `title`, a banner when the view is historical, `body`.
pub struct Frame<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub year: Option<i32>,
    /// Who is looking (principal and role), shown in the header.
    pub who: &'a str,
    /// The historical view, when `as_of` or `at` was given: a sentence for the banner.
    pub history: Option<String>,
    /// The query string that keeps the view's time and language across links.
    pub keep: String,
}

impl Frame<'_> {
    pub fn render(&self, body: &str) -> String {
        let l = self.lang;
        let year = self.year.map(|y| format!("year={y}")).unwrap_or_default();
        let query = |parts: &[&str]| {
            let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
            if parts.is_empty() {
                String::new()
            } else {
                format!("?{}", parts.join("&"))
            }
        };
        let with_year = query(&[&year, &self.keep]);
        let nav = [
            (format!("/overview{with_year}"), tr!(l, "web.nav.overview")),
            (format!("/projects{with_year}"), tr!(l, "web.nav.projects")),
            (format!("/indicators{with_year}"), tr!(l, "web.nav.indicators")),
            (format!("/verify{}", query(&[&self.keep])), tr!(l, "web.nav.verify")),
            (format!("/exports{with_year}"), tr!(l, "web.nav.exports")),
        ];
        // The other language, on the same page with the same year and time.
        let keep_time: Vec<&str> = self.keep.split('&').filter(|p| !p.is_empty() && !p.starts_with("lang=")).collect();
        let links: String =
            nav.iter().map(|(href, text)| format!("<a href=\"{}\">{}</a>", esc(href), esc(text))).collect();
        let other = if l == Lang::Zh { ("en", "English") } else { ("zh", "中文") };
        let lang_part = format!("lang={}", other.0);
        let mut switch = vec![year.as_str()];
        switch.extend(keep_time.iter().copied());
        switch.push(&lang_part);
        let switch = query(&switch);
        let banner =
            self.history.as_ref().map(|h| format!("<div class=\"banner\">{}</div>", esc(h))).unwrap_or_default();
        format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title} · planledger</title>\
             <style>{CSS}</style></head><body><header><strong>planledger</strong>{links}\
             <span class=\"who\">{who} · <a href=\"{switch}\">{other_name}</a> · <a href=\"/logout\">{logout}</a></span></header>\
             <main>{banner}<h1>{title}</h1>{body}</main></body></html>\n",
            lang = if l == Lang::Zh { "zh-CN" } else { "en" },
            title = esc(self.title),
            who = esc(self.who),
            switch = esc(&switch),
            other_name = other.1,
            logout = esc(tr!(l, "web.logout")),
        )
    }
}

/// The login page: one field for the token.
pub fn login(lang: Lang, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"bad\">{}</p>", esc(e))).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>planledger</title><style>{CSS}</style></head><body>\
         <header><strong>planledger</strong></header><main><h1>{title}</h1>{error}\
         <form method=\"post\" action=\"/login\"><p>{hint}</p><input name=\"token\" size=\"70\" autocomplete=\"off\">\
         <button type=\"submit\">{go}</button></form></main></body></html>\n",
        title = esc(tr!(lang, "web.login.title")),
        hint = esc(tr!(lang, "web.login.hint")),
        go = esc(tr!(lang, "web.login.submit")),
    )
}
