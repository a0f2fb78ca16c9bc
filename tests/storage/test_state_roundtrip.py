"""Goal: the exchange state survives encoding, snapshot + replay, and the durable host unchanged.
Method: seeded random flows over two markets; state hashes compared after decode_state, after a
restore from midpoint bytes plus replay, and after a host run, reopen and audit."""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest

from tachyon.dex.model import TimeInForce
from tachyon.errors import OrderNotOwned, TachyonError
from tachyon.exchange.commands import (
    AddMarket,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    Withdraw,
)
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange, decode_state
from tachyon.storage import EmbeddedExchange, audit
from tests.storage.helpers import (
    DB_NAME,
    Flow,
    Result,
    StepClock,
    apply_one,
    make_flow,
    run,
    same_result,
    snapshot_rows,
    submit_one,
)

SEEDS = list(range(10))
if os.environ.get("TACHYON_SEED"):
    SEEDS.append(int(os.environ["TACHYON_SEED"]))
FLOW_LENGTH = 300
SNAPSHOT_EVERY = 37


def _kinds(flow: Flow, results: list[Result]) -> Counter[str]:
    """What the flow did, by kind of command and whether it was accepted."""
    kinds: Counter[str] = Counter()
    for command, result in zip(flow.commands, results, strict=True):
        verdict = type(result).__name__ if isinstance(result, TachyonError) else "ok"
        name = type(command).__name__
        if isinstance(command, PlaceLimit):
            name += ":post-only" if command.post_only else f":{command.tif}"
        elif isinstance(command, PlaceMarket):
            name += ":qty" if command.qty is not None else ":max_quote"
        kinds[f"{name}/{verdict}"] += 1
        if isinstance(result, Placement) and result.trades:
            kinds["trades"] += 1
    return kinds


def test_the_flows_exercise_every_kind_of_command() -> None:
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        flow = make_flow(seed, FLOW_LENGTH)
        exchange = Exchange()
        kinds = _kinds(flow, run(exchange, flow))
        seen.update(kinds)
        assert kinds["trades"] >= 5, f"seed {seed} barely trades: {kinds}"
        assert kinds["SetFees/ok"] >= 2
        assert exchange.seq >= FLOW_LENGTH // 2
    wanted = [
        f"{command.__name__}/ok"
        for command in (AddMarket, RegisterToken, Deposit, Withdraw, CancelOrder, SetFees)
    ]
    wanted += [f"PlaceLimit:{tif}/ok" for tif in TimeInForce]
    wanted += ["PlaceLimit:post-only/ok", "PlaceMarket:qty/ok", "PlaceMarket:max_quote/ok"]
    wanted += [f"CancelOrder/{OrderNotOwned.__name__}", "Withdraw/InsufficientFunds"]
    wanted += ["Deposit/StaleNonce", "PlaceLimit:post-only/PostOnlyWouldTake"]
    wanted += ["PlaceLimit:fok/FillOrKillUnfillable", "SetFees/InvalidConfig"]
    missing = [kind for kind in wanted if not seen[kind]]
    assert not missing, f"the flows never produce {missing}: {sorted(seen.items())}"


@pytest.mark.parametrize("seed", SEEDS)
def test_state_bytes_decode_to_an_equal_state(seed: int) -> None:
    flow = make_flow(seed, FLOW_LENGTH)
    exchange = Exchange()
    for start in range(0, len(flow), 50):  # at several points along the way, not just the end
        run(exchange, flow, start, start + 50)
        data = exchange.state_bytes()
        decoded = decode_state(data)
        decoded.check_invariants()
        assert decoded.state_hash() == exchange.state_hash()
        assert decoded.state_bytes() == data
        assert (decoded.seq, decoded.ts_ns) == (exchange.seq, exchange.ts_ns)
    exchange.check_invariants()


@pytest.mark.parametrize("seed", SEEDS)
def test_restore_from_midpoint_bytes_and_replay_gives_the_same_state(seed: int) -> None:
    flow = make_flow(seed, FLOW_LENGTH)
    midpoint = random.Random(seed).randrange(len(flow) // 4, 3 * len(flow) // 4)
    exchange = Exchange()
    run(exchange, flow, 0, midpoint)
    saved, saved_seq = exchange.state_bytes(), exchange.seq
    later: list[tuple[Result, int]] = []
    for command, ts_ns in zip(flow.commands[midpoint:], flow.stamps[midpoint:], strict=True):
        later.append((apply_one(exchange, command, ts_ns), exchange.seq))

    restored = decode_state(saved)
    assert restored.seq == saved_seq
    for (command, ts_ns), (result, seq) in zip(
        zip(flow.commands[midpoint:], flow.stamps[midpoint:], strict=True), later, strict=True
    ):
        assert same_result(apply_one(restored, command, ts_ns), result)
        assert restored.seq == seq
    restored.check_invariants()
    assert restored.state_hash() == exchange.state_hash()
    assert restored.state_bytes() == exchange.state_bytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_host_run_reopens_and_audits_to_the_in_memory_state(tmp_path: Path, seed: int) -> None:
    flow = make_flow(seed, FLOW_LENGTH)
    clock = StepClock()
    host = EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=SNAPSHOT_EVERY)
    results = [
        submit_one(host, clock, command, ts_ns)
        for command, ts_ns in zip(flow.commands, flow.stamps, strict=True)
    ]
    host.close()

    exchange = Exchange()
    expected = run(exchange, flow)
    mismatched = [
        i for i, pair in enumerate(zip(results, expected, strict=True)) if not same_result(*pair)
    ]
    assert not mismatched, f"host and in-memory results differ at commands {mismatched}"

    snapshots = [row[0] for row in snapshot_rows(tmp_path / DB_NAME)]
    assert snapshots[-1] == exchange.seq  # close wrote one (or the cadence just did)
    assert snapshots[0] % SNAPSHOT_EVERY == 0

    with EmbeddedExchange.open(tmp_path, clock=clock) as reopened:
        assert reopened.seq == exchange.seq
        assert reopened.recovered.snapshot_seq == exchange.seq
        state = reopened.refresh()
        state.check_invariants()
        assert state.state_hash() == exchange.state_hash()
        assert state.state_bytes() == exchange.state_bytes()

    report = audit(tmp_path)
    assert report.snapshot_matches is True
    assert report.state_hash == exchange.state_hash()
    assert report.entries == exchange.seq
    assert report.snapshot_seq == exchange.seq
    assert report.db_path == str(tmp_path / DB_NAME)


def test_a_host_that_stops_without_closing_recovers_from_its_last_snapshot(
    tmp_path: Path,
) -> None:
    """Replay after a cadence snapshot: a second host reads what the first left, mid-run."""
    flow = make_flow(SEEDS[0], FLOW_LENGTH)
    clock = StepClock()
    exchange = Exchange()
    run(exchange, flow)
    with EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=SNAPSHOT_EVERY) as host:
        for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
            submit_one(host, clock, command, ts_ns)
        # While the first host is still open (no clean-shutdown snapshot yet):
        with EmbeddedExchange.open(tmp_path, clock=clock) as second:
            assert second.recovered.snapshot_seq == exchange.seq // SNAPSHOT_EVERY * SNAPSHOT_EVERY
            assert second.recovered.replayed == exchange.seq % SNAPSHOT_EVERY
            assert second.refresh().state_hash() == exchange.state_hash()
    assert audit(tmp_path).state_hash == exchange.state_hash()
