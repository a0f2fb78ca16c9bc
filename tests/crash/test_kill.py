"""Goal: a writer SIGKILLed at any moment loses no acknowledged command and applies none twice.
Method: kill a real worker process over and over on one directory, check each recovery, finish."""

from __future__ import annotations

import os
import queue
import random
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

from tachyon.exchange.commands import AnyCommand, encode_command
from tachyon.storage.audit import audit
from tachyon.storage.host import EmbeddedExchange
from tests.crash.helpers import (
    WAIT_S,
    Child,
    accepted_serially,
    nonce_problems,
    read_journal,
    replay,
)
from tests.crash.worker import flow

COUNT: Final = 5_000  # commands in the flow
KILLS: Final = 30  # kill points per run (the goal is at least 20)
ACKS_MAX: Final = 220  # most acks a worker may give before its kill
TIME_MAX_S: Final = 0.6  # latest kill after a start, by the clock (the worker starts in ~0.3 s)
SLEEP_MAX_S: Final = 0.004  # a kill by acks lands this much later at most, inside a commit


@dataclass
class Progress:
    """What the test knows across kills: the acks so far, in flow order, and counters."""

    commands: Sequence[AnyCommand]
    seqs: list[int] = field(default_factory=list)  # seqs[i]: the ack of command i (0: refused)
    kills: int = 0
    kills_before_open: int = 0  # killed while importing, opening or recovering
    dups: int = 0  # journaled by a killed run, its ack lost, refused as stale when resent

    @property
    def start(self) -> int:
        return len(self.seqs)

    def take(self, line: str) -> None:
        """Record one line of a worker; acks must come in flow order, one per command."""
        word, *rest = line.split()
        if word == "ack":
            index, seq = map(int, rest)
            assert index == self.start, f"ack {index} arrived, expected {self.start}"
            self.seqs.append(seq)
        elif word == "dup":
            self.dups += 1
        elif word == "open":
            (seq,) = map(int, rest)
            assert seq >= max(self.seqs, default=0), (
                f"a worker recovered to {seq}, below acknowledged {max(self.seqs)}"
            )
        else:
            assert word == "done", f"unexpected line {line!r}"


@pytest.mark.parametrize("batch", [1, 10], ids=["commit-each", "batch-10"])
def test_sigkill_loses_no_acknowledged_command(tmp_path: Path, batch: int) -> None:
    seed = int(os.environ.get("TACHYON_SEED") or random.SystemRandom().randrange(2**32))
    sys.stdout.write(f"TACHYON_SEED={seed}\n")  # shown with the captured output on failure
    try:
        _run(seed, tmp_path, batch)
    except BaseException as exc:
        exc.add_note(f"rerun with TACHYON_SEED={seed}")
        raise


