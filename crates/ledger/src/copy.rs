//! `store copy`: a ledger moved between backends (a directory and a PostgreSQL ledger, either
//! way), event by event into an empty store that chains and hashes them itself. Every
//! commit's last chain hash must equal the source's, and on arrival the copy is verified
//! (chain, signatures, checkpoints) and its Merkle root compared with the source's: the copy
//! is the same log, byte for byte, or the command fails saying where it differs.

use crate::checkpoint::Record;
use crate::codec::{self, hex, Hash};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{CheckpointWrite, Store, BATCH_EVENTS_MAX};

/// The ledger's own files that travel with it: its signing key (secret), its public key
/// alone (a store read back from a bundle), its time zone.
const FILES: [(&str, bool); 3] =
    [(crate::keys::KEY_FILE, true), (crate::keys::PUBLIC_FILE, false), (crate::zone::ZONE_FILE, false)];

/// What a copy carried, and the root both sides agree on.
pub struct Copied {
    pub events: u64,
    pub checkpoints: u64,
    pub head: Hash,
    pub root: Hash,
}

/// Copies every event, checkpoint and file of `from` into `to`, which must hold no events;
/// `progress` hears how many events are across after each commit.
pub fn copy(from: &dyn Store, to: &dyn Store, progress: &mut dyn FnMut(u64)) -> Result<Copied> {
    let held = to.latest_head()?.events();
    if held > 0 {
        return Err(Error::invalid(msg!("copy.not_empty", to = to.dir().display(), events = held)));
    }
    let source = from.latest_head()?;
    let end = source.events();
    for (name, private) in FILES {
        if let Some(bytes) = from.read_file(name)? {
            to.write_file(name, &bytes, private)?;
        }
    }
    let mut cuts = checkpoints(from, end)?.into_iter().peekable();
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH_EVENTS_MAX.min(end as usize));
    let mut copied_checkpoints = 0;
    for stored in from.scan(1) {
        let stored = stored?;
        if stored.event.seq > end {
            break;
        }
        let seq = stored.event.seq;
        let last_hash = stored.hash;
        batch.push(stored.event);
        let at_checkpoint = cuts.peek().is_some_and(|(s, _)| *s == seq);
        if batch.len() == BATCH_EVENTS_MAX || at_checkpoint || seq == end {
            let checkpoint = if at_checkpoint { cuts.next().map(|(_, cp)| cp) } else { None };
            copied_checkpoints += u64::from(checkpoint.is_some());
            to.commit(&batch, checkpoint)?;
            batch.clear();
            let arrived = to.head();
            if arrived.last_hash != last_hash {
                return Err(Error::integrity(msg!("copy.hash_differs", seq = seq)));
            }
            progress(seq);
        }
    }
    let arrived = to.head();
    if arrived.events() != end {
        return Err(Error::integrity(msg!("copy.events_differ", from = end, to = arrived.events())));
    }
    let root = source.merkle.root();
    if arrived.merkle.root() != root {
        return Err(Error::integrity(msg!("copy.root_differs", from = hex(&root), to = hex(&arrived.merkle.root()))));
    }
    let v = crate::verify::verify(to)?;
    if let Some(p) = v.problem {
        return Err(Error::corrupt(p.seq, p.what));
    }
    Ok(Copied { events: end, checkpoints: copied_checkpoints, head: arrived.last_hash, root })
}

/// The source's checkpoints up to `end` that this build reads, each as the commit that ends
/// at its seq carries it (its record and every partition it names).
fn checkpoints(from: &dyn Store, end: u64) -> Result<Vec<(u64, CheckpointWrite)>> {
    let mut out = Vec::new();
    for cp in from.checkpoints() {
        let (seq, record) = cp?;
        if seq == 0 || seq > end {
            continue;
        }
        // An older build's (stale) or a damaged one is derived data: the copy goes without.
        let Ok(r) = codec::decode_checkpoint::<Record>(&record) else { continue };
        let mut partitions = Vec::new();
        for hash in std::iter::once(r.global).chain(r.plans.iter().map(|(_, h)| *h)) {
            match from.partition(&hash)? {
                Some(bytes) => partitions.push((hash, crate::store::pack_partition(&bytes))),
                None => break,
            }
        }
        if partitions.len() == r.plans.len() + 1 {
            out.push((seq, CheckpointWrite { seq, record, partitions }));
        }
    }
    Ok(out)
}
