//! Signed tree heads and proofs over the store's log (docs/proofs.md): what `planledger
//! checkpoint`, `proof`, `verify-proof` and `verify --checkpoint` do.

use serde_json::{json, Value};

use crate::codec::{self, hex, Hash};
use crate::error::{Error, Result};
use crate::keys;
use crate::merkle;
use crate::model::Timestamp;
use crate::store::Store;

pub const TREE_HEAD_FORMAT: &str = "planledger-tree-head/1";
pub const INCLUSION_FORMAT: &str = "planledger-inclusion-proof/1";

/// A signed statement: the log had `size` events with Merkle root `root`, the last recorded
/// at `recorded_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
    pub recorded_at: Timestamp,
    pub public_key: [u8; 32],
    pub signature: Vec<u8>,
}

impl TreeHead {
    /// The exact bytes signed (docs/proofs.md).
    pub fn message(size: u64, root: &Hash, recorded_at: Timestamp) -> String {
        format!("{TREE_HEAD_FORMAT}\nsize {size}\nroot {}\nrecorded_at {recorded_at}\n", hex(root))
    }

    pub fn json(&self) -> Value {
        json!({
            "format": TREE_HEAD_FORMAT,
            "size": self.size,
            "root": hex(&self.root),
            "recorded_at": self.recorded_at.to_string(),
            "public_key": hex(&self.public_key),
            "signature": hex(&self.signature),
        })
    }

    pub fn parse(text: &str) -> Result<TreeHead> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| Error::invalid(msg!("proof.not_tree_head", error = e)))?;
        if v["format"] != TREE_HEAD_FORMAT {
            return Err(Error::invalid(msg!("proof.format_is_not", format = TREE_HEAD_FORMAT)));
        }
        let s = |k: &str| v[k].as_str().ok_or_else(|| Error::invalid(msg!("proof.missing_field", field = k)));
        Ok(TreeHead {
            size: v["size"].as_u64().ok_or_else(|| Error::invalid(msg!("proof.missing_field", field = "size")))?,
            root: keys::unhex32("root", s("root")?)?,
            recorded_at: Timestamp::parse("recorded_at", s("recorded_at")?)?,
            public_key: keys::unhex32("public_key", s("public_key")?)?,
            signature: keys::unhex_any("signature", s("signature")?)?,
        })
    }

    pub fn signature_ok(&self) -> bool {
        let m = TreeHead::message(self.size, &self.root, self.recorded_at);
        keys::verify_signature(&self.public_key, m.as_bytes(), &self.signature)
    }
}

/// Signs the store's current tree head.
pub fn tree_head(store: &dyn Store) -> Result<TreeHead> {
    tree_head_at(store, store.head().events())
}

/// Signs the tree head of the log's first `size` events (a point the log has passed: what
/// an audit bundle up to that point carries).
pub fn tree_head_at(store: &dyn Store, size: u64) -> Result<TreeHead> {
    let key = keys::load(store)?;
    let head = store.head();
    let (root, recorded_at) = if size == head.events() {
        (head.merkle.root(), head.last_recorded_at)
    } else {
        let last = store.get(size)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = size)))?;
        (merkle::root(&leaves(store, size)?), last.event.recorded_at)
    };
    let message = TreeHead::message(size, &root, recorded_at);
    Ok(TreeHead { size, root, recorded_at, public_key: key.public(), signature: key.sign(message.as_bytes()).to_vec() })
}

/// Leaf hashes of the first `n` events, recomputed from the stored bytes.
pub fn leaves(store: &dyn Store, n: u64) -> Result<Vec<Hash>> {
    let mut out = Vec::with_capacity(n as usize);
    for chunk in store.raw_chunks() {
        let (first, bytes) = chunk?;
        let corrupt = |e: codec::CodecError| Error::corrupt(first, e.to_msg());
        let chunk = codec::open_chunk(&bytes).map_err(corrupt)?;
        for r in chunk.records().map_err(corrupt)? {
            if out.len() as u64 == n {
                return Ok(out);
            }
            out.push(merkle::leaf_hash(r.bytes));
        }
    }
    Ok(out)
}

