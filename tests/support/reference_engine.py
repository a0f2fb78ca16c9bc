"""A deliberately naive reference matching engine, the oracle for differential tests.

Written from the `OrderBookEngine` contracts and the `SelfTradePrevention` docstrings, not
from `InMemoryEngine`'s code: every open order lives in one Python list, and each match step
scans that list for the best price, then the lowest order id (ids grow with time, so that is
time priority). Fill-or-kill is decided by running the same match on a copy of the book. It is
slow on purpose: every step is simple enough to check by reading.

Conventions shared with the fast engine where the contracts leave a choice open:
- validation uses `tachyon.dex.validation` (same rules, same exception types and messages);
- a limit order is checked in this order: its fields, then post-only / fill-or-kill against the
  book, then a supplied order id; a market order: its fields, then a supplied order id;
- a market bid by `max_quote` treats its quantity as unbounded unless `qty` is also given; at
  each maker it may fill only the whole lots the remaining budget buys at that maker's price,
  and it stops when the budget buys no lot at the best price;
- self-trade decrement reduces the taker's *quantity*; it spends no budget;
- self-trade prevention "stops" the taker when it cancels the taker's rest (CANCEL_TAKER,
  CANCEL_BOTH) or when a decrement brings the taker's quantity to 0;
- an iceberg (`display_qty`) rests showing `shown` of its `remaining`; a fill takes at most
  what it shows, and when that reaches 0 with some left, it shows the next slice and moves to
  the end of the list (the back of its level); self-trade prevention acts on its whole
  remaining quantity, a decrement taking the hidden part first (it shows at most what is
  left); an amend shows the smaller of its display and its new open quantity.

`execute_limit` / `execute_market` report each call on its own: its trades, what of the order
rests, the resting orders self-trade prevention reduced or cancelled (each with how many of the
call's trades came before it), the quantity decrement took off the taker, and whether it stopped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NoReturn

from tachyon.dex.engine import PlaceByExecuting
from tachyon.dex.events import EngineReport, Reduced
from tachyon.dex.ids import AccountId, OrderId, TradeId
from tachyon.dex.in_memory import TRADES_RECENT_MAX
from tachyon.dex.model import (
    DEFAULT_MARKET,
    STP_DEFAULT,
    BookDepth,
    BookLevel,
    MarketConfig,
    Order,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)
from tachyon.dex.units import PRICE_MAX, QTY_MAX, check_positive_int
from tachyon.dex.validation import reject_choice, validate_limit, validate_market
from tachyon.errors import FillOrKillUnfillable, InvalidOrder, OrderNotFound, PostOnlyWouldTake


@dataclass
class _Resting:
    """One open order. `reduced` counts what self-trade decrement removed without a trade."""

    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    qty: int
    remaining: int
    reduced: int
    post_only: bool
    display: int = 0
    """An iceberg's display qty; 0: not an iceberg."""
    shown: int = field(init=False)
    """What the book shows of it: all of a plain order, at most `display` of an iceberg."""

    def __post_init__(self) -> None:
        self.shown = self.next_slice()

    def next_slice(self) -> int:
        return min(self.display, self.remaining) if self.display else self.remaining

    def as_order(self) -> Order:
        filled = self.qty - self.remaining - self.reduced
        return Order(
            self.order_id,
            self.owner,
            self.side,
            self.price,
            self.qty,
            self.remaining,
            filled,
            self.post_only,
        )


@dataclass
class _Taker:
    """The incoming order while it matches. `remaining` None means no quantity bound.

    `trades` and `reductions` are this call's, in the order they happened; `stopped` says that
    self-trade prevention ended the taker."""

    order_id: OrderId
    owner: AccountId
    side: Side
    limit: int | None
    remaining: int | None
    budget: int | None
    stp: SelfTradePrevention
    reduced: int = 0
    filled: int = 0
    stopped: bool = False
    trades: list[Trade] = field(default_factory=list)
    reductions: list[Reduced] = field(default_factory=list)


@dataclass
class _Book:
    """Everything matching changes, so that fill-or-kill can try it on a deep copy."""

    orders: list[_Resting]
    trades: list[Trade]
    next_trade_id: int


