"""The CLI's JSON output: the shapes of `tachyon.client.shapes` (shared with the node), fed from
what the CLI's readers return.

The shapes are documented in the README; the tables (`tachyon.cli.tables`) are drawn from
them, so both formats always say the same thing. No rich here: a JSON answer does not pay for
importing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import click

from tachyon.cli.reading import Levels, OrderRow, TokenBalance
from tachyon.client.shapes import balance_json, book_json as _book_json, order_json as _order_json
from tachyon.dex.ids import TokenId
from tachyon.dex.model import BookDepth, MarketConfig
from tachyon.ledger.ledger import BalanceRecord, TokenMeta


def emit_json(value: object) -> None:
    """Indented JSON on standard output (plain: no colour codes for a machine to strip)."""
    click.echo(json.dumps(value, indent=2))


def compact_json(value: object) -> str:
    """One line of JSON (for streams such as `dex watch --format json`)."""
    return json.dumps(value, separators=(",", ":"))


def book_json(config: MarketConfig, depth: BookDepth | tuple[Levels, Levels]) -> dict[str, object]:
    bids, asks = depth
    return _book_json(config, bids, asks)


def balance_rows_json(rows: Sequence[TokenBalance]) -> list[dict[str, str]]:
    return [balance_json(row.token, row.decimals, row.available, row.locked) for row in rows]


def balances_json(
    balances: Mapping[TokenId, BalanceRecord], tokens: Mapping[TokenId, TokenMeta]
) -> list[dict[str, str]]:
    """Balances as the host returns them (the demo)."""
    return [
        balance_json(token, tokens[token].decimals, record.available, record.locked)
        for token, record in balances.items()
    ]


def order_json(config: MarketConfig, row: OrderRow) -> dict[str, object]:
    return _order_json(
        config, row.order_id, row.side, row.price, row.qty, row.remaining_qty, row.filled_qty
    )
