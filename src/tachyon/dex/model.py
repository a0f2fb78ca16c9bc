"""Domain types of the exchange: sides, order options, orders, trades, book levels, markets, fees.

Pure values: enums, immutable tuples and structs, and frozen dataclasses. Prices and quantities
are integers in the market's units (see `MarketConfig`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, NamedTuple

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId, TradeId
from tachyon.dex.units import BPS_DENOMINATOR, DECIMALS_MAX, PRICE_MAX, QTY_MAX
from tachyon.errors import InvalidConfig


class Side(enum.StrEnum):
    """Which side of the book: a bid buys base with quote, an ask sells base for quote."""

    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID


class TimeInForce(enum.StrEnum):
    """GTC rests what does not fill; IOC cancels it; FOK fills completely or changes nothing."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class SelfTradePrevention(enum.StrEnum):
    """What happens when an incoming order (taker) meets a resting order of the same owner.

    The taker's mode decides. The default, CANCEL_MAKER, removes the stale resting order and
    lets the taker go on matching, as the larger crypto venues do by default. Binance's names
    are accepted for the same modes (`SelfTradePrevention("expire_taker")`, any case):
    expire_taker, expire_maker, expire_both and decrement, whose semantics are these modes'.
    """

    CANCEL_TAKER = "cancel_taker"
    """Cancel the rest of the incoming order; fills made before stand."""
    CANCEL_MAKER = "cancel_maker"
    """Cancel the resting order and keep matching."""
    CANCEL_BOTH = "cancel_both"
    """Cancel the resting order and the rest of the incoming order."""
    DECREMENT_AND_CANCEL = "decrement_and_cancel"
    """Reduce both by the smaller remaining quantity without a trade; cancel whichever reaches 0."""
    ALLOW = "allow"
    """Let the owner trade with itself."""

    @classmethod
    def _missing_(cls, value: object) -> SelfTradePrevention | None:
        if not isinstance(value, str):
            return None
        name = value.lower()
        return BINANCE_STP_NAMES.get(name) or next((m for m in cls if m.value == name), None)


STP_DEFAULT: Final = SelfTradePrevention.CANCEL_MAKER
BINANCE_STP_NAMES: Final = {
    "expire_taker": SelfTradePrevention.CANCEL_TAKER,
    "expire_maker": SelfTradePrevention.CANCEL_MAKER,
    "expire_both": SelfTradePrevention.CANCEL_BOTH,
    "decrement": SelfTradePrevention.DECREMENT_AND_CANCEL,
}
"""Binance's self-trade prevention modes, by the name of the mode each is here."""


