"""Goal: client order ids make a retry safe, good-till-date orders expire by the sequencer's
clock and no later, and stop orders lock when accepted and fire in the order they were
accepted when the last trade reaches them, through the risk stage; every refusal changes
nothing, and a snapshot keeps all of it.
Method: `Exchange.execute` driven command by command with explicit times, on the default
market (BASE 0 decimals, USDC 6, no fees)."""

from __future__ import annotations

import pytest

from tachyon.dex.model import OrderStatus, Side
from tachyon.errors import (
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    TachyonError,
    TickDue,
)
from tachyon.exchange.client_orders import WINDOW_NS
from tachyon.exchange.commands import (
    AdminSetRisk,
    AmendOrder,
    AnyCommand,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    SetOperator,
    Tick,
)
from tachyon.exchange.events import (
    CancelReason,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderRecalled,
    StopAccepted,
    StopCancelled,
    StopTriggered,
)
from tachyon.exchange.service import DEFAULT_MARKET_ID, Placement, StopOrder
from tachyon.exchange.state_machine import Exchange, decode_state
from tests.exchange.helpers import ALICE, BASE as BASE_TOKEN, BOB, CAROL, KEY_A, USDC, A, signed

M = DEFAULT_MARKET_ID
BID, ASK = Side.BID, Side.ASK
SECOND = 10**9


class Clock:
    """An exchange and the times of its commands."""

    def __init__(self) -> None:
        self.exchange = Exchange()
        self.now = 1_000 * SECOND
        for owner in (ALICE, BOB, CAROL):
            self.run(Deposit(owner, "USDC", 10**9))
            self.run(Deposit(owner, "BASE", 1_000))

    def run(self, command: AnyCommand, after_ns: int = 1) -> object:
        """Apply `command` `after_ns` after the last one, journaling a Tick first when one is
        due, as a host does; its outcome."""
        return self.execute(command, after_ns)[0]

    def execute(self, command: AnyCommand, after_ns: int = 1) -> tuple[object, list[Event]]:
        from tachyon.exchange.admission import admit

        exchange = self.exchange
        self.now += after_ns
        if type(command) is not Tick and exchange.tick_due(self.now):
            exchange.execute(admit(Tick()), exchange.seq + 1, self.now)
        applied = exchange.execute(admit(command), exchange.seq + 1, self.now)
        exchange.check_invariants()
        return applied.outcome, applied.events

    def state(self) -> bytes:
        return self.exchange.state_bytes()

    def refused(self, command: AnyCommand, error: type[TachyonError]) -> str:
        before = self.exchange.service.to_state()
        with pytest.raises(error) as raised:
            self.run(command)
        assert self.exchange.service.to_state() == before
        self.exchange.check_invariants()
        return str(raised.value)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _order(clock: Clock, command: AnyCommand) -> Placement:
    placement = clock.run(command)
    assert isinstance(placement, Placement)
    return placement


# -- client order ids ------------------------------------------------------------------------


def test_a_retry_under_the_same_client_id_answers_the_first_result(clock: Clock) -> None:
    clock.run(PlaceLimit(BOB, M, ASK, 100, 3))
    first = _order(
        clock, PlaceOrder(ALICE, M, BID, 100, 5, client_order_id="my-1", nonce=clock.now)
    )
    assert (first.filled_qty, first.open_qty) == (3, 2)
    first_time = clock.now
    before = clock.exchange.service.to_state()
    retry, events = clock.execute(
        PlaceOrder(ALICE, M, BID, 100, 5, client_order_id="my-1", nonce=clock.now + 1)
    )
    assert isinstance(retry, Placement)
    assert [type(e) for e in events] == [OrderRecalled]  # nothing changed: it says so
    assert events[0] == OrderRecalled(ALICE, "my-1", first.order_id, first_time, [(0, 0)])
    assert (retry.order_id, retry.status, retry.filled_qty, retry.open_qty) == (
        first.order_id,
        first.status,
        3,
        2,
    )
    assert retry.trades == first.trades
    assert clock.exchange.service.to_state() == before  # nothing changed
    other = _order(clock, PlaceOrder(BOB, M, BID, 90, 1, client_order_id="my-1"))
    assert other.order_id != first.order_id  # another account's ids are its own


