"""A real node for end-to-end tests: `serve` in a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_node(data_dir: Path, port: int, **options: object) -> subprocess.Popen[bytes]:
    """`serve(data_dir, port=port, **options)` in a new process (by default, warnings only in
    its log)."""
    settings = "".join(
        f", {name}={value!r}" for name, value in {"log_level": "warning", **options}.items()
    )
    code = (
        "from pathlib import Path; from tachyon.node.serve import serve;"
        " from tachyon.node.ratelimit import RateLimit;"
        f" serve(Path({str(data_dir)!r}), port={port}{settings})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_until_up(http: httpx2.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if http.get("/v1/time").status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.05)
    raise AssertionError("the node did not start")
