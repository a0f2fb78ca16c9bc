"""ccxt's unified structures from the client's plain data: the edge where amounts become floats
and times milliseconds, so a bot written against ccxt's unified API reads tachyon unchanged.

The keys and types are ccxt's (its manual, and `python/ccxt/base/types.py`: `MarketInterface`,
`OrderBook`, `Trade`, `Order`, `Balances`): numbers are floats (None where tachyon does not
know them), ids strings, sides "buy"/"sell", times integer ms since the epoch with
`datetime` in ISO 8601. Floats round: each structure's `info` holds the node's exact decimal
strings, and `Client`'s own methods (`get_book`, `place_order`, ...) never leave them.
Precision is ccxt's TICK_SIZE mode: `precision` holds the tick and the lot as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from tachyon import errors
from tachyon.client.calls import OrderOptions
from tachyon.client.data import Balance, Book, Fill, Market, Order, Placement, Trade, plain

TICK_SIZE: Final = 4
"""ccxt's `precisionMode` constant for precision given as the smallest step."""
SIDES: Final = {"bid": "buy", "ask": "sell"}
TACHYON_SIDES: Final = {"buy": "bid", "sell": "ask"}
STATUSES: Final = {
    "new": "open",
    "partially_filled": "open",
    "filled": "closed",
    "cancelled": "canceled",
    "rejected": "rejected",
}
BPS: Final = Decimal(10_000)
NS_PER_MS: Final = 1_000_000

Structure = dict[str, Any]


def milliseconds(time_ns: int | None) -> int | None:
    return None if time_ns is None else time_ns // NS_PER_MS


def iso8601(ms: int | None) -> str | None:
    """ccxt's datetime: "2017-08-17T12:42:48.000Z"."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def number(text: str | None) -> float | None:
    return None if text is None else float(text)


def side_of(side: str) -> str:
    """tachyon's side for ccxt's "buy" or "sell"."""
    chosen = TACHYON_SIDES.get(side.lower())
    if chosen is None:
        raise errors.InvalidInput(f"side {side!r} is not buy or sell")
    return chosen


def exact(value: float | str | None, name: str) -> str | None:
    """A ccxt number as the decimal string it prints as (the shortest that reads back)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise errors.InvalidInput(f"{name} {value!r} is not a number")
    return format(Decimal(str(value)), "f")


def market(row: Market) -> Structure:
    """A ccxt market structure (a spot market; `id` and `symbol` are tachyon's name)."""
    return {
        "id": row.market,
        "symbol": row.market,
        "base": row.base,
        "quote": row.quote,
        "baseId": row.base,
        "quoteId": row.quote,
        "active": not row.halted,
        "type": "spot",
        "subType": None,
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "settle": None,
        "settleId": None,
        "contractSize": None,
        "linear": None,
        "inverse": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "taker": float(row.taker_bps / BPS),
        "maker": float(row.maker_bps / BPS),
        "percentage": True,
        "tierBased": False,
        "feeSide": "base" if row.fee_token == row.base else "quote",
        "precision": {"amount": float(row.lot_size), "price": float(row.tick_size)},
        "limits": {
            "amount": {"min": float(row.min_qty), "max": number(row.max_qty)},
            "price": {"min": float(row.tick_size), "max": None},
            "cost": {"min": number(row.min_notional), "max": None},
            "leverage": {"min": None, "max": None},
        },
        "created": None,
        "info": plain(row),
    }


def order_book(book: Book, now_ms: int | None = None) -> Structure:
    """`{'bids': [[price, amount], ...], 'asks': ..., 'nonce': ...}`, best first; `nonce` the
    book's update id (a stream's; None for a REST read, which does not tell it)."""
    return {
        "symbol": book.market,
        "bids": [[float(level.price), float(level.qty)] for level in book.bids],
        "asks": [[float(level.price), float(level.qty)] for level in book.asks],
        "timestamp": now_ms,
        "datetime": iso8601(now_ms),
        "nonce": book.update_id,
        "info": plain(book),
    }


def cost(price: str, qty: str) -> float:
    return float(Decimal(price) * Decimal(qty))


def trade(symbol: str, row: Trade) -> Structure:
    """A public trade: `side` the taker's; no order or fee (those are each party's)."""
    ms = milliseconds(row.time_ns)
    return {
        "info": plain(row),
        "id": str(row.trade_id),
        "timestamp": ms,
        "datetime": iso8601(ms),
        "symbol": symbol,
        "order": None,
        "type": None,
        "side": SIDES[row.taker_side],
        "takerOrMaker": None,
        "price": float(row.price),
        "amount": float(row.qty),
        "cost": cost(row.price, row.qty),
        "fee": None,
        "fees": [],
    }


