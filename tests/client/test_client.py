"""Goal: `Client` trades a scripted session on a real node with plain data (exact decimal
strings), and its ccxt methods answer ccxt's documented structures (keys and types) with the
exact strings in `info`. Method: a node subprocess on 127.0.0.1; two signers trade."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import Client, OrderOptions
from tachyon.client.data import Placement
from tests.client import ccxt_shapes
from tests.client.support import MARKET, node, signer

pytestmark = pytest.mark.network


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


def test_a_scripted_session_through_client(url: str) -> None:
    with Client(url, signer()) as alice, Client(url, signer()) as bob:
        assert alice.deposit("USDC", "1000.25").available == "1000.25"
        bob.deposit("BASE", "30")
        bid = alice.place_order(MARKET, "bid", "10", "1.5", OrderOptions(client_order_id="a-1"))
        assert (bid.status, bid.open_qty, bid.trades) == ("new", "10", ())
        retry = alice.place_order(MARKET, "bid", "10", "1.5", OrderOptions(client_order_id="a-1"))
        assert retry.order_id == bid.order_id  # a retry under the same id: the first's result
        sold = bob.place_order(MARKET, "ask", "4", None)
        assert (sold.status, sold.filled_qty) == ("filled", "4")
        assert [(t.price, t.qty, t.taker_side) for t in sold.trades] == [("1.5", "4", "ask")]
        (order,) = alice.get_open_orders()
        assert (order.order_id, order.remaining_qty, order.status) == (
            bid.order_id,
            "6",
            "partially_filled",
        )
        book = alice.get_book(MARKET)
        assert ([(lv.price, lv.qty) for lv in book.bids], book.asks) == ([("1.5", "6")], ())
        balances = {row.token: row for row in alice.get_balances()}
        assert (balances["USDC"].available, balances["USDC"].locked) == ("985.25", "9")
        assert balances["BASE"].available == "4"
        cancelled = alice.cancel_client_order("a-1")
        assert isinstance(cancelled, Placement)  # an order's cancel (a stop's answers a Stop)
        assert (cancelled.status, cancelled.filled_qty) == ("cancelled", "4")
        assert alice.get_open_orders() == []
        (fill,) = alice.get_history(MARKET).fills
        assert (fill.role, fill.side, fill.qty, fill.price) == ("maker", "bid", "4", "1.5")
        with pytest.raises(errors.InsufficientFunds):
            bob.place_order(MARKET, "ask", "27", "2")
        with pytest.raises(errors.InvalidAmount):
            alice.place_order(MARKET, "bid", "1.5", "1")  # BASE has no decimals
    with Client(url) as anonymous, pytest.raises(errors.Unauthorized):
        anonymous.get_balances()


def test_the_ccxt_methods_answer_ccxt_structures(url: str) -> None:
    with Client(url, signer()) as alice, Client(url, signer()) as bob:
        markets = alice.load_markets()
        assert alice.symbols == [MARKET]
        ccxt_shapes.check_market(markets[MARKET])
        assert markets[MARKET]["precision"] == {"amount": 1.0, "price": 0.000001}
        alice.deposit("USDC", "100")
        bob.deposit("BASE", "20")
        resting = alice.create_order(
            MARKET, "limit", "buy", 8, 1.25, {"clientOrderId": "c-1", "postOnly": True}
        )
        ccxt_shapes.check_order(resting)
        assert (resting["status"], resting["clientOrderId"], resting["timeInForce"]) == (
            "open",
            "c-1",
            "PO",
        )
        assert (resting["side"], resting["price"], resting["amount"]) == ("buy", 1.25, 8.0)
        taken = bob.create_order(MARKET, "market", "sell", 3)
        ccxt_shapes.check_order(taken)
        assert (taken["status"], taken["filled"], taken["cost"], taken["average"]) == (
            "closed",
            3.0,
            3.75,
            1.25,
        )
        assert taken["trades"][0]["info"]["price"] == "1.25"  # the exact string kept
        book = alice.fetch_order_book(MARKET)
        ccxt_shapes.check_book(book)
        assert (book["bids"], book["asks"]) == ([[1.25, 5.0]], [])
        trades = alice.fetch_trades(MARKET)
        for trade in trades:
            ccxt_shapes.check_trade(trade)
        assert [(t["side"], t["amount"]) for t in trades] == [("sell", 3.0)]
        (mine,) = alice.fetch_my_trades(MARKET)
        ccxt_shapes.check_trade(mine)
        assert (mine["takerOrMaker"], mine["side"], mine["order"]) == ("maker", "buy", "1")
        (open_order,) = alice.fetch_open_orders(MARKET)
        ccxt_shapes.check_order(open_order)
        assert (open_order["remaining"], open_order["filled"]) == (5.0, 3.0)
        balance = alice.fetch_balance()
        ccxt_shapes.check_balance(balance, ["BASE", "USDC"])
        assert balance["USDC"] == {"free": 90.0, "used": 6.25, "total": 96.25}
        gone = alice.cancel_order(resting["id"], MARKET)
        ccxt_shapes.check_order(gone)
        assert gone["status"] == "canceled"
        with pytest.raises(errors.InvalidInput):
            alice.create_order(MARKET, "limit", "buy", 1, None)
