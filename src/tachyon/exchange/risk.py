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
from typing import TYPE_CHECKING, Final, NoReturn

from tachyon.dex.ids import AccountId, MarketId
from tachyon.dex.model import BookLevel, MarketConfig, Side, TimeInForce
from tachyon.dex.units import PRICE_MAX
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
    """Refuse a limit order `(side, price, qty, tif)` that breaks a rule or limit.

    Every order on a market with rules comes through here, so each check costs a comparison
    when its limit is unset and reads only counts the service keeps (no scan of a book or of
    the owner's orders)."""
    side, price, qty, tif = order
    if rules.halted:
        refuse_halted(market)
    notional = price * qty // market.base_unit  # `MarketConfig.notional`, inline
    if rules.max_qty is not None or rules.min_notional is not None:
        _check_size(rules, qty, notional)
    limits = rules.limits
    if limits.max_notional is not None and notional > limits.max_notional:
        _refuse_notional(market, limits, notional)
    if limits.price_band_bps is not None:
        _check_band(service, market, limits.price_band_bps, price)
    max_position, max_open_orders = limits.max_position, limits.max_open_orders
    if max_position is None and max_open_orders is None:
        return
    held, count = service.exposure(owner, market.market_id)
    if max_position is not None and side is Side.BID:
        _check_position(held, max_position, owner, market, qty)
    if max_open_orders is not None and tif is TimeInForce.GTC and count >= max_open_orders:
        raise MaxOpenOrdersExceeded(
            f"{owner} has {count} open orders on {market.market_id}, its max_open_orders"
            f" is {limits.max_open_orders}; nothing was changed"
        )


def check_amend(
    service: DexService,
    rules: MarketRules,
    owner: AccountId,
    market: MarketConfig,
    amend: tuple[Side, int, int, int, int, int],
) -> None:
    """Refuse an amend `(side, new price, new total qty, new open qty, price now, open qty
    now)`
    that breaks a rule or limit. A smaller quantity at the same price only takes risk away, so
    it passes every check, a halt included (it is a partial cancel); anything else is judged
    as the order it becomes: its size and notional, its price against the band, and a bid's
    added open quantity against the position limit (the open-order count does not change)."""
    side, price, qty, open_qty, old_price, old_open = amend
    if price == old_price and open_qty < old_open:
        return
    if rules.halted:
        refuse_halted(market)
    notional = price * qty // market.base_unit
    if rules.max_qty is not None or rules.min_notional is not None:
        _check_size(rules, qty, notional)
    limits = rules.limits
    if limits.max_notional is not None and notional > limits.max_notional:
        _refuse_notional(market, limits, notional)
    if limits.price_band_bps is not None:
        _check_band(service, market, limits.price_band_bps, price)
    if limits.max_position is not None and side is Side.BID and open_qty > old_open:
        held = service.exposure(owner, market.market_id)[0]
        _check_position(held, limits.max_position, owner, market, open_qty - old_open)


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
    if rules.halted:
        refuse_halted(market)
    limits = rules.limits
    if limits == NO_LIMITS and rules.max_qty is None and rules.min_notional is None:
        return qty
    market_id = market.market_id
    wanted = qty if qty is not None else _qty_for_budget(service, market, max_quote or 0)
    capped, limit_price = qty, None
    if limits.price_band_bps is not None:
        reference = reference_price_x2(service, market_id)
        if reference is not None:
            low, high = band_prices(reference, limits.price_band_bps)
            limit_price = high if side is Side.BID else low
    filled, cost = (
        service.estimate_market_cost(side, wanted, market_id, limit_price) if wanted else (0, 0)
    )
    if limit_price is not None:
        capped = filled  # what lies inside the band, at most what the order wants
        if capped == 0:
            raise OutsidePriceBand(
                f"nothing rests inside {market_id}'s price band of {limits.price_band_bps} bps"
                f" (prices {low} to {high}); nothing was changed"
            )
    notional = cost if max_quote is None else max_quote
    _check_size(rules, wanted if qty is None else qty, notional)  # the order's own size
    if limits.max_notional is not None and notional > limits.max_notional:
        _refuse_notional(market, limits, notional)
    if side is Side.BID and limits.max_position is not None:
        held = service.exposure(owner, market_id)[0]
        _check_position(held, limits.max_position, owner, market, filled)
    return capped


def reference_price_x2(service: DexService, market: MarketId) -> int | None:
    """Twice the reference price (so the mid stays an integer): best bid + best ask, or twice
    the last trade's price when a side is empty, or None."""
    best_bid, best_ask, last = service.top(market)
    if best_bid is not None and best_ask is not None:
        return best_bid + best_ask
    return None if last is None else 2 * last


def band_prices(reference_x2: int, band_bps: int) -> tuple[int, int]:
    """The lowest and highest prices inside the band: p with 10,000 * |2p - ref2| <=
    band_bps * ref2 (exact integers; never below 1 or above the largest price)."""
    low = -(-reference_x2 * (BPS - band_bps) // (2 * BPS))  # rounded up
    high = reference_x2 * (BPS + band_bps) // (2 * BPS)
    return max(low, 1), min(high, PRICE_MAX)


def _check_band(service: DexService, market: MarketConfig, band_bps: int, price: int) -> None:
    reference = reference_price_x2(service, market.market_id)
    if reference is not None and BPS * abs(2 * price - reference) > band_bps * reference:
        low, high = band_prices(reference, band_bps)
        raise OutsidePriceBand(
            f"price {price} is outside {market.market_id}'s price band of {band_bps} bps"
            f" around {_half(reference)} (prices {low} to {high}); nothing was changed"
        )


def _half(value_x2: int) -> str:
    """`value_x2 / 2` as an exact decimal string."""
    return f"{value_x2 // 2}.5" if value_x2 % 2 else str(value_x2 // 2)


def refuse_halted(market: MarketConfig) -> NoReturn:
    """Refuse an order (or stop, or amend) on a halted market."""
    raise MarketHalted(
        f"market {market.market_id} is halted: only cancels are accepted; nothing was changed"
    )


def _refuse_notional(market: MarketConfig, limits: RiskLimits, notional: int) -> NoReturn:
    raise MaxNotionalExceeded(
        f"order notional {notional} exceeds {market.market_id}'s max_notional"
        f" {limits.max_notional} (quote minor units); nothing was changed"
    )


def _check_size(rules: MarketRules, qty: int, notional: int) -> None:
    if rules.max_qty is not None and qty > rules.max_qty:
        raise QtyAboveMax(f"quantity {qty} exceeds the market's max_qty {rules.max_qty}")
    if rules.min_notional is not None and notional < rules.min_notional:
        raise NotionalBelowMin(
            f"order notional {notional} is below the market's min_notional {rules.min_notional}"
        )


def _check_position(
    held: int, max_position: int, owner: AccountId, market: MarketConfig, qty: int
) -> None:
    if held + qty > max_position:
        raise MaxPositionExceeded(
            f"{owner} holds {held} {market.base} (minor units, open bids included); {qty} more"
            f" would exceed {market.market_id}'s max_position {max_position}; nothing"
            " was changed"
        )


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
