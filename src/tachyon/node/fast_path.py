"""The fast path of `POST /v1/commands`: the node's busiest route, answered without the web
framework's layers (routing, dependency solving, body validation, exception middleware),
which cost more per order than the order itself (measured: about two thirds of the event
loop's time per command).

Only a request whose body the fast decoder accepts takes it: a JSON object of exactly the
strings `body` and `signature` within the schema's lengths, sent as JSON, within the size
bound. Anything else, and every other route, goes to the application unchanged (the body
replayed), which answers as it always does, so the two paths never disagree on a malformed
request: the fast one does not answer those. Refusals by the exchange or the gateway are
answered in the one error schema, with `Retry-After` on a 429, as the application's handlers
do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from tachyon.errors import TachyonError
from tachyon.node.errors import REQUEST_BYTES_MAX, refusal, replay_body
from tachyon.node.schemas import BODY_BASE64_MAX, SIGNATURE_BASE64_MAX

COMMANDS_PATH: Final = "/v1/commands"

Handle = Callable[[str, str, str | None], Awaitable[dict[str, object]]]
"""(body, signature) in base64 -> the answer's body; raises the TachyonError that refused it."""


class _CommandRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(max_length=BODY_BASE64_MAX)]
    signature: Annotated[str, msgspec.Meta(max_length=SIGNATURE_BASE64_MAX)]


_decoder: Final = msgspec.json.Decoder(_CommandRequest)
_encoder: Final = msgspec.json.Encoder()
_JSON_HEADERS: Final = [(b"content-type", b"application/json")]


class _Route:
    """What the request timer reads of a matched route: its path template."""

    path = COMMANDS_PATH


class CommandFastPath:
    """ASGI middleware: take `POST /v1/commands` off the framework when its body is clean."""

    def __init__(self, app: ASGIApp, handle: Handle, bytes_max: int = REQUEST_BYTES_MAX) -> None:
        self.app = app
        self.handle = handle
        self.bytes_max = bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_command_post(scope, self.bytes_max):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.bytes_max:
                break
        body = b"".join(chunks)
        request = None
        if size <= self.bytes_max:
            with contextlib.suppress(msgspec.DecodeError):
                request = _decoder.decode(body)
        if request is None:  # the application answers it, from the same bytes
            await self.app(scope, replay_body(body, more, receive), send)
            return
        scope["route"] = _Route
        client = scope.get("client")
        await self._answer(request, None if client is None else client[0], send)

    async def _answer(self, request: _CommandRequest, client: str | None, send: Send) -> None:
        headers = _JSON_HEADERS
        try:
            answer = await self.handle(request.body, request.signature, client)
        except TachyonError as exc:
            status, body, extra = refusal(exc)
            data = _encoder.encode(body)
            headers = headers + [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        else:
            status, data = 200, _encoder.encode(answer)
        headers = [*headers, (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _is_command_post(scope: Scope, bytes_max: int) -> bool:
    if scope["type"] != "http" or scope["path"] != COMMANDS_PATH or scope["method"] != "POST":
        return False
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length" and (not value.isdigit() or int(value) > bytes_max):
            return False
    return content_type in (b"", b"application/json")
