"""The node's JSON shapes: requests it accepts and the answers it gives.

Answers have the same keys as the CLI's `--format json` (README, "JSON shapes"): integers in
minor units leave as exact decimal strings in token units. These shape functions repeat
`tachyon.cli.render`'s, which the node may not import (the CLI is above it); they belong in a
module both can use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from tachyon.dex.model import BookDepth, MarketConfig, OrderStatus, Trade
from tachyon.dex.units import to_decimal
from tachyon.exchange.commands import COMMAND_BYTES_MAX
from tachyon.exchange.service import OwnedOrder, Placement
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

BODY_BASE64_MAX: Final = (COMMAND_BYTES_MAX + 2) // 3 * 4
"""Base64 of the longest command's bytes."""
SIGNATURE_BASE64_MAX: Final = 128


class SignedCommandRequest(BaseModel):
    """A wallet's `SignedCommand`: the canonical bytes of an account command and its key's
    Ed25519 signature over them, both base64 (standard alphabet, padded)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=BODY_BASE64_MAX, description="base64 of the command's bytes")
    signature: str = Field(max_length=SIGNATURE_BASE64_MAX, description="base64 signature")


class _Shape(BaseModel):
    """An answer's shape, for the OpenAPI description (answers are built as plain dicts)."""

    model_config = ConfigDict(extra="forbid")


class ServerTime(_Shape):
    server_time_ns: int


class Market(_Shape):
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


class Markets(_Shape):
    markets: list[Market]


class Level(_Shape):
    price: str
    qty: str


class Book(_Shape):
    market: str
    bids: list[Level]
    asks: list[Level]


class TradeShape(_Shape):
    trade_id: int
    price: str
    qty: str
    maker_order_id: int
    taker_order_id: int
    taker_side: str


class Trades(_Shape):
    market: str
    trades: list[TradeShape]


class PlacementShape(_Shape):
    order_id: int
    market: str
    status: str
    filled_qty: str
    open_qty: str
    trades: list[TradeShape]


class Balance(_Shape):
    token: str
    available: str
    locked: str


class Balances(_Shape):
    address: str
    balances: list[Balance]


class OpenOrder(_Shape):
    order_id: int
    market: str
    side: str
    price: str
    qty: str
    remaining_qty: str
    filled_qty: str
    status: str


class OpenOrders(_Shape):
    orders: list[OpenOrder]


class ErrorDetail(_Shape):
    code: str
    message: str


class ErrorBody(_Shape):
    """The one shape of every refusal."""

    error: ErrorDetail


def market_json(config: MarketConfig) -> dict[str, object]:
    fees = config.fees
    return {
        "market": config.market_id,
        "base": config.base,
        "quote": config.quote,
        "base_decimals": config.base_decimals,
        "quote_decimals": config.quote_decimals,
        "tick_size": to_decimal(config.tick_size, config.quote_decimals),
        "lot_size": to_decimal(config.lot_size, config.base_decimals),
        "min_qty": to_decimal(config.min_qty, config.base_decimals),
        "maker_bps": fees.maker_bps,
        "taker_bps": fees.taker_bps,
        "fee_token": config.fee_token,
        "fee_account": fees.fee_account,
    }


def book_json(config: MarketConfig, depth: BookDepth) -> dict[str, object]:
    def levels(side: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
        return [
            {
                "price": to_decimal(price, config.quote_decimals),
                "qty": to_decimal(qty, config.base_decimals),
            }
            for price, qty in side
        ]

    return {"market": config.market_id, "bids": levels(depth.bids), "asks": levels(depth.asks)}


def trade_json(config: MarketConfig, trade: Trade) -> dict[str, object]:
    return {
        "trade_id": trade.trade_id,
        "price": to_decimal(trade.price, config.quote_decimals),
        "qty": to_decimal(trade.qty, config.base_decimals),
        "maker_order_id": trade.maker_order_id,
        "taker_order_id": trade.taker_order_id,
        "taker_side": str(trade.taker_side),
    }


def placement_json(config: MarketConfig, placement: Placement) -> dict[str, object]:
    return {
        "order_id": placement.order_id,
        "market": config.market_id,
        "status": str(placement.status),
        "filled_qty": to_decimal(placement.filled_qty, config.base_decimals),
        "open_qty": to_decimal(placement.open_qty, config.base_decimals),
        "trades": [trade_json(config, trade) for trade in placement.trades],
    }


def balance_json(meta: TokenMeta, record: BalanceRecord) -> dict[str, str]:
    return {
        "token": meta.symbol,
        "available": to_decimal(record.available, meta.decimals),
        "locked": to_decimal(record.locked, meta.decimals),
    }


def order_json(config: MarketConfig, owned: OwnedOrder) -> dict[str, object]:
    order = owned.order
    return {
        "order_id": order.order_id,
        "market": owned.market,
        "side": str(order.side),
        "price": to_decimal(order.price, config.quote_decimals),
        "qty": to_decimal(order.qty, config.base_decimals),
        "remaining_qty": to_decimal(order.remaining_qty, config.base_decimals),
        "filled_qty": to_decimal(order.filled_qty, config.base_decimals),
        "status": str(OrderStatus.PARTIALLY_FILLED if order.filled_qty else OrderStatus.NEW),
    }
