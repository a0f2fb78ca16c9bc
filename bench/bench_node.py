"""Benchmark: signed orders over HTTP and the order-entry WebSocket against a real node process
on loopback.

    python -m bench.bench_node [--runs 3] [--requests 5000] [--clients 50] [--rate 2000]
                               [--high-rate 5000] [--procs 1] [--per-frame 10]
                               [--cancel-share 0.2]
                               [--recv-window-ms 60000]

Method. Each run starts a fresh node as a subprocess on a free 127.0.0.1 port over a new
temporary data directory: `tachyon.node.serve.serve(data_dir, rate_limit=None, client_rate_limit=None,
recv_window_ms=...)`, what `tachyon node serve --no-rate-limit` runs. The per-account rate limit (50/s, burst 100 by default) is off: it would
throttle 50 accounts long before the node is saturated. The receive window is widened (to 60 s,
the widest a new exchange's own window lets a node have, unless `--recv-window-ms`) so that
requests signed before the clock starts stay valid while a slow phase goes on; the check costs
the same at any width. All else is the node's default
(dev profile, group commit waiting up to 2 ms, the read model written in each commit). The
clients are `--clients` wallets, one keep-alive HTTP/1.1 connection each, driven by a minimal
client on asyncio (pre-built request bytes, answers framed by Content-Length) in `--procs`
processes, so that the load generator, which shares the machine's cores with the node, costs
as little as it can (its CPU use is printed). The WebSocket phases send the same signed
commands as order-entry frames (`/v1/ws/orders`, websockets' asyncio client, no compression),
one connection per wallet: closed loop, one frame in flight per connection; open loop, each
frame at its scheduled time whatever is unanswered (the WebSocket pipelines, HTTP/1.1 not).
The last phase sends each wallet's commands `--per-frame` at a time in array frames (batch
order entry), each frame when its first command is scheduled, its commands timed from then.
The gRPC phases send the same signed commands to the node's gRPC service (`serve(...,
grpc_port=...)`, grpc's asyncio client, one channel per wallet, raw serialized messages):
unary `SubmitCommand` calls (closed loop; open loop, each call at its scheduled time, in
flight together over the channel), then one `EnterOrders` stream per wallet (closed loop; open
loop, as the WebSocket's). Their "x /v1/time" is against the same run's HTTP GET /v1/time.

Each wallet is funded with signed deposits and places a resting order far from the mid for
every cancel it will send, before any clock starts (setup, not timed). The measured mix is,
per request: a cancel of one of the wallet's own resting orders (`--cancel-share`), else a
limit order of 1..5 BASE, a quarter of them crossing the mid by up to 10 ticks (so trades
happen), the others resting up to 50 ticks from it. Every request of a phase is signed before
its clock starts, each phase with wallets of its own; nonces rise per account and are the
wallet's clock: the phase's start (closed loop) or the request's scheduled send time (open).

The streams keep up, or not. During each orders phase one client follows the market stream,
`/v1/ws/market?market=BASE/USDC&channels=depth,trades&depth=all` (so the node builds and sends
every batch's depth diff and trades, which it skips with no subscriber): it subscribes before the
phase's clock starts and waits for both snapshots, then, on a thread of the benchmark's own
process (websockets' synchronous client, which reads on a thread of its own), applies
each depth message to `tachyon.client.stream.BookFollower`, whose gap check raises
`StreamGap` (counted, then a new subscription for a fresh snapshot, as after a 4008 "slow
consumer" close), and counts the trades. After the phase's last answer it reads the node's
book (GET /v1/orderbook, 1,000 levels a side: all of them here) and waits, up to 10 s, until
the followed book is that book. With `--procs 1` the follower shares the interpreter (its
lock) with the load generator: the generator's thread may wait a little for the GIL.

Figures (each the median over `--runs` runs; a fresh node and data directory per run):
- GET /v1/time, closed loop: the same clients asking the node's trivial endpoint; the floor
  of HTTP on this server and the baseline the order figures are divided by ("x /v1/time").
- orders, closed loop: each client sends its next request when the previous one is answered.
  acked/s: answers 200 (the command is durable) per second from the phase's start to its last
  answer; latency from each request's send.
- orders, open loop at R/s: request k is scheduled at k/R s, on client k mod C (each client
  sends in order, one request at a time); latency is measured from the scheduled time, so the
  wait behind a slow answer counts (no coordinated omission). acked/s is what was achieved.
- p50 / p99 / p99.9: latency percentiles (nearest rank) of every request of the phase, in ms.
- non-200: refused requests, summed over runs (their codes are listed).
- where the time goes: CPU seconds per wall second of the phase (1.00 = one core) of the
  load generator's driving threads ("client"), of the node's event loop thread ("loop":
  HTTP, WebSocket frames, FastAPI, the gateway, the streams' sending) and of its other
  threads ("other": the signature checker, and the sequencer, which applies, commits and
  builds the streams' messages); the node's
  CPU microseconds per request; commands per journal commit ("batch") and a commit's mean
  time, from the node's /metrics.
- streams (the orders phases): messages the follower received (snapshots included), trades
  received in `trades` messages and trades the node made in the phase (by trade id; medians);
  lag: ms from the phase's last answer until the followed book matched the node's (from when
  the message that made it so was applied; 0 if that came before the last answer; "not
  matched" if it did not within 10 s), the median and the worst run; gaps and 4008 cut-offs
  (summed, and in how many runs); equal: whether the followed book equals GET /v1/orderbook
  once following stopped, in every run; cpu: the follower's CPU seconds per wall second (the
  benchmark's processes' CPU less the driving threads'; with `--procs` > 1, from before the
  phase's start). The verdict's last line says whether the streams
  kept up: no gap, no cut-off, the book matched and equal and every trade received, every run.
- in process: `EmbeddedExchange.submit_batch` of the same signed mix in batches of
  `--clients` commands (one durable commit each, signatures checked before, as the node's
  checker does), no HTTP: what the sequencer's thread does.
- signature check: `tachyon.exchange.auth.verify` of one signed place-limit (PyNaCl); gateway
  admit: base64 decoding of body and signature plus `admit_command` (decode, canonical check,
  address, receive window, then that signature check: what the node's event loop does for
  every command); signing: `auth.sign`, the wallet's cost. Not a test: it prints.

    python -m bench.bench_node --joins [--runs 3] [--levels 10000] [--orders 300]

The joins scenario (only it runs with `--joins`): what market stream subscribers cost a
legitimate client. A fresh node (`serve(..., rate_limit=None, client_rate_limit=None)`, its
receive window 60 s) gets a deep book: `--levels` resting orders, one a price, half bids below
the mid and half asks above (placed in order-entry array frames of 50, not timed). Then, phase
by phase, one client sends `--orders` limit orders over HTTP, each after the previous answer
(closed loop), each resting at a price the book already has (so levels change and diffs flow,
but the book keeps its size), signed just before its clock starts. Phases: alone; while 8
subscribers in a process of their own join the market stream (`channels=depth`) again and
again (subscribe, read the snapshot, leave), asking for the whole book (`depth=1000000000`,
which every version of the node takes as every level), then with no depth (the node's
default); alone again; and while 60 subscribers that read nothing past the handshake (raw
sockets with a 4 KB receive buffer) subscribe during the phase, asking for the whole book, then
for the default depth (60: below the 64 WebSocket connections one client address may hold).
Figures per phase (medians over runs): the client's order latency p50, p99 and max in ms;
the snapshots the joining subscribers read a second; the node's resident memory growth (VmRSS,
before the phase to its end, 2 s after the last idle subscriber joined), and the stream
clients the node cut off (`tachyon_stream_cutoffs_total`). Run it against two versions of the
node to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import math
import multiprocessing
import multiprocessing.pool
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import grpc
import httpx2
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio import client as ws_client
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from bench import grpc_load
from tachyon.client.decode import levels_from_json
from tachyon.client.stream import (
    CLOSE_SLOW_CONSUMER,
    OPEN_TIMEOUT_S,
    RESUBSCRIBES_MAX,
    BookFollower,
    StreamGap,
)
from tachyon.dex import Side
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.exchange import (
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    SignedCommand,
    encode_command,
)
from tachyon.exchange.admission import Admitted, admit_signed
from tachyon.exchange.auth import address_of, sign, verify
from tachyon.exchange.service import Placement
from tachyon.node.app import ORDER_ENTRY_PATH
from tachyon.node.gateway import admit_command, decode_base64
from tachyon.storage import JOURNAL_BATCH_MAX, EmbeddedExchange

MARKET: Final = "BASE/USDC"
USDC: Final = 1_000_000  # minor units (6 decimals); BASE has 0
MID: Final = 100 * USDC
TICK: Final = USDC // 100  # prices move in steps of 0.01 USDC
PLACE, CROSS, CANCEL, TARGET = range(4)  # kinds of request
CROSS_SHARE: Final = 0.25  # of the limit orders
RECV_WINDOW_MS: Final = 60_000  # a node may only narrow its exchange's (60 s when new)
START_LEAD_S: Final = 0.3  # between handing the plans over and the first scheduled send
START_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 60.0
SIGNATURE_LOOPS: Final = 2_000
TARGET_RATE: Final = 5_000
TARGET_P99_MS: Final = 50.0
BOOK_DEPTH: Final = 1_000  # levels per side compared (the most GET /v1/orderbook gives)
SETTLE_TIMEOUT_S: Final = 10.0
HTTP, WS, GRPC, GRPC_STREAM = (
    "http",
    "ws",
    "grpc",
    "grpc stream",
)  # how a phase's commands go  # after a phase, for the followed book to match the node's

_JOURNAL_METRICS: Final = (
    "tachyon_journal_batch_size_sum",
    "tachyon_journal_batch_size_count",
    "tachyon_journal_commit_duration_seconds_sum",
)
_SERVER: Final = """
import sys
from pathlib import Path
from tachyon.node.serve import serve
serve(Path(sys.argv[1]), port=int(sys.argv[2]), recv_window_ms=int(sys.argv[3]),
      rate_limit=None, client_rate_limit=None, log_level="warning", grpc_port=int(sys.argv[4]))
