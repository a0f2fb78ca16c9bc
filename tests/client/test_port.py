"""Goal: the one `ExchangePort` behaves alike embedded and over the network: two wallets trading
the same session through `EmbeddedPort` and through `NodePort` on a real node see the same
placements, balances, open orders, book and trades, the times and fees of what they did and
their history, and over the network an account's reads need that account's key. Method: a `tachyon.node.serve` subprocess on a free 127.0.0.1 port and an
embedded data directory, both fresh; the same `Wallet` calls on each."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.client.node_port import NodePort
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import Side
from tachyon.errors import InsufficientFunds, OrderNotOwned, Unauthorized
from tachyon.exchange.port import ExchangePort
from tachyon.exchange.service import Placement
from tachyon.ledger.ledger import BalanceRecord
from tachyon.storage import EmbeddedPort
from tachyon.wallet import KDF_MIN, Wallet, create_key_file
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up

pytestmark = pytest.mark.network

MARKET: Final = MarketId("BASE/USDC")
USDC: Final = TokenId("USDC")
BASE: Final = TokenId("BASE")
PASSWORD: Final = "port-test-password-1"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start_node(tmp_path / "node-data", port)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=10.0) as http:
            wait_until_up(http, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=STOP_TIMEOUT_S)


PortOf = Callable[[Ed25519PrivateKey | None], ExchangePort]


def _session(root: Path, port_of: PortOf) -> dict[str, object]:
    """Alice bids twice, Bob sells into the first bid, Alice cancels the second; then all that
    the ports say. `port_of(key)` is a port whose account reads `key` may sign."""
    alice, bob = _wallet(root / "alice", port_of), _wallet(root / "bob", port_of)
    seen: dict[str, object] = {"deposits": [alice.deposit(USDC, 10**9), bob.deposit(BASE, 20)]}
    seen["bid"] = _summary(alice.place_limit(MARKET, Side.BID, 100, 10))
    seen["rest"] = _summary(alice.place_limit(MARKET, Side.BID, 90, 5))
    ask = bob.place_market(MARKET, Side.ASK, 4)
    seen["ask"] = (ask.order_id, ask.status, ask.filled_qty, ask.open_qty, len(ask.trades))
    ask_receipt = bob.exchange.last_receipt()
    assert ask_receipt is not None and ask_receipt.time_ns is not None
    seen["ask fees"] = ask_receipt.fees
    with pytest.raises(OrderNotOwned):
        bob.cancel(OrderId(1))
    with pytest.raises(InsufficientFunds):
        bob.withdraw(BASE, 17)
    cancelled = alice.cancel(OrderId(2))
    assert isinstance(cancelled, Placement)
    seen["cancel"] = _summary(cancelled)
    cancel_receipt = alice.exchange.last_receipt()
    assert cancel_receipt is not None and cancel_receipt.time_ns is not None
    seen["orders"] = (alice.open_orders(), bob.open_orders())
    (placed,) = alice.exchange.order_records(alice.address)
    assert placed.order == alice.open_orders()[0] and placed.time_ns is not None
    for who, wallet in (("alice", alice), ("bob", bob)):
        past = wallet.exchange.history(wallet.address, None, 10)
        assert all(order.closed_time_ns for order in past.orders)
        assert all(order.time_ns for order in past.orders)
        assert all(fill.time_ns for fill in past.fills)
        seen[f"history {who}"] = (
            [order._replace(time_ns=None, closed_time_ns=0) for order in past.orders],
            [fill._replace(time_ns=None) for fill in past.fills],
        )
        assert wallet.exchange.history(wallet.address, MARKET, 1) == past._replace(
            orders=past.orders[:1], fills=past.fills[:1]
        )
    closed = alice.exchange.history(alice.address, None, 1).orders[0]
    assert closed.closed_time_ns == cancel_receipt.time_ns
    seen["balances"] = (_held(alice.balances()), _held(bob.balances()))
    public = port_of(None)
    seen["book"] = public.book(10, MARKET)
    trades = public.recent_trades(5, MARKET)  # a node does not say whose they were
    seen["trades"] = [(t.trade_id, t.price, t.qty, t.taker_side) for t in trades]
    (record,) = public.trade_records(5, MARKET)
    assert record.time_ns == ask_receipt.time_ns
    seen["trade fees"] = (record.maker_fee, record.taker_fee)
    seen["markets"] = public.markets()
    seen["tokens"] = public.tokens()
    for port in (alice.exchange, bob.exchange, public):
        port.close()
    return seen


def _summary(placement: Placement) -> tuple[object, ...]:
    """What a node answers of a placement (its events stay with the node's exchange)."""
    return (
        placement.order_id,
        placement.market,
        placement.status,
        placement.filled_qty,
        placement.open_qty,
        len(placement.trades),
    )


def _wallet(directory: Path, port_of: PortOf) -> Wallet:
    key_file = create_key_file(directory, PASSWORD, {"kind": "test"}, KDF_MIN)
    key = key_file.unlock(PASSWORD)
    wallet = Wallet(key_file, port_of(key))
    wallet.use_key(key)
    return wallet


def _held(balances: dict[TokenId, BalanceRecord]) -> dict[TokenId, BalanceRecord]:
    """What is held: a node lists every token, the embedded exchange those ever held."""
    return {
        token: record for token, record in balances.items() if record.available or record.locked
    }


def test_the_port_answers_alike_embedded_and_over_the_network(tmp_path: Path, node: str) -> None:
    embedded_dir = tmp_path / "embedded"
    embedded = _session(tmp_path / "e", lambda _key: EmbeddedPort(embedded_dir))
    remote = _session(tmp_path / "r", lambda key: NodePort(node, key=key))
    assert remote == embedded
    assert embedded["book"] == ([(100, 6)], [])
    assert embedded["ask"] == (3, "filled", 4, 0, 1)


def test_over_the_network_an_account_is_read_only_with_its_key(tmp_path: Path, node: str) -> None:
    alice = _wallet(tmp_path / "alice", lambda key: NodePort(node, key=key))
    with NodePort(node) as anonymous, pytest.raises(Unauthorized, match="needs that account's key"):
        anonymous.balances(alice.address)
    with pytest.raises(Unauthorized):
        alice.exchange.open_orders(AccountId("0" * 64))
    assert alice.open_orders() == []
    alice.exchange.close()
