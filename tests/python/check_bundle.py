"""An audit bundle checked without planledger's code, as docs/proofs.md ("Audit bundles")
tells an auditor to: the hash chain, the Merkle root (RFC 6962) and the ledger's signature
over the tree head, from the file alone, with Python's hashlib, zstandard and cryptography.

The binary only makes the bundle (a demo store, `bundle --as-of 1500`); everything after
that is this file's own reading of the format. Then one event's bytes are altered and the
check must fail.

Run: python3 tests/python/check_bundle.py [path/to/planledger]   (default target/debug/planledger)
Needs: zstandard, cryptography.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

import zstandard
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "planledger"))


def leaf_hash(event: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + event).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 section 2.1: the Merkle tree hash of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def check(text: str):
    """The problems found in a bundle's text (an empty list: it checks)."""
    lines = text.rstrip("\n").split("\n")
    header = json.loads(lines[0])
    if header["format"] != "planledger-bundle/1":
        return ["not a bundle"]
    n = header["events"]
    events = [json.loads(line) for line in lines[1 : n + 1]]
    if len(events) != n or len(lines) != n + 2:
        return ["the file does not hold %d events and one last line" % n]
    problems = []
    chain = bytes(32)
    leaves = []
    for i, e in enumerate(events):
        if e["seq"] != i + 1:
            problems.append("seq %d at position %d" % (e["seq"], i + 1))
        raw = bytes.fromhex(e["event"])
        chain = hashlib.sha256(chain + raw).digest()
        if chain.hex() != e["hash"]:
            problems.append("chain breaks at seq %d" % (i + 1))
            break
        leaves.append(leaf_hash(raw))
    if chain.hex() != header["head"]:
        problems.append("the head is not the chain's end")
    root = mth(leaves)
    head = header["tree_head"]
    if root.hex() != header["root"] or root.hex() != head["root"] or head["size"] != n:
        problems.append("the Merkle root is not the one the tree head signs")
    message = "planledger-tree-head/1\nsize %d\nroot %s\nrecorded_at %s\n" % (
        head["size"],
        head["root"],
        head["recorded_at"],
    )
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(head["public_key"])).verify(
            bytes.fromhex(head["signature"]), message.encode()
        )
    except InvalidSignature:
        problems.append("the tree head's signature does not verify")
    if head["public_key"] != header["ledger_public_key"]:
        problems.append("the tree head is signed by another key")
    contents = json.loads(lines[-1])
    if contents["format"] != "planledger-bundle-contents/1" or contents["snapshot"]["as_of"]["seq"] != n:
        problems.append("the last line is not the snapshot at the bundle's end")
    return problems


def main():
    passed = failed = 0

    def result(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   %s" % name)
        else:
            failed += 1
            print("FAIL %s %s" % (name, detail))

    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        bundle = os.path.join(tmp, "audit.plbundle")
        env = dict(os.environ, PLANLEDGER_LANG="en")
        subprocess.run([BIN, "--store", store, "demo"], check=True, capture_output=True, env=env)
        subprocess.run(
            [BIN, "--store", store, "bundle", "--as-of", "1500", "--out", bundle],
            check=True,
            capture_output=True,
            env=env,
        )
        key = subprocess.run([BIN, "--store", store, "key"], check=True, capture_output=True, env=env).stdout
        with open(bundle, "rb") as f:
            text = zstandard.ZstdDecompressor().stream_reader(f).read().decode("utf-8")
        problems = check(text)
        result("the bundle checks from its text alone", problems == [], problems)
        header = json.loads(text.split("\n", 1)[0])
        result(
            "signed by the key the ledger publishes",
            header["tree_head"]["public_key"] == key.decode().strip(),
        )
        # One byte of one event's canonical bytes changed: the chain breaks there.
        lines = text.split("\n")
        e = json.loads(lines[700])
        flipped = e["event"][:-2] + ("00" if e["event"][-2:] != "00" else "01")
        lines[700] = lines[700].replace(e["event"], flipped)
        problems = check("\n".join(lines))
        result("an altered event is found", "chain breaks at seq 700" in problems, problems)

    print("python bundle: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
