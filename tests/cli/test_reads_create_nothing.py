"""Goal: a read (orderbook, trades, markets, watch, balance, orders, history) of a data
directory with no exchange, or with an empty `exchange.db`, is one `Error:` line and exit 1 and
creates nothing;
a write on the same directory still creates the exchange. Method: the installed `tachyon` as a
subprocess; each case compares every file under the data directory before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from tachyon.storage.db import DB_FILENAME
from tachyon.wallet.keystore import KDF_MIN, create
from tests.cli.helpers import REFUSED, Cli, assert_error, fingerprint

PASSWORD = "reads-create-nothing-1"
PUBLIC_READS = [
    ("dex", "orderbook"),
    ("dex", "trades"),
    ("dex", "markets"),
    ("dex", "watch", "--iterations", "1", "--format", "json"),
]
ACCOUNT_READS = [("dex", "balance"), ("dex", "orders"), ("dex", "history")]


def _wallet(cli: Cli, data_dir: Path) -> str:
    wallet = cli.root / "wallet"
    create(wallet, PASSWORD, {"kind": "embedded", "data_dir": str(data_dir)}, kdf=KDF_MIN)
    return str(wallet)


def _reads(cli: Cli, data_dir: Path) -> list[tuple[str, ...]]:
    wallet = _wallet(cli, data_dir)
    by_dir = [(*read, "--data-dir", str(data_dir)) for read in PUBLIC_READS]
    by_wallet = [(*read, "--db-path", wallet) for read in PUBLIC_READS + ACCOUNT_READS]
    return by_dir + by_wallet


@pytest.mark.parametrize("empty_dir", [False, True], ids=["no-dir", "empty-dir"])
def test_reading_where_there_is_no_exchange_creates_none(tmp_path: Path, empty_dir: bool) -> None:
    cli = Cli.fresh(tmp_path)
    data_dir = tmp_path / "data"
    if empty_dir:
        data_dir.mkdir()
    for read in _reads(cli, data_dir):
        before = fingerprint(tmp_path)
        result = cli.run(*read)
        assert_error(result, REFUSED, f"no exchange at {data_dir}")
        assert fingerprint(tmp_path) == before, read
    assert data_dir.exists() == empty_dir


def test_reading_an_empty_database_file_names_it_and_leaves_it(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db_file = data_dir / DB_FILENAME
    db_file.touch()
    for read in _reads(cli, data_dir):
        result = cli.run(*read)
        assert_error(result, REFUSED, str(db_file), "not an exchange database")
        assert sorted(path.name for path in data_dir.iterdir()) == [DB_FILENAME], read
        assert db_file.stat().st_size == 0, read


def test_a_write_still_creates_the_exchange_then_reads_see_it(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    data_dir = tmp_path / "data"
    wallet = _wallet(cli, data_dir)
    cli.ok("dex", "deposit-base", "--amount", "7", "--db-path", wallet, "--password", PASSWORD)
    assert (data_dir / DB_FILENAME).stat().st_size > 0
    balances = cli.json("dex", "balance", "--db-path", wallet, "--format", "json")["balances"]
    assert {"token": "BASE", "available": "7", "locked": "0"} in balances
    book = cli.json("dex", "orderbook", "--data-dir", str(data_dir), "--format", "json")
    assert book == {"market": "BASE/USDC", "bids": [], "asks": []}
