"""Goal: an exchange keeps the engine it was created with: recovery (from a snapshot, or by
replaying the journal alone) and audit rebuild its markets on that engine whatever engine the
process asks for, and an engine that cannot be restored from state cannot back one.
Method: a seeded flow on each installed restorable engine, reopened and audited; the
recorded engine read back from the database."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from tachyon.dex.in_memory import ENGINE as IN_MEMORY, InMemoryEngine
from tachyon.errors import InvalidConfig, UnknownEngine
from tachyon.exchange import engines
from tachyon.exchange.commands import AccountCommand, AdminAddMarket, AdminAddToken, SetOperator
from tachyon.exchange.engines import DEFAULT_ENGINE, engine_names, register_engine
from tachyon.storage import EmbeddedExchange
from tachyon.storage.audit import audit
from tests.exchange.helpers import KEY_A, A, signed
from tests.storage.helpers import StepClock, make_flow, submit_one
from tests.support.engines import INSTALLED, EngineUnderTest

_NOT_RESTORABLE = "not-restorable-test-engine"


def recorded(data_dir: Path) -> str:
    conn = sqlite3.connect(data_dir / "exchange.db")
    try:
        (value,) = conn.execute("SELECT value FROM exchange_meta WHERE key = 'engine'").fetchone()
    finally:
        conn.close()
    assert isinstance(value, str)
    return value


def market_engines(host: EmbeddedExchange) -> set[str]:
    markets = host.refresh().service.to_state()["markets"]
    assert isinstance(markets, list)
    return {str(market[1]) for market in markets}


def other_engine(name: str) -> str:
    """Another installed engine that can back an exchange (not one a test registered)."""
    others = [e.name for e in INSTALLED if e.spec.restorable and e.name != name]
    return others[0] if others else name


@pytest.mark.needs(restorable=True)
@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot", "journal-only"])
def test_recovery_and_audit_rebuild_the_recorded_engine(
    make: EngineUnderTest, snapshot: bool, tmp_path: Path
) -> None:
    flow = make_flow(7, 300)
    clock = StepClock()
    host = EmbeddedExchange.open(tmp_path, clock=clock, engine=make.name)
    for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
        submit_one(host, clock, command, ts_ns)
    assert host.seq > 100
    state_hash = host.refresh().state_hash()
    assert market_engines(host) == {make.name}
    host.close(snapshot=snapshot)  # without one: as a crash leaves it
    assert recorded(tmp_path) == make.name
    reopened = EmbeddedExchange.open(tmp_path, engine=other_engine(make.name))
    assert reopened.recovered.snapshot_seq == (reopened.seq if snapshot else 0)
    assert reopened.refresh().state_hash() == state_hash
    assert market_engines(reopened) == {make.name}
    reopened.close(snapshot=False)
    report = audit(tmp_path)
    assert report.state_hash == state_hash
    assert report.read_model == "ok"
    assert report.snapshot_matches is (True if snapshot else None)


def test_an_exchange_made_before_the_record_is_on_the_built_in_engine(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        state_hash = host.refresh().state_hash()
    conn = sqlite3.connect(tmp_path / "exchange.db")
    try:
        conn.execute("DROP TABLE exchange_meta")
        conn.commit()
    finally:
        conn.close()
    with EmbeddedExchange.open(tmp_path, engine=other_engine(DEFAULT_ENGINE)) as host:
        assert market_engines(host) == {DEFAULT_ENGINE}
        assert host.refresh().state_hash() == state_hash


def test_an_engine_without_a_loader_cannot_back_a_durable_exchange(tmp_path: Path) -> None:
    if _NOT_RESTORABLE not in engine_names():
        register_engine(_NOT_RESTORABLE, InMemoryEngine)  # no loader
    data_dir = tmp_path / "exchange"
    with pytest.raises(InvalidConfig, match="cannot be restored from state") as info:
        EmbeddedExchange.open(data_dir, engine=_NOT_RESTORABLE)
    assert "durable exchange" in str(info.value)
    assert not data_dir.exists()


def test_an_exchange_whose_engine_is_not_available_says_which(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path):
        pass
    conn = sqlite3.connect(tmp_path / "exchange.db")
    try:
        conn.execute("UPDATE exchange_meta SET value = 'warp-drive' WHERE key = 'engine'")
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(InvalidConfig) as info:
        EmbeddedExchange.open(tmp_path)
    message = str(info.value)
    assert "was created with the 'warp-drive' engine, which cannot be used here" in message
    assert "available: " in message


@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot", "journal"])
def test_a_market_on_an_engine_missing_here_is_refused_naming_it_not_as_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot: bool
) -> None:
    """A later process without the package of a market's engine: the journal (or snapshot)
    is sound, so the refusal names the engine, never `corrupt_data`, and changes nothing."""
    name = f"plugin-{uuid.uuid4().hex[:8]}"
    assert IN_MEMORY.loader is not None
    register_engine(name, InMemoryEngine, IN_MEMORY.loader, capabilities=IN_MEMORY.capabilities)
    now = time.time_ns()
    host = EmbeddedExchange.open(tmp_path)
    commands: list[AccountCommand] = [
        SetOperator(A, nonce=now + 1),
        AdminAddToken(A, "ETH", 8, nonce=now + 2),
        AdminAddMarket(A, "ETH", "USDC", 10_000, 100_000, 1_000_000, engine=name, nonce=now + 3),
    ]
    for command in commands:
        host.submit(signed(KEY_A, command))
    host.close(snapshot=snapshot)
    monkeypatch.delitem(engines._SPECS, name)  # as in a process where it is not installed
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    with pytest.raises(UnknownEngine) as info:
        EmbeddedExchange.open(tmp_path)
    message = str(info.value)
    assert info.value.code == "invalid_config"
    where = "snapshot at sequence 3" if snapshot else "journal entry 3"
    assert f"unknown engine {name!r}" in message and where in message
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == files
