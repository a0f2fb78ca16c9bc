"""TokenLedger: per (account, token) available and locked balances, a token registry, and
all-or-nothing operations on them, fill settlement included (the seed's `storage::TokenLedger`).

Pure: no I/O, no clock, no floats. Every method validates everything before it changes
anything, so a method that raises has changed nothing. Each token's supply (deposits minus
withdrawals) is bounded by AMOUNT_MINOR_MAX; balances partition the supply, so no balance can
exceed it and settlement never overflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.model import FEE_ACCOUNT
from tachyon.dex.units import AMOUNT_MINOR_MAX, DECIMALS_MAX, check_positive_int, to_decimal
from tachyon.errors import (
    AlreadyExists,
    InsufficientFunds,
    InvalidAmount,
    InvalidConfig,
    InvalidInput,
    TokenNotFound,
)

_AVAILABLE: Final = 0
_LOCKED: Final = 1


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    """One account's holding of one token, in minor units."""

    available: int = 0
    locked: int = 0

    @property
    def total(self) -> int:
        return self.available + self.locked


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """A registered token: its symbol (also its id) and how many decimals its minor unit has."""

    symbol: TokenId
    decimals: int

    def __post_init__(self) -> None:
        if (
            type(self.symbol) is not str
            or not self.symbol
            or not self.symbol.isascii()
            or not self.symbol.replace("-", "").isalnum()
        ):
            raise InvalidConfig(f"token symbol {self.symbol!r} must be letters and digits")
        if type(self.decimals) is not int or not 0 <= self.decimals <= DECIMALS_MAX:
            raise InvalidConfig(
                f"decimals {self.decimals!r} must be an integer from 0 to {DECIMALS_MAX}"
            )


