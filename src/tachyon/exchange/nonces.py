"""Replay defence: the nonces each account used recently, and the receive window they live in.

Pure: no I/O, no clock. A nonce (a wallet's clock in ns) is accepted once per account, and only
within the receive window of the command's sequencer time `ts_ns` (|nonce - ts_ns| <= window).
Time never runs backwards in the journal, so a nonce older than `ts_ns - window` can never be
accepted again: it is dropped from the account's set and remembered only as the account's
floor (every nonce at or below the floor is stale). The floor keeps the rule safe when the
window widens later, and when an account's set is full (`NONCES_PER_ACCOUNT_MAX`) its oldest
nonce is evicted to the floor the same way. Concurrent processes of one wallet therefore
succeed, whatever order their commands reach the sequencer in, while a replay never applies.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from itertools import pairwise
from typing import Final, final

from tachyon.dex.ids import AccountId
from tachyon.errors import InvalidInput, OutsideReceiveWindow, StaleNonce

RECEIVE_WINDOW_MS_DEFAULT: Final = 60_000
"""A fresh exchange's receive window: a wallet's clock may be a minute off the sequencer's."""
RECEIVE_WINDOW_MS_MAX: Final = 3_600_000
"""The widest window `SetReceiveWindow` may set: an hour."""
NONCES_PER_ACCOUNT_MAX: Final = 4_096
"""Recent nonces kept per account: more commands inside one window than this evict the oldest
to the account's floor, so a burst's earliest commands still in flight may be refused as
stale; nothing is ever accepted twice."""

_NS_PER_MS: Final = 1_000_000
NOTHING_CHANGED: Final = "nothing was changed"


def check_window(value_ns: int, now_ns: int, window_ms: int, what: str, judge: str) -> None:
    """OutsideReceiveWindow unless `value_ns` (`what`: "the command's nonce") lies within
    `window_ms` of `now_ns`, the time of `judge` ("the server's clock")."""
    window_ns = window_ms * _NS_PER_MS
    if value_ns - now_ns > window_ns or now_ns - value_ns > window_ns:
        raise outside_window(f"{what} {value_ns}", value_ns, now_ns, window_ms, judge)


def outside_window(
    subject: str, value_ns: int, now_ns: int, window_ms: int, judge: str
) -> OutsideReceiveWindow:
    """The refusal of `subject` (a nonce, a timestamp) for lying outside the window."""
    skew_ms = abs(value_ns - now_ns) // _NS_PER_MS
    return OutsideReceiveWindow(
        f"{subject} is {skew_ms} ms from {judge} {now_ns}; the receive window is {window_ms} ms;"
        f" {NOTHING_CHANGED}"
    )


def check_window_ms(window_ms: int) -> None:
    """InvalidInput unless `window_ms` is a window the exchange can apply."""
    if type(window_ms) is not int or not 1 <= window_ms <= RECEIVE_WINDOW_MS_MAX:
        raise InvalidInput(
            f"a receive window is 1 to {RECEIVE_WINDOW_MS_MAX} ms, not {window_ms!r};"
            f" {NOTHING_CHANGED}"
        )


@final
class _Used:
    """One account's nonces: `recent` ascending, every one above `floor`."""

    __slots__ = ("floor", "recent")

    def __init__(self, floor: int = 0, recent: list[int] | None = None) -> None:
        self.floor = floor
        self.recent: list[int] = [] if recent is None else recent


