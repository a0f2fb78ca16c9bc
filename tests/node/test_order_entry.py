"""Goal: signed commands over the order-entry WebSocket get exactly what `POST /v1/commands`
gets, answered by id, many in flight sharing journal commits, with the in-flight bound
holding; every unreadable frame and every refusal is answered (status, code, message, the id
when readable), changes nothing and leaves the connection open. Method: the app in-process
(TestClient) over a real data directory; real keys sign every command; the same command
sequence, with the same clock and nonces, is run over REST on one node and over the
WebSocket on another, and the answers compared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from tachyon.dex import Side
from tachyon.exchange.auth import address_of
from tachyon.exchange.commands import (
    AmendOrder,
    AnyCommand,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    Withdraw,
    encode_command,
)
from tachyon.node import create_app
from tachyon.node.errors import REQUEST_BYTES_MAX
from tests.node.support import MARKET, USDC, Trader, b64, envelope, state

NOW = 1_700_000_000_000_000_000  # the nodes' clock (fixed) and the base of every nonce
PATH = "/v1/ws/orders"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "exchange", batch_wait_ms=20)) as client:
        yield client


def _send(ws: WebSocketTestSession, ident: object, key: Ed25519PrivateKey, cmd: AnyCommand) -> None:
    ws.send_text(json.dumps({"id": ident, **envelope(key, encode_command(cmd))}))


def _answer(ws: WebSocketTestSession) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(ws.receive_text())
    return answer


def _script(alice: Ed25519PrivateKey, bob: Ed25519PrivateKey) -> list[tuple[Any, AnyCommand]]:
    """Every kind of command, accepted and refused: (signing key, command)."""
    a, b = address_of(alice), address_of(bob)
    return [
        (alice, Deposit(a, "USDC", 5_000 * USDC, NOW + 1)),
        (bob, Deposit(b, "BASE", 30, NOW + 2)),
        (alice, PlaceLimit(a, MARKET, Side.BID, 100 * USDC, 10, nonce=NOW + 3)),
        (alice, PlaceLimit(a, MARKET, Side.BID, 99 * USDC, 5, nonce=NOW + 4)),
        (bob, PlaceMarket(b, MARKET, Side.ASK, 12, nonce=NOW + 5)),  # fills 10 + 2
        (bob, PlaceLimit(b, MARKET, Side.ASK, 101 * USDC, 3, nonce=NOW + 6)),
        (bob, CancelOrder(b, 2, NOW + 7)),  # alice's order: refused
        (alice, CancelOrder(a, 2, NOW + 8)),  # what is left of the 99 bid
        (alice, PlaceLimit(a, MARKET, Side.BID, 100 * USDC, 10**6, nonce=NOW + 9)),  # no funds
        (bob, Withdraw(b, "USDC", 500 * USDC, NOW + 10)),
        (alice, Deposit(a, "USDC", 1, NOW + 3)),  # a replayed nonce: stale
        (alice, PlaceLimit(a, "NOPE/USDC", Side.BID, 1, 1, nonce=NOW + 11)),  # unknown market
        # The order lifecycle: a stop, an iceberg with a client id and its retry, an amend
        # by client id, a good-till-date order, a cancel by client id.
        (bob, PlaceStop(b, MARKET, Side.ASK, 90 * USDC, 89 * USDC, 2, nonce=NOW + 12)),
        (
            alice,
            PlaceOrder(
                a,
                MARKET,
                Side.BID,
                98 * USDC,
                6,
                display_qty=2,
                client_order_id="ice",
                nonce=NOW + 13,
            ),
        ),
        (
            alice,
            PlaceOrder(
                a,
                MARKET,
                Side.BID,
                98 * USDC,
                6,
                display_qty=2,
                client_order_id="ice",
                nonce=NOW + 14,
            ),
        ),
        (alice, AmendOrder(a, qty=4, client_order_id="ice", nonce=NOW + 15)),
        (
            alice,
            PlaceOrder(a, MARKET, Side.BID, 97 * USDC, 1, expire_at_ns=NOW + 10**9, nonce=NOW + 16),
        ),
        (alice, CancelClientOrder(a, "ice", NOW + 17)),
        (bob, CancelOrder(b, 5, NOW + 18)),  # bob's stop (the fifth order id)
        (bob, AmendOrder(b, 7, price=1, nonce=NOW + 19)),  # alice's GTD order: refused
    ]


def test_answers_are_what_the_rest_endpoint_answers(tmp_path: Path) -> None:
    alice, bob = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    script = _script(alice, bob)
    with TestClient(create_app(tmp_path / "rest", clock=lambda: NOW)) as rest:
        over_rest = []
        for key, command in script:
            response = rest.post("/v1/commands", json=envelope(key, encode_command(command)))
            over_rest.append((response.status_code, response.json()))
    with (
        TestClient(create_app(tmp_path / "ws", clock=lambda: NOW)) as node,
        node.websocket_connect(PATH) as ws,
    ):
        over_ws = []
        for n, (key, command) in enumerate(script):
            _send(ws, f"c{n}", key, command)
            answer = _answer(ws)
            assert answer["id"] == f"c{n}"
            body = answer["result"] if answer["status"] == 200 else {"error": answer["error"]}
            over_ws.append((answer["status"], body))
    assert over_ws == over_rest
    statuses = [status for status, _ in over_ws]
    assert statuses == [200] * 6 + [403, 200, 409, 200, 409, 404] + [200] * 7 + [403]
    assert over_ws[12][1]["trigger_price"] == "90" and over_ws[18][1]["status"] == "cancelled"
    assert over_ws[14][1] == over_ws[13][1]  # the retry: the first answer


def _traders_with_funds(client: TestClient) -> tuple[Trader, Trader]:
    alice, bob = Trader(client), Trader(client)
    alice.ok(Deposit(alice.address, "USDC", 10**6 * USDC, alice.nonce()))
    bob.ok(Deposit(bob.address, "BASE", 10**4, bob.nonce()))
    return alice, bob


def _pipeline(client: TestClient, count: int) -> tuple[list[dict[str, Any]], int]:
    """`count` crossing orders sent without waiting; (their answers, journal commits used)."""
    alice, bob = _traders_with_funds(client)
    sequencer = client.app.state.sequencer  # type: ignore[attr-defined]
    before = sequencer.batches
    with client.websocket_connect(PATH) as ws:
        for n in range(count):
            trader, side = (alice, Side.BID) if n % 2 == 0 else (bob, Side.ASK)
            order = PlaceLimit(trader.address, MARKET, side, 100 * USDC, 2, nonce=trader.nonce())
            _send(ws, n, trader.key, order)
        answers = [_answer(ws) for _ in range(count)]
    assert sorted(answer["id"] for answer in answers) == list(range(count))
    assert {answer["status"] for answer in answers} == {200}
    assert bob.balances()["USDC"] == (f"{count // 2 * 200}", "0")
    assert alice.orders() == bob.orders() == []  # every pair traded
    return answers, sequencer.batches - before


def test_pipelined_commands_share_journal_commits(client: TestClient) -> None:
    answers, commits = _pipeline(client, 60)
    assert commits < 60 // 2
    by_id = {answer["id"]: answer["result"] for answer in answers}
    assert by_id[0]["status"] == "new"  # placed in order: each ask fills the bid before it
    assert by_id[1]["status"] == "filled"
    assert by_id[1]["trades"][0]["maker_order_id"] == by_id[0]["order_id"]


def test_one_in_flight_is_one_commit_each(tmp_path: Path) -> None:
    """With `inflight_max` 1 the node reads a frame only once the one before is answered."""
    with TestClient(create_app(tmp_path / "x", batch_wait_ms=20, inflight_max=1)) as client:
        _, commits = _pipeline(client, 20)
    assert commits == 20


def _frames(trader: Trader) -> list[tuple[str, object, int, str, str]]:
    """Unreadable and refused frames: (frame, id answered, status, code, words of the message)."""
    address = trader.address
    good = encode_command(Deposit(address, "USDC", USDC, trader.nonce()))
    forged = envelope(Ed25519PrivateKey.generate(), good)
    late = PlaceLimit(address, MARKET, Side.BID, 100 * USDC, 1, nonce=trader.nonce() + 10**12)
    late_frame = json.dumps({"id": 9, **envelope(trader.key, encode_command(late))})
    return [
        ("not json", None, 400, "invalid_input", "not a request"),
        ("[1, 2]", None, 400, "invalid_input", "not an array of requests"),
        ('{"id": 5}', 5, 400, "invalid_input", "missing required field `body`"),
        ('{"id": "x", "body": 1, "signature": ""}', "x", 400, "invalid_input", "Expected `str`"),
        (json.dumps({"id": 6, **forged, "extra": 1}), 6, 400, "invalid_input", "unknown field"),
        (json.dumps({"id": "y" * 65, **forged}), None, 400, "invalid_input", "at most 64"),
        (json.dumps({"id": 7, "body": "%%", "signature": ""}), 7, 400, "invalid_input", "base64"),
        (json.dumps({"id": 8, **forged}), 8, 401, "bad_signature", "not " + address),
        (late_frame, 9, 400, "outside_receive_window", "receive window"),
        (
            json.dumps({"id": 10, "body": b64(b"x" * REQUEST_BYTES_MAX), "signature": ""}),
            None,
            413,
            "request_too_large",
            f"at most {REQUEST_BYTES_MAX}",
        ),
    ]


def test_bad_frames_are_answered_and_change_nothing(client: TestClient) -> None:
    alice = Trader(client)
    alice.ok(Deposit(alice.address, "USDC", 100 * USDC, alice.nonce()))
    before = state(client, alice)
    with client.websocket_connect(PATH) as ws:
        for frame, ident, status, code, words in _frames(alice):
            ws.send_text(frame)
            answer = _answer(ws)
            assert answer["id"] == ident, frame
            assert answer["status"] == status, answer
            assert answer["error"]["code"] == code, answer
            assert words in answer["error"]["message"], answer
            assert set(answer) == {"id", "status", "error"}
        ws.send_bytes(b"{}")
        assert _answer(ws)["error"] == {
            "code": "invalid_input",
            "message": "send requests as JSON text frames",
        }
        assert state(client, alice) == before
        _send(ws, "after", alice.key, Deposit(alice.address, "BASE", 3, alice.nonce()))
        assert _answer(ws)["status"] == 200  # the connection served on
    assert alice.balances()["BASE"] == ("3", "0")


def _sample(metrics: str, prefix: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return float(line.rpartition(" ")[2])
    raise AssertionError(f"no sample {prefix}")


def test_metrics_count_connections_latencies_and_orders(client: TestClient) -> None:
    alice = Trader(client)
    gauge = 'tachyon_stream_clients{endpoint="orders"}'
    timing = 'tachyon_http_request_duration_seconds_count{method="WS",route="/v1/ws/orders"'
    with client.websocket_connect(PATH) as ws:
        _send(ws, 1, alice.key, Deposit(alice.address, "USDC", USDC, alice.nonce()))
        _send(ws, 2, alice.key, Withdraw(alice.address, "USDC", 2 * USDC, alice.nonce()))
        assert sorted(a["status"] for a in (_answer(ws), _answer(ws))) == [200, 409]
        metrics = client.get("/metrics").text
        assert _sample(metrics, gauge) == 1
    assert _sample(metrics, timing + ',status="200"}') == 1
    assert _sample(metrics, timing + ',status="409"}') == 1
    assert _sample(metrics, 'tachyon_orders_total{outcome="accepted",type="deposit"}') == 1
    assert _sample(client.get("/metrics").text, gauge) == 0


def test_a_cancel_right_behind_its_placement_in_one_batch_finds_it(tmp_path: Path) -> None:
    """Sent without waiting, the placement and its cancel reach one batch, and the cancel
    finds the order the placement just put on the book."""
    with TestClient(create_app(tmp_path / "x", batch_wait_ms=200)) as client:
        alice = Trader(client)
        alice.ok(Deposit(alice.address, "USDC", 100 * USDC, alice.nonce()))
        sequencer = client.app.state.sequencer  # type: ignore[attr-defined]
        with client.websocket_connect(PATH) as ws:
            bid = PlaceLimit(alice.address, MARKET, Side.BID, USDC, 3, nonce=alice.nonce())
            _send(ws, "place", alice.key, bid)
            _send(ws, "cancel", alice.key, CancelOrder(alice.address, 1, alice.nonce()))
            _send(ws, "ghost", alice.key, CancelOrder(alice.address, 99, alice.nonce()))
            answers = {a["id"]: a for a in (_answer(ws), _answer(ws), _answer(ws))}
        assert answers["place"]["result"]["order_id"] == 1
        assert answers["cancel"]["result"]["status"] == "cancelled"
        assert answers["ghost"]["status"] == 404
        assert answers["ghost"]["error"]["code"] == "order_not_found"
        # The deposit's, then one for the three: a cancel needs no read before its batch (its
        # answer's market comes with its placement), the ghost's refusal journaled in it too.
        assert sequencer.batches == 1 + 1
        assert alice.balances()["USDC"] == ("100", "0")


def test_an_array_frame_is_sequenced_in_order_and_answered_in_one_array(
    client: TestClient,
) -> None:
    alice, bob = _traders_with_funds(client)
    sequencer = client.app.state.sequencer  # type: ignore[attr-defined]
    before = sequencer.batches
    orders: list[tuple[Trader, AnyCommand]] = [
        (alice, PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 4, nonce=alice.nonce())),
        (bob, PlaceLimit(bob.address, MARKET, Side.ASK, 100 * USDC, 3, nonce=bob.nonce())),
        (alice, CancelOrder(alice.address, 1, alice.nonce())),  # the bid above, by then 1 left
        (bob, Withdraw(bob.address, "BASE", 10**9, bob.nonce())),  # refused: no such funds
    ]
    frame = [
        {"id": n, **envelope(trader.key, encode_command(command))}
        for n, (trader, command) in enumerate(orders)
    ]
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps(frame))
        answers = json.loads(ws.receive_text())
    assert [answer["id"] for answer in answers] == [0, 1, 2, 3]
    assert [answer["status"] for answer in answers] == [200, 200, 200, 409]
    assert answers[1]["result"]["trades"][0]["maker_order_id"] == answers[0]["result"]["order_id"]
    assert answers[2]["result"] == {**answers[2]["result"], "status": "cancelled", "open_qty": "0"}
    assert answers[3]["error"]["code"] == "insufficient_funds"
    # One frame, one batch: the cancel finds its order placed earlier in the same batch.
    assert sequencer.batches - before == 1
    assert alice.orders() == []


@pytest.mark.parametrize(
    ("frame", "status", "words"),
    [
        ("[]", 400, "1 to 50 requests, not 0"),
        ("[1]", 400, "not an array of requests"),
        ('[{"id": 1}]', 400, "missing required field `body`"),
        (json.dumps([{"id": 1, "body": "", "signature": ""}] * 51), 400, "not 51"),
        (json.dumps([{"id": "z" * 65, "body": "", "signature": ""}]), 400, "at most 64"),
        (json.dumps([{"body": "A" * 70_000, "signature": ""}]), 413, "at most 65536"),
    ],
)
def test_a_bad_array_frame_is_refused_whole(
    client: TestClient, frame: str, status: int, words: str
) -> None:
    alice = Trader(client)
    alice.ok(Deposit(alice.address, "USDC", USDC, alice.nonce()))
    before = state(client, alice)
    with client.websocket_connect(PATH) as ws:
        ws.send_text(frame)
        answer = _answer(ws)
    assert (answer["id"], answer["status"]) == (None, status)
    assert words in answer["error"]["message"]
    assert state(client, alice) == before


def test_frames_enter_in_the_order_sent_whichever_is_checked_first(client: TestClient) -> None:
    """An array frame's signatures are checked on a worker thread while later frames are
    read; still every frame's commands enter the sequencer in the order sent (else rising
    nonces would be refused as stale)."""
    alice = Trader(client)
    frames: list[str] = []
    for n in range(12):
        deposits = [Deposit(alice.address, "USDC", 1, alice.nonce()) for _ in range(1 + n % 2 * 9)]
        requests = [
            {"id": f"{n}.{k}", **envelope(alice.key, encode_command(each))}
            for k, each in enumerate(deposits)
        ]
        frames.append(json.dumps(requests if len(requests) > 1 else requests[0]))
    with client.websocket_connect(PATH) as ws:
        for frame in frames:
            ws.send_text(frame)
        answers = [_answer_any(ws) for _ in frames]
    statuses = [each["status"] for answer in answers for each in answer]
    assert statuses == [200] * 66, statuses
    assert alice.balances()["USDC"] == ("0.000066", "0")


def _answer_any(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    answer = json.loads(ws.receive_text())
    return answer if isinstance(answer, list) else [answer]


def test_a_forgery_in_an_array_frame_is_refused_alone(client: TestClient) -> None:
    alice = Trader(client)
    deposits = [Deposit(alice.address, "USDC", USDC, alice.nonce()) for _ in range(3)]
    forger = Ed25519PrivateKey.generate()
    frame = [
        {"id": n, **envelope(forger if n == 1 else alice.key, encode_command(each))}
        for n, each in enumerate(deposits)
    ]
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps(frame))
        answers = json.loads(ws.receive_text())
    assert [answer["status"] for answer in answers] == [200, 401, 200]
    assert answers[1]["error"]["code"] == "bad_signature"
    assert alice.balances()["USDC"] == ("2", "0")
