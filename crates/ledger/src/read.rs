//! The typed read API: one function per question a reader asks of a store, with typed
//! arguments and typed answers. The CLI parses its flags into these queries and prints the
//! answers; the server maps its typed requests onto the same functions, so both print the
//! same bytes. Nothing here writes: a snapshot or a proof is returned as a document, and
//! writing it to a file is the caller's business (the CLI's, never the server's).
//!
//! Every function takes a `&dyn Store` and reads a consistent prefix of the log (up to the head
//! it saw when it started, or an `--as-of` point before it), so readers need no lock that
//! writers hold.

use serde_json::{json, Value};

use crate::codec::{hex, Hash};
use crate::decide::EventRef;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::model::{Date, Timestamp};
use crate::projection::State;
use crate::proof::TreeHead;
use crate::query::{self, AsOf};
use crate::store::Store;
use crate::summary::{self, Lang};
use crate::{audit, monthly, proof, report, snapshot};

/// The nice value of a thread that only reads (see `lower_thread_priority`).
pub const READER_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to `READER_NICE`, so that a long read —
/// a full `verify` or `audit` — yields the cores to appends when both want them: an append
/// waits for no lock a reader holds, and with this it hardly waits for a core either. Call
/// it on a thread that only reads: an unprivileged process cannot raise it again. Linux
/// only; elsewhere it does nothing.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        // Best effort: a thread that keeps its priority still reads correctly.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), READER_NICE);
    }
}

/// Admission for long reads: at most `permits` run at once, the rest wait their turn, so
/// appends always find a core (`Gate::for_this_machine`: one core is left to the writers).
pub struct Gate {
    running: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    permits: usize,
}

/// A read's place in the gate; leaving it lets the next read in.
pub struct Pass<'g>(&'g Gate);

impl Gate {
    pub fn new(permits: usize) -> Gate {
        Gate { running: std::sync::Mutex::new(0), freed: std::sync::Condvar::new(), permits: permits.max(1) }
    }

    /// As many reads at once as there are cores less one (at least one).
    pub fn for_this_machine() -> Gate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Gate::new(cores.saturating_sub(1))
    }

    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Waits for a place, then holds it until the pass is dropped.
    pub fn enter(&self) -> Pass<'_> {
        // The count stays consistent across a panic elsewhere (it is changed in one step).
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= self.permits {
            running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        Pass(self)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        self.0.freed.notify_one();
    }
}

/// A value serialized as the CLI's `--json` prints it: one line.
fn json_line(v: &Value) -> String {
    // Values built from strings, numbers and maps always serialize.
    serde_json::to_string(v).unwrap_or_default() + "\n"
}

/// A document as the CLI prints it without `--json`: indented.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// The last seq of an `--as-of` point (the whole log when absent).
pub fn as_of_seq(store: &dyn Store, as_of: Option<AsOf>) -> Result<u64> {
    match as_of {
        Some(t) => query::resolve(store, t),
        None => Ok(store.head().events()),
    }
}

/// The seq an event reference names, which must exist.
pub fn resolve_event(store: &dyn Store, r: &EventRef) -> Result<u64> {
    match *r {
        EventRef::Seq(s) if s >= 1 && s <= store.head().events() => Ok(s),
        EventRef::Seq(s) => Err(Error::invalid(msg!("read.no_such_seq", seq = s))),
        EventRef::Id(id) => {
            let mut found = None;
            store.for_each_id(&mut |i, seq| {
                if i == id {
                    found = Some(seq);
                }
            })?;
            found.ok_or_else(|| Error::invalid(msg!("read.no_such_id", id = id)))
        }
    }
}

// ---- state ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub struct StateQuery {
    /// Only this plan.
    pub plan: Option<String>,
    pub as_of: Option<AsOf>,
    /// Valid time: the world on this date.
    pub at: Option<Date>,
    /// Which projects to list (`lagging_on` is filled in from `lagging`).
    pub filter: report::ProjectFilter,
    /// Only projects behind schedule on `at`, or today (the reader's `now` in the ledger's
    /// time zone).
    pub lagging: bool,
    pub now: Timestamp,
}

pub struct StateAnswer {
    pub state: State,
    pub plan: Option<String>,
    pub at: Option<Date>,
    pub filter: report::ProjectFilter,
    /// The ledger's time zone, for times in text.
    pub zone: crate::model::TimeZone,
}

