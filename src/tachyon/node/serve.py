"""Run the node: the application of `tachyon.node.app` on uvicorn, until SIGTERM or SIGINT.

Before uvicorn starts, `serve` binds the listening socket and opens the exchange, checking
the node's receive window against it: a busy port, a data directory it cannot open or a window
wider than the exchange's is a `TachyonError` naming the problem (the CLI: one line, exit 1),
with nothing served. On either signal uvicorn stops accepting connections and lets in-flight
requests finish; the application's shutdown then drains the sequencer and snapshots the
exchange; the process exits 0. `tachyon node serve` (the CLI) calls `serve`.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Final

import uvicorn
from fastapi import FastAPI

from tachyon.errors import InvalidConfig, StorageError
from tachyon.exchange.auth import is_address
from tachyon.exchange.commands import SetOperator
from tachyon.exchange.engines import DEFAULT_ENGINE
from tachyon.node.app import (
    BAD_SIGNATURE_LIMIT_DEFAULT,
    CLIENT_RATE_LIMIT_DEFAULT,
    RATE_LIMIT_DEFAULT,
    RECV_WINDOW_MS_DEFAULT,
    check_node_window,
    create_app,
)
from tachyon.node.gc_policy import FREEZE_EVERY
from tachyon.node.grpc_settings import GrpcSettings, GrpcTls
from tachyon.node.observability import configure_tracing, log_config, shutdown_tracing
from tachyon.node.order_entry import (
    FRAME_CHARS_MAX,
    INFLIGHT_BYTES_MAX_DEFAULT,
    INFLIGHT_MAX_DEFAULT,
)
from tachyon.node.ratelimit import RateLimit
from tachyon.node.streams import QUEUE_BYTES_MAX_DEFAULT, QUEUE_MAX_DEFAULT
from tachyon.onramp.stripe_api import StripeSettings
from tachyon.storage import EmbeddedExchange

HOST_DEFAULT: Final = "127.0.0.1"
PORT_DEFAULT: Final = 8700
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
WS_FRAME_BYTES_MAX: Final = 2 * FRAME_CHARS_MAX


def serve(
    data_dir: Path,
    *,
    operator: str | None = None,
    host: str = HOST_DEFAULT,
    port: int = PORT_DEFAULT,
    profile: str = "dev",
    recv_window_ms: int = RECV_WINDOW_MS_DEFAULT,
    log_level: str = "info",
    log_format: str = "text",
    trace_exporter: str | None = None,
    rate_limit: RateLimit | None = RATE_LIMIT_DEFAULT,
    client_rate_limit: RateLimit | None = CLIENT_RATE_LIMIT_DEFAULT,
    bad_signature_limit: RateLimit | None = BAD_SIGNATURE_LIMIT_DEFAULT,
    stream_queue_max: int = QUEUE_MAX_DEFAULT,
    stream_queue_bytes_max: int = QUEUE_BYTES_MAX_DEFAULT,
    inflight_max: int = INFLIGHT_MAX_DEFAULT,
    inflight_bytes_max: int = INFLIGHT_BYTES_MAX_DEFAULT,
    engine: str = DEFAULT_ENGINE,
    stripe: StripeSettings | None = None,
    grpc_port: int | None = None,
    grpc_tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve the exchange in `data_dir` (created, its markets on `engine`, if it is new) on `host:port` until SIGTERM or SIGINT stops it (then
    return normally; StorageError if the exchange's closing snapshot failed). A port it
    cannot listen on is a StorageError, an exchange it cannot
    open the exchange's error, a receive window wider than the exchange's InvalidConfig: each
    raised before the server starts, with nothing served and nothing changed. Call it from
    the main thread. `log_format` is text or json; `trace_exporter` none, console or otlp
    (None: `OTEL_TRACES_EXPORTER`), see `tachyon.node.observability`; `rate_limit` (by
    account), `client_rate_limit` (by client address) and `bad_signature_limit` (a client
    address's failed signature checks) None serve without that limit; the stream and
    order-entry bounds are `create_app`'s. `operator`: an address made the exchange's
    operator if it has none (InvalidConfig, before anything is served, if its operator is
    another). `stripe`, if given, enables the card on-ramp. `grpc_port`, if given, serves
    gRPC on `host:grpc_port` too, over TLS with `grpc_tls` (certificate chain and private key
    files, PEM; read before anything is served)."""
    logging_config = log_config(log_level, log_format)  # a bad format is refused first
    grpc = _grpc_settings(host, grpc_port, grpc_tls)
    with _listening(host, port) as listener:
        opened = _opened(data_dir, recv_window_ms, operator, engine)
        provider = configure_tracing(trace_exporter)
        app = create_app(
            data_dir,
            profile=profile,
            recv_window_ms=recv_window_ms,
            rate_limit=rate_limit,
            client_rate_limit=client_rate_limit,
            bad_signature_limit=bad_signature_limit,
            stream_queue_max=stream_queue_max,
            stream_queue_bytes_max=stream_queue_bytes_max,
            inflight_max=inflight_max,
            inflight_bytes_max=inflight_bytes_max,
            tracer_provider=provider,
            gc_freeze_every=FREEZE_EVERY,
            opened=opened,
            stripe=stripe,
            grpc=grpc,
        )
        try:
            _run(app, listener, log_level, logging_config)
        finally:
            opened.close(snapshot=False)  # as found, unless the application ran and closed it
            shutdown_tracing(provider)
        failed = getattr(app.state, "shutdown_error", None)
        if failed is not None:  # a stop that did not end cleanly is no clean exit
            raise StorageError(
                f"the exchange's closing snapshot failed ({failed}); every acknowledged command"
                " is in the journal, and the next start recovers from it"
            )


