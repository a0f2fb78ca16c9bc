"""The read model's writer: what one batch of commands touched, and the SQL that brings the view
tables (`db.VIEW_SCHEMA`) to the exchange's state inside the batch's write transaction.

Incremental when the view was current before the batch (its sequence number is the exchange's):
only the orders, book levels and balances the batch touched are read back from the service (a
level's quantity from its engine) and written.
Otherwise (a fresh or upgraded database), and after a fee change, the tables are rebuilt from
the whole state. Never commits: the host commits the view with the journal entries, or neither.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import NamedTuple, assert_never

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import Side, Trade
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import (
    AddMarket,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SetReceiveWindow,
    Withdraw,
)
from tachyon.exchange.service import DexService, OwnedOrder, Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal
from tachyon.storage.db import INT_SQL_MAX, int_to_sql

_SqlRow = tuple[int | str | None, ...]
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


def view_seq(conn: sqlite3.Connection) -> int | None:
    """The journal sequence number the view reflects; None if it is stale."""
    row = conn.execute("SELECT seq FROM view_meta").fetchone()
    seq: int | None = None if row is None else row[0]
    return seq


class _Touched:
    """What a batch changed in one market: the accounts whose balances of its two tokens
    changed (plain strings are cheaper to collect than (account, token) pairs) and the prices
    of the book levels it changed, by side."""

    __slots__ = ("asks", "bids", "traders")

    def __init__(self) -> None:
        self.traders: set[str] = set()
        self.bids: set[int] = set()
        self.asks: set[int] = set()


class BatchChanges(NamedTuple):
    """What one committed batch changed, for observers such as the node's streams (read from
    `EmbeddedExchange.last_changes`): its sequence numbers, its placements (decoded, with
    their outcome, sequence number and time), the orders it cancelled as they were before, the
    resting orders self-trade prevention shrank or closed (market, owner, order id, whether a
    bid, price, the taker's sequence number), and by market the prices of the bid and ask levels it changed;
    `levels_known` is False after a fee change (which may cancel orders anywhere)."""

    first_seq: int
    last_seq: int
    placed: list[tuple[PlaceLimit | PlaceMarket, Placement, int, int]]
    cancelled: list[tuple[OwnedOrder, int]]
    self_trade: list[tuple[str, str, OrderId, bool, int, int]]
    levels: dict[str, tuple[set[int], set[int]]]
    levels_known: bool


class ViewBatch:
    """The view's side of one write transaction: `apply` each command through it, then `write`
    once the journal entries are in, then `close` whatever happened."""

    __slots__ = (
        "_balances",
        "_cancelled",
        "_exchange",
        "_first_seq",
        "_full",
        "_levels_known",
        "_markets",
        "_orders",
        "_placed",
        "_reduced",
        "_registry",
        "_rested",
        "_stale",
        "_stp",
        "_trades",
    )

    def __init__(self, conn: sqlite3.Connection, exchange: Exchange) -> None:
        """Read whether the view is current; call inside the write transaction, after the
        catch-up on other writers' entries."""
        self._exchange = exchange
        self._stale = view_seq(conn) != exchange.seq
        self._full = self._stale  # rebuild orders, levels, balances, markets and tokens
        self._first_seq = exchange.seq + 1
        self._levels_known = True
        self._registry = False  # rewrite markets and tokens
        # What `apply` saw, noted by `write` in one pass (cheaper than a call per command):
        # placements with their command, sequence number and time; cancelled orders as they
        # were just before.
        self._placed: list[tuple[PlaceLimit | PlaceMarket, Placement, int, int]] = []
        self._cancelled: list[tuple[OwnedOrder, int]] = []
        # Orders that rested in this batch, as placed; orders changed after they rested (by
        # fills, self-trade prevention or a cancel), in this batch or before, with their owner.
        self._rested: dict[OrderId, tuple[PlaceLimit, Placement]] = {}
        self._orders: dict[OrderId, str] = {}
        # Resting orders that self-trade prevention shrank or closed: (market, owner, order id,
        # whether a bid, price, sequence number of the taker).
        self._stp: list[tuple[str, str, OrderId, bool, int, int]] = []
        self._markets: dict[str, _Touched] = {}
        self._balances: set[tuple[str, str]] = set()
        self._trades: list[_SqlRow] = []
        self._reduced: list[tuple[OrderId, int]] = []
        exchange.service.reduced_orders = self._reduced

    def close(self) -> None:
        self._exchange.service.reduced_orders = None

    def apply(self, admitted: Admitted, seq: int, ts_ns: int) -> Outcome | Refusal:
        """`Exchange.apply`, noting what the command changed; a command that raises (and so
        changed nothing) or is refused (which changes no view: only its nonce) notes nothing."""
        command = admitted.command
        kind = type(command)
        if kind is PlaceLimit or kind is PlaceMarket:  # the hot path
            outcome = self._exchange.apply(admitted, seq, ts_ns)
            if type(outcome) is not Placement:
                return outcome  # a Refusal
            self._placed.append((command, outcome, seq, ts_ns))  # type: ignore[arg-type]
            if self._reduced:
                self._note_reduced(command, seq)  # type: ignore[arg-type]
            return outcome
        if kind is CancelOrder:
            cancelled = self._exchange.service.get_order(OrderId(command.order_id))  # type: ignore[union-attr]
            outcome = self._exchange.apply(admitted, seq, ts_ns)
            if type(outcome) is Refusal:
                return outcome
            assert cancelled is not None, "a cancel applied to an order that was not open"
            self._cancelled.append((cancelled, seq))
            return outcome
        return self._apply_other(admitted, seq, ts_ns)

    def _apply_other(self, admitted: Admitted, seq: int, ts_ns: int) -> Outcome | Refusal:
        outcome = self._exchange.apply(admitted, seq, ts_ns)
        if type(outcome) is Refusal:
            return outcome
        command = admitted.command
        match command:
            case Deposit() | Withdraw():
                self._balances.add((AccountId(command.account), TokenId(command.token)))
            case SetFees():  # rare: open orders of the market re-lock or are cancelled
                self._full = True
                self._levels_known = False
            case AddMarket() | RegisterToken():
                self._registry = True
            case SetReceiveWindow():
                pass  # no view shows it
            case PlaceLimit() | PlaceMarket() | CancelOrder():
                raise AssertionError("`apply` notes placements and cancels")
            case _:
                assert_never(command)
        return outcome

    def _touched(self, market: str) -> _Touched:
        touched = self._markets.get(market)
        if touched is None:
            touched = self._markets[market] = _Touched()
        return touched

    def _note_reduced(self, command: PlaceLimit | PlaceMarket, seq: int) -> None:
        """The taker's own resting orders that self-trade prevention shrank or closed: their
        levels are on the other side, at the prices the service recorded."""
        market, account = command.market, command.account
        touched = self._touched(market)
        maker_is_bid = command.side is not _BID
        makers = touched.bids if maker_is_bid else touched.asks
        for order_id, price in self._reduced:
            self._orders[order_id] = account
            makers.add(price)
            self._stp.append((market, account, order_id, maker_is_bid, price, seq))
        self._reduced.clear()

    def _note(self) -> None:
        """What the batch's placements and cancels changed: orders, levels, traders, trades."""
        orders = self._orders
        rested = self._rested
        rows = self._trades
        markets = self._markets
        last_market: str | None = None
        touched = _Touched()
        for command, placement, seq, ts_ns in self._placed:
            market = command.market
            if market is not last_market:
                touched = markets.get(market) or self._touched(market)
                last_market = market
            touched.traders.add(command.account)
            is_bid = command.side is _BID
            if placement.open_qty:
                assert type(command) is PlaceLimit
                rested[placement.order_id] = (command, placement)
                (touched.bids if is_bid else touched.asks).add(command.price)
            trades = placement.trades
            if trades:
                add_trader = touched.traders.add
                add_level = (touched.asks if is_bid else touched.bids).add  # the makers' side
                for trade in trades:
                    maker = trade.maker_owner
                    add_trader(maker)
                    orders[trade.maker_order_id] = maker
                    price = trade.price  # the maker's
                    add_level(price)
                    qty = trade.qty
                    if price <= INT_SQL_MAX and qty <= INT_SQL_MAX:
                        rows.append(
                            (
                                market,
                                trade.trade_id,
                                price,
                                qty,
                                trade.maker_order_id,
                                trade.taker_order_id,
                                maker,
                                trade.taker_owner,
                                trade.taker_side,  # a str
                                seq,
                                ts_ns,
                            )
                        )
                    else:
                        rows.append(_trade_row(market, trade, seq, ts_ns))
        for cancelled, _ in self._cancelled:
            order = cancelled.order
            orders[order.order_id] = order.owner
            self._balances.add((order.owner, cancelled.locked_token))
            touched = self._touched(cancelled.market)
            (touched.bids if order.side is _BID else touched.asks).add(order.price)

    def changes(self) -> BatchChanges:
        """What the batch changed (call after `write`)."""
        return BatchChanges(
            self._first_seq,
            self._exchange.seq,
            self._placed,
            self._cancelled,
            self._stp,
            {market: (touched.bids, touched.asks) for market, touched in self._markets.items()},
            self._levels_known,
        )

    # -- writing ---------------------------------------------------------------------------

    def write(self, conn: sqlite3.Connection) -> None:
        """Bring the view to the exchange's state and sequence number (inside the caller's
        transaction, after its journal entries)."""
        self._note()
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
        deletes: list[tuple[str, int]] = []
        for order_id, owner in self._orders.items():
            owned = get_order(order_id)
            rested_now = rested.pop(order_id, None) is not None
            if owned is not None:
                upserts.append(_order_row(owned))
            elif not rested_now:  # gone; an order that rested and went in this batch has no row
                deletes.append((owner, order_id))
        # Orders nothing touched since they rested: their rows are as placed.
        upserts.extend(_placed_row(command, placement) for command, placement in rested.values())
        if deletes:
            conn.executemany(_DELETE_ORDER, deletes)
        if upserts:
            conn.executemany(_UPSERT_ORDER, upserts)
        balances = self._balances
        level_rows: list[_SqlRow] = []
        emptied: list[_SqlRow] = []
        for market, touched in self._markets.items():
            config = service.get_market(MarketId(market))
            traders = touched.traders
            traders.add(config.fees.fee_account)  # fees of the market's trades
            base, quote = config.base, config.quote
            for account in traders:
                balances.add((account, base))
                balances.add((account, quote))
            bids, asks = touched.bids, touched.asks
            if bids or asks:
                bid_levels, ask_levels = level_quantities(service, market, bids, asks)
                for side, prices, quantities in (
                    ("bid", bids, bid_levels),
                    ("ask", asks, ask_levels),
                ):
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
        self._write_balances(conn)

    def _write_balances(self, conn: sqlite3.Connection) -> None:
        balance = self._exchange.service.balance
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


def _placed_row(command: PlaceLimit, placement: Placement) -> _SqlRow:
    """An order as it rested (remaining and filled quantities are at most `qty`)."""
    side = "bid" if command.side is _BID else "ask"
    price, qty = command.price, command.qty
    if price <= INT_SQL_MAX and qty <= INT_SQL_MAX:
        return (
            command.account,
            placement.order_id,
            command.market,
            side,
            price,
            qty,
            placement.open_qty,
            placement.filled_qty,
        )
    return (
        command.account,
        placement.order_id,
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
    conn.execute("DELETE FROM view_levels")
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
    conn.executemany(_UPSERT_ORDER, rows)
    conn.executemany(
        _UPSERT_LEVEL,
        [
            (market, side, int_to_sql(price), int_to_sql(qty))
            for (market, side, price), qty in sorted(levels.items())
        ],
    )
    _write_registry(conn, service)


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
