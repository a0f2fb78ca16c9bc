"""Exchange: the pure state machine that the journal drives, one command at a time.

Pure: no I/O, no clock. The state (every book, the ledger, registries, id counters, account
nonces, the last sequence number and time) changes only through `apply`, which is given each
command's sequence number and timestamp by its caller. The same commands with the same numbers
give the same state, byte for byte: `state_bytes` is canonical and `state_hash` hashes it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, assert_never

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
from tachyon.exchange.service import DexService, Placement
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

Outcome = Placement | BalanceRecord | list[OrderId] | None
"""What applying a command gave: a placement or cancellation, a balance after a deposit or
withdrawal, the orders a fee change cancelled, or nothing (registrations)."""

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
        """Apply the command numbered `seq` at `ts_ns`. A command that raises has changed
        nothing and leaves `seq` where it was, so the caller may reuse the number."""
        assert seq == self.seq + 1, f"command {seq} applied after {self.seq}"
        assert ts_ns >= self.ts_ns, f"command {seq} is older than command {self.seq}"
        if isinstance(command, SignedCommand):
            command = self._authenticate(command)
        elif (
            isinstance(command, AccountCommand)
            and len(command.account) == ADDRESS_LENGTH
            and is_address(command.account)
        ):
            self._check_unsigned(command)
        nonce = 0
        if isinstance(command, AccountCommand) and command.nonce:
            account, nonce = AccountId(command.account), command.nonce
            self._check_nonce(account, nonce)
        outcome = self._dispatch(command)
        self.seq = seq
        self.ts_ns = ts_ns
        if nonce:
            self._nonces[account] = nonce
        return outcome

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

    def _dispatch(self, command: AccountCommand | RegisterToken | AddMarket | SetFees) -> Outcome:
        service = self.service
        match command:
            case PlaceLimit():
                return service.place_limit(
                    AccountId(command.account),
                    command.side,
                    command.price,
                    command.qty,
                    market=MarketId(command.market),
                    tif=command.tif,
                    post_only=command.post_only,
                    stp=command.stp,
                )
            case CancelOrder():
                return service.cancel(AccountId(command.account), OrderId(command.order_id))
            case PlaceMarket():
                return service.place_market(
                    AccountId(command.account),
                    command.side,
                    command.qty,
                    market=MarketId(command.market),
                    max_quote=command.max_quote,
                    stp=command.stp,
                )
            case Deposit():
                service.deposit(AccountId(command.account), TokenId(command.token), command.amount)
                return service.balance(AccountId(command.account), TokenId(command.token))
            case Withdraw():
                service.withdraw(AccountId(command.account), TokenId(command.token), command.amount)
                return service.balance(AccountId(command.account), TokenId(command.token))
            case SetFees():
                return service.set_fees(MarketId(command.market), _fees(command))
            case AddMarket():
                service.add_market(_market_config(command))
                return None
            case RegisterToken():
                service.register_token(TokenMeta(TokenId(command.symbol), command.decimals))
                return None
            case _:
                assert_never(command)

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
        """Rebuild from `to_state` output; the service checks every invariant as it loads."""
        exchange = cls(DexService.from_state(state["service"]))
        exchange.seq = int(state["seq"])
        exchange.ts_ns = int(state["ts_ns"])
        exchange._nonces = {AccountId(account): int(nonce) for account, nonce in state["nonces"]}
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
