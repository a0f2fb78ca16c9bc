"""Goal: a commit torn by a crash (a WAL tail cut at any byte) loses that commit and nothing else.
Method: copy a live directory right after its last commit, with the head record as it was
before that commit (a crash inside a commit comes before its head record is written), cut the
copied -wal file at every interesting length inside that commit's frames, and open each copy
with EmbeddedExchange."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange, audit
from tests.exchange.helpers import ALICE, USDC
from tests.storage.helpers import DB_NAME, HEAD_NAME, StepClock, dir_bytes, make_flow, submit_one

WAL_NAME: Final = f"{DB_NAME}-wal"
WAL_HEADER: Final = 32
FRAME_HEADER: Final = 24
PAGE_STRIDE: Final = 97
COMMANDS_MAX: Final = 200


@dataclass(frozen=True)
class Crash:
    """The directory's files copied right after commit `seq` returned, with no checkpoint."""

    files: dict[str, bytes]
    seq: int
    state_hash: str  # after commit seq
    previous_hash: str  # after commit seq - 1
    wal_before: int  # -wal length before the last commit
    page_size: int


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    """Submit one command per commit until a commit writes more than one WAL frame (a page
    split of the journal table), then copy the files while the host is still open."""
    data_dir = tmp_path_factory.mktemp("torn") / "live"
    flow = make_flow(17, 2 * COMMANDS_MAX).accepted()
    clock = StepClock()
    # No snapshots (they would add pages of their own to the commit) and no checkpoint: the
    # default autocheckpoint needs 1000 pages, far more than these commits write.
    host = EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=10**9)
    try:
        wal = data_dir / WAL_NAME
        for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
            previous_hash = host.refresh().state_hash()
            head_before = (data_dir / HEAD_NAME).read_bytes()
            wal_before = wal.stat().st_size if wal.exists() else 0
            submit_one(host, clock, command, ts_ns)
            page_size = int.from_bytes(wal.read_bytes()[8:12], "big")
            frames = (wal.stat().st_size - wal_before) // (FRAME_HEADER + page_size)
            if frames >= 2 or host.seq >= COMMANDS_MAX:
                break
        # Copy right after the last commit returned, with the head record before it: what a
        # crash leaves that comes after the commit's frames are written, before its answer.
        files = dir_bytes(data_dir) | {HEAD_NAME: head_before}
        crash = Crash(
            files, host.seq, host.refresh().state_hash(), previous_hash, wal_before, page_size
        )
    finally:
        host.close()
    assert frames >= 2, "no commit wrote more than one frame"
    assert sorted(files) == [DB_NAME, f"{DB_NAME}-shm", WAL_NAME, HEAD_NAME]
    assert crash.wal_before >= WAL_HEADER
    frame = FRAME_HEADER + crash.page_size
    assert (len(files[WAL_NAME]) - crash.wal_before) % frame == 0
    assert (crash.wal_before - WAL_HEADER) % frame == 0
    return crash


def cut_points(crash: Crash) -> list[int]:
    """Lengths to cut the -wal file to, inside the last commit: every byte of each frame's
    header, a stride through each page, every frame boundary and both ends."""
    frame = FRAME_HEADER + crash.page_size
    end = len(crash.files[WAL_NAME])
    points: set[int] = {crash.wal_before, end - 1}
    for start in range(crash.wal_before, end, frame):
        points.update(range(start, start + FRAME_HEADER + 1))
        points.update(range(start + FRAME_HEADER, start + frame, PAGE_STRIDE))
        points.update((start + frame - 1, start + frame))
    return sorted(point for point in points if crash.wal_before <= point < end)


def _restore(crash: Crash, data_dir: Path, wal_length: int) -> None:
    data_dir.mkdir()
    for name, data in crash.files.items():
        (data_dir / name).write_bytes(data[:wal_length] if name == WAL_NAME else data)


def test_every_cut_inside_the_last_commit_recovers_the_commit_before(
    crash: Crash, tmp_path: Path
) -> None:
    # SQLite's WAL only counts a transaction once its commit frame (the last frame, which
    # carries the database size) is present whole, with a checksum chained over every frame
    # before it. A tail cut anywhere inside the transaction's frames therefore drops the
    # whole transaction on recovery, and keeps every transaction before it: the torn-tail
    # guarantee, one commit lost and nothing half-applied.
    points = cut_points(crash)
    frames = (len(crash.files[WAL_NAME]) - crash.wal_before) // (FRAME_HEADER + crash.page_size)
    assert len(points) >= frames * (FRAME_HEADER + crash.page_size // PAGE_STRIDE)
    seen: dict[int, int] = {}
    for i, wal_length in enumerate(points):
        data_dir = tmp_path / f"cut{i}"
        _restore(crash, data_dir, wal_length)
        with EmbeddedExchange.open(data_dir) as host:
            state = host.refresh()
            state.check_invariants()
            seen[wal_length] = state.seq
            assert state.seq == crash.seq - 1, f"cut at {wal_length}"
            assert state.state_hash() == crash.previous_hash, f"cut at {wal_length}"
    assert min(seen) == crash.wal_before
    assert max(seen) == len(crash.files[WAL_NAME]) - 1


def test_the_whole_wal_recovers_the_last_commit(crash: Crash, tmp_path: Path) -> None:
    _restore(crash, tmp_path / "whole", len(crash.files[WAL_NAME]))
    with EmbeddedExchange.open(tmp_path / "whole") as host:
        state = host.refresh()
        state.check_invariants()
        assert state.seq == crash.seq
        assert state.state_hash() == crash.state_hash
    report = audit(tmp_path / "whole")
    assert (report.entries, report.state_hash) == (crash.seq, crash.state_hash)


def test_a_cut_copy_keeps_working_after_recovery(crash: Crash, tmp_path: Path) -> None:
    """The lost commit's number is given to the next command; the chain stays whole."""
    data_dir = tmp_path / "cut"
    _restore(crash, data_dir, crash.wal_before + FRAME_HEADER + 1)
    with EmbeddedExchange.open(data_dir) as host:
        host.submit(Deposit(ALICE, USDC, 1))
        assert host.seq == crash.seq
    report = audit(data_dir)
    assert report.entries == crash.seq
    assert report.snapshot_matches is True


def test_no_source_file_opens_sqlites_own_files() -> None:
    """SQLite's -wal and -shm files are SQLite's: a process that opens and closes any descriptor
    of them drops every POSIX lock it holds on them, and another process then re-initialises
    the shared-memory index under a live mapping (a bus error inside COMMIT). No code of the
    project names them."""
    import tachyon

    root = Path(tachyon.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if any(
            name in path.read_text()
            for name in ('-wal"', '-shm"', "-wal'", "-shm'", "}-wal", "}-shm")
        )
    ]
    assert offenders == []
