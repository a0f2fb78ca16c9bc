"""WebSocket connections per client address, bounded.

A stream or order-entry connection holds memory and a subscriber for as long as it lives, so a
stranger opening thousands of them from one address could fill the node's memory. This ASGI
middleware counts each client address's open WebSocket connections and refuses the handshake
(HTTP 403, before the application sees it) of one past the limit, counting it in
`tachyon_connections_refused_total`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

from starlette.types import ASGIApp, Receive, Scope, Send

CONNECTIONS_PER_CLIENT_DEFAULT: Final = 64
"""Open WebSocket connections one client address may hold (streams and order entry)."""


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
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.open[address] - 1
            if left:
                self.open[address] = left
            else:
                del self.open[address]
