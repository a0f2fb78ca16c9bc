"""Goal: the order lifecycle a trader expects works from the CLI: Binance's self-trade
prevention names, mass cancel, amend. Method: the installed `tachyon` as a subprocess in a fresh
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


def test_amend_keeps_or_loses_priority_and_the_lock_follows(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice, bob, carol = _trader(cli, "alice"), _trader(cli, "bob"), _trader(cli, "carol")
    first = cli.json("dex", "place-limit", "--side", "bid", "--price", "90", "--qty", "4", *alice)
    cli.json("dex", "place-limit", "--side", "bid", "--price", "90", "--qty", "4", *bob)
    smaller = cli.json("dex", "amend", "--order-id", str(first["order_id"]), "--qty", "3", *alice)
    assert (smaller["order_id"], smaller["status"], smaller["open_qty"]) == (1, "new", "3")
    sold = cli.json("dex", "place-market", "--side", "ask", "--qty", "3", *carol)
    assert [t["maker_order_id"] for t in sold["trades"]] == [1]  # it kept its place
    more = cli.json("dex", "amend", "--order-id", "2", "--qty", "6", *bob)
    assert more["open_qty"] == "6"
    cli.json("dex", "place-limit", "--side", "ask", "--price", "95", "--qty", "2", *carol)
    crossing = cli.json("dex", "amend", "--order-id", "2", "--price", "96", *bob)
    assert [(t["price"], t["qty"]) for t in crossing["trades"]] == [("95", "2")]  # maker's price
    assert (crossing["filled_qty"], crossing["open_qty"]) == ("2", "4")
    balances = cli.json("dex", "balance", "--db-path", "~/wallets/bob", "--format", "json")
    locked = {row["token"]: row["locked"] for row in balances["balances"]}
    assert locked["USDC"] == "384"  # 4 open at 96
    for args, fragment in (
        (("--qty", "2"), "filled part included"),  # not above the 2 filled
        (("--qty", "0"), "qty"),
        (("--price", "1000000"), "insufficient"),
    ):
        refused = cli.run("dex", "amend", "--order-id", "2", *args, *bob)
        assert refused.returncode != 0 and fragment in refused.stderr, refused.stderr
    other = cli.run("dex", "amend", "--order-id", "2", "--qty", "5", *alice)
    assert other.returncode != 0 and "not an open order" in other.stderr
    usage = cli.run("dex", "amend", "--order-id", "2", *bob)
    assert usage.returncode != 0 and "--price" in usage.stderr
    orders = cli.json("dex", "orders", "--db-path", "~/wallets/bob", "--format", "json")
    assert [(o["price"], o["qty"], o["remaining_qty"]) for o in orders["orders"]] == [
        ("96", "6", "4")
    ]
