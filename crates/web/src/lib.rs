//! planledger-web: the read-only web view for leaders and auditors (`serve --http ADDR`).
//! Server-rendered pages in Chinese (English switchable), every figure from the typed read
//! API (`planledger::read`, the functions the CLI and gRPC answer with), charts as inline
//! SVG from planledger-render: nothing is fetched from anywhere, nothing is computed here.
//!
//! Access needs a token (`planledger web-token issue`, `tokens`): presented once at
//! `/login` (a form, or `/login?token=…` as a link), then held in an HttpOnly cookie, or
//! sent as `Authorization: Bearer …`. A department sees every aggregate and the detail
//! pages of its own projects; coordinators and auditors see everything. There is no write
//! action. Every request is one line of the server's access log (`planledger_server::access`:
//! the token's holder and public id, never the token; the path, never the query).

// Handlers refuse with an axum `Response`, as axum handlers do.
#![allow(clippy::result_large_err)]

pub mod page;
pub mod streams;
pub mod tokens;

use std::path::PathBuf;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use planledger::clock::{Clock, SystemClock};
use planledger::error::{Error, Result};
use planledger::model::{Date, Role};
use planledger::query::AsOf;
use planledger::read;
use planledger::store::Store;
use planledger::{msg, tr, Lang};
use planledger_server::Reader;

use page::{esc, url, Frame};

/// The cookie that holds a token after login.
const COOKIE: &str = "planledger_token";
/// Longest token text accepted (a token is 64 hex digits).
const TOKEN_TEXT_MAX: usize = 128;

#[derive(Clone)]
struct App {
    reader: Reader,
    dir: PathBuf,
    streams: std::sync::Arc<streams::Streams>,
}

/// Serves the web view on `listener` until `stop` turns true.
pub async fn serve(
    listener: std::net::TcpListener,
    dir: PathBuf,
    reader: Reader,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io(msg!("web.serving"), e);
    listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    let app = App { reader, dir, streams: Default::default() };
    // The index of streams is read from the log once, now, then kept up with the head.
    let warm = app.clone();
    tokio::task::spawn_blocking(move || warm.reader.read(|store| warm.streams.catch_up(store)));
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login_link).post(login_form))
        .route("/logout", get(logout))
        .route("/overview", get(overview))
        .route("/projects", get(projects))
        .route("/project/:plan/:id", get(project))
        .route("/indicators", get(indicators))
        .route("/verify", get(verify))
        .route("/proof/:seq", get(proof))
        .route("/proof", get(proof_form))
        .route("/exports", get(exports))
        .route("/download/:year/:file", get(download))
        .layer(axum::middleware::from_fn_with_state(app.clone(), record))
        .with_state(app);
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(io)
}

// ---- who is asking -----------------------------------------------------------------------

/// The query every page understands: the year, the view's time (`as_of`, `at`), the
/// language, and the project list's filters.
#[derive(Clone, Debug, Default, Deserialize)]
struct Params {
    year: Option<i32>,
    as_of: Option<String>,
    at: Option<String>,
    lang: Option<String>,
    level: Option<String>,
    dept: Option<String>,
    lagging: Option<String>,
    dim: Option<String>,
    sort: Option<String>,
}

impl Params {
    fn lang(&self) -> Lang {
        self.lang.as_deref().and_then(Lang::from_tag).unwrap_or(Lang::Zh)
    }

    fn as_of(&self) -> Result<Option<AsOf>> {
        self.as_of.as_deref().filter(|s| !s.is_empty()).map(AsOf::parse).transpose()
    }

    fn at(&self) -> Result<Option<Date>> {
        self.at.as_deref().filter(|s| !s.is_empty()).map(|d| Date::parse("at", d)).transpose()
    }

    /// The query string that keeps time and language across links.
    fn keep(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [("as_of", &self.as_of), ("at", &self.at), ("lang", &self.lang)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", url(v)));
            }
        }
        parts.join("&")
    }

    /// The banner of a historical view.
    fn history(&self) -> Option<String> {
        let l = self.lang();
        match (self.as_of.as_deref().filter(|s| !s.is_empty()), self.at.as_deref().filter(|s| !s.is_empty())) {
            (None, None) => None,
            (Some(a), None) => Some(msg!("web.history_as_of", as_of = a).render(l)),
            (None, Some(d)) => Some(msg!("web.history_at", at = d).render(l)),
            (Some(a), Some(d)) => Some(msg!("web.history_both", as_of = a, at = d).render(l)),
        }
    }
}

