"""The gRPC service `tachyon.v1.Exchange` (proto/tachyon/v1/exchange.proto) over a `Node`.

Each call does what its REST route or WebSocket stream does, through the same code: commands
through `execute_command` (admission, the client address's and the account's rate limits, the
sequencer, the metrics), reads through `tachyon.node.reads`, signed reads through
`Node.authenticate` over the REST read's method and path, streams through the hub
(`tachyon.node.subscriptions`), so update ids and messages are the WebSocket's. Answers are the
REST answers as typed messages (`tachyon.node.grpc_messages`); refusals are gRPC statuses
(`tachyon.node.grpc_errors`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, TypeVar

import grpc
from google.protobuf.message import Message

from tachyon.dex.ids import AccountId
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.errors import InvalidInput, TachyonError
from tachyon.node import reads
from tachyon.node.errors import status_of
from tachyon.node.execution import Node, execute_command
from tachyon.node.grpc_errors import abort, status, status_of_error
from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_gen.exchange_pb2_grpc import ExchangeServicer
from tachyon.node.grpc_messages import (
    Unfit,
    account_update,
    applied_answer,
    book_update,
    parsed,
    trades_update,
)
from tachyon.node.stream_events import ACCOUNT, DEPTH, TRADES, WHOLE_BOOK, Channel
from tachyon.node.streams import DEPTH_DEFAULT
from tachyon.node.subscriptions import (
    Welcome,
    account_welcome,
    market_welcome,
    subscription,
)

Context = grpc.aio.ServicerContext[object, object]
SERVICE: Final = "tachyon.v1.Exchange"
DEPTH_MAX: Final = 1_000  # as the REST reads bound them
LIMIT_MAX: Final = 1_000
MARKET_TEXT_MAX: Final = 64
BOOK_DEPTH_DEFAULT: Final = 10
TRADES_LIMIT_DEFAULT: Final = 20
HISTORY_LIMIT_DEFAULT: Final = 50
OK: Final = 200
INTERNAL: Final = 500
M = TypeVar("M", bound=Message)


class InvalidRequest(InvalidInput):
    """A request field out of its range: what REST answers 400 `invalid_request` for."""

    code = "invalid_request"


def client_of(context: Context) -> str | None:
    """The client's address (as REST's rate limit by client address knows it), from the
    peer `ipv4:127.0.0.1:5000` or `ipv6:[::1]:5000`; None if the peer is not an IP."""
    kind, _, rest = context.peer().partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    return rest.rpartition(":")[0].strip("[]") or None


def market_of(text: str) -> str:
    """The market a request names (empty: the default market)."""
    if not text:
        return DEFAULT_MARKET.market_id
    if len(text) > MARKET_TEXT_MAX:
        raise InvalidRequest(f"market must be 1 to {MARKET_TEXT_MAX} characters")
    return text


def bounded(value: int, name: str, default: int, maximum: int) -> int:
    """A count a request gives (0: unset, the default), refused past `maximum`."""
    if value == 0:
        return default
    if value > maximum:
        raise InvalidRequest(f"{name} must be a whole number from 1 to {maximum}, not {value}")
    return value


class ExchangeService(ExchangeServicer):
    """`tachyon.v1.Exchange` over `node`; `observe(method, status, seconds)` times each call
    (its HTTP-equivalent status)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def _typed(
        self,
        context: Context,
        method: str,
        answer: Callable[[], Awaitable[dict[str, object]]],
        typed: Callable[[dict[str, object]], M],
    ) -> M:
        """The call's answer, the REST object made `typed`, or the call ended with the status
        refusing it."""
        started = time.perf_counter()
        try:
            message = typed(await answer())
        except TachyonError as exc:
            self._observe(method, status_of(exc), started)
            await abort(context, status_of_error(exc))
        except Unfit as exc:  # a REST field the .proto lacks: the node's fault
            self._observe(method, INTERNAL, started)
            await abort(context, status(grpc.StatusCode.INTERNAL, "internal_error", str(exc)))
        self._observe(method, OK, started)
        return message

    async def _read(
        self,
        context: Context,
        method: str,
        answer: Callable[[], Awaitable[dict[str, object]]],
        reply: type[M],
    ) -> M:
        """A read's answer: the REST object in `reply`."""
        return await self._typed(context, method, answer, lambda result: parsed(result, reply))

    def _observe(self, method: str, http_status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        path = f"/{SERVICE}/{method}"
        self.node.metrics.request_seconds.labels(path, "GRPC", str(http_status)).observe(seconds)

    def _account(self, context: Context, read: pb.SignedRead, path: str) -> AccountId:
        """The account a signed read proves, signed over `GET path` (the REST read's)."""
        headers = (
            read.address or None,
            str(read.timestamp_ns) if read.timestamp_ns else None,
            base64.b64encode(read.signature).decode() if read.signature else None,
        )
        return self.node.authenticate(client_of(context), headers, "GET", path)

    async def GetTime(self, request: pb.TimeRequest, context: Context) -> pb.TimeReply:
        return pb.TimeReply(server_time_ns=self.node.clock())

    async def GetMarkets(self, request: pb.MarketsRequest, context: Context) -> pb.MarketsReply:
        return await self._read(
            context, "GetMarkets", lambda: reads.markets(self.node), pb.MarketsReply
        )

    async def GetTokens(self, request: pb.TokensRequest, context: Context) -> pb.TokensReply:
        return await self._read(
            context, "GetTokens", lambda: reads.tokens(self.node), pb.TokensReply
        )

    async def GetOrderBook(
        self, request: pb.OrderBookRequest, context: Context
    ) -> pb.OrderBookReply:
        async def answer() -> dict[str, object]:
            market = market_of(request.market)
            depth = bounded(request.depth, "depth", BOOK_DEPTH_DEFAULT, DEPTH_MAX)
            return await reads.orderbook(self.node, market, depth)

        return await self._read(context, "GetOrderBook", answer, pb.OrderBookReply)

    async def GetTrades(self, request: pb.TradesRequest, context: Context) -> pb.TradesReply:
        async def answer() -> dict[str, object]:
            market = market_of(request.market)
            limit = bounded(request.limit, "limit", TRADES_LIMIT_DEFAULT, LIMIT_MAX)
            return await reads.trades(self.node, market, limit)

        return await self._read(context, "GetTrades", answer, pb.TradesReply)

    async def SubmitCommand(self, request: pb.SignedCommand, context: Context) -> pb.CommandAnswer:
        client = client_of(context)
        return await self._typed(
            context, "SubmitCommand", lambda: self._execute(request, client), applied_answer
        )

    def _execute(
        self, request: pb.SignedCommand, client: str | None
    ) -> Awaitable[dict[str, object]]:
        body = base64.b64encode(request.body).decode()
        signature = base64.b64encode(request.signature).decode()
        return execute_command(self.node, body, signature, None, client)

    async def GetBalances(self, request: pb.SignedRead, context: Context) -> pb.BalancesReply:
        async def answer() -> dict[str, object]:
            account = self._account(context, request, "/v1/account/balances")
            return await reads.balances(self.node, account)

        return await self._read(context, "GetBalances", answer, pb.BalancesReply)

    async def GetOpenOrders(self, request: pb.SignedRead, context: Context) -> pb.OpenOrdersReply:
        async def answer() -> dict[str, object]:
            account = self._account(context, request, "/v1/account/orders")
            return await reads.open_orders(self.node, account)

        return await self._read(context, "GetOpenOrders", answer, pb.OpenOrdersReply)

    async def GetHistory(self, request: pb.HistoryRequest, context: Context) -> pb.HistoryReply:
        async def answer() -> dict[str, object]:
            market = None
            if request.HasField("market"):
                market = request.market
                if not 1 <= len(market) <= MARKET_TEXT_MAX:
                    raise InvalidRequest(f"market must be 1 to {MARKET_TEXT_MAX} characters")
            limit = bounded(request.limit, "limit", HISTORY_LIMIT_DEFAULT, LIMIT_MAX)
            account = self._account(context, request.auth, "/v1/account/history")
            return await reads.history(self.node, account, market, limit)

        return await self._read(context, "GetHistory", answer, pb.HistoryReply)

    async def GetStops(self, request: pb.SignedRead, context: Context) -> pb.StopsReply:
        async def answer() -> dict[str, object]:
            account = self._account(context, request, "/v1/account/stops")
            return await reads.stops(self.node, account)

        return await self._read(context, "GetStops", answer, pb.StopsReply)

    async def GetWithdrawals(self, request: pb.SignedRead, context: Context) -> pb.WithdrawalsReply:
        async def answer() -> dict[str, object]:
            account = self._account(context, request, "/v1/account/withdrawals")
            return await reads.withdrawals(self.node, account)

        return await self._read(context, "GetWithdrawals", answer, pb.WithdrawalsReply)

    async def EnterOrders(
        self, request_iterator: AsyncIterator[pb.SignedCommand], context: Context
    ) -> AsyncIterator[pb.CommandReply]:
        """Each command executed as it arrives (entering the sequencer in arrival order),
        answered in that order; at most `inflight_max` unanswered, past which the stream is
        not read (flow control holds the client back)."""
        client = client_of(context)
        room = asyncio.Semaphore(self.node.inflight_max)
        started: asyncio.Queue[asyncio.Future[pb.CommandReply] | None] = asyncio.Queue()

        async def receive() -> None:
            try:
                async for command in request_iterator:
                    await room.acquire()
                    # Tasks start in creation order, each entering the sequencer in its first step.
                    started.put_nowait(asyncio.ensure_future(self._reply(command, client)))
            finally:
                started.put_nowait(None)

        receiver = asyncio.ensure_future(receive())
        try:
            while (reply := await started.get()) is not None:
                yield await reply
                room.release()
            await receiver  # raises what ended the client's side, if anything did
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    async def _reply(self, command: pb.SignedCommand, client: str | None) -> pb.CommandReply:
        started = time.perf_counter()
        try:
            answer = await self._execute(command, client)
        except TachyonError as exc:
            self._observe("EnterOrders", status_of(exc), started)
            return pb.CommandReply(refusal=pb.Refusal(code=exc.code, message=str(exc)))
        self._observe("EnterOrders", OK, started)
        return pb.CommandReply(answer=applied_answer(answer))

    async def StreamBook(  # type: ignore[override]  # writes with context.write (grpc.aio)
        self, request: pb.BookStreamRequest, context: Context
    ) -> None:
        try:
            market = market_of(request.market)
            depth = (
                WHOLE_BOOK
                if request.all_levels
                else bounded(request.depth, "depth", DEPTH_DEFAULT, WHOLE_BOOK)
            )
            await self.node.market(market)  # an unknown market is refused
        except TachyonError as exc:
            await abort(context, status_of_error(exc))
        welcome = market_welcome(self.node, market, (DEPTH,), depth, 1)
        await self._follow(context, [(DEPTH, market)], welcome, book_update, depth)

    async def StreamTrades(  # type: ignore[override]  # writes with context.write (grpc.aio)
        self, request: pb.TradesStreamRequest, context: Context
    ) -> None:
        try:
            market = market_of(request.market)
            limit = bounded(request.limit, "limit", TRADES_LIMIT_DEFAULT, LIMIT_MAX)
            await self.node.market(market)
        except TachyonError as exc:
            await abort(context, status_of_error(exc))
        welcome = market_welcome(self.node, market, (TRADES,), 1, limit)
        await self._follow(context, [(TRADES, market)], welcome, trades_update)

    async def StreamAccount(  # type: ignore[override]  # writes with context.write (grpc.aio)
        self, request: pb.SignedRead, context: Context
    ) -> None:
        try:
            account = self._account(context, request, "/v1/ws/account")
        except TachyonError as exc:
            await abort(context, status_of_error(exc))
        await self._follow(context, [(ACCOUNT, account)], account_welcome(account), account_update)

    async def _follow(
        self,
        context: Context,
        channels: list[Channel],
        welcome: Welcome,
        typed: Callable[[str], Message],
        depth: int = WHOLE_BOOK,
    ) -> None:
        """Send the welcome, then every newer message, each WebSocket frame's text made
        `typed`, until the client leaves (the call is cancelled) or falls too far behind
        (RESOURCE_EXHAUSTED `slow_consumer`)."""

        async def send(text: str) -> None:
            await context.write(typed(text))

        try:
            with subscription(self.node, "grpc", channels, welcome, depth) as subscriber:
                sender = asyncio.ensure_future(subscriber.pump(send))
                cut_off = asyncio.ensure_future(subscriber.cut_off.wait())
                try:
                    await asyncio.wait({sender, cut_off}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (sender, cut_off):
                        task.cancel()
                    for task in (sender, cut_off):
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
        except Unfit as exc:  # a frame's field the .proto lacks: the node's fault
            await abort(context, status(grpc.StatusCode.INTERNAL, "internal_error", str(exc)))
        slow = (
            f"slow consumer: more than {subscriber.queue_max} messages or"
            f" {subscriber.bytes_max} bytes waiting; resubscribe"
        )
        await abort(context, status(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow_consumer", slow))
