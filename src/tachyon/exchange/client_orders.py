"""Client order ids: an account's own names for its orders, so a lost answer can be retried.

Pure. An order placed with a `client_order_id` is remembered with its answer; another order of
the same account with the same id (a fresh nonce: a re-signed retry) gets that answer back and
changes nothing. An id is unique per account among its last `WINDOW_ORDERS` orders placed with
one, or those of the last `WINDOW_NS`, whichever is shorter: both measured by the sequencer's
clock (the command time), so replay remembers and forgets exactly what was remembered and
forgotten. Only an accepted order takes its id: a refused one can be retried under the same id
once its cause is fixed. Cancel and amend find an order by the id it was placed with.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Final

import msgspec

from tachyon.dex.ids import AccountId, OrderId
from tachyon.errors import InvalidOrder

WINDOW_ORDERS: Final = 10_000
WINDOW_NS: Final = 24 * 3600 * 10**9
CLIENT_ORDER_ID: Final = re.compile(r"[A-Za-z0-9._:/-]{1,36}")
"""What a client order id may be: 1 to 36 of letters, digits and `._:/-` (Binance's set)."""


class Remembered(msgspec.Struct, frozen=True, array_like=True):
    """An order placed with a client order id: when, its id, and the answer it got (encoded,
    as `msgspec.to_builtins` gives it, with the answer's kind)."""

    ts_ns: int
    order_id: int
    kind: str
    answer: object


def check_client_order_id(client_order_id: object) -> str:
    """`client_order_id` if it is a valid one; InvalidOrder naming the rule if not."""
    if type(client_order_id) is not str or not CLIENT_ORDER_ID.fullmatch(client_order_id):
        raise InvalidOrder(
            f"client order id {client_order_id!r} must be 1 to 36 characters of letters,"
            " digits and ._:/-"
        )
    return client_order_id


class ClientOrders:
    """Each account's recent client order ids, oldest first."""

    __slots__ = ("_by_account",)

    def __init__(self) -> None:
        self._by_account: dict[AccountId, OrderedDict[str, Remembered]] = {}

    def recall(self, account: AccountId, client_order_id: str, now_ns: int) -> Remembered | None:
        """What `account` placed with `client_order_id` within the window, if anything."""
        recent = self._recent(account, now_ns)
        return None if recent is None else recent.get(client_order_id)

    def remember(
        self,
        account: AccountId,
        client_order_id: str,
        now_ns: int,
        order_id: OrderId,
        answer: tuple[str, object],
    ) -> None:
        """Record an accepted order's id and answer `(kind, builtins)` under its client id."""
        recent = self._recent(account, now_ns)
        if recent is None:
            recent = self._by_account[account] = OrderedDict()
        kind, value = answer
        recent[client_order_id] = Remembered(now_ns, order_id, kind, value)
        while len(recent) > WINDOW_ORDERS:
            recent.popitem(last=False)

    def order_id(self, account: AccountId, client_order_id: str, now_ns: int) -> OrderId:
        """The order `account` placed with `client_order_id`; OrderNotFound-like InvalidOrder
        if none within the window."""
        remembered = self.recall(account, check_client_order_id(client_order_id), now_ns)
        if remembered is None:
            raise InvalidOrder(
                f"{account} placed no order with client order id {client_order_id!r} among its"
                f" last {WINDOW_ORDERS:,} such orders or the last 24 hours"
            )
        return OrderId(remembered.order_id)

    def _recent(self, account: AccountId, now_ns: int) -> OrderedDict[str, Remembered] | None:
        """The account's ids, forgetting those older than the window first."""
        recent = self._by_account.get(account)
        if recent is None:
            return None
        horizon = now_ns - WINDOW_NS
        while recent and next(iter(recent.values())).ts_ns <= horizon:
            recent.popitem(last=False)
        if not recent:
            del self._by_account[account]
            return None
        return recent

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> list[object]:
        """Every remembered id, by account then oldest first (deterministic)."""
        return [
            [account, [[cid, *msgspec.structs.astuple(r)] for cid, r in recent.items()]]
            for account, recent in sorted(self._by_account.items())
        ]

    @classmethod
    def from_state(cls, state: object) -> ClientOrders:
        """The inverse of `to_state` (msgspec's ValidationError, a ValueError, if it is not
        shaped like its output)."""
        orders = cls()
        rows = msgspec.convert(state, list[tuple[str, list[tuple[str, int, int, str, object]]]])
        for account, remembered in rows:
            orders._by_account[AccountId(account)] = OrderedDict(
                (cid, Remembered(ts_ns, order_id, kind, answer))
                for cid, ts_ns, order_id, kind, answer in remembered
            )
        return orders

    def __bool__(self) -> bool:
        return bool(self._by_account)
