"""Goal: what a stranger can cost the node stays bounded: stream clients that read nothing
are cut off by bytes, counted and dropped. Method: a real node on 127.0.0.1 (`serve` in a
subprocess) with raw sockets that never read."""

from __future__ import annotations

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
from websockets.sync.client import connect

from tachyon.dex import AccountId, MarketId, Side, TokenId
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.storage import EmbeddedExchange
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader

RECV_TIMEOUT_S = 30.0  # hang protection only
STEPS_MAX = 1_000  # bounded loops: event loop turns, or commands sent


def _metric(client: httpx2.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


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
