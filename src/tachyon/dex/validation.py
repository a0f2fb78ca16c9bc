"""Order validation ladders: the first rule an order breaks, named with the bad value.

Pure. Engines call these only after a fast combined check has failed, so the hot path pays
for one boolean expression; `DexService` calls them before a lock it cannot make, so an
order's own fault is named before a lack of funds.
"""

from __future__ import annotations

from typing import NoReturn

from tachyon.dex.model import MarketConfig, SelfTradePrevention, Side, TimeInForce
from tachyon.dex.units import PRICE_MAX, QTY_MAX, check_positive_int, to_decimal, to_minor
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
    display_qty: object = None,
) -> None:
    """Raise the first rule a limit order breaks, in the order a user reads them."""
    validate_options(side, tif, stp)
    validate_qty(config, qty)
    validate_price(config, price)
    if type(post_only) is not bool:
        raise InvalidOrder(f"post_only {post_only!r} must be true or false")
    if post_only and tif is not TimeInForce.GTC:
        raise InvalidOrder(f"post-only orders rest on the book, so tif must be gtc, not {tif}")
    if display_qty is not None:
        validate_display(config, qty, tif, display_qty)


def validate_display(config: MarketConfig, qty: object, tif: object, display_qty: object) -> None:
    """An iceberg's shown slice: whole lots, at least the minimum order (each slice is an
    order on the book as others see it), less than the order (else nothing is hidden), and
    only on an order that rests (GTC)."""
    if type(display_qty) is not int or display_qty <= 0:
        raise InvalidOrder(f"display_qty {display_qty!r} must be a positive integer")
    if display_qty % config.lot_size:
        raise InvalidOrder(
            f"display_qty {display_qty} is not a multiple of lot size {config.lot_size}"
        )
    if display_qty < config.min_qty:
        raise InvalidOrder(
            f"display_qty {display_qty} is below the minimum order size {config.min_qty}"
        )
    if type(qty) is int and display_qty >= qty:
        raise InvalidOrder(
            f"display_qty {display_qty} must be less than qty {qty}: an iceberg hides the rest"
        )
    if tif is not TimeInForce.GTC:
        raise InvalidOrder(f"an iceberg order rests on the book, so tif must be gtc, not {tif}")


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


# -- decimal strings at the edges ------------------------------------------------------------


def parse_price(config: MarketConfig, text: str) -> int:
    """A price given in quote-token units ("100.25") as quote minor units per whole base
    token; refused, never rounded, unless it is a positive whole number of ticks."""
    price = to_minor(text, config.quote_decimals, "price", PRICE_MAX)
    if price % config.tick_size:
        tick = to_decimal(config.tick_size, config.quote_decimals)
        raise PriceNotMultipleOfTick(
            f"price {text} is not a whole number of ticks (tick {tick} {config.quote})"
        )
    return price


def parse_qty(config: MarketConfig, text: str) -> int:
    """A quantity given in base-token units as base minor units: a whole number of lots, at
    least the market's minimum."""
    qty = to_minor(text, config.base_decimals, "qty", QTY_MAX)
    if qty % config.lot_size:
        lot = to_decimal(config.lot_size, config.base_decimals)
        raise QtyNotMultipleOfLot(
            f"qty {text} is not a whole number of lots (lot {lot} {config.base})"
        )
    if qty < config.min_qty:
        minimum = to_decimal(config.min_qty, config.base_decimals)
        raise QtyBelowMin(f"qty {text} is below the minimum order size {minimum} {config.base}")
    return qty
