"""Goal: every installed engine behaves exactly like the naive ReferenceEngine on long mixed streams.
Method: seeded random operation streams of the options an engine offers (icebergs among them),
fed to it and to the reference, comparing every result (a placement's whole EngineReport) and
the state after it."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.engine_spec import ALL_OPTIONS, EngineCapabilities
from tachyon.dex.events import EngineReport
from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import (
    DEFAULT_MARKET,
    MarketConfig,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from tests.support.engines import EngineUnderTest, engine_cases
from tests.support.reference_engine import ReferenceEngine

SEEDS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946]
if os.environ.get("TACHYON_SEED"):
    SEEDS.append(int(os.environ["TACHYON_SEED"]))

STEPS = 2_500
OWNERS = [AccountId(name) for name in ("alice", "bob", "carol", "dave")]
STP_MODES = list(SelfTradePrevention)
DEEP = 10_000

CONFIGS = [
    DEFAULT_MARKET,
    MarketConfig(tick_size=5, lot_size=10, min_qty=20, base_decimals=1),
    MarketConfig(tick_size=25, lot_size=4, min_qty=4, base_decimals=2),
    MarketConfig(tick_size=1, lot_size=1000, min_qty=3000, base_decimals=3),
]

Engine = OrderBookEngine | ReferenceEngine


@dataclass(frozen=True)
class Op:
    """One engine call: a method name and its arguments."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join(parts)})"


def report_fields(report: EngineReport) -> tuple[object, ...]:
    """Every field of a report, its reductions as a list (an engine may hand out a tuple)."""
    return (
        report.order_id,
        report.trades,
        report.resting_qty,
        list(report.reductions),
        report.taker_cut,
        report.stopped,
    )


