"""Goal: on a node, a good-till-date order expires at its time although nobody trades (the
node journals a clock tick), and what it held is released. Method: a real `tachyon node
serve` on 127.0.0.1, the installed CLI as its client, bounded polling."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import Cli
from tests.support.node_process import serving

PASSWORD = "node-lifecycle-password-3"
EXPIRY_WAIT_S = 15.0


@pytest.mark.network
def test_a_gtd_order_expires_on_a_quiet_node(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "client")
    with serving(Cli.fresh(tmp_path / "server"), tmp_path / "node-data") as url:
        alice = ("--db-path", str(cli.root / "alice"), "--password", PASSWORD, "--format", "json")
        cli.json("wallet", "create", *alice, "--node", url)
        cli.json("dex", "deposit", "--token", "USDC", "--amount", "100", *alice)
        expire_at = datetime.now(UTC) + timedelta(seconds=2)
        cli.json(
            "dex", "place-limit", "--side", "bid", "--price", "10", "--qty", "3", "--tif", "gtd",
            "--expire-at", str(int(expire_at.timestamp() * 10**9)), *alice,
        )  # fmt: skip
        assert len(cli.json("dex", "orders", *alice)["orders"]) == 1
        deadline = time.monotonic() + EXPIRY_WAIT_S
        while cli.json("dex", "orders", *alice)["orders"]:
            assert time.monotonic() < deadline, "the order outlived its time on a quiet node"
            time.sleep(0.2)
        assert datetime.now(UTC) >= expire_at
        balances = cli.json("dex", "balance", *alice)["balances"]
        assert {row["token"]: row["locked"] for row in balances}["USDC"] == "0"
