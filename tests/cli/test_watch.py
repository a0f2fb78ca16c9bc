"""Goal: `tachyon dex watch` shows the book until Ctrl-C and then exits 0 without a traceback, in
a terminal (tables) and in a pipe (JSON lines), and `--iterations N` stops by itself after N.
Method: the installed `tachyon` started with Popen on a wallet's exchange, its output read in a
bounded loop with a deadline, then SIGINT; a process still running at a deadline is killed."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import httpx2
import pytest

from tests.cli.helpers import TACHYON, Cli, describe
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up

PASSWORD = "watcher-password-5"
FIRST_OUTPUT_S: Final = 15.0
EXIT_S: Final = 15.0
BOOK = {"market": "BASE/USDC", "bids": [{"price": "100", "qty": "10"}], "asks": []}


@dataclass(frozen=True)
class Watched:
    cli: Cli
    wallet: str

    def command(self, *options: str) -> list[str]:
        return [
            TACHYON, "dex", "watch", "--db-path", self.wallet, "--depth", "10",
            "--interval-ms", "100", *options,
        ]  # fmt: skip


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Watched:
    cli = Cli.fresh(tmp_path_factory.mktemp("watch"))
    wallet = str(cli.home / "wallet")
    signed = ("--db-path", wallet, "--password", PASSWORD)
    cli.ok("wallet", "create", *signed)
    cli.ok("dex", "deposit-usdc", "--amount", "1000", *signed)
    cli.ok("dex", "place-limit", "--side", "bid", "--price", "100", "--qty", "10", *signed)
    return Watched(cli, wallet)


def _default_sigint() -> None:
    """In the child: Ctrl-C as a user's shell delivers it, even if this test process was started
    with SIGINT ignored (a background job), which a child would otherwise inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def _started(
    watched: Watched, command: list[str], stdout: int | IO[bytes]
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command,
        cwd=watched.cli.cwd,
        env=watched.cli.env(),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_default_sigint,  # noqa: PLW1509 (no threads run Python code here)
    )
    try:
        yield process
    finally:
        if process.poll() is None:  # never leave a watch running
            process.kill()
            process.wait(timeout=EXIT_S)
        if process.stderr is not None:
            process.stderr.close()
        if process.stdout is not None:
            process.stdout.close()


def _read_until(fd: int, done: bytes, deadline: float, times: int = 1) -> bytes:
    """What `fd` gives until `done` appears in it `times` times, EOF, or the deadline."""
    received = b""
    while received.count(done) < times and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # a pty's reader gets EIO once the child has closed it
            break
        if not chunk:
            break
        received += chunk
    return received


def _interrupt(process: subprocess.Popen[bytes]) -> str:
    """Ctrl-C; the exit code must be 0 and stderr free of tracebacks. Returns stderr."""
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=EXIT_S) == 0
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr, stderr
    return stderr


def test_json_watch_streams_one_line_per_redraw_until_ctrl_c(watched: Watched) -> None:
    with _started(watched, watched.command("--format", "json"), subprocess.PIPE) as process:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        first = _read_until(fd, b"\n", time.monotonic() + FIRST_OUTPUT_S, times=2)
        assert first.count(b"\n") >= 2, first  # drawn, then redrawn
        assert process.poll() is None, "watch ended by itself"
        stderr = _interrupt(process)
        rest = _read_until(fd, b"\0", time.monotonic() + EXIT_S)
    assert stderr == ""
    lines = (first + rest).decode().splitlines()
    complete = lines if (first + rest).endswith(b"\n") else lines[:-1]
    assert complete
    for line in complete:
        assert json.loads(line) == {**BOOK, "trades": []}


def test_table_watch_in_a_terminal_redraws_until_ctrl_c(watched: Watched) -> None:
    controller, terminal = pty.openpty()
    try:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        with _started(watched, watched.command(), terminal) as process:
            os.close(terminal)
            terminal = -1
            deadline = time.monotonic() + FIRST_OUTPUT_S
            shown = _read_until(controller, b"order book BASE/USDC", deadline, times=2)
            assert shown.count(b"order book BASE/USDC") >= 2, shown  # drawn, then redrawn
            assert process.poll() is None, "watch ended by itself"
            _interrupt(process)
            shown += _read_until(controller, b"\0", time.monotonic() + EXIT_S)
        assert b"bid qty BASE" in shown
        assert b"100" in shown
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)


def test_iterations_stop_the_watch_by_itself(watched: Watched) -> None:
    cli = watched.cli
    lines = cli.ok(*watched.command("--iterations", "2", "--format", "json")[1:]).splitlines()
    assert [json.loads(line) for line in lines] == [{**BOOK, "trades": []}] * 2
    table = cli.ok(*watched.command("--iterations", "2")[1:])
    assert "order book BASE/USDC" in table
    assert "bid qty BASE" in table


@pytest.mark.network
def test_iterations_over_a_node_count_frames_on_a_quiet_market(tmp_path: Path) -> None:
    """Nothing trades on the node: `--iterations 3` still shows three frames of the book
    (one per interval) and exits, within a bounded time."""
    port = free_port()
    node = start_node(tmp_path / "node-data", port)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=5.0) as http:
            wait_until_up(http, node)
        cli = Cli.fresh(tmp_path / "user")
        command = ("--node", url, "dex", "watch", "--interval-ms", "100", "--format", "json")
        result = subprocess.run(
            [TACHYON, *command, "--iterations", "3"],
            cwd=cli.cwd,
            env=cli.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=EXIT_S,  # a watch that waits for the market to move would hang here
        )
        assert result.returncode == 0, describe(result)
        empty = {"market": "BASE/USDC", "bids": [], "asks": [], "trades": []}
        assert [json.loads(line) for line in result.stdout.splitlines()] == [empty] * 3
    finally:
        node.send_signal(signal.SIGTERM)
        node.communicate(timeout=STOP_TIMEOUT_S)
