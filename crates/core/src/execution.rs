//! The official execution report (计划执行情况报告): what a district's 发改委 pastes into its
//! report to the 人大, in the order and wording real ones use. 主要指标完成情况 (the plan's
//! order, targets as published, 完成/未完成 with the right verb for a ceiling, the stated
//! reason of a miss), then 重点项目建设情况 (all projects, 省市 together, each level, 新建/续建,
//! milestones, 序时进度 with the lagging projects named). Dates in 公文 style (2021年9月30日,
//! 1—9月, 上半年); clauses that do not apply are left out.
//!
//! The report is a `Doc` (sections of paragraphs, tables and charts), rendered here as
//! Markdown and as one offline HTML file; the render crate writes it as .docx and draws the
//! charts. Every figure comes from the same fold and `summary::Group` as `summary`.

use std::fmt::Write;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::model::{fmt_decimal, percent, Comparison, Date, Level, Measure, Period};
use crate::projection::{Indicator, Listing, State};
use crate::report::judge;
use crate::summary::{behind_schedule, summarize, Group, On};

/// Percentage decimals a report may ask for (`--decimals`).
pub const DECIMALS_MAX: u32 = 4;
/// Lagging projects named in the text; the table lists them all.
pub const LAGGING_NAMED_MAX: usize = 10;

/// A report: a title, the date line, sections.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A paragraph: runs of text, a bold lead-in first when it has one.
    Para(Vec<Span>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A chart, drawn by whoever renders (HTML embeds it; Markdown and .docx name it).
    Chart(ChartKind),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
}

/// The charts a report and `planledger chart` draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Cumulative completed investment by month, against the annual plan and 序时进度.
    Cumulative,
    /// Completion rate by level.
    Levels,
    /// Completion rate by department.
    Departments,
    /// Growth indicators: target and actual.
    Indicators,
}

impl ChartKind {
    pub const ALL: [ChartKind; 4] =
        [ChartKind::Cumulative, ChartKind::Levels, ChartKind::Departments, ChartKind::Indicators];

