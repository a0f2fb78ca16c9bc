"""Exchange: the pure state machine that the journal drives, one command at a time.

Pure: no I/O, no clock. The state (every book, the ledger, registries, id counters, account
nonces, the last sequence number and time) changes only through `apply`, which is given each
command's sequence number and timestamp by its caller. The same commands with the same numbers
give the same state, byte for byte: `state_bytes` is canonical and `state_hash` hashes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final, NamedTuple, get_args

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FeeSchedule, MarketConfig
from tachyon.errors import InvalidInput, StaleNonce, Unauthorized
from tachyon.exchange.auth import ADDRESS_LENGTH, is_address, verify
from tachyon.exchange.commands import (
    AccountCommand,
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SignedCommand,
    Withdraw,
    decode_command,
    decode_journaled,
)
from tachyon.exchange.events import Event, OrderCancelled
from tachyon.exchange.service import DexService, Placement
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

Outcome = Placement | BalanceRecord | list[OrderId] | None
"""What applying a command gave: a placement or cancellation, a balance after a deposit or
withdrawal, the orders a fee change cancelled, or nothing (registrations)."""


class Applied(NamedTuple):
    """A command's outcome and the ordered events of the change it made."""

    outcome: Outcome
    events: list[Event]


_encoder: Final = msgspec.msgpack.Encoder()


class Exchange:
    """A `DexService` plus what deterministic replay needs: last sequence, time and nonces."""

    __slots__ = ("_nonces", "seq", "service", "ts_ns", "verify_signatures")

    def __init__(self, service: DexService | None = None) -> None:
        """A fresh exchange has the default BASE/USDC market, as a fresh `DexService` does."""
        self.service = DexService() if service is None else service
        self.seq = 0  # the last applied command's sequence number
        self.ts_ns = 0  # and its timestamp
        self._nonces: dict[AccountId, int] = {}
        # Off only while replaying a journal whose entries were verified when first applied
        # (the hash chain protects them since); `audit` replays with it on.
        self.verify_signatures = True

    def apply(self, command: AnyCommand, seq: int, ts_ns: int) -> Outcome:
        """`execute`'s outcome, for a caller that needs no events."""
        return self.execute(command, seq, ts_ns).outcome

    def execute(self, command: AnyCommand, seq: int, ts_ns: int) -> Applied:
        """Apply the command numbered `seq` at `ts_ns`: its outcome and events. A command that
        raises has changed nothing and leaves `seq` where it was, so the caller may reuse the
        number."""
        assert seq == self.seq + 1, f"command {seq} applied after {self.seq}"
        assert ts_ns >= self.ts_ns, f"command {seq} is older than command {self.seq}"
        account, nonce = _NO_ACCOUNT, 0
        if type(command) is SignedCommand:
            command = self._authenticate(command)
            account, nonce = command.account, command.nonce  # type: ignore[assignment]
        elif type(command) in _ACCOUNT_KINDS:  # isinstance costs seven times more on structs
            account, nonce = command.account, command.nonce  # type: ignore[union-attr,assignment]
            if len(account) == ADDRESS_LENGTH and is_address(account):
                self._check_unsigned(command)  # type: ignore[arg-type]
        if nonce:
            self._check_nonce(account, nonce)
        applied = _APPLY[type(command)](self.service, command)
        self.seq = seq
        self.ts_ns = ts_ns
        if nonce:
            self._nonces[account] = nonce
        return applied

    @staticmethod
    def _check_unsigned(command: AccountCommand) -> None:
        """Only a credit (the faucet, an on-ramp, an operator) reaches an address unsigned, and
        it carries no nonce: the account's nonces are its key's alone."""
        if type(command) is not Deposit:
            raise Unauthorized(
                f"account {command.account} is a wallet address: only commands signed by its"
                " key act for it"
            )
        if command.nonce:
            raise Unauthorized(
                f"an unsigned deposit to {command.account} carries no nonce (nonce"
                f" {command.nonce}): only the account's key advances its nonce"
            )

    def _authenticate(self, signed: SignedCommand) -> AccountCommand:
        """The account command inside `signed`, if its account's key signed it. On replay the
        body's form is not checked again either: it was when the signature was."""
        command = (decode_command if self.verify_signatures else decode_journaled)(signed.body)
        if not isinstance(command, AccountCommand):
            raise InvalidInput(f"only account commands are signed, not {type(command).__name__}")
        if not is_address(command.account):
            raise InvalidInput(
                f"a signed command's account must be an address, not {command.account!r}"
            )
        if not command.nonce:
            raise InvalidInput("a signed command needs a nonce above 0")
        if self.verify_signatures:
            verify(command.account, signed.body, signed.signature)
        return command

    def _check_nonce(self, account: AccountId, nonce: int) -> None:
        if type(nonce) is not int or nonce < 0:
            raise InvalidInput(f"nonce {nonce!r} must be a non-negative integer")
        last = self._nonces.get(account, 0)
        if nonce <= last:
            raise StaleNonce(f"nonce {nonce} of {account} is not above its last nonce {last}")

    def last_nonce(self, account: AccountId) -> int:
        return self._nonces.get(account, 0)

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "ts_ns": self.ts_ns,
            "nonces": [[account, nonce] for account, nonce in sorted(self._nonces.items())],
            "service": self.service.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Exchange:
        """Rebuild from `to_state` output, holding every invariant of `check_invariants` (the
        service checks its own as it loads); AssertionError if it does not."""
        exchange = cls(DexService.from_state(state["service"]))
        exchange.seq = int(state["seq"])
        exchange.ts_ns = int(state["ts_ns"])
        exchange._nonces = {AccountId(account): int(nonce) for account, nonce in state["nonces"]}
        assert all(nonce > 0 for nonce in exchange._nonces.values()), "a nonce is not positive"
        return exchange

    def state_bytes(self) -> bytes:
        """The whole state, canonically encoded (msgpack, deterministic order)."""
        return _encoder.encode(self.to_state())

    def state_hash(self) -> str:
        return state_hash_of(self.state_bytes())

    def check_invariants(self) -> None:
        self.service.check_invariants()
        assert all(nonce > 0 for nonce in self._nonces.values())


