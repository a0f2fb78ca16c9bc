"""Goal: on seeded random flows of every order type (limits, markets, icebergs, amends, stops,
good-till-date orders, client order ids, clock ticks), the exchange agrees with a simple model
of what the lifecycle promises: which stops are pending and the order they fire in, that no
order outlives its expiry and none expires early, and that a client order id always names the
first order placed with it.
Method: `Exchange.execute` on seeded flows, a Tick first whenever one is due (as the host
journals it); the model is plain dicts updated from the commands and checked after each one."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from tachyon.dex.ids import OrderId
from tachyon.dex.model import Side
from tachyon.errors import TachyonError
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import (
    AmendOrder,
    AnyCommand,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    Tick,
)
from tachyon.exchange.events import (
    CancelReason,
    Event,
    OrderCancelled,
    OrderRecalled,
    StopAccepted,
    StopCancelled,
    StopTriggered,
)
from tachyon.exchange.service import DEFAULT_MARKET_ID, Placement, StopOrder
from tachyon.exchange.state_machine import Exchange

M = DEFAULT_MARKET_ID
OWNERS = ["ann", "ben", "cat", "dan"]
STEPS = 600


@dataclass
class Model:
    """What the lifecycle promises, kept from the commands and their answers."""

    stops: dict[int, tuple[Side, int]] = field(default_factory=dict)  # id -> side, trigger
    expiries: dict[int, int] = field(default_factory=dict)  # open GTD order id -> its time
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def check_fired(self, events: list[Event], exchange: Exchange) -> None:
        """Each stop fires only once the last trade price reached it, and in acceptance order:
        when one fires, no stop accepted before it that the same price reached is still
        pending. Afterwards no pending stop has been reached."""
        for event in events:
            if not isinstance(event, StopTriggered):
                continue
            side, trigger = self.stops.pop(event.order_id)
            assert _reached(side, trigger, event.last_price), (event, trigger)
            skipped = [
                order_id
                for order_id, (other_side, other) in self.stops.items()
                if order_id < event.order_id and _reached(other_side, other, event.last_price)
            ]
            assert not skipped, f"stop {event.order_id} fired before {skipped}"
        last = exchange.service.top(M)[2]
        for order_id, (side, trigger) in self.stops.items():
            assert last is None or not _reached(side, trigger, last), (order_id, last)

    def check_expiries(self, events: list[Event], exchange: Exchange, now: int) -> None:
        for event in events:
            if isinstance(event, OrderCancelled) and event.reason is CancelReason.EXPIRED:
                at = self.expiries.pop(event.order_id)
                assert at <= now, f"order {event.order_id} expired at {now}, before {at}"
        for order_id in list(self.expiries):
            if (
                exchange.service.get_order(OrderId(order_id)) is None
            ):  # filled or cancelled meanwhile
                del self.expiries[order_id]
            else:
                assert self.expiries[order_id] > now, f"order {order_id} outlived its time"


def _reached(side: Side, trigger: int, last: int) -> bool:
    return last >= trigger if side is Side.BID else last <= trigger


def _command(rng: random.Random, exchange: Exchange, model: Model, now: int) -> AnyCommand:
    owner = rng.choice(OWNERS)
    side = rng.choice([Side.BID, Side.ASK])
    price = rng.randint(95, 105)
    qty = rng.randint(1, 9)
    roll = rng.random()
    mine = exchange.service.open_orders(owner)  # type: ignore[arg-type]
    if roll < 0.25:
        return PlaceLimit(owner, M, side, price, qty)
    if roll < 0.35:
        return PlaceMarket(owner, M, side, qty)
    if roll < 0.45:
        return PlaceOrder(owner, M, side, price, qty + 3, display_qty=2)
    if roll < 0.55:
        return PlaceOrder(owner, M, side, price, qty, expire_at_ns=now + rng.randint(2, 40))
    if roll < 0.65:
        client_id = f"c{rng.randrange(6)}"
        return PlaceOrder(owner, M, side, price, qty, client_order_id=client_id)
    if roll < 0.75:
        trigger = rng.randint(95, 105)
        limit = trigger + (2 if side is Side.BID else -2) if rng.random() < 0.7 else None
        budget = 2_000 if limit is None and side is Side.BID else None
        return PlaceStop(owner, M, side, trigger, limit, qty, budget)
    if roll < 0.85 and mine:
        order = rng.choice(mine).order
        return AmendOrder(owner, order.order_id, price=rng.randint(95, 105))
    if roll < 0.9:
        return CancelClientOrder(owner, f"c{rng.randrange(6)}")
    if roll < 0.95 and model.stops:
        return CancelOrder(owner, rng.choice(sorted(model.stops)))
    return Tick()


@pytest.mark.parametrize("seed", range(6))
def test_the_exchange_keeps_the_lifecycle_s_promises(seed: int) -> None:
    rng = random.Random(seed)
    exchange, model = Exchange(), Model()
    now = 1_000
    for owner in OWNERS:
        for token in ("USDC", "BASE"):
            now += 1
            exchange.execute(admit(Deposit(owner, token, 10**9)), exchange.seq + 1, now)
    fired = expired = retried = 0
    for _ in range(STEPS):
        now += rng.randint(1, 5)
        if exchange.tick_due(now):
            applied = exchange.execute(admit(Tick()), exchange.seq + 1, now)
            model.check_expiries(applied.events, exchange, now)
            expired += len(applied.events)
        command = _command(rng, exchange, model, now)
        try:
            applied = exchange.execute(admit(command), exchange.seq + 1, now)
        except TachyonError:
            exchange.check_invariants()
            continue
        outcome, events = applied
        _remember(model, command, outcome, events)
        fired += sum(isinstance(e, StopTriggered) for e in events)
        retried += any(isinstance(e, OrderRecalled) for e in events)
        model.check_fired(events, exchange)
        model.check_expiries(events, exchange, now)
        exchange.check_invariants()
    assert fired and expired and retried, (fired, expired, retried)  # each path was taken


def _remember(model: Model, command: AnyCommand, outcome: object, events: list[Event]) -> None:
    """What the model learns from an accepted command's answer and events."""
    for event in events:
        if isinstance(event, StopAccepted):
            model.stops[event.order_id] = (event.side, event.trigger_price)
        elif isinstance(event, StopCancelled) and event.reason == "user":
            model.stops.pop(event.order_id)
    if isinstance(command, PlaceOrder) and isinstance(outcome, Placement):
        if command.expire_at_ns is not None and outcome.open_qty and events:
            model.expiries[outcome.order_id] = command.expire_at_ns
        if command.client_order_id is not None:
            key = (command.account, command.client_order_id)
            first = model.client_ids.setdefault(key, outcome.order_id)
            assert first == outcome.order_id, f"{key} named {outcome.order_id}, first {first}"
            assert events or outcome.order_id == first
    if isinstance(command, PlaceStop) and isinstance(outcome, StopOrder):
        assert model.stops.get(outcome.order_id) == (command.side, command.trigger_price)
