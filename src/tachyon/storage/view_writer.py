"""The read model's writer: what one batch of commands touched, and the SQL that brings the view
tables (`db.VIEW_SCHEMA`) to the exchange's state inside the batch's write transaction.

Incremental when the view was current before the batch (its sequence number is the exchange's):
only the orders and balances the batch touched are read back from the service and written.
Otherwise (a fresh or upgraded database), and after a fee change, the tables are rebuilt from
the whole state. Never commits: the host commits the view with the journal entries, or neither.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import assert_never

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import Side, Trade
from tachyon.errors import TachyonError
from tachyon.exchange.commands import (
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SignedCommand,
    Withdraw,
    decode_command,
)
from tachyon.exchange.service import DexService, OwnedOrder, Placement
from tachyon.exchange.state_machine import Exchange, Outcome
from tachyon.storage.db import INT_SQL_MAX, int_to_sql

_SqlRow = tuple[int | str | None, ...]
_BID = Side.BID

_UPSERT_ORDER = "INSERT OR REPLACE INTO view_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_DELETE_ORDER = "DELETE FROM view_orders WHERE order_id = ?"
_UPSERT_BALANCE = "INSERT OR REPLACE INTO view_balances VALUES (?, ?, ?, ?)"
_DELETE_BALANCE = "DELETE FROM view_balances WHERE account = ? AND token = ?"
_INSERT_TRADE = "INSERT INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_REPLACE_TRADE = "INSERT OR REPLACE INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_COPY_TRADE = "INSERT OR IGNORE INTO view_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def view_seq(conn: sqlite3.Connection) -> int | None:
    """The journal sequence number the view reflects; None if it is stale."""
    row = conn.execute("SELECT seq FROM view_meta").fetchone()
    seq: int | None = None if row is None else row[0]
    return seq


class ViewBatch:
    """The view's side of one write transaction: `apply` each command through it, then `write`
    once the journal entries are in, then `close` whatever happened."""

    __slots__ = (
        "_balances",
        "_exchange",
        "_full",
        "_orders",
        "_reduced",
        "_registry",
        "_rested",
        "_stale",
        "_traders",
        "_trades",
    )

    def __init__(self, conn: sqlite3.Connection, exchange: Exchange) -> None:
        """Read whether the view is current; call inside the write transaction, after the
        catch-up on other writers' entries."""
        self._exchange = exchange
        self._stale = view_seq(conn) != exchange.seq
        self._full = self._stale  # rebuild orders, balances, markets and tokens
        self._registry = False  # rewrite markets and tokens
        # Orders that rested in this batch, as placed; ids of orders changed after they rested
        # (by fills, self-trade prevention or a cancel), in this batch or before.
        self._rested: dict[OrderId, tuple[PlaceLimit, Placement]] = {}
        self._orders: set[OrderId] = set()
        # Accounts whose balances of a market's two tokens changed, by market (plain strings
        # are cheaper to collect than (account, token) pairs); other changed balances.
        self._traders: dict[str, set[str]] = {}
        self._balances: set[tuple[str, str]] = set()
        self._trades: list[_SqlRow] = []
        self._reduced: list[OrderId] = []
        exchange.service.reduced_orders = self._reduced

    def close(self) -> None:
        self._exchange.service.reduced_orders = None

    def apply(self, command: AnyCommand, seq: int, ts_ns: int) -> Outcome:
        """`Exchange.apply`, noting what the command changed; a command that raises (and so
        changed nothing) notes nothing."""
        if type(command) is PlaceLimit or type(command) is PlaceMarket:  # the hot path
            outcome = self._exchange.apply(command, seq, ts_ns)
            assert type(outcome) is Placement
            self._note_placement(command, outcome, seq, ts_ns)
            return outcome
        inner: AnyCommand | None = command
        if type(command) is SignedCommand:
            try:
                inner = decode_command(command.body)
            except TachyonError:
                inner = None  # the exchange refuses it with the same error
        cancelled: OwnedOrder | None = None
        if type(inner) is CancelOrder:
            cancelled = self._exchange.service.get_order(OrderId(inner.order_id))
        outcome = self._exchange.apply(command, seq, ts_ns)
        match inner:
            case PlaceLimit() | PlaceMarket():
                assert type(outcome) is Placement
                self._note_placement(inner, outcome, seq, ts_ns)
            case CancelOrder():
                assert cancelled is not None, "a cancel applied to an order that was not open"
                self._orders.add(cancelled.order.order_id)
                self._balances.add((cancelled.order.owner, cancelled.locked_token))
            case Deposit() | Withdraw():
                self._balances.add((AccountId(inner.account), TokenId(inner.token)))
            case SetFees():  # rare: open orders of the market re-lock or are cancelled
                self._full = True
            case AddMarket() | RegisterToken():
                self._registry = True
            case SignedCommand() | None:
                raise AssertionError("the exchange applied a signed command it cannot decode")
            case _:
                assert_never(inner)
        return outcome

    def _note_placement(
        self, command: PlaceLimit | PlaceMarket, placement: Placement, seq: int, ts_ns: int
    ) -> None:
        market = command.market
        traders = self._traders.get(market)
        if traders is None:
            traders = self._traders[market] = set()
        traders.add(command.account)
        if placement.open_qty:
            assert type(command) is PlaceLimit
            self._rested[placement.order_id] = (command, placement)
        trades = placement.trades
        if trades:
            add_trader = traders.add
            add_order = self._orders.add
            rows = self._trades
            for trade in trades:
                add_trader(trade.maker_owner)
                add_order(trade.maker_order_id)
                if trade.price <= INT_SQL_MAX and trade.qty <= INT_SQL_MAX:
                    side = "bid" if trade.taker_side is _BID else "ask"
                    rows.append((market, *trade[:7], side, seq, ts_ns))
                else:
                    rows.append(_trade_row(market, trade, seq, ts_ns))
        reduced = self._reduced
        if reduced:  # resting orders that self-trade prevention shrank or cancelled
            self._orders.update(reduced)
            reduced.clear()

    # -- writing ---------------------------------------------------------------------------

    def write(self, conn: sqlite3.Connection) -> None:
        """Bring the view to the exchange's state and sequence number (inside the caller's
        transaction, after its journal entries)."""
        if self._full:
            _rebuild(conn, self._exchange.service)
        else:
            self._write_changes(conn)
            if self._registry:
                _write_registry(conn, self._exchange.service)
        if self._trades:  # a stale view's trades are not known to end before this batch's
            conn.executemany(_REPLACE_TRADE if self._stale else _INSERT_TRADE, self._trades)
        if self._stale:  # trades from before the view existed: what the engines still hold
            _copy_recent_trades(conn, self._exchange.service)
        conn.execute("INSERT OR REPLACE INTO view_meta VALUES (1, ?)", (self._exchange.seq,))

    def _write_changes(self, conn: sqlite3.Connection) -> None:
        service = self._exchange.service
        get_order = service.get_order
        rested = self._rested
        upserts: list[_SqlRow] = []
        deletes: list[tuple[int]] = []
        for order_id in self._orders:
            owned = get_order(order_id)
            rested_now = rested.pop(order_id, None) is not None
            if owned is not None:
                upserts.append(_order_row(owned))
            elif not rested_now:  # gone; an order that rested and went in this batch has no row
                deletes.append((order_id,))
        # Orders nothing touched since they rested: their rows are as placed.
        upserts.extend(_placed_row(command, placement) for command, placement in rested.values())
        if deletes:
            conn.executemany(_DELETE_ORDER, deletes)
        if upserts:
            conn.executemany(_UPSERT_ORDER, upserts)
        balances = self._balances
        for market, traders in self._traders.items():
            config = service.get_market(MarketId(market))
            traders.add(config.fees.fee_account)  # fees of the market's trades
            base, quote = config.base, config.quote
            for account in traders:
                balances.add((account, base))
                balances.add((account, quote))
        balance = service.balance
        balance_rows: list[_SqlRow] = []
        zeros: list[tuple[str, str]] = []
        for account, token in self._balances:
            record = balance(AccountId(account), TokenId(token))
            available, locked = record.available, record.locked
            if available or locked:
                balance_rows.append((account, token, int_to_sql(available), int_to_sql(locked)))
            else:
                zeros.append((account, token))
        if zeros:
            conn.executemany(_DELETE_BALANCE, zeros)
        if balance_rows:
            conn.executemany(_UPSERT_BALANCE, balance_rows)


