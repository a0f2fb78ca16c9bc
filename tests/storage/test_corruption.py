"""Goal: a damaged data directory is refused with CorruptData naming the file and the sequence
number, and the refused open leaves every file on disk as it was. Method: raw sqlite3 edits
(and raw byte flips of the file) to a copy of a real directory, then open and audit it."""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tachyon.errors import CorruptData
from tachyon.exchange.commands import Deposit
from tachyon.exchange.state_machine import decode_state, state_hash_of
from tachyon.storage import AuditReport, EmbeddedExchange, audit, head, journal
from tests.exchange.helpers import ALICE, USDC
from tests.storage.helpers import (
    DB_NAME,
    HEAD_NAME,
    JournalRow,
    SnapshotRow,
    StepClock,
    content_bytes,
    dir_bytes,
    journal_rows,
    make_flow,
    raw_close,
    raw_connect,
    snapshot_rows,
    submit_one,
)

ENTRIES = 259
SNAPSHOT_SEQ = 130  # the newest snapshot: entries 1..130 are before it, 131..259 after it
FLIP_SEEDS = range(3)
FILE_FLIPS = 30


@dataclass(frozen=True)
class Base:
    path: Path
    report: AuditReport
    journal: list[JournalRow]
    snapshots: list[SnapshotRow]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """A closed directory of ENTRIES journal entries whose newest snapshot is at SNAPSHOT_SEQ."""
    path = tmp_path_factory.mktemp("corruption") / "base"
    flow = make_flow(11, 2 * ENTRIES).accepted()
    clock = StepClock()
    host = EmbeddedExchange.open(path, clock=clock, snapshot_every=SNAPSHOT_SEQ)
    for command, ts_ns in zip(flow.commands[:ENTRIES], flow.stamps[:ENTRIES], strict=True):
        submit_one(host, clock, command, ts_ns)
    assert host.seq == ENTRIES
    # Stop as a crash would: the journal stays ahead of the newest snapshot.
    host.close(snapshot=False)
    # The last close checkpointed the WAL; the head record is at the last entry.
    assert sorted(dir_bytes(path)) == [DB_NAME, HEAD_NAME]
    # Read-only connections (audit's, and the raw reads here) leave empty -wal and -shm
    # files behind: read a copy, so that every test starts from the database file alone.
    audited = shutil.copytree(path, path.with_name("audited"))
    assert [row[0] for row in snapshot_rows(audited / DB_NAME)] == [SNAPSHOT_SEQ]
    report = audit(audited)
    assert (report.entries, report.snapshot_seq, report.snapshot_matches) == (
        ENTRIES,
        SNAPSHOT_SEQ,
        True,
    )
    assert sorted(dir_bytes(path)) == [DB_NAME, HEAD_NAME]
    rows = journal_rows(audited / DB_NAME), snapshot_rows(audited / DB_NAME)
    return Base(path, report, *rows)


def _copy(base: Base, tmp_path: Path, name: str = "data") -> Path:
    data_dir = tmp_path / name
    shutil.copytree(base.path, data_dir)
    return data_dir


