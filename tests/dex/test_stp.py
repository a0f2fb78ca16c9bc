"""Goal: each self-trade-prevention mode does what SelfTradePrevention documents, and reports it.
Method: books where a taker meets its owner's resting orders; exact trades, book and the call's
EngineReport (its reductions, in order among the trades, what rests, the taker's cut, the stop)."""

from __future__ import annotations

import pytest

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.events import Reduced
from tachyon.dex.ids import OrderId
from tachyon.dex.model import (
    STP_DEFAULT,
    BookDepth,
    BookLevel,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from tachyon.errors import FillOrKillUnfillable
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    capture,
    execute_limit,
    execute_market,
    next_id,
    order,
    reduced,
    reduced_after,
    trade_summary,
)
from tests.support.engines import EngineUnderTest, engine_cases

STP = SelfTradePrevention


def own_then_other(make: EngineUnderTest) -> OrderBookEngine:
    """Asks: 1 bob 5@100, 2 alice 5@101, 3 carol 5@101 (behind alice's)."""
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    engine.place_limit(ALICE, Side.ASK, 101, 5)
    engine.place_limit(CAROL, Side.ASK, 101, 5)
    return engine


def test_default_mode_is_cancel_maker(make: EngineUnderTest) -> None:
    assert STP_DEFAULT is STP.CANCEL_MAKER
    engine = own_then_other(make)
    report = execute_limit(engine, ALICE, Side.BID, 101, 15)
    oid = report.order_id
    assert trade_summary(report.trades) == [(100, 5, 1, BOB), (101, 5, 3, CAROL)]
    # Alice's own ask was cancelled after the first trade and before the second.
    assert list(report.reductions) == [Reduced(OrderId(2), ALICE, Side.ASK, 101, 0, 1)]
    assert (report.resting_qty, report.taker_cut, report.stopped) == (5, 0, False)
    assert engine.get_order(OrderId(2)) is None
    assert engine.get_order(oid) == order(oid, ALICE, Side.BID, 101, 15, 5, 10, False)
    engine.check_invariants()


def test_cancel_maker_cancels_every_own_maker_it_meets(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.BID, 100, 5)
    engine.place_limit(ALICE, Side.BID, 99, 5)
    engine.place_limit(BOB, Side.BID, 99, 5)
    report = execute_limit(engine, ALICE, Side.ASK, 99, 5, stp=STP.CANCEL_MAKER)
    assert trade_summary(report.trades) == [(99, 5, 3, BOB)]
    assert reduced_after(report) == [(1, 0, 0), (2, 0, 0)]  # both before bob's fill
    assert (report.resting_qty, report.stopped) == (0, False)
    assert engine.snapshot(5) == BookDepth([], [])
    engine.check_invariants()


def test_cancel_taker_keeps_earlier_fills_and_the_maker(make: EngineUnderTest) -> None:
    engine = own_then_other(make)
    report = execute_limit(engine, ALICE, Side.BID, 101, 15, stp=STP.CANCEL_TAKER)
    oid = report.order_id
    assert trade_summary(report.trades) == [(100, 5, 1, BOB)]
    assert engine.get_order(oid) is None  # the rest of the taker is cancelled, not rested
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 0, True)
    assert engine.get_order(OrderId(2)) == order(2, ALICE, Side.ASK, 101, 5, 5, 0, False)
    assert reduced(report) == []
    assert engine.snapshot(5) == BookDepth([], [BookLevel(101, 10)])
    engine.check_invariants()


