"""Goal: ccxt pro's `watch_orders` and `watch_my_trades` on `AsyncClient` answer what the
signer's account stream told since the previous call, in ccxt's structures, per symbol, and
refuse what they cannot answer. Method: a node subprocess on 127.0.0.1; a resting bid taken
by another account's market sell; every wait bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import AsyncClient
from tests.client import ccxt_shapes
from tests.client.support import MARKET, WAIT_S, node, signer

pytestmark = pytest.mark.network


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


async def _subscribed(client: AsyncClient) -> asyncio.Task[list[dict[str, object]]]:
    """A first `watch_orders` call under way, once its subscription is open (every command
    sent after this is told)."""
    first = asyncio.ensure_future(client.watch_orders(MARKET))
    for _ in range(int(WAIT_S / 0.01)):
        if client._account_watch is not None:  # set once subscribed
            return first
        await asyncio.sleep(0.01)
    raise AssertionError("the account stream did not subscribe")


async def _watching(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url, signer()) as bob:
        await alice.deposit("USDC", "500")
        await bob.deposit("BASE", "10")
        first = await _subscribed(alice)
        placed = await alice.create_order(MARKET, "limit", "buy", 4, 3.5)
        (rested,) = await asyncio.wait_for(first, WAIT_S)
        check_event_order(rested)
        assert (rested["id"], rested["status"], rested["remaining"]) == (placed["id"], "open", 4.0)
        assert (rested["side"], rested["price"], rested["type"]) == ("buy", 3.5, "limit")

        await bob.create_order(MARKET, "market", "sell", 1)
        (fill,) = await asyncio.wait_for(alice.watch_my_trades(MARKET), WAIT_S)
        ccxt_shapes.check_trade(fill)
        assert (fill["order"], fill["side"], fill["takerOrMaker"]) == (placed["id"], "buy", "maker")
        assert (fill["price"], fill["amount"]) == (3.5, 1.0)
        assert fill == (await alice.fetch_my_trades(MARKET))[-1]  # as the REST read tells it
        orders = await asyncio.wait_for(alice.watch_orders(), WAIT_S)  # every market
        assert [(o["id"], o["status"], o["remaining"]) for o in orders] == [
            (placed["id"], "open", 3.0)
        ]

        await alice.cancel_order(placed["id"], MARKET)
        (cancelled,) = await asyncio.wait_for(alice.watch_orders(MARKET), WAIT_S)
        assert (cancelled["id"], cancelled["status"]) == (placed["id"], "canceled")
        assert alice.has["watchOrders"] and alice.has["watchMyTrades"]
        waiting = asyncio.ensure_future(alice.watch_my_trades(MARKET))
        await asyncio.sleep(0.05)
        await alice.close()  # a call still waiting is told, not left hanging
        with pytest.raises(errors.StorageError, match="closed"):
            await asyncio.wait_for(waiting, WAIT_S)


def check_event_order(order: dict[str, object]) -> None:
    """ccxt's order keys and types, with what the stream does not tell (amount, filled,
    time) None, its trades none."""
    assert order["trades"] == [] and order["amount"] is None and order["filled"] is None
    ccxt_shapes.check(order, {**ccxt_shapes.ORDER, "filled": ccxt_shapes.NUM})  # ccxt: Num


def test_watch_orders_and_my_trades_answer_each_account_update(url: str) -> None:
    asyncio.run(_watching(url))


async def _refusals(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url) as anonymous:
        with pytest.raises(errors.MarketNotFound):
            await alice.watch_orders("NOPE/USDC")
        with pytest.raises(errors.InvalidInput, match="since"):
            await alice.watch_orders(MARKET, since=1)
        with pytest.raises(errors.Unauthorized):
            await anonymous.watch_my_trades(MARKET)


def test_watches_refuse_an_unknown_market_a_since_on_orders_and_no_signer(url: str) -> None:
    asyncio.run(_refusals(url))