class OrderStatus(enum.StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One fill, always at the maker's price. `qty` is in base minor units.

    A frozen struct rather than a named tuple: the matching loop builds one per fill, and a
    struct costs half as much to build (a tuple subclass is built from a tuple, then copied) and
    is never tracked by the garbage collector (its fields are never containers)."""

    trade_id: TradeId
    price: int
    qty: int
    maker_order_id: OrderId
    taker_order_id: OrderId
    maker_owner: AccountId
    taker_owner: AccountId
    taker_side: Side


class Order(msgspec.Struct, frozen=True, gc=False):
    """An open (resting) order as the engine holds it (a struct, as `Trade` is)."""

    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    qty: int
    remaining_qty: int
    filled_qty: int
    post_only: bool

    @property
    def status(self) -> OrderStatus:
        return OrderStatus.PARTIALLY_FILLED if self.filled_qty else OrderStatus.NEW


class BookLevel(NamedTuple):
    """Aggregated resting quantity at one price."""

    price: int
    qty: int


class BookDepth(NamedTuple):
    """The top of the book: levels best first on each side (the seed's `snapshot(depth)`)."""

    bids: list[BookLevel]
    asks: list[BookLevel]


DEFAULT_BASE: Final = TokenId("BASE")
DEFAULT_QUOTE: Final = TokenId("USDC")

FEE_ACCOUNT: Final = AccountId("tachyon:fees")
"""The internal account that receives fees; it never trades."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Maker and taker fees in basis points, charged in `fee_token` (the quote token if None).

    The side that pays the fee token pays the fee on top; the side that receives it gets the
    amount less the fee. Each fee is rounded down to a whole minor unit. A negative maker fee
    is a rebate (at most the taker fee, so each fill's rebate, also rounded down, is paid out
    of that fill's taker fee and the venue never pays out more than it takes in).
    """

    maker_bps: int = 0
    taker_bps: int = 0
    fee_token: TokenId | None = None
    fee_account: AccountId = FEE_ACCOUNT

    def __post_init__(self) -> None:
        taker, maker = self.taker_bps, self.maker_bps
        if type(taker) is not int or not 0 <= taker <= BPS_DENOMINATOR:
            raise InvalidConfig(
                f"taker_bps {taker!r} must be an integer from 0 to {BPS_DENOMINATOR}"
            )
        if type(maker) is not int or not -taker <= maker <= BPS_DENOMINATOR:
            raise InvalidConfig(
                f"maker_bps {maker!r} must be an integer from -taker_bps ({-taker}) to"
                f" {BPS_DENOMINATOR}: a negative maker fee is a rebate, paid out of the taker"
                " fee of the same fill, so it may not exceed it"
            )


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """A market's units and rules.

    Quantities are in base minor units; prices are in quote minor units per whole base token
    (10**base_decimals minor units), so a fill costs price * qty / 10**base_decimals quote minor
    units. `tick_size * lot_size` must be a multiple of 10**base_decimals, which makes every
    valid fill's cost an exact integer.
    """

    base: TokenId = DEFAULT_BASE
    quote: TokenId = DEFAULT_QUOTE
    tick_size: int = 1
    lot_size: int = 1
    min_qty: int = 1
    base_decimals: int = 0
    quote_decimals: int = 6
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    base_unit: int = field(init=False, repr=False, compare=False)
    """Base minor units in one whole base token: 10**base_decimals."""
    market_id: MarketId = field(init=False, repr=False, compare=False)
    """"BASE/QUOTE" (a field, not a property: every order reads it)."""

    def __post_init__(self) -> None:
        if (
            not self.base
            or not self.quote
            or self.base == self.quote
            or "/" in self.base + self.quote
        ):
            raise InvalidConfig(f"market {self.base}/{self.quote} needs two distinct token symbols")
        for name, value, maximum in (
            ("tick_size", self.tick_size, PRICE_MAX),
            ("lot_size", self.lot_size, QTY_MAX),
            ("min_qty", self.min_qty, QTY_MAX),
        ):
            if type(value) is not int or not 0 < value <= maximum:
                raise InvalidConfig(f"{name} {value!r} must be an integer from 1 to {maximum}")
        for name, decimals in (
            ("base_decimals", self.base_decimals),
            ("quote_decimals", self.quote_decimals),
        ):
            if type(decimals) is not int or not 0 <= decimals <= DECIMALS_MAX:
                raise InvalidConfig(
                    f"{name} {decimals!r} must be an integer from 0 to {DECIMALS_MAX}"
                )
        object.__setattr__(self, "base_unit", _power_of_ten(self.base_decimals))
        object.__setattr__(self, "market_id", MarketId(f"{self.base}/{self.quote}"))
        if self.min_qty % self.lot_size:
            raise InvalidConfig(
                f"min_qty {self.min_qty} is not a multiple of lot_size {self.lot_size}"
            )
        if (self.tick_size * self.lot_size) % self.base_unit:
            raise InvalidConfig(
                f"tick_size * lot_size ({self.tick_size} * {self.lot_size}) must be a multiple of"
                f" 10**base_decimals ({self.base_unit}) so that every fill costs whole quote units"
            )
        if self.fees.fee_token not in (None, self.base, self.quote):
            raise InvalidConfig(
                f"fee token {self.fees.fee_token} is neither {self.base} nor {self.quote}"
            )

    @property
    def fee_token(self) -> TokenId:
        return self.fees.fee_token or self.quote

    def notional(self, price: int, qty: int) -> int:
        """Quote minor units that `qty` base minor units cost at `price` (exact, see above)."""
        return price * qty // self.base_unit


def _power_of_ten(exponent: int) -> int:
    result: int = 10**exponent
    return result


DEFAULT_MARKET: Final = MarketConfig()
"""BASE/USDC with tick 1, lot 1, min qty 1 and zero fees, so the seed's examples give round numbers."""
