"""Goal: every command and read over gRPC answers what it answers over REST. Method: two real
nodes on 127.0.0.1 with one operator; each step of one scripted session (deposits, limit,
market, client-id, stop and amended orders, cancels of every kind, withdrawals, the operator's
commands, and refusals) is signed once and sent to one node over REST and to the other over
gRPC; answers and refusals are compared field by field (journal times aside: each node stamps
its own), then every read: over REST and gRPC of the same node exactly, and across nodes. A
typed message is compared as `message_json` gives it back (MessageToDict by field name, every
field, 64-bit integers unquoted) against the REST JSON without its nulls (an unset `optional`
field); the node builds each message with a ParseDict that refuses a key the message lacks, so
a REST field missing from the .proto fails the call, and this test. Only the operator's venue
commands are answered with JSON text."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from websockets.sync.client import ClientConnection, connect

from tachyon.client.signing import read_message
from tachyon.dex import Side
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import (
    AdminAddToken,
    AdminDeposit,
    AdminSetFees,
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
    RequestWithdrawal,
    Withdraw,
    encode_command,
)
from tachyon.node.grpc_errors import code_of
from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_messages import account_json, answer_json, message_json
from tests.node.grpc_support import GrpcNode, grpc_node, refusal, signed_command, signed_read
from tests.node.support import MARKET, USDC, Trader, b64

pytestmark = pytest.mark.network
STREAM_DEADLINE_S = 30.0
ACCOUNT_READS = (
    "/v1/account/balances",
    "/v1/account/orders",
    "/v1/account/history",
    "/v1/account/stops",
    "/v1/account/withdrawals",
)
VENUE_COMMANDS = (AdminAddToken, AdminSetFees)
"""The session's commands whose answers are JSON text (`CommandAnswer.json`)."""


def _without_nulls(value: Any) -> Any:
    """`value` without its null fields: what an unset `optional` field leaves out."""
    if isinstance(value, dict):
        return {key: _without_nulls(each) for key, each in value.items() if each is not None}
    if isinstance(value, list):
        return [_without_nulls(each) for each in value]
    return value


def _timeless(value: Any) -> Any:
    """`value` with every journal time (a key ending in time_ns) blanked: each node's own."""
    if isinstance(value, dict):
        return {
            key: "<time>" if key.endswith("time_ns") else _timeless(each)
            for key, each in value.items()
        }
    if isinstance(value, list):
        return [_timeless(each) for each in value]
    return value


class _Session:
    """Each step signed once: over REST to node `rest`, over gRPC to node `rpc`."""

    def __init__(self, rest: GrpcNode, rpc: GrpcNode) -> None:
        self.rest, self.rpc = rest, rpc
        self.steps = 0

    def send(self, trader: Trader, command: AnyCommand, key_of: Trader | None = None) -> Any:
        """The answer (both protocols equal), or None if refused (equally); `key_of`: another
        trader whose key signs (a bad signature)."""
        body = encode_command(command)
        signature = sign((key_of or trader).key, body)
        by_rest = self.rest.http.post(
            "/v1/commands", json={"body": b64(body), "signature": b64(signature)}
        )
        request = pb.SignedCommand(body=body, signature=signature)
        self.steps += 1
        try:
            answer = self.rpc.stub.SubmitCommand(request)
        except grpc.RpcError as exc:
            refused = refusal(exc)
        else:
            assert by_rest.status_code == 200, by_rest.text
            is_json = answer.WhichOneof("answer") == "json"
            assert is_json == isinstance(command, VENUE_COMMANDS), answer
            by_grpc = _without_nulls(answer_json(answer))
            assert _timeless(by_grpc) == _timeless(_without_nulls(by_rest.json()))
            return by_grpc
        assert by_rest.status_code != 200, f"REST answered {by_rest.text}, gRPC refused {refused}"
        error = by_rest.json()["error"]
        assert refused == (code_of(by_rest.status_code), error["code"], error["message"])
        return None


