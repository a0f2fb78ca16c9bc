"""Goal: the node traces a command's request and the journal commit that carried it when a
tracer provider is configured, and makes no spans when none is. Method: the app in-process
with the OpenTelemetry SDK's provider and its in-memory exporter; real signed commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tachyon.dex import Side
from tachyon.errors import InvalidInput
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.node import create_app
from tachyon.node.observability import configure_tracing, log_config
from tests.node.support import MARKET, USDC, Trader


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def test_a_command_and_its_commit_are_traced(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with TestClient(create_app(tmp_path / "exchange", tracer_provider=provider)) as client:
        alice = Trader(client)
        alice.ok(Deposit(alice.address, "USDC", 1_000 * USDC, alice.nonce()))
        alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 3, nonce=alice.nonce()))
        refused = alice.post(
            PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 10**6, nonce=alice.nonce())
        )
        assert refused.status_code == 409
    spans = exporter.get_finished_spans()
    places = _by_name(spans, "tachyon.limit")
    assert [span.attributes["tachyon.outcome"] for span in places] == [  # type: ignore[index]
        "accepted",
        "insufficient_funds",
    ]
    assert places[0].attributes["tachyon.account"] == alice.address  # type: ignore[index]
    assert len(_by_name(spans, "tachyon.deposit")) == 1
    batches = _by_name(spans, "tachyon.batch")
    carried = [
        b
        for b in batches
        if places[0].context.span_id in {link.context.span_id for link in b.links}
    ]
    assert len(carried) == 1, "the place request's batch links to it"
    batch = carried[0]
    assert batch.attributes["tachyon.accepted"] == 1  # type: ignore[index]
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == batch.context.span_id
    ]
    assert sorted(s.name for s in children) == ["tachyon.commit", "tachyon.match_settle"]
    for child in children:
        assert batch.start_time <= child.start_time <= child.end_time <= batch.end_time  # type: ignore[operator]
    # A refused command's batch journals nothing but is traced as a batch that accepted none.
    assert any(b.attributes["tachyon.accepted"] == 0 for b in batches)  # type: ignore[index]


def test_without_a_provider_the_node_makes_no_spans(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        assert client.app.state.sequencer.tracer is None  # type: ignore[attr-defined]
        alice = Trader(client)
        alice.ok(Deposit(alice.address, "USDC", USDC, alice.nonce()))
    assert configure_tracing("none") is None


def test_bad_observability_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="trace exporter is one of none, console, otlp"):
        configure_tracing("jaeger")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(InvalidInput, match="not 'zipkin'"):
        configure_tracing()
    with pytest.raises(InvalidInput, match="log format is one of text, json"):
        log_config("info", "xml")
