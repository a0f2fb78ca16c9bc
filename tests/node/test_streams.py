"""Goal: the node's WebSocket streams tell exactly what happened: a follower of the depth stream
holds the book the node holds after every command, trades and account events match what the
commands did, refusals close with a code and reason, and a slow client is cut off.
Method: the app in-process (TestClient) over a real data directory, real signed commands; the
book the stream rebuilds is compared with `GET /v1/orderbook` after each command."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tachyon.client.signing import sign_read
from tachyon.client.stream import (
    CLOSE_SLOW_CONSUMER,
    BookFollower,
    StreamGap,
)
from tachyon.dex import AccountId, Side, TokenId
from tachyon.dex.ids import MarketId
from tachyon.dex.model import DEFAULT_MARKET, SelfTradePrevention, TimeInForce
from tachyon.exchange.commands import (
    AmendOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
)
from tachyon.node import create_app
from tachyon.node.streams import StreamHub, Subscriber, serve_subscriber
from tachyon.storage import EmbeddedExchange
from tests.node.support import MARKET, USDC, Trader

BOOK_DEPTH = 1_000


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "exchange", rate_limit=None)) as client:
        yield client


@pytest.fixture(params=[True, False], ids=["read-model", "no-read-model"])
def any_client(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A node with the read model on, and one with it off: the streams take what changed from
    each batch's events, never from the query tables."""
    app = create_app(tmp_path / "exchange", rate_limit=None, read_model=request.param)
    with TestClient(app) as client:
        yield client


def _funded(client: TestClient, count: int) -> list[Trader]:
    traders = [Trader(client) for _ in range(count)]
    for trader in traders:
        trader.ok(Deposit(trader.address, "USDC", 10**7 * USDC, trader.nonce()))
        trader.ok(Deposit(trader.address, "BASE", 10**6, trader.nonce()))
    return traders