"""


# -- wallets, commands and requests ---------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    key: Ed25519PrivateKey
    address: str

    @classmethod
    def new(cls) -> Wallet:
        key = Ed25519PrivateKey.generate()
        return cls(key, address_of(key))


def _order(rng: random.Random, wallet: Wallet, kind: int, nonce: int, target: int) -> AnyCommand:
    """One command of the mix; `target` is the order a cancel cancels."""
    if kind == CANCEL:
        return CancelOrder(wallet.address, target, nonce)
    is_bid = rng.random() < 0.5
    away = -1 if is_bid else 1  # towards the wallet's own side of the book
    if kind == PLACE:
        price = MID + away * TICK * rng.randint(1, 50)
    elif kind == CROSS:
        price = MID - away * TICK * rng.randint(0, 10)
    else:  # a cancel's target: far enough from the mid that nothing trades with it
        assert kind == TARGET, kind
        price = MID + away * TICK * rng.randint(200, 300)
    side = Side.BID if is_bid else Side.ASK
    return PlaceLimit(wallet.address, MARKET, side, price, rng.randint(1, 5), nonce=nonce)


def _deposits(wallet: Wallet, nonce: int) -> list[AnyCommand]:
    return [
        Deposit(wallet.address, "USDC", 10**13, nonce),
        Deposit(wallet.address, "BASE", 10**8, nonce + 1),
    ]


def _signed(wallet: Wallet, command: AnyCommand) -> tuple[bytes, bytes]:
    body = encode_command(command)
    return body, sign(wallet.key, body)


def _post(host: str, wallet: Wallet, command: AnyCommand) -> bytes:
    """The whole HTTP request submitting `command` signed by `wallet`."""
    body, signature = _signed(wallet, command)
    payload = b'{"body":"%s","signature":"%s"}' % (
        base64.b64encode(body),
        base64.b64encode(signature),
    )
    head = (
        f"POST /v1/commands HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def _frame(ident: int, wallet: Wallet, command: AnyCommand) -> bytes:
    """The order-entry WebSocket frame submitting `command` signed by `wallet`, as `ident`."""
    body, signature = _signed(wallet, command)
    return b'{"id":%d,"body":"%s","signature":"%s"}' % (
        ident,
        base64.b64encode(body),
        base64.b64encode(signature),
    )


def _kinds(rng: random.Random, count: int, cancel_share: float) -> list[int]:
    kinds = []
    for _ in range(count):
        if rng.random() < cancel_share:
            kinds.append(CANCEL)
        else:
            kinds.append(CROSS if rng.random() < CROSS_SHARE else PLACE)
    return kinds


def _split(requests: int, clients: int) -> list[int]:
    """Requests per client when request k goes to client k mod `clients`."""
    return [requests // clients + (index < requests % clients) for index in range(clients)]


# -- the load generator ---------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        assert at >= 0, head
        stop = head.find(b"\r\n", at)
        total = end + 4 + int(head[at + 15 : stop if stop >= 0 else None])
        if len(self.buffer) < total:
            return
        answer = int(self.buffer[9:12]), bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"the node closed a connection: {exc}"))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        assert self.waiter is None, "one request at a time"
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


@dataclass
class Plan:
    """One client's requests in sending order; `at`: each one's scheduled offset in seconds
    from the phase's start (an open loop), or None (a closed loop)."""

    requests: list[bytes] = field(default_factory=list)
    at: list[float] | None = None
    sizes: list[int] | None = None  # commands per request (a WebSocket array frame), if not 1


@dataclass
class Answers:
    """One client's answers, in its plan's order (bodies only of refusals, or if kept)."""

    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


@dataclass
class Driven:
    answers: list[Answers]
    end_wall: float  # time.time() of the last answer
    cpu_s: float  # the load generator's CPU seconds from the start to the last answer
    side_cpu_s: float  # its processes' other threads' (the stream follower's, see Node.drive)


def drive(
    port: int, plans: list[Plan], start_wall: float, keep_bodies: bool, transport: str = HTTP
) -> Driven:
    """Send every plan on its own connection from `start_wall` (time.time()) on: HTTP/1.1
    requests, frames on the order-entry WebSocket (WS), or gRPC calls (GRPC: unary, one
    channel a plan; GRPC_STREAM: one EnterOrders stream a plan)."""
    return asyncio.run(_drive(port, plans, start_wall, keep_bodies, transport))


