"""Goal: the last writer to close a database leaves it in rollback-journal mode (SQLite's own
record that no WAL holds a commit, which lets a read-only directory be read), any other close
leaves it in WAL mode, the next writer works in WAL mode again, and a host opened for reading
only writes nothing. Method: real files in tmp_path; the mode read from the database header
(bytes 18 and 19: 1 rollback journal, 2 WAL) once every connection is closed."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import pytest

from tachyon.dex.ids import AccountId, TokenId
from tachyon.errors import StorageError
from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange, audit
from tachyon.storage.db import DB_FILENAME
from tachyon.storage.head import HEAD_FILENAME
from tests.cli.helpers import fingerprint

ROLLBACK: Final = b"\x01\x01"
WAL: Final = b"\x02\x02"


def _mode(data_dir: Path) -> bytes:
    """The journal mode the header records (read only with no connection open)."""
    return (data_dir / DB_FILENAME).read_bytes()[18:20]


def _journal_mode(conn: sqlite3.Connection) -> str:
    mode: str = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return mode


def test_the_last_writer_to_close_leaves_rollback_journal_mode_and_only_the_database(
    tmp_path: Path,
) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit("alice", "USDC", 10))
    assert _mode(tmp_path) == ROLLBACK
    # The database and its head record (`tachyon.storage.head`), nothing of SQLite's.
    assert sorted(path.name for path in tmp_path.iterdir()) == [DB_FILENAME, HEAD_FILENAME]
    assert audit(tmp_path).entries == 1


def test_a_writer_closing_while_another_connection_is_open_leaves_wal_mode(
    tmp_path: Path,
) -> None:
    with EmbeddedExchange.open(tmp_path) as first:
        first.submit(Deposit("alice", "USDC", 10))
        second = EmbeddedExchange.open(tmp_path)
        second.submit(Deposit("alice", "USDC", 5))
    second.refresh()  # the second writer is still open: the first could not switch
    reader = sqlite3.connect(f"file:{tmp_path / DB_FILENAME}?mode=ro", uri=True)
    assert _journal_mode(reader) == "wal"
    reader.close()
    second.close()  # the last one switches
    assert _mode(tmp_path) == ROLLBACK
    assert audit(tmp_path).entries == 2


def test_a_close_beside_a_plain_connection_stays_wal_until_a_writer_closes_last(
    tmp_path: Path,
) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit("alice", "USDC", 10))
        other = sqlite3.connect(tmp_path / DB_FILENAME)
        other.execute("SELECT count(*) FROM journal").fetchone()
    other.close()
    assert _mode(tmp_path) == WAL  # no writer of tachyon's closed it last
    with EmbeddedExchange.open(tmp_path) as host:
        assert host.seq == 1
    assert _mode(tmp_path) == ROLLBACK


def test_the_next_writer_works_in_wal_mode_again(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit("alice", "USDC", 10))
    with EmbeddedExchange.open(tmp_path) as host:
        reader = sqlite3.connect(f"file:{tmp_path / DB_FILENAME}?mode=ro", uri=True)
        try:
            assert _journal_mode(reader) == "wal"
            reader.execute("BEGIN")  # a reader's transaction does not hold the writer back
            reader.execute("SELECT count(*) FROM journal").fetchone()
            host.submit(Deposit("alice", "USDC", 5))
        finally:
            reader.close()
    assert audit(tmp_path).entries == 2


def test_a_host_opened_for_reading_only_refuses_commands_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with EmbeddedExchange.open(tmp_path, read_model=False) as host:
        host.submit(Deposit("alice", "USDC", 10))
    before = fingerprint(tmp_path)
    reading = EmbeddedExchange.open_read_only(tmp_path)
    try:
        assert reading.balances(AccountId("alice"))[TokenId("USDC")].available == 10
        with pytest.raises(StorageError, match=f"the data directory {tmp_path} must be writable"):
            reading.submit(Deposit("alice", "USDC", 5))
    finally:
        reading.close()
    assert fingerprint(tmp_path) == before
