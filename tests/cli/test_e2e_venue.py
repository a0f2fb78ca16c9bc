"""Goal: an operator runs a venue from the command line: lists a token and a market with fees,
two wallets trade on it, the fees land in the fee account and are collected exactly; every
admin command is refused for a wallet that is not the operator; halts and risk limits reach
traders. Method: the installed `tachyon` as a subprocess in a fresh HOME and TACHYON_HOME,
checked with `--format json`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from tests.cli.helpers import REFUSED, Cli, assert_error

PASSWORD: Final = "venue-operator-password-1"


def _signed(wallet: str) -> tuple[str, ...]:
    return ("--db-path", wallet, "--password", PASSWORD, "--format", "json")


def _held(cli: Cli, name: str) -> dict[str, tuple[str, str]]:
    """A wallet's non-zero balances by token: (available, locked)."""
    rows = cli.balance(f"~/w/{name}")["balances"]
    return {
        row["token"]: (row["available"], row["locked"])
        for row in rows
        if (row["available"], row["locked"]) != ("0", "0")
    }


def _venue(cli: Cli) -> dict[str, str]:
    """Three wallets on one exchange (their default): the operator, alice and bob."""
    addresses = {
        name: cli.json("wallet", "create", *_signed(f"~/w/{name}"))["address"]
        for name in ("op", "alice", "bob")
    }
    assert cli.json("admin", "init", *_signed("~/w/op")) == {"operator": addresses["op"]}
    return addresses


