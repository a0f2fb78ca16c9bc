"""The node's JSON shapes: requests it accepts and the answers it gives.

Answers have the same keys as the CLI's `--format json` (README, "JSON shapes"): both are
built by `tachyon.client.shapes`; the functions here only unpack the node's core values for it.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from tachyon.client import shapes
from tachyon.dex.model import BookDepth, MarketConfig
from tachyon.dex.records import Receipt
from tachyon.exchange.auth import ADDRESS_PATTERN
from tachyon.exchange.commands import COMMAND_BYTES_MAX
from tachyon.exchange.service import OwnedOrder, Placement
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.storage.port import open_order

BODY_BASE64_MAX: Final = (COMMAND_BYTES_MAX + 2) // 3 * 4
"""Base64 of the longest command's bytes."""
SIGNATURE_BASE64_MAX: Final = 128
BASE64_PATTERN: Final = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
"""Standard base64 (RFC 4648 section 4: `+` and `/`, padded), as the gateway decodes it."""
TIMESTAMP_PATTERN: Final = "^[0-9]{1,20}$"
"""A signed read's timestamp: nanoseconds since the epoch, in decimal digits."""

# Shown in the OpenAPI description, not enforced by the framework: the gateway refuses a value
# that breaks them with an error naming the field (the fast path for commands likewise).
ADDRESS_SCHEMA: Final[JsonDict] = {"pattern": ADDRESS_PATTERN}
BASE64_SCHEMA: Final[JsonDict] = {"pattern": BASE64_PATTERN}
TIMESTAMP_SCHEMA: Final[JsonDict] = {"pattern": TIMESTAMP_PATTERN}


class SignedCommandRequest(BaseModel):
    """A wallet's `SignedCommand`: the canonical bytes of an account command and its key's
    Ed25519 signature over them, both base64 (standard alphabet, padded)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(
        max_length=BODY_BASE64_MAX,
        description="base64 of the command's bytes",
        json_schema_extra=BASE64_SCHEMA,
    )
    signature: str = Field(
        max_length=SIGNATURE_BASE64_MAX,
        description="base64 signature",
        json_schema_extra=BASE64_SCHEMA,
    )


class _Shape(BaseModel):
    """An answer's shape, for the OpenAPI description (answers are built as plain dicts)."""

    model_config = ConfigDict(extra="forbid")


class ServerTime(_Shape):
    server_time_ns: int


class Risk(_Shape):
    """A market's risk limits (null: not set); see `tachyon admin risk set`."""

    max_notional: str | None = Field(description="largest order value, in quote units")
    price_band_pct: str | None = Field(description="band around the reference price, in %")
    max_position: str | None = Field(description="largest holding of the base, in base units")
    max_open_orders: int | None = Field(description="open orders per owner on the market")


class Market(_Shape):
    market: str
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    tick_size: str
    lot_size: str
    min_qty: str
    maker_bps: int
    taker_bps: int
    fee_token: str
    fee_account: str

    max_qty: str | None = Field(description="largest order, in base units (null: none)")
    min_notional: str | None = Field(description="smallest order value, quote units (null: none)")
    risk: Risk
    halted: bool = Field(description="halted: only cancels are accepted")
    engine: str | None = Field(description="the matching engine the market runs on")


class Markets(_Shape):
    markets: list[Market]


class Token(_Shape):
    symbol: str
    decimals: int


class Tokens(_Shape):
    tokens: list[Token]


class OperatorSet(_Shape):
    """`SetOperator`'s answer: the exchange's operator, set once."""

    operator: str


class TokenListed(_Shape):
    """`AdminAddToken`'s answer (`tachyon admin token add`)."""

    token: Token


class MarketListed(_Shape):
    """`AdminAddMarket`'s answer (`tachyon admin market add`): the market as `/v1/markets`."""

    market: Market


class FeesSet(_Shape):
    """`AdminSetFees`'s answer (`tachyon admin fees set`): the orders whose fee reserve could
    not be locked again were cancelled (their placements)."""

    market: str
    maker_bps: int
    taker_bps: int
    cancelled_orders: list[dict[str, Any]]


class RiskSet(_Shape):
    """`AdminSetRisk`'s answer (`tachyon admin risk set`): the market's limits now."""

    market: str
    risk: Risk


class HaltSet(_Shape):
    """`AdminHaltMarket`'s answer (`tachyon admin market halt|resume`)."""

    market: str
    halted: bool


class Level(_Shape):
    price: str
    qty: str


class Book(_Shape):
    market: str
    bids: list[Level]
    asks: list[Level]


TIME_NS: Final = (
    "the journal time of the command, in nanoseconds since the epoch (null: from before the"
    " read model recorded times, or read while it was behind the journal)"
)
FEE: Final = "in the market's fee token, negative for a maker's rebate (null: not recorded)"


class TradeShape(_Shape):
    trade_id: int
    price: str
    qty: str
    maker_order_id: int
    taker_order_id: int
    taker_side: str
    maker_fee: str | None = Field(description=f"the maker's fee, {FEE}")
    taker_fee: str | None = Field(description=f"the taker's fee, {FEE}")
    time_ns: int | None = Field(description=f"when it was made: {TIME_NS}")


