"""Goal: the ccxt methods beyond placing and cancelling (stops by `create_order`'s
`triggerPrice`, `edit_order` as an amend, `fetch_order`, `fetch_closed_orders`,
`fetch_ticker`) do on a real node what they say and answer ccxt's structures (keys and types),
and `has` names exactly the unified methods the clients have. Method: a node subprocess on
127.0.0.1; two or three signers trade; the node's own reads checked after each step."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import AsyncClient, Client
from tests.client import ccxt_shapes
from tests.client.support import MARKET, node, signer

CAPABILITIES = {"spot", "margin", "swap", "future", "option", "ws"}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("o_h_l_c_v", "ohlcv")


@pytest.mark.parametrize("kind", [Client, AsyncClient])
def test_has_names_exactly_the_unified_methods_there(
    kind: type[Client] | type[AsyncClient],
) -> None:
    has: dict[str, bool] = kind.has
    for name, there in has.items():
        if name not in CAPABILITIES:
            assert callable(getattr(kind, _snake(name), None)) is there, name
    for name in ("fetchOrder", "fetchClosedOrders", "editOrder", "fetchTicker", "createOrder"):
        assert has[name] is True
    assert has.get("watchOrderBook", False) is (kind is AsyncClient)


@pytest.mark.network
def test_stops_through_create_order_are_ccxt_trigger_orders(url: str) -> None:
    with Client(url, signer()) as alice:
        alice.deposit("BASE", "10")
        stop = alice.create_order(
            MARKET, "limit", "sell", 4, 1.1, {"triggerPrice": 1.2, "clientOrderId": "s-1"}
        )
        ccxt_shapes.check_order(stop)
        assert (stop["status"], stop["type"], stop["side"], stop["clientOrderId"]) == (
            "open",
            "limit",
            "sell",
            "s-1",
        )
        assert (stop["triggerPrice"], stop["stopPrice"], stop["price"], stop["amount"]) == (
            1.2,
            1.2,
            1.1,
            4.0,
        )
        assert (stop["filled"], stop["remaining"], stop["info"]["trigger_price"]) == (
            0.0,
            4.0,
            "1.2",
        )
        assert [s.order_id for s in alice.get_stops()] == [int(stop["id"])]
        assert alice.fetch_order(stop["id"])["triggerPrice"] == 1.2
        market = alice.create_stop_order(MARKET, "market", "sell", 2, None, 0.9)
        assert (market["type"], market["price"], market["triggerPrice"]) == ("market", None, 0.9)
        gone = alice.cancel_order(stop["id"], MARKET)
        ccxt_shapes.check_order(gone)
        assert (gone["status"], gone["triggerPrice"]) == ("canceled", 1.2)
        assert [s.order_id for s in alice.get_stops()] == [int(market["id"])]
        for params in ({"triggerPrice": 1, "postOnly": True}, {"triggerPrice": 1, "stopPrice": 2}):
            with pytest.raises(errors.InvalidInput):
                alice.create_order(MARKET, "limit", "sell", 1, 1.1, params)


@pytest.mark.network
def test_edit_order_amends_and_fetch_order_finds_it_open_then_closed(url: str) -> None:
    with Client(url, signer()) as alice, Client(url, signer()) as bob:
        alice.deposit("USDC", "100")
        bob.deposit("BASE", "20")
        resting = alice.create_order(MARKET, "limit", "buy", 8, 1.25, {"clientOrderId": "e-1"})
        bob.create_order(MARKET, "market", "sell", 3)
        edited = alice.edit_order(resting["id"], MARKET, "limit", "buy", 6, 1.2)
        ccxt_shapes.check_order(edited)
        assert (edited["id"], edited["status"], edited["amount"], edited["price"]) == (
            resting["id"],
            "open",
            6.0,
            1.2,
        )
        assert (edited["filled"], edited["remaining"]) == (3.0, 3.0)
        moved = alice.edit_order("", MARKET, "limit", "buy", None, 1.1, {"clientOrderId": "e-1"})
        assert (moved["id"], moved["clientOrderId"], moved["price"]) == (resting["id"], "e-1", 1.1)
        found = alice.fetch_order(resting["id"], MARKET)
        ccxt_shapes.check_order(found)
        assert (found["status"], found["price"], found["amount"], found["remaining"]) == (
            "open",
            1.1,
            6.0,
            3.0,
        )
        with pytest.raises(errors.InvalidInput):
            alice.edit_order(resting["id"], MARKET, "market", "buy", 5)
        alice.cancel_order(resting["id"])
        closed = alice.fetch_order(resting["id"])
        ccxt_shapes.check_order(closed)
        assert (closed["status"], closed["filled"], closed["remaining"]) == ("canceled", 3.0, 3.0)
        assert (closed["cost"], closed["average"], len(closed["trades"])) == (3.75, 1.25, 1)
        assert closed["lastUpdateTimestamp"] >= closed["timestamp"]
        with pytest.raises(errors.OrderNotFound):
            alice.fetch_order("999")


@pytest.mark.network
def test_fetch_closed_orders_answers_filled_and_cancelled_orders(url: str) -> None:
    with Client(url, signer()) as alice, Client(url, signer()) as bob:
        alice.deposit("USDC", "100")
        bob.deposit("BASE", "20")
        assert alice.fetch_closed_orders(MARKET) == []
        alice.create_order(MARKET, "limit", "buy", 2, 1.5)
        kept = alice.create_order(MARKET, "limit", "buy", 5, 1)
        bob.create_order(MARKET, "market", "sell", 3)  # takes 2 at 1.5, 1 at 1
        alice.cancel_order(kept["id"])
        (sold,) = bob.fetch_closed_orders()
        ccxt_shapes.check_order(sold)
        assert (sold["status"], sold["side"], sold["type"], sold["filled"]) == (
            "closed",
            "sell",
            "market",
            3.0,
        )
        assert (sold["cost"], sold["price"], len(sold["trades"])) == (4.0, None, 2)
        assert sold["fee"] is not None and sold["fee"]["currency"] == "USDC"
        filled, cancelled = alice.fetch_closed_orders(MARKET)
        for order in (filled, cancelled):
            ccxt_shapes.check_order(order)
        assert (filled["status"], filled["filled"], filled["remaining"]) == ("closed", 2.0, 0.0)
        assert (cancelled["id"], cancelled["status"], cancelled["filled"]) == (
            kept["id"],
            "canceled",
            1.0,
        )
        assert [o["id"] for o in alice.fetch_closed_orders(MARKET, limit=1)] == [kept["id"]]


@pytest.mark.network
def test_fetch_ticker_tells_the_top_of_the_book_and_the_day(url: str) -> None:
    with Client(url, signer()) as alice, Client(url, signer()) as bob:
        quiet = alice.fetch_ticker(MARKET)
        ccxt_shapes.check_ticker(quiet)
        assert (quiet["bid"], quiet["last"], quiet["high"], quiet["baseVolume"]) == (
            None,
            None,
            None,
            0.0,
        )
        alice.deposit("USDC", "100")
        bob.deposit("BASE", "20")
        alice.create_order(MARKET, "limit", "buy", 2, 2)
        alice.create_order(MARKET, "limit", "buy", 5, 1.5)
        bob.create_order(MARKET, "market", "sell", 3)  # 2 at 2, then 1 at 1.5
        bob.create_order(MARKET, "limit", "sell", 4, 3)
        ticker = alice.fetch_ticker(MARKET)
        ccxt_shapes.check_ticker(ticker)
        assert (ticker["bid"], ticker["bidVolume"], ticker["ask"], ticker["askVolume"]) == (
            1.5,
            4.0,
            3.0,
            4.0,
        )
        assert (ticker["last"], ticker["open"], ticker["high"], ticker["low"]) == (
            1.5,
            2.0,
            2.0,
            1.5,
        )
        assert (ticker["baseVolume"], ticker["quoteVolume"], ticker["change"]) == (3.0, 5.5, -0.5)
        assert ticker["percentage"] == -25.0 and ticker["vwap"] == pytest.approx(5.5 / 3)


async def _async_ccxt(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url, signer()) as bob:
        await alice.deposit("USDC", "100")
        await bob.deposit("BASE", "20")
        resting = await alice.create_order(MARKET, "limit", "buy", 4, 2)
        await bob.create_order(MARKET, "market", "sell", 1)
        edited = await alice.edit_order(resting["id"], MARKET, "limit", "buy", 2, 2)
        assert (edited["filled"], edited["remaining"]) == (1.0, 1.0)
        stop = await bob.create_order(MARKET, "market", "sell", 2, None, {"stopPrice": 1.5})
        ccxt_shapes.check_order(stop)
        assert (await bob.fetch_order(stop["id"]))["triggerPrice"] == 1.5
        assert (await bob.cancel_order(stop["id"]))["status"] == "canceled"
        (sold,) = await bob.fetch_closed_orders(MARKET)
        assert (sold["status"], sold["cost"]) == ("closed", 2.0)
        ticker = await alice.fetch_ticker(MARKET)
        ccxt_shapes.check_ticker(ticker)
        assert (ticker["bid"], ticker["last"], ticker["baseVolume"]) == (2.0, 2.0, 1.0)


@pytest.mark.network
def test_the_same_methods_through_async_client(url: str) -> None:
    asyncio.run(_async_ccxt(url))
