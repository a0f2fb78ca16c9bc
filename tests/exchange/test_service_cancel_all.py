"""Goal: a mass cancel cancels exactly the signing account's open orders (on a market, on a
side, when asked), oldest first, releases every unit they held and touches nobody else's.
Method: books over three markets with orders of two owners; balances and books compared."""

from __future__ import annotations

import pytest

from tachyon.dex.ids import MarketId
from tachyon.dex.model import OrderStatus, Side
from tachyon.errors import InvalidOrder, MarketNotFound
from tachyon.exchange.events import CancelReason, OrderCancelled
from tachyon.exchange.service import DexService
from tests.exchange.helpers import (
    ALICE,
    BASE,
    BOB,
    DEFAULT,
    ETH,
    ETH_CONFIG,
    ETH_USDC,
    USDC,
    capture,
    fund,
)

BID, ASK = Side.BID, Side.ASK


def _books() -> DexService:
    service = DexService()
    service.add_market(ETH_CONFIG)
    for owner in (ALICE, BOB):
        fund(service, owner, USDC=10**9, BASE=1_000, ETH=10_000)
        service.place_limit(owner, BID, 90, 10)
        service.place_limit(owner, ASK, 110, 10)
        service.place_limit(owner, BID, 1_000, 10, market=ETH_USDC)
        service.place_limit(owner, ASK, 2_000, 10, market=ETH_USDC)
    return service


def test_every_open_order_of_the_account_and_no_one_else_s() -> None:
    service = _books()
    bob_before = (service.open_orders(BOB), service.balances(BOB))
    cancelled = service.cancel_all(ALICE)
    assert [p.order_id for p in cancelled.placements] == [1, 2, 3, 4]  # oldest first
    assert {p.status for p in cancelled.placements} == {OrderStatus.CANCELLED}
    assert service.open_orders(ALICE) == []
    assert (service.open_orders(BOB), service.balances(BOB)) == bob_before
    for token in (USDC, BASE, ETH):
        assert service.balance(ALICE, token).locked == 0
    assert service.balance(ALICE, USDC).available == 10**9
    events = cancelled.events
    assert [type(e) for e in events] == [OrderCancelled] * 4
    assert {e.reason for e in events if isinstance(e, OrderCancelled)} == {CancelReason.USER}
    service.check_invariants()


def test_one_market_and_one_side() -> None:
    service = _books()
    asks_on_eth = service.cancel_all(ALICE, ETH_USDC, ASK)
    assert [p.order_id for p in asks_on_eth.placements] == [4]
    assert [p.market for p in asks_on_eth.placements] == [ETH_USDC]
    on_default = service.cancel_all(ALICE, DEFAULT)
    assert [p.order_id for p in on_default.placements] == [1, 2]
    assert [owned.order.order_id for owned in service.open_orders(ALICE)] == [3]
    service.check_invariants()


def test_nothing_open_cancels_nothing() -> None:
    service = _books()
    service.cancel_all(ALICE)
    before = capture(service)
    assert service.cancel_all(ALICE).placements == []
    assert capture(service) == before


@pytest.mark.parametrize(
    ("market", "side", "error", "fragment"),
    [
        (MarketId("DOGE/USDC"), None, MarketNotFound, "unknown market 'DOGE/USDC'"),
        (None, "bid", InvalidOrder, "side 'bid'"),
    ],
)
def test_a_bad_market_or_side_is_refused_and_changes_nothing(
    market: MarketId | None, side: object, error: type[Exception], fragment: str
) -> None:
    service = _books()
    before = capture(service)
    with pytest.raises(error, match=fragment):
        service.cancel_all(ALICE, market, side)  # type: ignore[arg-type]
    assert capture(service) == before
