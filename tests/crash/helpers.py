"""Goal: shared plumbing of the crash tests: start workers, read their lines, read the journal.
Method: subprocess.Popen on `python -m tests.crash.worker`, a reader thread per child, sqlite3."""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Final, NamedTuple

from tachyon.errors import TachyonError
from tachyon.exchange.admission import admit, admit_entry
from tachyon.exchange.commands import AnyCommand, decode_command, encode_command
from tachyon.exchange.state_machine import Exchange, Refusal
from tachyon.storage.db import DB_FILENAME
from tests.crash.worker import CLOCK_NS, nonce_key

ROOT: Final = Path(__file__).resolve().parents[2]
"""The project root: the worker runs from here so that `tests` is importable."""
WAIT_S: Final = 60.0
"""Longest a test waits for a child to say something or to exit: beyond it, it hangs."""


class Entry(NamedTuple):
    seq: int
    ts_ns: int
    command: bytes


class Child:
    """A worker process whose stdout lines arrive on a queue (None at end of file)."""

    def __init__(self, args: Sequence[str], stderr_path: Path, *, stdin: bool = False) -> None:
        self.args = list(args)
        self.stderr_path = stderr_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.eof = False
        self.started = time.monotonic()
        with stderr_path.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.crash.worker", *self.args],
                cwd=ROOT,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=_pump, args=(self.proc.stdout, self.lines))
        self._reader.daemon = True
        self._reader.start()

    def next_line(self, timeout: float) -> str | None:
        """The next complete line; None at end of file; queue.Empty after `timeout` seconds."""
        if self.eof:
            return None
        line = self.lines.get(timeout=max(0.0, timeout))
        self.eof = line is None
        return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL (if still running) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)

    def rest(self) -> list[str]:
        """Every line not taken yet, up to end of file (the child must have exited)."""
        self._reader.join(timeout=WAIT_S)
        assert not self._reader.is_alive(), f"stdout of {self.args} never closed"
        found: list[str] = []
        while (line := self.next_line(0)) is not None:
            found.append(line)
        return found

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def close(self) -> None:
        """Kill if need be and release the pipes (for `finally`)."""
        try:
            self.kill()
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward complete lines: a last line without its newline was torn by a kill."""
    try:
        for line in stream:
            if line.endswith("\n"):
                lines.put(line.rstrip("\n"))
    except ValueError:  # closed under us by `Child.close`
        pass
    finally:
        lines.put(None)


def read_journal(data_dir: Path) -> list[Entry]:
    """Every journal entry in sequence order, through a read-only connection."""
    conn = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT seq, ts_ns, command FROM journal ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [Entry(int(seq), int(ts_ns), bytes(command)) for seq, ts_ns, command in rows]


def replay(journal: Sequence[Entry]) -> Exchange:
    """A fresh in-process Exchange fed the journal's commands with its numbers and times,
    each accepted or refused as it was journaled."""
    exchange = Exchange()
    for entry in journal:
        admitted, refused_code = admit_entry(entry.command, audit=True)
        result = exchange.apply(admitted, entry.seq, entry.ts_ns)
        code = result.error.code if isinstance(result, Refusal) else None
        assert code == refused_code, f"entry {entry.seq}: {code} on replay, {refused_code} then"
    exchange.check_invariants()
    return exchange


def accepted_serially(commands: Sequence[AnyCommand]) -> list[bytes]:
    """The bytes of the commands a lone, never interrupted writer would journal, in order."""
    exchange = Exchange()
    accepted: list[bytes] = []
    for command in commands:
        try:
            exchange.apply(admit(command), exchange.seq + 1, CLOCK_NS)
        except TachyonError:
            continue
        accepted.append(encode_command(command))
    return accepted


def nonce_problems(journal: Sequence[Entry]) -> list[str]:
    """Each place where an account's nonce was journaled twice (a double apply). Nonces need
    not rise in journal order: a command refused unjournaled whose answer a kill lost is sent
    again after later ones, and its unused nonce is accepted inside the receive window."""
    seen: dict[tuple[str, int], int] = {}
    problems: list[str] = []
    for entry in journal:
        key = nonce_key(decode_command(entry.command))
        if key is None:
            problems.append(f"entry {entry.seq} carries no nonce")
            continue
        if key in seen:
            problems.append(f"entry {entry.seq}: {key[0]} nonce {key[1]} again (entry {seen[key]})")
        seen[key] = entry.seq
    return problems
