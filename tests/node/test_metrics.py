"""Goal: `/metrics` exposes each of the node's metrics in Prometheus text, and the values move as
the exchange does: orders by type and outcome, trades and matched volume, request latency by
route, journal commits and batch sizes, book levels. Method: the app in-process (TestClient)
over a real data directory; real keys sign every command; the exposition is parsed with
prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tachyon.dex import Side
from tachyon.exchange.commands import Deposit, PlaceLimit, PlaceMarket, Withdraw
from tachyon.node import create_app
from tachyon.node.metrics import NodeMetrics
from tests.node.support import MARKET, USDC, Trader, envelope

Labels = frozenset[tuple[str, str]]

FAMILIES = (
    "tachyon_orders",
    "tachyon_trades",
    "tachyon_matched_volume",
    "tachyon_http_request_duration_seconds",
    "tachyon_journal_commit_duration_seconds",
    "tachyon_journal_batch_size",
    "tachyon_book_levels",
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        yield client


def scrape(client: TestClient) -> dict[tuple[str, Labels], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_every_metric_is_exposed_before_any_traffic(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert set(FAMILIES) <= families
    samples = scrape(client)
    assert value(samples, "tachyon_book_levels", market=MARKET, side="bid") == 0
    assert value(samples, "tachyon_journal_commit_duration_seconds_count") == 0
    # /metrics is an operator's endpoint, not part of the API's description
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_values_move_with_a_trade(client: TestClient) -> None:
    alice, bob = Trader(client), Trader(client)
    before = scrape(client)
    alice.ok(Deposit(alice.address, "USDC", 2_000 * USDC, alice.nonce()))
    bob.ok(Deposit(bob.address, "BASE", 25, bob.nonce()))
    alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 10, nonce=alice.nonce()))
    bob.ok(PlaceLimit(bob.address, MARKET, Side.ASK, 120 * USDC, 5, nonce=bob.nonce()))
    bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 4, nonce=bob.nonce()))
    refused = bob.post(Withdraw(bob.address, "BASE", 1_000, bob.nonce()))
    assert refused.status_code == 409
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    orders = "tachyon_orders_total"
    assert moved(orders, type="deposit", outcome="accepted") == 2
    assert moved(orders, type="limit", outcome="accepted") == 2
    assert moved(orders, type="market", outcome="accepted") == 1
    assert moved(orders, type="withdraw", outcome="insufficient_funds") == 1
    assert moved("tachyon_trades_total", market=MARKET) == 1
    assert moved("tachyon_matched_volume_total", market=MARKET) == 4  # BASE minor units
    # every command reached the journal (the refused one too), in as many commits as counted
    batches = client.app.state.sequencer.batches  # type: ignore[attr-defined]
    assert moved("tachyon_journal_commit_duration_seconds_count") == batches
    assert moved("tachyon_journal_commit_duration_seconds_sum") > 0
    assert moved("tachyon_journal_batch_size_count") == batches
    assert moved("tachyon_journal_batch_size_sum") == 6
    latency = "tachyon_http_request_duration_seconds_count"
    assert moved(latency, route="/v1/commands", method="POST", status="200") == 5
    assert moved(latency, route="/v1/commands", method="POST", status="409") == 1
    assert moved(latency, route="/metrics", method="GET", status="200") == 1  # the first scrape
    # alice's bid rests with 6 left at 100; bob's ask at 120
    assert value(after, "tachyon_book_levels", market=MARKET, side="bid") == 1
    assert value(after, "tachyon_book_levels", market=MARKET, side="ask") == 1


def test_refusals_before_the_exchange_are_counted_by_type(client: TestClient) -> None:
    alice = Trader(client)
    stale = PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 1, nonce=1)
    assert alice.post(stale).status_code == 400  # outside the receive window
    garbage = client.post("/v1/commands", json=envelope(alice.key, b"not a command"))
    assert garbage.status_code == 400
    missing = client.get("/no/such/path")
    assert missing.status_code == 404
    samples = scrape(client)
    orders = "tachyon_orders_total"
    assert value(samples, orders, type="limit", outcome="outside_receive_window") == 1
    assert value(samples, orders, type="unknown", outcome="invalid_input") == 1
    latency = "tachyon_http_request_duration_seconds_count"
    assert value(samples, latency, route="unmatched", method="GET", status="404") == 1


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    first, second = NodeMetrics(), NodeMetrics()
    first.order("limit", "accepted")
    assert b'tachyon_orders_total{outcome="accepted",type="limit"} 1.0' in first.expose()
    assert b"tachyon_orders_total{" not in second.expose()
    with (
        TestClient(create_app(tmp_path / "a")) as a,
        TestClient(create_app(tmp_path / "b")) as b,
    ):
        trader = Trader(a)
        trader.ok(Deposit(trader.address, "USDC", USDC, trader.nonce()))
        deposit = "tachyon_orders_total"
        assert value(scrape(a), deposit, type="deposit", outcome="accepted") == 1
        assert value(scrape(b), deposit, type="deposit", outcome="accepted") == 0
