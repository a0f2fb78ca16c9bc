"""Goal: talk to a real node's gRPC service as a trading program does. Method: `grpc_node`
starts `serve` in a subprocess with gRPC on a second free 127.0.0.1 port (both waited for,
bounded); `signed_read` signs what the REST read signs; `refusal` reads a refusal's gRPC code
and its ErrorInfo reason (the REST error code) from the status details."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

import grpc
import httpx2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tachyon.client.signing import read_message
from tachyon.exchange.auth import sign
from tachyon.exchange.commands import AnyCommand, encode_command
from tachyon.node.grpc_gen import exchange_pb2 as pb
from tachyon.node.grpc_gen.exchange_pb2_grpc import ExchangeStub
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import Trader

CALL_TIMEOUT_S: Final = 10.0


@dataclass
class GrpcNode:
    """A running node: an HTTP client of it, a gRPC channel to it and the service's stub."""

    http: httpx2.Client
    channel: grpc.Channel
    stub: ExchangeStub
    url: str
    grpc_target: str


@contextmanager
def grpc_node(data_dir: Path, **options: object) -> Iterator[GrpcNode]:
    """`serve(data_dir, grpc_port=..., **options)` in a subprocess; stopped with SIGTERM and
    required to exit 0."""
    port, grpc_port = free_port(), free_port()
    process = start_node(data_dir, port, grpc_port=grpc_port, **options)
    url = f"http://127.0.0.1:{port}"
    try:
        with (
            httpx2.Client(base_url=url, timeout=CALL_TIMEOUT_S) as http,
            grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
        ):
            wait_until_up(http, process)
            grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT_S)
            target = f"127.0.0.1:{grpc_port}"
            yield GrpcNode(http, channel, ExchangeStub(channel), url, target)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0, stderr.decode()


def signed_command(trader: Trader, command: AnyCommand) -> pb.SignedCommand:
    body = encode_command(command)
    return pb.SignedCommand(body=body, signature=sign(trader.key, body))


def signed_read(trader: Trader, path: str, timestamp_ns: int | None = None) -> pb.SignedRead:
    """A signed read of `trader`'s own data, signed over `GET path` (the REST read's)."""
    ts = time.time_ns() if timestamp_ns is None else timestamp_ns
    signature = trader.key.sign(read_message("GET", path, str(ts)))
    return pb.SignedRead(address=trader.address, timestamp_ns=ts, signature=signature)


def refusal(error: grpc.RpcError) -> tuple[grpc.StatusCode, str, str]:
    """(code, ErrorInfo reason, message) of a refused call."""
    call = cast(grpc.Call, error)  # the sync stub's refusals are both (grpc's _InactiveRpcError)
    status = rpc_status.from_call(call)
    assert status is not None, error
    (detail,) = status.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    assert info.domain == "tachyon"
    assert status.message == call.details()
    return call.code(), info.reason, status.message
