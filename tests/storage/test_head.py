"""Goal: a journal shorter than what was acknowledged (a damaged or deleted WAL, a lost database,
a replaced entry) is refused on open, by reads and by audit, naming the files and the sequence
numbers at stake, and changes nothing; the head record only moves forward, survives a torn
write of one slot, and `tachyon audit --reset-head` is the operator's way to accept a loss.
Method: a crashed directory (files copied while the host is open, right after a commit), then
real damage to the copy's WAL, database or head record."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tachyon.errors import CorruptData, StorageError
from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange, EmbeddedPort, ReadView, audit, head, journal
from tests.exchange.helpers import ALICE, USDC
from tests.storage.helpers import (
    DB_NAME,
    HEAD_NAME,
    StepClock,
    content_bytes,
    dir_bytes,
    make_flow,
    submit_one,
)

WAL_NAME: Final = f"{DB_NAME}-wal"
WAL_HEADER: Final = 32
FRAME_HEADER: Final = 24
ENTRIES: Final = 120
CHECKPOINTED: Final = 20


@dataclass(frozen=True)
class Crashed:
    files: dict[str, bytes]  # right after commit `seq` returned, no checkpoint since open
    seq: int
    checksum: bytes  # of entry `seq`
    state_hash: str


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Crashed:
    """CHECKPOINTED entries in the database file (a clean close checkpoints), the rest up to
    ENTRIES in the WAL of a host that is still open (a crash)."""
    data_dir = tmp_path_factory.mktemp("head") / "live"
    flow = make_flow(23, 2 * ENTRIES).accepted()
    clock = StepClock()
    stamped = list(zip(flow.commands[:ENTRIES], flow.stamps[:ENTRIES], strict=True))
    host = EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=10**9)
    for command, ts_ns in stamped[:CHECKPOINTED]:
        submit_one(host, clock, command, ts_ns)
    host.close(snapshot=False)
    host = EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=10**9, read_model=False)
    try:
        for command, ts_ns in stamped[CHECKPOINTED:]:
            submit_one(host, clock, command, ts_ns)
        files = dir_bytes(data_dir)
        crashed = Crashed(files, host.seq, host.head_hash, host.state.state_hash())
    finally:
        host.close(snapshot=False)
    assert crashed.seq == ENTRIES
    assert head.read(data_dir / DB_NAME) == head.Head(ENTRIES, crashed.checksum)
    assert len(files[WAL_NAME]) > WAL_HEADER  # entries after CHECKPOINTED are only there
    return crashed


def restore(crashed: Crashed, data_dir: Path, **changed: bytes | None) -> Path:
    """The crashed directory's files, with `changed` ones replaced (None: deleted); names are
    given as `db`, `wal`, `head`."""
    names = {"db": DB_NAME, "wal": WAL_NAME, "head": HEAD_NAME}
    files = dict(crashed.files)
    for key, data in changed.items():
        if data is None:
            del files[names[key]]
        else:
            files[names[key]] = data
    data_dir.mkdir()
    for name, data in files.items():
        (data_dir / name).write_bytes(data)
    return data_dir


def assert_refused(data_dir: Path, problem: str) -> CorruptData:
    """Open, read through the port and audit each refuse with `problem`; no file changes."""
    before = content_bytes(data_dir)
    with pytest.raises(CorruptData, match=problem) as opened:
        EmbeddedExchange.open(data_dir)
    assert str(data_dir / DB_NAME) in str(opened.value)
    with pytest.raises(CorruptData, match=problem), EmbeddedPort(data_dir, create=False) as port:
        port.balances(ALICE)
    with pytest.raises(CorruptData, match=problem):
        audit(data_dir)
    assert content_bytes(data_dir) == before, "a refusal changed the files"
    return opened.value


def _lost(journal_end: int, acknowledged: int) -> str:
    return (
        rf"ends at sequence {journal_end} but .*{HEAD_NAME} records {acknowledged} as"
        rf" acknowledged: entries {journal_end + 1} to {acknowledged} are lost"
    )


def test_the_crashed_directory_opens_whole(crashed: Crashed, tmp_path: Path) -> None:
    data_dir = restore(crashed, tmp_path / "whole")
    with EmbeddedExchange.open(data_dir) as host:
        assert (host.seq, host.state.state_hash()) == (crashed.seq, crashed.state_hash)
    assert audit(data_dir).acknowledged_seq == crashed.seq


def test_a_flipped_bit_in_the_first_wal_frame_is_refused(crashed: Crashed, tmp_path: Path) -> None:
    """SQLite stops reading its WAL at the first frame whose checksum fails, so the journal
    ends where the database file does (nothing was checkpointed): the head record says more."""
    wal = bytearray(crashed.files[WAL_NAME])
    wal[WAL_HEADER + FRAME_HEADER + 100] ^= 0x01
    error = assert_refused(
        restore(crashed, tmp_path / "d", wal=bytes(wal)), _lost(CHECKPOINTED, ENTRIES)
    )
    assert "nothing was changed" in str(error)


def test_a_deleted_wal_is_refused(crashed: Crashed, tmp_path: Path) -> None:
    assert_refused(restore(crashed, tmp_path / "d", wal=None), _lost(CHECKPOINTED, ENTRIES))


def test_a_wal_cut_before_its_last_commit_is_refused(crashed: Crashed, tmp_path: Path) -> None:
    """A cut inside the last commit is what a crash leaves (`test_torn_tail`), but only when
    that commit was not acknowledged; here it was."""
    wal = crashed.files[WAL_NAME]
    cut = restore(crashed, tmp_path / "d", wal=wal[: len(wal) - 1])
    assert_refused(cut, _lost(ENTRIES - 1, ENTRIES))


def test_a_database_deleted_beside_its_head_record_is_refused_and_not_recreated(
    crashed: Crashed, tmp_path: Path
) -> None:
    data_dir = restore(crashed, tmp_path / "d", db=None, wal=None)
    (data_dir / f"{DB_NAME}-shm").unlink()
    with pytest.raises(CorruptData, match=_lost(0, ENTRIES)):
        EmbeddedExchange.open(data_dir)
    assert sorted(dir_bytes(data_dir)) == [HEAD_NAME]


def test_a_replaced_last_entry_is_refused(crashed: Crashed, tmp_path: Path) -> None:
    """Another history of the same length: the entry at the record's sequence number differs."""
    data_dir = restore(crashed, tmp_path / "d")
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(ALICE, USDC, 1))  # entry ENTRIES + 1
    head.HeadWriter(data_dir / DB_NAME).reset(head.Head(ENTRIES + 1, bytes(32)))
    assert_refused(data_dir, rf"journal entry {ENTRIES + 1} is not the entry .* acknowledged")


