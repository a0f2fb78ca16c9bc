"""Goal: run the installed `tachyon` executable the way a new user does, in a private home.
Method: `Cli` runs it as a subprocess with HOME and TACHYON_HOME set to temporary directories,
no inherited TACHYON_* variables, no terminal and closed stdin (a prompt never waits)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

TACHYON: Final = shutil.which("tachyon", path=str(Path(sys.executable).parent)) or "tachyon"
RUN_TIMEOUT_S: Final = 60
USAGE_ERROR: Final = 2
REFUSED: Final = 1
MAX_MINOR: Final = 2**64 - 1
DROPPED_ENV: Final = ("COLUMNS", "LINES")  # tables are drawn at tachyon's own width


def clean_env() -> dict[str, str]:
    """The test process's environment without anything that would steer tachyon."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TACHYON_", "STRIPE_")) and key not in DROPPED_ENV
    }


@dataclass(frozen=True)
class Cli:
    """A new user's machine: a home, a tachyon home and a working directory, all temporary."""

    root: Path

    @classmethod
    def fresh(cls, root: Path) -> Cli:
        cli = cls(root)
        for directory in (cli.home, cli.tachyon_home, cli.cwd):
            directory.mkdir(parents=True)
        return cli

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tachyon_home(self) -> Path:
        return self.root / "tachyon-home"

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def exchange_dir(self) -> Path:
        return self.tachyon_home / "exchange"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = clean_env()
        env["HOME"] = str(self.home)
        env["TACHYON_HOME"] = str(self.tachyon_home)
        env.update(extra or {})
        return env

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`tachyon ARGS` as typed (no shell: a `~` reaches tachyon as it is)."""
        return subprocess.run(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env(env),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUN_TIMEOUT_S,
            start_new_session=True,  # no controlling terminal: getpass cannot open /dev/tty
        )

    def argv(self, *args: str) -> list[str]:
        """What `run` executes for `tachyon ARGS`."""
        return [TACHYON, *args]

    def ok(self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> str:
        """Standard output of a command that must succeed: exit 0, nothing on stderr."""
        result = self.run(*args, env=env, stdin=stdin)
        assert result.returncode == 0, describe(result)
        if stdin is None:  # a prompt writes its question (and getpass's warning) to stderr
            assert result.stderr == "", describe(result)
        assert "Traceback" not in result.stderr, describe(result)
        return result.stdout

    def json(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> Any:
        """The JSON a successful command prints (give it `--format json` somewhere)."""
        return json.loads(self.ok(*args, env=env, stdin=stdin))

    def audit(self) -> dict[str, Any]:
        """What identifies the exchange's whole history: entries, head hash, state hash."""
        report = self.json("audit", "--format", "json")
        return {key: report[key] for key in ("entries", "head_hash", "state_hash")}

    def balance(self, db_path: str) -> Any:
        return self.json("dex", "balance", "--db-path", db_path, "--format", "json")

    def book(self) -> Any:
        return self.json("dex", "orderbook", "--format", "json")


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{result.args!r} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def assert_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """A refusal as the user sees it: the exit code, no traceback, nothing on stdout and one
    `Error:` line naming the problem (a refused operation's stderr is that line alone; a usage
    error may add click's `Usage:` hint). Returns the error line."""
    assert result.returncode == code, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert result.stdout == "", describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, describe(result)
    if code == REFUSED:
        assert result.stderr.strip().splitlines() == errors, describe(result)
    for needle in needles:
        assert needle in errors[0], describe(result)
    return errors[0]


def files_containing(needle: str, *roots: Path) -> list[Path]:
    """Every file under `roots` whose bytes contain `needle`."""
    data = needle.encode()
    return [
        path
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file() and data in path.read_bytes()
    ]


def fingerprint(root: Path) -> dict[str, bytes | None]:
    """Every directory (None) and file (its bytes) under `root`: equal before and after a
    command proves it wrote nothing there (no journal entry, no key file, no new directory)."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the tables a command drew, as lists of stripped cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.lstrip().startswith("│")
    ]


def table_headers(text: str) -> list[list[str]]:
    """The column headers of each table a command drew, a header wrapped over lines joined
    with spaces."""
    tables: list[list[str]] = []
    lines: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("┃"):
            lines.append([cell.strip() for cell in stripped.strip("┃").split("┃")])
        elif stripped.startswith("┡") and lines:
            columns = zip(*lines, strict=True)
            tables.append([" ".join(part for part in column if part) for column in columns])
            lines = []
    return tables


def journal_times(data_dir: Path) -> list[int]:
    """Each journal entry's time (ns), in sequence order, read straight from the database."""
    conn = sqlite3.connect(f"file:{data_dir / 'exchange.db'}?mode=ro", uri=True)
    try:
        return [ts for (ts,) in conn.execute("SELECT ts_ns FROM journal ORDER BY seq")]
    finally:
        conn.close()


ISO_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")
"""A time as tables show it: ISO 8601 UTC with nanoseconds."""


def iso(time_ns: int) -> str:
    """`time_ns` as tables show it (an independent rendering, for comparison)."""
    seconds, nanos = divmod(time_ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
