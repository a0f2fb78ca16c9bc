"""Goal: `tachyon node serve` creates a new exchange on the engine TACHYON_ENGINE names, and
refuses an unknown one in one line with nothing created. Method: the real executable on a free
port in a temporary home; the exchange read back with the library once the node has stopped."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli.helpers import TACHYON, clean_env
from tests.node.server import free_port
from tests.support.engines import INSTALLED

WAIT_S = 20.0
LIQUIBOOK = "liquibook" in {engine.name for engine in INSTALLED}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return "server_time_ns" in json.loads(response.read())
    except (urllib.error.URLError, ConnectionError):
        return False


@pytest.mark.network
@pytest.mark.skipif(not LIQUIBOOK, reason="the liquibook extra is not installed")
def test_node_serve_creates_the_exchange_on_the_chosen_engine(tmp_path: Path) -> None:
    port = free_port()
    env = {**clean_env(), "TACHYON_HOME": str(tmp_path), "TACHYON_ENGINE": "liquibook"}
    proc = subprocess.Popen(
        [TACHYON, "node", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not _answers(f"http://127.0.0.1:{port}/v1/time"):
            assert time.monotonic() < deadline and proc.poll() is None, "the node did not answer"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=WAIT_S)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT_S)
    conn = sqlite3.connect(tmp_path / "exchange" / "exchange.db")
    try:
        row = conn.execute("SELECT value FROM exchange_meta WHERE key = 'engine'").fetchone()
    finally:
        conn.close()
    assert row == ("liquibook",)


def test_node_serve_refuses_an_unknown_engine_and_creates_nothing(tmp_path: Path) -> None:
    env = {**clean_env(), "TACHYON_HOME": str(tmp_path), "TACHYON_ENGINE": "warp-drive"}
    done = subprocess.run(
        [TACHYON, "node", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    available = ", ".join(engine.name for engine in INSTALLED)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"Error: unknown engine 'warp-drive'; available: {available}\n"
    assert os.listdir(tmp_path) == []
