"""Goal: maker/taker fees in quote and in base, what orders lock for them, and set_fees.
Method: ETH/USDC (quote fees) and SOL/USDC (base fees), every fee and lock computed by hand."""

from __future__ import annotations

import pytest

from tachyon.dex.ids import AccountId, MarketId, OrderId
from tachyon.dex.model import FEE_ACCOUNT, FeeSchedule, OrderStatus, Side, TimeInForce
from tachyon.errors import InsufficientFunds, InvalidConfig, InvalidOrder, MarketNotFound
from tachyon.ledger.ledger import BalanceRecord, fill_fees
from tests.exchange.helpers import (
    ALICE,
    BOB,
    CAROL,
    ETH,
    ETH_USDC,
    SOL,
    SOL_USDC,
    USDC,
    capture,
    fee_cancelled,
    fund,
    make_service,
)

BID, ASK = Side.BID, Side.ASK

# ETH/USDC: base_decimals 2, so 50 ETH minor units at 20_000 cost 20_000 * 50 // 100 = 10_000.


def test_a_resting_bid_locks_at_the_dearer_fee_then_keeps_the_maker_fee() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000)
    placement = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert placement.status is OrderStatus.NEW
    # locked 10_000 + 20 bps (20) up front; resting it needs 10_000 + 10 bps (10)
    assert service.balance(ALICE, USDC) == BalanceRecord(20_000 - 10_010, 10_010)
    (owned,) = service.open_orders(ALICE)
    assert (owned.market, owned.locked, owned.locked_token) == (ETH_USDC, 10_010, USDC)


