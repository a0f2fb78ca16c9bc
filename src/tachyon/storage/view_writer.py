"""The read model's writer: the SQL that brings the view tables (`db.VIEW_SCHEMA`) to the
exchange's state inside a batch's write transaction, from the batch's events.

Incremental when the view was current before the batch (its sequence number was the
exchange's): the events say which orders, book levels and balances the batch changed, and their
rows are written as the commit leaves them (an order from the service, a level's quantity from
its engine, a balance from the ledger). Otherwise (a fresh or upgraded database), and after a fee
change, the tables are rebuilt from the whole state. Never commits: the host commits the view
with the journal entries, or neither.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import Side, Trade
from tachyon.exchange.events import (
    Deposited,
    FeesChanged,
    Filled,
    MarketAdded,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    StopAccepted,
    StopCancelled,
    StopTriggered,
    TokenRegistered,
    Withdrawn,
)
from tachyon.exchange.service import DexService, OwnedOrder
from tachyon.storage.changes import BatchChanges
from tachyon.storage.db import int_to_sql

SqlRow = tuple[int | str | None, ...]
"""A view table row as SQLite is given it."""
_SqlRow = SqlRow
_BID = Side.BID

_UPSERT_ORDER = "INSERT OR REPLACE INTO view_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_DELETE_ORDER = "DELETE FROM view_orders WHERE account = ? AND order_id = ?"
_UPSERT_LEVEL = "INSERT OR REPLACE INTO view_levels VALUES (?, ?, ?, ?)"
_DELETE_LEVEL = "DELETE FROM view_levels WHERE market = ? AND side = ? AND price = ?"
_UPSERT_BALANCE = "INSERT OR REPLACE INTO view_balances VALUES (?, ?, ?, ?)"
_DELETE_BALANCE = "DELETE FROM view_balances WHERE account = ? AND token = ?"
_INSERT_TRADE = "INSERT INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_REPLACE_TRADE = "INSERT OR REPLACE INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_COPY_TRADE = "INSERT OR IGNORE INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        trades: list[_SqlRow] = []
        balances: set[tuple[str, str]] = set()
        traders: dict[str, set[str]] = {}  # by market: accounts whose two tokens may change
        full = self._stale
        registry = False
        for seq, ts_ns, events in changes.entries:
            for event in events:
                match event:
                    case Filled():
                        trade = event.trade
                        traders.setdefault(event.market, set()).update(
                            (trade.maker_owner, trade.taker_owner)
                        )
                        orders[trade.maker_order_id] = trade.maker_owner
                        trades.append(trade_row(event.market, trade, seq, ts_ns))
                    case OrderAccepted():
                        traders.setdefault(event.market, set()).add(event.owner)
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
                    case Deposited() | Withdrawn():
                        balances.add((event.account, event.token))
                    case FeesChanged():  # rare: open orders of the market re-lock or go
                        full = registry = True
                    case MarketAdded() | TokenRegistered():
                        registry = True
        if full:
            _rebuild(conn, service)
        else:
            _write_orders(conn, service, orders)
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
        if trades:  # a stale view's trades are not known to end before this batch's
            conn.executemany(_REPLACE_TRADE if self._stale else _INSERT_TRADE, trades)
        if self._stale:  # trades from before the view existed: what the engines still hold
            _copy_recent_trades(conn, service)
        conn.execute("INSERT OR REPLACE INTO view_meta VALUES (1, ?)", (changes.last_seq,))


def _write_orders(
    conn: sqlite3.Connection, service: DexService, orders: dict[OrderId, str]
) -> None:
    """Each changed order's row as the commit leaves it: gone, or its quantities now."""
    upserts: list[_SqlRow] = []
    deletes: list[tuple[str, int]] = []
    for order_id, owner in orders.items():
        owned = service.get_order(order_id)
        if owned is None:
            deletes.append((owner, order_id))
        else:
            upserts.append(_order_row(owned))
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
        available, locked = record.available, record.locked
        if available or locked:
            balance_rows.append((account, token, int_to_sql(available), int_to_sql(locked)))
        else:
            zeros.append((account, token))
    if zeros:
        conn.executemany(_DELETE_BALANCE, zeros)
    if balance_rows:
        conn.executemany(_UPSERT_BALANCE, balance_rows)


