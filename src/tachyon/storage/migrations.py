"""Schema migrations, one function per step `N -> N+1`, run by `db.upgrade` inside one
transaction with the version bump (after a backup copy of the file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from tachyon.errors import CorruptData
from tachyon.exchange.state_machine import state_hash_of
from tachyon.storage import db, head, journal, snapshot
from tachyon.storage.db import Migration

SCHEMA_V1: Final = """
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    command BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    checksum BLOB NOT NULL
);
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    format INTEGER NOT NULL,
    state BLOB NOT NULL,
    state_hash TEXT NOT NULL
);
"""
"""Version 1 as it shipped: snapshots in JSON (format 1), not bound to the journal."""


def v1_to_v2(conn: sqlite3.Connection) -> None:
    """Re-encode JSON snapshots as msgpack (format 2) and bind each to its journal entry."""
    conn.execute("ALTER TABLE snapshots ADD COLUMN head_hash BLOB NOT NULL DEFAULT x''")
    conn.execute("ALTER TABLE snapshots ADD COLUMN written_ts_ns INTEGER NOT NULL DEFAULT 0")
    rows = conn.execute("SELECT seq, format, state, state_hash FROM snapshots").fetchall()
    for seq, snapshot_format, state, state_hash in rows:
        if snapshot_format != 1 or state_hash_of(state) != state_hash:
            raise CorruptData(f"version 1 snapshot at sequence {seq} is damaged; not upgrading")
        head_hash = journal.checksum_at(conn, seq)
        if head_hash is None:
            raise CorruptData(f"version 1 snapshot at sequence {seq} has no journal entry")
        try:
            encoded = snapshot.decode(1, state).state_bytes()
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise CorruptData(
                f"version 1 snapshot at sequence {seq} does not decode ({exc!r}); not upgrading"
            ) from exc
        conn.execute(
            "UPDATE snapshots SET format = ?, state = ?, state_hash = ?, head_hash = ?"
            " WHERE seq = ?",
            (snapshot.SNAPSHOT_FORMAT, encoded, state_hash_of(encoded), head_hash, seq),
        )


SCHEMA_V2: Final = """
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    command BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    checksum BLOB NOT NULL
);
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    format INTEGER NOT NULL,
    state BLOB NOT NULL,
    state_hash TEXT NOT NULL,
    head_hash BLOB NOT NULL,
    written_ts_ns INTEGER NOT NULL
);
"""
"""Version 2 as it shipped: journal and msgpack snapshots, no read model."""


def v2_to_v3(conn: sqlite3.Connection) -> None:
    """Add the read model's tables, stale: the first write after the upgrade fills them from
    the recovered state (the upgrade itself does not recover the exchange)."""
    db.create_view_tables(conn)


def v3_to_v4(conn: sqlite3.Connection) -> None:
    """Create the head record at the journal's head (inside the upgrade's write transaction,
    so no commit lands between the two)."""
    (db_file,) = (row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    head.create(Path(db_file), head.Head(*journal.head(conn)))


MIGRATIONS: Final[dict[int, Migration]] = {1: v1_to_v2, 2: v2_to_v3, 3: v3_to_v4}