    pub fn parse(text: &str) -> crate::Result<ChartKind> {
        Ok(match text {
            "cumulative" => ChartKind::Cumulative,
            "levels" => ChartKind::Levels,
            "departments" => ChartKind::Departments,
            "indicators" => ChartKind::Indicators,
            _ => return Err(crate::Error::invalid(msg!("execution.not_a_chart", chart = text))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Cumulative => "cumulative",
            ChartKind::Levels => "levels",
            ChartKind::Departments => "departments",
            ChartKind::Indicators => "indicators",
        }
    }

    /// The caption under the chart.
    pub fn caption(self) -> &'static str {
        match self {
            ChartKind::Indicators => "图1 主要增速指标目标与完成情况",
            ChartKind::Cumulative => "图2 重点项目累计完成投资与序时进度",
            ChartKind::Levels => "图3 分级别重点项目投资完成率",
            ChartKind::Departments => "图4 分责任单位重点项目投资完成率",
        }
    }
}

fn span(text: impl Into<String>) -> Span {
    Span { text: text.into(), bold: false }
}

fn lead(text: impl Into<String>) -> Span {
    Span { text: text.into(), bold: true }
}

/// A date as a 公文 writes it: 2021年9月30日.
pub fn date_zh(d: Date) -> String {
    let m = d.month();
    format!("{}年{}月{}日", m.year, m.month, d.0.format("%-d"))
}

/// The stretch of the year an actual covers, as reports write it: 全年, 上半年, 1—9月, 1月.
pub fn period_zh(p: Period) -> String {
    match p {
        Period::Year(_) => "全年".into(),
        Period::Half(_, 1) => "上半年".into(),
        Period::Half(..) => "下半年".into(),
        Period::Quarter(_, 1) => "一季度".into(),
        Period::Quarter(_, q) => format!("1—{}月", q * 3),
        Period::Month(m) if m.month == 1 => "1月".into(),
        Period::Month(m) => format!("1—{}月", m.month),
    }
}

/// A percentage with `decimals` places, half away from zero.
fn pct(p: Decimal, decimals: u32) -> String {
    let r = p.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    format!("{r:.prec$}", prec = decimals as usize)
}

/// The report of `year`'s plans (or one plan) as on `on`.
pub fn execution_report(state: &State, year: i32, on: On, decimals: u32) -> Doc {
    let s = summarize(state, year, on, &[]);
    let plan = s.plans.first();
    let title = plan.map_or_else(|| format!("{year}年计划"), |p| p.def.title.clone());
    let mut sections = Vec::new();
    let indicators: Vec<&Indicator> = {
        let mut v: Vec<&Indicator> = s.plans.iter().flat_map(|p| p.indicators.values()).collect();
        v.sort_by_key(|i| i.defined);
        v
    };
    if !indicators.is_empty() {
        sections.push(indicator_section(&indicators, on, decimals));
    }
    let listings: Vec<(&str, &Listing)> = s
        .plans
        .iter()
        .flat_map(|p| p.projects.sorted())
        .filter(|(_, l)| l.listed_on(on.date))
        .map(|(id, l)| (id.as_str(), &**l))
        .collect();
    if !listings.is_empty() {
        sections.push(project_section(state, &s, &listings, on, decimals));
    }
    for (i, sec) in sections.iter_mut().enumerate() {
        sec.heading = format!("{}、{}", ["一", "二", "三", "四"][i.min(3)], sec.heading);
    }
    Doc { title: format!("{title}执行情况"), subtitle: format!("（截至{}）", date_zh(on.date)), sections }
}

/// A target as a plan publishes it: 7%左右, 控制在5.5%以内, 210天.
fn target_zh(ind: &Indicator) -> String {
    let unit = &ind.def.unit;
    match (ind.target, ind.def.comparison, ind.def.approximate) {
        (None, ..) => "不设目标".into(),
        (Some(t), Comparison::AtMost, _) => format!("控制在{}{unit}以内", fmt_decimal(t)),
        (Some(t), _, true) => format!("{}{unit}左右", fmt_decimal(t)),
        (Some(t), _, false) => format!("{}{unit}", fmt_decimal(t)),
    }
}

/// The verdict a report gives: how far from the target, with the verb a ceiling takes, and
/// 完成 or 未完成.
fn verdict_zh(ind: &Indicator, on: On, decimals: u32) -> String {
    let j = judge(ind, Some(on.date));
    let (Some(met), Some(gap)) = (j.met, j.gap) else {
        return if ind.target.is_none() { "—".into() } else { "尚无数据".into() };
    };
    let done = if met { "完成" } else { "未完成" };
    let unit = &ind.def.unit;
    let g = fmt_decimal(gap.abs());
    match (ind.def.measure, ind.def.comparison) {
        (Measure::Rate, Comparison::AtLeast) if gap.is_zero() => format!("与目标持平，{done}"),
        (Measure::Rate, Comparison::AtLeast) if gap > Decimal::ZERO => format!("高于目标{g}个百分点，{done}"),
        (Measure::Rate, Comparison::AtLeast) => format!("低于目标{g}个百分点，{done}"),
        (Measure::Rate, Comparison::AtMost) if gap.is_zero() => format!("与控制目标持平，{done}"),
        (Measure::Rate, Comparison::AtMost) if gap < Decimal::ZERO => format!("低于控制目标{g}个百分点，{done}"),
        (Measure::Rate, Comparison::AtMost) => format!("高于控制目标{g}个百分点，{done}"),
        (Measure::Amount, Comparison::AtLeast) => {
            j.completion_pct.map_or_else(|| done.to_string(), |p| format!("完成目标的{}%，{done}", pct(p, decimals)))
        }
        (Measure::Amount, Comparison::AtMost) if met => format!("控制在目标以内，{done}"),
        (Measure::Amount, Comparison::AtMost) => format!("超出目标{g}{unit}，{done}"),
    }
}

/// "地区生产总值增长3%", "一般公共预算收入下降9.8%", "第三产业增加值526.5亿元": an
/// indicator's actual as the report's opening sentence states it.
fn actual_phrase(ind: &Indicator, value: Decimal, period: Period) -> String {
    let name = &ind.def.name;
    let unit = &ind.def.unit;
    let when = match period {
        Period::Year(_) => String::new(),
        p => format!("（{}）", period_zh(p)),
    };
    let (name, value) = match name.strip_suffix("增长") {
        Some(stem) if value < Decimal::ZERO && ind.def.measure == Measure::Rate => (format!("{stem}下降"), -value),
        _ => (name.clone(), value),
    };
    format!("{name}{when}{}{unit}", fmt_decimal(value))
}

fn indicator_section(indicators: &[&Indicator], on: On, decimals: u32) -> Section {
    let mut blocks = Vec::new();
    let stated: Vec<String> = indicators
        .iter()
        .filter_map(|i| {
            let a = i.current_actual_until(Some(on.date))?;
            Some(actual_phrase(i, a.value, a.period))
        })
        .collect();
    if !stated.is_empty() {
        blocks.push(Block::Para(vec![span(format!("据统计，{}。", stated.join("；")))]));
    }
    let rows = indicators
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let actual = i.current_actual_until(Some(on.date)).map_or_else(
                || "—".to_string(),
                |a| match a.period {
                    Period::Year(_) => format!("{}{}", fmt_decimal(a.value), i.def.unit),
                    p => format!("{}{}（{}）", fmt_decimal(a.value), i.def.unit, period_zh(p)),
                },
            );
            vec![(n + 1).to_string(), i.def.name.clone(), target_zh(i), actual, verdict_zh(i, on, decimals)]
        })
        .collect();
    blocks.push(Block::Table {
        header: ["序号", "指标", "目标", "完成", "完成情况"].map(String::from).to_vec(), rows
    });
    // A missed indicator's reason, as its actual was reported with it.
    let reasons: Vec<String> = indicators
        .iter()
        .filter(|i| judge(i, Some(on.date)).met == Some(false))
        .filter_map(|i| {
            let note = i.current_actual_until(Some(on.date))?.note.as_ref()?;
            Some(format!("{}未完成目标，主要原因是{}", i.def.name, note.trim_end_matches('。')))
        })
        .collect();
    if !reasons.is_empty() {
        blocks.push(Block::Para(vec![lead("未完成原因"), span(format!("。{}。", reasons.join("；")))]));
    }
    if indicators.iter().any(|i| i.def.measure == Measure::Rate && i.target.is_some()) {
        blocks.push(Block::Chart(ChartKind::Indicators));
    }
    Section { heading: "主要指标完成情况".into(), blocks }
}

