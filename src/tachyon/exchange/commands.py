"""Commands: every state change of the exchange as a frozen value with canonical bytes.

Pure. `encode_command` gives the one byte string a command has (msgpack, fields in declared
order, a short tag first), which is what the journal stores, what its hash chain covers and
what a wallet signs. `decode_command` refuses anything that is not exactly such bytes.
A command carries no sequence number or time: those are given to it when it is journaled.
A journal entry holds a command, or a `Refused` one (never submitted: the exchange writes it).
"""

from __future__ import annotations

from typing import Final

import msgspec

from tachyon.dex.model import FEE_ACCOUNT, STP_DEFAULT, SelfTradePrevention, Side, TimeInForce
from tachyon.errors import InvalidInput


class Command(msgspec.Struct, frozen=True, array_like=True, tag=True, forbid_unknown_fields=True):
    """Base of every command; the tag (the class name) comes first in the encoding."""


class RegisterToken(Command, frozen=True, tag="register_token"):
    symbol: str
    decimals: int


class AddMarket(Command, frozen=True, tag="add_market"):
    """Open a market (see `MarketConfig`); its tokens are registered with it."""

    base: str
    quote: str
    tick_size: int = 1
    lot_size: int = 1
    min_qty: int = 1
    base_decimals: int = 0
    quote_decimals: int = 6
    maker_bps: int = 0
    taker_bps: int = 0
    fee_token: str | None = None
    fee_account: str = FEE_ACCOUNT


class SetFees(Command, frozen=True, tag="set_fees"):
    market: str
    maker_bps: int
    taker_bps: int
    fee_token: str | None = None
    fee_account: str = FEE_ACCOUNT


class SetReceiveWindow(Command, frozen=True, tag="set_receive_window"):
    """Set how far (ms) a nonce may lie from its command's sequencer time (see
    `tachyon.exchange.nonces`). Unsigned, as `AddMarket` is."""

    window_ms: int


class Deposit(Command, frozen=True, tag="deposit"):
    account: str
    token: str
    amount: int
    nonce: int = 0


class Withdraw(Command, frozen=True, tag="withdraw"):
    account: str
    token: str
    amount: int
    nonce: int = 0


class RequestWithdrawal(Command, frozen=True, tag="request_withdrawal"):
    """Withdraw `amount` of `token` to `destination` (see `tachyon.exchange.withdrawals`):
    locked now, paid out (or returned) when the operator completes (or rejects) it."""

    account: str
    token: str
    amount: int
    destination: str
    nonce: int = 0


class PlaceLimit(Command, frozen=True, tag="place_limit"):
    account: str
    market: str
    side: Side
    price: int
    qty: int
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    stp: SelfTradePrevention = STP_DEFAULT
    nonce: int = 0


class PlaceMarket(Command, frozen=True, tag="place_market"):
    """A market order by base quantity, or (bids only) by a quote budget `max_quote`."""

    account: str
    market: str
    side: Side
    qty: int | None
    max_quote: int | None = None
    stp: SelfTradePrevention = STP_DEFAULT
    nonce: int = 0


class CancelOrder(Command, frozen=True, tag="cancel_order"):
    account: str
    order_id: int
    nonce: int = 0


class PlaceOrder(Command, frozen=True, tag="place_order"):
    """An order with the options `PlaceLimit` and `PlaceMarket` lack (their bytes are fixed by
    the journals that hold them): a limit order (a `price`) or a market order (None). A limit
    order may show only `display_qty` (an iceberg, GTC only) and may expire at `expire_at_ns`
    (good-till-date: a GTC order that the sequencer's clock cancels at that time); any order
    may carry a `client_order_id` (see `tachyon.exchange.client_orders`)."""

    account: str
    market: str
    side: Side
    price: int | None
    qty: int | None
    max_quote: int | None = None
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    stp: SelfTradePrevention = STP_DEFAULT
    display_qty: int | None = None
    expire_at_ns: int | None = None
    client_order_id: str | None = None
    nonce: int = 0


class PlaceStop(Command, frozen=True, tag="place_stop"):
    """A stop order: when the market's last trade price reaches `trigger_price` (at or above
    it for a bid, at or below for an ask) it becomes a limit order at `price`, or a market
    order if None (a market bid then spends at most `max_quote`, which is what it locks)."""

    account: str
    market: str
    side: Side
    trigger_price: int
    price: int | None
    qty: int | None
    max_quote: int | None = None
    stp: SelfTradePrevention = STP_DEFAULT
    client_order_id: str | None = None
    nonce: int = 0


class CancelClientOrder(Command, frozen=True, tag="cancel_client_order"):
    """Cancel the open order (or pending stop) `account` placed with `client_order_id`."""

    account: str
    client_order_id: str
    nonce: int = 0


