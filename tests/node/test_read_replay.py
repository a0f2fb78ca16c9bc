"""Goal: a captured signed read cannot be replayed inside its window; memory stays bounded.
Method: the app in-process over a real data directory; the same signed headers sent twice,
and `SeenReads` driven directly for its bounds and its forgetting."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tachyon.node import create_app
from tachyon.node.errors import RateLimited
from tachyon.node.read_replay import ReplayedRead, SeenReads
from tests.node.support import Trader, assert_error


def test_the_same_signed_read_is_answered_once(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "x", rate_limit=None)) as client:
        alice = Trader(client)
        path = "/v1/account/balances"
        captured = alice.headers("GET", path, time.time_ns())
        assert client.get(path, headers=captured).status_code == 200
        for _ in range(3):  # as often as a thief likes: refused every time
            assert_error(client.get(path, headers=captured), 401, "replayed_request")
        assert alice.read(path).status_code == 200  # a fresh signature is a fresh read
        other = alice.headers("GET", "/v1/account/orders", time.time_ns())
        assert client.get("/v1/account/orders", headers=other).status_code == 200


def test_a_replayed_read_cannot_open_the_account_stream(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "x", rate_limit=None)) as client:
        alice = Trader(client)
        ts = time.time_ns()
        headers = alice.headers("GET", "/v1/ws/account", ts)
        params = {
            "address": alice.address,
            "timestamp": str(ts),
            "signature": headers["X-Tachyon-Signature"],
        }
        query = f"/v1/ws/account?{urlencode(params)}"
        with client.websocket_connect(query) as ws:
            assert ws.receive_json()["type"] == "subscribed"
        with client.websocket_connect(query) as ws:
            closing = ws.receive()
        assert closing["type"] == "websocket.close"
        assert closing["code"] == 4401 and "replayed_request" in closing["reason"]


def test_seen_reads_forget_what_the_window_refuses_anyway_and_stay_bounded() -> None:
    seen = SeenReads(window_ms=1_000, per_address_max=2, total_max=3)
    now = 10**18
    seen.use("a", now, "s1", now)
    with pytest.raises(ReplayedRead):
        seen.use("a", now, "s1", now + 1)
    seen.use("a", now, "s2", now)
    with pytest.raises(RateLimited):  # a third read of one address inside the window
        seen.use("a", now, "s3", now)
    seen.use("b", now, "s1", now)  # another address's signature is another read
    with pytest.raises(RateLimited):  # the bound in all
        seen.use("c", now, "s1", now)
    later = now + 1_000 * 1_000_000 + 1  # past every timestamp's window: forgotten
    seen.use("a", later, "s3", later)
    assert len(seen) == 1
