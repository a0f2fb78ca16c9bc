"""The node's HTTP API: an ASGI application over one data directory's exchange.

`create_app` opens the `EmbeddedExchange` and its `Sequencer` when the application starts and
closes the host (with a snapshot) when it stops. Every read and write goes through the
sequencer's worker thread, which alone touches the host. Public reads need nothing; commands
arrive signed by the wallet's key (`POST /v1/commands`, taken off the framework by
`tachyon.node.fast_path`, or many in flight over `/v1/ws/orders`, `tachyon.node.order_entry`)
and every route executes them alike (`tachyon.node.execution`): the gateway admits them,
signature included, on the event loop (`tachyon.node.gateway`); an account's own data is read
with a signed request (`X-Tachyon-*` headers). The OpenAPI description is at `/openapi.json`;
Prometheus metrics are at `/metrics` (see `tachyon.node.metrics`). Each signed request spends
a token of its account's rate limit (see `tachyon.node.ratelimit`): 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import FastAPI, Query, Request, Response, WebSocket
from fastapi_offline import FastAPIOffline
from opentelemetry.trace import TracerProvider

from tachyon.dex.ids import AccountId
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.errors import (
    InvalidConfig,
    InvalidInput,
    TachyonError,
)
from tachyon.exchange.admission import Admitted, admit
from tachyon.exchange.commands import Tick
from tachyon.node import reads, schemas
from tachyon.node.api_description import API_DESCRIPTION
from tachyon.node.connection_limit import (
    CONNECTIONS_PER_CLIENT_DEFAULT,
    WebSocketLimit,
    abort_of,
)
from tachyon.node.errors import BodyLimit, install_error_handlers, status_of
from tachyon.node.execution import Node, execute_command
from tachyon.node.fast_path import CommandFastPath
from tachyon.node.gateway import PROFILES, Clock, admit_many
from tachyon.node.gc_policy import StateFreezer
from tachyon.node.grpc_settings import GrpcSettings
from tachyon.node.headers import AddressHeader, SignatureHeader, TimestampHeader
from tachyon.node.metrics import (
    CONTENT_TYPE,
    NodeMetrics,
    RequestTimer,
    book_levels,
)
from tachyon.node.observability import logger, tracer_of
from tachyon.node.onramp_routes import WEBHOOK_BYTES_MAX, WEBHOOK_PATH, onramp_routes
from tachyon.node.order_entry import INFLIGHT_BYTES_MAX_DEFAULT, INFLIGHT_MAX_DEFAULT, OrderEntry
from tachyon.node.ratelimit import (
    BAD_SIGNATURE_BURST_DEFAULT,
    BAD_SIGNATURE_RATE_PER_S_DEFAULT,
    CLIENT_BURST_DEFAULT,
    CLIENT_RATE_PER_S_DEFAULT,
    RateLimit,
    RateLimiter,
)
from tachyon.node.read_replay import SeenReads
from tachyon.node.sequencer import BATCH_WAIT_MS_DEFAULT, Sequencer
from tachyon.node.stream_events import (
    ACCOUNT,
    DEPTH,
    TRADES,
    WHOLE_BOOK,
    Batch,
    Channel,
    Publisher,
    encode,
)
from tachyon.node.streams import (
    DEPTH_DEFAULT,
    QUEUE_BYTES_MAX_DEFAULT,
    QUEUE_MAX_DEFAULT,
    StreamHub,
    refuse,
    serve_subscriber,
)
from tachyon.node.subscriptions import Welcome, account_welcome, market_welcome, subscription
from tachyon.onramp.stripe_api import StripeSettings
from tachyon.storage.host import EmbeddedExchange

DEPTH_MAX: Final = 1_000
TRADES_LIMIT_MAX: Final = 1_000
HISTORY_LIMIT_MAX: Final = 1_000
HISTORY_LIMIT_DEFAULT: Final = 50
MARKET_TEXT_MAX: Final = 64
RECV_WINDOW_MS_DEFAULT: Final = 5_000
RATE_LIMIT_DEFAULT: Final = RateLimit()
CLIENT_RATE_LIMIT_DEFAULT: Final = RateLimit(CLIENT_RATE_PER_S_DEFAULT, CLIENT_BURST_DEFAULT)
BAD_SIGNATURE_LIMIT_DEFAULT: Final = RateLimit(
    BAD_SIGNATURE_RATE_PER_S_DEFAULT, BAD_SIGNATURE_BURST_DEFAULT
)
ORDER_ENTRY_PATH: Final = "/v1/ws/orders"
TICK_POLL_S: Final = 0.05  # how often the node asks whether a good-till-date order is due
TICK: Final = admit(Tick())


_ERRORS: Final[dict[int | str, dict[str, object]]] = {
    status: {"model": schemas.ErrorBody, "description": description}
    for status, description in (
        (400, "invalid input, request or receive window"),
        (401, "missing or bad signature"),
        (403, "another account's order, or deposits disabled"),
        (404, "unknown market, token or order"),
        (409, "refused by the state: funds, stale nonce, order rejected"),
        (413, "request body too large"),
        (429, "the account's rate limit: retry after the `Retry-After` header's seconds"),
    )
}


def _ok(model: object) -> dict[int | str, dict[str, object]]:
    """Document the answer's shape without validating each answer against it (a cost)."""
    return {200: {"model": model, "description": "the answer"}}


