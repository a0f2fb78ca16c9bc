"""Goal: self-trade prevention through DexService releases or settles exactly the right funds.
Method: one owner on both sides, each STP mode; balances, open orders and fees computed by hand."""

from __future__ import annotations

import random

import pytest

from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import FEE_ACCOUNT, OrderStatus, SelfTradePrevention, Side
from tachyon.exchange.service import DexService
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import (
    ALICE,
    BASE,
    BOB,
    ETH,
    ETH_USDC,
    USDC,
    fund,
    make_service,
)

BID, ASK = Side.BID, Side.ASK
STP = SelfTradePrevention


def test_cancel_maker_releases_the_makers_lock_and_keeps_matching() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=5)
    fund(service, BOB, BASE=5)
    own = service.place_limit(ALICE, ASK, 100, 5).order_id
    service.place_limit(BOB, ASK, 101, 5)
    assert service.balance(ALICE, BASE) == BalanceRecord(0, 5)
    taker = service.place_limit(ALICE, BID, 101, 5)  # default STP: cancel maker
    service.check_invariants()
    assert [(t.maker_owner, t.price, t.qty) for t in taker.trades] == [(BOB, 101, 5)]
    assert taker.status is OrderStatus.FILLED
    assert service.get_order(own) is None
    assert service.open_orders(ALICE) == []
    assert service.balance(ALICE, BASE) == BalanceRecord(10, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000 - 505, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(505, 0)


def test_decrement_and_cancel_reduces_both_without_a_trade() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=8)
    maker = service.place_limit(ALICE, ASK, 100, 8).order_id
    taker = service.place_limit(ALICE, BID, 100, 5, stp=STP.DECREMENT_AND_CANCEL)
    service.check_invariants()
    assert taker.trades == []
    assert (taker.filled_qty, taker.open_qty, taker.status) == (0, 0, OrderStatus.CANCELLED)
    (owned,) = service.open_orders(ALICE)
    assert owned.order.order_id == maker
    assert (owned.order.remaining_qty, owned.order.filled_qty, owned.locked) == (3, 0, 3)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 3)
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000, 0)
    assert service.recent_trades(10) == []


def test_decrement_and_cancel_with_fees_leaves_the_maker_holding_exactly_its_need() -> None:
    service = make_service()
    fund(service, ALICE, USDC=30_000, ETH=30)
    fund(service, BOB, ETH=20)
    service.place_limit(ALICE, BID, 20_000, 100, market=ETH_USDC)
    # 100 at 20_000 costs 20_000; resting at 10 bps holds 20_020
    assert service.balance(ALICE, USDC) == BalanceRecord(9_980, 20_020)
    taker = service.place_limit(
        ALICE, ASK, 20_000, 30, market=ETH_USDC, stp=STP.DECREMENT_AND_CANCEL
    )
    service.check_invariants()
    assert taker.trades == []
    # the bid shrinks to 70: 14_000 + 14
    assert service.balance(ALICE, USDC) == BalanceRecord(30_000 - 14_014, 14_014)
    assert service.balance(ALICE, ETH) == BalanceRecord(30, 0)
    (owned,) = service.open_orders(ALICE)
    assert (owned.order.remaining_qty, owned.locked) == (70, 14_014)
    # the shrunk bid still trades normally with someone else
    service.place_limit(BOB, ASK, 20_000, 20, market=ETH_USDC)
    service.check_invariants()
    # 20 at 20_000 = 4_000: alice pays 4_000 + 4, bob receives 4_000 - 8
    assert service.balance(ALICE, USDC) == BalanceRecord(15_986, 10_010)
    assert service.balance(BOB, USDC) == BalanceRecord(3_992, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(12, 0)


def test_decrement_then_fill_the_rest_against_another_owner() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=2)
    fund(service, BOB, BASE=4)
    service.place_limit(ALICE, ASK, 100, 2)
    service.place_limit(BOB, ASK, 100, 4)
    taker = service.place_limit(ALICE, BID, 100, 5, stp=STP.DECREMENT_AND_CANCEL)
    service.check_invariants()
    # 2 cancelled against her own ask, 3 bought from bob
    assert [(t.maker_owner, t.qty) for t in taker.trades] == [(BOB, 3)]
    assert (taker.filled_qty, taker.open_qty) == (3, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(700, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(2 + 3, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(0, 1)


def test_allow_settles_a_self_trade_and_conserves_funds() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=5)
    service.place_limit(ALICE, BID, 100, 5)
    taker = service.place_limit(ALICE, ASK, 100, 5, stp=STP.ALLOW)
    service.check_invariants()
    assert [(t.maker_owner, t.taker_owner, t.qty) for t in taker.trades] == [(ALICE, ALICE, 5)]
    assert taker.status is OrderStatus.FILLED
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 0)
    assert service.open_orders(ALICE) == []


def test_allow_with_fees_costs_the_owner_exactly_both_fees() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000, ETH=50)
    service.place_limit(ALICE, ASK, 20_000, 50, market=ETH_USDC)
    taker = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC, stp=STP.ALLOW)
    service.check_invariants()
    assert len(taker.trades) == 1
    # 10_000 notional: maker fee 10, taker fee 20
    assert service.balance(ALICE, USDC) == BalanceRecord(20_000 - 30, 0)
    assert service.balance(ALICE, ETH) == BalanceRecord(50, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(30, 0)
    assert service.ledger.total_supply(USDC) == 20_000


def test_cancel_taker_keeps_the_maker_and_releases_the_takers_lock() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=5)
    maker = service.place_limit(ALICE, ASK, 100, 5).order_id
    taker = service.place_limit(ALICE, BID, 100, 5, stp=STP.CANCEL_TAKER)
    service.check_invariants()
    assert (taker.trades, taker.status, taker.open_qty) == ([], OrderStatus.CANCELLED, 0)
    assert [o.order.order_id for o in service.open_orders(ALICE)] == [maker]
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(0, 5)


