"""Risk: the stage of the state machine that judges a new order against its market's rules and
risk limits before anything is locked (the spec's P2 risk controls).

Pure, and deterministic: every check reads only the state (books, last trade, balances, open
orders) as the order arrives, so replay refuses exactly what was refused. Each refusal has a
stable code (`tachyon.errors.RiskLimitExceeded` and its subclasses, `QtyAboveMax`,
`NotionalBelowMin`, `MarketHalted`) and a message naming the limit and the value.

- max notional: price * quantity in quote minor units (a market bid: its budget, else the
  estimated cost of its quantity; a market ask: its estimated proceeds); at the limit is
  accepted.
- price band: a limit price p must satisfy 100 * |p - ref| <= P * ref (in basis points
  here: 10,000 * |p - ref| <= band_bps * ref), ref being the mid of the best bid and best
  ask, unrounded; the last trade's price when a side is empty; no check when there is
  neither. A market order takes only what lies inside the band (its quantity is capped to
  it; the rest is cancelled, reason `price_band`).
- max position: an owner's holdings of the market's base token (available + locked, plus
  the open bid quantity on every market with that base) after the order filled completely
  must not exceed the limit; asks never raise it.
- max open orders: per owner per market, counted for orders that may rest (GTC limits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from tachyon.dex.ids import AccountId, MarketId
from tachyon.dex.model import BookLevel, MarketConfig, Side, TimeInForce
from tachyon.errors import (
    MarketHalted,
    MaxNotionalExceeded,
    MaxOpenOrdersExceeded,
    MaxPositionExceeded,
    NotionalBelowMin,
    OutsidePriceBand,
    QtyAboveMax,
)

if TYPE_CHECKING:
    from tachyon.exchange.service import DexService

BPS: Final = 10_000
LEVELS_FIRST: Final = 8  # levels a walk of the book reads first


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """A market's risk limits; None: no such limit."""

    max_notional: int | None = None  # quote minor units per order
    price_band_bps: int | None = None  # of the reference price (1% = 100)
    max_position: int | None = None  # base minor units per owner
    max_open_orders: int | None = None  # per owner on this market

    def changed(self, update: RiskLimits) -> RiskLimits:
        """These limits with every limit `update` sets (its None: left as it is)."""
        return replace(
            self,
            **{
                name: value
                for name in RiskLimits.__slots__
                if (value := getattr(update, name)) is not None
            },
        )


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What the operator decides about one market besides its config and fees."""

    halted: bool = False
    max_qty: int | None = None  # base minor units per order
    min_notional: int | None = None  # quote minor units per order
    limits: RiskLimits = field(default_factory=RiskLimits)
    engine: str | None = None  # the engine it was listed on (None: the exchange's default)


NO_LIMITS: Final = RiskLimits()
NO_RULES: Final = MarketRules()


def check_limit(
    service: DexService,
    rules: MarketRules,
    owner: AccountId,
    market: MarketConfig,
    order: tuple[Side, int, int, TimeInForce],
) -> None:
    """Refuse a limit order `(side, price, qty, tif)` that breaks a rule or limit."""
    side, price, qty, tif = order
    _check_open(rules, market)
    notional = market.notional(price, qty)
    _check_size(rules, qty, notional)
    limits = rules.limits
    if limits.max_notional is not None and notional > limits.max_notional:
        raise MaxNotionalExceeded(
            f"order notional {notional} exceeds {market.market_id}'s max_notional"
            f" {limits.max_notional} (quote minor units); nothing was changed"
        )
    if limits.price_band_bps is not None:
        reference = reference_price_x2(service, market.market_id)
        if reference is not None and BPS * abs(2 * price - reference) > (
            limits.price_band_bps * reference
        ):
            low, high = band_x2(reference, limits.price_band_bps)
            raise OutsidePriceBand(
                f"price {price} is outside {market.market_id}'s price band of"
                f" {limits.price_band_bps} bps around {reference / 2:g}"
                f" ({low / 2:g} to {high / 2:g}); nothing was changed"
            )
    if side is Side.BID:
        _check_position(service, limits, owner, market, qty)
    if tif is TimeInForce.GTC and limits.max_open_orders is not None:
        count = service.open_order_count(owner, market.market_id)
        if count >= limits.max_open_orders:
            raise MaxOpenOrdersExceeded(
                f"{owner} has {count} open orders on {market.market_id}, its max_open_orders"
                f" is {limits.max_open_orders}; nothing was changed"
            )


def check_market(
    service: DexService,
    rules: MarketRules,
    owner: AccountId,
    market: MarketConfig,
    order: tuple[Side, int | None, int | None],
) -> int | None:
    """Refuse a market order `(side, qty, max_quote)` that breaks a rule or limit; return the
    quantity it may take (capped to what lies inside the price band), unchanged if no band."""
    side, qty, max_quote = order
    _check_open(rules, market)
    limits = rules.limits
    if limits == NO_LIMITS and rules.max_qty is None and rules.min_notional is None:
        return qty
    capped = qty
    if limits.price_band_bps is not None:
        reference = reference_price_x2(service, market.market_id)
        if reference is not None:
            wanted = qty if qty is not None else _qty_for_budget(service, market, max_quote or 0)
            inside = _qty_inside_band(
                service, market, side, reference, limits.price_band_bps, wanted
            )
            capped = inside if capped is None else min(capped, inside)
    if capped == 0:
        raise OutsidePriceBand(
            f"nothing rests inside {market.market_id}'s price band of {limits.price_band_bps}"
            " bps; nothing was changed"
        )
    estimate_qty = capped
    if estimate_qty is None:  # a bid by budget: what the budget buys now
        estimate_qty = _qty_for_budget(service, market, max_quote or 0)
    filled, cost = service.estimate_market_cost(side, estimate_qty, market.market_id)
    notional = cost if max_quote is None else max_quote
    _check_size(rules, estimate_qty if qty is None else qty, notional)  # the order's own size
    if limits.max_notional is not None and notional > limits.max_notional:
        raise MaxNotionalExceeded(
            f"order notional {notional} exceeds {market.market_id}'s max_notional"
            f" {limits.max_notional} (quote minor units); nothing was changed"
        )
    if side is Side.BID:
        _check_position(service, limits, owner, market, filled)
    return capped


def reference_price_x2(service: DexService, market: MarketId) -> int | None:
    """Twice the reference price (so the mid stays an integer): best bid + best ask, or twice
    the last trade's price when a side is empty, or None."""
    book = service.snapshot(1, market)
    if book.bids and book.asks:
        return book.bids[0].price + book.asks[0].price
    trades = service.recent_trades(1, market)
    return 2 * trades[0].price if trades else None