def _book(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/orderbook", params={"market": MARKET, "depth": BOOK_DEPTH})
    assert response.status_code == 200, response.text
    book: dict[str, Any] = response.json()
    return book


def _held(follower: BookFollower) -> dict[str, Any]:
    """The follower's book in the shape of `GET /v1/orderbook`."""
    config = DEFAULT_MARKET
    bids, asks = follower.levels(BOOK_DEPTH)

    def rows(side: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
        from tachyon.dex.units import to_decimal

        return [
            {
                "price": to_decimal(price, config.quote_decimals),
                "qty": to_decimal(qty, config.base_decimals),
            }
            for price, qty in side
        ]

    return {"market": MARKET, "bids": rows(bids), "asks": rows(asks)}


def _random_command(rng: random.Random, trader: Trader, open_ids: list[int]) -> Any:
    roll = rng.random()
    side = rng.choice([Side.BID, Side.ASK])
    if roll < 0.15 and open_ids:
        return CancelOrder(trader.address, rng.choice(open_ids), nonce=trader.nonce())
    if roll < 0.25:
        return PlaceMarket(trader.address, MARKET, side, rng.randint(1, 8), nonce=trader.nonce())
    if roll < 0.35 and open_ids:  # often another's order: refused, changing nothing
        price = rng.randint(95, 105) * USDC
        return AmendOrder(trader.address, rng.choice(open_ids), price, nonce=trader.nonce())
    if roll < 0.42:
        trigger = rng.randint(95, 105) * USDC
        return PlaceStop(trader.address, MARKET, side, trigger, trigger, 2, nonce=trader.nonce())

    return PlaceLimit(
        trader.address,
        MARKET,
        side,
        rng.randint(95, 105) * USDC,
        rng.randint(1, 9),
        tif=rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
        stp=rng.choice(list(SelfTradePrevention)),
        nonce=trader.nonce(),
    )


def _follow(ws: WebSocketTestSession) -> BookFollower:
    follower = BookFollower(DEFAULT_MARKET)
    follower.apply(ws.receive_json())
    return follower


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_follower_holds_the_nodes_book_after_every_command(
    any_client: TestClient, seed: int
) -> None:
    client = any_client
    rng = random.Random(seed)
    traders = _funded(client, 4)
    open_ids: dict[str, list[int]] = {t.address: [] for t in traders}
    query = f"/v1/ws/market?{urlencode({'market': MARKET, 'channels': 'depth'})}"
    with contextlib.ExitStack() as sessions:
        followers = [(ws := sessions.enter_context(client.websocket_connect(query)), _follow(ws))]
        before = _book(client)
        assert _held(followers[0][1]) == before
        for step in range(120):
            trader = rng.choice(traders)
            command = _random_command(rng, trader, open_ids[trader.address])
            response = trader.post(command)
            answer = response.json() if response.status_code == 200 else {}
            if answer.get("open_qty", "0") != "0":
                open_ids[trader.address].append(answer["order_id"])
            after = _book(client)
            for ws, follower in followers:
                if after != before:  # one diff per command that changed the book, none else
                    message = ws.receive_json()
                    assert message["type"] == "diff"
                    assert follower.apply(message)
                assert _held(follower) == after, (seed, step)
            if step == 40:  # a second client joins mid-flow: its snapshot, then the same diffs
                ws = sessions.enter_context(client.websocket_connect(query))
                followers.append((ws, _follow(ws)))
                assert _held(followers[1][1]) == after
            before = after
        assert len(followers) == 2


def test_an_iceberg_shows_its_display_in_the_depth_stream(client: TestClient) -> None:
    """(Kept out of the random flow: a refill can leave a level as it was, and that flow
    expects a diff only when the book changed.)"""
    alice, bob = _funded(client, 2)
    query = f"/v1/ws/market?{urlencode({'market': MARKET, 'channels': 'depth'})}"
    with client.websocket_connect(query) as ws:
        follower = _follow(ws)
        alice.ok(
            PlaceOrder(
                alice.address, MARKET, Side.ASK, 100 * USDC, 9, display_qty=3, nonce=alice.nonce()
            )
        )
        assert follower.apply(ws.receive_json())
        assert _held(follower) == _book(client)
        assert _book(client)["asks"] == [{"price": "100", "qty": "3"}]
        bob.ok(PlaceMarket(bob.address, MARKET, Side.BID, 4, nonce=bob.nonce()))
        assert follower.apply(ws.receive_json())
        assert _held(follower) == _book(client)
        assert _book(client)["asks"] == [{"price": "100", "qty": "2"}]


def test_a_lost_diff_is_detected_by_the_update_ids(client: TestClient) -> None:
    (alice,) = _funded(client, 1)
    with client.websocket_connect("/v1/ws/market?channels=depth") as ws:
        follower = _follow(ws)
        for price in (90, 91, 92):
            alice.ok(
                PlaceLimit(alice.address, MARKET, Side.BID, price * USDC, 1, nonce=alice.nonce())
            )
        first, _lost, third = (ws.receive_json() for _ in range(3))
        assert first["prev_update_id"] <= follower.last_update_id < first["last_update_id"]
        follower.apply(first)
        assert third["prev_update_id"] > follower.last_update_id
        with pytest.raises(StreamGap, match="does not follow"):
            follower.apply(third)
        assert not follower.apply(first)  # an old diff changes nothing


def test_the_trades_channel_sends_recent_trades_then_each_batchs(client: TestClient) -> None:
    alice, bob = _funded(client, 2)
    alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 5, nonce=alice.nonce()))
    bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 2, nonce=bob.nonce()))
    with client.websocket_connect("/v1/ws/market?channels=trades&trades=5") as ws:
        snapshot = ws.receive_json()
        recent = client.get("/v1/trades", params={"limit": 5}).json()["trades"]
        assert snapshot["type"] == "snapshot"
        assert snapshot["trades"] == list(reversed(recent))
        placed = bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 3, nonce=bob.nonce()))
        message = ws.receive_json()
    assert message["type"] == "trades"
    assert message["market"] == MARKET
    sent = [{k: v for k, v in row.items() if k != "update_id"} for row in message["trades"]]
    assert sent == placed["trades"]  # fees and time included
    assert {row["time_ns"] for row in sent} == {placed["time_ns"]}
    assert {row["update_id"] for row in message["trades"]} == {message["last_update_id"]}


