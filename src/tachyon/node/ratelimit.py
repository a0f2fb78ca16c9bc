"""Rate limits: one token bucket per key, in a table of bounded size. The node keeps two: by
account address (each signed request, after its signature is checked) and by client network
address (each signed request, before its signature is checked: a forged signature costs a
check, and fresh keys cost nothing to mint).

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
    """Token buckets by address. Called on the event loop only (no lock needed)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        # address -> [tokens, when they were counted (ns)], least recently used first
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, address: object) -> bool:
        return address in self._buckets

    def take(self, address: str, now_ns: int) -> None:
        """Take one of `address`'s tokens at `now_ns`, or raise `RateLimited` (taking none)."""
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
        if bucket[0] < 1.0:
            wait_s = (1.0 - bucket[0]) / limit.rate_per_s
            retry_after_s = max(1, math.ceil(wait_s))
            raise RateLimited(
                f"{address} is over {limit.rate_per_s:g} requests/s (burst {limit.burst});"
                f" retry after {retry_after_s} s",
                retry_after_s=retry_after_s,
            )
        bucket[0] -= 1.0
