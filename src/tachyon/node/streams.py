"""The node's WebSocket streams: each market's book kept on the event loop, and fan-out of the
publisher's messages to subscribed clients.

Two endpoints, each message one JSON text frame with a `stream` and a `type`:

`/v1/ws/market?market=M[&channels=depth,trades][&depth=N|all][&trades=N]`
    `depth`: first `{"type": "snapshot", "last_update_id": S, "bids": [...], "asks": [...]}`
    (the best N levels per side, `DEPTH_DEFAULT` unless asked; `all`: every level), then one
    `{"type": "diff", "first_update_id", "last_update_id", "prev_update_id", "bids", "asks"}`
    per durable batch that changed the book: each changed level's quantity now, "0" when the
    level is gone. A later `snapshot` replaces the book (the node sends one when entries
    written by another process reach it). `trades`: first the recent trades (`snapshot`,
    oldest first), then each batch's trades (`trades`), each with its `update_id`; every trade
    as `GET /v1/trades` gives it, with its fees and `time_ns`.
`/v1/ws/account?address=A&timestamp=T&signature=G`
    signed like a read (`tachyon.node.gateway`) over `GET /v1/ws/account`; first
    `{"type": "subscribed", "last_update_id": S}`, then per batch the account's `events`: `order`
    (order id, market, side, price, status, remaining qty) and `fill` (order id, trade id,
    side, role maker or taker, price, qty, fee, fee token, time), in sequence order.

Update ids are journal sequence numbers. Following a book exactly: keep L = the snapshot's
`last_update_id`; drop a diff whose `last_update_id` <= L; apply a diff only if its
`prev_update_id` <= L (the first one after a snapshot) or == L (every later one), then set
L = its `last_update_id`. A diff that fails the check means a message was lost: resubscribe
(or fetch `GET /v1/orderbook` and start over). Diffs tell every level that changes, so after a
snapshot of the best N levels the book held is exact at and better than the snapshot's Nth
price on each side (and whole where the snapshot held fewer than N); what lies beyond shows
only as it changes: ask `depth=all` to follow the whole book.

Snapshots are built here, on the event loop, never on the sequencer's thread: the hub keeps
each market's book (`MarketBook`: each level's JSON text, prices sorted) from the levels each
batch changed, in the order batches became durable, so a snapshot is a join of texts at the
update id of the last batch applied, and a client subscribed in the same step receives every
later batch and no earlier one. One snapshot text serves every subscriber that asks for it
within a batch.

Messages for a client wait in a queue of at most `queue_max` messages and `bytes_max` bytes
(behind the one being sent; a lone message always fits, and so does the subscription's first
snapshot); a client that falls that far behind
is closed with code 4008 ("slow consumer") rather than buffered without bound, and its
connection dropped if it does not take the close frame. Refusals close with 4000 + the HTTP
status the same mistake gets over HTTP (4400, 4401, 4404, 4429), the reason naming the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from itertools import islice
from typing import Final, final

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tachyon.client.stream import CLOSE_SLOW_CONSUMER
from tachyon.node.stream_events import (
    DEPTH,
    TRADES,
    TRADES_KEPT_MAX,
    WHOLE_BOOK,
    Batch,
    BookChange,
    BookCopy,
    Channel,
    Level,
    Message,
    book_text,
    trades_text,
)

_log: Final = logging.getLogger("tachyon.node")

QUEUE_MAX_DEFAULT: Final = 4_096
QUEUE_BYTES_MAX_DEFAULT: Final = 1024 * 1024
DEPTH_DEFAULT: Final = 100
"""Levels per side of a depth snapshot that names no depth."""
SNAPSHOTS_CACHED_MAX: Final = 16
"""Snapshot texts a market keeps for the subscribers of one batch (by kind and size)."""
CLOSE_GOING_AWAY: Final = 1001
CLOSE_REASON_MAX: Final = 123  # bytes, by RFC 6455
CLOSE_TIMEOUT_S: Final = 5.0


def close_reason(text: str) -> str:
    """`text` cut to what a close frame holds."""
    data = text.encode()
    if len(data) <= CLOSE_REASON_MAX:
        return text
    return data[: CLOSE_REASON_MAX - 3].decode(errors="ignore") + "..."


def text_size(text: str) -> int:
    """The bytes of `text` in UTF-8 (its length when ASCII, which CPython knows at once)."""
    return len(text) if text.isascii() else len(text.encode())


@final
class _Side:
    """One side of a book: each level's JSON text by price, and the prices in ascending order
    (the best is the last for bids, the first for asks)."""

    def __init__(self, best_high: bool) -> None:
        self.best_high = best_high
        self.texts: dict[int, str] = {}
        self.prices: list[int] = []

    def set(self, price: int, qty: int, text: str) -> None:
        texts = self.texts
        if qty:
            if price not in texts:
                insort(self.prices, price)
            texts[price] = text
        elif texts.pop(price, None) is not None:
            prices = self.prices
            del prices[bisect_left(prices, price)]

    def replace(self, levels: list[Level]) -> None:
        self.texts = {price: text for price, qty, text in levels if qty}
        self.prices = sorted(self.texts)

    def best(self, depth: int) -> Iterator[str]:
        """The texts of the best `depth` levels, best first (read at once: a view of now)."""
        prices = self.prices
        if self.best_high:
            chosen: Iterable[int] = reversed(prices if depth >= len(prices) else prices[-depth:])
        else:
            chosen = islice(prices, depth)
        return map(self.texts.__getitem__, chosen)


@final
class MarketBook:
    """One market's book and recent trades as the streams know them, kept on the event loop
    from each batch's changed levels and trades (`tachyon.node.stream_events.Batch`)."""

    def __init__(self, market: str) -> None:
        self.market = market
        self.bids = _Side(best_high=True)
        self.asks = _Side(best_high=False)
        self.trades: deque[str] = deque(maxlen=TRADES_KEPT_MAX)  # oldest first
        self._snapshots: dict[tuple[str, int], str] = {}  # built at `_snapshots_seq`
        self._snapshots_seq = -1

    def apply(self, change: BookChange) -> None:
        for price, qty, text in change.bids:
            self.bids.set(price, qty, text)
        for price, qty, text in change.asks:
            self.asks.set(price, qty, text)

    def replace(self, copy: BookCopy) -> None:
        self.bids.replace(copy.bids)
        self.asks.replace(copy.asks)
        self.trades.clear()
        self.trades.extend(copy.trades)

    def depth_snapshot(self, seq: int, depth: int) -> str:
        """The `snapshot` message of the best `depth` levels a side, at update id `seq` (the
        last batch applied)."""
        depth = min(depth, max(len(self.bids.prices), len(self.asks.prices), 1))
        cached = self._cached(seq, (DEPTH, depth))
        if cached is not None:
            return cached
        fields: dict[str, object] = {
            "stream": DEPTH,
            "type": "snapshot",
            "last_update_id": seq,
            "market": self.market,
        }
        text = book_text(fields, self.bids.best(depth), self.asks.best(depth))
        self._snapshots[DEPTH, depth] = text
        return text

    def trades_snapshot(self, seq: int, limit: int) -> str:
        """The `snapshot` message of the `limit` most recent trades, oldest first."""
        trades = self.trades
        limit = min(limit, max(len(trades), 1))
        cached = self._cached(seq, (TRADES, limit))
        if cached is not None:
            return cached
        fields: dict[str, object] = {
            "stream": TRADES,
            "type": "snapshot",
            "market": self.market,
            "last_update_id": seq,
        }
        text = trades_text(fields, islice(trades, max(0, len(trades) - limit), None))
        self._snapshots[TRADES, limit] = text
        return text

    def _cached(self, seq: int, key: tuple[str, int]) -> str | None:
        if seq != self._snapshots_seq or len(self._snapshots) >= SNAPSHOTS_CACHED_MAX:
            self._snapshots.clear()
            self._snapshots_seq = seq
        return self._snapshots.get(key)


