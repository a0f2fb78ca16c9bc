"""Command execution: what every protocol of the node (the REST route, its fast path, WebSocket
order entry, and any later one) does with one signed command.

`execute_command` admits the request (`tachyon.node.gateway`: the exchange's admission, the
node's window and profile), spends a token of its account's rate limit, submits it to the
sequencer, waits until it is durable and shapes the answer, counting and tracing it. It answers
with the answer's body or raises the TachyonError that refused the command; each protocol only
frames that in its own way. `Node` is what the routes share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from opentelemetry.trace import Span, SpanContext, Tracer

from tachyon.client import shapes
from tachyon.dex.ids import AccountId, MarketId
from tachyon.dex.model import MarketConfig
from tachyon.errors import BadSignature, StorageError, TachyonError, TokenNotFound
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import (
    AccountCommand,
    AmendOrder,
    CancelAll,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RequestWithdrawal,
    Withdraw,
)
from tachyon.exchange.service import CancelledOrders, Placement, StopOrder
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.node import schemas
from tachyon.node.admin import admin_answer
from tachyon.node.errors import RateLimited
from tachyon.node.gateway import Clock, admit_command, authenticate_read, decode_base64
from tachyon.node.metrics import NodeMetrics, order_type, order_type_of_body
from tachyon.node.order_entry import INFLIGHT_BYTES_MAX_DEFAULT, INFLIGHT_MAX_DEFAULT
from tachyon.node.ratelimit import RateLimiter
from tachyon.node.read_replay import SeenReads
from tachyon.node.sequencer import Sequencer
from tachyon.node.streams import QUEUE_BYTES_MAX_DEFAULT, StreamHub
from tachyon.onramp.stripe_api import StripeSettings

T = TypeVar("T")


@dataclass
class Node:
    """What every protocol's routes share: the sequencer (while running), the gateway's
    settings, the metrics, the rate limiters, the streams' hub and the connections' bounds."""

    profile: str
    recv_window_ms: int
    clock: Clock
    metrics: NodeMetrics
    limiter: RateLimiter | None
    hub: StreamHub
    stream_queue_max: int
    inflight_max: int = INFLIGHT_MAX_DEFAULT  # frames per order-entry connection
    inflight_bytes_max: int = INFLIGHT_BYTES_MAX_DEFAULT  # and their bytes
    stream_queue_bytes_max: int = QUEUE_BYTES_MAX_DEFAULT  # per stream client
    tracer: Tracer | None = None
    sequencer: Sequencer | None = None
    reads: SeenReads | None = None  # signed reads answered inside the window (set by the app)
    client_limiter: RateLimiter | None = None  # by client address, before signatures
    signature_failures: RateLimiter | None = None  # by client address: its failed checks
    markets: dict[str, MarketConfig] = field(default_factory=dict)  # decimals never change
    tokens: dict[str, TokenMeta] = field(default_factory=dict)
    data_dir: Path | None = None  # the exchange's directory: its read model is read there
    stripe: StripeSettings | None = None  # the card on-ramp, when enabled

    def running(self) -> Sequencer:
        if self.sequencer is None:
            raise StorageError("the node is not running")
        return self.sequencer

    def span(self, name: str) -> contextlib.AbstractContextManager[Span | None]:
        """A span of the request (None when tracing is not configured)."""
        if self.tracer is None:
            return contextlib.nullcontext()
        return self.tracer.start_as_current_span(name)

    def read_once(self, account: str, timestamp: str | None, signature: str | None) -> None:
        """Refuse a signed read whose signature was answered already (see `SeenReads`)."""
        if self.reads is not None and timestamp is not None and signature is not None:
            self.reads.use(account, int(timestamp), signature, self.clock())

    def spend_client(self, client: str | None) -> None:
        """Take a token of the client address's rate limit (before any signature check), or
        raise `RateLimited`: the address is over its rate, or failed too many signature checks
        lately. A client whose address the server does not know shares one with the others."""
        address, now_ns = client or "unknown", self.clock()
        if self.signature_failures is not None:
            try:
                self.signature_failures.check(address, now_ns)
            except RateLimited:
                self.metrics.bad_signature_refused()
                raise
        if self.client_limiter is not None:
            self.client_limiter.take(address, now_ns)

    def signatures_failed(self, client: str | None, count: int = 1) -> None:
        """`count` signature checks of the client address's requests failed: counted, and
        charged to its limit of failures."""
        self.metrics.signatures_failed(count)
        if self.signature_failures is not None:
            self.signature_failures.drain(client or "unknown", self.clock(), count)

    def checked(self, client: str | None, check: Callable[[], T]) -> T:
        """`check()`, a signature check of the client address's request: a `BadSignature`
        it raises is counted against the address (`signatures_failed`)."""
        try:
            return check()
        except BadSignature:
            self.signatures_failed(client)
            raise

    def authenticate(
        self,
        client: str | None,
        headers: tuple[str | None, str | None, str | None],
        method: str,
        path: str,
        body: bytes | None = None,
    ) -> AccountId:
        """The account a signed read (or request with `body`) from `client` proves, its
        address, timestamp and signature `headers` checked; charged to the client's and the
        account's rate limits, and refused if its signature was answered already."""
        self.spend_client(client)
        address, timestamp, signature = headers
        account = self.checked(
            client,
            lambda: authenticate_read(
                address,
                timestamp,
                signature,
                method=method,
                path=path,
                now_ns=self.clock(),
                window_ms=self.recv_window_ms,
                body=body,
            ),
        )
        self.spend(account)
        self.read_once(account, timestamp, signature)
        return account

    def spend(self, account: str) -> None:
        """Take a token of `account`'s rate limit, or raise `RateLimited`."""
        if self.limiter is not None:
            self.limiter.take(account, self.clock())

    def forget_venue(self) -> None:
        """Drop the cached markets after an operator's command (their fees may have changed;
        a new market or token is asked for when first met)."""
        self.markets.clear()

    async def market(self, market: str) -> MarketConfig:
        """The market's units (cached: a market's decimals are fixed once it exists)."""
        config = self.markets.get(market)
        if config is None:
            config = await self.running().read(
                lambda host: host.refresh().service.get_market(MarketId(market))
            )
            self.markets[market] = config
        return config

    async def token(self, token: str) -> TokenMeta:
        meta = self.tokens.get(token)
        if meta is None:
            metas = await self.running().read(lambda host: host.tokens())
            self.tokens.update((each.symbol, each) for each in metas)
            meta = self.tokens.get(token)
            if meta is None:
                known = ", ".join(sorted(self.tokens)) or "none"
                raise TokenNotFound(f"unknown token {token!r}; tokens: {known}")
        return meta