/// The ids of the plans of `year` as of a point, read from the index alone (no plan is
/// folded): what a one-year page asks `state` for, plan by plan.
pub fn plans_of_year(store: &dyn Store, year: i32, as_of: Option<AsOf>) -> Result<Vec<String>> {
    let seq = as_of_seq(store, as_of)?;
    let index = crate::checkpoint::state_at(store, seq, Some(&[]))?;
    Ok(index.years.get(&year).cloned().unwrap_or_default())
}

/// Every live actual of each indicator of `plan` as of a point (not only the one that
/// stands): `{indicator: [{period, basis, value, seq}]}`, in the order recorded, so a reader
/// sees the 预计, 初步 and 正式 figures side by side.
pub fn indicator_actuals(store: &dyn Store, plan: &str, as_of: Option<AsOf>) -> Result<Value> {
    let seq = as_of_seq(store, as_of)?;
    let state = query::plans_at(store, seq, &[plan.to_string()])?;
    let mut out = serde_json::Map::new();
    if let Some(p) = state.plans.get(plan) {
        for (id, ind) in &p.indicators {
            let actuals: Vec<Value> = ind
                .actuals
                .iter()
                .map(|a| {
                    json!({
                        "period": a.period.to_string(),
                        "basis": a.basis.as_str(),
                        "value": crate::model::fmt_decimal(a.value),
                        "seq": a.seq,
                    })
                })
                .collect();
            out.insert(id.to_string(), Value::Array(actuals));
        }
    }
    Ok(Value::Object(out))
}

pub fn state(store: &dyn Store, q: &StateQuery) -> Result<StateAnswer> {
    let seq = as_of_seq(store, q.as_of)?;
    let state = match &q.plan {
        Some(p) => query::plans_at(store, seq, std::slice::from_ref(p))?,
        None => query::state_at(store, seq)?,
    };
    if let Some(p) = &q.plan {
        if !state.plans.contains_key(p) {
            return Err(Error::unknown_among(
                crate::error::Kind::Plan,
                p,
                state.years.values().flatten().map(String::as_str),
            ));
        }
    }
    let mut filter = q.filter.clone();
    if let Some(d) = &filter.department {
        if !state.departments.contains_key(d) {
            return Err(Error::unknown_among(
                crate::error::Kind::Department,
                d,
                state.departments.keys().map(String::as_str),
            ));
        }
    }
    if let Some(p) = &filter.project {
        if !state.plans.values().any(|x| x.projects.contains_key(p)) {
            let known = state.plans.values().flat_map(|x| x.projects.keys().map(|k| k.as_str()));
            return Err(Error::unknown_among(crate::error::Kind::Project, p, known));
        }
    }
    let zone = crate::zone::load(store)?;
    if q.lagging {
        let today = if q.as_of.is_some() { state.last_recorded_at.date_in(zone) } else { q.now.date_in(zone) };
        filter.lagging_on = Some(q.at.unwrap_or(today));
    }
    Ok(StateAnswer { state, plan: q.plan.clone(), at: q.at, filter, zone })
}

impl StateAnswer {
    /// The document `state --json` prints.
    pub fn json(&self) -> Value {
        report::state_json_of(&self.state, self.plan.as_deref(), self.at, &self.filter)
    }

    pub fn render(&self, json: bool, lang: Lang) -> String {
        if json {
            json_line(&self.json())
        } else {
            report::state_text_of(&self.state, self.plan.as_deref(), self.at, &self.filter, lang, self.zone)
        }
    }
}

// ---- summary -------------------------------------------------------------------------

/// How a summary is printed without `--json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    Text,
    Markdown,
    Csv,
}

impl SummaryFormat {
    pub fn parse(text: &str) -> Result<SummaryFormat> {
        match text {
            "text" => Ok(SummaryFormat::Text),
            "md" => Ok(SummaryFormat::Markdown),
            "csv" => Ok(SummaryFormat::Csv),
            other => Err(Error::invalid(msg!("read.summary_format", value = other))),
        }
    }
}

pub fn parse_lang(text: &str) -> Result<Lang> {
    Lang::from_tag(text).ok_or_else(|| Error::invalid(msg!("flag.lang", value = text)))
}