/// The grant behind the request's token (cookie or bearer), or the response that refuses it.
fn who(app: &App, headers: &HeaderMap) -> std::result::Result<tokens::Grant, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).and_then(|c| {
        c.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == COOKIE).map(|(_, v)| v.to_string())
    });
    let token = bearer.or(cookie).filter(|t| t.len() <= TOKEN_TEXT_MAX);
    let grant = token.and_then(|t| {
        let zone = planledger::zone::load(app.dir.as_path()).ok()?;
        let today = SystemClock.now().date_in(zone);
        tokens::check(&tokens::load(&app.dir).ok()?, &t, today)
    });
    match grant {
        Some(g) => Ok(g),
        None => {
            // A browser goes to the login page; a script gets 401.
            let wants_html =
                headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("html"));
            Err(if wants_html {
                Redirect::to("/login").into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "a token is required (planledger web-token issue)\n").into_response()
            })
        }
    }
}

/// Who is looking: the grant of the request's token. A handler that takes it answers only a
/// token holder; anyone else gets `who`'s refusal.
struct Viewer(tokens::Grant);

#[axum::async_trait]
impl axum::extract::FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &App) -> Result<Viewer, Response> {
        let grant = who(app, &parts.headers)?;
        if let Some(seen) = parts.extensions.get::<Seen>() {
            seen.set(&grant);
        }
        Ok(Viewer(grant))
    }
}

/// Whose token a request carried, once checked: filled by `Viewer` (or a login), read by
/// `record` when the response is ready.
#[derive(Clone, Default)]
struct Seen(std::sync::Arc<std::sync::Mutex<Option<tokens::Grant>>>);

impl Seen {
    fn set(&self, grant: &tokens::Grant) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(grant.clone());
    }

    fn get(&self) -> Option<tokens::Grant> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One line of the server's access log per request: peer, the token's holder, role and
/// public id (never the token), the path (never the query: a login link holds a token), the
/// status and its outcome, the time taken.
async fn record(
    State(app): State<App>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut entry = planledger_server::access::Entry::new("web", req.uri().path(), Some(peer));
    let seen = Seen::default();
    req.extensions_mut().insert(seen.clone());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    if let Some(g) = seen.get() {
        entry.principal = Some(g.principal);
        entry.role = Some(g.role.as_str());
        entry.key_id = Some(g.id);
    }
    entry.status = Some(status);
    entry.outcome = planledger_server::access::Outcome::of_http(status);
    app.reader.record(&entry);
    response
}

/// Runs `f` on the store off the async threads.
async fn read_store<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let r = app.reader.clone();
    tokio::task::spawn_blocking(move || r.read(f))
        .await
        .map_err(|e| Error::io(msg!("web.serving"), std::io::Error::other(e.to_string())))?
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// A page, or the error page for what went wrong (a bad parameter is the user's: 400).
fn respond(lang: Lang, page: Result<String>) -> Response {
    match page {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            let status = match e.root() {
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Invalid(_) | Error::Unknown { .. } | Error::Problems { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>planledger</title></head><body><p>{}</p><p><a href=\"/\">{}</a></p></body></html>\n",
                esc(&e.render(lang)),
                esc(tr!(lang, "web.back"))
            );
            html(status, body)
        }
    }
}

fn who_text(g: &tokens::Grant, lang: Lang) -> String {
    format!("{}（{}）", g.principal, planledger::text::role(lang, g.role))
}

// ---- login -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginParams {
    token: Option<String>,
    lang: Option<String>,
    /// Where to go once logged in: a path of this site.
    next: Option<String>,
}

/// `next` when it is a path of this site (not another site's address), else the front page.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains(['\\', '\r', '\n']) => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_with(app: &App, seen: &Seen, token: Option<String>, lang: Lang, next: Option<&str>) -> Response {
    let Some(token) = token.filter(|t| !t.trim().is_empty() && t.len() <= TOKEN_TEXT_MAX) else {
        return html(StatusCode::OK, page::login(lang, None));
    };
    let token = token.trim().to_string();
    let zone = planledger::zone::load(app.dir.as_path()).unwrap_or(planledger::model::TimeZone::SHANGHAI);
    let today = SystemClock.now().date_in(zone);
    match tokens::load(&app.dir).ok().and_then(|g| tokens::check(&g, &token, today)) {
        Some(g) => {
            seen.set(&g);
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, next_page(next))]).into_response()
        }
        None => html(StatusCode::UNAUTHORIZED, page::login(lang, Some(tr!(lang, "web.login.refused")))),
    }
}

async fn login_link(
    State(app): State<App>,
    axum::Extension(seen): axum::Extension<Seen>,
    Query(p): Query<LoginParams>,
) -> Response {
    let lang = p.lang.as_deref().and_then(Lang::from_tag).unwrap_or(Lang::Zh);
    login_with(&app, &seen, p.token, lang, p.next.as_deref())
}

