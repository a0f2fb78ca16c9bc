"""Signed reads are good once: a captured `X-Tachyon-*` read cannot be replayed in its window.

A signed read proves the key of the address it reads by a signature over its method, path and
timestamp; the gateway accepts the timestamp within the node's receive window. Without memory,
whoever captured such a request could send it again, as often as they liked, for the whole
window. `SeenReads` remembers each accepted read's signature until its timestamp leaves the
window (after which the window refuses it anyway), so a second use is refused. Memory is
bounded: per address (more reads inside one window are refused as a rate limit) and in all.
"""

from __future__ import annotations

import heapq
from typing import Final, final

from tachyon.errors import Unauthorized
from tachyon.node.errors import RateLimited

READS_PER_ADDRESS_MAX: Final = 4_096
"""Signed reads one address may make inside one receive window."""
READS_MAX: Final = 1_000_000
"""Signed reads remembered in all (about 100 MB at the most)."""
_NS_PER_MS: Final = 1_000_000


class ReplayedRead(Unauthorized):
    """A signed read whose signature was used already: nothing is answered."""

    code = "replayed_request"


@final
class SeenReads:
    """The signatures of the signed reads accepted inside the receive window, by address."""

    def __init__(
        self,
        window_ms: int,
        per_address_max: int = READS_PER_ADDRESS_MAX,
        total_max: int = READS_MAX,
    ) -> None:
        self._window_ns = window_ms * _NS_PER_MS
        self._per_address_max = per_address_max
        self._total_max = total_max
        self._seen: dict[str, set[str]] = {}
        self._expiry: list[tuple[int, str, str]] = []  # (forgotten at, address, signature)

    def use(self, address: str, timestamp_ns: int, signature: str, now_ns: int) -> None:
        """Record a read whose signature and window the gateway accepted; ReplayedRead if its
        signature was used already, RateLimited past the bounds."""
        self._forget(now_ns)
        seen = self._seen.get(address)
        if seen is not None and signature in seen:
            raise ReplayedRead(
                f"this signed read of {address} was answered already; sign each read afresh"
            )
        if seen is None:
            seen = self._seen[address] = set()
        if len(seen) >= self._per_address_max or len(self._expiry) >= self._total_max:
            raise RateLimited(
                f"too many signed reads inside the receive window ({len(seen)} by {address})"
            )
        seen.add(signature)
        heapq.heappush(self._expiry, (timestamp_ns + self._window_ns, address, signature))

    def _forget(self, now_ns: int) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] < now_ns:
            _, address, signature = heapq.heappop(expiry)
            seen = self._seen[address]
            seen.discard(signature)
            if not seen:
                del self._seen[address]

    def __len__(self) -> int:
        return len(self._expiry)