#[derive(Clone, Debug)]
pub struct SummaryQuery {
    pub year: i32,
    pub plan: Option<String>,
    /// Dimensions to break totals down by (at most `summary::BY_MAX`).
    pub by: Vec<String>,
    /// `--monthly`: the month-by-month view, its rows by `monthly::PROJECT` or the first
    /// of `by` (a grouping or dimension), else by department.
    pub monthly: bool,
    pub as_of: Option<AsOf>,
    pub at: Option<Date>,
    /// The reader's clock; "today" is its date in the ledger's time zone (`zone`). A
    /// summary taken `as_of` a past point uses that point's date instead.
    pub now: Timestamp,
}

impl SummaryQuery {
    /// A year's summary with no grouping: what `export` and `report` stand on.
    pub fn of_year(year: i32, plan: Option<String>, as_of: Option<AsOf>, at: Option<Date>, now: Timestamp) -> Self {
        SummaryQuery { year, plan, by: Vec::new(), monthly: false, as_of, at, now }
    }
}

pub struct SummaryAnswer {
    state: State,
    query: SummaryQuery,
    today: Date,
}

pub fn summary(store: &dyn Store, q: &SummaryQuery) -> Result<SummaryAnswer> {
    if q.by.len() > summary::BY_MAX {
        return Err(Error::invalid(msg!("read.by_too_many", max = summary::BY_MAX)));
    }
    let seq = as_of_seq(store, q.as_of)?;
    // Load only the plans of that year: the global part says which they are.
    let index = crate::checkpoint::state_at(store, seq, Some(&[]))?;
    let mut ids: Vec<String> = index.years.get(&q.year).cloned().unwrap_or_default();
    if let Some(p) = &q.plan {
        if !ids.contains(p) {
            return Err(Error::invalid(msg!("read.plan_not_of_year", plan = p, year = q.year)));
        }
        ids = vec![p.clone()];
    }
    if ids.is_empty() {
        return Err(Error::invalid(msg!("read.no_plan_for_year", year = q.year)));
    }
    let state = query::plans_at(store, seq, &ids)?;
    summary::check_rows(&state, q.year, &q.by, q.monthly)?;
    let zone = crate::zone::load(store)?;
    let today = if q.as_of.is_some() { state.last_recorded_at.date_in(zone) } else { q.now.date_in(zone) };
    Ok(SummaryAnswer { state, query: q.clone(), today })
}

impl SummaryAnswer {
    fn on(&self) -> summary::On {
        summary::On::new(self.query.year, self.query.at, self.today)
    }

    fn as_of_json(&self) -> Value {
        let last = self.state.last_seq;
        json!({"seq": last, "recorded_at": (last > 0).then(|| self.state.last_recorded_at.to_string())})
    }

    /// The document `summary --json` prints (`--monthly`'s when asked; `lang` names its rows).
    pub fn json(&self, lang: Lang) -> Value {
        if self.query.monthly {
            let rows_by = self.query.by.first().map_or("department", String::as_str);
            monthly::monthly(&self.state, self.query.year, self.on(), rows_by, lang).json(self.as_of_json())
        } else {
            summary::summarize(&self.state, self.query.year, self.on(), &self.query.by).json(self.as_of_json())
        }
    }

    pub fn render(&self, json: bool, format: SummaryFormat, lang: Lang) -> String {
        if json {
            return json_line(&self.json(lang));
        }
        if self.query.monthly {
            return self.render_monthly(format, lang);
        }
        let s = summary::summarize(&self.state, self.query.year, self.on(), &self.query.by);
        match format {
            SummaryFormat::Text => s.prose(lang, false),
            SummaryFormat::Markdown => s.prose(lang, true),
            SummaryFormat::Csv => s.csv(),
        }
    }
}

impl SummaryAnswer {
    fn render_monthly(&self, format: SummaryFormat, lang: Lang) -> String {
        let rows_by = self.query.by.first().map_or("department", String::as_str);
        let m = monthly::monthly(&self.state, self.query.year, self.on(), rows_by, lang);
        match format {
            SummaryFormat::Text => m.text(lang),
            SummaryFormat::Markdown => m.markdown(lang),
            SummaryFormat::Csv => m.csv(lang),
        }
    }
}

// ---- audit ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    Text,
    Csv,
}

