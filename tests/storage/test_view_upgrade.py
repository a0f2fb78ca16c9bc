"""Goal: the read model is never wrong, only stale: an upgraded version-2 database, a journal
written past the view and a rolled-back write all leave a reader with None or the exact state,
and the next write makes the view exact again. Method: version-2 files written by hand (the v2
DDL, make_entry rows, a msgpack snapshot), raw SQL edits and triggers that make a write fail."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tachyon.dex.model import Side
from tachyon.errors import OrderNotFound, TachyonError
from tachyon.exchange.commands import CancelOrder, Deposit, PlaceLimit, encode_command
from tachyon.exchange.state_machine import Exchange
from tachyon.storage import SCHEMA_VERSION, SNAPSHOT_FORMAT, EmbeddedExchange, ReadView, journal
from tachyon.storage.migrations import SCHEMA_V2
from tests.exchange.helpers import ALICE, BOB, USDC, apply_command
from tests.storage.helpers import (
    DB_NAME,
    TS_START,
    StepClock,
    assert_view_matches,
    make_flow,
    raw_close,
    raw_connect,
    user_version,
)

ENTRIES = 90
SNAPSHOT_SEQ = 60


def write_v2(data_dir: Path) -> Exchange:
    """A version-2 database as that release wrote it: journal entries and one snapshot, no
    view tables. Returns the state its journal holds."""
    flow = make_flow(5, 2 * ENTRIES).accepted()
    exchange = Exchange()
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA_V2)
        conn.execute("PRAGMA user_version = 2")
        prev_hash = journal.GENESIS_HASH
        conn.execute("BEGIN")
        for seq, (command, ts_ns) in enumerate(
            zip(flow.commands[:ENTRIES], flow.stamps[:ENTRIES], strict=True), start=1
        ):
            apply_command(exchange, command, seq, ts_ns)
            entry = journal.make_entry(prev_hash, seq, ts_ns, encode_command(command))
            conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?)", entry)
            prev_hash = entry.checksum
            if seq == SNAPSHOT_SEQ:
                state = exchange.state_bytes()
                conn.execute(
                    "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, SNAPSHOT_FORMAT, state, exchange.state_hash(), prev_hash, ts_ns),
                )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return exchange


def _trade_seqs(data_dir: Path) -> list[int | None]:
    conn = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT seq FROM view_trades ORDER BY seq")]
    finally:
        conn.close()


def test_an_upgraded_v2_database_has_a_stale_view_until_the_first_write(tmp_path: Path) -> None:
    expected = write_v2(tmp_path)
    assert ReadView.open(tmp_path) is None  # another schema version
    clock = StepClock(TS_START * 2)
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        assert user_version(tmp_path / DB_NAME) == SCHEMA_VERSION == 6
        assert (tmp_path / f"{DB_NAME}.v2.bak").is_file()
        assert host.refresh().state_hash() == expected.state_hash()
        assert ReadView.open(tmp_path) is None  # stale
        with pytest.raises(OrderNotFound):
            host.submit(CancelOrder(ALICE, 10**6))  # refused: nothing journaled, nothing written
        assert isinstance(host.submit_batch([CancelOrder(BOB, 10**6)])[0], OrderNotFound)
        assert ReadView.open(tmp_path) is None
        host.submit(Deposit(ALICE, USDC, 1))
        assert_view_matches(tmp_path, host.refresh())  # complete, old trades included
        host.submit(PlaceLimit(BOB, "BASE/USDC", Side.BID, 10**6, 1))
        assert_view_matches(tmp_path, host.refresh())
    seqs = _trade_seqs(tmp_path)
    assert seqs and None in seqs  # trades from before the view: no sequence number known
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert_view_matches(tmp_path, reopened.refresh())


def _append_by_hand(data_dir: Path, *, stale: bool) -> None:
    """Journal one more deposit the way a writer that knew no view would: chained correctly,
    the view tables left as they are (or marked stale)."""
    conn = raw_connect(data_dir / DB_NAME)
    try:
        seq, head = journal.head(conn)
        (ts_ns,) = conn.execute("SELECT ts_ns FROM journal WHERE seq = ?", (seq,)).fetchone()
        command = encode_command(Deposit(BOB, USDC, 777))
        conn.execute(
            "INSERT INTO journal VALUES (?, ?, ?, ?, ?)",
            journal.make_entry(head, seq + 1, ts_ns + 1, command),
        )
        if stale:
            conn.execute("UPDATE view_meta SET seq = NULL")
    finally:
        raw_close(conn)


@pytest.mark.parametrize("stale", [True, False], ids=["marked-stale", "behind"])
def test_a_journal_ahead_of_the_view_is_not_read_until_a_write_rebuilds(
    tmp_path: Path, stale: bool
) -> None:
    flow = make_flow(8, 150)
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch(flow.commands[:100])
        assert_view_matches(tmp_path, host.refresh())
        _append_by_hand(tmp_path, stale=stale)
        assert ReadView.open(tmp_path) is None
        host.submit_batch(flow.commands[100:])  # catches up on the entry, then rebuilds
        state = host.refresh()
        assert state.service.balance(BOB, USDC).available >= 777
        assert_view_matches(tmp_path, state)


@pytest.mark.parametrize("table", ["view_trades", "view_meta", "journal"])
def test_a_write_that_rolls_back_leaves_the_view_where_it_was(tmp_path: Path, table: str) -> None:
    """A trigger makes one statement of the batch's transaction fail (in the journal, midway
    through the view, or at its last statement): nothing of the batch stays, the reader still
    sees the state before it, and the next write is exact again."""
    flow = make_flow(9, 160)
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch(flow.commands[:100])
        before = host.refresh().state_hash()
        seq = host.seq
        conn = raw_connect(tmp_path / DB_NAME)
        conn.execute(
            f"CREATE TRIGGER fail_write BEFORE INSERT ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'write refused by the test'); END"
        )
        conn.close()
        with pytest.raises(TachyonError):
            # A batch that surely trades: bob crosses the book both ways.
            host.submit_batch(
                [
                    *flow.commands[100:130],
                    Deposit(BOB, USDC, 10**9),
                    Deposit(BOB, "BASE", 10**4),
                    PlaceLimit(BOB, "BASE/USDC", Side.BID, 10**4, 40),
                    PlaceLimit(BOB, "BASE/USDC", Side.ASK, 1, 40),
                ]
            )
        assert host.seq == seq
        assert host.refresh().state_hash() == before
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert view.head_seq() == seq
        assert_view_matches(tmp_path, host.refresh())
        conn = raw_connect(tmp_path / DB_NAME)
        conn.execute("DROP TRIGGER fail_write")
        conn.close()
        host.submit_batch(flow.commands[100:])
        assert host.seq > seq
        assert_view_matches(tmp_path, host.refresh())


def test_a_writer_without_the_read_model_leaves_it_stale_until_one_with_it_writes(
    tmp_path: Path,
) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit("alice", "USDC", 10))
    view = ReadView.open(tmp_path)
    assert view is not None
    view.close()  # a reader's transaction would hold back the next writer's switch to WAL
    with EmbeddedExchange.open(tmp_path, read_model=False) as host:
        host.submit(Deposit("alice", "USDC", 5))
        host.submit(PlaceLimit("alice", "BASE/USDC", Side.BID, 1, 3))
        assert host.read_model is False
    assert ReadView.open(tmp_path) is None  # behind the journal: readers recover instead
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit("bob", "BASE", 2))
        assert_view_matches(tmp_path, host.refresh(), all_trades=False)
