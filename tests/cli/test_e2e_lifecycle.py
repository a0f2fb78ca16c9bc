"""Goal: the order lifecycle a trader expects works from the CLI: Binance's self-trade
prevention names, mass cancel. Method: the installed `tachyon` as a subprocess in a fresh
HOME and TACHYON_HOME per test, checked with `--format json`."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import Cli

PASSWORD = "lifecycle-password-7"


def _trader(cli: Cli, name: str) -> tuple[str, ...]:
    signed = ("--db-path", f"~/wallets/{name}", "--password", PASSWORD, "--format", "json")
    cli.json("wallet", "create", *signed)
    cli.ok("dex", "deposit", "--token", "USDC", "--amount", "10000", *signed)
    cli.ok("dex", "deposit", "--token", "BASE", "--amount", "100", *signed)
    return signed


def test_binance_self_trade_names_apply_their_modes(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice = _trader(cli, "alice")
    cli.json("dex", "place-limit", "--side", "ask", "--price", "100", "--qty", "3", *alice)
    taker = ("dex", "place-limit", "--side", "bid", "--price", "100", "--tif", "ioc", *alice)
    expired = cli.json(*taker, "--qty", "2", "--stp", "EXPIRE_TAKER")
    assert (expired["status"], expired["trades"]) == ("cancelled", [])
    assert cli.book()["asks"] == [{"price": "100", "qty": "3"}]  # the maker stays
    decremented = cli.json(*taker, "--qty", "2", "--stp", "decrement")
    assert (decremented["status"], decremented["trades"]) == ("cancelled", [])
    assert cli.book()["asks"] == [{"price": "100", "qty": "1"}]  # both cut by 2, no trade
    cli.json(*taker, "--qty", "1", "--stp", "expire_maker")
    assert cli.book()["asks"] == []


def test_cancel_all_cancels_the_wallet_s_orders_only(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice, bob = _trader(cli, "alice"), _trader(cli, "bob")
    for side, price in (("bid", "90"), ("ask", "110"), ("bid", "91")):
        cli.json("dex", "place-limit", "--side", side, "--price", price, "--qty", "2", *alice)
    cli.json("dex", "place-limit", "--side", "bid", "--price", "92", "--qty", "1", *bob)
    bids = cli.json("dex", "cancel-all", "--side", "bid", *alice)
    assert [(row["order_id"], row["status"], row["market"]) for row in bids["cancelled"]] == [
        (1, "cancelled", "BASE/USDC"),
        (3, "cancelled", "BASE/USDC"),
    ]
    assert cli.book() == {
        "market": "BASE/USDC",
        "bids": [{"price": "92", "qty": "1"}],  # bob's stays
        "asks": [{"price": "110", "qty": "2"}],
    }
    rest = cli.json("dex", "cancel-all", "--market", "BASE/USDC", *alice)
    assert [row["order_id"] for row in rest["cancelled"]] == [2]
    assert cli.json("dex", "cancel-all", *alice) == {"cancelled": []}
    balances = cli.json("dex", "balance", "--db-path", "~/wallets/alice", "--format", "json")
    assert {row["token"]: row["locked"] for row in balances["balances"]} == {
        "BASE": "0",
        "USDC": "0",
    }
    refused = cli.run("dex", "cancel-all", "--market", "DOGE/USDC", *alice)
    assert refused.returncode != 0 and "DOGE/USDC" in refused.stderr
    assert "cancelled orders" in cli.ok(
        "dex", "cancel-all", "--db-path", "~/wallets/bob", "--password", PASSWORD
    )
