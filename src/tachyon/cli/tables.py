"""Rich tables drawn from the JSON shapes of `tachyon.cli.render`, and the console they go to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.console import Console, Group
from rich.table import Table

TABLE_WIDTH_MIN: Final = 120
"""Columns a table gets at least, so an address or a hash fits on one line."""


def console() -> Console:
    """Standard output, at least TABLE_WIDTH_MIN columns wide (also when it is not a terminal)."""
    return Console(width=max(Console().width, TABLE_WIDTH_MIN))


def book_table(book: dict[str, object], base: str = "", quote: str = "") -> Table:
    table = Table(title=f"order book {book['market']}")
    for column in (f"bid qty {base}", f"bid {quote}", f"ask {quote}", f"ask qty {base}"):
        table.add_column(column.strip(), justify="right")
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
            column,
            justify="left"
            if column in ("token", "account", "taker_side", "market", "side", "status", "name")
            else "right",
        )
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    return table


def balances_table(address: str, rows: Sequence[dict[str, object]]) -> Table:
    table = rows_table("balances", rows)
    table.caption = f"account {address}"
    table.min_width = len(table.caption) + 4  # the address on one line
    return table


def records_table(rows: Sequence[dict[str, object]], key: str) -> Group:
    """Records with many fields (markets): one field/value table each, nothing truncated."""
    if not rows:
        return Group(rows_table(key, []))
    return Group(*(fields_table(f"{key} {row[key]}", row) for row in rows))


def fields_table(title: str, fields: dict[str, object]) -> Table:
    """One record as a two-column table: field, value."""
    table = Table(title=title)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for name, value in fields.items():
        table.add_row(name, "" if value is None else str(value))
    return table