def test_cancel_both_cancels_the_maker_and_the_taker_rest(make: EngineUnderTest) -> None:
    engine = own_then_other(make)
    report = execute_limit(engine, ALICE, Side.BID, 101, 15, stp=STP.CANCEL_BOTH)
    oid = report.order_id
    assert trade_summary(report.trades) == [(100, 5, 1, BOB)]
    assert engine.get_order(oid) is None
    assert engine.get_order(OrderId(2)) is None
    assert reduced_after(report) == [(2, 0, 1)]
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 0, True)
    assert engine.snapshot(5) == BookDepth([], [BookLevel(101, 5)])
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_decrement_taker_larger_cancels_maker_and_keeps_matching(make: EngineUnderTest) -> None:
    engine = own_then_other(make)
    report = execute_limit(engine, ALICE, Side.BID, 101, 12, stp=STP.DECREMENT_AND_CANCEL)
    oid = report.order_id
    # 5 filled from bob, 5 decremented against alice's own ask, 2 filled from carol.
    assert trade_summary(report.trades) == [(100, 5, 1, BOB), (101, 2, 3, CAROL)]
    assert reduced_after(report) == [(2, 0, 1)]
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 5, False)
    assert engine.get_order(oid) is None
    assert engine.get_order(OrderId(3)) == order(3, CAROL, Side.ASK, 101, 5, 3, 2, False)
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_decrement_taker_smaller_reduces_the_maker_without_a_trade(make: EngineUnderTest) -> None:
    engine = make()
    maker, _ = engine.place_limit(ALICE, Side.ASK, 100, 10)
    report = execute_limit(engine, ALICE, Side.BID, 100, 4, stp=STP.DECREMENT_AND_CANCEL)
    assert report.trades == []
    assert engine.get_order(report.order_id) is None
    assert list(report.reductions) == [Reduced(maker, ALICE, Side.ASK, 100, 6, 0)]
    # The decrement used up the taker: self-trade prevention cancelled it, nothing rests.
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 4, True)
    # The reduction is not a fill.
    assert engine.get_order(maker) == order(maker, ALICE, Side.ASK, 100, 10, 6, 0, False)
    assert engine.snapshot(5) == BookDepth([], [BookLevel(100, 6)])
    # The reduced maker keeps its place at the front of its level.
    engine.place_limit(BOB, Side.ASK, 100, 5)
    _, taken = engine.place_limit(CAROL, Side.BID, 100, 6)
    assert trade_summary(taken) == [(100, 6, maker, ALICE)]
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_decrement_equal_sizes_cancels_both(make: EngineUnderTest) -> None:
    engine = make()
    maker, _ = engine.place_limit(ALICE, Side.ASK, 100, 5)
    report = execute_limit(engine, ALICE, Side.BID, 100, 5, stp=STP.DECREMENT_AND_CANCEL)
    assert report.trades == []
    assert reduced_after(report) == [(maker, 0, 0)]
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 5, True)
    assert engine.get_order(maker) is None
    assert engine.get_order(report.order_id) is None
    assert engine.snapshot(5) == BookDepth([], [])
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_decrement_then_rest_records_the_cut_as_not_filled(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5)
    engine.place_limit(BOB, Side.ASK, 100, 2)
    report = execute_limit(engine, ALICE, Side.BID, 100, 10, stp=STP.DECREMENT_AND_CANCEL)
    oid = report.order_id
    assert trade_summary(report.trades) == [(100, 2, 2, BOB)]
    assert engine.get_order(oid) == order(oid, ALICE, Side.BID, 100, 10, 3, 2, False)
    assert reduced_after(report) == [(1, 0, 0)]  # before bob's fill
    assert (report.resting_qty, report.taker_cut, report.stopped) == (3, 5, False)
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_decrement_of_a_maker_reduced_before(make: EngineUnderTest) -> None:
    engine = make()
    maker, _ = engine.place_limit(ALICE, Side.ASK, 100, 10)
    engine.place_limit(BOB, Side.BID, 100, 3)  # bob fills 3 of alice's ask
    assert engine.get_order(maker) == order(maker, ALICE, Side.ASK, 100, 10, 7, 3, False)
    first = execute_limit(engine, ALICE, Side.BID, 100, 4, stp=STP.DECREMENT_AND_CANCEL)
    assert reduced(first) == [(maker, 3)]
    assert engine.get_order(maker) == order(maker, ALICE, Side.ASK, 100, 10, 3, 3, False)
    second = execute_limit(engine, ALICE, Side.BID, 100, 4, stp=STP.DECREMENT_AND_CANCEL)
    assert reduced(second) == [(maker, 0)]  # this call's reduction only
    assert (second.resting_qty, second.taker_cut, second.stopped) == (1, 3, False)
    assert engine.get_order(maker) is None
    assert engine.snapshot(5) == BookDepth([BookLevel(100, 1)], [])
    engine.check_invariants()