fn project_section(
    state: &State,
    s: &crate::summary::Summary<'_>,
    listings: &[(&str, &Listing)],
    on: On,
    decimals: u32,
) -> Section {
    let g = &s.all;
    let pc = s.province_city();
    let rate = |part: Decimal, whole: Decimal| percent(part, whole).map(|p| pct(p, decimals));
    let count_rate = |part: u64, whole: u64| rate(Decimal::from(part), Decimal::from(whole));
    let mut blocks = Vec::new();
    // The seed's sentence: all key projects, then 省市 together.
    let mut first = format!("{}个重点项目完成投资{}亿元", g.count, fmt_decimal(g.completed));
    if let Some(p) = rate(g.completed, g.planned) {
        let _ = write!(first, "，占年度目标的{p}%");
    }
    if pc.count > 0 {
        let _ = write!(first, "，其中{}个省市重点项目完成投资{}亿元", pc.count, fmt_decimal(pc.completed));
        if let Some(p) = rate(pc.completed, pc.planned) {
            let _ = write!(first, "，占年度投资目标{}亿元的{p}%", fmt_decimal(pc.planned));
        }
    }
    first.push('。');
    blocks.push(Block::Para(vec![lead("推进重点项目建设"), span("。"), span(first)]));
    // The year's plan and total investment.
    let total: Decimal = listings.iter().filter_map(|(_, l)| l.def.total_investment).sum();
    let mut plan = format!("全年安排重点项目{}个，年度计划投资{}亿元", g.count, fmt_decimal(g.planned));
    if !total.is_zero() {
        let _ = write!(plan, "，总投资{}亿元", fmt_decimal(total));
    }
    plan.push('。');
    // Each level with projects, as reports list them.
    let levels: Vec<String> = Level::REPORT_ORDER
        .iter()
        .filter_map(|l| s.levels.get(l).filter(|x| x.count > 0).map(|x| (l, x)))
        .map(|(l, x)| {
            let mut t = format!("{}重点项目{}个，完成投资{}亿元", l.zh(), x.count, fmt_decimal(x.completed));
            if let Some(p) = rate(x.completed, x.planned) {
                let _ = write!(t, "，占年度计划的{p}%");
            }
            t
        })
        .collect();
    if levels.len() > 1 {
        let _ = write!(plan, "分级别看，{}。", levels.join("；"));
    }
    // 新建, 续建, 前期, when the plan says.
    let mut natures = [0u64; 3];
    for (_, l) in listings {
        let c = l
            .schedule
            .as_ref()
            .and_then(|x| x.construction)
            .or(l.def.started.map(|_| crate::model::Construction::Continuing));
        if let Some(c) = c {
            natures[c as usize] += 1;
        }
    }
    let natures: Vec<String> = [("新建", natures[0]), ("续建", natures[1]), ("前期", natures[2])]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}项目{n}个"))
        .collect();
    if !natures.is_empty() {
        let _ = write!(plan, "其中{}。", natures.join("，"));
    }
    blocks.push(Block::Para(vec![span(plan)]));
    // Milestones: only the clauses that apply.
    let mut ms = Vec::new();
    if g.planned_start > 0 {
        let mut t = format!("计划开工{}个，已开工{}个", g.planned_start, g.started);
        if let Some(r) = count_rate(g.started, g.planned_start) {
            let _ = write!(t, "，开工率{r}%");
        }
        if g.planned_start > g.started {
            let _ = write!(t, "，{}个未开工", g.planned_start - g.started);
        }
        ms.push(t);
    }
    for (what, planned, done) in [("竣工", g.planned_complete, g.completed_n), ("投产", g.planned_operate, g.operating)]
    {
        if planned > 0 {
            let r = count_rate(done, planned).map(|r| format!("，{what}率{r}%")).unwrap_or_default();
            ms.push(format!("计划{what}{planned}个，已{what}{done}个{r}"));
        }
    }
    if !ms.is_empty() {
        blocks.push(Block::Para(vec![lead("项目进度"), span(format!("。{}。", ms.join("；")))]));
    }
    // 序时进度, with the lagging projects named.
    let mut lagging: Vec<(&str, &Listing, Decimal)> = listings
        .iter()
        .filter(|(_, l)| behind_schedule(l, on) == Some(true))
        .map(|(id, l)| {
            (*id, *l, percent(l.progress.completed(Some(on.date)), l.planned_investment).unwrap_or_default())
        })
        .collect();
    lagging.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(b.0)));
    let dept =
        |l: &Listing| state.departments.get(&l.def.department).map_or(l.def.department.clone(), |d| d.name.clone());
    let elapsed = on.elapsed_pct();
    let mut sched =
        format!("截至{}，时间进度{}%，{}个项目达到序时进度", date_zh(on.date), pct(elapsed, decimals), g.on_schedule);
    if lagging.is_empty() {
        sched.push('。');
    } else {
        let named: Vec<String> = lagging
            .iter()
            .take(LAGGING_NAMED_MAX)
            .map(|(_, l, r)| format!("{}（{}，完成{}%）", l.def.name, dept(l), pct(*r, decimals)))
            .collect();
        let more =
            if lagging.len() > LAGGING_NAMED_MAX { format!("等{}个项目", lagging.len()) } else { String::new() };
        let _ = write!(sched, "，{}个项目滞后：{}{more}。", lagging.len(), named.join("、"));
    }
    blocks.push(Block::Para(vec![lead("序时进度"), span("。"), span(sched)]));
    blocks.push(Block::Chart(ChartKind::Cumulative));
    // The table reports print: all, 省市, each level.
    let row = |label: &str, x: &Group| {
        vec![
            label.to_string(),
            x.count.to_string(),
            fmt_decimal(x.planned),
            fmt_decimal(x.completed),
            rate(x.completed, x.planned).map_or_else(|| "—".into(), |p| format!("{p}%")),
        ]
    };
    let mut rows = vec![row("全部重点项目", g)];
    if pc.count > 0 {
        rows.push(row("其中：省市重点项目", &pc));
    }
    for l in Level::REPORT_ORDER {
        if let Some(x) = s.levels.get(&l).filter(|x| x.count > 0) {
            rows.push(row(&format!("{}重点项目", l.zh()), x));
        }
    }
    blocks.push(Block::Table {
        header: ["类别", "项目数", "年度计划投资（亿元）", "完成投资（亿元）", "完成率"].map(String::from).to_vec(),
        rows,
    });
    blocks.push(Block::Chart(ChartKind::Levels));
    blocks.push(Block::Chart(ChartKind::Departments));
    if !lagging.is_empty() {
        blocks.push(Block::Para(vec![lead("滞后项目"), span(format!("。共{}个：", lagging.len()))]));
        blocks.push(Block::Table {
            header: ["项目", "责任单位", "年度计划投资（亿元）", "完成投资（亿元）", "完成率"]
                .map(String::from)
                .to_vec(),
            rows: lagging
                .iter()
                .map(|(_, l, r)| {
                    vec![
                        l.def.name.clone(),
                        dept(l),
                        fmt_decimal(l.planned_investment),
                        fmt_decimal(l.progress.completed(Some(on.date))),
                        format!("{}%", pct(*r, decimals)),
                    ]
                })
                .collect(),
        });
    }
    Section { heading: "重点项目建设情况".into(), blocks }
}

