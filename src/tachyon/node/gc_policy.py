"""Keep the cyclic garbage collector from walking the exchange's long-lived state.

A full collection walks every object the collector tracks. With 100,000 resting orders that
is about 320,000 objects and 120 to 160 ms (`python -m bench.bench_engine` prints it), during
which the node answers nobody; Python starts one on its own whenever a quarter as many
objects again have become long-lived. The exchange's state does not need the collector while
it is in use: an order's objects are freed by reference counting when it leaves the book (the
engine unlinks its level and queue as it goes). So the node moves what is alive into the
collector's permanent generation (`gc.freeze`): once the exchange is open, and again every
`every` commands, each time after a collection of what is not frozen yet, so that no garbage
is frozen with it. The collections left then walk only the objects since the last freeze: a
few milliseconds at `FREEZE_EVERY`.

A whole state that is dropped does need the collector (its books hold cycles): when the host
replaces its state (it reloads from disk after a failed commit), everything is unfrozen and
collected once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Final

FREEZE_EVERY: Final = 5_000
"""Commands between two freezes of what is alive."""


class StateFreezer:
    """Freezes what is alive when the exchange is open, then after every `every` commands.
    `state` gives the host's current state object; `on_commit` runs on the sequencer's thread."""

    def __init__(self, state: Callable[[], object], every: int = FREEZE_EVERY) -> None:
        assert every > 0
        self.every = every
        self._state = state
        # The id, not the object: holding the state would keep a replaced one alive. A frozen
        # state holds cycles, so its id cannot be reused while it is frozen.
        self._frozen_id: int | None = None
        self._since = 0  # commands committed since the last freeze

    def freeze(self) -> None:
        """Collect what is not frozen yet, then freeze what survived."""
        state_id = id(self._state())
        if self._frozen_id is not None and state_id != self._frozen_id:
            gc.unfreeze()  # the frozen state was replaced: let the collector free it
        gc.collect()
        gc.freeze()
        self._frozen_id = state_id

    def on_commit(self, commands: int) -> None:
        """Count a durable batch of `commands`; freeze once `every` have been committed, or
        at once if the host's state has been replaced."""
        self._since += commands
        if self._since >= self.every or id(self._state()) != self._frozen_id:
            self._since = 0
            self.freeze()
