"""ccxt's unified structures as ccxt declares them (python/ccxt/base/types.py: MarketInterface,
OrderBook, Trade, Order, Balance, Ticker), and checks that a structure has those keys with those types."""

from __future__ import annotations

from typing import Any, Final

NUM: Final = (float, type(None))
"""ccxt's `Num` as this client gives it: a float, or None where not known."""
STR: Final = (str, type(None))
INT: Final = (int, type(None))

MARKET: Final = {
    "id": str, "symbol": str, "base": str, "quote": str, "baseId": str, "quoteId": str,
    "active": bool, "type": str, "subType": STR, "spot": bool, "margin": bool, "swap": bool,
    "future": bool, "option": bool, "contract": bool, "settle": STR, "settleId": STR,
    "contractSize": NUM, "linear": (bool, type(None)), "inverse": (bool, type(None)),
    "expiry": NUM, "expiryDatetime": STR, "strike": NUM, "optionType": STR, "taker": float,
    "maker": float, "percentage": bool, "tierBased": bool, "feeSide": str, "precision": dict,
    "limits": dict, "created": INT, "info": dict,
}  # fmt: skip
ORDER_BOOK: Final = {
    "bids": list, "asks": list, "symbol": str, "timestamp": INT, "datetime": STR,
    "nonce": INT, "info": dict,
}  # fmt: skip
TRADE: Final = {
    "info": dict, "id": str, "timestamp": int, "datetime": str, "symbol": str, "order": STR,
    "type": STR, "side": str, "takerOrMaker": STR, "price": float, "amount": float,
    "cost": float, "fee": (dict, type(None)),
}  # fmt: skip
ORDER: Final = {
    "info": dict, "id": str, "clientOrderId": STR, "datetime": STR, "timestamp": INT,
    "lastTradeTimestamp": INT, "lastUpdateTimestamp": INT, "status": str, "symbol": str,
    "type": STR, "timeInForce": STR, "side": STR, "price": NUM, "average": NUM,
    "amount": NUM, "filled": float, "remaining": NUM, "stopPrice": NUM,
    "takeProfitPrice": NUM, "stopLossPrice": NUM, "cost": NUM, "trades": list,
    "fee": (dict, type(None)),
}  # fmt: skip
BALANCE: Final = {"free": float, "used": float, "total": float}
TICKER: Final = {
    "symbol": str, "info": dict, "timestamp": INT, "datetime": STR, "high": NUM, "low": NUM,
    "bid": NUM, "bidVolume": NUM, "ask": NUM, "askVolume": NUM, "vwap": NUM, "open": NUM,
    "close": NUM, "last": NUM, "previousClose": NUM, "change": NUM, "percentage": NUM,
    "average": NUM, "quoteVolume": NUM, "baseVolume": NUM,
}  # fmt: skip


def check(structure: dict[str, Any], shape: dict[str, Any]) -> None:
    """Every key of `shape` is in `structure`, its value of the type given."""
    missing = sorted(set(shape) - set(structure))
    assert not missing, f"missing ccxt keys {missing}"
    for key, kind in shape.items():
        assert isinstance(structure[key], kind), (key, structure[key], kind)


def check_market(row: dict[str, Any]) -> None:
    check(row, MARKET)
    assert set(row["precision"]) >= {"amount", "price"}
    assert all(isinstance(row["precision"][key], float) for key in ("amount", "price"))
    assert set(row["limits"]) >= {"amount", "price", "cost"}
    for limit in row["limits"].values():
        assert set(limit) == {"min", "max"} and all(isinstance(v, NUM) for v in limit.values())


def check_book(book: dict[str, Any]) -> None:
    check(book, ORDER_BOOK)
    for side in (book["bids"], book["asks"]):
        assert all(len(level) == 2 and all(type(v) is float for v in level) for level in side)
    assert [level[0] for level in book["bids"]] == sorted(
        (level[0] for level in book["bids"]), reverse=True
    )
    assert [level[0] for level in book["asks"]] == sorted(level[0] for level in book["asks"])


def check_trade(trade: dict[str, Any]) -> None:
    check(trade, TRADE)
    assert trade["side"] in ("buy", "sell")
    assert trade["datetime"].endswith("Z") and trade["timestamp"] > 1_600_000_000_000
    if trade["fee"] is not None:
        assert isinstance(trade["fee"]["cost"], float) and isinstance(trade["fee"]["currency"], str)


def check_order(order: dict[str, Any]) -> None:
    check(order, ORDER)
    assert order["status"] in ("open", "closed", "canceled", "expired", "rejected")
    for trade in order["trades"]:
        check_trade(trade)


def check_balance(balance: dict[str, Any], tokens: list[str]) -> None:
    for kind in ("free", "used", "total", "info"):
        assert isinstance(balance[kind], dict)
    for token in tokens:
        check(balance[token], BALANCE)
        for kind in ("free", "used", "total"):
            assert balance[kind][token] == balance[token][kind]


def check_ticker(ticker: dict[str, Any]) -> None:
    check(ticker, TICKER)
    assert ticker["datetime"].endswith("Z") and ticker["timestamp"] > 1_600_000_000_000
