//! The plan office's spreadsheets through the real binary: plans imported from .xlsx and
//! GB18030 .csv as real tables are laid out, every bad row reported in one run, monthly
//! reports reconciled (cumulative figures, re-sent sheets, corrections), exports read back
//! and compared with `state --json`, and an export imported again as the same listings.

mod common;

use common::Env;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;

/// One project row: 编号, 名称, 建设性质, 级别, 牵头单位, 总投资, 本年计划投资 (万元),
/// 计划开工, 计划竣工, 片区.
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, f64, f64, &'a str, &'a str, &'a str);

/// A 项目 sheet as a county's 发改委 keeps it: a title row, a unit line (万元), a two-row
/// header with a merged group "投资情况", a section row giving the level, a 合计 row, a
/// column the template does not know (片区), Chinese ids, and the 建设性质 of each project.
fn plan_workbook(path: &std::path::Path) {
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("项目").unwrap();
    let bold = Format::new().set_bold();
    s.merge_range(0, 0, 0, 10, "管城区2021年重点项目计划表", &bold).unwrap();
    s.write_string(1, 0, "单位：万元").unwrap();
    let top = ["序号", "项目编号", "项目名称", "建设性质", "级别", "责任单位"];
    for (c, h) in top.iter().enumerate() {
        s.merge_range(2, c as u16, 3, c as u16, h, &bold).unwrap();
    }
    s.merge_range(2, 6, 2, 7, "投资情况", &bold).unwrap();
    s.write_string(3, 6, "总投资").unwrap();
    s.write_string(3, 7, "本年计划投资").unwrap();
    s.merge_range(2, 8, 3, 8, "计划开工\n时间", &bold).unwrap();
    s.merge_range(2, 9, 3, 9, "计划竣工时间", &bold).unwrap();
    s.merge_range(2, 10, 3, 10, "片区", &bold).unwrap();
    s.write_string(4, 0, "一、县级重点项目").unwrap();
    let rows: [Row; 3] = [
        (
            "GC-001",
            "金岱智慧产业园",
            "新建",
            "",
            "区发展和改革委员会",
            125000.0,
            32000.5,
            "2021年3月",
            "2021-11",
            "东片区",
        ),
        ("", "航海路综合改造", "续建", "区", "区住房和城乡建设局", 48000.0, 8000.0, "", "2021.12", "西片区"),
        ("GC-003", "南曹乡污水处理厂", "新建", "", "区住房和城乡建设局", 9000.25, 0.0, "2021-06", "", "南片区"),
    ];
    for (i, r) in rows.iter().enumerate() {
        let row = 5 + i as u32;
        s.write_number(row, 0, (i + 1) as f64).unwrap();
        s.write_string(row, 1, r.0).unwrap();
        s.write_string(row, 2, r.1).unwrap();
        s.write_string(row, 3, r.2).unwrap();
        s.write_string(row, 4, r.3).unwrap();
        s.write_string(row, 5, r.4).unwrap();
        s.write_number(row, 6, r.5).unwrap();
        s.write_number(row, 7, r.6).unwrap();
        s.write_string(row, 8, r.7).unwrap();
        s.write_string(row, 9, r.8).unwrap();
        s.write_string(row, 10, r.9).unwrap();
    }
    s.write_string(8, 2, "合计").unwrap();
    s.write_number(8, 6, 182000.25).unwrap();
    s.write_number(8, 7, 40000.5).unwrap();
    let ind = book.add_worksheet();
    ind.set_name("指标").unwrap();
    for (c, h) in ["指标名称", "单位", "类型", "目标值", "属性", "牵头单位"].iter().enumerate() {
        ind.write_string(0, c as u16, *h).unwrap();
    }
    let inds = [
        ["地区生产总值增速", "%", "增速", "7.5左右", "预期性", "区发展和改革委员会"],
        ["城镇调查失业率", "%", "增速", "5.5以内", "预期性", "区人力资源和社会保障局"],
        ["地区生产总值", "亿元", "总量", "", "预期性", "区统计局"],
    ];
    for (r, row) in inds.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ind.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    book.save(path).unwrap();
}

