"""The read model's audit: compare the view tables (`db.VIEW_SCHEMA`) with the rows the
replayed state gives (`view_writer.view_rows`), and the history (`view_trades`, the closed
orders, the open orders' placement times) with what the replay's events say
(`view_history.HistoryRecorder` over the whole journal), entry by entry; and rebuild them all
from the replay (`repair`).

History the view never recorded is no fault (it records from when it was built, and not what a
writer without it journaled): a row that is there must be what the replay says, but a row that
is missing, or a time or fee left NULL, is not reported. `repair` records it all.

Runs inside the caller's transaction (`tachyon.storage.audit`) and never commits.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable
from typing import Final, NamedTuple

from tachyon.exchange.events import Event
from tachyon.exchange.service import DexService
from tachyon.storage.view_history import HistoryRecorder, SqlRow, trade_row
from tachyon.storage.view_writer import (
    REPLACE_CLOSED,
    REPLACE_TRADE,
    VIEW_KEYS,
    _copy_recent_trades,
    _rebuild,
    view_rows,
    view_seq,
)

DIFFERENCES_MAX: Final = 10
"""How many differing rows an audit names (a wholly wrong table could have millions)."""

_TRADE_KEYS: Final = 2  # market, trade_id
_TRADE_SEQ: Final = 9  # the first of seq, ts_ns, maker_fee, taker_fee in a view_trades row
_TRADE_FEES: Final = 11  # the first of maker_fee, taker_fee
_TRADE_COLUMNS: Final = (
    "market",
    "trade_id",
    "price",
    "qty",
    "maker_order_id",
    "taker_order_id",
    "maker",
    "taker",
    "taker_side",
    "seq",
    "ts_ns",
    "maker_fee",
    "taker_fee",
)
_CLOSED_KEYS: Final = 3  # account, closed_seq, order_id
_CLOSED_PLACED: Final = 10  # ts_ns, when the order was placed
_CLOSED_COLUMNS: Final = (
    "account",
    "closed_seq",
    "order_id",
    "market",
    "side",
    "price",
    "qty",
    "filled",
    "status",
    "reason",
    "ts_ns",
    "closed_ts_ns",
)


class ReadModelCheck(NamedTuple):
    """The read model against the replayed state: "ok", "stale" (behind the journal, which is
    no fault: the next write rebuilds it) or "mismatch", with the first rows that differ."""

    status: str
    seq: int | None  # the journal sequence number `view_meta` says the tables reflect
    differences: tuple[str, ...]


class ReadModelAudit:
    """Created inside the audit's transaction before the replay; `observe` each replayed
    entry's events, then `result` (or `repair`) with the state after the last one."""

    __slots__ = ("_closed", "_conn", "_history", "_journal_seq", "_repairing", "_trades", "seq")

    def __init__(self, conn: sqlite3.Connection, *, repairing: bool = False) -> None:
        """`repairing`: check the trades of a stale view too (a rebuild keeps its rows), and
        write the history as the replay makes it."""
        self._conn = conn
        self.seq = view_seq(conn)
        (journal_seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
        self._journal_seq: int = journal_seq
        self._repairing = repairing
        self._trades = _TradeCheck(conn) if repairing or self.current else None
        self._closed = _ClosedCheck(conn) if self._trades is not None and not repairing else None
        self._history = HistoryRecorder()  # the replay sees every order placed: no lookup
        if repairing:
            conn.execute("DELETE FROM view_closed_orders")

    @property
    def current(self) -> bool:
        """Whether the view says it reflects the journal's last entry."""
        return self.seq is not None and self.seq == self._journal_seq

    def observe(self, seq: int, ts_ns: int, events: list[Event]) -> None:
        """The events of the replayed entry `seq`, made at `ts_ns`."""
        if self._trades is None:
            return
        history = self._history
        history.entry(seq, ts_ns, events)
        if history.trades:
            self._trades.observe(history.trades)
            if self._repairing:
                self._conn.executemany(REPLACE_TRADE, history.trades)
            history.trades.clear()
        if history.closed:
            if self._closed is not None:
                self._closed.observe(history.closed)
            if self._repairing:
                self._conn.executemany(REPLACE_CLOSED, history.closed)
            history.closed.clear()

    def result(self, service: DexService) -> ReadModelCheck:
        """The tables against `service`, the state after the whole journal."""
        if self.seq is not None and self.seq > self._journal_seq:
            ahead = (
                f"view_meta differs from the journal: the view says it reflects sequence"
                f" {self.seq}, the journal ends at {self._journal_seq}"
            )
            return ReadModelCheck("mismatch", self.seq, (ahead,))
        if self._trades is None:
            return ReadModelCheck("stale", self.seq, ())
        differences = _table_differences(self._conn, service)
        differences.extend(_time_differences(self._conn, self._history.open_times()))
        differences.extend(self._trades.differences(self._conn, service))
        if self._closed is not None:
            differences.extend(self._closed.differences(self._conn))
        if differences:
            return ReadModelCheck("mismatch", self.seq, tuple(differences[:DIFFERENCES_MAX]))
        return ReadModelCheck("ok", self.seq, ())

    def repair(self, service: DexService, seq: int) -> None:
        """Rebuild every view table from `service`, the state after entry `seq` (the last)."""
        assert self._trades is not None, "created without repairing"
        _rebuild(self._conn, service, self._history.open_times(), keep=False)
        self._trades.repair(self._conn, service)
        self._conn.execute("INSERT OR REPLACE INTO view_meta VALUES (1, ?)", (seq,))


class _TradeCheck:
    """`view_trades` against the trades the replay makes: a row with a sequence number must
    be the trade that entry's command made, at its time, with its fees (or none recorded); a
    row without one (copied from the engines by a rebuild) must match a trade the replay made;
    every trade the engines still hold must be in the table."""

    __slots__ = ("_fixes", "_found", "_held")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._held: dict[SqlRow, SqlRow] = {
            tuple(row[:_TRADE_KEYS]): tuple(row)
            for row in conn.execute("SELECT * FROM view_trades")
        }
        self._found: list[str] = []
        self._fixes: list[SqlRow] = []  # the replay's rows for the rows that differ

    def observe(self, rows: list[SqlRow]) -> None:
        """The `view_trades` rows of one replayed entry's trades."""
        for row in rows:
            held = self._held.pop(row[:_TRADE_KEYS], None)
            if held is not None and not _trade_matches(held, row):
                self._fixes.append(row)
                self._found.append(_describe("view_trades", _TRADE_COLUMNS, held, row))

    def differences(self, conn: sqlite3.Connection, service: DexService) -> list[str]:
        found = list(self._found)
        found.extend(
            _describe("view_trades", _TRADE_COLUMNS, row, None)
            for row in sorted(self._held.values(), key=_order)  # no entry made them
        )
        for row in _recent_rows(service):
            if not _has_trade(conn, row):
                found.append(_describe("view_trades", _TRADE_COLUMNS, None, row))
            if len(found) >= DIFFERENCES_MAX:
                break
        return found

    def repair(self, conn: sqlite3.Connection, service: DexService) -> None:
        conn.executemany(
            "DELETE FROM view_trades WHERE market = ? AND trade_id = ?", list(self._held)
        )
        conn.executemany(REPLACE_TRADE, self._fixes)
        _copy_recent_trades(conn, service)


def _trade_matches(held: SqlRow, row: SqlRow) -> bool:
    if _same(held, row):
        return True
    if held[_TRADE_FEES:] == (None, None):  # recorded before fees were: the rest must match
        if held[_TRADE_SEQ:_TRADE_FEES] == (None, None):  # a rebuild's copy of an engine's
            return _same(held[:_TRADE_SEQ], row[:_TRADE_SEQ])
        return _same(held[:_TRADE_FEES], row[:_TRADE_FEES])
    return False


def _closed_matches(held: SqlRow, row: SqlRow) -> bool:
    """The row the replay makes, but for a placement time the view did not know (an order
    placed before the view recorded times)."""
    if held[_CLOSED_PLACED] is None:
        row = (*row[:_CLOSED_PLACED], None, *row[_CLOSED_PLACED + 1 :])
    return _same(held, row)


class _ClosedCheck:
    """`view_closed_orders` against the orders the replay closes: each row must be the one
    the replay makes for that order (a missing row, or a NULL placement time, is history the
    view never recorded)."""

    __slots__ = ("_conn", "_found", "_made")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._found: list[str] = []
        self._made: set[SqlRow] = set()  # the keys of the rows the replay made

    def observe(self, rows: list[SqlRow]) -> None:
        """The `view_closed_orders` rows of one replayed entry."""
        for row in rows:
            key = row[:_CLOSED_KEYS]
            self._made.add(key)
            held = self._conn.execute(
                "SELECT * FROM view_closed_orders"
                " WHERE account = ? AND closed_seq = ? AND order_id = ?",
                key,
            ).fetchone()
            if held is not None and not _closed_matches(tuple(held), row):
                self._found.append(_describe("view_closed_orders", _CLOSED_COLUMNS, held, row))

    def differences(self, conn: sqlite3.Connection) -> list[str]:
        found = list(self._found)
        for held in conn.execute("SELECT * FROM view_closed_orders"):
            if len(found) >= DIFFERENCES_MAX:
                break
            if tuple(held[:_CLOSED_KEYS]) not in self._made:  # no entry closed it
                found.append(_describe("view_closed_orders", _CLOSED_COLUMNS, held, None))
        return found


def _time_differences(conn: sqlite3.Connection, times: dict[int, int]) -> list[str]:
    """Open orders whose placement time in the view is not the journal time of the command
    that placed them (NULL, not recorded, is no difference)."""
    found: list[str] = []
    rows = conn.execute(
        "SELECT account, order_id, ts_ns FROM view_orders WHERE ts_ns IS NOT NULL"
        " ORDER BY account, order_id"
    )
    for account, order_id, ts_ns in rows:
        placed = times.get(order_id)
        if type(ts_ns) is not int or ts_ns != placed:
            found.append(
                f"view_orders differs from the journal: account={account} order_id={order_id}"
                f" has ts_ns={ts_ns} in the view, {placed} in the journal"
            )
            if len(found) >= DIFFERENCES_MAX:
                break
    return found


def _recent_rows(service: DexService) -> Iterable[SqlRow]:
    for config in service.markets():
        for trade in service.recent_trades(sys.maxsize, config.market_id):
            yield trade_row(config.market_id, trade, None, None)


def _has_trade(conn: sqlite3.Connection, row: SqlRow) -> bool:
    # Present is enough: a present row that differs was found by `observe`.
    held = conn.execute(
        "SELECT 1 FROM view_trades WHERE market = ? AND trade_id = ?", row[:_TRADE_KEYS]
    ).fetchone()
    return held is not None


def _table_differences(conn: sqlite3.Connection, service: DexService) -> list[str]:
    found: list[str] = []
    for table, rows in view_rows(service).items():
        keys = VIEW_KEYS[table]
        cursor = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 (a name from VIEW_KEYS)
        columns = tuple(column[0] for column in cursor.description)
        width = len(columns) if not rows else len(rows[0])  # the state's columns, no times
        held = {tuple(row[:keys]): tuple(row[:width]) for row in cursor}
        wanted = {row[:keys]: row for row in rows}
        for key in sorted(held.keys() | wanted.keys(), key=_order):
            view_row, state_row = held.get(key), wanted.get(key)
            if view_row is None or state_row is None or not _same(view_row, state_row):
                found.append(_describe(table, columns, view_row, state_row))
                if len(found) >= DIFFERENCES_MAX:
                    return found
    return found


def _same(left: SqlRow, right: SqlRow) -> bool:
    # Typed: a TEXT '1000' or a REAL 1000.0 is not the INTEGER 1000 the writer stores.
    return len(left) == len(right) and all(
        type(a) is type(b) and a == b for a, b in zip(left, right, strict=True)
    )


def _order(row: SqlRow) -> tuple[tuple[int, int | str], ...]:
    # INTEGERs first, in numeric order, then anything else as text (SQLite's own order for
    # the writer's values; a hostile BLOB or REAL must not break the sort).
    return tuple((0, value) if type(value) is int else (1, str(value)) for value in row)


def _describe(
    table: str, columns: tuple[str, ...], view_row: SqlRow | None, state_row: SqlRow | None
) -> str:
    some = view_row if view_row is not None else state_row
    assert some is not None
    keys = {"view_trades": _TRADE_KEYS, "view_closed_orders": _CLOSED_KEYS}.get(table)
    if keys is None:
        keys = VIEW_KEYS[table]
    key = " ".join(f"{name}={value}" for name, value in zip(columns, some[:keys], strict=False))
    return (
        f"{table} differs from the journal's state: {key} has"
        f" {_values(columns, keys, view_row)} in the view, {_values(columns, keys, state_row)}"
        " in the state"
    )


def _values(columns: tuple[str, ...], keys: int, row: SqlRow | None) -> str:
    if row is None:
        return "no row"
    return " ".join(
        f"{name}={value}" for name, value in zip(columns[keys:], row[keys:], strict=False)
    )
