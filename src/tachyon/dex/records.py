"""What an exchange tells of trades and orders beyond the core's values: when each was made and
what each fill cost in fees, and an account's history of closed orders and fills.

The core keeps none of it (its state has no clock, and forgets an order once it closes): the
read model records it from each command's events and journal time (`tachyon.storage.view`),
and a node's answers carry it (`tachyon.client`); both give these values through the
`ExchangePort` (`tachyon.exchange.port`). A time is the journal time of the command that made
the trade or placed the order, in nanoseconds since the epoch; a fee is in minor units of the
market's fee token (negative: a maker's rebate). None is a value nobody recorded: a trade or
an order from before the read model recorded it, or read while the read model is behind the
journal (a writer without it). Pure.
"""

from __future__ import annotations

from typing import NamedTuple

from tachyon.dex.ids import MarketId, OrderId, TradeId
from tachyon.dex.model import OrderStatus, Side, Trade
from tachyon.dex.open_order import OpenOrder


class TradeRecord(NamedTuple):
    """A trade, when it was made, and the maker's and the taker's fee of it."""

    trade: Trade
    time_ns: int | None
    maker_fee: int | None
    taker_fee: int | None


class OrderRecord(NamedTuple):
    """An open order and when it was placed."""

    order: OpenOrder
    time_ns: int | None


class ClosedOrder(NamedTuple):
    """An order that left the book, or never rested: filled, or cancelled for `reason`.
    `price` is None for a market order; `qty` (as placed) for a market bid by budget, or an
    order whose placement the read model did not see; `time_ns` is when it was placed (None:
    not known) and `closed_time_ns` when it closed; `reason` is a `CancelReason` value
    (`tachyon.exchange.events`: user, unfilled, self_trade_prevention, fees, price_band)."""

    order_id: OrderId
    market: MarketId
    side: Side
    price: int | None
    qty: int | None
    filled_qty: int
    status: OrderStatus
    reason: str | None
    time_ns: int | None
    closed_time_ns: int


class Fill(NamedTuple):
    """One side of a trade as its account saw it: its order, side and role (`maker` or
    `taker`), the price and quantity, and the fee that side paid (negative: a rebate)."""

    trade_id: TradeId
    market: MarketId
    order_id: OrderId
    side: Side
    role: str
    price: int
    qty: int
    fee: int | None
    time_ns: int | None


class History(NamedTuple):
    """An account's closed orders and fills, each newest first."""

    orders: list[ClosedOrder]
    fills: list[Fill]


class Receipt(NamedTuple):
    """What the exchange tells of a command beyond its outcome: its journal time, and the
    (maker fee, taker fee) of each trade it made, in the order of its trades (None: not told)."""

    time_ns: int | None
    fees: list[tuple[int, int]] | None


MAKER = "maker"
TAKER = "taker"
