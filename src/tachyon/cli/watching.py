"""`dex watch`: frames of a market's book and recent trades, drawn until the user stops.

On the embedded exchange each frame is read afresh every interval; over a node the frames
show what the node's market stream has told so far, one every interval whether or not the
market moved, so `--iterations N` is N frames on a quiet market too.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import click

from tachyon.cli import render
from tachyon.cli.ports import market_of
from tachyon.client import shapes

if TYPE_CHECKING:
    from rich.console import Group

    from tachyon.dex.model import BookDepth, MarketConfig
    from tachyon.dex.records import TradeRecord
    from tachyon.exchange.port import ExchangePort

Frame = tuple[dict[str, object], "Group"]


def frames(
    port: ExchangePort, url: str | None, market: str, depth: int, interval_s: float
) -> Generator[Frame]:
    """Polled from `port`, or streamed from the node at `url` when there is one."""
    config = market_of(port, market)
    if url is None:
        return _polled(port, config, depth, interval_s)
    return _streamed(url, config, depth, interval_s)


def show(frames: Generator[Frame], iterations: int | None, *, as_json: bool) -> None:
    """Print frames as they come (JSON lines, or tables through a pipe), or redraw them in
    place on a terminal; stop after `iterations` (None: never)."""
    from rich.live import Live  # noqa: PLC0415

    from tachyon.cli.tables import console  # noqa: PLC0415

    out = console()
    live: Live | None = None
    try:
        for count, (record, view) in enumerate(frames, start=1):
            if as_json:
                click.echo(render.compact_json(record))
            elif not out.is_terminal:  # a pipe or a file: each frame in turn, as it is drawn
                out.print(view)
                out.file.flush()
            elif live is None:
                live = Live(view, console=out, auto_refresh=False)
                live.start(refresh=True)
            else:
                live.update(view, refresh=True)
            if iterations is not None and count >= iterations:
                return
    finally:
        if live is not None:
            live.stop()
        frames.close()  # the stream's connection, at once


def _frame(config: MarketConfig, depth: BookDepth, trades: Sequence[TradeRecord]) -> Frame:
    """One redraw: its JSON record and its tables."""
    from rich.console import Group  # noqa: PLC0415

    from tachyon.cli import tables  # noqa: PLC0415

    book = render.book_json(config, depth)
    recent = [shapes.trade_record_json(config, record) for record in trades]
    units = tables.trade_units(config.base, config.quote, config.fee_token)
    view = Group(
        tables.book_table(book, config.base, config.quote),
        tables.human_table("recent trades (newest first)", recent, units),
    )
    return {**book, "trades": recent}, view


def _polled(
    port: ExchangePort, config: MarketConfig, depth: int, interval_s: float
) -> Generator[Frame]:
    """A frame now, then one every interval, each read afresh."""
    market = config.market_id
    while True:
        yield _frame(config, port.book(depth, market), port.trade_records(depth, market))
        time.sleep(interval_s)


def _streamed(url: str, config: MarketConfig, depth: int, interval_s: float) -> Generator[Frame]:
    """A frame once the node's market stream has sent its snapshots, then one every interval
    with the book and trades as the stream left them (a quiet market included: the stream
    wakes the loop when an interval passes without a message)."""
    from tachyon.client.stream import MarketStream  # noqa: PLC0415

    stream = MarketStream(url, config, trades=depth)
    drawn_at: float | None = None
    for _changed in stream.frames(timeout_s=interval_s):
        now = time.monotonic()
        if drawn_at is None or now - drawn_at >= interval_s:
            drawn_at = now
            yield _frame(config, stream.follower.levels(depth), stream.records)
