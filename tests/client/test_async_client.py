"""Goal: `AsyncClient` trades the same kind of session awaited, follows the market stream as
async iterators, and ccxt pro's `watch_order_book` and `watch_trades` answer the next update
in ccxt's structures. Method: a node subprocess on 127.0.0.1; every wait bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import AsyncClient, OrderOptions
from tests.client import ccxt_shapes
from tests.client.support import MARKET, WAIT_S, node, signer

pytestmark = pytest.mark.network

SELLS_MAX = 5


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


async def _session(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url, signer()) as bob:
        await alice.deposit("USDC", "500")
        await bob.deposit("BASE", "10")
        books = alice.book_updates(MARKET)
        first = await asyncio.wait_for(anext(books), WAIT_S)
        assert (first.bids, first.asks) == ((), ())
        options = OrderOptions(client_order_id="b-1", tif="gtc")
        bid = await alice.place_order(MARKET, "bid", "5", "2", options)
        after = await asyncio.wait_for(anext(books), WAIT_S)
        assert [(lv.price, lv.qty) for lv in after.bids] == [("2", "5")]
        assert after.update_id is not None and after.update_id > (first.update_id or 0)
        trades = bob.trade_updates(MARKET)
        pending = asyncio.ensure_future(anext(trades))
        sold_ids: list[int] = []
        while not pending.done():  # sell 1 until one lands after the stream subscribed
            assert len(sold_ids) < SELLS_MAX, "the trade stream told no trade"
            sold = await bob.place_order(MARKET, "ask", "1", None)
            sold_ids.append(sold.trades[0].trade_id)
            await asyncio.wait([pending], timeout=WAIT_S / SELLS_MAX)
        batch = pending.result()
        assert [(t.qty, t.price) for t in batch] == [("1", "2")] and batch[0].trade_id in sold_ids
        await trades.aclose()
        await books.aclose()
        (order,) = await alice.get_open_orders()
        assert (order.order_id, order.remaining_qty) == (bid.order_id, str(5 - len(sold_ids)))
        cancelled = await alice.cancel(bid.order_id)
        assert cancelled.status == "cancelled"
        balances = {row.token: row for row in await alice.get_balances()}
        assert balances["BASE"].available == str(len(sold_ids))
        assert balances["USDC"].available == str(500 - 2 * len(sold_ids))
        with pytest.raises(errors.OrderNotFound):
            await alice.cancel(bid.order_id)


def test_a_scripted_session_through_async_client(url: str) -> None:
    asyncio.run(_session(url))


async def _watching(url: str) -> None:
    async with AsyncClient(url, signer()) as alice, AsyncClient(url, signer()) as bob:
        await alice.deposit("USDC", "500")
        await bob.deposit("BASE", "10")
        book = await asyncio.wait_for(alice.watch_order_book(MARKET), WAIT_S)
        ccxt_shapes.check_book(book)
        subscribed_at = book["nonce"]
        await alice.create_order(MARKET, "limit", "buy", 4, 3.5)
        book = await asyncio.wait_for(alice.watch_order_book(MARKET), WAIT_S)
        ccxt_shapes.check_book(book)
        assert book["bids"] == [[3.5, 4.0]] and book["nonce"] > subscribed_at
        await bob.create_order(MARKET, "market", "sell", 1)
        trades = await asyncio.wait_for(alice.watch_trades(MARKET), WAIT_S)
        for trade in trades:
            ccxt_shapes.check_trade(trade)
        assert [(t["side"], t["price"], t["amount"]) for t in trades] == [("sell", 3.5, 1.0)]
        book = await asyncio.wait_for(alice.watch_order_book(MARKET, 1), WAIT_S)
        assert book["bids"] == [[3.5, 3.0]]
        (mine,) = await alice.fetch_my_trades(MARKET)
        ccxt_shapes.check_trade(mine)
        ccxt_shapes.check_balance(await alice.fetch_balance(), ["BASE", "USDC"])
        (resting,) = await alice.fetch_open_orders()
        ccxt_shapes.check_order(resting)
        waiting = asyncio.ensure_future(alice.watch_trades(MARKET))
        await asyncio.sleep(0.05)
        await alice.close()  # a call still waiting is told, not left hanging
        with pytest.raises(errors.StorageError, match="closed"):
            await asyncio.wait_for(waiting, WAIT_S)


def test_watch_methods_answer_each_update_in_ccxt_structures(url: str) -> None:
    asyncio.run(_watching(url))