impl AuditFormat {
    pub fn parse(text: &str) -> Result<AuditFormat> {
        match text {
            "text" => Ok(AuditFormat::Text),
            "csv" => Ok(AuditFormat::Csv),
            other => Err(Error::invalid(msg!("read.audit_format", value = other))),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub filter: audit::Filter,
    pub as_of: Option<AsOf>,
}

/// `--type KIND` checked against the event types.
/// A table `export` writes: one of the core's, or the audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportWhat {
    Table(crate::export::What),
    Audit,
}

impl ExportWhat {
    /// `--what`: a table, `audit`, or `all` (every table and the audit trail).
    pub fn parse(text: &str) -> Result<Vec<ExportWhat>> {
        Ok(match text {
            "all" | "全部" => {
                let mut all: Vec<ExportWhat> = crate::export::What::ALL.iter().map(|w| ExportWhat::Table(*w)).collect();
                all.push(ExportWhat::Audit);
                all
            }
            "audit" | "审计" => vec![ExportWhat::Audit],
            other => vec![ExportWhat::Table(crate::export::What::parse(other)?)],
        })
    }
}

/// `export`: tables of a year's plans (or one plan's) as on a date, as known at a point.
#[derive(Clone, Debug)]
pub struct ExportQuery {
    pub what: Vec<ExportWhat>,
    pub year: i32,
    pub plan: Option<String>,
    pub as_of: Option<AsOf>,
    pub at: Option<Date>,
    pub now: Timestamp,
    pub lang: Lang,
}

/// The tables `export` asks for, from the same state and date `summary` uses.
pub fn export(store: &dyn Store, q: &ExportQuery) -> Result<Vec<crate::sheet::Table>> {
    use crate::export::{self as x, What};
    let answer = summary(store, &SummaryQuery::of_year(q.year, q.plan.clone(), q.as_of, q.at, q.now))?;
    let on = summary::On::new(q.year, q.at, answer.today);
    let state = &answer.state;
    let plans: Vec<&crate::projection::Plan> = state.plans_by_year().filter(|p| p.def.year == q.year).collect();
    let mut tables = Vec::new();
    for what in &q.what {
        if *what == ExportWhat::Table(What::Plan) {
            tables.extend(x::plan(state, &plans, on));
            continue;
        }
        tables.push(match what {
            ExportWhat::Table(What::Plan) => unreachable!("the plan's two tables are added above"),
            ExportWhat::Table(What::Projects) => x::projects(state, &plans, on, q.lang),
            ExportWhat::Table(What::Indicators) => x::indicators(state, &plans, on, q.lang),
            ExportWhat::Table(What::Summary) => x::summary(state, q.year, on, q.lang),
            ExportWhat::Table(What::Monthly) => x::monthly(&plans, on, q.lang),
            ExportWhat::Audit => {
                let seq = as_of_seq(store, q.as_of)?;
                let ids: Vec<String> = plans.iter().map(|p| p.def.plan.clone()).collect();
                let mut rows = Vec::new();
                for id in &ids {
                    let filter = audit::Filter { entity: Some(id.clone()), ..audit::Filter::default() };
                    rows.extend(audit::trail(store, seq, &filter)?);
                }
                rows.sort_by_key(|r| r["seq"].as_u64());
                audit::table(&rows, q.lang)
            }
        });
    }
    Ok(tables)
}

// ---- report and charts -----------------------------------------------------------------

/// `report` and `chart`: a year's plans (or one plan) as on a date, as known at a point.
#[derive(Clone, Debug)]
pub struct ReportQuery {
    pub year: i32,
    pub plan: Option<String>,
    pub as_of: Option<AsOf>,
    pub at: Option<Date>,
    pub now: Timestamp,
    /// Percentage decimals (`execution::DECIMALS_MAX` at most).
    pub decimals: u32,
}

/// The execution report, with the figures of each chart it shows.
pub struct ReportAnswer {
    pub doc: crate::execution::Doc,
    pub charts: Vec<(crate::execution::ChartKind, crate::execution::ChartData)>,
}

fn report_state(store: &dyn Store, q: &ReportQuery) -> Result<(SummaryAnswer, summary::On)> {
    if q.decimals > crate::execution::DECIMALS_MAX {
        return Err(Error::invalid(msg!(
            "read.decimals_too_many",
            decimals = q.decimals,
            max = crate::execution::DECIMALS_MAX
        )));
    }
    let answer = summary(store, &SummaryQuery::of_year(q.year, q.plan.clone(), q.as_of, q.at, q.now))?;
    let on = summary::On::new(q.year, q.at, answer.today);
    Ok((answer, on))
}

pub fn report(store: &dyn Store, q: &ReportQuery) -> Result<ReportAnswer> {
    let (answer, on) = report_state(store, q)?;
    let doc = crate::execution::execution_report(&answer.state, q.year, on, q.decimals);
    let charts = crate::execution::ChartKind::ALL
        .iter()
        .map(|k| (*k, crate::execution::chart_data(&answer.state, q.year, on, *k)))
        .collect();
    Ok(ReportAnswer { doc, charts })
}

pub fn chart(
    store: &dyn Store,
    q: &ReportQuery,
    kind: crate::execution::ChartKind,
) -> Result<crate::execution::ChartData> {
    let (answer, on) = report_state(store, q)?;
    Ok(crate::execution::chart_data(&answer.state, q.year, on, kind))
}

pub fn audit_kind(kind: &str) -> Result<String> {
    if !crate::event::KINDS.contains(&kind) {
        return Err(Error::invalid(msg!("read.not_event_type", kind = kind, kinds = crate::event::KINDS.join(", "))));
    }
    Ok(kind.to_string())
}

/// `--since`: a time, or a bare date meaning from the start of that day.
pub fn audit_since(text: &str) -> Result<Timestamp> {
    if Date::parse("--since", text).is_ok() {
        return Ok(Timestamp(Timestamp::parse("--since", text)?.0 - 86_399_999_999));
    }
    Timestamp::parse("--since", text)
}

pub struct AuditAnswer {
    pub seq: u64,
    pub recorded_at: Option<String>,
    pub rows: Vec<Value>,
    /// The ledger's time zone, for times in text.
    pub zone: crate::model::TimeZone,
}

pub fn audit(store: &dyn Store, q: &AuditQuery) -> Result<AuditAnswer> {
    let seq = as_of_seq(store, q.as_of)?;
    let rows = audit::trail(store, seq, &q.filter)?;
    let recorded_at = store.get(seq)?.map(|s| s.event.recorded_at.to_string());
    let zone = crate::zone::load(store)?;
    Ok(AuditAnswer { seq, recorded_at, rows, zone })
}

impl AuditAnswer {
    pub fn render(&self, json: bool, format: AuditFormat, lang: Lang) -> String {
        if json {
            return json_line(
                &json!({"as_of": {"seq": self.seq, "recorded_at": self.recorded_at}, "entries": self.rows}),
            );
        }
        match format {
            AuditFormat::Text => audit::text(&self.rows, lang, self.zone),
            AuditFormat::Csv => audit::csv(&self.rows, lang),
        }
    }
}

// ---- show ----------------------------------------------------------------------------

/// One event, its hash, and its entity's state just before and after it.
pub fn show(store: &dyn Store, event: &EventRef) -> Result<Value> {
    let seq = resolve_event(store, event)?;
    let stored = store.get(seq)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = seq)))?;
    let e = &stored.event;
    let plans: Vec<String> = e.payload.plan().map(str::to_string).into_iter().collect();
    let mut state = query::plans_at(store, seq - 1, &plans)?;
    let entity = |state: &State| -> Value {
        let Some(plan) = e.payload.plan().and_then(|p| state.plans.get(p)) else { return Value::Null };
        let id = e.payload.entity();
        if let Some(l) = plan.projects.get(id) {
            return report::project_json(id, l, None);
        }
        if let Some(i) = plan.indicators.get(id) {
            return report::indicator_json(i, None);
        }
        Value::Null
    };
    let before = entity(&state);
    crate::projection::apply(&mut state, e);
    let after = entity(&state);
    let mut event = report::event_json(e, &stored.hash);
    if let Value::Object(m) = &mut event {
        m.insert("entity_before".into(), before);
        m.insert("entity_after".into(), after);
    }
    Ok(event)
}

