"""Goal: a new user's first session works end to end: two wallets, deposits, a resting bid partly
filled by a market ask, then balances, book, trades and orders exact to the unit, in JSON and
tables. Method: the installed `tachyon` as a subprocess in a temporary HOME and TACHYON_HOME;
one module-scoped session runs the README's commands once and the tests only read it."""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import (
    Cli,
    files_containing,
    iso,
    journal_times,
    table_headers,
    table_rows,
)

ALICE = "~/.tachyon/wallets/alice"  # one argv element: tachyon expands the `~`, not a shell
BOB = "~/.tachyon/wallets/bob"
ALICE_PASSWORD = "alice-correct-horse-battery"
BOB_PASSWORD = "bob-staple-orbit-lantern"
WRONG_PASSWORD = "not-anyones-password-9"
ADDRESS = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Session:
    cli: Cli
    alice: dict[str, Any]
    bob: dict[str, Any]
    deposit_usdc: str
    deposit_base: str
    bid: dict[str, Any]
    ask: dict[str, Any]

    def path(self, name: str) -> Path:
        return self.cli.home / ".tachyon" / "wallets" / name


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The README's session: alice passes --password; bob sets TACHYON_PASSWORD and says
    --non-interactive (which forbids only the prompt)."""
    cli = Cli.fresh(tmp_path_factory.mktemp("e2e"))
    bob_env = {"TACHYON_PASSWORD": BOB_PASSWORD}
    alice = cli.json(
        "wallet", "create", "--db-path", ALICE, "--password", ALICE_PASSWORD, "--format", "json"
    )
    bob = cli.json(
        "--format", "json", "--non-interactive", "wallet", "create", "--db-path", BOB, env=bob_env
    )
    deposit_usdc = cli.ok(
        "dex",
        "deposit-usdc",
        "--db-path",
        ALICE,
        "--password",
        ALICE_PASSWORD,
        "--amount",
        "1000000",
    )
    deposit_base = cli.ok(
        "dex", "deposit-base", "--db-path", BOB, "--amount", "25", "--non-interactive", env=bob_env
    )
    bid = cli.json(
        "--format",
        "json",
        "dex",
        "place-limit",
        "--db-path",
        ALICE,
        "--password",
        ALICE_PASSWORD,
        "--side",
        "bid",
        "--price",
        "100",
        "--qty",
        "10",
    )
    ask = cli.json(
        "dex",
        "place-market",
        "--db-path",
        BOB,
        "--side",
        "ask",
        "--qty",
        "4",
        "--format",
        "json",
        env=bob_env,
    )
    return Session(cli, alice, bob, deposit_usdc, deposit_base, bid, ask)


def test_wallet_create_expands_the_tilde_and_records_the_exchange(session: Session) -> None:
    for name, created in (("alice", session.alice), ("bob", session.bob)):
        assert created["path"] == str(session.path(name))
        assert (session.path(name) / "wallet.json").is_file()
        assert ADDRESS.fullmatch(created["address"]), created
        assert created["exchange"] == {
            "kind": "embedded",
            "data_dir": str(session.cli.exchange_dir.resolve()),
        }
    assert session.alice["address"] != session.bob["address"]
    assert not (session.cli.cwd / "~").exists()  # no directory literally named `~`


def test_deposits_print_the_credited_token_as_a_table(session: Session) -> None:
    for output, token, amount, decimals in (
        (session.deposit_usdc, "USDC", "1000000", "6"),
        (session.deposit_base, "BASE", "25", "0"),
    ):
        assert table_rows(output) == [[token, amount, "0", decimals]], output


def test_a_resting_bid_is_partly_filled_by_a_market_ask(session: Session) -> None:
    _, _, placed, traded = journal_times(session.cli.exchange_dir)  # 2 deposits, bid, ask
    assert session.bid == {
        "order_id": 1,
        "market": "BASE/USDC",
        "status": "new",
        "filled_qty": "0",
        "open_qty": "10",
        "time_ns": placed,
        "trades": [],
    }
    assert session.ask == {
        "order_id": 2,
        "market": "BASE/USDC",
        "status": "filled",
        "filled_qty": "4",
        "open_qty": "0",
        "time_ns": traded,
        "trades": [
            {
                "trade_id": 1,
                "price": "100",
                "qty": "4",
                "maker_order_id": 1,
                "taker_order_id": 2,
                "taker_side": "ask",
                "maker_fee": "0",  # the default market charges no fees
                "taker_fee": "0",
                "time_ns": traded,
            }
        ],
    }


def test_balances_are_exact_to_the_unit(session: Session) -> None:
    cli = session.cli
    assert cli.balance(ALICE) == {
        "address": session.alice["address"],
        "balances": [
            {"token": "BASE", "available": "4", "locked": "0"},
            {"token": "USDC", "available": "999000", "locked": "600"},
        ],
    }
    assert cli.balance(BOB) == {
        "address": session.bob["address"],
        "balances": [
            {"token": "BASE", "available": "21", "locked": "0"},
            {"token": "USDC", "available": "400", "locked": "0"},
        ],
    }


def test_orderbook_trades_and_orders_show_what_rests(session: Session) -> None:
    cli = session.cli
    book = cli.json("dex", "orderbook", "--db-path", ALICE, "--depth", "10", "--format", "json")
    assert book == {"market": "BASE/USDC", "bids": [{"price": "100", "qty": "6"}], "asks": []}
    assert cli.json("dex", "trades", "--db-path", BOB, "--limit", "20", "--format", "json") == {
        "market": "BASE/USDC",
        "trades": session.ask["trades"],
    }
    assert cli.json("dex", "orders", "--db-path", ALICE, "--format", "json") == {
        "orders": [
            {
                "order_id": 1,
                "market": "BASE/USDC",
                "side": "bid",
                "price": "100",
                "qty": "10",
                "remaining_qty": "6",
                "filled_qty": "4",
                "status": "partially_filled",
                "time_ns": session.bid["time_ns"],
            }
        ]
    }
    assert cli.json("dex", "orders", "--db-path", BOB, "--format", "json") == {"orders": []}


def test_wallet_show_and_list(session: Session) -> None:
    cli = session.cli
    assert cli.json("wallet", "show", "--db-path", ALICE, "--format", "json") == session.alice
    table = cli.ok("wallet", "show", "--db-path", BOB)
    assert session.bob["address"] in table
    assert str(session.path("bob")) in table
    listed = cli.json("--format", "json", "wallet", "list", "--dir", "~/.tachyon/wallets")
    assert listed == {
        "wallets": [
            {"name": name, "address": created["address"], "path": str(session.path(name))}
            for name, created in (("alice", session.alice), ("bob", session.bob))
        ]
    }
    # Without --dir the list is of $TACHYON_HOME/wallets, which holds none here.
    assert cli.json("wallet", "list", "--format", "json") == {"wallets": []}


def test_markets_lists_the_default_market(session: Session) -> None:
    assert session.cli.json("dex", "markets", "--format", "json") == {
        "markets": [
            {
                "market": "BASE/USDC",
                "base": "BASE",
                "quote": "USDC",
                "base_decimals": 0,
                "quote_decimals": 6,
                "tick_size": "0.000001",
                "lot_size": "1",
                "min_qty": "1",
                "maker_bps": 0,
                "taker_bps": 0,
                "fee_token": "USDC",
                "fee_account": "tachyon:fees",
                "max_qty": None,
                "min_notional": None,
                "risk": {
                    "max_notional": None,
                    "price_band_pct": None,
                    "max_position": None,
                    "max_open_orders": None,
                },
                "halted": False,
                "engine": "in_memory",
            }
        ]
    }


@pytest.mark.parametrize(
    "command",
    [
        ("dex", "orderbook", "--db-path", ALICE),
        ("dex", "balance", "--db-path", ALICE),
        ("dex", "trades"),
    ],
    ids=lambda command: command[1],
)
def test_format_before_the_group_and_after_the_command_agree(
    session: Session, command: tuple[str, ...]
) -> None:
    cli = session.cli
    before = cli.ok("--format", "json", *command)
    after = cli.ok(*command, "--format", "json")
    assert before == after
    assert before.lstrip().startswith("{")
    if command[1] == "orderbook":  # given twice, the later one wins
        assert cli.ok("--format", "table", *command, "--format", "json") == before
        assert cli.ok("--format", "json", *command, "--format", "table") == cli.ok(*command)


def test_tables_show_symbols_and_decimal_values(session: Session) -> None:
    cli = session.cli
    book = cli.ok("dex", "orderbook", "--db-path", ALICE)
    assert "BASE/USDC" in book
    assert re.search(r"bid qty BASE.*bid USDC.*ask USDC.*ask qty BASE", book), book
    assert table_rows(book) == [["6", "100", "", ""]], book
    balance = cli.ok("dex", "balance", "--db-path", ALICE)
    assert table_rows(balance) == [["BASE", "4", "0", "0"], ["USDC", "999000", "600", "6"]]
    assert "available" in balance
    assert "decimals" in balance
    trades = cli.ok("dex", "trades")
    assert "BASE/USDC" in trades
    traded = iso(session.ask["time_ns"])
    assert table_rows(trades) == [[traded, "1", "100", "4", "1", "2", "ask", "0", "0"]], trades
    assert table_headers(trades) == [
        [
            "time",
            "trade",
            "price USDC",
            "qty BASE",
            "maker order",
            "taker order",
            "taker side",
            "maker fee USDC",
            "taker fee USDC",
        ]
    ], trades
    orders = cli.ok("dex", "orders", "--db-path", ALICE)
    placed = iso(session.bid["time_ns"])
    assert table_rows(orders) == [
        [placed, "1", "BASE/USDC", "bid", "100", "10", "6", "4", "partially_filled"]
    ], orders
    assert table_headers(orders) == [
        ["time", "order", "market", "side", "price", "qty", "remaining", "filled", "status"]
    ], orders


def test_the_markets_table_shows_whole_symbols(session: Session) -> None:
    """One field/value table per market, so nothing is cut at 120 columns."""
    fields = dict(table_rows(session.cli.ok("dex", "markets")))
    assert fields["market"] == "BASE/USDC"
    assert (fields["base"], fields["quote"]) == ("BASE", "USDC")
    assert fields["fee_account"] == "tachyon:fees"
    assert fields["tick_size"] == "0.000001"


def test_public_reads_need_no_password_and_ignore_a_wrong_one(session: Session) -> None:
    cli = session.cli
    wrong = ("--password", WRONG_PASSWORD, "--format", "json")
    book = {"market": "BASE/USDC", "bids": [{"price": "100", "qty": "6"}], "asks": []}
    assert cli.json("dex", "orderbook", *wrong) == book
    assert cli.json("dex", "trades", *wrong)["trades"] == session.ask["trades"]
    assert [row["market"] for row in cli.json("dex", "markets", *wrong)["markets"]] == ["BASE/USDC"]
    assert cli.json("dex", "balance", "--db-path", BOB, "--format", "json")["balances"][0] == {
        "token": "BASE",
        "available": "21",
        "locked": "0",
    }
    # Even the prod profile, which refuses --password for acting commands, ignores it here.
    prod = {"TACHYON_PROFILE": "prod"}
    assert cli.json("dex", "orderbook", "--password", "x", "--format", "json", env=prod) == book


def test_wallet_files_are_private_and_hold_no_password(session: Session) -> None:
    for name in ("alice", "bob"):
        directory = session.path(name)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "wallet.json").stat().st_mode) == 0o600
        assert sorted(path.name for path in directory.iterdir()) == ["wallet.json"]
    assert (session.cli.exchange_dir / "exchange.db").is_file()
    for password in (ALICE_PASSWORD, BOB_PASSWORD, WRONG_PASSWORD):
        assert files_containing(password, session.cli.home, session.cli.tachyon_home) == []