def my_trade(row: Fill) -> Structure:
    """One of the account's fills as a ccxt trade: its order, side, role and fee."""
    ms = milliseconds(row.time_ns)
    fee = None if row.fee is None else {"cost": float(row.fee), "currency": row.fee_token}
    return {
        "info": plain(row),
        "id": str(row.trade_id),
        "timestamp": ms,
        "datetime": iso8601(ms),
        "symbol": row.market,
        "order": str(row.order_id),
        "type": None,
        "side": SIDES[row.side],
        "takerOrMaker": row.role,
        "price": float(row.price),
        "amount": float(row.qty),
        "cost": cost(row.price, row.qty),
        "fee": fee,
        "fees": [] if fee is None else [fee],
    }


def balance(rows: Iterable[Balance]) -> Structure:
    """`{'BASE': {'free', 'used', 'total'}, 'free': {...}, 'used': {...}, 'total': {...}}`:
    free is available, used locked in open orders, total their sum; `debt` where owed."""
    rows = list(rows)
    result: Structure = {"info": {"balances": plain(rows)}, "timestamp": None, "datetime": None}
    for kind in ("free", "used", "total"):
        result[kind] = {}
    for row in rows:
        total = Decimal(row.available) + Decimal(row.locked)
        account = {"free": float(row.available), "used": float(row.locked), "total": float(total)}
        if Decimal(row.debt):
            account["debt"] = float(row.debt)
        result[row.token] = account
        for kind in ("free", "used", "total"):
            result[kind][row.token] = account[kind]
    return result


@dataclass(frozen=True, kw_only=True)
class Asked:
    """What `create_order` asked for, which a placement's answer does not repeat."""

    type: str
    side: str
    amount: str | None
    price: str | None
    time_in_force: str | None = None
    post_only: bool = False
    client_order_id: str | None = None


def open_order(row: Order) -> Structure:
    """An open limit order (its fills' prices are not told: `cost` and `average` None)."""
    ms = milliseconds(row.time_ns)
    return order_structure(
        row.order_id,
        row.market,
        ms,
        STATUSES[row.status],
        Asked(type="limit", side=SIDES[row.side], amount=row.qty, price=row.price),
        row.filled_qty,
        row.remaining_qty,
        trades=None,
        spent=None,
        fee=None,
        info=plain(row),
    )


def placed_order(row: Placement, fee_token: str, asked: Asked | None) -> Structure:
    """A placement (or a cancel's) as a ccxt order, with the trades it made as the taker;
    what the answer does not tell (a cancel's side, price, amount) is None."""
    ms = milliseconds(row.time_ns)
    side = None if asked is None else asked.side
    trades = [_taker_trade(row, each, side, fee_token) for each in row.trades]
    fees = [each["fee"]["cost"] for each in trades if each["fee"] is not None]
    fee = None
    if trades and len(fees) == len(trades):
        taken = sum(Decimal(each.taker_fee or "0") for each in row.trades)
        fee = {"cost": float(taken), "currency": fee_token}
    amount = None if asked is None else asked.amount
    remaining = (
        row.open_qty if amount is None else format(Decimal(amount) - Decimal(row.filled_qty), "f")
    )
    return order_structure(
        row.order_id,
        row.market,
        ms,
        STATUSES[row.status],
        asked,
        row.filled_qty,
        remaining,
        trades=trades,
        spent=sum((Decimal(each.price) * Decimal(each.qty) for each in row.trades), Decimal(0)),
        fee=fee,
        info=plain(row),
    )


def _taker_trade(row: Placement, each: Trade, side: str | None, fee_token: str) -> Structure:
    result = trade(row.market, each)
    result["timestamp"] = milliseconds(each.time_ns or row.time_ns)
    result["datetime"] = iso8601(result["timestamp"])
    result["order"] = str(row.order_id)
    result["side"] = side or result["side"]
    result["takerOrMaker"] = "taker"
    if each.taker_fee is not None:
        result["fee"] = {"cost": float(each.taker_fee), "currency": fee_token}
        result["fees"] = [result["fee"]]
    return result