@final
class Subscriber:
    """One client's queue of messages: bounded; past the bound the client is cut off.
    `depth`: the levels a side of the depth snapshots it is sent (a market stream's)."""

    def __init__(
        self, queue_max: int, bytes_max: int = QUEUE_BYTES_MAX_DEFAULT, depth: int = WHOLE_BOOK
    ) -> None:
        assert queue_max >= 1
        assert bytes_max >= 1
        self.queue_max = queue_max
        self.bytes_max = bytes_max
        self.depth = depth
        self.cut = False
        self.queued_bytes = 0  # of the messages waiting, the greeting's aside
        self._pending: deque[tuple[str, int]] = deque()  # each text and the bytes it counts
        self._wake = asyncio.Event()
        self.cut_off = asyncio.Event()  # set with `cut`

    def greet(self, texts: Iterable[str]) -> None:
        """The subscription's first messages (its snapshots): sent first, whatever their size,
        and not counted against the bounds."""
        assert not self._pending, "a greeting comes first"
        self._pending.extend((text, 0) for text in texts)
        self._wake.set()

    def offer(self, text: str) -> None:
        """Queue `text`, or cut the client off if it is too far behind: more than `queue_max`
        messages or `bytes_max` bytes would wait (a lone message always fits)."""
        if self.cut:
            return
        size = text_size(text)
        pending = self._pending
        if len(pending) >= self.queue_max or (
            self.queued_bytes and self.queued_bytes + size > self.bytes_max
        ):
            self.cut = True
            self.cut_off.set()
            pending.clear()  # useless now: the client has to start over
            self.queued_bytes = 0
        else:
            pending.append((text, size))
            self.queued_bytes += size
        self._wake.set()

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send what arrives (`send`: a WebSocket's or a gRPC stream's) until the client is
        cut off."""
        while not self.cut:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self.cut:
                text, size = self._pending.popleft()
                self.queued_bytes -= size
                await send(text)


@final
class StreamHub:
    """Subscribers by channel and each market's book, on the event loop; `receive` is what the
    publisher delivers each durable batch to (through `loop.call_soon_threadsafe`)."""

    def __init__(self, on_cut: Callable[[], None] | None = None) -> None:
        self._channels: dict[Channel, set[Subscriber]] = {}
        self._on_cut = on_cut
        self.books: dict[str, MarketBook] = {}
        self.seq = 0  # the update id of the last batch received: the books are as of it

    def wants(self, channel: Channel) -> bool:
        """Whether any client follows `channel` (read from the worker thread: a stale answer
        is harmless, see `Publisher`)."""
        return channel in self._channels

    def anyone(self) -> bool:
        """Whether any client follows any channel (read from the worker thread)."""
        return bool(self._channels)

    def book(self, market: str) -> MarketBook:
        """A market's book (empty for a market no batch has told of: it has no level yet)."""
        book = self.books.get(market)
        if book is None:
            book = self.books[market] = MarketBook(market)
        return book

    def add(self, channels: Iterable[Channel], subscriber: Subscriber) -> None:
        for channel in channels:
            self._channels.setdefault(channel, set()).add(subscriber)

    def remove(self, channels: Iterable[Channel], subscriber: Subscriber) -> None:
        for channel in channels:
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._channels[channel]

    def receive(self, batch: Batch) -> None:
        """One durable batch, in the order batches became durable: the books, then the
        messages (a book copied afresh sends its subscribers a new snapshot)."""
        copies = batch.copies
        if copies is not None:
            for market, copy in copies.items():
                self.book(market).replace(copy)
        else:
            for market, change in batch.books.items():
                self.book(market).apply(change)
            for market, texts in batch.trades.items():
                self.book(market).trades.extend(texts)
        self.seq = batch.last_seq
        if copies is not None:
            for market in copies:
                book = self.books[market]
                for subscriber in self._channels.get((DEPTH, market), ()):
                    self._offer(subscriber, book.depth_snapshot(self.seq, subscriber.depth))
        self.dispatch(batch.messages)

    def dispatch(self, messages: list[Message]) -> None:
        for channel, _, text in messages:
            for subscriber in self._channels.get(channel, ()):
                self._offer(subscriber, text)

    def _offer(self, subscriber: Subscriber, text: str) -> None:
        was_cut = subscriber.cut
        subscriber.offer(text)
        if subscriber.cut and not was_cut and self._on_cut is not None:
            self._on_cut()


