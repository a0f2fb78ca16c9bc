"""Goal: DexService's lock -> match -> settle -> release flow for many owners on a fee-free market.
Method: scripted sessions with every balance and open order computed by hand; invariants each step."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tachyon.dex.ids import OrderId, TradeId
from tachyon.dex.model import BookDepth, BookLevel, Order, OrderStatus, Side, Trade
from tachyon.exchange.service import DexService, OwnedOrder
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import ALICE, BASE, BOB, CAROL, DAVE, DEFAULT, USDC, fund, summary

BID, ASK = Side.BID, Side.ASK


def test_the_seed_demo_session() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000_000)
    fund(service, BOB, BASE=25)

    first = service.place_limit(ALICE, BID, 100, 10)
    service.check_invariants()
    assert summary(first) == (OrderId(1), [], OrderStatus.NEW, 0, 10)
    assert service.balance(ALICE, USDC) == BalanceRecord(999_000, 1_000)

    second = service.place_limit(ALICE, BID, 99, 5)
    service.check_invariants()
    assert second.order_id == 2
    assert service.balance(ALICE, USDC) == BalanceRecord(998_505, 1_495)

    third = service.place_limit(BOB, ASK, 101, 8)
    service.check_invariants()
    assert summary(third) == (OrderId(3), [], OrderStatus.NEW, 0, 8)
    assert service.balance(BOB, BASE) == BalanceRecord(17, 8)
    assert service.snapshot(10) == BookDepth(
        [BookLevel(100, 10), BookLevel(99, 5)], [BookLevel(101, 8)]
    )

    sold = service.place_market(BOB, ASK, 12)
    service.check_invariants()
    assert sold.order_id == 4
    assert sold.status is OrderStatus.FILLED
    assert (sold.filled_qty, sold.open_qty) == (12, 0)
    assert [(t.price, t.qty, t.maker_order_id, t.taker_order_id) for t in sold.trades] == [
        (100, 10, 1, 4),
        (99, 2, 2, 4),
    ]
    assert service.balance(BOB, BASE) == BalanceRecord(5, 8)
    assert service.balance(BOB, USDC) == BalanceRecord(1_000 + 198, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(12, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(998_505, 3 * 99)

    bought = service.place_market(ALICE, BID, 3)
    service.check_invariants()
    assert bought.order_id == 5
    assert bought.status is OrderStatus.FILLED
    assert [(t.price, t.qty, t.maker_owner, t.taker_owner) for t in bought.trades] == [
        (101, 3, BOB, ALICE)
    ]
    assert service.balance(ALICE, USDC) == BalanceRecord(998_505 - 303, 297)
    assert service.balance(ALICE, BASE) == BalanceRecord(15, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(1_198 + 303, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(5, 5)

    (rest,) = service.open_orders(ALICE)
    assert rest == OwnedOrder(DEFAULT, Order(OrderId(2), ALICE, BID, 99, 5, 3, 2, False), 297, USDC)
    cancelled = service.cancel(ALICE, OrderId(2))
    service.check_invariants()
    assert summary(cancelled) == (OrderId(2), [], OrderStatus.CANCELLED, 2, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(998_499, 0)
    assert service.open_orders(ALICE) == []
    assert service.open_orders(BOB) == [
        OwnedOrder(DEFAULT, Order(OrderId(3), BOB, ASK, 101, 8, 5, 3, False), 5, BASE)
    ]
    assert service.ledger.total_supply(USDC) == 1_000_000
    assert service.ledger.total_supply(BASE) == 25
    assert [t.trade_id for t in service.recent_trades(10)] == [3, 2, 1]


def test_a_bid_filled_at_a_better_price_gets_the_difference_unlocked() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=5)
    service.place_limit(BOB, ASK, 90, 5)
    service.check_invariants()
    placement = service.place_limit(ALICE, BID, 100, 5)
    service.check_invariants()
    assert placement.status is OrderStatus.FILLED
    assert placement.trades == [
        Trade(TradeId(1), 90, 5, OrderId(1), OrderId(2), BOB, ALICE, BID),
    ]
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000 - 450, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(450, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(0, 0)


def test_an_ask_filled_at_a_better_price_receives_the_maker_price() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=5)
    service.place_limit(ALICE, BID, 110, 4)
    service.check_invariants()
    placement = service.place_limit(BOB, ASK, 100, 5)
    service.check_invariants()
    assert placement.status is OrderStatus.PARTIALLY_FILLED
    assert (placement.filled_qty, placement.open_qty) == (4, 1)
    assert service.balance(BOB, USDC) == BalanceRecord(440, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(0, 1)
    assert service.balance(ALICE, USDC) == BalanceRecord(560, 0)


def test_partial_fills_on_both_sides_keep_exactly_the_remainder_locked() -> None:
    service = DexService()
    fund(service, ALICE, USDC=10_000)
    fund(service, BOB, BASE=4)
    fund(service, CAROL, BASE=3)
    service.place_limit(BOB, ASK, 95, 4)
    service.check_invariants()
    taker = service.place_limit(ALICE, BID, 100, 10)
    service.check_invariants()
    assert taker.status is OrderStatus.PARTIALLY_FILLED
    assert (taker.filled_qty, taker.open_qty) == (4, 6)
    # paid 4 * 95; the rest of 6 at 100 holds 600
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000 - 380 - 600, 600)
    assert service.open_orders(ALICE) == [
        OwnedOrder(DEFAULT, Order(OrderId(2), ALICE, BID, 100, 10, 6, 4, False), 600, USDC)
    ]
    # now alice's resting bid is the maker, partially filled again
    maker_fill = service.place_limit(CAROL, ASK, 100, 2)
    service.check_invariants()
    assert maker_fill.status is OrderStatus.FILLED
    assert service.balance(ALICE, USDC) == BalanceRecord(9_020, 400)
    assert service.balance(ALICE, BASE) == BalanceRecord(6, 0)
    assert service.balance(CAROL, USDC) == BalanceRecord(200, 0)
    assert service.balance(CAROL, BASE) == BalanceRecord(1, 0)
    (owned,) = service.open_orders(ALICE)
    assert (owned.order.remaining_qty, owned.order.filled_qty, owned.locked) == (4, 6, 400)
    assert service.open_orders(BOB) == []
    assert service.open_orders(CAROL) == []


def test_a_market_ask_locks_its_qty_and_refunds_what_did_not_fill() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=20)
    service.place_limit(ALICE, BID, 100, 5)
    service.check_invariants()
    placement = service.place_market(BOB, ASK, 12)
    service.check_invariants()
    assert (placement.filled_qty, placement.open_qty) == (5, 0)
    assert placement.status is OrderStatus.CANCELLED  # not all of 12 filled
    assert service.balance(BOB, BASE) == BalanceRecord(15, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(500, 0)
    assert service.open_orders(BOB) == []


def test_a_market_bid_locks_the_estimated_cost_and_walks_the_book() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=3)
    fund(service, CAROL, BASE=4)
    service.place_limit(BOB, ASK, 100, 3)
    service.place_limit(CAROL, ASK, 105, 4)
    service.check_invariants()
    assert service.estimate_market_cost(BID, 5) == (5, 300 + 210)
    placement = service.place_market(ALICE, BID, 5)
    service.check_invariants()
    assert placement.status is OrderStatus.FILLED
    assert [(t.price, t.qty) for t in placement.trades] == [(100, 3), (105, 2)]
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000 - 510, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(5, 0)
    assert service.balance(CAROL, BASE) == BalanceRecord(0, 2)
    assert service.balance(CAROL, USDC) == BalanceRecord(210, 0)


def test_a_market_bid_for_more_than_the_book_holds_takes_all_and_locks_only_that() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=3)
    service.place_limit(BOB, ASK, 100, 3)
    placement = service.place_market(ALICE, BID, 10)
    service.check_invariants()
    assert (placement.filled_qty, placement.status) == (3, OrderStatus.CANCELLED)
    assert service.balance(ALICE, USDC) == BalanceRecord(700, 0)
    assert service.snapshot(10) == BookDepth([], [])


def test_a_market_bid_on_an_empty_book_fills_nothing_and_uses_an_id() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    before = service.ledger.to_state()
    placement = service.place_market(ALICE, BID, 4)
    service.check_invariants()
    assert summary(placement) == (OrderId(1), [], OrderStatus.CANCELLED, 0, 0)
    assert service.ledger.to_state() == before
    assert service.place_limit(ALICE, BID, 1, 1).order_id == 2


def test_a_market_bid_with_max_quote_spends_at_most_that() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, BASE=3)
    fund(service, CAROL, BASE=4)
    service.place_limit(BOB, ASK, 100, 3)
    service.place_limit(CAROL, ASK, 105, 4)
    # 400 buys 3 at 100 (300); the remaining 100 cannot buy one at 105
    placement = service.place_market(ALICE, BID, None, max_quote=400)
    service.check_invariants()
    assert placement.status is OrderStatus.FILLED
    assert placement.filled_qty == 3
    assert service.balance(ALICE, USDC) == BalanceRecord(700, 0)
    assert service.balance(ALICE, BASE) == BalanceRecord(3, 0)
    # with both qty and max_quote, the smaller bound wins: 525 buys 5 at 105, qty stops at 2
    capped = service.place_market(ALICE, BID, 2, max_quote=525)
    service.check_invariants()
    assert (capped.filled_qty, capped.status) == (2, OrderStatus.FILLED)
    assert service.balance(ALICE, USDC) == BalanceRecord(490, 0)
    assert service.balance(CAROL, BASE) == BalanceRecord(0, 2)
    budget = service.place_market(ALICE, BID, 2, max_quote=150)
    service.check_invariants()
    assert (budget.filled_qty, budget.status) == (1, OrderStatus.CANCELLED)
    assert service.balance(ALICE, USDC) == BalanceRecord(385, 0)


def test_cancel_unlocks_what_each_order_holds_for_many_owners() -> None:
    service = DexService()
    fund(service, ALICE, USDC=5_000, BASE=10)
    fund(service, BOB, USDC=5_000, BASE=10)
    fund(service, CAROL, BASE=10)
    a_bid = service.place_limit(ALICE, BID, 50, 10).order_id
    a_ask = service.place_limit(ALICE, ASK, 200, 7).order_id
    b_bid = service.place_limit(BOB, BID, 60, 20).order_id
    c_ask = service.place_limit(CAROL, ASK, 150, 10).order_id
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(4_500, 500)
    assert service.balance(ALICE, BASE) == BalanceRecord(3, 7)
    assert service.balance(BOB, USDC) == BalanceRecord(3_800, 1_200)
    assert service.balance(CAROL, BASE) == BalanceRecord(0, 10)
    assert [owned.order.order_id for owned in service.open_orders(ALICE)] == [a_bid, a_ask]
    assert [(o.locked, o.locked_token) for o in service.open_orders(ALICE)] == [
        (500, USDC),
        (7, BASE),
    ]
    # dave sells 5 into bob's bid: bob's rest of 15 holds 900
    fund(service, DAVE, BASE=5)
    service.place_market(DAVE, ASK, 5)
    service.check_invariants()
    assert service.balance(BOB, USDC) == BalanceRecord(3_800, 900)
    assert summary(service.cancel(BOB, b_bid)) == (b_bid, [], OrderStatus.CANCELLED, 5, 0)
    service.check_invariants()
    assert service.balance(BOB, USDC) == BalanceRecord(4_700, 0)
    assert service.balance(BOB, BASE) == BalanceRecord(15, 0)
    service.cancel(ALICE, a_ask)
    service.check_invariants()
    assert service.balance(ALICE, BASE) == BalanceRecord(10, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(4_500, 500)
    service.cancel(CAROL, c_ask)
    service.check_invariants()
    service.cancel(ALICE, a_bid)
    service.check_invariants()
    for owner in (ALICE, BOB, CAROL, DAVE):
        assert service.open_orders(owner) == []
        assert all(record.locked == 0 for record in service.balances(owner).values())
    assert service.snapshot(10) == BookDepth([], [])
    assert service.get_order(a_bid) is None


def test_withdraw_takes_available_only_and_get_order_reports_the_lock() -> None:
    service = DexService()
    fund(service, ALICE, USDC=1_000)
    order_id = service.place_limit(ALICE, BID, 100, 6).order_id
    service.withdraw(ALICE, USDC, 400)
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(0, 600)
    assert service.ledger.total_supply(USDC) == 600
    owned = service.get_order(order_id)
    assert owned is not None
    assert (owned.market, owned.locked, owned.locked_token) == (DEFAULT, 600, USDC)


def test_many_owners_trade_and_funds_are_conserved() -> None:
    service = DexService()
    owners = (ALICE, BOB, CAROL, DAVE)
    for owner in owners:
        fund(service, owner, USDC=100_000, BASE=100)
    for step in range(40):
        owner = owners[step % 4]
        side = BID if step % 3 else ASK
        price = 95 + (step * 7) % 11
        service.place_limit(owner, side, price, 1 + step % 5)
        service.check_invariants()
        if step % 6 == 5:
            service.place_market(owners[(step + 1) % 4], side.opposite, 3)
            service.check_invariants()
    assert service.ledger.total_supply(USDC) == 400_000
    assert service.ledger.total_supply(BASE) == 400
    assert sum(service.balance(o, USDC).total for o in owners) == 400_000
    assert sum(service.balance(o, BASE).total for o in owners) == 400
    for owner in owners:
        for owned in service.open_orders(owner):
            service.cancel(owner, owned.order.order_id)
            service.check_invariants()
        assert service.balance(owner, USDC).locked == 0
        assert service.balance(owner, BASE).locked == 0


def test_cancel_removes_the_order_from_the_book_under_python_dash_o() -> None:
    # With asserts stripped (python -O) a cancel must still take the order off the book.
    code = textwrap.dedent(
        """
        from tachyon.dex import AccountId, Side, TokenId
        from tachyon.exchange import DexService
        service = DexService()
        alice = AccountId("alice")
        service.deposit(alice, TokenId("USDC"), 1_000)
        order_id = service.place_limit(alice, Side.BID, 100, 5).order_id
        service.cancel(alice, order_id)
        print(service.snapshot(10), service.balance(alice, TokenId("USDC")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        "BookDepth(bids=[], asks=[]) BalanceRecord(available=1000, locked=0, debt=0)"
    )
