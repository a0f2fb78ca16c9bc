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
