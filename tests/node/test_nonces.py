"""Goal: over the node, a signed command applies at most once (sent twice in a row or at once,
over HTTP and the order-entry WebSocket), a refusal by the exchange uses its nonce (409 then
`stale_nonce`), a nonce outside the window is `outside_receive_window`, and a node whose
window is wider than its exchange's does not start.
Method: the app in-process over real files, and a real node on 127.0.0.1 hit by many threads."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from tachyon.dex import Side
from tachyon.dex.model import TimeInForce
from tachyon.errors import InvalidConfig
from tachyon.exchange.commands import (
    CancelOrder,
    Deposit,
    PlaceLimit,
    SetReceiveWindow,
    encode_command,
)
from tachyon.node import create_app
from tachyon.storage import EmbeddedExchange, audit
from tests.cli.test_node_serve import TACHYON, WAIT_S
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader, assert_error, envelope, state

THREADS = 8


def _funded(client: httpx2.Client) -> tuple[Trader, Trader]:
    alice, bob = Trader(client), Trader(client)
    alice.ok(Deposit(alice.address, "USDC", 10_000 * USDC, alice.nonce()))
    bob.ok(Deposit(bob.address, "BASE", 100, bob.nonce()))
    return alice, bob


def test_the_same_signed_command_twice_in_a_row_applies_once(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        alice, bob = _funded(client)
        bid = envelope(alice.key, encode_command(_bid(alice, 5)))
        assert client.post("/v1/commands", json=bid).status_code == 200
        before = state(client, alice, bob)
        message = assert_error(client.post("/v1/commands", json=bid), 409, "stale_nonce")
        assert message.endswith("was used already; nothing was changed")
        with client.websocket_connect("/v1/ws/orders") as ws:
            ws.send_json({"id": 1, **bid})
            answer = ws.receive_json()
        assert (answer["status"], answer["error"]["code"]) == (409, "stale_nonce")
        assert state(client, alice, bob) == before
        assert len(alice.orders()) == 1


def test_a_refused_fok_resent_after_the_book_changed_is_stale(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        alice, bob = _funded(client)
        fok = PlaceLimit(
            alice.address, MARKET, Side.BID, 100 * USDC, 5, TimeInForce.FOK, nonce=alice.nonce()
        )
        sent = envelope(alice.key, encode_command(fok))
        assert_error(client.post("/v1/commands", json=sent), 409, "fill_or_kill_unfillable")
        bob.ok(PlaceLimit(bob.address, MARKET, Side.ASK, 100 * USDC, 5, nonce=bob.nonce()))
        before = state(client, alice, bob)
        assert_error(client.post("/v1/commands", json=sent), 409, "stale_nonce")  # a third party
        assert state(client, alice, bob) == before  # bob's ask still rests, unfilled


def test_a_refused_cancel_of_an_order_not_open_yet_cannot_cancel_it_later(
    tmp_path: Path,
) -> None:
    """The node reads a cancel's order first (for its market); not open, the cancel is still
    judged by the exchange and journaled as refused, so its nonce is used."""
    with TestClient(create_app(tmp_path / "exchange")) as client:
        alice, _ = _funded(client)
        cancel = CancelOrder(alice.address, 1, nonce=alice.nonce())
        sent = envelope(alice.key, encode_command(cancel))
        assert_error(client.post("/v1/commands", json=sent), 404, "order_not_found")
        placed = alice.ok(_bid(alice, 2))
        assert placed["order_id"] == 1
        assert_error(client.post("/v1/commands", json=sent), 409, "stale_nonce")
        assert [order["order_id"] for order in alice.orders()] == [1]
    assert audit(tmp_path / "exchange").entries == 4  # 2 deposits, the refused cancel, the bid


def test_a_nonce_outside_the_window_is_refused(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange", recv_window_ms=1_000)) as client:
        alice, _ = _funded(client)
        late = _bid(alice, 1, nonce=alice.nonce() - 2 * 10**9)
        message = assert_error(alice.post(late), 400, "outside_receive_window")
        assert message.endswith("the receive window is 1000 ms; nothing was changed")
        assert alice.orders() == []


def _bid(trader: Trader, qty: int, nonce: int | None = None) -> PlaceLimit:
    return PlaceLimit(
        trader.address,
        MARKET,
        Side.BID,
        90 * USDC,
        qty,
        nonce=trader.nonce() if nonce is None else nonce,
    )


def test_a_node_wider_than_its_exchanges_window_does_not_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "exchange"
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(SetReceiveWindow(2_000))  # journaled: what every replay applies
    with (
        pytest.raises(InvalidConfig, match=r"\(5000 ms, --recv-window-ms\) is wider than the"),
        TestClient(create_app(data_dir)),
    ):
        pass
    with TestClient(create_app(data_dir, recv_window_ms=2_000)) as client:  # equal: fine
        assert client.get("/v1/time").status_code == 200


def test_node_serve_refuses_a_window_wider_than_the_exchanges(tmp_path: Path) -> None:
    env = {**os.environ, "TACHYON_HOME": str(tmp_path)}
    env.pop("TACHYON_PROFILE", None)
    done = subprocess.run(
        [TACHYON, "node", "serve", "--port", str(free_port()), "--recv-window-ms", "60001"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # refused before the server starts
    assert done.stderr == (
        "Error: the node's receive window (60001 ms, --recv-window-ms) is wider than"
        " the exchange's (60000 ms): a node may only narrow it; the node did not start and"
        " nothing was changed\n"
    )
    assert done.stdout == ""


@pytest.mark.network
def test_the_same_signed_command_sent_at_once_applies_once(tmp_path: Path) -> None:
    """THREADS clients send one signed bid over HTTP and as many over WebSockets at the same
    moment to a real node: one is placed, every other is told `stale_nonce`."""
    port = free_port()
    process = start_node(tmp_path / "exchange", port)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=10.0) as http:
            wait_until_up(http, process)
            alice, _ = _funded(http)
            bid = envelope(alice.key, encode_command(_bid(alice, 3)))
            start = threading.Barrier(2 * THREADS)
            codes: list[str] = []

            def post() -> None:
                with httpx2.Client(base_url=url, timeout=10.0) as own:
                    start.wait()
                    response = own.post("/v1/commands", json=bid)
                    codes.append("ok" if response.status_code == 200 else _code(response.json()))

            def frame() -> None:
                with connect(f"ws://127.0.0.1:{port}/v1/ws/orders") as ws:
                    start.wait()
                    ws.send(json.dumps({"id": 1, **bid}))
                    answer = json.loads(ws.recv(timeout=10.0))
                    codes.append("ok" if answer["status"] == 200 else _code(answer))

            threads = [threading.Thread(target=post) for _ in range(THREADS)]
            threads += [threading.Thread(target=frame) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert Counter(codes) == {"ok": 1, "stale_nonce": 2 * THREADS - 1}, codes
            assert len(alice.orders()) == 1
    finally:
        process.terminate()
        process.communicate(timeout=STOP_TIMEOUT_S)
    assert audit(tmp_path / "exchange").entries == 3


def _code(body: Any) -> str:
    code: str = body["error"]["code"]
    return code
