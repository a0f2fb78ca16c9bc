"""Goal: every order the engine refuses raises the documented error, names the bad value and rule,
and changes nothing. Method: each bad call on a busy book; full state compared before/after."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import SelfTradePrevention, Side, TimeInForce
from tachyon.dex.units import PRICE_MAX, QTY_MAX
from tachyon.errors import (
    FillOrKillUnfillable,
    InvalidAmount,
    InvalidOrder,
    PostOnlyWouldTake,
    PriceNotMultipleOfTick,
    QtyBelowMin,
    QtyNotMultipleOfLot,
    TachyonError,
)
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    ODD_MARKET,
    assert_unchanged,
    capture,
    execute_limit,
    next_id,
    reduced_after,
    trade_summary,
)
from tests.support.engines import EngineUnderTest, Needs, engine_cases


@dataclass(frozen=True)
class Call:
    """One placement on a busy book; `needs` names the options it uses that an engine might
    not offer (a value of the wrong type needs nothing: validation refuses it first)."""

    method: str
    args: tuple[object, ...]
    options: dict[str, object]

    def __call__(self, engine: OrderBookEngine) -> object:
        return getattr(engine, self.method)(*self.args, **self.options)

    def needs(self) -> Needs:
        tif, stp = self.options.get("tif"), self.options.get("stp")
        return {
            "tif": tif if isinstance(tif, TimeInForce) else (),
            "stp": stp if isinstance(stp, SelfTradePrevention) else (),
            "post_only": self.options.get("post_only") is True,
            "market_by_quote": self.options.get("max_quote") is not None,
            "market_by_qty": self.method == "place_market",
        }


def busy_book(make: EngineUnderTest) -> OrderBookEngine:
    """ODD_MARKET (tick 5, lot 10, min 20): bids 20@95 alice, 30@90 bob; asks 20@105 bob,
    40@110 carol (10 of it already traded); the next order id is 7."""
    engine = make(ODD_MARKET)
    engine.place_limit(ALICE, Side.BID, 95, 20)
    engine.place_limit(BOB, Side.BID, 90, 30)
    engine.place_limit(BOB, Side.ASK, 105, 20)
    engine.place_limit(CAROL, Side.ASK, 110, 50)
    engine.place_limit(ALICE, Side.BID, 110, 30)  # takes 20@105 and 10@110
    engine.place_limit(BOB, Side.ASK, 105, 20)
    engine.check_invariants()
    return engine


def limit(
    price: object = 100, qty: object = 20, side: object = Side.BID, **options: object
) -> Call:
    return Call("place_limit", (CAROL, side, price, qty), options)


def market(
    qty: object = 20, side: object = Side.BID, owner: AccountId = CAROL, **options: object
) -> Call:
    return Call("place_market", (owner, side, qty), options)


CASES: list[tuple[str, Call, type[TachyonError], list[str]]] = [
    # quantity
    ("qty zero", limit(qty=0), InvalidAmount, ["qty 0", "positive"]),
    ("qty negative", limit(qty=-20), InvalidAmount, ["qty -20", "positive"]),
    ("qty float", limit(qty=20.0), InvalidAmount, ["qty 20.0", "not an integer"]),
    ("qty bool", limit(qty=True), InvalidAmount, ["qty True", "not an integer"]),
    ("qty str", limit(qty="20"), InvalidAmount, ["qty '20'", "not an integer"]),
    ("qty None", limit(qty=None), InvalidAmount, ["qty None", "not an integer"]),
    (
        "qty over max",
        limit(qty=QTY_MAX + 1),
        InvalidAmount,
        [f"qty {QTY_MAX + 1}", f"maximum {QTY_MAX}"],
    ),
    ("qty off lot", limit(qty=25), QtyNotMultipleOfLot, ["qty 25", "lot size 10"]),
    ("qty under min", limit(qty=10), QtyBelowMin, ["qty 10", "minimum order size 20"]),
    # price
    ("price zero", limit(price=0), InvalidAmount, ["price 0", "positive"]),
    ("price negative", limit(price=-5), InvalidAmount, ["price -5", "positive"]),
    ("price float", limit(price=100.0), InvalidAmount, ["price 100.0", "not an integer"]),
    ("price bool", limit(price=True), InvalidAmount, ["price True", "not an integer"]),
    ("price str", limit(price="100"), InvalidAmount, ["price '100'", "not an integer"]),
    (
        "price over max",
        limit(price=PRICE_MAX + 1),
        InvalidAmount,
        [f"price {PRICE_MAX + 1}", f"maximum {PRICE_MAX}"],
    ),
    ("price off tick", limit(price=101), PriceNotMultipleOfTick, ["price 101", "tick size 5"]),
    # choices
    ("side str", limit(side="bid"), InvalidOrder, ["side 'bid'", "bid, ask"]),
    ("side None", limit(side=None), InvalidOrder, ["side None", "bid, ask"]),
    ("tif str", limit(tif="gtc"), InvalidOrder, ["time in force 'gtc'", "gtc, ioc, fok"]),
    (
        "stp str",
        limit(stp="allow"),
        InvalidOrder,
        ["self-trade prevention 'allow'", "cancel_maker"],
    ),
    ("post_only int", limit(post_only=1), InvalidOrder, ["post_only 1", "true or false"]),
    ("post_only zero", limit(post_only=0), InvalidOrder, ["post_only 0", "true or false"]),
    ("post_only None", limit(post_only=None), InvalidOrder, ["post_only None", "true or false"]),
    ("tif None", limit(tif=None), InvalidOrder, ["time in force None", "gtc, ioc, fok"]),
    (
        "post-only ioc",
        limit(post_only=True, tif=TimeInForce.IOC),
        InvalidOrder,
        ["post-only", "not ioc"],
    ),
    (
        "post-only fok",
        limit(post_only=True, tif=TimeInForce.FOK),
        InvalidOrder,
        ["post-only", "not fok"],
    ),
    # the book refuses
    (
        "post-only bid crosses",
        limit(price=105, post_only=True),
        PostOnlyWouldTake,
        ["post-only bid at 105", "at 105"],
    ),
    (
        "post-only bid through",
        limit(price=200, post_only=True),
        PostOnlyWouldTake,
        ["at 200", "at 105"],
    ),
    (
        "post-only ask crosses",
        limit(price=95, side=Side.ASK, post_only=True),
        PostOnlyWouldTake,
        ["ask at 95", "at 95"],
    ),
    (
        "fok too big",
        limit(price=110, qty=200, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        ["bid of 200 at 110"],
    ),
    (
        "fok price short",
        limit(price=105, qty=30, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        ["bid of 30 at 105"],
    ),
    (
        "fok no cross",
        limit(price=100, qty=20, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        ["bid of 20 at 100"],
    ),
    (
        "fok ask",
        limit(price=90, qty=100, side=Side.ASK, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        ["ask of 100 at 90"],
    ),
    # order ids
    ("order id used", limit(order_id=OrderId(1)), InvalidOrder, ["order id 1", "at least 7"]),
    ("order id just below", limit(order_id=OrderId(6)), InvalidOrder, ["order id 6", "at least 7"]),
    ("order id zero", limit(order_id=OrderId(0)), InvalidOrder, ["order id 0", "at least 7"]),
    ("order id bool", limit(order_id=True), InvalidOrder, ["order id True", "at least 7"]),
    ("order id str", limit(order_id="9"), InvalidOrder, ["order id '9'", "at least 7"]),
    ("order id float", limit(order_id=9.0), InvalidOrder, ["order id 9.0", "at least 7"]),
    # market orders
    ("market qty zero", market(qty=0), InvalidAmount, ["qty 0"]),
    ("market qty float", market(qty=20.0), InvalidAmount, ["qty 20.0"]),
    ("market qty bool", market(qty=True), InvalidAmount, ["qty True"]),
    ("market qty off lot", market(qty=35), QtyNotMultipleOfLot, ["qty 35", "lot size 10"]),
    ("market qty under min", market(qty=10), QtyBelowMin, ["qty 10", "20"]),
    (
        "market qty over max",
        market(qty=QTY_MAX + 1),
        InvalidAmount,
        [f"qty {QTY_MAX + 1}", "maximum"],
    ),
    ("market no qty", market(qty=None), InvalidOrder, ["needs a qty"]),
    (
        "market ask by quote",
        market(side=Side.ASK, max_quote=1000),
        InvalidOrder,
        ["max_quote", "ask"],
    ),
    (
        "market ask by quote only",
        market(qty=None, side=Side.ASK, max_quote=1000),
        InvalidOrder,
        ["max_quote", "ask"],
    ),
    ("max_quote zero", market(qty=None, max_quote=0), InvalidAmount, ["max_quote 0", "positive"]),
    ("max_quote negative", market(qty=None, max_quote=-1), InvalidAmount, ["max_quote -1"]),
    ("max_quote float", market(qty=None, max_quote=10.5), InvalidAmount, ["max_quote 10.5"]),
    (
        "max_quote over max",
        market(qty=None, max_quote=QTY_MAX + 1),
        InvalidAmount,
        ["max_quote", "maximum"],
    ),
    ("max_quote ok, qty bad", market(qty=15, max_quote=1000), QtyNotMultipleOfLot, ["qty 15"]),
    ("market side str", market(side="ask"), InvalidOrder, ["side 'ask'"]),
    (
        "market stp str",
        market(stp="cancel_both"),
        InvalidOrder,
        ["self-trade prevention 'cancel_both'"],
    ),
    (
        "market order id used",
        market(order_id=OrderId(3)),
        InvalidOrder,
        ["order id 3", "at least 7"],
    ),
]


@pytest.mark.parametrize(
    *engine_cases(
        "name,call,error,fragments",
        CASES,
        lambda name, call, *_: call.needs(),
        lambda name, *_: name,
    )
)
def test_rejection_names_the_value_and_changes_nothing(
    make: EngineUnderTest, name: str, call: Call, error: type[TachyonError], fragments: list[str]
) -> None:
    engine = busy_book(make)
    before = capture(engine)
    expected_id = next_id(engine)
    assert expected_id == 7
    with pytest.raises(error) as info:
        call(engine)
    assert type(info.value) is error
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert_unchanged(engine, before, expected_id)


@pytest.mark.needs(tif=TimeInForce.FOK)
def test_fok_that_fails_does_not_cancel_own_makers_it_would_skip(make: EngineUnderTest) -> None:
    engine = busy_book(make)
    engine.place_limit(CAROL, Side.ASK, 105, 20)  # carol's own ask, skipped under CANCEL_MAKER
    before = capture(engine)
    expected_id = next_id(engine)
    with pytest.raises(FillOrKillUnfillable):
        engine.place_limit(CAROL, Side.BID, 105, 40, tif=TimeInForce.FOK)
    assert_unchanged(engine, before, expected_id)


@pytest.mark.needs(tif=TimeInForce.FOK)
def test_refused_call_after_a_self_trade_reduction_reports_nothing_and_changes_nothing(
    make: EngineUnderTest,
) -> None:
    engine = busy_book(make)
    # Cancels bob's own 105 ask (order 6), then rests: the report is this call's alone.
    report = execute_limit(engine, BOB, Side.BID, 105, 20, stp=SelfTradePrevention.CANCEL_MAKER)
    assert (report.order_id, report.trades, report.resting_qty) == (7, [], 20)
    assert reduced_after(report) == [(6, 0, 0)]
    before = capture(engine)
    # A refused call raises before it reports anything, and neither undoes nor repeats the
    # earlier reduction.
    with pytest.raises(QtyBelowMin):
        execute_limit(engine, BOB, Side.BID, 100, 10)
    with pytest.raises(FillOrKillUnfillable):  # would cancel bob's own 105 bid on its way
        execute_limit(engine, BOB, Side.ASK, 95, 60, tif=TimeInForce.FOK)
    assert engine.open_qty(OrderId(7)) == 20
    assert_unchanged(engine, before, 8)
    # The next call that does trade reports only what it did.
    later = execute_limit(engine, BOB, Side.ASK, 95, 20, stp=SelfTradePrevention.CANCEL_MAKER)
    assert trade_summary(later.trades) == [(95, 20, 1, ALICE)]
    assert reduced_after(later) == [(7, 0, 0)]


def test_rejected_supplied_order_id_on_the_default_market(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(ALICE, Side.BID, 100, 5, order_id=OrderId(10))
    before = capture(engine)
    with pytest.raises(InvalidOrder, match="order id 10 must be an integer of at least 11"):
        engine.place_limit(BOB, Side.ASK, 100, 5, order_id=OrderId(10))
    assert_unchanged(engine, before, 11)


@pytest.mark.needs(tif=TimeInForce.FOK)
def test_fok_unfillable_with_a_bad_order_id_reports_the_fok(make: EngineUnderTest) -> None:
    # The book's refusal comes before the order id is looked at; either way nothing changes.
    engine = busy_book(make)
    before = capture(engine)
    with pytest.raises(FillOrKillUnfillable):
        engine.place_limit(CAROL, Side.BID, 110, 500, tif=TimeInForce.FOK, order_id=OrderId(1))
    assert_unchanged(engine, before, 7)
