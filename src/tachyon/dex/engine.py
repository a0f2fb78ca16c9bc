"""The pluggable matching-engine boundary (the seed's `OrderBookEngine` trait).

The seed's operations keep their names and return values. A settling caller (`DexService`)
places orders through `execute_limit` and `execute_market`, whose result (an `EngineReport`'s
fields) says everything the call did (fills, what rests, what self-trade prevention reduced),
so any engine behind this protocol can be settled exactly without being asked afterwards.
"""

from __future__ import annotations

from typing import Protocol

from tachyon.dex.events import EngineResult
from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import (
    STP_DEFAULT,
    BookDepth,
    MarketConfig,
    Order,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)


class OrderBookEngine(Protocol):
    """One market's order book: price-time priority matching, trades at the maker's price.

    Every method is deterministic. A method that raises changes nothing.
    """

    @property
    def config(self) -> MarketConfig: ...

    def place_limit(
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
    ) -> tuple[OrderId, list[Trade]]:
        """Match what crosses, rest the remainder (GTC) or cancel it (IOC); FOK fills or raises.

        `order_id` lets a caller that numbers orders across markets supply the id; it must be
        higher than every id the engine has seen.

        `display_qty` makes a GTC order an iceberg (whole lots, at least the minimum, less than
        `qty`): it takes like any limit order, but of what rests only `display_qty` shows on
        the book (`snapshot`, `top`); when a taker fills that slice, the next one (at most
        `display_qty` of the hidden rest) joins the back of its level, and the same taker may
        reach it there. Everything else (`get_order`, `open_qty`, the report's resting qty and
        reductions, `estimate_market_cost`, self-trade prevention) counts the whole order.
        """
        ...

    def place_market(
        self,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
    ) -> tuple[OrderId, list[Trade]]:
        """Take liquidity up to `qty` (and, for a bid, spending at most `max_quote`); never rests."""
        ...

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
    ) -> EngineResult:
        """`place_limit`, reporting everything the call did; `place_limit` returns the
        report's order id and trades."""
        ...

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
        """`place_market`, reporting everything the call did."""
        ...

    def amend(
        self,
        order_id: OrderId,
        price: int,
        qty: int,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> EngineResult:
        """Change an open order's price and total quantity (`qty` counts what it has filled,
        or what self-trade prevention took, as Binance's amend does): the open part becomes
        `qty` minus that, which must stay above 0. A smaller quantity at the same price keeps
        the order's place in its queue; a new price or more quantity sends it to the back of
        its (new) level, matching first, at the makers' prices, if the new price crosses
        (`stp` is the taker's mode then). The report is that of the order as a new taker with
        its own id; OrderNotFound, InvalidOrder, PostOnlyWouldTake (a post-only order whose
        new price crosses), or UnsupportedOrderOption change nothing.

        An iceberg stays one, with the same `display_qty`: its shown slice becomes the smaller
        of `display_qty` and the new open part (the rest hidden), whether it keeps its place
        or goes to the back (so a smaller quantity may show a whole slice again where a
        partly filled one was)."""
        ...

    def cancel(self, order_id: OrderId, owner: AccountId | None = None) -> bool:
        """Remove an open order; with `owner`, only if that owner placed it."""
        ...

    def snapshot(self, depth: int) -> BookDepth:
        """Aggregated levels, best first, at most `depth` per side."""
        ...

    def top(self) -> tuple[int | None, int | None, int | None]:
        """(best bid price, best ask price, last trade's price), None where there is none:
        what the risk stage's price band reads on every order, so it must be cheap."""
        ...

    def recent_trades(self, limit: int) -> list[Trade]:
        """The newest trades first, at most `limit`."""
        ...

    def estimate_market_cost(
        self, side: Side, qty: int, limit_price: int | None = None
    ) -> tuple[int, int]:
        """(filled_qty, quote_cost) a market order of `qty` would get now; changes nothing.
        With `limit_price`, levels beyond it (above it for a bid, below it for an ask) are not
        counted: what an order limited to that price would get."""
        ...

    def get_order(self, order_id: OrderId) -> Order | None:
        """The open order with this id, or None if it is not (or no longer) resting."""
        ...

    def open_qty(self, order_id: OrderId) -> int:
        """The remaining quantity of an open order; 0 if it is not resting."""
        ...

    def open_orders(self) -> list[Order]:
        """Every open order, in id order."""
        ...

    def to_state(self) -> dict[str, object]:
        """The whole book and trade log as plain values (ints, strings, lists, dicts) in a
        deterministic order, which the engine's registered loader turns back into an engine."""
        ...

    def check_invariants(self) -> None:
        """Assert the book's internal consistency (expensive; for tests and recovery)."""
        ...


class PlaceByExecuting:
    """The seed's `place_limit` and `place_market`, answered from an engine's own
    `execute_limit` and `execute_market` (the order id and the trades of the report): a base
    for engines, so that none writes them again."""

    __slots__ = ()

    def place_limit(
        self: OrderBookEngine,
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
    ) -> tuple[OrderId, list[Trade]]:
        result = self.execute_limit(
            owner,
            side,
            price,
            qty,
            tif=tif,
            post_only=post_only,
            stp=stp,
            order_id=order_id,
            display_qty=display_qty,
        )
        return result[0], result[1]

    def place_market(
        self: OrderBookEngine,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
    ) -> tuple[OrderId, list[Trade]]:
        result = self.execute_market(
            owner, side, qty, max_quote=max_quote, stp=stp, order_id=order_id
        )
        return result[0], result[1]
