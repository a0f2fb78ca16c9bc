"""What a durable batch means to the node's streams: the messages it publishes, and what the
streams' copy of each book needs to stay the book.

The `Publisher` runs on the sequencer's worker thread (which alone touches the host), right
after each commit, and reads what the batch changed, its events (`EmbeddedExchange.last_changes`,
with the read model on or off). It hands the event loop one `Batch` per durable batch: each
changed book level's JSON text and each trade's (always: the loop keeps every book from them,
see `tachyon.node.streams.MarketBook`), and the messages some client is subscribed to (`wants`),
each encoded once. It never builds a subscriber's snapshot: the loop does, from its copy of the
book. Only when the batch follows entries another process wrote (or a fee change, which may
cancel orders anywhere) does it copy every book whole, once for all subscribers. Update ids are
journal sequence numbers; `tachyon.node.streams` documents the messages and the resync procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, NamedTuple, final

import msgspec

from tachyon.client import shapes
from tachyon.dex.ids import MarketId
from tachyon.dex.model import MarketConfig, OrderStatus, Side, Trade
from tachyon.dex.records import TradeRecord
from tachyon.dex.units import to_decimal
from tachyon.errors import TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.events import (
    Event,
    Filled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    StopAccepted,
    StopCancelled,
    StopTriggered,
)
from tachyon.exchange.service import DexService
from tachyon.exchange.state_machine import Outcome
from tachyon.storage.changes import BatchChanges
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.port import trade_record
from tachyon.storage.view import ReadView
from tachyon.storage.view_writer import level_quantities

Channel = tuple[str, str]
"""("depth", market), ("trades", market) or ("account", address)."""
Message = tuple[Channel, int, str]
"""A message for a channel's subscribers: its channel, its (last) update id, its JSON text."""
Level = tuple[int, int, str]
"""A book level: its price and quantity (minor units; 0: gone) and its JSON text."""

DEPTH: Final = "depth"
TRADES: Final = "trades"
ACCOUNT: Final = "account"
WHOLE_BOOK: Final = 10**9
"""Levels per side of a snapshot of every level."""
TRADES_KEPT_MAX: Final = 1_000
"""Recent trades the streams keep per market (the most a subscription's snapshot asks for)."""

_encode = msgspec.json.Encoder().encode
_BID = Side.BID


def encode(message: dict[str, object]) -> str:
    return _encode(message).decode()


class BookChange(NamedTuple):
    """The levels of one market's book that a batch changed, as they are now."""

    bids: list[Level]
    asks: list[Level]


class BookCopy(NamedTuple):
    """One market's whole book (each side in any order) and its recent trades' JSON texts (in
    a trades snapshot's shape, oldest first)."""

    bids: list[Level]
    asks: list[Level]
    trades: list[str]


class Batch(NamedTuple):
    """What one durable batch tells the streams, in the order batches became durable:
    `copies`, if not None, replaces every book (and changes and trades are in it already)."""

    last_seq: int
    books: dict[str, BookChange]
    trades: dict[str, list[str]]
    copies: dict[str, BookCopy] | None
    messages: list[Message]


def level(config: MarketConfig, price: int, qty: int) -> Level:
    """A book level with its JSON text (the digits of a decimal need no escaping)."""
    price_text = to_decimal(price, config.quote_decimals)
    qty_text = to_decimal(qty, config.base_decimals)
    return price, qty, f'{{"price":"{price_text}","qty":"{qty_text}"}}'


def book_text(fields: dict[str, object], bids: Iterable[str], asks: Iterable[str]) -> str:
    """A depth message: `fields` (stream, type, ids, market), then the levels' texts."""
    head = encode(fields)[:-1]
    return f'{head},"bids":[{",".join(bids)}],"asks":[{",".join(asks)}]}}'


def trades_text(fields: dict[str, object], trades: Iterable[str]) -> str:
    """A trades message: `fields` (stream, type, market, last update id), then the trades."""
    return f'{encode(fields)[:-1]},"trades":[{",".join(trades)}]}}'