/// What a chart shows, in figures: the render crate draws it.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartData {
    /// Lines over the months of the year (x: 1..=12).
    Lines { title: String, y_label: String, series: Vec<(String, Vec<(u8, Decimal)>)> },
    /// Bars, each a label and one value per series; `reference` draws a level across them
    /// (序时进度).
    Bars {
        title: String,
        y_label: String,
        series: Vec<String>,
        bars: Vec<(String, Vec<Decimal>)>,
        reference: Option<(String, Decimal)>,
    },
}

/// Departments a chart shows at most (the lowest completion rates first).
pub const CHART_BARS_MAX: usize = 20;

/// The figures of chart `kind` for `year` on `on`, from the same fold as the report.
pub fn chart_data(state: &State, year: i32, on: On, kind: ChartKind) -> ChartData {
    let s = summarize(state, year, on, &[]);
    let listings: Vec<&Listing> =
        s.plans.iter().flat_map(|p| p.projects.values()).filter(|l| l.listed_on(on.date)).map(|l| &**l).collect();
    let title = kind.caption().split_once(' ').map_or(kind.caption(), |(_, t)| t).to_string();
    let elapsed = on.elapsed_pct();
    match kind {
        ChartKind::Cumulative => {
            let planned: Decimal = listings.iter().map(|l| l.planned_investment).sum();
            let mut done = Decimal::ZERO;
            let mut completed = Vec::new();
            for m in 1..=on.months_elapsed {
                let month = crate::model::Month { year, month: m };
                done += listings
                    .iter()
                    .filter_map(|l| l.progress.investments.get(&month))
                    .map(|e| e.amount)
                    .sum::<Decimal>();
                completed.push((m, done));
            }
            let schedule = (1..=12u8).map(|m| (m, planned * Decimal::from(m) / Decimal::from(12))).collect();
            let plan = (1..=12u8).map(|m| (m, planned)).collect();
            ChartData::Lines {
                title,
                y_label: "亿元".into(),
                series: vec![
                    ("累计完成投资".into(), completed),
                    ("序时进度".into(), schedule),
                    ("年度计划投资".into(), plan),
                ],
            }
        }
        ChartKind::Levels | ChartKind::Departments => {
            let mut groups: std::collections::BTreeMap<String, (Decimal, Decimal)> = std::collections::BTreeMap::new();
            for l in &listings {
                let key = if kind == ChartKind::Levels {
                    l.def.level.zh().to_string()
                } else {
                    state.departments.get(&l.def.department).map_or(l.def.department.clone(), |d| d.name.clone())
                };
                let e = groups.entry(key).or_default();
                e.0 += l.planned_investment;
                e.1 += l.progress.completed(Some(on.date));
            }
            let mut bars: Vec<(String, Vec<Decimal>)> =
                groups.into_iter().filter_map(|(k, (p, c))| percent(c, p).map(|r| (k, vec![r]))).collect();
            if kind == ChartKind::Levels {
                let order = |k: &str| Level::REPORT_ORDER.iter().position(|l| l.zh() == k).unwrap_or(usize::MAX);
                bars.sort_by_key(|(k, _)| order(k));
            } else {
                bars.sort_by(|a, b| a.1[0].cmp(&b.1[0]).then(a.0.cmp(&b.0)));
                bars.truncate(CHART_BARS_MAX);
            }
            ChartData::Bars {
                title,
                y_label: "完成率（%）".into(),
                series: vec!["完成率".into()],
                bars,
                reference: Some(("时间进度".into(), elapsed)),
            }
        }
        ChartKind::Indicators => {
            let mut inds: Vec<&Indicator> = s
                .plans
                .iter()
                .flat_map(|p| p.indicators.values())
                .filter(|i| i.def.measure == Measure::Rate && i.target.is_some())
                .collect();
            inds.sort_by_key(|i| i.defined);
            let bars = inds
                .iter()
                .filter_map(|i| {
                    let a = i.current_actual_until(Some(on.date))?;
                    Some((i.def.name.clone(), vec![i.target?, a.value]))
                })
                .collect();
            ChartData::Bars {
                title,
                y_label: "%".into(),
                series: vec!["目标".into(), "完成".into()],
                bars,
                reference: None,
            }
        }
    }
}

