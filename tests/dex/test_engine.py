"""Goal: every matching, cancelling and reading path of every installed engine does what its contract says.
Method: small hand-built books with exact expected trades, levels and orders, checked after each call."""

from __future__ import annotations

import pytest

from tachyon.dex.ids import OrderId
from tachyon.dex.in_memory import TRADES_RECENT_MAX
from tachyon.dex.model import (
    BookDepth,
    BookLevel,
    MarketConfig,
    OrderStatus,
    Side,
    TimeInForce,
)
from tachyon.errors import InvalidAmount, InvalidOrder, OrderNotFound, PostOnlyWouldTake
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    DEEP,
    ODD_MARKET,
    capture,
    execute_limit,
    next_id,
    order,
    random_calls,
    trade,
    trade_summary,
    traded,
)
from tests.support.engines import EngineUnderTest

# -- resting and filling -------------------------------------------------------------------


def test_limit_on_empty_book_rests_with_id_one(make: EngineUnderTest) -> None:
    engine = make()
    oid, trades = engine.place_limit(ALICE, Side.BID, 100, 10)
    assert (oid, trades) == (1, [])
    assert engine.get_order(oid) == order(1, ALICE, Side.BID, 100, 10, 10, 0, False)
    assert engine.get_order(oid).status is OrderStatus.NEW  # type: ignore[union-attr]
    assert engine.open_qty(oid) == 10
    assert engine.snapshot(5) == BookDepth([BookLevel(100, 10)], [])
    engine.check_invariants()


def test_non_crossing_orders_rest_on_both_sides(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.BID, 99, 10)
    oid, trades = engine.place_limit(BOB, Side.ASK, 100, 7)
    assert (oid, trades) == (2, [])
    assert engine.snapshot(5) == BookDepth([BookLevel(99, 10)], [BookLevel(100, 7)])
    assert engine.recent_trades(10) == []
    engine.check_invariants()


def test_partial_fill_rests_the_taker_remainder(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    oid, trades = engine.place_limit(ALICE, Side.BID, 101, 8)
    assert trades == [trade(1, 100, 5, 1, 2, BOB, ALICE, Side.BID)]
    assert engine.get_order(oid) == order(2, ALICE, Side.BID, 101, 8, 3, 5, False)
    assert engine.get_order(oid).status is OrderStatus.PARTIALLY_FILLED  # type: ignore[union-attr]
    assert engine.get_order(OrderId(1)) is None
    assert engine.snapshot(5) == BookDepth([BookLevel(101, 3)], [])
    engine.check_invariants()


def test_partial_fill_leaves_the_maker_remainder(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.BID, 100, 10)
    oid, trades = engine.place_limit(ALICE, Side.ASK, 100, 4)
    assert trades == [trade(1, 100, 4, 1, oid, BOB, ALICE, Side.ASK)]
    assert engine.get_order(oid) is None
    assert engine.get_order(OrderId(1)) == order(1, BOB, Side.BID, 100, 10, 6, 4, False)
    assert engine.open_qty(OrderId(1)) == 6
    assert engine.snapshot(5) == BookDepth([BookLevel(100, 6)], [])
    engine.check_invariants()


def test_exact_fill_empties_both(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 10)
    oid, trades = engine.place_limit(ALICE, Side.BID, 100, 10)
    assert trade_summary(trades) == [(100, 10, 1, BOB)]
    assert engine.get_order(oid) is None
    assert engine.open_qty(OrderId(1)) == 0
    assert engine.snapshot(5) == BookDepth([], [])
    engine.check_invariants()


def test_bid_sweeps_ask_levels_best_first_and_rests_the_rest(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 102, 5)
    engine.place_limit(CAROL, Side.ASK, 100, 5)
    engine.place_limit(BOB, Side.ASK, 101, 5)
    oid, trades = engine.place_limit(ALICE, Side.BID, 101, 12)
    assert trade_summary(trades) == [(100, 5, 2, CAROL), (101, 5, 3, BOB)]
    assert [t.trade_id for t in trades] == [1, 2]
    assert all(t.taker_order_id == oid and t.taker_side is Side.BID for t in trades)
    assert engine.snapshot(5) == BookDepth([BookLevel(101, 2)], [BookLevel(102, 5)])
    engine.check_invariants()


def test_ask_sweeps_bid_levels_best_first(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.BID, 98, 5)
    engine.place_limit(CAROL, Side.BID, 100, 5)
    engine.place_limit(BOB, Side.BID, 99, 5)
    _, trades = engine.place_limit(ALICE, Side.ASK, 97, 20)
    assert trade_summary(trades) == [(100, 5, 2, CAROL), (99, 5, 3, BOB), (98, 5, 1, BOB)]
    assert engine.snapshot(5) == BookDepth([], [BookLevel(97, 5)])
    engine.check_invariants()


def test_fifo_within_a_level(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 4)
    engine.place_limit(CAROL, Side.ASK, 100, 4)
    engine.place_limit(BOB, Side.ASK, 100, 4)
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 10)
    assert trade_summary(trades) == [(100, 4, 1, BOB), (100, 4, 2, CAROL), (100, 2, 3, BOB)]
    assert engine.get_order(OrderId(3)) == order(3, BOB, Side.ASK, 100, 4, 2, 2, False)
    engine.check_invariants()


