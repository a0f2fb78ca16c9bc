"""Rate limits: one token bucket per key, in a table of bounded size. The node keeps three: by
account address (each signed request, after its signature is checked), by client network
address (each signed request, before its signature is checked: a forged signature costs a
check, and fresh keys cost nothing to mint), and by client network address for failed
signature checks (each failure takes a token, `drain`; while the bucket is empty the
address's signed requests are refused unchecked, `check`).

Each signed request (a command, an account read) takes one token from its address's bucket;
a bucket holds at most `burst` tokens and refills at `rate_per_s`, by the node's injected
clock (so tests step time by hand). An empty bucket refuses the request with `RateLimited`,
which says in whole seconds (rounded up) when the next token is due; the refused request takes
nothing. The table holds at most `accounts_max` buckets, evicting the least recently used: an
evicted address starts again with a full bucket, which is what it would have after idling.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, final

from tachyon.node.errors import RateLimited

RATE_PER_S_DEFAULT: Final = 50.0
BURST_DEFAULT: Final = 100
ACCOUNTS_MAX_DEFAULT: Final = 100_000
BAD_SIGNATURE_RATE_PER_S_DEFAULT: Final = 10.0
BAD_SIGNATURE_BURST_DEFAULT: Final = 100
"""A client address's failed signature checks: a wallet's signature does not fail, so a
stranger forging signatures (or sending garbage as them) is held to ten checks a second."""
CLIENT_RATE_PER_S_DEFAULT: Final = 500.0
CLIENT_BURST_DEFAULT: Final = 1_000
"""A client address's bucket, charged before any signature is checked: several accounts may
trade from one address, so it is ten times an account's, while a stranger minting keys or
forging signatures from one address is held to it."""
_NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True)
class RateLimit:
    """The limit's settings: `rate_per_s` tokens a second, at most `burst` in a bucket, at most
    `accounts_max` buckets kept."""

    rate_per_s: float = RATE_PER_S_DEFAULT
    burst: int = BURST_DEFAULT
    accounts_max: int = ACCOUNTS_MAX_DEFAULT

    def __post_init__(self) -> None:
        assert self.rate_per_s > 0, self.rate_per_s
        assert self.burst >= 1, self.burst
        assert self.accounts_max >= 1, self.accounts_max


@final
class RateLimiter:
    """Token buckets by address. Called on the event loop only (no lock needed). `what` names
    what a token is spent on, in refusals' messages."""

    def __init__(self, limit: RateLimit, what: str = "requests") -> None:
        self.limit = limit
        self.what = what
        # address -> [tokens, when they were counted (ns)], least recently used first
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, address: object) -> bool:
        return address in self._buckets

    def take(self, address: str, now_ns: int) -> None:
        """Take one of `address`'s tokens at `now_ns`, or raise `RateLimited` (taking none)."""
        bucket = self._bucket(address, now_ns)
        self._refuse_if_empty(address, bucket)
        bucket[0] -= 1.0

    def check(self, address: str, now_ns: int) -> None:
        """Raise `RateLimited` if `address` has no token at `now_ns`; take none."""
        self._refuse_if_empty(address, self._bucket(address, now_ns))

    def drain(self, address: str, now_ns: int, tokens: int = 1) -> None:
        """Take up to `tokens` of `address`'s tokens at `now_ns`, never raising (an empty
        bucket stays empty)."""
        bucket = self._bucket(address, now_ns)
        bucket[0] = max(0.0, bucket[0] - tokens)

    def _bucket(self, address: str, now_ns: int) -> list[float]:
        """`address`'s bucket, refilled up to `now_ns` (a new one is full)."""
        limit = self.limit
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = [float(limit.burst), now_ns]
            self._buckets[address] = bucket
            if len(self._buckets) > limit.accounts_max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
            elapsed_s = max(0.0, now_ns - bucket[1]) / _NS_PER_S  # a clock stepped back: none
            bucket[0] = min(float(limit.burst), bucket[0] + elapsed_s * limit.rate_per_s)
            bucket[1] = max(bucket[1], now_ns)
        return bucket

    def _refuse_if_empty(self, address: str, bucket: list[float]) -> None:
        if bucket[0] >= 1.0:
            return
        limit = self.limit
        wait_s = (1.0 - bucket[0]) / limit.rate_per_s
        retry_after_s = max(1, math.ceil(wait_s))
        raise RateLimited(
            f"{address} is over {limit.rate_per_s:g} {self.what}/s (burst {limit.burst});"
            f" retry after {retry_after_s} s",
            retry_after_s=retry_after_s,
        )