async fn login_form(
    State(app): State<App>,
    axum::Extension(seen): axum::Extension<Seen>,
    Form(p): Form<LoginParams>,
) -> Response {
    let lang = p.lang.as_deref().and_then(Lang::from_tag).unwrap_or(Lang::Zh);
    login_with(&app, &seen, p.token, lang, p.next.as_deref())
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, "/login".to_string())]).into_response()
}

// ---- pages -------------------------------------------------------------------------------

/// The newest plan year the ledger holds.
fn latest_year(store: &dyn Store) -> Result<Option<i32>> {
    let q = state_query(&Params::default(), planledger::report::ProjectFilter::default())?;
    let state = read::state(store, &q)?.json();
    Ok(state["plans"].as_array().into_iter().flatten().filter_map(|p| p["year"].as_i64()).max().map(|y| y as i32))
}

fn state_query(p: &Params, filter: planledger::report::ProjectFilter) -> Result<read::StateQuery> {
    Ok(read::StateQuery {
        plan: None,
        as_of: p.as_of()?,
        at: p.at()?,
        filter,
        lagging: p.lagging.as_deref().is_some_and(|v| !v.is_empty() && v != "0"),
        now: SystemClock.now(),
    })
}

fn summary_query(p: &Params, year: i32, monthly: bool, by: Vec<String>) -> Result<read::SummaryQuery> {
    Ok(read::SummaryQuery { year, plan: None, by, monthly, as_of: p.as_of()?, at: p.at()?, now: SystemClock.now() })
}

async fn home(State(app): State<App>, _: Viewer, Query(p): Query<Params>) -> Response {
    match read_store(&app, latest_year).await {
        Ok(Some(y)) => Redirect::to(&format!("/overview?year={y}&{}", p.keep())).into_response(),
        Ok(None) => respond(p.lang(), Err(Error::invalid(msg!("state.no_plans")))),
        Err(e) => respond(p.lang(), Err(e)),
    }
}

/// The year asked for, else the newest.
async fn year_of(app: &App, p: &Params) -> Result<i32> {
    match p.year {
        Some(y) => Ok(y),
        None => read_store(app, latest_year).await?.ok_or_else(|| Error::invalid(msg!("state.no_plans"))),
    }
}

fn frame<'a>(p: &Params, title: &'a str, year: Option<i32>, who: &'a str) -> Frame<'a> {
    Frame { lang: p.lang(), title, year, who, history: p.history(), keep: p.keep() }
}

fn card(value: &str, label: &str) -> String {
    format!("<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>", esc(value), esc(label))
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(x) => x.clone(),
        other => other.to_string(),
    }
}

/// 总览: the year's headline figures as the official report states them, and its charts.
async fn overview(State(app): State<App>, Viewer(grant): Viewer, Query(p): Query<Params>) -> Response {
    let lang = p.lang();
    let page = async {
        let year = year_of(&app, &p).await?;
        let (q, rq) = (
            summary_query(&p, year, false, Vec::new())?,
            read::ReportQuery { year, plan: None, as_of: p.as_of()?, at: p.at()?, now: SystemClock.now(), decimals: 1 },
        );
        let (summary, charts) = read_store(&app, move |store| {
            let summary = read::summary(store, &q)?.json(Lang::Zh);
            let report = read::report(store, &rq)?;
            let mut svgs = Vec::new();
            for (_, data) in &report.charts {
                svgs.push(planledger_render::chart_svg(data).map_err(|e| Error::invalid(e.to_msg()))?);
            }
            Ok((summary, svgs))
        })
        .await?;
        let pr = &summary["projects"];
        let pc = &pr["by_level"]["province_city"];
        let pct = |v: &Value| format!("{}%", s(v));
        let mut body = String::from("<div class=\"cards\">");
        body.push_str(&card(&s(&pr["count"]), tr!(lang, "web.card.projects")));
        body.push_str(&card(&format!("{} 亿元", s(&pr["completed_investment"])), tr!(lang, "web.card.completed")));
        body.push_str(&card(&pct(&pr["completion_pct"]), tr!(lang, "web.card.pct")));
        body.push_str(&card(&format!("{} 亿元", s(&pr["planned_investment"])), tr!(lang, "web.card.planned")));
        body.push_str(&card(
            &format!("{} / {}", s(&pc["count"]), pct(&pc["completion_pct"])),
            tr!(lang, "web.card.province_city"),
        ));
        body.push_str(&card(&pct(&pr["start_rate_pct"]), tr!(lang, "web.card.start_rate")));
        body.push_str(&card(&pct(&pr["complete_rate_pct"]), tr!(lang, "web.card.complete_rate")));
        body.push_str(&card(&pct(&pr["operate_rate_pct"]), tr!(lang, "web.card.operate_rate")));
        body.push_str(&card(&s(&pr["behind_schedule"]), tr!(lang, "web.card.behind")));
        body.push_str("</div>");
        body.push_str(&format!(
            "<p>{}</p>",
            esc(&msg!(
                "web.overview_sentence",
                n = s(&pr["count"]),
                completed = s(&pr["completed_investment"]),
                pct = s(&pr["completion_pct"]),
                pc_n = s(&pc["count"]),
                pc_completed = s(&pc["completed_investment"]),
                pc_planned = s(&pc["planned_investment"]),
                pc_pct = s(&pc["completion_pct"])
            )
            .render(lang))
        ));
        body.push_str(&format!("<h2>{}</h2><div class=\"charts\">", esc(tr!(lang, "web.charts"))));
        for svg in charts {
            let svg = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            body.push_str(&format!("<figure class=\"chart\">{svg}</figure>"));
        }
        body.push_str("</div>");
        let title = msg!("web.overview_title", year = year).render(lang);
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, Some(year), &who).render(&body))
    }
    .await;
    respond(lang, page)
}

