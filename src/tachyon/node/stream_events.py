"""What a durable batch means to the node's streams: the messages it publishes.

The `Publisher` runs on the sequencer's worker thread (which alone touches the host), right
after each commit, and reads what the batch changed, its events (`EmbeddedExchange.last_changes`,
with the read model on or off). It
builds only what some client is subscribed to (`wants`), encodes each message once and hands
the batch's messages to `deliver` (the event loop's `StreamHub`). Update ids are journal
sequence numbers; `tachyon.node.streams` documents the messages and the resync procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, final

import msgspec

from tachyon.client import shapes
from tachyon.dex.ids import MarketId
from tachyon.dex.model import MarketConfig, OrderStatus, Side, Trade
from tachyon.dex.units import to_decimal
from tachyon.errors import TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.events import (
    Event,
    Filled,
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderRested,
)
from tachyon.exchange.service import DexService
from tachyon.exchange.state_machine import Outcome
from tachyon.storage.changes import BatchChanges
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.view_writer import level_quantities

Channel = tuple[str, str]
"""("depth", market), ("trades", market) or ("account", address)."""
Message = tuple[Channel, int, str]
"""A message for a channel's subscribers: its channel, its (last) update id, its JSON text."""

DEPTH: Final = "depth"
TRADES: Final = "trades"
ACCOUNT: Final = "account"
WHOLE_BOOK: Final = 10**9
"""Levels per side of a snapshot that asked for no depth: every level."""

_encode = msgspec.json.Encoder().encode
_BID = Side.BID


def encode(message: dict[str, object]) -> str:
    return _encode(message).decode()


def depth_snapshot(host: EmbeddedExchange, market: str, depth: int) -> tuple[int, str]:
    """(update id, message) of a market's book now (on the worker thread)."""
    service = host.refresh().service
    book = service.snapshot(depth, MarketId(market))
    update_id = host.seq
    message = {
        "stream": DEPTH,
        "type": "snapshot",
        "last_update_id": update_id,
        **shapes.book_json(service.get_market(MarketId(market)), book.bids, book.asks),
    }
    return update_id, encode(message)


def trades_snapshot(host: EmbeddedExchange, market: str, limit: int) -> tuple[int, str]:
    """(update id, message) of a market's recent trades, oldest first (on the worker thread)."""
    service = host.refresh().service
    config = service.get_market(MarketId(market))
    recent = service.recent_trades(limit, MarketId(market))
    update_id = host.seq
    message = {
        "stream": TRADES,
        "type": "snapshot",
        "market": market,
        "last_update_id": update_id,
        "trades": [shapes.trade_json(config, trade) for trade in reversed(recent)],
    }
    return update_id, encode(message)