def _grpc_settings(
    host: str, port: int | None, tls: tuple[Path, Path] | None
) -> GrpcSettings | None:
    if port is None:
        if tls is not None:
            raise InvalidConfig("--grpc-tls-cert and --grpc-tls-key need --grpc-port")
        return None
    return GrpcSettings(host, port, None if tls is None else GrpcTls.read(*tls))


def _run(app: FastAPI, listener: socket.socket, log_level: str, logging_config: Any) -> None:
    """uvicorn on the bound `listener` until a stop signal (StorageError if it failed to
    start: it has logged why)."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        log_config=logging_config,
        lifespan="on",  # a failure to open the exchange stops the server at once
        access_log=False,
        server_header=False,
        # Twice the longest order-entry frame (answered 413 above that): past this the
        # connection is closed (1009) before the frame is read whole.
        ws_max_size=WS_FRAME_BYTES_MAX,
        # Compressing each small message costs more CPU than loopback or a LAN saves.
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    previous = {signum: signal.signal(signum, _absorb) for signum in _STOP_SIGNALS}
    try:
        server.run(sockets=[listener])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not server.started:
        where = listener.getsockname()
        raise StorageError(f"the node did not start on {where[0]}:{where[1]}")


@contextlib.contextmanager
def _listening(host: str, port: int) -> Iterator[socket.socket]:
    """A socket bound to `host:port` (uvicorn listens on it), closed on the way out;
    StorageError naming the address if it cannot be bound (busy, or not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        reason = (exc.strerror or str(exc)).lower()
        raise StorageError(f"cannot listen on {host}:{port}: {reason}") from exc
    with listener:
        yield listener


def _opened(
    data_dir: Path, recv_window_ms: int, operator: str | None, engine: str
) -> EmbeddedExchange:
    """The exchange in `data_dir`, recovered (created on `engine` if there is none), if the
    node's window fits in its own and its operator is `operator` (made so if it has none);
    else InvalidConfig, the exchange closed as it was found."""
    if operator is not None and not is_address(operator):
        raise InvalidConfig(f"--operator {operator!r} is not an address (64 lowercase hex digits)")
    host = EmbeddedExchange.open(data_dir, engine=engine)
    try:
        check_node_window(recv_window_ms, host)
        if operator is not None:
            _ensure_operator(host, operator)
    except InvalidConfig:
        host.close(snapshot=False)
        raise
    return host


def _ensure_operator(host: EmbeddedExchange, operator: str) -> None:
    current = host.refresh().venue.operator
    if current is None:
        host.submit(SetOperator(operator))  # unsigned: the directory's own host names it
    elif current != operator:
        raise InvalidConfig(
            f"the exchange in {host.db_path.parent} has operator {current}, not {operator};"
            " nothing was changed"
        )


def _absorb(_signum: int, _frame: FrameType | None) -> None:
    """uvicorn raises the signal that stopped it again once its graceful shutdown is done; the
    node has drained and snapshotted by then, so the process exits 0 instead of dying by it."""