/// Markdown text (CommonMark with GFM tables): bold lead-ins keep their full stop outside
/// the emphasis; table cells escape `|`.
pub fn markdown(doc: &Doc) -> String {
    let mut out = format!("# {}\n\n{}\n", doc.title, doc.subtitle);
    for sec in &doc.sections {
        let _ = write!(out, "\n## {}\n", sec.heading);
        for b in &sec.blocks {
            out.push('\n');
            match b {
                Block::Para(spans) => {
                    for s in spans {
                        if s.bold {
                            let _ = write!(out, "**{}**", md_text(&s.text));
                        } else {
                            out.push_str(&md_text(&s.text));
                        }
                    }
                    out.push('\n');
                }
                Block::Table { header, rows } => {
                    let cells = |r: &[String]| r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ");
                    let _ = writeln!(out, "| {} |", cells(header));
                    let _ = writeln!(out, "|{}|", vec!["---"; header.len()].join("|"));
                    for r in rows {
                        let _ = writeln!(out, "| {} |", cells(r));
                    }
                }
                Block::Chart(k) => {
                    let _ = writeln!(out, "*{}（见 `planledger chart {}`）*", k.caption(), k.as_str());
                }
            }
        }
    }
    out
}

/// Text safe in a Markdown paragraph: the characters CommonMark would take for markup
/// escaped.
fn md_text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn md_cell(t: &str) -> String {
    md_text(t).replace('\n', " ")
}