def test_cancel_and_amend_by_client_id(clock: Clock) -> None:
    placed = _order(clock, PlaceOrder(ALICE, M, BID, 90, 5, client_order_id="a.b:c/d-1"))
    amended = _order(clock, AmendOrder(ALICE, qty=3, client_order_id="a.b:c/d-1"))
    assert (amended.order_id, amended.open_qty) == (placed.order_id, 3)
    cancelled = _order(clock, CancelClientOrder(ALICE, "a.b:c/d-1"))
    assert cancelled.order_id == placed.order_id and cancelled.status is OrderStatus.CANCELLED
    clock.refused(CancelClientOrder(ALICE, "unknown"), InvalidOrder)
    clock.refused(CancelClientOrder(BOB, "a.b:c/d-1"), InvalidOrder)  # not bob's id


def test_a_refused_order_does_not_take_its_client_id(clock: Clock) -> None:
    clock.refused(PlaceOrder(ALICE, M, BID, 10**9, 10, client_order_id="x"), InsufficientFunds)
    placed = _order(clock, PlaceOrder(ALICE, M, BID, 90, 1, client_order_id="x"))
    assert placed.open_qty == 1


@pytest.mark.parametrize("bad", ["", "x" * 37, "has space", "é", "semi;colon"])
def test_a_malformed_client_id_is_refused(clock: Clock, bad: str) -> None:
    assert "client order id" in clock.refused(
        PlaceOrder(ALICE, M, BID, 90, 1, client_order_id=bad), InvalidOrder
    )


def test_an_id_is_forgotten_after_24_hours(clock: Clock) -> None:
    first = _order(clock, PlaceOrder(ALICE, M, BID, 90, 1, client_order_id="day"))
    clock.now += WINDOW_NS
    again = _order(clock, PlaceOrder(ALICE, M, BID, 90, 1, client_order_id="day"))
    assert again.order_id != first.order_id


def test_an_id_is_forgotten_after_10_000_newer_ones(clock: Clock) -> None:
    exchange = clock.exchange
    orders = exchange.client_orders
    for n in range(10_000):
        orders.remember(ALICE, f"id{n}", clock.now, n + 1, ("order", []))  # type: ignore[arg-type]
    assert orders.recall(ALICE, "id0", clock.now) is not None
    orders.remember(ALICE, "id10000", clock.now, 10_001, ("order", []))  # type: ignore[arg-type]
    assert orders.recall(ALICE, "id0", clock.now) is None
    assert orders.recall(ALICE, "id1", clock.now) is not None


# -- good-till-date ----------------------------------------------------------------------------


def test_a_gtd_order_expires_by_the_sequencer_clock(clock: Clock) -> None:
    at = clock.now + 10 * SECOND
    placed = _order(clock, PlaceOrder(ALICE, M, BID, 90, 5, expire_at_ns=at))
    assert clock.exchange.service.expiry_of(placed.order_id) == at
    exchange = clock.exchange
    from tachyon.exchange.admission import admit

    with pytest.raises(TickDue):  # nothing after its time until a Tick expires it
        exchange.execute(admit(Deposit(BOB, "USDC", 1)), exchange.seq + 1, at)
    outcome, events = clock.execute(Tick(), at - clock.now)
    assert outcome is None
    assert [(type(e), getattr(e, "reason", None)) for e in events] == [
        (OrderCancelled, CancelReason.EXPIRED)
    ]
    assert exchange.service.get_order(placed.order_id) is None
    assert exchange.service.balance(ALICE, USDC).locked == 0


