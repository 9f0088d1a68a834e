//! The event catalogue: the envelope every event carries and the payloads it may hold.
//!
//! Events are immutable facts. Payload variants are only ever appended to this enum (the codec
//! stores the variant index), and a changed shape means a new `SCHEMA_VERSION`. Payloads carry
//! what `projection::apply` needs to fold them without reading other events: a correction
//! names the subject it corrects and the value it replaces, so every event explains itself.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Events one atomic batch may hold: bounds what one commit stages and writes.
pub const BATCH_EVENTS_MAX: usize = 100_000;
/// Largest encoded event: the store's decoder refuses more (bounding allocation when bytes
/// are damaged), so the ledger refuses to stage an event that would encode larger.
pub const EVENT_BYTES_MAX: u64 = 64 * 1024;

use crate::model::{
    Basis, Comparison, Construction, Date, Level, Measure, Milestone, Month, Nature, Period, Role, Timestamp,
};

/// Version of the payload shapes in this file, stored in every envelope.
pub const SCHEMA_VERSION: u16 = 1;

/// An id or name that is nearly always short (a plan, project, indicator, department): kept
/// inline up to 24 bytes, so decoding one allocates nothing (`String` would, for every id of
/// every event a replay decodes). Encoded exactly as a `String`.
pub type Id = compact_str::CompactString;

/// A committed event: envelope and payload. `seq` is the global position, gap-free from 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub id: Uuid,
    /// Position of this event in its stream (its entity), gap-free from 1.
    pub stream_version: u64,
    /// Assigned by the ledger when committed; never decreases along the log.
    pub recorded_at: Timestamp,
    /// The department that submitted the event.
    pub actor: Id,
    pub schema: u16,
    pub note: Option<String>,
    /// Reserved for signed submissions (the server issue); `None` when submitted unsigned.
    pub signature: Option<Box<Signature>>,
    pub payload: Payload,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signer's ed25519 public key (32 bytes).
    pub key: Vec<u8>,
    /// The ed25519 signature (64 bytes) over `signed`.
    pub bytes: Vec<u8>,
    /// What was signed: the submission's canonical text (`keys::canonical_text`), kept so
    /// anyone can check the signature and that it says what the event records.
    pub signed: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    PlanDeclared(PlanDeclared),
    DepartmentRegistered(DepartmentRegistered),
    // The large variants are boxed so every event is small to move; bincode encodes a box as
    // its content, so this changes nothing in the stored bytes.
    IndicatorDefined(Box<IndicatorDefined>),
    // Shared, not boxed: the state's listing keeps this very definition (`Listing::def`),
    // so folding a listing copies a pointer instead of its strings and maps (serde's `rc`:
    // the same bytes as the box).
    ProjectListed(std::sync::Arc<ProjectListed>),
    InvestmentReported(InvestmentReported),
    MilestoneReached(MilestoneReached),
    ActualReported(ActualReported),
    TargetRevised(TargetRevised),
    Corrected(Box<Corrected>),
    Retracted(Box<Retracted>),
    KeyRegistered(Box<KeyRegistered>),
    KeyRevoked(Box<KeyRevoked>),
    ProjectScheduled(Box<ProjectScheduled>),
    ProjectWithdrawn(Box<ProjectWithdrawn>),
    IndicatorTracked(Box<IndicatorTracked>),
}

/// An indicator a plan reports without a target: a level such as GDP 806 亿元 printed beside
/// its growth rate. Its actuals are recorded and shown; it is never judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorTracked {
    pub plan: String,
    pub indicator: String,
    pub name: String,
    pub unit: String,
    pub measure: Measure,
    pub department: String,
}

