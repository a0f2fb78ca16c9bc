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


VIEW_SCHEMA_V3: Final = """
CREATE TABLE view_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER
);
INSERT INTO view_meta VALUES (1, NULL);
CREATE TABLE view_tokens (
    symbol TEXT PRIMARY KEY,
    decimals INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE view_markets (
    market TEXT PRIMARY KEY,
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    tick_size NOT NULL,
    lot_size NOT NULL,
    min_qty NOT NULL,
    base_decimals INTEGER NOT NULL,
    quote_decimals INTEGER NOT NULL,
    maker_bps INTEGER NOT NULL,
    taker_bps INTEGER NOT NULL,
    fee_token TEXT NOT NULL,
    fee_account TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE view_balances (
    account TEXT NOT NULL,
    token TEXT NOT NULL,
    available NOT NULL,
    locked NOT NULL,
    PRIMARY KEY (account, token)
) WITHOUT ROWID;
CREATE TABLE view_orders (
    account TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    remaining NOT NULL,
    filled NOT NULL,
    PRIMARY KEY (account, order_id)
) WITHOUT ROWID;
CREATE TABLE view_levels (
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    PRIMARY KEY (market, side, price)
) WITHOUT ROWID;
CREATE TABLE view_trades (
    market TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    maker_order_id INTEGER NOT NULL,
    taker_order_id INTEGER NOT NULL,
    maker TEXT NOT NULL,
    taker TEXT NOT NULL,
    taker_side TEXT NOT NULL,
    seq INTEGER,
    ts_ns INTEGER,
    PRIMARY KEY (market, trade_id)
) WITHOUT ROWID;
"""
"""The read model's tables as versions 3 and 4 shipped them."""


def v2_to_v3(conn: sqlite3.Connection) -> None:
    """Add the read model's tables, stale: the first write after the upgrade fills them from
    the recovered state (the upgrade itself does not recover the exchange)."""
    db.execute_script(conn, VIEW_SCHEMA_V3)


def v3_to_v4(conn: sqlite3.Connection) -> None:
    """Create the head record at the journal's head (inside the upgrade's write transaction,
    so no commit lands between the two)."""
    (db_file,) = (row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    head.create(Path(db_file), head.Head(*journal.head(conn)))


VIEW_HISTORY_V5: Final = """
ALTER TABLE view_orders ADD COLUMN ts_ns INTEGER;
ALTER TABLE view_trades ADD COLUMN maker_fee;
ALTER TABLE view_trades ADD COLUMN taker_fee;
CREATE INDEX view_trades_by_maker ON view_trades (maker, seq);
CREATE INDEX view_trades_by_taker ON view_trades (taker, seq);
CREATE TABLE view_closed_orders (
    account TEXT NOT NULL,
    closed_seq INTEGER NOT NULL,
    order_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price,
    qty,
    filled NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    ts_ns INTEGER,
    closed_ts_ns INTEGER NOT NULL,
    PRIMARY KEY (account, closed_seq, order_id)
) WITHOUT ROWID;
"""
"""What version 5 adds to the read model (`db.VIEW_SCHEMA` is the two together)."""


def v4_to_v5(conn: sqlite3.Connection) -> None:
    """Add the history columns and table to the read model. The view stays as current as it
    was: the rows it holds get no times or fees (NULL: not known), and every command from now
    on records them; `tachyon audit --repair` fills them all in from the journal."""
    db.execute_script(conn, VIEW_HISTORY_V5)


def v5_to_v6(conn: sqlite3.Connection) -> None:
    """Add each balance's debt to the read model: 0 for every row it holds (no account could
    owe anything before version 6)."""
    conn.execute("ALTER TABLE view_balances ADD COLUMN debt NOT NULL DEFAULT 0")


MIGRATIONS: Final[dict[int, Migration]] = {
    1: v1_to_v2,
    2: v2_to_v3,
    3: v3_to_v4,
    4: v4_to_v5,
    5: v5_to_v6,
}
