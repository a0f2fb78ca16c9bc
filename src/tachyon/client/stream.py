"""Following a node's market stream (`/v1/ws/market`, see `tachyon.node.streams`): the book
rebuilt from its snapshot and diffs with the documented gap check, and the recent trades.

`BookFollower` applies messages and raises `StreamGap` when a diff does not follow what it
holds; `MarketStream` connects (websockets' synchronous client), and on a gap subscribes
again for a fresh snapshot. A refusal the node closes the stream with (4000 + an HTTP status,
the reason "code: message") is raised as the `TachyonError` of that code, as `Client`
raises the same refusal over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlencode

from tachyon import errors
from tachyon.client.decode import levels_from_json, trade_record_from_json
from tachyon.client.refusals import refusal
from tachyon.dex.model import BookDepth, BookLevel, MarketConfig, Trade
from tachyon.dex.records import TradeRecord

OPEN_TIMEOUT_S: Final = 10.0
TRADES_KEPT_MAX: Final = 1_000
RESUBSCRIBES_MAX: Final = 10
"""Gaps in a row, each followed by a new subscription, before following gives up."""
CLOSE_SLOW_CONSUMER: Final = 4008
"""The close code of a client cut off for falling behind (the node's `tachyon.node.streams`
sends it)."""
REFUSAL_CLOSE_CODES: Final = range(4000, 5000)


class StreamGap(errors.TachyonError):
    """A diff that does not follow the book held: a message was lost; subscribe again."""

    code = "stream_gap"


class BookFollower:
    """A market's book as its stream tells it, in minor units."""

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_update_id: int | None = None
        self.fresh = False  # a snapshot and no diff since

    def apply(self, message: dict[str, Any]) -> bool:
        """Apply a depth message; whether it changed the book (an old diff does not)."""
        last_update_id: int = message["last_update_id"]
        if message["type"] == "snapshot":
            self.bids = {
                level.price: level.qty for level in levels_from_json(self.config, message["bids"])
            }
            self.asks = {
                level.price: level.qty for level in levels_from_json(self.config, message["asks"])
            }
            self.last_update_id, self.fresh = last_update_id, True
            return True
        held = self.last_update_id
        if held is None:
            raise StreamGap("a depth diff arrived before any snapshot")
        if last_update_id <= held:
            return False  # already in the book
        prev: int = message["prev_update_id"]
        if prev > held or (prev != held and not self.fresh):
            raise StreamGap(
                f"the diff after update {prev} does not follow the book at update {held}"
            )
        for side, rows in ((self.bids, message["bids"]), (self.asks, message["asks"])):
            for level in levels_from_json(self.config, rows):
                if level.qty:
                    side[level.price] = level.qty
                else:
                    side.pop(level.price, None)
        self.last_update_id, self.fresh = last_update_id, False
        return True

    def levels(self, depth: int) -> BookDepth:
        """The best `depth` levels of each side, best first."""
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return BookDepth([BookLevel(*bid) for bid in bids], [BookLevel(*ask) for ask in asks])


class MarketStream:
    """A node's market stream: the book (`follower`) and the recent trades (`records`, newest
    first, each with its time and fees; `trades`, the trades alone), followed by `frames()`."""

    def __init__(self, url: str, config: MarketConfig, *, trades: int = 20) -> None:
        assert 1 <= trades <= TRADES_KEPT_MAX
        self.url = _stream_url(url, config.market_id, trades)
        self.config = config
        self.follower = BookFollower(config)
        self.records: list[TradeRecord] = []
        self.trades_kept = trades
        self.resubscribes = 0
        self._trades_known = False  # the trades' snapshot has arrived

    @property
    def trades(self) -> list[Trade]:
        return [record.trade for record in self.records]

    def frames(self, timeout_s: float | None = None) -> Iterator[bool]:
        """Follow the stream until the caller stops: once both snapshots are in, yield True
        after each message that changed the book or the trades, and False when `timeout_s`
        passed without one (None: wait for ever)."""
        from websockets.exceptions import ConnectionClosed  # noqa: PLC0415
        from websockets.sync.client import connect  # noqa: PLC0415

        gaps = 0
        while True:
            try:
                socket = connect(self.url, open_timeout=OPEN_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise errors.StorageError(f"cannot open the stream {self.url}: {exc}") from exc
            with socket:
                try:
                    for text in _messages(socket, timeout_s):
                        changed = text is not None and self._apply(json.loads(text))
                        if changed and not self.follower.fresh:
                            gaps = 0  # a diff followed: the book is held again
                        if self.follower.last_update_id is not None and self._trades_known:
                            yield changed
                except (StreamGap, ConnectionClosed) as exc:
                    cut_off = isinstance(exc, ConnectionClosed) and (
                        exc.rcvd is not None and exc.rcvd.code == CLOSE_SLOW_CONSUMER
                    )
                    if isinstance(exc, ConnectionClosed) and not cut_off:
                        raise _closed(self.url, exc) from None
                    gaps += 1  # a lost message, or cut off for falling behind: start over
                    self.resubscribes += 1
                    if gaps > RESUBSCRIBES_MAX:
                        raise (
                            exc if isinstance(exc, StreamGap) else _closed(self.url, exc)
                        ) from None

    def _apply(self, message: dict[str, Any]) -> bool:
        if message["stream"] == "depth":
            return self.follower.apply(message)
        rows = message["trades"]
        if message["type"] == "snapshot":
            self._trades_known, self.records = True, []
        newest_first = [trade_record_from_json(self.config, row) for row in reversed(rows)]
        self.records = (newest_first + self.records)[: self.trades_kept]
        return True


def _messages(socket: Any, timeout_s: float | None) -> Iterator[str | None]:
    """Each text message; None when `timeout_s` passes without one."""
    while True:
        try:
            data = socket.recv(timeout=timeout_s)
        except TimeoutError:
            yield None
            continue
        yield data if isinstance(data, str) else data.decode()


def _stream_url(url: str, market: str, trades: int) -> str:
    return stream_url(url, market, {"trades": trades})


def stream_url(url: str, market: str, query: dict[str, str | int]) -> str:
    """The market stream of the node at `url` (http or https), following the whole book."""
    base = ws_base(url)
    # The whole book: a follower's book is exact only where its snapshot reached.
    wanted = {"market": market, "depth": "all", **query}
    return f"{base}/v1/ws/market?{urlencode(wanted)}"


def ws_base(url: str) -> str:
    """The WebSocket base of the node at `url` (http: ws, https: wss)."""
    base = url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base[len(http) :]
    return base


def closed_error(url: str, closed: Any) -> errors.TachyonError:
    """The refusal a node closed the stream with, or why the stream ended."""
    return _closed(url, closed)


def _closed(url: str, closed: Any) -> errors.TachyonError:
    """The refusal a node closed the stream with, or why the stream ended."""
    frame = closed.rcvd
    if frame is not None and frame.code in REFUSAL_CLOSE_CODES:
        code, _, message = frame.reason.partition(": ")
        return refusal(code, message or frame.reason)
    return errors.StorageError(f"the stream {url} closed: {closed}")
