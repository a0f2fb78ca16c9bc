"""Order validation ladders: the first rule an order breaks, named with the bad value.

Pure. Engines call these only after a fast combined check has failed, so the hot path pays
for one boolean expression; `DexService` calls them before it locks funds.
"""

from __future__ import annotations

from typing import NoReturn

from tachyon.dex.model import MarketConfig, SelfTradePrevention, Side, TimeInForce
from tachyon.dex.units import PRICE_MAX, QTY_MAX, check_positive_int
from tachyon.errors import InvalidOrder, PriceNotMultipleOfTick, QtyBelowMin, QtyNotMultipleOfLot


def validate_qty(config: MarketConfig, qty: object) -> int:
    """Return `qty` if it is a whole number of lots, at least the minimum; else raise."""
    value = check_positive_int(qty, "qty", QTY_MAX)
    if value % config.lot_size:
        raise QtyNotMultipleOfLot(f"qty {value} is not a multiple of lot size {config.lot_size}")
    if value < config.min_qty:
        raise QtyBelowMin(f"qty {value} is below the minimum order size {config.min_qty}")
    return value


def validate_price(config: MarketConfig, price: object) -> int:
    """Return `price` if it is a positive whole number of ticks; else raise."""
    value = check_positive_int(price, "price", PRICE_MAX)
    if value % config.tick_size:
        raise PriceNotMultipleOfTick(
            f"price {value} is not a multiple of tick size {config.tick_size}"
        )
    return value


def validate_limit(
    config: MarketConfig,
    side: object,
    price: object,
    qty: object,
    tif: object = TimeInForce.GTC,
    post_only: object = False,
    stp: object = SelfTradePrevention.CANCEL_MAKER,
) -> None:
    """Raise the first rule a limit order breaks, in the order a user reads them."""
    validate_options(side, tif, stp)
    validate_qty(config, qty)
    validate_price(config, price)
    if type(post_only) is not bool:
        raise InvalidOrder(f"post_only {post_only!r} must be true or false")
    if post_only and tif is not TimeInForce.GTC:
        raise InvalidOrder(f"post-only orders rest on the book, so tif must be gtc, not {tif}")


def validate_market(
    config: MarketConfig, side: object, qty: object, max_quote: object, stp: object
) -> None:
    """Raise the first rule a market order breaks: a qty, and for bids optionally a quote cap."""
    validate_options(side, TimeInForce.IOC, stp)
    if max_quote is not None:
        if side is not Side.BID:
            raise InvalidOrder("max_quote bounds what a market bid spends; an ask sells a qty")
        check_positive_int(max_quote, "max_quote", QTY_MAX)
        if qty is None:
            return
    elif qty is None:
        raise InvalidOrder("a market order needs a qty (or, for a bid, max_quote)")
    validate_qty(config, qty)


def validate_options(side: object, tif: object, stp: object) -> None:
    if type(side) is not Side:
        reject_choice("side", side, Side)
    if type(tif) is not TimeInForce:
        reject_choice("time in force", tif, TimeInForce)
    if type(stp) is not SelfTradePrevention:
        reject_choice("self-trade prevention", stp, SelfTradePrevention)


def reject_choice(
    name: str, value: object, choices: type[Side | TimeInForce | SelfTradePrevention]
) -> NoReturn:
    raise InvalidOrder(f"{name} {value!r} must be one of: {', '.join(choices)}")
