"""A node's JSON answers read back into the core's values (the inverse of `shapes`).

Exact: each decimal string in token units becomes minor units with its market's or token's
decimals, refused (never rounded) if it does not fit them. A value of the wrong type is
`CorruptData`: the node answered something that is not a tachyon answer.
"""

from __future__ import annotations

from typing import Any, Final

from tachyon import errors
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId, TradeId
from tachyon.dex.model import (
    BookLevel,
    FeeSchedule,
    MarketConfig,
    OrderStatus,
    SelfTradePrevention,
    Side,
    Trade,
)
from tachyon.dex.open_order import OpenOrder
from tachyon.dex.records import (
    ClosedOrder,
    Fill,
    History,
    OrderRecord,
    Receipt,
    TradeRecord,
)
from tachyon.dex.units import AMOUNT_MINOR_MAX, to_minor
from tachyon.exchange.risk import MarketRules, RiskLimits
from tachyon.exchange.service import Placement, StopOrder
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord

UNKNOWN_ACCOUNT: Final = AccountId("")
"""A trade's maker and taker as the node's answers give them: not at all."""


def minor(text: object, decimals: int, name: str) -> int:
    """An exact decimal string in token units as minor units (zero allowed)."""
    if not isinstance(text, str):
        raise errors.CorruptData(f"the node's {name} {text!r} is not a decimal string")
    if text.strip("0.") == "" and text[:1] == "0":
        return 0
    return to_minor(text, decimals, name, AMOUNT_MINOR_MAX)


def market_from_json(row: dict[str, Any]) -> MarketConfig:
    base_decimals, quote_decimals = row["base_decimals"], row["quote_decimals"]
    return MarketConfig(
        TokenId(row["base"]),
        TokenId(row["quote"]),
        minor(row["tick_size"], quote_decimals, "tick_size"),
        minor(row["lot_size"], base_decimals, "lot_size"),
        minor(row["min_qty"], base_decimals, "min_qty"),
        base_decimals,
        quote_decimals,
        FeeSchedule(
            row["maker_bps"],
            row["taker_bps"],
            None if row["fee_token"] == row["quote"] else TokenId(row["fee_token"]),
            AccountId(row["fee_account"]),
        ),
    )


def levels_from_json(config: MarketConfig, rows: list[dict[str, str]]) -> list[BookLevel]:
    return [
        BookLevel(
            minor(row["price"], config.quote_decimals, "price"),
            minor(row["qty"], config.base_decimals, "qty"),
        )
        for row in rows
    ]


def trade_from_json(config: MarketConfig, row: dict[str, Any]) -> Trade:
    return Trade(
        TradeId(row["trade_id"]),
        minor(row["price"], config.quote_decimals, "price"),
        minor(row["qty"], config.base_decimals, "qty"),
        OrderId(row["maker_order_id"]),
        OrderId(row["taker_order_id"]),
        UNKNOWN_ACCOUNT,
        UNKNOWN_ACCOUNT,
        Side(row["taker_side"]),
    )


def fee_from_json(config: MarketConfig, text: object, name: str) -> int | None:
    """A fee in the market's fee token, negative for a rebate; None if not recorded (null)."""
    if text is None:
        return None
    places = config.base_decimals if config.fee_token == config.base else config.quote_decimals
    if isinstance(text, str) and text.startswith("-"):
        return -minor(text[1:], places, name)
    return minor(text, places, name)


def time_from_json(value: object, name: str = "time_ns") -> int | None:
    """Nanoseconds since the epoch, or None (null: not recorded)."""
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise errors.CorruptData(f"the node's {name} {value!r} is not a time in nanoseconds")
    return value


def trade_record_from_json(config: MarketConfig, row: dict[str, Any]) -> TradeRecord:
    return TradeRecord(
        trade_from_json(config, row),
        time_from_json(row.get("time_ns")),
        fee_from_json(config, row.get("maker_fee"), "maker_fee"),
        fee_from_json(config, row.get("taker_fee"), "taker_fee"),
    )


def receipt_from_json(config: MarketConfig, answer: dict[str, Any]) -> Receipt:
    """A placement answer's time and its trades' fees (None where not told)."""
    records = [trade_record_from_json(config, row) for row in answer["trades"]]
    fees: list[tuple[int, int]] | None = []
    for record in records:
        if record.maker_fee is None or record.taker_fee is None:
            fees = None
            break
        assert fees is not None
        fees.append((record.maker_fee, record.taker_fee))
    return Receipt(time_from_json(answer.get("time_ns")), fees)


def placement_from_json(config: MarketConfig, answer: dict[str, Any]) -> Placement:
    return Placement(
        OrderId(answer["order_id"]),
        [trade_from_json(config, row) for row in answer["trades"]],
        OrderStatus(answer["status"]),
        minor(answer["filled_qty"], config.base_decimals, "filled_qty"),
        minor(answer["open_qty"], config.base_decimals, "open_qty"),
        config.market_id,  # a summary: the events stayed with the node's exchange
    )


