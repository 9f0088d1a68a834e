#!/usr/bin/env python3
"""The SQLite baseline of the benchmark's `--cli-import` measure (crates/bench/benches/harness.rs).

    python3 sqlite_import.py FILE.jsonl DB.sqlite

What a department's script would do with the file `planledger submit --batch 1000 --file`
imports: read the JSONL investments line by line, and insert each as a row into SQLite in WAL
mode with synchronous=FULL (an fsync per commit, as planledger's), 1,000 rows a transaction.
The id is UNIQUE, as planledger's idempotency index makes it. Standard library only. Prints
the number of rows inserted.
"""

import json
import sqlite3
import sys

BATCH = 1000


def main() -> int:
    source, db = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS investments ("
        " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,"
        " period TEXT NOT NULL, amount TEXT NOT NULL)"
    )
    insert = "INSERT INTO investments (id, project, period, amount) VALUES (?, ?, ?, ?)"
    rows = []
    inserted = 0

    def commit():
        nonlocal inserted
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
        inserted += len(rows)
        rows.clear()

    with open(source, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            rows.append((o["id"], o["project"], o["period"], str(o["amount"])))
            if len(rows) == BATCH:
                commit()
    if rows:
        commit()
    conn.close()
    print(inserted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