def test_an_operator_lists_a_market_and_collects_the_fees_of_a_trade(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    who = _venue(cli)
    op = _signed("~/w/op")
    assert cli.json("admin", "token", "add", "--symbol", "ETH", "--decimals", "8", *op) == {
        "token": {"symbol": "ETH", "decimals": 8}
    }
    listed = cli.json(
        "admin", "market", "add", "--market", "ETH/USDC", "--tick", "0.01", "--lot", "0.001",
        "--min-qty", "0.01", *op,
    )  # fmt: skip
    assert listed["market"]["tick_size"] == "0.01"
    assert listed["market"]["lot_size"] == "0.001"
    cli.json("admin", "fees", "set", "--market", "ETH/USDC", "--maker-bps", "10", "--taker-bps", "25", *op)  # fmt: skip
    for name, token, amount in (("alice", "ETH", "2"), ("bob", "USDC", "10000")):
        credit = ("--to", who[name], "--token", token, "--amount", amount)
        cli.json("admin", "deposit", *credit, *op)
    alice, bob = _signed("~/w/alice"), _signed("~/w/bob")
    ask = ("--market", "ETH/USDC", "--side", "ask", "--price", "2000.01", "--qty", "1.5")
    cli.json("dex", "place-limit", *ask, *alice)
    bid = ("--market", "ETH/USDC", "--side", "bid", "--price", "2000.01", "--qty", "1.5")
    assert cli.json("dex", "place-limit", *bid, *bob)["filled_qty"] == "1.5"
    # 1.5 ETH at 2,000.01 = 3,000.015 USDC; maker fee 10 bps = 3.000015, taker 25 bps = 7.5000375
    # rounded down to the micro-USDC: 3.000015 and 7.500037 (bob pays 3,007.515037).
    assert _held(cli, "alice") == {"ETH": ("0.5", "0"), "USDC": ("2997.014985", "0")}
    assert _held(cli, "bob") == {"ETH": ("1.5", "0"), "USDC": ("6992.484963", "0")}
    collected = cli.json("admin", "fees", "collect", "--token", "USDC", *op)
    assert collected == {
        "address": who["op"],
        "balances": [{"token": "USDC", "available": "10.500052", "locked": "0"}],
    }
    markets = {
        row["market"]: row for row in cli.json("dex", "markets", "--format", "json")["markets"]
    }
    assert (markets["ETH/USDC"]["maker_bps"], markets["ETH/USDC"]["taker_bps"]) == (10, 25)
    assert markets["ETH/USDC"]["engine"] == "in_memory"
    assert markets["ETH/USDC"]["halted"] is False
    tokens = cli.json("dex", "tokens", "--format", "json")["tokens"]
    assert {"symbol": "ETH", "decimals": 8} in tokens


def test_every_admin_command_is_refused_for_a_wallet_that_is_not_the_operator(
    tmp_path: Path,
) -> None:
    cli = Cli.fresh(tmp_path)
    who = _venue(cli)
    alice = _signed("~/w/alice")
    attempts = [
        ("admin", "init"),
        ("admin", "token", "add", "--symbol", "SOL", "--decimals", "6"),
        (
            "admin",
            "market",
            "add",
            "--market",
            "BASE/USDC",
            "--tick",
            "1",
            "--lot",
            "1",
            "--min-qty",
            "1",
        ),
        ("admin", "fees", "set", "--market", "BASE/USDC", "--maker-bps", "1", "--taker-bps", "2"),
        ("admin", "fees", "collect", "--token", "USDC"),
        ("admin", "risk", "set", "--market", "BASE/USDC", "--max-notional", "5"),
        ("admin", "market", "halt", "--market", "BASE/USDC"),
        ("admin", "market", "resume", "--market", "BASE/USDC"),
        ("admin", "deposit", "--to", who["alice"], "--token", "USDC", "--amount", "1"),
    ]
    before = cli.json("dex", "markets", "--format", "json")
    for attempt in attempts:
        expected = "already" if attempt[1] == "init" else "is not this exchange's operator"
        assert_error(cli.run(*attempt, *alice), REFUSED, expected)
    assert cli.json("dex", "markets", "--format", "json") == before
    assert _held(cli, "alice") == {}


def test_halts_and_risk_limits_reach_traders(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    who = _venue(cli)
    op, alice = _signed("~/w/op"), _signed("~/w/alice")
    cli.json("admin", "deposit", "--to", who["alice"], "--token", "USDC", "--amount", "1000", *op)
    limits = cli.json(
        "admin", "risk", "set", "--market", "BASE/USDC", "--max-notional", "100",
        "--price-band-pct", "2.5", "--max-open-orders", "1", *op,
    )  # fmt: skip
    assert limits == {
        "market": "BASE/USDC",
        "risk": {
            "max_notional": "100",
            "price_band_pct": "2.5",
            "max_position": None,
            "max_open_orders": 1,
        },
    }
    order = ("--side", "bid", "--qty", "1")
    assert_error(
        cli.run("dex", "place-limit", "--price", "101", *order, *alice), REFUSED, "max_notional 100"
    )
    cli.json("dex", "place-limit", "--price", "100", *order, *alice)
    assert_error(
        cli.run("dex", "place-limit", "--price", "99", *order, *alice),
        REFUSED,
        "max_open_orders is 1",
    )
    cli.json("admin", "market", "halt", "--market", "BASE/USDC", *op)
    assert_error(cli.run("dex", "place-limit", "--price", "1", *order, *alice), REFUSED, "halted")
    assert cli.json("dex", "cancel", "--order-id", "1", *alice)["status"] == "cancelled"
    cli.json("admin", "market", "resume", "--market", "BASE/USDC", *op)
    assert cli.json("dex", "place-limit", "--price", "50", *order, *alice)["status"] == "new"


def test_a_prod_exchange_is_funded_by_its_operator(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    who = _venue(cli)
    env = {"TACHYON_PROFILE": "prod", "TACHYON_PASSWORD": PASSWORD}
    faucet = cli.run("dex", "deposit-usdc", "--amount", "5", "--db-path", "~/w/alice", env=env)
    assert faucet.returncode != 0
    credit = ("--to", who["alice"], "--token", "USDC", "--amount", "5", "--db-path", "~/w/op")
    done = cli.run("admin", "deposit", *credit, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert _held(cli, "alice") == {"USDC": ("5", "0")}
    take = ("dex", "withdraw", "--token", "USDC", "--amount", "1", "--db-path", "~/w/alice")
    assert_error(cli.run(*take, env=env), REFUSED, "only to a destination")  # no --to
    assert _held(cli, "alice") == {"USDC": ("5", "0")}
    sent = cli.run(*take, "--to", "bank:1", "--format", "json", env=env)
    assert sent.returncode == 0, sent.stderr
    assert _held(cli, "alice") == {"USDC": ("4", "1")}


def test_a_withdrawal_with_a_destination_waits_for_the_operator(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    addresses = _venue(cli)
    alice, op = _signed("~/w/alice"), _signed("~/w/op")
    cli.json(
        "admin", "deposit", "--to", addresses["alice"], "--token", "USDC", "--amount", "100", *op
    )
    asked = cli.json(
        "dex", "withdraw", "--token", "USDC", "--amount", "30", "--to", "iban:X1", *alice
    )
    assert asked == {
        "withdrawal": {
            "withdrawal_id": 1,
            "token": "USDC",
            "amount": "30",
            "destination": "iban:X1",
            "state": "pending",
            "reference": None,
        }
    }
    assert _held(cli, "alice") == {"USDC": ("70", "30")}
    second = cli.json(
        "dex", "withdraw", "--token", "USDC", "--amount", "5", "--to", "iban:X1", *alice
    )
    assert second["withdrawal"]["withdrawal_id"] == 2
    done = cli.json("admin", "withdrawal", "complete", "--id", "1", "--reference", "p-9", *op)
    assert (done["withdrawal"]["state"], done["withdrawal"]["reference"]) == ("completed", "p-9")
    cli.json("admin", "withdrawal", "reject", "--id", "2", *op)
    assert _held(cli, "alice") == {"USDC": ("70", "0")}  # 30 paid out, 5 returned
    listed = cli.json("dex", "withdrawals", "--db-path", "~/w/alice", "--format", "json")
    assert [(w["withdrawal_id"], w["state"]) for w in listed["withdrawals"]] == [
        (1, "completed"),
        (2, "rejected"),
    ]
    again = cli.run("admin", "withdrawal", "complete", "--id", "1", *op)
    assert_error(again, REFUSED, "completed already")
    stranger = cli.run("admin", "withdrawal", "reject", "--id", "1", *alice)
    assert_error(stranger, REFUSED, "not this exchange's operator")
    too_much = cli.run("dex", "withdraw", "--token", "USDC", "--amount", "71", "--to", "x", *alice)
    assert_error(too_much, REFUSED, "insufficient")
    assert _held(cli, "alice") == {"USDC": ("70", "0")}
