//! planledger-render: what is drawn or typeset, and nothing else. Charts (plotters, as SVG)
//! from the core's `ChartData`, and the execution report (`execution::Doc`) as a .docx in
//! 公文 layout (docx-rs): A4, 仿宋 body and 黑体 headings at the sizes 党政机关公文格式
//! (GB/T 9704) gives, numbered sections, tables. What the figures are is the core's; this
//! crate only lays them out.
//!
//! Drawing coordinates are floating point; the exact decimals become `f64` here, for
//! positions only. Every figure printed on a chart is the decimal's own text.

use planledger_core::execution::{Block, ChartData, Doc};
use planledger_core::model::fmt_decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot draw the chart: {0}")]
    Chart(String),
    #[error("cannot write the .docx: {0}")]
    Docx(String),
}

impl RenderError {
    /// The error as a message (the catalogue's words; `Display` is the English of it).
    pub fn to_msg(&self) -> planledger_core::Msg {
        use planledger_core::msg;
        match self {
            RenderError::Chart(why) => msg!("render.chart", error = why),
            RenderError::Docx(why) => msg!("render.docx", error = why),
        }
    }
}

pub type Result<T> = std::result::Result<T, RenderError>;

/// Chart size in pixels (SVG user units).
pub const CHART_SIZE: (u32, u32) = (880, 480);
/// More bars than this are drawn horizontally (long names along the axis).
const HORIZONTAL_FROM: usize = 6;
/// Fonts for chart text: the CJK fonts of Chinese desktops, then any CJK font.
const CHART_FONT: &str =
    "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, SimHei, WenQuanYi Micro Hei, PingFang SC, sans-serif";

/// The fonts PNG charts are drawn with, embedded so that a machine with no font installed
/// still draws every digit and every name (fonts/README.md): DejaVu Sans for Latin letters
/// and digits, Droid Sans Fallback (Apache-2.0) for Chinese.
const LATIN_FONT_DATA: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const CJK_FONT_DATA: &[u8] = include_bytes!("../fonts/DroidSansFallback.ttf");
/// PNG pixels per SVG unit: twice, for a picture that stays sharp in a printed document.
const PNG_SCALE: f32 = 2.0;