def _account_query(
    trader: Trader, timestamp_ns: int | None = None, path: str = "/v1/ws/account"
) -> str:
    ts = time.time_ns() if timestamp_ns is None else timestamp_ns
    signature = sign_read(trader.key, "GET", path, ts)
    params = {"address": trader.address, "timestamp": str(ts), "signature": signature}
    return f"/v1/ws/account?{urlencode(params)}"


def _events(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    message = ws.receive_json()
    assert message["type"] == "events"
    events: list[dict[str, Any]] = message["events"]
    for event in events:
        del event["update_id"]
    return events


def test_the_account_stream_tells_only_the_accounts_orders_and_fills(
    any_client: TestClient,
) -> None:
    client = any_client
    alice, bob = _funded(client, 2)
    with client.websocket_connect(_account_query(alice)) as ws:
        assert ws.receive_json()["type"] == "subscribed"
        bob.ok(
            PlaceLimit(bob.address, MARKET, Side.BID, 90 * USDC, 1, nonce=bob.nonce())
        )  # not alice's
        bid = alice.ok(
            PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 5, nonce=alice.nonce())
        )
        oid = bid["order_id"]
        order = {"order_id": oid, "market": MARKET, "side": "bid", "price": "100"}
        assert _events(ws) == [{"type": "order", **order, "status": "new", "remaining_qty": "5"}]
        sold = bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 2, nonce=bob.nonce()))
        (trade,) = sold["trades"]
        fill = {"type": "fill", "order_id": oid, "trade_id": trade["trade_id"], "market": MARKET}
        fee = {"fee": trade["maker_fee"], "fee_token": "USDC", "time_ns": trade["time_ns"]}
        assert _events(ws) == [
            {**fill, "side": "bid", "role": "maker", "price": "100", "qty": "2", **fee},
            {"type": "order", **order, "status": "partially_filled", "remaining_qty": "3"},
        ]
        alice.ok(
            PlaceLimit(
                alice.address,
                MARKET,
                Side.ASK,
                100 * USDC,
                1,
                stp=SelfTradePrevention.CANCEL_MAKER,
                nonce=alice.nonce(),
            )
        )
        events = _events(ws)
        # In the order things happened: the resting bid is cancelled, then the ask rests.
        assert events[0] == {"type": "order", **order, "status": "cancelled", "remaining_qty": "0"}
        assert events[1]["side"] == "ask" and events[1]["status"] == "new"
        ask_id = events[1]["order_id"]
        alice.ok(CancelOrder(alice.address, ask_id, nonce=alice.nonce()))
        (cancelled,) = _events(ws)
        assert cancelled["order_id"] == ask_id and cancelled["status"] == "cancelled"