def test_allow_trades_with_itself(make: EngineUnderTest) -> None:
    engine = make()
    maker, _ = engine.place_limit(ALICE, Side.ASK, 100, 5)
    report = execute_limit(engine, ALICE, Side.BID, 100, 3, stp=STP.ALLOW)
    oid, trades = report.order_id, report.trades
    assert len(trades) == 1
    trade = trades[0]
    assert trade.maker_owner == trade.taker_owner == ALICE
    assert (trade.maker_order_id, trade.taker_order_id, trade.qty, trade.price) == (
        maker,
        oid,
        3,
        100,
    )
    assert reduced(report) == []
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 0, False)
    assert engine.open_qty(maker) == 2


@pytest.mark.parametrize(*engine_cases("stp", list(STP), lambda stp: {"stp": stp}))
def test_modes_do_not_apply_between_different_owners(
    make: EngineUnderTest, stp: SelfTradePrevention
) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    report = execute_limit(engine, ALICE, Side.BID, 100, 5, stp=stp)
    assert trade_summary(report.trades) == [(100, 5, 1, BOB)]
    assert reduced(report) == []
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 0, False)


@pytest.mark.parametrize(
    *engine_cases(
        "stp",
        [STP.CANCEL_MAKER, STP.CANCEL_TAKER, STP.CANCEL_BOTH, STP.DECREMENT_AND_CANCEL],
        lambda stp: {"stp": (stp, STP.ALLOW)},
    )
)
def test_the_takers_mode_decides_not_the_makers(
    make: EngineUnderTest, stp: SelfTradePrevention
) -> None:
    # A maker placed with ALLOW does not let a preventing taker trade with it ...
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5, stp=STP.ALLOW)
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 5, stp=stp)
    assert trades == []
    # ... and a maker placed with a preventing mode does not stop an ALLOW taker.
    engine = make()
    maker, _ = engine.place_limit(ALICE, Side.ASK, 100, 5, stp=stp)
    report = execute_limit(engine, ALICE, Side.BID, 100, 5, stp=STP.ALLOW)
    assert trade_summary(report.trades) == [(100, 5, maker, ALICE)]
    assert reduced(report) == []


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL)
def test_each_call_reports_only_its_own_reductions(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5)
    engine.place_limit(ALICE, Side.ASK, 101, 5)
    first = execute_limit(engine, ALICE, Side.BID, 100, 5)  # cancels ask 1, then rests (id 3)
    assert reduced_after(first) == [(1, 0, 0)]
    assert (first.order_id, first.resting_qty) == (3, 5)
    second = execute_limit(engine, ALICE, Side.BID, 101, 2, stp=STP.DECREMENT_AND_CANCEL)
    assert reduced_after(second) == [(2, 3, 0)]  # not ask 1 again
    # A call that reduces nothing reports nothing, whatever earlier calls reduced.
    for report in (
        execute_limit(engine, BOB, Side.BID, 101, 1),
        execute_limit(engine, BOB, Side.BID, 90, 1),
        execute_market(engine, CAROL, Side.BID, 1),
        execute_limit(engine, BOB, Side.ASK, 101, 1, tif=TimeInForce.IOC),
    ):
        assert reduced(report) == []
        assert (report.taker_cut, report.stopped) == (0, False)
    # The first report still says what its call did: a later call does not change it.
    assert reduced_after(first) == [(1, 0, 0)]
    engine.check_invariants()


@pytest.mark.parametrize(*engine_cases("stp", list(STP), lambda stp: {"stp": stp}))
def test_place_returns_the_reports_order_id_and_trades(
    make: EngineUnderTest, stp: SelfTradePrevention
) -> None:
    placed, executed = own_then_other(make), own_then_other(make)
    report = execute_limit(executed, ALICE, Side.BID, 101, 12, stp=stp)
    assert placed.place_limit(ALICE, Side.BID, 101, 12, stp=stp) == (
        report.order_id,
        report.trades,
    )
    assert placed.to_state() == executed.to_state()
    report = execute_market(executed, BOB, Side.ASK, 3, stp=stp)
    assert placed.place_market(BOB, Side.ASK, 3, stp=stp) == (report.order_id, report.trades)
    assert placed.to_state() == executed.to_state()
    placed.check_invariants()


# -- with fill-or-kill and market orders ----------------------------------------------------


