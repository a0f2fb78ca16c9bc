"""Run inside a private mount namespace whose DATA_DIR is a small tmpfs (see
test_node_full_disk): a real `tachyon node serve` takes a command, the disk fills, SIGTERM
stops it, and its closing snapshot cannot be written. Prints one JSON line: its exit status,
its stderr and whether the command survived."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.exchange.auth import address_of
from tachyon.exchange.commands import Deposit, encode_command
from tachyon.storage import EmbeddedExchange
from tests.node.server import free_port, wait_until_up
from tests.node.support import envelope
from tests.support.full_disk import fill


def main(data_dir: Path) -> None:
    exchange_dir = data_dir / "exchange"
    port = free_port()
    argv = [sys.executable, "-m", "tachyon", "node", "serve", "--data-dir", str(exchange_dir)]
    node = subprocess.Popen(
        [*argv, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    key = Ed25519PrivateKey.generate()
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
        wait_until_up(http, node)
        body = encode_command(Deposit(address_of(key), "USDC", 5, nonce=time.time_ns()))
        answer = http.post("/v1/commands", json=envelope(key, body))
    filler = data_dir / "filler"
    fill(filler)  # the disk full
    node.send_signal(signal.SIGTERM)
    _, stderr = node.communicate(timeout=60)
    filler.unlink()
    with EmbeddedExchange.open(exchange_dir) as reopened:
        kept = reopened.seq
    result = {
        "accepted": answer.status_code,
        "returncode": node.returncode,
        "stderr": stderr.decode(errors="replace"),
        "seq": kept,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
