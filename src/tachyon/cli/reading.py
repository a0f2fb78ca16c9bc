"""How the CLI reads an exchange: one small interface, three ways to answer it.

`HostReader` recovers the whole exchange (snapshot + journal) and asks it; `ViewReader` (when
the storage's read model is current) answers from query tables without rebuilding anything,
which is what keeps a new process's `dex orderbook` or `dex balance` fast. `NodeReader` asks a
node over HTTP; an account's balances and orders are signed reads there, so it needs the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from tachyon.dex.model import MarketConfig, Side, Trade
from tachyon.errors import MarketNotFound

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tachyon.client.http import Client
    from tachyon.exchange.service import OwnedOrder
    from tachyon.storage.view import BalanceRow, ReadView


class TokenBalance(NamedTuple):
    token: str
    decimals: int
    available: int
    locked: int


class OrderRow(NamedTuple):
    order_id: int
    market: str
    side: Side
    price: int
    qty: int
    remaining_qty: int
    filled_qty: int


Levels = list[tuple[int, int]]


def _order_row(owned: OwnedOrder) -> OrderRow:
    order = owned.order
    return OrderRow(
        order.order_id,
        owned.market,
        order.side,
        order.price,
        order.qty,
        order.remaining_qty,
        order.filled_qty,
    )


class Reader(Protocol):
    def markets(self) -> list[MarketConfig]: ...
    def balances(self, account: str) -> list[TokenBalance]: ...
    def book(self, market: str, depth: int) -> tuple[Levels, Levels]: ...
    def trades(self, market: str, limit: int) -> list[Trade]: ...
    def open_orders(self, account: str) -> list[OrderRow]: ...
    def close(self) -> None: ...


def market_config(reader: Reader, market: str) -> MarketConfig:
    configs: dict[str, MarketConfig] = {config.market_id: config for config in reader.markets()}
    config = configs.get(market)
    if config is None:
        known = ", ".join(sorted(configs)) or "none"
        raise MarketNotFound(f"unknown market {market!r}; markets: {known}")
    return config


class HostReader:
    """Reads through a recovered `EmbeddedExchange` (always correct; slower to open)."""

    def __init__(self, data_dir: Path) -> None:
        from tachyon.storage.host import EmbeddedExchange  # noqa: PLC0415 (the slow path only)

        self.host = EmbeddedExchange.open(data_dir)

    def markets(self) -> list[MarketConfig]:
        return self.host.markets()

    def balances(self, account: str) -> list[TokenBalance]:
        from tachyon.dex.ids import AccountId  # noqa: PLC0415

        held = self.host.balances(AccountId(account))
        rows = []
        for meta in sorted(self.host.tokens(), key=lambda meta: meta.symbol):
            record = held.get(meta.symbol)
            available, locked = (0, 0) if record is None else (record.available, record.locked)
            rows.append(TokenBalance(meta.symbol, meta.decimals, available, locked))
        return rows

    def book(self, market: str, depth: int) -> tuple[Levels, Levels]:
        from tachyon.dex.ids import MarketId  # noqa: PLC0415

        levels = self.host.book(depth, MarketId(market))
        return list(levels.bids), list(levels.asks)

    def trades(self, market: str, limit: int) -> list[Trade]:
        from tachyon.dex.ids import MarketId  # noqa: PLC0415

        return self.host.recent_trades(limit, MarketId(market))

    def open_orders(self, account: str) -> list[OrderRow]:
        from tachyon.dex.ids import AccountId  # noqa: PLC0415

        return [_order_row(owned) for owned in self.host.open_orders(AccountId(account))]

    def close(self) -> None:
        self.host.close(snapshot=False)


class ViewReader:
    """Reads the storage's read model: no recovery, a few indexed queries."""

    def __init__(self, view: ReadView) -> None:
        self.view = view

    def markets(self) -> list[MarketConfig]:
        from tachyon.dex.ids import AccountId, TokenId  # noqa: PLC0415
        from tachyon.dex.model import FeeSchedule  # noqa: PLC0415

        return [
            MarketConfig(
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
            for row in self.view.markets()
        ]

    def balances(self, account: str) -> list[TokenBalance]:
        held = {row.token: row for row in self.view.balances(account)}
        return [
            TokenBalance(token.symbol, token.decimals, *_amounts(held.get(token.symbol)))
            for token in self.view.tokens()
        ]

    def book(self, market: str, depth: int) -> tuple[Levels, Levels]:
        return self.view.book(market, depth)

    def trades(self, market: str, limit: int) -> list[Trade]:
        from tachyon.dex.ids import AccountId, OrderId, TradeId  # noqa: PLC0415

        return [
            Trade(
                TradeId(row.trade_id),
                row.price,
                row.qty,
                OrderId(row.maker_order_id),
                OrderId(row.taker_order_id),
                AccountId(row.maker),
                AccountId(row.taker),
                Side(row.taker_side),
            )
            for row in self.view.trades(market, limit)
        ]

    def open_orders(self, account: str) -> list[OrderRow]:
        return [
            OrderRow(
                row.order_id,
                row.market,
                Side(row.side),
                row.price,
                row.qty,
                row.remaining,
                row.filled,
            )
            for row in self.view.open_orders(account)
        ]

    def close(self) -> None:
        self.view.close()


class NodeReader:
    """Reads a node's API; `key` (the wallet's, unlocked) signs the account reads."""

    def __init__(self, client: Client, key: Ed25519PrivateKey | None = None) -> None:
        self.client = client
        self.key = key

    def markets(self) -> list[MarketConfig]:
        return self.client.markets()

    def balances(self, account: str) -> list[TokenBalance]:
        held = self.client.account_balances(self._key_of(account))
        decimals = {meta.symbol: meta.decimals for meta in self.client.tokens()}
        return [
            TokenBalance(token, decimals.get(token, 0), record.available, record.locked)
            for token, record in held.items()
        ]

    def book(self, market: str, depth: int) -> tuple[Levels, Levels]:
        from tachyon.dex.ids import MarketId  # noqa: PLC0415

        levels = self.client.book(depth, MarketId(market))
        return list(levels.bids), list(levels.asks)

    def trades(self, market: str, limit: int) -> list[Trade]:
        from tachyon.dex.ids import MarketId  # noqa: PLC0415

        return self.client.recent_trades(limit, MarketId(market))

    def open_orders(self, account: str) -> list[OrderRow]:
        return [_order_row(owned) for owned in self.client.account_orders(self._key_of(account))]

    def close(self) -> None:
        self.client.close()

    def _key_of(self, account: str) -> Ed25519PrivateKey:
        from tachyon.exchange.auth import address_of  # noqa: PLC0415

        assert self.key is not None and address_of(self.key) == account, account
        return self.key


def _amounts(row: BalanceRow | None) -> tuple[int, int]:
    return (0, 0) if row is None else (row.available, row.locked)


def open_reader(data_dir: Path) -> Reader:
    """The fastest reader that is correct for `data_dir` now: the read model when it reflects
    the journal's head, else the recovered exchange."""
    from tachyon.storage.view import ReadView  # noqa: PLC0415

    view = ReadView.open(data_dir)
    return HostReader(data_dir) if view is None else ViewReader(view)
