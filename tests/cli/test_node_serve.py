"""Goal: `tachyon node serve` serves the exchange on 127.0.0.1 and stops cleanly on SIGTERM.
Method: the real executable in a subprocess on a free port, polled with bounded loops."""

from __future__ import annotations

import json
import os
import shutil
import signal
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