@pytest.mark.needs(tif=TimeInForce.FOK, stp=(STP.CANCEL_TAKER, STP.ALLOW))
def test_fok_skips_own_makers_under_cancel_maker_when_others_suffice(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5)
    engine.place_limit(BOB, Side.ASK, 100, 5)
    report = execute_limit(engine, ALICE, Side.BID, 100, 5, tif=TimeInForce.FOK)
    assert trade_summary(report.trades) == [(100, 5, 2, BOB)]
    assert reduced_after(report) == [(1, 0, 0)]
    assert (report.resting_qty, report.stopped) == (0, False)
    engine.check_invariants()


@pytest.mark.parametrize(
    *engine_cases(
        "stp,qty",
        [
            (STP.CANCEL_MAKER, 10),  # own liquidity does not count
            (STP.CANCEL_TAKER, 10),
            (STP.CANCEL_BOTH, 10),
            (STP.DECREMENT_AND_CANCEL, 10),
            (STP.DECREMENT_AND_CANCEL, 5),  # a decrement is not a fill
        ],
        lambda stp, qty: {"stp": stp, "tif": TimeInForce.FOK},
    )
)
def test_fok_that_only_self_trade_could_fill_changes_nothing(
    make: EngineUnderTest, stp: SelfTradePrevention, qty: int
) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5)
    engine.place_limit(BOB, Side.ASK, 100, 5)
    before = capture(engine)
    expected_id = next_id(engine)
    with pytest.raises(FillOrKillUnfillable, match=f"of {qty} at 100"):
        execute_limit(engine, ALICE, Side.BID, 100, qty, tif=TimeInForce.FOK, stp=stp)
    assert capture(engine) == before
    report = execute_limit(engine, CAROL, Side.BID, 1, 1)
    assert (report.order_id, report.trades, reduced(report)) == (expected_id, [], [])


@pytest.mark.needs(tif=TimeInForce.FOK, stp=(STP.CANCEL_TAKER, STP.ALLOW))
def test_fok_under_cancel_taker_fills_before_reaching_own_order(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    engine.place_limit(ALICE, Side.ASK, 101, 5)
    report = execute_limit(
        engine, ALICE, Side.BID, 101, 5, tif=TimeInForce.FOK, stp=STP.CANCEL_TAKER
    )
    assert trade_summary(report.trades) == [(100, 5, 1, BOB)]
    assert (reduced(report), report.stopped) == ([], False)  # filled before meeting it
    assert engine.open_qty(OrderId(2)) == 5


@pytest.mark.needs(tif=TimeInForce.FOK, stp=(STP.CANCEL_TAKER, STP.ALLOW))
def test_fok_with_allow_counts_own_liquidity(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 5)
    engine.place_limit(BOB, Side.ASK, 100, 5)
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 10, tif=TimeInForce.FOK, stp=STP.ALLOW)
    assert trade_summary(trades) == [(100, 5, 1, ALICE), (100, 5, 2, BOB)]


@pytest.mark.parametrize(
    *engine_cases(
        "stp,fills,reductions,cut,stopped,asks_left",
        [
            (STP.CANCEL_MAKER, [(100, 5, 1, BOB), (101, 5, 3, CAROL)], [(2, 0, 1)], 0, False, []),
            (STP.CANCEL_TAKER, [(100, 5, 1, BOB)], [], 0, True, [BookLevel(101, 10)]),
            (STP.CANCEL_BOTH, [(100, 5, 1, BOB)], [(2, 0, 1)], 0, True, [BookLevel(101, 5)]),
            (
                STP.DECREMENT_AND_CANCEL,
                [(100, 5, 1, BOB), (101, 5, 3, CAROL)],
                [(2, 0, 1)],
                5,
                False,
                [],
            ),
            (
                STP.ALLOW,
                [(100, 5, 1, BOB), (101, 5, 2, ALICE), (101, 5, 3, CAROL)],
                [],
                0,
                False,
                [],
            ),
        ],
        lambda stp, *_: {"stp": stp, "market_by_qty": True},
    )
)
def test_market_orders_by_qty_apply_each_mode(
    make: EngineUnderTest,
    stp: SelfTradePrevention,
    fills: list[tuple[int, int, int, str]],
    reductions: list[tuple[int, int, int]],
    cut: int,
    stopped: bool,
    asks_left: list[BookLevel],
) -> None:
    engine = own_then_other(make)
    report = execute_market(engine, ALICE, Side.BID, 20, stp=stp)
    assert trade_summary(report.trades) == fills
    assert reduced_after(report) == reductions
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, cut, stopped)
    assert engine.snapshot(5).asks == asks_left
    engine.check_invariants()