async def _drive(
    port: int, plans: list[Plan], start_wall: float, keep_bodies: bool, transport: str
) -> Driven:
    if transport in (GRPC, GRPC_STREAM):
        return await _drive_grpc(port, plans, start_wall, keep_bodies, transport)
    websocket = transport == WS
    loop = asyncio.get_running_loop()
    connections: list[_Connection] = []
    sockets: list[ws_client.ClientConnection] = []
    for _ in plans:
        if websocket:
            sockets.append(
                await ws_client.connect(
                    f"ws://127.0.0.1:{port}{ORDER_ENTRY_PATH}", compression=None, ping_interval=None
                )
            )
        else:
            _, connection = await loop.create_connection(_Connection, "127.0.0.1", port)
            connections.append(connection)
    await asyncio.sleep(max(0.0, start_wall - time.time()))
    start = time.perf_counter() - (time.time() - start_wall)  # start_wall on this clock
    cpu, process_cpu = time.thread_time(), time.process_time()
    answers = await asyncio.gather(
        *(
            _ws_client(each, plan, start, keep_bodies)
            for each, plan in zip(sockets, plans, strict=websocket)
        ),
        *(
            _client(each, plan, start, keep_bodies)
            for each, plan in zip(connections, plans, strict=not websocket)
        ),
    )
    cpu_s = time.thread_time() - cpu  # this thread's: a stream follower's threads are not
    driven = Driven(list(answers), time.time(), cpu_s, time.process_time() - process_cpu - cpu_s)
    for each in connections:
        assert each.transport is not None
        each.transport.close()
    for socket_ in sockets:
        await socket_.close()
    return driven


async def _drive_grpc(
    port: int, plans: list[Plan], start_wall: float, keep_bodies: bool, transport: str
) -> Driven:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in plans]
    for channel in channels:
        await channel.channel_ready()
    client = grpc_load.stream_client if transport == GRPC_STREAM else grpc_load.unary_client
    await asyncio.sleep(max(0.0, start_wall - time.time()))
    start = time.perf_counter() - (time.time() - start_wall)  # start_wall on this clock
    cpu, process_cpu = time.thread_time(), time.process_time()
    results = await asyncio.gather(
        *(
            client(channel, plan.requests, plan.at, start, keep_bodies)
            for channel, plan in zip(channels, plans, strict=True)
        )
    )
    cpu_s = time.thread_time() - cpu
    answers = [Answers(statuses, latencies, bodies) for statuses, latencies, bodies in results]
    driven = Driven(answers, time.time(), cpu_s, time.process_time() - process_cpu - cpu_s)
    for channel in channels:
        await channel.close()
    return driven


async def _client(connection: _Connection, plan: Plan, start: float, keep_bodies: bool) -> Answers:
    clock, sleep, at = time.perf_counter, asyncio.sleep, plan.at
    answers = Answers()
    for index, data in enumerate(plan.requests):
        if at is None:
            begin = clock()
        else:
            begin = start + at[index]
            delay = begin - clock()
            if delay > 0:
                await sleep(delay)
        status, body = await connection.request(data)
        answers.latencies.append(clock() - begin)
        answers.statuses.append(status)
        answers.bodies.append(body if keep_bodies or status != 200 else b"")
    return answers


async def _ws_client(
    connection: ws_client.ClientConnection, plan: Plan, start: float, keep_bodies: bool
) -> Answers:
    """Frames in order, their commands with ids 0, 1, ...: each frame after the previous answer
    (closed loop) or at its scheduled time whatever is unanswered (open loop: the WebSocket
    pipelines). An array frame's commands are timed from the frame's send."""
    clock = time.perf_counter
    frames = [frame.decode() for frame in plan.requests]  # text frames
    sizes = plan.sizes or [1] * len(frames)
    count = sum(sizes)
    begun = [0.0] * count
    answers = Answers([0] * count, [0.0] * count, [b""] * count)

    def record(text: str | bytes) -> None:
        now = clock()
        decoded = msgspec.json.decode(text)
        for answer in decoded if isinstance(decoded, list) else [decoded]:
            ident, status = answer["id"], answer["status"]
            answers.latencies[ident] = now - begun[ident]
            answers.statuses[ident] = status
            if keep_bodies or status != 200:
                body = answer["result"] if status == 200 else {"error": answer["error"]}
                answers.bodies[ident] = msgspec.json.encode(body)

    first = 0  # the id of the next frame's first command
    if plan.at is None:
        for frame, size in zip(frames, sizes, strict=True):
            begun[first : first + size] = [clock()] * size
            first += size
            await connection.send(frame)
            record(await connection.recv())
        return answers

    async def receive() -> None:
        for _ in frames:
            record(await connection.recv())

    receiver = asyncio.create_task(receive())
    sleep = asyncio.sleep
    for frame, size, at in zip(frames, sizes, plan.at, strict=True):
        scheduled = start + at
        begun[first : first + size] = [scheduled] * size
        first += size
        delay = scheduled - clock()
        if delay > 0:
            await sleep(delay)
        await connection.send(frame)
    await receiver
    return answers