/// An inclusion proof of event `seq` in the tree of the first `size` events (default: all).
pub fn inclusion(store: &dyn Store, seq: u64, size: Option<u64>) -> Result<Value> {
    let n = store.head().events();
    let size = size.unwrap_or(n);
    if size > n {
        return Err(Error::invalid(msg!("proof.size_beyond_end", size = size, events = n)));
    }
    if seq == 0 || seq > size {
        return Err(Error::invalid(msg!("proof.seq_not_in_tree", seq = seq, size = size)));
    }
    let all = leaves(store, size)?;
    let (bytes, _) = store.record(seq)?.ok_or_else(|| Error::invalid(msg!("read.no_such_seq", seq = seq)))?;
    let index = (seq - 1) as usize;
    let path = merkle::inclusion_proof(index, &all);
    Ok(json!({
        "format": INCLUSION_FORMAT,
        "seq": seq,
        "leaf_index": index,
        "tree_size": size,
        "event": hex(&bytes),
        "leaf_hash": hex(&all[index]),
        "audit_path": path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "root": hex(&merkle::root(&all)),
    }))
}

/// Checks an inclusion proof document on its own, and against a signed tree head if given.
/// Returns what was checked, or the first thing that failed.
pub fn verify_inclusion(doc: &str, head: Option<&TreeHead>) -> Result<std::result::Result<crate::Msg, crate::Msg>> {
    let v: Value = serde_json::from_str(doc).map_err(|e| Error::invalid(msg!("proof.not_proof", error = e)))?;
    if v["format"] != INCLUSION_FORMAT {
        return Err(Error::invalid(msg!("proof.format_is_not", format = INCLUSION_FORMAT)));
    }
    let num = |k: &str| v[k].as_u64().ok_or_else(|| Error::invalid(msg!("proof.missing_field", field = k)));
    let text = |k: &str| v[k].as_str().ok_or_else(|| Error::invalid(msg!("proof.missing_field", field = k)));
    let (index, size) = (num("leaf_index")? as usize, num("tree_size")? as usize);
    let event = keys::unhex_any("event", text("event")?)?;
    let root = keys::unhex32("root", text("root")?)?;
    let path = v["audit_path"]
        .as_array()
        .ok_or_else(|| Error::invalid(msg!("proof.missing_field", field = "audit_path")))?
        .iter()
        .map(|h| keys::unhex32("audit_path", h.as_str().unwrap_or("")))
        .collect::<Result<Vec<_>>>()?;
    let leaf = merkle::leaf_hash(&event);
    if hex(&leaf) != text("leaf_hash")? {
        return Ok(Err(msg!("proof.leaf_hash_wrong")));
    }
    match codec::decode_event(&event) {
        Ok(e) if e.seq as usize == index + 1 => {}
        Ok(e) => return Ok(Err(msg!("proof.event_seq_not_leaf", seq = e.seq, index = index))),
        Err(e) => return Ok(Err(msg!("proof.event_does_not_decode", error = e.to_msg()))),
    }
    if merkle::root_from_inclusion(index, size, &leaf, &path) != Some(root) {
        return Ok(Err(msg!("proof.path_not_to_root")));
    }
    if let Some(h) = head {
        if !h.signature_ok() {
            return Ok(Err(msg!("proof.tree_head_signature_invalid")));
        }
        if h.size as usize != size || h.root != root {
            return Ok(Err(msg!(
                "proof.tree_not_signed_head",
                size = size,
                root = hex(&root),
                head_size = h.size,
                head_root = hex(&h.root)
            )));
        }
    }
    Ok(Ok(msg!("proof.inclusion_ok", seq = index + 1, index = index, size = size, root = hex(&root))))
}

/// Checks that today's log extends the one `head` signed: signature, size, and an RFC 6962
/// consistency proof from its root to today's. `Ok(Err((seq, what)))` names the problem.
pub fn check_tree_head(
    store: &dyn Store,
    head: &TreeHead,
) -> Result<std::result::Result<crate::Msg, (u64, crate::Msg)>> {
    if !head.signature_ok() {
        return Ok(Err((0, msg!("proof.tree_head_signature_invalid"))));
    }
    if crate::read::ledger_key(store)? != head.public_key {
        return Ok(Err((0, msg!("proof.tree_head_other_key"))));
    }
    let n = store.head().events();
    let m = head.size;
    if m > n {
        return Ok(Err((n + 1, msg!("proof.log_truncated", events = n, covered = m))));
    }
    if m == 0 {
        return Ok(Ok(msg!("proof.empty_tree_head")));
    }
    let all = leaves(store, n)?;
    let new_root = merkle::root(&all);
    let proof = merkle::consistency_proof(m as usize, &all);
    if !merkle::verify_consistency(m as usize, n as usize, &head.root, &new_root, &proof) {
        return Ok(Err((1, msg!("proof.log_rewritten", covered = m))));
    }
    Ok(Ok(msg!("proof.log_extends", events = n, covered = m, hashes = proof.len())))
}