@final
class Nonces:
    """Every account's recent nonces and floor, under the exchange's receive window."""

    __slots__ = ("_used", "window_ms")

    def __init__(self, window_ms: int = RECEIVE_WINDOW_MS_DEFAULT) -> None:
        self.window_ms = window_ms
        self._used: dict[AccountId, _Used] = {}

    def check(self, account: AccountId, nonce: int, ts_ns: int) -> None:
        """Raise (changing nothing) unless `account` may use `nonce` at `ts_ns`: inside the
        window (OutsideReceiveWindow), above its floor and not used (StaleNonce)."""
        window_ns = self.window_ms * _NS_PER_MS
        if nonce - ts_ns > window_ns or ts_ns - nonce > window_ns:  # no message built per check
            subject = f"nonce {nonce} of {account}"
            raise outside_window(subject, nonce, ts_ns, self.window_ms, "the command's time")
        used = self._used.get(account)
        if used is None:
            return
        if nonce <= used.floor:
            raise StaleNonce(
                f"nonce {nonce} of {account} is at or below its floor {used.floor} (nonces"
                f" older than the receive window, or evicted past {NONCES_PER_ACCOUNT_MAX});"
                f" {NOTHING_CHANGED}"
            )
        recent = used.recent
        index = bisect_left(recent, nonce)
        if index < len(recent) and recent[index] == nonce:
            raise StaleNonce(f"nonce {nonce} of {account} was used already; {NOTHING_CHANGED}")

    def use(self, account: AccountId, nonce: int, ts_ns: int) -> None:
        """Record `nonce` (which `check` passed at `ts_ns`), dropping the account's nonces that
        fell out of the window and, past the bound, its oldest, into its floor."""
        used = self._used.get(account)
        if used is None:
            self._used[account] = _Used(0, [nonce])
            return
        recent = used.recent
        oldest_ns = ts_ns - self.window_ms * _NS_PER_MS
        if recent and recent[0] < oldest_ns:
            gone = bisect_left(recent, oldest_ns)
            used.floor = max(used.floor, recent[gone - 1])
            del recent[:gone]
        if not recent or nonce > recent[-1]:  # the usual case: the wallet's clock moved on
            recent.append(nonce)
        else:
            insort(recent, nonce)
        if len(recent) > NONCES_PER_ACCOUNT_MAX:
            used.floor = max(used.floor, recent.pop(0))

    def last(self, account: AccountId) -> int:
        """The highest nonce `account` used (its floor, if none is recent); 0 if none."""
        used = self._used.get(account)
        if used is None:
            return 0
        return used.recent[-1] if used.recent else used.floor

    def to_state(self) -> list[list[object]]:
        """[[account, floor, [recent nonces, ascending]], ...], by account."""
        return [
            [account, used.floor, list(used.recent)] for account, used in sorted(self._used.items())
        ]

    @classmethod
    def from_state(cls, window_ms: int, rows: object) -> Nonces:
        """Rebuild from `to_state` rows; a row `[account, last_nonce]` (snapshot format 2,
        when a nonce had to rise above the last one) becomes that floor, which is the old rule.
        ValueError or AssertionError if the rows do not hold together."""
        if not isinstance(rows, list):
            raise ValueError(f"nonces must be a list, not {type(rows).__name__}")
        nonces = cls(window_ms)
        for row in rows:
            match row:
                case [str() as account, int() as floor]:
                    recent: list[object] = []
                case [str() as account, int() as floor, list() as recent]:
                    pass
                case _:
                    raise ValueError(f"nonce row {row!r} is not [account, floor, [nonces]]")
            ints = [nonce for nonce in recent if type(nonce) is int]
            if len(ints) != len(recent):
                raise ValueError(f"the nonces of {account} are not all integers")
            nonces._used[AccountId(account)] = _Used(floor, ints)
        nonces.check_invariants()
        return nonces

    def check_invariants(self) -> None:
        check_window_ms(self.window_ms)
        for account, used in self._used.items():
            recent = used.recent
            assert used.floor >= 0, f"{account}: floor {used.floor} is negative"
            assert used.floor or recent, f"{account}: no nonce recorded"
            assert len(recent) <= NONCES_PER_ACCOUNT_MAX, f"{account}: {len(recent)} nonces"
            assert all(a < b for a, b in pairwise(recent)), account
            assert not recent or recent[0] > used.floor, f"{account}: a nonce at its floor"
