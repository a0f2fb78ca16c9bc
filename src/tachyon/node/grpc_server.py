"""The node's gRPC server: a `grpc.aio` server on the application's event loop, serving
`tachyon.v1.Exchange` over the application's `Node` and gRPC's standard health service
(`grpc.health.v1`: SERVING while the node runs), started and stopped with the application
(`tachyon.node.app`'s lifespan).

In the clear unless TLS is configured: meant for loopback, as the HTTP API is (put a proxy that
terminates TLS, or `--grpc-tls-cert/--grpc-tls-key`, in front of anything wider). Every command
and read is signed by its account's key either way, as over REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tachyon.errors import StorageError
from tachyon.node.errors import REQUEST_BYTES_MAX
from tachyon.node.execution import Node
from tachyon.node.grpc_gen.exchange_pb2_grpc import add_ExchangeServicer_to_server
from tachyon.node.grpc_service import SERVICE, ExchangeService
from tachyon.node.grpc_settings import GrpcSettings
from tachyon.node.observability import logger

STOP_GRACE_S: Final = 1.0
"""How long calls in flight may finish on shutdown; streams are cancelled after it."""
PENDING_CALLS_MAX: Final = 10_000
"""Calls received and not yet taken up by the service; beyond it gRPC sheds a call, answered
CANCELLED having done nothing."""
SERVING: Final = health_pb2.HealthCheckResponse.SERVING


@asynccontextmanager
async def serving(node: Node, settings: GrpcSettings) -> AsyncIterator[int]:
    """The gRPC server listening (its port, the free one picked for port 0) while the body
    runs; StorageError naming the address if it cannot listen."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", REQUEST_BYTES_MAX),  # as REST's body limit
            ("grpc.so_reuseport", 0),  # a busy port is refused, as the HTTP listener's
            # Calls waiting for the event loop: gRPC's default (1,000) answers the rest
            # CANCELLED, so a burst of orders a single-loop node would take in a second or two
            # was shed. A bound stays (memory: at most this many 16 KiB requests).
            ("grpc.server.max_pending_requests", PENDING_CALLS_MAX),
            ("grpc.server.max_pending_requests_hard_limit", PENDING_CALLS_MAX),
        ]
    )
    add_ExchangeServicer_to_server(ExchangeService(node), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    port = _listen(server, settings)
    await server.start()
    for service in ("", SERVICE):
        await checker.set(service, SERVING)
    logger.info(
        "the node serves gRPC",
        extra={"host": settings.host, "port": port, "tls": settings.tls is not None},
    )
    try:
        yield port
    finally:
        await checker.enter_graceful_shutdown()
        await server.stop(STOP_GRACE_S)


def _listen(server: grpc.aio.Server, settings: GrpcSettings) -> int:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    address = f"{host}:{settings.port}"
    try:
        if settings.tls is None:
            port = server.add_insecure_port(address)
        else:
            pair = (settings.tls.private_key, settings.tls.certificate_chain)
            port = server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
    except RuntimeError as exc:
        raise StorageError(f"cannot listen for gRPC on {address}: {exc}") from exc
    if port == 0:
        raise StorageError(f"cannot listen for gRPC on {address}")
    return port