def _without_422(app: FastAPI) -> None:
    """The OpenAPI description says 400 for invalid requests, as the node answers, not
    FastAPI's default 422."""
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        spec = describe()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            spec.get("components", {}).get("schemas", {}).pop(name, None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _headers_as_strings(app: FastAPI) -> None:
    """A header is a string or absent (`required: false`), never null: the description shows
    each header's schema as a plain string with its pattern, not `anyOf` string or null."""
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        spec = describe()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "header":
                        parameter["schema"] = _string_schema(parameter["schema"])
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _string_schema(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if branches != [{"type": "string"}, {"type": "null"}]:
        return schema
    return {"type": "string", **{key: value for key, value in schema.items() if key != "anyOf"}}


def create_app(
    data_dir: Path,
    *,
    profile: str = "dev",
    recv_window_ms: int = RECV_WINDOW_MS_DEFAULT,
    clock: Clock = time.time_ns,
    batch_wait_ms: float = BATCH_WAIT_MS_DEFAULT,
    rate_limit: RateLimit | None = RATE_LIMIT_DEFAULT,
    client_rate_limit: RateLimit | None = CLIENT_RATE_LIMIT_DEFAULT,
    bad_signature_limit: RateLimit | None = BAD_SIGNATURE_LIMIT_DEFAULT,
    stream_queue_max: int = QUEUE_MAX_DEFAULT,
    stream_queue_bytes_max: int = QUEUE_BYTES_MAX_DEFAULT,
    inflight_max: int = INFLIGHT_MAX_DEFAULT,
    inflight_bytes_max: int = INFLIGHT_BYTES_MAX_DEFAULT,
    tracer_provider: TracerProvider | None = None,
    gc_freeze_every: int | None = None,
    read_model: bool = True,
    opened: EmbeddedExchange | None = None,
    connections_per_client: int = CONNECTIONS_PER_CLIENT_DEFAULT,
    stripe: StripeSettings | None = None,
    grpc: GrpcSettings | None = None,
) -> FastAPI:
    """The node's application over the exchange in `data_dir` (opened when it starts);
    `batch_wait_ms` is how long a journal commit waits for company (see `Sequencer`);
    `rate_limit` bounds each account's signed requests by `clock` (None: no limit);
    `client_rate_limit` each client address's signed requests, charged before any signature
    check (None: no limit; benchmarks turn it off); `bad_signature_limit` each client
    address's failed signature checks: past it, the address's signed requests are refused
    unchecked (None: no limit);
    `stream_queue_max` and `stream_queue_bytes_max` are how many messages and bytes a
    stream's client may fall behind;
    `inflight_max` and `inflight_bytes_max` how many frames and bytes an order-entry
    connection may have unanswered;
    `tracer_provider`, if given, receives the node's spans (see `tachyon.node.observability`);
    `gc_freeze_every`, if given, keeps the garbage collector off the exchange's state, frozen
    again every that many commands (see `tachyon.node.gc_policy`; `serve` sets it, an
    application embedded in another program leaves that program's collector alone);
    `read_model=False` keeps the query tables out of each commit (streams, metrics and answers
    come from each batch's events either way); `opened` is the exchange of `data_dir` opened
    (and its window checked) already, which the application takes over (`serve` does that);
    `connections_per_client` bounds each client address's open WebSocket connections;
    `stripe`, if given, enables the card on-ramp (`tachyon.node.onramp_routes`); `grpc`, if
    given, serves the gRPC service beside the routes (`tachyon.node.grpc_server`), on the
    same event loop over the same node."""
    assert profile in PROFILES, profile
    assert recv_window_ms > 0
    assert inflight_max >= 1
    assert inflight_bytes_max >= 1
    assert stream_queue_bytes_max >= 1
    metrics = NodeMetrics()
    limiter = None if rate_limit is None else RateLimiter(rate_limit)
    hub = StreamHub(on_cut=metrics.stream_cut)
    node = Node(
        profile, recv_window_ms, clock, metrics, limiter, hub, stream_queue_max, inflight_max
    )
    node.inflight_bytes_max = inflight_bytes_max
    node.stream_queue_bytes_max = stream_queue_bytes_max
    node.tracer = None if tracer_provider is None else tracer_of(tracer_provider)
    node.reads = SeenReads(recv_window_ms)
    node.client_limiter = None if client_rate_limit is None else RateLimiter(client_rate_limit)
    node.data_dir = data_dir
    node.stripe = stripe
    if bad_signature_limit is not None:
        node.signature_failures = RateLimiter(bad_signature_limit, "failed signature checks")
    lifespan = _lifespan(node, data_dir, batch_wait_ms, gc_freeze_every, read_model, opened, grpc)
    return _application(node, lifespan, connections_per_client)


def _application(
    node: Node,
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]],
    connections_per_client: int,
) -> FastAPI:
    # The documentation pages (/docs, /redoc) load their scripts from the installed
    # fastapi-offline package, not from a CDN: a node on an isolated network documents itself.
    app = FastAPIOffline(
        title="tachyon node",
        version="1",
        description=API_DESCRIPTION,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        lifespan=lifespan,
        responses=_ERRORS,
    )
    install_error_handlers(app)
    _without_422(app)
    _headers_as_strings(app)
    app.state.metrics = node.metrics  # for tests
    app.state.limiter = node.limiter
    _middlewares(app, node, connections_per_client)
    _public_routes(app, node)
    _command_routes(app, node)
    _account_routes(app, node)
    _stream_routes(app, node)
    _order_entry_route(app, node)
    onramp_routes(app, node)
    return app