def _order_row(owned: OwnedOrder) -> _SqlRow:
    order = owned.order
    return (
        order.order_id,
        order.owner,
        owned.market,
        "bid" if order.side is _BID else "ask",
        int_to_sql(order.price),
        int_to_sql(order.qty),
        int_to_sql(order.remaining_qty),
        int_to_sql(order.filled_qty),
    )


def _placed_row(command: PlaceLimit, placement: Placement) -> _SqlRow:
    """An order as it rested (remaining and filled quantities are at most `qty`)."""
    side = "bid" if command.side is _BID else "ask"
    price, qty = command.price, command.qty
    if price <= INT_SQL_MAX and qty <= INT_SQL_MAX:
        return (
            placement.order_id,
            command.account,
            command.market,
            side,
            price,
            qty,
            placement.open_qty,
            placement.filled_qty,
        )
    return (
        placement.order_id,
        command.account,
        command.market,
        side,
        int_to_sql(price),
        int_to_sql(qty),
        int_to_sql(placement.open_qty),
        int_to_sql(placement.filled_qty),
    )


def _trade_row(market: str, trade: Trade, seq: int | None, ts_ns: int | None) -> _SqlRow:
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


def _rebuild(conn: sqlite3.Connection, service: DexService) -> None:
    """Every balance and open order, markets and tokens, from the whole state."""
    conn.execute("DELETE FROM view_orders")
    conn.execute("DELETE FROM view_balances")
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
    conn.executemany(_UPSERT_BALANCE, balance_rows)
    # Every owner of an open order holds funds in it, so the ledger knows every owner. In id
    # order, the table's rows are appended rather than inserted all over it.
    rows = [_order_row(owned) for account in accounts for owned in service.open_orders(account)]
    rows.sort(key=_first)
    conn.executemany(_UPSERT_ORDER, rows)
    _write_registry(conn, service)


def _first(row: _SqlRow) -> int:
    order_id = row[0]
    assert type(order_id) is int
    return order_id


def _write_registry(conn: sqlite3.Connection, service: DexService) -> None:
    conn.execute("DELETE FROM view_markets")
    conn.execute("DELETE FROM view_tokens")
    conn.executemany(
        "INSERT INTO view_markets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
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
        ],
    )
    conn.executemany(
        "INSERT INTO view_tokens VALUES (?, ?)",
        [(meta.symbol, meta.decimals) for meta in service.tokens()],
    )


def _copy_recent_trades(conn: sqlite3.Connection, service: DexService) -> None:
    """The trades each engine still holds, without the sequence number and time of the command
    that made them (the state does not keep those); trades already in the view stay as they are."""
    conn.executemany(
        _COPY_TRADE,
        [
            _trade_row(config.market_id, trade, None, None)
            for config in service.markets()
            for trade in service.recent_trades(sys.maxsize, config.market_id)
        ],
    )