/// The chart as a PNG image: the SVG, rasterized with the embedded CJK font only (so the
/// picture is the same on every machine).
pub fn chart_png(data: &ChartData) -> Result<Vec<u8>> {
    use resvg::{tiny_skia, usvg};
    let svg = chart_svg(data)?;
    let mut opt = usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_font_data(LATIN_FONT_DATA.to_vec());
    let family = db.faces().next().and_then(|f| f.families.first()).map(|(name, _)| name.clone());
    let family = family.ok_or_else(|| RenderError::Chart("the embedded chart font has no family name".into()))?;
    // Characters the Latin font lacks (every 汉字) fall back to the CJK font.
    db.load_font_data(CJK_FONT_DATA.to_vec());
    db.set_sans_serif_family(family);
    let tree = usvg::Tree::from_str(&svg, &opt).map_err(|e| RenderError::Chart(e.to_string()))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(PNG_SCALE)
        .ok_or_else(|| RenderError::Chart("the chart has no size".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| RenderError::Chart("the chart has no size".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| RenderError::Chart(e.to_string()))
}

/// A decimal as a drawing coordinate.
fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The chart as an SVG document.
pub fn chart_svg(data: &ChartData) -> Result<String> {
    let mut svg = String::new();
    {
        use plotters::prelude::*;
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| RenderError::Chart(e.to_string());
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let font = |size: u32| (CHART_FONT, size).into_font();
        match data {
            ChartData::Lines { title, y_label, series } => {
                let top = series.iter().flat_map(|(_, pts)| pts.iter().map(|(_, v)| f(*v))).fold(0.0, f64::max);
                let mut chart = ChartBuilder::on(&root)
                    .caption(title, font(22))
                    .margin(16)
                    // Room for the last month's figure, written right of the line's end.
                    .margin_right(56)
                    .x_label_area_size(36)
                    .y_label_area_size(64)
                    .build_cartesian_2d(1u32..12u32, 0.0..(top * 1.1).max(1.0))
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .x_labels(12)
                    .x_label_formatter(&|m| format!("{m}月"))
                    .y_desc(y_label.as_str())
                    .label_style(font(14))
                    .axis_desc_style(font(14))
                    .draw()
                    .map_err(|e| err(&e))?;
                let colors = [RGBColor(192, 0, 0), RGBColor(31, 78, 121), RGBColor(128, 128, 128)];
                for (i, (name, pts)) in series.iter().enumerate() {
                    let color = colors[i % colors.len()];
                    let style =
                        ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: if i == 0 { 3 } else { 2 } };
                    let line = pts.iter().map(|(m, v)| (u32::from(*m), f(*v)));
                    chart
                        .draw_series(LineSeries::new(line, style))
                        .map_err(|e| err(&e))?
                        .label(name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    if i == 0 {
                        if let Some((m, v)) = pts.last() {
                            chart
                                .draw_series(std::iter::once(Text::new(
                                    format!("{}亿元", fmt_decimal(*v)),
                                    (u32::from(*m), f(*v)),
                                    font(14),
                                )))
                                .map_err(|e| err(&e))?;
                        }
                    }
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| err(&e))?;
            }
            ChartData::Bars { title, y_label, series, bars, reference } if bars.len() > HORIZONTAL_FROM => {
                // Many bars (departments): horizontal, so their names read along the axis.
                let right = bars
                    .iter()
                    .flat_map(|(_, vs)| vs.iter().map(|v| f(*v)))
                    .chain(reference.iter().map(|(_, v)| f(*v)))
                    .fold(0.0, f64::max);
                let n = bars.len() as u32;
                let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
                let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
                let mut chart = ChartBuilder::on(&root)
                    .caption(title, font(22))
                    .margin(16)
                    .x_label_area_size(40)
                    .y_label_area_size((longest * 14 + 16).min(360))
                    .build_cartesian_2d(0.0..(right * 1.4).max(1.0), 0u32..n * 10)
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(n as usize * 10 + 1)
                    .y_label_formatter(&|y| {
                        let i = (*y / 10) as usize;
                        if *y % 10 == 5 {
                            labels.get(i).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .x_desc(y_label.as_str())
                    .label_style(font(13))
                    .axis_desc_style(font(14))
                    .draw()
                    .map_err(|e| err(&e))?;
                let color = RGBColor(31, 78, 121);
                let rects = bars.iter().enumerate().filter_map(|(i, (_, vs))| {
                    let v = f(*vs.first()?);
                    let y0 = i as u32 * 10 + 2;
                    Some(Rectangle::new([(0.0, y0), (v, y0 + 6)], color.filled()))
                });
                chart
                    .draw_series(rects)
                    .map_err(|e| err(&e))?
                    .label(series.first().map_or("", |s| s.as_str()))
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
                let values = bars.iter().enumerate().filter_map(|(i, (_, vs))| {
                    let v = *vs.first()?;
                    Some(Text::new(fmt_decimal(v.round_dp(1)), (f(v) + right * 0.01, i as u32 * 10 + 7), font(13)))
                });
                chart.draw_series(values).map_err(|e| err(&e))?;
                if let Some((name, level)) = reference {
                    let style = ShapeStyle { color: RGBColor(230, 140, 0).to_rgba(), filled: false, stroke_width: 2 };
                    chart
                        .draw_series(LineSeries::new([(f(*level), 0), (f(*level), n * 10)], style))
                        .map_err(|e| err(&e))?
                        .label(format!("{name} {}%", fmt_decimal(level.round_dp(1))))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| err(&e))?;
            }
            ChartData::Bars { title, y_label, series, bars, reference } => {
                let top = bars
                    .iter()
                    .flat_map(|(_, vs)| vs.iter().map(|v| f(*v)))
                    .chain(reference.iter().map(|(_, v)| f(*v)))
                    .fold(0.0, f64::max);
                let bottom = bars.iter().flat_map(|(_, vs)| vs.iter().map(|v| f(*v))).fold(0.0, f64::min);
                let n = bars.len().max(1) as u32;
                let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
                let mut chart = ChartBuilder::on(&root)
                    .caption(title, font(22))
                    .margin(16)
                    .x_label_area_size(if n > 6 { 110 } else { 40 })
                    .y_label_area_size(64)
                    .build_cartesian_2d(0u32..n * 10, (bottom * 1.1).min(0.0)..(top * 1.45).max(1.0))
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .x_labels(n as usize * 10 + 1)
                    .x_label_formatter(&|x| {
                        let i = (*x / 10) as usize;
                        if *x % 10 == 5 {
                            labels.get(i).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .y_desc(y_label.as_str())
                    .label_style(font(13))
                    .axis_desc_style(font(14))
                    .draw()
                    .map_err(|e| err(&e))?;
                let colors = [RGBColor(31, 78, 121), RGBColor(192, 0, 0)];
                let per = series.len().max(1) as u32;
                let width = 8 / per;
                for (s, name) in series.iter().enumerate() {
                    let color = colors[s % colors.len()];
                    let rects = bars.iter().enumerate().filter_map(|(i, (_, vs))| {
                        let v = f(*vs.get(s)?);
                        let x0 = i as u32 * 10 + 1 + s as u32 * width;
                        Some(Rectangle::new([(x0, 0.0), (x0 + width, v)], color.filled()))
                    });
                    chart
                        .draw_series(rects)
                        .map_err(|e| err(&e))?
                        .label(name.as_str())
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
                    // The value above its bar (a text's anchor is its top left).
                    let lift = (top * 1.45 - bottom.min(0.0)) * 0.045;
                    let values = bars.iter().enumerate().filter_map(|(i, (_, vs))| {
                        let v = *vs.get(s)?;
                        let x0 = i as u32 * 10 + 1 + s as u32 * width;
                        Some(Text::new(fmt_decimal(v.round_dp(1)), (x0, f(v) + lift), font(13)))
                    });
                    chart.draw_series(values).map_err(|e| err(&e))?;
                }
                if let Some((name, level)) = reference {
                    let style = ShapeStyle { color: RGBColor(230, 140, 0).to_rgba(), filled: false, stroke_width: 2 };
                    chart
                        .draw_series(LineSeries::new([(0, f(*level)), (n * 10, f(*level))], style))
                        .map_err(|e| err(&e))?
                        .label(format!("{name} {}%", fmt_decimal(level.round_dp(1))))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font(font(14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| err(&e))?;
            }
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// Half-points (docx font sizes): 二号 22 pt, 三号 16 pt, 小四 12 pt.
const SIZE_TITLE: usize = 44;
const SIZE_BODY: usize = 32;
const SIZE_TABLE: usize = 24;
/// Twips (1/20 pt): A4, and GB/T 9704's margins (top 37 mm, left 28 mm, right 26 mm, bottom 35 mm).
const A4: (u32, u32) = (11_906, 16_838);
const MARGINS: (i32, i32, i32, i32) = (2_098, 1_587, 1_984, 1_474);
/// Fixed line pitch: 28.95 pt, 22 lines a page.
const LINE_TWIPS: i32 = 579;

/// The report as a .docx: title in 小标宋 (黑体 where missing), body in 仿宋 三号 with a
/// two-character first-line indent, headings in 黑体, lead-ins in 楷体, tables in 小四.
pub fn docx_bytes(doc: &Doc) -> Result<Vec<u8>> {
    use docx_rs::*;
    let fonts = |east: &str| RunFonts::new().east_asia(east).ascii("Times New Roman").hi_ansi("Times New Roman");
    let body = || fonts("仿宋_GB2312");
    let spacing = || LineSpacing::new().line_rule(LineSpacingType::Exact).line(LINE_TWIPS);
    let mut d = Docx::new()
        .page_size(A4.0, A4.1)
        .page_margin(PageMargin::new().top(MARGINS.0).left(MARGINS.1).bottom(MARGINS.2).right(MARGINS.3));
    d = d.add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(spacing())
            .add_run(Run::new().add_text(&doc.title).fonts(fonts("方正小标宋简体")).size(SIZE_TITLE)),
    );
    d = d.add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(spacing())
            .add_run(Run::new().add_text(&doc.subtitle).fonts(body()).size(SIZE_BODY)),
    );
    for sec in &doc.sections {
        d = d.add_paragraph(
            Paragraph::new()
                .first_line_chars(200)
                .line_spacing(spacing())
                .add_run(Run::new().add_text(&sec.heading).fonts(fonts("黑体")).size(SIZE_BODY)),
        );
        for b in &sec.blocks {
            match b {
                Block::Para(spans) => {
                    let mut p = Paragraph::new().first_line_chars(200).line_spacing(spacing());
                    for s in spans {
                        let run = Run::new().add_text(&s.text).size(SIZE_BODY);
                        p = p.add_run(if s.bold {
                            run.fonts(fonts("楷体_GB2312")).bold()
                        } else {
                            run.fonts(body())
                        });
                    }
                    d = d.add_paragraph(p);
                }
                Block::Table { header, rows } => {
                    let cell = |t: &str, head: bool| {
                        let run = Run::new().add_text(t).size(SIZE_TABLE);
                        let run = if head { run.fonts(fonts("黑体")) } else { run.fonts(body()) };
                        TableCell::new().add_paragraph(Paragraph::new().align(AlignmentType::Center).add_run(run))
                    };
                    let mut table_rows = vec![TableRow::new(header.iter().map(|h| cell(h, true)).collect())];
                    table_rows.extend(rows.iter().map(|r| TableRow::new(r.iter().map(|c| cell(c, false)).collect())));
                    d = d.add_table(Table::new(table_rows));
                }
                Block::Chart(k) => {
                    d = d.add_paragraph(
                        Paragraph::new().align(AlignmentType::Center).add_run(
                            Run::new()
                                .add_text(format!("（{}：见 planledger chart {}）", k.caption(), k.as_str()))
                                .fonts(body())
                                .size(SIZE_TABLE),
                        ),
                    );
                }
            }
        }
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    d.build().pack(&mut buf).map_err(|e| RenderError::Docx(e.to_string()))?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use planledger_core::execution::{ChartKind, Section, Span};

    #[test]
    fn a_chart_is_svg_with_its_chinese_labels() {
        let data = ChartData::Bars {
            title: "分级别重点项目投资完成率".into(),
            y_label: "完成率（%）".into(),
            series: vec!["完成率".into()],
            bars: vec![("省级".into(), vec![Decimal::new(1124, 1)]), ("区级".into(), vec![Decimal::new(1093, 1)])],
            reference: Some(("时间进度".into(), Decimal::from(100))),
        };
        let svg = chart_svg(&data).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("分级别重点项目投资完成率") && svg.contains("省级"), "{svg}");
        assert!(svg.contains("112.4") && svg.contains("时间进度 100%"), "{svg}");
    }

    #[test]
    fn the_docx_is_a_zip_with_the_text_and_the_fonts() {
        let doc = Doc {
            title: "某区2024年计划执行情况".into(),
            subtitle: "（截至2024年9月30日）".into(),
            sections: vec![Section {
                heading: "一、重点项目建设情况".into(),
                blocks: vec![
                    Block::Para(vec![Span { text: "推进重点项目建设".into(), bold: true }]),
                    Block::Table { header: vec!["类别".into()], rows: vec![vec!["省级".into()]] },
                    Block::Chart(ChartKind::Levels),
                ],
            }],
        };
        let bytes = docx_bytes(&doc).unwrap();
        assert!(bytes.starts_with(b"PK"));
    }
}
#[cfg(test)]
mod dump {
    #[test]
    #[ignore]
    fn dump() {
        use planledger_core::execution::ChartData;
        use rust_decimal::Decimal;
        let data = ChartData::Bars {
            title: "分级别重点项目投资完成率".into(),
            y_label: "完成率（%）".into(),
            series: vec!["完成率".into()],
            bars: vec![("省级".into(), vec![Decimal::new(1124, 1)]), ("区级".into(), vec![Decimal::new(1093, 1)])],
            reference: Some(("时间进度".into(), Decimal::from(100))),
        };
        std::fs::write("/tmp/bars.svg", super::chart_svg(&data).unwrap()).unwrap();
    }
}
