"""The node's market stream for asyncio: `market_updates` follows a market's book (the
documented gap check of `BookFollower`, resubscribing after a gap or a slow-consumer cut-off)
and its trades, and `Watches` keeps one such subscription per market running for ccxt pro's
`watch_order_book` and `watch_trades`, which answer the next update after each call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import final

from tachyon import errors
from tachyon.client.data import Book, Level, Trade, parse
from tachyon.client.stream import (
    CLOSE_SLOW_CONSUMER,
    OPEN_TIMEOUT_S,
    RESUBSCRIBES_MAX,
    TRADES_KEPT_MAX,
    BookFollower,
    StreamGap,
    closed_error,
    stream_url,
)
from tachyon.dex.model import MarketConfig
from tachyon.dex.units import to_decimal

Update = Book | tuple[Trade, ...]
"""The book after a change (best first, at its `update_id`), or a batch's new trades."""


async def market_updates(
    url: str, config: MarketConfig, depth: int | None = None
) -> AsyncIterator[Update]:
    """Follow the market until the caller stops: the book after its snapshot and after each
    change (its best `depth` levels a side; None: all), and each batch's trades (the
    subscription's recent trades are history, not news: not told)."""
    from websockets.asyncio.client import connect  # noqa: PLC0415 (only for streams)
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

    target = stream_url(url, config.market_id, {"trades": 1})
    gaps = 0
    while True:
        follower = BookFollower(config)
        try:
            async with connect(target, open_timeout=OPEN_TIMEOUT_S, compression=None) as socket:
                async for text in socket:
                    message = json.loads(text)
                    if message["stream"] == "depth":
                        if follower.apply(message):
                            gaps = 0 if not follower.fresh else gaps
                            yield book_of(config, follower, depth)
                    elif message["type"] == "trades":
                        yield tuple(parse(list[Trade], message["trades"]))
            raise errors.StorageError(f"the stream {target} closed")
        except (OSError, TimeoutError) as exc:
            raise errors.StorageError(f"cannot open the stream {target}: {exc}") from exc
        except (StreamGap, ConnectionClosed) as exc:
            cut_off = isinstance(exc, ConnectionClosed) and (
                exc.rcvd is not None and exc.rcvd.code == CLOSE_SLOW_CONSUMER
            )
            if isinstance(exc, ConnectionClosed) and not cut_off:
                raise closed_error(target, exc) from None
            gaps += 1  # a lost message, or cut off for falling behind: subscribe again
            if gaps > RESUBSCRIBES_MAX:
                raise (exc if isinstance(exc, StreamGap) else closed_error(target, exc)) from None


def book_of(config: MarketConfig, follower: BookFollower, depth: int | None) -> Book:
    """The follower's book as plain data: exact decimal strings, best first."""
    held = follower.levels(depth if depth is not None else len(follower.bids) + len(follower.asks))

    def levels(side: list[tuple[int, int]]) -> tuple[Level, ...]:
        return tuple(
            Level(
                price=to_decimal(price, config.quote_decimals),
                qty=to_decimal(qty, config.base_decimals),
            )
            for price, qty in side
        )

    return Book(
        market=config.market_id,
        bids=levels([(level.price, level.qty) for level in held.bids]),
        asks=levels([(level.price, level.qty) for level in held.asks]),
        update_id=follower.last_update_id,
    )


@final
class Watch:
    """One market's subscription, read on its own task: the latest book (and how many books
    have come), and the trades no caller has taken yet (the newest 1,000)."""

    def __init__(self, updates: AsyncIterator[Update]) -> None:
        self.book: Book | None = None
        self.books = 0
        self.books_seen = 0
        self.trades: list[Trade] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(updates))

    async def _run(self, updates: AsyncIterator[Update]) -> None:
        try:
            async for update in updates:
                if isinstance(update, Book):
                    self.book, self.books = update, self.books + 1
                else:
                    self.trades = [*self.trades, *update][-TRADES_KEPT_MAX:]
                self._changed.set()
        except Exception as exc:  # handed to the callers waiting, raised there
            self.error = exc
            self._changed.set()

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self.error is not None:
                raise self.error
            self._changed.clear()
            await self._changed.wait()

    async def next_book(self) -> Book:
        """The book once it changed since the last call (the first: once it is known)."""
        await self._until(lambda: self.books > self.books_seen)
        self.books_seen = self.books
        assert self.book is not None
        return self.book

    async def next_trades(self) -> list[Trade]:
        """The trades made since the last call (waiting for one if there are none)."""
        await self._until(lambda: bool(self.trades))
        taken, self.trades = self.trades, []
        return taken

    async def close(self) -> None:
        """End the subscription; a call still waiting is raised a StorageError."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self.error is None:
            self.error = errors.StorageError("the market watch was closed")
        self._changed.set()


@final
class Watches:
    """A `Watch` per market, opened on first use and closed together."""

    def __init__(self) -> None:
        self._open: dict[str, Watch] = {}

    def of(self, market: str, start: Callable[[], AsyncIterator[Update]]) -> Watch:
        watch = self._open.get(market)
        if watch is None or watch.error is not None:
            watch = self._open[market] = Watch(start())
        return watch

    async def close(self) -> None:
        watches, self._open = list(self._open.values()), {}
        for watch in watches:
            await watch.close()
