"""What one engine call did, as immutable values: the call's report and its self-trade events.

A `Trade` (in `tachyon.dex.model`) is the engine's fill event. An engine call returns an
`EngineReport`'s fields; a settling caller (`DexService`) reads everything it needs from them
and never asks the engine afterwards what the call changed. The exchange's own events, built from these,
are in `tachyon.exchange.events`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import Side, Trade


class Reduced(msgspec.Struct, frozen=True, gc=False):
    """A resting order that self-trade prevention shrank (`remaining` > 0) or cancelled
    (`remaining` 0) without a trade. `after` trades of the same call came before it, which
    places it in the call's order of events."""

    order_id: OrderId
    owner: AccountId
    side: Side
    price: int
    remaining: int
    after: int


class EngineReport(NamedTuple):
    """What placing one order did: its id, its fills in order, what of it rests on the book
    (a GTC limit only), the resting orders self-trade prevention reduced, what self-trade
    decrement took off the order itself without a trade, and whether self-trade prevention
    stopped it (its unfilled rest was then cancelled for that reason, not for its time in
    force).

    The engines return these fields as a plain tuple (`EngineResult`): building a named tuple
    or a struct costs two to four times as much as a plain one, once per order on the hot
    path. `EngineReport(*result)` names them for a reader that wants names."""

    order_id: OrderId
    trades: list[Trade]
    resting_qty: int
    reductions: Sequence[Reduced]
    taker_cut: int
    stopped: bool


EngineResult = tuple[OrderId, list[Trade], int, Sequence[Reduced], int, bool]
"""`execute_limit` / `execute_market`'s result: an `EngineReport`'s fields, in its order (an
`EngineReport` is one too)."""
