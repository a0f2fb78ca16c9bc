"""InMemoryEngine: one market's limit order book, price-time priority, FIFO per level.

Pure and deterministic: the same calls give the same ids, trades and book. Resting orders are
plain lists (five times cheaper to build than objects, measured) indexed by the `_ID` .. `_LEVEL`
constants. Cancel is O(1): the record is marked dead and its level's live quantity drops; dead
records leave their queue when matching reaches them or the level is rebuilt, and emptied levels
are swept out of the price index lazily (the best level is never empty).

An iceberg's record holds its shown slice as its remaining qty (what levels, snapshots and
matching see) and the rest in `_HIDDEN`; when a taker fills the slice, the record moves to the
back of its level with the next one (`_refill`). Plain orders carry 0 there, so matching pays
one test per maker it removes, and nothing else.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Any, Final, NoReturn

from tachyon.dex.engine import PlaceByExecuting
from tachyon.dex.engine_spec import ALL_OPTIONS, EngineSpec
from tachyon.dex.events import EngineResult, Reduced
from tachyon.dex.ids import AccountId, OrderId
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

TRADES_RECENT_MAX: Final = 10_000
"""How many trades `recent_trades` remembers (the seed's capped trade log)."""

_SWEEP_MIN: Final = 64
"""A level rebuilds its queue, and a side its price index, once it holds this many dead entries
and more dead than live: amortized O(1) per cancel, memory at most about twice the live book."""

# A resting order record: [order id, owner, remaining qty shown, price, side, original qty,
# qty removed by self-trade decrement, post-only, its level, hidden qty, display qty (0: not
# an iceberg)]. Remaining 0 marks it dead.
_ID, _OWNER, _REM, _PRICE, _SIDE, _QTY, _REDUCED, _POST, _LEVEL, _HIDDEN, _DISPLAY = range(11)
_ROW_FIELDS: Final = 8  # a plain order's `to_state` row; an iceberg's adds hidden and display
_Record = list[Any]  # heterogeneous on purpose: see the module docstring

_BID: Final = Side.BID
_ASK: Final = Side.ASK
_GTC: Final = TimeInForce.GTC
_FOK: Final = TimeInForce.FOK
_ALLOW: Final = SelfTradePrevention.ALLOW
_CANCEL_TAKER: Final = SelfTradePrevention.CANCEL_TAKER
_CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH
_DECREMENT: Final = SelfTradePrevention.DECREMENT_AND_CANCEL
_KEY_ANY: Final = -(PRICE_MAX + 1)  # below every book key: a market order crosses all levels
_NO_CAP: Final = QTY_MAX + 1
_SIDE_NAMES: Final = frozenset(side.value for side in Side)
_SIDES: Final = {side.value: side for side in Side}
_NO_REDUCTIONS: Final[tuple[Reduced, ...]] = ()  # shared: most calls reduce nothing


class _Level:
    """The FIFO queue at one price: its live quantity (shown; `hidden`: what its icebergs hold
    back), its dead records, its place in the book.

    Holds a plain deque rather than subclassing one: method calls on a subclass of a builtin
    cost about twice as much (measured), and the queue is touched on every fill.
    """

    __slots__ = ("book", "dead", "hidden", "key", "qty", "queue")

    def __init__(self, book: _BookSide, key: int) -> None:
        self.queue: deque[_Record] = deque()
        self.book = book
        self.key = key
        self.qty = 0
        self.dead = 0
        self.hidden = 0


class _BookSide:
    """One side's levels, keyed so that the best level is always last in the ascending `keys`.

    Bids are keyed by price, asks by -price: one matching loop serves both sides. Levels that
    empty below the best stay indexed (counted in `empty`) until swept or reused.
    """

    __slots__ = ("empty", "keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []
        self.levels: dict[int, _Level] = {}
        self.empty = 0

    def level_for(self, key: int) -> _Level:
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = _Level(self, key)
            insort(self.keys, key)
        elif not level.qty:
            self.empty -= 1
        return level

    def drop_top(self) -> None:
        """Remove the best level (now empty), then any emptied levels that surface behind it."""
        keys = self.keys
        levels = self.levels
        levels.pop(keys.pop()).queue.clear()
        while keys and not levels[keys[-1]].qty:
            del levels[keys.pop()]
            self.empty -= 1

    def level_emptied(self, level: _Level) -> None:
        level.queue.clear()
        level.dead = 0
        if level.key == self.keys[-1]:
            self.drop_top()
            return
        self.empty += 1
        if self.empty >= _SWEEP_MIN and self.empty * 2 > len(self.keys):
            self.keys = [key for key in self.keys if self.levels[key].qty]
            self.levels = {key: self.levels[key] for key in self.keys}
            self.empty = 0


class InMemoryEngine(PlaceByExecuting):
    """The default `OrderBookEngine`: see the protocol for each method's contract.

    Prices must be multiples of the tick, quantities multiples of the lot and at least the
    minimum; ids are assigned in sequence unless the caller supplies higher ones.
    """

    __slots__ = (
        "_asks",
        "_bids",
        "_config",
        "_lot",
        "_min_qty",
        "_next_order_id",
        "_next_trade_id",
        "_orders",
        "_recent",
        "_reductions",
        "_taker_cut",
        "_tick",
    )

    def __init__(self, config: MarketConfig = DEFAULT_MARKET) -> None:
        self._config = config
        # Copies of the config's rules, one attribute load cheaper on the hot path.
        self._tick = config.tick_size
        self._lot = config.lot_size
        self._min_qty = config.min_qty
        self._bids = _BookSide(1)
        self._asks = _BookSide(-1)
        self._orders: dict[int, _Record] = {}
        self._recent: deque[Trade] = deque(maxlen=TRADES_RECENT_MAX)
        # The current call's self-trade reductions, handed out with its report (then renewed).
        self._reductions: list[Reduced] = []
        # Typed as ids so the hot path hands them out without a NewType call (~70 ns each).
        self._next_order_id = OrderId(1)
        self._next_trade_id = 1  # a plain int: a NewType call per fill would cost a call
        # What self-trade decrement took off the current taker without a trade.
        self._taker_cut = 0

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
        if display_qty is not None:  # an iceberg: off the plain orders' path
            order = (owner, side, price, qty, display_qty)
            return self._execute_iceberg(order, tif, post_only, stp, order_id)
        if not (
            type(qty) is int
            and type(price) is int
            and 0 < qty <= QTY_MAX
            and 0 < price <= PRICE_MAX
            and not qty % self._lot
            and qty >= self._min_qty
            and not price % self._tick
            and (stp is STP_DEFAULT or type(stp) is SelfTradePrevention)
        ):
            validate_limit(self._config, side, price, qty, tif, post_only, stp)
        if side is _BID:
            own, opposite = self._bids, self._asks
        elif side is _ASK:
            own, opposite = self._asks, self._bids
        else:
            reject_choice("side", side, Side)
        key_limit = price * opposite.sign
        keys = opposite.keys
        crosses = False
        if keys and keys[-1] >= key_limit:
            crosses = True
        if tif is not _GTC or post_only is not False:  # (its options' types checked there)
            self._check_special(owner, side, price, qty, tif, post_only, stp, opposite, crosses)
        if order_id is None:
            oid = self._next_order_id
        elif type(order_id) is int and order_id >= self._next_order_id:
            oid = order_id
        else:
            _reject_order_id(order_id, self._next_order_id)
        self._next_order_id = oid + 1  # type: ignore[assignment]
        trades: list[Trade] = []
        reductions: Sequence[Reduced] = _NO_REDUCTIONS
        cut = 0
        remaining = qty
        if crosses:
            self._taker_cut = 0
            remaining = self._match(owner, side, oid, opposite, key_limit, qty, stp, None, trades)
            if self._reductions:
                reductions, self._reductions = self._reductions, []
            cut = self._taker_cut
            if remaining < 0:  # self-trade prevention stopped it: its rest is cancelled
                return (oid, trades, 0, reductions, cut, True)
        if remaining and tif is _GTC:
            key = -key_limit  # its own side's key
            level = own.levels.get(key)
            if level is None or not level.qty:
                level = own.level_for(key)
            record = [oid, owner, remaining, price, side, qty, cut, post_only, level, 0, 0]
            level.queue.append(record)
            level.qty += remaining
            self._orders[oid] = record
            return (oid, trades, remaining, reductions, cut, False)
        return (oid, trades, 0, reductions, cut, False)

    def amend(
        self,
        order_id: OrderId,
        price: int,
        qty: int,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> EngineResult:
        record = self._orders.get(order_id)
        if record is None:
            raise OrderNotFound(f"order {order_id!r} is not open (unknown, filled or cancelled)")
        side, post_only, display = record[_SIDE], record[_POST], record[_DISPLAY]
        validate_limit(self._config, side, price, qty, _GTC, post_only, stp)
        total = record[_REM] + record[_HIDDEN]  # its open quantity, shown or not
        done = record[_QTY] - total  # filled, or taken off by self-trade prevention
        open_qty = qty - done
        if open_qty <= 0:
            raise InvalidOrder(
                f"qty {qty} is the order's new total, filled part included: it must exceed"
                f" the {done} order {order_id} has done; nothing was changed"
            )
        if price == record[_PRICE] and open_qty <= total:
            if open_qty == total:
                raise InvalidOrder(
                    f"order {order_id} already has price {price} and qty {qty}; nothing was changed"
                )
            shown = display if 0 < display < open_qty else open_qty  # smaller: keeps its place
            level = record[_LEVEL]
            level.qty += shown - record[_REM]
            level.hidden += open_qty - shown - record[_HIDDEN]
            record[_REM], record[_HIDDEN], record[_QTY] = shown, open_qty - shown, qty
            return (order_id, [], open_qty, _NO_REDUCTIONS, 0, False)
        opposite = self._asks if side is _BID else self._bids
        key_limit = price * opposite.sign
        crosses = bool(opposite.keys) and opposite.keys[-1] >= key_limit
        if post_only and crosses:
            raise PostOnlyWouldTake(
                f"post-only order {order_id} at {price} would take liquidity; nothing was changed"
            )
        owner, reduced = record[_OWNER], record[_REDUCED]
        self.cancel(order_id)  # a new price or more: to the back of its level, as a new order
        quantities = (qty, open_qty, reduced, display)
        return self._insert(owner, side, price, quantities, post_only, stp, order_id)

    def _insert(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        quantities: tuple[int, int, int, int],
        post_only: bool,
        stp: SelfTradePrevention,
        oid: OrderId,
    ) -> EngineResult:
        """Match an amended order's (or an iceberg's) open quantity, then rest what is left at
        the back of its level; `quantities`: its total, its open part, what self-trade
        prevention took and its display qty (0: shown whole)."""
        qty, open_qty, reduced, display = quantities
        own, opposite = (self._bids, self._asks) if side is _BID else (self._asks, self._bids)
        key_limit = price * opposite.sign
        trades: list[Trade] = []
        reductions: Sequence[Reduced] = _NO_REDUCTIONS
        self._taker_cut = 0
        remaining = self._match(owner, side, oid, opposite, key_limit, open_qty, stp, None, trades)
        if self._reductions:
            reductions, self._reductions = self._reductions, []
        cut = self._taker_cut
        if remaining <= 0:  # filled, or stopped by self-trade prevention
            return (oid, trades, 0, reductions, cut, remaining < 0)
        shown = display if 0 < display < remaining else remaining
        level = own.level_for(-key_limit)
        hidden = remaining - shown
        record = [
            oid,
            owner,
            shown,
            price,
            side,
            qty,
            reduced + cut,
            post_only,
            level,
            hidden,
            display,
        ]
        level.queue.append(record)
        level.qty += shown
        level.hidden += hidden
        self._orders[oid] = record
        return (oid, trades, remaining, reductions, cut, False)

    def _execute_iceberg(
        self,
        order: tuple[AccountId, Side, int, int, int],
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
        order_id: OrderId | None,
    ) -> EngineResult:
        """`execute_limit` of an iceberg (`order`: owner, side, price, qty and display qty),
        off the plain orders' path: checked in full, then it takes with its whole quantity, as
        any limit order, and rests `display_qty` at a time."""
        owner, side, price, qty, display_qty = order
        validate_limit(self._config, side, price, qty, tif, post_only, stp, display_qty)
        opposite = self._asks if side is _BID else self._bids
        keys = opposite.keys
        if post_only and keys and keys[-1] >= price * opposite.sign:
            best = keys[-1] * opposite.sign
            raise PostOnlyWouldTake(f"post-only {side} at {price} would take liquidity at {best}")
        if order_id is None:
            oid = self._next_order_id
        elif type(order_id) is int and order_id >= self._next_order_id:
            oid = order_id
        else:
            _reject_order_id(order_id, self._next_order_id)
        self._next_order_id = oid + 1  # type: ignore[assignment]
        return self._insert(owner, side, price, (qty, qty, 0, display_qty), post_only, stp, oid)

    def _check_special(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
        opposite: _BookSide,
        crosses: bool,
    ) -> None:
        """Refuse what FOK and post-only refuse (and options of the wrong type), before
        anything changes."""
        if type(tif) is not TimeInForce or type(post_only) is not bool:
            validate_limit(self._config, side, price, qty, tif, post_only, stp)
        if post_only:
            if tif is not _GTC:
                raise InvalidOrder(
                    f"post-only orders rest on the book, so tif must be gtc, not {tif}"
                )
            if crosses:
                best = opposite.keys[-1] * opposite.sign
                raise PostOnlyWouldTake(
                    f"post-only {side} at {price} would take liquidity at {best}"
                )
        elif tif is _FOK and self._fillable(owner, opposite, price * opposite.sign, qty, stp) < qty:
            raise FillOrKillUnfillable(
                f"fill-or-kill {side} of {qty} at {price} cannot fill completely"
            )

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
        if not (
            type(qty) is int
            and 0 < qty <= QTY_MAX
            and not qty % self._lot
            and qty >= self._min_qty
            and type(side) is Side
            and (
                max_quote is None
                or (type(max_quote) is int and 0 < max_quote <= QTY_MAX and side is _BID)
            )
            and (stp is STP_DEFAULT or type(stp) is SelfTradePrevention)
        ):
            validate_market(self._config, side, qty, max_quote, stp)
        if order_id is None:
            oid = self._next_order_id
        elif type(order_id) is int and order_id >= self._next_order_id:
            oid = order_id
        else:
            _reject_order_id(order_id, self._next_order_id)
        self._next_order_id = oid + 1  # type: ignore[assignment]
        trades: list[Trade] = []
        opposite = self._asks if side is _BID else self._bids
        if not opposite.keys:
            return (oid, trades, 0, _NO_REDUCTIONS, 0, False)
        self._taker_cut = 0
        taker_qty = _NO_CAP if qty is None else qty
        remaining = self._match(
            owner, side, oid, opposite, _KEY_ANY, taker_qty, stp, max_quote, trades
        )
        reductions: Sequence[Reduced] = _NO_REDUCTIONS
        if self._reductions:
            reductions, self._reductions = self._reductions, []
        return (oid, trades, 0, reductions, self._taker_cut, remaining < 0)

    def _match(
        self,
        owner: AccountId,
        side: Side,
        oid: OrderId,
        opposite: _BookSide,
        key_limit: int,
        qty: int,
        stp: SelfTradePrevention,
        max_quote: int | None,
        trades: list[Trade],
    ) -> int:
        """Fill the taker against `opposite` while the best key is at or above `key_limit`;
        return the taker's remaining quantity (-1 if self-trade prevention stopped it)."""
        keys, levels, sign, orders = opposite.keys, opposite.levels, opposite.sign, self._orders
        append, lot = trades.append, self._lot
        tid = self._next_trade_id
        rem = qty
        stopped = False
        while keys and keys[-1] >= key_limit:
            key = keys[-1]
            level = levels[key]
            price = key * sign
            left = rem  # what it may fill here: with a budget, the lots it buys (none: none deeper)
            if max_quote is not None:
                left = min(rem, max_quote * self._config.base_unit // price // lot * lot)
            if not left:
                break
            start = left
            queue = level.queue
            while True:
                maker = queue[0]
                mrem = maker[_REM]
                if not mrem:
                    queue.popleft()
                    level.dead -= 1
                    continue
                maker_owner = maker[_OWNER]
                if maker_owner == owner and stp is not _ALLOW:
                    rem, start, left, stopped = self._prevent_self_trade(
                        maker, level, rem, start, left, stp, len(trades)
                    )
                    if stopped or not left or not level.qty:
                        break
                    continue
                fill = left if left < mrem else mrem
                append(Trade(tid, price, fill, maker[_ID], oid, maker_owner, owner, side))  # type: ignore[arg-type]
                tid += 1
                left -= fill
                level.qty -= fill
                if fill == mrem:  # filled: it leaves the book (nothing else holds its record)
                    queue.popleft()
                    del orders[maker[_ID]]
                    if maker[_HIDDEN]:  # an iceberg: its next slice, at the back
                        _refill(maker, level, orders)
                    elif not level.qty:
                        opposite.drop_top()
                        break
                else:
                    maker[_REM] = mrem - fill
                if not left:
                    break
            rem -= start - left  # what filled at this level
            if max_quote is not None:
                max_quote -= price * (start - left) // self._config.base_unit
            if stopped or not left:
                break
        self._recent.extend(trades)
        self._next_trade_id = tid
        return -1 if stopped else rem

    def _prevent_self_trade(
        self,
        maker: _Record,
        level: _Level,
        rem: int,
        start: int,
        left: int,
        stp: SelfTradePrevention,
        after: int,
    ) -> tuple[int, int, int, bool]:
        """Apply the taker's self-trade mode to its own resting `maker` at the front of `level`
        (`after` trades of the call came before).

        Takes and returns `_match`'s per-level accounting (remaining at level entry, allowance
        at entry, allowance left) plus whether the taker stops here.
        """
        if stp is _CANCEL_TAKER:
            return rem, start, left, True
        mrem = maker[_REM] + maker[_HIDDEN]  # an iceberg's whole order
        if stp is not _DECREMENT:
            self._reduce_maker(maker, level, mrem, after)
            return rem, start, left, stp is _CANCEL_BOTH
        now = rem - (start - left)  # the taker's remaining quantity at this moment
        cut = now if now < mrem else mrem
        maker[_REDUCED] += cut
        self._taker_cut += cut
        self._reduce_maker(maker, level, cut, after)
        # A decrement uses up the taker's quantity, not what its budget buys at this price.
        rem -= cut
        if now - cut < left:
            start -= left - (now - cut)
            left = now - cut
        return rem, start, left, now == cut

    def _reduce_maker(self, maker: _Record, level: _Level, cut: int, after: int) -> None:
        """Take `cut` off `maker`'s open quantity; an iceberg's hidden part goes first, so what
        it shows stays in its place as long as it can."""
        hidden = maker[_HIDDEN]
        if hidden:
            taken = cut if cut < hidden else hidden
            maker[_HIDDEN] = hidden = hidden - taken
            level.hidden -= taken
            cut -= taken
        remaining = maker[_REM] - cut
        maker[_REM] = remaining
        level.qty -= cut
        self._reductions.append(
            Reduced(
                maker[_ID], maker[_OWNER], maker[_SIDE], maker[_PRICE], remaining + hidden, after
            )
        )
        if not remaining:
            level.queue.popleft()
            del self._orders[maker[_ID]]
            if not level.qty:
                level.book.drop_top()

    def _fillable(
        self,
        owner: AccountId,
        opposite: _BookSide,
        key_limit: int,
        qty: int,
        stp: SelfTradePrevention,
    ) -> int:
        """The quantity a taker would fill, walking orders under the same self-trade rules.

        Icebergs' hidden parts come after the level's shown slices (each refill goes to the
        back), and the taker meets no order of its own there: self-trade prevention took each
        whole at the first meeting, or stopped the taker."""
        filled = 0
        rem = qty
        for key in reversed(opposite.keys):
            if key < key_limit:
                break
            reserve = 0
            for maker in opposite.levels[key].queue:
                mrem = maker[_REM]
                if not mrem:
                    continue
                if maker[_OWNER] == owner and stp is not _ALLOW:
                    if stp is _CANCEL_TAKER or stp is _CANCEL_BOTH:
                        return filled
                    if stp is _DECREMENT:
                        rem -= min(rem, mrem + maker[_HIDDEN])
                else:
                    fill = min(rem, mrem)
                    filled += fill
                    rem -= fill
                    reserve += maker[_HIDDEN]
                if not rem:
                    return filled
            fill = min(rem, reserve)
            filled += fill
            rem -= fill
            if not rem:
                return filled
        return filled

    # -- cancelling and reading ------------------------------------------------------------

    def cancel(self, order_id: OrderId, owner: AccountId | None = None) -> bool:
        record = self._orders.pop(order_id, None)
        if record is None:
            return False
        if owner is not None and record[_OWNER] != owner:
            self._orders[order_id] = record  # not theirs: put it back untouched
            return False
        level = record[_LEVEL]
        level.qty -= record[_REM]
        record[_REM] = 0
        if record[_HIDDEN]:  # an iceberg's hidden part goes with it
            level.hidden -= record[_HIDDEN]
            record[_HIDDEN] = 0
        if not level.qty:
            level.book.level_emptied(level)
            return True
        level.dead += 1
        if level.dead >= _SWEEP_MIN and level.dead * 2 > len(queue := level.queue):
            live = [r for r in queue if r[_REM]]
            queue.clear()
            queue.extend(live)
            level.dead = 0
        return True

    def get_order(self, order_id: OrderId) -> Order | None:
        record = self._orders.get(order_id)
        return None if record is None else _order_of(record)

    def open_qty(self, order_id: OrderId) -> int:
        record = self._orders.get(order_id)
        return 0 if record is None else int(record[_REM] + record[_HIDDEN])

    def open_orders(self) -> list[Order]:
        """Every open order, in id order."""
        return [_order_of(self._orders[oid]) for oid in sorted(self._orders)]

    def snapshot(self, depth: int) -> BookDepth:
        if type(depth) is not int or depth < 0:
            raise InvalidOrder(f"depth {depth!r} must be a non-negative integer")
        return BookDepth(_top_levels(self._bids, depth), _top_levels(self._asks, depth))

    def top(self) -> tuple[int | None, int | None, int | None]:
        # The best level is never empty (`_BookSide.drop_top`), so its key is the best price.
        bids, asks, recent = self._bids.keys, self._asks.keys, self._recent
        return (
            bids[-1] if bids else None,
            -asks[-1] if asks else None,
            recent[-1].price if recent else None,
        )

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
        book = self._asks if side is _BID else self._bids
        levels, sign, base_unit = book.levels, book.sign, self._config.base_unit
        # Keys fall as levels worsen: a level beyond the limit has a key below the limit's.
        lowest_key = _limit_key(limit_price, sign)
        filled = cost = 0
        for key in reversed(book.keys):
            if key < lowest_key:
                break
            left = qty - filled
            level = levels[key]
            level_qty = level.qty + level.hidden  # matching takes icebergs' hidden parts too
            take = left if left < level_qty else level_qty
            if take:
                filled += take
                cost += key * sign * take // base_unit  # `MarketConfig.notional`, inline
                if filled == qty:
                    break
        return filled, cost

    # -- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        """The whole engine as plain JSON-able values (orders in queue order), see `from_state`.

        An order's row is its id, owner, remaining qty (shown), price, side, qty, what
        self-trade decrement took and post-only; an iceberg's adds its hidden and display qty
        (so a book without one is written as before icebergs were)."""
        resting = [
            [r[_ID], r[_OWNER], r[_REM], r[_PRICE], str(r[_SIDE]), r[_QTY], r[_REDUCED], r[_POST]]
            + ([r[_HIDDEN], r[_DISPLAY]] if r[_DISPLAY] else [])
            for book in (self._bids, self._asks)
            for key in reversed(book.keys)
            for r in book.levels[key].queue
            if r[_REM]
        ]
        return {
            "next_order_id": self._next_order_id,
            "next_trade_id": self._next_trade_id,
            "orders": resting,
            "recent_trades": [
                [
                    t.trade_id,
                    t.price,
                    t.qty,
                    t.maker_order_id,
                    t.taker_order_id,
                    t.maker_owner,
                    t.taker_owner,
                    str(t.taker_side),
                ]
                for t in self._recent
            ],
        }

    @classmethod
    def from_state(
        cls, config: MarketConfig, state: dict[str, Any], *, verified: bool = False
    ) -> InMemoryEngine:
        """Rebuild an engine from `to_state` output, then check its invariants; raises
        ValueError naming the first field that is not what `to_state` writes. `verified`
        skips both checks, for state whose integrity the caller has proven (a snapshot whose
        hash matched) and whose invariants it checks itself afterwards."""
        if not verified:
            _check_state(state)
        engine = cls(config)
        orders = engine._orders
        level: _Level | None = None
        for row in state["orders"]:
            oid, owner, rem, price, side_name, qty, reduced, post = row[:_ROW_FIELDS]
            hidden, display = row[_ROW_FIELDS:] or (0, 0)
            side = _SIDES[side_name]
            book = engine._bids if side is _BID else engine._asks
            key = price * book.sign
            if level is None or level.key != key or level.book is not book:
                level = book.level_for(key)  # orders come level by level, in queue order
            record = [
                oid,
                owner,
                rem,
                price,
                side,
                qty,
                reduced,
                post is True,
                level,
                hidden,
                display,
            ]
            level.queue.append(record)
            level.qty += rem
            level.hidden += hidden
            orders[oid] = record
        for trade_id, price, qty, maker_order_id, taker_order_id, maker, taker, taker_side in state[
            "recent_trades"
        ]:
            trade = Trade(
                trade_id, price, qty, maker_order_id, taker_order_id, maker, taker, Side(taker_side)
            )
            engine._recent.append(trade)
        engine._next_order_id = OrderId(int(state["next_order_id"]))
        engine._next_trade_id = int(state["next_trade_id"])
        if not verified:
            engine.check_invariants()
        return engine

    def save_to_path(self, path: str) -> None:
        """Write the book and recent trades to `path` atomically (temporary file, then rename)."""
        from tachyon.dex import _files  # noqa: PLC0415  (file I/O stays off the pure import path)

        _files.save_engine_state(path, self._config, self.to_state())

    @classmethod
    def load_from_path(cls, path: str, config: MarketConfig = DEFAULT_MARKET) -> InMemoryEngine:
        """Load what `save_to_path` wrote; the file must be for a market with the same pair."""
        from tachyon.dex import _files  # noqa: PLC0415

        state = _files.load_engine_state(path, config)
        try:
            return cls.from_state(config, state)
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise _files.corrupt(path, f"engine state does not hold together ({exc!r})") from exc

    def check_invariants(self) -> None:
        live = 0
        for book in (self._bids, self._asks):
            assert book.keys == sorted(set(book.keys)), "level keys out of order"
            assert set(book.keys) == set(book.levels), "level index and levels disagree"
            assert book.empty == sum(1 for level in book.levels.values() if not level.qty)
            assert not book.keys or book.levels[book.keys[-1]].qty, "best level is empty"
            for key, level in book.levels.items():
                records = [r for r in level.queue if r[_REM]]
                assert level.key == key and level.book is book
                assert level.qty == sum(r[_REM] for r in records), f"level {key} quantity"
                assert level.hidden == sum(r[_HIDDEN] for r in records), f"level {key} hidden"
                assert level.dead == len(level.queue) - len(records), f"level {key} dead count"
                ids = [r[_ID] for r in records]
                # Queue order is time priority; ids are not sorted in it once an order is
                # amended or an iceberg refills (each keeps its id and goes to the back), but
                # they never repeat.
                assert len(set(ids)) == len(ids), f"level {key} holds an order twice"
                for r in records:
                    assert r[_LEVEL] is level and r[_PRICE] * book.sign == key
                    assert r[_SIDE] is (_BID if book.sign == 1 else _ASK)
                    assert self._orders[r[_ID]] is r, f"order {r[_ID]} not indexed"
                    assert r[_PRICE] % self._tick == 0 and r[_REM] % self._lot == 0
                    assert 0 < r[_REM] + r[_HIDDEN] <= r[_QTY] - r[_REDUCED]
                    self._check_iceberg(r)
                live += len(records)
        assert live == len(self._orders), "order index holds orders not on the book"
        if self._bids.keys and self._asks.keys:
            assert self._bids.keys[-1] < -self._asks.keys[-1], "book is crossed"
        assert all(oid < self._next_order_id for oid in self._orders)

    def _check_iceberg(self, record: _Record) -> None:
        """An iceberg shows at most its display qty, whole lots of it; a plain order hides
        nothing."""
        oid, shown, hidden, display = record[_ID], record[_REM], record[_HIDDEN], record[_DISPLAY]
        if not display:
            assert display == 0 and hidden == 0, f"order {oid} hides {hidden} but is no iceberg"
            return
        assert display % self._lot == 0 and display >= self._min_qty, f"order {oid} display"
        assert shown <= display, f"iceberg {oid} shows {shown}, more than its display {display}"
        assert hidden >= 0 and hidden % self._lot == 0, f"iceberg {oid} hidden qty {hidden}"


def _check_state(state: dict[str, Any]) -> None:
    def expect(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(what)

    def positive(value: object) -> bool:
        return type(value) is int and value > 0

    orders, trades = state.get("orders"), state.get("recent_trades")
    if not isinstance(orders, list) or not isinstance(trades, list):
        raise ValueError("orders and recent_trades must be lists")
    for row in orders:
        expect(isinstance(row, list) and len(row) in (_ROW_FIELDS, _ROW_FIELDS + 2), f"row {row!r}")
        oid, owner, rem, price, side, qty, reduced, post = row[:_ROW_FIELDS]
        if len(row) > _ROW_FIELDS:  # an iceberg: what it hides (maybe nothing), what it shows
            hidden, display = row[_ROW_FIELDS:]
            expect(type(hidden) is int and hidden >= 0 and positive(display), f"iceberg {oid}")
        expect(all(positive(v) for v in (oid, rem, price, qty)), f"order {oid!r}: ids and sizes")
        expect(type(owner) is str and bool(owner) and side in _SIDE_NAMES, f"order {oid}")
        expect(type(reduced) is int and reduced >= 0 and type(post) is bool, f"order {oid} flags")
    for row in trades:
        expect(
            isinstance(row, list) and len(row) == len(Trade.__struct_fields__), f"trade row {row!r}"
        )
        expect(all(positive(v) for v in row[:5]), f"trade {row[0]!r}: ids and sizes")
        expect(all(type(v) is str for v in row[5:]) and row[7] in _SIDE_NAMES, "trade")
    next_order, next_trade = state.get("next_order_id"), state.get("next_trade_id")
    expect(positive(next_order) and positive(next_trade), "next ids must be positive integers")
    expect(all(row[0] < next_order for row in orders), "an order id is not below next_order_id")
    expect(all(row[0] < next_trade for row in trades), "a trade id is not below next_trade_id")


def _limit_key(limit_price: int | None, sign: int) -> int:
    """The key of the worst level an estimate limited to `limit_price` counts."""
    if limit_price is None:
        return _KEY_ANY
    if type(limit_price) is not int or not 0 < limit_price <= PRICE_MAX:
        check_positive_int(limit_price, "limit_price", PRICE_MAX)
    return limit_price * sign


def _top_levels(book: _BookSide, depth: int) -> list[BookLevel]:
    levels = book.levels
    sign = book.sign
    live = (levels[key] for key in reversed(book.keys) if levels[key].qty)
    return [BookLevel(level.key * sign, level.qty) for level in islice(live, depth)]


def _order_of(record: _Record) -> Order:
    oid, owner, shown, price, side, qty, reduced, post, _, hidden, _ = record
    rem = shown + hidden
    return Order(oid, owner, side, price, qty, rem, qty - rem - reduced, post)


def _refill(maker: _Record, level: _Level, orders: dict[int, _Record]) -> None:
    """Show an iceberg's next slice (its shown one was just filled, and it left the book): at
    the back of its level, so it loses its time priority, as a new order would; same id."""
    hidden, display = maker[_HIDDEN], maker[_DISPLAY]
    shown = display if display < hidden else hidden
    maker[_REM] = shown
    maker[_HIDDEN] = hidden - shown
    level.qty += shown
    level.hidden -= shown
    level.queue.append(maker)
    orders[maker[_ID]] = maker


def _reject_order_id(order_id: object, next_order_id: int) -> NoReturn:
    raise InvalidOrder(f"order id {order_id!r} must be an integer of at least {next_order_id}")


def _load_verified(config: MarketConfig, state: dict[str, object]) -> InMemoryEngine:
    return InMemoryEngine.from_state(config, state, verified=True)


ENGINE: Final = EngineSpec(
    InMemoryEngine,
    _load_verified,
    ALL_OPTIONS,
    "tachyon's own price-time priority book in pure Python (every option)",
)
"""The `in_memory` engine: built in, and declared as a `tachyon.engines` entry point."""
