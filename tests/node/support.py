"""Goal: talk to the node in-process as a wallet does: real keys, real signatures, real files.
Method: a `Trader` builds account commands with a fresh nonce, signs their canonical bytes and
posts them through starlette's TestClient (or to a real server); `state` reads everything a refusal must not change."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx2 import Response

from tachyon.client.signing import sign_read
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import AnyCommand, encode_command

MARKET = "BASE/USDC"
USDC = 1_000_000  # minor units of one USDC (6 decimals); BASE has 0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def envelope(key: Ed25519PrivateKey, body: bytes) -> dict[str, str]:
    return {"body": b64(body), "signature": b64(sign(key, body))}


@dataclass
class Trader:
    """One account: its key and a nonce above every one it used."""

    client: httpx2.Client  # the in-process TestClient, or a client of a real server
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    last_nonce: int = 0

    @property
    def address(self) -> str:
        return address_of(self.key)

    def nonce(self) -> int:
        self.last_nonce = max(time.time_ns(), self.last_nonce + 1)
        return self.last_nonce

    def post(self, command: AnyCommand) -> Response:
        return self.client.post("/v1/commands", json=envelope(self.key, encode_command(command)))

    def ok(self, command: AnyCommand) -> Any:
        response = self.post(command)
        assert response.status_code == 200, response.text
        return response.json()

    def read(
        self,
        path: str,
        timestamp_ns: int | None = None,
        params: dict[str, str | int] | None = None,
    ) -> Response:
        """A signed read of `path` (the signature covers the path, not the query `params`)."""
        ts = time.time_ns() if timestamp_ns is None else timestamp_ns
        return self.client.get(path, params=params, headers=self.headers("GET", path, ts))

    def headers(self, method: str, path: str, timestamp_ns: int) -> dict[str, str]:
        return {
            "X-Tachyon-Address": self.address,
            "X-Tachyon-Timestamp": str(timestamp_ns),
            "X-Tachyon-Signature": sign_read(self.key, method, path, timestamp_ns),
        }

    def balances(self) -> dict[str, tuple[str, str]]:
        response = self.read("/v1/account/balances")
        assert response.status_code == 200, response.text
        return {
            row["token"]: (row["available"], row["locked"]) for row in response.json()["balances"]
        }

    def orders(self) -> list[dict[str, Any]]:
        response = self.read("/v1/account/orders")
        assert response.status_code == 200, response.text
        orders: list[dict[str, Any]] = response.json()["orders"]
        return orders


def state(client: httpx2.Client, *traders: Trader) -> dict[str, Any]:
    """Everything observable that a refused request must leave as it was."""
    return {
        "book": client.get("/v1/orderbook", params={"market": MARKET, "depth": 100}).json(),
        "trades": client.get("/v1/trades", params={"market": MARKET, "limit": 100}).json(),
        "accounts": [(t.balances(), t.orders()) for t in traders],
    }


def assert_error(response: Response, status: int, code: str) -> str:
    """The response is the one error schema with this status and code; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    return message