def test_price_beats_time(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 102, 5)  # older but worse
    engine.place_limit(CAROL, Side.ASK, 101, 5)
    _, trades = engine.place_limit(ALICE, Side.BID, 102, 5)
    assert trade_summary(trades) == [(101, 5, 2, CAROL)]
    assert engine.snapshot(5).asks == [BookLevel(102, 5)]


@pytest.mark.parametrize("taker_side", [Side.BID, Side.ASK])
def test_trades_at_the_makers_price(make: EngineUnderTest, taker_side: Side) -> None:
    engine = make()
    maker_price, taker_price = (100, 110) if taker_side is Side.BID else (110, 100)
    engine.place_limit(BOB, taker_side.opposite, maker_price, 5)
    _, trades = engine.place_limit(ALICE, taker_side, taker_price, 5)
    assert [(t.price, t.taker_side) for t in trades] == [(maker_price, taker_side)]


def test_trade_ids_continue_across_orders(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 10)
    _, first = engine.place_limit(ALICE, Side.BID, 100, 3)
    _, second = engine.place_limit(CAROL, Side.BID, 100, 3)
    assert [t.trade_id for t in first + second] == [1, 2]


def test_order_ids_are_sequential_including_takers_that_do_not_rest(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    ioc, _ = engine.place_limit(ALICE, Side.BID, 100, 5, tif=TimeInForce.IOC)
    market, _ = engine.place_market(ALICE, Side.BID, 5)
    gtc, _ = engine.place_limit(ALICE, Side.BID, 90, 5)
    assert (ioc, market, gtc) == (2, 3, 4)


# -- time in force and post-only ------------------------------------------------------------


def test_gtc_is_the_default_and_rests(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    oid, _ = engine.place_limit(ALICE, Side.BID, 100, 5)
    assert engine.open_qty(oid) == 2


@pytest.mark.needs(tif=TimeInForce.IOC)
def test_ioc_fills_what_it_can_and_cancels_the_rest(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    engine.place_limit(BOB, Side.ASK, 105, 3)
    oid, trades = engine.place_limit(ALICE, Side.BID, 100, 5, tif=TimeInForce.IOC)
    assert trade_summary(trades) == [(100, 3, 1, BOB)]
    assert engine.get_order(oid) is None
    assert engine.snapshot(5) == BookDepth([], [BookLevel(105, 3)])
    engine.check_invariants()


@pytest.mark.needs(tif=TimeInForce.IOC)
def test_ioc_that_does_not_cross_changes_nothing_but_uses_an_id(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    before = engine.snapshot(DEEP)
    oid, trades = engine.place_limit(ALICE, Side.BID, 99, 5, tif=TimeInForce.IOC)
    assert (oid, trades) == (2, [])
    assert engine.snapshot(DEEP) == before
    assert next_id(engine) == 3


@pytest.mark.needs(tif=TimeInForce.FOK)
def test_fok_fills_completely_across_levels(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    engine.place_limit(CAROL, Side.ASK, 101, 3)
    engine.place_limit(BOB, Side.ASK, 102, 3)
    oid, trades = engine.place_limit(ALICE, Side.BID, 101, 6, tif=TimeInForce.FOK)
    assert trade_summary(trades) == [(100, 3, 1, BOB), (101, 3, 2, CAROL)]
    assert engine.get_order(oid) is None
    assert engine.snapshot(5) == BookDepth([], [BookLevel(102, 3)])


@pytest.mark.needs(tif=TimeInForce.FOK)
def test_fok_partially_filling_a_maker(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.BID, 100, 10)
    _, trades = engine.place_limit(ALICE, Side.ASK, 100, 4, tif=TimeInForce.FOK)
    assert trade_summary(trades) == [(100, 4, 1, BOB)]
    assert engine.open_qty(OrderId(1)) == 6


@pytest.mark.needs(post_only=True)
def test_post_only_rests_when_it_does_not_cross(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 101, 5)
    oid, trades = engine.place_limit(ALICE, Side.BID, 100, 5, post_only=True)
    assert trades == []
    assert engine.get_order(oid) == order(oid, ALICE, Side.BID, 100, 5, 5, 0, True)
    # A resting post-only order is an ordinary maker.
    _, taken = engine.place_limit(CAROL, Side.ASK, 100, 2)
    assert trade_summary(taken) == [(100, 2, oid, ALICE)]
    engine.check_invariants()


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_own_order(make: EngineUnderTest) -> None:
    engine = make()
    oid, _ = engine.place_limit(ALICE, Side.BID, 100, 5)
    engine.place_limit(BOB, Side.BID, 100, 7)
    assert engine.cancel(oid, ALICE) is True
    assert engine.get_order(oid) is None
    assert engine.open_qty(oid) == 0
    assert engine.snapshot(5).bids == [BookLevel(100, 7)]
    assert engine.cancel(oid, ALICE) is False  # already gone
    engine.check_invariants()
    # The cancelled order is gone for self-trade prevention too: alice's ask meets only bob's.
    report = execute_limit(engine, ALICE, Side.ASK, 100, 7)
    assert trade_summary(report.trades) == [(100, 7, 2, BOB)]
    assert list(report.reductions) == []


def test_cancel_without_owner_cancels_anyones_order(make: EngineUnderTest) -> None:
    engine = make()
    oid, _ = engine.place_limit(BOB, Side.ASK, 100, 5)
    assert engine.cancel(oid) is True
    assert engine.snapshot(5) == BookDepth([], [])
    engine.check_invariants()


@pytest.mark.parametrize("unknown", [0, -1, 3, 99])
def test_cancel_unknown_id_returns_false_and_changes_nothing(
    make: EngineUnderTest, unknown: int
) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    engine.place_limit(ALICE, Side.BID, 90, 5)
    before = capture(engine)
    assert engine.cancel(OrderId(unknown)) is False
    assert engine.cancel(OrderId(unknown), ALICE) is False
    assert capture(engine) == before


def test_cancel_of_another_owners_order_returns_false_and_changes_nothing(
    make: EngineUnderTest,
) -> None:
    engine = make()
    oid, _ = engine.place_limit(BOB, Side.ASK, 100, 5)
    before = capture(engine)
    assert engine.cancel(oid, ALICE) is False
    assert capture(engine) == before
    assert engine.get_order(oid) == order(oid, BOB, Side.ASK, 100, 5, 5, 0, False)
    assert engine.cancel(oid, BOB) is True


def test_cancel_of_a_filled_order_returns_false(make: EngineUnderTest) -> None:
    engine = make()
    oid, _ = engine.place_limit(BOB, Side.ASK, 100, 5)
    engine.place_limit(ALICE, Side.BID, 100, 5)
    assert engine.cancel(oid) is False


def test_cancel_in_the_middle_of_a_level_keeps_fifo(make: EngineUnderTest) -> None:
    engine = make()
    ids = [engine.place_limit(BOB if i % 2 else CAROL, Side.ASK, 100, 2)[0] for i in range(4)]
    assert engine.cancel(ids[1]) is True
    assert engine.snapshot(5).asks == [BookLevel(100, 6)]
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 6)
    assert [t.maker_order_id for t in trades] == [ids[0], ids[2], ids[3]]
    engine.check_invariants()


def test_cancelling_the_best_level_exposes_the_next(make: EngineUnderTest) -> None:
    engine = make()
    best, _ = engine.place_limit(BOB, Side.BID, 101, 5)
    engine.place_limit(BOB, Side.BID, 100, 5)
    engine.cancel(best)
    assert engine.snapshot(5).bids == [BookLevel(100, 5)]
    _, trades = engine.place_limit(ALICE, Side.ASK, 100, 5)
    assert trade_summary(trades) == [(100, 5, 2, BOB)]
    engine.check_invariants()


def test_many_cancels_in_one_level_then_matching_keeps_order(make: EngineUnderTest) -> None:
    # Enough dead records to make the level rebuild its queue.
    engine = make()
    ids = [engine.place_limit(BOB, Side.ASK, 100, 1)[0] for _ in range(300)]
    cancelled = [oid for i, oid in enumerate(ids) if i % 4 != 3]
    for oid in cancelled:
        assert engine.cancel(oid) is True
        engine.check_invariants()
    live = [oid for i, oid in enumerate(ids) if i % 4 == 3]
    assert engine.snapshot(5).asks == [BookLevel(100, len(live))]
    _, trades = engine.place_limit(ALICE, Side.BID, 100, len(live))
    assert [t.maker_order_id for t in trades] == live
    assert engine.snapshot(5) == BookDepth([], [])
    engine.check_invariants()


def test_many_emptied_levels_below_the_best_then_reuse_and_match(make: EngineUnderTest) -> None:
    # Enough empty levels behind the best to make the side rebuild its price index.
    engine = make()
    engine.place_limit(BOB, Side.BID, 1000, 1)
    deep = {price: engine.place_limit(BOB, Side.BID, price, 1)[0] for price in range(500, 800)}
    for price, oid in deep.items():
        if price % 5:
            assert engine.cancel(oid) is True
        engine.check_invariants()
    remaining = sorted((p for p in deep if p % 5 == 0), reverse=True)
    assert engine.snapshot(DEEP).bids == [BookLevel(1000, 1)] + [BookLevel(p, 1) for p in remaining]
    # A price whose level was emptied can hold orders again.
    engine.place_limit(CAROL, Side.BID, 501, 2)
    engine.check_invariants()
    _, trades = engine.place_limit(ALICE, Side.ASK, 500, DEEP)
    expected = [1000, *[p for p in remaining if p > 501], 501, 500]
    assert [t.price for t in trades] == expected
    assert engine.snapshot(DEEP) == BookDepth([], [BookLevel(500, DEEP - len(trades) - 1)])
    engine.check_invariants()


# -- snapshot and recent trades -------------------------------------------------------------


def test_snapshot_aggregates_levels_best_first_and_honours_depth(make: EngineUnderTest) -> None:
    engine = make()
    for owner, side, price, qty in [
        (ALICE, Side.BID, 99, 3),
        (BOB, Side.BID, 100, 4),
        (CAROL, Side.BID, 99, 5),
        (ALICE, Side.BID, 97, 1),
        (BOB, Side.ASK, 103, 2),
        (CAROL, Side.ASK, 101, 6),
        (ALICE, Side.ASK, 103, 7),
    ]:
        engine.place_limit(owner, side, price, qty)
    assert engine.snapshot(DEEP) == BookDepth(
        [BookLevel(100, 4), BookLevel(99, 8), BookLevel(97, 1)],
        [BookLevel(101, 6), BookLevel(103, 9)],
    )
    assert engine.snapshot(2) == BookDepth(
        [BookLevel(100, 4), BookLevel(99, 8)], [BookLevel(101, 6), BookLevel(103, 9)]
    )
    assert engine.snapshot(1) == BookDepth([BookLevel(100, 4)], [BookLevel(101, 6)])
    assert engine.snapshot(0) == BookDepth([], [])


@pytest.mark.parametrize("depth", [-1, 1.0, True, "3", None])
def test_snapshot_rejects_bad_depth(make: EngineUnderTest, depth: object) -> None:
    engine = make()
    with pytest.raises(InvalidOrder, match="depth"):
        engine.snapshot(depth)  # type: ignore[arg-type]


def test_recent_trades_newest_first_with_limit(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    engine.place_limit(CAROL, Side.ASK, 101, 3)
    _, trades = engine.place_limit(ALICE, Side.BID, 101, 6)
    _, more = engine.place_limit(ALICE, Side.ASK, 90, 1)
    assert more == []  # nothing to sell into: the ask rests
    assert engine.recent_trades(10) == [trades[1], trades[0]]
    assert engine.recent_trades(1) == [trades[1]]
    assert engine.recent_trades(0) == []


def test_recent_trades_is_capped(make: EngineUnderTest) -> None:
    engine = make()
    total = TRADES_RECENT_MAX + 5
    engine.place_limit(BOB, Side.ASK, 100, total)
    for _ in range(total):
        engine.place_market(ALICE, Side.BID, 1)
    recent = engine.recent_trades(total)
    assert len(recent) == TRADES_RECENT_MAX
    assert recent[0].trade_id == total
    assert recent[-1].trade_id == 6
    assert [t.trade_id for t in recent] == list(range(total, 5, -1))
    engine.check_invariants()


@pytest.mark.parametrize("limit", [-1, 2.0, False, "1"])
def test_recent_trades_rejects_bad_limit(make: EngineUnderTest, limit: object) -> None:
    engine = make()
    with pytest.raises(InvalidOrder, match="limit"):
        engine.recent_trades(limit)  # type: ignore[arg-type]


# -- estimate_market_cost, get_order, open_qty ----------------------------------------------


def test_estimate_market_cost_walks_levels_and_changes_nothing(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    engine.place_limit(CAROL, Side.ASK, 102, 4)
    engine.place_limit(BOB, Side.BID, 95, 5)
    engine.place_limit(ALICE, Side.BID, 96, 2)
    before = capture(engine)
    assert engine.estimate_market_cost(Side.BID, 5) == (5, 3 * 100 + 2 * 102)
    assert engine.estimate_market_cost(Side.BID, 100) == (7, 3 * 100 + 4 * 102)
    assert engine.estimate_market_cost(Side.ASK, 4) == (4, 2 * 96 + 2 * 95)
    # The estimate ignores ownership and self-trade prevention: it is what the book holds.
    assert engine.estimate_market_cost(Side.ASK, 7) == (7, 2 * 96 + 5 * 95)
    assert capture(engine) == before
    engine.check_invariants()


def test_estimate_market_cost_with_a_limit_price_stops_at_levels_beyond_it(
    make: EngineUnderTest,
) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 3)
    engine.place_limit(CAROL, Side.ASK, 102, 4)
    engine.place_limit(BOB, Side.BID, 95, 5)
    engine.place_limit(ALICE, Side.BID, 96, 2)
    before = capture(engine)
    assert engine.estimate_market_cost(Side.BID, 100, limit_price=101) == (3, 3 * 100)
    assert engine.estimate_market_cost(Side.BID, 100, limit_price=102) == (7, 3 * 100 + 4 * 102)
    assert engine.estimate_market_cost(Side.BID, 5, limit_price=99) == (0, 0)
    assert engine.estimate_market_cost(Side.ASK, 100, limit_price=96) == (2, 2 * 96)
    assert engine.estimate_market_cost(Side.ASK, 100, limit_price=95) == (7, 2 * 96 + 5 * 95)
    assert engine.estimate_market_cost(Side.ASK, 1, limit_price=97) == (0, 0)
    assert capture(engine) == before


@pytest.mark.parametrize("limit_price", [0, -1, 2.5, True, "100"])
def test_estimate_market_cost_refuses_a_bad_limit_price(
    make: EngineUnderTest, limit_price: object
) -> None:
    with pytest.raises(InvalidAmount, match="limit_price"):
        make().estimate_market_cost(Side.BID, 1, limit_price=limit_price)  # type: ignore[arg-type]


def test_estimate_market_cost_on_empty_side(make: EngineUnderTest) -> None:
    assert make().estimate_market_cost(Side.BID, 10) == (0, 0)


def test_estimate_market_cost_with_base_decimals(make: EngineUnderTest) -> None:
    engine = make(ODD_MARKET)  # 10 base minor units per whole token
    engine.place_limit(BOB, Side.ASK, 1000, 30)
    engine.place_limit(BOB, Side.ASK, 1005, 20)
    assert engine.estimate_market_cost(Side.BID, 40) == (40, 1000 * 30 // 10 + 1005 * 10 // 10)


@pytest.mark.parametrize(
    ("side", "qty", "error", "fragment"),
    [
        ("bid", 5, InvalidOrder, "side 'bid'"),
        (Side.BID, 0, InvalidAmount, "qty 0"),
        (Side.BID, -5, InvalidAmount, "qty -5"),
        (Side.BID, 2.5, InvalidAmount, "qty 2.5"),
        (Side.ASK, True, InvalidAmount, "qty True"),
    ],
)
def test_estimate_market_cost_rejects_bad_input(
    make: EngineUnderTest, side: object, qty: object, error: type[Exception], fragment: str
) -> None:
    engine = make()
    with pytest.raises(error) as info:
        engine.estimate_market_cost(side, qty)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_get_order_and_open_qty_for_unknown_ids(make: EngineUnderTest) -> None:
    engine = make()
    assert engine.get_order(OrderId(1)) is None
    assert engine.open_qty(OrderId(1)) == 0
    engine.place_limit(ALICE, Side.BID, 100, 5)
    assert engine.get_order(OrderId(2)) is None
    assert engine.open_qty(OrderId(2)) == 0


def test_open_orders_lists_every_resting_order_in_id_order(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.BID, 100, 5)
    engine.place_limit(BOB, Side.ASK, 105, 5)
    engine.place_limit(CAROL, Side.BID, 101, 5)
    engine.cancel(OrderId(1))
    assert [o.order_id for o in engine.open_orders()] == [2, 3]


# -- supplied order ids ---------------------------------------------------------------------


def test_supplied_order_id_is_used_and_numbering_continues_after_it(make: EngineUnderTest) -> None:
    engine = make()
    oid, _ = engine.place_limit(ALICE, Side.BID, 100, 5, order_id=OrderId(40))
    assert oid == 40
    assert engine.get_order(OrderId(40)) is not None
    assert engine.place_limit(ALICE, Side.BID, 99, 5)[0] == 41
    # Equal to the next id is allowed too.
    assert engine.place_limit(ALICE, Side.BID, 98, 5, order_id=OrderId(42))[0] == 42
    market, _ = engine.place_market(BOB, Side.ASK, 5, order_id=OrderId(50))
    assert market == 50
    assert engine.place_limit(ALICE, Side.BID, 97, 5)[0] == 51
    engine.check_invariants()


def test_supplied_order_id_appears_in_trades(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5, order_id=OrderId(7))
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 5, order_id=OrderId(9))
    assert [(t.maker_order_id, t.taker_order_id) for t in trades] == [(7, 9)]


# -- non-default market ----------------------------------------------------------------------


def test_non_default_market_matches_in_its_units(make: EngineUnderTest) -> None:
    engine = make(ODD_MARKET)
    engine.place_limit(BOB, Side.ASK, 1005, 30)
    engine.place_limit(CAROL, Side.ASK, 1000, 20)
    oid, trades = engine.place_limit(ALICE, Side.BID, 1005, 60)
    assert trade_summary(trades) == [(1000, 20, 2, CAROL), (1005, 30, 1, BOB)]
    assert engine.get_order(oid) == order(oid, ALICE, Side.BID, 1005, 60, 10, 50, False)
    assert engine.snapshot(5) == BookDepth([BookLevel(1005, 10)], [])
    assert engine.estimate_market_cost(Side.ASK, 10) == (10, 1005)
    engine.check_invariants()


def test_large_values_at_the_limits_are_accepted(make: EngineUnderTest) -> None:
    engine = make()
    from tachyon.dex.units import PRICE_MAX, QTY_MAX

    oid, _ = engine.place_limit(ALICE, Side.ASK, PRICE_MAX, QTY_MAX)
    assert engine.snapshot(1).asks == [BookLevel(PRICE_MAX, QTY_MAX)]
    assert engine.open_qty(oid) == QTY_MAX
    engine.check_invariants()


# -- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("config", [MarketConfig(), ODD_MARKET], ids=["default", "odd"])
def test_two_engines_fed_the_same_calls_agree(make: EngineUnderTest, config: MarketConfig) -> None:
    first, second = make(config), make(config)
    results = random_calls(first, seed=11, count=600, capabilities=make.capabilities)
    assert random_calls(second, seed=11, count=600, capabilities=make.capabilities) == results
    assert first.to_state() == second.to_state()
    assert first.snapshot(DEEP) == second.snapshot(DEEP)
    assert first.recent_trades(TRADES_RECENT_MAX) == second.recent_trades(TRADES_RECENT_MAX)
    assert traded(results), "the calls never traded"


def test_top_is_the_best_prices_and_the_last_trade_after_every_call(make: EngineUnderTest) -> None:
    engine = make()
    assert engine.top() == (None, None, None)
    for seed in range(400):
        random_calls(engine, seed=seed, count=1, capabilities=make.capabilities)
        book, trades = engine.snapshot(1), engine.recent_trades(1)
        assert engine.top() == (
            book.bids[0].price if book.bids else None,
            book.asks[0].price if book.asks else None,
            trades[0].price if trades else None,
        )
    assert engine.recent_trades(1), "the calls never traded"


# -- amend -------------------------------------------------------------------------------------


@pytest.mark.needs(amend=True)
def test_amend_down_keeps_priority_and_up_or_a_new_price_loses_it(make: EngineUnderTest) -> None:
    engine = make()
    first = engine.place_limit(ALICE, Side.BID, 100, 10)[0]
    second = engine.place_limit(BOB, Side.BID, 100, 10)[0]
    report = engine.amend(first, 100, 6)  # smaller: stays first in the queue
    assert (report[0], report[1], report[2]) == (first, [], 6)
    _, trades = engine.place_limit(CAROL, Side.ASK, 100, 6)
    assert [(t.maker_order_id, t.qty) for t in trades] == [(first, 6)]
    third = engine.place_limit(ALICE, Side.BID, 100, 4)[0]
    engine.amend(second, 100, 12)  # larger: behind the third order now
    _, trades = engine.place_limit(CAROL, Side.ASK, 100, 16)
    assert [(t.maker_order_id, t.qty) for t in trades] == [(third, 4), (second, 12)]
    fourth = engine.place_limit(ALICE, Side.BID, 99, 5)[0]
    fifth = engine.place_limit(BOB, Side.BID, 98, 5)[0]
    engine.amend(fifth, 99, 5)  # a new price: the back of its new level
    _, trades = engine.place_limit(CAROL, Side.ASK, 99, 10)
    assert [t.maker_order_id for t in trades] == [fourth, fifth]
    engine.check_invariants()


@pytest.mark.needs(amend=True)
def test_amend_qty_is_the_new_total_filled_part_included(make: EngineUnderTest) -> None:
    engine = make()
    bid = engine.place_limit(ALICE, Side.BID, 100, 10)[0]
    engine.place_limit(BOB, Side.ASK, 100, 4)  # fills 4 of 10
    report = engine.amend(bid, 100, 7)  # total 7: 4 filled, 3 open
    assert report[2] == 3
    order = engine.get_order(bid)
    assert order is not None
    assert (order.qty, order.remaining_qty, order.filled_qty) == (7, 3, 4)
    before, expected_id = capture(engine), next_id(engine)
    for total in (4, 3):  # what is filled, or below: refused
        with pytest.raises(InvalidOrder, match=f"qty {total} is the order's new total"):
            engine.amend(bid, 100, total)
    with pytest.raises(InvalidOrder, match="already has price 100 and qty 7"):
        engine.amend(bid, 100, 7)
    with pytest.raises(InvalidAmount):
        engine.amend(bid, 100, 0)
    with pytest.raises(OrderNotFound):
        engine.amend(OrderId(99), 100, 5)
    assert capture(engine) == before and next_id(engine) == expected_id
    engine.check_invariants()


@pytest.mark.needs(amend=True)
def test_an_amend_that_crosses_matches_at_the_makers_prices(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 101, 3)
    engine.place_limit(BOB, Side.ASK, 102, 3)
    bid = engine.place_limit(ALICE, Side.BID, 99, 5)[0]
    order_id, trades, resting, *_ = engine.amend(bid, 103, 5)
    assert order_id == bid
    assert [(t.price, t.qty, t.taker_order_id) for t in trades] == [(101, 3, bid), (102, 2, bid)]
    assert resting == 0 and engine.get_order(bid) is None
    assert engine.snapshot(DEEP) == BookDepth([], [BookLevel(102, 1)])
    engine.check_invariants()


@pytest.mark.needs(amend=True, post_only=True)
def test_a_post_only_amend_that_would_take_is_refused(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 101, 3)
    bid = engine.place_limit(ALICE, Side.BID, 99, 5, post_only=True)[0]
    before = capture(engine)
    with pytest.raises(PostOnlyWouldTake):
        engine.amend(bid, 101, 5)
    assert capture(engine) == before
    engine.amend(bid, 100, 5)
    assert engine.snapshot(1).bids == [BookLevel(100, 5)]