def withdrawal_from_json(decimals: int, answer: dict[str, Any]) -> Withdrawal:
    reference = answer.get("reference")
    return Withdrawal(
        int(answer["withdrawal_id"]),
        AccountId(""),  # a summary: the node knows whose
        TokenId(answer["token"]),
        minor(answer["amount"], decimals, "amount"),
        str(answer["destination"]),
        str(answer["state"]),
        None if reference is None else str(reference),
    )


def stop_from_json(config: MarketConfig, answer: dict[str, Any]) -> StopOrder:
    quote, base = config.quote_decimals, config.base_decimals
    side = Side(answer["side"])

    def optional(name: str, places: int) -> int | None:
        value = answer.get(name)
        return None if value is None else minor(value, places, name)

    return StopOrder(
        OrderId(answer["order_id"]),
        config.market_id,
        AccountId(""),  # a summary: the node knows whose
        side,
        minor(answer["trigger_price"], quote, "trigger_price"),
        optional("price", quote),
        optional("qty", base),
        optional("max_quote", quote),
        SelfTradePrevention(answer["stp"]),
        minor(answer["locked"], quote if side is Side.BID else base, "locked"),
        str(answer["status"]),
        time_ns=time_from_json(answer.get("time_ns")),
    )


def balance_from_json(row: dict[str, Any], decimals: int | None) -> BalanceRecord:
    """A token's balance; `decimals` None for a token no market names: as many as its amounts
    show."""
    places = _places(row) if decimals is None else decimals
    debt = row.get("debt")
    return BalanceRecord(
        minor(row["available"], places, "available"),
        minor(row["locked"], places, "locked"),
        0 if debt is None else minor(debt, places, "debt"),
    )


def open_order_from_json(config: MarketConfig, row: dict[str, Any]) -> OpenOrder:
    return OpenOrder(
        OrderId(row["order_id"]),
        config.market_id,
        Side(row["side"]),
        minor(row["price"], config.quote_decimals, "price"),
        minor(row["qty"], config.base_decimals, "qty"),
        minor(row["remaining_qty"], config.base_decimals, "remaining_qty"),
        minor(row["filled_qty"], config.base_decimals, "filled_qty"),
    )


def order_record_from_json(config: MarketConfig, row: dict[str, Any]) -> OrderRecord:
    return OrderRecord(open_order_from_json(config, row), time_from_json(row.get("time_ns")))


def closed_order_from_json(config: MarketConfig, row: dict[str, Any]) -> ClosedOrder:
    base, quote = config.base_decimals, config.quote_decimals
    price, qty = row["price"], row["qty"]
    return ClosedOrder(
        OrderId(row["order_id"]),
        config.market_id,
        Side(row["side"]),
        None if price is None else minor(price, quote, "price"),
        None if qty is None else minor(qty, base, "qty"),
        minor(row["filled_qty"], base, "filled_qty"),
        OrderStatus(row["status"]),
        row["reason"],
        time_from_json(row["time_ns"]),
        _closed_time(row["closed_time_ns"]),
    )


def _closed_time(value: object) -> int:
    closed = time_from_json(value, "closed_time_ns")
    if closed is None:
        raise errors.CorruptData("the node's closed order has no closed_time_ns")
    return closed


def fill_from_json(config: MarketConfig, row: dict[str, Any]) -> Fill:
    return Fill(
        TradeId(row["trade_id"]),
        config.market_id,
        OrderId(row["order_id"]),
        Side(row["side"]),
        row["role"],
        minor(row["price"], config.quote_decimals, "price"),
        minor(row["qty"], config.base_decimals, "qty"),
        fee_from_json(config, row["fee"], "fee"),
        time_from_json(row["time_ns"]),
    )


def history_from_json(configs: dict[MarketId, MarketConfig], answer: dict[str, Any]) -> History:
    """`/v1/account/history`'s answer (`configs`: each market's, by name)."""
    return History(
        [closed_order_from_json(configs[row["market"]], row) for row in answer["orders"]],
        [fill_from_json(configs[row["market"]], row) for row in answer["fills"]],
    )


def _places(row: dict[str, Any]) -> int:
    def shown(text: object) -> int:
        return len(text.partition(".")[2]) if isinstance(text, str) else 0

    return max(shown(row.get("available")), shown(row.get("locked")))


def rules_from_json(config: MarketConfig, row: dict[str, Any]) -> MarketRules:
    """A market's rules from its `/v1/markets` row (none listed: no rules)."""
    risk = row.get("risk") or {}
    quote, base = config.quote_decimals, config.base_decimals

    def optional(text: object, places: int, name: str) -> int | None:
        return None if text is None else minor(text, places, name)

    limits = RiskLimits(
        optional(risk.get("max_notional"), quote, "max_notional"),
        optional(risk.get("price_band_pct"), 2, "price_band_pct"),
        optional(risk.get("max_position"), base, "max_position"),
        risk.get("max_open_orders"),
    )
    return MarketRules(
        bool(row.get("halted", False)),
        optional(row.get("max_qty"), base, "max_qty"),
        optional(row.get("min_notional"), quote, "min_notional"),
        limits,
        row.get("engine"),
    )
