"""Seeded synthetic order flows, generated once and replayed on every engine under test.

Steady flow: a mid price random-walking around 10,000 ticks, quantities 1..100; 60% limit
orders, 25% cancels of a random live order, 15% market orders. The generator tracks live orders
with the minimal engine, so cancels hit live orders. At these rates fills and cancels remove
orders faster than limits add them, so a limit crosses the spread with probability 1/3 only
while the book holds at least its warm-up depth (and never otherwise): that keeps a few
thousand orders resting. `FlowStats` reports the crossing share that results.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from bench.baseline import MinimalEngine

LIMIT, CANCEL, MARKET = 0, 1, 2
OWNERS = 64


class FlowStats(NamedTuple):
    crossing_share: float  # of limit orders
    resting_mean: float


class Op(NamedTuple):
    kind: int
    owner: int
    is_bid: bool
    price: int  # limit price; for a cancel, the order id
    qty: int


def steady_flow(
    seed: int, count: int, warmup_resting: int = 3_000
) -> tuple[list[Op], list[Op], FlowStats]:
    """(warmup, measured, stats): warmup rests about `warmup_resting` orders around the mid."""
    rng = random.Random(seed)
    tracker = _Tracker()
    live: list[int] = []
    mid = 10_000
    warmup: list[Op] = []
    for _ in range(warmup_resting):
        is_bid = rng.random() < 0.5
        price = mid - rng.randint(1, 60) if is_bid else mid + rng.randint(1, 60)
        warmup.append(
            _apply(
                tracker, live, Op(LIMIT, rng.randrange(OWNERS), is_bid, price, rng.randint(1, 100))
            )
        )
    ops: list[Op] = []
    crossing = limits = resting_sum = 0
    for _ in range(count):
        resting_sum += len(tracker.orders)
        mid = min(max(mid + rng.choice((-1, 0, 1)), 9_000), 11_000)
        roll = rng.random()
        owner = rng.randrange(OWNERS)
        is_bid = rng.random() < 0.5
        qty = rng.randint(1, 100)
        if roll < 0.60:
            limits += 1
            if rng.random() < 1 / 3 and len(tracker.orders) >= warmup_resting:
                crossing += 1
                price = mid + rng.randint(0, 10) if is_bid else mid - rng.randint(0, 10)
            else:
                price = mid - rng.randint(1, 60) if is_bid else mid + rng.randint(1, 60)
            op = Op(LIMIT, owner, is_bid, price, qty)
        elif roll < 0.85 and (target := _pick_live(rng, tracker, live)):
            op = Op(CANCEL, owner, is_bid, target, 0)
        else:
            op = Op(MARKET, owner, is_bid, 0, qty)
        ops.append(_apply(tracker, live, op))
    stats = FlowStats(crossing / max(limits, 1), resting_sum / max(count, 1))
    return warmup, ops, stats


def deep_flow(
    seed: int, resting: int = 100_000, levels: int = 2_000, count: int = 100_000
) -> tuple[list[Op], list[Op], FlowStats]:
    """(warmup, measured, stats): `resting` orders over about `levels` levels, then the steady mix
    (its cancels re-targeted at live orders of the deep book)."""
    rng = random.Random(seed)
    tracker = _Tracker()
    live: list[int] = []
    mid = 10_000
    half = levels // 2
    warmup = [
        _apply(
            tracker,
            live,
            Op(
                LIMIT,
                rng.randrange(OWNERS),
                is_bid,
                mid - rng.randint(1, half) if is_bid else mid + rng.randint(1, half),
                rng.randint(1, 100),
            ),
        )
        for is_bid in (rng.random() < 0.5 for _ in range(resting))
    ]
    _, rest_ops, rest_stats = steady_flow(seed + 1, count, warmup_resting=0)
    # Replay the steady mix against the deep book, re-targeting cancels at live orders.
    ops: list[Op] = []
    resting_sum = 0
    for planned in rest_ops:
        resting_sum += len(tracker.orders)
        op = planned
        if op.kind == CANCEL:
            target = _pick_live(rng, tracker, live)
            if not target:
                continue
            op = op._replace(price=target)
        ops.append(_apply(tracker, live, op))
    return warmup, ops, FlowStats(rest_stats.crossing_share, resting_sum / max(len(ops), 1))


class _Tracker(MinimalEngine):
    """The minimal engine plus who placed each order, so cancels come from the owner."""

    def __init__(self) -> None:
        super().__init__()
        self.owner_of: dict[int, int] = {}


def _pick_live(rng: random.Random, tracker: _Tracker, live: list[int]) -> int:
    """A random order still resting on the tracker's book (0 if none), pruning filled ones."""
    while live:
        index = rng.randrange(len(live))
        order_id = live[index]
        if order_id in tracker.orders:
            return order_id
        live[index] = live[-1]
        live.pop()
    return 0


def _apply(tracker: _Tracker, live: list[int], op: Op) -> Op:
    """Play `op` on the tracker; a cancel is re-addressed from the order's own owner."""
    if op.kind == LIMIT:
        oid, _ = tracker.place_limit(op.is_bid, op.price, op.qty)
        tracker.owner_of[oid] = op.owner
        if oid in tracker.orders:
            live.append(oid)
    elif op.kind == MARKET:
        tracker.place_market(op.is_bid, op.qty)
    else:
        op = op._replace(owner=tracker.owner_of[op.price])
        tracker.cancel(op.price)
    # Keep `live` from growing without bound: filled orders leave it.
    if len(live) > 2 * len(tracker.orders) + 100:
        live[:] = [oid for oid in live if oid in tracker.orders]
    return op
