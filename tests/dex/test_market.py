"""Goal: market orders take liquidity by qty or by quote budget, never rest, in any market's units.
Method: hand-built ask/bid ladders with the exact fills and costs worked out by hand."""

from __future__ import annotations

import pytest

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import OrderId
from tachyon.dex.model import DEFAULT_MARKET, BookDepth, BookLevel, MarketConfig, Side
from tests.dex.helpers import ALICE, BOB, CAROL, ODD_MARKET, next_id, trade_summary
from tests.support.engines import EngineUnderTest


def ladder(make: EngineUnderTest, config: MarketConfig = DEFAULT_MARKET) -> OrderBookEngine:
    """Asks 10@100 (bob), 10@110 (carol); bids 10@90 (bob), in the config's units x1."""
    engine = make(config)
    engine.place_limit(BOB, Side.ASK, 100, 10)
    engine.place_limit(CAROL, Side.ASK, 110, 10)
    engine.place_limit(BOB, Side.BID, 90, 10)
    return engine


def cost(trades: list[tuple[int, int, int, str]], base_unit: int = 1) -> int:
    return sum(price * qty // base_unit for price, qty, _, _ in trades)


@pytest.mark.needs(market_by_qty=True)
def test_market_bid_by_qty_sweeps_and_never_rests(make: EngineUnderTest) -> None:
    engine = ladder(make)
    oid, trades = engine.place_market(ALICE, Side.BID, 15)
    assert trade_summary(trades) == [(100, 10, 1, BOB), (110, 5, 2, CAROL)]
    assert engine.get_order(oid) is None
    assert engine.snapshot(5) == BookDepth([BookLevel(90, 10)], [BookLevel(110, 5)])
    engine.check_invariants()


@pytest.mark.needs(market_by_qty=True)
def test_market_ask_by_qty_larger_than_the_book_fills_what_there_is(make: EngineUnderTest) -> None:
    engine = ladder(make)
    oid, trades = engine.place_market(ALICE, Side.ASK, 50)
    assert trade_summary(trades) == [(90, 10, 3, BOB)]
    assert engine.get_order(oid) is None
    assert engine.snapshot(5).bids == []
    engine.check_invariants()


@pytest.mark.needs(market_by_qty=True)
def test_market_order_on_an_empty_side_uses_an_id_and_trades_nothing(make: EngineUnderTest) -> None:
    engine = make()
    engine.place_limit(BOB, Side.BID, 90, 10)
    oid, trades = engine.place_market(ALICE, Side.BID, 5)
    assert (oid, trades) == (2, [])
    assert next_id(engine) == 3
    assert engine.snapshot(5) == BookDepth([BookLevel(90, 10)], [])


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_by_budget_buys_what_it_can_afford_per_level(make: EngineUnderTest) -> None:
    engine = ladder(make)
    # 1000 buys 10 at 100; the other 500 buys 4 at 110 (440), leaving 60.
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=1500)
    fills = trade_summary(trades)
    assert fills == [(100, 10, 1, BOB), (110, 4, 2, CAROL)]
    assert cost(fills) == 1440
    assert engine.snapshot(5).asks == [BookLevel(110, 6)]
    engine.check_invariants()


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_budget_below_one_lot_trades_nothing(make: EngineUnderTest) -> None:
    engine = ladder(make)
    oid, trades = engine.place_market(ALICE, Side.BID, None, max_quote=99)
    assert trades == []
    assert oid == 4
    assert engine.snapshot(5).asks == [BookLevel(100, 10), BookLevel(110, 10)]


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_exact_budget(make: EngineUnderTest) -> None:
    engine = ladder(make)
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=1000 + 1100)
    assert trade_summary(trades) == [(100, 10, 1, BOB), (110, 10, 2, CAROL)]
    assert engine.snapshot(5).asks == []


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_with_qty_and_budget_stops_at_the_first_bound(make: EngineUnderTest) -> None:
    engine = ladder(make)
    _, by_qty = engine.place_market(ALICE, Side.BID, 3, max_quote=10_000)
    assert trade_summary(by_qty) == [(100, 3, 1, BOB)]
    _, by_budget = engine.place_market(ALICE, Side.BID, 10, max_quote=450)
    assert trade_summary(by_budget) == [(100, 4, 1, BOB)]
    engine.check_invariants()


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_budget_counts_whole_lots(make: EngineUnderTest) -> None:
    config = MarketConfig(lot_size=4, min_qty=4)
    engine = make(config)
    engine.place_limit(BOB, Side.ASK, 100, 8)
    engine.place_limit(CAROL, Side.ASK, 110, 8)
    # 1399 buys 8 at 100 (800); the 599 left buys 5.4 at 110, so one lot of 4 (440).
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=1399)
    assert trade_summary(trades) == [(100, 8, 1, BOB), (110, 4, 2, CAROL)]
    # 3 lots would cost 1200: a budget of 1199 buys only 2.
    engine = make(config)
    engine.place_limit(BOB, Side.ASK, 100, 12)
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=1199)
    assert trade_summary(trades) == [(100, 8, 1, BOB)]


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_budget_with_base_decimals(make: EngineUnderTest) -> None:
    # ODD_MARKET: tick 5, lot 10, min 20, 10 base minor units per token. Price is per token.
    engine = make(ODD_MARKET)
    engine.place_limit(BOB, Side.ASK, 1000, 30)  # 3 tokens at 1000 = 3000
    engine.place_limit(CAROL, Side.ASK, 1005, 30)
    # 4000 buys 30 at 1000 (3000); the 1000 left buys 0.99 tokens at 1005: no whole lot
    # of 10 minor units (1 token = 1005) is affordable, so it stops.
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=4000)
    assert trade_summary(trades) == [(1000, 30, 1, BOB)]
    _, more = engine.place_market(ALICE, Side.BID, None, max_quote=2010)
    assert trade_summary(more) == [(1005, 20, 2, CAROL)]
    assert cost(trade_summary(more), ODD_MARKET.base_unit) == 2010
    engine.check_invariants()


@pytest.mark.needs(market_by_quote=True)
def test_market_bid_budget_with_base_decimals_and_fine_lots(make: EngineUnderTest) -> None:
    config = MarketConfig(tick_size=25, lot_size=4, min_qty=4, base_decimals=2)
    engine = make(config)
    engine.place_limit(BOB, Side.ASK, 2500, 40)  # one lot of 4 costs 2500 * 4 // 100 = 100
    _, trades = engine.place_market(ALICE, Side.BID, None, max_quote=350)
    assert trade_summary(trades) == [(2500, 12, 1, BOB)]
    assert cost(trade_summary(trades), config.base_unit) == 300
    engine.check_invariants()


@pytest.mark.parametrize("side", [Side.BID, Side.ASK])
def test_market_by_qty_in_a_non_default_market(make: EngineUnderTest, side: Side) -> None:
    engine = make(ODD_MARKET)
    engine.place_limit(BOB, side.opposite, 1000, 20)
    engine.place_limit(CAROL, side.opposite, 1000, 30)
    _, trades = engine.place_market(ALICE, side, 40)
    assert trade_summary(trades) == [(1000, 20, 1, BOB), (1000, 20, 2, CAROL)]
    assert engine.open_qty(OrderId(2)) == 10
    engine.check_invariants()
