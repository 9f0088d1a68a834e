//! `planledger demo`: the Guancheng example (docs/examples/guancheng), embedded in the binary,
//! loaded into a fresh store through the same paths as the CLI, then printed.

use std::io::Write;
use std::path::Path;

use planledger::clock::V7Ids;
use planledger::decide::{Command, Submission};
use planledger::error::{Error, Result};
use planledger::input;
use planledger::ledger::Ledger;
use planledger::report;
use planledger::{msg, Lang, Msg};

pub const PLAN_2021: &str = include_str!("../docs/examples/guancheng/plan-2021.toml");
pub const EVENTS_2021: &str = include_str!("../docs/examples/guancheng/events-2021.jsonl");
pub const PLAN_2022: &str = include_str!("../docs/examples/guancheng/plan-2022.toml");
/// The coordinator that imports the plans and submits the example's reports.
pub const COORDINATOR: &str = "drc";

/// Loads the example into `dir`, which must not hold a store yet.
pub fn load(ledger: &mut Ledger) -> Result<()> {
    import(ledger, "plan-2021.toml", PLAN_2021)?;
    let subs = input::parse_jsonl(EVENTS_2021).map_err(|e| crate::cli::in_file(e, "events-2021.jsonl"))?;
    let (lines, subs): (Vec<usize>, Vec<Submission>) = subs.into_iter().unzip();
    ledger.submit(COORDINATOR, &subs, &|i| Some(msg!("at.file_line", file = "events-2021.jsonl", line = lines[i])))?;
    import(ledger, "plan-2022.toml", PLAN_2022)
}

fn import(ledger: &mut Ledger, name: &str, text: &str) -> Result<()> {
    let plan = input::parse_plan(text).map_err(|e| crate::cli::in_file(e, name))?;
    let sub = Submission { signature: None, id: None, note: None, command: Command::ImportPlan(Box::new(plan)) };
    ledger.submit(COORDINATOR, &[sub], &|_| Some(Msg::text(name)))?;
    Ok(())
}

/// Builds the example in `dir` and prints it; what it says besides the tables is in `lang`.
pub fn run(dir: &Path, as_json: bool, lang: Lang, out: &mut dyn Write) -> Result<()> {
    if dir.join("db").exists() {
        return Err(Error::invalid(msg!("demo.store_exists", dir = dir.display())));
    }
    let mut ledger = Ledger::open(dir, Box::new(planledger::clock::SystemClock), Box::new(V7Ids))?;
    load(&mut ledger)?;
    let state = ledger.state();
    let w =
        |out: &mut dyn Write, s: &str| out.write_all(s.as_bytes()).map_err(|e| Error::io(msg!("io.writing_stdout"), e));
    if as_json {
        let doc = report::state_json(state, None, None);
        w(out, &serde_json::to_string(&doc).unwrap_or_default())?;
        w(out, "\n")?;
    } else {
        let zone = planledger::zone::load(dir)?;
        let all = report::ProjectFilter::default();
        w(out, &report::state_text_of(state, None, None, &all, lang, zone))?;
        // The year's report as the plan office would paste it (计划执行情况).
        let end = planledger::model::Month { year: 2021, month: 12 }.last_day();
        let summary = planledger::summary::summarize(state, 2021, planledger::summary::On::new(2021, None, end), &[]);
        w(out, "\n")?;
        w(out, &summary.prose(planledger::summary::Lang::Zh, false))?;
        let head = ledger.store().head();
        let hint = msg!(
            "demo.store_hint",
            dir = dir.display(),
            events = head.events(),
            head = &planledger::codec::hex(&head.last_hash)[..16]
        );
        w(out, &format!("\n{}\n", hint.render(lang)))?;
    }
    Ok(())
}
