"""`AsyncClient`: `Client` for asyncio: the same methods, awaited, over httpx's async client;
the account stream (`account_events`: the signer's order, fill and stop events, typed) and
the node's market stream (`/v1/ws/market`) as async iterators: `book_updates` (the followed
book after each change, gaps resubscribed) and `trade_updates` (each batch's trades). ccxt
pro's `watch_order_book` and `watch_trades` sit on top (`tachyon.client.watch`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Final, final

import httpx2
import msgspec

from tachyon import errors
from tachyon.client import account_stream, calls, ccxt, ccxt_orders
from tachyon.client.account_stream import AccountEvents
from tachyon.client.account_watch import AccountWatch
from tachyon.client.calls import Amount, Call, OrderOptions
from tachyon.client.data import (
    Balance,
    Book,
    History,
    Market,
    Order,
    Placement,
    Stop,
    Token,
    Trade,
    Withdrawal,
    parse,
    plain,
)
from tachyon.client.decode import market_from_json
from tachyon.client.signer import Signer
from tachyon.client.sync import BOOK_DEPTH_MAX, CONNECT_TIMEOUT_S, TIMEOUT_S, known
from tachyon.client.watch import Update, Watch, Watches, market_updates
from tachyon.dex.model import Side
from tachyon.exchange.commands import (
    AccountCommand,
    CancelAll,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    RequestWithdrawal,
    Withdraw,
)


@final
class AsyncClient:
    """A node at `url` (e.g. http://127.0.0.1:8700); `signer` acts and reads for its account
    (None: public reads only)."""

    id: Final = "tachyon"
    precisionMode: Final = ccxt.TICK_SIZE  # noqa: N815 (ccxt's attribute name)
    has: Final = ccxt_orders.ASYNC_HAS  # which of ccxt's unified methods are here

    def __init__(
        self,
        url: str,
        signer: Signer | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.url = url.rstrip("/")
        self.signer = signer
        self._http = httpx2.AsyncClient(
            base_url=self.url,
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
            transport=transport,
        )
        self._clock = clock
        self._nonces = calls.Nonces(clock)
        self._markets: dict[str, Market] = {}
        self._tokens: dict[str, Token] = {}
        self.markets: dict[str, ccxt.Structure] = {}  # ccxt's, filled by `load_markets`
        self.symbols: list[str] = []
        self._watches = Watches()
        self._account_watch: AccountWatch | None = None

    async def close(self) -> None:
        await self._watches.close()
        if self._account_watch is not None:
            await self._account_watch.close()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def call(self, call: Call) -> Any:
        """Send one request; its JSON answer (or the refusal raised)."""
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                content=call.content,
                headers=call.headers,
            )
        except httpx2.TimeoutException as exc:
            raise errors.StorageError(f"the node at {self.url} did not answer in time") from exc
        except httpx2.TransportError as exc:
            raise errors.StorageError(f"cannot reach the node at {self.url}: {exc}") from exc
        return calls.answer(self.url, call, response.status_code, response.content)

    # -- public reads --------------------------------------------------------------------------

    async def server_time_ns(self) -> int:
        value = (await self.call(calls.public("/v1/time"))).get("server_time_ns")
        if type(value) is not int:
            raise errors.CorruptData(f"the node at {self.url} gave no server time")
        return value

    async def get_markets(self) -> list[Market]:
        """Every market, with its rules (asked afresh; `get_market` caches)."""
        rows = parse(list[Market], (await self.call(calls.public("/v1/markets")))["markets"])
        self._markets = {row.market: row for row in rows}
        return rows

    async def get_market(self, name: str) -> Market:
        """`name`'s market; MarketNotFound, naming the markets, if the node has none."""
        if name not in self._markets:
            await self.get_markets()
        return known(self._markets, name, errors.MarketNotFound, "market")

    async def get_tokens(self) -> list[Token]:
        rows = parse(list[Token], (await self.call(calls.public("/v1/tokens")))["tokens"])
        self._tokens = {row.symbol: row for row in rows}
        return rows

    async def get_token(self, symbol: str) -> Token:
        if symbol not in self._tokens:
            await self.get_tokens()
        return known(self._tokens, symbol, errors.TokenNotFound, "token")

    async def get_book(self, market: str, depth: int = 10) -> Book:
        """The best `depth` levels a side (1 to 1,000), best first."""
        params: calls.Params = {"market": market, "depth": depth}
        return parse(Book, await self.call(calls.public("/v1/orderbook", params)))

    async def get_trades(self, market: str, limit: int = 20) -> list[Trade]:
        """The latest `limit` trades (1 to 1,000), newest first."""
        params: calls.Params = {"market": market, "limit": limit}
        return parse(list[Trade], (await self.call(calls.public("/v1/trades", params)))["trades"])

    # -- the signer's account: signed reads ----------------------------------------------------

    async def get_balances(self) -> list[Balance]:
        """Every token's balance (zero for tokens never held)."""
        answer = await self.call(calls.signed(self.signer, "GET", "/v1/account/balances"))
        return parse(list[Balance], answer["balances"])

    async def get_open_orders(self) -> list[Order]:
        """Open orders, oldest first."""
        answer = await self.call(calls.signed(self.signer, "GET", "/v1/account/orders"))
        return parse(list[Order], answer["orders"])

    async def get_history(self, market: str | None = None, limit: int = 50) -> History:
        """The latest `limit` closed orders and fills (in `market`), newest first."""
        params: calls.Params = {"limit": limit}
        if market is not None:
            params["market"] = market
        call = calls.signed(self.signer, "GET", "/v1/account/history", params)
        return parse(History, await self.call(call))

    # -- commands (signed) ---------------------------------------------------------------------

    async def submit(self, command: AccountCommand) -> Any:
        """Any account command, with a fresh nonce, signed; the node's JSON answer."""
        fresh = msgspec.structs.replace(command, nonce=self._nonces.next())
        return await self.call(calls.command(self.signer, fresh))

    async def deposit(self, token: str, amount: Amount) -> Balance:
        """The dev profile's faucet: credit the signer's account (refused in production)."""
        minor = calls.units(amount, (await self.get_token(token)).decimals, "amount")
        answer = await self.submit(Deposit(self._address(), token, minor))
        return parse(list[Balance], answer["balances"])[0]

    async def withdraw(self, token: str, amount: Amount) -> Balance:
        minor = calls.units(amount, (await self.get_token(token)).decimals, "amount")
        answer = await self.submit(Withdraw(self._address(), token, minor))
        return parse(list[Balance], answer["balances"])[0]

    async def place_order(
        self,
        market: str,
        side: str,
        qty: Amount | None,
        price: Amount | None = None,
        options: OrderOptions | None = None,
    ) -> Placement:
        """A limit order (a `price`) or a market order (None; a bid may give
        `options.max_quote` instead of `qty`), "bid" or "ask"; answered once durable."""
        config = await self.get_market(market)
        command = calls.place_order(
            self._address(), config, side, qty, price, options or OrderOptions(), 0
        )
        return parse(Placement, await self.submit(command))

    async def cancel(self, order_id: int) -> Placement | Stop:
        """Cancel an open order, or a pending stop (answered as the stop, cancelled)."""
        return calls.placed(await self.submit(CancelOrder(self._address(), order_id)))

    async def cancel_client_order(self, client_order_id: str) -> Placement | Stop:
        command = CancelClientOrder(self._address(), client_order_id)
        return calls.placed(await self.submit(command))

    async def cancel_all(
        self, market: str | None = None, side: str | None = None
    ) -> list[Placement]:
        """Cancel every open order (in `market`, on `side`); what each cancel did."""
        chosen = None if side is None else calls.choice(Side, side, "side")
        answer = await self.submit(CancelAll(self._address(), market, chosen))
        return parse(list[Placement], answer["cancelled"])

    async def place_stop(
        self,
        market: str,
        side: str,
        trigger_price: Amount,
        qty: Amount | None,
        price: Amount | None = None,
        options: OrderOptions | None = None,
    ) -> Stop:
        """A stop: once a trade prints at or beyond `trigger_price`, a limit order at `price`
        (None: a market order; a bid may give `options.max_quote` instead of `qty`); of
        `options`, `max_quote`, `stp` and `client_order_id` apply. Funds lock when accepted."""
        config = await self.get_market(market)
        command = calls.place_stop(
            self._address(), config, side, trigger_price, qty, price, options or OrderOptions()
        )
        return parse(Stop, await self.submit(command))

    async def get_stops(self) -> list[Stop]:
        """Pending stops, in the order they were accepted."""
        answer = await self.call(calls.signed(self.signer, "GET", "/v1/account/stops"))
        return parse(list[Stop], answer["stops"])

    async def amend(
        self,
        order_id: int | None = None,
        *,
        client_order_id: str | None = None,
        price: Amount | None = None,
        qty: Amount | None = None,
        market: str | None = None,
        stp: str | None = None,
    ) -> Placement:
        """Change an open order's price and/or total quantity (filled part included), named
        by its id or its client order id (then give its `market`, for the units); it keeps
        its id (and its place when only its quantity shrinks)."""
        config = None
        if market is not None or price is not None or qty is not None:
            if market is None:
                opens = [] if order_id is None else await self.get_open_orders()
                market = calls.market_of(order_id, opens)
            config = await self.get_market(market)
        command = calls.amend_order(
            self._address(), config, order_id, client_order_id, price, qty, stp
        )
        return parse(Placement, await self.submit(command))

    async def request_withdrawal(self, token: str, amount: Amount, destination: str) -> Withdrawal:
        """Lock `amount` into a pending withdrawal to `destination` (an IBAN, an address: 1
        to 256 printable characters), which the operator completes or rejects."""
        minor = calls.units(amount, (await self.get_token(token)).decimals, "amount")
        command = RequestWithdrawal(self._address(), token, minor, destination)
        return parse(Withdrawal, (await self.submit(command))["withdrawal"])

    async def get_withdrawals(self) -> list[Withdrawal]:
        """Withdrawals to a destination, oldest first, each with its state."""
        answer = await self.call(calls.signed(self.signer, "GET", "/v1/account/withdrawals"))
        return parse(list[Withdrawal], answer["withdrawals"])

    def _address(self) -> str:
        return calls.need(self.signer).address

    # -- the account stream ----------------------------------------------------------------------

    async def account_events(self) -> AccountEvents:
        """The signer's account stream, once subscribed (every command sent after this returns
        is told): `async for event in events` yields `OrderEvent`, `FillEvent` and
        `StopEvent`; `async with` (or `aclose`) ends it. See `tachyon.client.account_stream`."""
        return await account_stream.subscribe(self.url, self.signer)

    # -- the market stream -----------------------------------------------------------------------

    async def book_updates(
        self, market: str, depth: int | None = None
    ) -> AsyncGenerator[Book, None]:
        """The market's book once subscribed and after each change (the best `depth` levels a
        side; None: all), at its `update_id`; a lost message is resubscribed for."""
        async for update in await self._updates(market, depth):
            if isinstance(update, Book):
                yield update

    async def trade_updates(self, market: str) -> AsyncGenerator[tuple[Trade, ...], None]:
        """Each durable batch's trades in the market, from the subscription on."""
        async for update in await self._updates(market, 1):
            if not isinstance(update, Book):
                yield update

    async def _updates(self, market: str, depth: int | None) -> AsyncIterator[Update]:
        config = market_from_json(plain(await self.get_market(market)))
        return market_updates(self.url, config, depth)

    async def _watch(self, market: str) -> Watch:
        config = market_from_json(plain(await self.get_market(market)))
        return self._watches.of(market, lambda: market_updates(self.url, config))

    # -- ccxt's unified API (floats and ms at this edge only; see tachyon.client.ccxt) --------

    async def load_markets(self, reload: bool = False) -> dict[str, ccxt.Structure]:
        """ccxt's markets by symbol (kept in `markets` and `symbols`)."""
        if reload or not self.markets:
            self.markets = {row["symbol"]: row for row in await self.fetch_markets()}
            self.symbols = sorted(self.markets)
        return self.markets

    async def fetch_markets(self, params: dict[str, Any] | None = None) -> list[ccxt.Structure]:
        return [ccxt.market(row) for row in await self.get_markets()]

    async def fetch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> ccxt.Structure:
        book = await self.get_book(symbol, limit or BOOK_DEPTH_MAX)
        return ccxt.order_book(book)

    async def fetch_trades(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """The latest trades (`limit`, at most 1,000), oldest first."""
        rows = await self.get_trades(symbol, limit or BOOK_DEPTH_MAX)
        return ccxt.since_limit([ccxt.trade(symbol, row) for row in rows], since, limit)

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> ccxt.Structure:
        return ccxt.balance(await self.get_balances())

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float | None,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> ccxt.Structure:
        """A limit or market order; `params` as `ccxt.ORDER_PARAMS` lists, or a stop with
        `params['triggerPrice']` (or `stopPrice`; then `ccxt_orders.STOP_PARAMS`)."""
        stop = ccxt_orders.stop_request(type, side, amount, price, params or {})
        if stop is not None:
            pending = await self.place_stop(
                symbol, stop.side, stop.trigger, stop.qty, stop.price, stop.options
            )
            return ccxt_orders.stop_order(pending, stop.client_order_id)
        asked = ccxt.order_request(type, side, amount, price, params or {})
        placed = await self.place_order(symbol, asked.side, asked.qty, asked.price, asked.options)
        return ccxt.placed_order(placed, (await self.get_market(symbol)).fee_token, asked.asked)

    async def cancel_order(
        self,
        id: str,
        symbol: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> ccxt.Structure:
        """Cancel by order id (or by `params['clientOrderId']`, `id` then ignored)."""
        client_id = (params or {}).get("clientOrderId")
        placed = (
            await self.cancel_client_order(client_id) if client_id else await self.cancel(int(id))
        )
        fee_token = (await self.get_market(placed.market)).fee_token
        return ccxt_orders.cancelled_order(placed, fee_token, client_id)

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        rows = [row for row in await self.get_open_orders() if symbol in (None, row.market)]
        return ccxt.since_limit([ccxt.open_order(row) for row in rows], since, limit)

    async def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """The account's latest fills (`limit`, at most 1,000), oldest first."""
        fills = (await self.get_history(symbol, limit or BOOK_DEPTH_MAX)).fills
        return ccxt.since_limit([ccxt.my_trade(row) for row in fills], since, limit)

    async def create_stop_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float | None,
        price: float | None = None,
        triggerPrice: float | None = None,  # noqa: N803 (ccxt's argument name)
        params: dict[str, Any] | None = None,
    ) -> ccxt.Structure:
        """ccxt's: `create_order` with `params['triggerPrice']`."""
        if triggerPrice is None:
            raise errors.InvalidInput("a stop order needs a triggerPrice")
        return await self.create_order(
            symbol, type, side, amount, price, {**(params or {}), "triggerPrice": triggerPrice}
        )

    async def edit_order(
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: float | None = None,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> ccxt.Structure:
        """An amend of a resting limit order (by `id`, or `params['clientOrderId']`): its new
        total `amount` and/or `price` (None keeps it); it keeps its id and side."""
        edit = ccxt_orders.edit_request(id, type, side, amount, price, params or {})
        placed = await self.amend(
            edit.order_id,
            client_order_id=edit.client_order_id,
            price=edit.price,
            qty=edit.qty,
            market=symbol,
        )
        return ccxt.placed_order(placed, (await self.get_market(symbol)).fee_token, edit.asked)

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> ccxt.Structure:
        """The order `id`: open, a pending stop, or among the latest 1,000 closed orders (in
        `symbol`); OrderNotFound otherwise (a triggered stop is found as the order it became)."""
        opens = await self.get_open_orders()
        stops = await self.get_stops()
        history = await self.get_history(symbol, BOOK_DEPTH_MAX)
        return ccxt_orders.find_order(int(id), opens, stops, history)

    async def fetch_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """The latest closed orders (filled, cancelled or expired; at most 1,000), oldest
        first, each with its fills among the latest 1,000 as its trades."""
        history = await self.get_history(symbol, BOOK_DEPTH_MAX)
        rows = [ccxt_orders.closed_order(row, history.fills) for row in history.orders]
        return ccxt.since_limit(rows, since, limit)

    async def fetch_ticker(
        self, symbol: str, params: dict[str, Any] | None = None
    ) -> ccxt.Structure:
        """ccxt's ticker from the book's best levels and the latest 1,000 trades (the day's
        figures None where those do not reach back 24 hours; see `ccxt_orders.ticker`)."""
        book = await self.get_book(symbol, 1)
        trades = await self.get_trades(symbol, BOOK_DEPTH_MAX)
        now_ms = self._clock() // ccxt.NS_PER_MS
        return ccxt_orders.ticker(symbol, book, trades, len(trades) < BOOK_DEPTH_MAX, now_ms)

    async def watch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> ccxt.Structure:
        """ccxt pro's: the book once it changed since the last call (the first call: once
        subscribed), `nonce` its update id; the subscription stays open until `close`."""
        book = await (await self._watch(symbol)).next_book()
        if limit is not None:
            book = msgspec.structs.replace(book, bids=book.bids[:limit], asks=book.asks[:limit])
        return ccxt.order_book(book)

    async def watch_trades(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """ccxt pro's: the trades made since the last call (from the first call's subscription
        on), oldest first, waiting for one when there are none."""
        rows = await (await self._watch(symbol)).next_trades()
        return ccxt.since_limit([ccxt.trade(symbol, row) for row in rows], since, limit)

    async def watch_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """ccxt pro's: the signer's orders as the account stream told of them since the last
        call (from the first call's subscription on; of `symbol`, or every market), each
        with its status and `remaining` as a batch left it (`amount` and `filled` are not
        told: None), oldest first, waiting for one when there are none. The stream does not
        time an order's events, so `since` is refused."""
        if since is not None:
            raise errors.InvalidInput("watch_orders takes no since: order events carry no time")
        rows = await (await self._account(symbol)).next_orders(symbol)
        orders = [ccxt_orders.event_order(row) for row in rows]
        return orders if limit is None else orders[-limit:] if limit else []

    async def watch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[ccxt.Structure]:
        """ccxt pro's: the signer's fills the account stream told since the last call (from
        the first call's subscription on; of `symbol`, or every market), as
        `fetch_my_trades` answers them, oldest first, waiting for one when there are none."""
        rows = await (await self._account(symbol)).next_fills(symbol)
        return ccxt.since_limit([ccxt_orders.event_fill(row) for row in rows], since, limit)

    async def _account(self, symbol: str | None) -> AccountWatch:
        """The account subscription the watches share, opened on first use and afresh after
        it failed (its error was raised to the callers then)."""
        if symbol is not None:
            await self.get_market(symbol)  # an unknown market is refused, not waited on
        watch = self._account_watch
        if watch is None or watch.error is not None:
            if watch is not None:
                await watch.close()
            self._account_watch = None
            watch = self._account_watch = AccountWatch(await self.account_events())
        return watch