pub fn render_document(doc: &Value, json: bool) -> String {
    if json {
        json_line(doc)
    } else {
        pretty(doc)
    }
}

// ---- log -----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub struct LogQuery {
    pub from: u64,
    pub as_of: Option<AsOf>,
}

/// Events `from..` up to the `as_of` point, each handed to `each` with its hash as read.
pub fn log(store: &dyn Store, q: &LogQuery, each: &mut dyn FnMut(&Event, &Hash) -> Result<()>) -> Result<()> {
    let until = as_of_seq(store, q.as_of)?;
    for stored in store.scan(q.from) {
        let stored = stored?;
        if stored.event.seq > until {
            break;
        }
        each(&stored.event, &stored.hash)?;
    }
    Ok(())
}

/// One log line as `log` prints it.
pub fn log_line(e: &Event, hash: &Hash, json: bool, lang: Lang, zone: crate::model::TimeZone) -> String {
    if json {
        json_line(&report::event_json(e, hash))
    } else {
        report::event_line(e, hash, lang, zone)
    }
}

// ---- snapshots and diffs ---------------------------------------------------------------

/// A snapshot document at an `as_of` point (the whole log when absent), and its seq.
pub fn snapshot(store: &dyn Store, as_of: Option<AsOf>) -> Result<(u64, Value)> {
    let seq = as_of_seq(store, as_of)?;
    Ok((seq, snapshot::make(store, seq)?))
}

