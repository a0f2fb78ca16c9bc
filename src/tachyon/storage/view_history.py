"""The read model's history: what the events of journaled commands say about trades and orders
that the exchange's state forgets, as rows of the view tables (`db.VIEW_SCHEMA`).

`HistoryRecorder` reads entries (a command's sequence number, journal time and events) in
order and gives each trade's `view_trades` row with its fees, each closed order's
`view_closed_orders` row, and the placement time of each order it saw placed. The view's writer
runs one per batch (`tachyon.storage.view_writer`), looking up the orders that were open before
the batch in `view_orders`; the audit runs one over the whole journal from its first entry
(`tachyon.storage.view_audit`), which sees every order placed and so needs no lookup.

A closed order's row needs what the order was when placed (its quantity and time), which its
closing events do not say: an order the recorder did not see placed and cannot look up (the
view was behind the journal before the batch, because a writer without the read model wrote
in between) closes without a row. `tachyon audit --repair` rebuilds the whole history from the
journal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tachyon.dex.model import Side, Trade
from tachyon.exchange.events import (
    Event,
    Filled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    StopTriggered,
)
from tachyon.storage.db import int_to_sql

SqlRow = tuple[int | str | None, ...]
"""A view table row as SQLite is given it."""


class Known:
    """An open order as history needs it: `side` 'bid' or 'ask', `price` None for a market
    order, `qty` as placed (None: a market bid by budget), `filled` so far, `ts_ns` when it was
    placed (None: not known); `filled` grows as it fills."""

    __slots__ = ("filled", "market", "owner", "price", "qty", "side", "ts_ns")

    def __init__(
        self,
        owner: str,
        market: str,
        side: str,
        price: int | None,
        qty: int | None,
        filled: int,
        ts_ns: int | None,
    ) -> None:
        self.owner = owner
        self.market = market
        self.side = side
        self.price = price
        self.qty = qty
        self.filled = filled
        self.ts_ns = ts_ns


Lookup = Callable[[str, int], Known | None]
"""(owner, order id) -> the open order as it was before the entries, or None if not known."""

FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
_BID: Final = Side.BID


def trade_row(
    market: str,
    trade: Trade,
    seq: int | None,
    ts_ns: int | None,
    fees: tuple[int, int] | None = None,
) -> SqlRow:
    """A `view_trades` row: the trade, the sequence number and time of its command, and the
    maker's and the taker's fee (None: not known)."""
    return (
        market,
        trade.trade_id,
        int_to_sql(trade.price),
        int_to_sql(trade.qty),
        trade.maker_order_id,
        trade.taker_order_id,
        trade.maker_owner,
        trade.taker_owner,
        trade.taker_side.value,
        seq,
        ts_ns,
        None if fees is None else int_to_sql(fees[0]),
        None if fees is None else int_to_sql(fees[1]),
    )


def _no_lookup(_owner: str, _order_id: int) -> Known | None:
    return None


class HistoryRecorder:
    """Rows of history from entries, in journal order: `trades` and `closed` collect rows (the
    caller may take and clear them after each entry); `open_times` gives the placement time of
    every order seen placed that is still open."""

    __slots__ = ("_lookup", "_orders", "closed", "trades")

    def __init__(self, lookup: Lookup = _no_lookup) -> None:
        self._lookup = lookup
        self._orders: dict[int, Known] = {}  # the open orders the entries touched, by id
        self.trades: list[SqlRow] = []
        self.closed: list[SqlRow] = []

    def entry(self, seq: int, ts_ns: int, events: list[Event]) -> None:
        """One journaled command's events: its trades, and the orders it closed (its own order
        last: filled unless it rested or was cancelled)."""
        taker: int | None = None
        for event in events:
            kind = type(event)  # `type() is` before `match`: this runs for every event
            if kind is OrderAccepted:
                assert isinstance(event, OrderAccepted)
                if taker is not None:  # the order before it (a stop fired after it) filled
                    self._close_filled(taker, seq, ts_ns)
                taker = event.order_id
                side = "bid" if event.side is _BID else "ask"
                self._orders[taker] = Known(
                    event.owner, event.market, side, event.price, event.qty, 0, ts_ns
                )
            elif kind is OrderRested:
                taker = None  # it rests: open, not closed
            elif kind is Filled:
                assert isinstance(event, Filled)
                self._filled(event, seq, ts_ns)
            elif kind is OrderCancelled:
                assert isinstance(event, OrderCancelled)
                self._cancelled(event, seq, ts_ns)
                if event.order_id == taker:
                    taker = None
            elif kind is OrderReduced:
                assert isinstance(event, OrderReduced)
                known = self._order(event.owner, event.order_id)
                if known is not None:
                    known.filled = event.filled_qty
            elif kind is OrderAmended:  # the order's new price and total; it may take now
                assert isinstance(event, OrderAmended)
                if taker is not None:
                    self._close_filled(taker, seq, ts_ns)
                taker = self._amended(event)
            elif kind is StopTriggered and taker is not None:  # the order before it filled
                self._close_filled(taker, seq, ts_ns)
                taker = None
        if taker is not None:  # neither rested nor cancelled: filled completely
            self._close_filled(taker, seq, ts_ns)

    def _close_filled(self, order_id: int, seq: int, ts_ns: int) -> None:
        known = self._orders.pop(order_id)
        self.closed.append(_closed_row(order_id, known, known.filled, FILLED, None, seq, ts_ns))

    def _amended(self, event: OrderAmended) -> int | None:
        """Note an amended order's new price and total; its id if known (it is then the
        command's own order, which may fill now)."""
        known = self._order(event.owner, event.order_id)
        if known is None:
            return None
        known.price, known.qty = event.price, event.qty
        return event.order_id

    def open_times(self) -> dict[int, int]:
        """The placement time of each order seen placed (or looked up) that is still open."""
        return {
            order_id: known.ts_ns
            for order_id, known in self._orders.items()
            if known.ts_ns is not None
        }

    def _filled(self, event: Filled, seq: int, ts_ns: int) -> None:
        trade = event.trade
        self.trades.append(
            trade_row(event.market, trade, seq, ts_ns, (event.maker_fee, event.taker_fee))
        )
        taker = self._orders.get(trade.taker_order_id)
        if taker is not None:
            taker.filled += trade.qty
        maker_id = trade.maker_order_id
        maker = self._order(trade.maker_owner, maker_id)
        if maker is None:
            return
        maker.filled += trade.qty
        if event.maker_remaining == 0:
            del self._orders[maker_id]
            self.closed.append(_closed_row(maker_id, maker, maker.filled, FILLED, None, seq, ts_ns))

    def _cancelled(self, event: OrderCancelled, seq: int, ts_ns: int) -> None:
        known = self._order(event.owner, event.order_id)
        if known is None:
            return
        del self._orders[event.order_id]
        reason = event.reason.value
        self.closed.append(
            _closed_row(event.order_id, known, event.filled_qty, CANCELLED, reason, seq, ts_ns)
        )

    def _order(self, owner: str, order_id: int) -> Known | None:
        known = self._orders.get(order_id)
        if known is None:
            known = self._lookup(owner, order_id)
            if known is not None:
                self._orders[order_id] = known
        return known


def _closed_row(
    order_id: int,
    known: Known,
    filled: int,
    status: str,
    reason: str | None,
    seq: int,
    ts_ns: int,
) -> SqlRow:
    """A `view_closed_orders` row."""
    price, qty = known.price, known.qty
    return (
        known.owner,
        seq,
        order_id,
        known.market,
        known.side,
        None if price is None else int_to_sql(price),
        None if qty is None else int_to_sql(qty),
        int_to_sql(filled),
        status,
        reason,
        known.ts_ns,
        ts_ns,
    )