@final
class Publisher:
    """Builds the streams' messages of each durable batch (the sequencer's commit observer)."""

    def __init__(
        self,
        host: EmbeddedExchange,
        wants: Callable[[Channel], bool],
        deliver: Callable[[list[Message]], None],
        anyone: Callable[[], bool] = lambda: True,
    ) -> None:
        self.host = host
        self.wants = wants
        self.deliver = deliver
        self.anyone = anyone  # whether any client follows any channel
        self.seen_seq = host.seq  # the last entry the streams have told of
        self._started_seq = host.seq  # no book changed after it without a diff
        self._prev: dict[str, int] = {}  # each market's last depth update id
        self._configs: dict[str, MarketConfig] = {}  # a market's units never change

    def on_commit(
        self,
        _commands: Sequence[Admitted],
        _outcomes: Sequence[Outcome | TachyonError],
        _seconds: float,
    ) -> None:
        changes = self.host.last_changes
        if changes is None:  # nothing was accepted
            return
        levels = changes.levels()
        if not self.anyone():  # the books' update ids still advance, for later subscribers
            for market in levels:
                self._prev[market] = changes.last_seq
            self.seen_seq = changes.last_seq
            return
        messages: list[Message] = []
        if changes.first_seq != self.seen_seq + 1 or not changes.levels_known:
            # Entries another process wrote (caught up before this batch), or a fee change
            # that may have cancelled orders anywhere: every subscribed book starts afresh.
            self._resnapshot(messages)
        else:
            self._diffs(changes, levels, messages)
        self._trades(changes, messages)
        self._accounts(changes, messages)
        self.seen_seq = changes.last_seq
        if messages:
            self.deliver(messages)

    def config(self, market: str) -> MarketConfig:
        """A market's units (cached: they never change)."""
        config = self._configs.get(market)
        if config is None:
            config = self._configs[market] = self._service().get_market(MarketId(market))
        return config

    def _service(self) -> DexService:
        return self.host.state.service  # right after the commit: no catch-up needed

    def _resnapshot(self, messages: list[Message]) -> None:
        seq = self.host.seq
        for config in self._service().markets():
            market = config.market_id
            self._prev[market] = seq
            channel = (DEPTH, market)
            if self.wants(channel):
                update_id, text = depth_snapshot(self.host, market, WHOLE_BOOK)
                messages.append((channel, update_id, text))

    def _diffs(
        self,
        changes: BatchChanges,
        levels: dict[str, tuple[set[int], set[int]]],
        messages: list[Message],
    ) -> None:
        """One diff per market whose book the batch changed: each changed level's quantity now."""
        service = self._service()
        for market, (bids, asks) in levels.items():
            prev = self._prev.get(market, self._started_seq)
            self._prev[market] = changes.last_seq
            channel = (DEPTH, market)
            if not self.wants(channel):
                continue
            bid_qty, ask_qty = level_quantities(service, market, bids, asks)
            message = {
                "stream": DEPTH,
                "type": "diff",
                "first_update_id": changes.first_seq,
                "last_update_id": changes.last_seq,
                "prev_update_id": prev,
                **shapes.book_json(  # a zero quantity: the level is gone
                    self.config(market),
                    [(p, bid_qty(p)) for p in sorted(bids, reverse=True)],
                    [(p, ask_qty(p)) for p in sorted(asks)],
                ),
            }
            messages.append((channel, changes.last_seq, encode(message)))

    def _trades(self, changes: BatchChanges, messages: list[Message]) -> None:
        by_market: dict[str, list[dict[str, object]]] = {}
        for seq, ts_ns, events in changes.entries:
            for event in events:
                if type(event) is not Filled or not self.wants((TRADES, event.market)):
                    continue
                row = shapes.trade_json(self.config(event.market), event.trade)
                row["update_id"] = seq
                row["time_ns"] = ts_ns
                by_market.setdefault(event.market, []).append(row)
        for market, rows in by_market.items():
            message = {
                "stream": TRADES,
                "type": "trades",
                "market": market,
                "last_update_id": changes.last_seq,
                "trades": rows,
            }
            messages.append(((TRADES, market), changes.last_seq, encode(message)))

    def _accounts(self, changes: BatchChanges, messages: list[Message]) -> None:
        accounts = _AccountEvents(self)
        for seq, _, events in changes.entries:
            accounts.command(events, seq)
        accounts.settle_makers(changes.last_seq)
        for address, rows in accounts.by_account.items():
            message = {
                "stream": ACCOUNT,
                "type": "events",
                "address": address,
                "last_update_id": changes.last_seq,
                "events": rows,
            }
            messages.append(((ACCOUNT, address), changes.last_seq, encode(message)))


_Maker = tuple[str, str, Side, int, OrderStatus, int]
"""A resting order a batch touched: owner, market, side, price, status and remaining after."""