def copy_book(
    service: DexService, config: MarketConfig, recorded: dict[int, TradeRecord] | None = None
) -> BookCopy:
    """A market's whole book and recent trades, as the streams keep them (on the thread that
    owns the host); each trade with its time and fees where `recorded` (the read model's
    records of the market's latest trades, by id) has them."""
    market = MarketId(config.market_id)
    book = service.snapshot(WHOLE_BOOK, market)
    recent = service.recent_trades(TRADES_KEPT_MAX, market)
    known = recorded or {}
    records = [
        known.get(trade.trade_id) or TradeRecord(trade, None, None, None)
        for trade in reversed(recent)
    ]
    return BookCopy(
        [level(config, each.price, each.qty) for each in book.bids],
        [level(config, each.price, each.qty) for each in book.asks],
        [encode(shapes.trade_record_json(config, record)) for record in records],
    )


def recorded_trades(host: EmbeddedExchange) -> dict[str, dict[int, TradeRecord]]:
    """By market, the read model's records of its latest trades, by id (none if the read
    model is behind the journal: a host without it)."""
    view = ReadView.open(host.db_path.parent)
    if view is None:
        return {}
    with view:
        return {
            row.market: {
                each.trade_id: trade_record(each)
                for each in view.trades(row.market, TRADES_KEPT_MAX)
            }
            for row in view.markets()
        }


