"""Goal: `POST /v1/commands` with a clean body is answered off the framework exactly as the
framework answers it (statuses, bodies, `Retry-After`), and every other request reaches the
application with its body intact. Method: the same signed commands through two in-process
nodes with one fixed clock, one sending `application/json` (the fast path) and the other
`application/json; charset=utf-8` (which the fast path leaves to the framework); and the
middleware driven directly with ASGI messages, a recording application behind it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tachyon.errors import InsufficientFunds
from tachyon.exchange.commands import encode_command
from tachyon.node import create_app
from tachyon.node.errors import REQUEST_BYTES_MAX
from tachyon.node.fast_path import CommandFastPath
from tachyon.node.ratelimit import RateLimit
from tests.node.support import envelope
from tests.node.test_order_entry import NOW, _script

FRAMEWORK = "application/json; charset=utf-8"
KEYS = (Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate())


def _answers(path: Path, content_type: str) -> list[tuple[int, Any, str | None]]:
    app = create_app(path, clock=lambda: NOW, rate_limit=RateLimit(rate_per_s=1, burst=5))
    script = _script(*KEYS)
    answers = []
    with TestClient(app) as client:
        for key, command in [*script, *script[:2]]:  # past the burst: 429s
            response = client.post(
                "/v1/commands",
                content=json.dumps(envelope(key, encode_command(command))),
                headers={"content-type": content_type},
            )
            retry = response.headers.get("retry-after")
            answers.append((response.status_code, response.json(), retry))
    return answers


def test_the_fast_path_answers_as_the_framework(tmp_path: Path) -> None:
    fast = _answers(tmp_path / "fast", "application/json")
    assert fast == _answers(tmp_path / "framework", FRAMEWORK)
    assert {status for status, _, _ in fast} == {200, 403, 409, 429}
    assert all((status == 429) == (retry is not None) for status, _, retry in fast)


class _Recorder:
    """The application behind the middleware: records each request's body; answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _drive(
    middleware: CommandFastPath,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
) -> int:
    """One request through `middleware` (its body in `chunks`); the status answered."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    status: int = sent[0]["status"]
    return status


CLEAN = b'{"body": "AAAA", "signature": "BBBB"}'
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "chunks"),
    [
        ("GET", "/v1/commands", JSON, [b""]),
        ("POST", "/v1/time", JSON, [CLEAN]),
        ("POST", "/v1/commands", {"content-type": "text/plain"}, [CLEAN]),
        ("POST", "/v1/commands", {"content-type": FRAMEWORK}, [CLEAN]),
        ("POST", "/v1/commands", JSON, [b'{"body": "AAAA", "signature": "BBBB", "x": 1}']),
        ("POST", "/v1/commands", JSON, [b'{"body": 1, "signature": "BBBB"}']),
        ("POST", "/v1/commands", JSON, [b"not json", b" at all"]),
        ("POST", "/v1/commands", JSON, [b'{"body": "' + b"A" * 30_000 + b'", "signature": ""}']),
        ("POST", "/v1/commands", JSON, [b"x" * REQUEST_BYTES_MAX, b"y" * 10, b"z"]),
        ("POST", "/v1/commands", {**JSON, "content-length": str(10**9)}, [CLEAN]),
    ],
)
def test_any_other_request_reaches_the_application_intact(
    method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> None:
    recorder = _Recorder()
    handled: list[tuple[str, str]] = []

    async def handle(body: str, signature: str, client: str | None) -> dict[str, object]:
        handled.append((body, signature))
        return {}

    assert _drive(CommandFastPath(recorder, handle), method, path, headers, chunks) == 299
    assert recorder.bodies == [b"".join(chunks)]
    assert handled == []


def test_a_clean_body_in_chunks_is_handled_and_refusals_answered() -> None:
    recorder = _Recorder()
    handled: list[tuple[str, str]] = []

    async def handle(body: str, signature: str, client: str | None) -> dict[str, object]:
        handled.append((body, signature))
        if len(handled) > 1:
            raise InsufficientFunds("no funds")
        return {"ok": True}

    middleware = CommandFastPath(recorder, handle)
    assert _drive(middleware, "POST", "/v1/commands", JSON, [CLEAN[:9], CLEAN[9:]]) == 200
    assert _drive(middleware, "POST", "/v1/commands", {}, [CLEAN]) == 409  # no type: JSON
    assert handled == [("AAAA", "BBBB")] * 2
    assert recorder.bodies == []