# -- the node -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU seconds of process `pid`'s main thread (the node's event loop) and of
    its other threads (the sequencer's, mostly), from Linux's /proc; NaN elsewhere."""
    main = others = 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()  # from field 3 (state) on
            seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if task.name == str(pid):
                main += seconds
            else:
                others += seconds
    except OSError:  # not Linux, or a thread gone while read
        return math.nan, math.nan
    return main, others


class Node:
    """A node process on a free port over `data_dir`, and the load generator's processes."""

    def __init__(
        self,
        data_dir: Path,
        window_ms: int,
        procs: int,
        pool: multiprocessing.pool.Pool | None,
    ) -> None:
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.procs, self.pool = procs, pool
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self.grpc_port = _free_port()
        argv = [sys.executable, "-c", _SERVER, str(data_dir), str(self.port), str(window_ms)]
        argv.append(str(self.grpc_port))
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)  # noqa: S603 (our own argv)

    def __enter__(self) -> Self:
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx2.Client(base_url=f"http://{self.host}", timeout=5.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the node exited at start:\n{self._output()}")
                try:
                    if http.get("/v1/time").status_code == 200:
                        return self
                except httpx2.TransportError:
                    time.sleep(0.05)
        raise RuntimeError("the node did not start")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        if self.process.returncode != 0 and exc is None:
            raise RuntimeError(f"the node exited {self.process.returncode}:\n{self._output()}")
        self.log.close()

    def _output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def cpu_seconds(self) -> tuple[float, float]:
        return _cpu_seconds(self.process.pid)

    def journal(self) -> tuple[float, float, float]:
        """(commands, commits, commit seconds) so far, from the node's `/metrics`."""
        with httpx2.Client(base_url=f"http://{self.host}", timeout=30.0) as http:
            text = http.get("/metrics").text
        values = dict.fromkeys(_JOURNAL_METRICS, math.nan)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
        commands, commits, seconds = values.values()
        return commands, commits, seconds

    def drive(
        self,
        plans: list[Plan],
        start_wall: float,
        keep_bodies: bool = False,
        transport: str = HTTP,
    ) -> Driven:
        """`drive` in this process, or with the plans dealt over `procs` processes (then
        this process's CPU while they drive, from the wait before the start on, is the side's)."""
        port = self.grpc_port if transport in (GRPC, GRPC_STREAM) else self.port
        if self.pool is None:
            return drive(port, plans, start_wall, keep_bodies, transport)
        jobs = [
            (port, plans[p :: self.procs], start_wall, keep_bodies, transport)
            for p in range(self.procs)
        ]
        process_cpu = time.process_time()
        parts = self.pool.starmap(drive, jobs)
        side_s = time.process_time() - process_cpu
        answers: list[Answers] = [Answers()] * len(plans)
        for p, part in enumerate(parts):
            answers[p :: self.procs] = part.answers
        return Driven(
            answers,
            max(part.end_wall for part in parts),
            sum(part.cpu_s for part in parts),
            side_s + sum(part.side_cpu_s for part in parts),
        )


# -- the market stream's follower -----------------------------------------------------------

Levels = tuple[list[tuple[int, int]], list[tuple[int, int]]]
"""A book's best levels, bids and asks, each (price, qty) in minor units, best first."""


@dataclass(frozen=True)
class StreamFigures:
    """What one phase's market stream follower saw."""

    messages: int  # every message received, the snapshots included
    trades: int  # trades received in `trades` messages
    trades_made: int  # trades the node made in the phase (GET /v1/trades, by trade id)
    lag_ms: float  # from the phase's last answer until the followed book matched; inf: never
    gaps: int  # StreamGap raised by the BookFollower (each followed by a new subscription)
    cut_off: bool  # closed with 4008 (slow consumer) at least once
    equal: bool  # the followed book equals GET /v1/orderbook once following stopped
    cpu: float  # CPU seconds a second of the load generator's processes' other threads
    error: str  # why following ended before it was stopped, or ""


def _node_book(http: httpx2.Client) -> Levels:
    answer = http.get("/v1/orderbook", params={"market": MARKET, "depth": BOOK_DEPTH}).json()
    bids, asks = (levels_from_json(DEFAULT_MARKET, answer[side]) for side in ("bids", "asks"))
    return [(level.price, level.qty) for level in bids], [
        (level.price, level.qty) for level in asks
    ]


def _last_trade_id(http: httpx2.Client) -> int:
    trades = http.get("/v1/trades", params={"market": MARKET, "limit": 1}).json()["trades"]
    return int(trades[0]["trade_id"]) if trades else 0


class Follower:
    """The node's market stream (depth and trades) followed on a thread of its own during one
    phase: each depth message applied to a `BookFollower`, the trades counted; after a gap or a
    cut-off it subscribes again (a fresh snapshot). Entered once both snapshots arrived."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.url = f"ws://{host}/v1/ws/market?market={MARKET}&channels=depth,trades&depth=all"
        self.book = BookFollower(DEFAULT_MARKET)
        self.messages = self.trades = self.gaps = 0
        self.cut_off = False
        self.error = ""
        self._trades_before = 0
        self._snapshots = 0
        self._lock = threading.Lock()  # the book and the target, between the two threads
        self._socket: ClientConnection | None = None
        self._stopping = False
        self._ready = threading.Event()  # both snapshots are in, or following ended
        self._target: Levels | None = None  # the node's book once the phase is over
        self._changed_wall = math.nan  # time.time() when the followed book last changed
        self._matched_wall = math.nan  # the same, once the book is the target
        self._matched = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream follower", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(OPEN_TIMEOUT_S + 5.0) or self.error:
            self._stop()
            raise RuntimeError(f"the market stream did not start: {self.error or 'timeout'}")
        with httpx2.Client(base_url=f"http://{self.host}", timeout=30.0) as http:
            self._trades_before = _last_trade_id(http)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def finish(self, end_wall: float, cpu: float) -> StreamFigures:
        """Wait until the followed book is the node's (up to SETTLE_TIMEOUT_S), stop following
        and tell what was seen; `end_wall` is the phase's last answer, `cpu` the follower's."""
        with httpx2.Client(base_url=f"http://{self.host}", timeout=30.0) as http:
            target = _node_book(http)
            with self._lock:
                self._target = target
                self._check()
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while not self._matched.wait(0.05) and self._thread.is_alive():
                if time.monotonic() > deadline:
                    break
            self._stop()
            equal = self.book.levels(BOOK_DEPTH) == _node_book(http)
            made = _last_trade_id(http) - self._trades_before
        matched = self._matched.is_set()
        lag_ms = max(0.0, self._matched_wall - end_wall) * 1000 if matched else math.inf
        return StreamFigures(
            self.messages,
            self.trades,
            made,
            lag_ms,
            self.gaps,
            self.cut_off,
            equal,
            cpu,
            self.error,
        )

    def _stop(self) -> None:
        with self._lock:
            self._stopping = True
            socket = self._socket
        if socket is not None:
            socket.close()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        try:
            for _ in range(RESUBSCRIBES_MAX + 1):
                if not self._follow():
                    return
            self.error = f"more than {RESUBSCRIBES_MAX} subscriptions in a row ended early"
        finally:
            self._ready.set()

    def _follow(self) -> bool:
        """One subscription until stopped; whether to subscribe again (a gap, or cut off)."""
        try:
            with connect(self.url, open_timeout=OPEN_TIMEOUT_S, max_size=None) as socket:
                with self._lock:
                    if self._stopping:
                        return False
                    self._socket = socket
                for text in socket:
                    self._on(text)
        except StreamGap:
            self.gaps += 1
            return True
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == CLOSE_SLOW_CONSUMER:
                self.cut_off = True
                return True
            self.error = f"the stream closed: {closed}"
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.error = f"the stream failed: {exc!r}"
        return False

    def _on(self, text: str | bytes) -> None:
        message = json.loads(text)
        with self._lock:
            self.messages += 1
            if message["stream"] == "depth":
                if self.book.apply(message):  # raises StreamGap
                    self._changed_wall = time.time()
            elif message["type"] == "trades":
                self.trades += len(message["trades"])
            if message["type"] == "snapshot":
                self._snapshots += 1
                if self._snapshots == 2:  # the depth's and the trades'
                    self._ready.set()
            self._check()

    def _check(self) -> None:
        """With the lock held: note when the book first equals the target."""
        if self._target is None or self._matched.is_set():
            return
        if self.book.levels(BOOK_DEPTH) == self._target:
            self._matched_wall = self._changed_wall  # it has not changed since
            self._matched.set()


# -- phases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    requests: int
    acked_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    client_cpu: float  # CPU seconds a second: the load generator's
    loop_cpu: float  # the node's event loop thread
    other_cpu: float  # the node's other threads (the sequencer)
    node_us: float  # the node's CPU microseconds per request
    batch_mean: float  # commands per journal commit
    commit_ms: float  # mean time of a commit
    refusals: Counter[str]
    stream: StreamFigures | None  # what the market stream's follower saw, if one followed


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest rank."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def _refusal(status: int, body: bytes) -> str:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
    return f"{status} {code}"


def _measure(
    node: Node,
    plans: list[Plan],
    start_wall: float,
    follower: Follower | None = None,
    transport: str = HTTP,
) -> Figures:
    """Drive `plans` from `start_wall` and sum up what came back (and what `follower` saw)."""
    journal, cpu = node.journal(), node.cpu_seconds()
    driven = node.drive(plans, start_wall, transport=transport)
    wall_s = driven.end_wall - start_wall
    loop_s, other_s = (b - a for a, b in zip(cpu, node.cpu_seconds(), strict=True))
    commands, commits, commit_s = (b - a for a, b in zip(journal, node.journal(), strict=True))
    latencies = sorted(latency for each in driven.answers for latency in each.latencies)
    refusals: Counter[str] = Counter()
    acked = 0
    for each in driven.answers:
        for status, body in zip(each.statuses, each.bodies, strict=True):
            if status == 200:
                acked += 1
            else:
                refusals[_refusal(status, body)] += 1
    stream = None
    if follower is not None:  # after the node's CPU was read: the wait costs it nothing
        stream = follower.finish(driven.end_wall, driven.side_cpu_s / wall_s)
    return Figures(
        len(latencies),
        acked / wall_s,
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.99) * 1000,
        _percentile(latencies, 0.999) * 1000,
        driven.cpu_s / wall_s,
        loop_s / wall_s,
        other_s / wall_s,
        (loop_s + other_s) / len(latencies) * 1e6,
        commands / commits if commits else math.nan,
        commit_s / commits * 1000 if commits else math.nan,
        refusals,
        stream,
    )


@dataclass
class Phase:
    """One measured phase's wallets, each one's request kinds and its orders to cancel."""

    wallets: list[Wallet]
    kinds: list[list[int]]
    rng: random.Random
    targets: list[list[int]] = field(default_factory=list)

    @classmethod
    def new(cls, clients: int, requests: int, cancel_share: float, seed: int) -> Phase:
        rng = random.Random(seed)
        wallets = [Wallet.new() for _ in range(clients)]
        return cls(wallets, [_kinds(rng, n, cancel_share) for n in _split(requests, clients)], rng)

    def setup_plan(self, host: str, index: int, nonce: int) -> Plan:
        """Wallet `index`'s deposits, then a resting order for each cancel it will send."""
        wallet = self.wallets[index]
        commands = _deposits(wallet, nonce)
        count = self.kinds[index].count(CANCEL)
        commands += [_order(self.rng, wallet, TARGET, nonce + 2 + j, 0) for j in range(count)]
        return Plan([_post(host, wallet, command) for command in commands])

    def plans(
        self, host: str, start_ns: int, rate: float | None, transport: str, per_frame: int = 1
    ) -> list[Plan]:
        """Every request signed: closed loop (rate None) or scheduled at `rate` from start_ns;
        HTTP requests, order-entry frames (WS), `per_frame` commands in each (an array frame,
        sent when its first command is scheduled, if more than 1), or gRPC messages."""
        clients, plans = len(self.wallets), []
        for index, (wallet, kinds) in enumerate(zip(self.wallets, self.kinds, strict=True)):
            plan = Plan(at=None if rate is None else [])
            targets = iter(self.targets[index])
            for j, kind in enumerate(kinds):
                nonce = start_ns + j  # the wallet's clock: the start, or the scheduled send
                if rate is not None:
                    assert plan.at is not None
                    plan.at.append((index + j * clients) / rate)
                    nonce = start_ns + round(plan.at[-1] * 1e9)
                target = next(targets) if kind == CANCEL else 0
                command = _order(self.rng, wallet, kind, nonce, target)
                plan.requests.append(_request(transport, host, j, wallet, command))
            plans.append(_grouped(plan, per_frame) if per_frame > 1 else plan)
        return plans


def _request(transport: str, host: str, ident: int, wallet: Wallet, command: AnyCommand) -> bytes:
    if transport == WS:
        return _frame(ident, wallet, command)
    if transport in (GRPC, GRPC_STREAM):
        return grpc_load.signed_message(*_signed(wallet, command))
    return _post(host, wallet, command)


def _grouped(plan: Plan, per_frame: int) -> Plan:
    """`plan`'s single-command frames as array frames of `per_frame`."""
    groups = range(0, len(plan.requests), per_frame)
    return Plan(
        [b"[" + b",".join(plan.requests[at : at + per_frame]) + b"]" for at in groups],
        None if plan.at is None else [plan.at[at] for at in groups],
        [len(plan.requests[at : at + per_frame]) for at in groups],
    )


def _setup(node: Node, phases: Sequence[Phase]) -> None:
    """Fund every phase's wallets and rest their cancels' targets (not timed)."""
    nonce = time.time_ns()
    plans = [
        phase.setup_plan(node.host, index, nonce)
        for phase in phases
        for index in range(len(phase.wallets))
    ]
    driven = node.drive(plans, time.time(), keep_bodies=True)
    answers = iter(driven.answers)
    for phase in phases:
        for _ in phase.wallets:
            answer = next(answers)
            assert set(answer.statuses) == {200}, answer.bodies
            phase.targets.append([json.loads(body)["order_id"] for body in answer.bodies[2:]])


def _start_after(signing: int) -> tuple[float, int]:
    """A start (time.time(), and in ns) late enough to sign `signing` requests first."""
    start = time.time() + START_LEAD_S + signing * 100e-6
    return start, int(start * 1e9)


def _late(start_wall: float) -> None:
    if time.time() > start_wall:
        print(f"  warning: signing ended {time.time() - start_wall:.2f} s after the start")


def one_run(
    args: argparse.Namespace, pool: multiprocessing.pool.Pool | None, seed: int
) -> dict[str, Figures]:
    """A fresh node: the /v1/time baseline, then the closed and the open loops."""
    clients, requests = args.clients, args.requests
    high, per = args.high_rate, args.per_frame
    rates: dict[str, tuple[float | None, str, int]] = {  # (rate, transport, per frame)
        "closed loop": (None, HTTP, 1),
        **{f"open loop at {r:,.0f}/s": (r, HTTP, 1) for r in (args.rate, high)},
        "WebSocket, closed loop": (None, WS, 1),
        **{f"WebSocket, open loop at {r:,.0f}/s": (r, WS, 1) for r in (args.rate, high)},
        f"WebSocket, {per} a frame, open loop at {high:,.0f}/s": (high, WS, per),
        "gRPC unary, closed loop": (None, GRPC, 1),
        **{f"gRPC unary, open loop at {r:,.0f}/s": (r, GRPC, 1) for r in (args.rate, high)},
        "gRPC EnterOrders, closed loop": (None, GRPC_STREAM, 1),
        f"gRPC EnterOrders, open loop at {high:,.0f}/s": (high, GRPC_STREAM, 1),
    }
    phases = {
        name: Phase.new(clients, requests, args.cancel_share, seed + i)
        for i, name in enumerate(rates)
    }
    figures: dict[str, Figures] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Node(Path(tmp), args.recv_window_ms, args.procs, pool) as node,
    ):
        _setup(node, list(phases.values()))
        get = f"GET /v1/time HTTP/1.1\r\nHost: {node.host}\r\n\r\n".encode()
        plans = [Plan([get] * n) for n in _split(requests, clients)]
        figures["GET /v1/time, closed loop"] = _measure(node, plans, time.time() + START_LEAD_S)
        for name, (rate, transport, per_frame) in rates.items():
            with Follower(node.host) as follower:  # subscribed before the clock starts
                start_wall, start_ns = _start_after(requests)
                plans = phases[name].plans(node.host, start_ns, rate, transport, per_frame)
                _late(start_wall)
                figures[f"orders, {name}"] = _measure(node, plans, start_wall, follower, transport)
        with httpx2.Client(base_url=f"http://{node.host}") as http:
            last = _last_trade_id(http)
        print(f"  run {seed}: {last:,} trades in all; ", end="")
    return figures


