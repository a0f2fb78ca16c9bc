"""Events: what a command did to the exchange, as an ordered list of immutable values.

Pure. Every state-changing call of `DexService` reports the events of its change with its
result (`Placement.events`, or the list it returns), and `Exchange.execute` hands them on with
the command's outcome. They are the core's only output: the read model, the streams, the
metrics and the node's answers are built from them, and nothing downstream reads the engine's
internals or infers what changed. A placement's events come in the order things happened:
`OrderAccepted`, then each fill (`Filled`) and each resting order that self-trade prevention
reduced (`OrderReduced`) or cancelled (`OrderCancelled`), then what became of the order itself
(`OrderRested`, or `OrderCancelled` for an unfilled rest; a completely filled order needs no
more than its fills).
"""

from __future__ import annotations

import enum

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FeeSchedule, MarketConfig, Side, Trade
from tachyon.exchange.risk import RiskLimits


class CancelReason(enum.StrEnum):
    """Why an order (or its rest) left the book or was never put on it."""

    USER = "user"
    """Its owner cancelled it."""
    UNFILLED = "unfilled"
    """The unfilled rest of an order that does not rest: IOC, FOK, market."""
    SELF_TRADE = "self_trade_prevention"
    """Self-trade prevention cancelled it (a resting order) or stopped it (the taker)."""
    FEES = "fees"
    """A fee change: its owner could not hold what the new maker fee needs."""
    PRICE_BAND = "price_band"
    """The rest of a market order beyond its market's price band (`tachyon.exchange.risk`)."""
    EXPIRED = "expired"
    """A good-till-date order reached its time (`Tick`, or the command after it)."""


class OrderAccepted(msgspec.Struct, frozen=True, gc=False):
    """An order passed every check and took its id: a limit order has a price, a market order
    none; a market bid by budget has no quantity."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    price: int | None
    qty: int | None


class OrderAmended(msgspec.Struct, frozen=True, gc=False):
    """An open order's price or total quantity changed (`DexService.amend`): it had
    `old_open_qty` open at `old_price`; `qty` is its new total, filled part included.
    `kept_priority`: a smaller quantity at the same price keeps its place in its level;
    otherwise it went to the back of its new level, and what crosses there trades at once
    (its `Filled` events follow, then `OrderRested` for what rests, as for a new order)."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    qty: int
    old_price: int
    old_open_qty: int
    kept_priority: bool


class Filled(msgspec.Struct, frozen=True, gc=False):
    """One fill, settled: the trade (maker and taker, price, qty), each side's fee in the
    market's fee token, and what the maker order has left after it (0: filled and gone)."""

    market: MarketId
    trade: Trade
    maker_fee: int
    taker_fee: int
    maker_remaining: int


class OrderReduced(msgspec.Struct, frozen=True, gc=False):
    """A resting order that self-trade decrement shrank without a trade; `remaining` is left,
    `filled_qty` it had filled."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    remaining: int
    filled_qty: int


class OrderRested(msgspec.Struct, frozen=True, gc=False):
    """An order rests on the book: `open_qty` of its `qty` (the rest filled, or self-trade
    decrement took it)."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    qty: int
    open_qty: int
    filled_qty: int


class OrderCancelled(msgspec.Struct, frozen=True, gc=False):
    """An order left the book, or its unfilled rest was never put on it: `cancelled_qty` is
    what went unfilled (0 for a market bid by budget), `filled_qty` what it had filled."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    price: int | None
    cancelled_qty: int
    filled_qty: int
    reason: CancelReason


class StopAccepted(msgspec.Struct, frozen=True, gc=False):
    """A stop order was accepted and its funds locked; it waits for the market's last trade
    price to reach `trigger_price` (`price` None: a market order when triggered)."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    trigger_price: int
    price: int | None
    qty: int | None
    max_quote: int | None


class StopTriggered(msgspec.Struct, frozen=True, gc=False):
    """A trade at `last_price` reached the stop's trigger: its funds are released and the order
    it becomes is placed as `new_order_id` (its own events follow), or refused (a
    `StopCancelled` with the refusal's code follows)."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    last_price: int
    new_order_id: OrderId | None


class StopCancelled(msgspec.Struct, frozen=True, gc=False):
    """A stop left the book of stops without becoming an order: its owner cancelled it
    (`user`), or at its trigger the order it would become was refused (the refusal's code,
    e.g. `outside_price_band`, with its message)."""

    market: MarketId
    order_id: OrderId
    owner: AccountId
    side: Side
    reason: str
    message: str = ""


class OrderRecalled(msgspec.Struct, frozen=True, gc=False):
    """A retry of an order under a client order id its account used already: nothing
    changed; its answer is the original order's (`order_id`), placed at `time_ns` (the
    sequencer's time of the original), whose trades paid `fees` (maker, taker) each."""

    account: AccountId
    client_order_id: str
    order_id: OrderId
    time_ns: int
    fees: list[tuple[int, int]]