@final
class Publisher:
    """Builds what each durable batch tells the streams (the sequencer's commit observer)."""

    def __init__(
        self,
        host: EmbeddedExchange,
        wants: Callable[[Channel], bool],
        deliver: Callable[[Batch], None],
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

    def copies(self) -> Batch:
        """Every book whole, at the host's sequence number: what the streams start from (call
        it on the thread that owns the host, before the first commit)."""
        seq = self.host.seq
        service = self._service()
        recorded = recorded_trades(self.host)
        copies: dict[str, BookCopy] = {
            config.market_id: copy_book(service, config, recorded.get(config.market_id))
            for config in service.markets()
        }
        for market in copies:
            self._prev[market] = seq
        self.seen_seq = seq
        return Batch(seq, {}, {}, copies, [])

    def on_commit(
        self,
        _commands: Sequence[Admitted],
        _outcomes: Sequence[Outcome | TachyonError],
        _seconds: float,
    ) -> None:
        changes = self.host.last_changes
        if changes is None:  # nothing was accepted
            return
        anyone = self.anyone()
        messages: list[Message] = []
        copies = None
        books: dict[str, BookChange] = {}
        if changes.first_seq != self.seen_seq + 1 or not changes.levels_known:
            # Entries another process wrote (caught up before this batch), or a fee change
            # that may have cancelled orders anywhere: every book starts afresh.
            copies = self.copies().copies
        else:
            books = self._books(changes, messages, anyone)
        trades = self._trades(changes, messages, anyone)
        if anyone:
            self._accounts(changes, messages)
        self.seen_seq = changes.last_seq
        self.deliver(Batch(changes.last_seq, books, trades, copies, messages))

    def config(self, market: str) -> MarketConfig:
        """A market's units (cached: they never change)."""
        config = self._configs.get(market)
        if config is None:
            config = self._configs[market] = self._service().get_market(MarketId(market))
        return config

    def _service(self) -> DexService:
        return self.host.state.service  # right after the commit: no catch-up needed

    def _books(
        self, changes: BatchChanges, messages: list[Message], anyone: bool
    ) -> dict[str, BookChange]:
        """Each level the batch changed, by market, and one diff per market whose book changed
        for its subscribers: each changed level's quantity now."""
        service = self._service()
        books: dict[str, BookChange] = {}
        for market, (bids, asks) in changes.levels().items():
            prev = self._prev.get(market, self._started_seq)
            self._prev[market] = changes.last_seq
            config = self.config(market)
            bid_qty, ask_qty = level_quantities(service, market, bids, asks)
            change = books[market] = BookChange(  # a zero quantity: the level is gone
                [level(config, p, bid_qty(p)) for p in sorted(bids, reverse=True)],
                [level(config, p, ask_qty(p)) for p in sorted(asks)],
            )
            if not (anyone and self.wants((DEPTH, market))):
                continue
            fields: dict[str, object] = {
                "stream": DEPTH,
                "type": "diff",
                "first_update_id": changes.first_seq,
                "last_update_id": changes.last_seq,
                "prev_update_id": prev,
                "market": market,
            }
            text = book_text(fields, (t for *_, t in change.bids), (t for *_, t in change.asks))
            messages.append(((DEPTH, market), changes.last_seq, text))
        return books

    def _trades(
        self, changes: BatchChanges, messages: list[Message], anyone: bool
    ) -> dict[str, list[str]]:
        """Each trade's JSON text (a snapshot's shape: with its fees and time), by market, and
        per market one `trades` message for its subscribers (each trade with its update id)."""
        texts: dict[str, list[str]] = {}
        rows: dict[str, list[dict[str, object]]] = {}
        for seq, ts_ns, events in changes.entries:
            for event in events:
                if type(event) is not Filled:
                    continue
                record = TradeRecord(event.trade, ts_ns, event.maker_fee, event.taker_fee)
                row = shapes.trade_record_json(self.config(event.market), record)
                texts.setdefault(event.market, []).append(encode(row))
                if anyone and self.wants((TRADES, event.market)):
                    row["update_id"] = seq
                    rows.setdefault(event.market, []).append(row)
        for market, each in rows.items():
            message = {
                "stream": TRADES,
                "type": "trades",
                "market": market,
                "last_update_id": changes.last_seq,
                "trades": each,
            }
            messages.append(((TRADES, market), changes.last_seq, encode(message)))
        return texts

    def _accounts(self, changes: BatchChanges, messages: list[Message]) -> None:
        accounts = _AccountEvents(self)
        for seq, ts_ns, events in changes.entries:
            accounts.command(events, seq, ts_ns)
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

    def command(self, events: list[Event], seq: int, ts_ns: int) -> None:
        """One command's events (journaled at `ts_ns`): each order it placed (its own, and
        those of the stops its fills triggered) told its status after its fills; stops as
        they change."""
        taker: OrderAccepted | OrderAmended | None = None
        status, remaining = OrderStatus.FILLED, 0  # a taker with no last word filled
        for event in events:
            match event:
                case OrderAccepted() | OrderAmended():
                    if taker is not None:  # the order before it (a stop fired after it)
                        self._taker(taker, status, remaining, seq)
                    taker = event
                    status, remaining = OrderStatus.FILLED, 0
                case StopTriggered():  # what came before it is done with
                    if taker is not None:
                        self._taker(taker, status, remaining, seq)
                        taker = None
                    self.stop(event, seq, ts_ns)
                case StopAccepted() | StopCancelled():
                    self.stop(event, seq, ts_ns)
                case Filled():
                    self.filled(event, seq, ts_ns)
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
            self._taker(taker, status, remaining, seq)

    def _taker(
        self,
        taker: OrderAccepted | OrderAmended,
        status: OrderStatus,
        remaining: int,
        seq: int,
    ) -> None:
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

    def stop(
        self, event: StopAccepted | StopTriggered | StopCancelled, seq: int, ts_ns: int
    ) -> None:
        """A stop order's change at `ts_ns`: `pending` once accepted, `triggered` (with the id
        of the order it became, null if that was refused) or `cancelled` (with why)."""
        rows = self._rows(event.owner)
        if rows is None:
            return
        row: dict[str, object] = {
            "type": "stop",
            "update_id": seq,
            "order_id": event.order_id,
            "market": event.market,
            "time_ns": ts_ns,
        }
        match event:
            case StopAccepted():
                config = self._publisher.config(event.market)
                row["status"] = "pending"
                row["side"] = str(event.side)
                row["trigger_price"] = to_decimal(event.trigger_price, config.quote_decimals)
            case StopTriggered():
                row["status"] = "triggered"
                row["new_order_id"] = event.new_order_id
            case StopCancelled():
                row["status"] = "cancelled"
                row["reason"] = event.reason
        rows.append(row)

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

    def filled(self, event: Filled, seq: int, ts_ns: int) -> None:
        trade: Trade = event.trade
        market = event.market
        taker_side = trade.taker_side
        for account, order_id, side, role, fee in (
            (trade.taker_owner, trade.taker_order_id, taker_side, "taker", event.taker_fee),
            (
                trade.maker_owner,
                trade.maker_order_id,
                taker_side.opposite,
                "maker",
                event.maker_fee,
            ),
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
                    "fee": shapes.fee_json(config, fee),
                    "fee_token": config.fee_token,
                    "time_ns": ts_ns,
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
