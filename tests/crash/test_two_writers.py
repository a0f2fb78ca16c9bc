"""Goal: two processes writing one directory at once journal every accepted command exactly once.
Method: two workers with their own accounts submit together (and open a new directory together)."""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Final

import pytest

from tachyon.exchange.commands import AnyCommand, Deposit, decode_command, encode_command
from tachyon.storage.audit import audit
from tachyon.storage.db import DB_FILENAME
from tachyon.storage.host import EmbeddedExchange
from tests.crash.helpers import WAIT_S, Child, Entry, nonce_problems, read_journal, replay
from tests.crash.worker import flow, nonce_key

COUNT: Final = 2_000  # commands per writer
PREFIXES: Final = ("A", "B")  # account names: A0..A7 and B0..B7
PAUSE_MS: Final = 1.0  # most sleep between submits, so that the writers take turns often
OPEN_RACES: Final = 40  # new directories opened by several writers at the same moment
OPEN_RACERS: Final = 3


@pytest.mark.parametrize("batch", [1, 20], ids=["commit-each", "batch-20"])
def test_two_writers_journal_each_accepted_command_once(tmp_path: Path, batch: int) -> None:
    seed = int(os.environ.get("TACHYON_SEED") or random.SystemRandom().randrange(2**32))
    sys.stdout.write(f"TACHYON_SEED={seed}\n")  # shown with the captured output on failure
    try:
        _run(seed, tmp_path, batch)
    except BaseException as exc:
        exc.add_note(f"rerun with TACHYON_SEED={seed}")
        raise


def _run(seed: int, tmp_path: Path, batch: int) -> None:
    data_dir = tmp_path / "exchange"
    flows = {prefix: flow(seed + n, COUNT, prefix) for n, prefix in enumerate(PREFIXES)}
    began = time.monotonic()
    acks = _run_writers(seed, tmp_path, data_dir, batch)
    elapsed = time.monotonic() - began
    journal = read_journal(data_dir)
    # Every acknowledged accepted command is in the journal, as itself, at its sequence number,
    # and nothing else is: the accepted acks of both writers number the journal exactly.
    owner: dict[int, tuple[str, int]] = {}
    for prefix, seqs in acks.items():
        assert len(seqs) == COUNT, f"writer {prefix} acknowledged {len(seqs)} of {COUNT}"
        for index, seq in enumerate(seqs):
            if seq:
                assert seq not in owner, f"seq {seq} acknowledged twice: {owner[seq]}"
                owner[seq] = (prefix, index)
                command = flows[prefix][index]
                assert journal[seq - 1].command == encode_command(command)
    assert sorted(owner) == [entry.seq for entry in journal] == list(range(1, len(journal) + 1))
    # No command applied twice: each account's nonces rise in journal order, and each writer's
    # commands appear in the order it sent them.
    problems = nonce_problems(journal)
    assert not problems, problems[:5]
    for prefix in PREFIXES:
        indices = [index for who, index in (owner[entry.seq] for entry in journal) if who == prefix]
        assert indices == sorted(indices)
    _check_state(data_dir, journal, flows)
    switches = sum(
        owner[entry.seq][0] != owner[entry.seq + 1][0] for entry in journal[:-1]
    )  # the writers did interleave: otherwise this tested one writer twice
    assert switches > 0
    sys.stdout.write(
        f"batch={batch} entries={len(journal)} switches={switches} writers={elapsed:.1f}s\n"
    )


def _run_writers(seed: int, tmp_path: Path, data_dir: Path, batch: int) -> dict[str, list[int]]:
    """Start both writers on one directory, let them go together once both have opened it,
    and return each writer's acks in flow order."""
    # Created here first: writers creating a new directory at the same moment are the subject
    # of the two open tests below; these tests are about the journal.
    EmbeddedExchange.open(data_dir).close()
    children: dict[str, Child] = {}
    try:
        for n, prefix in enumerate(PREFIXES):
            args = [str(data_dir), str(seed + n), str(COUNT), "--prefix", prefix, "--go"]
            args += ["--batch", str(batch), "--pause-ms", str(PAUSE_MS)]
            children[prefix] = Child(args, tmp_path / f"stderr-{prefix}.txt", stdin=True)
        for child in children.values():
            line = child.next_line(WAIT_S)
            assert line is not None, f"a writer failed to open: {child.stderr()}"
            assert line.startswith("open "), line
        for child in children.values():
            child.send("go\n")
        for child in children.values():
            assert child.proc.wait(timeout=WAIT_S) == 0, child.stderr()
        return {prefix: _acks(child.rest()) for prefix, child in children.items()}
    finally:
        for child in children.values():
            child.close()


