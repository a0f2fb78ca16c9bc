"""A local stand-in of Stripe for tests: its API's checkout-session endpoint on 127.0.0.1, and
webhook deliveries built and signed exactly as Stripe builds and signs them.

Stripe's API cannot be reached from these machines. The stand-in answers
`POST /v1/checkout/sessions` as Stripe does (form-encoded parameters in, a
`checkout.session` object out, or Stripe's error shape), recording each request, so a test
sees what the official library sent. `signature_header` is Stripe's scheme, written here from
its documentation rather than taken from the library under test: `t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<payload>" under the endpoint's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl

API_VERSION: Final = "2026-10-28.endive"
WEBHOOK_SECRET: Final = "whsec_test_standin_secret"
API_KEY: Final = "sk_test_standin_key"


@dataclass
class StripeStandIn:
    """What the stand-in received (`requests`: each one's form parameters, flat as sent) and
    how it answers (`refuse`: a message to answer 400 `invalid_request_error` with)."""

    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse: str | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def create_session(self, params: dict[str, str]) -> dict[str, Any]:
        """The `checkout.session` Stripe answers for these parameters (open, unpaid)."""
        number = next(self._ids)
        session_id = f"cs_test_standin{number:04d}"
        metadata = {
            key[len("metadata[") : -1]: value
            for key, value in params.items()
            if key.startswith("metadata[")
        }
        quantity = int(params.get("line_items[0][quantity]", "1"))
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "amount_total": int(params["line_items[0][price_data][unit_amount]"]) * quantity,
            "currency": params["line_items[0][price_data][currency]"],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": metadata,
            "payment_status": "unpaid",
            "status": "open",
            "payment_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "livemode": False,
        }
        self.sessions[session_id] = session
        return session


def paid(session: dict[str, Any], intent: str) -> dict[str, Any]:
    """The session once its payment succeeded (as `checkout.session.completed` carries it)."""
    return {**session, "payment_status": "paid", "status": "complete", "payment_intent": intent}


def event(event_type: str, item: dict[str, Any], event_id: str) -> dict[str, Any]:
    """A Stripe event (a snapshot event, API version `API_VERSION`) about `item`."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "type": event_type,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": item},
    }


def signature_header(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """`Stripe-Signature` for `payload` signed at unix time `at` (now by default)."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery(item: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """An event's payload and headers as Stripe posts them."""
    payload = json.dumps(item, indent=2).encode()  # Stripe's payloads are pretty-printed
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(payload, secret),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return payload, headers


@contextmanager
def stripe_standin() -> Iterator[StripeStandIn]:
    """The stand-in serving on a free 127.0.0.1 port until the block ends."""
    state = StripeStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            params = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            state.requests.append(params)
            state.authorizations.append(self.headers.get("Authorization", ""))
            if self.path != "/v1/checkout/sessions":
                self._answer(404, _error(f"Unrecognized request URL (POST: {self.path})."))
            elif state.refuse is not None:
                self._answer(400, _error(state.refuse))
            else:
                self._answer(200, state.create_session(params))

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_standin")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's output is the test's."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="stripe-standin", daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _error(message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message}}
