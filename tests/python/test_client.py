"""A client in another language proves proto/ is the real contract: Python stubs are
generated from proto/planledger/v1/ledger.proto during the test (grpcio-tools), then used to
ask typed read questions (Key, State), append a signed submission (format 2: this ledger,
this id), see an unsigned one, a replayed signature and a malformed message refused, and
subscribe.

Run: python3 tests/python/test_client.py [path/to/planledger]   (default target/debug/planledger)
Needs: grpcio, grpcio-tools, cryptography (for ed25519).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_tools import protoc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "planledger"))

PLAN = """
[plan]
id = "py-2022"
year = 2022
title = "Python client test plan"
jurisdiction = "PyTown"

[[departments]]
id = "drc"
name = "DRC"
coordinator = true

[[departments]]
id = "housing"
name = "Housing"

[[projects]]
id = "park"
name = "Park"
level = "district"
department = "housing"
planned_investment = "10"
"""


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def load_key(path):
    with open(path) as f:
        k = json.load(f)
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["secret_key"])), bytes.fromhex(k["public_key"])


def canonical(ledger, actor, kind, fields):
    """The signed text of a submission, as docs/server.md defines it (format 2)."""
    esc = lambda v: v.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    lines = ["planledger-submission/2", "ledger=" + ledger, "actor=" + esc(actor), "type=" + esc(kind)]
    lines += [esc(k) + "=" + esc(v) for k, v in sorted(fields.items())]
    return "\n".join(lines) + "\n"


def signed_request(pb2, key, public, method, request):
    """Sets a request's auth: a signature over its encoding without auth (docs/server.md)."""
    body = request.SerializeToString()
    ts = int(time.time() * 1_000_000)
    nonce = os.urandom(16)
    msg = "planledger-request/2\n%s\n%d\n%s\n%s\n" % (method, ts, nonce.hex(), hashlib.sha256(body).hexdigest())
    request.auth.CopyFrom(pb2.RequestAuth(public_key=public, timestamp_micros=ts, nonce=nonce,
                                          signature=key.sign(msg.encode())))
    return request


def answer(stream):
    """The whole output of a read question, from its streamed pieces."""
    return b"".join(piece.data for piece in stream).decode()


def main():
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "gen")
        os.makedirs(gen)
        rc = protoc.main(["protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + gen,
                          "--grpc_python_out=" + gen, os.path.join(ROOT, "proto", "planledger", "v1", "ledger.proto")])
        assert rc == 0, "protoc failed"
        sys.path.insert(0, gen)
        from planledger.v1 import ledger_pb2 as pb2, ledger_pb2_grpc as pb2_grpc

        store = os.path.join(tmp, "store")
        plan = os.path.join(tmp, "plan.toml")
        with open(plan, "w") as f:
            f.write(PLAN)
        run("--store", store, "plan", "import", plan, "--as", "drc")
        keys = {}
        for who in ("drc", "housing"):
            path = os.path.join(tmp, who + ".key")
            run("dept", "keygen", "--out", path)
            keys[who] = path
        run("--store", store, "dept", "register", "drc", "--public-key", keys["drc"], "--as", "drc")
        run("--store", store, "--key", keys["drc"], "dept", "register", "housing", "--public-key", keys["housing"], "--as", "drc")

        local = run("--store", store, "state", "--json")  # the CLI's answer, before the server locks the store
        server = subprocess.Popen([BIN, "--store", store, "serve", "--listen", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            addr = server.stdout.readline().strip().removeprefix("listening on ")
            stub = pb2_grpc.LedgerStub(grpc.insecure_channel(addr))
            key, public = load_key(keys["housing"])

            # 1. Typed reads: the ledger's key, then the state as the CLI prints it.
            doc = json.loads(answer(stub.Key(signed_request(pb2, key, public, "Key", pb2.KeyRequest(json=True)))))
            ledger = doc["public_key"]
            state = answer(stub.State(signed_request(pb2, key, public, "State", pb2.StateRequest(json=True))))
            if len(ledger) == 64 and state == local:
                passed += 1
            else:
                failed += 1
                print("typed reads: key", ledger, "state differs from the CLI's:", state[:200], local[:200])

            # 2. A signed append is acknowledged.
            fields = {"project": "park", "period": "2022-03", "amount": "2.5", "id": str(uuid.uuid4())}
            signed = canonical(ledger, "housing", "investment", fields)
            sub = pb2.Submission(type="investment", fields=fields, public_key=public,
                                 signature=key.sign(signed.encode()), signed=signed)
            resp = stub.Append(pb2.AppendRequest(actor="housing", submissions=[sub]))
            ours = resp.acks[0].seq
            if resp.acks[0].type == "investment" and not resp.acks[0].duplicate:
                passed += 1
            else:
                failed += 1
                print("append: unexpected ack", resp)

            # 3. The same signature on another id (a copy lifted from the log) is refused.
            lifted = dict(fields, id=str(uuid.uuid4()))
            try:
                stub.Append(pb2.AppendRequest(actor="housing", submissions=[pb2.Submission(
                    type="investment", fields=lifted, public_key=public, signature=key.sign(signed.encode()),
                    signed=signed)]))
                failed += 1
                print("a signature lifted onto another id was accepted")
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.PERMISSION_DENIED and "another event id" in e.details():
                    passed += 1
                else:
                    failed += 1
                    print("lifted signature: unexpected", e.code(), e.details())

            # 4. An unsigned one is refused.
            try:
                stub.Append(pb2.AppendRequest(actor="housing", submissions=[pb2.Submission(type="investment", fields={
                    "project": "park", "period": "2022-04", "amount": "1"})]))
                failed += 1
                print("unsigned append was accepted")
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.PERMISSION_DENIED:
                    passed += 1
                else:
                    failed += 1
                    print("unsigned append: unexpected", e.code(), e.details())

            # 5. Bytes that are not the method's message are the client's error.
            raw = grpc.insecure_channel(addr).unary_unary("/planledger.v1.Ledger/Append",
                                                           request_serializer=lambda b: b,
                                                           response_deserializer=lambda b: b)
            try:
                raw(b"\x0a\xff\xff\xff\xff\x0f")
                failed += 1
                print("a malformed message was accepted")
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    passed += 1
                else:
                    failed += 1
                    print("malformed message: unexpected", e.code(), e.details())

            # 6. A subscription from seq 1 sees every event once, in order, ours last so far.
            stream = stub.Subscribe(signed_request(pb2, key, public, "Subscribe", pb2.SubscribeRequest(from_seq=1)))
            seqs = []
            for event in stream:
                seqs.append(event.seq)
                if event.seq == ours:
                    inv = event.investment
                    ok = (inv.project, inv.period, inv.amount, event.actor) == ("park", "2022-03", "2.5", "housing")
                    ok = ok and event.signature.signed == signed and len(event.hash) == 32
                    stream.cancel()
                    break
            if ok and seqs == list(range(1, ours + 1)):
                passed += 1
            else:
                failed += 1
                print("subscribe: seqs", seqs)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("python client: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
