"""The CLI's JSON output: the shapes of `tachyon.client.shapes` (shared with the node), fed
from what the exchange port returns.

The shapes are documented in the README; the tables (`tachyon.cli.tables`) are drawn from
them, so both formats always say the same thing. No rich here: a JSON answer does not pay for
importing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

from tachyon.client import shapes

if TYPE_CHECKING:
    from tachyon.dex.ids import TokenId
    from tachyon.dex.model import BookDepth, MarketConfig
    from tachyon.ledger.ledger import BalanceRecord, TokenMeta


def emit_json(value: object) -> None:
    """Indented JSON on standard output (plain: no colour codes for a machine to strip)."""
    click.echo(json.dumps(value, indent=2))


def compact_json(value: object) -> str:
    """One line of JSON (for streams such as `dex watch --format json`)."""
    return json.dumps(value, separators=(",", ":"))


def book_json(config: MarketConfig, depth: BookDepth) -> dict[str, object]:
    return shapes.book_json(config, depth.bids, depth.asks)


def balances_json(
    metas: Sequence[TokenMeta], held: Mapping[TokenId, BalanceRecord]
) -> list[dict[str, str]]:
    """One row per token of `metas`, in their order; a token not held shows zero."""
    rows = []
    for meta in metas:
        record = held.get(meta.symbol)
        if record is None:
            rows.append(shapes.balance_json(meta.symbol, meta.decimals, 0, 0))
            continue
        rows.append(
            shapes.balance_json(
                meta.symbol, meta.decimals, record.available, record.locked, record.debt
            )
        )
    return rows