# -- in process and signatures --------------------------------------------------------------


def _in_process(clients: int, requests: int, cancel_share: float, seed: int) -> float:
    """Acknowledged commands a second of `EmbeddedExchange.submit_batch` over the same signed
    mix, `clients` commands per commit, in the open loop's order."""
    phase = Phase.new(clients, requests, cancel_share, seed)
    start_ns = time.time_ns()  # nonces near the host's clock: inside its receive window
    nonce = iter(range(start_ns, start_ns + 10**9))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedExchange.open(Path(tmp)) as host:
        setup: list[AnyCommand] = []
        for index, wallet in enumerate(phase.wallets):
            setup += [SignedCommand(*_signed(wallet, c)) for c in _deposits(wallet, next(nonce))]
            next(nonce)
            for _ in range(phase.kinds[index].count(CANCEL)):
                order = _order(phase.rng, wallet, TARGET, next(nonce), 0)
                setup.append(SignedCommand(*_signed(wallet, order)))
        outcomes = [
            outcome
            for start in range(0, len(setup), JOURNAL_BATCH_MAX)
            for outcome in host.submit_batch(setup[start : start + JOURNAL_BATCH_MAX])
        ]
        placed = iter(o.order_id for o in outcomes if isinstance(o, Placement))
        targets = [[next(placed) for _ in range(kinds.count(CANCEL))] for kinds in phase.kinds]
        # Admitted as the node's gateway admits them (off the sequencer's thread): the host
        # then checks no signature.
        commands: list[Admitted] = []
        for j in range(max(len(kinds) for kinds in phase.kinds)):
            for index, wallet in enumerate(phase.wallets):
                if j < len(phase.kinds[index]):
                    kind = phase.kinds[index][j]
                    target = targets[index].pop(0) if kind == CANCEL else 0
                    order = _order(phase.rng, wallet, kind, next(nonce), target)
                    commands.append(admit_signed(*_signed(wallet, order), signature_checked=True))
        started = time.perf_counter()
        results = [
            r
            for i in range(0, len(commands), clients)
            for r in host.submit_batch(commands[i : i + clients])
        ]
        elapsed = time.perf_counter() - started
    refused = sum(1 for result in results if not isinstance(result, Placement))
    assert refused == 0, f"{refused} commands refused in process"
    return len(results) / elapsed