async def execute_command(
    node: Node,
    body_text: str,
    signature_text: str,
    admitted: Admitted | TachyonError | None = None,
    client: str | None = None,
) -> dict[str, object]:
    """Admit, execute and count one signed command (base64 body and signature): the answer's
    body once it is durable, or the TachyonError that refused it. Every protocol alike.
    `admitted`: what `admit_many` made of the request already (its body decoded once, its
    signature checked off the event loop, its client charged), or None to charge `client`'s
    rate limit and admit it here."""
    with node.span("tachyon.command") as span:
        kind: str | None = None
        body: bytes | None = None
        try:
            body = decode_base64(body_text, "body")
            if admitted is None:
                node.spend_client(client)
                signature = decode_base64(signature_text, "signature")
                admitted = node.checked(
                    client,
                    lambda: admit_command(
                        body,
                        signature,
                        now_ns=node.clock(),
                        window_ms=node.recv_window_ms,
                        profile=node.profile,
                    ),
                )
            elif isinstance(admitted, TachyonError):
                raise admitted
            command = admitted.command
            assert isinstance(command, AccountCommand), "admission lets account commands in"
            kind = order_type(command)
            if span is not None:
                span.update_name(f"tachyon.{kind}")
                span.set_attribute("tachyon.account", command.account)
            node.spend(command.account)
            trace = None if span is None else span.get_span_context()
            answer = await _execute(node, command, admitted, trace)
        except TachyonError as exc:
            if kind is None:  # refused before the gateway named it: its type off the body
                kind = "unknown" if body is None else order_type_of_body(body)
            node.metrics.order(kind, exc.code)
            if span is not None:
                span.set_attribute("tachyon.outcome", exc.code)
            raise
        if span is not None:
            span.set_attribute("tachyon.outcome", "accepted")
    node.metrics.order(kind, "accepted")
    return answer


async def _execute(
    node: Node, command: AccountCommand, admitted: Admitted, trace: SpanContext | None
) -> dict[str, object]:
    """Submit an admitted command and shape its answer."""
    sequencer = node.running()
    match command:
        case PlaceLimit() | PlaceMarket():  # submitted first: one connection's stay in order
            outcome, receipt = await sequencer.submit_with_receipt(admitted, trace)
            placement = _placement(outcome)
            return schemas.placement_json(await node.market(command.market), placement, receipt)
        case PlaceOrder() | PlaceStop() | CancelOrder() | AmendOrder() | CancelClientOrder():
            # Answered with its order's market. A cancel is judged by the exchange even when
            # the order is not open: its refusal is journaled, so these bytes cannot cancel an
            # order that opens later.
            outcome, receipt = await sequencer.submit_with_receipt(admitted, trace)
            if isinstance(outcome, StopOrder):
                return shapes.stop_json(await node.market(outcome.market), outcome)
            placement = _placement(outcome)
            market = await node.market(placement.market)
            return schemas.placement_json(market, placement, receipt)
        case CancelAll():  # each cancelled order with its market, at the command's time
            cancelled, receipt = await sequencer.submit_with_receipt(admitted, trace)
            assert isinstance(cancelled, CancelledOrders), cancelled
            return {
                "cancelled": [
                    schemas.placement_json(await node.market(each.market), each, receipt)
                    for each in cancelled.placements
                ]
            }
        case RequestWithdrawal():
            withdrawal = await sequencer.submit(admitted, trace)
            assert isinstance(withdrawal, Withdrawal), withdrawal
            meta = await node.token(command.token)
            return {"withdrawal": shapes.withdrawal_json(meta.decimals, withdrawal)}
        case Deposit() | Withdraw():
            record = await sequencer.submit(admitted, trace)
            assert isinstance(record, BalanceRecord), record
            meta = await node.token(command.token)
            return {"address": command.account, "balances": [schemas.balance_json(meta, record)]}
    outcome = await sequencer.submit(admitted, trace)  # the operator's: answered from the state
    node.forget_venue()  # a new token or market: the caches ask again
    return await sequencer.read(lambda host: admin_answer(host.state, command, outcome))


def _placement(outcome: object) -> Placement:
    assert isinstance(outcome, Placement), outcome
    return outcome
