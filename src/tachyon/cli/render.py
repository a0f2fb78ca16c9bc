"""Rendering of results as rich tables or JSON: the one place output is formatted."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from tachyon.dex.ids import TokenId
from tachyon.dex.model import BookDepth, MarketConfig, Trade
from tachyon.dex.units import to_decimal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta


def emit_json(value: object, console: Console) -> None:
    console.print_json(json.dumps(value))


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


def balances_json(
    balances: dict[TokenId, BalanceRecord], tokens: dict[TokenId, TokenMeta]
) -> list[dict[str, str]]:
    return [
        {
            "token": token,
            "available": to_decimal(record.available, tokens[token].decimals),
            "locked": to_decimal(record.locked, tokens[token].decimals),
        }
        for token, record in balances.items()
    ]


def book_table(book: dict[str, object]) -> Table:
    table = Table(title=f"order book {book['market']}")
    for column in ("bid qty", "bid", "ask", "ask qty"):
        table.add_column(column, justify="right")
    bids = book["bids"]
    asks = book["asks"]
    assert isinstance(bids, list) and isinstance(asks, list)
    for row in range(max(len(bids), len(asks))):
        bid = bids[row] if row < len(bids) else {"price": "", "qty": ""}
        ask = asks[row] if row < len(asks) else {"price": "", "qty": ""}
        table.add_row(bid["qty"], bid["price"], ask["price"], ask["qty"])
    return table


def rows_table(title: str, rows: Sequence[dict[str, object]]) -> Table:
    table = Table(title=title)
    if not rows:
        table.add_column("(none)")
        return table
    for column in rows[0]:
        table.add_column(
            column, justify="right" if column not in ("token", "account", "taker_side") else "left"
        )
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    return table


def fields_table(title: str, fields: dict[str, object]) -> Table:
    """One record as a two-column table: field, value."""
    table = Table(title=title)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for name, value in fields.items():
        table.add_row(name, "" if value is None else str(value))
    return table