def _acks(lines: list[str]) -> list[int]:
    """The acks of a writer's lines after its `open` line, which end in `done`."""
    assert lines[-1] == "done", lines[-3:]
    seqs: list[int] = []
    for line in lines[1 if lines[0].startswith("open ") else 0 : -1]:
        word, index, seq = line.split()
        assert word == "ack", f"unexpected line {line!r}"  # no dup: no writer was restarted
        assert int(index) == len(seqs)
        seqs.append(int(seq))
    return seqs


def _check_state(data_dir: Path, journal: list[Entry], flows: dict[str, list[AnyCommand]]) -> None:
    """The state equals a serial replay of the journal in seq order, by audit, by a reopened
    host and by an in-process Exchange; invariants hold; only our accounts wrote."""
    accounts = {f"{prefix}{k}" for prefix in flows for k in range(8)}
    for entry in journal:
        key = nonce_key(decode_command(entry.command))
        assert key is not None and key[0] in accounts
    reference = replay(journal)
    report = audit(data_dir)
    assert report.entries == len(journal)
    assert report.state_hash == reference.state_hash()
    assert report.snapshot_matches is not False
    with EmbeddedExchange.open(data_dir) as exchange:
        state = exchange.refresh()
        state.check_invariants()
        assert state.seq == len(journal)
        assert state.state_hash() == reference.state_hash()


def test_writers_creating_one_new_directory_at_once_all_open(tmp_path: Path) -> None:
    """Writers told at the same moment to open a directory that does not exist yet all open
    it and commit: creating the database must wait for its lock like every other write."""
    children: list[Child] = []
    refused: list[str] = []
    try:
        for n in range(OPEN_RACERS):  # account names W0-0.. and W1-0.., so deposits differ
            args = [str(tmp_path), str(n), "1", "--prefix", f"W{n}-", "--open-race"]
            args.append(str(OPEN_RACES))
            children.append(Child(args, tmp_path / f"stderr-{n}.txt", stdin=True))
        for attempt in range(OPEN_RACES):
            for child in children:
                assert child.next_line(WAIT_S) == f"ready {attempt}", child.stderr()
            at = time.time() + 0.02
            for child in children:  # all open at that moment
                child.send(f"go {at!r}\n")
            for child in children:
                line = child.next_line(WAIT_S)
                assert line is not None, child.stderr()
                if line != f"opened {attempt}":
                    refused.append(line)
        for child in children:
            assert child.proc.wait(timeout=WAIT_S) == 0, child.stderr()
    finally:
        for child in children:
            child.close()
    assert not refused, (
        f"{len(refused)} of {OPEN_RACES * OPEN_RACERS} opens of a new directory by"
        f" {OPEN_RACERS} writers at once were refused; the first: {refused[0]}"
    )
    for attempt in range(OPEN_RACES):
        assert audit(tmp_path / f"race-{attempt}").entries == OPEN_RACERS


def test_open_waits_for_a_writer_that_is_making_a_new_file_wal(tmp_path: Path) -> None:
    """The moment the race above loses, held still: the first opener of a new directory
    holds the write lock of the still empty file in rollback mode while `PRAGMA journal_mode
    = WAL` writes its header. A second opener must wait for it (busy timeout), not fail."""
    data_dir = tmp_path / "exchange"
    data_dir.mkdir(mode=0o700)
    first = sqlite3.connect(data_dir / DB_FILENAME, isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, first.execute, args=("ROLLBACK",))
    release.start()
    try:
        with EmbeddedExchange.open(data_dir) as exchange:
            exchange.submit(Deposit("W0", "USDC", 1))
    finally:
        release.join()
        first.close()
    assert audit(data_dir).entries == 1