# -- with a quote budget --------------------------------------------------------------------


@pytest.mark.parametrize(
    *engine_cases(
        "stp,fills,reductions,stopped",
        [
            (STP.CANCEL_MAKER, [(100, 10, 2, BOB)], [(1, 0, 0)], False),
            (STP.CANCEL_TAKER, [], [], True),
            (STP.CANCEL_BOTH, [], [(1, 0, 0)], True),
            (STP.ALLOW, [(100, 10, 1, ALICE)], [], False),
        ],
        lambda stp, *_: {"stp": stp, "market_by_quote": True},
    )
)
def test_market_bid_by_quote_applies_each_mode(
    make: EngineUnderTest,
    stp: SelfTradePrevention,
    fills: list[tuple[int, int, int, str]],
    reductions: list[tuple[int, int, int]],
    stopped: bool,
) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.ASK, 100, 10)
    engine.place_limit(BOB, Side.ASK, 100, 10)
    report = execute_market(engine, ALICE, Side.BID, None, max_quote=1000, stp=stp)
    assert trade_summary(report.trades) == fills
    assert reduced_after(report) == reductions
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 0, stopped)
    engine.check_invariants()


@pytest.mark.parametrize(
    ("own_qty", "taker_qty"),
    [
        (10, 20),  # the decrement (10, the maker's smaller size) leaves the taker 10 to buy
        (5, 15),  # the decrement (5) leaves the taker 10; the budget pays for 10 at 100
    ],
)
@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL, market_by_quote=True)
def test_market_bid_by_quote_and_qty_keeps_buying_after_a_decrement(
    make: EngineUnderTest, own_qty: int, taker_qty: int
) -> None:
    # DECREMENT_AND_CANCEL reduces both by the smaller remaining *quantity* and trades nothing,
    # so it spends none of the budget: the taker still has qty and can afford bob's lots.
    engine = make()
    own, _ = engine.place_limit(ALICE, Side.ASK, 100, own_qty)
    engine.place_limit(BOB, Side.ASK, 100, 10)
    report = execute_market(
        engine, ALICE, Side.BID, taker_qty, max_quote=1000, stp=STP.DECREMENT_AND_CANCEL
    )
    assert reduced_after(report) == [(own, 0, 0)]
    assert trade_summary(report.trades) == [(100, 10, 2, BOB)]
    assert (report.taker_cut, report.stopped) == (own_qty, False)
    assert engine.snapshot(5).asks == []
    engine.check_invariants()


@pytest.mark.needs(stp=STP.DECREMENT_AND_CANCEL, market_by_quote=True)
def test_market_bid_by_quote_decrement_cancels_taker_when_its_qty_runs_out(
    make: EngineUnderTest,
) -> None:
    engine = make()
    own, _ = engine.place_limit(ALICE, Side.ASK, 100, 10)
    engine.place_limit(BOB, Side.ASK, 100, 10)
    report = execute_market(
        engine, ALICE, Side.BID, 10, max_quote=5000, stp=STP.DECREMENT_AND_CANCEL
    )
    assert report.trades == []
    assert reduced_after(report) == [(own, 0, 0)]
    assert (report.resting_qty, report.taker_cut, report.stopped) == (0, 10, True)
    assert engine.snapshot(5).asks == [BookLevel(100, 10)]


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("expire_taker", SelfTradePrevention.CANCEL_TAKER),
        ("EXPIRE_MAKER", SelfTradePrevention.CANCEL_MAKER),
        ("expire_both", SelfTradePrevention.CANCEL_BOTH),
        ("DECREMENT", SelfTradePrevention.DECREMENT_AND_CANCEL),
        ("Cancel_Maker", SelfTradePrevention.CANCEL_MAKER),
    ],
)
def test_binance_names_and_any_case_name_the_same_modes(
    name: str, mode: SelfTradePrevention
) -> None:
    assert SelfTradePrevention(name) is mode


@pytest.mark.parametrize("name", ["expire", "", "decrement_taker", 3])
def test_an_unknown_mode_name_is_refused(name: object) -> None:
    with pytest.raises(ValueError, match="is not a valid SelfTradePrevention"):
        SelfTradePrevention(name)  # type: ignore[arg-type]