def _play(session: _Session, alice: Trader, bob: Trader, operator: Trader) -> None:
    send = session.send
    for trader in (alice, bob):
        send(trader, Deposit(trader.address, "USDC", 10_000 * USDC, trader.nonce()))
        send(trader, Deposit(trader.address, "BASE", 100, trader.nonce()))
    ask = send(
        alice, PlaceLimit(alice.address, MARKET, Side.ASK, 101 * USDC, 5, nonce=alice.nonce())
    )
    bid = send(
        alice, PlaceLimit(alice.address, MARKET, Side.BID, 99 * USDC, 4, nonce=alice.nonce())
    )
    send(bob, PlaceLimit(bob.address, MARKET, Side.BID, 101 * USDC, 2, nonce=bob.nonce()))
    send(bob, PlaceMarket(bob.address, MARKET, Side.ASK, 1, nonce=bob.nonce()))
    send(
        alice,
        PlaceOrder(
            alice.address,
            MARKET,
            Side.BID,
            98 * USDC,
            3,
            client_order_id="c-1",
            nonce=alice.nonce(),
        ),
    )
    send(alice, AmendOrder(alice.address, qty=2, client_order_id="c-1", nonce=alice.nonce()))
    send(alice, CancelClientOrder(alice.address, "c-1", nonce=alice.nonce()))
    send(
        bob,
        PlaceStop(
            bob.address,
            MARKET,
            Side.BID,
            105 * USDC,
            106 * USDC,
            1,
            client_order_id="s-1",
            nonce=bob.nonce(),
        ),
    )
    send(bob, PlaceLimit(bob.address, MARKET, Side.BID, 90 * USDC, 1, nonce=bob.nonce()))
    send(bob, CancelAll(bob.address, MARKET, nonce=bob.nonce()))
    send(alice, CancelOrder(alice.address, bid["order_id"], nonce=alice.nonce()))
    send(bob, RequestWithdrawal(bob.address, "USDC", 10 * USDC, "iban:X", nonce=bob.nonce()))
    send(bob, Withdraw(bob.address, "BASE", 1, nonce=bob.nonce()))
    send(operator, AdminAddToken(operator.address, "ETH", 18, nonce=operator.nonce()))
    send(operator, AdminSetFees(operator.address, MARKET, 1, 2, nonce=operator.nonce()))
    send(
        operator, AdminDeposit(operator.address, bob.address, "ETH", 10**18, nonce=operator.nonce())
    )
    refused: list[Callable[[], Any]] = [
        lambda: send(
            bob, PlaceLimit(bob.address, MARKET, Side.BID, 100 * USDC, 10**6, nonce=bob.nonce())
        ),
        lambda: send(bob, CancelOrder(bob.address, ask["order_id"], nonce=bob.nonce())),
        lambda: send(bob, Withdraw(bob.address, "BASE", 1, nonce=bob.nonce()), key_of=alice),
        lambda: send(bob, AdminAddToken(bob.address, "SOL", 9, nonce=bob.nonce())),
        lambda: send(bob, Withdraw(bob.address, "NOPE", 1, nonce=bob.nonce())),
        lambda: send(bob, Withdraw(bob.address, "BASE", 1, nonce=bob.last_nonce)),
    ]
    for refuse in refused:
        assert refuse() is None


