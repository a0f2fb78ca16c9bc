"""Goal: what a stranger can cost the node stays bounded: a client address whose signatures
keep failing is refused unchecked (and counted), an order-entry connection that reads no
answers stops being read once its bytes in flight reach the bound, and stream clients that read
nothing are cut off by bytes, counted and dropped. Method: the app in-process (TestClient) and
`OrderEntry` over a scripted socket; then a real node on 127.0.0.1 (`serve` in a subprocess)
with raw sockets that never read, and forged array frames over `/v1/ws/orders`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from tachyon.dex import AccountId, MarketId, Side, TokenId
from tachyon.errors import TachyonError
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import Deposit, PlaceLimit, encode_command
from tachyon.node import create_app
from tachyon.node.order_entry import OrderEntry
from tachyon.node.ratelimit import RateLimit
from tachyon.storage import EmbeddedExchange
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader, assert_error, envelope

RECV_TIMEOUT_S = 30.0  # hang protection only
STEPS_MAX = 1_000  # bounded loops: event loop turns, or commands sent


def _metric(client: httpx2.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


def test_an_address_whose_signatures_fail_is_refused_unchecked(tmp_path: Path) -> None:
    """Three failed checks (a signed read and two forged commands) empty the address's bucket
    of failures (burst 3, refilling once in 1,000 s); then even a good command is refused 429
    before any check, and both counters show it."""
    limit = RateLimit(0.001, 3)
    app = create_app(tmp_path / "x", rate_limit=None, bad_signature_limit=limit)
    with TestClient(app) as client:
        alice = Trader(client)
        forger = Ed25519PrivateKey.generate()
        path = "/v1/account/balances"
        headers = {**alice.headers("GET", path, time.time_ns()), "X-Tachyon-Signature": "A" * 88}
        assert_error(client.get(path, headers=headers), 401, "bad_signature")
        for _ in range(2):
            forged = Deposit(alice.address, "USDC", USDC, alice.nonce())
            body = envelope(forger, encode_command(forged))
            assert_error(client.post("/v1/commands", json=body), 401, "bad_signature")
        good = Deposit(alice.address, "USDC", USDC, alice.nonce())
        message = assert_error(alice.post(good), 429, "rate_limited")
        assert "failed signature checks" in message
        assert _metric(client, "tachyon_signature_failures_total") == 3
        assert _metric(client, "tachyon_bad_signature_refusals_total") == 1
        with client.websocket_connect("/v1/ws/orders") as ws:  # each request of an array too
            requests = [{"id": n, **envelope(alice.key, encode_command(good))} for n in range(4)]
            ws.send_text(json.dumps(requests))
            answers = json.loads(ws.receive_text())
        assert [answer["status"] for answer in answers] == [429] * 4
        assert _metric(client, "tachyon_bad_signature_refusals_total") == 5


class _Unread:
    """An order-entry client that sends the same frame without end and reads no answer (each
    send of an answer waits until `unblock` is set); it leaves after `frames_max` frames."""

    def __init__(self, frame: str, frames_max: int) -> None:
        self.frame = frame
        self.frames_max = frames_max
        self.read = 0
        self.sent = 0
        self.unblock = asyncio.Event()

    async def receive(self) -> dict[str, str]:
        if self.read == self.frames_max:
            return {"type": "websocket.disconnect"}
        self.read += 1
        return {"type": "websocket.receive", "text": self.frame}

    async def send(self, _message: dict[str, str]) -> None:
        await self.unblock.wait()
        self.sent += 1


def test_an_order_entry_connection_is_not_read_past_its_bytes_in_flight() -> None:
    """Frames of about 3 KB, answers never read, 10,000 bytes in flight at most (frames far
    below `inflight_max`): the node reads frames until their bytes reach the bound, then none,
    however long the client waits; once answers go out it reads on, and frees every byte."""
    bytes_max = 10_000
    frame = json.dumps(
        {"id": 1, "body": base64.b64encode(os.urandom(2_200)).decode(), "signature": ""}
    )
    expected = 1 + (bytes_max - 1) // len(frame)  # read while less than the bound is held

    async def execute(_body: str, _signature: str, _admitted: object) -> dict[str, object]:
        return {"ok": True}

    def admit_many(requests: list[tuple[str, str]]) -> list[Admitted | TachyonError]:
        raise AssertionError("no array frame is sent")

    async def scenario() -> tuple[int, int, int, _Unread, OrderEntry]:
        client = _Unread(frame, frames_max=3 * expected)
        entry = OrderEntry(
            client,  # type: ignore[arg-type]  # what OrderEntry uses of a WebSocket
            execute,
            admit_many,
            lambda _status, _seconds: None,
            inflight_max=1_024,
            inflight_bytes_max=bytes_max,
        )
        serving = asyncio.create_task(entry.serve())
        for _ in range(STEPS_MAX):  # as far as it reads, and the answers wait
            await asyncio.sleep(0)
        stuck_read, stuck_frames, stuck_bytes = client.read, entry.frames, entry.bytes
        client.unblock.set()
        await asyncio.wait_for(serving, RECV_TIMEOUT_S)
        return stuck_read, stuck_frames, stuck_bytes, client, entry

    stuck_read, stuck_frames, stuck_bytes, client, entry = asyncio.run(scenario())
    assert stuck_read == stuck_frames == expected
    assert bytes_max <= stuck_bytes < bytes_max + len(frame) + 1_000  # one frame and answers
    assert client.read == client.sent == 3 * expected  # read on once answered, all answered
    assert (entry.frames, entry.bytes) == (0, 0)


@contextmanager
def _node(data_dir: Path, **options: object) -> Iterator[tuple[int, httpx2.Client]]:
    port = free_port()
    process = start_node(data_dir, port, **options)
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as http:
            wait_until_up(http, process)
            yield port, http
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=STOP_TIMEOUT_S)


def _reads_nothing(port: int, query: str) -> socket.socket:
    """A market stream subscription that never reads past the handshake's answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(RECV_TIMEOUT_S)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1/ws/market?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)  # one at a time: nothing past the answer is read
        assert byte, head
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


