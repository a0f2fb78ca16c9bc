"""EmbeddedPort: the exchange in a data directory as an `ExchangePort` (`tachyon.exchange.port`).

Reads come from the read model (`ReadView`, a few indexed queries, no recovery) while it
reflects the journal's head, else from the recovered host (`EmbeddedExchange`), which is then
kept for the port's later reads. What only the read model records (times, fees, history) is
read from it whenever it is current, the host open or not; the host's answers have no times
or fees (None), and no history. A command opens the host (recovering it) on first need. The
port never writes but through `submit`: a port that only read closes without a snapshot, and a
port made with `create=False` refuses to read a directory with no exchange (or an empty
database file) rather than create one there. A directory this process may not write (a
read-only mount) is read through read-only connections only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeVar, final

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId, TradeId
from tachyon.dex.model import (
    BookDepth,
    BookLevel,
    FeeSchedule,
    MarketConfig,
    OrderStatus,
    Side,
    Trade,
)
from tachyon.dex.open_order import OpenOrder
from tachyon.dex.records import (
    ClosedOrder,
    Fill,
    History,
    OrderRecord,
    Receipt,
    TradeRecord,
)
from tachyon.errors import StorageError
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.storage.db import DB_FILENAME, writable
from tachyon.storage.view import (
    ClosedOrderRow,
    FillRow,
    MarketRow,
    OrderRow,
    ReadView,
    TradeRow,
)

if TYPE_CHECKING:
    from tachyon.exchange.commands import SignedCommand
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.service import OwnedOrder, StopOrder
    from tachyon.exchange.state_machine import Outcome
    from tachyon.exchange.withdrawals import Withdrawal
    from tachyon.storage.host import EmbeddedExchange

T = TypeVar("T")


@final
class EmbeddedPort:
    """The exchange in `data_dir` (created on first use if there is none, unless `create` is
    False: then a read of a directory without one is a StorageError and changes nothing), or
    the one a host already holds open (`over`). Not thread-safe."""

    def __init__(
        self, data_dir: Path | str, *, create: bool = True, engine: str | None = None
    ) -> None:
        """`engine` names the engine of the exchange's markets if this port creates it (None:
        the default); an existing exchange keeps the engine it was created with."""
        self.data_dir = Path(data_dir).expanduser()
        self._engine = engine
        self._host: EmbeddedExchange | None = None
        self._owns_host = True
        self._wrote = False
        self._create = create
        self._receipt: Receipt | None = None

    @classmethod
    def over(cls, host: EmbeddedExchange) -> EmbeddedPort:
        """A port over a host its caller opened and closes (tests, the demo)."""
        port = cls(host.db_path.parent)
        port._host, port._owns_host = host, False
        return port

    # -- acting ----------------------------------------------------------------------------

    def submit(self, command: SignedCommand) -> Outcome:
        self._wrote = True  # the host snapshots what is new when it closes, as a writer does
        self._receipt = None
        host = self._opened()
        outcome = host.submit(command)
        from tachyon.storage.changes import receipts  # noqa: PLC0415 (the exchange's events)

        (self._receipt,) = receipts(host.last_changes, [outcome])
        return outcome

    def last_receipt(self) -> Receipt | None:
        return self._receipt

    # -- reading ---------------------------------------------------------------------------

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        return self._read(
            lambda view: {
                TokenId(row.token): BalanceRecord(row.available, row.locked, row.debt)
                for row in view.balances(account)
            },
            lambda host: host.balances(account),
        )

    def open_orders(self, account: AccountId) -> list[OpenOrder]:
        return self._read(
            lambda view: [_open_order_of_row(row) for row in view.open_orders(account)],
            lambda host: [open_order(owned) for owned in host.open_orders(account)],
        )

    def book(self, depth: int, market: MarketId) -> BookDepth:
        def from_view(view: ReadView) -> BookDepth:
            bids, asks = view.book(market, depth)
            return BookDepth([BookLevel(*level) for level in bids], [BookLevel(*a) for a in asks])

        return self._read(from_view, lambda host: host.book(depth, market))

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        return self._read(
            lambda view: [_trade(row) for row in view.trades(market, limit)],
            lambda host: host.recent_trades(limit, market),
        )

    def trade_records(self, limit: int, market: MarketId) -> list[TradeRecord]:
        return self._recorded(
            lambda view: [trade_record(row) for row in view.trades(market, limit)],
            lambda host: [
                TradeRecord(t, None, None, None) for t in host.recent_trades(limit, market)
            ],
        )

    def order_records(self, account: AccountId) -> list[OrderRecord]:
        return self._recorded(
            lambda view: [order_record(row) for row in view.open_orders(account)],
            lambda host: [OrderRecord(open_order(o), None) for o in host.open_orders(account)],
        )

    def history(self, account: AccountId, market: MarketId | None, limit: int) -> History:
        """From the read model only: StorageError if it is behind the journal (a writer without
        it wrote last); none on an exchange that has journaled nothing yet."""

        def from_host(host: EmbeddedExchange) -> History:
            if host.seq:
                raise StorageError(_BEHIND.format(data_dir=self.data_dir))
            if market is not None:
                host.refresh().service.get_market(market)  # MarketNotFound if unknown
            return History([], [])

        return self._recorded(
            lambda view: history_of(
                view.closed_orders(account, market, limit), view.fills(account, market, limit)
            ),
            from_host,
        )

    def markets(self) -> list[MarketConfig]:
        return self._read(
            lambda view: [_market(row) for row in view.markets()], lambda host: host.markets()
        )

    def stops(self, account: AccountId) -> list[StopOrder]:
        """From the recovered state (the read model does not hold them)."""
        if self._host is None and not self._create:
            require_exchange(self.data_dir)  # a read never creates an exchange
        return self._opened(reading=True).refresh().service.stops(account)

    def withdrawals(self, account: AccountId) -> list[Withdrawal]:
        """From the recovered state (the read model does not hold them)."""
        if self._host is None and not self._create:
            require_exchange(self.data_dir)  # a read never creates an exchange
        return self._opened(reading=True).refresh().service.withdrawals(account)

    def market_rules(self) -> dict[MarketId, MarketRules]:
        """From the recovered state (the read model does not hold them)."""
        if self._host is None and not self._create:
            require_exchange(self.data_dir)  # a read never creates an exchange
        return self._opened(reading=True).refresh().market_rules()

    def tokens(self) -> list[TokenMeta]:
        return self._read(
            lambda view: [TokenMeta(TokenId(row.symbol), row.decimals) for row in view.tokens()],
            lambda host: sorted(host.tokens(), key=lambda meta: meta.symbol),
        )

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        host, self._host = self._host, None
        if host is not None and self._owns_host:
            host.close(snapshot=self._wrote)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _opened(self, *, reading: bool = False) -> EmbeddedExchange:
        """The host, opened on first need: for reading only if this process may not write
        in the directory (a read-only one), else as a writer (which creates it if need be)."""
        if self._host is None:
            from tachyon.storage.host import EmbeddedExchange  # noqa: PLC0415 (slow: only if used)

            if reading and self.data_dir.is_dir() and not writable(self.data_dir):
                self._host = EmbeddedExchange.open_read_only(self.data_dir)
            elif self._engine is None:
                self._host = EmbeddedExchange.open(self.data_dir)
            else:
                self._host = EmbeddedExchange.open(self.data_dir, engine=self._engine)
        return self._host

    def _read(
        self, from_view: Callable[[ReadView], T], from_host: Callable[[EmbeddedExchange], T]
    ) -> T:
        """From a fresh view (one read transaction: the exchange now) unless the host is open
        already or the view is behind the journal."""
        if self._host is None:
            if not self._create:
                require_exchange(self.data_dir)
            view = ReadView.open(self.data_dir)
            if view is not None:
                with view:
                    return from_view(view)
        return from_host(self._opened(reading=True))

    def _recorded(
        self, from_view: Callable[[ReadView], T], from_host: Callable[[EmbeddedExchange], T]
    ) -> T:
        """From a fresh view if it is current (once an older schema is upgraded: opening the
        host does that), else from the host."""
        if self._host is None and not self._create:
            require_exchange(self.data_dir)
        view = ReadView.open(self.data_dir)
        if view is None:
            host = self._opened(reading=True)
            view = ReadView.open(self.data_dir)
            if view is None:
                return from_host(host)
        with view:
            return from_view(view)


_BEHIND = (
    "the read model of {data_dir} is behind the journal (a writer without it wrote last), and"
    " only it records history: the next command written with it, or `tachyon audit --repair`,"
    " brings it up to date"
)


def require_exchange(data_dir: Path) -> None:
    """StorageError unless `data_dir` holds an exchange database to read: none at all, or an
    empty file, is no exchange (entering WAL mode writes the database's first page, so an
    exchange's file is never empty). Opens nothing."""
    db_path = data_dir / DB_FILENAME
    if not db_path.is_file():
        raise StorageError(f"no exchange at {data_dir}")
    if db_path.stat().st_size == 0:
        raise StorageError(
            f"{db_path} is not an exchange database (it is empty); it was left as it is"
        )


def _market(row: MarketRow) -> MarketConfig:
    return MarketConfig(
        TokenId(row.base),
        TokenId(row.quote),
        row.tick_size,
        row.lot_size,
        row.min_qty,
        row.base_decimals,
        row.quote_decimals,
        FeeSchedule(
            row.maker_bps,
            row.taker_bps,
            None if row.fee_token == row.quote else TokenId(row.fee_token),
            AccountId(row.fee_account),
        ),
    )


def _trade(row: TradeRow) -> Trade:
    return Trade(
        TradeId(row.trade_id),
        row.price,
        row.qty,
        OrderId(row.maker_order_id),
        OrderId(row.taker_order_id),
        AccountId(row.maker),
        AccountId(row.taker),
        Side(row.taker_side),
    )


def trade_record(row: TradeRow) -> TradeRecord:
    """A `view_trades` row as the port gives it."""
    return TradeRecord(_trade(row), row.ts_ns, row.maker_fee, row.taker_fee)


def order_record(row: OrderRow) -> OrderRecord:
    """A `view_orders` row as the port gives it."""
    return OrderRecord(_open_order_of_row(row), row.ts_ns)


def history_of(orders: list[ClosedOrderRow], fills: list[FillRow]) -> History:
    """An account's history as the port gives it, from the view's rows."""
    return History(
        [
            ClosedOrder(
                OrderId(row.order_id),
                MarketId(row.market),
                Side(row.side),
                row.price,
                row.qty,
                row.filled,
                OrderStatus(row.status),
                row.reason,
                row.ts_ns,
                row.closed_ts_ns,
            )
            for row in orders
        ],
        [
            Fill(
                TradeId(row.trade_id),
                MarketId(row.market),
                OrderId(row.order_id),
                Side(row.side),
                row.role,
                row.price,
                row.qty,
                row.fee,
                row.ts_ns,
            )
            for row in fills
        ],
    )


def _open_order_of_row(row: OrderRow) -> OpenOrder:
    return OpenOrder(
        OrderId(row.order_id),
        MarketId(row.market),
        Side(row.side),
        row.price,
        row.qty,
        row.remaining,
        row.filled,
    )


def open_order(owned: OwnedOrder) -> OpenOrder:
    """The core's record of an open order as the port shows it (the node's answers too)."""
    order = owned.order
    return OpenOrder(
        order.order_id,
        owned.market,
        order.side,
        order.price,
        order.qty,
        order.remaining_qty,
        order.filled_qty,
    )
