//! The idempotency index: every committed, in-flight and staged event's id → seq, sharded
//! so that growing it never rehashes millions of ids at once.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use uuid::Uuid;

/// id → seq of every event, in `ID_SHARDS` hash tables chosen by the id's last byte (random
/// in a UUIDv7 or v4). One table of millions doubles by rehashing every entry into a fresh
/// table, each move a cache miss: a fifth of deciding a bulk import (`perf`) went there. A
/// shard rehashes a table 1/256 the size. A generated id is checked and inserted in one
/// probe (`insert_new`).
pub(super) struct IdIndex {
    pub(super) shards: Vec<HashMap<Uuid, u64, crate::projection::Hasher>>,
}

pub(super) const ID_SHARDS: usize = 256;

impl IdIndex {
    pub(super) fn with_capacity(n: usize) -> IdIndex {
        let per = n / ID_SHARDS;
        IdIndex {
            shards: (0..ID_SHARDS)
                .map(|_| HashMap::with_capacity_and_hasher(per, crate::projection::Hasher::default()))
                .collect(),
        }
    }

    /// Which shard holds `id` (there are always `ID_SHARDS`: `with_capacity` builds them all).
    pub(super) fn shard(id: &Uuid) -> usize {
        usize::from(id.as_bytes()[15]) % ID_SHARDS
    }

    pub(super) fn shard_mut(&mut self, id: &Uuid) -> &mut HashMap<Uuid, u64, crate::projection::Hasher> {
        &mut self.shards[IdIndex::shard(id)]
    }

    pub(super) fn get(&self, id: &Uuid) -> Option<&u64> {
        self.shards[IdIndex::shard(id)].get(id)
    }

    #[cfg(test)]
    pub(super) fn contains_key(&self, id: &Uuid) -> bool {
        self.get(id).is_some()
    }

    pub(super) fn insert(&mut self, id: Uuid, seq: u64) {
        self.shard_mut(&id).insert(id, seq);
    }

    pub(super) fn remove(&mut self, id: &Uuid) {
        self.shard_mut(id).remove(id);
    }

    /// Inserts `id` → `seq` unless `id` is there: one probe for both.
    pub(super) fn insert_new(&mut self, id: Uuid, seq: u64) -> bool {
        match self.shard_mut(&id).entry(id) {
            Entry::Vacant(slot) => {
                slot.insert(seq);
                true
            }
            Entry::Occupied(_) => false,
        }
    }
}
