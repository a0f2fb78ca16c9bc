"""The TachyonError tree: every refusal the library can raise, each with a stable `code`.

    TachyonError
    ├── InvalidInput            a value breaks a rule (its message names the value and the rule)
    │   ├── InvalidAmount       not a number, zero, negative, too many decimals, over the maximum
    │   ├── PriceNotMultipleOfTick
    │   ├── QtyNotMultipleOfLot
    │   ├── QtyBelowMin
    │   ├── InvalidOrder        contradictory options (post-only with IOC, market ask by quote, ...)
    │   ├── UnsupportedOrderOption  an option the market's engine does not offer (its capabilities)
    │   ├── InvalidConfig       a market, fee schedule or engine name that cannot work
    │   └── OutsideReceiveWindow  a nonce or signed timestamp too far from the receiving clock
    ├── NotFound
    │   ├── MarketNotFound
    │   ├── TokenNotFound
    │   ├── OrderNotFound
    │   ├── PaymentNotFound     no card payment credited under that payment id
    │   └── WalletNotFound      no wallet key file at the path
    ├── OrderNotOwned           an order exists but belongs to another account
    ├── OrderRejected           the book refused the order as it stands; nothing changed
    │   ├── FillOrKillUnfillable
    │   └── PostOnlyWouldTake
    ├── InsufficientFunds       available (or locked) balance too small; nothing changed
    ├── SupplyExceeded          a deposit would take a token's supply past the maximum
    ├── AlreadyExists           a market or token registered twice
    │   └── PaymentAlreadyApplied  a card payment's credit, refund or dispute step applied already
    ├── AccountInDebt           an order or withdrawal of an account that owes a reversed payment
    ├── StaleNonce              a nonce its account used already (or at or below its floor)
    ├── BadSignature            a signed command whose signature is not its account's key's
    ├── Unauthorized            an unsigned command for an account only its key may command
    ├── WrongPassword           the password does not open the wallet's key
    ├── TickDue                 a command after a due expiry, before the clock tick that owes it
    ├── CorruptData             a saved file that is not what it claims (names file and problem)
    └── StorageError            the data directory cannot be used as it stands
        └── UnsupportedVersion  written by a newer tachyon than this one

Callers translate in one place: the CLI into one stderr line and exit 1, the node into one
error schema keyed by `code`.
"""

from __future__ import annotations


class TachyonError(Exception):
    """Base of every error tachyon raises on purpose; `code` is stable for machines."""

    code = "error"


class InvalidInput(TachyonError, ValueError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class PriceNotMultipleOfTick(InvalidInput):
    code = "price_not_multiple_of_tick"


class QtyNotMultipleOfLot(InvalidInput):
    code = "qty_not_multiple_of_lot"


class QtyBelowMin(InvalidInput):
    code = "qty_below_min"


class InvalidOrder(InvalidInput):
    code = "invalid_order"


class UnsupportedOrderOption(InvalidInput):
    """An order option (a time in force, post-only, a market order by quote budget, a
    self-trade prevention mode, ...) that the market's engine does not declare among its
    capabilities; nothing changed."""

    code = "unsupported_order_option"


class InvalidConfig(InvalidInput):
    code = "invalid_config"


class UnknownEngine(InvalidConfig):
    """No engine of that name is installed (or it cannot be loaded): a fault of the process's
    installation, never of the data that names it."""


class OutsideReceiveWindow(InvalidInput):
    """A nonce (a command's) or a signed read's timestamp further than the receive window from
    the time it is judged by: the command's sequencer time in the exchange, the server's clock
    at a node's gateway. Too old to be fresh, or from the future."""

    code = "outside_receive_window"


class NotFound(TachyonError, LookupError):
    code = "not_found"


class MarketNotFound(NotFound):
    code = "market_not_found"


class TokenNotFound(NotFound):
    code = "token_not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class OrderNotOwned(TachyonError):
    code = "order_not_owned"


class OrderRejected(TachyonError):
    code = "order_rejected"


class FillOrKillUnfillable(OrderRejected):
    code = "fill_or_kill_unfillable"


class PostOnlyWouldTake(OrderRejected):
    code = "post_only_would_take"


class InsufficientFunds(TachyonError):
    code = "insufficient_funds"


class SupplyExceeded(TachyonError):
    """A deposit that would take its token's supply (deposits minus withdrawals) past
    `AMOUNT_MINOR_MAX`; nothing changed."""

    code = "supply_exceeded"


class AlreadyExists(TachyonError):
    code = "already_exists"


class PaymentAlreadyApplied(AlreadyExists):
    """A card payment credited (or a refund or dispute step applied) already: a duplicated or
    replayed delivery, which changes nothing."""

    code = "already_applied"


class AccountInDebt(TachyonError):
    """A new order or withdrawal of an account that owes a reversed card payment."""

    code = "account_in_debt"


class NotOperator(TachyonError):
    """An admin command not signed by the exchange's operator (or unsigned once one is set)."""

    code = "not_operator"


class MarketHalted(TachyonError):
    """A new order on a market the operator halted (cancels are still accepted)."""

    code = "market_halted"


class RiskLimitExceeded(TachyonError):
    """An order a market's risk limit refuses before anything is locked; nothing changed."""

    code = "risk_limit_exceeded"


class MaxNotionalExceeded(RiskLimitExceeded):
    code = "max_notional_exceeded"


class OutsidePriceBand(RiskLimitExceeded):
    code = "outside_price_band"


class MaxPositionExceeded(RiskLimitExceeded):
    code = "max_position_exceeded"


class MaxOpenOrdersExceeded(RiskLimitExceeded):
    code = "max_open_orders_exceeded"


class QtyAboveMax(InvalidInput):
    code = "qty_above_max"


class NotionalBelowMin(InvalidInput):
    code = "notional_below_min"


class TickDue(TachyonError):
    """A good-till-date order is due to expire before this command's time: the host applies
    a `Tick` first (its own bug if it did not)."""

    code = "tick_due"


class CorruptData(TachyonError):
    code = "corrupt_data"


class StaleNonce(TachyonError):
    """A nonce its account already used inside the receive window (accepted or refused), or
    one at or below the account's floor (see `tachyon.exchange.nonces`)."""

    code = "stale_nonce"


class BadSignature(TachyonError):
    code = "bad_signature"


class Unauthorized(TachyonError):
    """An unsigned command for an account that only its key may command."""

    code = "unauthorized"


class WalletNotFound(NotFound):
    code = "wallet_not_found"


class WrongPassword(TachyonError):
    code = "wrong_password"


class StorageError(TachyonError):
    code = "storage_error"


class UnsupportedVersion(StorageError):
    code = "unsupported_version"