def state_hash_of(state_bytes: bytes) -> str:
    """The hex SHA-256 of canonical state bytes: two states are equal iff their hashes are."""
    return hashlib.sha256(state_bytes).hexdigest()


def decode_state(state_bytes: bytes) -> Exchange:
    """The exchange that `state_bytes` encodes (ValueError or AssertionError if they do not
    hold together)."""
    state = msgspec.msgpack.decode(state_bytes)
    if not isinstance(state, dict):
        raise ValueError("exchange state must be a map")
    return Exchange.from_state(state)


# The dispatchers hand the service a command's fields as they are: the ids are the plain
# strings and ints the command holds, and a NewType call (`AccountId(...)`) is a Python-level
# call in 3.11, which the busiest commands would pay twice each.


def _placed(placement: Placement) -> Applied:
    return Applied(placement, placement.events)


def _place_limit(service: DexService, command: PlaceLimit) -> Applied:
    placement = service.place_limit(
        command.account,  # type: ignore[arg-type]
        command.side,
        command.price,
        command.qty,
        market=command.market,  # type: ignore[arg-type]
        tif=command.tif,
        post_only=command.post_only,
        stp=command.stp,
    )
    return Applied(placement, placement.events)


def _cancel(service: DexService, command: CancelOrder) -> Applied:
    return _placed(service.cancel(command.account, command.order_id))  # type: ignore[arg-type]


def _place_market(service: DexService, command: PlaceMarket) -> Applied:
    return _placed(
        service.place_market(
            command.account,  # type: ignore[arg-type]
            command.side,
            command.qty,
            market=command.market,  # type: ignore[arg-type]
            max_quote=command.max_quote,
            stp=command.stp,
        )
    )


def _deposit(service: DexService, command: Deposit) -> Applied:
    account, token = AccountId(command.account), TokenId(command.token)
    events = service.deposit(account, token, command.amount)
    return Applied(service.balance(account, token), events)


def _withdraw(service: DexService, command: Withdraw) -> Applied:
    account, token = AccountId(command.account), TokenId(command.token)
    events = service.withdraw(account, token, command.amount)
    return Applied(service.balance(account, token), events)


def _set_fees(service: DexService, command: SetFees) -> Applied:
    events = service.set_fees(MarketId(command.market), _fees(command))
    cancelled = [event.order_id for event in events if type(event) is OrderCancelled]
    return Applied(cancelled, events)


def _add_market(service: DexService, command: AddMarket) -> Applied:
    return Applied(None, service.add_market(_market_config(command)))


def _register_token(service: DexService, command: RegisterToken) -> Applied:
    return Applied(
        None, service.register_token(TokenMeta(TokenId(command.symbol), command.decimals))
    )


# How each kind of command changes the service, by exact type: a dict lookup, where a `match`
# on classes costs an isinstance per case. A signed command is applied as its body.
_APPLY: Final[dict[type[Any], Callable[[DexService, Any], Applied]]] = {
    PlaceLimit: _place_limit,
    CancelOrder: _cancel,
    PlaceMarket: _place_market,
    Deposit: _deposit,
    Withdraw: _withdraw,
    SetFees: _set_fees,
    AddMarket: _add_market,
    RegisterToken: _register_token,
}
_ACCOUNT_KINDS: Final = frozenset(get_args(AccountCommand))
_NO_ACCOUNT: Final = AccountId("")


def _fees(command: SetFees | AddMarket) -> FeeSchedule:
    fee_token = None if command.fee_token is None else TokenId(command.fee_token)
    return FeeSchedule(
        command.maker_bps, command.taker_bps, fee_token, AccountId(command.fee_account)
    )


def _market_config(command: AddMarket) -> MarketConfig:
    return MarketConfig(
        TokenId(command.base),
        TokenId(command.quote),
        command.tick_size,
        command.lot_size,
        command.min_qty,
        command.base_decimals,
        command.quote_decimals,
        _fees(command),
    )
