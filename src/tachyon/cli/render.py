"""The JSON shapes of results: the one place values are turned into output.

Values arrive as integers in minor units with their market or token; they leave as exact
decimal strings in token units. The shapes are documented in the README; the tables
(`tachyon.cli.tables`) are drawn from them, so both formats always say the same thing. No rich
here: a JSON answer does not pay for importing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import click

from tachyon.cli.reading import Levels, OrderRow, TokenBalance
from tachyon.dex.ids import TokenId
from tachyon.dex.model import BookDepth, MarketConfig, OrderStatus, Trade
from tachyon.dex.units import to_decimal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta


def emit_json(value: object) -> None:
    """Indented JSON on standard output (plain: no colour codes for a machine to strip)."""
    click.echo(json.dumps(value, indent=2))


def book_json(config: MarketConfig, depth: BookDepth | tuple[Levels, Levels]) -> dict[str, object]:
    bids, asks = depth

    def levels(side: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
        return [
            {
                "price": to_decimal(price, config.quote_decimals),
                "qty": to_decimal(qty, config.base_decimals),
            }
            for price, qty in side
        ]

    return {"market": config.market_id, "bids": levels(bids), "asks": levels(asks)}


def trade_json(config: MarketConfig, trade: Trade) -> dict[str, object]:
    return {
        "trade_id": trade.trade_id,
        "price": to_decimal(trade.price, config.quote_decimals),
        "qty": to_decimal(trade.qty, config.base_decimals),
        "maker_order_id": trade.maker_order_id,
        "taker_order_id": trade.taker_order_id,
        "taker_side": str(trade.taker_side),
    }


def placement_json(
    config: MarketConfig,
    order_id: int,
    status: OrderStatus,
    filled_qty: int,
    open_qty: int,
    trades: Sequence[Trade],
) -> dict[str, object]:
    return {
        "order_id": order_id,
        "market": config.market_id,
        "status": str(status),
        "filled_qty": to_decimal(filled_qty, config.base_decimals),
        "open_qty": to_decimal(open_qty, config.base_decimals),
        "trades": [trade_json(config, trade) for trade in trades],
    }


def balance_rows_json(rows: Sequence[TokenBalance]) -> list[dict[str, str]]:
    return [
        {
            "token": row.token,
            "available": to_decimal(row.available, row.decimals),
            "locked": to_decimal(row.locked, row.decimals),
        }
        for row in rows
    ]


def balances_json(
    balances: Mapping[TokenId, BalanceRecord], tokens: Mapping[TokenId, TokenMeta]
) -> list[dict[str, str]]:
    """Balances of the in-memory service (the demo)."""
    return balance_rows_json(
        [
            TokenBalance(token, tokens[token].decimals, record.available, record.locked)
            for token, record in balances.items()
        ]
    )


def order_json(config: MarketConfig, row: OrderRow) -> dict[str, object]:
    return {
        "order_id": row.order_id,
        "market": row.market,
        "side": str(row.side),
        "price": to_decimal(row.price, config.quote_decimals),
        "qty": to_decimal(row.qty, config.base_decimals),
        "remaining_qty": to_decimal(row.remaining_qty, config.base_decimals),
        "filled_qty": to_decimal(row.filled_qty, config.base_decimals),
        "status": str(OrderStatus.PARTIALLY_FILLED if row.filled_qty else OrderStatus.NEW),
    }


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


def compact_json(value: object) -> str:
    """One line of JSON (for streams such as `dex watch --format json`)."""
    return json.dumps(value, separators=(",", ":"))