def _reads(node: GrpcNode, trader: Trader) -> dict[str, tuple[Any, Any]]:
    """Each account read of `trader` and each public read: (over REST, over gRPC)."""
    stub = node.stub
    both: dict[str, tuple[Any, Message]] = {
        "markets": (node.http.get("/v1/markets"), stub.GetMarkets(pb.MarketsRequest())),
        "tokens": (node.http.get("/v1/tokens"), stub.GetTokens(pb.TokensRequest())),
        "orderbook": (
            node.http.get("/v1/orderbook", params={"market": MARKET, "depth": 100}),
            stub.GetOrderBook(pb.OrderBookRequest(market=MARKET, depth=100)),
        ),
        "trades": (
            node.http.get("/v1/trades", params={"market": MARKET, "limit": 100}),
            stub.GetTrades(pb.TradesRequest(market=MARKET, limit=100)),
        ),
    }
    calls: dict[str, Callable[[pb.SignedRead], Message]] = {
        "/v1/account/balances": stub.GetBalances,
        "/v1/account/orders": stub.GetOpenOrders,
        "/v1/account/stops": stub.GetStops,
        "/v1/account/withdrawals": stub.GetWithdrawals,
    }
    for path in ACCOUNT_READS:
        trader.client = node.http
        params: dict[str, str | int] = {"market": MARKET, "limit": 100}
        if path in calls:
            answer = calls[path](signed_read(trader, path))
            both[path] = (trader.read(path), answer)
        else:
            request = pb.HistoryRequest(auth=signed_read(trader, path), market=MARKET, limit=100)
            both[path] = (trader.read(path, params=params), stub.GetHistory(request))
    out: dict[str, tuple[Any, Any]] = {}
    for name, (by_rest, by_grpc) in both.items():
        assert by_rest.status_code == 200, by_rest.text
        out[name] = (_without_nulls(by_rest.json()), message_json(by_grpc))
    return out


def test_every_command_and_read_over_grpc_answers_as_over_rest(tmp_path: Path) -> None:
    operator_key = Ed25519PrivateKey.generate()
    options = {"operator": address_of(operator_key), "rate_limit": None}
    with (
        grpc_node(tmp_path / "rest", **options) as rest,
        grpc_node(tmp_path / "grpc", **options) as rpc,
    ):
        alice, bob, operator = Trader(rest.http), Trader(rest.http), Trader(rest.http, operator_key)
        session = _Session(rest, rpc)
        _play(session, alice, bob, operator)
        assert session.steps >= 25
        for trader in (alice, bob):
            on_rest = _reads(rest, trader)
            on_grpc = _reads(rpc, trader)
            for name, (by_rest, by_grpc) in on_grpc.items():
                assert by_grpc == by_rest, name  # one node, two protocols: exactly
                assert _timeless(by_grpc) == _timeless(on_rest[name][0]), name
        history = on_grpc["/v1/account/history"][1]
        assert history["orders"] and history["fills"]  # the session made some of each
        assert on_grpc["/v1/account/withdrawals"][1]["withdrawals"]