class ReferenceEngine(PlaceByExecuting):
    """The naive `OrderBookEngine`: one list of open orders, scanned at every step."""

    def __init__(self, config: MarketConfig = DEFAULT_MARKET) -> None:
        self._config = config
        self._book = _Book(orders=[], trades=[], next_trade_id=1)
        self._next_order_id = 1

    @property
    def config(self) -> MarketConfig:
        return self._config

    @property
    def next_order_id(self) -> int:
        return self._next_order_id

    # -- placing -------------------------------------------------------------------------

    def execute_limit(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        *,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
        display_qty: int | None = None,
    ) -> EngineReport:
        validate_limit(self._config, side, price, qty, tif, post_only, stp, display_qty)
        if post_only:
            best = self._best_maker(self._book, side, price)
            if best is not None:
                raise PostOnlyWouldTake(
                    f"post-only {side} at {price} would take liquidity at {best.price}"
                )
        if tif is TimeInForce.FOK:
            trial = copy.deepcopy(self._book)
            taker = _Taker(OrderId(0), owner, side, price, qty, None, stp)
            self._match(trial, taker)
            if taker.filled != qty:
                raise FillOrKillUnfillable(
                    f"fill-or-kill {side} of {qty} at {price} cannot fill completely"
                )
        oid = self._take_order_id(order_id)
        taker = _Taker(oid, owner, side, price, qty, None, stp)
        self._match(self._book, taker)
        resting = 0
        if tif is TimeInForce.GTC and taker.remaining:
            resting = taker.remaining
            display = display_qty or 0
            self._book.orders.append(
                _Resting(oid, owner, side, price, qty, resting, taker.reduced, post_only, display)
            )
        return _report(taker, resting)

    def amend(
        self,
        order_id: OrderId,
        price: int,
        qty: int,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> EngineReport:
        order = next((o for o in self._book.orders if o.order_id == order_id), None)
        if order is None:
            raise OrderNotFound(f"order {order_id!r} is not open")
        validate_limit(self._config, order.side, price, qty, TimeInForce.GTC, order.post_only, stp)
        open_qty = qty - (order.qty - order.remaining)
        if open_qty <= 0:
            raise InvalidOrder(f"qty {qty} must exceed what order {order_id} has done")
        if price == order.price and open_qty <= order.remaining:
            if open_qty == order.remaining:
                raise InvalidOrder(f"order {order_id} already has price {price} and qty {qty}")
            order.remaining, order.qty = open_qty, qty
            order.shown = order.next_slice()
            return EngineReport(order_id, [], open_qty, [], 0, False)
        if order.post_only and self._best_maker(self._book, order.side, price) is not None:
            raise PostOnlyWouldTake(f"post-only order {order_id} at {price} would take")
        self._book.orders.remove(order)  # to the back: appended again below
        taker = _Taker(order_id, order.owner, order.side, price, open_qty, None, stp)
        self._match(self._book, taker)
        resting = taker.remaining or 0
        if resting:
            reduced = order.reduced + taker.reduced
            self._book.orders.append(
                _Resting(
                    order_id,
                    order.owner,
                    order.side,
                    price,
                    qty,
                    resting,
                    reduced,
                    order.post_only,
                    order.display,
                )
            )
        return _report(taker, resting)

    def execute_market(
        self,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
    ) -> EngineReport:
        validate_market(self._config, side, qty, max_quote, stp)
        oid = self._take_order_id(order_id)
        taker = _Taker(oid, owner, side, None, qty, max_quote, stp)
        self._match(self._book, taker)
        return _report(taker, 0)

    def _take_order_id(self, order_id: OrderId | None) -> OrderId:
        if order_id is None:
            oid = OrderId(self._next_order_id)
        elif type(order_id) is int and order_id >= self._next_order_id:
            oid = order_id
        else:
            _bad_order_id(order_id, self._next_order_id)
        self._next_order_id = oid + 1
        return oid

    # -- matching ------------------------------------------------------------------------

    @staticmethod
    def _crosses(side: Side, limit: int | None, maker_price: int) -> bool:
        if limit is None:
            return True
        return maker_price <= limit if side is Side.BID else maker_price >= limit

    def _best_maker(self, book: _Book, side: Side, limit: int | None) -> _Resting | None:
        """The resting order a taker on `side` meets first: best price, then oldest (first in
        the list, which keeps arrival order: an amend that loses priority appends again)."""
        best: _Resting | None = None
        for order in book.orders:
            if order.side is side or not self._crosses(side, limit, order.price):
                continue
            if best is None:
                best = order
                continue
            better_price = (
                order.price < best.price if side is Side.BID else order.price > best.price
            )
            if better_price:
                best = order
        return best

    def _lots_affordable(self, budget: int, price: int) -> int:
        """The most base (whole lots) that `budget` quote minor units pay for at `price`."""
        lot = self._config.lot_size
        lot_cost = self._config.notional(price, lot)
        return budget // lot_cost * lot

    def _match(self, book: _Book, taker: _Taker) -> None:
        """Match `taker` against `book`, recording its trades and reductions on the taker."""
        while taker.remaining is None or taker.remaining > 0:
            maker = self._best_maker(book, taker.side, taker.limit)
            if maker is None:
                break
            allowed = taker.remaining
            if taker.budget is not None:
                affordable = self._lots_affordable(taker.budget, maker.price)
                if affordable == 0:
                    break
                allowed = affordable if allowed is None else min(allowed, affordable)
            assert allowed is not None
            if maker.owner == taker.owner and taker.stp is not SelfTradePrevention.ALLOW:
                if not self._prevent_self_trade(book, taker, maker):
                    taker.stopped = True
                    break
                continue
            fill = min(allowed, maker.shown)
            trade = Trade(
                TradeId(book.next_trade_id),
                maker.price,
                fill,
                maker.order_id,
                taker.order_id,
                maker.owner,
                taker.owner,
                taker.side,
            )
            book.next_trade_id += 1
            taker.trades.append(trade)
            book.trades.append(trade)
            maker.remaining -= fill
            maker.shown -= fill
            taker.filled += fill
            if taker.remaining is not None:
                taker.remaining -= fill
            if taker.budget is not None:
                taker.budget -= self._config.notional(maker.price, fill)
            if maker.remaining == 0:
                book.orders.remove(maker)
            elif maker.shown == 0:  # an iceberg: its next slice, at the back
                maker.shown = maker.next_slice()
                book.orders.remove(maker)
                book.orders.append(maker)
        del book.trades[:-TRADES_RECENT_MAX]

    def _prevent_self_trade(self, book: _Book, taker: _Taker, maker: _Resting) -> bool:
        """Apply the taker's mode to its own resting `maker`; False if the taker stops."""
        stp = taker.stp
        if stp is SelfTradePrevention.CANCEL_TAKER:
            taker.remaining = 0
            return False
        if stp is SelfTradePrevention.DECREMENT_AND_CANCEL:
            if taker.remaining is None:
                cut = maker.remaining
            else:
                cut = min(taker.remaining, maker.remaining)
                taker.remaining -= cut
            taker.reduced += cut
            maker.remaining -= cut
            maker.shown = min(maker.shown, maker.remaining)
            maker.reduced += cut
            self._record_reduction(taker, maker)
            if maker.remaining == 0:
                book.orders.remove(maker)
            return taker.remaining != 0
        # CANCEL_MAKER and CANCEL_BOTH remove the resting order entirely.
        book.orders.remove(maker)
        maker.remaining = 0
        self._record_reduction(taker, maker)
        if stp is SelfTradePrevention.CANCEL_BOTH:
            taker.remaining = 0
            return False
        return True

    @staticmethod
    def _record_reduction(taker: _Taker, maker: _Resting) -> None:
        """Note that self-trade prevention left `maker` with its `remaining` quantity now."""
        taker.reductions.append(
            Reduced(
                maker.order_id,
                maker.owner,
                maker.side,
                maker.price,
                maker.remaining,
                len(taker.trades),
            )
        )

    # -- cancelling and reading ----------------------------------------------------------

    def cancel(self, order_id: OrderId, owner: AccountId | None = None) -> bool:
        for order in self._book.orders:
            if order.order_id == order_id:
                if owner is not None and order.owner != owner:
                    return False
                self._book.orders.remove(order)
                return True
        return False

    def get_order(self, order_id: OrderId) -> Order | None:
        for order in self._book.orders:
            if order.order_id == order_id:
                return order.as_order()
        return None

    def open_qty(self, order_id: OrderId) -> int:
        order = self.get_order(order_id)
        return 0 if order is None else order.remaining_qty

    def open_orders(self) -> list[Order]:
        """Every open order, in id order."""
        return [order.as_order() for order in sorted(self._book.orders, key=_by_id)]

    def top(self) -> tuple[int | None, int | None, int | None]:
        book = self.snapshot(1)
        trades = self.recent_trades(1)
        return (
            book.bids[0].price if book.bids else None,
            book.asks[0].price if book.asks else None,
            trades[0].price if trades else None,
        )

    def snapshot(self, depth: int) -> BookDepth:
        if type(depth) is not int or depth < 0:
            raise InvalidOrder(f"depth {depth!r} must be a non-negative integer")
        return BookDepth(self._levels(Side.BID)[:depth], self._levels(Side.ASK)[:depth])

    def _levels(self, side: Side, hidden_too: bool = False) -> list[BookLevel]:
        """What `side` shows per price, best first; with `hidden_too`, what it holds."""
        totals: dict[int, int] = {}
        for order in self._book.orders:
            if order.side is side:
                qty = order.remaining if hidden_too else order.shown
                totals[order.price] = totals.get(order.price, 0) + qty
        prices = sorted(totals, reverse=side is Side.BID)
        return [BookLevel(price, totals[price]) for price in prices]

    def recent_trades(self, limit: int) -> list[Trade]:
        if type(limit) is not int or limit < 0:
            raise InvalidOrder(f"limit {limit!r} must be a non-negative integer")
        newest_first = list(reversed(self._book.trades))
        return newest_first[:limit]

    def estimate_market_cost(
        self, side: Side, qty: int, limit_price: int | None = None
    ) -> tuple[int, int]:
        if type(side) is not Side:
            reject_choice("side", side, Side)
        check_positive_int(qty, "qty", QTY_MAX)
        if limit_price is not None:
            check_positive_int(limit_price, "limit_price", PRICE_MAX)
        filled = cost = 0
        for level in self._levels(side.opposite, hidden_too=True):
            if limit_price is not None and (
                level.price > limit_price if side is Side.BID else level.price < limit_price
            ):
                break
            take = min(qty - filled, level.qty)
            if take == 0:
                break
            filled += take
            cost += self._config.notional(level.price, take)
        return filled, cost

    def check_invariants(self) -> None:
        orders = self._book.orders
        ids = [order.order_id for order in orders]
        assert len(ids) == len(set(ids)), "duplicate order ids"
        for order in orders:
            assert order.order_id < self._next_order_id
            assert order.price % self._config.tick_size == 0
            assert order.remaining % self._config.lot_size == 0
            assert 0 < order.remaining <= order.qty - order.reduced
            assert 0 < order.shown <= order.remaining
            if order.display:
                assert order.shown <= order.display, "an iceberg shows more than its display"
            else:
                assert order.shown == order.remaining, "a plain order hides some of itself"
        bids = [order.price for order in orders if order.side is Side.BID]
        asks = [order.price for order in orders if order.side is Side.ASK]
        if bids and asks:
            assert max(bids) < min(asks), "book is crossed"
        trade_ids = [trade.trade_id for trade in self._book.trades]
        assert trade_ids == sorted(set(trade_ids))
        assert len(trade_ids) <= TRADES_RECENT_MAX
        assert all(trade_id < self._book.next_trade_id for trade_id in trade_ids)


def _report(taker: _Taker, resting: int) -> EngineReport:
    """What one placement did, as `EngineReport` (reductions in a list, possibly empty)."""
    return EngineReport(
        taker.order_id,
        taker.trades,
        resting,
        taker.reductions,
        taker.reduced,
        taker.stopped,
    )


def _by_id(order: _Resting) -> int:
    return order.order_id


def _bad_order_id(order_id: object, next_order_id: int) -> NoReturn:
    raise InvalidOrder(f"order id {order_id!r} must be an integer of at least {next_order_id}")
