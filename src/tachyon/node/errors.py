"""Every refusal the node answers, in one JSON schema: {"error": {"code", "message"}}.

The library raises `TachyonError`s; this module turns them (and the web framework's own
refusals: validation, unknown path, wrong method, oversized body) into that schema with a 4xx
status, in one place. `STATUS_BY_CODE` is the table; a code it does not name gets the status
of its nearest ancestor in the `TachyonError` tree. Nothing here changes state.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tachyon import errors

_log: Final = logging.getLogger("tachyon.node")

REQUEST_BYTES_MAX: Final = 16 * 1024
"""No request body is longer; a longer one is refused with 413 before it is parsed."""


class RequestTooLarge(errors.InvalidInput):
    """A request longer than `REQUEST_BYTES_MAX` (a WebSocket frame: the HTTP path answers
    413 in `BodyLimit` before the application sees the body)."""

    code = "request_too_large"


class DepositsDisabled(errors.TachyonError):
    """The production profile has no faucet: deposits enter through privileged paths only."""

    code = "deposits_disabled"


class RateLimited(errors.TachyonError):
    """An account over its request rate; `retry_after_s` (whole seconds, at least 1) is when
    its next request is due, sent as the `Retry-After` header (1 when a client rebuilds the
    error from its code and message alone)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        assert retry_after_s >= 1, retry_after_s
        self.retry_after_s = retry_after_s


RATE_LIMITED_STATUS: Final = 429

STATUS_BY_CODE: Final[dict[str, int]] = {
    errors.InvalidInput.code: 400,  # and every subclass: amounts, ticks, lots, orders, window
    errors.OutsideReceiveWindow.code: 400,  # the exchange's window, or the node's narrower one
    RequestTooLarge.code: 413,
    errors.NotFound.code: 404,  # market, token, order
    errors.BadSignature.code: 401,
    errors.Unauthorized.code: 401,
    errors.OrderNotOwned.code: 403,
    DepositsDisabled.code: 403,
    errors.InsufficientFunds.code: 409,
    errors.SupplyExceeded.code: 409,
    errors.OrderRejected.code: 409,  # fill-or-kill unfillable, post-only would take
    errors.StaleNonce.code: 409,
    errors.AlreadyExists.code: 409,
    errors.AccountInDebt.code: 409,
    errors.NotOperator.code: 403,
    errors.MarketHalted.code: 409,
    errors.RiskLimitExceeded.code: 409,  # and every limit's own code
    errors.StorageError.code: 503,  # the sequencer is stopped or its queue is full
    "payment_provider_error": 502,  # Stripe refused or could not be reached (the on-ramp)
    errors.TachyonError.code: 500,  # corrupt data and the like: the server's fault
}

_HTTP_CODES: Final = {
    400: "invalid_request",  # a body the framework cannot parse at all
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def status_of(error: errors.TachyonError) -> int:
    """The HTTP status of a refusal: its own code's, else its nearest ancestor's; 429 for
    `RateLimited` (a throttle, not a judgement of the request, so outside the table)."""
    if isinstance(error, RateLimited):
        return RATE_LIMITED_STATUS
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    raise AssertionError(f"{type(error).__name__} is not a TachyonError")


def error_body(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


def refusal(exc: errors.TachyonError) -> tuple[int, dict[str, object], dict[str, str]]:
    """(status, body, headers) of the answer refusing a request with `exc`; logged if it is
    the server's fault."""
    status = status_of(exc)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        _log.error("refused with %s: %s", exc.code, exc)
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited) else {}
    return status, error_body(exc.code, str(exc)), headers


async def _tachyon_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TachyonError)
    status, body, headers = refusal(exc)
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()))
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(400, "invalid_request", "; ".join(problems) or "invalid request")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    response = error_response(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "the server failed; nothing was refused by rule")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every refusal of `app` in the one schema."""
    app.add_exception_handler(errors.TachyonError, _tachyon_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def replay_body(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` for an application whose request body was read already: that body (`more`:
    the client has more to send), then the rest from the client."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": more}

    return replay


class BodyLimit:
    """ASGI middleware: read at most `bytes_max` of a request body, else answer 413 in the
    error schema without calling the application (declared length or streamed bytes)."""

    def __init__(
        self,
        app: ASGIApp,
        bytes_max: int = REQUEST_BYTES_MAX,
        larger: dict[str, int] | None = None,
    ) -> None:
        """`larger`: the paths whose bodies may be longer, with their bounds."""
        self.app = app
        self.bytes_max = bytes_max
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bytes_max = self.larger.get(scope["path"], self.bytes_max)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > bytes_max):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > bytes_max:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), False, receive), send)

    async def _refuse(self, send: Send) -> None:
        data = json.dumps(
            error_body(_HTTP_CODES[413], f"a request body is at most {self.bytes_max} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