fn project<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["plans"][0]["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no project {id} in {state}"))
}

fn env_with_plan() -> Env {
    let env = Env::new();
    let plan = env.tmp.path().join("重点项目计划表.xlsx");
    plan_workbook(&plan);
    let out = env.run(&["plan", "import", plan.to_str().unwrap(), "--as", "区发展和改革委员会"]).ok();
    assert!(out.stdout.contains("imported plan 管城区-2021"), "{}", out.stdout);
    env
}

#[test]
fn a_real_plan_table_imports_figure_by_figure() {
    let env = env_with_plan();
    let state = env.run(&["state", "--json"]).ok().json();
    let plan = &state["plans"][0];
    assert_eq!(plan["id"], "管城区-2021");
    assert_eq!(plan["year"], 2021);
    assert_eq!(plan["title"], "管城区2021年重点项目计划表");
    let a = project(&state, "GC-001");
    assert_eq!(a["name"], "金岱智慧产业园");
    assert_eq!(a["level"], "county", "from the section row 一、县级重点项目");
    assert_eq!(a["department"], "区发展和改革委员会");
    assert_eq!(a["planned_investment"], "3.20005", "32000.5 万元");
    assert_eq!(a["total_investment"], "12.5");
    assert_eq!(a["construction"], "new");
    assert_eq!(a["planned_months"]["start"], "2021-03");
    assert_eq!(a["planned_months"]["complete"], "2021-11");
    assert_eq!(a["dimensions"]["片区"], "东片区");
    assert_eq!(a["status"], "planned");
    // No 项目编号: the name is the id. 续建 without a date: started, no date invented.
    let b = project(&state, "航海路综合改造");
    assert_eq!((b["level"].as_str(), b["construction"].as_str()), (Some("district"), Some("continuing")));
    assert_eq!(b["status"], "started");
    assert!(b["milestones"].as_object().unwrap().is_empty(), "{b}");
    assert_eq!(b["department"], "区住房和城乡建设局", "a new department, named as the sheet names it");
    assert_eq!(project(&state, "GC-003")["total_investment"], "0.900025");
    assert_eq!(plan["projects"].as_array().unwrap().len(), 3, "the 合计 row is not a project");
    let inds = plan["indicators"].as_array().unwrap();
    let gdp = inds.iter().find(|i| i["id"] == "地区生产总值增速").unwrap();
    assert_eq!((gdp["target"].as_str(), gdp["approximate"].as_bool()), (Some("7.5"), Some(true)));
    let jobs = inds.iter().find(|i| i["id"] == "城镇调查失业率").unwrap();
    assert_eq!(jobs["comparison"], "at-most");
    // An indicator without a target (a level beside its growth rate): reported, never judged.
    let level = inds.iter().find(|i| i["id"] == "地区生产总值").unwrap();
    assert!(level["target"].is_null(), "{level}");
    env.run(&[
        "submit",
        "--as",
        "区统计局",
        "actual",
        "--indicator",
        "地区生产总值",
        "--period",
        "2021-H1",
        "--value",
        "403.5",
    ])
    .ok();
    let zh = env.run(&["summary", "--year", "2021", "--lang", "zh", "--format", "md"]).ok().stdout;
    assert!(zh.contains("| 地区生产总值 | 不设目标 | 403.5亿元（2021年上半年，正式） | - |"), "{zh}");
    let j = env.run(&["summary", "--year", "2021", "--json"]).ok().json();
    let level = j["indicators"].as_array().unwrap().iter().find(|i| i["id"] == "地区生产总值").unwrap().clone();
    assert_eq!((level["actual_period"].as_str(), level["met"].as_bool()), (Some("2021-H1"), None));
    env.run(&[
        "submit",
        "--as",
        "区统计局",
        "revise-target",
        "--indicator",
        "地区生产总值",
        "--value",
        "800",
        "--reason",
        "x",
    ])
    .fails(3, "is reported without a target; there is none to revise");
    // The summary counts planned starts from the planned months.
    let sum = env.run(&["summary", "--year", "2021", "--json"]).ok().json();
    assert_eq!(sum["projects"]["planned_start"], 2);
    assert_eq!(sum["projects"]["by_level"]["county"]["count"], 2);
    assert_eq!(sum["projects"]["started"], 0);
    // Importing the same workbook again writes nothing.
    let before = env.log();
    let plan = env.tmp.path().join("重点项目计划表.xlsx");
    env.run(&["plan", "import", plan.to_str().unwrap(), "--as", "区发展和改革委员会"]).ok();
    assert_eq!(env.log(), before);
}

