"""A real `tachyon node serve` in a subprocess on a free 127.0.0.1 port, for CLI tests: started
and waited for (bounded), stopped with SIGTERM, and required to exit 0."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx2

from tests.cli.helpers import TACHYON, Cli
from tests.node.server import free_port

START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 30.0


@contextmanager
def serving(
    cli: Cli, data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A node serving `data_dir` with `args` added to its command line (and `env` to its
    environment); its URL."""
    port = free_port()
    command = [TACHYON, "node", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning", *args],
        env=cli.env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx2.Client(base_url=url, timeout=2.0) as http:
            while True:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the node did not start"
                try:
                    if http.get("/v1/time").status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=STOP_TIMEOUT_S)
            raise
    assert process.returncode == 0, stderr
