"""Goal: `Client`'s stops, amends and withdrawals do on a real node what the node documents:
a stop locks funds while pending, is listed, triggers on a trade at its price and can be
cancelled (answered as the stop); an amend changes an open order in place; a withdrawal to a
destination locks its amount and is listed. Method: a node subprocess on 127.0.0.1; balances
and open orders read back after each step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tachyon import errors
from tachyon.client import Client, OrderOptions
from tachyon.client.data import Stop
from tests.client.support import MARKET, node, signer

pytestmark = pytest.mark.network


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with node(tmp_path / "node") as serving:
        yield serving


def _balances(client: Client) -> dict[str, tuple[str, str]]:
    return {row.token: (row.available, row.locked) for row in client.get_balances()}


def test_a_stop_locks_is_listed_and_is_cancelled_as_a_stop(url: str) -> None:
    with Client(url, signer()) as alice:
        alice.deposit("BASE", "10")
        stop = alice.place_stop(
            MARKET, "ask", "1.2", "4", "1.1", OrderOptions(client_order_id="s-1")
        )
        assert (stop.side, stop.trigger_price, stop.price, stop.qty) == ("ask", "1.2", "1.1", "4")
        assert (stop.status, stop.locked, stop.max_quote) == ("pending", "4", None)
        assert _balances(alice)["BASE"] == ("6", "4")
        assert alice.get_stops() == [stop]
        assert alice.get_open_orders() == []  # a stop is not an order until it triggers
        cancelled = alice.cancel_client_order("s-1")
        assert isinstance(cancelled, Stop)
        assert (cancelled.order_id, cancelled.status) == (stop.order_id, "cancelled")
        assert alice.get_stops() == []
        assert _balances(alice)["BASE"] == ("10", "0")
        market_stop = alice.place_stop(MARKET, "ask", "1", "2")
        assert (market_stop.price, market_stop.locked) == (None, "2")
        by_id = alice.cancel(market_stop.order_id)
        assert isinstance(by_id, Stop) and by_id.status == "cancelled"
        with pytest.raises(errors.InvalidAmount):
            alice.place_stop(MARKET, "ask", "1.2", "1.5")  # BASE has no decimals


def test_a_stop_triggers_on_a_trade_at_its_price(url: str) -> None:
    with (
        Client(url, signer()) as alice,
        Client(url, signer()) as bob,
        Client(url, signer()) as carol,
    ):
        alice.deposit("BASE", "10")
        bob.deposit("USDC", "100")
        carol.deposit("BASE", "5")
        stop = alice.place_stop(MARKET, "ask", "2", "3", None)  # stop-loss: sell 3 at market
        bob.place_order(MARKET, "bid", "5", "2")
        assert alice.get_stops() == [stop]  # no trade yet
        sold = carol.place_order(MARKET, "ask", "1", None)  # the trade at 2 triggers it
        assert [(t.price, t.qty) for t in sold.trades] == [("2", "1")]
        assert alice.get_stops() == []
        (fill,) = alice.get_history(MARKET).fills
        assert (fill.side, fill.qty, fill.price, fill.role) == ("ask", "3", "2", "taker")
        assert _balances(alice)["BASE"] == ("7", "0")
        (rest,) = bob.get_open_orders()
        assert rest.remaining_qty == "1"


def test_an_amend_changes_an_open_order_in_place(url: str) -> None:
    with Client(url, signer()) as alice:
        alice.deposit("USDC", "100")
        bid = alice.place_order(MARKET, "bid", "10", "1.5", OrderOptions(client_order_id="a-1"))
        smaller = alice.amend(bid.order_id, qty="6")
        assert (smaller.order_id, smaller.status, smaller.open_qty) == (bid.order_id, "new", "6")
        assert _balances(alice)["USDC"] == ("91", "9")
        moved = alice.amend(client_order_id="a-1", price="1.25", market=MARKET)
        assert (moved.order_id, moved.open_qty) == (bid.order_id, "6")
        (order,) = alice.get_open_orders()
        assert (order.order_id, order.price, order.qty) == (bid.order_id, "1.25", "6")
        assert _balances(alice)["USDC"] == ("92.5", "7.5")
        with pytest.raises(errors.InvalidInput):
            alice.amend(client_order_id="a-1", price="1.3")  # its market is needed for units
        with pytest.raises(errors.InvalidInput):
            alice.amend()
        with pytest.raises(errors.OrderNotFound):
            alice.amend(bid.order_id + 100, qty="1")


def test_a_withdrawal_to_a_destination_locks_and_is_listed(url: str) -> None:
    with Client(url, signer()) as alice:
        alice.deposit("USDC", "100")
        pending = alice.request_withdrawal("USDC", "12.5", "DE89 3704 0044 0532 0130 00")
        assert (pending.token, pending.amount, pending.state, pending.reference) == (
            "USDC",
            "12.5",
            "pending",
            None,
        )
        assert pending.destination == "DE89 3704 0044 0532 0130 00"
        assert _balances(alice)["USDC"] == ("87.5", "12.5")
        assert alice.get_withdrawals() == [pending]
        with pytest.raises(errors.InsufficientFunds):
            alice.request_withdrawal("USDC", "90", "somewhere")
        with pytest.raises(errors.InvalidAmount):
            alice.request_withdrawal("USDC", 1.5, "somewhere")  # type: ignore[arg-type]
