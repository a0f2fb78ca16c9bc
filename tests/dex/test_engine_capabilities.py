"""Goal: an engine refuses every order option it does not declare with one clear error
(`unsupported_order_option`) that changes nothing, and a restorable engine restores exactly.
Method: each option call against each installed engine lacking it (and a test engine that lacks
most), book and next id compared before and after; seeded flows before and after a restore."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

import pytest

from tachyon.dex.engine_spec import (
    EngineCapabilities,
    EngineSpec,
    check_limit_options,
    check_market_options,
)
from tachyon.dex.events import EngineResult
from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import (
    STP_DEFAULT,
    MarketConfig,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from tachyon.errors import InsufficientFunds, InvalidOrder, UnsupportedOrderOption
from tachyon.exchange import DexService
from tachyon.exchange.engines import register_engine
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    ODD_MARKET,
    assert_unchanged,
    capture,
    next_id,
    random_calls,
)
from tests.support.engines import INSTALLED, EngineUnderTest, Needs

STP = SelfTradePrevention

LIMITED_CAPABILITIES: Final = EngineCapabilities(
    time_in_force=frozenset({TimeInForce.GTC}),
    post_only=False,
    market_by_quote=False,
    self_trade_prevention=frozenset({STP.CANCEL_MAKER}),
    iceberg=False,
)


class LimitedEngine(InMemoryEngine):
    """The in-memory book declaring GTC, market orders by qty and cancel_maker only: an engine
    that lacks almost everything, checking its options as an engine must."""

    __slots__ = ()

    def execute_limit(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        *,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
        display_qty: int | None = None,
    ) -> EngineResult:
        check_limit_options(LIMITED_CAPABILITIES, "limited", tif, post_only, stp, display_qty)
        return super().execute_limit(
            owner,
            side,
            price,
            qty,
            tif=tif,
            post_only=post_only,
            stp=stp,
            order_id=order_id,
            display_qty=display_qty,
        )

    def execute_market(
        self,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        order_id: OrderId | None = None,
    ) -> EngineResult:
        check_market_options(LIMITED_CAPABILITIES, "limited", side, qty, max_quote, stp)
        return super().execute_market(
            owner, side, qty, max_quote=max_quote, stp=stp, order_id=order_id
        )


LIMITED: Final = EngineUnderTest("limited", EngineSpec(LimitedEngine, None, LIMITED_CAPABILITIES))


@dataclass(frozen=True)
class Option:
    """One order that uses one option, on the refusal test's book."""

    name: str
    method: str
    args: tuple[object, ...]
    options: dict[str, object]
    needs: Needs

    def __call__(self, engine: object) -> object:
        return getattr(engine, self.method)(*self.args, **self.options)


def _options() -> list[Option]:
    found = [
        Option(f"tif {tif}", "place_limit", (ALICE, Side.BID, 105, 20), {"tif": tif}, {"tif": tif})
        for tif in (TimeInForce.IOC, TimeInForce.FOK)
    ]
    found.append(
        Option("post-only", "place_limit", (ALICE, Side.BID, 90, 20), {"post_only": True},
               {"post_only": True})
    )  # fmt: skip
    found.append(
        Option("market by quote", "place_market", (ALICE, Side.BID, None), {"max_quote": 5000},
               {"market_by_quote": True})
    )  # fmt: skip
    found.append(Option("amend", "amend", (OrderId(3), 95, 30), {}, {"amend": True}))
    found.append(
        Option("iceberg", "place_limit", (ALICE, Side.BID, 90, 40), {"display_qty": 20},
               {"iceberg": True})
    )  # fmt: skip
    for stp in STP:
        found.append(
            Option(f"limit stp {stp}", "place_limit", (ALICE, Side.BID, 105, 20), {"stp": stp},
                   {"stp": stp})
        )  # fmt: skip
        found.append(
            Option(f"market stp {stp}", "place_market", (ALICE, Side.BID, 20), {"stp": stp},
                   {"stp": stp})
        )  # fmt: skip
    return found


def _lacking() -> list[object]:
    """(engine, option) for every option an engine (installed, or LIMITED) does not offer."""
    return [
        pytest.param(engine, option, id=f"{engine.name}-{option.name}")
        for engine in [*INSTALLED, LIMITED]
        for option in _options()
        if not engine.supports(option.needs)
    ]


@pytest.mark.parametrize(("make", "option"), _lacking())
def test_an_option_the_engine_lacks_is_refused_naming_it_and_changes_nothing(
    make: EngineUnderTest, option: Option
) -> None:
    engine = make(ODD_MARKET)  # alice's ask 20@100 and bob's 20@105, bob's bid 20@95
    engine.place_limit(ALICE, Side.ASK, 100, 20)
    engine.place_limit(BOB, Side.ASK, 105, 20)
    engine.place_limit(BOB, Side.BID, 95, 20)
    before, expected_id = capture(engine), next_id(engine)
    with pytest.raises(UnsupportedOrderOption) as info:
        option(engine)
    message = str(info.value)
    assert info.value.code == "unsupported_order_option"
    assert f"the {make.name} engine does not support" in message
    assert "nothing was changed" in message
    for lacking in make.capabilities.lacks():
        assert lacking in message
    assert_unchanged(engine, before, expected_id)


