"""Goal: each account's signed requests are rate limited by a token bucket: past the burst the
node answers 429 `rate_limited` with an integer `Retry-After`, the refused request changes
nothing (the very same signed request succeeds once the bucket refills), other accounts are
unaffected, and the bucket table stays bounded. Method: the app in-process over a real data
directory with a clock the test steps by hand (the exchange's whole window lets the wallets' real
nonces through); the limiter's arithmetic checked directly too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tachyon.exchange.commands import Deposit, encode_command
from tachyon.node import create_app
from tachyon.node.errors import RateLimited
from tachyon.node.ratelimit import RateLimit, RateLimiter
from tests.node.support import USDC, Trader, assert_error, envelope

SECOND_NS = 1_000_000_000
BURST = 5
RATE_PER_S = 0.5  # one token every 2 s


class StepClock:
    """The node's clock, moved only by the test."""

    def __init__(self) -> None:
        self.now_ns = time.time_ns()

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * SECOND_NS)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def client(tmp_path: Path, clock: StepClock) -> Iterator[TestClient]:
    app = create_app(
        tmp_path / "exchange",
        clock=clock,
        recv_window_ms=60_000,
        rate_limit=RateLimit(rate_per_s=RATE_PER_S, burst=BURST, accounts_max=1_000),
    )
    with TestClient(app) as client:
        yield client


def test_past_the_burst_429_with_retry_after_and_nothing_changed(
    client: TestClient, clock: StepClock
) -> None:
    alice, bob = Trader(client), Trader(client)
    alice.ok(Deposit(alice.address, "USDC", 100 * USDC, alice.nonce()))
    for _ in range(BURST - 1):  # account reads spend the same bucket
        assert alice.read("/v1/account/balances").status_code == 200
    book = client.get("/v1/orderbook").json()

    deposit = envelope(
        alice.key, encode_command(Deposit(alice.address, "USDC", USDC, alice.nonce()))
    )
    refused = client.post("/v1/commands", json=deposit)
    assert_error(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "2"  # 1 token at 0.5/s
    assert_error(alice.read("/v1/account/orders"), 429, "rate_limited")
    # another account is unaffected, public reads are not limited
    assert bob.read("/v1/account/balances").status_code == 200
    assert client.get("/v1/orderbook").json() == book

    clock.advance(1.0)  # half a token: still refused, due in 1 s
    again = client.post("/v1/commands", json=deposit)
    assert_error(again, 429, "rate_limited")
    assert again.headers["Retry-After"] == "1"

    clock.advance(1.0)  # one token: the same signed request (its nonce unused) now goes through
    accepted = client.post("/v1/commands", json=deposit)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["balances"][0]["available"] == "101"
    assert_error(alice.read("/v1/account/balances"), 429, "rate_limited")

    clock.advance(BURST / RATE_PER_S)  # a full bucket again
    assert alice.balances()["USDC"] == ("101", "0")

    text = client.get("/metrics").text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    key = frozenset({"type": "deposit", "outcome": "rate_limited"}.items())
    assert samples[("tachyon_orders_total", key)] == 2


def test_forged_commands_do_not_spend_the_victims_tokens(client: TestClient) -> None:
    """The gateway checks a command's signature before it takes a token of its address's
    bucket: a forger cannot throttle someone else's account."""
    alice = Trader(client)
    forger = Ed25519PrivateKey.generate()
    for _ in range(BURST * 3):
        forged = encode_command(Deposit(alice.address, "USDC", USDC, alice.nonce()))
        assert_error(
            client.post("/v1/commands", json=envelope(forger, forged)), 401, "bad_signature"
        )
    for _ in range(BURST):  # alice's whole burst is still hers
        alice.ok(Deposit(alice.address, "USDC", USDC, alice.nonce()))
    assert_error(alice.read("/v1/account/balances"), 429, "rate_limited")


def test_the_bucket_table_is_bounded(tmp_path: Path, clock: StepClock) -> None:
    app = create_app(
        tmp_path / "exchange",
        clock=clock,
        recv_window_ms=60_000,
        rate_limit=RateLimit(rate_per_s=1, burst=1, accounts_max=2),
    )
    with TestClient(app) as client:
        traders = [Trader(client) for _ in range(3)]
        for trader in traders:
            assert trader.read("/v1/account/balances").status_code == 200
        limiter = app.state.limiter
        assert len(limiter) == 2
        assert traders[0].address not in limiter  # the least recently used went
        # evicted, the first account starts again with a full bucket
        assert traders[0].read("/v1/account/balances").status_code == 200
        assert_error(traders[0].read("/v1/account/balances"), 429, "rate_limited")


def test_limiter_refills_evicts_least_recently_used_and_rounds_retry_after_up() -> None:
    limiter = RateLimiter(RateLimit(rate_per_s=0.4, burst=2, accounts_max=3))
    now = 10 * SECOND_NS
    limiter.take("a", now)
    limiter.take("a", now)
    with pytest.raises(RateLimited) as refused:
        limiter.take("a", now)
    assert refused.value.retry_after_s == 3  # 2.5 s, rounded up
    assert refused.value.code == "rate_limited"
    with pytest.raises(RateLimited):
        limiter.take("a", now - SECOND_NS)  # a clock stepped back refills nothing
    limiter.take("a", now + int(2.5 * SECOND_NS))  # exactly one token later
    with pytest.raises(RateLimited):
        limiter.take("a", now + int(2.5 * SECOND_NS))
    # a long idle refills only up to the burst
    later = now + 3_600 * SECOND_NS
    limiter.take("a", later)
    limiter.take("a", later)
    with pytest.raises(RateLimited):
        limiter.take("a", later)
    # least recently used goes first: "a" is touched after "b", so "d" evicts "b"
    latest = later + 3_600 * SECOND_NS
    for address in ("b", "c", "a", "d"):
        limiter.take(address, latest)
    assert len(limiter) == 3
    assert "b" not in limiter
    assert all(address in limiter for address in ("a", "c", "d"))
    for index in range(1_000):  # never more than the cap
        limiter.take(f"x{index}", latest)
    assert len(limiter) == 3


def test_retry_after_is_at_least_one_second() -> None:
    limiter = RateLimiter(RateLimit(rate_per_s=1_000, burst=1))
    limiter.take("a", 0)
    with pytest.raises(RateLimited) as refused:
        limiter.take("a", 0)
    assert refused.value.retry_after_s == 1