def test_a_command_after_the_time_finds_the_order_gone(clock: Clock) -> None:
    clock.run(PlaceOrder(ALICE, M, BID, 90, 5, expire_at_ns=clock.now + 5))
    clock.run(PlaceOrder(CAROL, M, BID, 80, 5))
    taken = clock.run(PlaceMarket(BOB, M, ASK, 1), after_ns=10)
    assert isinstance(taken, Placement)
    assert [t.price for t in taken.trades] == [
        80
    ]  # the bid expired first (a Tick was journaled before this)


def test_gtd_refusals(clock: Clock) -> None:
    assert "not after" in clock.refused(
        PlaceOrder(ALICE, M, BID, 90, 5, expire_at_ns=clock.now), InvalidOrder
    )
    from tachyon.dex.model import TimeInForce

    ioc = PlaceOrder(ALICE, M, BID, 90, 5, tif=TimeInForce.IOC, expire_at_ns=clock.now + SECOND)
    clock.refused(ioc, InvalidOrder)
    market = PlaceOrder(ALICE, M, BID, None, 5, expire_at_ns=clock.now + SECOND)
    clock.refused(market, InvalidOrder)


def test_an_amended_gtd_order_keeps_its_time_and_a_snapshot_keeps_it(clock: Clock) -> None:
    at = clock.now + 10 * SECOND
    placed = _order(clock, PlaceOrder(ALICE, M, BID, 90, 5, expire_at_ns=at))
    clock.run(AmendOrder(ALICE, placed.order_id, price=91))
    service = clock.exchange.service
    assert service.expiry_of(placed.order_id) == at
    copy = decode_state(clock.state())
    assert copy.state_bytes() == clock.state()
    assert copy.service.expiry_of(placed.order_id) == at


# -- stop orders -------------------------------------------------------------------------------


def _print(clock: Clock, price: int) -> list[Event]:
    """A trade at `price` between bob and carol; the events of its taker."""
    clock.run(PlaceLimit(BOB, M, ASK, price, 1))
    return clock.execute(PlaceLimit(CAROL, M, BID, price, 1))[1]


def _stop(clock: Clock, command: PlaceStop) -> StopOrder:
    stop = clock.run(command)
    assert isinstance(stop, StopOrder)
    return stop


def test_a_stop_locks_when_accepted_and_fires_when_the_last_trade_reaches_it(
    clock: Clock,
) -> None:
    _print(clock, 100)
    stop = _stop(clock, PlaceStop(ALICE, M, BID, 105, 106, 4))
    service = clock.exchange.service
    assert service.balance(ALICE, USDC).locked == 106 * 4
    assert [s.order_id for s in service.stops(ALICE)] == [stop.order_id]
    assert [type(e) for e in _print(clock, 104)][-1] is not StopTriggered  # not yet
    clock.run(PlaceLimit(BOB, M, ASK, 106, 10))  # what the stop will buy
    events = _print(clock, 105)
    kinds = [type(e) for e in events]
    assert StopTriggered in kinds
    triggered = next(e for e in events if isinstance(e, StopTriggered))
    assert (triggered.order_id, triggered.last_price) == (stop.order_id, 105)
    accepted = events[kinds.index(StopTriggered) + 1]
    assert isinstance(accepted, OrderAccepted) and accepted.order_id == triggered.new_order_id
    assert service.stops(ALICE) == []
    assert service.balance(ALICE, BASE_TOKEN).available == 1_004  # bought 4 at 106


def test_stops_fire_in_the_order_they_were_accepted(clock: Clock) -> None:
    _print(clock, 100)
    ids = [
        _stop(clock, PlaceStop(owner, M, ASK, trigger, None, 1)).order_id
        for owner, trigger in ((ALICE, 95), (BOB, 97), (ALICE, 96))
    ]
    clock.run(PlaceLimit(CAROL, M, BID, 80, 10))  # what the stops will sell into
    events = _print(clock, 94)
    fired = [e.order_id for e in events if isinstance(e, StopTriggered)]
    assert fired == ids  # acceptance order, not trigger order