def _edit(data_dir: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Change the database with plain sqlite3, bypassing tachyon; leave no WAL behind."""
    conn = raw_connect(data_dir / DB_NAME)
    for sql, params in statements:
        assert conn.execute(sql, params).rowcount == 1
    raw_close(conn)
    assert sorted(dir_bytes(data_dir)) == [DB_NAME, HEAD_NAME]


def _flip(blob: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(blob))
    damaged = bytearray(blob)
    damaged[position] ^= rng.randint(1, 255)
    return bytes(damaged)


def _names(message: str, db_path: Path, seq: int) -> bool:
    """The message names the file and (elsewhere in it) the sequence number."""
    if str(db_path) not in message:
        return False
    rest = message.replace(str(db_path), "")
    return re.search(rf"(?<!\d){seq}(?!\d)", rest) is not None


def assert_open_refused(data_dir: Path, seq: int, problem: str) -> None:
    before = dir_bytes(data_dir)
    with pytest.raises(CorruptData, match=problem) as info:
        EmbeddedExchange.open(data_dir)
    # Checked while the error (and anything it keeps alive) still exists.
    assert _names(str(info.value), data_dir / DB_NAME, seq), str(info.value)
    assert content_bytes(data_dir) == before, "the refused open changed the files on disk"


def _entry(base: Base, seq: int) -> JournalRow:
    row = base.journal[seq - 1]
    assert row[0] == seq
    return row


# -- entries after the newest snapshot -----------------------------------------------------


@pytest.mark.parametrize("seed", FLIP_SEEDS)
@pytest.mark.parametrize(
    ("column", "index", "problem"),
    [
        ("command", 2, "fails its checksum"),
        ("prev_hash", 3, "breaks the hash chain"),
        ("checksum", 4, "fails its checksum"),
    ],
)
def test_a_flipped_byte_in_an_entry_after_the_snapshot_is_refused(
    base: Base, tmp_path: Path, seed: int, column: str, index: int, problem: str
) -> None:
    rng = random.Random(f"{column}-{seed}")
    seq = rng.randint(SNAPSHOT_SEQ + 1, ENTRIES)
    value = _entry(base, seq)[index]
    assert isinstance(value, bytes)
    data_dir = _copy(base, tmp_path)
    _edit(data_dir, (f"UPDATE journal SET {column} = ? WHERE seq = ?", (_flip(value, rng), seq)))
    assert_open_refused(data_dir, seq, rf"journal entry {seq} {problem}")


@pytest.mark.parametrize("delta", [1, -1, 10**9])
def test_a_changed_timestamp_is_refused(base: Base, tmp_path: Path, delta: int) -> None:
    seq = SNAPSHOT_SEQ + 17
    data_dir = _copy(base, tmp_path)
    _edit(data_dir, ("UPDATE journal SET ts_ns = ts_ns + ? WHERE seq = ?", (delta, seq)))
    assert_open_refused(data_dir, seq, rf"journal entry {seq} fails its checksum")


@pytest.mark.parametrize("seq", [SNAPSHOT_SEQ + 1, (SNAPSHOT_SEQ + ENTRIES) // 2, ENTRIES - 1])
def test_a_deleted_entry_is_refused(base: Base, tmp_path: Path, seq: int) -> None:
    data_dir = _copy(base, tmp_path)
    _edit(data_dir, ("DELETE FROM journal WHERE seq = ?", (seq,)))
    assert_open_refused(data_dir, seq, rf"journal entry {seq} is missing \(found {seq + 1}\)")


def test_a_deleted_last_entry_is_found_by_the_head_record(base: Base, tmp_path: Path) -> None:
    """Dropping the newest entry leaves a valid, shorter chain; the head record, outside the
    database, still says the entry was acknowledged."""
    data_dir = _copy(base, tmp_path)
    _edit(data_dir, ("DELETE FROM journal WHERE seq = ?", (ENTRIES,)))
    lost = rf"ends at sequence {ENTRIES - 1} .* entries {ENTRIES} to {ENTRIES} are lost"
    assert_open_refused(data_dir, ENTRIES, lost)
    with pytest.raises(CorruptData, match=lost):
        audit(data_dir)


@pytest.mark.parametrize("seed", FLIP_SEEDS)
def test_two_swapped_commands_are_refused(base: Base, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    first, second = sorted(rng.sample(range(SNAPSHOT_SEQ + 1, ENTRIES + 1), 2))
    one, other = _entry(base, first)[2], _entry(base, second)[2]
    assert one != other
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        ("UPDATE journal SET command = ? WHERE seq = ?", (other, first)),
        ("UPDATE journal SET command = ? WHERE seq = ?", (one, second)),
    )
    assert_open_refused(data_dir, first, rf"journal entry {first} fails its checksum")


def test_two_swapped_entries_are_refused(base: Base, tmp_path: Path) -> None:
    """Whole rows swapped (renumbered): the chain breaks at the first of them."""
    first, second = SNAPSHOT_SEQ + 5, SNAPSHOT_SEQ + 9
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        ("UPDATE journal SET seq = -1 WHERE seq = ?", (first,)),
        ("UPDATE journal SET seq = ? WHERE seq = ?", (first, second)),
        ("UPDATE journal SET seq = ? WHERE seq = -1", (second,)),
    )
    assert_open_refused(data_dir, first, rf"journal entry {first} breaks the hash chain")


def test_a_command_that_does_not_decode_is_refused(base: Base, tmp_path: Path) -> None:
    """An entry whose checksum is right but whose bytes are not a command (as a buggy or
    hostile writer could leave) is refused by the decoder, not applied."""
    seq = ENTRIES
    _, ts_ns, _, prev, _ = _entry(base, seq)
    entry = journal.make_entry(prev, seq, ts_ns, b"\x91\xa7deposit")
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        (
            "UPDATE journal SET command = ?, checksum = ? WHERE seq = ?",
            (b"\x91\xa7deposit", entry.checksum, seq),
        ),
    )
    assert_open_refused(data_dir, seq, rf"journal entry {seq} is not a command")


def test_a_non_canonical_entry_is_replayed_on_open_and_refused_by_audit(
    base: Base, tmp_path: Path
) -> None:
    """Recovery decodes journaled bytes without re-encoding them to check their form (the
    journal's own writer made them canonical, and the checksum covers them since); `audit`
    checks the form too, so a writer that broke it is still found."""
    seq = ENTRIES
    _, ts_ns, command, prev, _ = _entry(base, seq)
    assert command[0] & 0xF0 == 0x90  # a fixarray header: the same array, wider, is not canonical
    wide = b"\xdc\x00" + bytes([command[0] & 0x0F]) + command[1:]
    entry = journal.make_entry(prev, seq, ts_ns, wide)
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        ("UPDATE journal SET command = ?, checksum = ? WHERE seq = ?", (wide, entry.checksum, seq)),
    )
    _acknowledge(data_dir, entry)  # as the writer that journaled it would have
    original = EmbeddedExchange.open(_copy(base, tmp_path, "original"))
    reopened = EmbeddedExchange.open(data_dir)
    assert reopened.seq == seq
    assert reopened.state.state_hash() == original.state.state_hash()
    original.close(snapshot=False)
    reopened.close(snapshot=False)
    with pytest.raises(CorruptData, match=rf"journal entry {seq} is not a command .*canonical"):
        audit(data_dir)


def _acknowledge(data_dir: Path, entry: journal.JournalEntry) -> None:
    writer = head.HeadWriter(data_dir / DB_NAME)
    writer.reset(head.Head(entry.seq, entry.checksum))
    writer.close()


# -- the newest snapshot -------------------------------------------------------------------


def _newest(base: Base) -> SnapshotRow:
    row = base.snapshots[-1]
    assert row[0] == SNAPSHOT_SEQ
    return row


@pytest.mark.parametrize("seed", FLIP_SEEDS)
def test_a_flipped_byte_in_the_snapshot_state_is_refused(
    base: Base, tmp_path: Path, seed: int
) -> None:
    state = _newest(base)[2]
    data_dir = _copy(base, tmp_path)
    damaged = _flip(state, random.Random(seed))
    _edit(data_dir, ("UPDATE snapshots SET state = ? WHERE seq = ?", (damaged, SNAPSHOT_SEQ)))
    assert_open_refused(
        data_dir,
        SNAPSHOT_SEQ,
        rf"snapshot at sequence {SNAPSHOT_SEQ} does not match its state hash",
    )


def test_a_changed_snapshot_state_hash_is_refused(base: Base, tmp_path: Path) -> None:
    state_hash = _newest(base)[3]
    changed = ("0" if state_hash[0] != "0" else "1") + state_hash[1:]
    data_dir = _copy(base, tmp_path)
    _edit(data_dir, ("UPDATE snapshots SET state_hash = ? WHERE seq = ?", (changed, SNAPSHOT_SEQ)))
    assert_open_refused(
        data_dir,
        SNAPSHOT_SEQ,
        rf"snapshot at sequence {SNAPSHOT_SEQ} does not match its state hash",
    )


@pytest.mark.parametrize("seed", FLIP_SEEDS)
def test_a_changed_snapshot_head_hash_is_refused(base: Base, tmp_path: Path, seed: int) -> None:
    head_hash = _newest(base)[4]
    data_dir = _copy(base, tmp_path)
    damaged = _flip(head_hash, random.Random(seed))
    _edit(data_dir, ("UPDATE snapshots SET head_hash = ? WHERE seq = ?", (damaged, SNAPSHOT_SEQ)))
    assert_open_refused(
        data_dir,
        SNAPSHOT_SEQ,
        rf"snapshot at sequence {SNAPSHOT_SEQ} does not match journal entry {SNAPSHOT_SEQ}",
    )


def test_a_snapshot_with_a_consistent_but_false_state_is_refused(
    base: Base, tmp_path: Path
) -> None:
    """State bytes with a matching hash but of another sequence number (an older snapshot
    relabelled) do not pass: the state says which sequence it is."""
    older = decode_state(_newest(base)[2])
    older.seq -= 1
    state = older.state_bytes()
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        (
            "UPDATE snapshots SET state = ?, state_hash = ? WHERE seq = ?",
            (state, state_hash_of(state), SNAPSHOT_SEQ),
        ),
    )
    assert_open_refused(data_dir, SNAPSHOT_SEQ, rf"holds the state at sequence {SNAPSHOT_SEQ - 1}")


def _locked_balance(state: dict[str, Any]) -> list[Any]:
    """The first ledger row [token, account, available, locked] that locks something."""
    return next(row for row in state["service"]["ledger"]["balances"] if row[3])


def _move_to_locked(state: dict[str, Any]) -> None:
    row = _locked_balance(state)
    row[2], row[3] = row[2] - 1, row[3] + 1  # conserved, but more than the orders need


def _move_to_available(state: dict[str, Any]) -> None:
    row = _locked_balance(state)
    row[2], row[3] = row[2] + 1, row[3] - 1  # conserved, but less than the orders need


def _shrink_an_order(state: dict[str, Any]) -> None:
    """An order whose size is below what it has left (its lock follows what it has left)."""
    order = next(
        market[2]["orders"][0] for market in state["service"]["markets"] if market[2]["orders"]
    )
    order[5] = order[2] - 1  # [id, owner, remaining, price, side, qty, ...]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (_move_to_locked, r"locks \d+ \w+, orders need \d+"),
        (_move_to_available, r"locks \d+ \w+, orders need \d+"),
        (_shrink_an_order, r"breaks an invariant"),
    ],
    ids=["locks more than its orders need", "locks less", "an order left with more than its size"],
)
def test_a_snapshot_that_breaks_an_invariant_is_refused(
    base: Base, tmp_path: Path, edit: Callable[[dict[str, Any]], None], problem: str
) -> None:
    """State bytes with a matching hash (rewritten, as a bug would write them) whose content
    breaks an invariant are refused as they load, not served."""
    state = msgspec.msgpack.decode(_newest(base)[2])
    edit(state)
    damaged = msgspec.msgpack.encode(state)
    data_dir = _copy(base, tmp_path)
    _edit(
        data_dir,
        (
            "UPDATE snapshots SET state = ?, state_hash = ? WHERE seq = ?",
            (damaged, state_hash_of(damaged), SNAPSHOT_SEQ),
        ),
    )
    assert_open_refused(
        data_dir, SNAPSHOT_SEQ, rf"snapshot at sequence {SNAPSHOT_SEQ} breaks an invariant: "
    )
    with pytest.raises(CorruptData, match=problem):
        EmbeddedExchange.open(data_dir)


# -- entries before the newest snapshot ----------------------------------------------------


@pytest.mark.parametrize("seed", FLIP_SEEDS)
def test_damage_before_the_snapshot_is_not_read_on_open_but_audit_finds_it(
    base: Base, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    seq = rng.randint(1, SNAPSHOT_SEQ - 1)
    data_dir = _copy(base, tmp_path)
    command = _entry(base, seq)[2]
    _edit(data_dir, ("UPDATE journal SET command = ? WHERE seq = ?", (_flip(command, rng), seq)))
    with pytest.raises(CorruptData, match=rf"journal entry {seq} fails its checksum") as info:
        audit(data_dir)
    assert _names(str(info.value), data_dir / DB_NAME, seq)
    with EmbeddedExchange.open(data_dir) as host:  # recovery starts at the snapshot
        assert host.recovered.snapshot_seq == SNAPSHOT_SEQ
        assert host.recovered.replayed == ENTRIES - SNAPSHOT_SEQ
        assert host.refresh().state_hash() == base.report.state_hash


# -- raw sqlite damage ---------------------------------------------------------------------


def _page_of(data_dir: Path, table: str) -> int:
    conn = raw_connect(data_dir / DB_NAME)  # read-write, so that closing it leaves no files
    try:
        page_size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        root: int = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()[0]
    finally:
        raw_close(conn)
    return (root - 1) * page_size + (100 if root == 1 else 0)


def _poke(data_dir: Path, offset: int, value: int) -> None:
    damaged = bytearray((data_dir / DB_NAME).read_bytes())
    damaged[offset] = value
    (data_dir / DB_NAME).write_bytes(bytes(damaged))


def test_a_malformed_journal_page_is_refused_as_corrupt_data(base: Base, tmp_path: Path) -> None:
    """SQLite's own "database disk image is malformed" must reach the caller as CorruptData
    naming the file, not as a raw sqlite3.DatabaseError."""
    data_dir = _copy(base, tmp_path)
    _poke(data_dir, _page_of(data_dir, "journal"), 0xFF)  # the b-tree page type byte
    before = dir_bytes(data_dir)
    with pytest.raises(CorruptData) as info:
        EmbeddedExchange.open(data_dir)
    assert str(data_dir / DB_NAME) in str(info.value)
    assert content_bytes(data_dir) == before
    with pytest.raises(CorruptData):
        audit(data_dir)


def test_a_refused_open_of_a_malformed_schema_leaves_the_files_as_they_were(
    base: Base, tmp_path: Path
) -> None:
    """db.connect refuses the file; the connection it opened must not stay behind (holding
    descriptors of the directory's files)."""
    data_dir = _copy(base, tmp_path)
    _poke(data_dir, 100, 0xFF)  # page 1's b-tree page type: the schema table's root
    before = dir_bytes(data_dir)
    with pytest.raises(CorruptData, match=r"not a usable SQLite database") as info:
        EmbeddedExchange.open(data_dir)
    assert str(data_dir / DB_NAME) in str(info.value)
    assert content_bytes(data_dir) == before
    assert not _open_descriptors(data_dir)


def _open_descriptors(data_dir: Path) -> list[str]:
    """This process's descriptors of files in `data_dir`."""
    fds = Path("/proc/self/fd")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(str(fd.readlink()))
        except OSError:
            continue  # closed meanwhile (the descriptor iterdir itself used)
    return [target for target in targets if target.startswith(str(data_dir))]


def test_a_schema_that_is_not_utf8_is_refused_as_corrupt_data(base: Base, tmp_path: Path) -> None:
    """A damaged byte in the stored CREATE TABLE text makes SQLite's error message invalid
    UTF-8; Python then raises UnicodeDecodeError, which must still reach the caller as
    CorruptData."""
    data_dir = _copy(base, tmp_path)
    data = (data_dir / DB_NAME).read_bytes()
    create = data.index(b"CREATE TABLE snapshots")
    _poke(data_dir, data.index(b"NOT NULL", create) + 5, 0x93)  # NOT NULL -> NOT N\x93LL
    for call in (EmbeddedExchange.open, audit):
        with pytest.raises(CorruptData) as info:
            call(data_dir)
        assert str(data_dir / DB_NAME) in str(info.value)


def _rightmost_leaf(data_dir: Path, table: str) -> int:
    """The offset of the last leaf page of a table's b-tree (where an append goes)."""
    data = (data_dir / DB_NAME).read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    offset = _page_of(data_dir, table)
    while data[offset] in (0x02, 0x05):  # interior page: follow the right-most pointer
        child = int.from_bytes(data[offset + 8 : offset + 12], "big")
        offset = (child - 1) * page_size
    assert data[offset] == 0x0D  # a table leaf
    return offset


@pytest.mark.parametrize("table", ["journal", "snapshots"])
def test_damage_met_only_while_writing_is_refused_as_corrupt_data(
    base: Base, tmp_path: Path, table: str
) -> None:
    """A damaged free-block pointer in a leaf page is not seen by reads (open and audit accept
    the file) but is by the next insert into that page: a submit for the journal, a snapshot
    for the snapshots table. That must surface as CorruptData, not sqlite3.DatabaseError."""
    data_dir = _copy(base, tmp_path)
    _poke(data_dir, _rightmost_leaf(data_dir, table) + 1, 0xFF)  # first free block: past the page
    host = EmbeddedExchange.open(data_dir)
    try:
        assert host.seq == ENTRIES
        write: Callable[[], object] = (
            partial(host.submit, Deposit(ALICE, USDC, 1))
            if table == "journal"
            else host.write_snapshot
        )
        with pytest.raises(CorruptData) as info:
            write()
        assert str(data_dir / DB_NAME) in str(info.value)
        assert host.seq == ENTRIES
    finally:
        host.close(snapshot=False)


# -- random byte flips in the file ---------------------------------------------------------

Outcome = str
REFUSED, UNUSED = "refused with CorruptData", "unused bytes (content and audit unchanged)"
REPORTED = "read model damage, reported by audit (journal, snapshot and state unchanged)"
"""The read model is derived data that open never reads: audit finds its damage (and
`audit --repair` rebuilds it)."""


def _try(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # classified by the caller
        return exc
    return None


def classify_flip(base: Base, root: Path, position: int, xor: int) -> Outcome:
    """Flip one byte of the database file; audit one copy of the result, and open, use and
    close another. Returns REFUSED, UNUSED, REPORTED or a description of what went wrong."""
    original = (base.path / DB_NAME).read_bytes()
    damaged = bytearray(original)
    damaged[position] ^= xor
    head_record = (base.path / HEAD_NAME).read_bytes()
    audited, opened = root / "audited", root / "opened"
    for data_dir in (audited, opened):
        data_dir.mkdir(parents=True)
        (data_dir / DB_NAME).write_bytes(bytes(damaged))
        (data_dir / HEAD_NAME).write_bytes(head_record)
    report: list[AuditReport] = []
    audit_error = _try(lambda: report.append(audit(audited)))
    hosts: list[EmbeddedExchange] = []
    open_error = _try(lambda: hosts.append(EmbeddedExchange.open(opened)))
    for call, error in (("open", open_error), ("audit", audit_error)):
        if error is not None and not isinstance(error, CorruptData):
            name = f"{type(error).__module__}.{type(error).__name__}"
            return f"escaped {name} from {call}: {error}"
    if open_error is not None and content_bytes(opened) != {
        DB_NAME: bytes(damaged),
        HEAD_NAME: head_record,
    }:
        return f"refused open changed the files: {open_error!r}"
    if audit_error is not None or open_error is not None:
        for host in hosts:  # opened although audit refused: damage before the snapshot
            host.close(snapshot=False)
        return REFUSED
    content = (journal_rows(opened / DB_NAME), snapshot_rows(opened / DB_NAME))
    (host,) = hosts
    state_hash = host.refresh().state_hash()
    # Use it: a deposit, then close (which writes a snapshot). Writing may touch pages that
    # reading did not (the free list): damage there must be refused as CorruptData too.
    write_error = _try(lambda: host.submit(Deposit(ALICE, USDC, 1)))
    close_error = _try(host.close)
    for call, error in (("submit", write_error), ("close", close_error)):
        if error is not None and not isinstance(error, CorruptData):
            name = f"{type(error).__module__}.{type(error).__name__}"
            return f"escaped {name} from {call}: {error}"
    same_state = state_hash == base.report.state_hash and content == (base.journal, base.snapshots)
    if same_state and report[0]._replace(db_path="") == base.report._replace(db_path=""):
        return UNUSED
    if same_state and report[0].read_model == "mismatch":
        return REPORTED
    return "accepted with changed content"


def flip_outcomes(base: Base, root: Path, count: int, seed: int) -> list[tuple[int, Outcome]]:
    rng = random.Random(seed)
    size = (base.path / DB_NAME).stat().st_size
    outcomes: list[tuple[int, Outcome]] = []
    for i in range(count):
        position, xor = rng.randrange(size), rng.randint(1, 255)
        outcomes.append((position, classify_flip(base, root / f"flip{i}", position, xor)))
    return outcomes


def test_random_byte_flips_in_the_file_are_refused_or_harmless(base: Base, tmp_path: Path) -> None:
    """Each flip is refused (open or audit raises CorruptData, files unchanged), hit bytes
    nothing uses (every row, the audit report and the state as before, and writes work), or
    damaged the read model, which audit reports (journal, snapshot and state as before)."""
    outcomes = flip_outcomes(base, tmp_path, FILE_FLIPS, seed=2024)
    counts = Counter(outcome.split(":")[0] for _, outcome in outcomes)
    bad = [
        (pos, outcome) for pos, outcome in outcomes if outcome not in (REFUSED, UNUSED, REPORTED)
    ]
    assert not bad, f"outcomes {dict(counts)}; neither refused nor harmless: {bad}"
    assert counts[REFUSED] > 0  # the flips did reach the journal and snapshot
