"""The node's logs and traces, configured when it is served.

Logs: the `tachyon` and `uvicorn` loggers write to stderr, as text or as one JSON object per
line (python-json-logger) with the time, level, logger, message and the record's extra fields
(data directory, sequence number, address, ...), so a log pipeline can index them.

Traces (OpenTelemetry): the node creates spans through the OpenTelemetry API, which does
nothing until a tracer provider is configured, so an unconfigured node pays next to nothing.
`configure_tracing` installs the SDK's provider with an exporter chosen by name ("console":
JSON spans on stderr; "otlp": OTLP over HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`, which needs the
`otlp` extra), or by the standard `OTEL_TRACES_EXPORTER` variable when no name is given.
Spans: `tachyon.<type>` per signed command request (limit, market, cancel, deposit,
withdraw), `tachyon.batch` per journal commit (linked to the requests it carried),
and under it `tachyon.match_settle` (matching and settlement of the batch's commands, which
the service does together, fill by fill) and `tachyon.commit` (journal write and fsync).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider

from tachyon.errors import InvalidInput

LOG_FORMATS: Final = ("text", "json")
EXPORTERS: Final = ("none", "console", "otlp")
TRACER_NAME: Final = "tachyon.node"
_FIELDS: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"  # JSON: and every extra
_LOGGERS: Final = ("tachyon", "uvicorn", "uvicorn.error")

logger: Final = logging.getLogger("tachyon.node")


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the node (uvicorn applies it when it starts)."""
    if log_format not in LOG_FORMATS:
        raise InvalidInput(f"the log format is one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if log_format == "json"
        else {"format": _FIELDS}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"node": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "node",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
            for name in _LOGGERS
        },
    }


def configure_tracing(exporter: str | None = None) -> TracerProvider | None:
    """Install the SDK's tracer provider exporting to `exporter` (default: the
    `OTEL_TRACES_EXPORTER` variable; "none" or unset: install nothing, spans stay no-ops)."""
    name = exporter if exporter is not None else os.environ.get("OTEL_TRACES_EXPORTER", "none")
    if name not in EXPORTERS:
        raise InvalidInput(f"the trace exporter is one of {', '.join(EXPORTERS)}, not {name!r}")
    if name == "none":
        return None
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 (only when tracing)
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    span_exporter: SpanExporter
    if name == "console":
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise InvalidInput(
                "the otlp exporter needs the otlp extra: pip install 'tachyon[otlp]'"
            ) from exc
        span_exporter = OTLPSpanExporter()
    provider = SdkTracerProvider(resource=Resource.create({"service.name": "tachyon-node"}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    return provider


def tracer_of(provider: TracerProvider | None) -> Tracer:
    """The node's tracer from `provider`, else from the global one (a no-op until set)."""
    return (provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export what is buffered (on the node's exit)."""
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()