def test_the_limited_engine_still_trades_what_it_offers() -> None:
    engine = LIMITED(ODD_MARKET)
    engine.place_limit(ALICE, Side.ASK, 100, 20)
    _, trades = engine.place_market(BOB, Side.BID, 20)
    assert [(t.price, t.qty) for t in trades] == [(100, 20)]


def test_validation_is_named_before_a_missing_option() -> None:
    """A bad value is the order's own fault: named first, whatever the engine offers."""
    engine = LIMITED(ODD_MARKET)
    with pytest.raises(InvalidOrder, match="time in force 'ioc'"):
        engine.place_limit(ALICE, Side.BID, 100, 20, tif="ioc")  # type: ignore[arg-type]


def test_capabilities_list_what_they_lack_in_a_fixed_order() -> None:
    assert EngineCapabilities().lacks() == []
    assert LIMITED_CAPABILITIES.lacks() == [
        "time in force ioc",
        "time in force fok",
        "post-only",
        "market bids by quote budget",
        "self-trade prevention cancel_taker",
        "self-trade prevention cancel_both",
        "self-trade prevention decrement_and_cancel",
        "self-trade prevention allow",
        "iceberg orders",
    ]
    assert LIMITED_CAPABILITIES.to_json()["time_in_force"] == ["gtc"]


def test_every_engine_takes_gtc_limit_orders() -> None:
    with pytest.raises(AssertionError, match="GTC"):
        EngineCapabilities(time_in_force=frozenset({TimeInForce.IOC}))


# -- restoring -------------------------------------------------------------------------------


@pytest.mark.needs(restorable=True)
@pytest.mark.parametrize("config", [MarketConfig(), ODD_MARKET], ids=["default", "odd"])
def test_a_restored_engine_continues_exactly_as_the_original(
    make: EngineUnderTest, config: MarketConfig
) -> None:
    loader = make.spec.loader
    assert loader is not None
    original = make(config)
    random_calls(original, seed=5, count=300, capabilities=make.capabilities)
    restored = loader(config, original.to_state())
    restored.check_invariants()
    assert capture(restored) == capture(original)
    later = random_calls(original, seed=6, count=400, capabilities=make.capabilities)
    assert random_calls(restored, seed=6, count=400, capabilities=make.capabilities) == later
    assert restored.to_state() == original.to_state()


@pytest.mark.needs(restorable=True)
def test_a_restored_book_keeps_time_priority(make: EngineUnderTest) -> None:
    loader = make.spec.loader
    assert loader is not None
    original = make()
    for owner in (ALICE, BOB, CAROL):
        original.place_limit(owner, Side.ASK, 100, 5)
    restored = loader(original.config, original.to_state())
    _, trades = restored.place_limit(AccountId("dave"), Side.BID, 100, 12)
    assert [(t.maker_owner, t.qty) for t in trades] == [(ALICE, 5), (BOB, 5), (CAROL, 2)]


@pytest.mark.needs(restorable=True, amend=True)
def test_a_restored_book_keeps_an_amended_order_behind_younger_ones(make: EngineUnderTest) -> None:
    loader = make.spec.loader
    assert loader is not None
    original = make()
    first = original.place_limit(ALICE, Side.ASK, 100, 5)[0]
    original.place_limit(BOB, Side.ASK, 100, 5)
    original.amend(first, 100, 8)  # more: to the back, behind bob's younger order
    restored = loader(original.config, original.to_state())
    restored.check_invariants()
    _, trades = restored.place_limit(AccountId("dave"), Side.BID, 100, 13)
    assert [(t.maker_owner, t.qty) for t in trades] == [(BOB, 5), (ALICE, 8)]


def test_a_service_names_an_option_its_engine_lacks_before_short_funds() -> None:
    """An order with both faults is refused for the option: funds would not make it valid."""
    name = f"limited-{uuid.uuid4().hex[:8]}"
    register_engine(name, LimitedEngine, capabilities=LIMITED_CAPABILITIES)
    service = DexService(engine=name)  # nobody holds anything
    with pytest.raises(UnsupportedOrderOption, match="time in force ioc"):
        service.place_limit(ALICE, Side.BID, 100, 1, tif=TimeInForce.IOC)
    with pytest.raises(UnsupportedOrderOption, match="max_quote"):
        service.place_market(ALICE, Side.BID, None, max_quote=100)
    with pytest.raises(InsufficientFunds):  # what the engine offers: the funds are the fault
        service.place_limit(ALICE, Side.BID, 100, 1)
    service.check_invariants()
