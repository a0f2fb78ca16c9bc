"""The node's reads, each as one coroutine over a `Node`: what the REST routes and the gRPC
service both answer (the same JSON objects), so the two protocols cannot drift apart.

Each takes its arguments checked already (by the protocol: a market name's length, a depth's
range) and the account a signed read proved; the market and token lookups raise the same
`TachyonError`s on both protocols.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from tachyon.client import shapes
from tachyon.dex.ids import AccountId, MarketId, TokenId
from tachyon.dex.model import MarketConfig
from tachyon.dex.records import History, OrderRecord, TradeRecord
from tachyon.errors import StorageError
from tachyon.exchange.service import OwnedOrder, StopOrder
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.node import schemas
from tachyon.node.admin import markets_json, tokens_json
from tachyon.node.execution import Node
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.port import history_of, order_record, trade_record
from tachyon.storage.view import ReadView

T = TypeVar("T")


async def markets(node: Node) -> dict[str, object]:
    return {"markets": await node.running().read(lambda host: markets_json(host.state))}


async def tokens(node: Node) -> dict[str, object]:
    return await node.running().read(lambda host: tokens_json(host.state))


async def orderbook(node: Node, market: str, depth: int) -> dict[str, object]:
    config = await node.market(market)
    levels = await node.running().read(lambda host: host.book(depth, MarketId(market)))
    return schemas.book_json(config, levels)


async def trades(node: Node, market: str, limit: int) -> dict[str, object]:
    config = await node.market(market)
    records = await recorded(
        node, lambda view: [trade_record(r) for r in view.trades(market, limit)]
    )
    if records is None:  # the read model is behind: the engine's trades, no times or fees
        recent = await node.running().read(lambda host: host.recent_trades(limit, MarketId(market)))
        records = [TradeRecord(trade, None, None, None) for trade in recent]
    return {
        "market": market,
        "trades": [shapes.trade_record_json(config, record) for record in records],
    }


async def balances(node: Node, account: AccountId) -> dict[str, object]:
    metas, held = await node.running().read(lambda host: _balances(host, account))
    rows = [
        schemas.balance_json(meta, held.get(meta.symbol, BalanceRecord()))
        for meta in sorted(metas, key=lambda meta: meta.symbol)
    ]
    return {"address": account, "balances": rows}


async def open_orders(node: Node, account: AccountId) -> dict[str, object]:
    records = await recorded(
        node, lambda view: [order_record(row) for row in view.open_orders(account)]
    )
    if records is None:  # the read model is behind: the state's, no times
        configs, owned = await node.running().read(lambda host: _orders(host, account))
        return {"orders": [schemas.order_json(configs[each.market], each) for each in owned]}
    return {"orders": await _orders_json(node, records)}


async def history(
    node: Node, account: AccountId, market: str | None, limit: int
) -> dict[str, object]:
    """503 `storage_error` if the read model, which alone records history, is behind the
    journal (a node run with `read_model=False`)."""
    if market is not None:
        await node.market(market)  # 404 if unknown

    def read(view: ReadView) -> History:
        return history_of(
            view.closed_orders(account, market, limit), view.fills(account, market, limit)
        )

    past = await recorded(node, read)
    if past is None and not await node.running().read(lambda host: host.refresh().seq):
        past = History([], [])  # nothing journaled yet: the view is written by the first
    if past is None:
        raise StorageError(
            "the node's read model is behind its journal (the node runs without it, or"
            " another writer without it wrote last): it alone records history"
        )
    names = {each.market for each in past.orders} | {each.market for each in past.fills}
    configs = {name: await node.market(name) for name in sorted(names)}
    return shapes.history_json(configs, past)


async def stops(node: Node, account: AccountId) -> dict[str, object]:
    configs, pending = await node.running().read(lambda host: _stops(host, account))
    return {"stops": [shapes.stop_json(configs[each.market], each) for each in pending]}


async def withdrawals(node: Node, account: AccountId) -> dict[str, object]:
    decimals, listed = await node.running().read(lambda host: _withdrawals(host, account))
    return {"withdrawals": [shapes.withdrawal_json(decimals[each.token], each) for each in listed]}


async def recorded(node: Node, read: Callable[[ReadView], T]) -> T | None:
    """`read` of the exchange's read model, on a worker thread (SQLite reads beside the
    sequencer's commits: the view is written in each commit's transaction, so it holds every
    command answered); None if it is behind the journal (the node runs with `read_model=False`,
    or another writer without it wrote last)."""
    directory = node.data_dir
    assert directory is not None, "set by create_app"

    def run() -> T | None:
        view = ReadView.open(directory)
        if view is None:
            return None
        with view:
            return read(view)

    return await asyncio.to_thread(run)


async def _orders_json(node: Node, records: list[OrderRecord]) -> list[dict[str, object]]:
    return [
        shapes.order_json(await node.market(each.order.market), each.order, each.time_ns)
        for each in records
    ]


def _withdrawals(
    host: EmbeddedExchange, account: AccountId
) -> tuple[dict[TokenId, int], list[Withdrawal]]:
    service = host.refresh().service
    decimals = {meta.symbol: meta.decimals for meta in service.tokens()}
    return decimals, service.withdrawals(account)


def _stops(
    host: EmbeddedExchange, account: AccountId
) -> tuple[dict[str, MarketConfig], list[StopOrder]]:
    service = host.refresh().service
    return {config.market_id: config for config in service.markets()}, service.stops(account)


def _balances(
    host: EmbeddedExchange, account: AccountId
) -> tuple[list[TokenMeta], dict[TokenId, BalanceRecord]]:
    service = host.refresh().service
    return service.tokens(), service.balances(account)


def _orders(
    host: EmbeddedExchange, account: AccountId
) -> tuple[dict[str, MarketConfig], list[OwnedOrder]]:
    service = host.refresh().service
    return {config.market_id: config for config in service.markets()}, service.open_orders(account)