/// 项目: the year's projects, filtered and sorted; names link to each project's page.
async fn projects(State(app): State<App>, Viewer(grant): Viewer, Query(p): Query<Params>) -> Response {
    let lang = p.lang();
    let page = async {
        let year = year_of(&app, &p).await?;
        let filter = planledger::report::ProjectFilter {
            department: p.dept.clone().filter(|d| !d.is_empty()),
            project: None,
            level: p
                .level
                .as_deref()
                .filter(|l| !l.is_empty())
                .map(|l| planledger::model::Level::parse("level", l))
                .transpose()?,
            lagging_on: None,
        };
        let q = state_query(&p, filter)?;
        // The year's plans only: a page of one year does not fold every other year.
        let plans = read_store(&app, move |store| {
            let mut plans = Vec::new();
            for id in read::plans_of_year(store, year, q.as_of)? {
                let q = read::StateQuery { plan: Some(id), ..q.clone() };
                let state = read::state(store, &q)?.json();
                plans.extend(state["plans"].as_array().cloned().unwrap_or_default());
            }
            Ok(plans)
        })
        .await?;
        let mut rows: Vec<(Value, String)> = Vec::new();
        for plan in &plans {
            let pid = s(&plan["id"]);
            for pr in plan["projects"].as_array().into_iter().flatten() {
                if let Some((k, v)) = p.dim.as_deref().and_then(|d| d.split_once(':')) {
                    if pr["dimensions"][k].as_str() != Some(v) {
                        continue;
                    }
                }
                rows.push((pr.clone(), pid.clone()));
            }
        }
        sort_rows(&mut rows, p.sort.as_deref());
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(pr, pid)| {
                let href = format!("/project/{}/{}?{}", url(pid), url(&s(&pr["id"])), p.keep());
                vec![
                    format!("<a href=\"{}\">{}</a>", esc(&href), esc(&s(&pr["name"]))),
                    esc(&s(&pr["id"])),
                    esc(&planledger::text::level_named(lang, &s(&pr["level"]))),
                    esc(&s(&pr["department"])),
                    esc(&planledger::text::status_named(lang, &s(&pr["status"]))),
                    esc(&s(&pr["planned_investment"])),
                    esc(&s(&pr["completed_investment"])),
                    esc(&s(&pr["completion_pct"])),
                ]
            })
            .collect();
        let header = [
            tr!(lang, "state.col.name"),
            tr!(lang, "state.col.project"),
            tr!(lang, "state.col.level"),
            tr!(lang, "word.field.department"),
            tr!(lang, "state.col.status"),
            tr!(lang, "state.col.planned"),
            tr!(lang, "state.col.completed"),
            tr!(lang, "state.col.pct"),
        ];
        let mut body = filters_form(&p, year, lang);
        body.push_str(&format!("<p>{}</p>", esc(&msg!("web.projects_count", n = rows.len()).render(lang))));
        body.push_str(&page::table(&header, &table_rows, &[5, 6, 7]));
        let title = msg!("web.projects_title", year = year).render(lang);
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, Some(year), &who).render(&body))
    }
    .await;
    respond(lang, page)
}

