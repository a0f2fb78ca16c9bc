"""Run the node: the application of `tachyon.node.app` on uvicorn, until SIGTERM or SIGINT.

On either signal uvicorn stops accepting connections and lets in-flight requests finish; the
application's shutdown then drains the sequencer and snapshots the exchange; the process exits
0. `tachyon node serve` (the CLI) calls `serve`.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Final

import uvicorn

from tachyon.errors import StorageError
from tachyon.node.app import (
    CLIENT_RATE_LIMIT_DEFAULT,
    RATE_LIMIT_DEFAULT,
    RECV_WINDOW_MS_DEFAULT,
    create_app,
)
from tachyon.node.gc_policy import FREEZE_EVERY
from tachyon.node.observability import configure_tracing, log_config, shutdown_tracing
from tachyon.node.order_entry import FRAME_CHARS_MAX
from tachyon.node.ratelimit import RateLimit
from tachyon.node.streams import QUEUE_MAX_DEFAULT

HOST_DEFAULT: Final = "127.0.0.1"
PORT_DEFAULT: Final = 8700
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
WS_FRAME_BYTES_MAX: Final = 2 * FRAME_CHARS_MAX


def serve(
    data_dir: Path,
    *,
    host: str = HOST_DEFAULT,
    port: int = PORT_DEFAULT,
    profile: str = "dev",
    recv_window_ms: int = RECV_WINDOW_MS_DEFAULT,
    log_level: str = "info",
    log_format: str = "text",
    trace_exporter: str | None = None,
    rate_limit: RateLimit | None = RATE_LIMIT_DEFAULT,
    client_rate_limit: RateLimit | None = CLIENT_RATE_LIMIT_DEFAULT,
    stream_queue_max: int = QUEUE_MAX_DEFAULT,
) -> None:
    """Serve the exchange in `data_dir` on `host:port` until SIGTERM or SIGINT stops it (then
    return normally). If the exchange cannot be opened, uvicorn logs why and exits the process
    with status 3 (its STARTUP_FAILURE). Call it from the main thread. `log_format` is text or
    json; `trace_exporter` none, console or otlp (None: `OTEL_TRACES_EXPORTER`), see
    `tachyon.node.observability`; `rate_limit` (by account) and `client_rate_limit` (by
    client address) None serve without that limit."""
    logging_config = log_config(log_level, log_format)  # a bad format is refused first
    provider = configure_tracing(trace_exporter)
    app = create_app(
        data_dir,
        profile=profile,
        recv_window_ms=recv_window_ms,
        rate_limit=rate_limit,
        client_rate_limit=client_rate_limit,
        stream_queue_max=stream_queue_max,
        tracer_provider=provider,
        gc_freeze_every=FREEZE_EVERY,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
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
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        shutdown_tracing(provider)
    if not server.started:  # uvicorn has logged why (a data directory that cannot be opened)
        raise StorageError(f"the node did not start on {host}:{port} over {data_dir}")


def _absorb(_signum: int, _frame: FrameType | None) -> None:
    """uvicorn raises the signal that stopped it again once its graceful shutdown is done; the
    node has drained and snapshotted by then, so the process exits 0 instead of dying by it."""