class Deposited(msgspec.Struct, frozen=True, gc=False):
    account: AccountId
    token: TokenId
    amount: int


class Withdrawn(msgspec.Struct, frozen=True, gc=False):
    account: AccountId
    token: TokenId
    amount: int


class WithdrawalRequested(msgspec.Struct, frozen=True, gc=False):
    """An account asked to withdraw `amount` of `token` to `destination`: it is locked,
    pending the operator's completion or rejection."""

    withdrawal_id: int
    account: AccountId
    token: TokenId
    amount: int
    destination: str


class WithdrawalClosed(msgspec.Struct, frozen=True, gc=False):
    """The operator completed a pending withdrawal (`state` completed: the amount left the
    exchange) or rejected it (rejected: the amount is available again), with a reference."""

    withdrawal_id: int
    account: AccountId
    token: TokenId
    amount: int
    state: str
    reference: str | None


class PaymentCredited(msgspec.Struct, frozen=True, gc=False):
    """A card payment credited `account` with `amount` of `token` (`reason` "payment"), or a
    dispute it won credited back what the dispute had taken (`reason` "dispute_won"). Any debt
    it settled is a `DebtSettled` after it."""

    account: AccountId
    token: TokenId
    amount: int
    reason: str
    payment_intent_id: str
    event_id: str
    session_id: str | None = None


class PaymentReversed(msgspec.Struct, frozen=True, gc=False):
    """A refund or dispute (`reason`) took `amount` of `token` back from `account`: `taken`
    from its available balance, `owed` (the rest) added to its debt."""

    account: AccountId
    token: TokenId
    amount: int
    taken: int
    owed: int
    reason: str
    payment_intent_id: str
    event_id: str


class DebtSettled(msgspec.Struct, frozen=True, gc=False):
    """A credit to `account` paid `amount` of its debt of `token` first; `debt` is what is
    still owed (0: the account may trade and withdraw again)."""

    account: AccountId
    token: TokenId
    amount: int
    debt: int


class MarketAdded(msgspec.Struct, frozen=True, gc=False):
    config: MarketConfig


class TokenRegistered(msgspec.Struct, frozen=True, gc=False):
    symbol: TokenId
    decimals: int


class FeesChanged(msgspec.Struct, frozen=True, gc=False):
    """A market's fees changed; open orders now hold what the new maker fee needs (those that
    could not are cancelled, each with its own event after this one)."""

    market: MarketId
    fees: FeeSchedule


class ReceiveWindowSet(msgspec.Struct, frozen=True, gc=False):
    """How far (ms) a nonce may now lie from its command's time (`SetReceiveWindow`)."""

    window_ms: int


class OperatorSet(msgspec.Struct, frozen=True, gc=False):
    """The exchange's operator was set (once)."""

    account: AccountId


class RiskLimitsSet(msgspec.Struct, frozen=True, gc=False):
    """A market's risk limits as they now are (`tachyon.exchange.risk.RiskLimits`)."""

    market: MarketId
    limits: RiskLimits


class MarketHalted(msgspec.Struct, frozen=True, gc=False):
    """A market was halted (only cancels accepted) or resumed (`halted` False)."""

    market: MarketId
    halted: bool


class CommandRefused(msgspec.Struct, frozen=True, gc=False):
    """A signed command whose signature and nonce passed, refused by the state machine: its
    nonce is used (so the same bytes can never apply later) and nothing else changed. It is
    journaled as `Refused`, so replay refuses it again with the same `code`."""

    account: AccountId
    nonce: int
    code: str
    message: str


OrderEvent = OrderAccepted | OrderAmended | Filled | OrderReduced | OrderRested | OrderCancelled
StopEvent = StopAccepted | StopTriggered | StopCancelled
Event = (
    OrderEvent
    | StopEvent
    | OrderRecalled
    | Deposited
    | Withdrawn
    | WithdrawalRequested
    | WithdrawalClosed
    | PaymentCredited
    | PaymentReversed
    | DebtSettled
    | MarketAdded
    | TokenRegistered
    | FeesChanged
    | ReceiveWindowSet
    | OperatorSet
    | RiskLimitsSet
    | MarketHalted
    | CommandRefused
)