/// Orders rows by a column the page names (the order only: the figures are the ledger's).
fn sort_rows(rows: &mut [(Value, String)], sort: Option<&str>) {
    // Exact decimals: the figures' own text, never a float.
    let num = |v: &Value| s(v).parse::<rust_decimal::Decimal>().ok();
    match sort {
        Some("pct") => rows.sort_by(|a, b| num(&a.0["completion_pct"]).cmp(&num(&b.0["completion_pct"]))),
        Some("completed") => {
            rows.sort_by(|a, b| num(&b.0["completed_investment"]).cmp(&num(&a.0["completed_investment"])))
        }
        Some("planned") => rows.sort_by(|a, b| num(&b.0["planned_investment"]).cmp(&num(&a.0["planned_investment"]))),
        Some("name") => rows.sort_by(|a, b| s(&a.0["name"]).cmp(&s(&b.0["name"]))),
        _ => {}
    }
}

fn filters_form(p: &Params, year: i32, lang: Lang) -> String {
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or_default());
    let hidden: String =
        [("year", Some(year.to_string())), ("as_of", p.as_of.clone()), ("at", p.at.clone()), ("lang", p.lang.clone())]
            .iter()
            .filter_map(|(k, val)| {
                val.as_ref().map(|val| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(val)))
            })
            .collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/projects\">{hidden}\
         <label>{level} <input name=\"level\" size=\"6\" value=\"{lv}\"></label>\
         <label>{dept} <input name=\"dept\" size=\"14\" value=\"{dv}\"></label>\
         <label>{dim} <input name=\"dim\" size=\"14\" placeholder=\"block:A\" value=\"{dimv}\"></label>\
         <label><input type=\"checkbox\" name=\"lagging\" value=\"1\"{lag}> {lagging}</label>\
         <label>{sort} <select name=\"sort\"><option value=\"\">-</option><option value=\"pct\">{pct}</option>\
         <option value=\"completed\">{completed}</option><option value=\"planned\">{planned}</option><option value=\"name\">{name}</option></select></label>\
         <button type=\"submit\">{go}</button></form>",
        level = esc(tr!(lang, "state.col.level")),
        lv = v(&p.level),
        dept = esc(tr!(lang, "word.field.department")),
        dv = v(&p.dept),
        dim = esc(tr!(lang, "web.filter.dimension")),
        dimv = v(&p.dim),
        lag = if p.lagging.as_deref().is_some_and(|x| !x.is_empty() && x != "0") { " checked" } else { "" },
        lagging = esc(tr!(lang, "web.filter.lagging")),
        sort = esc(tr!(lang, "web.filter.sort")),
        pct = esc(tr!(lang, "state.col.pct")),
        completed = esc(tr!(lang, "state.col.completed")),
        planned = esc(tr!(lang, "state.col.planned")),
        name = esc(tr!(lang, "state.col.name")),
        go = esc(tr!(lang, "web.filter.apply")),
    )
}