class TokenLedger:
    """Balances of every account in every registered token."""

    __slots__ = ("_balances", "_meta", "_supply")

    def __init__(self) -> None:
        self._meta: dict[TokenId, TokenMeta] = {}
        # token -> account -> [available, locked]; lists, mutated in place on the hot path.
        self._balances: dict[TokenId, dict[AccountId, list[int]]] = {}
        self._supply: dict[TokenId, int] = {}

    # -- registry --------------------------------------------------------------------------

    def set_meta(self, meta: TokenMeta) -> None:
        """Register a token. Registering it again with the same decimals changes nothing."""
        known = self._meta.get(meta.symbol)
        if known is not None:
            if known != meta:
                raise AlreadyExists(
                    f"token {meta.symbol} is registered with {known.decimals} decimals"
                )
            return
        self._meta[meta.symbol] = meta
        self._balances[meta.symbol] = {}
        self._supply[meta.symbol] = 0

    def get_meta(self, token: TokenId) -> TokenMeta:
        meta = self._meta.get(token)
        if meta is None:
            raise TokenNotFound(
                f"unknown token {token!r}; known: {', '.join(sorted(self._meta)) or 'none'}"
            )
        return meta

    def tokens(self) -> list[TokenMeta]:
        return sorted(self._meta.values(), key=lambda meta: meta.symbol)

    # -- reading ---------------------------------------------------------------------------

    def balance(self, account: AccountId, token: TokenId) -> BalanceRecord:
        record = self._accounts(token).get(account)
        return (
            BalanceRecord()
            if record is None
            else BalanceRecord(record[_AVAILABLE], record[_LOCKED])
        )

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        """Every token the account has ever held, by symbol."""
        return {
            token: BalanceRecord(record[_AVAILABLE], record[_LOCKED])
            for token, accounts in sorted(self._balances.items())
            if (record := accounts.get(account)) is not None
        }

    def accounts(self, token: TokenId) -> dict[AccountId, BalanceRecord]:
        return {
            acct: BalanceRecord(r[_AVAILABLE], r[_LOCKED])
            for acct, r in self._accounts(token).items()
        }

    def holdings(self, token: TokenId) -> dict[AccountId, list[int]]:
        """The live `[available, locked]` cells of `token` by account, for a settling caller's
        hot path. Such a caller may only move amounts between cells of this token (or between
        the two slots of one cell) so that their sum stays the same, which keeps supply and
        conservation intact, and must not drive a slot below zero; everything else goes through
        the methods. Cells are never replaced, so a caller may keep a reference to one."""
        return self._accounts(token)

    def total_supply(self, token: TokenId) -> int:
        """Deposits minus withdrawals of `token`, in minor units."""
        self.get_meta(token)
        return self._supply[token]

    # -- single-account operations ------------------------------------------------------------

    def credit(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Add to available: a deposit, so the token's supply grows (bounded by the maximum)."""
        accounts = self._accounts(token)
        check_positive_int(amount, "amount", AMOUNT_MINOR_MAX)
        supply = self._supply[token] + amount
        if supply > AMOUNT_MINOR_MAX:
            meta = self._meta[token]
            raise InsufficientFunds(
                f"deposit of {to_decimal(amount, meta.decimals)} {token} would take its supply past"
                f" the maximum {to_decimal(AMOUNT_MINOR_MAX, meta.decimals)}"
            )
        self._supply[token] = supply
        _record(accounts, account)[_AVAILABLE] += amount

    def debit(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Take from available: a withdrawal, so the token's supply shrinks."""
        record = self._require(account, token, amount, _AVAILABLE)
        record[_AVAILABLE] -= amount
        self._supply[token] -= amount

    def require_available(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Raise, naming the shortfall or the bad amount, unless `amount` is a valid amount
        that `account` has available in `token`. Changes nothing."""
        self._require(account, token, amount, _AVAILABLE)

    def lock(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Move available to locked (a hold for an open order)."""
        accounts = self._balances.get(token)
        record = None if accounts is None else accounts.get(account)
        # Inlined `_require`: this runs for every order placed.
        if record is None or type(amount) is not int or not 0 < amount <= record[_AVAILABLE]:
            record = self._require(account, token, amount, _AVAILABLE)
        record[_AVAILABLE] -= amount
        record[_LOCKED] += amount

    def unlock(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Move locked back to available."""
        accounts = self._balances.get(token)
        record = None if accounts is None else accounts.get(account)
        if record is None or type(amount) is not int or not 0 < amount <= record[_LOCKED]:
            record = self._require(account, token, amount, _LOCKED)
        record[_LOCKED] -= amount
        record[_AVAILABLE] += amount

    def spend_locked(self, account: AccountId, token: TokenId, amount: int) -> None:
        """Take from locked out of the ledger (a settled withdrawal of held funds)."""
        record = self._require(account, token, amount, _LOCKED)
        record[_LOCKED] -= amount
        self._supply[token] -= amount

    # -- settlement --------------------------------------------------------------------------

    def settle_fill(
        self,
        base: TokenId,
        quote: TokenId,
        buyer: AccountId,
        seller: AccountId,
        base_qty: int,
        quote_qty: int,
        buyer_fee: int = 0,
        seller_fee: int = 0,
        fee_in_base: bool = False,
        fee_account: AccountId = FEE_ACCOUNT,
    ) -> None:
        """Settle both sides of one fill and its fees in one step, from locked funds.

        The buyer pays `quote_qty` of locked quote and receives `base_qty` base; the seller the
        reverse. Fees go to `fee_account` in quote (or in base if `fee_in_base`): the side that
        pays the fee token pays its fee on top, the side that receives it gets its fee less.
        """
        base_accounts = self._balances.get(base) or self._accounts(base)
        quote_accounts = self._balances.get(quote) or self._accounts(quote)
        if not (
            type(base_qty) is int
            and type(quote_qty) is int
            and type(buyer_fee) is int
            and type(seller_fee) is int
            and base != quote
        ):
            self._refuse_fill(
                base, quote, buyer, seller, base_qty, quote_qty, buyer_fee, seller_fee, fee_in_base
            )
        buyer_pays = quote_qty if fee_in_base else quote_qty + buyer_fee
        seller_pays = base_qty + seller_fee if fee_in_base else base_qty
        buyer_quote = quote_accounts.get(buyer)
        seller_base = base_accounts.get(seller)
        if not (
            0 < base_qty <= AMOUNT_MINOR_MAX
            and 0 < quote_qty <= AMOUNT_MINOR_MAX
            and 0 <= buyer_fee <= (base_qty if fee_in_base else quote_qty)
            and 0 <= seller_fee <= (base_qty if fee_in_base else quote_qty)
            and buyer_quote is not None
            and buyer_quote[_LOCKED] >= buyer_pays
            and seller_base is not None
            and seller_base[_LOCKED] >= seller_pays
        ):
            self._refuse_fill(
                base, quote, buyer, seller, base_qty, quote_qty, buyer_fee, seller_fee, fee_in_base
            )
        buyer_quote[_LOCKED] -= buyer_pays
        seller_base[_LOCKED] -= seller_pays
        buyer_base = base_accounts.get(buyer) or _record(base_accounts, buyer)
        seller_quote = quote_accounts.get(seller) or _record(quote_accounts, seller)
        if fee_in_base:
            buyer_base[_AVAILABLE] += base_qty - buyer_fee
            seller_quote[_AVAILABLE] += quote_qty
            fee_accounts = base_accounts
        else:
            buyer_base[_AVAILABLE] += base_qty
            seller_quote[_AVAILABLE] += quote_qty - seller_fee
            fee_accounts = quote_accounts
        if buyer_fee or seller_fee:
            _record(fee_accounts, fee_account)[_AVAILABLE] += buyer_fee + seller_fee

    def settle_bid_fill(
        self,
        buyer: AccountId,
        seller: AccountId,
        base: TokenId,
        quote: TokenId,
        base_qty: int,
        quote_cost: int,
    ) -> None:
        """The seed's bid-side helper: the buyer spends locked quote and is credited base
        (the seller's side of the same fill settles in the same step, without fees)."""
        self.settle_fill(base, quote, buyer, seller, base_qty, quote_cost)

    def settle_ask_fill(
        self,
        seller: AccountId,
        buyer: AccountId,
        base: TokenId,
        quote: TokenId,
        base_qty: int,
        quote_gain: int,
    ) -> None:
        """The seed's ask-side helper: the seller spends locked base and is credited quote
        (the buyer's side of the same fill settles in the same step, without fees)."""
        self.settle_fill(base, quote, buyer, seller, base_qty, quote_gain)

    # -- invariants and state ------------------------------------------------------------------

    def check_conservation(self) -> None:
        """Assert: per token, balances sum to the supply, none is negative, supply within bounds."""
        for token, accounts in self._balances.items():
            total = 0
            for account, (available, locked) in accounts.items():
                assert available >= 0 and locked >= 0, f"negative balance: {account} {token}"
                total += available + locked
            assert total == self._supply[token], (
                f"{token}: balances {total} != supply {self._supply[token]}"
            )
            assert 0 <= total <= AMOUNT_MINOR_MAX

    def to_state(self) -> dict[str, object]:
        """Plain JSON-able values, accounts in sorted order (deterministic); see `from_state`."""
        return {
            "tokens": [[meta.symbol, meta.decimals] for meta in self.tokens()],
            "balances": [
                [token, account, record[_AVAILABLE], record[_LOCKED]]
                for token in sorted(self._balances)
                for account, record in sorted(self._balances[token].items())
            ],
        }

    @classmethod
    def from_state(cls, tokens: list[list[object]], balances: list[list[object]]) -> TokenLedger:
        ledger = cls()
        for symbol, decimals in tokens:
            assert isinstance(symbol, str) and isinstance(decimals, int)
            ledger.set_meta(TokenMeta(TokenId(symbol), decimals))
        for token, account, available, locked in balances:
            assert isinstance(token, str) and isinstance(account, str)
            assert isinstance(available, int) and isinstance(locked, int)
            ledger._balances[TokenId(token)][AccountId(account)] = [available, locked]
            ledger._supply[TokenId(token)] += available + locked
        ledger.check_conservation()
        return ledger

    # -- helpers ---------------------------------------------------------------------------

    def _accounts(self, token: TokenId) -> dict[AccountId, list[int]]:
        accounts = self._balances.get(token)
        if accounts is None:
            self.get_meta(token)  # raises TokenNotFound naming the token
        assert accounts is not None
        return accounts

    def _require(self, account: AccountId, token: TokenId, amount: int, slot: int) -> list[int]:
        """The account's record if `amount` is valid and `slot` (available or locked) covers it."""
        accounts = self._balances.get(token)
        if accounts is not None:
            record = accounts.get(account)
            if record is not None and type(amount) is int and 0 < amount <= record[slot]:
                return record
        return self._refuse(account, token, amount, slot)

    def _refuse(self, account: AccountId, token: TokenId, amount: int, slot: int) -> NoReturn:
        accounts = self._accounts(token)
        check_positive_int(amount, "amount", AMOUNT_MINOR_MAX)
        record = accounts.get(account)
        have = 0 if record is None else record[slot]
        decimals = self._meta[token].decimals
        what = "available" if slot == _AVAILABLE else "locked"
        raise InsufficientFunds(
            f"insufficient {what} {token}: need {to_decimal(amount, decimals)},"
            f" have {to_decimal(have, decimals)}"
        )

    def _refuse_fill(
        self,
        base: TokenId,
        quote: TokenId,
        buyer: AccountId,
        seller: AccountId,
        base_qty: int,
        quote_qty: int,
        buyer_fee: int,
        seller_fee: int,
        fee_in_base: bool,
    ) -> NoReturn:
        if base == quote:
            raise InvalidInput(f"a fill trades two tokens; base and quote are both {base}")
        check_positive_int(base_qty, "base_qty", AMOUNT_MINOR_MAX)
        check_positive_int(quote_qty, "quote_qty", AMOUNT_MINOR_MAX)
        for name, value in (("buyer_fee", buyer_fee), ("seller_fee", seller_fee)):
            if type(value) is not int or not 0 <= value <= AMOUNT_MINOR_MAX:
                raise InvalidAmount(
                    f"{name} {value!r} must be an integer from 0 to {AMOUNT_MINOR_MAX}"
                )
        if max(buyer_fee, seller_fee) > (base_qty if fee_in_base else quote_qty):
            raise InvalidAmount(
                f"a fee ({buyer_fee}, {seller_fee}) exceeds the amount it is taken from"
            )
        buyer_pays = quote_qty if fee_in_base else quote_qty + buyer_fee
        self._require(buyer, quote, buyer_pays, _LOCKED)
        self._require(seller, base, base_qty + seller_fee if fee_in_base else base_qty, _LOCKED)
        raise AssertionError("unreachable: the fill was refused for no reason")


def _record(accounts: dict[AccountId, list[int]], account: AccountId) -> list[int]:
    record = accounts.get(account)
    if record is None:
        record = accounts[account] = [0, 0]
    return record
