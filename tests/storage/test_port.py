"""Goal: `EmbeddedPort` answers every read of the `ExchangePort` the same from the read model as
from the recovered host, falls back to the host when the view is behind, never writes for a read,
and submits signed commands durably. Method: seeded random flows through a real
EmbeddedExchange on SQLite files in tmp_path, then the same reads through a port on the
directory (the view) and a port over the host."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.dex.ids import AccountId, MarketId
from tachyon.errors import StorageError
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import Deposit, SignedCommand, encode_command
from tachyon.exchange.port import ExchangePort
from tachyon.ledger.ledger import BalanceRecord
from tachyon.storage import EmbeddedExchange, EmbeddedPort
from tests.exchange.helpers import ALICE, BOB, CAROL, USDC
from tests.storage.helpers import DB_NAME, StepClock, make_flow, snapshot_rows, submit_one

ACCOUNTS: Final = (AccountId(ALICE), AccountId(BOB), AccountId(CAROL))
DEPTH: Final = 50


def _filled(data_dir: Path, seed: int, *, read_model: bool = True) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(data_dir, clock=clock, read_model=read_model) as host:
        flow = make_flow(seed, 300)
        for command, ts in zip(flow.commands, flow.stamps, strict=True):
            submit_one(host, clock, command, ts)


def _reads(port: ExchangePort) -> dict[str, object]:
    """Everything the port tells, in a form both sides share (a zero balance may be left out)."""
    markets = sorted(port.markets(), key=lambda config: config.market_id)
    reads: dict[str, object] = {"markets": markets, "tokens": port.tokens()}
    for config in markets:
        market = MarketId(config.market_id)
        reads[f"book {market}"] = port.book(DEPTH, market)
        reads[f"trades {market}"] = port.recent_trades(DEPTH, market)
    for account in ACCOUNTS:
        held = port.balances(account)
        reads[f"balances {account}"] = {
            token: rec for token, rec in held.items() if rec.available or rec.locked
        }
        reads[f"orders {account}"] = port.open_orders(account)
    return reads


@pytest.mark.parametrize("seed", range(3))
def test_the_view_and_the_host_answer_alike(tmp_path: Path, seed: int) -> None:
    data_dir = tmp_path / "exchange"
    _filled(data_dir, seed)
    with EmbeddedPort(data_dir) as from_view:
        seen = _reads(from_view)
    with EmbeddedExchange.open(data_dir) as host:
        assert _reads(EmbeddedPort.over(host)) == seen
    assert any(seen[f"orders {account}"] for account in ACCOUNTS)  # the flow left orders open


def test_a_view_behind_the_journal_falls_back_to_the_host_and_a_read_writes_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "exchange"
    _filled(data_dir, 7, read_model=False)  # the view stays behind: readers must recover
    snapshots = snapshot_rows(data_dir / DB_NAME)
    with EmbeddedPort(data_dir) as port:
        seen = _reads(port)
    assert snapshot_rows(data_dir / DB_NAME) == snapshots
    with EmbeddedExchange.open(data_dir) as host:
        assert _reads(EmbeddedPort.over(host)) == seen


def test_a_signed_command_through_the_port_is_durable(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    account = AccountId(address_of(key))
    body = encode_command(Deposit(account, USDC, 5_000, nonce=time.time_ns()))
    data_dir = tmp_path / "exchange"
    with EmbeddedPort(data_dir) as port:  # no exchange yet: the first use creates it
        assert port.submit(SignedCommand(body, sign(key, body))) == BalanceRecord(5_000, 0)
        assert port.balances(account) == {USDC: BalanceRecord(5_000, 0)}
    assert len(snapshot_rows(data_dir / DB_NAME)) == 1  # a writer snapshots what is new on close
    with EmbeddedPort(data_dir) as again:
        assert again.balances(account) == {USDC: BalanceRecord(5_000, 0)}


def test_a_port_that_may_not_create_reads_no_missing_or_empty_exchange(tmp_path: Path) -> None:
    data_dir = tmp_path / "exchange"
    with (
        EmbeddedPort(data_dir, create=False) as port,
        pytest.raises(StorageError, match=rf"^no exchange at {data_dir}$"),
    ):
        port.markets()
    assert not data_dir.exists()
    data_dir.mkdir()
    (data_dir / DB_NAME).touch()
    with (
        EmbeddedPort(data_dir, create=False) as port,
        pytest.raises(StorageError, match=r"exchange\.db is not an exchange database"),
    ):
        port.book(DEPTH, MarketId("BASE/USDC"))
    assert [(path.name, path.stat().st_size) for path in data_dir.iterdir()] == [(DB_NAME, 0)]
    with EmbeddedPort(data_dir) as port:  # a port that may create does, as a writer
        assert [config.market_id for config in port.markets()] == ["BASE/USDC"]
    with EmbeddedPort(data_dir, create=False) as port:
        assert [config.market_id for config in port.markets()] == ["BASE/USDC"]
