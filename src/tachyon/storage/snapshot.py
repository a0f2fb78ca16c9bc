"""Snapshots: the whole exchange state at a sequence number, in the database.

A snapshot row holds the sequence number it includes, its format version, the state bytes,
their hash and the journal checksum at that sequence number (which binds the snapshot to the
chain). A row is written in one transaction, so it exists whole or not at all. Reading checks
format and hash before anything is decoded; the decoded state must hold every invariant.
(`audit` also checks that it encodes back to the same hash.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Final, NamedTuple

from tachyon.errors import CorruptData, UnknownEngine, UnsupportedVersion
from tachyon.exchange.state_machine import Exchange, decode_state, state_hash_of

SNAPSHOT_FORMAT: Final = 3
"""1: JSON state (schema version 1); 2: canonical msgpack state; 3: with the receive window
and each account's recent nonces and floor (a format 2 account's last nonce is its floor)."""

SNAPSHOTS_KEPT: Final = 2
"""Older snapshots are deleted once a newer one is written; the journal is never pruned."""


class SnapshotRow(NamedTuple):
    seq: int
    format: int
    state: bytes
    state_hash: str
    head_hash: bytes


def write(conn: sqlite3.Connection, exchange: Exchange, head_hash: bytes, ts_ns: int) -> None:
    """Insert a snapshot of `exchange` (at its `seq`) and prune old ones, in one transaction.
    A snapshot at the same sequence number written by another process is kept as it is."""
    state = exchange.state_bytes()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR IGNORE INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
            (exchange.seq, SNAPSHOT_FORMAT, state, state_hash_of(state), head_hash, ts_ns),
        )
        conn.execute(
            "DELETE FROM snapshots WHERE seq NOT IN"
            " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
            (SNAPSHOTS_KEPT,),
        )
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk at COMMIT): an unconditional
        # ROLLBACK would then raise "no transaction is active" and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def newest(conn: sqlite3.Connection) -> SnapshotRow | None:
    row = conn.execute(
        "SELECT seq, format, state, state_hash, head_hash FROM snapshots ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else SnapshotRow(*row)


def load(row: SnapshotRow, db_path: Path) -> Exchange:
    """The exchange a snapshot row holds; CorruptData (naming the sequence number and the
    file) if the row is damaged, UnsupportedVersion if its format is newer than this code."""
    where = f"{db_path}: snapshot at sequence {row.seq}"
    if type(row.format) is not int or row.format > SNAPSHOT_FORMAT:
        raise UnsupportedVersion(
            f"{where} has format {row.format!r}; this tachyon reads up to {SNAPSHOT_FORMAT}"
        )
    if type(row.state) is not bytes or state_hash_of(row.state) != row.state_hash:
        raise CorruptData(f"{where} does not match its state hash")
    try:
        exchange = decode(row.format, row.state)  # which checks the invariants as it loads
    except UnknownEngine as exc:  # sound: this installation lacks the engine of a market
        raise UnknownEngine(
            f"{where} holds a market on an engine this tachyon cannot load ({exc}); install"
            " the package that provides it; nothing was changed"
        ) from exc
    except AssertionError as exc:
        raise CorruptData(f"{where} breaks an invariant: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptData(f"{where} does not hold together ({exc!r})") from exc
    if exchange.seq != row.seq:
        raise CorruptData(f"{where} holds the state at sequence {exchange.seq}")
    return exchange


def decode(snapshot_format: int, state: bytes) -> Exchange:
    if snapshot_format == 1:
        decoded = json.loads(state)
        if not isinstance(decoded, dict):
            raise ValueError("exchange state must be an object")
        return Exchange.from_state(decoded)
    return decode_state(state)
