"""A real node for the client's tests: `tachyon.node.serve` in a subprocess on a free
127.0.0.1 port (bounded start, SIGTERM to stop), and fresh signers to trade on it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.client import KeySigner
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up

MARKET: Final = "BASE/USDC"
WAIT_S: Final = 10.0
"""The longest a test waits for a stream's update."""


@contextmanager
def node(data_dir: Path) -> Iterator[str]:
    """A node serving `data_dir` (the dev profile: deposits are the faucet); its URL."""
    port = free_port()
    process = start_node(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=10.0) as http:
            wait_until_up(http, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=STOP_TIMEOUT_S)


def signer() -> KeySigner:
    return KeySigner(Ed25519PrivateKey.generate())