def _middlewares(app: FastAPI, node: Node, connections_per_client: int) -> None:
    """The middlewares, innermost first: the body limit, the fast path of POST /v1/commands,
    the WebSocket connections per client, and outermost the request timer (it times refusals
    too)."""
    app.add_middleware(BodyLimit, larger={WEBHOOK_PATH: WEBHOOK_BYTES_MAX})

    def handle(body: str, signature: str, client: str | None) -> Awaitable[dict[str, object]]:
        return execute_command(node, body, signature, None, client)

    app.add_middleware(CommandFastPath, handle=handle)
    refused = node.metrics.connection_refused
    app.add_middleware(WebSocketLimit, per_client=connections_per_client, on_refused=refused)
    app.add_middleware(RequestTimer, metrics=node.metrics)


def _lifespan(
    node: Node,
    data_dir: Path,
    batch_wait_ms: float,
    gc_freeze_every: int | None,
    read_model: bool,
    opened: EmbeddedExchange | None,
    grpc: GrpcSettings | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Open the exchange and start its sequencer, with the metrics and the streams' publisher
    told of each commit, and the gRPC server if `grpc` says so; on shutdown stop the gRPC
    server, drain the sequencer and close the exchange (snapshot)."""

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        host = opened
        if host is None:
            host = await asyncio.to_thread(
                EmbeddedExchange.open, data_dir, clock=node.clock, read_model=read_model
            )
        try:
            check_node_window(node.recv_window_ms, host)
        except InvalidConfig:  # uvicorn logs it and exits (STARTUP_FAILURE)
            await asyncio.to_thread(host.close, snapshot=False)
            raise
        publisher = await _publisher(node, host)
        freezer = None
        if gc_freeze_every is not None:
            freezer = StateFreezer(lambda: host.state, gc_freeze_every)
            freezer.freeze()

        def on_commit(*batch: Any) -> None:
            node.metrics.on_commit(*batch)
            publisher.on_commit(*batch)
            if freezer is not None:
                freezer.on_commit(len(batch[0]))

        sequencer = Sequencer(
            host,
            batch_wait_ms=batch_wait_ms,
            on_commit=on_commit,
            tracer=node.tracer,
        )
        where = {"data_dir": str(data_dir)}
        logger.info(
            "the node's exchange is open",
            extra={**where, "seq": host.seq},
        )
        try:
            await sequencer.start()
            node.sequencer = sequencer
            running.state.sequencer = sequencer  # for metrics and tests
            async with _ticking(node, sequencer), _grpc_serving(node, grpc, running):
                yield
        finally:
            node.sequencer = None
            try:
                await sequencer.stop()  # answers everything queued first
            finally:
                try:
                    await asyncio.to_thread(host.close)  # with a snapshot if anything is new
                except TachyonError as exc:  # the journal holds every command: kept for `serve`
                    running.state.shutdown_error = exc
                if freezer is not None:
                    gc.unfreeze()  # the collector as it was, for a program that goes on
                logger.info("the node's exchange is closed", extra={**where, "seq": host.seq})

    return lifespan


@asynccontextmanager
async def _ticking(node: Node, sequencer: Sequencer) -> AsyncIterator[None]:
    """`_clock_ticks` running while the body runs."""
    task = asyncio.create_task(_clock_ticks(node, sequencer), name="tachyon-clock")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def _grpc_serving(
    node: Node, settings: GrpcSettings | None, running: FastAPI
) -> AsyncIterator[None]:
    """The gRPC server running while the body runs, if `settings` ask for one (its port in
    `running.state.grpc_port`)."""
    if settings is None:
        yield
        return
    from tachyon.node.grpc_server import serving  # noqa: PLC0415 (grpc loads only when asked)

    async with serving(node, settings) as port:
        running.state.grpc_port = port
        yield


async def _clock_ticks(node: Node, sequencer: Sequencer) -> None:
    """Journal a clock `Tick` whenever a good-till-date order is due, so that it expires on
    time on a quiet market too (a command after its time would journal one first anyway)."""
    while True:
        await asyncio.sleep(TICK_POLL_S)
        try:
            due = await sequencer.read(
                lambda host: host.state.tick_due(max(node.clock(), host.state.ts_ns))
            )
            if due:
                await sequencer.submit(TICK)
        except TachyonError as exc:  # a full queue or a failing disk: the next poll retries
            logger.warning("the clock tick failed", extra={"error": str(exc)})


async def _publisher(node: Node, host: EmbeddedExchange) -> Publisher:
    """The streams' publisher over `host` (told of each commit on the sequencer's thread, it
    hands each batch to the hub on this event loop), and the hub's books copied from `host`
    before its first commit (on a worker thread: the copy reads every level)."""
    loop = asyncio.get_running_loop()

    def deliver(batch: Batch) -> None:
        loop.call_soon_threadsafe(node.hub.receive, batch)

    publisher = Publisher(host, node.hub.wants, deliver, node.hub.anyone)
    node.hub.receive(await asyncio.to_thread(publisher.copies))
    return publisher


def check_node_window(recv_window_ms: int, host: EmbeddedExchange) -> None:
    """InvalidConfig if a node's receive window (`recv_window_ms`) is wider than the open
    exchange's: it may narrow the exchange's at its gateway, never widen it (a nonce it let
    through would be refused by the exchange)."""
    exchange_ms = host.state.receive_window_ms
    if recv_window_ms > exchange_ms:
        raise InvalidConfig(
            f"the node's receive window ({recv_window_ms} ms, --recv-window-ms) is wider"
            f" than the exchange's ({exchange_ms} ms): a node may only narrow it; the node"
            " did not start and nothing was changed"
        )


MarketQuery = Annotated[
    str, Query(min_length=1, max_length=MARKET_TEXT_MAX, description="e.g. BASE/USDC")
]


def _public_routes(app: FastAPI, node: Node) -> None:
    @app.get("/v1/time", response_model=None, responses=_ok(schemas.ServerTime), tags=["public"])
    async def server_time() -> dict[str, int]:
        """The server's clock, in nanoseconds since the epoch (sign with a nonce near it)."""
        return {"server_time_ns": node.clock()}

    @app.get("/v1/markets", response_model=None, responses=_ok(schemas.Markets), tags=["public"])
    async def markets() -> dict[str, object]:
        """Every market with its units, fees, risk limits, halt and engine (as `tachyon dex
        markets --format json`)."""
        return await reads.markets(node)

    @app.get("/v1/tokens", response_model=None, responses=_ok(schemas.Tokens), tags=["public"])
    async def tokens() -> dict[str, object]:
        """Every registered token with its decimals (as `tachyon dex tokens --format json`)."""
        return await reads.tokens(node)

    @app.get("/v1/orderbook", response_model=None, responses=_ok(schemas.Book), tags=["public"])
    async def orderbook(
        market: MarketQuery = DEFAULT_MARKET.market_id,
        depth: Annotated[int, Query(ge=1, le=DEPTH_MAX)] = 10,
    ) -> dict[str, object]:
        """Aggregated price levels, best first (as `tachyon dex orderbook --format json`)."""
        return await reads.orderbook(node, market, depth)

    @app.get("/v1/trades", response_model=None, responses=_ok(schemas.Trades), tags=["public"])
    async def trades(
        market: MarketQuery = DEFAULT_MARKET.market_id,
        limit: Annotated[int, Query(ge=1, le=TRADES_LIMIT_MAX)] = 20,
    ) -> dict[str, object]:
        """Recent trades, newest first, each with its fees and time (as `tachyon dex trades
        --format json`)."""
        return await reads.trades(node, market, limit)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics, text exposition format; book levels are counted now."""
        node.metrics.set_book_levels(await node.running().read(book_levels))
        return Response(node.metrics.expose(), media_type=CONTENT_TYPE)


def _command_routes(app: FastAPI, node: Node) -> None:
    @app.post(
        "/v1/commands",
        response_model=None,
        responses=_ok(
            schemas.PlacementShape
            | schemas.StopOrder
            | schemas.WithdrawalAnswer
            | schemas.Cancellations
            | schemas.Balances
            | schemas.OperatorSet
            | schemas.TokenListed
            | schemas.MarketListed
            | schemas.FeesSet
            | schemas.RiskSet
            | schemas.HaltSet
        ),
        tags=["signed"],
    )
    async def submit_command(request: schemas.SignedCommandRequest, http: Request) -> Response:
        """Submit a wallet's signed account command; answered once it is durable.

        Place, cancel and amend answer the placement (as `dex place-limit --format json`), a
        stop order (`PlaceStop`, or a cancel of one) the stop (as `dex place-stop`), a mass
        cancel (`CancelAll`) `{"cancelled": [...]}` with each cancelled order's; deposit and
        withdraw the balance of the token they moved (as `dex deposit --format json`). The
        same requests go over one WebSocket, many in flight, at `/v1/ws/orders`.

        The operator's commands come this way too, signed by the operator's key (anyone
        else: 403 `not_operator`), each answering as its `tachyon admin` command prints:
        `SetOperator` (`{"operator"}`, once, on an exchange without one), `AdminAddToken`
        (`{"token"}`), `AdminAddMarket` (`{"market"}`, as `/v1/markets` lists it),
        `AdminSetFees` (`{"market", "maker_bps", "taker_bps", "cancelled_orders"}`),
        `AdminSetRisk` (`{"market", "risk"}`), `AdminHaltMarket` (`{"market", "halted"}`),
        `AdminCollectFees` and `AdminDeposit` (`{"address", "balances"}`: the credited
        account's balance of the token)."""
        client = None if http.client is None else http.client.host
        answer = await execute_command(node, request.body, request.signature, None, client)
        # Encoded here: the framework's generic encoder walks every value (a cost per order).
        return Response(encode(answer), media_type="application/json")


AccountOf = Callable[[Request, str | None, str | None, str | None], AccountId]
"""A signed read's account, from its request and its three headers (or the refusal)."""


def _account_of(node: Node) -> AccountOf:
    def account_of(
        request: Request, address: str | None, timestamp: str | None, signature: str | None
    ) -> AccountId:
        client = None if request.client is None else request.client.host
        headers = (address, timestamp, signature)
        return node.authenticate(client, headers, request.method, request.url.path)

    return account_of


def _account_routes(app: FastAPI, node: Node) -> None:
    account_of = _account_of(node)
    _stop_routes(app, node, account_of)

    @app.get(
        "/v1/account/balances",
        response_model=None,
        responses=_ok(schemas.Balances),
        tags=["signed"],
    )
    async def balances(
        request: Request,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """The signing account's balance of every token (as `dex balance --format json`)."""
        return await reads.balances(node, account_of(request, address, timestamp, signature))

    @app.get(
        "/v1/account/orders",
        response_model=None,
        responses=_ok(schemas.OpenOrders),
        tags=["signed"],
    )
    async def orders(
        request: Request,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """The signing account's open orders, oldest first, each with the time it was placed
        (as `dex orders --format json`)."""
        account = account_of(request, address, timestamp, signature)
        return await reads.open_orders(node, account)

    _history_route(app, node, account_of)


def _history_route(app: FastAPI, node: Node, account_of: AccountOf) -> None:
    @app.get(
        "/v1/account/history",
        response_model=None,
        responses=_ok(schemas.HistoryShape),
        tags=["signed"],
    )
    async def history(
        request: Request,
        market: Annotated[
            str | None,
            Query(min_length=1, max_length=MARKET_TEXT_MAX, description="only this market"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=HISTORY_LIMIT_MAX, description="the latest this many of each")
        ] = HISTORY_LIMIT_DEFAULT,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """The signing account's latest closed orders (filled or cancelled, with the reason)
        and fills (its side, role and fee), each newest first (as `dex history --format
        json`); 503 `storage_error` if the read model, which alone records history, is behind
        the journal (a node run with `read_model=False`)."""
        account = account_of(request, address, timestamp, signature)
        return await reads.history(node, account, market, limit)


def _stop_routes(app: FastAPI, node: Node, account_of: AccountOf) -> None:
    @app.get(
        "/v1/account/stops",
        response_model=None,
        responses=_ok(schemas.StopOrders),
        tags=["signed"],
    )
    async def stops(
        request: Request,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """The signing account's pending stop orders, in the order they were accepted (as
        `dex stops --format json`)."""
        return await reads.stops(node, account_of(request, address, timestamp, signature))

    @app.get(
        "/v1/account/withdrawals",
        response_model=None,
        responses=_ok(schemas.Withdrawals),
        tags=["signed"],
    )
    async def withdrawals(
        request: Request,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """The signing account's withdrawals with a destination, oldest first (as `dex
        withdrawals --format json`)."""
        account = account_of(request, address, timestamp, signature)
        return await reads.withdrawals(node, account)


STREAM_CHANNELS: Final = (DEPTH, TRADES)
STREAM_TRADES_DEFAULT: Final = 20


def _stream_routes(app: FastAPI, node: Node) -> None:
    @app.websocket("/v1/ws/market")
    async def market_stream(websocket: WebSocket) -> None:
        """A market's depth (snapshot, then diffs) and trades; see `tachyon.node.streams`."""
        await websocket.accept()
        try:
            market, kinds, depth, limit = _market_stream_query(websocket)
            await node.market(market)  # an unknown market is refused
        except TachyonError as exc:
            await refuse(websocket, 4000 + status_of(exc), f"{exc.code}: {exc}")
            return

        channels = [(kind, market) for kind in kinds]
        welcome = market_welcome(node, market, kinds, depth, limit)
        await _follow(node, websocket, "market", channels, welcome, depth)

    @app.websocket("/v1/ws/account")
    async def account_stream(websocket: WebSocket) -> None:
        """The signing account's order and fill events; see `tachyon.node.streams`."""
        await websocket.accept()
        query = websocket.query_params
        try:
            client = None if websocket.client is None else websocket.client.host
            headers = (query.get("address"), query.get("timestamp"), query.get("signature"))
            account = node.authenticate(client, headers, "GET", websocket.url.path)
        except TachyonError as exc:
            await refuse(websocket, 4000 + status_of(exc), f"{exc.code}: {exc}")
            return

        welcome = account_welcome(account)
        await _follow(node, websocket, "account", [(ACCOUNT, account)], welcome)


def _order_entry_route(app: FastAPI, node: Node) -> None:
    @app.websocket(ORDER_ENTRY_PATH)
    async def order_entry(websocket: WebSocket) -> None:
        """Signed commands, many in flight; see `tachyon.node.order_entry`."""
        await websocket.accept()
        timing = node.metrics.request_seconds

        def observe(status: int, seconds: float) -> None:
            timing.labels(ORDER_ENTRY_PATH, "WS", str(status)).observe(seconds)

        client = None if websocket.client is None else websocket.client.host

        def execute(
            body: str, signature: str, admitted: Admitted | TachyonError | None
        ) -> Awaitable[dict[str, object]]:
            return execute_command(node, body, signature, admitted, client)

        def charge() -> None:  # on the event loop, before the frame's signatures are checked
            node.spend_client(client)

        def admit(requests: list[tuple[str, str]]) -> list[Admitted | TachyonError]:
            return admit_many(
                requests, now_ns=node.clock(), window_ms=node.recv_window_ms, profile=node.profile
            )

        clients = node.metrics.stream_clients.labels("orders")
        clients.inc()
        try:
            entry = OrderEntry(
                websocket,
                execute,
                admit,
                observe,
                node.inflight_max,
                charge,
                node.inflight_bytes_max,
                lambda count: node.signatures_failed(client, count),
            )
            await entry.serve()
        finally:
            clients.dec()


async def _follow(
    node: Node,
    websocket: WebSocket,
    endpoint: str,
    channels: list[Channel],
    welcome: Welcome,
    depth: int = WHOLE_BOOK,
) -> None:
    """Subscribe with the welcome (see `tachyon.node.subscriptions`), then send everything
    newer until the client leaves."""
    with subscription(node, endpoint, channels, welcome, depth) as subscriber:
        await serve_subscriber(websocket, subscriber, abort_of(websocket.scope))


def _market_stream_query(websocket: WebSocket) -> tuple[str, tuple[str, ...], int, int]:
    """(market, channels, depth, trades) of a market stream's query; InvalidInput if bad."""
    query = websocket.query_params
    market = query.get("market", DEFAULT_MARKET.market_id)
    if not 1 <= len(market) <= MARKET_TEXT_MAX:
        raise InvalidInput(f"market must be 1 to {MARKET_TEXT_MAX} characters")
    kinds = tuple(query.get("channels", ",".join(STREAM_CHANNELS)).split(","))
    unknown = [kind for kind in kinds if kind not in STREAM_CHANNELS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise InvalidInput(
            f"channels must be distinct names among {', '.join(STREAM_CHANNELS)},"
            f" not {query.get('channels')!r}"
        )
    depth_text = query.get("depth")
    depth = (
        WHOLE_BOOK
        if depth_text == "all"
        else _int_query(depth_text, "depth", DEPTH_DEFAULT, WHOLE_BOOK, " or all")
    )
    limit = _int_query(query.get("trades"), "trades", STREAM_TRADES_DEFAULT, TRADES_LIMIT_MAX)
    return market, kinds, depth, limit


def _int_query(text: str | None, name: str, default: int, maximum: int, other: str = "") -> int:
    if text is None:
        return default
    digits_max = len(str(maximum))
    if not (text.isascii() and text.isdigit() and len(text) <= digits_max) or not (
        1 <= int(text) <= maximum
    ):
        raise InvalidInput(
            f"{name} must be a whole number from 1 to {maximum}{other}, not {text!r}"
        )
    return int(text)
