"""Goal: a client address pays for every signed request before its signature is checked, so
fresh keys and forged signatures cannot outrun the node's limits.
Method: the app in-process (its TestClient speaks from one client address) with a small
client limit; orders from many new keys, forged commands and signed reads against it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tachyon.dex.model import Side
from tachyon.exchange.commands import PlaceLimit, encode_command
from tachyon.node import create_app
from tachyon.node.app import CLIENT_RATE_LIMIT_DEFAULT
from tachyon.node.ratelimit import RateLimit
from tests.node.support import MARKET, USDC, Trader, assert_error, envelope

BURST = 5


def _app(tmp_path: Path) -> TestClient:
    limit = RateLimit(rate_per_s=0.001, burst=BURST)  # no refill within a test
    return TestClient(create_app(tmp_path / "x", rate_limit=None, client_rate_limit=limit))


def test_fresh_keys_from_one_address_meet_the_client_limit(tmp_path: Path) -> None:
    with _app(tmp_path) as client:
        statuses = []
        for _ in range(BURST + 3):
            trader = Trader(client)  # a new key: a new account, a fresh account bucket
            order = PlaceLimit(trader.address, MARKET, Side.BID, USDC, 1, nonce=trader.nonce())
            statuses.append(trader.post(order).status_code)
        assert statuses[:BURST] == [409] * BURST  # admitted and judged: no funds
        assert statuses[BURST:] == [429] * 3


def test_forged_signatures_are_charged_before_they_are_checked(tmp_path: Path) -> None:
    with _app(tmp_path) as client:
        victim = Trader(client)
        body = encode_command(
            PlaceLimit(victim.address, MARKET, Side.BID, USDC, 1, nonce=time.time_ns())
        )
        forged = envelope(Ed25519PrivateKey.generate(), body)
        answers = [client.post("/v1/commands", json=forged) for _ in range(BURST + 2)]
        for answer in answers[:BURST]:
            assert_error(answer, 401, "bad_signature")
        for answer in answers[BURST:]:  # refused before any signature check
            assert_error(answer, 429, "rate_limited")
            assert int(answer.headers["Retry-After"]) >= 1


def test_signed_reads_and_order_entry_frames_pay_too(tmp_path: Path) -> None:
    with _app(tmp_path) as client:
        trader = Trader(client)
        for _ in range(BURST - 2):
            assert trader.read("/v1/account/balances").status_code == 200
        frame = [
            {
                "id": n,
                **envelope(
                    trader.key,
                    encode_command(
                        PlaceLimit(trader.address, MARKET, Side.BID, USDC, 1, nonce=trader.nonce())
                    ),
                ),
            }
            for n in range(4)
        ]
        with client.websocket_connect("/v1/ws/orders") as ws:
            ws.send_text(json.dumps(frame))
            answers = json.loads(ws.receive_text())
        assert [answer["status"] for answer in answers] == [409, 409, 429, 429]


def test_the_client_limit_is_on_by_default() -> None:
    assert CLIENT_RATE_LIMIT_DEFAULT is not None
    assert CLIENT_RATE_LIMIT_DEFAULT.rate_per_s == 500.0
    assert CLIENT_RATE_LIMIT_DEFAULT.burst == 1_000