class Tick(Command, frozen=True, tag="tick"):
    """The sequencer's clock: cancels the good-till-date orders due by the command's time.
    Unsigned; a host journals one when an expiry is due (before any command after it, and on
    a quiet market by itself), so replay expires the same orders at the same place."""


class CreditPayment(Command, frozen=True, tag="credit_payment"):
    """Credit `to` with `amount` of `token` for a card payment of `currency_amount` minor units
    of `currency` (an exact multiple: see `tachyon.exchange.payments`), once per checkout
    session. Unsigned: only a host's verified on-ramp submits it (a client can submit signed
    account commands alone). `event_id` is the processor's notification it came from."""

    event_id: str
    session_id: str
    payment_intent_id: str
    to: str
    token: str
    amount: int
    currency: str
    currency_amount: int


class RefundPayment(Command, frozen=True, tag="refund_payment"):
    """The payment credited under `payment_intent_id` has `amount_refunded` minor units of
    `currency` refunded in all now: debit its account the increase. Unsigned, as
    `CreditPayment`."""

    event_id: str
    payment_intent_id: str
    currency: str
    amount_refunded: int


class DisputePayment(Command, frozen=True, tag="dispute_payment"):
    """Dispute `dispute_id` of the payment credited under `payment_intent_id`, for `amount`
    minor units of `currency`, is now `status` (opened, won or lost). Unsigned, as
    `CreditPayment`."""

    event_id: str
    payment_intent_id: str
    dispute_id: str
    currency: str
    amount: int
    status: str


class AmendOrder(Command, frozen=True, tag="amend_order"):
    """Change an open order of `account` (named by `order_id`, or by the `client_order_id`
    it was placed with): its `price`, its total `qty` (filled part included), or both; None
    keeps it. `stp` governs what the amended order meets of the account's own orders if it
    crosses (see `DexService.amend`)."""

    account: str
    order_id: int | None = None
    price: int | None = None
    qty: int | None = None
    stp: SelfTradePrevention = STP_DEFAULT
    client_order_id: str | None = None
    nonce: int = 0


class CancelAll(Command, frozen=True, tag="cancel_all"):
    """Cancel every open order of `account`: on `market` and on `side` when they are given."""

    account: str
    market: str | None = None
    side: Side | None = None
    nonce: int = 0


# -- the operator's commands ---------------------------------------------------------------
# Each carries the operator's address as `account` and a nonce, and is signed by its key (see
# `tachyon.exchange.venue`); amounts and sizes are in minor units, as everywhere inside.


class SetOperator(Command, frozen=True, tag="set_operator"):
    """Make `account` the exchange's operator, once: signed by its key, or unsigned from the
    host that owns the data directory (`node serve --operator`)."""

    account: str
    nonce: int = 0


class AdminAddToken(Command, frozen=True, tag="admin_add_token"):
    account: str
    symbol: str
    decimals: int
    nonce: int = 0


class AdminAddMarket(Command, frozen=True, tag="admin_add_market"):
    """List `base`/`quote` (both registered tokens) with its rules; `engine` names its
    matching engine (None: the exchange's default), journaled so replay builds the same."""

    account: str
    base: str
    quote: str
    tick_size: int
    lot_size: int
    min_qty: int
    max_qty: int | None = None
    min_notional: int | None = None
    engine: str | None = None
    nonce: int = 0


class AdminSetFees(Command, frozen=True, tag="admin_set_fees"):
    """A market's fees in basis points, charged in its quote token to the fee account."""

    account: str
    market: str
    maker_bps: int
    taker_bps: int
    nonce: int = 0


class AdminCollectFees(Command, frozen=True, tag="admin_collect_fees"):
    """Move the fee account's available `token` to the operator's account."""

    account: str
    token: str
    nonce: int = 0


class AdminSetRisk(Command, frozen=True, tag="admin_set_risk"):
    """Set a market's risk limits; None leaves a limit as it is, `clear` removes all first.
    `price_band_bps` is the band in basis points of the reference price (1% = 100)."""

    account: str
    market: str
    max_notional: int | None = None
    price_band_bps: int | None = None
    max_position: int | None = None
    max_open_orders: int | None = None
    clear: bool = False
    nonce: int = 0


class AdminHaltMarket(Command, frozen=True, tag="admin_halt_market"):
    """Halt (only cancels accepted) or resume a market."""

    account: str
    market: str
    halted: bool
    nonce: int = 0


class AdminDeposit(Command, frozen=True, tag="admin_deposit"):
    """Credit `to` (any account) with `amount` of `token`: the operator's deposit."""

    account: str
    to: str
    token: str
    amount: int
    nonce: int = 0


class AdminCloseWithdrawal(Command, frozen=True, tag="admin_close_withdrawal"):
    """Complete (`completed` True: the amount leaves the exchange) or reject (it returns to
    the account) the pending withdrawal `withdrawal_id`, with the operator's `reference`."""

    account: str
    withdrawal_id: int
    completed: bool
    reference: str | None = None
    nonce: int = 0


