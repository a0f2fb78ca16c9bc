"""Goal: a read-only data directory is read where SQLite can read it (its last writer closed it
cleanly, or a killed writer left the WAL and its index to read), every read answering as on
the writable directory; otherwise a read, and every write, is one `Error:` line saying that
the directory must be writable, exit 1, and nothing changes.
Method: the installed `tachyon` as a subprocess; each read-only run in a private mount
namespace where the data directory is a read-only bind mount of itself (`unshare -m`, as root,
which CI is: root ignores permission bits); files compared byte for byte before and after."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange
from tachyon.storage.db import DB_FILENAME
from tachyon.storage.head import HEAD_FILENAME
from tachyon.wallet.keystore import KDF_MIN, create
from tests.cli.helpers import REFUSED, Cli, assert_error, fingerprint
from tests.node.server import free_port
from tests.support.read_only import read_only_argv

pytestmark = pytest.mark.slow  # a dozen tachyon processes each

ALICE_PASSWORD: Final = "read-only-alice-1"
BOB_PASSWORD: Final = "read-only-bob-2"


@dataclass(frozen=True)
class ReadOnlyCli(Cli):
    """The same machine, with each command run where `directory` is mounted read-only."""

    directory: Path

    def argv(self, *args: str) -> list[str]:
        return read_only_argv(self.directory, super().argv(*args))


@dataclass(frozen=True)
class Trading:
    """An exchange where alice and bob traded: one fill, three orders resting."""

    cli: Cli
    data_dir: Path
    alice: str  # wallet directories
    bob: str
    alice_address: str

    @property
    def read_only(self) -> ReadOnlyCli:
        return ReadOnlyCli(self.cli.root, self.data_dir)

    def reads(self) -> list[tuple[str, ...]]:
        """Every read of the CLI, public ones by directory, account ones by wallet."""
        by_dir = ("--data-dir", str(self.data_dir))
        return [
            ("dex", "orderbook", *by_dir),
            ("dex", "orderbook", *by_dir, "--format", "json"),
            ("dex", "trades", *by_dir, "--format", "json"),
            ("dex", "markets", *by_dir, "--format", "json"),
            ("dex", "watch", "--iterations", "1", *by_dir, "--format", "json"),
            ("dex", "balance", "--db-path", self.alice, "--format", "json"),
            ("dex", "orders", "--db-path", self.alice, "--format", "json"),
            ("dex", "balance", "--db-path", self.bob),
            ("audit", *by_dir, "--format", "json"),
        ]

    def writes(self) -> list[tuple[str, ...]]:
        """A command of each kind that writes, each of which would change something."""
        alice = ("--db-path", self.alice, "--password", ALICE_PASSWORD)
        return [
            ("dex", "deposit-usdc", "--amount", "5", *alice),
            ("dex", "place-limit", "--side", "bid", "--price", "8", "--qty", "1", *alice),
            ("dex", "cancel", "--order-id", "1", *alice),
            ("dex", "withdraw", "--token", "USDC", "--amount", "1", *alice),
            ("audit", "--repair", "--data-dir", str(self.data_dir)),
            ("wallet", "create", "--db-path", "~/carol", "--password", ALICE_PASSWORD),
            (
                "wallet",
                "create",
                "--data-dir",
                str(self.data_dir),
                "--db-path",
                "~/d",
                "--password",
                BOB_PASSWORD,
            ),
            ("node", "serve", "--data-dir", str(self.data_dir), "--port", str(free_port())),
        ]


def _trading(tmp_path: Path) -> Trading:
    cli = Cli.fresh(tmp_path)
    data_dir = cli.exchange_dir
    exchange = {"kind": "embedded", "data_dir": str(data_dir)}
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    address = create(alice, ALICE_PASSWORD, exchange, kdf=KDF_MIN).address
    create(bob, BOB_PASSWORD, exchange, kdf=KDF_MIN)
    as_alice = ("--db-path", str(alice), "--password", ALICE_PASSWORD)
    as_bob = ("--db-path", str(bob), "--password", BOB_PASSWORD)
    cli.ok("dex", "deposit-usdc", "--amount", "1000", *as_alice)
    cli.ok("dex", "deposit-base", "--amount", "10", *as_bob)
    cli.ok("dex", "place-limit", "--side", "bid", "--price", "10", "--qty", "3", *as_alice)
    cli.ok("dex", "place-limit", "--side", "bid", "--price", "9", "--qty", "2", *as_alice)
    cli.ok("dex", "place-limit", "--side", "ask", "--price", "10", "--qty", "1", *as_bob)
    cli.ok("dex", "place-limit", "--side", "ask", "--price", "12", "--qty", "2", *as_bob)
    return Trading(cli, data_dir, str(alice), str(bob), address)


def _answers(cli: Cli, reads: list[tuple[str, ...]]) -> list[str]:
    return [cli.ok(*read) for read in reads]


def _entries(audit_json: str) -> int:
    entries: int = json.loads(audit_json)["entries"]
    return entries


def _assert_really_read_only(directory: Path) -> None:
    probe = directory / "probe"
    touched = subprocess.run(
        read_only_argv(directory, ["touch", str(probe)]), capture_output=True, check=False
    )
    assert touched.returncode != 0
    assert not probe.exists()


@pytest.mark.parametrize("view", ["current", "stale"])
def test_a_cleanly_closed_directory_reads_read_only_as_it_does_writable(
    tmp_path: Path, view: str
) -> None:
    trading = _trading(tmp_path)
    if view == "stale":  # a writer without the read model (a node's): reads recover instead
        with EmbeddedExchange.open(trading.data_dir, read_model=False) as host:
            host.submit(Deposit(trading.alice_address, "USDC", 7))
    _assert_really_read_only(trading.data_dir)
    before = fingerprint(tmp_path)
    names = sorted(path.name for path in trading.data_dir.iterdir())
    assert names == [DB_FILENAME, HEAD_FILENAME]  # and no file of SQLite's
    answers = _answers(trading.read_only, trading.reads())
    history = ("dex", "history", "--db-path", trading.alice, "--format", "json")
    if view == "current":
        answers.append(trading.read_only.ok(*history))
    else:  # only the read model records history
        assert_error(trading.read_only.run(*history), REFUSED, "behind the journal")
    assert fingerprint(tmp_path) == before
    assert answers[: len(trading.reads())] == _answers(trading.cli, trading.reads())
    assert _entries(answers[len(trading.reads()) - 1]) == (7 if view == "stale" else 6)
    if view == "current":
        assert answers[-1] == trading.cli.ok(*history)
        assert [row["order_id"] for row in json.loads(answers[-1])["fills"]] == [1]


def test_a_killed_writers_directory_is_read_read_only_through_its_wal(tmp_path: Path) -> None:
    trading = _trading(tmp_path)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(trading.data_dir), trading.alice_address],
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(list(trading.data_dir.iterdir())) == 4  # the WAL and its index are left, + head
    before = fingerprint(tmp_path)
    answers = _answers(trading.read_only, trading.reads())
    assert fingerprint(tmp_path) == before
    assert _entries(answers[-1]) == 7  # the killed writer's deposit, from the WAL
    assert answers == _answers(trading.cli, trading.reads())


_KILLED_WRITER: Final = """
import os, signal, sys
from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange
host = EmbeddedExchange.open(sys.argv[1])
host.submit(Deposit(sys.argv[2], "USDC", 7))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_directory_not_closed_cleanly_refuses_reads_read_only_until_a_writer_closes_it(
    tmp_path: Path,
) -> None:
    trading = _trading(tmp_path)
    with EmbeddedExchange.open(trading.data_dir) as host:  # closed while another reads
        host.submit(Deposit(trading.alice_address, "USDC", 7))
        other = sqlite3.connect(trading.data_dir / DB_FILENAME)
        other.execute("SELECT count(*) FROM journal").fetchone()
    other.close()  # SQLite empties the WAL, but nothing says so in the database
    before = fingerprint(tmp_path)
    for read in trading.reads():
        result = trading.read_only.run(*read)
        assert_error(
            result,
            REFUSED,
            f"the data directory {trading.data_dir} must be writable",
            "was not closed cleanly",
        )
        assert "corrupt" not in result.stderr
    assert fingerprint(tmp_path) == before
    expected = _answers(trading.cli, trading.reads())  # where it may write, it reads
    EmbeddedExchange.open(trading.data_dir).close()  # a writer that closes last
    assert _answers(trading.read_only, trading.reads()) == expected


def test_writes_to_a_read_only_directory_refuse_and_change_nothing(tmp_path: Path) -> None:
    trading = _trading(tmp_path)
    before = fingerprint(tmp_path)
    for write in trading.writes():
        result = trading.read_only.run(*write)
        assert_error(result, REFUSED, f"the data directory {trading.data_dir} must be writable")
        assert "corrupt" not in result.stderr
        assert fingerprint(tmp_path) == before, write