def test_the_account_stream_tells_stops_and_the_orders_they_become(
    any_client: TestClient,
) -> None:
    client = any_client
    alice, bob = _funded(client, 2)
    bob.ok(PlaceLimit(bob.address, MARKET, Side.ASK, 100 * USDC, 1, nonce=bob.nonce()))
    alice.ok(PlaceMarket(alice.address, MARKET, Side.BID, 1, nonce=alice.nonce()))  # last: 100
    with client.websocket_connect(_account_query(alice)) as ws:
        assert ws.receive_json()["type"] == "subscribed"
        stop = alice.ok(
            PlaceStop(alice.address, MARKET, Side.ASK, 95 * USDC, 94 * USDC, 2, nonce=alice.nonce())
        )
        assert stop["status"] == "pending" and stop["locked"] == "2"
        base = {"type": "stop", "order_id": stop["order_id"], "market": MARKET}
        (pending,) = _events(ws)
        assert pending == {
            **base,
            "status": "pending",
            "side": "ask",
            "trigger_price": "95",
            "time_ns": stop["time_ns"],  # when it was accepted, as its answer says
        }
        bob.ok(PlaceLimit(bob.address, MARKET, Side.BID, 95 * USDC, 1, nonce=bob.nonce()))
        bob.ok(PlaceLimit(bob.address, MARKET, Side.BID, 94 * USDC, 5, nonce=bob.nonce()))
        alice.ok(PlaceLimit(alice.address, MARKET, Side.ASK, 95 * USDC, 1, nonce=alice.nonce()))
        events = _events(ws)
        kinds = [(e["type"], e.get("status")) for e in events]
        assert kinds == [
            ("fill", None),  # alice's ask sells at 95: the stop's trigger
            ("order", "filled"),
            ("stop", "triggered"),
            ("fill", None),  # the stop's order sells 2 at 94
            ("order", "filled"),
        ]
        new_id = events[2]["new_order_id"]
        assert events[3]["order_id"] == new_id and events[4]["order_id"] == new_id
        rested = alice.ok(
            PlaceLimit(alice.address, MARKET, Side.ASK, 120 * USDC, 4, nonce=alice.nonce())
        )
        _events(ws)
        amended = alice.ok(
            AmendOrder(alice.address, rested["order_id"], qty=3, nonce=alice.nonce())
        )
        assert amended["open_qty"] == "3"
        (told,) = _events(ws)
        assert (told["order_id"], told["status"], told["remaining_qty"]) == (
            rested["order_id"],
            "new",
            "3",
        )


@pytest.mark.parametrize(
    ("query", "code", "error"),
    [
        ("/v1/ws/market?market=NOPE/USDC", 4404, "market_not_found"),
        ("/v1/ws/market?channels=depth,candles", 4400, "invalid_input"),
        ("/v1/ws/market?channels=depth,depth", 4400, "invalid_input"),
        ("/v1/ws/market?depth=0", 4400, "invalid_input"),
        ("/v1/ws/market?depth=" + "9" * 5000, 4400, "invalid_input"),
        ("/v1/ws/market?trades=x", 4400, "invalid_input"),
        ("/v1/ws/market?market=" + "M" * 65, 4400, "invalid_input"),
        ("/v1/ws/account", 4401, "unauthorized"),
    ],
)
def test_a_bad_subscription_is_closed_with_a_code_and_reason(
    client: TestClient, query: str, code: int, error: str
) -> None:
    with client.websocket_connect(query) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert closed.value.code == code
    assert closed.value.reason.startswith(f"{error}: ")


def test_a_bad_account_signature_is_refused(client: TestClient) -> None:
    alice, mallory = Trader(client), Trader(client)
    stale = time.time_ns() - 60 * 10**9
    forged = _account_query(mallory).replace(mallory.address, alice.address)
    cases = [
        (_account_query(alice, stale), 4400, "outside_receive_window"),
        (forged, 4401, "bad_signature"),
        (_account_query(alice, path="/v1/account/orders"), 4401, "bad_signature"),
    ]
    for query, code, error in cases:
        with client.websocket_connect(query) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert (closed.value.code, closed.value.reason.split(":")[0]) == (code, error)


def test_entries_another_process_wrote_reach_followers_as_a_snapshot(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "exchange"
    with TestClient(create_app(data_dir)) as client:
        (alice,) = _funded(client, 1)
        with client.websocket_connect("/v1/ws/market?channels=depth") as ws:
            follower = _follow(ws)
            with EmbeddedExchange.open(data_dir) as other:  # e.g. the CLI on the same directory
                carol = AccountId("carol")
                other.submit(Deposit(carol, TokenId("BASE"), 7))
                other.submit(PlaceLimit(carol, MarketId(MARKET), Side.ASK, 120 * USDC, 7))
            alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 80 * USDC, 1, nonce=alice.nonce()))
            message = ws.receive_json()
            assert message["type"] == "snapshot"
            follower.apply(message)
            assert _held(follower) == _book(client)
            assert {"price": "120", "qty": "7"} in _held(follower)["asks"]