def test_a_stop_whose_condition_holds_is_refused(clock: Clock) -> None:
    _print(clock, 100)
    assert "would trigger at once" in clock.refused(
        PlaceStop(ALICE, M, BID, 100, 101, 1), InvalidOrder
    )
    clock.refused(PlaceStop(ALICE, M, ASK, 101, None, 1), InvalidOrder)


def test_a_stop_market_bid_locks_its_max_quote(clock: Clock) -> None:
    assert "max_quote" in clock.refused(PlaceStop(ALICE, M, BID, 105, None, 1), InvalidOrder)
    _stop(clock, PlaceStop(ALICE, M, BID, 105, None, 3, max_quote=500))
    assert clock.exchange.service.balance(ALICE, USDC).locked == 500


def test_a_stop_refused_at_its_trigger_is_cancelled_with_the_reason(clock: Clock) -> None:
    _print(clock, 100)
    stop = _stop(clock, PlaceStop(ALICE, M, BID, 105, 110, 4))
    exchange = clock.exchange
    clock.run(SetOperator(A))
    # A limit smaller than the stop's order (110 * 4 USDC minor units), not the prints'.
    clock.run(signed(KEY_A, AdminSetRisk(A, M, max_notional=200, nonce=clock.now + 1)))
    events = _print(clock, 105)
    cancelled = [e for e in events if isinstance(e, StopCancelled)]
    assert [(e.order_id, e.reason) for e in cancelled] == [(stop.order_id, "max_notional_exceeded")]
    assert exchange.service.balance(ALICE, USDC).locked == 0


def test_a_stop_is_cancelled_by_id_or_client_id(clock: Clock) -> None:
    stop = _stop(clock, PlaceStop(ALICE, M, ASK, 90, None, 2, client_order_id="s1"))
    assert clock.exchange.service.balance(ALICE, BASE_TOKEN).locked == 2
    clock.refused(CancelOrder(BOB, stop.order_id), TachyonError)
    cancelled = clock.run(CancelClientOrder(ALICE, "s1"))
    assert isinstance(cancelled, StopOrder) and cancelled.status == "cancelled"
    assert clock.exchange.service.balance(ALICE, BASE_TOKEN).locked == 0
    clock.refused(CancelOrder(ALICE, stop.order_id), OrderNotFound)


def test_a_snapshot_keeps_pending_stops_and_client_ids(clock: Clock) -> None:
    _stop(clock, PlaceStop(ALICE, M, ASK, 90, 89, 2, client_order_id="keep"))
    _order(clock, PlaceOrder(BOB, M, BID, 50, 1, client_order_id="mine"))
    copy = decode_state(clock.state())
    assert copy.state_bytes() == clock.state()
    copy.check_invariants()
    assert [s.order_id for s in copy.service.stops()] == [
        s.order_id for s in clock.exchange.service.stops()
    ]


def test_stop_accepted_event(clock: Clock) -> None:
    outcome, events = clock.execute(PlaceStop(ALICE, M, ASK, 90, None, 2))
    assert isinstance(outcome, StopOrder)
    assert events == [StopAccepted(M, outcome.order_id, ALICE, ASK, 90, None, 2, None)]


# -- icebergs ----------------------------------------------------------------------------------


def test_an_iceberg_shows_its_display_locks_its_whole_and_refills_at_the_back(
    clock: Clock,
) -> None:
    iceberg = _order(clock, PlaceOrder(ALICE, M, ASK, 100, 9, display_qty=3))
    service = clock.exchange.service
    assert service.balance(ALICE, BASE_TOKEN).locked == 9  # the whole order
    assert service.snapshot(1).asks[0].qty == 3  # only its display shows
    later = _order(clock, PlaceLimit(BOB, M, ASK, 100, 2))
    taken, events = clock.execute(PlaceLimit(CAROL, M, BID, 100, 7))
    assert isinstance(taken, Placement)
    assert [(t.maker_order_id, t.qty) for t in taken.trades] == [
        (iceberg.order_id, 3),  # its display
        (later.order_id, 2),  # bob's, ahead of the refill
        (iceberg.order_id, 2),  # the refill, at the back
    ]
    from tachyon.exchange.events import Filled

    left = [e.maker_remaining for e in events if isinstance(e, Filled)]
    assert left == [6, 0, 4]  # the iceberg stayed open after its first fill
    assert service.balance(ALICE, BASE_TOKEN).locked == 4
    assert service.snapshot(1).asks[0].qty == 1  # what is left of the refilled slice
    clock.exchange.check_invariants()


