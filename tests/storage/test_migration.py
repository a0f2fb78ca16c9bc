"""Goal: a schema-version-1 directory is upgraded in place (through version 2 to the current
one) after a backup, and a damaged or newer one is refused. Method: the test writes the
version-1 file itself (SCHEMA_V1, make_entry rows, a JSON snapshot) from a flow applied to an
Exchange with fixed seq and ts."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from tachyon.errors import CorruptData, UnsupportedVersion
from tachyon.exchange.commands import encode_command
from tachyon.exchange.state_machine import Exchange, state_hash_of
from tachyon.storage import SCHEMA_VERSION, SNAPSHOT_FORMAT, EmbeddedExchange, audit, head, journal
from tachyon.storage.migrations import SCHEMA_V1
from tests.exchange.helpers import apply_command
from tests.storage.helpers import (
    DB_NAME,
    JournalRow,
    StepClock,
    assert_view_matches,
    dir_bytes,
    journal_rows,
    make_flow,
    raw_close,
    raw_connect,
    snapshot_rows,
    submit_one,
    user_version,
)

ENTRIES = 60
BACKUP = f"{DB_NAME}.v1.bak"


@dataclass(frozen=True)
class V1:
    """What the version-1 directory holds and the states it must recover to."""

    db_path: Path
    final: Exchange
    snapshot_hashes: dict[int, str]  # canonical (msgpack) state hash at each snapshot
    journal: list[JournalRow]
    snapshots: list[tuple[int, int, bytes, str]]


def write_v1(data_dir: Path, snapshot_seqs: tuple[int, ...] = (40,)) -> V1:
    """A version-1 database: SCHEMA_V1, user_version 1, chained journal rows and format-1
    (JSON) snapshots, as the first release wrote them."""
    flow = make_flow(3, 2 * ENTRIES).accepted()
    exchange = Exchange()
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / DB_NAME
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.executescript(SCHEMA_V1)
        conn.execute("PRAGMA user_version = 1")
        prev_hash = journal.GENESIS_HASH
        hashes: dict[int, str] = {}
        conn.execute("BEGIN")
        for seq, (command, ts_ns) in enumerate(
            zip(flow.commands[:ENTRIES], flow.stamps[:ENTRIES], strict=True), start=1
        ):
            apply_command(exchange, command, seq, ts_ns)
            entry = journal.make_entry(prev_hash, seq, ts_ns, encode_command(command))
            conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?)", entry)
            prev_hash = entry.checksum
            if seq in snapshot_seqs:
                state = json.dumps(exchange.to_state(), separators=(",", ":")).encode()
                conn.execute(
                    "INSERT INTO snapshots VALUES (?, ?, ?, ?)",
                    (seq, 1, state, state_hash_of(state)),
                )
                hashes[seq] = exchange.state_hash()
        conn.execute("COMMIT")
        rows = conn.execute("SELECT * FROM snapshots ORDER BY seq").fetchall()
    finally:
        conn.close()
    return V1(db_path, exchange, hashes, journal_rows(db_path), rows)


def _columns(db_path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


@pytest.mark.parametrize("snapshot_seqs", [(40,), (20, 45), ()], ids=["one", "two", "none"])
def test_opening_a_v1_directory_upgrades_it(tmp_path: Path, snapshot_seqs: tuple[int, ...]) -> None:
    v1 = write_v1(tmp_path, snapshot_seqs)
    assert user_version(v1.db_path) == 1

    with EmbeddedExchange.open(tmp_path) as host:
        assert host.recovered.snapshot_seq == max(snapshot_seqs, default=0)
        assert host.seq == ENTRIES
        state = host.refresh()
        state.check_invariants()
        assert state.state_hash() == v1.final.state_hash()
        assert state.state_bytes() == v1.final.state_bytes()
        # Before close adds a snapshot of its own (and prunes the oldest):
        assert user_version(v1.db_path) == SCHEMA_VERSION == 6  # through 2, 3, 4 and 5
        # Version 4's head record, at the journal's head as the upgrade found it:
        assert head.read(v1.db_path) == head.Head(ENTRIES, v1.journal[-1][4])
        assert _columns(v1.db_path, "snapshots")[-2:] == ["head_hash", "written_ts_ns"]
        upgraded = snapshot_rows(v1.db_path)
        assert [row[0] for row in upgraded] == list(snapshot_seqs)
        for seq, snapshot_format, state_bytes, state_hash, head_hash, _ in upgraded:
            assert snapshot_format == SNAPSHOT_FORMAT == 3
            assert head_hash == v1.journal[seq - 1][4]  # the journal checksum at its seq
            assert state_hash == state_hash_of(state_bytes) == v1.snapshot_hashes[seq]

    assert user_version(v1.db_path) == 6
    assert journal_rows(v1.db_path) == v1.journal  # the journal is not touched

    backup = tmp_path / BACKUP
    assert backup.is_file()
    assert user_version(backup) == 1
    assert _columns(backup, "snapshots") == ["seq", "format", "state", "state_hash"]
    assert journal_rows(backup) == v1.journal
    conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT * FROM snapshots ORDER BY seq").fetchall() == v1.snapshots
    finally:
        conn.close()

    report = audit(tmp_path)
    assert report.state_hash == v1.final.state_hash()
    assert report.entries == ENTRIES
    if snapshot_seqs:
        assert report.snapshot_matches is True


def test_an_upgraded_directory_keeps_working(tmp_path: Path) -> None:
    v1 = write_v1(tmp_path)
    flow = make_flow(3, 2 * ENTRIES).accepted()
    clock = StepClock(flow.stamps[ENTRIES])
    with EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=7) as host:
        for command, ts_ns in zip(flow.commands[ENTRIES:], flow.stamps[ENTRIES:], strict=True):
            submit_one(host, clock, command, ts_ns)
    expected = v1.final
    for seq, (command, ts_ns) in enumerate(
        zip(flow.commands[ENTRIES:], flow.stamps[ENTRIES:], strict=True), start=ENTRIES + 1
    ):
        apply_command(expected, command, seq, ts_ns)
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert reopened.refresh().state_hash() == expected.state_hash()
        assert_view_matches(tmp_path, reopened.refresh())  # built at the first write
    assert audit(tmp_path).snapshot_matches is True


def _damage_v1_snapshot(v1: V1, seq: int) -> None:
    conn = sqlite3.connect(v1.db_path, isolation_level=None)
    try:
        (state,) = conn.execute("SELECT state FROM snapshots WHERE seq = ?", (seq,)).fetchone()
        damaged = bytearray(state)
        damaged[random.Random(seq).randrange(len(damaged))] ^= 0x01
        conn.execute("UPDATE snapshots SET state = ? WHERE seq = ?", (bytes(damaged), seq))
    finally:
        conn.close()


def test_a_damaged_v1_snapshot_refuses_the_upgrade(tmp_path: Path) -> None:
    v1 = write_v1(tmp_path, (20, 45))
    _damage_v1_snapshot(v1, 45)
    with pytest.raises(CorruptData, match=r"version 1 snapshot at sequence 45 is damaged"):
        EmbeddedExchange.open(tmp_path)
    assert user_version(v1.db_path) == 1
    assert _columns(v1.db_path, "snapshots") == ["seq", "format", "state", "state_hash"]
    assert journal_rows(v1.db_path) == v1.journal
    conn = sqlite3.connect(f"file:{v1.db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT seq, format FROM snapshots ORDER BY seq").fetchall()
    finally:
        conn.close()
    assert rows == [(20, 1), (45, 1)]  # the good snapshot was not rewritten either
    with pytest.raises(CorruptData):  # and it stays refused
        EmbeddedExchange.open(tmp_path)
    assert user_version(v1.db_path) == 1


def test_a_damaged_v1_snapshot_refusal_names_the_file(tmp_path: Path) -> None:
    """CorruptData "names file and problem" (tachyon.errors); the migration's message must say
    which database it refused, as every other CorruptData does."""
    v1 = write_v1(tmp_path)
    _damage_v1_snapshot(v1, 40)
    with pytest.raises(CorruptData) as info:
        EmbeddedExchange.open(tmp_path)
    assert str(v1.db_path) in str(info.value)


@pytest.mark.parametrize(
    "state",
    [b"not json", b"[1]", b"{}", b'{"seq":40,"ts_ns":1,"nonces":[],"service":{}}'],
    ids=["not-json", "not-an-object", "empty", "no-service"],
)
def test_a_v1_snapshot_that_does_not_decode_refuses_the_upgrade(
    tmp_path: Path, state: bytes
) -> None:
    """A snapshot whose hash matches but whose JSON is not an exchange state is damaged too:
    CorruptData, as snapshot.load says for version-2 rows, not a raw KeyError/ValueError."""
    v1 = write_v1(tmp_path)
    conn = sqlite3.connect(v1.db_path, isolation_level=None)
    conn.execute("UPDATE snapshots SET state = ?, state_hash = ?", (state, state_hash_of(state)))
    conn.close()
    with pytest.raises(CorruptData, match=r"snapshot at sequence 40"):
        EmbeddedExchange.open(tmp_path)
    assert user_version(v1.db_path) == 1


def test_a_v1_snapshot_without_its_journal_entry_refuses_the_upgrade(tmp_path: Path) -> None:
    v1 = write_v1(tmp_path, (ENTRIES,))
    conn = sqlite3.connect(v1.db_path, isolation_level=None)
    conn.execute("DELETE FROM journal WHERE seq = ?", (ENTRIES,))
    conn.close()
    with pytest.raises(CorruptData, match=rf"snapshot at sequence {ENTRIES} has no journal entry"):
        EmbeddedExchange.open(tmp_path)
    assert user_version(v1.db_path) == 1


def test_audit_of_a_v1_directory_asks_for_an_upgrade(tmp_path: Path) -> None:
    write_v1(tmp_path)
    with pytest.raises(UnsupportedVersion, match=r"schema version 1.*open it once"):
        audit(tmp_path)


def _current_directory(data_dir: Path) -> Path:
    with EmbeddedExchange.open(data_dir) as host:
        host.submit_batch(make_flow(4, 40).accepted().commands)
    return data_dir / DB_NAME


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    db_path = _current_directory(tmp_path)
    newer = SCHEMA_VERSION + 1
    conn = raw_connect(db_path)
    conn.execute(f"PRAGMA user_version = {newer}")
    raw_close(conn)
    before = dir_bytes(tmp_path)
    with pytest.raises(UnsupportedVersion) as info:
        EmbeddedExchange.open(tmp_path)
    message = str(info.value)
    assert f"schema version {newer}" in message
    assert "Upgrade tachyon" in message
    assert str(db_path) in message
    assert dir_bytes(tmp_path) == before
    assert user_version(db_path) == newer
    assert not (tmp_path / f"{DB_NAME}.v{newer}.bak").exists()


def test_a_newer_snapshot_format_is_refused(tmp_path: Path) -> None:
    db_path = _current_directory(tmp_path)
    (seq,) = {row[0] for row in snapshot_rows(db_path)}
    conn = raw_connect(db_path)
    conn.execute("UPDATE snapshots SET format = 4 WHERE seq = ?", (seq,))
    raw_close(conn)
    with pytest.raises(
        UnsupportedVersion, match=rf"snapshot at sequence {seq} has format 4"
    ) as info:
        EmbeddedExchange.open(tmp_path)
    assert str(db_path) in str(info.value)
    with pytest.raises(UnsupportedVersion, match=r"has format 4"):
        audit(tmp_path)
