"""ccxt's order structures for what `tachyon.client.ccxt` does not cover: pending stops (a
trigger order), closed orders from the account's history, orders as the account stream tells
them, and `edit_order`'s arguments read as an amend. Floats and ms at this edge only, as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from tachyon import errors
from tachyon.client.ccxt import (
    SIDES,
    STATUSES,
    Asked,
    Structure,
    exact,
    milliseconds,
    my_trade,
    open_order,
    order_structure,
    placed_order,
)
from tachyon.client.data import (
    ClosedOrder,
    Fill,
    History,
    Order,
    OrderEvent,
    Placement,
    Stop,
    plain,
)

STOP_STATUSES: Final = {"pending": "open", "cancelled": "canceled", "triggered": "closed"}


def stop_order(row: Stop, client_order_id: str | None = None) -> Structure:
    """A stop as ccxt's trigger order: `triggerPrice` (and `stopPrice`) its trigger, `type`
    what it becomes (limit with a price, market without), nothing filled."""
    ms = milliseconds(row.time_ns)
    asked = Asked(
        type="market" if row.price is None else "limit",
        side=SIDES[row.side],
        amount=row.qty,
        price=row.price,
        client_order_id=client_order_id,
    )
    result = order_structure(
        row.order_id,
        row.market,
        ms,
        STOP_STATUSES.get(row.status, row.status),
        asked,
        "0",
        row.qty,
        trades=[],
        spent=None,
        fee=None,
        info=plain(row),
    )
    result["triggerPrice"] = result["stopPrice"] = float(row.trigger_price)
    return result


def cancelled_order(
    row: Placement | Stop, fee_token: str, client_order_id: str | None
) -> Structure:
    """A cancel's answer: the order as cancelled (what the answer does not tell, None), or
    the stop as cancelled."""
    if isinstance(row, Stop):
        return stop_order(row, client_order_id)
    return {**placed_order(row, fee_token, None), "clientOrderId": client_order_id}


def closed_order(row: ClosedOrder, fills: Sequence[Fill]) -> Structure:
    """A closed order, with its fills among `fills` as its trades (its `cost`, `average`
    and `fee` when they account for all it filled; None otherwise)."""
    own = [each for each in fills if each.order_id == row.order_id]
    whole = sum((Decimal(each.qty) for each in own), Decimal(0)) == Decimal(row.filled_qty)
    spent = sum((Decimal(each.price) * Decimal(each.qty) for each in own), Decimal(0))
    fee = None
    if own and whole and all(each.fee is not None for each in own):
        paid = sum(Decimal(each.fee or "0") for each in own)
        fee = {"cost": float(paid), "currency": own[0].fee_token}
    remaining = None if row.qty is None else Decimal(row.qty) - Decimal(row.filled_qty)
    asked = Asked(
        type="market" if row.price is None else "limit",
        side=SIDES[row.side],
        amount=row.qty,
        price=row.price,
    )
    result = order_structure(
        row.order_id,
        row.market,
        milliseconds(row.time_ns),
        "expired" if row.reason == "expired" else STATUSES[row.status],
        asked,
        row.filled_qty,
        None if remaining is None else format(remaining, "f"),
        trades=[my_trade(each) for each in own],
        spent=spent if whole else None,
        fee=fee,
        info=plain(row),
    )
    result["lastUpdateTimestamp"] = milliseconds(row.closed_time_ns)
    return result


def find_order(
    order_id: int, opens: Sequence[Order], stops: Sequence[Stop], history: History
) -> Structure:
    """`order_id` among the open orders, the pending stops and the latest closed orders;
    OrderNotFound if it is in none of them."""
    for row in opens:
        if row.order_id == order_id:
            return open_order(row)
    for stop in stops:
        if stop.order_id == order_id:
            return stop_order(stop)
    for closed in history.orders:
        if closed.order_id == order_id:
            return closed_order(closed, history.fills)
    raise errors.OrderNotFound(
        f"order {order_id} is not open, a pending stop, nor among the latest closed orders"
    )


def event_order(row: OrderEvent) -> Structure:
    """An order as the account stream tells it: its status and what remains (its amount and
    what filled are not told: None; its fills come as `watch_my_trades`)."""
    asked = Asked(
        type="market" if row.price is None else "limit",
        side=SIDES[row.side],
        amount=None,
        price=row.price,
    )
    result = order_structure(
        row.order_id,
        row.market,
        None,
        STATUSES[row.status],
        asked,
        "0",
        row.remaining_qty,
        trades=None,
        spent=None,
        fee=None,
        info=plain(row),
    )
    result["filled"] = None
    return result


@dataclass(frozen=True, kw_only=True)
class Edit:
    """An `edit_order` call as an amend: the order (by id or client order id), what changes,
    and what the answer repeats."""

    order_id: int | None
    client_order_id: str | None
    qty: str | None
    price: str | None
    asked: Asked


def edit_request(
    order_id: str,
    kind: str,
    side: str,
    amount: float | None,
    price: float | None,
    params: dict[str, Any],
) -> Edit:
    """Read `edit_order`'s arguments: a resting limit order's new amount and/or price
    (`params['clientOrderId']` names it instead of `id`)."""
    unknown = sorted(set(params) - {"clientOrderId"})
    if unknown:
        raise errors.InvalidInput(f"edit_order params {unknown} are not among clientOrderId")
    if kind != "limit":
        raise errors.InvalidInput(f"only a limit order is edited, not {kind!r}")
    client_id = params.get("clientOrderId")
    qty, limit_price = exact(amount, "amount"), exact(price, "price")
    asked = Asked(
        type="limit", side=side.lower(), amount=qty, price=limit_price, client_order_id=client_id
    )
    return Edit(
        order_id=None if client_id else int(order_id),
        client_order_id=client_id,
        qty=qty,
        price=limit_price,
        asked=asked,
    )