def test_a_missing_head_record_is_refused_unless_the_journal_is_empty(
    crashed: Crashed, tmp_path: Path
) -> None:
    assert_refused(restore(crashed, tmp_path / "d", head=None), rf"{HEAD_NAME} is missing")
    empty = tmp_path / "empty"
    EmbeddedExchange.open(empty).close()
    (empty / HEAD_NAME).unlink()
    with EmbeddedExchange.open(empty) as host:  # nothing was acknowledged: nothing to lose
        host.submit(Deposit(ALICE, USDC, 1))
    assert head.read(empty / DB_NAME) == head.Head(1, journal_head(empty))


def journal_head(data_dir: Path) -> bytes:
    with EmbeddedExchange.open(data_dir) as host:
        return host.head_hash


def test_a_torn_slot_leaves_the_one_before(crashed: Crashed, tmp_path: Path) -> None:
    """A crash inside the record's write spoils the slot being written; the other holds the
    previous commit, which the journal reaches."""
    data_dir = restore(crashed, tmp_path / "d")
    record = bytearray(crashed.files[HEAD_NAME])
    newest = head.read(data_dir / DB_NAME)
    assert newest is not None
    slot = 0 if record[8:16] == newest.seq.to_bytes(8, "big") else 1
    record[slot * 64 + 20] ^= 0xFF
    (data_dir / HEAD_NAME).write_bytes(bytes(record))
    assert head.read(data_dir / DB_NAME) == head.Head(ENTRIES - 1, _checksum_at(data_dir))
    with EmbeddedExchange.open(data_dir) as host:
        assert host.seq == ENTRIES
        host.submit(Deposit(ALICE, USDC, 1))
    assert head.read(data_dir / DB_NAME) is not None


