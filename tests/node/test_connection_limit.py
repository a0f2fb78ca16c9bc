"""Goal: one client address cannot hold more WebSocket connections than its limit; a closed
connection frees its place; refusals are counted in /metrics.
Method: the app in-process (its TestClient is one client address) with a limit of 3,
connections to the market stream and order entry held open at once."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tachyon.node import create_app

LIMIT = 3


def _refused_total(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("tachyon_connections_refused_total "):
            return float(line.split()[1])
    raise AssertionError("tachyon_connections_refused_total is not exposed")


def test_connections_past_a_clients_limit_are_refused_until_one_closes(tmp_path: Path) -> None:
    app = create_app(tmp_path / "x", rate_limit=None, connections_per_client=LIMIT)
    with TestClient(app) as client, contextlib.ExitStack() as held:
        assert _refused_total(client) == 0
        sockets = [
            held.enter_context(client.websocket_connect("/v1/ws/market?channels=depth")),
            held.enter_context(client.websocket_connect("/v1/ws/market?channels=trades")),
            held.enter_context(client.websocket_connect("/v1/ws/orders")),
        ]
        assert sockets[0].receive_json()["type"] == "snapshot"
        for path in ("/v1/ws/market", "/v1/ws/orders"):
            with pytest.raises(WebSocketDisconnect), client.websocket_connect(path):
                pass
        assert _refused_total(client) == 2
        sockets[2].close()  # a place comes free once the server has seen the close
        for _ in range(50):
            try:
                with client.websocket_connect("/v1/ws/market?channels=depth") as ws:
                    assert ws.receive_json()["type"] == "snapshot"
                break
            except WebSocketDisconnect:
                time.sleep(0.02)
        else:
            raise AssertionError("the closed connection's place never came free")


def test_http_requests_are_not_counted_as_connections(tmp_path: Path) -> None:
    app = create_app(tmp_path / "x", rate_limit=None, connections_per_client=1)
    with (
        TestClient(app) as client,
        client.websocket_connect("/v1/ws/market?channels=depth") as ws,
    ):
        assert ws.receive_json()["type"] == "snapshot"
        assert client.get("/v1/time").status_code == 200