class Trades(_Shape):
    market: str
    trades: list[TradeShape]


class PlacementShape(_Shape):
    order_id: int
    market: str
    status: str
    filled_qty: str
    open_qty: str
    time_ns: int | None = Field(description=f"the command's journal time: {TIME_NS}")
    trades: list[TradeShape]


class Cancellations(_Shape):
    """`CancelAll`'s answer (`dex cancel-all`): each cancelled order, oldest first."""

    cancelled: list[PlacementShape]


class Balance(_Shape):
    token: str
    available: str
    locked: str
    debt: str | None = Field(
        default=None,
        description="owed after a reversed card payment (present only when owed)",
    )


class Balances(_Shape):
    address: str
    balances: list[Balance]


class OpenOrder(_Shape):
    order_id: int
    market: str
    side: str
    price: str
    qty: str
    remaining_qty: str
    filled_qty: str
    status: str
    time_ns: int | None = Field(description=f"when it was placed: {TIME_NS}")


class OpenOrders(_Shape):
    orders: list[OpenOrder]


class ClosedOrderShape(_Shape):
    """An order that closed: filled, or cancelled for `reason`."""

    order_id: int
    market: str
    side: str
    price: str | None = Field(description="null: a market order")
    qty: str | None = Field(description="as placed; null: a market bid by budget, or unknown")
    filled_qty: str
    status: str = Field(description="filled or cancelled")
    reason: str | None = Field(
        description="why it was cancelled: user, unfilled, self_trade_prevention, fees,"
        " price_band, expired (null: filled)"
    )
    time_ns: int | None = Field(description=f"when it was placed: {TIME_NS}")
    closed_time_ns: int = Field(description="the journal time of the command that closed it")


class FillShape(_Shape):
    """The account's side of one trade."""

    trade_id: int
    market: str
    order_id: int
    side: str
    role: str = Field(description="maker or taker")
    price: str
    qty: str
    fee: str | None = Field(description=f"the fee this side paid, {FEE}")
    fee_token: str
    time_ns: int | None = Field(description=f"when it was made: {TIME_NS}")


class HistoryShape(_Shape):
    """The account's latest closed orders and fills, each newest first."""

    orders: list[ClosedOrderShape]
    fills: list[FillShape]


class StopOrder(_Shape):
    """A stop order (`dex place-stop`): its trigger, the order it becomes (`price` null: a
    market order), what it locks while `pending`."""

    order_id: int
    market: str
    side: str
    trigger_price: str
    price: str | None
    qty: str | None
    max_quote: str | None
    stp: str
    locked: str
    status: str
    time_ns: int | None = Field(description=f"when it was accepted: {TIME_NS}")


class WithdrawalShape(_Shape):
    """A withdrawal with a destination (`dex withdraw --to`)."""

    withdrawal_id: int
    token: str
    amount: str
    destination: str
    state: str = Field(description="pending, completed or rejected")
    reference: str | None = Field(description="the operator's, once it closed it")


class WithdrawalAnswer(_Shape):
    withdrawal: WithdrawalShape


class Withdrawals(_Shape):
    withdrawals: list[WithdrawalShape]


class StopOrders(_Shape):
    stops: list[StopOrder]


class ErrorDetail(_Shape):
    code: str
    message: str


class ErrorBody(_Shape):
    """The one shape of every refusal."""

    error: ErrorDetail


def book_json(config: MarketConfig, depth: BookDepth) -> dict[str, object]:
    return shapes.book_json(config, depth.bids, depth.asks)


def placement_json(
    config: MarketConfig, placement: Placement, receipt: Receipt | None = None
) -> dict[str, object]:
    return shapes.placement_json(config, placement, receipt)


def balance_json(meta: TokenMeta, record: BalanceRecord) -> dict[str, str]:
    return shapes.balance_json(
        meta.symbol, meta.decimals, record.available, record.locked, record.debt
    )


def order_json(config: MarketConfig, owned: OwnedOrder) -> dict[str, object]:
    """An open order from the exchange's state, which does not know when it was placed."""
    return shapes.order_json(config, open_order(owned))


class CheckoutRequest(BaseModel):
    """A card payment to start: `amount` in `currency` (a decimal string, e.g. "100.00")."""

    model_config = ConfigDict(extra="forbid")

    amount: str = Field(max_length=40, description='e.g. "100.00"')
    currency: str = Field(default="usd", max_length=8, description="ISO 4217, lowercase")
    token: str | None = Field(
        default=None, max_length=16, description="the token to credit (default: the currency's)"
    )


class CheckoutAnswer(_Shape):
    """A Stripe Checkout Session: pay at `url`; `credit` of `token` arrives once Stripe
    confirms the payment (its webhook)."""

    session_id: str
    url: str
    address: str
    amount: str
    currency: str
    token: str
    credit: str


class WebhookAnswer(_Shape):
    """What a Stripe delivery did: `applied` false with the `reason` when it changed nothing
    (an event type the on-ramp ignores, an unpaid session, a delivery applied already)."""

    received: bool
    applied: bool
    event: str
    reason: str | None = None