#[test]
fn a_gb18030_csv_with_a_bom_less_header_imports() {
    let env = Env::new();
    let text = "项目名称,级别,牵头单位,本年计划投资（亿元）,计划开工时间\n\
                二七广场改造,市,市住房和城乡建设局,2.35,2022-04\n\
                管城回族区档案馆,区,区档案馆,0.4,\n";
    let (bytes, _, bad) = encoding_rs::GB18030.encode(text);
    assert!(!bad);
    let path = env.tmp.path().join("plan.csv");
    std::fs::write(&path, &bytes).unwrap();
    let p = path.to_str().unwrap();
    env.run(&["plan", "import", p, "--as", "drc", "--year", "2022", "--jurisdiction", "管城区"]).ok();
    let state = env.run(&["state", "--json"]).ok().json();
    let a = project(&state, "二七广场改造");
    assert_eq!((a["level"].as_str(), a["planned_investment"].as_str()), (Some("city"), Some("2.35")));
    assert_eq!(a["planned_milestones"][0], "start");
    // Without the year, the error says how to give it; nothing is written.
    let env2 = Env::new();
    let r = env2.run(&["plan", "import", p, "--as", "drc", "--jurisdiction", "管城区"]);
    r.fails(3, "the plan's year is not given: add --year 2021");
    assert!(!env2.store().exists(), "a refused import created the store");
}

