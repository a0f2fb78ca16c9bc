"""The account stream for ccxt pro's `watch_orders` and `watch_my_trades`: `AccountWatch`
reads the signer's subscribed stream (`tachyon.client.account_stream`) on its own task and
keeps what no caller has taken yet, each order event and each fill (the newest 1,000 of each),
so that each call answers what the stream told since the previous one. Like the stream under
it, it does not resubscribe: a closed stream is raised to the callers, and the next call
subscribes afresh (what happened in between is read with `fetch_open_orders` and
`fetch_my_trades`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final, TypeVar, final

from tachyon import errors
from tachyon.client.account_stream import AccountEvents
from tachyon.client.data import FillEvent, OrderEvent

KEPT_MAX: Final = 1_000
"""Events of each kind kept for the callers; older ones are dropped first."""
E = TypeVar("E", OrderEvent, FillEvent)


@final
class AccountWatch:
    """One subscription of the signer's account stream, read on its own task."""

    def __init__(self, events: AccountEvents) -> None:
        self.orders: list[OrderEvent] = []
        self.fills: list[FillEvent] = []
        self.error: BaseException | None = None
        self._events = events
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._events:
                if isinstance(event, OrderEvent):
                    self.orders = [*self.orders, event][-KEPT_MAX:]
                elif isinstance(event, FillEvent):
                    self.fills = [*self.fills, event][-KEPT_MAX:]
                else:
                    continue  # a stop's events: ccxt pro has no watch for them
                self._changed.set()
            raise errors.StorageError("the account stream ended")
        except Exception as exc:  # handed to the callers waiting, raised there
            self.error = exc
            self._changed.set()

    async def next_orders(self, market: str | None) -> list[OrderEvent]:
        """The order events told since the last call (of `market`; None: every market),
        oldest first, waiting for one when there are none."""
        taken = await self._until(lambda: _of(self.orders, market))
        self.orders = _not_of(self.orders, market)
        return taken

    async def next_fills(self, market: str | None) -> list[FillEvent]:
        """The fills told since the last call (of `market`; None: every market), oldest
        first, waiting for one when there are none."""
        taken = await self._until(lambda: _of(self.fills, market))
        self.fills = _not_of(self.fills, market)
        return taken

    async def _until(self, pick: Callable[[], list[E]]) -> list[E]:
        while not (picked := pick()):
            if self.error is not None:
                raise self.error
            self._changed.clear()
            await self._changed.wait()
        return picked

    async def close(self) -> None:
        """End the subscription; a call still waiting is raised a StorageError."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._events.aclose()
        if self.error is None:
            self.error = errors.StorageError("the account watch was closed")
        self._changed.set()


def _of(events: list[E], market: str | None) -> list[E]:
    return [event for event in events if market is None or event.market == market]


def _not_of(events: list[E], market: str | None) -> list[E]:
    return [event for event in events if market is not None and event.market != market]