def _per_op_us(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(SIGNATURE_LOOPS):
        action()
    return (time.perf_counter() - started) / SIGNATURE_LOOPS * 1e6


def _signature_costs() -> dict[str, float]:
    """Microseconds per operation, on one signed place-limit."""
    wallet = Wallet.new()
    command = PlaceLimit(wallet.address, MARKET, Side.BID, MID, 3, nonce=time.time_ns())
    body, signature = _signed(wallet, command)
    body_b64, signature_b64 = base64.b64encode(body).decode(), base64.b64encode(signature).decode()

    def admit() -> object:
        return admit_command(
            decode_base64(body_b64, "body"),
            decode_base64(signature_b64, "signature"),
            now_ns=time.time_ns(),
            window_ms=5_000,
            profile="dev",
        )

    return {
        "signature check (auth.verify, one command)": _per_op_us(
            lambda: verify(wallet.address, body, signature)
        ),
        "gateway admit (base64 + admit_command, signature incl.)": _per_op_us(admit),
        "signing, the wallet's side (auth.sign)": _per_op_us(lambda: sign(wallet.key, body)),
    }


# -- report ---------------------------------------------------------------------------------


def _header(args: argparse.Namespace) -> None:
    argv = [os.path.relpath(sys.executable), "-m", "bench.bench_node", *sys.argv[1:]]
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    load = ", ".join(f"{each:.2f}" for each in os.getloadavg())
    print(f"tachyon node benchmark, median of {args.runs} runs")
    print(f"  command: {shlex.join(argv)}")
    print(f"  machine: {os.cpu_count()} CPUs, load average {load} at the start")
    print(
        f"  node: uvicorn ({http}, {loop} loop) serving serve(data_dir, rate_limit=None, client_rate_limit=None,"
        f" recv_window_ms={args.recv_window_ms}):\n"
        "    the per-account rate limit off; dev profile; a fresh data directory per run"
    )
    print(
        f"  load: {args.clients} clients, one wallet and keep-alive connection each, in"
        f" {args.procs} load generator process(es)\n"
        f"    (raw HTTP/1.1 on asyncio, or websockets' asyncio client);"
        f" {args.requests:,} requests a phase:"
        f" {args.cancel_share:.0%} cancels of the wallet's resting orders,\n"
        f"    the rest limit orders ({CROSS_SHARE:.0%} of them crossing the mid)"
    )


def _medians(runs: list[dict[str, Figures]], name: str) -> dict[str, float]:
    """Each figure of phase `name`, the median over runs."""
    each = [run[name] for run in runs]
    fields = (
        "acked_per_s",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "client_cpu",
        "loop_cpu",
        "other_cpu",
        "node_us",
        "batch_mean",
        "commit_ms",
    )
    return {key: statistics.median(getattr(f, key) for f in each) for key in fields}


def _row(name: str, cells: Sequence[str], width: int) -> None:
    print(f"{name:<32}" + "".join(f"{cell:>{width}}" for cell in cells))


def _table(runs: list[dict[str, Figures]]) -> dict[str, dict[str, float]]:
    """Print the medians by phase, and return them."""
    medians = {name: _medians(runs, name) for name in runs[0]}
    floor = medians["GET /v1/time, closed loop"]["acked_per_s"]
    print()
    _row(
        "phase",
        ("requests", "acked/s", "x /v1/time", "p50 ms", "p99 ms", "p99.9 ms", "non-200"),
        11,
    )
    for name, m in medians.items():
        refusals = sum((run[name].refusals for run in runs), Counter[str]())
        cells = (
            f"{runs[0][name].requests:,}",
            f"{m['acked_per_s']:,.0f}",
            f"{m['acked_per_s'] / floor:.2f}",
            f"{m['p50_ms']:.1f}",
            f"{m['p99_ms']:.1f}",
            f"{m['p999_ms']:.1f}",
            f"{sum(refusals.values()):,}",
        )
        _row(name, cells, 11)
        for code, count in refusals.most_common():
            print(f"{'':<34}refused {count:,}: {code}")
    print()
    columns = ("client cpu", "loop cpu", "other cpu", "node us/req", "batch", "commit ms")
    _row("where the time goes", columns, 12)
    for name, m in medians.items():
        diagnosis = (
            f"{m['client_cpu']:.2f}",
            f"{m['loop_cpu']:.2f}",
            f"{m['other_cpu']:.2f}",
            f"{m['node_us']:,.0f}",
            f"{m['batch_mean']:.1f}",
            f"{m['commit_ms']:.2f}",
        )
        _row(name, diagnosis, 12)
    return medians


def _ms(value: float) -> str:
    return "not matched" if math.isinf(value) else f"{value:.1f}"


def _streams_table(runs: list[dict[str, Figures]]) -> list[str]:
    """Print what the market stream's followers saw, by phase; return what went wrong."""
    print()
    columns = ("messages", "trades", "made", "lag ms", "worst lag", "gaps", "cut off", "equal")
    _row("streams", (*columns, "cpu"), 12)
    problems = []
    for name in runs[0]:
        seen = [stream for run in runs if (stream := run[name].stream) is not None]
        if not seen:
            continue
        lags = [each.lag_ms for each in seen]
        cut = sum(each.cut_off for each in seen)
        unequal = sum(not each.equal for each in seen)
        cells = (
            f"{statistics.median(each.messages for each in seen):,.0f}",
            f"{statistics.median(each.trades for each in seen):,.0f}",
            f"{statistics.median(each.trades_made for each in seen):,.0f}",
            _ms(statistics.median(lags)),
            _ms(max(lags)),
            f"{sum(each.gaps for each in seen):,}",
            f"yes ({cut}/{len(seen)})" if cut else "no",
            f"no ({unequal}/{len(seen)})" if unequal else "yes",
            f"{statistics.median(each.cpu for each in seen):.2f}",
        )
        _row(name, cells, 12)
        problems += _stream_problems(name, seen)
    return problems


def _stream_problems(name: str, seen: Sequence[StreamFigures]) -> list[str]:
    """What went wrong in phase `name`'s runs, each named with the count of runs it hit."""
    checks = {
        "gaps": [each.gaps > 0 for each in seen],
        "cut off (4008)": [each.cut_off for each in seen],
        f"the book not matched within {SETTLE_TIMEOUT_S:.0f} s": [
            math.isinf(each.lag_ms) for each in seen
        ],
        "the book unequal to GET /v1/orderbook at the end": [not each.equal for each in seen],
        "trades received != made": [each.trades != each.trades_made for each in seen],
    }
    problems = [
        f"{what} in {sum(hits)} of {len(seen)} runs of {name}"
        for what, hits in checks.items()
        if any(hits)
    ]
    problems += [f"{each.error} ({name})" for each in seen if each.error]
    return problems


def _summary(
    medians: dict[str, dict[str, float]],
    problems: list[str],
    in_process: float,
    args: argparse.Namespace,
) -> None:
    closed = medians["orders, closed loop"]["acked_per_s"]
    print(
        f"\nin process: EmbeddedExchange.submit_batch, {args.clients} signed commands a commit:"
        f" {in_process:,.0f} cmd/s (the HTTP closed loop acks {closed / in_process:.2f} x that)"
    )
    samples = [_signature_costs() for _ in range(args.runs)]
    for name in samples[0]:
        us = statistics.median(sample[name] for sample in samples)
        print(f"{name:<56}{us:>8.1f} us {1e6 / us:>10,.0f} /s")
    orders = {name: m for name, m in medians.items() if name.startswith("orders")}
    best = max(orders, key=lambda name: orders[name]["acked_per_s"])
    rate, p99 = orders[best]["acked_per_s"], orders[best]["p99_ms"]
    met = rate >= TARGET_RATE and p99 < TARGET_P99_MS
    print(
        f"target, >= {TARGET_RATE:,} acked orders/s with p99 < {TARGET_P99_MS:.0f} ms:"
        f" {'met' if met else 'NOT met'} (best: {best}, {rate:,.0f}/s, p99 {p99:.1f} ms)"
    )
    if problems:
        print("streams did NOT keep up: " + "; ".join(problems))
    else:
        print("streams kept up: no gap and the book matched in every phase")


# -- subscribers joining a deep book ---------------------------------------------------------

JOIN_LEVELS: Final = 10_000  # price levels of the deep book, half bids, half asks
JOIN_ORDERS: Final = 300  # the legitimate client's orders per phase
JOIN_SUBSCRIBERS: Final = 8
IDLE_SUBSCRIBERS: Final = 60  # below the 64 WebSocket connections one client address may hold
BOOK_WALLETS: Final = 10  # the deep book's owners (an account's nonces in a window are bounded)
BOOK_PER_FRAME: Final = 50  # orders per order-entry array frame while building the book
WHOLE_BOOK_QUERY: Final = "depth=1000000000"  # every level, on the node before and after
IDLE_SETTLE_S: Final = 2.0  # for the idle subscribers' snapshots to be sent before the RSS


@dataclass(frozen=True)
class JoinFigures:
    """One phase of the joins scenario: the legitimate client's order latencies and what the
    subscribers cost."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    joins_per_s: float  # snapshots the subscribers received a second
    rss_mb: float  # growth of the node's resident memory during the phase
    cutoffs: float  # tachyon_stream_cutoffs_total during the phase


def _deep_book(node: Node, levels: int) -> None:
    """Rest one order at each of `levels` prices (bids below the mid, asks above), in array
    frames over order entry (not timed)."""
    nonce = time.time_ns()
    wallets = [Wallet.new() for _ in range(BOOK_WALLETS)]
    funding = [Plan([_post(node.host, w, c) for c in _deposits(w, nonce)]) for w in wallets]
    funded = node.drive(funding, time.time())
    assert all(set(each.statuses) == {200} for each in funded.answers), "funding failed"
    rng = random.Random(7)
    plans = []
    for index, wallet in enumerate(wallets):
        frames = []
        for j, level in enumerate(range(index, levels, BOOK_WALLETS)):
            away = level // 2 + 1
            side, price = (
                (Side.BID, MID - away * TICK) if level % 2 else (Side.ASK, MID + away * TICK)
            )
            command = PlaceLimit(
                wallet.address, MARKET, side, price, rng.randint(1, 5), nonce=nonce + 2 + j
            )
            frames.append(_frame(j, wallet, command))
        plans.append(_grouped(Plan(frames), BOOK_PER_FRAME))
    built = node.drive(plans, time.time(), transport=WS)
    assert all(set(each.statuses) == {200} for each in built.answers), "the book was refused"


def _legit_orders(node: Node, wallet: Wallet, count: int, levels: int, seed: int) -> list[float]:
    """`count` limit orders, each after the previous answer (a closed loop), resting at prices
    the deep book already has (its levels stay); the latencies in seconds. Each is signed just
    before its clock starts (its nonce stays inside the receive window however slow)."""
    rng = random.Random(seed)

    def order(j: int) -> bytes:
        away = rng.randint(1, levels // 2)
        side, price = (Side.BID, MID - away * TICK) if j % 2 else (Side.ASK, MID + away * TICK)
        command = PlaceLimit(wallet.address, MARKET, side, price, 1, nonce=time.time_ns())
        return _post(node.host, wallet, command)

    async def orders() -> list[float]:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, "127.0.0.1", node.port)
        latencies = []
        try:
            for j in range(count):
                data = order(j)
                begin = time.perf_counter()
                status, body = await connection.request(data)
                latencies.append(time.perf_counter() - begin)
                assert status == 200, body
        finally:
            assert connection.transport is not None
            connection.transport.close()
        return latencies

    return asyncio.run(orders())


def _churn(port: int, query: str, subscribers: int, stop: Any, joins: Any) -> None:
    """In a process of its own: `subscribers` clients each subscribing, reading the snapshot
    and leaving, again and again until `stop` is set; `joins` counts the snapshots read."""

    async def one() -> None:
        url = f"ws://127.0.0.1:{port}/v1/ws/market?market={MARKET}&channels=depth&{query}"
        while not stop.is_set():
            async with ws_client.connect(
                url, max_size=None, compression=None, ping_interval=None
            ) as socket_:
                await socket_.recv()
            with joins.get_lock():
                joins.value += 1

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(subscribers)))

    asyncio.run(all_of_them())


def _idle_subscriber(port: int, query: str) -> socket.socket:
    """A market stream subscription that never reads a message (only the handshake's answer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1/ws/market?market={MARKET}&channels=depth&{query} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)  # one at a time: nothing past the handshake's answer is read
        assert byte, "the node closed the subscription"
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _metric(host: str, name: str) -> float:
    with httpx2.Client(base_url=f"http://{host}", timeout=60.0) as http:
        for line in http.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def _join_phase(
    node: Node, orders: Callable[[], list[float]], churn: str | None, idle: str | None
) -> JoinFigures:
    """The legitimate client's orders, with subscribers joining (`churn`: their query) or
    idle subscribers that never read (`idle`: their query) or alone."""
    context = multiprocessing.get_context("spawn")
    stop, joins = context.Event(), context.Value("q", 0)
    churner = None
    held: list[socket.socket] = []
    rss, cutoffs = _rss_mb(node.process.pid), _metric(node.host, "tachyon_stream_cutoffs_total")
    if churn is not None:
        churner = context.Process(
            target=_churn, args=(node.port, churn, JOIN_SUBSCRIBERS, stop, joins)
        )
        churner.start()
        while joins.value < JOIN_SUBSCRIBERS:  # every subscriber has joined once
            time.sleep(0.01)
    connecting = None
    if idle is not None:  # they subscribe while the orders go on
        query = idle

        def connect_idle() -> None:
            held.extend(_idle_subscriber(node.port, query) for _ in range(IDLE_SUBSCRIBERS))

        connecting = threading.Thread(target=connect_idle, daemon=True)
    started, joined = time.perf_counter(), joins.value
    try:
        if connecting is not None:
            connecting.start()
        latencies = sorted(orders())
    finally:
        wall_s, joined = time.perf_counter() - started, joins.value - joined
        stop.set()
        if connecting is not None:
            connecting.join(STOP_TIMEOUT_S)
            time.sleep(IDLE_SETTLE_S)  # for the last ones' snapshots to be sent
        if churner is not None:
            churner.join(STOP_TIMEOUT_S)
            if churner.is_alive():
                churner.terminate()
        rss = _rss_mb(node.process.pid) - rss
        for sock in held:
            sock.close()
    return JoinFigures(
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.99) * 1000,
        latencies[-1] * 1000,
        joined / wall_s,
        rss,
        _metric(node.host, "tachyon_stream_cutoffs_total") - cutoffs,
    )


def joins_run(args: argparse.Namespace, seed: int) -> dict[str, JoinFigures]:
    """A fresh node with a deep book; the legitimate client's orders alone, then while
    subscribers join (the whole book, then the default depth), then beside idle ones."""
    phases: dict[str, tuple[str | None, str | None]] = {
        "alone": (None, None),
        f"{JOIN_SUBSCRIBERS} joining, whole book": (WHOLE_BOOK_QUERY, None),
        f"{JOIN_SUBSCRIBERS} joining, default depth": ("", None),
        "alone, again": (None, None),
        f"{IDLE_SUBSCRIBERS} idle, whole book": (None, WHOLE_BOOK_QUERY),
        f"{IDLE_SUBSCRIBERS} idle, default depth": (None, ""),
    }
    figures = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Node(Path(tmp), RECV_WINDOW_MS, 1, None) as node,
    ):
        _deep_book(node, args.levels)
        wallet = Wallet.new()
        funded = node.drive(
            [Plan([_post(node.host, wallet, c) for c in _deposits(wallet, time.time_ns())])],
            time.time(),
        )
        assert set(funded.answers[0].statuses) == {200}
        for index, (name, (churn, idle)) in enumerate(phases.items()):

            def orders(index: int = index) -> list[float]:
                return _legit_orders(node, wallet, args.orders, args.levels, seed * 100 + index)

            figures[name] = _join_phase(node, orders, churn, idle)
            print(f"  run {seed}, {name}: p50 {figures[name].p50_ms:.1f} ms", flush=True)
    return figures


