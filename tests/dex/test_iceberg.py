"""Goal: an iceberg order (`display_qty`) shows only its slice, refills at the back of its level,
and counts whole everywhere else (orders, reports, estimates, self-trade prevention, state);
a bad one, or one on an engine without icebergs, is refused and changes nothing.
Method: small hand-built books with exact expected trades (in order), levels and orders, on
every installed engine with the capability and on the reference engine the differential
tests hold it to; refusals compared before and after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _pytest.mark.structures import ParameterSet

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.engine_spec import ALL_OPTIONS, EngineCapabilities, check_limit_options
from tachyon.dex.events import EngineReport
from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import (
    STP_DEFAULT,
    BookDepth,
    BookLevel,
    MarketConfig,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)
from tachyon.errors import (
    FillOrKillUnfillable,
    InvalidOrder,
    PostOnlyWouldTake,
    UnsupportedOrderOption,
)
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    DEEP,
    ODD_MARKET,
    assert_unchanged,
    capture,
    next_id,
    order,
    reduced,
    reduced_after,
    trade,
    trade_summary,
)
from tests.support.engines import INSTALLED, EngineUnderTest, engines
from tests.support.reference_engine import ReferenceEngine

DAVE = AccountId("dave")
BID, ASK = Side.BID, Side.ASK
STP = SelfTradePrevention

Book = OrderBookEngine | ReferenceEngine
Make = Callable[..., Book]


def books(**needs: object) -> list[ParameterSet]:
    """The installed engines that offer icebergs (and `needs`), and the reference engine."""
    return [*engines(iceberg=True, **needs), pytest.param(ReferenceEngine, id="reference")]


def execute(engine: Book, *args: Any, **kwargs: Any) -> EngineReport:
    return EngineReport(*engine.execute_limit(*args, **kwargs))


def place(engine: Book, *args: Any, **kwargs: Any) -> tuple[OrderId, list[Trade]]:
    """`place_limit`, which the reference engine has only as an `OrderBookEngine` has it."""
    report = execute(engine, *args, **kwargs)
    return report.order_id, report.trades


def take(engine: Book, *args: Any, **kwargs: Any) -> tuple[OrderId, list[Trade]]:
    """`place_market`, likewise."""
    report = EngineReport(*engine.execute_market(*args, **kwargs))
    return report.order_id, report.trades


def seen(engine: Book) -> tuple[object, ...]:
    """What reading shows of the book (the reference engine has no `to_state`)."""
    return engine.snapshot(DEEP), engine.open_orders(), engine.recent_trades(DEEP)


# -- showing and matching --------------------------------------------------------------------


@pytest.mark.parametrize("make", books())
def test_a_resting_iceberg_shows_only_its_slice_and_counts_whole(make: Make) -> None:
    engine = make()
    report = execute(engine, ALICE, ASK, 100, 50, display_qty=20)
    assert (report.order_id, report.trades, report.resting_qty) == (1, [], 50)
    place(engine, BOB, ASK, 100, 5)
    place(engine, BOB, BID, 99, 10, display_qty=3)
    assert engine.snapshot(DEEP) == BookDepth([BookLevel(99, 3)], [BookLevel(100, 25)])
    assert engine.top() == (99, 100, None)
    assert engine.get_order(OrderId(1)) == order(1, ALICE, ASK, 100, 50, 50, 0)
    assert engine.open_qty(OrderId(1)) == 50
    assert engine.open_orders() == [
        order(1, ALICE, ASK, 100, 50, 50, 0),
        order(2, BOB, ASK, 100, 5, 5, 0),
        order(3, BOB, BID, 99, 10, 10, 0),
    ]
    engine.check_invariants()


@pytest.mark.parametrize("make", books())
def test_a_filled_slice_refills_behind_a_later_order_and_the_taker_goes_on(make: Make) -> None:
    engine = make()
    place(engine, ALICE, ASK, 100, 50, display_qty=20)  # 1
    place(engine, BOB, ASK, 100, 30)  # 2: later, at the same price
    place(engine, CAROL, ASK, 101, 10)  # 3
    report = execute(engine, DAVE, BID, 101, 85)  # 4
    assert report.trades == [
        trade(1, 100, 20, 1, 4, ALICE, DAVE, BID),  # alice's slice
        trade(2, 100, 30, 2, 4, BOB, DAVE, BID),  # bob, ahead of alice's refill
        trade(3, 100, 20, 1, 4, ALICE, DAVE, BID),  # her refill, alone at the back
        trade(4, 100, 10, 1, 4, ALICE, DAVE, BID),  # her last slice: what was left
        trade(5, 101, 5, 3, 4, CAROL, DAVE, BID),
    ]
    assert report.resting_qty == 0
    assert engine.get_order(OrderId(1)) is None
    assert engine.snapshot(DEEP) == BookDepth([], [BookLevel(101, 5)])
    engine.check_invariants()


@pytest.mark.parametrize("make", books())
def test_a_partly_filled_slice_keeps_its_place_and_a_refill_loses_it(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 40, display_qty=10)[0]
    later = place(engine, BOB, ASK, 100, 10)[0]
    _, trades = place(engine, CAROL, BID, 100, 4)
    assert trade_summary(trades) == [(100, 4, iceberg, ALICE)]
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 16)]  # her 6 left of 10, and bob's
    _, trades = place(engine, CAROL, BID, 100, 6)  # ends her slice: she refills
    assert trade_summary(trades) == [(100, 6, iceberg, ALICE)]
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 20)]
    assert engine.get_order(iceberg) == order(iceberg, ALICE, ASK, 100, 40, 30, 10)
    _, trades = place(engine, CAROL, BID, 100, 12)
    assert trade_summary(trades) == [(100, 10, later, BOB), (100, 2, iceberg, ALICE)]
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 8)]
    assert engine.open_qty(iceberg) == 28
    engine.check_invariants()


@pytest.mark.parametrize("make", books())
def test_an_iceberg_takes_with_its_whole_quantity_then_rests_its_slice(make: Make) -> None:
    engine = make()
    place(engine, BOB, ASK, 100, 30)
    place(engine, BOB, ASK, 101, 10)
    report = execute(engine, ALICE, BID, 101, 100, display_qty=20)
    assert trade_summary(report.trades) == [(100, 30, 1, BOB), (101, 10, 2, BOB)]
    assert report.resting_qty == 60
    assert engine.snapshot(DEEP) == BookDepth([BookLevel(101, 20)], [])
    assert engine.get_order(report.order_id) == order(3, ALICE, BID, 101, 100, 60, 40)
    engine.check_invariants()


@pytest.mark.parametrize("make", books())
def test_the_market_estimate_counts_hidden_quantity_as_matching_takes_it(make: Make) -> None:
    engine = make()
    place(engine, ALICE, ASK, 100, 50, display_qty=10)
    place(engine, BOB, ASK, 102, 10)
    assert engine.estimate_market_cost(BID, 55) == (55, 50 * 100 + 5 * 102)
    assert engine.estimate_market_cost(BID, 55, 101) == (50, 50 * 100)
    _, trades = take(engine, CAROL, BID, 55)
    assert sum(t.price * t.qty for t in trades) == 50 * 100 + 5 * 102
    engine.check_invariants()


@pytest.mark.parametrize("make", books())
def test_cancel_takes_the_whole_iceberg_off_the_book(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 50, display_qty=10)[0]
    place(engine, BOB, ASK, 100, 5)
    place(engine, CAROL, BID, 100, 10)  # her slice: she refills behind bob
    assert engine.cancel(iceberg, BOB) is False  # not bob's
    assert engine.cancel(iceberg) is True
    assert engine.get_order(iceberg) is None and engine.open_qty(iceberg) == 0
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 5)]
    assert engine.estimate_market_cost(BID, 100) == (5, 500)
    _, trades = place(engine, CAROL, BID, 100, 100)
    assert trade_summary(trades) == [(100, 5, 2, BOB)]
    engine.check_invariants()


# -- self-trade prevention and fill-or-kill --------------------------------------------------


@pytest.mark.parametrize("make", books())
def test_cancel_maker_cancels_the_whole_iceberg(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 50, display_qty=10)[0]
    bob = place(engine, BOB, ASK, 100, 10)[0]
    report = execute(engine, ALICE, BID, 100, 30)  # cancel_maker, the default
    assert reduced(report) == [(iceberg, 0)]
    assert trade_summary(report.trades) == [(100, 10, bob, BOB)]
    assert report.resting_qty == 20
    assert engine.get_order(iceberg) is None
    assert engine.snapshot(DEEP) == BookDepth([BookLevel(100, 20)], [])
    engine.check_invariants()


@pytest.mark.parametrize("make", books(stp=STP.DECREMENT_AND_CANCEL))
def test_decrement_shrinks_the_iceberg_total_its_hidden_part_first(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 50, display_qty=20)[0]
    report = execute(engine, ALICE, BID, 100, 10, stp=STP.DECREMENT_AND_CANCEL)
    assert (reduced_after(report), report.taker_cut, report.stopped) == (
        [(iceberg, 40, 0)],
        10,
        True,
    )
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 20)]  # it still shows its slice
    report = execute(engine, ALICE, BID, 100, 25, stp=STP.DECREMENT_AND_CANCEL)
    assert reduced(report) == [(iceberg, 15)]
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 15)]  # nothing hidden: all it has
    assert engine.get_order(iceberg) == order(iceberg, ALICE, ASK, 100, 50, 15, 0)
    report = execute(engine, ALICE, BID, 100, 40, stp=STP.DECREMENT_AND_CANCEL)
    assert (reduced(report), report.taker_cut, report.resting_qty) == ([(iceberg, 0)], 15, 25)
    assert engine.get_order(iceberg) is None
    engine.check_invariants()


@pytest.mark.parametrize("make", books(tif=TimeInForce.FOK, stp=STP.CANCEL_TAKER))
def test_fill_or_kill_counts_hidden_quantity_in_the_order_matching_meets_it(
    make: Make,
) -> None:
    engine = make()
    place(engine, ALICE, ASK, 100, 40, display_qty=10)  # 1
    place(engine, CAROL, ASK, 100, 10)  # 2
    before = seen(engine)
    # Carol takes alice's slice, whose refill goes behind carol's own ask: there she stops.
    with pytest.raises(FillOrKillUnfillable):
        place(engine, CAROL, BID, 100, 20, tif=TimeInForce.FOK, stp=STP.CANCEL_TAKER)
    with pytest.raises(FillOrKillUnfillable):  # 50 rest in all
        place(engine, BOB, BID, 100, 55, tif=TimeInForce.FOK)
    assert seen(engine) == before
    _, trades = place(engine, BOB, BID, 100, 50, tif=TimeInForce.FOK)
    assert [(t.maker_order_id, t.qty) for t in trades] == [
        (1, 10),
        (2, 10),
        (1, 10),
        (1, 10),
        (1, 10),
    ]
    assert engine.snapshot(DEEP) == BookDepth([], [])
    engine.check_invariants()


# -- amend -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", books(amend=True))
def test_amend_down_keeps_the_place_and_shows_up_to_the_display(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 100, display_qty=20)[0]
    place(engine, CAROL, BID, 100, 15)  # she shows 5 of her slice now
    bob = place(engine, BOB, ASK, 100, 10)[0]
    report = EngineReport(*engine.amend(iceberg, 100, 50))  # 15 filled, 35 open
    assert (report.order_id, report.trades, report.resting_qty) == (iceberg, [], 35)
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 30)]  # a whole slice again, and bob's
    assert engine.get_order(iceberg) == order(iceberg, ALICE, ASK, 100, 50, 35, 15)
    _, trades = place(engine, CAROL, BID, 100, 25)
    assert trade_summary(trades) == [(100, 20, iceberg, ALICE), (100, 5, bob, BOB)]
    engine.amend(iceberg, 100, 40)  # 35 filled, 5 open: all of it shows
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 10)]
    assert engine.get_order(iceberg) == order(iceberg, ALICE, ASK, 100, 40, 5, 35)
    engine.check_invariants()


@pytest.mark.parametrize("make", books(amend=True))
def test_amend_up_or_to_a_new_price_goes_to_the_back_still_an_iceberg(make: Make) -> None:
    engine = make()
    iceberg = place(engine, ALICE, ASK, 100, 30, display_qty=10)[0]
    bob = place(engine, BOB, ASK, 100, 10)[0]
    assert EngineReport(*engine.amend(iceberg, 100, 40)).resting_qty == 40
    assert engine.snapshot(DEEP).asks == [BookLevel(100, 20)]
    _, trades = place(engine, CAROL, BID, 100, 15)
    assert trade_summary(trades) == [(100, 10, bob, BOB), (100, 5, iceberg, ALICE)]
    carol = place(engine, CAROL, BID, 99, 25)[0]
    report = EngineReport(*engine.amend(iceberg, 99, 40))  # crosses: takes with all it has
    assert trade_summary(report.trades) == [(99, 25, carol, CAROL)]
    assert report.resting_qty == 10
    assert engine.snapshot(DEEP) == BookDepth([], [BookLevel(99, 10)])
    assert engine.get_order(iceberg) == order(iceberg, ALICE, ASK, 99, 40, 10, 30)
    engine.check_invariants()


# -- state -----------------------------------------------------------------------------------


@pytest.mark.needs(iceberg=True, restorable=True)
@pytest.mark.parametrize("config", [MarketConfig(), ODD_MARKET], ids=["default", "odd"])
def test_state_round_trips_icebergs_and_writes_plain_orders_as_before(
    make: EngineUnderTest, config: MarketConfig
) -> None:
    loader = make.spec.loader
    assert loader is not None
    lot = config.lot_size
    engine = make(config)
    plain = engine.place_limit(BOB, ASK, 105, 7 * lot)[0]
    iceberg = engine.place_limit(ALICE, ASK, 100, 50 * lot, display_qty=20 * lot)[0]
    engine.place_limit(CAROL, BID, 100, 25 * lot)  # a slice and 5 of the next: 15 show, 10 hide
    small = engine.place_limit(ALICE, BID, 90, 30 * lot, display_qty=25 * lot)[0]
    state = engine.to_state()
    assert state["orders"] == [
        [small, ALICE, 25 * lot, 90, "bid", 30 * lot, 0, False, 5 * lot, 25 * lot],
        [iceberg, ALICE, 15 * lot, 100, "ask", 50 * lot, 0, False, 10 * lot, 20 * lot],
        [plain, BOB, 7 * lot, 105, "ask", 7 * lot, 0, False],
    ]
    restored = loader(config, state)
    restored.check_invariants()
    assert capture(restored) == capture(engine)
    for book in (engine, restored):
        _, trades = book.place_limit(DAVE, BID, 105, 60 * lot)
        assert trade_summary(trades) == [
            (100, 15 * lot, iceberg, ALICE),
            (100, 10 * lot, iceberg, ALICE),
            (105, 7 * lot, plain, BOB),
        ]
    assert restored.to_state() == engine.to_state()


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ([10, 0], "display 0: not an iceberg"),
        ([-10, 20], "negative hidden qty"),
        ([10, 10], "shows more than its display"),
        ([15, 20], "hidden qty not a whole number of lots"),
        ([10], "a row of nine fields"),
    ],
)
def test_a_state_with_a_broken_iceberg_does_not_load(tail: list[int], problem: str) -> None:
    state = InMemoryEngine(ODD_MARKET).to_state()
    state["orders"] = [[1, "alice", 20, 100, "ask", 50, 0, False, *tail]]
    state["next_order_id"] = 2
    with pytest.raises((ValueError, AssertionError)):
        InMemoryEngine.from_state(ODD_MARKET, state)
    state["orders"] = [[1, "alice", 20, 100, "ask", 50, 0, False, 10, 20]]  # as it should be
    assert InMemoryEngine.from_state(ODD_MARKET, state).open_qty(OrderId(1)) == 30


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.needs(iceberg=True)
@pytest.mark.parametrize(
    ("display", "tif", "message"),
    [
        (40, TimeInForce.GTC, "display_qty 40 must be less than qty 40: an iceberg hides the rest"),
        (50, TimeInForce.GTC, "display_qty 50 must be less than qty 40: an iceberg hides the rest"),
        (0, TimeInForce.GTC, "display_qty 0 must be a positive integer"),
        (-20, TimeInForce.GTC, "display_qty -20 must be a positive integer"),
        (20.0, TimeInForce.GTC, "display_qty 20.0 must be a positive integer"),
        (True, TimeInForce.GTC, "display_qty True must be a positive integer"),
        (25, TimeInForce.GTC, "display_qty 25 is not a multiple of lot size 10"),
        (10, TimeInForce.GTC, "display_qty 10 is below the minimum order size 20"),
        (20, TimeInForce.IOC, "an iceberg order rests on the book, so tif must be gtc, not ioc"),
        (20, TimeInForce.FOK, "an iceberg order rests on the book, so tif must be gtc, not fok"),
    ],
)
def test_a_bad_iceberg_is_refused_naming_the_problem_and_changes_nothing(
    make: EngineUnderTest, display: object, tif: TimeInForce, message: str
) -> None:
    engine = make(ODD_MARKET)  # lot 10, minimum 20
    engine.place_limit(BOB, ASK, 100, 20)
    engine.place_limit(BOB, BID, 95, 40, display_qty=20)
    before, expected_id = capture(engine), next_id(engine)
    with pytest.raises(InvalidOrder) as info:
        engine.place_limit(ALICE, BID, 100, 40, tif=tif, display_qty=display)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert_unchanged(engine, before, expected_id)


@pytest.mark.needs(iceberg=True, post_only=True)
def test_a_post_only_iceberg_rests_as_a_maker_or_is_refused(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, ASK, 100, 5)
    before, expected_id = capture(engine), next_id(engine)
    with pytest.raises(PostOnlyWouldTake):
        engine.place_limit(ALICE, BID, 100, 30, post_only=True, display_qty=10)
    assert_unchanged(engine, before, expected_id)
    oid = engine.place_limit(ALICE, BID, 99, 30, post_only=True, display_qty=10)[0]
    assert engine.get_order(oid) == order(oid, ALICE, BID, 99, 30, 30, 0, True)
    assert engine.snapshot(DEEP).bids == [BookLevel(99, 10), BookLevel(1, 1)]  # and the probe
    engine.check_invariants()


LACKING = [
    pytest.param(engine, id=engine.name) for engine in INSTALLED if not engine.capabilities.iceberg
]


@pytest.mark.parametrize("make", LACKING)
def test_an_engine_without_icebergs_refuses_one_naming_it(make: EngineUnderTest) -> None:
    engine = make(ODD_MARKET)
    engine.place_limit(BOB, ASK, 100, 20)
    before, expected_id = capture(engine), next_id(engine)
    with pytest.raises(UnsupportedOrderOption) as info:
        engine.place_limit(ALICE, BID, 90, 40, display_qty=20)
    assert str(info.value).startswith(
        f"the {make.name} engine does not support iceberg orders (display_qty); nothing was changed"
    )
    with pytest.raises(InvalidOrder, match="must be less than qty 40"):  # its own fault first
        engine.place_limit(ALICE, BID, 90, 40, display_qty=40)
    assert_unchanged(engine, before, expected_id)


def test_check_limit_options_refuses_a_display_qty_only_without_the_capability() -> None:
    lacking = EngineCapabilities(iceberg=False)
    check_limit_options(lacking, "plain", TimeInForce.GTC, False, STP_DEFAULT)
    check_limit_options(ALL_OPTIONS, "full", TimeInForce.GTC, False, STP_DEFAULT, 10)
    with pytest.raises(UnsupportedOrderOption) as info:
        check_limit_options(lacking, "plain", TimeInForce.GTC, False, STP_DEFAULT, 10)
    assert str(info.value) == (
        "the plain engine does not support iceberg orders (display_qty); nothing was changed"
        " (it lacks: iceberg orders)"
    )
    assert lacking.to_json()["iceberg"] is False
