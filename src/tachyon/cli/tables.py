"""Rich tables drawn from the JSON shapes of `tachyon.cli.render`, and the console they go to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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


HEADERS: Final = {
    "order_id": "order",
    "trade_id": "trade",
    "maker_order_id": "maker order",
    "taker_order_id": "taker order",
    "taker_side": "taker side",
    "maker_fee": "maker fee",
    "taker_fee": "taker fee",
    "filled_qty": "filled",
    "remaining_qty": "remaining",
    "open_qty": "open",
    "fee_token": "fee token",
    "trigger_price": "trigger price",
    "max_quote": "max quote",
    "time_ns": "time",
    "closed_time_ns": "closed",
}
"""The words a person reads for the JSON keys of trades, orders and history."""
TIMES: Final = ("time_ns", "closed_time_ns")
"""Keys holding nanoseconds since the epoch: shown in ISO 8601 UTC, first."""
_TEXT_COLUMNS: Final = ("market", "side", "taker_side", "status", "reason", "role", "fee_token")
_NS_PER_S: Final = 1_000_000_000


def iso_time(time_ns: int) -> str:
    """Nanoseconds since the epoch in ISO 8601 UTC, every digit kept:
    2026-12-07T03:31:56.123456789Z."""
    seconds, nanos = divmod(time_ns, _NS_PER_S)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _cell(key: str, value: object) -> str:
    if value is None:
        return ""
    if key in TIMES and type(value) is int:
        return iso_time(value)
    return str(value)


def _header(key: str, units: Mapping[str, str]) -> str:
    unit = units.get(key)
    word = HEADERS.get(key, key)
    return word if unit is None else f"{word} {unit}"


def human_table(
    title: str, rows: Sequence[dict[str, object]], units: Mapping[str, str] | None = None
) -> Table:
    """Trades, orders or fills as a person reads them: headers in words (`HEADERS`, with the
    unit `units` gives a column), times first and in ISO 8601 UTC, unknown values blank."""
    table = Table(title=title)
    if not rows:
        table.add_column("(none)")
        return table
    keys = sorted(rows[0], key=lambda key: key not in TIMES)  # stable: times first
    for key in keys:
        text = key in _TEXT_COLUMNS or key in TIMES
        table.add_column(
            _header(key, units or {}),
            justify="left" if text else "right",
            no_wrap=key in TIMES,
            overflow="fold",  # never cut: a narrow column wraps its value
        )
    for row in rows:
        table.add_row(*(_cell(key, row[key]) for key in keys))
    return table


def human_fields_table(title: str, fields: dict[str, object]) -> Table:
    """One order as a two-column table, field names in words, its time in ISO 8601 UTC."""
    return fields_table(title, {HEADERS.get(key, key): _cell(key, v) for key, v in fields.items()})


def trade_units(base: str, quote: str, fee_token: str) -> dict[str, str]:
    """The units of a market's trade columns."""
    return {"price": quote, "qty": base, "maker_fee": fee_token, "taker_fee": fee_token}


def history_tables(history: dict[str, object]) -> Group:
    """An account's closed orders and fills (`dex history`), each newest first; a closed
    order's row shows when it closed (the JSON also says when it was placed)."""
    orders, fills = history["orders"], history["fills"]
    assert isinstance(orders, list) and isinstance(fills, list)
    closed = [{key: value for key, value in row.items() if key != "time_ns"} for row in orders]
    return Group(
        human_table("closed orders (newest first)", closed),
        human_table("fills (newest first)", fills),
    )


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
