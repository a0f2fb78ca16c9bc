"""The node's Prometheus metrics, in a registry of its own (one per application, so several
applications in one process never share or collide), served as text at `GET /metrics`.

    tachyon_orders_total{type, outcome}           commands submitted, by type (limit, market,
                                                  cancel, deposit, withdraw, unknown) and outcome
                                                  ("accepted" or the refusal's error code)
    tachyon_trades_total{market}                  trades made
    tachyon_matched_volume_total{market}          traded quantity, in base minor units
    tachyon_http_request_duration_seconds{route, method, status}
                                                  histogram; `route` is the path template
                                                  ("unmatched" for an unknown path)
    tachyon_journal_commit_duration_seconds       histogram of the sequencer's batch commits
    tachyon_journal_batch_size                    histogram of commands per journal commit
    tachyon_book_levels{market, side}             price levels on each side (counted on scrape)
    tachyon_stream_clients{endpoint}              open WebSocket clients (market, account, orders)
    tachyon_stream_cutoffs_total                  slow stream clients cut off (past the
                                                  messages or bytes a client may fall behind)
    tachyon_connections_refused_total             WebSocket handshakes past a client's limit
    tachyon_signature_failures_total              signed requests whose signature check failed
    tachyon_bad_signature_refusals_total          signed requests refused unchecked: their
                                                  client address failed too many checks lately

Trades, volume and the journal's figures are taken from each durable batch (the sequencer's
`on_commit` observer, on its worker thread); orders where the request is answered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final, final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tachyon.dex.ids import MarketId
from tachyon.errors import TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import (
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    SignedCommand,
    Withdraw,
    decode_command,
)
from tachyon.exchange.events import Filled
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Outcome
from tachyon.storage.host import EmbeddedExchange

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
BOOK_LEVELS_COUNTED_MAX: Final = 1_000_000
"""Levels per side counted for `tachyon_book_levels`; a deeper side reads as this many."""
UNMATCHED_ROUTE: Final = "unmatched"
_METHODS: Final = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

_LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
_BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_TYPES: Final[dict[type, str]] = {
    PlaceLimit: "limit",
    PlaceMarket: "market",
    CancelOrder: "cancel",
    CancelAll: "cancel_all",
    AmendOrder: "amend",
    PlaceOrder: "order",
    PlaceStop: "stop",
    CancelClientOrder: "cancel",
    Deposit: "deposit",
    Withdraw: "withdraw",
}


def order_type(command: object) -> str:
    """The `type` label of a command (a signed one by its body): limit, market, cancel,
    deposit, withdraw, or unknown."""
    if isinstance(command, SignedCommand):
        command = _decoded(command.body)
    return _TYPES.get(type(command), "unknown")


def order_type_of_body(body: bytes) -> str:
    """The `type` label of a command's canonical bytes ("unknown" if they are not one)."""
    return order_type(_decoded(body))


def _decoded(body: bytes) -> AnyCommand | None:
    try:
        return decode_command(body)
    except TachyonError:
        return None


@final
class NodeMetrics:
    """The node's metrics and their registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.orders = Counter(
            "tachyon_orders",
            "Commands submitted, by type and outcome (accepted, or the refusal's error code).",
            ["type", "outcome"],
            registry=registry,
        )
        self.trades = Counter("tachyon_trades", "Trades made.", ["market"], registry=registry)
        self.volume = Counter(
            "tachyon_matched_volume",
            "Quantity traded, in base minor units.",
            ["market"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "tachyon_http_request_duration_seconds",
            "HTTP request latency, by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "tachyon_journal_commit_duration_seconds",
            "Time to apply and durably commit one batch of commands.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "tachyon_journal_batch_size",
            "Commands per journal commit.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.book_levels = Gauge(
            "tachyon_book_levels",
            "Price levels on each side of each market's book (counted when scraped).",
            ["market", "side"],
            registry=registry,
        )

        self.stream_clients = Gauge(
            "tachyon_stream_clients",
            "Open WebSocket clients, by endpoint (market, account, orders).",
            ["endpoint"],
            registry=registry,
        )
        self.stream_cutoffs = Counter(
            "tachyon_stream_cutoffs",
            "Stream clients closed for falling too far behind (slow consumers).",
            registry=registry,
        )
        self.onramp_events = Counter(
            "tachyon_onramp_events",
            "Stripe webhook deliveries, by event type and outcome (applied, ignored, or the"
            " exchange's refusal code such as already_applied).",
            ["type", "outcome"],
            registry=registry,
        )
        self._strangers()

    def _strangers(self) -> None:
        """The counters of what the node refused a client address for its own protection."""
        registry = self.registry
        self.connections_refused = Counter(
            "tachyon_connections_refused",
            "WebSocket handshakes refused: the client address holds its limit of connections.",
            registry=registry,
        )
        self.signature_failures = Counter(
            "tachyon_signature_failures",
            "Signed requests (commands, array frames' requests, signed reads) whose signature"
            " check failed.",
            registry=registry,
        )
        self.bad_signature_refusals = Counter(
            "tachyon_bad_signature_refusals",
            "Signed requests refused before any check: their client address failed too many"
            " signature checks lately.",
            registry=registry,
        )

    def signatures_failed(self, count: int) -> None:
        self.signature_failures.inc(count)

    def bad_signature_refused(self) -> None:
        self.bad_signature_refusals.inc()

    def connection_refused(self) -> None:
        self.connections_refused.inc()

    def stream_cut(self) -> None:
        self.stream_cutoffs.inc()

    def order(self, kind: str, outcome: str) -> None:
        self.orders.labels(kind, outcome).inc()

    def on_commit(
        self,
        commands: Sequence[Admitted],
        outcomes: Sequence[Outcome | TachyonError],
        seconds: float,
    ) -> None:
        """The sequencer's observer: a durable batch's figures (on its worker thread)."""
        self.commit_seconds.observe(seconds)
        self.batch_size.observe(len(commands))
        for outcome in outcomes:
            if type(outcome) is not Placement:
                continue
            fills = [event.trade.qty for event in outcome.events if type(event) is Filled]
            if fills:
                self.trades.labels(outcome.market).inc(len(fills))
                self.volume.labels(outcome.market).inc(sum(fills))

    def set_book_levels(self, levels: Sequence[tuple[str, int, int]]) -> None:
        for market, bids, asks in levels:
            self.book_levels.labels(market, "bid").set(bids)
            self.book_levels.labels(market, "ask").set(asks)

    def expose(self) -> bytes:
        return generate_latest(self.registry)


def book_levels(host: EmbeddedExchange) -> list[tuple[str, int, int]]:
    """(market, bid levels, ask levels) of every market (run on the sequencer's thread)."""
    counts: list[tuple[str, int, int]] = []
    for config in host.markets():
        depth = host.book(BOOK_LEVELS_COUNTED_MAX, MarketId(config.market_id))
        counts.append((config.market_id, len(depth.bids), len(depth.asks)))
    return counts


class RequestTimer:
    """ASGI middleware: observe each HTTP request's latency by route template, method and
    status (a request that raises counts as 500). Labels stay bounded: an unknown path is
    "unmatched", an unusual method "other"."""

    def __init__(self, app: ASGIApp, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            self.metrics.request_seconds.labels(
                route if isinstance(route, str) else UNMATCHED_ROUTE,
                method if (method := scope.get("method")) in _METHODS else "other",
                str(status),
            ).observe(time.perf_counter() - started)
