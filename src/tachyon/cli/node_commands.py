"""`tachyon node serve`: the embedded exchange on the network (see `tachyon.node`)."""

from __future__ import annotations

import click

from tachyon.cli import options


@click.group()
def node() -> None:
    """Serve the exchange over HTTP (OpenAPI at /openapi.json)."""


@node.command()
@options.data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8700, show_default=True, help="TCP port."
)
@click.option(
    "--recv-window-ms",
    type=click.IntRange(1, 600_000),
    default=5_000,
    show_default=True,
    help="How far a signed request's timestamp may be from the server's clock.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(data_dir: str | None, host: str, port: int, recv_window_ms: int, log_level: str) -> None:
    """Serve the exchange in --data-dir until SIGTERM or Ctrl-C, then drain, snapshot, exit 0.
    The profile (dev or prod, as for every command) decides whether deposits are accepted."""
    from tachyon.node.serve import serve as serve_node  # noqa: PLC0415 (uvicorn, on demand)

    directory = options.user_path(data_dir) if data_dir else options.default_data_dir()
    serve_node(
        directory,
        host=host,
        port=port,
        profile=options.profile(),
        recv_window_ms=recv_window_ms,
        log_level=log_level,
    )
