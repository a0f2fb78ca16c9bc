"""The node's WebSocket streams: fan-out of the publisher's messages to subscribed clients.

Two endpoints, each message one JSON text frame with a `stream` and a `type`:

`/v1/ws/market?market=M[&channels=depth,trades][&depth=N][&trades=N]`
    `depth`: first `{"type": "snapshot", "last_update_id": S, "bids": [...], "asks": [...]}`
    (every level, or the best N per side), then one `{"type": "diff", "first_update_id",
    "last_update_id", "prev_update_id", "bids", "asks"}` per durable batch that changed the
    book: each changed level's quantity now, "0" when the level is gone. A later
    `snapshot` replaces the book (the node sends one when entries written by another process
    reach it). `trades`: first the recent trades (`snapshot`, oldest first), then each batch's
    trades (`trades`), each with its `update_id` and `time_ns`.
`/v1/ws/account?address=A&timestamp=T&signature=G`
    signed like a read (`tachyon.node.gateway`) over `GET /v1/ws/account`; first
    `{"type": "subscribed", "last_update_id": S}`, then per batch the account's `events`: `order`
    (order id, market, side, price, status, remaining qty) and `fill` (order id, trade id,
    side, role maker or taker, price, qty), in sequence order.

Update ids are journal sequence numbers. Following a book exactly: keep L = the snapshot's
`last_update_id`; drop a diff whose `last_update_id` <= L; apply a diff only if its
`prev_update_id` <= L (the first one after a snapshot) or == L (every later one), then set
L = its `last_update_id`. A diff that fails the check means a message was lost: resubscribe
(or fetch `GET /v1/orderbook` and start over). Messages for a client wait in a queue of at most
`queue_max`; a client that falls that far behind is closed with code 4008 ("slow consumer")
rather than buffered without bound. Refusals close with 4000 + the HTTP status the same
mistake gets over HTTP (4400, 4401, 4404, 4429), the reason naming the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, final

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tachyon.client.stream import CLOSE_SLOW_CONSUMER
from tachyon.node.stream_events import Channel, Message

_log: Final = logging.getLogger("tachyon.node")

QUEUE_MAX_DEFAULT: Final = 4_096
CLOSE_GOING_AWAY: Final = 1001
CLOSE_REASON_MAX: Final = 123  # bytes, by RFC 6455
CLOSE_TIMEOUT_S: Final = 5.0


def close_reason(text: str) -> str:
    """`text` cut to what a close frame holds."""
    data = text.encode()
    if len(data) <= CLOSE_REASON_MAX:
        return text
    return data[: CLOSE_REASON_MAX - 3].decode(errors="ignore") + "..."


@final
class Subscriber:
    """One client's queue of messages: bounded; past the bound the client is cut off."""

    def __init__(self, queue_max: int) -> None:
        assert queue_max >= 1
        self.queue_max = queue_max
        self.floor = 0  # messages up to this update id are in the client's snapshot
        self.cut = False
        self._pending: deque[tuple[int, str]] = deque()
        self._wake = asyncio.Event()
        self.cut_off = asyncio.Event()  # set with `cut`

    def offer(self, update_id: int, text: str) -> None:
        if self.cut:
            return
        if len(self._pending) >= self.queue_max:
            self.cut = True
            self.cut_off.set()
            self._pending.clear()  # useless now: the client has to start over
        else:
            self._pending.append((update_id, text))
        self._wake.set()

    async def pump(self, websocket: WebSocket) -> None:
        """Send what arrives until the client is cut off."""
        while not self.cut:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self.cut:
                update_id, text = self._pending.popleft()
                if update_id > self.floor:
                    await websocket.send_text(text)


@final
class StreamHub:
    """Subscribers by channel, on the event loop; `dispatch` is what the publisher delivers to
    (through `loop.call_soon_threadsafe`)."""

    def __init__(self, on_cut: Callable[[], None] | None = None) -> None:
        self._channels: dict[Channel, set[Subscriber]] = {}
        self._on_cut = on_cut

    def wants(self, channel: Channel) -> bool:
        """Whether any client follows `channel` (read from the worker thread: a stale answer
        is harmless, see `Publisher`)."""
        return channel in self._channels

    def anyone(self) -> bool:
        """Whether any client follows any channel (read from the worker thread)."""
        return bool(self._channels)

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

    def dispatch(self, messages: list[Message]) -> None:
        for channel, update_id, text in messages:
            for subscriber in self._channels.get(channel, ()):
                was_cut = subscriber.cut
                subscriber.offer(update_id, text)
                if subscriber.cut and not was_cut and self._on_cut is not None:
                    self._on_cut()


async def serve_subscriber(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Pump messages to the client until it leaves or is cut off; what the client sends is
    read (to notice it leaving) and ignored. A client cut off is closed with 4008 even while
    a send to it is stuck (the close frame then waits behind what it has not read)."""
    sender = asyncio.create_task(subscriber.pump(websocket))
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
        _log.warning(
            "a slow stream client was cut off",
            extra={"queue_max": subscriber.queue_max, "client": str(websocket.client)},
        )
        reason = f"slow consumer: more than {subscriber.queue_max} messages waiting; resubscribe"
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):
            await asyncio.wait_for(
                websocket.close(CLOSE_SLOW_CONSUMER, close_reason(reason)), CLOSE_TIMEOUT_S
            )


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Close an accepted connection with an error code and reason."""
    if websocket.application_state is WebSocketState.CONNECTED:
        await websocket.close(code, close_reason(reason))
