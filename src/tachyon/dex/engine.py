"""The pluggable matching-engine boundary (the seed's `OrderBookEngine` trait).

The seed's operations keep their names; `open_qty`, `drain_reduced` and the two read-only
attributes are what a settling caller (`DexService`) needs on top, so any engine behind this
protocol can be settled exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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

    @property
    def last_resting_qty(self) -> int:
        """What the most recently placed order left resting on the book (0 if none): a settling
        caller reads it instead of asking `open_qty` after every placement."""
        ...

    @property
    def pending_reductions(self) -> Sequence[tuple[OrderId, int]]:
        """What `drain_reduced` would return now, without emptying it; a cheap emptiness test."""
        ...

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
    ) -> tuple[OrderId, list[Trade]]:
        """Match what crosses, rest the remainder (GTC) or cancel it (IOC); FOK fills or raises.

        `order_id` lets a caller that numbers orders across markets supply the id; it must be
        higher than every id the engine has seen.
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

    def cancel(self, order_id: OrderId, owner: AccountId | None = None) -> bool:
        """Remove an open order; with `owner`, only if that owner placed it."""
        ...

    def snapshot(self, depth: int) -> BookDepth:
        """Aggregated levels, best first, at most `depth` per side."""
        ...

    def recent_trades(self, limit: int) -> list[Trade]:
        """The newest trades first, at most `limit`."""
        ...

    def estimate_market_cost(self, side: Side, qty: int) -> tuple[int, int]:
        """(filled_qty, quote_cost) a market order of `qty` would get now; changes nothing."""
        ...

    def get_order(self, order_id: OrderId) -> Order | None:
        """The open order with this id, or None if it is not (or no longer) resting."""
        ...

    def open_qty(self, order_id: OrderId) -> int:
        """The remaining quantity of an open order; 0 if it is not resting."""
        ...

    def drain_reduced(self) -> Sequence[tuple[OrderId, int]]:
        """Resting orders that self-trade prevention reduced or cancelled since the last call,
        as (order_id, remaining_qty) pairs, remaining 0 meaning cancelled. Settling callers
        release the funds those orders no longer need."""
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
