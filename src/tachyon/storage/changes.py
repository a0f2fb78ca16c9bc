"""What one committed batch changed, as its commands' events, for the observers of a commit:
the read model's writer and the node's streams, metrics and answers.

Built from the events alone (`tachyon.exchange.events`), with the read model on or off: the
events say which orders, book levels and balances changed; an observer that needs a level's
or a balance's value now reads it from the state right after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tachyon.dex.model import Side
from tachyon.dex.records import Receipt
from tachyon.errors import TachyonError
from tachyon.exchange.events import (
    CommandRefused,
    Event,
    FeesChanged,
    Filled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRecalled,
    OrderReduced,
    OrderRested,
)

Entry = tuple[int, int, list[Event]]
"""A journaled command's sequence number, time and events."""


class BatchChanges(NamedTuple):
    """The events of one committed batch's journaled commands, in order; `first_seq` and
    `last_seq` are the batch's sequence numbers (a command refused without a change has no
    entry)."""

    first_seq: int
    last_seq: int
    entries: list[Entry]

    @property
    def levels_known(self) -> bool:
        """False after a fee change, which may cancel orders anywhere (and re-lock the rest)."""
        return not any(
            type(event) is FeesChanged for _, _, events in self.entries for event in events
        )

    def levels(self) -> dict[str, tuple[set[int], set[int]]]:
        """By market, the prices of the bid and ask levels the batch changed."""
        touched: dict[str, tuple[set[int], set[int]]] = {}
        for _, _, events in self.entries:
            for market, is_bid, price in book_changes(events):
                sides = touched.get(market)
                if sides is None:
                    sides = touched[market] = (set(), set())
                sides[0 if is_bid else 1].add(price)
        return touched


def book_changes(events: list[Event]) -> list[tuple[str, bool, int]]:
    """(market, whether a bid level, price) of each book level a command's events changed: an
    order rested, a maker filled, reduced or cancelled, an order amended. The unfilled rest of the command's own
    order was never on the book."""
    changed: list[tuple[str, bool, int]] = []
    taker = None
    for event in events:
        match event:
            case Filled(market=market, trade=trade):
                changed.append((market, trade.taker_side is Side.ASK, trade.price))
            case OrderRested() | OrderReduced():
                changed.append((event.market, event.side is Side.BID, event.price))
            case OrderAccepted():
                taker = event.order_id
            case OrderAmended():  # it left its old level; where it went, its rest says
                taker = event.order_id
                changed.append((event.market, event.side is Side.BID, event.old_price))
            case OrderCancelled() if event.order_id != taker:
                assert event.price is not None, "a resting order has a price"
                changed.append((event.market, event.side is Side.BID, event.price))
    return changed


def receipts(changes: BatchChanges | None, outcomes: Sequence[object]) -> list[Receipt | None]:
    """The receipt of each command of a committed batch, by its outcome (`submit_batch`'s
    results, in order): the journal time of its entry and the fees of the trades it made; None
    for a command that was refused. Every accepted command has an entry, in order; a refused
    one has none, or one whose only event is `CommandRefused` (its nonce used), skipped."""
    entries = iter(() if changes is None else changes.entries)
    found: list[Receipt | None] = []
    for outcome in outcomes:
        if isinstance(outcome, TachyonError):
            found.append(None)
            continue
        _, ts_ns, events = next(entries)
        while len(events) == 1 and type(events[0]) is CommandRefused:
            _, ts_ns, events = next(entries)
        if events and type(recall := events[0]) is OrderRecalled:  # a retry: the original's
            found.append(Receipt(recall.time_ns, recall.fees))
            continue
        fees = [(event.maker_fee, event.taker_fee) for event in events if type(event) is Filled]
        found.append(Receipt(ts_ns, fees))
    return found
