"""TokenLedger: per (account, token) available and locked balances, a token registry, and
all-or-nothing operations on them, fill settlement included (the seed's `storage::TokenLedger`).

Pure: no I/O, no clock, no floats. Every method validates everything before it changes
anything, so a method that raises has changed nothing. Each token's supply (deposits minus
withdrawals) is bounded by AMOUNT_MINOR_MAX; balances partition the supply, so no balance can
exceed it and settlement never overflows.

Debt: a card payment reversed after its funds were spent (`reverse`) takes what the account has
available and records the rest as the account's debt of that token; the token's supply shrinks
by the whole reversal, so balances minus debts equal the supply. Any later credit to the
account in that token settles its debt first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FEE_ACCOUNT, FeeSchedule, MarketConfig, Trade
from tachyon.dex.units import (
    AMOUNT_MINOR_MAX,
    BPS_DENOMINATOR,
    DECIMALS_MAX,
    check_positive_int,
    to_decimal,
)
from tachyon.errors import (
    AlreadyExists,
    InsufficientFunds,
    InvalidAmount,
    InvalidConfig,
    InvalidInput,
    SupplyExceeded,
    TokenNotFound,
)

_AVAILABLE: Final = 0
_LOCKED: Final = 1

# An open order's hold, as a settling caller keeps it: a plain list (five times cheaper to
# build than a slotted object, measured) whose slots are these. `settle_fills` reads and
# updates the makers' holds; `HOLD_CELL` is the owner's ledger cell of the held token (quote
# for a bid, base for an ask) and `HOLD_LOCKED` what the order holds of it. `HOLD_TALLY` is
# what the caller counts of its owner's orders on its market ([orders by id, open bid qty]):
# a bid's partial fill takes its quantity off that count, as it does off `HOLD_REMAINING`.
(
    HOLD_OWNER,
    HOLD_MARKET,
    HOLD_IS_BID,
    HOLD_PRICE,
    HOLD_REMAINING,
    HOLD_LOCKED,
    HOLD_FILLED,
    HOLD_CELL,
    HOLD_TALLY,
) = range(9)
Hold = list[Any]  # heterogeneous on purpose: see above
TALLY_ORDERS, TALLY_BID_QTY = 0, 1  # the slots of a hold's tally


def fill_fees(config: MarketConfig, price: int, qty: int) -> tuple[int, int]:
    """The maker's and the taker's fee of one fill under `config`'s fee schedule, in its fee
    token: basis points of the fill's base quantity (fees in base) or quote cost (fees in
    quote), each rounded down. `TokenLedger.settle_fills` computes exactly this, inline."""
    fees = config.fees
    basis = qty if config.fee_token == config.base else price * qty // config.base_unit
    return maker_fee(basis, fees.maker_bps), basis * fees.taker_bps // BPS_DENOMINATOR


def maker_fee(basis: int, bps: int) -> int:
    """The maker's fee on `basis`, rounded down; a rebate (negative bps) is rounded down too,
    so it never exceeds the taker fee at the same or a higher rate."""
    return basis * bps // BPS_DENOMINATOR if bps >= 0 else -(basis * -bps // BPS_DENOMINATOR)


SETTLEMENT: Final = """How `settle_fills` moves funds: each maker gives from its hold what the
taker receives, gets what the taker pays (less the maker fee if the fee token is what it
receives, else it pays the fee from its hold on top) and keeps held what its remaining quantity
needs at the maker rate (`SettlementTerms.need`); a maker the fill completes is handed to the
caller's `close` with what its last fill spent, which releases the rest. The taker's side of
every fill is credited at once. No check per fill: every open order holds what it still needs
(the service's `check_invariants`), so no slot goes below zero."""


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    """One account's holding of one token, in minor units."""

    available: int = 0
    locked: int = 0
    debt: int = 0  # owed after a reversed card payment (see the module's docstring)

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


class SettlementTerms:
    """How one market's fills settle: its two tokens' live ledger cells, its units and its
    fees, flattened for the hot path (`DexService` keeps one per market)."""

    __slots__ = (
        "base",
        "base_cells",
        "base_unit",
        "config",
        "fee_account",
        "fee_cell",
        "fee_in_base",
        "hold_bps",
        "lock_bps",
        "maker_bps",
        "maker_sign",
        "market_id",
        "quote",
        "quote_cells",
        "taker_bps",
        "zero_fees",
    )

    def __init__(self, config: MarketConfig, ledger: TokenLedger) -> None:
        self.market_id: MarketId = config.market_id
        self.base = config.base
        self.quote = config.quote
        self.base_unit = config.base_unit
        self.base_cells = ledger.holdings(config.base)
        self.quote_cells = ledger.holdings(config.quote)
        self.config = config
        self.set_fees(config.fees)

    def set_fees(self, fees: FeeSchedule) -> None:
        self.config = dataclasses.replace(self.config, fees=fees)
        self.maker_bps = fees.maker_bps
        self.taker_bps = fees.taker_bps
        # What a resting order holds for its maker fee: nothing for a rebate (it is paid to it).
        self.hold_bps = max(fees.maker_bps, 0)
        # A rebate's sign: `maker_fee` rounds its size down, as every fee is (`settle_fills`).
        self.maker_sign = 1 if fees.maker_bps >= 0 else -1
        # A new order may fill as taker and rest as maker: lock for the dearer of the two.
        self.lock_bps = max(fees.maker_bps, fees.taker_bps)
        self.fee_in_base = self.config.fee_token == self.base
        self.fee_account = fees.fee_account
        self.fee_cell: list[int] | None = None  # the fee account's cell, once it has one
        self.zero_fees = not (fees.maker_bps or fees.taker_bps)

    def open_fee_cell(self) -> list[int]:
        """The fee account's ledger cell of the fee token, opened empty at the first fee."""
        self.fee_cell = _record(
            self.base_cells if self.fee_in_base else self.quote_cells, self.fee_account
        )
        return self.fee_cell

    def need(self, is_bid: bool, price: int, qty: int, bps: int) -> int:
        """What an order of `qty` at `price` must hold to pay for its fills and fees at `bps`:
        what it spends (quote for a bid, base for an ask), plus the fee if the fee token is the
        one it spends. `settle_fills` and `DexService.place_limit` inline this; the service's
        `check_invariants` holds every open order to it."""
        spend = price * qty // self.base_unit if is_bid else qty
        return spend + spend * bps // BPS_DENOMINATOR if is_bid is not self.fee_in_base else spend


class TokenLedger:
    """Balances of every account in every registered token."""

    __slots__ = ("_balances", "_debts", "_meta", "_supply")

    def __init__(self) -> None:
        self._meta: dict[TokenId, TokenMeta] = {}
        # token -> account -> [available, locked]; lists, mutated in place on the hot path.
        self._balances: dict[TokenId, dict[AccountId, list[int]]] = {}
        self._supply: dict[TokenId, int] = {}
        # account -> token -> debt (above 0; an account owing nothing has no entry).
        self._debts: dict[AccountId, dict[TokenId, int]] = {}

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
        debt = self.debts(account).get(token, 0)
        return (
            BalanceRecord(debt=debt)
            if record is None
            else BalanceRecord(record[_AVAILABLE], record[_LOCKED], debt)
        )

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        """Every token the account has ever held, by symbol."""
        debts = self.debts(account)
        return {
            token: BalanceRecord(record[_AVAILABLE], record[_LOCKED], debts.get(token, 0))
            for token, accounts in sorted(self._balances.items())
            if (record := accounts.get(account)) is not None
        }

    def debts(self, account: AccountId) -> dict[TokenId, int]:
        """What `account` owes, by token (empty: nothing)."""
        return dict(self._debts.get(account, {}))

    def in_debt(self, account: AccountId) -> bool:
        return account in self._debts

    def debtors(self) -> dict[AccountId, dict[TokenId, int]]:
        """The live map of what each account in debt owes, for a caller's membership test on
        its hot path (read only; never replaced)."""
        return self._debts

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

    def credit(self, account: AccountId, token: TokenId, amount: int) -> int:
        """Add to available: a deposit, so the token's supply grows (bounded by the maximum).
        The account's debt of `token` is settled first; what settled it is returned."""
        accounts = self._accounts(token)
        check_positive_int(amount, "amount", AMOUNT_MINOR_MAX)
        supply = self._supply[token] + amount
        if supply > AMOUNT_MINOR_MAX:
            meta = self._meta[token]
            raise SupplyExceeded(
                f"deposit of {to_decimal(amount, meta.decimals)} {token} would take its supply past"
                f" the maximum {to_decimal(AMOUNT_MINOR_MAX, meta.decimals)}; nothing was changed"
            )
        self._supply[token] = supply
        settled = self._settle_debt(account, token, amount)
        _record(accounts, account)[_AVAILABLE] += amount - settled
        return settled

    def reverse(self, account: AccountId, token: TokenId, amount: int) -> tuple[int, int]:
        """Take back `amount` credited earlier (a refunded or disputed card payment): from
        available as far as it goes, the rest recorded as debt; the supply shrinks by `amount`.
        Returns (taken from available, added to debt)."""
        accounts = self._accounts(token)
        check_positive_int(amount, "amount", AMOUNT_MINOR_MAX)
        record = _record(accounts, account)
        taken = min(record[_AVAILABLE], amount)
        owed = amount - taken
        record[_AVAILABLE] -= taken
        self._supply[token] -= amount
        if owed:
            debts = self._debts.setdefault(account, {})
            debts[token] = debts.get(token, 0) + owed
        return taken, owed

    def _settle_debt(self, account: AccountId, token: TokenId, amount: int) -> int:
        debts = self._debts.get(account)
        owed = 0 if debts is None else debts.get(token, 0)
        if not owed:
            return 0
        assert debts is not None
        settled = min(owed, amount)
        if settled == owed:
            del debts[token]
            if not debts:
                del self._debts[account]
        else:
            debts[token] = owed - settled
        return settled

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

    def settle_fills(
        self,
        terms: SettlementTerms,
        taker: AccountId,
        taker_is_bid: bool,
        trades: list[Trade],
        holds: dict[OrderId, Hold],
        close: Callable[[OrderId, Hold, int], None],
    ) -> tuple[int, int, int, dict[int, int] | None]:
        """Settle a taker's fills, fees included (`fill_fees`): the one settlement (`SETTLEMENT`).
        Returns what the taker pays (from funds its caller checked), the quantity it filled, what
        the last maker has left, and what earlier makers left open (refilled icebergs) by trade."""
        base_unit = terms.base_unit
        fee_in_base, zero_fees = terms.fee_in_base, terms.zero_fees
        taker_bps, hold_bps, maker_sign = terms.taker_bps, terms.hold_bps, terms.maker_sign
        maker_abs_bps = maker_sign * terms.maker_bps
        maker_is_bid = not taker_is_bid
        taker_pays_fee = fee_in_base is not taker_is_bid  # the fee on top of what it pays
        maker_need_has_fee = maker_is_bid is not fee_in_base  # as in `SettlementTerms.need`
        cells = (terms.quote_cells, terms.base_cells)  # makers get what the taker pays with
        maker_gain_cells, taker_gain_cells = cells if taker_is_bid else cells[::-1]
        filled = cost_total = maker_fees = taker_fees = maker_fee = remaining = 0
        left_by_trade: dict[int, int] | None = None
        last = trades[-1]
        for trade in trades:
            price, qty, maker_owner = trade.price, trade.qty, trade.maker_owner
            filled += qty
            cost_total += (cost := price * qty // base_unit)
            if not zero_fees:
                fee_basis = qty if fee_in_base else cost
                maker_fee = maker_sign * (fee_basis * maker_abs_bps // BPS_DENOMINATOR)  # inline
                maker_fees += maker_fee
                taker_fees += fee_basis * taker_bps // BPS_DENOMINATOR
            gives = qty if taker_is_bid else cost
            gets = cost if taker_is_bid else qty
            if taker_pays_fee:
                maker_spent, maker_gained = gives, gets - maker_fee
            else:
                maker_spent, maker_gained = gives + maker_fee, gets
            maker = holds[maker_id := trade.maker_order_id]
            gain = maker_gain_cells.get(maker_owner) or _record(maker_gain_cells, maker_owner)
            gain[_AVAILABLE] += maker_gained
            remaining = maker[HOLD_REMAINING] - qty
            if not remaining:  # filled: forget it, release what rounding left locked
                close(maker_id, maker, maker_spent)
                continue
            maker[HOLD_FILLED] += qty
            if trade is not last:  # an iceberg, refilled at the back of its level
                (left_by_trade := left_by_trade or {})[trade.trade_id] = remaining
            left = maker[HOLD_LOCKED] - maker_spent
            if zero_fees:  # it keeps what its remaining qty needs (`need`, inline)
                need = left
            else:
                need = price * remaining // base_unit if maker_is_bid else remaining
                if maker_need_has_fee:
                    need += need * hold_bps // BPS_DENOMINATOR
            held = maker[HOLD_CELL]
            held[_LOCKED] -= maker_spent + left - need
            held[_AVAILABLE] += left - need
            maker[HOLD_REMAINING] = remaining
            maker[HOLD_LOCKED] = need
            if maker_is_bid:
                maker[HOLD_TALLY][TALLY_BID_QTY] -= qty
        pays, receives = (cost_total, filled) if taker_is_bid else (filled, cost_total)
        pays += taker_fees if taker_pays_fee else 0
        receives -= 0 if taker_pays_fee else taker_fees
        (taker_gain_cells.get(taker) or _record(taker_gain_cells, taker))[_AVAILABLE] += receives
        if maker_fees or taker_fees:
            (terms.fee_cell or terms.open_fee_cell())[_AVAILABLE] += maker_fees + taker_fees
        return pays, filled, remaining, left_by_trade

    # -- invariants and state ------------------------------------------------------------------

    def check_conservation(self) -> None:
        """Assert: per token, balances minus debts sum to the supply, no balance is negative,
        every debt is positive, balances within bounds."""
        owed: dict[TokenId, int] = {}
        for account, debts in self._debts.items():
            assert debts, f"an empty debt record: {account}"
            for token, debt in debts.items():
                assert debt > 0, f"debt {debt} of {account} {token}"
                owed[token] = owed.get(token, 0) + debt
        for token, accounts in self._balances.items():
            total = 0
            for account, (available, locked) in accounts.items():
                assert available >= 0 and locked >= 0, f"negative balance: {account} {token}"
                total += available + locked
            debt = owed.get(token, 0)
            assert total - debt == self._supply[token], (
                f"{token}: balances {total} - debts {debt} != supply {self._supply[token]}"
            )
            assert 0 <= total <= AMOUNT_MINOR_MAX

    def to_state(self) -> dict[str, object]:
        """Plain JSON-able values, accounts in sorted order (deterministic); see `from_state`.
        "debts" only when an account owes something (a state without keeps its bytes)."""
        state: dict[str, object] = {
            "tokens": [[meta.symbol, meta.decimals] for meta in self.tokens()],
            "balances": [
                [token, account, record[_AVAILABLE], record[_LOCKED]]
                for token in sorted(self._balances)
                for account, record in sorted(self._balances[token].items())
            ],
        }
        if self._debts:
            state["debts"] = self.debts_state()
        return state

    def debts_state(self) -> list[list[object]]:
        return [
            [account, token, debt]
            for account, debts in sorted(self._debts.items())
            for token, debt in sorted(debts.items())
        ]

    @classmethod
    def from_state(
        cls,
        tokens: list[list[object]],
        balances: list[list[object]],
        debts: list[list[object]] | None = None,
    ) -> TokenLedger:
        ledger = cls()
        for symbol, decimals in tokens:
            assert isinstance(symbol, str) and isinstance(decimals, int)
            ledger.set_meta(TokenMeta(TokenId(symbol), decimals))
        for token, account, available, locked in balances:
            assert isinstance(token, str) and isinstance(account, str)
            assert isinstance(available, int) and isinstance(locked, int)
            ledger._balances[TokenId(token)][AccountId(account)] = [available, locked]
            ledger._supply[TokenId(token)] += available + locked
        for account, token, debt in debts or ():
            assert isinstance(account, str) and isinstance(token, str) and isinstance(debt, int)
            ledger.get_meta(TokenId(token))
            ledger._debts.setdefault(AccountId(account), {})[TokenId(token)] = debt
            ledger._supply[TokenId(token)] -= debt
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