/// Whether a snapshot document matches the ledger: `Ok(seq)`, or what differs as an
/// integrity error (after the JSON that says so, under `--json`).
pub struct SnapshotCheck {
    pub name: String,
    pub seq: Value,
    pub differs: Vec<crate::Msg>,
}

pub fn snapshot_check(store: &dyn Store, name: &str, text: &str) -> Result<SnapshotCheck> {
    let snap = snapshot::parse(text).map_err(|e| e.at(name.to_string()))?;
    let differs = match snapshot::check(store, &snap)? {
        Ok(()) => Vec::new(),
        Err(parts) => parts,
    };
    Ok(SnapshotCheck { name: name.to_string(), seq: snap["as_of"]["seq"].clone(), differs })
}

impl SnapshotCheck {
    pub fn render(&self, json: bool, lang: Lang) -> String {
        match (json, self.differs.is_empty()) {
            (true, true) => json_line(&json!({"ok": true, "seq": self.seq})),
            (true, false) => {
                let differs: Vec<String> = self.differs.iter().map(|d| d.render(lang)).collect();
                json_line(&json!({"ok": false, "differs": differs}))
            }
            (false, true) => msg!("read.snapshot_ok", name = &self.name, seq = &self.seq).render(lang) + "\n",
            (false, false) => String::new(),
        }
    }

    pub fn failure(&self) -> Option<Error> {
        // The parts that differ, joined by "; " in the language's way.
        let differs = self.differs.iter().cloned().reduce(|a, b| msg!("read.joined", first = a, rest = b))?;
        Some(Error::integrity(msg!("read.snapshot_mismatch", name = &self.name, differs = differs)))
    }
}

/// One side of a diff: a snapshot document (its text, named for errors), or a point of
/// the ledger (`None`: now).
pub enum DiffSide {
    Snapshot { name: String, text: String },
    Ledger(Option<AsOf>),
}

pub struct DiffAnswer {
    pub from: u64,
    pub to: u64,
    /// Each plan's investment totals on both sides.
    pub totals: Vec<Value>,
    pub changes: Vec<Value>,
}

fn diff_side(store: &dyn Store, side: &DiffSide) -> Result<snapshot::Side> {
    match side {
        DiffSide::Snapshot { name, text } => {
            let snap = snapshot::parse(text).map_err(|e| e.at(name.clone()))?;
            Ok(snapshot::Side { seq: snap["as_of"]["seq"].as_u64().unwrap_or(0), state: snap["state"].clone() })
        }
        DiffSide::Ledger(as_of) => {
            let seq = as_of_seq(store, *as_of)?;
            Ok(snapshot::Side { seq, state: report::state_json(&query::state_at(store, seq)?, None, None) })
        }
    }
}

pub fn diff(store: &dyn Store, a: &DiffSide, b: &DiffSide) -> Result<DiffAnswer> {
    let (sa, sb) = (diff_side(store, a)?, diff_side(store, b)?);
    let changes = snapshot::diff(store, &sa, &sb)?;
    let totals = snapshot::diff_totals(&sa, &sb);
    Ok(DiffAnswer { from: sa.seq, to: sb.seq, totals, changes })
}

impl DiffAnswer {
    pub fn render(&self, json: bool, lang: Lang) -> String {
        if json {
            return json_line(&json!({
                "from_seq": self.from, "to_seq": self.to, "totals": self.totals, "changes": self.changes,
            }));
        }
        snapshot::diff_text(self.from, self.to, &self.totals, &self.changes, lang)
    }
}

