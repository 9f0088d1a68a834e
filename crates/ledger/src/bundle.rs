//! Audit bundles: what an auditor takes away on a USB stick to check, on a machine with no
//! network and no store, what the ledger held at a point (docs/proofs.md: "Audit bundles").
//!
//! A bundle is the log up to that point, in the layout of a backup (backup.rs), without the
//! ledger's signing key: its header also carries the tree head the ledger signed for exactly
//! those events and the ledger's public key, and one last line says what the events fold to,
//! the key registry and the snapshot (every plan's state and every year's summary). Opening
//! one reads it into a scratch store and checks everything: the chain, each event's
//! signature, the Merkle root against the signed tree head, and the last line against a
//! fold made here. Every read command then runs on that store.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{json, Value};

use crate::backup::{self, Kind, Summary};
use crate::codec::hex;
use crate::error::{Error, Result};
use crate::proof::{self, TreeHead};
use crate::query::AsOf;
use crate::store::{EmbeddedStore, Store};

pub const FORMAT: &str = "planledger-bundle/1";
pub const CONTENTS_FORMAT: &str = "planledger-bundle-contents/1";

/// What a bundle holds, as made or as opened and checked.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub summary: Summary,
    pub tree_head: TreeHead,
}

/// Writes a bundle of `store` up to the `as_of` point (all of it when `None`). Needs the
/// ledger's signing key: the tree head is signed now, for that point.
pub fn write(store: &dyn Store, as_of: Option<AsOf>, out: &mut dyn Write) -> Result<Bundle> {
    let seq = crate::read::as_of_seq(store, as_of)?;
    if seq == 0 {
        return Err(Error::invalid(msg!("bundle.nothing_at_point")));
    }
    let tree_head = proof::tree_head_at(store, seq)?;
    let extra = json!({
        "ledger_public_key": hex(&tree_head.public_key),
        "tree_head": tree_head.json(),
    });
    // The root and time the tree head signs: the log's prefix is read once, by it.
    let last_hash = store.get(seq)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = seq)))?.hash;
    let at = backup::Point { events: seq, last_hash, root: tree_head.root, recorded_at: tree_head.recorded_at };
    let summary = backup::write_bundle_log(store, &at, extra, out)?;
    let io = |e| Error::io(msg!("backup.writing"), e);
    writeln!(out, "{}", contents(store, seq)?).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(Bundle { summary, tree_head })
}

/// The bundle's last line: the key registry and the snapshot after `seq`.
fn contents(store: &dyn Store, seq: u64) -> Result<Value> {
    Ok(json!({
        "format": CONTENTS_FORMAT,
        "keys": keys(store, seq)?,
        "snapshot": crate::snapshot::make(store, seq)?,
    }))
}

/// Every key registered up to `seq`: principal, role, public key, when registered and revoked.
fn keys(store: &dyn Store, seq: u64) -> Result<Value> {
    // The registry is in the part of the state every plan shares: no plan is folded.
    let state = crate::checkpoint::state_at(store, seq, Some(&[]))?;
    let keys: Vec<Value> = state
        .principals
        .iter()
        .flat_map(|(name, p)| {
            p.keys.iter().map(move |k| {
                json!({
                    "principal": name,
                    "role": p.role.as_str(),
                    "public_key": hex(&k.key),
                    "registered_seq": k.registered,
                    "revoked_seq": k.revoked,
                })
            })
        })
        .collect();
    Ok(Value::Array(keys))
}

/// Reads the bundle from `input` into `dir` (new or empty) and checks all of it; an error
/// names the first thing that does not hold, and leaves nothing in `dir`.
pub fn open(input: &mut dyn BufRead, dir: &Path) -> Result<Bundle> {
    let (summary, read) = backup::read_back(input, dir, Kind::Bundle)?;
    let checked = check(dir, &summary, &read.header, read.trailer.as_ref());
    if checked.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    checked.map(|tree_head| Bundle { summary, tree_head })
}

fn check(dir: &Path, summary: &Summary, header: &Value, trailer: Option<&Value>) -> Result<TreeHead> {
    let tree_head = TreeHead::parse(&header["tree_head"].to_string()).map_err(|e| e.at_line(1))?;
    if !tree_head.signature_ok() {
        return Err(Error::integrity(msg!("bundle.tree_head_signature")));
    }
    if tree_head.size != summary.events || hex(&tree_head.root) != summary.root {
        return Err(Error::integrity(msg!(
            "bundle.tree_head_other_log",
            size = tree_head.size,
            events = summary.events
        )));
    }
    if header["ledger_public_key"].as_str() != Some(hex(&tree_head.public_key).as_str()) {
        return Err(Error::integrity(msg!("bundle.tree_head_other_key")));
    }
    let store = EmbeddedStore::open_read_only(dir)?;
    let claimed = trailer.ok_or_else(|| Error::invalid(msg!("bundle.no_contents")))?;
    if claimed["format"] != CONTENTS_FORMAT {
        return Err(Error::invalid(msg!("proof.format_is_not", format = CONTENTS_FORMAT)));
    }
    if keys(&store, summary.events)? != claimed["keys"] {
        return Err(Error::integrity(msg!("bundle.keys_differ")));
    }
    if let Err(parts) = crate::snapshot::check(&store, &claimed["snapshot"])? {
        let differs = parts
            .into_iter()
            .reduce(|a, b| msg!("read.joined", first = a, rest = b))
            .unwrap_or_else(|| msg!("snapshot.state_differs"));
        return Err(Error::integrity(msg!("bundle.snapshot_differs", differs = differs)));
    }
    if claimed["snapshot"]["as_of"]["seq"].as_u64() != Some(summary.events) {
        return Err(Error::integrity(msg!("bundle.snapshot_other_point")));
    }
    Ok(tree_head)
}