TCP_CLOSE = 7  # tcpi_state of a connection the peer reset (Linux's TCP_INFO)


def _tcp_state(sock: socket.socket) -> int:
    state: int = struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
    return state


@pytest.mark.slow
@pytest.mark.network
def test_stream_clients_that_read_nothing_are_cut_off_by_bytes_and_dropped(
    tmp_path: Path,
) -> None:
    """A book of 2,000 levels makes each whole-book snapshot about 70 KB; entries another
    process writes make the node send each follower one at its next commit. Clients that
    read nothing are cut off once more than 64 KiB would wait (far fewer messages than the
    queue's bound), counted, and their connections dropped (reset: they never take the close
    frame); the node serves a fresh subscriber on."""
    data_dir, seller = tmp_path / "exchange", AccountId("seller")
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(seller, TokenId("BASE"), 10**6))
        for start in (0, 1_000):  # a batch holds at most 1,000 commands
            prices = [(200 + n) * USDC for n in range(start, start + 1_000)]
            host.submit_batch(
                [PlaceLimit(seller, MarketId(MARKET), Side.ASK, p, 1) for p in prices]
            )
    stalled_count = 4
    options = {"stream_queue_bytes_max": 64 * 1024, "stream_queue_max": 100_000}
    with (
        _node(data_dir, rate_limit=None, **options) as (port, http),
        EmbeddedExchange.open(data_dir) as other,
    ):
        stalled = [_reads_nothing(port, "channels=depth&depth=all") for _ in range(stalled_count)]
        alice = Trader(http)
        for n in range(STEPS_MAX // 2):  # bounded: the kernel's buffers hold a few MB at most
            other.submit(Deposit(seller, TokenId("USDC"), 1))
            alice.ok(Deposit(alice.address, "USDC", 1, alice.nonce()))
            if n % 10 == 9 and _metric(http, "tachyon_stream_cutoffs_total") == stalled_count:
                break
        assert _metric(http, "tachyon_stream_cutoffs_total") == stalled_count
        deadline = time.monotonic() + RECV_TIMEOUT_S
        while any(_tcp_state(s) != TCP_CLOSE for s in stalled) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [_tcp_state(s) for s in stalled] == [TCP_CLOSE] * stalled_count
        for each in stalled:
            each.close()
        ws_url = f"ws://127.0.0.1:{port}/v1/ws/market?channels=depth&depth=all"
        with connect(ws_url, max_size=None) as fresh:
            assert len(json.loads(fresh.recv(timeout=RECV_TIMEOUT_S))["asks"]) == 2_000


@pytest.mark.slow
@pytest.mark.network
def test_forged_array_frames_are_refused_unchecked_once_the_address_failed_enough(
    tmp_path: Path,
) -> None:
    """Array frames of 50 forged requests over `/v1/ws/orders`, each sent once the one before
    is answered: the first two are checked (401: the burst of 100 failed checks), every later
    one refused unchecked (429), and /metrics counts both."""
    limit = RateLimit(0.001, 100)  # refills once in 1,000 s: nothing comes back in the test
    with _node(tmp_path / "exchange", bad_signature_limit=limit) as (port, http):
        alice, forger = Trader(http), Ed25519PrivateKey.generate()
        statuses = []
        with connect(f"ws://127.0.0.1:{port}/v1/ws/orders") as ws:
            for _ in range(4):
                deposits = [Deposit(alice.address, "USDC", 1, alice.nonce()) for _ in range(50)]
                frame = [
                    {"id": n, **envelope(forger, encode_command(each))}
                    for n, each in enumerate(deposits)
                ]
                ws.send(json.dumps(frame))
                answers = json.loads(ws.recv(timeout=RECV_TIMEOUT_S))
                statuses.append({answer["status"] for answer in answers})
        assert statuses == [{401}, {401}, {429}, {429}]
        assert _metric(http, "tachyon_signature_failures_total") == 100
        assert _metric(http, "tachyon_bad_signature_refusals_total") == 100
        # The address's signed reads too, however good: refused unchecked.
        assert_error(alice.read("/v1/account/balances"), 429, "rate_limited")