async def serve_subscriber(
    websocket: WebSocket, subscriber: Subscriber, abort: Callable[[], None] | None = None
) -> None:
    """Pump messages to the client until it leaves or is cut off; what the client sends is
    read (to notice it leaving) and ignored. A client cut off is closed with 4008 even while
    a send to it is stuck (the close frame then waits behind what it has not read); `abort`,
    if given, drops the connection of a client that does not take the close frame (closing
    waits for a buffer that a client reading nothing never drains)."""
    sender = asyncio.create_task(subscriber.pump(websocket.send_text))
    receiver = asyncio.create_task(_until_disconnect(websocket))
    cut_off = asyncio.create_task(subscriber.cut_off.wait())
    try:
        await asyncio.wait({sender, receiver, cut_off}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver, cut_off):
            task.cancel()
            # A client gone mid-send ends its pump; any other error is the node's, raised.
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
            ):
                await task
    if subscriber.cut:
        await _cut(websocket, subscriber, abort)


async def _cut(
    websocket: WebSocket, subscriber: Subscriber, abort: Callable[[], None] | None
) -> None:
    _log.warning(
        "a slow stream client was cut off",
        extra={
            "queue_max": subscriber.queue_max,
            "bytes_max": subscriber.bytes_max,
            "client": str(websocket.client),
        },
    )
    reason = (
        f"slow consumer: more than {subscriber.queue_max} messages or"
        f" {subscriber.bytes_max} bytes waiting; resubscribe"
    )
    try:
        await asyncio.wait_for(
            websocket.close(CLOSE_SLOW_CONSUMER, close_reason(reason)), CLOSE_TIMEOUT_S
        )
    except (RuntimeError, OSError, TimeoutError):
        if abort is not None:
            abort()  # it takes nothing: the close frame will not reach it
        return
    if abort is not None:  # a no-op once the client has answered the close
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, abort)


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Close an accepted connection with an error code and reason."""
    if websocket.application_state is WebSocketState.CONNECTED:
        await websocket.close(code, close_reason(reason))