/// What a plan's project table says of a listed project beyond its investment: whether it
/// is new or under way (建设性质), its planned months, what it completed before the plan year.
/// Recorded right after the listing, in the same import (the listing's shape is fixed by
/// the logs already written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectScheduled {
    pub plan: String,
    pub project: String,
    pub construction: Option<Construction>,
    /// Planned months of start, completion and operation (计划开工/竣工/投产时间), in the
    /// order of `Milestone`.
    pub planned: [Option<Month>; 3],
    /// Investment completed before the plan year (至上年底累计完成投资), 亿元.
    #[serde(with = "crate::serde_decimal::opt_decimal")]
    pub prior_investment: Option<Decimal>,
}

impl ProjectScheduled {
    pub fn planned_month(&self, m: Milestone) -> Option<Month> {
        self.planned[m as usize]
    }
}

/// A project taken off a plan's list (调出) from `date` (valid time): summaries of that plan
/// count it out from that date on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectWithdrawn {
    pub plan: String,
    pub project: String,
    pub date: Date,
    pub reason: String,
}

/// A principal's signing key, registered by a coordinator. A principal is a department of
/// the plans (role department or coordinator) or an auditor (read-only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRegistered {
    pub principal: String,
    pub role: Role,
    /// ed25519 public key, 32 bytes.
    pub key: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRevoked {
    pub principal: String,
    pub key: Vec<u8>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDeclared {
    pub plan: String,
    pub year: i32,
    pub title: String,
    pub jurisdiction: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentRegistered {
    pub dept: String,
    pub name: String,
    pub coordinator: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorDefined {
    pub plan: String,
    pub indicator: String,
    pub name: String,
    pub unit: String,
    pub measure: Measure,
    pub comparison: Comparison,
    pub approximate: bool,
    pub nature: Nature,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub target: Decimal,
    pub department: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectListed {
    pub plan: String,
    pub project: String,
    pub name: String,
    pub level: Level,
    pub department: String,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub planned_investment: Decimal,
    #[serde(with = "crate::serde_decimal::opt_decimal")]
    pub total_investment: Option<Decimal>,
    pub planned_milestones: Vec<Milestone>,
    /// Opening state of a project already under way when listed (续建).
    pub started: Option<Date>,
    pub dimensions: BTreeMap<String, String>,
    /// Milestones the project had reached in earlier plans when this plan listed it, filled
    /// in by the ledger (not the plan file) so each plan's state folds from its own events.
    pub carried: Vec<CarriedMilestone>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedMilestone {
    pub milestone: Milestone,
    /// The event that recorded it (0 for an opening `started` of an earlier listing).
    pub seq: u64,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestmentReported {
    /// The plan whose year holds the period (filled in by the ledger).
    pub plan: Id,
    pub project: Id,
    pub period: Month,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneReached {
    /// The plan whose year holds the date (filled in by the ledger).
    pub plan: Id,
    pub project: Id,
    pub milestone: Milestone,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualReported {
    pub plan: Id,
    pub indicator: Id,
    pub period: Period,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub value: Decimal,
    pub basis: Basis,
}

/// What a revised target applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetRef {
    /// An indicator's target in one plan.
    Indicator { plan: String, indicator: String },
    /// A project's planned investment in one plan.
    Project { plan: String, project: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRevised {
    pub target: TargetRef,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub previous: Decimal,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub value: Decimal,
    pub reason: String,
}

/// The live fact a correction or retraction amends, as it stood when amended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    Investment { plan: String, project: String, period: Month },
    Milestone { plan: String, project: String, milestone: Milestone },
    Actual { plan: String, indicator: String, period: Period, basis: Basis },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corrected {
    pub target_seq: u64,
    pub target_id: Uuid,
    pub subject: Subject,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub previous: Decimal,
    #[serde(with = "crate::serde_decimal::decimal")]
    pub value: Decimal,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retracted {
    pub target_seq: u64,
    pub target_id: Uuid,
    pub subject: Subject,
    pub reason: String,
}

/// Every event type name, as `Payload::kind` gives them.
pub const KINDS: &[&str] = &[
    "plan-declared",
    "department-registered",
    "indicator-defined",
    "project-listed",
    "investment",
    "milestone",
    "actual",
    "revise-target",
    "correct",
    "retract",
    "key-registered",
    "key-revoked",
    "project-scheduled",
    "withdraw",
    "indicator-tracked",
];

impl Payload {
    /// The figures this payload carries, named as its fields are.
    pub fn figures(&self) -> [Option<(&'static str, rust_decimal::Decimal)>; 2] {
        match self {
            Payload::IndicatorDefined(i) => [Some(("target", i.target)), None],
            Payload::ProjectListed(p) => [
                Some(("planned_investment", p.planned_investment)),
                p.total_investment.map(|t| ("total_investment", t)),
            ],
            Payload::InvestmentReported(i) => [Some(("amount", i.amount)), None],
            Payload::ActualReported(a) => [Some(("value", a.value)), None],
            Payload::TargetRevised(t) => [Some(("previous", t.previous)), Some(("value", t.value))],
            Payload::ProjectScheduled(p) => [p.prior_investment.map(|d| ("prior_investment", d)), None],
            Payload::Corrected(c) => [Some(("previous", c.previous)), Some(("value", c.value))],
            _ => [None, None],
        }
    }

    /// The first figure outside the bounds every figure entering the ledger is held to
    /// (`model::check_magnitude`), if any: a log written before the bounds may hold one,
    /// and folding it could overflow a sum. Runs on every event folded: it allocates only
    /// for the message of a figure out of bounds.
    pub fn out_of_bounds(&self) -> Option<crate::msg::Msg> {
        self.figures().into_iter().flatten().find(|(_, d)| !crate::model::within_bounds(*d)).map(|(field, d)| {
            crate::model::check_magnitude(field, &crate::model::fmt_decimal(d), d)
                .err()
                .map_or_else(|| msg!("event.figure_out_of_bounds", field = field), |e| e.to_msg())
        })
    }

    /// The name of the event type, as printed in `log` and accepted by `audit --type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::PlanDeclared(_) => "plan-declared",
            Payload::DepartmentRegistered(_) => "department-registered",
            Payload::IndicatorDefined(_) => "indicator-defined",
            Payload::ProjectListed(_) => "project-listed",
            Payload::InvestmentReported(_) => "investment",
            Payload::MilestoneReached(_) => "milestone",
            Payload::ActualReported(_) => "actual",
            Payload::TargetRevised(_) => "revise-target",
            Payload::Corrected(_) => "correct",
            Payload::Retracted(_) => "retract",
            Payload::KeyRegistered(_) => "key-registered",
            Payload::KeyRevoked(_) => "key-revoked",
            Payload::ProjectScheduled(_) => "project-scheduled",
            Payload::ProjectWithdrawn(_) => "withdraw",
            Payload::IndicatorTracked(_) => "indicator-tracked",
        }
    }

    /// The stream (entity) this event belongs to; stream versions count events per stream.
    /// Projects and indicators are streams within their plan, so a plan's events form a
    /// closed set that folds into that plan's state on its own (see docs/design.md).
    pub fn stream(&self) -> String {
        match self {
            Payload::PlanDeclared(p) => plan_stream(&p.plan),
            Payload::DepartmentRegistered(d) => dept_stream(&d.dept),
            Payload::IndicatorDefined(i) => indicator_stream(&i.plan, &i.indicator),
            Payload::ProjectListed(p) => project_stream(&p.plan, &p.project),
            Payload::InvestmentReported(i) => project_stream(&i.plan, &i.project),
            Payload::MilestoneReached(m) => project_stream(&m.plan, &m.project),
            Payload::ActualReported(a) => indicator_stream(&a.plan, &a.indicator),
            Payload::TargetRevised(t) => match &t.target {
                TargetRef::Indicator { plan, indicator } => indicator_stream(plan, indicator),
                TargetRef::Project { plan, project } => project_stream(plan, project),
            },
            Payload::Corrected(c) => c.subject.stream(),
            Payload::Retracted(r) => r.subject.stream(),
            Payload::KeyRegistered(k) => key_stream(&k.principal),
            Payload::KeyRevoked(k) => key_stream(&k.principal),
            Payload::ProjectScheduled(p) => project_stream(&p.plan, &p.project),
            Payload::ProjectWithdrawn(p) => project_stream(&p.plan, &p.project),
            Payload::IndicatorTracked(i) => indicator_stream(&i.plan, &i.indicator),
        }
    }

    /// The plan this event belongs to; `None` for department events, which every plan shares.
    pub fn plan(&self) -> Option<&str> {
        Some(match self {
            Payload::PlanDeclared(p) => &p.plan,
            Payload::DepartmentRegistered(_) | Payload::KeyRegistered(_) | Payload::KeyRevoked(_) => return None,
            Payload::IndicatorDefined(i) => &i.plan,
            Payload::ProjectListed(p) => &p.plan,
            Payload::InvestmentReported(i) => &i.plan,
            Payload::MilestoneReached(m) => &m.plan,
            Payload::ActualReported(a) => &a.plan,
            Payload::TargetRevised(t) => match &t.target {
                TargetRef::Indicator { plan, .. } | TargetRef::Project { plan, .. } => plan,
            },
            Payload::Corrected(c) => c.subject.plan(),
            Payload::Retracted(r) => r.subject.plan(),
            Payload::ProjectScheduled(p) => &p.plan,
            Payload::ProjectWithdrawn(p) => &p.plan,
            Payload::IndicatorTracked(i) => &i.plan,
        })
    }

    /// The entity id a person would search for (`audit --entity`): project, indicator,
    /// department or plan id.
    pub fn entity(&self) -> &str {
        match self {
            Payload::PlanDeclared(p) => &p.plan,
            Payload::DepartmentRegistered(d) => &d.dept,
            Payload::IndicatorDefined(i) => &i.indicator,
            Payload::ProjectListed(p) => &p.project,
            Payload::InvestmentReported(i) => &i.project,
            Payload::MilestoneReached(m) => &m.project,
            Payload::ActualReported(a) => &a.indicator,
            Payload::TargetRevised(t) => match &t.target {
                TargetRef::Indicator { indicator, .. } => indicator,
                TargetRef::Project { project, .. } => project,
            },
            Payload::Corrected(c) => c.subject.entity(),
            Payload::Retracted(r) => r.subject.entity(),
            Payload::KeyRegistered(k) => &k.principal,
            Payload::KeyRevoked(k) => &k.principal,
            Payload::ProjectScheduled(p) => &p.project,
            Payload::ProjectWithdrawn(p) => &p.project,
            Payload::IndicatorTracked(i) => &i.indicator,
        }
    }
}

impl Subject {
    pub fn stream(&self) -> String {
        match self {
            Subject::Investment { plan, project, .. } | Subject::Milestone { plan, project, .. } => {
                project_stream(plan, project)
            }
            Subject::Actual { plan, indicator, .. } => indicator_stream(plan, indicator),
        }
    }

    pub fn plan(&self) -> &str {
        match self {
            Subject::Investment { plan, .. } | Subject::Milestone { plan, .. } | Subject::Actual { plan, .. } => plan,
        }
    }

    pub fn entity(&self) -> &str {
        match self {
            Subject::Investment { project, .. } | Subject::Milestone { project, .. } => project,
            Subject::Actual { indicator, .. } => indicator,
        }
    }
}

pub fn plan_stream(plan: &str) -> String {
    format!("plan/{plan}")
}
pub fn key_stream(principal: &str) -> String {
    format!("key/{principal}")
}
pub fn dept_stream(dept: &str) -> String {
    format!("dept/{dept}")
}
pub fn project_stream(plan: &str, project: &str) -> String {
    format!("plan/{plan}/project/{project}")
}
pub fn indicator_stream(plan: &str, indicator: &str) -> String {
    format!("plan/{plan}/indicator/{indicator}")
}