/// One project: its figures, its months, its milestones, and its whole audit trail.
async fn project(
    State(app): State<App>,
    Viewer(grant): Viewer,
    Path((plan, id)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> Response {
    let lang = p.lang();
    let page = async {
        let filter = planledger::report::ProjectFilter {
            department: None,
            project: Some(id.clone()),
            level: None,
            lagging_on: None,
        };
        let q = read::StateQuery { plan: Some(plan.clone()), ..state_query(&p, filter)? };
        let as_of = p.as_of()?;
        let streams = app.streams.clone();
        let (plan2, id2) = (plan.clone(), id.clone());
        let (state, trail, zone) = read_store(&app, move |store| {
            let state = read::state(store, &q)?.json();
            let until = read::as_of_seq(store, as_of)?;
            let trail = streams.trail(store, &plan2, &id2, until)?;
            Ok((state, trail, planledger::zone::load(store)?))
        })
        .await?;
        let plan_json = state["plans"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|pl| pl["id"].as_str() == Some(plan.as_str()))
            .cloned()
            .ok_or_else(|| Error::unknown(planledger::error::Kind::Plan, plan.clone()))?;
        let pr = plan_json["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["id"].as_str() == Some(id.as_str()))
            .cloned()
            .ok_or_else(|| Error::unknown(planledger::error::Kind::Project, id.clone()))?;
        // A department sees the detail of its own projects only.
        if grant.role == Role::Department && pr["department"].as_str() != Some(grant.principal.as_str()) {
            return Err(Error::forbidden(msg!("web.not_your_project", principal = &grant.principal, project = &id)));
        }
        let year = plan_json["year"].as_i64().and_then(|y| i32::try_from(y).ok()).unwrap_or_default();
        let mq = summary_query(&p, year, true, vec![planledger::monthly::PROJECT.to_string()])?;
        let months = read_store(&app, move |store| Ok(read::summary(store, &mq)?.json(Lang::Zh))).await?;
        let row =
            months["rows"].as_array().into_iter().flatten().find(|r| r["key"].as_str() == Some(id.as_str())).cloned();
        let mut body = String::from("<div class=\"cards\">");
        body.push_str(&card(&s(&pr["planned_investment"]), tr!(lang, "state.col.planned")));
        body.push_str(&card(&s(&pr["completed_investment"]), tr!(lang, "state.col.completed")));
        body.push_str(&card(&format!("{}%", s(&pr["completion_pct"])), tr!(lang, "state.col.pct")));
        body.push_str(&card(&planledger::text::status_named(lang, &s(&pr["status"])), tr!(lang, "state.col.status")));
        body.push_str(&card(&planledger::text::level_named(lang, &s(&pr["level"])), tr!(lang, "state.col.level")));
        body.push_str(&card(&s(&pr["department"]), tr!(lang, "word.field.department")));
        body.push_str("</div>");
        body.push_str(&format!("<h2>{}</h2>", esc(tr!(lang, "web.months"))));
        let month_rows: Vec<Vec<String>> = row
            .as_ref()
            .map(|r| {
                r["months"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        vec![
                            esc(&s(&m["month"])),
                            esc(&s(&m["completed_investment"])),
                            esc(&format!("{}%", s(&m["running_pct"]))),
                            esc(&format!("{}%", s(&m["schedule_pct"]))),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mh = [
            tr!(lang, "web.col.month"),
            tr!(lang, "web.col.month_completed"),
            tr!(lang, "web.col.running"),
            tr!(lang, "monthly.schedule"),
        ];
        body.push_str(&page::table(&mh, &month_rows, &[1, 2, 3]));
        body.push_str(&format!("<h2>{}</h2>", esc(tr!(lang, "word.field.milestones"))));
        let ms: Vec<Vec<String>> = pr["milestones"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, d)| {
                let name = planledger::model::Milestone::parse("milestone", k)
                    .map_or_else(|_| k.clone(), |m| planledger::text::milestone(lang, m).to_string());
                vec![esc(&name), esc(&s(d))]
            })
            .collect();
        body.push_str(&page::table(&[tr!(lang, "web.col.milestone"), tr!(lang, "web.col.date")], &ms, &[]));
        body.push_str(&format!("<h2>{}</h2>", esc(tr!(lang, "web.trail"))));
        // The project's trail in this plan (an id may be listed again in a later year's plan).
        body.push_str(&trail_table(&trail, lang, zone));
        let title = format!("{} · {}", s(&pr["name"]), id);
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, Some(year), &who).render(&body))
    }
    .await;
    respond(lang, page)
}

/// The audit trail as a table: who, when, what, why, before → after, the key that signed.
fn trail_table(rows: &[Value], lang: Lang, zone: planledger::model::TimeZone) -> String {
    let out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let signed = r["signed_by"].as_str().map_or("-".to_string(), |k| k.get(..16).unwrap_or(k).to_string());
            vec![
                esc(&s(&r["seq"])),
                esc(&planledger::text::time_text(&s(&r["recorded_at"]), zone)),
                esc(&s(&r["actor"])),
                esc(planledger::text::event_kind(lang, r["type"].as_str().unwrap_or_default())),
                esc(&r["period"].as_str().map_or("-".to_string(), |p| planledger::text::period_named(lang, p))),
                esc(&planledger::audit::change_text(r, lang)),
                esc(&planledger::audit::why_text(r, lang)),
                format!("<code>{}</code>", esc(&signed)),
            ]
        })
        .collect();
    let header = [
        tr!(lang, "audit.col.seq"),
        tr!(lang, "audit.col.recorded_at"),
        tr!(lang, "audit.col.actor"),
        tr!(lang, "audit.col.type"),
        tr!(lang, "audit.col.period"),
        tr!(lang, "audit.col.change"),
        tr!(lang, "audit.col.why"),
        tr!(lang, "web.col.signed_by"),
    ];
    page::table(&header, &out, &[0])
}

/// 指标: targets as published, the actual with its basis, the verdict.
async fn indicators(State(app): State<App>, Viewer(grant): Viewer, Query(p): Query<Params>) -> Response {
    let lang = p.lang();
    let page = async {
        let year = year_of(&app, &p).await?;
        let q = summary_query(&p, year, false, Vec::new())?;
        let as_of = p.as_of()?;
        let (summary, actuals) = read_store(&app, move |store| {
            let summary = read::summary(store, &q)?.json(Lang::Zh);
            // Every figure reported, by basis, for each plan of the year.
            let mut actuals = serde_json::Map::new();
            for plan in read::plans_of_year(store, q.year, as_of)? {
                if let Value::Object(m) = read::indicator_actuals(store, &plan, as_of)? {
                    actuals.extend(m);
                }
            }
            Ok((summary, actuals))
        })
        .await?;
        let rows: Vec<Vec<String>> = summary["indicators"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let verdict = match i["met"].as_bool() {
                    Some(true) => format!("<span class=\"ok\">{}</span>", esc(tr!(lang, "state.met"))),
                    Some(false) => format!("<span class=\"bad\">{}</span>", esc(tr!(lang, "state.missed"))),
                    None => "-".into(),
                };
                let basis = planledger::text::basis_named(lang, &s(&i["actual_basis"]));
                // Every figure reported: 预计 7.2（2021年） · 初步 7.0 · 正式 7.1.
                let reported: Vec<String> = actuals
                    .get(i["id"].as_str().unwrap_or_default())
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let period = planledger::text::period_named(lang, &s(&a["period"]));
                        let (b, v) = (planledger::text::basis_named(lang, &s(&a["basis"])), s(&a["value"]));
                        match lang {
                            Lang::Zh => format!("{b} {v}（{period}）"),
                            Lang::En => format!("{b} {v} ({period})"),
                        }
                    })
                    .collect();
                vec![
                    esc(&s(&i["name"])),
                    esc(&s(&i["unit"])),
                    esc(&s(&i["target"])),
                    esc(&s(&i["actual"])),
                    esc(&s(&i["actual_period"])),
                    esc(&basis),
                    esc(&s(&i["gap"])),
                    esc(&s(&i["completion_pct"])),
                    verdict,
                    esc(&if reported.is_empty() { "-".to_string() } else { reported.join(" · ") }),
                ]
            })
            .collect();
        let header = [
            tr!(lang, "state.col.name"),
            tr!(lang, "web.col.unit"),
            tr!(lang, "state.col.target"),
            tr!(lang, "state.col.actual"),
            tr!(lang, "audit.col.period"),
            tr!(lang, "word.field.actual_basis"),
            tr!(lang, "word.field.gap"),
            tr!(lang, "state.col.pct"),
            tr!(lang, "state.col.verdict"),
            tr!(lang, "web.col.reported"),
        ];
        let body = page::table(&header, &rows, &[2, 3, 6, 7]);
        let title = msg!("web.indicators_title", year = year).render(lang);
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, Some(year), &who).render(&body))
    }
    .await;
    respond(lang, page)
}

