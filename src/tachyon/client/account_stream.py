"""The node's account stream (`/v1/ws/account`, see `tachyon.node.streams`) for asyncio: the
signer's order, fill and stop events, typed (`OrderEvent`, `FillEvent`, `StopEvent`).

`subscribe` answers once the node said `subscribed`, so every command sent after it is told;
the `AccountEvents` it answers is an async iterator of the events, in sequence order. The
stream has no gap check to resubscribe by: a connection the node closes (a slow consumer cut
off, a node stopping) is raised (the refusal of its close code, else a `StorageError`), and
the caller reads the account afresh (`get_open_orders`, `get_history`) before subscribing
again.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any, Final, final
from urllib.parse import urlencode

from tachyon import errors
from tachyon.client import calls
from tachyon.client.data import AccountEvent, account_event
from tachyon.client.signer import Signer
from tachyon.client.stream import OPEN_TIMEOUT_S, closed_error, ws_base

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

ACCOUNT_PATH: Final = "/v1/ws/account"


@final
class AccountEvents:
    """A subscribed account stream: `async for event in events` yields each event (events of
    types this client does not know are skipped); `last_update_id` is the journal sequence
    number told last. `aclose` (or leaving `async with`) ends it."""

    def __init__(self, socket: ClientConnection, where: str, last_update_id: int) -> None:
        self._socket = socket
        self._where = where
        self._pending: deque[AccountEvent] = deque()
        self._closed = False
        self.last_update_id = last_update_id

    def __aiter__(self) -> AccountEvents:
        return self

    async def __anext__(self) -> AccountEvent:
        from websockets.exceptions import ConnectionClosed  # noqa: PLC0415 (only for streams)

        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            try:
                text = await self._socket.recv()
            except ConnectionClosed as exc:
                if self._closed:
                    raise StopAsyncIteration from None
                raise closed_error(self._where, exc) from None
            self._take(json.loads(text))
        return self._pending.popleft()

    def _take(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("type") != "events":
            return
        self.last_update_id = message["last_update_id"]
        for row in message["events"]:
            event = account_event(row)
            if event is not None:
                self._pending.append(event)

    async def aclose(self) -> None:
        self._closed = True
        await self._socket.close()

    async def __aenter__(self) -> AccountEvents:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


async def subscribe(url: str, signer: Signer | None) -> AccountEvents:
    """The account stream of `signer` at the node at `url`, once the node has subscribed it
    (a refusal raised as the error of its code: `Unauthorized`, `BadSignature`, ...)."""
    from websockets.asyncio.client import connect  # noqa: PLC0415 (only for streams)
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

    where = ws_base(url) + ACCOUNT_PATH
    target = f"{where}?{urlencode(calls.signed_query(signer, ACCOUNT_PATH))}"
    try:
        socket = await connect(target, open_timeout=OPEN_TIMEOUT_S, compression=None)
    except (OSError, TimeoutError) as exc:
        raise errors.StorageError(f"cannot open the stream {where}: {exc}") from exc
    try:
        first = json.loads(await asyncio.wait_for(socket.recv(), OPEN_TIMEOUT_S))
    except ConnectionClosed as exc:
        raise closed_error(where, exc) from None
    except TimeoutError as exc:
        await socket.close()
        raise errors.StorageError(f"the stream {where} did not subscribe in time") from exc
    if not isinstance(first, dict) or first.get("type") != "subscribed":
        await socket.close()
        raise errors.CorruptData(f"the stream {where} did not begin with `subscribed`")
    return AccountEvents(socket, where, first["last_update_id"])
