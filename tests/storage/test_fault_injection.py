"""Goal: damage to a crashed directory's files is refused at open or harmless, never a silently
shorter (or different) log. Harmless means the state after open equals replaying every
acknowledged command. Method: a directory copied while its host is open (a crash), its database
file holding checkpointed journal and snapshot rows and its WAL the commits since; then, seeded,
single-byte flips of the database file (in the journal's and snapshots' pages) and of the WAL,
and truncations of both, each opened and audited on a fresh copy."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tachyon.errors import CorruptData
from tachyon.storage import EmbeddedExchange, audit
from tests.storage.helpers import (
    DB_NAME,
    StepClock,
    content_bytes,
    dir_bytes,
    make_flow,
    submit_one,
)

pytestmark = pytest.mark.slow

WAL_NAME: Final = f"{DB_NAME}-wal"
CHECKPOINTED: Final = 150  # entries in the database file, with snapshots every SNAPSHOT_EVERY
SNAPSHOT_EVERY: Final = 60
ENTRIES: Final = 230  # the rest are in the WAL
FLIPS_PER_FILE: Final = 120
CUTS_PER_FILE: Final = 20
SEED: Final = 1515

REFUSED, FOUND_BY_AUDIT, HARMLESS = "refused", "found by audit", "harmless"
FINE: Final = (REFUSED, FOUND_BY_AUDIT, HARMLESS)


@dataclass(frozen=True)
class Crashed:
    files: dict[str, bytes]
    state_hash: str  # after ENTRIES: every acknowledged command
    row_offsets: list[int]  # byte offsets of the database file's journal and snapshot pages


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Crashed:
    data_dir = tmp_path_factory.mktemp("faults") / "live"
    flow = make_flow(31, 2 * ENTRIES).accepted()
    clock = StepClock()
    stamped = list(zip(flow.commands[:ENTRIES], flow.stamps[:ENTRIES], strict=True))
    host = EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=SNAPSHOT_EVERY)
    for command, ts_ns in stamped[:CHECKPOINTED]:
        submit_one(host, clock, command, ts_ns)
    host.close(snapshot=False)  # the last close checkpoints: all of this is in the file
    offsets = _row_offsets(data_dir / DB_NAME)
    host = EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=SNAPSHOT_EVERY)
    try:
        for command, ts_ns in stamped[CHECKPOINTED:]:
            submit_one(host, clock, command, ts_ns)
        assert host.seq == ENTRIES
        crashed = Crashed(dir_bytes(data_dir), host.state.state_hash(), offsets)
    finally:
        host.close(snapshot=False)
    assert len(crashed.files[WAL_NAME]) > 0
    return crashed


def _row_offsets(db_path: Path) -> list[int]:
    conn = sqlite3.connect(db_path)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute(
            "SELECT pageno FROM dbstat WHERE name IN ('journal', 'snapshots')"
        ).fetchall()
    finally:
        conn.close()
    return sorted(
        offset for (page,) in pages for offset in range((page - 1) * page_size, page * page_size)
    )


def outcome(crashed: Crashed, root: Path, name: str, damaged: bytes) -> str:
    """Open and audit a copy whose file `name` is `damaged`: REFUSED (CorruptData, nothing
    changed), HARMLESS (every acknowledged command, nothing else), FOUND_BY_AUDIT (harmless
    to the state, and audit refuses it: damage to entries before the newest snapshot, which
    open does not read), or what went wrong."""
    data_dir = root
    data_dir.mkdir(parents=True)
    for file_name, data in (crashed.files | {name: damaged}).items():
        (data_dir / file_name).write_bytes(data)
    before = content_bytes(data_dir)
    try:
        host = EmbeddedExchange.open(data_dir)
    except CorruptData:
        return REFUSED if content_bytes(data_dir) == before else "refused, but files changed"
    except Exception as exc:  # classified: anything else is a defect
        return f"escaped {type(exc).__name__}: {exc}"
    try:
        state = host.state
        if (state.seq, state.state_hash()) != (ENTRIES, crashed.state_hash):
            return f"opened at sequence {state.seq}, not the acknowledged state"
    finally:
        host.close(snapshot=False)
    try:
        report = audit(data_dir)
    except CorruptData:
        return FOUND_BY_AUDIT
    return HARMLESS if report.state_hash == crashed.state_hash else "audit passed another state"


def _flip(data: bytes, position: int, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= rng.randint(1, 255)
    return bytes(damaged)


def test_flips_and_cuts_of_a_crashed_directory_are_refused_or_harmless(
    crashed: Crashed, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    db, wal = crashed.files[DB_NAME], crashed.files[WAL_NAME]
    trials: list[tuple[str, str, bytes]] = []
    for _ in range(FLIPS_PER_FILE):
        position = rng.choice(crashed.row_offsets)
        trials.append((f"db flip at {position}", DB_NAME, _flip(db, position, rng)))
        position = rng.randrange(len(wal))
        trials.append((f"wal flip at {position}", WAL_NAME, _flip(wal, position, rng)))
    for _ in range(CUTS_PER_FILE):
        length = rng.randrange(len(db))
        trials.append((f"db cut to {length}", DB_NAME, db[:length]))
        length = rng.randrange(len(wal))
        trials.append((f"wal cut to {length}", WAL_NAME, wal[:length]))
    results = {
        what: outcome(crashed, tmp_path / f"t{i}", name, damaged)
        for i, (what, name, damaged) in enumerate(trials)
    }
    counts = Counter((what.split()[0], result) for what, result in results.items())
    bad = {what: result for what, result in results.items() if result not in FINE}
    assert not bad, f"{dict(counts)}; neither refused nor harmless: {bad}"
    assert len(trials) == 2 * FLIPS_PER_FILE + 2 * CUTS_PER_FILE >= 240 + 40
    # The damage reached what matters: most WAL damage loses acknowledged commits (refused).
    assert counts["wal", REFUSED] > FLIPS_PER_FILE // 2
    assert counts["db", REFUSED] + counts["db", FOUND_BY_AUDIT] > 0
    print(dict(counts))  # noqa: T201 (shown with -s: what the damage did)
