"""Goal: the order lifecycle a trader expects works from the CLI: Binance's self-trade
prevention names, mass cancel, amend, client order ids, stop orders, good-till-date. Method: the installed `tachyon` as a subprocess in a fresh
HOME and TACHYON_HOME per test, checked with `--format json`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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


def test_a_client_order_id_makes_a_retry_safe(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice = _trader(cli, "alice")
    order = ("dex", "place-limit", "--side", "bid", "--price", "90", "--qty", "2", *alice)
    first = cli.json(*order, "--client-order-id", "bot-7")
    again = cli.json(*order, "--client-order-id", "bot-7")  # re-signed: a fresh nonce
    assert again == first
    orders = cli.json("dex", "orders", "--db-path", "~/wallets/alice", "--format", "json")
    assert [row["order_id"] for row in orders["orders"]] == [first["order_id"]]
    amended = cli.json("dex", "amend", "--client-order-id", "bot-7", "--qty", "1", *alice)
    assert (amended["order_id"], amended["open_qty"]) == (first["order_id"], "1")
    cancelled = cli.json("dex", "cancel", "--client-order-id", "bot-7", *alice)
    assert (cancelled["order_id"], cancelled["status"]) == (first["order_id"], "cancelled")
    bad = cli.run(*order, "--client-order-id", "x" * 37)
    assert bad.returncode != 0 and "client order id" in bad.stderr
    unknown = cli.run("dex", "cancel", "--client-order-id", "nope", *alice)
    assert unknown.returncode != 0 and "nope" in unknown.stderr
    for usage in (
        ("dex", "cancel", *alice),  # neither id
        ("dex", "cancel", "--order-id", "1", "--client-order-id", "bot-7", *alice),  # both
        ("dex", "amend", "--order-id", "1", "--client-order-id", "bot-7", "--qty", "1", *alice),
    ):
        refused = cli.run(*usage)
        assert refused.returncode == 2 and "exactly one of" in refused.stderr, refused.stderr


def test_stop_orders_lock_list_trigger_and_cancel(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice, bob, carol = _trader(cli, "alice"), _trader(cli, "bob"), _trader(cli, "carol")
    cli.json("dex", "place-limit", "--side", "ask", "--price", "100", "--qty", "1", *bob)
    cli.json("dex", "place-market", "--side", "bid", "--qty", "1", *carol)  # last trade 100
    stop = cli.json(
        "dex", "place-stop", "--side", "bid", "--trigger-price", "105", "--price", "107",
        "--qty", "2", *alice,
    )  # fmt: skip
    assert (stop["status"], stop["trigger_price"], stop["locked"]) == ("pending", "105", "214")
    market_stop = cli.json(
        "dex", "place-stop", "--side", "ask", "--trigger-price", "90", "--qty", "1", *alice
    )
    listed = cli.json("dex", "stops", "--db-path", "~/wallets/alice", "--format", "json")
    assert [row["order_id"] for row in listed["stops"]] == [
        stop["order_id"],
        market_stop["order_id"],
    ]
    at_once = cli.run(
        "dex", "place-stop", "--side", "bid", "--trigger-price", "100", "--qty", "1",
        "--max-quote", "200", *alice,
    )  # fmt: skip
    assert at_once.returncode != 0 and "would trigger at once" in at_once.stderr
    cancelled = cli.json("dex", "cancel", "--order-id", str(market_stop["order_id"]), *alice)
    assert cancelled["status"] == "cancelled"
    cli.json("dex", "place-limit", "--side", "ask", "--price", "106", "--qty", "5", *bob)
    cli.json("dex", "place-limit", "--side", "ask", "--price", "105", "--qty", "1", *bob)
    cli.json("dex", "place-market", "--side", "bid", "--qty", "1", *carol)  # prints 105
    assert cli.json("dex", "stops", "--db-path", "~/wallets/alice", "--format", "json") == {
        "stops": []
    }
    balances = cli.json("dex", "balance", "--db-path", "~/wallets/alice", "--format", "json")
    held = {row["token"]: (row["available"], row["locked"]) for row in balances["balances"]}
    assert held["BASE"] == ("102", "0")  # the triggered bid bought 2 at 106
    assert held["USDC"] == (str(10000 - 212), "0")


def test_a_gtd_order_expires_at_its_time(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice = _trader(cli, "alice")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    placed = cli.json(
        "dex", "place-limit", "--side", "bid", "--price", "90", "--qty", "2", "--tif", "gtd",
        "--expire-at", soon.isoformat().replace("+00:00", "Z"), *alice,
    )  # fmt: skip
    assert placed["status"] == "new"
    orders = ("dex", "orders", "--db-path", "~/wallets/alice", "--format", "json")
    assert len(cli.json(*orders)["orders"]) == 1
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    cli.json("dex", "deposit", "--token", "BASE", "--amount", "1", *alice)  # any later command
    assert cli.json(*orders)["orders"] == []
    for args, fragment in (
        (("--tif", "gtd"), "--expire-at"),
        (("--expire-at", "2030-01-01T00:00:00Z"), "--tif gtd"),
        (("--tif", "gtd", "--expire-at", "tomorrow"), "ISO 8601"),
        (("--tif", "gtd", "--expire-at", "2030-01-01T00:00:00"), "time zone"),
        (("--tif", "gtd", "--expire-at", "2001-01-01T00:00:00Z"), "not after"),
    ):
        refused = cli.run(
            "dex", "place-limit", "--side", "bid", "--price", "90", "--qty", "1", *args, *alice
        )
        assert refused.returncode != 0 and fragment in refused.stderr, refused.stderr


def test_an_iceberg_shows_only_its_display(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    alice, bob = _trader(cli, "alice"), _trader(cli, "bob")
    ask = ("dex", "place-limit", "--side", "ask", "--price", "100", "--qty", "9", *alice)
    placed = cli.json(*ask, "--display-qty", "3")
    assert placed["open_qty"] == "9"
    assert cli.book()["asks"] == [{"price": "100", "qty": "3"}]
    taken = cli.json("dex", "place-market", "--side", "bid", "--qty", "4", *bob)
    assert [(t["maker_order_id"], t["qty"]) for t in taken["trades"]] == [(1, "3"), (1, "1")]
    assert cli.book()["asks"] == [{"price": "100", "qty": "2"}]
    refused = cli.run(*ask, "--display-qty", "9")
    assert refused.returncode != 0 and "display" in refused.stderr