def _trades_at(price: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a frame is a trades message with a trade at `price`."""
    return lambda frame: (
        frame["type"] == "trades" and any(row["price"] == price for row in frame["trades"])
    )


def _ask_gone(price: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a frame is a depth diff emptying the ask level at `price`."""
    return lambda frame: frame["type"] == "diff" and {"price": price, "qty": "0"} in frame["asks"]


def _fill_at(price: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a frame tells the account a fill at `price`."""
    return lambda frame: any(
        event["type"] == "fill" and event["price"] == price for event in frame.get("events", [])
    )


def _until(
    receive: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Messages received up to the first that is `done`."""
    received = [receive()]
    while not done(received[-1]):
        received.append(receive())
    return received


def _sockets(node: GrpcNode, trader: Trader, stack: ExitStack) -> dict[str, ClientConnection]:
    """The WebSocket depth stream (every level), trades stream and `trader`'s account stream."""
    ts = str(time.time_ns())
    signature = b64(trader.key.sign(read_message("GET", "/v1/ws/account", ts)))
    market = {"market": MARKET}

    def _socket(path: str, query: dict[str, str]) -> ClientConnection:
        url = f"{node.url.replace('http://', 'ws://')}{path}?{urlencode(query)}"
        return stack.enter_context(connect(url))

    return {
        "depth": _socket("/v1/ws/market", {**market, "channels": "depth", "depth": "all"}),
        "trades": _socket("/v1/ws/market", {**market, "channels": "trades", "trades": "20"}),
        "account": _socket(
            "/v1/ws/account",
            {"address": trader.address, "timestamp": ts, "signature": signature},
        ),
    }


def _receiver(socket: ClientConnection) -> Callable[[], dict[str, Any]]:
    return lambda: json.loads(socket.recv(timeout=STREAM_DEADLINE_S))


def _streams(
    node: GrpcNode, trader: Trader
) -> tuple[dict[str, Callable[[], dict[str, Any]]], list[grpc.Call]]:
    """The same three streams over gRPC: each next message as the WebSocket frame, and the
    calls (to cancel)."""
    book = node.stub.StreamBook(
        pb.BookStreamRequest(market=MARKET, all_levels=True), timeout=STREAM_DEADLINE_S
    )
    trades = node.stub.StreamTrades(
        pb.TradesStreamRequest(market=MARKET, limit=20), timeout=STREAM_DEADLINE_S
    )
    events = node.stub.StreamAccount(
        signed_read(trader, "/v1/ws/account"), timeout=STREAM_DEADLINE_S
    )
    receivers: dict[str, Callable[[], dict[str, Any]]] = {
        "depth": lambda: message_json(next(book)),
        "trades": lambda: message_json(next(trades)),
        "account": lambda: account_json(next(events)),
    }
    return receivers, [book, trades, events]


def _flow(node: GrpcNode, alice: Trader, bob: Trader) -> None:
    """Two trades (at 100, then 110), each after a stop placed and cancelled."""
    for price, qty in ((100, 2), (110, 1)):
        stop = PlaceStop(
            bob.address, MARKET, Side.BID, 120 * USDC, 121 * USDC, 1, nonce=bob.nonce()
        )
        for trader, command in (
            (
                alice,
                PlaceLimit(alice.address, MARKET, Side.ASK, price * USDC, qty, nonce=alice.nonce()),
            ),
            (bob, stop),
            (bob, CancelAll(bob.address, MARKET, nonce=bob.nonce())),
            (bob, PlaceLimit(bob.address, MARKET, Side.BID, price * USDC, qty, nonce=bob.nonce())),
        ):
            node.stub.SubmitCommand(signed_command(trader, command))


def test_every_stream_message_over_grpc_is_the_websocket_frame(tmp_path: Path) -> None:
    """Goal: the gRPC streams are the WebSocket's, typed. Method: the depth, trades and
    account streams over both protocols, all subscribed before a flow (resting orders, trades,
    stops placed and cancelled), each followed up to the flow's last trade: message for
    message, field for field."""
    with grpc_node(tmp_path / "node", rate_limit=None) as node:
        alice, bob = Trader(node.http), Trader(node.http)
        for trader in (alice, bob):
            for token, amount in (("USDC", 10_000 * USDC), ("BASE", 100)):
                deposit = Deposit(trader.address, token, amount, trader.nonce())
                node.stub.SubmitCommand(signed_command(trader, deposit))
        stack = ExitStack()
        sockets, (streams, calls) = _sockets(node, alice, stack), _streams(node, alice)
        done = {"depth": _ask_gone("110"), "trades": _trades_at("110"), "account": _fill_at("110")}
        greeted = {
            name: (receive(), sockets[name].recv(timeout=STREAM_DEADLINE_S))
            for name, receive in streams.items()
        }  # each subscribed, then the flow
        _flow(node, alice, bob)
        with stack:
            for name, socket in sockets.items():
                by_ws = [json.loads(greeted[name][1]), *_until(_receiver(socket), done[name])]
                by_grpc = [greeted[name][0], *_until(streams[name], done[name])]
                assert by_grpc == _without_nulls(by_ws), name
                assert len(by_grpc) >= 3, name
        for call in calls:
            call.cancel()
