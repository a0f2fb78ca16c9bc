"""The JSON shapes of results at the edges (CLI `--format json`, the node's answers).

Pure. Integers in minor units leave as exact decimal strings in token units, converted with
the market's or token's decimals (a fee with its fee token's, negative for a rebate); times
are integers, nanoseconds since the epoch (`time_ns`, null where not recorded: see
`tachyon.dex.records`); the keys are part of the interface (README, "JSON shapes"). The CLI
and the node both build their answers here, so they cannot drift apart; the client reads them
back with `tachyon.client.decode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from tachyon.dex.ids import MarketId
from tachyon.dex.model import MarketConfig, OrderStatus, Trade
from tachyon.dex.records import ClosedOrder, Fill, History, Receipt, TradeRecord
from tachyon.dex.units import to_decimal

if TYPE_CHECKING:
    from tachyon.dex.open_order import OpenOrder
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.service import Placement, StopOrder
    from tachyon.exchange.withdrawals import Withdrawal


def market_json(config: MarketConfig, rules: MarketRules | None = None) -> dict[str, object]:
    """A market as the API and the CLI show it; with its `rules`, also its risk limits
    (null where unset), whether it is halted and its engine."""
    fees = config.fees
    row: dict[str, object] = {
        "market": config.market_id,
        "base": config.base,
        "quote": config.quote,
        "base_decimals": config.base_decimals,
        "quote_decimals": config.quote_decimals,
        "tick_size": to_decimal(config.tick_size, config.quote_decimals),
        "lot_size": to_decimal(config.lot_size, config.base_decimals),
        "min_qty": to_decimal(config.min_qty, config.base_decimals),
        "maker_bps": fees.maker_bps,
        "taker_bps": fees.taker_bps,
        "fee_token": config.fee_token,
        "fee_account": fees.fee_account,
    }
    if rules is not None:
        limits = rules.limits
        quote, base = config.quote_decimals, config.base_decimals
        row["max_qty"] = _optional(rules.max_qty, base)
        row["min_notional"] = _optional(rules.min_notional, quote)
        row["risk"] = {
            "max_notional": _optional(limits.max_notional, quote),
            "price_band_pct": _optional(limits.price_band_bps, PERCENT_PLACES),
            "max_position": _optional(limits.max_position, base),
            "max_open_orders": limits.max_open_orders,
        }
        row["halted"] = rules.halted
        row["engine"] = rules.engine
    return row


PERCENT_PLACES: Final = 2  # a price band in basis points, shown in percent


def _optional(value: int | None, places: int) -> str | None:
    return None if value is None else to_decimal(value, places)


def book_json(
    config: MarketConfig, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]
) -> dict[str, object]:
    def levels(side: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
        return [
            {
                "price": to_decimal(price, config.quote_decimals),
                "qty": to_decimal(qty, config.base_decimals),
            }
            for price, qty in side
        ]

    return {"market": config.market_id, "bids": levels(bids), "asks": levels(asks)}


def trade_json(config: MarketConfig, trade: Trade) -> dict[str, object]:
    """A trade as the market stream tells it (`trade_record_json` adds its time and fees)."""
    return {
        "trade_id": trade.trade_id,
        "price": to_decimal(trade.price, config.quote_decimals),
        "qty": to_decimal(trade.qty, config.base_decimals),
        "maker_order_id": trade.maker_order_id,
        "taker_order_id": trade.taker_order_id,
        "taker_side": str(trade.taker_side),
    }


def fee_decimals(config: MarketConfig) -> int:
    """The decimals of the market's fee token (its base or its quote)."""
    return config.base_decimals if config.fee_token == config.base else config.quote_decimals


def fee_json(config: MarketConfig, fee: int | None) -> str | None:
    """A fee in the market's fee token (negative: a rebate); None if not recorded."""
    return None if fee is None else to_decimal(fee, fee_decimals(config))


def trade_record_json(config: MarketConfig, record: TradeRecord) -> dict[str, object]:
    """A trade with the maker's and the taker's fee and the time of the command that made it
    (`dex trades`, `/v1/trades`, a placement's trades)."""
    row = trade_json(config, record.trade)
    row["maker_fee"] = fee_json(config, record.maker_fee)
    row["taker_fee"] = fee_json(config, record.taker_fee)
    row["time_ns"] = record.time_ns
    return row