def joins_main(args: argparse.Namespace) -> None:
    """The joins scenario's runs and the medians of its figures, by phase."""
    print(
        f"tachyon node: a legitimate client's orders while market stream subscribers join a"
        f" book of {args.levels:,} levels; median of {args.runs} runs"
    )
    print(
        f"  command: {shlex.join([os.path.relpath(sys.executable), '-m', 'bench.bench_node', *sys.argv[1:]])}"
    )
    runs = [joins_run(args, seed=run + 1) for run in range(args.runs)]
    print()
    columns = ("p50 ms", "p99 ms", "max ms", "joins/s", "RSS +MB", "cut off")
    _row("phase", columns, 10)
    for name in runs[0]:
        each = [run[name] for run in runs]
        cells = [
            f"{statistics.median(getattr(f, key) for f in each):,.1f}"
            for key in ("p50_ms", "p99_ms", "max_ms", "joins_per_s", "rss_mb", "cutoffs")
        ]
        _row(name, cells, 10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5_000, help="requests per phase")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--rate", type=float, default=2_000, help="open loop requests/s")
    parser.add_argument("--high-rate", type=float, default=TARGET_RATE, help="a second open loop")
    parser.add_argument("--procs", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--per-frame", type=int, default=10, help="commands per WebSocket array frame (a phase)"
    )
    parser.add_argument("--cancel-share", type=float, default=0.2)
    parser.add_argument(
        "--recv-window-ms",
        type=int,
        default=RECV_WINDOW_MS,
        help="the node's receive window (its default is 5000)",
    )
    parser.add_argument(
        "--joins",
        action="store_true",
        help="only the joins scenario: a legitimate client's orders while subscribers join",
    )
    parser.add_argument("--levels", type=int, default=JOIN_LEVELS, help="the joins' book")
    parser.add_argument("--orders", type=int, default=JOIN_ORDERS, help="per joins phase")
    args = parser.parse_args()
    if args.joins:
        joins_main(args)
        return
    _header(args)
    pool = multiprocessing.get_context("spawn").Pool(args.procs) if args.procs > 1 else None
    runs, in_process = [], []
    try:
        for run in range(args.runs):
            runs.append(one_run(args, pool, seed=run + 1))
            in_process.append(_in_process(args.clients, args.requests, args.cancel_share, run + 1))
            print(f"in process {in_process[-1]:,.0f} cmd/s")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    medians = _table(runs)
    _summary(medians, _streams_table(runs), statistics.median(in_process), args)


if __name__ == "__main__":
    main()