def test_cancel_both_releases_both_locks() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=5)
    fund(service, BOB, BASE=5)
    service.place_limit(ALICE, ASK, 100, 5)
    service.place_limit(BOB, ASK, 100, 5)
    taker = service.place_limit(ALICE, BID, 100, 5, stp=STP.CANCEL_BOTH)
    service.check_invariants()
    assert taker.trades == []
    assert service.open_orders(ALICE) == []
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(0, 5)


def test_market_orders_apply_stp_too() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000, BASE=3)
    fund(service, BOB, BASE=3)
    service.place_limit(ALICE, ASK, 100, 3)
    service.place_limit(BOB, ASK, 110, 3)
    placement = service.place_market(ALICE, BID, 3)  # cancel maker, then buy bob's 3 at 110
    service.check_invariants()
    assert [(t.maker_owner, t.price, t.qty) for t in placement.trades] == [(BOB, 110, 2)]
    # the estimate (300) was locked; 300 buys 2 at 110
    assert service.balance(ALICE, USDC) == BalanceRecord(780, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 0)
    assert service.open_orders(ALICE) == []


@pytest.mark.parametrize(
    "stp", [STP.ALLOW, STP.DECREMENT_AND_CANCEL, STP.CANCEL_TAKER, STP.CANCEL_BOTH]
)
@pytest.mark.parametrize("seed", range(12))
def test_a_market_bid_fills_as_if_its_estimate_bounded_it(stp: STP, seed: int) -> None:
    """A market bid by quantity is not handed its estimate as a budget unless it cancels its
    own makers (see below): in every other mode it never walks past the levels the estimate
    priced. Its fills equal an engine's given that budget, on books mixing its own asks in."""
    rng = random.Random(seed)
    service = make_service()  # ETH/USDC: tick 20, lot 5, two base decimals, fees in quote
    twin = InMemoryEngine(service.get_market(ETH_USDC))
    fund(service, ALICE, USDC=10**12, ETH=10**6)
    fund(service, BOB, ETH=10**6)
    for _ in range(rng.randint(3, 12)):
        owner = rng.choice([ALICE, BOB])
        price, qty = 20 * rng.randint(100, 110), 5 * rng.randint(2, 12)
        placed = service.place_limit(owner, ASK, price, qty, market=ETH_USDC)
        twin.place_limit(owner, ASK, price, qty, order_id=placed.order_id)
    qty = 5 * rng.randint(2, 40)
    _, estimate = twin.estimate_market_cost(BID, qty)
    taken = service.place_market(ALICE, BID, qty, market=ETH_USDC, stp=stp)
    _, bounded = twin.place_market(
        ALICE, BID, qty, max_quote=estimate, stp=stp, order_id=taken.order_id
    )
    service.check_invariants()
    assert taken.trades == bounded
    assert service.snapshot(100, ETH_USDC) == twin.snapshot(100)


def test_a_market_bid_that_cancels_its_own_makers_spends_no_more_than_its_estimate() -> None:
    """Cancelling its own ask lets a bid walk on to dearer levels than its estimate priced: its
    estimate (what it locked) still bounds what it spends, so it fills less."""
    service = DexService()
    fund(service, ALICE, USDC=10_000, BASE=5)
    fund(service, BOB, BASE=10)
    service.place_limit(ALICE, ASK, 100, 5)
    service.place_limit(BOB, ASK, 110, 10)
    # The estimate for 10: 5 at 100 (its own) and 5 at 110 = 1,050; with its own ask cancelled,
    # 1,050 buys 9 at 110.
    taken = service.place_market(ALICE, BID, 10, stp=STP.CANCEL_MAKER)
    service.check_invariants()
    assert [(t.maker_owner, t.price, t.qty) for t in taken.trades] == [(BOB, 110, 9)]
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000 - 990, 0)