def band_x2(reference_x2: int, band_bps: int) -> tuple[int, int]:
    """Twice the band's lowest and highest prices (exact: the bounds may not be integers)."""
    spread = reference_x2 * band_bps
    return (reference_x2 * BPS - spread) // BPS, (reference_x2 * BPS + spread) // BPS


def _check_open(rules: MarketRules, market: MarketConfig) -> None:
    if rules.halted:
        raise MarketHalted(
            f"market {market.market_id} is halted: only cancels are accepted; nothing was changed"
        )


def _check_size(rules: MarketRules, qty: int, notional: int) -> None:
    if rules.max_qty is not None and qty > rules.max_qty:
        raise QtyAboveMax(f"quantity {qty} exceeds the market's max_qty {rules.max_qty}")
    if rules.min_notional is not None and notional < rules.min_notional:
        raise NotionalBelowMin(
            f"order notional {notional} is below the market's min_notional {rules.min_notional}"
        )


def _check_position(
    service: DexService, limits: RiskLimits, owner: AccountId, market: MarketConfig, qty: int
) -> None:
    if limits.max_position is None:
        return
    held = service.base_position(owner, market.base)
    if held + qty > limits.max_position:
        raise MaxPositionExceeded(
            f"{owner} holds {held} {market.base} (minor units, open bids included); {qty} more"
            f" would exceed {market.market_id}'s max_position {limits.max_position}; nothing"
            " was changed"
        )


def _qty_inside_band(
    service: DexService,
    market: MarketConfig,
    side: Side,
    reference_x2: int,
    band_bps: int,
    wanted: int,
) -> int:
    """The resting quantity a market order of `side` can take inside the band, counted until
    it reaches `wanted` (what the order would take without a band)."""
    low, high = band_x2(reference_x2, band_bps)
    inside = 0
    for level in _levels(service, market.market_id, side.opposite):
        if inside >= wanted or (
            (2 * level.price > high) if side is Side.BID else (2 * level.price < low)
        ):
            break
        inside += level.qty
    return inside


def _qty_for_budget(service: DexService, market: MarketConfig, budget: int) -> int:
    """The ask quantity `budget` quote minor units buy now, walking the book."""
    bought = 0
    for level in _levels(service, market.market_id, Side.ASK):
        cost = market.notional(level.price, level.qty)
        if cost > budget:
            lot_cost = market.notional(level.price, market.lot_size)
            return bought + (budget // lot_cost) * market.lot_size if lot_cost else bought
        bought += level.qty
        budget -= cost
    return bought


def _levels(service: DexService, market: MarketId, side: Side) -> Iterator[BookLevel]:
    """One side's levels, best first, read a few at a time (twice as many each time): a
    market order usually meets the first few, and the whole of a deep book costs much more."""
    depth, seen = LEVELS_FIRST, 0
    while True:
        book = service.snapshot(depth, market)
        levels = book.bids if side is Side.BID else book.asks
        yield from levels[seen:]
        if len(levels) < depth:
            return
        seen, depth = depth, 2 * depth