#[test]
fn thirty_projects_with_five_bad_rows_report_all_five_and_write_nothing() {
    let env = env_with_plan();
    let before = env.log();
    let mut csv =
        String::from("管城区2022年重点项目计划表\n项目编号,项目名称,级别,责任单位,年度计划投资（万元）,计划开工时间\n");
    for i in 1..=30 {
        let (level, amount, month) = match i {
            4 => ("乡", "100", "2022-03"),
            9 => ("区", "一百", "2022-03"),
            15 => ("区", "-5", "2022-03"),
            22 => ("区", "100", "2022-13"),
            27 => ("区", "100.123", "2022-03"),
            _ => ("区", "100", "2022-03"),
        };
        csv.push_str(&format!("K-{i:03},项目{i},{level},区发展和改革委员会,{amount},{month}\n"));
    }
    let path = env.file("2022.csv", &csv);
    let r = env.run(&["plan", "import", path.to_str().unwrap(), "--as", "区发展和改革委员会"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].contains("5 problems in this workbook; nothing was written"), "{}", r.stderr);
    assert_eq!(lines.len(), 6, "{}", r.stderr);
    for (line, needle) in lines[1..].iter().zip([
        "row 6, column 级别 '乡'",
        "row 11, column 年度计划投资（万元） '一百'",
        "row 17, column 年度计划投资（万元） '-5'",
        "row 24, column 计划开工时间 '2022-13'",
        "row 29, column 年度计划投资（万元） '100.123'",
    ]) {
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
    assert_eq!(env.log(), before, "a refused workbook wrote something");
}

#[test]
fn look_alike_ids_are_refused_and_unknown_ids_suggested() {
    let env = env_with_plan();
    let path = env.file(
        "more.csv",
        "项目编号,项目名称,级别,责任单位,年度计划投资\nＧＣ－００１,重复项目,区,区发展和改革委员会,1\n",
    );
    env.run(&["plan", "amend", "--as", "区发展和改革委员会", "--plan", "管城区-2021", "--add", path.to_str().unwrap()])
        .fails(3, "differs from the existing 'GC-001' only in character width or spaces");
    env.run(&[
        "submit",
        "--as",
        "区发展和改革委员会",
        "investment",
        "--project",
        "GC-01",
        "--period",
        "2021-03",
        "--amount",
        "1",
    ])
    .fails(3, "unknown project 'GC-01'; did you mean 'GC-001'");
}

/// A department's monthly report with running totals (1—N月累计), in 万元.
fn report_csv(env: &Env, name: &str, march_total: &str) -> std::path::PathBuf {
    env.file(
        name,
        &format!(
            "管城区重点项目月报\n单位：万元\n项目编号,项目名称,月份,1—N月累计完成投资,开工时间,形象进度,存在问题\n\
             GC-001,金岱智慧产业园,2021-02,3000,2021-02-20,场地平整,\n\
             GC-001,金岱智慧产业园,2021-03,{march_total},,主体施工,钢材涨价\n\
             ,航海路综合改造,2021-03,1500,,管网铺设,\n\
             ,二、区级重点项目,,,,,\n"
        ),
    )
}

#[test]
fn a_monthly_report_with_running_totals_is_recorded_once_and_corrected_on_request() {
    let env = env_with_plan();
    let drc = "区发展和改革委员会";
    // 航海路综合改造 belongs to 区住房和城乡建设局: the coordinator may report for it.
    let sheet = report_csv(&env, "3月月报.csv", "5000");
    let out = env.run(&["submit", "--as", drc, "--file", sheet.to_str().unwrap()]).ok();
    assert!(out.stdout.contains("4 recorded, 0 rows already recorded"), "{}", out.stdout);
    let state = env.run(&["state", "--json"]).ok().json();
    let a = project(&state, "GC-001");
    assert_eq!(a["completed_investment"], "0.5", "1—3月累计 5000 万元");
    assert_eq!(a["milestones"]["start"], "2021-02-20");
    let march = env.run(&["log", "--json"]).ok().stdout;
    let march_event = march.lines().find(|l| l.contains("\"period\":\"2021-03\"") && l.contains("GC-001")).unwrap();
    assert!(march_event.contains("\"amount\":\"0.2\""), "5000 - 3000 万元: {march_event}");
    assert!(march_event.contains("形象进度：主体施工；存在问题：钢材涨价"), "{march_event}");
    // The same sheet again: nothing new.
    let before = env.log();
    let out = env.run(&["submit", "--as", drc, "--file", sheet.to_str().unwrap()]).ok();
    assert!(out.stdout.contains("0 recorded, 3 rows already recorded"), "{}", out.stdout);
    assert_eq!(env.log(), before);
    // A changed row: refused with the seq and the command to use; nothing written.
    let changed = report_csv(&env, "3月月报（修订）.csv", "5600");
    let r = env.run(&["submit", "--as", drc, "--file", changed.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let seq = march_event.split("\"seq\":").nth(1).unwrap().split(',').next().unwrap();
    assert!(
        r.stderr.contains(&format!("recorded as 0.2 亿元 (seq {seq}), this report says 0.26 亿元"))
            && r.stderr.contains(&format!("correct --event {seq} --value 0.26")),
        "{}",
        r.stderr
    );
    assert_eq!(env.log(), before);
    // With --corrections: recorded as a correction naming the sheet.
    env.run(&["submit", "--as", drc, "--file", changed.to_str().unwrap(), "--corrections"]).ok();
    let last = env.log().lines().last().unwrap().to_string();
    assert!(last.contains("\"type\":\"correct\"") && last.contains("3月月报（修订）.csv 更正"), "{last}");
    assert_eq!(project(&env.run(&["state", "--json"]).ok().json(), "GC-001")["completed_investment"], "0.56");
    // A running total below what is recorded: refused with the figures.
    let low = report_csv(&env, "low.csv", "2000");
    env.run(&["submit", "--as", drc, "--file", low.to_str().unwrap()]);
    let r = env.run(&["submit", "--as", drc, "--file", low.to_str().unwrap(), "--corrections"]);
    assert!(r.stderr.contains("1—3月累计 0.2 亿元 is less than the 0.3 亿元 already recorded"), "{}", r.stderr);
}

#[test]
fn implausible_figures_are_warned_and_refused_when_strict() {
    let env = env_with_plan();
    let sheet = env.file("big.csv", "项目编号,月份,本月完成投资（亿元）\nGC-003,2021-04,0.95\nGC-001,2021-04,-0\n");
    let drc = "区发展和改革委员会";
    let before = env.log();
    let r = env.run(&["submit", "--as", drc, "--file", sheet.to_str().unwrap(), "--strict"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("more than its total investment of 0.900025 亿元 (refused: --strict)"), "{}", r.stderr);
    assert!(r.stderr.contains("'-0' written; recorded as 0"), "{}", r.stderr);
    assert_eq!(env.log(), before);
    let r = env.run(&["--json", "submit", "--as", drc, "--file", sheet.to_str().unwrap()]).ok();
    assert!(r.stderr.contains("warning:") && r.stderr.contains("more than its total investment"), "{}", r.stderr);
    assert!(r.stdout.lines().any(|l| l.starts_with("{\"warning\":")), "{}", r.stdout);
}

#[test]
fn exports_read_back_equal_state_and_import_again_as_the_same_listings() {
    let env = env_with_plan();
    let drc = "区发展和改革委员会";
    let sheet = report_csv(&env, "m.csv", "5000");
    env.run(&["submit", "--as", drc, "--file", sheet.to_str().unwrap()]).ok();
    let state = env.run(&["state", "--json", "--at", "2021-12-31"]).ok().json();
    let xlsx = env.tmp.path().join("项目明细表.xlsx");
    env.run(&["export", "--year", "2021", "--what", "all", "--out", xlsx.to_str().unwrap(), "--lang", "zh"]).ok();
    let book = planledger_sheets::read_workbook(&xlsx).unwrap();
    let names: Vec<&str> = book.sheets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["项目明细表", "指标完成情况表", "汇总表", "月度完成投资表", "审计轨迹"]);
    let sheet = &book.sheets[0];
    let header: Vec<String> = sheet.rows[0].iter().map(|c| c.text()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name}: {header:?}"));
    for row in &sheet.rows[1..] {
        let id = row[col("项目编号")].text();
        let p = project(&state, &id);
        // Figures compare as exact decimals (a spreadsheet shows 0 as "0.0" by its format).
        let cell = |name: &str| row.get(col(name)).map(|c| c.text()).unwrap_or_default().parse::<Decimal>().ok();
        let json = |field: &str| p[field].as_str().map(|t| t.parse::<Decimal>().unwrap());
        assert_eq!(cell("年度计划投资（亿元）"), json("planned_investment"), "{id}");
        assert_eq!(cell("完成投资（亿元）"), json("completed_investment"), "{id}");
        assert_eq!(cell("完成率（%）"), json("completion_pct"), "{id}");
        assert_eq!(cell("总投资（亿元）"), json("total_investment"), "{id}");
    }
    let monthly = &book.sheets[3];
    assert_eq!(monthly.rows[0][5].text(), "3月");
    // CSV: a BOM so Excel reads UTF-8; English headers with --lang en.
    let csv = env.tmp.path().join("p.csv");
    env.run(&["export", "--year", "2021", "--out", csv.to_str().unwrap(), "--lang", "en"]).ok();
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFid,name,construction,level,department"), "{:?}", &bytes[..40]);
    // The exported project table imports into a fresh store as the same listings.
    let fresh = Env::new();
    fresh
        .run(&["plan", "import", xlsx.to_str().unwrap(), "--as", drc, "--year", "2021", "--jurisdiction", "管城区"])
        .ok();
    let again = fresh.run(&["state", "--json"]).ok().json();
    for p in state["plans"][0]["projects"].as_array().unwrap() {
        let q = project(&again, p["id"].as_str().unwrap());
        for field in ["name", "level", "department", "planned_investment", "total_investment", "construction"] {
            assert_eq!(p[field], q[field], "{field} of {}", p["id"]);
        }
        assert_eq!(p["planned_months"], q["planned_months"]);
        assert_eq!(p["planned_milestones"], q["planned_milestones"]);
        assert_eq!(p["dimensions"], q["dimensions"]);
    }
}

#[test]
fn a_withdrawn_project_counts_out_from_its_date() {
    let env = env_with_plan();
    let drc = "区发展和改革委员会";
    let seq_before = env.log().lines().count().to_string();
    env.run(&[
        "plan",
        "amend",
        "--as",
        drc,
        "--plan",
        "管城区-2021",
        "--withdraw",
        "GC-003",
        "--date",
        "2021-07-01",
        "--reason",
        "区政府常务会议决定调出",
    ])
    .ok();
    let count = |args: &[&str]| {
        let mut a = vec!["summary", "--year", "2021", "--json"];
        a.extend_from_slice(args);
        env.run(&a).ok().json()["projects"]["count"].as_u64().unwrap()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--at", "2021-06-30"]), 3, "still listed before the date");
    assert_eq!(count(&["--as-of", &seq_before]), 3, "as known before the amendment");
    env.run(&["submit", "--as", drc, "investment", "--project", "GC-003", "--period", "2021-08", "--amount", "0.1"])
        .fails(3, "was withdrawn from plan '管城区-2021' on 2021-07-01");
    env.run(&[
        "submit",
        "--as",
        drc,
        "milestone",
        "--project",
        "GC-003",
        "--milestone",
        "start",
        "--date",
        "2021-08-02",
    ])
    .fails(3, "2021-08-02 is after that");
    let audit = env.run(&["audit", "--entity", "GC-003", "--json"]).ok().stdout;
    assert!(audit.contains("区政府常务会议决定调出"), "{audit}");
}

#[test]
fn the_template_has_drop_down_lists() {
    let env = env_with_plan();
    let t = env.tmp.path().join("模板.xlsx");
    env.run(&["template", "--out", t.to_str().unwrap()]).ok();
    let book = planledger_sheets::read_workbook(&t).unwrap();
    let names: Vec<&str> = book.sheets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(&names[..3], ["计划", "项目", "指标"]);
    let file = std::fs::File::open(&t).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet2.xml").unwrap(), &mut xml).unwrap();
    assert!(xml.contains("\"新建,续建,前期\"") && xml.contains("\"省,市,县,区,省市\""), "{xml}");
    assert!(xml.contains("区住房和城乡建设局"), "departments of the store: {xml}");
}

#[test]
fn the_guancheng_plan_ships_as_a_spreadsheet_that_imports_as_the_toml_plan() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/guancheng");
    let toml = Env::new();
    toml.run(&["plan", "import", examples.join("plan-2021.toml").to_str().unwrap(), "--as", "drc"]).ok();
    let from_toml = toml.tmp.path().join("a.xlsx");
    toml.run(&["export", "--year", "2021", "--what", "plan", "--out", from_toml.to_str().unwrap()]).ok();
    let grid = |p: &std::path::Path| planledger_sheets::read_workbook(p).unwrap();
    // Compared row by row: a difference names its sheet and row, not two whole workbooks.
    let same = |a: &std::path::Path, b: &std::path::Path, why: &str| {
        let (a, b) = (grid(a), grid(b));
        assert_eq!(a.sheets.len(), b.sheets.len(), "{why}");
        for (x, y) in a.sheets.iter().zip(&b.sheets) {
            assert_eq!((&x.name, x.rows.len()), (&y.name, y.rows.len()), "{why}");
            for (i, (r, s)) in x.rows.iter().zip(&y.rows).enumerate() {
                assert_eq!(r, s, "{why}: sheet {} row {}", x.name, i + 1);
            }
        }
    };
    let shipped = examples.join("plan-2021.xlsx");
    same(&shipped, &from_toml, "docs/examples/guancheng/plan-2021.xlsx is stale: export it again");
    let sheet = Env::new();
    sheet
        .run(&[
            "plan",
            "import",
            shipped.to_str().unwrap(),
            "--as",
            "区发展和改革委员会",
            "--plan",
            "guancheng-2021",
            "--year",
            "2021",
            "--title",
            "管城回族区2021年国民经济和社会发展计划",
            "--jurisdiction",
            "郑州市管城回族区",
        ])
        .ok();
    let again = sheet.tmp.path().join("b.xlsx");
    sheet.run(&["export", "--year", "2021", "--what", "plan", "--out", again.to_str().unwrap()]).ok();
    same(&again, &shipped, "the imported spreadsheet exports as the same plan");
    let summary = |env: &Env| env.run(&["summary", "--year", "2021", "--json"]).ok().json();
    let (a, b) = (summary(&toml), summary(&sheet));
    assert_eq!(a["projects"], b["projects"], "same counts, amounts, milestones and statuses");
    assert_eq!(a["projects"]["count"], 246);
}

#[test]
fn the_documented_samples_import_and_report() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/sheets");
    let mut env = Env::new();
    env.now = Some("2024-04-10T09:00:00+08:00".into());
    let drc = "区发展和改革委员会";
    env.run(&["plan", "import", samples.join("重点项目计划表.xlsx").to_str().unwrap(), "--as", drc]).ok();
    let report = samples.join("3月月报.csv");
    let out = env.run(&["submit", "--as", drc, "--file", report.to_str().unwrap(), "--period", "2024-03"]).ok();
    assert!(out.stdout.contains("4 recorded, 0 rows already recorded"), "{}", out.stdout);
    let sum = env.run(&["summary", "--year", "2024", "--at", "2024-03-31", "--json"]).ok().json();
    let p = &sum["projects"];
    assert_eq!((p["count"].as_u64(), p["completed_investment"].as_str()), (Some(5), Some("1.55")));
    assert_eq!(
        (p["planned_start"].as_u64(), p["started"].as_u64(), p["start_due"].as_u64()),
        (Some(3), Some(1), Some(1))
    );
    assert_eq!(p["by_level"]["province_city"]["count"], 2);
    let state = env.run(&["state", "--json"]).ok().json();
    let hospital = project(&state, "第三人民医院门诊楼");
    assert_eq!((hospital["status"].as_str(), hospital["construction"].as_str()), (Some("started"), Some("continuing")));
}

#[test]
fn state_lists_a_department_a_level_or_the_lagging_and_summary_groups_by_them() {
    let env = env_with_plan();
    let sheet = report_csv(&env, "m.csv", "5000");
    env.run(&["submit", "--as", "区发展和改革委员会", "--file", sheet.to_str().unwrap()]).ok();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["state", "--json"];
        a.extend_from_slice(args);
        let s = env.run(&a).ok().json();
        s["plans"][0]["projects"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&["--dept", "区住房和城乡建设局"]), ["GC-003", "航海路综合改造"]);
    assert_eq!(ids(&["--level", "县"]), ["GC-001", "GC-003"]);
    assert_eq!(ids(&["--project", "GC-001"]), ["GC-001"]);
    // On 2021-03-31 a quarter of the year is gone: GC-001 has 0.5 of 3.20005 亿元 (15.6 %), the
    // road 0.15 of 0.8 (18.75 %), both behind; GC-003 plans nothing this year.
    assert_eq!(ids(&["--lagging", "--at", "2021-03-31"]), ["GC-001", "航海路综合改造"]);
    let text = env.run(&["state", "--dept", "区住房和城乡建设局"]).ok().stdout;
    assert!(text.contains("航海路综合改造") && !text.contains("金岱智慧产业园"), "{text}");
    env.run(&["state", "--project", "GC-01"]).fails(3, "unknown project 'GC-01'; did you mean 'GC-001'");
    env.run(&["state", "--dept", "住建局"]).fails(3, "unknown department '住建局'");
    env.run(&["state", "--level", "乡"]).fails(3, "--level '乡' is not a level");
    let groups = |by: &str| {
        let s = env.run(&["summary", "--year", "2021", "--json", "--by", by]).ok().json();
        s["projects"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["value"].as_str().unwrap().to_string(), g["count"].as_u64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(groups("level"), [("county".to_string(), 2), ("district".to_string(), 1)]);
    assert_eq!(groups("责任单位"), [("区住房和城乡建设局".to_string(), 2), ("区发展和改革委员会".to_string(), 1)]);
    assert_eq!(groups("construction"), [("continuing".to_string(), 1), ("new".to_string(), 2)]);
    assert_eq!(groups("片区").len(), 3);
    env.run(&["summary", "--year", "2021", "--by", "nope"])
        .fails(3, "--by 'nope' is not a grouping of the 2021 plans; use level, department, construction, status, or a dimension: 片区");
}
