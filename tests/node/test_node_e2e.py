"""Goal: over real loopback TCP, a WebSocket client rebuilds the node's book exactly from the
depth stream while traders trade concurrently; a client that stops reading is cut off with
4008 instead of being buffered; the node's logs are JSON lines and its spans reach a console
or an OTLP collector when configured. Method: `serve` in a subprocess on a free 127.0.0.1
port; websockets' synchronous client; signed commands from threads; a one-thread HTTP server
on 127.0.0.1 standing in for an OTLP collector."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx2
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.client import connect
from websockets.uri import parse_uri

from tachyon.client.stream import BookFollower
from tachyon.dex import AccountId, MarketId, Side, TokenId
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.exchange.commands import AnyCommand, Deposit, PlaceLimit, encode_command
from tachyon.storage import EmbeddedExchange
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader, envelope

pytestmark = pytest.mark.network
RECV_TIMEOUT_S = 10.0
TRADERS = 4
ORDERS_EACH = 60


@contextmanager
def _node(
    data_dir: Path, **options: object
) -> Iterator[tuple[str, httpx2.Client, subprocess.Popen[bytes]]]:
    """A running node: (its URL, an HTTP client of it, its process); stopped with SIGTERM."""
    port = free_port()
    process = start_node(data_dir, port, **options)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=10.0) as http:
            wait_until_up(http, process)
            yield url, http, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=STOP_TIMEOUT_S)


def _trade_randomly(trader: Trader, seed: int, errors: list[str]) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(ORDERS_EACH):
            side = rng.choice([Side.BID, Side.ASK])
            price = rng.randint(95, 105) * USDC
            response = trader.post(
                PlaceLimit(
                    trader.address, MARKET, side, price, rng.randint(1, 5), nonce=trader.nonce()
                )
            )
            if response.status_code != 200:
                errors.append(response.text)
    except Exception as exc:  # reported by the main thread
        errors.append(repr(exc))


def test_a_websocket_client_rebuilds_the_book_while_traders_trade(tmp_path: Path) -> None:
    with _node(tmp_path / "exchange", rate_limit=None) as (url, http, _):
        traders = [Trader(httpx2.Client(base_url=url, timeout=10.0)) for _ in range(TRADERS)]
        for trader in traders:
            trader.ok(Deposit(trader.address, "USDC", 10**6 * USDC, trader.nonce()))
            trader.ok(Deposit(trader.address, "BASE", 10**4, trader.nonce()))
        ws_url = url.replace("http://", "ws://") + "/v1/ws/market?channels=depth"
        follower = BookFollower(DEFAULT_MARKET)
        errors: list[str] = []
        with connect(ws_url, open_timeout=RECV_TIMEOUT_S) as ws:
            follower.apply(json.loads(ws.recv(timeout=RECV_TIMEOUT_S)))
            threads = [
                threading.Thread(target=_trade_randomly, args=(t, n, errors))
                for n, t in enumerate(traders)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, errors[:3]
            marker = traders[0]  # a last order at a price no one else uses: the stream's end
            marker.ok(
                PlaceLimit(marker.address, MARKET, Side.BID, 1 * USDC, 1, nonce=marker.nonce())
            )
            diffs = 0
            while 1 * USDC not in follower.bids:
                follower.apply(json.loads(ws.recv(timeout=RECV_TIMEOUT_S)))  # raises on a gap
                diffs += 1
        book = http.get("/v1/orderbook", params={"market": MARKET, "depth": 1000}).json()
        for trader in traders:
            trader.client.close()
    bids, asks = follower.levels(1000)
    assert [(int(row["price"]) * USDC, int(row["qty"])) for row in book["bids"]] == bids
    assert [(int(row["price"]) * USDC, int(row["qty"])) for row in book["asks"]] == asks
    assert diffs >= 10


class _StalledClient:
    """A WebSocket client that completes the handshake and then reads nothing (a socket with a
    small receive buffer; websockets' sans-I/O protocol frames the bytes when it reads again)."""

    def __init__(self, url: str) -> None:
        uri = parse_uri(url)
        self.protocol = ClientProtocol(uri)
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.socket.settimeout(RECV_TIMEOUT_S)
        self.socket.connect((uri.host, uri.port))
        self.protocol.send_request(self.protocol.connect())
        self.socket.sendall(b"".join(self.protocol.data_to_send()))
        while self.protocol.state is State.CONNECTING:  # the response, perhaps some frames
            self.protocol.receive_data(self.socket.recv(4096))
        assert self.protocol.state is State.OPEN

    def read_to_the_end(self) -> tuple[int, str]:
        """Read everything until the node closes; its close code and reason."""
        while self.protocol.close_rcvd is None:
            data = self.socket.recv(1 << 20)
            if not data:
                break
            self.protocol.receive_data(data)
            self.protocol.events_received()  # drop the messages; keep the close frame
        self.socket.close()
        assert self.protocol.close_rcvd is not None, "the node never closed the stream"
        return self.protocol.close_rcvd.code, self.protocol.close_rcvd.reason


def test_two_wallets_trade_over_the_order_entry_websocket(tmp_path: Path) -> None:
    """Pipelined over real TCP, answers by id; a frame over the server's size bound closes
    the connection with 1009 and changes nothing."""
    with _node(tmp_path / "exchange", rate_limit=None) as (url, http, _):
        alice, bob = Trader(http), Trader(http)
        orders = url.replace("http://", "ws://") + "/v1/ws/orders"
        script: list[tuple[Trader, AnyCommand]] = [
            (alice, Deposit(alice.address, "USDC", 1_000 * USDC, alice.nonce())),
            (bob, Deposit(bob.address, "BASE", 10, bob.nonce())),
            *[
                (alice, PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 1, nonce=n))
                for n in (alice.nonce() for _ in range(5))
            ],
            (bob, PlaceLimit(bob.address, MARKET, Side.ASK, 100 * USDC, 5, nonce=bob.nonce())),
        ]
        with connect(orders) as ws:
            for n, (trader, command) in enumerate(script):
                ws.send(json.dumps({"id": n, **envelope(trader.key, encode_command(command))}))
            answers = {a["id"]: a for a in (json.loads(ws.recv(RECV_TIMEOUT_S)) for _ in script)}
        assert {a["status"] for a in answers.values()} == {200}
        assert answers[len(script) - 1]["result"]["status"] == "filled"
        assert bob.balances()["USDC"] == ("500", "0")
        with connect(orders) as ws:
            ws.send(json.dumps({"id": 0, "body": "A" * 200_000, "signature": ""}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(RECV_TIMEOUT_S)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
        assert bob.balances()["USDC"] == ("500", "0")


def test_a_client_that_stops_reading_is_cut_off_with_4008(tmp_path: Path) -> None:
    """A book of 2,000 levels makes each snapshot about 50 KB; entries another process writes
    make the node send every follower a snapshot at its next commit. A client that reads
    nothing is cut off after `stream_queue_max` of them wait, and the node serves on."""
    data_dir = tmp_path / "exchange"
    seller = AccountId("seller")
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(seller, TokenId("BASE"), 10**6))
        for start in (0, 1_000):
            prices = [(200 + n) * USDC for n in range(start, start + 1_000)]
            host.submit_batch(
                [PlaceLimit(seller, MarketId(MARKET), Side.ASK, p, 1) for p in prices]
            )
    with (
        _node(data_dir, stream_queue_max=4, rate_limit=None) as (url, http, _),
        EmbeddedExchange.open(data_dir) as other,
    ):
        alice = Trader(http)
        ws_url = url.replace("http://", "ws://") + "/v1/ws/market?channels=depth&depth=all"
        stalled = _StalledClient(ws_url)
        cut = False
        for n in range(400):  # bounded: the kernel's buffers hold a few MB at most
            other.submit(Deposit(seller, TokenId("USDC"), 1))
            alice.ok(Deposit(alice.address, "USDC", 1, alice.nonce()))
            if n % 10 == 9 and "tachyon_stream_cutoffs_total 1.0" in http.get("/metrics").text:
                cut = True
                break
        assert cut, "the stalled client was never cut off"
        code, reason = stalled.read_to_the_end()
        assert code == 4008
        assert "slow consumer" in reason
        with connect(ws_url) as fresh:  # the node serves on
            snapshot = json.loads(fresh.recv(timeout=RECV_TIMEOUT_S))
        assert len(snapshot["asks"]) == 2_000


def test_logs_are_json_lines_and_spans_go_to_the_console(tmp_path: Path) -> None:
    with _node(
        tmp_path / "exchange", log_format="json", log_level="info", trace_exporter="console"
    ) as (_, http, process):
        alice = Trader(http)
        alice.ok(Deposit(alice.address, "USDC", USDC, alice.nonce()))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0
    text = stderr.decode()
    records = [json.loads(line) for line in text.splitlines() if line.startswith('{"')]
    opened = [r for r in records if r.get("message") == "the node's exchange is open"]
    assert len(opened) == 1
    assert opened[0]["level"] == "INFO"
    assert opened[0]["logger"] == "tachyon.node"
    assert opened[0]["data_dir"] == str(tmp_path / "exchange")
    assert [r["seq"] for r in records if r.get("message") == "the node's exchange is closed"] == [1]
    assert '"name": "tachyon.deposit"' in text
    assert '"name": "tachyon.commit"' in text


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps each export's span names."""

    names: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        _Collector.names.extend(
            span.name
            for spans in request.resource_spans
            for scope in spans.scope_spans
            for span in scope.spans
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_spans_reach_an_otlp_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _Collector.names.clear()
    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")  # chosen by the standard variable
    try:
        with _node(tmp_path / "exchange") as (_, http, process):
            alice = Trader(http)
            alice.ok(Deposit(alice.address, "USDC", USDC, alice.nonce()))
            process.send_signal(signal.SIGTERM)  # the exit exports what is buffered
            process.communicate(timeout=STOP_TIMEOUT_S)
        assert process.returncode == 0
    finally:
        collector.shutdown()
        collector.server_close()
    assert {"tachyon.deposit", "tachyon.batch", "tachyon.commit"} <= set(_Collector.names)
