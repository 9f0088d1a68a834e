//! Tamper evidence an outsider can check: a Merkle tree over the log in the manner of
//! RFC 6962 (Certificate Transparency), with inclusion and consistency proofs.
//!
//! Leaves are the events' canonical bytes, in seq order: `leaf = SHA-256(0x00 ‖ bytes)`,
//! `node = SHA-256(0x01 ‖ left ‖ right)`. For n leaves, `MTH(D[n])` splits at the largest
//! power of two below n. The algorithms here follow RFC 6962 §2.1; docs/proofs.md restates
//! them so a third party can check a proof without this code.

use sha2::{Digest, Sha256};

use crate::codec::Hash;

pub fn leaf_hash(event_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(event_bytes);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH over `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 PATH(m, D[n])).
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(index < leaves.len(), "leaf index out of range");
    let n = leaves.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut p = inclusion_proof(index, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(index - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

/// Recomputes the root from a leaf and its audit path; `None` if the path has the wrong
/// length for `index` in a tree of `size` leaves.
pub fn root_from_inclusion(index: usize, size: usize, leaf: &Hash, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    // RFC 9162 §2.1.3.2, iterative form.
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

/// The consistency proof between the tree of the first `m` leaves and the tree of all of
/// `leaves` (RFC 6962 PROOF(m, D[n])); empty when m = n.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(m >= 1 && m <= leaves.len(), "consistency proof needs 1 <= m <= n");
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { Vec::new() } else { vec![root(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], whole);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(root(&leaves[..k]));
        p
    }
}

/// Checks a consistency proof: true when `old_root` (of `m` leaves) is a prefix of
/// `new_root` (of `n` leaves). RFC 9162 §2.1.4.2.
pub fn verify_consistency(m: usize, n: usize, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if m == 0 || m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if m.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *old_root && sr == *new_root
}

/// The roots of the perfect subtrees covering the leaves so far, largest first: enough to
/// extend the tree one leaf at a time and to compute its root, in O(log n) space.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frontier {
    pub size: u64,
    /// (height, root) of each perfect subtree, heights strictly decreasing.
    pub nodes: Vec<(u8, Hash)>,
}

impl Frontier {
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u8, leaf);
        while let Some(&(h, left)) = self.nodes.last() {
            if h != node.0 {
                break;
            }
            self.nodes.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = it.next() else { return empty_root() };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("event {i}").as_bytes())).collect()
    }

    #[test]
    fn frontier_root_equals_the_recursive_root() {
        let all = leaves(70);
        let mut f = Frontier::default();
        assert_eq!(f.root(), empty_root());
        for n in 1..=all.len() {
            f.push(all[n - 1]);
            assert_eq!(f.root(), root(&all[..n]), "n = {n}");
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_detect_changes() {
        for n in 1..=33 {
            let all = leaves(n);
            let r = root(&all);
            for i in 0..n {
                let p = inclusion_proof(i, &all);
                assert_eq!(root_from_inclusion(i, n, &all[i], &p), Some(r), "n={n} i={i}");
                let other = leaf_hash(b"forged");
                assert_ne!(root_from_inclusion(i, n, &other, &p), Some(r));
                if n > 1 {
                    assert_ne!(root_from_inclusion((i + 1) % n, n, &all[i], &p), Some(r));
                }
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_prefixes_only() {
        for n in 1..=33 {
            let all = leaves(n);
            let new_root = root(&all);
            for m in 1..=n {
                let p = consistency_proof(m, &all);
                let old_root = root(&all[..m]);
                assert!(verify_consistency(m, n, &old_root, &new_root, &p), "m={m} n={n}");
                // A rewritten prefix: the first leaf changed.
                let mut forged = all.clone();
                forged[0] = leaf_hash(b"rewritten");
                let forged_old = root(&forged[..m]);
                assert!(!verify_consistency(m, n, &forged_old, &new_root, &p), "m={m} n={n}");
            }
        }
    }

    #[test]
    fn known_answer_for_two_leaves() {
        // MTH({d0, d1}) = H(0x01 ‖ H(0x00 ‖ d0) ‖ H(0x00 ‖ d1)).
        let (a, b) = (leaf_hash(b"d0"), leaf_hash(b"d1"));
        assert_eq!(root(&[a, b]), node_hash(&a, &b));
        assert_eq!(
            crate::codec::hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