def _run(seed: int, tmp_path: Path, batch: int) -> None:
    rng = random.Random(seed)
    data_dir = tmp_path / "exchange"
    progress = Progress(flow(seed, COUNT))
    args = [str(data_dir), str(seed), str(COUNT), "--batch", str(batch)]
    began = time.monotonic()
    for point in range(KILLS):
        left = len(progress.commands) - progress.start
        acks = rng.randint(0, min(ACKS_MAX, left // (KILLS - point + 1)))
        by_clock = rng.random() < 0.5
        child = Child([*args, "--start", str(progress.start)], tmp_path / f"stderr-{point}.txt")
        try:
            opened = _run_until_kill(
                child, progress, acks, rng.uniform(0, TIME_MAX_S) if by_clock else None, rng
            )
        finally:
            child.close()
        assert child.proc.returncode == -9, (
            f"kill {point}: the worker ended by itself ({child.proc.returncode}): {child.stderr()}"
        )
        progress.kills += 1
        progress.kills_before_open += not opened
        _check_recovered(data_dir, progress)
    killed = time.monotonic() - began
    _finish(args, tmp_path, progress, exact=batch == 1)
    sys.stdout.write(  # seen with pytest -s
        f"batch={batch} kills={progress.kills} before_open={progress.kills_before_open}"
        f" dups={progress.dups} kill_phase={killed:.1f}s total={time.monotonic() - began:.1f}s\n"
    )
    assert progress.kills >= 20


def _run_until_kill(
    child: Child, progress: Progress, acks: int, after_s: float | None, rng: random.Random
) -> bool:
    """Read lines until `acks` acks (then a short random pause) or `after_s` seconds after the
    start, whichever comes first; SIGKILL; take the lines it printed before dying. Returns
    whether the worker had finished opening."""
    opened = False
    deadline = child.started + (WAIT_S if after_s is None else after_s)
    seen = 0
    while seen < acks or not opened:
        try:
            line = child.next_line(deadline - time.monotonic())
        except queue.Empty:
            assert after_s is not None, f"no line for {WAIT_S} s: {child.stderr()}"
            break
        assert line is not None, f"the worker stopped early: {child.stderr()}"
        progress.take(line)
        opened = opened or line.startswith("open ")
        seen += line.startswith("ack ")
    else:
        time.sleep(rng.uniform(0, SLEEP_MAX_S))
    child.kill()
    for line in child.rest():  # printed (so committed) before the kill landed
        progress.take(line)
        opened = opened or line.startswith("open ")
    return opened


def _check_recovered(data_dir: Path, progress: Progress) -> None:
    """The directory audits as the crash left it (read-only) and opens; every accepted ack is
    there, as the command it acknowledged; the state holds its invariants and equals a serial
    replay of the journal."""
    if not (data_dir / "exchange.db").exists():
        assert progress.start == 0, "acks without a database"
        return
    # Once anything was acknowledged the tables exist, and audit must read the directory as
    # the kill left it (a WAL to recover, perhaps a torn tail) without writing to it.
    before = audit(data_dir) if progress.start or _has_schema(data_dir) else None
    with EmbeddedExchange.open(data_dir) as exchange:
        state = exchange.refresh()
        state.check_invariants()
        journal = read_journal(data_dir)
        assert [entry.seq for entry in journal] == list(range(1, state.seq + 1))
        for index, seq in enumerate(progress.seqs):
            if seq:
                assert seq <= state.seq, f"acked command {index} (seq {seq}) lost: at {state.seq}"
                assert journal[seq - 1].command == encode_command(progress.commands[index]), (
                    f"entry {seq} is not command {index}"
                )
        report = audit(data_dir)
        assert before is None or before == report
        assert report.entries == state.seq
        assert report.head_hash == exchange.head_hash.hex()
        assert report.state_hash == state.state_hash()
        assert report.snapshot_matches is not False
    problems = nonce_problems(journal)
    assert not problems, problems[:5]


def _has_schema(data_dir: Path) -> bool:
    """Whether the killed worker got as far as creating the tables (it may die before)."""
    try:
        conn = sqlite3.connect(f"file:{data_dir / 'exchange.db'}?mode=ro", uri=True)
        try:
            return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:  # e.g. killed while making the new file WAL: no tables yet
        return False


def _finish(args: list[str], tmp_path: Path, progress: Progress, *, exact: bool) -> None:
    """Run the rest of the flow, then check the journal against the acks and a serial replay
    (and, one commit per command, against a writer that never died)."""
    data_dir = Path(args[0])
    child = Child([*args, "--start", str(progress.start)], tmp_path / "stderr-final.txt")
    try:
        assert child.proc.wait(timeout=WAIT_S) == 0, child.stderr()
        lines = child.rest()
    finally:
        child.close()
    assert lines[-1] == "done"
    for line in lines:
        progress.take(line)
    assert progress.start == COUNT
    journal = read_journal(data_dir)
    if exact:
        # Acceptance never depends on time, and a resent command meets the state it first met
        # (it is the first unacknowledged one): so the journal is exactly what one writer that
        # never died would have written. Not so for batches: a command refused inside a
        # committed batch whose acks were lost is resent after the rest of its batch, and may
        # now be accepted.
        expected = accepted_serially(progress.commands)
        found = [entry.command for entry in journal]
        first = next(
            (n for n, pair in enumerate(zip(found, expected, strict=False)) if pair[0] != pair[1]),
            min(len(found), len(expected)),
        )
        assert found == expected, (
            f"{len(found)} entries, {len(expected)} expected; first difference at seq"
            f" {first + 1}: {found[first : first + 1]} instead of {expected[first : first + 1]}"
        )
    acked = sorted(seq for seq in progress.seqs if seq)
    assert acked == list(range(1, len(journal) + 1)), "each entry acknowledged exactly once"
    for index, seq in enumerate(progress.seqs):
        if seq:
            assert journal[seq - 1].command == encode_command(progress.commands[index])
    problems = nonce_problems(journal)
    assert not problems, problems[:5]
    reference = replay(journal)
    report = audit(data_dir)
    assert report.state_hash == reference.state_hash()
    assert report.snapshot_matches is not False
    with EmbeddedExchange.open(data_dir) as exchange:
        state = exchange.refresh()
        state.check_invariants()
        assert state.state_hash() == reference.state_hash()
