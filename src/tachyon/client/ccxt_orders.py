"""ccxt's structures for what `tachyon.client.ccxt` does not cover: stops (ccxt's trigger
orders, placed by `create_order`'s `triggerPrice` param), closed orders from the account's
history, `edit_order`'s arguments read as an amend, the ticker (from the book's top and the
latest trades) and ccxt's `has` map. Floats and ms at this edge only, as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from tachyon import errors
from tachyon.client.calls import OrderOptions
from tachyon.client.ccxt import (
    NS_PER_MS,
    SIDES,
    STATUSES,
    Asked,
    Structure,
    exact,
    iso8601,
    milliseconds,
    my_trade,
    number,
    open_order,
    order_request,
    order_structure,
    placed_order,
    side_of,
)
from tachyon.client.data import (
    Book,
    ClosedOrder,
    Fill,
    FillEvent,
    History,
    Order,
    OrderEvent,
    Placement,
    Stop,
    Trade,
    plain,
)

STOP_STATUSES: Final = {"pending": "open", "cancelled": "canceled", "triggered": "closed"}
TRIGGER_PARAMS: Final = ("triggerPrice", "stopPrice")
"""`create_order`'s params that make it a stop (ccxt's trigger order); either names it."""
STOP_PARAMS: Final = ("clientOrderId", "cost", "selfTradePrevention")
"""What else a stop's `create_order` takes (a stop has no time in force, post-only or iceberg)."""
DAY_MS: Final = 86_400_000

HAS: Final[dict[str, bool]] = {
    "spot": True,
    "margin": False,
    "swap": False,
    "future": False,
    "option": False,
    "cancelAllOrders": False,
    "cancelOrder": True,
    "createOrder": True,
    "createStopOrder": True,
    "editOrder": True,
    "fetchBalance": True,
    "fetchClosedOrders": True,
    "fetchDeposits": False,
    "fetchMarkets": True,
    "fetchMyTrades": True,
    "fetchOHLCV": False,
    "fetchOpenOrders": True,
    "fetchOrder": True,
    "fetchOrderBook": True,
    "fetchOrders": False,
    "fetchTicker": True,
    "fetchTickers": False,
    "fetchTrades": True,
    "fetchWithdrawals": False,
}
"""ccxt's `has`: which unified methods the clients offer (True) and which of ccxt's common
ones they do not (False; `withdraw` is left out: `Client.withdraw` is tachyon's, not ccxt's
`withdraw(code, amount, address)`); the ccxt pro methods (`watchOrderBook`, `watchTrades`) are added on
`AsyncClient`'s."""
ASYNC_HAS: Final[dict[str, bool]] = {
    **HAS,
    "ws": True,
    "watchOrderBook": True,
    "watchTrades": True,
    "watchOrders": True,
    "watchMyTrades": True,
}


@dataclass(frozen=True, kw_only=True)
class StopRequest:
    """A `create_order` call with a trigger price, in tachyon's terms."""

    trigger: str
    side: str
    qty: str | None
    price: str | None
    options: OrderOptions
    client_order_id: str | None


def stop_request(
    kind: str, side: str, amount: float | None, price: float | None, params: dict[str, Any]
) -> StopRequest | None:
    """A stop if `params` hold `triggerPrice` (or `stopPrice`): a stop-limit for a limit
    order, a stop-market for a market one; None for an order without a trigger."""
    given = {exact(params[name], name) for name in TRIGGER_PARAMS if params.get(name) is not None}
    if not given:
        return None
    if len(given) > 1:
        raise errors.InvalidInput("triggerPrice and stopPrice differ; give one")
    rest = {key: value for key, value in params.items() if key not in TRIGGER_PARAMS}
    unknown = sorted(set(rest) - set(STOP_PARAMS))
    if unknown:
        raise errors.InvalidInput(
            f"a stop's create_order params {unknown} are not among"
            f" {', '.join(TRIGGER_PARAMS + STOP_PARAMS)}"
        )
    asked = order_request(kind, side, amount, price, rest)
    (trigger,) = given
    assert trigger is not None
    return StopRequest(
        trigger=trigger,
        side=asked.side,
        qty=asked.qty,
        price=asked.price,
        options=asked.options,
        client_order_id=asked.asked.client_order_id,
    )


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
    """An order as the account stream tells it: its status and what remains (its amount, what
    filled and its time are not told: None; its fills come as `watch_my_trades`)."""
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


def event_fill(row: FillEvent) -> Structure:
    """A fill as the account stream tells it, as ccxt's trade (as `fetch_my_trades`')."""
    return my_trade(
        Fill(
            trade_id=row.trade_id,
            market=row.market,
            order_id=row.order_id,
            side=row.side,
            role=row.role,
            price=row.price,
            qty=row.qty,
            fee=row.fee,
            fee_token=row.fee_token,
            time_ns=row.time_ns,
        )
    )


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
    side_of(side)  # buy or sell, though an amend keeps the order's side
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


def ticker(symbol: str, book: Book, trades: Sequence[Trade], whole: bool, now_ms: int) -> Structure:
    """ccxt's ticker: `bid` and `ask` the book's best levels, `last` the latest trade, and the
    24 hours to `now_ms` from `trades` (newest first; `whole`: every trade the market made,
    else the latest ones only). Where those trades may not reach back 24 hours (or their
    times are not recorded) the day's figures are None rather than a part of a day's."""
    start = now_ms - DAY_MS
    times = [each.time_ns for each in trades]
    known = None not in times
    reaches = whole or (bool(trades) and (trades[-1].time_ns or 0) // NS_PER_MS <= start)
    day = [t for t in trades if (t.time_ns or 0) // NS_PER_MS > start] if known else []
    last = trades[0].price if trades else None
    result: Structure = {
        "symbol": symbol,
        "info": {"book": plain(book), "trades": plain(list(trades[:1]))},
        "timestamp": now_ms,
        "datetime": iso8601(now_ms),
        "bid": number(book.bids[0].price) if book.bids else None,
        "bidVolume": number(book.bids[0].qty) if book.bids else None,
        "ask": number(book.asks[0].price) if book.asks else None,
        "askVolume": number(book.asks[0].qty) if book.asks else None,
        "last": number(last),
        "close": number(last),
        "previousClose": None,
    }
    result.update(_day(day if known and reaches else None))
    return result


def _day(day: Sequence[Trade] | None) -> Structure:
    """The day's figures of its trades (newest first); all None when not known."""
    keys = ("high", "low", "open", "vwap", "change", "percentage", "average")
    if day is None:
        return dict.fromkeys((*keys, "baseVolume", "quoteVolume"))
    base = sum((Decimal(each.qty) for each in day), Decimal(0))
    quote = sum((Decimal(each.price) * Decimal(each.qty) for each in day), Decimal(0))
    figures: Structure = {"baseVolume": float(base), "quoteVolume": float(quote)}
    if not day:
        return {**dict.fromkeys(keys), **figures}
    prices = [Decimal(each.price) for each in day]
    first, last = prices[-1], prices[0]
    return {
        **figures,
        "high": float(max(prices)),
        "low": float(min(prices)),
        "open": float(first),
        "vwap": float(quote / base),
        "change": float(last - first),
        "percentage": float((last - first) / first * 100),
        "average": float((first + last) / 2),
    }