def apply(engine: Engine, op: Op) -> tuple[str, object]:
    """Run `op`; the result (a report as its fields), or the type of the exception it raised."""
    try:
        result = getattr(engine, op.method)(*op.args, **op.kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # the type must agree between the engines
        return "raised", type(exc).__name__
    if op.method.startswith(("execute_", "amend")):
        return "ok", report_fields(EngineReport(*result))
    return "ok", result


class Stream:
    """Draws operations that are mostly valid and often cross, from the state seen so far."""

    def __init__(
        self, seed: int, config: MarketConfig, capabilities: EngineCapabilities = ALL_OPTIONS
    ) -> None:
        self.rng = random.Random(seed)
        self.config = config
        self.capabilities = capabilities
        self.stp_modes = [mode for mode in STP_MODES if mode in capabilities.self_trade_prevention]
        self.tifs = [
            tif for tif in (TimeInForce.IOC, TimeInForce.FOK) if tif in capabilities.time_in_force
        ]
        self.next_id = 1
        self.known_ids: list[int] = []
        self.min_lots = config.min_qty // config.lot_size

    def price(self) -> int:
        return self.config.tick_size * self.rng.randint(90, 110)

    def qty(self) -> int:
        return self.config.lot_size * self.rng.randint(self.min_lots, self.min_lots + 12)

    def owner(self) -> AccountId:
        return self.rng.choice(OWNERS)

    def stp(self) -> SelfTradePrevention:
        if self.rng.random() < 0.3:
            return SelfTradePrevention.CANCEL_MAKER
        return self.rng.choice(self.stp_modes)

    def side(self) -> Side:
        return self.rng.choice([Side.BID, Side.ASK])

    def display(self, qty: int) -> dict[str, Any]:
        """Often, on an engine that offers icebergs, a display qty for a GTC order of `qty`:
        a slice of at least the minimum and below `qty`, small ones (many refills) as often
        as large ones."""
        lots = qty // self.config.lot_size
        if not self.capabilities.iceberg or lots <= self.min_lots or self.rng.random() < 0.6:
            return {}
        most = lots - 1 if self.rng.random() < 0.5 else min(lots - 1, self.min_lots + 2)
        return {"display_qty": self.config.lot_size * self.rng.randint(self.min_lots, most)}

    def bad_iceberg(self, owner: AccountId, side: Side) -> Op:
        """An iceberg refused for its display qty: all of the order, none, not whole lots, or
        on an order that does not rest."""
        qty, lot = self.qty(), self.config.lot_size
        display, tif = self.rng.choice(
            [(qty, TimeInForce.GTC), (0, TimeInForce.GTC), (qty - lot, TimeInForce.IOC),
             (lot + 1, TimeInForce.GTC), (qty + lot, TimeInForce.GTC)]
        )  # fmt: skip
        return Op(
            "execute_limit",
            (owner, side, self.price(), qty),
            {"tif": tif, "display_qty": display},
        )

    def order_id_kwargs(self) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.05:
            return {"order_id": OrderId(self.next_id + self.rng.randint(0, 5))}
        if roll < 0.07:
            return {"order_id": OrderId(self.next_id - self.rng.randint(1, 3))}
        return {}

    def invalid(self) -> Op:
        cfg = self.config
        choice = self.rng.randrange(11)
        owner, side = self.owner(), self.side()
        if choice == 0:
            return Op("place_limit", (owner, side, self.price(), 0))
        if choice == 1 and cfg.lot_size > 1:
            return Op("place_limit", (owner, side, self.price(), self.qty() + 1))
        if choice == 2 and cfg.tick_size > 1:
            return Op("place_limit", (owner, side, self.price() + 1, self.qty()))
        if choice == 3 and cfg.min_qty > cfg.lot_size:
            return Op("place_limit", (owner, side, self.price(), cfg.lot_size))
        if choice == 4:
            return Op("place_limit", (owner, "buy", self.price(), self.qty()))
        if choice == 5:
            tif = self.rng.choice([TimeInForce.IOC, TimeInForce.FOK])
            return Op(
                "place_limit",
                (owner, side, self.price(), self.qty()),
                {"tif": tif, "post_only": True},
            )
        if choice == 6:
            return Op("place_market", (owner, Side.ASK, self.qty()), {"max_quote": 1000})
        if choice == 7:
            return Op("place_market", (owner, side, None))
        if choice == 8:
            return Op("place_limit", (owner, side, float(self.price()), self.qty()))
        if choice == 9 and self.capabilities.iceberg:
            return self.bad_iceberg(owner, side)
        return Op("place_market", (owner, side, self.qty()), {"stp": "allow"})

    def next_op(self, open_ids: list[int]) -> Op:
        """The next call; `open_ids` are the orders resting now (cancels aim at them)."""
        rng = self.rng
        roll = rng.random()
        owner, side = self.owner(), self.side()
        if roll < 0.32:
            price, qty = self.price(), self.qty()
            return Op(
                "execute_limit",
                (owner, side, price, qty),
                {"stp": self.stp(), **self.order_id_kwargs(), **self.display(qty)},
            )
        if roll < 0.40 and self.tifs:
            tif = rng.choice(self.tifs)
            return Op(
                "execute_limit",
                (owner, side, self.price(), self.qty()),
                {"tif": tif, "stp": self.stp(), **self.order_id_kwargs()},
            )
        if roll < 0.47:
            price, qty = self.price(), self.qty()
            options = {"post_only": True} if self.capabilities.post_only else {}
            return Op("execute_limit", (owner, side, price, qty), {**options, **self.display(qty)})
        if roll < 0.54:
            return Op(
                "execute_market",
                (owner, side, self.qty()),
                {"stp": self.stp(), **self.order_id_kwargs()},
            )
        if roll < 0.60 and self.capabilities.market_by_quote:
            budget = self.config.notional(
                self.config.tick_size * 100, self.qty() * rng.randint(1, 4)
            )
            bound = self.qty() * rng.randint(1, 4) if rng.random() < 0.4 else None
            return Op(
                "execute_market",
                (owner, Side.BID, bound),
                {"max_quote": rng.randint(1, budget), "stp": self.stp()},
            )
        if roll < 0.82:
            if self.capabilities.amend and open_ids and roll > 0.78:
                return self.amend(open_ids)
            return self.cancel(open_ids)
        if roll < 0.84:
            return Op("snapshot", (rng.randint(0, 5),))
        if roll < 0.85:
            return Op("estimate_market_cost", (side, self.qty() * rng.randint(1, 5)))
        if roll < 0.86:
            limit_price = self.config.tick_size * rng.randint(95, 105)
            return Op("estimate_market_cost", (side, self.qty() * rng.randint(1, 5), limit_price))
        if roll < 0.87:
            return (
                Op("top", ()) if rng.random() < 0.5 else Op("recent_trades", (rng.randint(0, 30),))
            )
        return self.invalid()

    def cancel(self, open_ids: list[int]) -> Op:
        rng = self.rng
        roll = rng.random()
        if open_ids and roll < 0.6:
            oid = rng.choice(open_ids)
        elif self.known_ids and roll < 0.85:
            oid = rng.choice(self.known_ids[-60:])
        else:
            oid = rng.choice([0, -1, self.next_id, self.next_id + 50])
        owner = None if rng.random() < 0.4 else self.owner()
        return Op("cancel", (OrderId(oid), owner))

    def amend(self, open_ids: list[int]) -> Op:
        """An open order to a new price and total (sometimes its own: smaller, or equal)."""
        rng = self.rng
        oid = OrderId(rng.choice(open_ids) if rng.random() < 0.9 else self.next_id + 3)
        price = self.price()
        qty = self.qty()
        if rng.random() < 0.1:
            qty = self.config.lot_size * rng.randint(0, 2)  # at or below what is filled, often
        return Op("amend", (oid, price, qty), {"stp": self.stp()})

    def observe(self, op: Op, outcome: tuple[str, object]) -> None:
        kind, result = outcome
        if kind == "ok" and op.method.startswith(("place_", "execute_")):
            assert isinstance(result, tuple)
            oid = int(result[0])
            self.next_id = oid + 1
            self.known_ids.append(oid)


def assert_same_state(
    fast: OrderBookEngine, ref: ReferenceEngine, ids: list[int], where: str
) -> None:
    assert fast.snapshot(DEEP) == ref.snapshot(DEEP), f"{where}: books differ"
    assert fast.open_orders() == ref.open_orders(), f"{where}: open orders differ"
    for oid in ids:
        assert fast.get_order(OrderId(oid)) == ref.get_order(OrderId(oid)), (
            f"{where}: order {oid} differs"
        )
        assert fast.open_qty(OrderId(oid)) == ref.open_qty(OrderId(oid)), (
            f"{where}: open_qty {oid} differs"
        )
    assert fast.recent_trades(25) == ref.recent_trades(25), f"{where}: recent trades differ"
    fast.check_invariants()
    ref.check_invariants()


def assert_report_matches_book(fast: OrderBookEngine, fields: object, where: str) -> None:
    """What a report says rests is what the book holds, and what it says self-trade prevention
    left of each reduced order is that order's open quantity now."""
    assert isinstance(fields, tuple)
    order_id, _, resting_qty, reductions, _, stopped = fields
    assert fast.open_qty(order_id) == resting_qty, f"{where}: resting_qty is not the open qty"
    assert not (stopped and resting_qty), f"{where}: a stopped order rests"
    for reduction in reductions:
        assert fast.open_qty(reduction.order_id) == reduction.remaining, (
            f"{where}: reduction of {reduction.order_id} is not its open qty"
        )


def run_stream(seed: int, config: MarketConfig, steps: int, make: EngineUnderTest) -> None:
    stream = Stream(seed, config, make.capabilities)
    fast = make(config)
    ref = ReferenceEngine(config)
    for step in range(steps):
        op = stream.next_op([order.order_id for order in ref.open_orders()])
        where = f"seed={seed} config={config} step={step} op={op}"
        got = apply(fast, op)
        want = apply(ref, op)
        assert got == want, f"{where}: {make.name} gave {got}, reference gave {want}"
        stream.observe(op, got)
        if op.method.startswith(("execute_", "amend")) and got[0] == "ok":
            assert_report_matches_book(fast, got[1], where)
        touched = stream.known_ids[-3:] + [
            stream.rng.randint(0, stream.next_id + 2) for _ in range(3)
        ]
        if op.method in ("cancel", "amend"):
            touched.append(int(op.args[0]))
        if step % 100 == 99:
            touched = list(range(stream.next_id + 2))
        assert_same_state(fast, ref, touched, where)
    assert_same_state(fast, ref, list(range(stream.next_id + 2)), f"seed={seed} end of stream")
    assert len(stream.known_ids) > steps // 3, f"seed={seed}: the stream placed too few orders"
    assert fast.recent_trades(1), f"seed={seed}: the stream never traded"


@pytest.mark.parametrize(*engine_cases("seed", SEEDS, lambda seed: {}))
def test_stream_matches_reference(make: EngineUnderTest, seed: int) -> None:
    config = CONFIGS[seed % len(CONFIGS)]
    run_stream(seed, config, STEPS, make)