// ---- verification and proofs -------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub struct VerifyQuery {
    /// Fail on any unsigned event after the first key registration.
    pub require_signatures: bool,
    /// Also prove that the log extends the one this signed tree head covers.
    pub checkpoint: Option<TreeHead>,
}

pub struct VerifyAnswer {
    pub verification: crate::verify::Verification,
    /// What the checkpoint check found, when one was asked for and the log verified.
    pub checkpoint_ok: Option<crate::Msg>,
}

pub fn verify(store: &dyn Store, q: &VerifyQuery) -> Result<VerifyAnswer> {
    verify_observed(store, q, &mut |_| {})
}

/// As `verify`, feeding `progress` the number of events verified so far.
pub fn verify_observed(store: &dyn Store, q: &VerifyQuery, progress: &mut dyn FnMut(u64)) -> Result<VerifyAnswer> {
    let mut v = crate::verify::verify_observed(store, q.require_signatures, progress)?;
    let mut checkpoint_ok = None;
    if let (Some(h), true) = (&q.checkpoint, v.ok()) {
        match proof::check_tree_head(store, h)? {
            Ok(what) => checkpoint_ok = Some(what),
            Err((seq, what)) => {
                v.problem = Some(crate::verify::Problem { seq, what: msg!("verify.checkpoint_problem", what = what) })
            }
        }
    }
    Ok(VerifyAnswer { verification: v, checkpoint_ok })
}

impl VerifyAnswer {
    /// The document `verify --json` prints; its sentences in `lang`.
    pub fn json(&self, lang: Lang) -> Value {
        let v = &self.verification;
        let mut doc = json!({"ok": v.ok(), "events": v.events, "head": hex(&v.head)});
        if let Value::Object(m) = &mut doc {
            if let Some(p) = &v.problem {
                m.insert("first_bad_seq".into(), (p.seq > 0).then_some(p.seq).into());
                m.insert("problem".into(), json!(p.what.render(lang)));
            }
            if let Some(what) = &self.checkpoint_ok {
                m.insert("checkpoint".into(), json!(what.render(lang)));
            }
        }
        doc
    }

    pub fn render(&self, json: bool, lang: Lang) -> String {
        let v = &self.verification;
        if json {
            return json_line(&self.json(lang));
        }
        let mut lines = Vec::new();
        if let Some(what) = &self.checkpoint_ok {
            lines.push(msg!("verify.checkpoint_ok", what = what.clone()));
        }
        lines.push(match &v.problem {
            Some(p) if p.seq == 0 => msg!("verify.text_failed", what = p.what.clone()),
            Some(p) => msg!("verify.text_failed_at", seq = p.seq, what = p.what.clone(), events = v.events),
            None => msg!("verify.text_ok", events = v.events, head = hex(&v.head)),
        });
        lines.iter().map(|l| l.render(lang) + "\n").collect()
    }

    pub fn failure(&self) -> Option<Error> {
        self.verification.problem.as_ref().map(|p| {
            Error::Integrity(match p.seq {
                0 => msg!("verify.failed", what = p.what.clone()),
                seq => msg!("verify.failed_at", seq = seq, what = p.what.clone()),
            })
        })
    }
}

/// The current Merkle tree head, signed with the ledger's key.
pub fn checkpoint(store: &dyn Store) -> Result<TreeHead> {
    proof::tree_head(store)
}

/// The ledger's public key; reading it never makes one.
pub fn ledger_key(store: &dyn Store) -> Result<[u8; 32]> {
    match crate::keys::public_of(store)? {
        Some(k) => Ok(k),
        None => crate::keys::load(store).map(|k| k.public()),
    }
}

pub fn render_key(key: &[u8; 32], json: bool) -> String {
    if json {
        json_line(&json!({"algorithm": "ed25519", "public_key": hex(key)}))
    } else {
        format!("{}\n", hex(key))
    }
}

/// An inclusion proof of one event in the tree of the first `size` events (default: all).
pub fn proof(store: &dyn Store, event: &EventRef, size: Option<u64>) -> Result<(u64, Value)> {
    let seq = resolve_event(store, event)?;
    Ok((seq, proof::inclusion(store, seq, size)?))
}
