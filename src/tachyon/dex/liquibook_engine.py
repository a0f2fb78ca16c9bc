"""LiquibookEngine: an `OrderBookEngine` whose matching is liquibook's, the C++ engine.

liquibook (github.com/enewhuis/liquibook; PyPI `liquibook`, SWIG bindings with wheels for
CPython 3.11 to 3.13 on x86-64 Linux; `pip install 'tachyon[liquibook]'`) keeps a price-time
priority book and matches limit and market orders, immediate-or-cancel and fill-or-kill, at the
resting order's price, with every fill reported to a listener. It knows nothing of owners,
lots or quote budgets, so this adapter keeps a mirror of the book (the resting orders, their
owners, in liquibook's priority order) and, before each order reaches liquibook:

- refuses what tachyon refuses without a change (a post-only order that would take, a
  fill-or-kill that cannot fill under its self-trade mode), and the options the engine does
  not offer (`CAPABILITIES`): self-trade prevention `decrement_and_cancel`, which would shrink
  a resting order in place, and liquibook's only way to shrink one (`replace`) re-queues it at
  the back of its level; amend (see `amend`); and iceberg orders (`display_qty`), which
  liquibook's orders cannot express (an order rests whole), so a refill would be a new order
  the mirror would have to invent;
- plans the match on the mirror: which of the owner's own resting orders its self-trade mode
  cancels (cancelled in liquibook first), how much a self-trade stop or a quote budget lets it
  take (sent to liquibook as that much, immediate-or-cancel).

liquibook then matches; the fills it reports become the trades (its prices, its makers), and
each is checked against the plan (a disagreement is a bug: AssertionError). Ids are tachyon's
(liquibook's own are a per-process counter, never exposed), so the engine is deterministic.
`to_state` writes what `InMemoryEngine.to_state` writes; `ENGINE`'s loader re-adds the resting
orders in priority order, so a saved book restores exactly.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Final, NamedTuple, NoReturn, final

from tachyon.dex.engine import PlaceByExecuting
from tachyon.dex.engine_spec import (
    EngineCapabilities,
    EngineSpec,
    check_amend,
    check_limit_options,
    check_market_options,
)
from tachyon.dex.events import EngineResult, Reduced
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
from tachyon.errors import FillOrKillUnfillable, InvalidOrder, PostOnlyWouldTake

try:
    import liquibook
except ImportError as exc:  # the registry reports this as the engine's unavailability
    raise ImportError(
        f"the liquibook engine needs the liquibook package ({exc}); pip install"
        " 'tachyon[liquibook]' (wheels: CPython 3.11 to 3.13, x86-64 Linux)"
    ) from exc

NAME: Final = "liquibook"
CAPABILITIES: Final = EngineCapabilities(
    self_trade_prevention=frozenset(SelfTradePrevention)
    - {SelfTradePrevention.DECREMENT_AND_CANCEL},
    amend=False,
    iceberg=False,
)
"""Every option but self-trade decrement, amend and icebergs (see the module docstring)."""

_MARKET_PRICE: Final = 0  # liquibook's price of a market order
_NO_CAP: Final = QTY_MAX + 1
_BID: Final = Side.BID
_GTC: Final = TimeInForce.GTC
_FOK: Final = TimeInForce.FOK
_ALLOW: Final = SelfTradePrevention.ALLOW
_CANCEL_TAKER: Final = SelfTradePrevention.CANCEL_TAKER
_CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH


@final
class _Resting:
    """A resting order: tachyon's view of it, and liquibook's object for it."""

    __slots__ = ("native", "order_id", "owner", "post_only", "price", "qty", "remaining", "side")

    def __init__(
        self,
        order_id: OrderId,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        remaining: int,
        post_only: bool,
        native: liquibook.SimpleOrder,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price = price
        self.qty = qty
        self.remaining = remaining
        self.post_only = post_only
        self.native = native

    def order(self) -> Order:
        filled = self.qty - self.remaining
        return Order(
            self.order_id, self.owner, self.side, self.price, self.qty, self.remaining, filled,
            self.post_only,
        )  # fmt: skip


@final
class _BookSide:
    """One side of the mirror: a FIFO queue per price, best price first (`keys` ascending:
    the price for asks, minus the price for bids, as liquibook orders them)."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, is_bid: bool) -> None:
        self.sign = -1 if is_bid else 1
        self.keys: list[int] = []
        self.levels: dict[int, deque[_Resting]] = {}

    def best_first(self) -> Iterator[tuple[int, deque[_Resting]]]:
        """(price, queue) per level, best first."""
        for key in self.keys:
            yield key * self.sign, self.levels[key]

    def best(self) -> int | None:
        return self.keys[0] * self.sign if self.keys else None

    def append(self, record: _Resting) -> None:
        key = record.price * self.sign
        queue = self.levels.get(key)
        if queue is None:
            queue = self.levels[key] = deque()
            insort(self.keys, key)
        queue.append(record)

    def remove(self, record: _Resting) -> None:
        key = record.price * self.sign
        queue = self.levels[key]
        queue.remove(record)
        if not queue:
            del self.levels[key]
            del self.keys[bisect_left(self.keys, key)]