_LevelQty = Callable[[int], int]


def level_quantities(
    service: DexService, market: str, bids: Iterable[int], asks: Iterable[int]
) -> tuple[_LevelQty, _LevelQty]:
    """Functions of a price giving the live quantity of that bid and ask level (0 if none).
    The default engine's levels keep it (read, never changed, here: bids keyed by price, asks
    by -price); any other engine's are summed from its open orders."""
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
    wanted = {True: set(bids), False: set(asks)}
    sums: dict[tuple[bool, int], int] = {}
    for order in engine.open_orders():
        is_bid = order.side is _BID
        if order.price in wanted[is_bid]:
            key = (is_bid, order.price)
            sums[key] = sums.get(key, 0) + order.remaining_qty
    return (lambda price: sums.get((True, price), 0)), (lambda price: sums.get((False, price), 0))


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


def trade_row(market: str, trade: Trade, seq: int | None, ts_ns: int | None) -> _SqlRow:
    """A `view_trades` row: the trade, and the sequence number and time of its command."""
    return (
        market,
        trade.trade_id,
        int_to_sql(trade.price),
        int_to_sql(trade.qty),
        trade.maker_order_id,
        trade.taker_order_id,
        trade.maker_owner,
        trade.taker_owner,
        trade.taker_side.value,
        seq,
        ts_ns,
    )


VIEW_KEYS: dict[str, int] = {
    "view_balances": 2,
    "view_orders": 2,
    "view_levels": 3,
    "view_markets": 1,
    "view_tokens": 1,
}
"""The view tables `view_rows` gives, each with the number of its primary key's columns
(the first ones)."""


def view_rows(service: DexService) -> dict[str, list[_SqlRow]]:
    """The rows every view table but `view_trades` holds for the state of `service`, each
    table's in key order: what `_rebuild` writes and what `audit` compares the tables with."""
    accounts: set[AccountId] = set()
    balance_rows: list[_SqlRow] = []
    for meta in service.tokens():
        for account, record in service.ledger.accounts(meta.symbol).items():
            accounts.add(account)
            if record.available or record.locked:
                balance_rows.append(
                    (
                        account,
                        meta.symbol,
                        int_to_sql(record.available),
                        int_to_sql(record.locked),
                    )
                )
    # Every owner of an open order holds funds in it, so the ledger knows every owner. In key
    # order, the tables' rows are appended rather than inserted all over them.
    rows: list[_SqlRow] = []
    levels: dict[tuple[str, str, int], int] = {}
    for account in sorted(accounts):
        for owned in service.open_orders(account):  # oldest first
            rows.append(_order_row(owned))
            order = owned.order
            key = (owned.market, order.side.value, order.price)
            levels[key] = levels.get(key, 0) + order.remaining_qty
    level_rows: list[_SqlRow] = [
        (market, side, int_to_sql(price), int_to_sql(qty))
        for (market, side, price), qty in sorted(levels.items())
    ]
    return {
        "view_balances": balance_rows,
        "view_orders": rows,
        "view_levels": level_rows,
        "view_markets": _market_rows(service),
        "view_tokens": _token_rows(service),
    }


def _rebuild(conn: sqlite3.Connection, service: DexService) -> None:
    """Every balance and open order, markets and tokens, from the whole state."""
    inserts = {
        "view_balances": _UPSERT_BALANCE,
        "view_orders": _UPSERT_ORDER,
        "view_levels": _UPSERT_LEVEL,
        "view_markets": _INSERT_MARKET,
        "view_tokens": _INSERT_SYMBOL,
    }
    for table, rows in view_rows(service).items():
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 (a name from VIEW_KEYS)
        conn.executemany(inserts[table], rows)


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
