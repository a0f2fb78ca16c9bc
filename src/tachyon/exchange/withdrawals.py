"""Withdrawals with a destination: money that leaves the exchange, and where it went.

Pure. A withdrawal request locks the amount from the account's available balance and is
`pending` under an id, with the destination the account named (a bank account, an address:
a string the operator's payout process reads). The operator completes it (the locked amount
leaves the ledger: the token's supply shrinks) or rejects it (the amount is available again),
with a reference of its own (a payout id, a reason). Every withdrawal is kept, in id order, so
an account can list its own with their states. The ledger holds the locks; `DexService`
counts pending withdrawals among what an account's locked funds must equal.
"""

from __future__ import annotations

from typing import Final

import msgspec

from tachyon.dex.ids import AccountId, TokenId
from tachyon.errors import InvalidInput, NotFound

PENDING: Final = "pending"
COMPLETED: Final = "completed"
REJECTED: Final = "rejected"
DESTINATION_MAX: Final = 256
REFERENCE_MAX: Final = 256


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"


class Withdrawal(msgspec.Struct, frozen=True, array_like=True):
    """One withdrawal: `state` pending, completed or rejected; `reference` the operator's."""

    withdrawal_id: int
    account: AccountId
    token: TokenId
    amount: int
    destination: str
    state: str = PENDING
    reference: str | None = None


def check_text(value: object, name: str, maximum: int) -> str:
    """`value` if it is a string of 1 to `maximum` printable characters; InvalidInput if not."""
    if type(value) is not str or not 0 < len(value) <= maximum or not value.isprintable():
        raise InvalidInput(f"{name} {value!r} must be 1 to {maximum} printable characters")
    return value


class Withdrawals:
    """Every withdrawal by id, and the next id."""

    __slots__ = ("_by_id", "next_id")

    def __init__(self) -> None:
        self._by_id: dict[int, Withdrawal] = {}
        self.next_id = 1

    def add(self, account: AccountId, token: TokenId, amount: int, destination: str) -> Withdrawal:
        withdrawal = Withdrawal(self.next_id, account, token, amount, destination)
        self._by_id[withdrawal.withdrawal_id] = withdrawal
        self.next_id += 1
        return withdrawal

    def pending(self, withdrawal_id: object) -> Withdrawal:
        """The pending withdrawal `withdrawal_id`; WithdrawalNotFound (naming why) if none."""
        found = self._by_id.get(withdrawal_id) if type(withdrawal_id) is int else None
        if found is None:
            raise WithdrawalNotFound(f"no withdrawal {withdrawal_id!r}; nothing was changed")
        if found.state != PENDING:
            raise WithdrawalNotFound(
                f"withdrawal {withdrawal_id} is {found.state} already; nothing was changed"
            )
        return found

    def close(self, withdrawal: Withdrawal, state: str, reference: str | None) -> Withdrawal:
        closed = msgspec.structs.replace(withdrawal, state=state, reference=reference)
        self._by_id[withdrawal.withdrawal_id] = closed
        return closed

    def of(self, account: AccountId | None = None) -> list[Withdrawal]:
        """Every withdrawal (of `account`), oldest first."""
        return [w for w in self._by_id.values() if account in (None, w.account)]

    def locked_by(self) -> dict[tuple[AccountId, TokenId], int]:
        """What pending withdrawals lock, by (account, token)."""
        locked: dict[tuple[AccountId, TokenId], int] = {}
        for w in self._by_id.values():
            if w.state == PENDING:
                key = (w.account, w.token)
                locked[key] = locked.get(key, 0) + w.amount
        return locked

    def to_state(self) -> list[object]:
        return [self.next_id, [msgspec.structs.astuple(w) for w in self._by_id.values()]]

    @classmethod
    def from_state(cls, state: object) -> Withdrawals:
        """The inverse of `to_state` (msgspec's ValidationError if it is not its shape)."""
        next_id, rows = msgspec.convert(state, tuple[int, list[Withdrawal]])
        withdrawals = cls()
        withdrawals.next_id = next_id
        withdrawals._by_id = {w.withdrawal_id: w for w in rows}
        return withdrawals

    def __bool__(self) -> bool:
        return bool(self._by_id)
