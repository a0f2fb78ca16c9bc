"""`tachyon node serve`: the embedded exchange on the network (see `tachyon.node`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from tachyon.cli import options

if TYPE_CHECKING:
    from tachyon.onramp.stripe_api import StripeSettings

# As tachyon.node's defaults (not imported: `--help` should not load the web framework).
RATE_PER_S: Final = 50.0
BURST: Final = 100
CLIENT_RATE_PER_S: Final = 500.0
CLIENT_BURST: Final = 1_000
BAD_SIGNATURE_RATE_PER_S: Final = 10.0
BAD_SIGNATURE_BURST: Final = 100
STREAM_QUEUE_MAX: Final = 4_096
STREAM_QUEUE_BYTES_MAX: Final = 1024 * 1024
INFLIGHT_MAX: Final = 1_024
INFLIGHT_BYTES_MAX: Final = 1024 * 1024


@click.group()
def node() -> None:
    """Serve the exchange over HTTP (OpenAPI at /openapi.json)."""


@node.command()
@options.data_dir_option
@click.option(
    "--operator",
    default=None,
    metavar="ADDRESS",
    help="Make ADDRESS the exchange's operator if it has none; refuse to start if its"
    " operator is another.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8700, show_default=True, help="TCP port."
)
@click.option(
    "--recv-window-ms",
    type=click.IntRange(1, 600_000),
    default=5_000,
    show_default=True,
    help="How far a signed request's timestamp may be from the server's clock; at most the"
    " exchange's receive window (60000 in a new exchange), which the node only narrows.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line on stderr.",
)
@click.option(
    "--trace-exporter",
    type=click.Choice(["none", "console", "otlp"]),
    default=None,
    help="Export OpenTelemetry spans: console (stderr) or otlp (OTEL_EXPORTER_OTLP_ENDPOINT)"
    " [default: OTEL_TRACES_EXPORTER, else none].",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(0, None, min_open=True),
    default=RATE_PER_S,
    show_default=True,
    help="Signed requests a second per account (token bucket); see --no-rate-limit.",
)
@click.option(
    "--rate-burst",
    type=click.IntRange(1, None),
    default=BURST,
    show_default=True,
    help="Signed requests an idle account may send at once.",
)
@click.option("--no-rate-limit", is_flag=True, help="Serve without a per-account rate limit.")
@click.option(
    "--client-rate-limit",
    type=click.FloatRange(0, None, min_open=True),
    default=CLIENT_RATE_PER_S,
    show_default=True,
    help="Signed requests a second per client address, charged before any signature check.",
)
@click.option(
    "--client-rate-burst",
    type=click.IntRange(1, None),
    default=CLIENT_BURST,
    show_default=True,
    help="Signed requests an idle client address may send at once.",
)
@click.option(
    "--no-client-rate-limit", is_flag=True, help="Serve without a per-client-address limit."
)
@click.option(
    "--bad-signature-limit",
    type=click.FloatRange(0, None, min_open=True),
    default=BAD_SIGNATURE_RATE_PER_S,
    show_default=True,
    help="Failed signature checks a second per client address; past them (and the burst) the"
    " address's signed requests are refused (429) unchecked.",
)
@click.option(
    "--bad-signature-burst",
    type=click.IntRange(1, None),
    default=BAD_SIGNATURE_BURST,
    show_default=True,
    help="Failed signature checks a client address may cause at once.",
)
@click.option(
    "--no-bad-signature-limit", is_flag=True, help="Serve without a limit of failed checks."
)
@click.option(
    "--stream-queue-max",
    type=click.IntRange(1, 1_000_000),
    default=STREAM_QUEUE_MAX,
    show_default=True,
    help="Messages a stream client may fall behind before it is cut off.",
)
@click.option(
    "--stream-queue-bytes-max",
    type=click.IntRange(1, None),
    default=STREAM_QUEUE_BYTES_MAX,
    show_default=True,
    help="Bytes of messages a stream client may fall behind before it is cut off.",
)
@click.option(
    "--inflight-max",
    type=click.IntRange(1, 1_000_000),
    default=INFLIGHT_MAX,
    show_default=True,
    help="Unanswered frames an order-entry connection may have; past them it is not read.",
)
@click.option(
    "--inflight-bytes-max",
    type=click.IntRange(1, None),
    default=INFLIGHT_BYTES_MAX,
    show_default=True,
    help="Bytes of unanswered frames (and their answers) an order-entry connection may have;"
    " past them it is not read.",
)
@click.option(
    "--stripe-webhook-secret",
    envvar="STRIPE_WEBHOOK_SECRET",
    show_envvar=True,
    help="The Stripe webhook endpoint's signing secret (whsec_...): enables the card on-ramp"
    " with --stripe-api-key. Prefer the variable: options show in the process list.",
)
@click.option(
    "--stripe-api-key",
    envvar="STRIPE_API_KEY",
    show_envvar=True,
    help="Stripe's secret API key (sk_...), to create checkout sessions.",
)
@click.option(
    "--stripe-api-base",
    envvar="STRIPE_API_BASE",
    show_envvar=True,
    help="Another Stripe API host, such as stripe-mock or a local stand-in (default: Stripe's).",
)
@click.option(
    "--grpc-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve gRPC (tachyon.v1.Exchange and grpc.health.v1) on this port of --host too;"
    " in the clear unless --grpc-tls-cert and --grpc-tls-key are given (meant for loopback).",
)
@click.option(
    "--grpc-tls-cert",
    type=click.Path(dir_okay=False),
    default=None,
    help="The gRPC server's certificate chain (PEM), with --grpc-tls-key.",
)
@click.option(
    "--grpc-tls-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="The gRPC server's private key (PEM), with --grpc-tls-cert.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    data_dir: str | None,
    operator: str | None,
    host: str,
    port: int,
    recv_window_ms: int,
    log_level: str,
    log_format: str,
    trace_exporter: str | None,
    rate_limit: float,
    rate_burst: int,
    no_rate_limit: bool,
    client_rate_limit: float,
    client_rate_burst: int,
    no_client_rate_limit: bool,
    bad_signature_limit: float,
    bad_signature_burst: int,
    no_bad_signature_limit: bool,
    stream_queue_max: int,
    stream_queue_bytes_max: int,
    inflight_max: int,
    inflight_bytes_max: int,
    stripe_webhook_secret: str | None,
    stripe_api_key: str | None,
    stripe_api_base: str | None,
    grpc_port: int | None,
    grpc_tls_cert: str | None,
    grpc_tls_key: str | None,
) -> None:
    """Serve the exchange in --data-dir until SIGTERM or Ctrl-C, then drain, snapshot, exit 0.
    The profile (dev or prod, as for every command) decides whether deposits are accepted.
    WebSocket streams at /v1/ws/market and /v1/ws/account, order entry at /v1/ws/orders;
    metrics at /metrics. A new exchange's markets use the engine `tachyon --engine`,
    TACHYON_ENGINE or config.toml names. With the two Stripe secrets, the card on-ramp:
    POST /v1/onramp/checkout and Stripe's webhook at POST /v1/onramp/stripe/webhook.
    With --grpc-port, the same commands, reads and streams over gRPC (see the README)."""
    from tachyon.node.ratelimit import RateLimit  # noqa: PLC0415 (the node, on demand)
    from tachyon.node.serve import serve as serve_node  # noqa: PLC0415

    directory = options.user_path(data_dir) if data_dir else options.default_data_dir()
    engine = options.engine_name(ctx)
    stripe = _stripe(stripe_webhook_secret, stripe_api_key, stripe_api_base)
    grpc_tls = _grpc_tls(grpc_port, grpc_tls_cert, grpc_tls_key)
    serve_node(
        directory,
        operator=operator,
        engine=engine,
        host=host,
        port=port,
        profile=options.profile(),
        recv_window_ms=recv_window_ms,
        log_level=log_level,
        log_format=log_format,
        trace_exporter=trace_exporter,
        rate_limit=None if no_rate_limit else RateLimit(rate_limit, rate_burst),
        client_rate_limit=(
            None if no_client_rate_limit else RateLimit(client_rate_limit, client_rate_burst)
        ),
        bad_signature_limit=(
            None if no_bad_signature_limit else RateLimit(bad_signature_limit, bad_signature_burst)
        ),
        stream_queue_max=stream_queue_max,
        stream_queue_bytes_max=stream_queue_bytes_max,
        inflight_max=inflight_max,
        inflight_bytes_max=inflight_bytes_max,
        stripe=stripe,
        grpc_port=grpc_port,
        grpc_tls=grpc_tls,
    )


def _grpc_tls(port: int | None, cert: str | None, key: str | None) -> tuple[Path, Path] | None:
    """The gRPC server's TLS files: both, or neither (in the clear)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        missing = "--grpc-tls-key" if cert else "--grpc-tls-cert"
        raise click.UsageError(f"gRPC over TLS needs {missing} as well")
    if port is None:
        raise click.UsageError("--grpc-tls-cert and --grpc-tls-key need --grpc-port")
    return options.user_path(cert), options.user_path(key)


def _stripe(secret: str | None, key: str | None, base: str | None) -> StripeSettings | None:
    """The on-ramp's settings: both secrets, or neither (the on-ramp off)."""
    from tachyon.onramp.stripe_api import StripeSettings  # noqa: PLC0415 (on demand)

    if secret is None and key is None:
        if base is not None:
            raise click.UsageError(
                "--stripe-api-base needs --stripe-webhook-secret and --stripe-api-key"
            )
        return None
    if not secret or not key:
        missing = "--stripe-api-key" if secret else "--stripe-webhook-secret"
        raise click.UsageError(f"the card on-ramp needs {missing} (or its variable) as well")
    return StripeSettings(secret, key, base or None)
