"""The order types beyond a plain limit or market order, as the state machine applies them:
`PlaceOrder` (client order ids, good-till-date, icebergs), `PlaceStop` and the stops a trade
triggers, `CancelClientOrder`, amends by client order id, and `Tick`, the sequencer's clock.

Pure, and deterministic: everything reads the command's sequencer time (`now_ns`), never a
clock, so replay expires, triggers and remembers exactly what it did the first time.

Stops fire in the order they were accepted (their order ids): after a command's fills, every
stop of each market it traded on whose trigger the last trade price has reached is placed, in
that order, through the risk stage as a new order would be; their own fills may reach more
stops, which fire next, until none is reached. A triggered order that a rule or limit refuses
(or whose owner cannot lock what it needs, after a fee change) is cancelled: `StopTriggered`
then `StopCancelled` with the refusal's code and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId
from tachyon.dex.model import OrderStatus, Side, TimeInForce, Trade
from tachyon.errors import InvalidOrder, TachyonError
from tachyon.exchange import risk
from tachyon.exchange.client_orders import Remembered, check_client_order_id
from tachyon.exchange.commands import (
    AmendOrder,
    CancelClientOrder,
    PlaceOrder,
    PlaceStop,
)
from tachyon.exchange.events import (
    CancelReason,
    Event,
    Filled,
    OrderRecalled,
    StopCancelled,
    StopTriggered,
)
from tachyon.exchange.service import Placement, StopOrder, stop_of_row, stop_row

if TYPE_CHECKING:
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.service import DexService
    from tachyon.exchange.state_machine import Exchange

Result = tuple[Placement | StopOrder, list[Event]]
"""An order's outcome and its events."""

# An answer remembered under a client order id: a placement's summary, or a stop order.
_OrderRow = tuple[int, str, str, int, int, list[Trade], list[tuple[int, int]]]


def place_order(exchange: Exchange, command: PlaceOrder, now_ns: int) -> Result:
    """A `PlaceOrder`: the answer remembered under its client order id if the account used
    that id already (nothing changes), else the order, judged by the risk stage first."""
    account = AccountId(command.account)
    client_id = command.client_order_id
    if client_id is not None:
        remembered = exchange.client_orders.recall(
            account, check_client_order_id(client_id), now_ns
        )
        if remembered is not None:
            return _recall(account, client_id, remembered)
    expire_at = command.expire_at_ns
    if expire_at is not None and type(expire_at) is int and expire_at <= now_ns:
        raise InvalidOrder(
            f"expire_at_ns {command.expire_at_ns} is not after the exchange's time"
            f" {now_ns}: the order would expire before it rests; nothing was placed"
        )
    placement = _judged_order(exchange, command)
    if client_id is not None:
        exchange.client_orders.remember(
            account, client_id, now_ns, placement.order_id, answer_of(placement)
        )
    return placement, placement.events


JudgedOrder = tuple[Side, int | None, int | None, int | None, TimeInForce]
"""An order as the risk stage judges it: side, price (None: a market order), qty, max_quote,
time in force."""


def _judged_order(exchange: Exchange, command: PlaceOrder) -> Placement:
    service = exchange.service
    rules = exchange.venue.rules.get(MarketId(command.market)) if exchange.venue.rules else None

    def place(qty: int | None) -> Placement:
        return service.place_order(
            command.account,  # type: ignore[arg-type]
            command.side,
            command.price,
            qty,
            market=command.market,  # type: ignore[arg-type]
            max_quote=command.max_quote,
            tif=command.tif,
            post_only=command.post_only,
            stp=command.stp,
            display_qty=command.display_qty,
            expire_at_ns=command.expire_at_ns,
        )

    if rules is None:
        return place(command.qty)
    order = (command.side, command.price, command.qty, command.max_quote, command.tif)
    return place_judged(service, rules, AccountId(command.account), command.market, order, place)


def place_judged(
    service: DexService,
    rules: MarketRules,
    owner: AccountId,
    market: str,
    order: JudgedOrder,
    place: Callable[[int | None], Placement],
) -> Placement:
    """Place an order `(side, price or None for a market order, qty, max_quote, tif)` on a
    market with rules: the risk stage first (`tachyon.exchange.risk`), which refuses before
    anything is locked, then `place(qty)`; a market order takes only what lies inside the
    price band (the rest cancelled, reason `price_band`)."""
    side, price, qty, max_quote, tif = order
    config = service.get_market(MarketId(market))
    if price is not None:
        if type(price) is int and type(qty) is int:  # else the service refuses it
            risk.check_limit(service, rules, owner, config, (side, price, qty, tif))
        return place(qty)
    capped = risk.check_market(service, rules, owner, config, (side, qty, max_quote))
    placement = place(capped)
    if capped == qty:
        return placement
    return msgspec.structs.replace(placement, qty=qty, cause=CancelReason.PRICE_BAND)