def test_quote_fees_taker_ask_into_a_resting_bid() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000)
    fund(service, BOB, ETH=100)
    service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    taker = service.place_limit(BOB, ASK, 20_000, 30, market=ETH_USDC)
    service.check_invariants()
    assert taker.status is OrderStatus.FILLED
    # fill: 30 at 20_000 costs 6_000; maker (alice, bid) fee 6; taker (bob, ask) fee 12
    assert service.balance(ALICE, ETH) == BalanceRecord(30, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(9_990, 10_010 - 6_006)
    assert service.balance(BOB, ETH) == BalanceRecord(70, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(6_000 - 12, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(18, 0)
    # alice's rest of 20 needs 4_000 + 4
    (owned,) = service.open_orders(ALICE)
    assert (owned.order.remaining_qty, owned.locked) == (20, 4_004)
    assert service.ledger.total_supply(USDC) == 20_000


def test_quote_fees_taker_bid_into_a_resting_ask_at_a_better_price() -> None:
    service = make_service()
    fund(service, ALICE, ETH=50)
    fund(service, BOB, USDC=50_000)
    service.place_limit(ALICE, ASK, 20_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert service.balance(ALICE, ETH) == BalanceRecord(0, 50)  # asks hold no quote fee
    taker = service.place_limit(BOB, BID, 24_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert taker.status is OrderStatus.FILLED
    # bob locked 12_000 + 24 and paid 10_000 + 20 (taker fee at the maker's price)
    assert service.balance(BOB, USDC) == BalanceRecord(50_000 - 10_020, 0)
    assert service.balance(BOB, ETH) == BalanceRecord(50, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000 - 10, 0)
    assert service.balance(ALICE, ETH) == BalanceRecord(0, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(30, 0)


def test_quote_fees_market_bid_locks_cost_plus_taker_fee() -> None:
    service = make_service()
    fund(service, ALICE, ETH=100)
    fund(service, BOB, USDC=9_018)  # exactly the estimate plus the taker fee
    service.place_limit(ALICE, ASK, 20_000, 30, market=ETH_USDC)
    service.place_limit(ALICE, ASK, 30_000, 20, market=ETH_USDC)
    service.check_invariants()
    # 30 at 20_000 (6_000) + 10 at 30_000 (3_000) = 9_000, + 18 taker fee
    placement = service.place_market(BOB, BID, 40, market=ETH_USDC)
    service.check_invariants()
    assert (placement.filled_qty, placement.status) == (40, OrderStatus.FILLED)
    # taker fees per fill: 6_000 * 20 // 10_000 = 12, 3_000 * 20 // 10_000 = 6
    assert service.balance(BOB, USDC) == BalanceRecord(0, 0)
    assert service.balance(BOB, ETH) == BalanceRecord(40, 0)
    # maker fees: 6 + 3
    assert service.balance(ALICE, USDC) == BalanceRecord(9_000 - 9, 0)
    assert service.balance(ALICE, ETH) == BalanceRecord(50, 10)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(27, 0)


def test_quote_fees_market_bid_with_max_quote_locks_the_budget_plus_fee() -> None:
    service = make_service()
    fund(service, ALICE, ETH=100)
    fund(service, BOB, USDC=5_000)
    service.place_limit(ALICE, ASK, 20_000, 100, market=ETH_USDC)
    # budget 4_000 buys 20 (4_000); lock 4_000 + 8
    placement = service.place_market(BOB, BID, None, max_quote=4_000, market=ETH_USDC)
    service.check_invariants()
    assert placement.filled_qty == 20
    assert service.balance(BOB, USDC) == BalanceRecord(5_000 - 4_008, 0)
    # a budget whose fee the owner cannot pay is refused up front
    before = capture(service)
    with pytest.raises(
        InsufficientFunds, match=r"insufficient available USDC: need 0\.000994, have 0\.000992"
    ):
        service.place_market(BOB, BID, None, max_quote=993, market=ETH_USDC)
    assert capture(service) == before


def test_quote_fees_market_ask_pays_taker_fee_from_proceeds() -> None:
    service = make_service()
    fund(service, ALICE, USDC=30_000)
    fund(service, BOB, ETH=75)
    service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    placement = service.place_market(BOB, ASK, 75, market=ETH_USDC)
    service.check_invariants()
    assert (placement.filled_qty, placement.status) == (50, OrderStatus.CANCELLED)
    assert service.balance(BOB, ETH) == BalanceRecord(25, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(10_000 - 20, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(30_000 - 10_010, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(30, 0)


def test_quote_fees_round_down_to_zero_on_small_fills() -> None:
    service = make_service()
    fund(service, ALICE, USDC=1_000)
    fund(service, BOB, ETH=10)
    # 10 at 1_000 costs 100: 10 bps is 0.1, 20 bps 0.2 -> both 0
    service.place_limit(ALICE, BID, 1_000, 10, market=ETH_USDC)
    assert service.balance(ALICE, USDC) == BalanceRecord(900, 100)
    service.place_limit(BOB, ASK, 1_000, 10, market=ETH_USDC)
    service.check_invariants()
    assert service.balance(BOB, USDC) == BalanceRecord(100, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(900, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord()


# SOL/USDC: fees in SOL (base). 10_000 SOL minor units at 200 cost 200 * 10_000 // 100 = 20_000.


def test_base_fees_resting_ask_locks_qty_plus_fee_and_bid_locks_no_fee() -> None:
    service = make_service()
    fund(service, ALICE, SOL=20_000)
    fund(service, BOB, USDC=50_000)
    service.place_limit(ALICE, ASK, 200, 10_000, market=SOL_USDC)
    service.check_invariants()
    # locked 10_000 + 20 up front, rests holding 10_000 + 10
    assert service.balance(ALICE, SOL) == BalanceRecord(20_000 - 10_010, 10_010)
    service.place_limit(BOB, BID, 100, 10_000, market=SOL_USDC)
    service.check_invariants()
    assert service.balance(BOB, USDC) == BalanceRecord(40_000, 10_000)


def test_base_fees_taker_bid_into_a_resting_ask() -> None:
    service = make_service()
    fund(service, ALICE, SOL=10_020)  # the up-front lock is at the dearer (taker) fee
    fund(service, BOB, USDC=50_000)
    service.place_limit(ALICE, ASK, 200, 10_000, market=SOL_USDC)
    taker = service.place_limit(BOB, BID, 220, 5_000, market=SOL_USDC)
    service.check_invariants()
    assert taker.status is OrderStatus.FILLED
    # fill 5_000 at 200 costs 10_000; taker (bob, buyer) fee 10 SOL; maker (alice) fee 5 SOL
    assert service.balance(BOB, USDC) == BalanceRecord(40_000, 0)
    assert service.balance(BOB, SOL) == BalanceRecord(4_990, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000, 0)
    assert service.balance(ALICE, SOL) == BalanceRecord(10, 5_005)
    assert service.balance(FEE_ACCOUNT, SOL) == BalanceRecord(15, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord()
    (owned,) = service.open_orders(ALICE)
    assert (owned.order.remaining_qty, owned.locked, owned.locked_token) == (5_000, 5_005, SOL)


def test_base_fees_taker_market_ask_into_resting_bids() -> None:
    service = make_service()
    fund(service, ALICE, USDC=50_000)
    fund(service, BOB, SOL=10_020)  # qty + 20 bps
    service.place_limit(ALICE, BID, 200, 10_000, market=SOL_USDC)
    placement = service.place_market(BOB, ASK, 10_000, market=SOL_USDC)
    service.check_invariants()
    assert placement.status is OrderStatus.FILLED
    assert service.balance(BOB, SOL) == BalanceRecord(0, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(20_000, 0)
    assert service.balance(ALICE, SOL) == BalanceRecord(10_000 - 10, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(30_000, 0)
    assert service.balance(FEE_ACCOUNT, SOL) == BalanceRecord(30, 0)


def test_base_fees_market_bid_locks_cost_only() -> None:
    service = make_service()
    fund(service, ALICE, SOL=10_020)
    fund(service, BOB, USDC=20_000)
    service.place_limit(ALICE, ASK, 200, 10_000, market=SOL_USDC)
    placement = service.place_market(BOB, BID, 10_000, market=SOL_USDC)
    service.check_invariants()
    assert placement.status is OrderStatus.FILLED
    assert service.balance(BOB, USDC) == BalanceRecord(0, 0)
    assert service.balance(BOB, SOL) == BalanceRecord(10_000 - 20, 0)
    assert service.balance(ALICE, SOL) == BalanceRecord(10, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(20_000, 0)
    assert service.balance(FEE_ACCOUNT, SOL) == BalanceRecord(30, 0)


# -- set_fees --------------------------------------------------------------------------------


def test_lower_fees_release_the_excess_lock() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000)
    order_id = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    assert fee_cancelled(service.set_fees(ETH_USDC, FeeSchedule(maker_bps=0, taker_bps=5))) == []
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000, 10_000)
    assert service.get_market(ETH_USDC).fees == FeeSchedule(maker_bps=0, taker_bps=5)
    owned = service.get_order(order_id)
    assert owned is not None and owned.locked == 10_000


def test_higher_fees_lock_more_from_available() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000, ETH=50)
    service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    service.place_limit(ALICE, ASK, 40_000, 50, market=ETH_USDC)  # needs no fee in quote
    assert fee_cancelled(service.set_fees(ETH_USDC, FeeSchedule(maker_bps=50, taker_bps=50))) == []
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(20_000 - 10_050, 10_050)
    assert [o.locked for o in service.open_orders(ALICE)] == [10_050, 50]
    # the new fees apply to the next fill: bob sells 50 into alice's bid
    fund(service, BOB, ETH=50)
    service.place_limit(BOB, ASK, 20_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert service.balance(BOB, USDC) == BalanceRecord(10_000 - 50, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(100, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(9_950, 0)


def test_higher_fees_cancel_orders_whose_owner_cannot_pay_and_return_their_ids() -> None:
    service = make_service()
    fund(service, ALICE, USDC=10_020)  # what a bid of 50 at 20_000 locks up front (20 bps)
    fund(service, BOB, USDC=30_000)
    fund(service, CAROL, ETH=50)
    poor = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    rich = service.place_limit(BOB, BID, 20_000, 50, market=ETH_USDC).order_id
    ask = service.place_limit(CAROL, ASK, 30_000, 50, market=ETH_USDC).order_id
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(10, 10_010)
    cancelled = fee_cancelled(service.set_fees(ETH_USDC, FeeSchedule(maker_bps=100, taker_bps=100)))
    service.check_invariants()
    assert cancelled == [poor]
    assert service.open_orders(ALICE) == []
    assert service.balance(ALICE, USDC) == BalanceRecord(10_020, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(30_000 - 10_100, 10_100)
    assert [o.order.order_id for o in service.open_orders(BOB)] == [rich]
    assert [o.order.order_id for o in service.open_orders(CAROL)] == [ask]
    assert service.snapshot(10, ETH_USDC).bids == [(20_000, 50)]


def test_set_fees_tops_up_in_order_until_available_runs_out() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_020 + 15)  # two bids at 10 bps, and 15 to spare
    first = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    second = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    assert service.balance(ALICE, USDC).available == 15
    # at 20 bps each bid needs 10 more: the first is topped up, the second cannot be
    assert fee_cancelled(service.set_fees(ETH_USDC, FeeSchedule(maker_bps=20, taker_bps=20))) == [
        second
    ]
    service.check_invariants()
    assert [o.order.order_id for o in service.open_orders(ALICE)] == [first]
    assert service.balance(ALICE, USDC) == BalanceRecord(20_035 - 10_020, 10_020)


def test_switching_the_fee_token_to_base_moves_the_locks() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000, ETH=10_000)
    bid = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    ask = service.place_limit(ALICE, ASK, 40_000, 10_000, market=ETH_USDC).order_id
    assert service.balance(ALICE, ETH) == BalanceRecord(0, 10_000)
    # fees now in ETH: the bid needs no quote fee, the ask needs 10 bps of 10_000 = 10 more ETH
    fees = FeeSchedule(maker_bps=10, taker_bps=10, fee_token=ETH)
    assert fee_cancelled(service.set_fees(ETH_USDC, fees)) == [ask]
    service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(10_000, 10_000)
    assert service.balance(ALICE, ETH) == BalanceRecord(10_000, 0)
    assert [o.order.order_id for o in service.open_orders(ALICE)] == [bid]
    assert service.get_market(ETH_USDC).fee_token == ETH


def test_a_new_fee_account_receives_fees_and_cannot_trade() -> None:
    service = make_service()
    vault = AccountId("vault")
    service.set_fees(ETH_USDC, FeeSchedule(maker_bps=10, taker_bps=20, fee_account=vault))
    fund(service, ALICE, USDC=20_000)
    fund(service, BOB, ETH=50)
    service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    service.place_limit(BOB, ASK, 20_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert service.balance(vault, USDC) == BalanceRecord(30, 0)
    assert service.balance(FEE_ACCOUNT, USDC) == BalanceRecord()
    fund(service, vault, USDC=1_000)
    before = capture(service)
    with pytest.raises(InvalidOrder, match=r"account vault is the fee account; it cannot trade"):
        service.place_limit(vault, BID, 20_000, 10, market=ETH_USDC)
    assert capture(service) == before


def test_set_fees_refusals_change_nothing() -> None:
    service = make_service()
    fund(service, ALICE, USDC=20_000)
    service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC)
    before = capture(service)
    with pytest.raises(InvalidConfig, match=r"fee token SOL is neither ETH nor USDC"):
        service.set_fees(ETH_USDC, FeeSchedule(maker_bps=500, fee_token=SOL))
    assert capture(service) == before
    with pytest.raises(MarketNotFound, match=r"unknown market 'DOGE/USDC'"):
        service.set_fees(MarketId("DOGE/USDC"), FeeSchedule())
    assert capture(service) == before
    assert service.get_market(ETH_USDC).fees == FeeSchedule(maker_bps=10, taker_bps=20)
    with pytest.raises(InvalidConfig, match=r"maker_bps 10001 must be an integer from -taker_bps"):
        FeeSchedule(maker_bps=10_001)
    with pytest.raises(InvalidConfig, match=r"maker_bps -21 .* a rebate, paid out of the taker"):
        FeeSchedule(maker_bps=-21, taker_bps=20)
    with pytest.raises(InvalidConfig, match=r"taker_bps -1 must be an integer from 0 to 10000"):
        FeeSchedule(taker_bps=-1)
    service.check_invariants()


def test_ioc_with_fees_releases_the_unfilled_lock() -> None:
    service = make_service()
    fund(service, ALICE, USDC=50_000)
    fund(service, BOB, ETH=20)
    service.place_limit(BOB, ASK, 20_000, 20, market=ETH_USDC)
    placement = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC, tif=TimeInForce.IOC)
    service.check_invariants()
    assert (placement.filled_qty, placement.open_qty) == (20, 0)
    assert placement.status is OrderStatus.CANCELLED
    # 20 at 20_000 = 4_000 + 8 taker fee; nothing stays locked
    assert service.balance(ALICE, USDC) == BalanceRecord(50_000 - 4_008, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(4_000 - 4, 0)
    assert service.open_orders(ALICE) == []
    assert service.get_order(OrderId(placement.order_id)) is None


def test_base_fees_round_down_per_fill() -> None:
    service = make_service()
    fund(service, ALICE, SOL=7_510)
    fund(service, BOB, USDC=20_000)
    service.place_limit(ALICE, ASK, 200, 7_495, market=SOL_USDC)
    service.check_invariants()
    # resting 7_495 holds 7_495 + floor(7.495) = 7_502
    assert service.balance(ALICE, SOL) == BalanceRecord(8, 7_502)
    service.place_limit(BOB, BID, 200, 7_495, market=SOL_USDC)
    service.check_invariants()
    # taker fee floor(14.99) = 14, maker fee floor(7.495) = 7; cost 200 * 7_495 // 100 = 14_990
    assert service.balance(BOB, SOL) == BalanceRecord(7_495 - 14, 0)
    assert service.balance(BOB, USDC) == BalanceRecord(20_000 - 14_990, 0)
    assert service.balance(ALICE, SOL) == BalanceRecord(8, 0)
    assert service.balance(ALICE, USDC) == BalanceRecord(14_990, 0)
    assert service.balance(FEE_ACCOUNT, SOL) == BalanceRecord(21, 0)


@pytest.mark.parametrize("in_base", [False, True], ids=["fees in quote", "fees in base"])
@pytest.mark.parametrize("maker_side", [BID, ASK])
def test_a_maker_rebate_is_paid_out_of_the_taker_fee_of_each_fill(
    maker_side: Side, in_base: bool
) -> None:
    """Maker fee -15 bps, taker 20: each fill's rebate (rounded down) goes to the maker and the
    fee account keeps the taker fee less it; a resting maker holds nothing for its fee."""
    service = make_service()
    market = SOL_USDC if in_base else ETH_USDC
    service.set_fees(
        market, FeeSchedule(maker_bps=-15, taker_bps=20, fee_token=SOL if in_base else None)
    )
    fund(service, ALICE, USDC=10**9, SOL=10**7, ETH=10**7)
    fund(service, BOB, USDC=10**9, SOL=10**7, ETH=10**7)
    maker = service.place_limit(ALICE, maker_side, 20_020, 3_505, market=market)
    token = SOL if in_base else USDC
    before = {who: service.balance(who, token) for who in (ALICE, BOB, FEE_ACCOUNT)}
    for qty in (1_505, 2_000):  # two fills of one maker: a partial, then the rest
        service.place_limit(BOB, maker_side.opposite, 20_020, qty, market=market)
        service.check_invariants()
    assert service.get_order(maker.order_id) is None
    fees = [fill_fees(service.get_market(market), 20_020, qty) for qty in (1_505, 2_000)]
    assert all(maker_fee < 0 and -maker_fee <= taker_fee for maker_fee, taker_fee in fees)
    fee_gain = service.balance(FEE_ACCOUNT, token).available - before[FEE_ACCOUNT].available
    assert fee_gain == sum(maker_fee + taker_fee for maker_fee, taker_fee in fees) >= 0
    assert service.balance(ALICE, token).locked == 0
    # The maker gets (or gives) the fills' value in `token` and gets every rebate on top.
    amounts = [qty if in_base else 20_020 * qty // 100 for qty in (1_505, 2_000)]
    receives_token = (maker_side is BID) is in_base
    sign = 1 if receives_token else -1
    rebates = -sum(maker_fee for maker_fee, _ in fees)
    total = service.balance(ALICE, token).available
    assert total - before[ALICE].total == sign * sum(amounts) + rebates