/// One offline HTML file: 公文 fonts (仿宋 body, 黑体 headings), A4 print layout, tables, and
/// each chart as the inline SVG `chart` returns for it (none when it returns `None`).
pub fn html(doc: &Doc, chart: &dyn Fn(ChartKind) -> Option<String>) -> String {
    let mut out = String::from(HTML_HEAD);
    let _ = write!(out, "<title>{}</title>\n</head>\n<body>\n", esc(&doc.title));
    let _ = write!(out, "<h1>{}</h1>\n<p class=\"date\">{}</p>\n", esc(&doc.title), esc(&doc.subtitle));
    for sec in &doc.sections {
        let _ = writeln!(out, "<h2>{}</h2>", esc(&sec.heading));
        for b in &sec.blocks {
            match b {
                Block::Para(spans) => {
                    out.push_str("<p>");
                    for s in spans {
                        if s.bold {
                            let _ = write!(out, "<strong>{}</strong>", esc(&s.text));
                        } else {
                            out.push_str(&esc(&s.text));
                        }
                    }
                    out.push_str("</p>\n");
                }
                Block::Table { header, rows } => {
                    out.push_str("<table>\n<thead><tr>");
                    for h in header {
                        let _ = write!(out, "<th>{}</th>", esc(h));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for (i, c) in r.iter().enumerate() {
                            let figure =
                                c.strip_prefix('-').unwrap_or(c).chars().next().is_some_and(|ch| ch.is_ascii_digit());
                            let class = if i > 0 && figure { " class=\"num\"" } else { "" };
                            let _ = write!(out, "<td{class}>{}</td>", esc(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
                Block::Chart(k) => {
                    if let Some(svg) = chart(*k) {
                        let _ = write!(
                            out,
                            "<figure class=\"chart\" id=\"chart-{}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
                            k.as_str(),
                            esc(k.caption())
                        );
                    }
                }
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const HTML_HEAD: &str = r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { font-family: "FangSong_GB2312", "FangSong", "仿宋", "STFangsong", "Noto Serif CJK SC", "Source Han Serif SC", serif;
       font-size: 16pt; line-height: 1.75; max-width: 156mm; margin: 2em auto; color: #000; }
h1 { font-family: "FZXiaoBiaoSong-B05S", "方正小标宋简体", "SimHei", "黑体", "Noto Sans CJK SC", sans-serif;
     font-size: 22pt; font-weight: normal; text-align: center; margin: 0 0 0.3em; }
p.date { text-align: center; margin-top: 0; }
h2 { font-family: "SimHei", "黑体", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif; font-size: 16pt;
     font-weight: normal; margin: 1.2em 0 0.4em; }
p { text-indent: 2em; margin: 0.3em 0; text-align: justify; }
strong { font-family: "KaiTi_GB2312", "KaiTi", "楷体", serif; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; font-size: 12pt; line-height: 1.4; page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 0.25em 0.4em; }
th { font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif; font-weight: normal; background: #f2f2f2; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure.chart { margin: 0.8em 0; text-align: center; page-break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { font-size: 12pt; }
</style>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_periods_read_as_a_report_writes_them() {
        let d = Date::parse("d", "2025-09-30").unwrap();
        assert_eq!(date_zh(d), "2025年9月30日");
        assert_eq!(period_zh(Period::parse("p", "2025-09").unwrap()), "1—9月");
        assert_eq!(period_zh(Period::parse("p", "2025-H1").unwrap()), "上半年");
        assert_eq!(period_zh(Period::parse("p", "2025-Q3").unwrap()), "1—9月");
        assert_eq!(pct(Decimal::new(15147, 2), 2), "151.47");
        assert_eq!(pct(Decimal::new(1115, 1), 1), "111.5");
        assert_eq!(md_text("a|b*c"), "a\\|b\\*c");
    }
}