/// 校验: the chain verified now, the head, the signed tree head, proofs to download.
async fn verify(State(app): State<App>, Viewer(grant): Viewer, Query(p): Query<Params>) -> Response {
    let lang = p.lang();
    let page = async {
        let (answer, head) = read_store(&app, move |store| {
            let v = read::verify(store, &read::VerifyQuery::default())?;
            let text = v.render(false, lang);
            let doc = v.json(lang);
            let head = read::checkpoint(store)?;
            Ok(((text, doc), head.json()))
        })
        .await?;
        let ok = answer.1["ok"].as_bool() == Some(true);
        let mut body = format!("<p class=\"{}\">{}</p>", if ok { "ok" } else { "bad" }, esc(answer.0.trim()));
        body.push_str(&format!("<h2>{}</h2>", esc(tr!(lang, "web.tree_head"))));
        let rows: Vec<Vec<String>> = [
            ("size", "web.head.size"),
            ("root", "web.head.root"),
            ("recorded_at", "web.head.recorded_at"),
            ("public_key", "web.head.public_key"),
            ("signature", "web.head.signature"),
        ]
        .iter()
        .map(|(k, label)| vec![esc(planledger::msg::text(lang, label)), format!("<code>{}</code>", esc(&s(&head[*k])))])
        .collect();
        body.push_str(&page::table(&[tr!(lang, "web.col.field"), tr!(lang, "web.col.value")], &rows, &[]));
        body.push_str(&format!(
            "<h2>{}</h2><p>{}</p><form method=\"get\" action=\"/proof\"><label>{} <input name=\"seq\" size=\"10\"></label> \
             <button type=\"submit\">{}</button></form>",
            esc(tr!(lang, "web.proofs")),
            esc(tr!(lang, "web.proofs_hint")),
            esc(tr!(lang, "audit.col.seq")),
            esc(tr!(lang, "web.proof_download")),
        ));
        let title = tr!(lang, "web.nav.verify").to_string();
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, None, &who).render(&body))
    }
    .await;
    respond(lang, page)
}

#[derive(Deserialize)]
struct ProofParams {
    seq: Option<String>,
}