@final
class _AccountEvents:
    """The order and fill events of one batch, by subscribed account, in sequence order: each
    command's own order is told its status as the command left it; the resting orders a batch
    touched are told theirs once, as the batch left them."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._wants = publisher.wants
        self.by_account: dict[str, list[dict[str, object]]] = {}
        self._makers: dict[int, _Maker] = {}

    def _rows(self, account: str) -> list[dict[str, object]] | None:
        if not self._wants((ACCOUNT, account)):
            return None
        return self.by_account.setdefault(account, [])

    def command(self, events: list[Event], seq: int) -> None:
        """One command's events: its own order's status last, after its fills."""
        taker: OrderAccepted | None = None
        status, remaining = OrderStatus.FILLED, 0  # a taker with no last word filled
        for event in events:
            match event:
                case OrderAccepted():
                    taker = event
                case Filled():
                    self.filled(event, seq)
                case OrderRested():
                    status = OrderStatus.PARTIALLY_FILLED if event.filled_qty else OrderStatus.NEW
                    remaining = event.open_qty
                case OrderReduced():
                    status = OrderStatus.PARTIALLY_FILLED if event.filled_qty else OrderStatus.NEW
                    self._maker(event.owner, event.market, event, status, event.remaining)
                case OrderCancelled() if taker is not None and event.order_id == taker.order_id:
                    status = OrderStatus.CANCELLED
                case OrderCancelled():  # a resting order: cancelled now, told now
                    self._makers.pop(event.order_id, None)
                    self.order(
                        event.owner,
                        event.market,
                        event.order_id,
                        event.side,
                        event.price,
                        OrderStatus.CANCELLED,
                        0,
                        seq,
                    )
        if taker is not None:
            self.order(
                taker.owner,
                taker.market,
                taker.order_id,
                taker.side,
                taker.price,
                status,
                remaining,
                seq,
            )

    def order(
        self,
        account: str,
        market: str,
        order_id: int,
        side: Side,
        price: int | None,
        status: OrderStatus,
        remaining: int,
        seq: int,
    ) -> None:
        rows = self._rows(account)
        if rows is None:
            return
        config = self._publisher.config(market)
        rows.append(
            {
                "type": "order",
                "update_id": seq,
                "order_id": order_id,
                "market": market,
                "side": str(side),
                "price": None if price is None else to_decimal(price, config.quote_decimals),
                "status": str(status),
                "remaining_qty": to_decimal(remaining, config.base_decimals),
            }
        )

    def filled(self, event: Filled, seq: int) -> None:
        trade: Trade = event.trade
        market = event.market
        taker_side = trade.taker_side
        for account, order_id, side, role in (
            (trade.taker_owner, trade.taker_order_id, taker_side, "taker"),
            (trade.maker_owner, trade.maker_order_id, taker_side.opposite, "maker"),
        ):
            rows = self._rows(account)
            if rows is None:
                continue
            config = self._publisher.config(market)
            rows.append(
                {
                    "type": "fill",
                    "update_id": seq,
                    "order_id": order_id,
                    "trade_id": trade.trade_id,
                    "market": market,
                    "side": str(side),
                    "role": role,
                    "price": to_decimal(trade.price, config.quote_decimals),
                    "qty": to_decimal(trade.qty, config.base_decimals),
                }
            )
        remaining = event.maker_remaining
        status = OrderStatus.PARTIALLY_FILLED if remaining else OrderStatus.FILLED
        if self._wants((ACCOUNT, trade.maker_owner)):
            self._makers[trade.maker_order_id] = (
                trade.maker_owner,
                market,
                taker_side.opposite,
                trade.price,
                status,
                remaining,
            )

    def _maker(
        self, owner: str, market: str, event: OrderReduced, status: OrderStatus, remaining: int
    ) -> None:
        if self._wants((ACCOUNT, owner)):
            self._makers[event.order_id] = (
                owner,
                market,
                event.side,
                event.price,
                status,
                remaining,
            )

    def settle_makers(self, last_seq: int) -> None:
        """Each touched resting order's status as the batch left it."""
        for order_id, (owner, market, side, price, status, remaining) in self._makers.items():
            self.order(owner, market, order_id, side, price, status, remaining, last_seq)