class _Plan(NamedTuple):
    """What an order will do, worked out on the mirror before liquibook sees it: the makers
    it fills (and how much of each), the own makers its self-trade mode cancels (with the
    count of fills before each), what it fills in all, and whether self-trade prevention
    stops it."""

    fills: list[tuple[_Resting, int]]
    cancels: list[tuple[_Resting, int]]
    filled: int
    stopped: bool


_NOTHING: Final = _Plan([], [], 0, False)
_NO_REDUCTIONS: Final[tuple[Reduced, ...]] = ()  # shared: most calls reduce nothing


class _Listener(liquibook.OrderListener):
    """Collects the fills (maker's liquibook id, qty, price) and refusals of one call. It only
    appends: liquibook swallows (and prints) an exception a listener raises."""

    def __init__(self) -> None:
        super().__init__()
        self.fills: list[tuple[int, int, int]] = []
        self.refusals: list[str] = []

    def on_accept(self, order: liquibook.SimpleOrder) -> None:
        pass

    def on_reject(self, order: liquibook.SimpleOrder, reason: str) -> None:
        self.refusals.append(f"reject: {reason}")

    def on_fill(
        self,
        order: liquibook.SimpleOrder,
        matched_order: liquibook.SimpleOrder,
        qty: int,
        price: int,
    ) -> None:
        self.fills.append((matched_order.order_id_, qty, price))

    def on_cancel(self, order: liquibook.SimpleOrder) -> None:
        pass

    def on_cancel_reject(self, order: liquibook.SimpleOrder, reason: str) -> None:
        self.refusals.append(f"cancel reject: {reason}")

    def on_replace(self, order: liquibook.SimpleOrder, size_delta: int, new_price: int) -> None:
        pass

    def on_replace_reject(self, order: liquibook.SimpleOrder, reason: str) -> None:
        self.refusals.append(f"replace reject: {reason}")

    def on_trigger_stop(self, order: liquibook.SimpleOrder) -> None:
        pass


