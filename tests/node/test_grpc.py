"""Goal: the node's gRPC service on a real node: the book followed over its stream is the
node's book after a random flow entered over its order-entry stream; every refusal has its
mapped status and the REST code as its ErrorInfo reason, and changes nothing; the account and
trades streams tell what happened; a burst of 4,000 concurrent orders is answered whole; the
health service answers SERVING; TLS works with a
self-signed certificate, and the CLI refuses half a TLS configuration. Method: `serve` in a
subprocess with gRPC on 127.0.0.1 (or `tachyon node serve` for the CLI's options); grpc's
synchronous client; every wait bounded by a call deadline."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tachyon.client.stream import BookFollower
from tachyon.dex import Side
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.exchange.commands import AnyCommand, CancelOrder, Deposit, PlaceLimit, Withdraw
from tachyon.node.errors import REQUEST_BYTES_MAX
from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_gen.exchange_pb2_grpc import ExchangeStub
from tachyon.node.grpc_messages import message_json
from tests.cli.helpers import Cli, assert_error
from tests.node.grpc_support import GrpcNode, grpc_node, refusal, signed_command, signed_read
from tests.node.support import MARKET, USDC, Trader, state
from tests.support.node_process import serving

pytestmark = pytest.mark.network
STREAM_DEADLINE_S = 60.0
ORDERS = 300
WAVES = 10  # EnterOrders calls: pipelined at once, 300 orders may make only a few batches
Code = grpc.StatusCode


def _funded(node: GrpcNode, count: int) -> list[Trader]:
    traders = [Trader(node.http) for _ in range(count)]
    for trader in traders:
        for token, amount in (("USDC", 10**6 * USDC), ("BASE", 10**4)):
            reply = node.stub.SubmitCommand(
                signed_command(trader, Deposit(trader.address, token, amount, trader.nonce()))
            )
            assert reply.balances.balances
    return traders


def _random_orders(traders: list[Trader], seed: int) -> list[pb.SignedCommand]:
    rng = random.Random(seed)
    commands = []
    for index in range(ORDERS):
        trader = traders[index % len(traders)]
        side = rng.choice([Side.BID, Side.ASK])
        order = PlaceLimit(
            trader.address,
            MARKET,
            side,
            rng.randint(95, 105) * USDC,
            rng.randint(1, 5),
            nonce=trader.nonce(),
        )
        commands.append(signed_command(trader, order))
    return commands


def test_the_book_followed_over_grpc_is_the_nodes_after_a_random_flow(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange", rate_limit=None) as node:
        traders = _funded(node, 3)
        stream = node.stub.StreamBook(
            pb.BookStreamRequest(market=MARKET, all_levels=True), timeout=STREAM_DEADLINE_S
        )
        follower = BookFollower(DEFAULT_MARKET)
        follower.apply(message_json(next(stream)))  # the snapshot: subscribed
        orders, replies = _random_orders(traders, 7), []
        for wave in range(WAVES):  # each wave answered before the next: at least a batch each
            chunk = orders[wave * ORDERS // WAVES : (wave + 1) * ORDERS // WAVES]
            replies += list(node.stub.EnterOrders(iter(chunk), timeout=STREAM_DEADLINE_S))
        assert len(replies) == ORDERS
        assert all(reply.answer.WhichOneof("answer") == "placement" for reply in replies)
        marker = traders[0]  # a last order at a price no one else uses: the stream's end
        node.stub.SubmitCommand(
            signed_command(
                marker, PlaceLimit(marker.address, MARKET, Side.BID, USDC, 1, nonce=marker.nonce())
            )
        )
        diffs = 0
        while USDC not in follower.bids:
            follower.apply(message_json(next(stream)))  # raises on a gap
            diffs += 1
        stream.cancel()
        book = node.http.get("/v1/orderbook", params={"market": MARKET, "depth": 1000}).json()
    bids, asks = follower.levels(1000)
    assert [(int(row["price"]) * USDC, int(row["qty"])) for row in book["bids"]] == bids
    assert [(int(row["price"]) * USDC, int(row["qty"])) for row in book["asks"]] == asks
    assert diffs >= WAVES


def test_enter_orders_answers_each_command_in_order_refusals_included(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange") as node:
        (alice,) = _funded(node, 1)
        commands: list[AnyCommand] = [
            PlaceLimit(alice.address, MARKET, Side.BID, 90 * USDC, 1, nonce=alice.nonce()),
            PlaceLimit(alice.address, MARKET, Side.BID, 90 * USDC, 10**9, nonce=alice.nonce()),
            CancelOrder(alice.address, 1, nonce=alice.nonce()),
        ]
        replies = list(
            node.stub.EnterOrders(
                iter([signed_command(alice, each) for each in commands]), timeout=STREAM_DEADLINE_S
            )
        )
    assert [reply.WhichOneof("outcome") for reply in replies] == ["answer", "refusal", "answer"]
    assert replies[0].answer.placement.status == "new"
    assert replies[1].refusal.code == "insufficient_funds"
    assert replies[2].answer.placement.status == "cancelled"


def _refused(node: GrpcNode, traders: list[Trader], call: Any) -> tuple[Code, str]:
    """The call's refusal (code, reason); the node's observable state as it was."""
    before = state(node.http, *traders)
    with pytest.raises(grpc.RpcError) as refused:
        call()
    code, reason, message = refusal(refused.value)
    assert message
    assert state(node.http, *traders) == before
    return code, reason


def test_bad_input_is_refused_with_the_mapped_status_and_changes_nothing(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange") as node:
        alice, bob = _funded(node, 2)
        order = PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 1, nonce=alice.nonce())
        placed = node.stub.SubmitCommand(signed_command(alice, order)).placement
        stub, traders = node.stub, [alice, bob]
        forged = signed_command(bob, Withdraw(alice.address, "USDC", 1, alice.nonce()))
        stale = signed_read(alice, "/v1/account/balances", timestamp_ns=1)
        cases = {
            (Code.INVALID_ARGUMENT, "invalid_input"): lambda: stub.SubmitCommand(
                pb.SignedCommand(body=b"not a command", signature=b"x" * 64)
            ),
            (Code.INVALID_ARGUMENT, "invalid_request"): lambda: stub.GetOrderBook(
                pb.OrderBookRequest(depth=5_000)
            ),
            (Code.INVALID_ARGUMENT, "outside_receive_window"): lambda: stub.GetBalances(stale),
            (Code.UNAUTHENTICATED, "bad_signature"): lambda: stub.SubmitCommand(forged),
            (Code.UNAUTHENTICATED, "unauthorized"): lambda: stub.GetOpenOrders(pb.SignedRead()),
            (Code.PERMISSION_DENIED, "order_not_owned"): lambda: stub.SubmitCommand(
                signed_command(bob, CancelOrder(bob.address, placed.order_id, bob.nonce()))
            ),
            (Code.NOT_FOUND, "market_not_found"): lambda: stub.GetTrades(
                pb.TradesRequest(market="NOPE/USDC")
            ),
            (Code.FAILED_PRECONDITION, "insufficient_funds"): lambda: stub.SubmitCommand(
                signed_command(bob, Withdraw(bob.address, "BASE", 10**9, bob.nonce()))
            ),
        }
        for expected, call in cases.items():
            assert _refused(node, traders, call) == expected
        with pytest.raises(grpc.RpcError) as too_large:  # grpc's own limit: REST's 413
            stub.SubmitCommand(pb.SignedCommand(body=b"x" * REQUEST_BYTES_MAX, signature=b""))
        assert too_large.value.code() == Code.RESOURCE_EXHAUSTED
        assert _rate_limited(node, traders) == (Code.RESOURCE_EXHAUSTED, "rate_limited")


def test_streams_and_the_history_refuse_bad_input_with_the_mapped_status(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange") as node:
        (alice,) = _funded(node, 1)
        stub, deadline = node.stub, STREAM_DEADLINE_S
        history = pb.HistoryRequest(auth=signed_read(alice, "/v1/account/history"), market="X" * 65)
        cases = [
            ((Code.NOT_FOUND, "market_not_found"), lambda: next(
                stub.StreamBook(pb.BookStreamRequest(market="NOPE/USDC"), timeout=deadline)
            )),
            ((Code.NOT_FOUND, "market_not_found"), lambda: next(
                stub.StreamTrades(pb.TradesStreamRequest(market="NOPE/USDC"), timeout=deadline)
            )),
            ((Code.INVALID_ARGUMENT, "invalid_request"), lambda: next(
                stub.StreamTrades(pb.TradesStreamRequest(limit=5_000), timeout=deadline)
            )),
            ((Code.UNAUTHENTICATED, "unauthorized"), lambda: next(
                stub.StreamAccount(pb.SignedRead(), timeout=deadline)
            )),
            ((Code.INVALID_ARGUMENT, "invalid_request"), lambda: stub.GetHistory(history)),
        ]  # fmt: skip
        for expected, call in cases:
            assert _refused(node, [alice], call) == expected


def _rate_limited(node: GrpcNode, traders: list[Trader]) -> tuple[Code, str]:
    """Signed reads of a new account until its rate limit (burst 100) refuses one."""
    spender = Trader(node.http)
    for _ in range(1_000):
        try:
            node.stub.GetBalances(signed_read(spender, "/v1/account/balances"))
        except grpc.RpcError as exc:
            code, reason, _ = refusal(exc)
            return code, reason
    raise AssertionError("1,000 reads at once and no refusal")


def test_the_account_and_trades_streams_tell_what_happened(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange") as node:
        alice, bob = _funded(node, 2)
        read = signed_read(alice, "/v1/ws/account")
        account = node.stub.StreamAccount(read, timeout=STREAM_DEADLINE_S)
        trades = node.stub.StreamTrades(
            pb.TradesStreamRequest(market=MARKET), timeout=STREAM_DEADLINE_S
        )
        subscribed = next(account)
        assert subscribed.type == "subscribed" and subscribed.address == alice.address
        assert next(trades).type == "snapshot"
        for trader, side in ((alice, Side.ASK), (bob, Side.BID)):
            order = PlaceLimit(trader.address, MARKET, side, 100 * USDC, 2, nonce=trader.nonce())
            node.stub.SubmitCommand(signed_command(trader, order))
        told = next(trades)
        events: list[pb.AccountEvent] = []
        while not any(event.WhichOneof("event") == "fill" for event in events):
            events.extend(next(account).events)
        account.cancel()
        trades.cancel()
    assert told.type == "trades"
    assert [(row.price, row.qty, row.HasField("update_id")) for row in told.trades] == [
        ("100", "2", True)
    ]
    fill = next(event.fill for event in events if event.WhichOneof("event") == "fill")
    assert (fill.role, fill.qty, fill.HasField("fee")) == ("maker", "2", True)


def test_the_health_service_answers_serving(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "exchange") as node:
        health = _health(node.channel)
        for service in ("", "tachyon.v1.Exchange"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="nope"))
        assert unknown.value.code() == Code.NOT_FOUND


def _health(channel: grpc.Channel) -> Any:
    """grpc.health.v1's client (typed Any: the stubs' types omit its methods)."""
    return health_pb2_grpc.HealthStub(channel)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (cert, key) files, PEM."""
    key = generate_private_key(SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_grpc_over_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    from tests.node.server import free_port

    cli = Cli.fresh(tmp_path / "cli")
    cert, key = _self_signed(tmp_path)
    port = free_port()
    tls = ("--grpc-port", str(port), "--grpc-tls-cert", str(cert), "--grpc-tls-key", str(key))
    with serving(cli, tmp_path / "exchange", *tls):
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            answer = ExchangeStub(channel).GetTime(pb.TimeRequest(), timeout=STREAM_DEADLINE_S)
            health = _health(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.server_time_ns > 0
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_the_cli_refuses_half_a_tls_configuration(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    cert, _ = _self_signed(tmp_path)
    result = cli.run("node", "serve", "--grpc-port", "1", "--grpc-tls-cert", str(cert))
    assert_error(result, 2, "--grpc-tls-key")


BURST_CHANNELS, BURST_CALLS = 40, 100


def test_a_burst_of_concurrent_unary_orders_is_answered_whole(tmp_path: Path) -> None:
    """4,000 SubmitCommand calls in flight at once (gRPC's own default sheds past 1,000
    waiting calls, answering CANCELLED): each is answered, and each answer is the truth."""
    with grpc_node(tmp_path / "exchange", rate_limit=None, client_rate_limit=None) as node:
        traders = _funded(node, BURST_CHANNELS)
        requests = [
            [
                signed_command(
                    trader,
                    PlaceLimit(
                        trader.address,
                        MARKET,
                        Side.BID,
                        (1 + index) * USDC,
                        1,
                        nonce=trader.nonce(),
                    ),
                ).SerializeToString()
                for index in range(BURST_CALLS)
            ]
            for trader in traders
        ]
        codes = asyncio.run(_burst(node.grpc_target, requests))
        resting = sum(len(trader.orders()) for trader in traders)
    assert codes == {Code.OK: BURST_CHANNELS * BURST_CALLS}
    assert resting == BURST_CHANNELS * BURST_CALLS


async def _burst(target: str, requests: list[list[bytes]]) -> dict[Code, int]:
    """Every request at once, one channel per trader; how many calls ended with each code."""
    codes: dict[Code, int] = {}
    channels = [grpc.aio.insecure_channel(target) for _ in requests]

    async def one(channel: grpc.aio.Channel, request: bytes) -> None:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
        call = channel.unary_unary("/tachyon.v1.Exchange/SubmitCommand")
        try:
            await call(request, timeout=STREAM_DEADLINE_S)
            code = Code.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        codes[code] = codes.get(code, 0) + 1

    try:
        calls = [
            one(ch, each) for ch, mine in zip(channels, requests, strict=True) for each in mine
        ]
        await asyncio.gather(*calls)
    finally:
        for channel in channels:
            await channel.close()
    return codes
