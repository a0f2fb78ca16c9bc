"""WebSocket connections per client address, bounded.

A stream or order-entry connection holds memory and a subscriber for as long as it lives, so a
stranger opening thousands of them from one address could fill the node's memory. This ASGI
middleware counts each client address's open WebSocket connections and refuses the handshake
(HTTP 403, before the application sees it) of one past the limit, counting it in
`tachyon_connections_refused_total`. It also hands the application a way to drop a connection
(`abort_of`): a client that reads nothing never takes a close frame, and a closed connection
waits for its unsent data for as long as the client lets it wait.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Final, final

from starlette.types import ASGIApp, Receive, Scope, Send

CONNECTIONS_PER_CLIENT_DEFAULT: Final = 64
"""Open WebSocket connections one client address may hold (streams and order entry)."""
_ABORT: Final = "tachyon.abort"
_RESET_ON_CLOSE: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends a reset


def abort_of(scope: Scope) -> Callable[[], None] | None:
    """What drops a WebSocket connection at once, unsent data and all (None if the server
    gives no way to: an in-process test client)."""
    abort = scope.get(_ABORT)
    return abort if callable(abort) else None


def _transport_abort(send: Send) -> Callable[[], None] | None:
    """What drops the connection under the server's own `send` (uvicorn's WebSocket protocols
    keep their transport as `transport`), if there is one: the transport aborted, its socket
    reset (a plain close would leave the kernel sending what the client never reads)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    get_extra_info = getattr(transport, "get_extra_info", None)
    if not (callable(abort) and callable(get_extra_info)):
        return None

    def drop() -> None:
        sock = get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # closed already
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        abort()

    return drop


@final
class WebSocketLimit:
    """Refuses a client address's WebSocket handshakes past `per_client` open connections."""

    def __init__(self, app: ASGIApp, per_client: int, on_refused: Callable[[], None]) -> None:
        assert per_client >= 1, per_client
        self.app = app
        self.per_client = per_client
        self.on_refused = on_refused
        self.open: dict[str, int] = {}  # client address -> its open WebSocket connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = "unknown" if client is None else str(client[0])
        held = self.open.get(address, 0)
        if held >= self.per_client:
            self.on_refused()
            await receive()  # the handshake request
            await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
            return
        self.open[address] = held + 1
        scope[_ABORT] = _transport_abort(send)
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.open[address] - 1
            if left:
                self.open[address] = left
            else:
                del self.open[address]