def placement_json(
    config: MarketConfig, placement: Placement, receipt: Receipt | None = None
) -> dict[str, object]:
    """What placing or cancelling an order did; with its command's `receipt`, when it was
    journaled and each trade's fees (else null)."""
    time_ns = None if receipt is None else receipt.time_ns
    fees: Sequence[tuple[int | None, int | None]] | None = None
    if receipt is not None and receipt.fees is not None:
        fees = receipt.fees
    if fees is None or len(fees) != len(placement.trades):  # not told (a cancel-all's own)
        fees = [(None, None)] * len(placement.trades)
    trades = [
        trade_record_json(config, TradeRecord(trade, time_ns, maker_fee, taker_fee))
        for trade, (maker_fee, taker_fee) in zip(placement.trades, fees, strict=True)
    ]
    return {
        "order_id": placement.order_id,
        "market": config.market_id,
        "status": str(placement.status),
        "filled_qty": to_decimal(placement.filled_qty, config.base_decimals),
        "open_qty": to_decimal(placement.open_qty, config.base_decimals),
        "time_ns": time_ns,
        "trades": trades,
    }


def withdrawal_json(decimals: int, withdrawal: Withdrawal) -> dict[str, object]:
    """A withdrawal with a destination: `state` pending, completed or rejected."""
    return {
        "withdrawal_id": withdrawal.withdrawal_id,
        "token": withdrawal.token,
        "amount": to_decimal(withdrawal.amount, decimals),
        "destination": withdrawal.destination,
        "state": withdrawal.state,
        "reference": withdrawal.reference,
    }


def stop_json(config: MarketConfig, stop: StopOrder) -> dict[str, object]:
    """A stop order: pending, cancelled or triggered; `price` null for a stop-market;
    `time_ns` when it was accepted."""
    quote, base = config.quote_decimals, config.base_decimals
    return {
        "order_id": stop.order_id,
        "market": config.market_id,
        "side": str(stop.side),
        "trigger_price": to_decimal(stop.trigger_price, quote),
        "price": _optional(stop.price, quote),
        "qty": _optional(stop.qty, base),
        "max_quote": _optional(stop.max_quote, quote),
        "stp": str(stop.stp),
        "locked": to_decimal(stop.locked, base if stop.side == "ask" else quote),
        "status": stop.status,
        "time_ns": stop.time_ns,
    }


def balance_json(
    token: str, decimals: int, available: int, locked: int, debt: int = 0
) -> dict[str, str]:
    """A token's balance; `debt` (a reversed card payment the account owes) only when owed."""
    row = {
        "token": token,
        "available": to_decimal(available, decimals),
        "locked": to_decimal(locked, decimals),
    }
    if debt:
        row["debt"] = to_decimal(debt, decimals)
    return row


def order_json(
    config: MarketConfig, order: OpenOrder, time_ns: int | None = None
) -> dict[str, object]:
    """An open order (new, or partially filled) and when it was placed (null: not recorded)."""
    return {
        "order_id": order.order_id,
        "market": config.market_id,
        "side": str(order.side),
        "price": to_decimal(order.price, config.quote_decimals),
        "qty": to_decimal(order.qty, config.base_decimals),
        "remaining_qty": to_decimal(order.remaining_qty, config.base_decimals),
        "filled_qty": to_decimal(order.filled_qty, config.base_decimals),
        "status": str(OrderStatus.PARTIALLY_FILLED if order.filled_qty else OrderStatus.NEW),
        "time_ns": time_ns,
    }


def closed_order_json(config: MarketConfig, order: ClosedOrder) -> dict[str, object]:
    """A closed order: `price` null for a market order, `qty` for a market bid by budget (or
    an order placed before the read model recorded it); `reason` null when filled."""
    base, quote = config.base_decimals, config.quote_decimals
    return {
        "order_id": order.order_id,
        "market": config.market_id,
        "side": str(order.side),
        "price": None if order.price is None else to_decimal(order.price, quote),
        "qty": None if order.qty is None else to_decimal(order.qty, base),
        "filled_qty": to_decimal(order.filled_qty, base),
        "status": str(order.status),
        "reason": order.reason,
        "time_ns": order.time_ns,
        "closed_time_ns": order.closed_time_ns,
    }


def fill_json(config: MarketConfig, fill: Fill) -> dict[str, object]:
    """One of an account's fills: its order, side and role, and the fee it paid."""
    return {
        "trade_id": fill.trade_id,
        "market": config.market_id,
        "order_id": fill.order_id,
        "side": str(fill.side),
        "role": fill.role,
        "price": to_decimal(fill.price, config.quote_decimals),
        "qty": to_decimal(fill.qty, config.base_decimals),
        "fee": fee_json(config, fill.fee),
        "fee_token": config.fee_token,
        "time_ns": fill.time_ns,
    }


def history_json(configs: Mapping[MarketId, MarketConfig], history: History) -> dict[str, object]:
    """An account's closed orders and fills, newest first (`configs`: each market's)."""
    return {
        "orders": [closed_order_json(configs[each.market], each) for each in history.orders],
        "fills": [fill_json(configs[each.market], each) for each in history.fills],
    }
