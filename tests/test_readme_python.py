"""Goal: the README's Python scripts run as printed. Method: each ```python block of "Trading
from Python" and "gRPC" is executed against a real node on 127.0.0.1 (its ports put in place
of the README's 8700 and 8701), and what it prints is checked against what the README says it
prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.client import Client, KeySigner
from tests.node.grpc_support import grpc_node

README: Final = Path(__file__).resolve().parent.parent / "README.md"
pytestmark = pytest.mark.network


def section_script(heading: str) -> str:
    """The first ```python block after the README's `heading`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match is not None, heading
    return match.group(1)


def run(script: str, http_port: str, grpc_port: str, **names: object) -> str:
    script = script.replace("127.0.0.1:8700", f"127.0.0.1:{http_port}")
    script = script.replace("127.0.0.1:8701", f"127.0.0.1:{grpc_port}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(script, str(README), "exec"), dict(names))  # the README's own code
    return printed.getvalue()


def test_the_ten_line_trading_script_and_the_grpc_quick_start_run(tmp_path: Path) -> None:
    with grpc_node(tmp_path / "node") as node:
        http_port = node.url.rsplit(":", 1)[1]
        grpc_port = node.grpc_target.rsplit(":", 1)[1]
        trading = section_script("### Trading from Python")
        assert len(trading.strip().splitlines()) <= 12
        lines = run(trading, http_port, grpc_port).splitlines()
        assert lines[0] == "new 10"
        assert lines[1] == "(Level(price='1.5', qty='10'),)"
        assert lines[2] == "cancelled"
        assert "available='1000'" in lines[3] and "locked='0'" in lines[3]

        key = Ed25519PrivateKey.generate()
        signer = KeySigner(key)
        with Client(node.url, signer) as client:
            client.deposit("USDC", "1000")
        script = section_script("### gRPC")
        assert len([line for line in script.splitlines() if line.strip()]) <= 16
        printed = run(script, http_port, grpc_port, key=key, address=signer.address)
        book, placed, balances = printed.splitlines()
        assert book == "[] 0"  # typed levels: an empty book
        order_id, status, open_qty = placed.split()
        assert int(order_id) > 0 and (status, open_qty) == ("new", "1")
        assert "('USDC', '900.5', '99.5')" in balances
