"""The read model's writer: the SQL that brings the view tables (`db.VIEW_SCHEMA`) to the
exchange's state inside a batch's write transaction, from the batch's events.

Incremental when the view was current before the batch (its sequence number was the
exchange's): the events say which orders, book levels and balances the batch changed, and their
rows are written as the commit leaves them (an order from the service, a level's quantity from
its engine, a balance from the ledger). Otherwise (a fresh or upgraded database), and after a fee
change, the tables are rebuilt from the whole state. Either way the batch's history (its trades
with their fees, the orders it closed, when each new order was placed) is recorded from its
events (`tachyon.storage.view_history`); a rebuild keeps the placement times the view holds.
Never commits: the host commits the view with the journal entries, or neither.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Final

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import Side
from tachyon.exchange.events import (
    DebtSettled,
    Deposited,
    FeesChanged,
    Filled,
    MarketAdded,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    PaymentCredited,
    PaymentReversed,
    StopAccepted,
    StopCancelled,
    StopTriggered,
    TokenRegistered,
    WithdrawalClosed,
    WithdrawalRequested,
    Withdrawn,
)
from tachyon.exchange.service import DexService, OwnedOrder
from tachyon.storage.changes import BatchChanges
from tachyon.storage.db import int_from_sql, int_to_sql
from tachyon.storage.view_history import HistoryRecorder, Known, Lookup, SqlRow, trade_row

_SqlRow = SqlRow
_BID = Side.BID

_UPSERT_ORDER = (
    "INSERT INTO view_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, order_id)"
    " DO UPDATE SET market = excluded.market, side = excluded.side, price = excluded.price,"
    " qty = excluded.qty, remaining = excluded.remaining, filled = excluded.filled,"
    " ts_ns = coalesce(excluded.ts_ns, view_orders.ts_ns)"
)  # a changed order keeps the time it was placed
_INSERT_ORDER = "INSERT INTO view_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_OPEN_ORDERS = (
    "SELECT v.order_id, v.account, v.market, v.side, v.price, v.qty, v.filled, v.ts_ns"
    " FROM json_each(?) AS j JOIN view_orders AS v ON v.account = json_extract(j.value, '$[0]')"
    " AND v.order_id = json_extract(j.value, '$[1]')"
)
"""The rows of the given [owner, order id] pairs, one primary key lookup each, in one query."""
_DELETE_ORDER = "DELETE FROM view_orders WHERE account = ? AND order_id = ?"
_UPSERT_LEVEL = "INSERT OR REPLACE INTO view_levels VALUES (?, ?, ?, ?)"
_DELETE_LEVEL = "DELETE FROM view_levels WHERE market = ? AND side = ? AND price = ?"
_FUNDS_EVENTS: Final = (
    Deposited,
    Withdrawn,
    WithdrawalRequested,
    WithdrawalClosed,
    PaymentCredited,
    PaymentReversed,
    DebtSettled,
)
"""Events that change one account's balance of one token outside trading."""
_UPSERT_BALANCE = "INSERT OR REPLACE INTO view_balances VALUES (?, ?, ?, ?, ?)"
_DELETE_BALANCE = "DELETE FROM view_balances WHERE account = ? AND token = ?"
_TRADE_VALUES = "INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_TRADE = f"INSERT {_TRADE_VALUES}"
REPLACE_TRADE = f"INSERT OR REPLACE {_TRADE_VALUES}"
_COPY_TRADE = f"INSERT OR IGNORE {_TRADE_VALUES}"
REPLACE_CLOSED = (
    "INSERT OR REPLACE INTO view_closed_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MARKET = "INSERT INTO view_markets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_SYMBOL = "INSERT INTO view_tokens VALUES (?, ?)"


def view_seq(conn: sqlite3.Connection) -> int | None:
    """The journal sequence number the view reflects; None if it is stale."""
    row = conn.execute("SELECT seq FROM view_meta").fetchone()
    seq: int | None = None if row is None else row[0]
    return seq


class ViewBatch:
    """The view's side of one write transaction: created inside it (after the catch-up on
    other writers' entries, before the batch is applied), then `write` with the batch's
    changes once the journal entries are in."""

    __slots__ = ("_exchange_seq", "_stale")

    def __init__(self, conn: sqlite3.Connection, seq: int) -> None:
        """`seq`: the exchange's sequence number before the batch."""
        self._stale = view_seq(conn) != seq
        self._exchange_seq = seq

    def write(self, conn: sqlite3.Connection, service: DexService, changes: BatchChanges) -> None:
        """Bring the view to the state after `changes` (inside the caller's transaction, after
        its journal entries)."""
        orders: dict[OrderId, str] = {}  # the orders the batch changed, with their owners
        placed: set[int] = set()  # the orders the batch placed
        balances: set[tuple[str, str]] = set()
        traders: dict[str, set[str]] = {}  # by market: accounts whose two tokens may change
        full = self._stale
        registry = False
        for _, _, events in changes.entries:
            for event in events:
                match event:
                    case Filled():
                        trade = event.trade
                        traders.setdefault(event.market, set()).update(
                            (trade.maker_owner, trade.taker_owner)
                        )
                        orders[trade.maker_order_id] = trade.maker_owner
                    case OrderAccepted():
                        traders.setdefault(event.market, set()).add(event.owner)
                        placed.add(event.order_id)
                    case OrderRested() | OrderReduced():
                        orders[event.order_id] = event.owner
                    case OrderAmended():
                        traders.setdefault(event.market, set()).add(event.owner)
                        orders[event.order_id] = event.owner
                    case StopAccepted() | StopTriggered() | StopCancelled():  # funds (un)locked
                        traders.setdefault(event.market, set()).add(event.owner)
                    case OrderCancelled():
                        traders.setdefault(event.market, set()).add(event.owner)
                        orders[event.order_id] = event.owner
                    case _ if isinstance(event, _FUNDS_EVENTS):
                        balances.add((event.account, event.token))
                    case FeesChanged():  # rare: open orders of the market re-lock or go
                        full = registry = True
                    case MarketAdded() | TokenRegistered():
                        registry = True
        # The orders open before the batch as the view holds them (read before it changes):
        # not known if the view is stale, for it may have missed commands.
        before = {order_id: owner for order_id, owner in orders.items() if order_id not in placed}
        history = HistoryRecorder(_unknown if self._stale else _lookup(conn, before))
        for seq, ts_ns, events in changes.entries:
            history.entry(seq, ts_ns, events)
        times = history.open_times()
        if full:
            _rebuild(conn, service, times)
        else:
            _write_orders(conn, service, orders, times)
            _write_levels(conn, service, changes)
            for market, accounts in traders.items():
                config = service.get_market(MarketId(market))
                accounts.add(config.fees.fee_account)  # fees of the market's trades
                for account in accounts:
                    balances.add((account, config.base))
                    balances.add((account, config.quote))
            _write_balances(conn, service, balances)
            if registry:
                _write_registry(conn, service)
        trades = history.trades
        if trades:  # a stale view's trades are not known to end before this batch's
            conn.executemany(REPLACE_TRADE if self._stale else _INSERT_TRADE, trades)
        if history.closed:
            conn.executemany(REPLACE_CLOSED, history.closed)
        if self._stale:  # trades from before the view existed: what the engines still hold
            _copy_recent_trades(conn, service)
        conn.execute("INSERT OR REPLACE INTO view_meta VALUES (1, ?)", (changes.last_seq,))


def _lookup(conn: sqlite3.Connection, orders: dict[OrderId, str]) -> Lookup:
    """The view's rows of `orders` (the batch touched them), read at once."""
    if not orders:
        return _unknown
    pairs = json.dumps([[owner, order_id] for order_id, owner in orders.items()])
    rows = {row[0]: row for row in conn.execute(_OPEN_ORDERS, (pairs,))}

    def known(owner: str, order_id: int) -> Known | None:
        row = rows.get(order_id)
        if row is None:
            return None
        _, account, market, side, price, qty, filled, ts_ns = row
        assert account == owner
        return Known(
            owner,
            market,
            side,
            int_from_sql(price),
            int_from_sql(qty),
            int_from_sql(filled),
            ts_ns,
        )

    return known


def _unknown(_owner: str, _order_id: int) -> Known | None:
    return None


def _write_orders(
    conn: sqlite3.Connection,
    service: DexService,
    orders: dict[OrderId, str],
    times: dict[int, int],
) -> None:
    """Each changed order's row as the commit leaves it: gone, or its quantities now (with
    the time it was placed, if the batch placed it)."""
    upserts: list[_SqlRow] = []
    deletes: list[tuple[str, int]] = []
    for order_id, owner in orders.items():
        owned = service.get_order(order_id)
        if owned is None:
            deletes.append((owner, order_id))
        else:
            upserts.append((*_order_row(owned), times.get(order_id)))
    if deletes:
        conn.executemany(_DELETE_ORDER, deletes)
    if upserts:
        conn.executemany(_UPSERT_ORDER, upserts)


def _write_levels(conn: sqlite3.Connection, service: DexService, changes: BatchChanges) -> None:
    level_rows: list[_SqlRow] = []
    emptied: list[_SqlRow] = []
    for market, (bids, asks) in changes.levels().items():
        bid_levels, ask_levels = level_quantities(service, market, bids, asks)
        for side, prices, quantities in (("bid", bids, bid_levels), ("ask", asks, ask_levels)):
            for price in prices:
                qty = quantities(price)
                if qty:
                    level_rows.append((market, side, int_to_sql(price), int_to_sql(qty)))
                else:
                    emptied.append((market, side, int_to_sql(price)))
    if emptied:
        conn.executemany(_DELETE_LEVEL, emptied)
    if level_rows:
        conn.executemany(_UPSERT_LEVEL, level_rows)


def _write_balances(
    conn: sqlite3.Connection, service: DexService, balances: set[tuple[str, str]]
) -> None:
    balance_rows: list[_SqlRow] = []
    zeros: list[tuple[str, str]] = []
    for account, token in balances:
        record = service.balance(AccountId(account), TokenId(token))
        available, locked, debt = record.available, record.locked, record.debt
        if available or locked or debt:
            balance_rows.append(
                (account, token, int_to_sql(available), int_to_sql(locked), int_to_sql(debt))
            )
        else:
            zeros.append((account, token))
    if zeros:
        conn.executemany(_DELETE_BALANCE, zeros)
    if balance_rows:
        conn.executemany(_UPSERT_BALANCE, balance_rows)


_LevelQty = Callable[[int], int]


_ALL_LEVELS: Final = 1 << 62  # a depth beyond any book's


def level_quantities(
    service: DexService, market: str, bids: Iterable[int], asks: Iterable[int]
) -> tuple[_LevelQty, _LevelQty]:
    """Functions of a price giving the live quantity of that bid and ask level (0 if none).
    The default engine's levels keep it (read, never changed, here: bids keyed by price, asks
    by -price); any other engine's are read from its whole book."""
    engine: OrderBookEngine = service._market(MarketId(market)).engine
    if type(engine) is InMemoryEngine:
        bid_levels = engine._bids.levels
        ask_levels = engine._asks.levels

        def bid_qty(price: int) -> int:
            level = bid_levels.get(price)
            return 0 if level is None else level.qty

        def ask_qty(price: int) -> int:
            level = ask_levels.get(-price)
            return 0 if level is None else level.qty

        return bid_qty, ask_qty
    book = engine.snapshot(_ALL_LEVELS)  # what it shows: an iceberg's display, not its whole
    shown_bids, shown_asks = dict(book.bids), dict(book.asks)
    return (lambda price: shown_bids.get(price, 0)), (lambda price: shown_asks.get(price, 0))


def _order_row(owned: OwnedOrder) -> _SqlRow:
    order = owned.order
    return (
        order.owner,
        order.order_id,
        owned.market,
        "bid" if order.side is _BID else "ask",
        int_to_sql(order.price),
        int_to_sql(order.qty),
        int_to_sql(order.remaining_qty),
        int_to_sql(order.filled_qty),
    )


VIEW_KEYS: dict[str, int] = {
    "view_balances": 2,
    "view_orders": 2,
    "view_levels": 3,
    "view_markets": 1,
    "view_tokens": 1,
}
"""The view tables `view_rows` gives, each with the number of its primary key's columns
(the first ones). A `view_orders` row of the view has one more column than the state gives:
when the order was placed."""


def view_rows(service: DexService) -> dict[str, list[_SqlRow]]:
    """The rows every view table but `view_trades` holds for the state of `service`, each
    table's in key order: what `_rebuild` writes and what `audit` compares the tables with."""
    accounts: set[AccountId] = set()
    balance_rows: list[_SqlRow] = []
    for meta in service.tokens():
        for account, record in service.ledger.accounts(meta.symbol).items():
            accounts.add(account)
            debt = service.debts(account).get(meta.symbol, 0)
            if record.available or record.locked or debt:
                balance_rows.append(
                    (
                        account,
                        meta.symbol,
                        int_to_sql(record.available),
                        int_to_sql(record.locked),
                        int_to_sql(debt),
                    )
                )
    # Every owner of an open order holds funds in it, so the ledger knows every owner. In key
    # order, the tables' rows are appended rather than inserted all over them.
    rows: list[_SqlRow] = []
    for account in sorted(accounts):
        rows.extend(_order_row(owned) for owned in service.open_orders(account))  # oldest first
    levels: list[tuple[str, str, int, int]] = []
    for config in service.markets():  # what the book shows (an iceberg: its display)
        book = service.snapshot(_ALL_LEVELS, config.market_id)
        levels.extend((config.market_id, "bid", price, qty) for price, qty in book.bids)
        levels.extend((config.market_id, "ask", price, qty) for price, qty in book.asks)
    level_rows: list[_SqlRow] = [
        (market, side, int_to_sql(price), int_to_sql(qty))
        for market, side, price, qty in sorted(levels)
    ]
    return {
        "view_balances": balance_rows,
        "view_orders": rows,
        "view_levels": level_rows,
        "view_markets": _market_rows(service),
        "view_tokens": _token_rows(service),
    }


def _rebuild(
    conn: sqlite3.Connection, service: DexService, times: dict[int, int], *, keep: bool = True
) -> None:
    """Every balance and open order, markets and tokens, from the whole state. Each open
    order's placement time is `times`', else (if `keep`) the one the view held for it."""
    inserts = {
        "view_balances": _UPSERT_BALANCE,
        "view_orders": _INSERT_ORDER,
        "view_levels": _UPSERT_LEVEL,
        "view_markets": _INSERT_MARKET,
        "view_tokens": _INSERT_SYMBOL,
    }
    held: dict[int, int] = {}
    if keep:
        query = "SELECT order_id, ts_ns FROM view_orders WHERE ts_ns IS NOT NULL"
        held = dict(conn.execute(query).fetchall())
    held.update(times)
    for table, rows in view_rows(service).items():
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 (a name from VIEW_KEYS)
        if table == "view_orders":
            conn.executemany(inserts[table], [(*row, held.get(_order_id(row))) for row in rows])
        else:
            conn.executemany(inserts[table], rows)


def _order_id(row: _SqlRow) -> int:
    """The order id of a `view_orders` row."""
    order_id = row[1]
    assert type(order_id) is int
    return order_id


def _write_registry(conn: sqlite3.Connection, service: DexService) -> None:
    conn.execute("DELETE FROM view_markets")
    conn.execute("DELETE FROM view_tokens")
    conn.executemany(_INSERT_MARKET, _market_rows(service))
    conn.executemany(_INSERT_SYMBOL, _token_rows(service))


def _market_rows(service: DexService) -> list[_SqlRow]:
    return [
        (
            config.market_id,
            config.base,
            config.quote,
            int_to_sql(config.tick_size),
            int_to_sql(config.lot_size),
            int_to_sql(config.min_qty),
            config.base_decimals,
            config.quote_decimals,
            config.fees.maker_bps,
            config.fees.taker_bps,
            config.fee_token,
            config.fees.fee_account,
        )
        for config in service.markets()
    ]


def _token_rows(service: DexService) -> list[_SqlRow]:
    return [(meta.symbol, meta.decimals) for meta in service.tokens()]


def _copy_recent_trades(conn: sqlite3.Connection, service: DexService) -> None:
    """The trades each engine still holds, without the sequence number and time of the command
    that made them (the state does not keep those); trades already in the view stay as they are."""
    conn.executemany(
        _COPY_TRADE,
        [
            trade_row(config.market_id, trade, None, None)
            for config in service.markets()
            for trade in service.recent_trades(sys.maxsize, config.market_id)
        ],
    )