def _checksum_at(data_dir: Path) -> bytes:
    host = EmbeddedExchange.open(data_dir, snapshot_every=10**9)
    checksum = journal.checksum_at(host._conn, ENTRIES - 1)
    host.close(snapshot=False)
    assert checksum is not None
    return checksum


@pytest.mark.parametrize("record", [b"", bytes(128), b"\x00" * 64 + b"\x01" * 64, bytes(200)])
def test_a_damaged_head_record_is_refused(crashed: Crashed, tmp_path: Path, record: bytes) -> None:
    data_dir = restore(crashed, tmp_path / "d", head=record)
    before = content_bytes(data_dir)
    with pytest.raises(CorruptData, match=rf"{HEAD_NAME} is damaged"):
        EmbeddedExchange.open(data_dir)
    with pytest.raises(CorruptData, match=rf"{HEAD_NAME} is damaged"):
        audit(data_dir)
    assert content_bytes(data_dir) == before


def test_the_record_moves_with_each_commit_and_never_back(tmp_path: Path) -> None:
    first = EmbeddedExchange.open(tmp_path)
    second = EmbeddedExchange.open(tmp_path)
    try:
        first.submit(Deposit(ALICE, USDC, 1))
        assert head.read(tmp_path / DB_NAME) == head.Head(1, first.head_hash)
        second.submit(Deposit(ALICE, USDC, 2))  # catches up on entry 1, journals entry 2
        assert head.read(tmp_path / DB_NAME) == head.Head(2, second.head_hash)
        # A writer that answers late (committed 1, records it after 2 was recorded):
        late = head.HeadWriter(tmp_path / DB_NAME)
        late.advance(head.Head(1, first.head_hash))
        late.close()
        assert head.read(tmp_path / DB_NAME) == head.Head(2, second.head_hash)
    finally:
        first.close()
        second.close()


def test_a_record_that_cannot_be_written_does_not_fail_the_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The commit is durable before the record is written: its answer is its outcome; the
    failure is logged and counted."""
    host = EmbeddedExchange.open(tmp_path)
    try:
        (tmp_path / HEAD_NAME).unlink()
        (tmp_path / HEAD_NAME).mkdir()  # no file can be opened there
        with caplog.at_level(logging.WARNING, "tachyon.storage"):
            host.submit(Deposit(ALICE, USDC, 5))
        assert host.head_failures == 1
        assert host.seq == 1
        assert "could not record sequence 1 as acknowledged" in caplog.text
    finally:
        host.close()
    with pytest.raises(StorageError, match=HEAD_NAME):
        EmbeddedExchange.open(tmp_path)


def test_reads_of_the_view_refuse_a_shortened_journal(crashed: Crashed, tmp_path: Path) -> None:
    """The read model lives in the database too: it shrinks with the journal, so the view
    defers to recovery, which refuses."""
    data_dir = tmp_path / "d"
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(ALICE, USDC, 1))
        host.submit(Deposit(ALICE, USDC, 2))
    view = ReadView.open(data_dir)
    assert view is not None
    view.close()
    head.HeadWriter(data_dir / DB_NAME).advance(head.Head(3, bytes(32)))
    assert ReadView.open(data_dir) is None
    with pytest.raises(CorruptData, match=_lost(2, 3)), EmbeddedPort(data_dir) as port:
        port.balances(ALICE)


def test_audit_reset_head_accepts_a_shortened_journal(crashed: Crashed, tmp_path: Path) -> None:
    """The operator's way out, through the real CLI: audit refuses (exit 1, the lost entries
    named), --reset-head accepts the journal as it is, and the directory works again."""
    data_dir = restore(crashed, tmp_path / "d", wal=None)

    def tachyon(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tachyon", *args, "--data-dir", str(data_dir)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    refused = tachyon("audit")
    assert refused.returncode == 1
    assert f"entries {CHECKPOINTED + 1} to {ENTRIES} are lost" in refused.stderr
    accepted = tachyon("audit", "--reset-head", "--format", "json")
    assert accepted.returncode == 0, accepted.stderr
    assert f'"acknowledged_seq": {CHECKPOINTED}' in accepted.stdout
    with EmbeddedExchange.open(data_dir) as host:
        assert host.seq == CHECKPOINTED
        host.submit(Deposit(ALICE, USDC, 1))
    assert audit(data_dir).acknowledged_seq == CHECKPOINTED + 1
