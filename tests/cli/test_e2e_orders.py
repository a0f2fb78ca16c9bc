"""Goal: the rest of a user's day works and is exact: decimal prices and amounts, open orders,
cancelling (funds released), withdrawing, depositing by token, typing the password at the
prompt, and the prod profile taking it from TACHYON_PASSWORD. Method: the installed `tachyon`
as a subprocess in a fresh temporary HOME and TACHYON_HOME per test, checked with `--format json`."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import (
    REFUSED,
    USAGE_ERROR,
    Cli,
    assert_error,
    fingerprint,
    journal_times,
    table_rows,
)

PASSWORD = "carol-decimal-password-7"


def _balances(cli: Cli, db_path: str) -> list[dict[str, str]]:
    balances: list[dict[str, str]] = cli.balance(db_path)["balances"]
    return balances


def test_decimal_price_cancel_withdraw_and_deposit_by_token(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    carol = "~/wallets/carol"
    signed = ("--db-path", carol, "--password", PASSWORD, "--format", "json")
    address = cli.json("wallet", "create", *signed)["address"]
    assert cli.json("dex", "deposit", "--token", "USDC", "--amount", "1000.25", *signed) == {
        "address": address,
        "balances": [{"token": "USDC", "available": "1000.25", "locked": "0"}],
    }
    cli.ok("dex", "deposit", "--token", "BASE", "--amount", "3", *signed)
    placed = cli.json(
        "dex", "place-limit", "--side", "bid", "--price", "100.5", "--qty", "2", *signed
    )
    placed_ns = journal_times(cli.exchange_dir)[-1]
    assert placed == {
        "order_id": 1,
        "market": "BASE/USDC",
        "status": "new",
        "filled_qty": "0",
        "open_qty": "2",
        "time_ns": placed_ns,
        "trades": [],
    }
    assert _balances(cli, carol) == [
        {"token": "BASE", "available": "3", "locked": "0"},
        {"token": "USDC", "available": "799.25", "locked": "201"},
    ]
    assert cli.book() == {
        "market": "BASE/USDC",
        "bids": [{"price": "100.5", "qty": "2"}],
        "asks": [],
    }
    assert table_rows(cli.ok("dex", "orderbook")) == [["2", "100.5", "", ""]]
    assert ["USDC", "799.25", "201", "6"] in table_rows(
        cli.ok("dex", "balance", "--db-path", carol)
    )
    assert cli.json("dex", "orders", "--db-path", carol, "--format", "json") == {
        "orders": [
            {
                "order_id": 1,
                "market": "BASE/USDC",
                "side": "bid",
                "price": "100.5",
                "qty": "2",
                "remaining_qty": "2",
                "filled_qty": "0",
                "status": "new",
                "time_ns": placed_ns,
            }
        ]
    }
    cancelled = cli.json("dex", "cancel", "--order-id", "1", *signed)
    assert (cancelled["order_id"], cancelled["status"]) == (1, "cancelled")
    assert cancelled["time_ns"] == journal_times(cli.exchange_dir)[-1] > placed_ns
    assert (cancelled["filled_qty"], cancelled["open_qty"], cancelled["trades"]) == ("0", "0", [])
    assert cli.book() == {"market": "BASE/USDC", "bids": [], "asks": []}
    assert cli.json("dex", "orders", "--db-path", carol, "--format", "json") == {"orders": []}
    # Cancelling it again: it is no longer open.
    assert_error(
        cli.run("dex", "cancel", "--order-id", "1", *signed), REFUSED, "order 1", "not open"
    )
    assert cli.json("dex", "withdraw", "--token", "USDC", "--amount", "0.25", *signed) == {
        "address": address,
        "balances": [{"token": "USDC", "available": "1000", "locked": "0"}],
    }
    assert _balances(cli, carol) == [
        {"token": "BASE", "available": "3", "locked": "0"},
        {"token": "USDC", "available": "1000", "locked": "0"},
    ]
    audit = cli.json("audit", "--format", "json")
    assert audit["snapshot_matches"] in (True, None)
    assert audit["entries"] == 6  # 2 deposits, place, cancel, the refused cancel, withdrawal


def test_the_password_prompt_reads_it_when_none_is_given(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    dave = str(cli.tachyon_home / "wallets" / "dave")
    typed = f"{PASSWORD}\n{PASSWORD}\n"  # create asks twice
    created = cli.json("wallet", "create", "--db-path", dave, "--format", "json", stdin=typed)
    # Without --dir, `wallet list` shows the wallets under $TACHYON_HOME/wallets.
    assert cli.json("wallet", "list", "--format", "json") == {
        "wallets": [{"name": "dave", "address": created["address"], "path": dave}]
    }
    deposited = cli.json(
        "dex", "deposit-usdc", "--amount", "7", "--db-path", dave, "--format", "json",
        stdin=f"{PASSWORD}\n",
    )  # fmt: skip
    assert deposited["balances"] == [{"token": "USDC", "available": "7", "locked": "0"}]
    # A wrong answer at the prompt is a wrong password; two different answers create nothing.
    before = fingerprint(cli.root)
    wrong = cli.run("dex", "deposit-usdc", "--amount", "7", "--db-path", dave, stdin="nope\n")
    assert wrong.returncode == REFUSED
    assert "Error: wrong password" in wrong.stderr
    differ = cli.run("wallet", "create", "--db-path", "~/eve", stdin=f"{PASSWORD}\n{PASSWORD}x\n")
    assert differ.returncode == USAGE_ERROR
    assert "Error: the two passwords differ" in differ.stderr
    assert "Traceback" not in wrong.stderr + differ.stderr
    assert fingerprint(cli.root) == before


def test_prod_takes_the_password_from_the_environment(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    erin = "~/erin"
    cli.ok("wallet", "create", "--db-path", erin, "--password", PASSWORD)
    cli.ok("dex", "deposit-base", "--amount", "10", "--db-path", erin, "--password", PASSWORD)
    from_env = {"TACHYON_PASSWORD": PASSWORD}
    prod = {**from_env, "TACHYON_PROFILE": "prod"}
    take = ("dex", "withdraw", "--token", "BASE", "--amount", "1", "--db-path", erin)
    cli.ok(*take, "--to", "bank:1", env=prod)  # prod: money leaves only to a destination
    (cli.tachyon_home / "config.toml").write_text('profile = "prod"\n')
    cli.ok(
        "--non-interactive", "dex", "place-limit", "--side", "ask", "--price", "0.5", "--qty", "2",
        "--db-path", erin, env=from_env,
    )  # fmt: skip
    # The config file's prod still refuses --password.
    refused = cli.run(*take, "--to", "bank:1", "--password", PASSWORD)
    assert_error(refused, USAGE_ERROR, "prod")
    assert _balances(cli, erin) == [
        {"token": "BASE", "available": "7", "locked": "3"},  # the order's 2, the withdrawal's 1
        {"token": "USDC", "available": "0", "locked": "0"},
    ]
    assert cli.book()["asks"] == [{"price": "0.5", "qty": "2"}]