/// The proof form's answer: the proof of the seq typed in.
async fn proof_form(_: Viewer, Query(q): Query<ProofParams>) -> Response {
    match q.seq.as_deref().map(str::trim).and_then(|s| s.parse::<u64>().ok()) {
        Some(seq) => Redirect::to(&format!("/proof/{seq}")).into_response(),
        None => respond(Lang::Zh, Err(Error::invalid(msg!("web.proof_seq", value = q.seq.unwrap_or_default())))),
    }
}

/// An inclusion proof of one event, as the JSON document `planledger proof` writes.
async fn proof(State(app): State<App>, _: Viewer, Path(seq): Path<u64>) -> Response {
    let doc = read_store(&app, move |store| read::proof(store, &planledger::decide::EventRef::Seq(seq), None)).await;
    match doc {
        Ok((_, v)) => {
            let name = format!("attachment; filename=\"proof-{seq}.json\"");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, name)],
                read::pretty(&v),
            )
                .into_response()
        }
        Err(e) => respond(Lang::Zh, Err(e)),
    }
}

/// 导出: the spreadsheets and the report of the year, as the CLI writes them.
async fn exports(State(app): State<App>, Viewer(grant): Viewer, Query(p): Query<Params>) -> Response {
    let lang = p.lang();
    let page = async {
        let year = year_of(&app, &p).await?;
        let files = [
            ("all.xlsx", "web.export.xlsx"),
            ("projects.csv", "web.export.projects_csv"),
            ("report.html", "web.export.report_html"),
            ("report.docx", "web.export.report_docx"),
            ("report.md", "web.export.report_md"),
        ];
        let mut body = String::from("<ul>");
        for (file, key) in files {
            let href = format!("/download/{year}/{file}?{}", p.keep());
            body.push_str(&format!(
                "<li><a href=\"{}\">{}</a> <code>{}</code></li>",
                esc(&href),
                esc(planledger::msg::text(lang, key)),
                esc(file)
            ));
        }
        body.push_str("</ul>");
        let title = msg!("web.exports_title", year = year).render(lang);
        let who = who_text(&grant, lang);
        Ok(frame(&p, &title, Some(year), &who).render(&body))
    }
    .await;
    respond(lang, page)
}

async fn download(
    State(app): State<App>,
    _: Viewer,
    Path((year, file)): Path<(i32, String)>,
    Query(p): Query<Params>,
) -> Response {
    let lang = p.lang();
    let bytes = async {
        let (as_of, at) = (p.as_of()?, p.at()?);
        let now = SystemClock.now();
        let file2 = file.clone();
        read_store(&app, move |store| -> Result<(Vec<u8>, &'static str)> {
            let export =
                |what: Vec<read::ExportWhat>| read::ExportQuery { what, year, plan: None, as_of, at, now, lang };
            let report = || read::report(store, &read::ReportQuery { year, plan: None, as_of, at, now, decimals: 1 });
            let sheet_err = |e: planledger_sheets::SheetError| Error::invalid(e.to_msg());
            let render_err = |e: planledger_render::RenderError| Error::invalid(e.to_msg());
            match file2.as_str() {
                "all.xlsx" => {
                    let tables = read::export(store, &export(read::ExportWhat::parse("all")?))?;
                    Ok((planledger_sheets::xlsx_bytes(&tables, &[]).map_err(sheet_err)?, XLSX))
                }
                "projects.csv" => {
                    let tables = read::export(store, &export(read::ExportWhat::parse("projects")?))?;
                    Ok((planledger_sheets::csv_bytes(&tables).map_err(sheet_err)?, "text/csv; charset=utf-8"))
                }
                "report.html" => {
                    let answer = report()?;
                    let mut svgs = Vec::new();
                    for (k, data) in &answer.charts {
                        let svg = planledger_render::chart_svg(data).map_err(render_err)?;
                        let svg = svg.find("<svg").map_or(svg.clone(), |i| svg[i..].to_string());
                        svgs.push((*k, svg));
                    }
                    let chart = |k| svgs.iter().find(|(x, _)| *x == k).map(|(_, s)| s.clone());
                    Ok((planledger::execution::html(&answer.doc, &chart).into_bytes(), "text/html; charset=utf-8"))
                }
                "report.docx" => Ok((planledger_render::docx_bytes(&report()?.doc).map_err(render_err)?, DOCX)),
                "report.md" => {
                    Ok((planledger::execution::markdown(&report()?.doc).into_bytes(), "text/markdown; charset=utf-8"))
                }
                other => Err(Error::invalid(msg!("web.no_such_download", file = other))),
            }
        })
        .await
    }
    .await;
    match bytes {
        Ok((bytes, kind)) => {
            let disposition = format!("attachment; filename=\"planledger-{year}-{file}\"");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, disposition)],
                bytes,
            )
                .into_response()
        }
        Err(e) => respond(lang, Err(e)),
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
