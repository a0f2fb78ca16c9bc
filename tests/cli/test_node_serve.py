"""Goal: `tachyon node serve` serves the exchange on 127.0.0.1 and stops cleanly on SIGTERM.
Method: the real executable in a subprocess on a free port, polled with bounded loops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.node.server import free_port

TACHYON = shutil.which("tachyon", path=str(Path(sys.executable).parent)) or "tachyon"
WAIT_S = 20.0


def _get(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            document: dict[str, object] = json.loads(response.read())
            return document
    except (urllib.error.URLError, ConnectionError):
        return None


@pytest.mark.network
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_node_serve_answers_then_stops_with_exit_0(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "TACHYON_HOME": str(tmp_path)}
    env.pop("TACHYON_PROFILE", None)
    proc = subprocess.Popen(
        [TACHYON, "node", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_S
        answer = None
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            answer = _get(f"{base}/v1/time")
            if answer is None:
                time.sleep(0.1)
        assert answer is not None, "the node did not answer"
        assert isinstance(answer["server_time_ns"], int)
        markets = _get(f"{base}/v1/markets")
        assert markets is not None
        rows = markets["markets"]
        assert isinstance(rows, list)
        assert [row["market"] for row in rows] == ["BASE/USDC"]
        proc.send_signal(stop)
        _, stderr = proc.communicate(timeout=WAIT_S)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
        assert (tmp_path / "exchange" / "exchange.db").is_file()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT_S)


def test_the_cli_defaults_are_the_nodes() -> None:
    """`node serve` states its defaults without importing the node (for a fast `--help`)."""
    from tachyon.cli import node_commands
    from tachyon.node.order_entry import INFLIGHT_BYTES_MAX_DEFAULT, INFLIGHT_MAX_DEFAULT
    from tachyon.node.ratelimit import (
        BAD_SIGNATURE_BURST_DEFAULT,
        BAD_SIGNATURE_RATE_PER_S_DEFAULT,
        BURST_DEFAULT,
        CLIENT_BURST_DEFAULT,
        CLIENT_RATE_PER_S_DEFAULT,
        RATE_PER_S_DEFAULT,
    )
    from tachyon.node.streams import QUEUE_BYTES_MAX_DEFAULT, QUEUE_MAX_DEFAULT

    assert node_commands.RATE_PER_S == RATE_PER_S_DEFAULT
    assert node_commands.BURST == BURST_DEFAULT
    assert node_commands.CLIENT_RATE_PER_S == CLIENT_RATE_PER_S_DEFAULT
    assert node_commands.CLIENT_BURST == CLIENT_BURST_DEFAULT
    assert node_commands.STREAM_QUEUE_MAX == QUEUE_MAX_DEFAULT
    assert node_commands.STREAM_QUEUE_BYTES_MAX == QUEUE_BYTES_MAX_DEFAULT
    assert node_commands.INFLIGHT_MAX == INFLIGHT_MAX_DEFAULT
    assert node_commands.INFLIGHT_BYTES_MAX == INFLIGHT_BYTES_MAX_DEFAULT
    assert node_commands.BAD_SIGNATURE_RATE_PER_S == BAD_SIGNATURE_RATE_PER_S_DEFAULT
    assert node_commands.BAD_SIGNATURE_BURST == BAD_SIGNATURE_BURST_DEFAULT


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rate-limit", "0"),
        ("--rate-limit", "fast"),
        ("--rate-burst", "0"),
        ("--client-rate-limit", "0"),
        ("--client-rate-burst", "0"),
        ("--stream-queue-max", "0"),
        ("--stream-queue-bytes-max", "0"),
        ("--inflight-max", "0"),
        ("--inflight-bytes-max", "0"),
        ("--bad-signature-limit", "0"),
        ("--bad-signature-burst", "0"),
        ("--log-format", "xml"),
        ("--trace-exporter", "jaeger"),
    ],
)
def test_bad_serve_options_are_usage_errors_that_create_nothing(
    tmp_path: Path, option: str, value: str
) -> None:
    env = {**os.environ, "TACHYON_HOME": str(tmp_path)}
    done = subprocess.run(
        [TACHYON, "node", "serve", "--port", str(free_port()), option, value],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert option in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "exchange").exists()


@pytest.mark.network
@pytest.mark.parametrize(
    ("limit", "third"), [(["--rate-burst", "2"], 429), (["--no-rate-limit"], 200)]
)
def test_the_rate_limit_options_take_effect(tmp_path: Path, limit: list[str], third: int) -> None:
    """An account's third command at once: refused past a burst of 2, served without a limit."""
    import httpx2

    from tachyon.exchange.commands import Deposit
    from tests.node.support import USDC, Trader

    port = free_port()
    env = {**os.environ, "TACHYON_HOME": str(tmp_path)}
    env.pop("TACHYON_PROFILE", None)
    command = [TACHYON, "node", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen([*command, "--rate-limit", "0.01", *limit], env=env, text=True)
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
            deadline = time.monotonic() + WAIT_S
            while _get(f"http://127.0.0.1:{port}/v1/time") is None:
                assert proc.poll() is None and time.monotonic() < deadline, "the node did not start"
                time.sleep(0.1)
            alice = Trader(http)
            statuses = [
                alice.post(Deposit(alice.address, "USDC", USDC, alice.nonce())).status_code
                for _ in range(3)
            ]
        assert statuses == [200, 200, third]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0


@pytest.mark.network
def test_a_busy_port_is_one_error_line_exit_1_and_creates_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "TACHYON_HOME": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [TACHYON, "node", "serve", "--port", str(port), "--log-level", "info"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"Error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert done.stdout == ""
    assert not (tmp_path / "exchange").exists()