def test_the_metrics_count_open_stream_clients(client: TestClient) -> None:
    def clients() -> str:
        lines = client.get("/metrics").text.splitlines()
        return next(
            line for line in lines if line.startswith('tachyon_stream_clients{endpoint="market"}')
        )

    with client.websocket_connect("/v1/ws/market") as ws:
        ws.receive_json()
        assert clients().endswith(" 1.0")
    deadline = time.monotonic() + 5
    while not clients().endswith(" 0.0") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert clients().endswith(" 0.0")


class _StuckSocket:
    """A client that never reads: the first send never completes."""

    client = ("127.0.0.1", 50000)

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self._never = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        await self._never.wait()

    async def receive(self) -> dict[str, str]:
        await self._never.wait()
        return {"type": "websocket.disconnect"}

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_a_slow_consumer_is_cut_off_with_a_reason_instead_of_buffered() -> None:
    """The client's send is stuck (it reads nothing); past the queue's bound the node drops
    what waits and closes it with 4008, although the stuck send never finishes."""

    async def scenario() -> tuple[_StuckSocket, Subscriber, list[int]]:
        cuts: list[int] = []
        hub = StreamHub(on_cut=lambda: cuts.append(1))
        subscriber = Subscriber(queue_max=8)
        hub.add([("depth", MARKET)], subscriber)
        socket = _StuckSocket()
        serving = asyncio.create_task(serve_subscriber(socket, subscriber))  # type: ignore[arg-type]
        hub.dispatch([(("depth", MARKET), 1, "first")])
        await asyncio.sleep(0.01)  # the pump is stuck sending "first"
        hub.dispatch([(("depth", MARKET), n, f"m{n}") for n in range(2, 20)])
        await asyncio.wait_for(serving, timeout=5)
        return socket, subscriber, cuts

    socket, subscriber, cuts = asyncio.run(scenario())
    assert subscriber.cut
    assert cuts == [1]
    assert socket.sent == ["first"]
    assert socket.closed is not None
    assert socket.closed[0] == CLOSE_SLOW_CONSUMER  # the one code node and client share
    assert "slow consumer" in socket.closed[1]


def test_a_consumer_too_many_bytes_behind_is_cut_off_though_few_messages_wait() -> None:
    """The greeting (a snapshot bigger than the bound) goes out first all the same; then
    messages of 101 bytes wait behind the stuck send: nine fit in 1,000 bytes, the tenth cuts
    the client off, far below its bound of messages."""

    async def scenario() -> tuple[_StuckSocket, Subscriber, list[int], bool]:
        cuts: list[int] = []
        hub = StreamHub(on_cut=lambda: cuts.append(1))
        subscriber = Subscriber(queue_max=1_000, bytes_max=1_000)
        hub.add([("depth", MARKET)], subscriber)
        subscriber.greet(["S" * 5_000])
        socket = _StuckSocket()
        serving = asyncio.create_task(serve_subscriber(socket, subscriber))  # type: ignore[arg-type]
        for _ in range(100):  # until the pump is stuck sending the greeting
            if socket.sent:
                break
            await asyncio.sleep(0)
        hub.dispatch([(("depth", MARKET), n, f"{n}" + "m" * 100) for n in range(1, 10)])
        nine_fit = not subscriber.cut and subscriber.queued_bytes == 909
        hub.dispatch([(("depth", MARKET), 10, "10" + "m" * 99)])
        await asyncio.wait_for(serving, timeout=5)
        return socket, subscriber, cuts, nine_fit

    socket, subscriber, cuts, nine_fit = asyncio.run(scenario())
    assert nine_fit
    assert subscriber.cut
    assert cuts == [1]
    assert socket.sent == ["S" * 5_000]
    assert socket.closed is not None
    assert socket.closed[0] == CLOSE_SLOW_CONSUMER
    assert "1000 bytes" in socket.closed[1]


def test_a_lone_message_fits_whatever_its_size() -> None:
    subscriber = Subscriber(queue_max=4, bytes_max=10)
    subscriber.offer("x" * 100)  # nothing else waits: it fits
    assert not subscriber.cut
    subscriber.offer("y")
    assert subscriber.cut  # 101 bytes would wait