def place_stop(exchange: Exchange, command: PlaceStop, now_ns: int) -> Result:
    """A `PlaceStop`, remembered under its client order id as `place_order` does. A halted
    market refuses it."""
    account = AccountId(command.account)
    client_id = command.client_order_id
    if client_id is not None:
        remembered = exchange.client_orders.recall(
            account, check_client_order_id(client_id), now_ns
        )
        if remembered is not None:
            return _recall(account, client_id, remembered)
    market = MarketId(command.market)
    if exchange.venue.rules_of(market).halted:
        risk.refuse_halted(exchange.service.get_market(market))
    stop = exchange.service.place_stop(
        account,
        command.side,
        command.trigger_price,
        command.price,
        command.qty,
        market=market,
        max_quote=command.max_quote,
        stp=command.stp,
        time_ns=now_ns,
    )
    if client_id is not None:
        exchange.client_orders.remember(account, client_id, now_ns, stop.order_id, answer_of(stop))
    return stop, stop.events


def _recall(account: AccountId, client_id: str, remembered: Remembered) -> Result:
    """The answer a retry gets: the original's, with the event that says so."""
    answer = recalled(remembered)
    fees = msgspec.convert(remembered.answer, _OrderRow)[6] if remembered.kind == "order" else []
    event = OrderRecalled(account, client_id, OrderId(remembered.order_id), remembered.ts_ns, fees)
    return answer, [event]


def cancel_client_order(exchange: Exchange, command: CancelClientOrder, now_ns: int) -> Result:
    """Cancel the order (or pending stop) the account placed with this client order id."""
    account = AccountId(command.account)
    order_id = exchange.client_orders.order_id(account, command.client_order_id, now_ns)
    service = exchange.service
    if service.is_stop(order_id):
        stop = service.cancel_stop(account, order_id)
        return stop, stop.events
    placement = service.cancel(account, order_id)
    return placement, placement.events


def amended_order_id(exchange: Exchange, command: AmendOrder, now_ns: int) -> OrderId:
    """The order an amend names: by its id, or by the client order id it was placed with."""
    if command.order_id is not None:
        return OrderId(command.order_id)
    if command.client_order_id is None:
        raise InvalidOrder("an amend names its order: order_id or client_order_id")
    return exchange.client_orders.order_id(
        AccountId(command.account), command.client_order_id, now_ns
    )


def fire_stops(exchange: Exchange, events: list[Event]) -> list[Event]:
    """`events` with, after them, those of every stop the fills among them triggered (and
    of the stops those orders' fills triggered in turn)."""
    service = exchange.service
    markets = sorted({event.market for event in events if type(event) is Filled})
    if not markets:
        return events
    events = list(events)
    while markets:
        market = markets.pop(0)
        for stop, last_price in service.triggered_stops(market):
            fired = _trigger(exchange, stop, last_price)
            events.extend(fired)
            traded = {event.market for event in fired if type(event) is Filled}
            markets.extend(sorted(traded.difference(markets)))
    return events


def _trigger(exchange: Exchange, stop: StopOrder, last_price: int) -> list[Event]:
    """Place the order a triggered stop becomes, through the risk stage; its events."""
    market, owner = stop.market, stop.owner
    command = PlaceOrder(
        owner, market, stop.side, stop.price, stop.qty, stop.max_quote, stp=stop.stp
    )
    try:
        placement = _judged_order(exchange, command)
    except TachyonError as exc:
        return [
            StopTriggered(market, stop.order_id, owner, last_price, None),
            StopCancelled(market, stop.order_id, owner, stop.side, exc.code, str(exc)),
        ]
    triggered = StopTriggered(market, stop.order_id, owner, last_price, placement.order_id)
    return [triggered, *placement.events]


# -- answers remembered under a client order id ----------------------------------------------


def answer_of(outcome: Placement | StopOrder) -> tuple[str, object]:
    """An accepted order's answer as plain values, to be given again to a retry."""
    if type(outcome) is StopOrder:
        return "stop", stop_row(outcome)
    assert type(outcome) is Placement
    fees = [
        (event.maker_fee, event.taker_fee)
        for event in outcome.events
        if type(event) is Filled and event.trade.taker_order_id == outcome.order_id
    ]
    return "order", [
        outcome.order_id,
        outcome.market,
        str(outcome.status),
        outcome.filled_qty,
        outcome.open_qty,
        msgspec.to_builtins(outcome.trades),
        fees,
    ]


def recalled(remembered: Remembered) -> Placement | StopOrder:
    """The answer an order placed with a client order id got (no events: a retry changes
    nothing)."""
    if remembered.kind == "stop":
        return stop_of_row(msgspec.convert(remembered.answer, list[object]))
    row = msgspec.convert(remembered.answer, _OrderRow)
    order_id, market, status, filled, open_qty, trades, _ = row
    return Placement(
        OrderId(order_id),
        trades,
        OrderStatus(status),
        filled,
        open_qty,
        MarketId(market),
    )
