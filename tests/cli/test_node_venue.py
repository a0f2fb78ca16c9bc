"""Goal: the operator runs the venue over a node as on an embedded exchange: `node serve
--operator` names the operator of a directory that has none and refuses one that has another;
`tachyon admin ... --node URL` lists a token and a market, sets fees, funds wallets and
collects the fees of a trade; anyone else is refused `not_operator`; `/v1/markets` and
`/v1/tokens` show the venue. Method: a real `tachyon node serve` on a free 127.0.0.1 port and
the installed `tachyon` over it (bounded waits, SIGTERM at the end)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final

import httpx2

from tests.cli.helpers import REFUSED, TACHYON, Cli, assert_error
from tests.node.server import free_port
from tests.support.node_process import serving

PASSWORD: Final = "node-venue-password-1"
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 30.0


def test_an_operator_runs_the_venue_over_a_node(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    who = {
        name: cli.json(
            "wallet", "create", "--db-path", f"~/w/{name}", "--password", PASSWORD, "--format", "json"
        )["address"]
        for name in ("op", "alice", "bob")
    }  # fmt: skip
    data_dir = tmp_path / "node-data"
    with serving(cli, data_dir, "--operator", who["op"]) as url:

        def signed(name: str) -> tuple[str, ...]:
            return ("--db-path", f"~/w/{name}", "--password", PASSWORD, "--node", url, "--format", "json")  # fmt: skip

        op = signed("op")
        cli.json("admin", "token", "add", "--symbol", "ETH", "--decimals", "8", *op)
        listed = cli.json(
            "admin", "market", "add", "--market", "ETH/USDC", "--tick", "0.01", "--lot", "0.001",
            "--min-qty", "0.01", "--max-qty", "100", *op,
        )  # fmt: skip
        assert (listed["market"]["market"], listed["market"]["max_qty"]) == ("ETH/USDC", "100")
        fees = ("--market", "ETH/USDC", "--maker-bps", "10", "--taker-bps", "25")
        assert cli.json("admin", "fees", "set", *fees, *op)["cancelled_orders"] == []
        cli.json("admin", "deposit", "--to", who["alice"], "--token", "ETH", "--amount", "2", *op)
        funded = cli.json(
            "admin", "deposit", "--to", who["bob"], "--token", "USDC", "--amount", "10000", *op
        )
        assert funded["balances"] == [{"token": "USDC", "available": "10000", "locked": "0"}]
        order = ("--market", "ETH/USDC", "--price", "2000.01", "--qty", "1.5")
        cli.json("dex", "place-limit", "--side", "ask", *order, *signed("alice"))
        cli.json("dex", "place-limit", "--side", "bid", *order, *signed("bob"))
        collected = cli.json("admin", "fees", "collect", "--token", "USDC", *op)
        assert collected["balances"] == [{"token": "USDC", "available": "10.500052", "locked": "0"}]
        refusal = cli.run("admin", "market", "halt", "--market", "ETH/USDC", *signed("alice"))
        assert_error(refusal, REFUSED, "is not this exchange's operator")
        with httpx2.Client(base_url=url, timeout=5.0) as http:
            markets = {row["market"]: row for row in http.get("/v1/markets").json()["markets"]}
            tokens = http.get("/v1/tokens").json()["tokens"]
        assert markets["ETH/USDC"]["halted"] is False
        assert markets["ETH/USDC"]["risk"]["max_notional"] is None
        assert {"symbol": "ETH", "decimals": 8} in tokens
    # Another operator for the same directory: refused before anything is served.
    port = free_port()
    other = subprocess.run(
        [TACHYON, "node", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--operator", who["alice"]],
        env=cli.env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert other.returncode == 1, other.stderr
    assert f"has operator {who['op']}, not {who['alice']}" in other.stderr


def test_an_operator_that_is_not_an_address_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    cli = Cli.fresh(tmp_path)
    data_dir = tmp_path / "node-data"
    command = [TACHYON, "node", "serve", "--port", str(free_port()), "--data-dir", str(data_dir)]
    refused = subprocess.run(
        [*command, "--operator", "alice"],
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1, refused.stderr
    assert "--operator 'alice' is not an address" in refused.stderr
    assert not data_dir.exists()
