"""Goal: a market stream's snapshot never costs the sequencer: subscriptions are answered while
its thread is busy, nothing reads the exchange's book to answer them, and the snapshot stays
consistent with the diffs after it; the default depth is bounded and `depth=all` sends every
level. Method: the app in-process (TestClient) over a real data directory; the sequencer's
thread held by a read that waits for an event; the exchange's book reads spied on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tachyon.client.stream import BookFollower
from tachyon.dex import AccountId, MarketId, Side, TokenId
from tachyon.dex.model import DEFAULT_MARKET, BookDepth, Trade
from tachyon.exchange.commands import Deposit, PlaceLimit, PlaceMarket
from tachyon.exchange.service import DEFAULT_MARKET_ID, DexService
from tachyon.node import create_app
from tachyon.node.streams import DEPTH_DEFAULT
from tachyon.storage import EmbeddedExchange
from tests.node.support import MARKET, USDC, Trader

LEVELS = DEPTH_DEFAULT + 20  # a side of the deep book: more than a default snapshot holds
MID = 200  # USDC: the deep book's bids are below it, one a price, and its asks above
HOLD_TIMEOUT_S = 60.0  # hang protection only: nothing waits for it to pass


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    """A data directory whose book holds LEVELS bid and LEVELS ask levels."""
    data_dir = tmp_path / "exchange"
    maker = AccountId("maker")
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(maker, TokenId("BASE"), 10**6))
        host.submit(Deposit(maker, TokenId("USDC"), 10**6 * USDC))
        bids = [(Side.BID, (MID - n) * USDC) for n in range(1, LEVELS + 1)]
        asks = [(Side.ASK, (MID + n) * USDC) for n in range(1, LEVELS + 1)]
        host.submit_batch(
            [PlaceLimit(maker, MarketId(MARKET), side, price, 2) for side, price in bids + asks]
        )
    return data_dir


@pytest.fixture
def client(deep: Path) -> Iterator[TestClient]:
    with TestClient(create_app(deep, rate_limit=None)) as client:
        yield client


def _book(client: TestClient, depth: int = 1_000) -> dict[str, Any]:
    response = client.get("/v1/orderbook", params={"market": MARKET, "depth": depth})
    assert response.status_code == 200, response.text
    book: dict[str, Any] = response.json()
    return book


def _rows(follower: BookFollower, floor: dict[str, int] | None = None) -> dict[str, Any]:
    """The follower's book in the shape of `GET /v1/orderbook` (only prices at or better
    than `floor`'s per side, if given)."""
    bids, asks = follower.levels(10**6)

    def rows(side: list[Any], keep: Any) -> list[dict[str, str]]:
        return [
            {"price": str(level.price // USDC), "qty": str(level.qty)}
            for level in side
            if keep(level.price)
        ]

    low = 0 if floor is None else floor["bids"]
    high = 10**30 if floor is None else floor["asks"]
    return {
        "market": MARKET,
        "bids": rows(bids, lambda price: price >= low),
        "asks": rows(asks, lambda price: price <= high),
    }


def _funded(client: TestClient) -> Trader:
    trader = Trader(client)
    trader.ok(Deposit(trader.address, "USDC", 10**7 * USDC, trader.nonce()))
    trader.ok(Deposit(trader.address, "BASE", 10**6, trader.nonce()))
    return trader


def test_a_subscription_is_answered_while_the_sequencer_is_busy(deep: Path) -> None:
    """The sequencer's thread is held by a read that waits for an event: the market stream's
    snapshots and the account stream's welcome arrive all the same, the snapshot is the book,
    and once the sequencer goes on the diffs follow it without a gap."""
    app = create_app(deep, rate_limit=None)
    with TestClient(app) as client:
        alice = _funded(client)
        book = _book(client)
        held, release = threading.Event(), threading.Event()

        def hold(_host: object) -> bool:
            held.set()
            return release.wait(HOLD_TIMEOUT_S)

        portal = client.portal
        assert portal is not None
        reading = portal.start_task_soon(app.state.sequencer.read, hold)
        try:
            assert held.wait(HOLD_TIMEOUT_S)
            with client.websocket_connect("/v1/ws/market?depth=all") as ws:
                depth, trades = ws.receive_json(), ws.receive_json()
                answered_while_held = not release.is_set()
                release.set()
                assert reading.result(HOLD_TIMEOUT_S) is True
                follower = BookFollower(DEFAULT_MARKET)
                follower.apply(depth)
                assert _rows(follower) == book
                bid = PlaceLimit(
                    alice.address, MARKET, Side.BID, 150 * USDC, 3, nonce=alice.nonce()
                )
                alice.ok(bid)
                assert follower.apply(ws.receive_json())  # raises StreamGap on a gap
                assert _rows(follower) == _book(client)
        finally:
            release.set()
    assert answered_while_held
    assert (depth["type"], trades["type"]) == ("snapshot", "snapshot")


def test_joining_subscribers_never_make_the_exchange_read_its_book(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read of the exchange's book or recent trades is noted with its thread: twenty
    subscriptions (the whole book, and the default depth) read none, on any thread."""
    alice = _funded(client)
    reads: list[str] = []
    snapshot, recent = DexService.snapshot, DexService.recent_trades

    def spied_snapshot(
        self: DexService, depth: int, market: MarketId = DEFAULT_MARKET_ID
    ) -> BookDepth:
        reads.append(threading.current_thread().name)
        return snapshot(self, depth, market)

    def spied_recent(
        self: DexService, limit: int, market: MarketId = DEFAULT_MARKET_ID
    ) -> list[Trade]:
        reads.append(threading.current_thread().name)
        return recent(self, limit, market)

    monkeypatch.setattr(DexService, "snapshot", spied_snapshot)
    monkeypatch.setattr(DexService, "recent_trades", spied_recent)
    for n in range(20):
        query = "/v1/ws/market?depth=all" if n % 2 else "/v1/ws/market"
        with client.websocket_connect(query) as ws:
            assert ws.receive_json()["type"] == "snapshot"
            assert ws.receive_json()["type"] == "snapshot"
        alice.ok(PlaceMarket(alice.address, MARKET, Side.BID, 1, nonce=alice.nonce()))
    assert reads == []


def test_the_default_depth_is_bounded_and_all_sends_every_level(client: TestClient) -> None:
    def snapshot(query: str) -> dict[str, Any]:
        with client.websocket_connect(f"/v1/ws/market?channels=depth{query}") as ws:
            message: dict[str, Any] = ws.receive_json()
        assert message["type"] == "snapshot"
        return message

    default, every, seven = snapshot(""), snapshot("&depth=all"), snapshot("&depth=7")
    assert (len(default["bids"]), len(default["asks"])) == (DEPTH_DEFAULT, DEPTH_DEFAULT)
    assert {k: default[k] for k in ("market", "bids", "asks")} == _book(client, DEPTH_DEFAULT)
    assert (len(every["bids"]), len(every["asks"])) == (LEVELS, LEVELS)
    assert {k: every[k] for k in ("market", "bids", "asks")} == _book(client)
    assert {k: seven[k] for k in ("market", "bids", "asks")} == _book(client, 7)
    assert default["last_update_id"] == every["last_update_id"] == seven["last_update_id"]
    with (
        client.websocket_connect("/v1/ws/market?depth=every") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 4400
    assert "or all" in closed.value.reason


def test_a_bounded_snapshot_and_the_diffs_hold_the_book_down_to_its_last_price(
    client: TestClient,
) -> None:
    """After a snapshot of the best 5 levels, the diffs keep every level at or better than the
    snapshot's 5th price exact, while trades take the best levels away and orders add some."""
    alice = _funded(client)
    with client.websocket_connect("/v1/ws/market?channels=depth&depth=5") as ws:
        follower = BookFollower(DEFAULT_MARKET)
        first = ws.receive_json()
        follower.apply(first)
        floor = {
            "bids": int(first["bids"][-1]["price"]) * USDC,
            "asks": int(first["asks"][-1]["price"]) * USDC,
        }
        commands: list[PlaceLimit | PlaceMarket] = [
            PlaceMarket(alice.address, MARKET, Side.ASK, 5, nonce=alice.nonce()),  # 2.5 levels
            PlaceLimit(alice.address, MARKET, Side.BID, (MID - 3) * USDC, 4, nonce=alice.nonce()),
            PlaceMarket(alice.address, MARKET, Side.BID, 3, nonce=alice.nonce()),
            PlaceLimit(alice.address, MARKET, Side.ASK, (MID + 1) * USDC, 1, nonce=alice.nonce()),
        ]
        for command in commands:
            alice.ok(command)
            assert follower.apply(ws.receive_json())
    node = _book(client)
    expected = {
        "market": MARKET,
        "bids": [row for row in node["bids"] if int(row["price"]) * USDC >= floor["bids"]],
        "asks": [row for row in node["asks"] if int(row["price"]) * USDC <= floor["asks"]],
    }
    assert _rows(follower, floor) == expected
    assert len(expected["bids"]) < 5  # the trades took levels the snapshot held
