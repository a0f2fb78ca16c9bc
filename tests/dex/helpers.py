"""Shared helpers for the engine unit tests: owners, configs, state capture, no-change checks.

Plain functions imported by the test modules (not fixtures), so each test reads top to bottom.
"""

from __future__ import annotations

import random
from typing import Any

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.engine_spec import ALL_OPTIONS, EngineCapabilities
from tachyon.dex.events import EngineReport
from tachyon.dex.ids import AccountId, OrderId, TradeId
from tachyon.dex.model import (
    BookDepth,
    MarketConfig,
    Order,
    Side,
    TimeInForce,
    Trade,
)

ALICE = AccountId("alice")
BOB = AccountId("bob")
CAROL = AccountId("carol")

ODD_MARKET = MarketConfig(tick_size=5, lot_size=10, min_qty=20, base_decimals=1)
"""Non-default units: tick 5, lot 10, minimum 20, and 10 base minor units per whole token."""

DEEP = 1_000

Capture = tuple[dict[str, object], BookDepth, list[object]]


def capture(engine: OrderBookEngine) -> Capture:
    """Everything observable about the engine that reading does not change."""
    return engine.to_state(), engine.snapshot(DEEP), list(engine.open_orders())


def next_id(engine: OrderBookEngine) -> int:
    value = engine.to_state()["next_order_id"]
    assert isinstance(value, int)
    return value


def reduced(report: EngineReport) -> list[tuple[int, int]]:
    """(order id, remaining) per resting order self-trade prevention reduced in the call."""
    return [(r.order_id, r.remaining) for r in report.reductions]


def reduced_after(report: EngineReport) -> list[tuple[int, int, int]]:
    """(order id, remaining, trades of the call before it) per reduction, in the call's order."""
    return [(r.order_id, r.remaining, r.after) for r in report.reductions]


def assert_unchanged(engine: OrderBookEngine, before: Capture, expected_next_id: int) -> None:
    """The engine is as `before` and no order id was consumed."""
    assert capture(engine) == before
    engine.check_invariants()
    # A far-from-the-market bid changes nothing else and shows which id comes next.
    far_price = engine.config.tick_size
    oid, trades = engine.place_limit(CAROL, Side.BID, far_price, engine.config.min_qty)
    assert (oid, trades) == (expected_next_id, [])
    engine.check_invariants()


def random_calls(
    engine: OrderBookEngine,
    seed: int,
    count: int,
    capabilities: EngineCapabilities = ALL_OPTIONS,
) -> list[object]:
    """Feed `engine` a seeded mix of calls (with the options `capabilities` offers, icebergs
    among them) and return every result: a placement's whole `EngineReport`, a cancel's bool,
    or the type of the exception a call raised."""
    rng = random.Random(seed)
    modes = sorted(capabilities.self_trade_prevention)
    tifs = sorted(capabilities.time_in_force)
    config = engine.config
    results: list[object] = []
    owners = [ALICE, BOB, CAROL]
    for _ in range(count):
        owner = rng.choice(owners)
        side = rng.choice([Side.BID, Side.ASK])
        price = config.tick_size * rng.randint(95, 105)
        qty = config.min_qty + config.lot_size * rng.randint(0, 6)
        stp = rng.choice(modes)
        roll = rng.random()
        try:
            if roll < 0.5:
                options: dict[str, object] = {"tif": rng.choice(tifs), "stp": stp}
                if capabilities.iceberg and options["tif"] is TimeInForce.GTC and roll < 0.2:
                    options["display_qty"] = config.min_qty  # (refused when qty is no more)
                results.append(execute_limit(engine, owner, side, price, qty, **options))
            elif roll < 0.65:
                results.append(execute_market(engine, owner, side, qty, stp=stp))
            elif roll < 0.75:
                post_only = capabilities.post_only
                results.append(execute_limit(engine, owner, side, price, qty, post_only=post_only))
            else:
                results.append(engine.cancel(OrderId(rng.randint(1, next_id(engine))), owner))
        except Exception as exc:  # the exception type is part of the result
            results.append(type(exc))
        engine.check_invariants()
    return results


def traded(results: list[object]) -> bool:
    """Whether any placement among `random_calls` results traded."""
    return any(isinstance(r, EngineReport) and r.trades for r in results)


def trade_summary(trades: list[Trade]) -> list[tuple[int, int, int, str]]:
    """(price, qty, maker order id, maker owner) per trade: what most tests check."""
    return [(t.price, t.qty, t.maker_order_id, t.maker_owner) for t in trades]


def order(
    oid: int,
    owner: AccountId,
    side: Side,
    price: int,
    qty: int,
    remaining: int,
    filled: int,
    post_only: bool = False,
) -> Order:
    """An expected `Order`, ids given as plain ints."""
    return Order(OrderId(oid), owner, side, price, qty, remaining, filled, post_only)


def trade(
    tid: int,
    price: int,
    qty: int,
    maker: int,
    taker: int,
    maker_owner: AccountId,
    taker_owner: AccountId,
    side: Side,
) -> Trade:
    """An expected `Trade`, ids given as plain ints."""
    return Trade(
        TradeId(tid), price, qty, OrderId(maker), OrderId(taker), maker_owner, taker_owner, side
    )


def execute_limit(engine: OrderBookEngine, *args: Any, **kwargs: Any) -> EngineReport:
    """`engine.execute_limit`, its result named."""
    return EngineReport(*engine.execute_limit(*args, **kwargs))


def execute_market(engine: OrderBookEngine, *args: Any, **kwargs: Any) -> EngineReport:
    """`engine.execute_market`, its result named."""
    return EngineReport(*engine.execute_market(*args, **kwargs))