class SignedCommand(Command, frozen=True, tag="signed"):
    """An account command signed by its account's key: `body` is that command's canonical
    bytes, `signature` the key's Ed25519 signature over them (see `tachyon.exchange.auth`).
    The account is the body's, so a signature cannot be moved to another account."""

    body: bytes
    signature: bytes


class Refused(Command, frozen=True, tag="refused"):
    """A journal entry the exchange writes, never a command anyone submits: a signed command
    whose signature and nonce passed but whose body the state machine refused with `code`.
    Its nonce is used all the same, so the same bytes can never apply later; replaying the
    entry uses the nonce again and must refuse the body with the same code."""

    signed: SignedCommand
    code: str


AdminCommand = (
    SetOperator
    | AdminAddToken
    | AdminAddMarket
    | AdminSetFees
    | AdminCollectFees
    | AdminSetRisk
    | AdminHaltMarket
    | AdminDeposit
    | AdminCloseWithdrawal
)
"""The operator's commands (`SetOperator` makes one)."""
TraderCommand = (
    Deposit
    | Withdraw
    | PlaceLimit
    | PlaceMarket
    | CancelOrder
    | CancelAll
    | AmendOrder
    | PlaceOrder
    | PlaceStop
    | CancelClientOrder
    | RequestWithdrawal
)
"""Commands that trade or move funds for one account."""
AccountCommand = TraderCommand | AdminCommand
"""Commands that act for one account (and carry its nonce): what a key signs."""
PaymentCommand = CreditPayment | RefundPayment | DisputePayment
"""What a host's on-ramp submits, unsigned: card payments and their reversals."""
PlainCommand = (
    RegisterToken | AddMarket | SetFees | SetReceiveWindow | Tick | PaymentCommand | AccountCommand
)
"""A command as the state machine applies it: unsigned, or the body of a signed one."""
AnyCommand = PlainCommand | SignedCommand
"""What a caller may submit."""
JournalCommand = AnyCommand | Refused
"""What a journal entry holds."""

COMMAND_BYTES_MAX: Final = 4096
"""No command encodes longer; a longer byte string is refused before decoding."""

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(AnyCommand)
_entry_decoder: Final = msgspec.msgpack.Decoder(JournalCommand)


def encode_command(command: AnyCommand) -> bytes:
    """The command's canonical bytes; InvalidInput if a value cannot be encoded (an integer
    outside the 64-bit range, which no valid amount, price or quantity is) or the bytes would
    be longer than COMMAND_BYTES_MAX."""
    try:
        data = _encoder.encode(command)
    except (OverflowError, msgspec.EncodeError) as exc:
        raise InvalidInput(f"command {command!r} cannot be encoded: {exc}") from exc
    if len(data) > COMMAND_BYTES_MAX:
        raise InvalidInput(f"a command is at most {COMMAND_BYTES_MAX} bytes, not {len(data)}")
    return data


def decode_command(data: bytes) -> AnyCommand:
    """The command these canonical bytes encode; InvalidInput if they are not exactly that."""
    if len(data) > COMMAND_BYTES_MAX:
        raise InvalidInput(f"a command is at most {COMMAND_BYTES_MAX} bytes, not {len(data)}")
    command = decode_journaled(data)
    if _encoder.encode(command) != data:  # e.g. a non-minimal integer encoding
        raise InvalidInput("command bytes are not in canonical form")
    return command


def decode_journaled(data: bytes) -> AnyCommand:
    """`decode_command` without its length and canonical-form checks, for bytes that
    `encode_command` wrote into a journal and whose checksum has been verified since
    (recovery's replay): re-encoding them to compare would cost a fifth of decoding time for
    no protection."""
    try:
        command: AnyCommand = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # text that is not UTF-8
        raise InvalidInput(f"not a command: {exc}") from exc
    return command


def encode_refused(signed: SignedCommand, code: str) -> bytes:
    """The journal bytes of a refused signed command (not bounded: the envelope was)."""
    return _encoder.encode(Refused(signed, code))


def decode_entry(data: bytes, *, canonical: bool) -> JournalCommand:
    """The command a journal entry's bytes hold, a `Refused` one included; InvalidInput if
    they are not one. `canonical` also refuses bytes that are not the one encoding (`audit`);
    recovery skips that check, as `decode_journaled` does."""
    try:
        command: JournalCommand = _entry_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"not a command: {exc}") from exc
    if canonical:
        if type(command) is not Refused and len(data) > COMMAND_BYTES_MAX:
            raise InvalidInput(f"a command is at most {COMMAND_BYTES_MAX} bytes, not {len(data)}")
        if _encoder.encode(command) != data:
            raise InvalidInput("command bytes are not in canonical form")
    return command
