"""Goal: `AsyncClient`'s stops, amends and withdrawals do what `Client`'s do, and its account
stream tells the signer's order, fill and stop events, typed, in sequence order, from the
moment `account_events` returns, and nobody else's. Method: a node subprocess on 127.0.0.1;
two signers; every wait bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import AsyncClient
from tachyon.client.account_stream import AccountEvents
from tachyon.client.data import AccountEvent, FillEvent, OrderEvent, Stop, StopEvent
from tests.client.support import MARKET, WAIT_S, node, signer

pytestmark = pytest.mark.network


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


async def _next(events: AccountEvents, count: int) -> list[AccountEvent]:
    return [await asyncio.wait_for(anext(events), WAIT_S) for _ in range(count)]


async def _stops_amends_withdrawals(url: str) -> None:
    async with AsyncClient(url, signer()) as alice:
        await alice.deposit("USDC", "100")
        stop = await alice.place_stop(MARKET, "bid", "3", "2", "3.5")
        assert (stop.status, stop.locked, stop.trigger_price) == ("pending", "7", "3")
        assert await alice.get_stops() == [stop]
        cancelled = await alice.cancel(stop.order_id)
        assert isinstance(cancelled, Stop) and cancelled.status == "cancelled"
        bid = await alice.place_order(MARKET, "bid", "10", "1.5")
        amended = await alice.amend(bid.order_id, price="1.25", qty="8")
        assert (amended.order_id, amended.open_qty) == (bid.order_id, "8")
        (order,) = await alice.get_open_orders()
        assert (order.price, order.qty) == ("1.25", "8")
        pending = await alice.request_withdrawal("USDC", "50", "an address")
        assert (pending.amount, pending.state) == ("50", "pending")
        assert await alice.get_withdrawals() == [pending]
        balances = {row.token: (row.available, row.locked) for row in await alice.get_balances()}
        assert balances["USDC"] == ("40", "60")  # 10 locked by the bid, 50 by the withdrawal


def test_stops_amends_and_withdrawals_through_async_client(url: str) -> None:
    asyncio.run(_stops_amends_withdrawals(url))


async def _account_stream(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url, signer()) as bob:
        await alice.deposit("USDC", "100")
        await bob.deposit("BASE", "10")
        async with await alice.account_events() as events:
            bid = await alice.place_order(MARKET, "bid", "5", "2")
            stop = await alice.place_stop(MARKET, "bid", "3", "1", "3.5")
            await bob.place_order(MARKET, "ask", "1", "9")  # bob's: not told to alice
            await bob.place_order(MARKET, "ask", "2", None)
            await alice.amend(bid.order_id, qty="4")
            await alice.cancel(stop.order_id)
            told = await _next(events, 6)
        placed, pending, fill, taken, amended, cancelled = told
        assert placed == OrderEvent(
            update_id=placed.update_id,
            order_id=bid.order_id,
            market=MARKET,
            side="bid",
            price="2",
            status="new",
            remaining_qty="5",
        )
        assert isinstance(pending, StopEvent)
        assert (pending.order_id, pending.status, pending.side, pending.trigger_price) == (
            stop.order_id,
            "pending",
            "bid",
            "3",
        )
        assert isinstance(fill, FillEvent)
        assert (fill.order_id, fill.role, fill.qty, fill.price) == (bid.order_id, "maker", "2", "2")
        assert isinstance(taken, OrderEvent) and (taken.status, taken.remaining_qty) == (
            "partially_filled",
            "3",
        )
        assert isinstance(amended, OrderEvent) and amended.remaining_qty == "2"  # 4 less 2 filled
        assert isinstance(cancelled, StopEvent)
        assert (cancelled.status, cancelled.reason) == ("cancelled", "user")
        update_ids = [event.update_id for event in told]
        assert update_ids == sorted(update_ids) and events.last_update_id >= update_ids[-1]
        with pytest.raises(StopAsyncIteration):
            await anext(events)  # ended by leaving `async with`
    async with AsyncClient(url) as anonymous:
        with pytest.raises(errors.Unauthorized):
            await anonymous.account_events()


def test_the_account_stream_tells_the_signers_events_typed(url: str) -> None:
    asyncio.run(_account_stream(url))
