"""Goal: the operator, listed tokens and markets, fees, risk limits and halts survive a restart
from a snapshot, a replay of the journal from zero (audit), and both agree to the state hash.
Method: a real data directory, signed admin commands through EmbeddedExchange, reopened."""

from __future__ import annotations

import time
from pathlib import Path

from tachyon.dex.ids import MarketId
from tachyon.dex.model import Side
from tachyon.exchange.commands import (
    AccountCommand,
    AdminAddMarket,
    AdminAddToken,
    AdminDeposit,
    AdminHaltMarket,
    AdminSetFees,
    AdminSetRisk,
    PlaceLimit,
    SetOperator,
)
from tachyon.storage import EmbeddedExchange, audit
from tests.exchange.helpers import KEY_A, A, signed


def test_a_snapshot_and_a_replay_from_zero_reproduce_the_venue(tmp_path: Path) -> None:
    now = time.time_ns()  # nonces lie near the command's time
    commands: list[AccountCommand] = [
        SetOperator(A, nonce=now + 1),
        AdminAddToken(A, "ETH", 8, nonce=now + 2),
        AdminAddMarket(A, "ETH", "USDC", 10_000, 100_000, 1_000_000, max_qty=10**9, nonce=now + 3),
        AdminSetFees(A, "ETH/USDC", 10, 25, nonce=now + 4),
        AdminSetRisk(A, "ETH/USDC", max_notional=10**12, price_band_bps=500, nonce=now + 5),
        AdminDeposit(A, "alice", "USDC", 10**12, nonce=now + 6),
        AdminHaltMarket(A, "ETH/USDC", True, nonce=now + 7),
        AdminHaltMarket(A, "ETH/USDC", False, nonce=now + 8),
    ]
    with EmbeddedExchange.open(tmp_path) as host:
        for command in commands:
            host.submit(signed(KEY_A, command))
        host.submit(PlaceLimit("alice", "ETH/USDC", Side.BID, 2_000_000_000, 1_000_000))
        expected = host.state.state_hash()
        host.write_snapshot()
    with EmbeddedExchange.open(tmp_path) as host:  # from the snapshot
        state = host.state
        assert state.state_hash() == expected
        assert state.venue.operator == A
        rules = state.venue.rules_of(MarketId("ETH/USDC"))
        assert (rules.max_qty, rules.limits.max_notional, rules.limits.price_band_bps) == (
            10**9,
            10**12,
            500,
        )
        assert state.service.get_market(MarketId("ETH/USDC")).fees.taker_bps == 25
    report = audit(tmp_path)  # every entry replayed from the first, signatures checked again
    assert report.state_hash == expected
    assert report.snapshot_matches is True
