//! `planledger repair`: what can be done, with the operator, for a store that does not open
//! or does not verify. The log segments are the truth; the index (sled), the id index and
//! the checkpoints are derived from them and are rebuilt here. The one destructive act,
//! cutting a damaged tail off the last segment, happens only when asked (`cut_tail`), after
//! the bytes are saved in the store's `quarantine/` directory, and names the seqs it loses.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::{lock_store, EmbeddedStore};
use crate::wal::{self, Damage};

/// The sled files of a store and its indexes on disk: rebuilt from the log by an open
/// (sled) and by the first commit or lookup after it (the id and listings indexes).
const INDEX_FILES: &[&str] = &["db", "conf", "blobs", crate::ids::IDS_DIR, crate::ids::LISTINGS_DIR];
const INDEX_PREFIXES: &[&str] = &["snap."];

/// What a repair found, and did or would do.
#[derive(Debug)]
pub struct Repair {
    pub damage: Option<Damage>,
    /// Where the cut bytes were saved, when a tail was cut.
    pub quarantined: Option<PathBuf>,
    /// Events the store holds after the repair (after a dry run: would hold).
    pub events: Option<u64>,
    pub actions: Vec<crate::Msg>,
}

/// Looks at the store in `dir` and says what `repair` would do; changes nothing.
pub fn plan(dir: &Path, cut_tail: bool) -> Result<Repair> {
    let _lock = lock_store(dir)?;
    let damage = wal::find_damage(dir)?;
    let mut actions = Vec::new();
    if let Some(d) = &damage {
        check_cuttable(d, cut_tail)?;
        actions.push(msg!(
            "repair.cut",
            bytes = d.bytes,
            path = d.path.display(),
            offset = d.offset,
            lost = lost(d),
            quarantine = dir.join(wal::QUARANTINE_DIR).display()
        ));
    }
    actions.push(msg!("repair.rebuild_index"));
    Ok(Repair { events: damage.as_ref().map(|d| d.events_before), damage, quarantined: None, actions })
}

/// Repairs the store in `dir`: cuts a damaged tail of the last segment when `cut_tail`
/// says so (saving it first), then rebuilds the index from the log and opens the store.
pub fn repair(dir: &Path, cut_tail: bool) -> Result<Repair> {
    let mut r = plan(dir, cut_tail)?;
    {
        let _lock = lock_store(dir)?;
        if let Some(d) = &r.damage {
            r.quarantined = Some(wal::cut_tail(dir, d)?);
        }
        remove_index(dir)?;
    }
    let store = EmbeddedStore::open(dir)?;
    // Checkpoints whose partitions are missing or altered are dropped from the index: reads
    // fold from an earlier one, and the next checkpoint is written whole.
    let damaged: Vec<u64> = store
        .checkpoints()
        .filter_map(|c| c.ok())
        .filter(|(seq, bytes)| !crate::checkpoint::partitions_whole(&store, *seq, bytes))
        .map(|(seq, _)| seq)
        .collect();
    for seq in damaged {
        store.forget_checkpoint(seq)?;
        r.actions.push(msg!("repair.dropped_checkpoint", seq = seq));
    }
    r.events = Some(store.head().events());
    Ok(r)
}

/// The seqs a cut loses, as a person reads them.
pub fn lost(d: &Damage) -> crate::Msg {
    match d.events_after {
        Some(after) if after > d.events_before => {
            let n = after - d.events_before;
            let from = d.events_before + 1;
            if n == 1 {
                msg!("repair.loses_one", from = from, to = after)
            } else {
                msg!("repair.loses_many", from = from, to = after, n = n)
            }
        }
        _ => msg!("repair.loses_unknown", seq = d.events_before),
    }
}

fn check_cuttable(d: &Damage, cut_tail: bool) -> Result<()> {
    if !d.last_segment {
        return Err(Error::integrity(msg!(
            "repair.not_cuttable",
            what = d.what.clone(),
            offset = d.offset,
            path = d.path.display()
        )));
    }
    if !cut_tail {
        return Err(Error::integrity(msg!(
            "repair.cut_tail_needed",
            what = d.what.clone(),
            offset = d.offset,
            path = d.path.display(),
            lost = lost(d)
        )));
    }
    Ok(())
}

fn remove_index(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(msg!("io.listing", path = dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(INDEX_FILES.contains(&name.as_str()) || INDEX_PREFIXES.iter().any(|p| name.starts_with(p))) {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| Error::io(msg!("io.removing", path = path.display()), e))?;
    }
    Ok(())
}