def order_structure(
    order_id: int,
    symbol: str,
    ms: int | None,
    status: str,
    asked: Asked | None,
    filled: str,
    remaining: str | None,
    *,
    trades: Sequence[Structure] | None,
    spent: Decimal | None,
    fee: Structure | None,
    info: Any,
) -> Structure:
    """ccxt's order structure; `cost` (quote spent or received) and `average` when known."""
    average = spent / Decimal(filled) if spent is not None and Decimal(filled) else None
    last_trade = max((each["timestamp"] or 0 for each in trades or ()), default=None) or None
    return {
        "info": info,
        "id": str(order_id),
        "clientOrderId": None if asked is None else asked.client_order_id,
        "timestamp": ms,
        "datetime": iso8601(ms),
        "lastTradeTimestamp": last_trade,
        "lastUpdateTimestamp": ms,
        "status": status,
        "symbol": symbol,
        "type": None if asked is None else asked.type,
        "timeInForce": None if asked is None else asked.time_in_force,
        "postOnly": None if asked is None else asked.post_only,
        "reduceOnly": None,
        "side": None if asked is None else asked.side,
        "price": None if asked is None else number(asked.price),
        "triggerPrice": None,
        "stopPrice": None,
        "takeProfitPrice": None,
        "stopLossPrice": None,
        "average": None if average is None else float(average),
        "amount": None if asked is None else number(asked.amount),
        "filled": float(filled),
        "remaining": number(remaining),
        "cost": None if spent is None else float(spent),
        "trades": list(trades or ()),
        "fee": fee,
        "fees": [] if fee is None else [fee],
    }


ORDER_PARAMS: Final = (
    "clientOrderId",
    "cost",
    "displayQty",
    "goodTillDate",
    "postOnly",
    "selfTradePrevention",
    "timeInForce",
)
"""`create_order`'s params: ccxt's unified ones, `cost` (a market buy's quote budget, as ccxt's
`createMarketBuyOrderWithCost`), `goodTillDate` (ms, as Binance's) and tachyon's
`displayQty` (an iceberg's shown quantity) and `selfTradePrevention`."""


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    """A ccxt `create_order` call in tachyon's terms (exact strings, ns, tachyon's side)."""

    side: str
    qty: str | None
    price: str | None
    asked: Asked
    options: OrderOptions


def order_request(
    kind: str, side: str, amount: float | None, price: float | None, params: dict[str, Any]
) -> OrderRequest:
    """Read `create_order`'s arguments; InvalidInput for what tachyon would not do as asked."""
    unknown = sorted(set(params) - set(ORDER_PARAMS))
    if unknown:
        raise errors.InvalidInput(
            f"create_order params {unknown} are not among {', '.join(ORDER_PARAMS)}"
        )
    if kind not in ("limit", "market"):
        raise errors.InvalidInput(f"order type {kind!r} is not limit or market")
    if kind == "limit" and price is None:
        raise errors.InvalidInput("a limit order needs a price")
    tif = str(params.get("timeInForce") or "GTC").upper()
    post_only = bool(params.get("postOnly", False)) or tif == "PO"
    if tif not in ("GTC", "IOC", "FOK", "PO", "GTD"):
        raise errors.InvalidInput(f"timeInForce {tif!r} is not GTC, IOC, FOK, PO or GTD")
    until = params.get("goodTillDate")
    qty = exact(amount, "amount") if amount else None
    limit_price = exact(price, "price") if kind == "limit" else None
    asked = Asked(
        type=kind,
        side=side.lower(),
        amount=qty,
        price=limit_price,
        time_in_force=None if kind == "market" else ("PO" if post_only else tif),
        post_only=post_only,
        client_order_id=params.get("clientOrderId"),
    )
    return OrderRequest(
        side=side_of(side),
        qty=qty,
        price=limit_price,
        asked=asked,
        options=OrderOptions(
            max_quote=exact(params.get("cost"), "cost"),
            tif="gtc" if tif in ("PO", "GTD") else tif.lower(),
            post_only=post_only,
            stp=params.get("selfTradePrevention"),
            display_qty=exact(params.get("displayQty"), "displayQty"),
            expire_at_ns=None if until is None else int(until) * NS_PER_MS,
            client_order_id=params.get("clientOrderId"),
        ),
    )


def since_limit(rows: list[Structure], since: int | None, limit: int | None) -> list[Structure]:
    """ccxt's `since` (ms, inclusive) and `limit` (the latest this many), oldest first."""
    kept = [row for row in rows if since is None or (row["timestamp"] or 0) >= since]
    kept.sort(key=lambda row: (row["timestamp"] or 0, int(row["id"])))
    return kept if limit is None else kept[-limit:] if limit else []
