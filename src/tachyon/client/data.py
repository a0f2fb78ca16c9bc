"""The client's plain data: what a node answers, as frozen structs whose amounts are the API's
exact decimal strings in token units and whose times are integers, ns since the epoch.

Field names are the JSON keys of the node's answers (README, "JSON shapes"), so each struct
reads its answer directly (`parse`); unknown keys are ignored, so a newer node's additions
do not break an older client. Nothing here rounds: do arithmetic with `decimal.Decimal`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from tachyon import errors

T = TypeVar("T")


class Risk(msgspec.Struct, frozen=True, kw_only=True):
    """A market's risk limits (null: unset); the price band in percent."""

    max_notional: str | None = None
    price_band_pct: str | None = None
    max_position: str | None = None
    max_open_orders: int | None = None


class Market(msgspec.Struct, frozen=True, kw_only=True):
    """A market: its tokens and their decimals, its units, fees and rules."""

    market: str
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    tick_size: str
    lot_size: str
    min_qty: str
    maker_bps: int
    taker_bps: int
    fee_token: str
    fee_account: str
    max_qty: str | None = None
    min_notional: str | None = None
    risk: Risk | None = None
    halted: bool = False
    engine: str | None = None


class Token(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    decimals: int


class Level(msgspec.Struct, frozen=True, kw_only=True):
    """One price level of a book: the quantity resting at `price`."""

    price: str
    qty: str


class Book(msgspec.Struct, frozen=True, kw_only=True):
    """A market's book, best levels first; `update_id` the journal sequence number it is at
    (a stream's book; None for `GET /v1/orderbook`, which does not tell it)."""

    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    update_id: int | None = None


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """A trade at the maker's price; fees negative for a rebate, null where not recorded."""

    trade_id: int
    price: str
    qty: str
    maker_order_id: int
    taker_order_id: int
    taker_side: str
    maker_fee: str | None = None
    taker_fee: str | None = None
    time_ns: int | None = None
    update_id: int | None = None


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    """What placing (or cancelling) an order did: its status, what filled and what rests."""

    order_id: int
    market: str
    status: str
    filled_qty: str
    open_qty: str
    time_ns: int | None = None
    trades: tuple[Trade, ...] = ()


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """A token's balance: `available`, `locked` in open orders, and `debt` owed."""

    token: str
    available: str
    locked: str
    debt: str = "0"


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """An open order (new or partially filled) and when it was placed."""

    order_id: int
    market: str
    side: str
    price: str
    qty: str
    remaining_qty: str
    filled_qty: str
    status: str
    time_ns: int | None = None


class ClosedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A filled or cancelled order; `price` null for a market order, `reason` why it closed."""

    order_id: int
    market: str
    side: str
    price: str | None
    qty: str | None
    filled_qty: str
    status: str
    reason: str | None = None
    time_ns: int | None = None
    closed_time_ns: int | None = None


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One of the account's fills: its order, side, role (maker or taker) and fee."""

    trade_id: int
    market: str
    order_id: int
    side: str
    role: str
    price: str
    qty: str
    fee: str | None
    fee_token: str
    time_ns: int | None = None


class Stop(msgspec.Struct, frozen=True, kw_only=True):
    """A stop order: `pending` until the market's last trade reaches `trigger_price`, then it
    becomes an order (a limit at `price`, or a market order: `price` null); or `cancelled`.
    `locked` is in the quote for a bid, the base for an ask."""

    order_id: int
    market: str
    side: str
    trigger_price: str
    price: str | None
    qty: str | None
    max_quote: str | None
    stp: str
    locked: str
    status: str
    time_ns: int | None = None


class Withdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal to a destination: `pending` until the operator `completed` (paid out) or
    `rejected` it (the amount available again), with the operator's `reference`."""

    withdrawal_id: int
    token: str
    amount: str
    destination: str
    state: str
    reference: str | None = None


class History(msgspec.Struct, frozen=True, kw_only=True):
    """The account's latest closed orders and fills, each newest first."""

    orders: tuple[ClosedOrder, ...]
    fills: tuple[Fill, ...]


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="order"):
    """The account stream's word on an order: its status and remaining qty as the batch left
    it (`price` null for a market order)."""

    update_id: int
    order_id: int
    market: str
    side: str
    price: str | None
    status: str
    remaining_qty: str


class FillEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="fill"):
    """The account stream's fill: one side of a trade, the account's role and fee."""

    update_id: int
    order_id: int
    trade_id: int
    market: str
    side: str
    role: str
    price: str
    qty: str
    fee: str | None
    fee_token: str
    time_ns: int | None = None


class StopEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="stop"):
    """The account stream's stop: `pending` (with side and trigger), `triggered` (with the
    order it became, null if refused) or `cancelled` (with why)."""

    update_id: int
    order_id: int
    market: str
    status: str
    time_ns: int | None = None
    side: str | None = None
    trigger_price: str | None = None
    new_order_id: int | None = None
    reason: str | None = None


AccountEvent = OrderEvent | FillEvent | StopEvent


def account_event(row: Any) -> AccountEvent | None:
    """An account stream's event by its `type`; None for a type this client does not know (a
    newer node's); CorruptData for a known type it cannot read."""
    kind = row.get("type") if isinstance(row, dict) else None
    if kind == "order":
        return parse(OrderEvent, row)
    if kind == "fill":
        return parse(FillEvent, row)
    if kind == "stop":
        return parse(StopEvent, row)
    return None


def parse(kind: type[T], document: Any) -> T:
    """`document` (a node's JSON) as a `kind`; CorruptData if it is not one."""
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as exc:
        name = getattr(kind, "__name__", str(kind))
        raise errors.CorruptData(f"the node's answer is not a {name}: {exc}") from exc


def plain(value: object) -> Any:
    """A struct (or a list of them) as JSON's builtins (lists, not tuples): its exact strings
    kept."""
    return msgspec.json.decode(msgspec.json.encode(value))
