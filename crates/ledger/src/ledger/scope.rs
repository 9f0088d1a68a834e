//! A ledger that holds only the plans its submissions need: a department clerk's one
//! `submit` on a ledger of thousands of plans folds those plans (their checkpoint partitions
//! and the log since), the departments and keys, and asks the store's id index and
//! catalogue for the rest, instead of folding every plan and reading every id.
//!
//! What a submission needs comes from the store's catalogue (which plans list a project,
//! which define an indicator) and, for a correction or retraction, from the event it names.
//! Whenever the answer could differ from a whole ledger's, the ledger widens to the whole
//! state first, so every decision and every message is the one a whole ledger gives:
//! - a submission the scope does not cover, or one it cannot tell (a plan import, a store
//!   without a catalogue), opens whole from the start;
//! - a refusal is decided again on the whole state (messages name near misses among all
//!   plans), and a checkpoint, which records every plan, is taken from the whole state.

use std::collections::BTreeSet;
use std::path::Path;

use super::Ledger;
use crate::checkpoint;
use crate::clock::{Clock, IdSource};
use crate::decide::{Command, EventRef, Submission, TargetSpec};
use crate::error::Result;
use crate::event::{Payload, Subject};
use crate::projection::{self, State};
use crate::store::Store;
use crate::store::StoreAt;

/// The plans a ledger's state holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Whole,
    Plans(Vec<String>),
}

/// Most submissions a ledger opened for a request looks up on disk (their plans in the
/// listings index, their ids in the id index: ~50 µs each at 10 M events); a larger request
/// opens whole and reads every id into memory (5 s at 10 M events, 0.4 s at 1 M).
pub const ON_DISK_LOOKUPS_MAX: usize = 1_000;

/// The plans `submissions` need, or `None` when only the whole state will do.
pub fn plans_needed(store: &dyn Store, submissions: &[Submission]) -> Result<Option<Vec<String>>> {
    if submissions.len() > ON_DISK_LOOKUPS_MAX {
        return Ok(None);
    }
    let mut plans = BTreeSet::new();
    for sub in submissions {
        let Some(needed) = plans_of(store, &sub.command)? else { return Ok(None) };
        plans.extend(needed);
    }
    Ok(Some(plans.into_iter().collect()))
}

fn plans_of(store: &dyn Store, command: &Command) -> Result<Option<Vec<String>>> {
    match command {
        // Rare, and its checks reach every plan of its year: whole.
        Command::ImportPlan(_) => Ok(None),
        Command::Investment { project, .. }
        | Command::Milestone { project, .. }
        | Command::Withdraw { project, .. }
        | Command::ReviseTarget { target: TargetSpec::Project { project, .. }, .. } => store.plans_listing(project),
        Command::Actual { indicator, .. }
        | Command::ReviseTarget { target: TargetSpec::Indicator { indicator, .. }, .. } => {
            store.plans_defining(indicator)
        }
        Command::Correct { event, .. } | Command::Retract { event, .. } => plans_of_target(store, event),
        Command::RegisterKey { .. } | Command::RevokeKey { .. } => Ok(Some(Vec::new())),
    }
}

/// The plans a correction or retraction of `event` reaches: its plan, and every plan listing
/// its project (a milestone is carried by every later listing) or defining its indicator.
fn plans_of_target(store: &dyn Store, event: &EventRef) -> Result<Option<Vec<String>>> {
    let seq = match event {
        EventRef::Seq(seq) => Some(*seq),
        EventRef::Id(id) => store.seq_of_id(id)?,
    };
    // No such event: the decision refuses it, whatever the scope.
    let Some(target) = seq.map(|s| store.get_event(s)).transpose()?.flatten() else { return Ok(Some(Vec::new())) };
    let more = match &target.payload {
        Payload::ActualReported(a) => store.plans_defining(&a.indicator)?,
        Payload::Corrected(c) => plans_of_subject(store, &c.subject)?,
        Payload::Retracted(r) => plans_of_subject(store, &r.subject)?,
        // A project's event (its entity is the project); one of no plan reaches none.
        p if p.plan().is_some() => store.plans_listing(p.entity())?,
        _ => Some(Vec::new()),
    };
    let Some(more) = more else { return Ok(None) };
    Ok(Some(target.payload.plan().map(str::to_string).into_iter().chain(more).collect()))
}

/// The plans a corrected or retracted figure's subject is in: those defining its indicator,
/// or listing its project.
fn plans_of_subject(store: &dyn Store, subject: &Subject) -> Result<Option<Vec<String>>> {
    match subject {
        Subject::Actual { indicator, .. } => store.plans_defining(indicator),
        Subject::Investment { project, .. } | Subject::Milestone { project, .. } => store.plans_listing(project),
    }
}

impl Ledger {
    /// Opens the store in `dir` holding only the plans `submissions` need (see the module's
    /// note); whole when they cannot be told.
    pub fn open_for(
        dir: &Path,
        clock: Box<dyn Clock>,
        id_source: Box<dyn IdSource>,
        submissions: &[Submission],
    ) -> Result<Ledger> {
        Ledger::open_scoped(&StoreAt::from(dir), clock, id_source, Some(submissions))
    }

    /// As `open_for`, wherever the store is.
    pub fn open_for_at(
        location: &StoreAt,
        clock: Box<dyn Clock>,
        id_source: Box<dyn IdSource>,
        submissions: &[Submission],
    ) -> Result<Ledger> {
        Ledger::open_scoped(location, clock, id_source, Some(submissions))
    }

    /// Whether the state holds every plan.
    pub fn is_whole(&self) -> bool {
        self.scope == Scope::Whole
    }

    /// The state as the store holds it, for this ledger's scope.
    pub(super) fn fold_scope(&self) -> Result<State> {
        match &self.scope {
            Scope::Whole => checkpoint::state_at(&*self.store, u64::MAX, None),
            Scope::Plans(plans) => checkpoint::state_at(&*self.store, u64::MAX, Some(plans)),
        }
    }

    /// Folds every plan (the commits in flight made durable first, the staged events applied
    /// again): from here on the ledger is whole. Its ids are still asked of the store.
    pub fn widen(&mut self) -> Result<()> {
        if self.scope == Scope::Whole {
            return Ok(());
        }
        self.settle()?;
        let mut state = checkpoint::state_at(&*self.store, u64::MAX, None)?;
        for e in &self.staged {
            projection::apply(&mut state, e);
        }
        self.state = state;
        self.scope = Scope::Whole;
        // Scanned on the scoped state, the tail may have changed plans it did not hold.
        self.checkpointer.forget_tail_scan();
        Ok(())
    }
}