def test_iceberg_refusals(clock: Clock) -> None:
    from tachyon.dex.model import TimeInForce

    for command in (
        PlaceOrder(ALICE, M, ASK, 100, 9, display_qty=9),
        PlaceOrder(ALICE, M, ASK, 100, 9, display_qty=0),
        PlaceOrder(ALICE, M, ASK, 100, 9, tif=TimeInForce.IOC, display_qty=3),
        PlaceOrder(ALICE, M, ASK, None, 9, display_qty=3),
    ):
        clock.refused(command, InvalidOrder)


# -- an external engine ------------------------------------------------------------------------


def test_liquibook_takes_stops_expiries_and_client_ids_and_refuses_amend_and_icebergs() -> None:
    """Stops, expiries and client order ids are the exchange's; amend and icebergs the
    engine's, which liquibook lacks: refused naming it, changing nothing."""
    from tachyon.errors import UnsupportedOrderOption
    from tachyon.exchange.service import DexService

    clock = Clock()
    clock.exchange = Exchange(DexService(engine="liquibook"))
    for owner in (ALICE, BOB):
        clock.run(Deposit(owner, "USDC", 10**9))
        clock.run(Deposit(owner, "BASE", 1_000))
    clock.run(PlaceLimit(BOB, M, ASK, 100, 1))
    clock.run(PlaceMarket(ALICE, M, BID, 1))
    stop = _stop(clock, PlaceStop(ALICE, M, ASK, 95, None, 2))
    gtd = _order(clock, PlaceOrder(ALICE, M, BID, 90, 2, expire_at_ns=clock.now + 100))
    again = _order(clock, PlaceOrder(ALICE, M, BID, 80, 1, client_order_id="lb"))
    retry = _order(clock, PlaceOrder(ALICE, M, BID, 80, 1, client_order_id="lb"))
    assert (retry.order_id, retry.open_qty) == (again.order_id, again.open_qty)
    clock.run(PlaceLimit(BOB, M, BID, 95, 5))
    _, events = clock.execute(PlaceLimit(ALICE, M, ASK, 95, 1))
    assert [e.order_id for e in events if isinstance(e, StopTriggered)] == [stop.order_id]
    for command in (
        AmendOrder(ALICE, gtd.order_id, price=91),
        PlaceOrder(ALICE, M, BID, 90, 5, display_qty=2),
    ):
        assert "liquibook" in clock.refused(command, UnsupportedOrderOption)
    clock.run(Tick(), after_ns=200)
    assert clock.exchange.service.get_order(gtd.order_id) is None  # expired


def test_a_stop_retried_under_its_client_id_is_the_first(clock: Clock) -> None:
    first = _stop(clock, PlaceStop(ALICE, M, ASK, 90, 89, 2, client_order_id="s"))
    retry, events = clock.execute(PlaceStop(ALICE, M, ASK, 90, 89, 2, client_order_id="s"))
    assert isinstance(retry, StopOrder)
    assert (retry.order_id, retry.trigger_price, retry.price, retry.locked) == (
        first.order_id,
        90,
        89,
        2,
    )
    assert [type(e) for e in events] == [OrderRecalled]
    assert [s.order_id for s in clock.exchange.service.stops(ALICE)] == [first.order_id]
    assert clock.exchange.service.balance(ALICE, BASE_TOKEN).locked == 2  # locked once
