"""What a durable batch means to the node's streams: the messages it publishes.

The `Publisher` runs on the sequencer's worker thread (which alone touches the host), right
after each commit, and reads what the batch changed (`EmbeddedExchange.last_changes`). It
builds only what some client is subscribed to (`wants`), encodes each message once and hands
the batch's messages to `deliver` (the event loop's `StreamHub`). Update ids are journal
sequence numbers; `tachyon.node.streams` documents the messages and the resync procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, final

import msgspec

from tachyon.dex import shapes
from tachyon.dex.ids import MarketId, OrderId
from tachyon.dex.model import MarketConfig, OrderStatus, Side, Trade
from tachyon.dex.units import to_decimal
from tachyon.errors import TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import PlaceLimit, PlaceMarket
from tachyon.exchange.service import DexService
from tachyon.exchange.state_machine import Outcome
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.view_writer import BatchChanges, level_quantities

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
        assert host.read_model, "the streams read what a batch changed from the read model"
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
        if not self.anyone():  # the books' update ids still advance, for later subscribers
            for market, (bids, asks) in changes.levels.items():
                if bids or asks:
                    self._prev[market] = changes.last_seq
            self.seen_seq = changes.last_seq
            return
        messages: list[Message] = []
        if changes.first_seq != self.seen_seq + 1 or not changes.levels_known:
            # Entries another process wrote (caught up before this batch), or a fee change
            # that may have cancelled orders anywhere: every subscribed book starts afresh.
            self._resnapshot(messages)
        else:
            self._diffs(changes, messages)
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

    def _diffs(self, changes: BatchChanges, messages: list[Message]) -> None:
        """One diff per market whose book the batch changed: each changed level's quantity now."""
        service = self._service()
        for market, (bids, asks) in changes.levels.items():
            if not (bids or asks):  # the market's traders changed, not its book
                continue
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
        for command, placement, seq, ts_ns in changes.placed:
            if not placement.trades or not self.wants((TRADES, command.market)):
                continue
            config = self.config(command.market)
            rows = by_market.setdefault(command.market, [])
            for trade in placement.trades:
                row = shapes.trade_json(config, trade)
                row["update_id"] = seq
                row["time_ns"] = ts_ns
                rows.append(row)
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
        events = _AccountEvents(self)
        for command, placement, seq, _ in changes.placed:
            events.placed(command, placement.order_id, placement.status, placement.open_qty, seq)
            for trade in placement.trades:
                events.filled(command.market, trade, seq)
        for owned, seq in changes.cancelled:
            order = owned.order
            events.order(
                order.owner,
                owned.market,
                order.order_id,
                order.side,
                order.price,
                OrderStatus.CANCELLED,
                0,
                seq,
            )
        for market, owner, order_id, is_bid, price, seq in changes.self_trade:
            side = _BID if is_bid else Side.ASK
            events.maker(owner, market, order_id, side, price, seq, stp=True)
        events.settle_makers(changes.last_seq)
        for address, rows in events.by_account.items():
            message = {
                "stream": ACCOUNT,
                "type": "events",
                "address": address,
                "last_update_id": changes.last_seq,
                "events": rows,
            }
            messages.append(((ACCOUNT, address), changes.last_seq, encode(message)))


@final
class _AccountEvents:
    """The order and fill events of one batch, by subscribed account, in sequence order; the
    makers a batch touched are told their status once, as the batch left them."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._wants = publisher.wants
        self.by_account: dict[str, list[dict[str, object]]] = {}
        # Makers to tell the status of: order id -> (owner, market, side, price, sequence number
        # of the last command that touched it, whether that was self-trade prevention); orders
        # a cancel in the batch closed are told by the cancel.
        self._makers: dict[OrderId, tuple[str, str, Side, int, int, bool]] = {}
        self._cancelled: set[OrderId] = set()

    def _rows(self, account: str) -> list[dict[str, object]] | None:
        if not self._wants((ACCOUNT, account)):
            return None
        return self.by_account.setdefault(account, [])

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
        if status is OrderStatus.CANCELLED:
            self._cancelled.add(OrderId(order_id))
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

    def placed(
        self,
        command: PlaceLimit | PlaceMarket,
        order_id: int,
        status: OrderStatus,
        open_qty: int,
        seq: int,
    ) -> None:
        price = command.price if isinstance(command, PlaceLimit) else None  # a market order: none
        self.order(
            command.account, command.market, order_id, command.side, price, status, open_qty, seq
        )

    def filled(self, market: str, trade: Trade, seq: int) -> None:
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
        self.maker(
            trade.maker_owner,
            market,
            trade.maker_order_id,
            taker_side.opposite,
            trade.price,
            seq,
            stp=False,
        )

    def maker(
        self,
        owner: str,
        market: str,
        order_id: OrderId,
        side: Side,
        price: int,
        seq: int,
        *,
        stp: bool,
    ) -> None:
        if not self._wants((ACCOUNT, owner)):
            return
        known = self._makers.get(order_id)
        if known is None or known[4] <= seq:  # what touched it last closed it, if it is gone
            self._makers[order_id] = (owner, market, side, price, seq, stp)

    def settle_makers(self, last_seq: int) -> None:
        """Each touched maker's status as the batch left it."""
        get_order = self._publisher._service().get_order
        for order_id, (owner, market, side, price, _, stp) in self._makers.items():
            owned = get_order(order_id)
            if owned is not None:
                order = owned.order
                status = OrderStatus.PARTIALLY_FILLED if order.filled_qty else OrderStatus.NEW
                remaining = order.remaining_qty
            elif order_id in self._cancelled:
                continue  # its cancel told it
            else:
                status = OrderStatus.CANCELLED if stp else OrderStatus.FILLED
                remaining = 0
            self.order(owner, market, order_id, side, price, status, remaining, last_seq)