@final
class LiquibookEngine(PlaceByExecuting):
    """One market's book in liquibook: see `OrderBookEngine` for each method's contract and
    the module docstring for what the adapter adds."""

    __slots__ = (
        "_asks",
        "_bids",
        "_book",
        "_config",
        "_listener",
        "_next_order_id",
        "_next_trade_id",
        "_orders",
        "_recent",
    )

    def __init__(self, config: MarketConfig = DEFAULT_MARKET) -> None:
        self._config = config
        self._book = liquibook.liquibook_book_OrderBook()
        self._listener = _Listener()
        self._book.set_order_listener(self._listener)
        self._bids = _BookSide(is_bid=True)
        self._asks = _BookSide(is_bid=False)
        self._orders: dict[OrderId, _Resting] = {}
        self._recent: deque[Trade] = deque(maxlen=TRADES_RECENT_MAX)
        self._next_order_id = OrderId(1)
        self._next_trade_id = 1

    @property
    def config(self) -> MarketConfig:
        return self._config

    # -- placing ---------------------------------------------------------------------------

    def execute_limit(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        *,
        tif: TimeInForce = _GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
        display_qty: int | None = None,
    ) -> EngineResult:
        validate_limit(self._config, side, price, qty, tif, post_only, stp, display_qty)
        check_limit_options(CAPABILITIES, NAME, tif, post_only, stp, display_qty)
        opposite = self._asks if side is _BID else self._bids
        best = opposite.best()
        crosses = best is not None and (best <= price if side is _BID else best >= price)
        if post_only and crosses:
            raise PostOnlyWouldTake(f"post-only {side} at {price} would take liquidity at {best}")
        plan = self._plan(owner, opposite, price, qty, stp, None) if crosses else _NOTHING
        if tif is _FOK and plan.filled < qty:
            raise FillOrKillUnfillable(
                f"fill-or-kill {side} of {qty} at {price} cannot fill completely"
            )
        oid = self._take_order_id(order_id)
        reductions = self._cancel_own(plan.cancels)
        rests = tif is _GTC and not plan.stopped
        trades: list[Trade] = []
        native = None
        if rests or plan.filled:
            # A self-trade stop is liquibook's immediate-or-cancel of what fills before it.
            native = liquibook.SimpleOrder(
                side is _BID, price, plan.filled if plan.stopped else qty
            )
            trades = self._submit(native, _conditions(tif, rests), oid, owner, side, plan)
        resting = qty - plan.filled if rests else 0
        if resting:
            assert native is not None
            record = _Resting(oid, owner, side, price, qty, resting, post_only, native)
            (self._bids if side is _BID else self._asks).append(record)
            self._orders[oid] = record
        return (oid, trades, resting, reductions, 0, plan.stopped)

    def execute_market(
        self,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
    ) -> EngineResult:
        validate_market(self._config, side, qty, max_quote, stp)
        check_market_options(CAPABILITIES, NAME, side, qty, max_quote, stp)
        oid = self._take_order_id(order_id)
        opposite = self._asks if side is _BID else self._bids
        taker_qty = _NO_CAP if qty is None else qty
        plan = self._plan(owner, opposite, None, taker_qty, stp, max_quote)
        reductions = self._cancel_own(plan.cancels)
        trades: list[Trade] = []
        if plan.filled:
            native = liquibook.SimpleOrder(side is _BID, _MARKET_PRICE, plan.filled)
            trades = self._submit(native, liquibook.oc_immediate_or_cancel, oid, owner, side, plan)
        return (oid, trades, 0, reductions, 0, plan.stopped)

    def _plan(
        self,
        owner: AccountId,
        opposite: _BookSide,
        limit: int | None,
        qty: int,
        stp: SelfTradePrevention,
        max_quote: int | None,
    ) -> _Plan:
        """Walk `opposite` as matching will (price-time priority, at most `qty`, at prices that
        cross `limit` (None: any), a bid spending at most `max_quote`), applying the taker's
        self-trade mode to its own makers; change nothing."""
        fills: list[tuple[_Resting, int]] = []
        cancels: list[tuple[_Resting, int]] = []
        base_unit, lot = self._config.base_unit, self._config.lot_size
        remaining, stopped = qty, False
        for price, queue in opposite.best_first():
            if limit is not None and (price - limit) * opposite.sign > 0:
                break  # this level (and every later one) is worse than the limit
            left = remaining
            if max_quote is not None:  # the whole lots the budget buys at this price
                left = min(remaining, max_quote * base_unit // price // lot * lot)
            if not left:
                break
            start = left
            for maker in queue:
                if maker.owner == owner and stp is not _ALLOW:
                    if stp is _CANCEL_TAKER:
                        stopped = True
                        break
                    cancels.append((maker, len(fills)))
                    if stp is _CANCEL_BOTH:
                        stopped = True
                        break
                    continue
                fill = min(left, maker.remaining)
                fills.append((maker, fill))
                left -= fill
                if not left:
                    break
            remaining -= start - left
            if max_quote is not None:
                max_quote -= price * (start - left) // base_unit
            if stopped or not left:
                break
        return _Plan(fills, cancels, qty - remaining, stopped)

    def _cancel_own(self, cancels: list[tuple[_Resting, int]]) -> Sequence[Reduced]:
        """Cancel the makers self-trade prevention removes, in liquibook and the mirror."""
        if not cancels:
            return _NO_REDUCTIONS
        reductions: list[Reduced] = []
        for maker, after in cancels:
            self._remove(maker)
            reductions.append(
                Reduced(maker.order_id, maker.owner, maker.side, maker.price, 0, after)
            )
        return reductions

    def _submit(
        self,
        native: liquibook.SimpleOrder,
        conditions: int,
        oid: OrderId,
        owner: AccountId,
        side: Side,
        plan: _Plan,
    ) -> list[Trade]:
        """Send the taker to liquibook; its fills, checked against the plan, as trades."""
        listener = self._listener
        listener.fills.clear()
        self._book.add(native, conditions)
        got, planned = listener.fills, plan.fills
        assert not listener.refusals, f"liquibook refused order {oid}: {listener.refusals}"
        assert [(mid, qty) for mid, qty, _ in got] == [
            (m.native.order_id_, q) for m, q in planned
        ], f"liquibook filled order {oid} as {got}, not as planned"
        trades: list[Trade] = []
        tid = self._next_trade_id
        for (maker, qty), (_, _, price) in zip(planned, got, strict=True):
            assert price == maker.price, f"order {oid} traded at {price}, not the maker's price"
            trades.append(
                Trade(TradeId(tid), price, qty, maker.order_id, oid, maker.owner, owner, side)
            )
            tid += 1
            maker.remaining -= qty
            if not maker.remaining:
                (self._bids if maker.side is _BID else self._asks).remove(maker)
                del self._orders[maker.order_id]
        self._next_trade_id = tid
        self._recent.extend(trades)
        return trades

    def _take_order_id(self, order_id: OrderId | None) -> OrderId:
        if order_id is None:
            oid = self._next_order_id
        elif type(order_id) is int and order_id >= self._next_order_id:
            oid = order_id
        else:
            _reject_order_id(order_id, self._next_order_id)
        self._next_order_id = OrderId(oid + 1)
        return oid

    def _remove(self, record: _Resting) -> None:
        """Take a resting order off liquibook's book and the mirror."""
        self._book.cancel(record.native)
        assert not self._listener.refusals, f"liquibook lost order {record.order_id}"
        (self._bids if record.side is _BID else self._asks).remove(record)
        del self._orders[record.order_id]

    # -- cancelling and reading ------------------------------------------------------------

    def amend(
        self,
        order_id: OrderId,
        price: int,
        qty: int,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> EngineResult:
        """Not offered: liquibook's replace keeps an order's place on a size increase, which
        `OrderBookEngine.amend` must not, so the adapter refuses rather than mis-order."""
        check_amend(CAPABILITIES, NAME)
        raise AssertionError("unreachable: the capabilities lack amend")

    def cancel(self, order_id: OrderId, owner: AccountId | None = None) -> bool:
        record = self._orders.get(order_id)
        if record is None or (owner is not None and record.owner != owner):
            return False
        self._remove(record)
        return True

    def get_order(self, order_id: OrderId) -> Order | None:
        record = self._orders.get(order_id)
        return None if record is None else record.order()

    def open_qty(self, order_id: OrderId) -> int:
        record = self._orders.get(order_id)
        return 0 if record is None else record.remaining

    def open_orders(self) -> list[Order]:
        """Every open order, in id order."""
        return [self._orders[oid].order() for oid in sorted(self._orders)]

    def snapshot(self, depth: int) -> BookDepth:
        if type(depth) is not int or depth < 0:
            raise InvalidOrder(f"depth {depth!r} must be a non-negative integer")
        return BookDepth(_top_levels(self._bids, depth), _top_levels(self._asks, depth))

    def top(self) -> tuple[int | None, int | None, int | None]:
        recent = self._recent
        return self._bids.best(), self._asks.best(), recent[-1].price if recent else None

    def recent_trades(self, limit: int) -> list[Trade]:
        if type(limit) is not int or limit < 0:
            raise InvalidOrder(f"limit {limit!r} must be a non-negative integer")
        return list(islice(reversed(self._recent), limit))

    def estimate_market_cost(
        self, side: Side, qty: int, limit_price: int | None = None
    ) -> tuple[int, int]:
        if type(side) is not Side:
            reject_choice("side", side, Side)
        if type(qty) is not int or not 0 < qty <= QTY_MAX:
            check_positive_int(qty, "qty", QTY_MAX)
        if limit_price is not None:
            check_positive_int(limit_price, "limit_price", PRICE_MAX)
        filled = cost = 0
        for price, queue in (self._asks if side is _BID else self._bids).best_first():
            if limit_price is not None and (
                price > limit_price if side is _BID else price < limit_price
            ):
                break
            take = min(qty - filled, sum(record.remaining for record in queue))
            filled += take
            cost += self._config.notional(price, take)
            if filled == qty:
                break
        return filled, cost

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        """What `InMemoryEngine.to_state` writes: resting orders per side, best first, in
        queue order; the recent trades; the next ids."""
        orders = [
            [r.order_id, r.owner, r.remaining, r.price, str(r.side), r.qty, 0, r.post_only]
            for book in (self._bids, self._asks)
            for _, queue in book.best_first()
            for r in queue
        ]
        trades = [
            [t.trade_id, t.price, t.qty, t.maker_order_id, t.taker_order_id, t.maker_owner,
             t.taker_owner, str(t.taker_side)]
            for t in self._recent
        ]  # fmt: skip
        return {
            "next_order_id": self._next_order_id,
            "next_trade_id": self._next_trade_id,
            "orders": orders,
            "recent_trades": trades,
        }

    @classmethod
    def from_state(cls, config: MarketConfig, state: dict[str, object]) -> LiquibookEngine:
        """Rebuild from `to_state` output (a hash-verified snapshot's): each resting order is
        added to liquibook again, side by side, best first, in queue order, so each level's
        queue is as it was; ValueError if the state does not hold together."""
        engine = cls(config)
        orders, trades = state["orders"], state["recent_trades"]
        if not isinstance(orders, list) or not isinstance(trades, list):
            raise ValueError("orders and recent_trades must be lists")
        for oid, owner, remaining, price, side_name, qty, reduced, post in orders:
            if reduced:
                raise ValueError(f"order {oid}: the liquibook engine never decrements an order")
            side = Side(side_name)
            native = liquibook.SimpleOrder(side is _BID, price, remaining)
            engine._listener.fills.clear()
            engine._book.add(native, liquibook.oc_no_conditions)
            if engine._listener.fills or engine._listener.refusals:
                raise ValueError(f"order {oid} crosses the book it is restored into")
            record = _Resting(oid, owner, side, price, qty, remaining, post is True, native)
            (engine._bids if side is _BID else engine._asks).append(record)
            engine._orders[oid] = record
        for tid, price, qty, maker_oid, taker_oid, maker, taker, taker_side in trades:
            trade = Trade(tid, price, qty, maker_oid, taker_oid, maker, taker, Side(taker_side))
            engine._recent.append(trade)
        next_order_id, next_trade_id = state["next_order_id"], state["next_trade_id"]
        if type(next_order_id) is not int or type(next_trade_id) is not int:
            raise ValueError("next ids must be integers")
        engine._next_order_id = OrderId(next_order_id)
        engine._next_trade_id = next_trade_id
        return engine

    def check_invariants(self) -> None:
        """The mirror is liquibook's book, order by order in priority order; neither is
        crossed; every order is on the tick and the lot."""
        for book, native_side in ((self._bids, self._book.bids()), (self._asks, self._book.asks())):
            mirror = [
                (price, record.native.order_id_, record.remaining)
                for price, queue in book.best_first()
                for record in queue
            ]
            native = [
                (key.price(), tracker.ptr().order_id_, tracker.open_qty())
                for key, tracker in native_side.items()
            ]
            assert mirror == native, f"the mirror {mirror} is not liquibook's book {native}"
            for price, queue in book.best_first():
                assert queue, f"empty level {price}"
                for record in queue:
                    assert self._orders[record.order_id] is record, f"{record.order_id} unindexed"
                    assert record.price == price and record.side is (
                        _BID if book.sign < 0 else Side.ASK
                    )
                    assert record.price % self._config.tick_size == 0
                    assert record.remaining % self._config.lot_size == 0
                    assert 0 < record.remaining <= record.qty
        assert len(self._orders) == sum(
            len(q) for b in (self._bids, self._asks) for q in b.levels.values()
        )
        best_bid, best_ask = self._bids.best(), self._asks.best()
        assert best_bid is None or best_ask is None or best_bid < best_ask, "book is crossed"
        assert all(oid < self._next_order_id for oid in self._orders)


def _conditions(tif: TimeInForce, rests: bool) -> int:
    if rests:
        return liquibook.oc_no_conditions
    return liquibook.oc_fill_or_kill if tif is _FOK else liquibook.oc_immediate_or_cancel


def _top_levels(book: _BookSide, depth: int) -> list[BookLevel]:
    return [
        BookLevel(price, sum(record.remaining for record in queue))
        for price, queue in islice(book.best_first(), depth)
    ]


def _reject_order_id(order_id: object, next_order_id: int) -> NoReturn:
    raise InvalidOrder(f"order id {order_id!r} must be an integer of at least {next_order_id}")


def _load(config: MarketConfig, state: dict[str, object]) -> LiquibookEngine:
    return LiquibookEngine.from_state(config, state)


ENGINE: Final = EngineSpec(
    LiquibookEngine,
    _load,
    CAPABILITIES,
    "liquibook 2, the C++ matching engine (PyPI liquibook), behind a mirror that adds owners,"
    " self-trade prevention and quote budgets",
)
"""The `liquibook` engine, declared as a `tachyon.engines` entry point."""
