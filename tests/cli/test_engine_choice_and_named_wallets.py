"""Goal: the engine of a new exchange's markets is chosen by --engine, TACHYON_ENGINE or
config.toml (which refuses keys it does not know), kept by the exchange whatever later
processes are started with, and refused clearly when unknown; `--wallet NAME` names
`$TACHYON_HOME/wallets/NAME` wherever `--db-path` is taken. Method: the installed `tachyon` in a
temporary home, as a user types it; the exchange's files read back with the library."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tachyon.storage import EmbeddedExchange
from tests.cli.helpers import REFUSED, TACHYON, USAGE_ERROR, Cli, assert_error, fingerprint
from tests.support.engines import INSTALLED

PASSWORD = "engine-test-passphrase"
WITH_PASSWORD = {"TACHYON_PASSWORD": PASSWORD}
LIQUIBOOK = "liquibook" in {engine.name for engine in INSTALLED}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.fresh(tmp_path)


def recorded_engine(cli: Cli) -> str:
    conn = sqlite3.connect(cli.exchange_dir / "exchange.db")
    try:
        (value,) = conn.execute("SELECT value FROM exchange_meta WHERE key = 'engine'").fetchone()
    finally:
        conn.close()
    assert isinstance(value, str)
    return value


def market_engines(cli: Cli) -> list[str]:
    """The engine name of each market, as the exchange's state (and its snapshots) hold it."""
    with EmbeddedExchange.open(cli.exchange_dir) as host:
        markets = host.state.service.to_state()["markets"]
    assert isinstance(markets, list)
    return [str(market[1]) for market in markets]


# -- config.toml -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('engines = "in_memory"\n', ["unknown key 'engines'", "known keys are profile, engine"]),
        ('profile = "dev"\nport = 1\nb = 2\n', ["unknown keys 'b', 'port'"]),
        ("engine = 3\n", ["engine must be a string, not 3"]),
        ("engine = \n", ["cannot read"]),
    ],
    ids=["misspelt", "two-unknown", "not-a-string", "not-toml"],
)
def test_a_config_toml_tachyon_cannot_use_is_refused_before_any_command(
    cli: Cli, text: str, needles: list[str]
) -> None:
    config = cli.tachyon_home / "config.toml"
    config.write_text(text)
    before = fingerprint(cli.root)
    for args in (["wallet", "list"], ["dex", "markets"], ["demo"]):
        line = assert_error(cli.run(*args), USAGE_ERROR, str(config), *needles)
        assert "Traceback" not in line
    assert fingerprint(cli.root) == before


def test_config_toml_keys_profile_and_engine_are_accepted(cli: Cli) -> None:
    (cli.tachyon_home / "config.toml").write_text('profile = "dev"\nengine = "in_memory"\n')
    cli.ok("wallet", "create", "--wallet", "alice", env=WITH_PASSWORD)
    assert recorded_engine(cli) == "in_memory"


# -- choosing the engine ---------------------------------------------------------------------


def test_unknown_engine_is_refused_naming_the_available_ones_and_nothing_is_made(
    cli: Cli,
) -> None:
    available = ", ".join(engine.name for engine in INSTALLED)
    before = fingerprint(cli.root)
    result = cli.run("wallet", "create", "--wallet", "a", env={"TACHYON_ENGINE": "warp-drive"})
    assert_error(result, REFUSED, f"unknown engine 'warp-drive'; available: {available}")
    (cli.tachyon_home / "config.toml").write_text('engine = "warp-drive"\n')
    result = cli.run("wallet", "create", "--wallet", "a", env=WITH_PASSWORD)
    assert_error(result, REFUSED, "unknown engine 'warp-drive'", "config.toml")
    assert fingerprint(cli.root) == {
        **before,
        "tachyon-home/config.toml": b'engine = "warp-drive"\n',
    }


@pytest.mark.skipif(not LIQUIBOOK, reason="the liquibook extra is not installed")
@pytest.mark.parametrize("how", ["env", "option", "config"])
def test_the_chosen_engine_runs_a_new_exchanges_markets_and_stays_with_it(
    cli: Cli, how: str
) -> None:
    chosen: dict[str, str] = {}
    before_group: list[str] = []
    if how == "env":
        chosen = {"TACHYON_ENGINE": "liquibook"}
    elif how == "option":
        before_group = ["--engine", "liquibook"]
    else:
        (cli.tachyon_home / "config.toml").write_text('engine = "liquibook"\n')
    env = {**WITH_PASSWORD, **chosen}
    cli.ok(*before_group, "wallet", "create", "--wallet", "alice", env=env)
    assert recorded_engine(cli) == "liquibook"
    if how == "config":
        (cli.tachyon_home / "config.toml").unlink()
    # Later processes started without a choice, or with another, keep the exchange's engine.
    cli.ok("wallet", "create", "--wallet", "bob", env=WITH_PASSWORD)
    cli.ok("dex", "deposit-usdc", "--wallet", "alice", "--amount", "1000", env=WITH_PASSWORD)
    cli.ok("dex", "deposit-base", "--wallet", "bob", "--amount", "5", env=WITH_PASSWORD)
    other = {**WITH_PASSWORD, "TACHYON_ENGINE": "in_memory"}
    cli.ok("dex", "place-limit", "--wallet", "alice", "--side", "bid", "--price", "100",
           "--qty", "3", env=other)  # fmt: skip
    placed = cli.json("dex", "place-market", "--wallet", "bob", "--side", "ask", "--qty", "2",
                      "--format", "json", env=WITH_PASSWORD)  # fmt: skip
    assert [(t["price"], t["qty"]) for t in placed["trades"]] == [("100", "2")]
    assert market_engines(cli) == ["liquibook"]
    assert cli.audit()["entries"] == 4  # two deposits, two orders


@pytest.mark.skipif(not LIQUIBOOK, reason="the liquibook extra is not installed")
def test_an_option_the_engine_lacks_is_refused_naming_it_and_nothing_changes(cli: Cli) -> None:
    env = {**WITH_PASSWORD, "TACHYON_ENGINE": "liquibook"}
    cli.ok("wallet", "create", "--wallet", "alice", env=env)
    cli.ok("dex", "deposit-usdc", "--wallet", "alice", "--amount", "1000", env=env)
    balance = cli.json("dex", "balance", "--wallet", "alice", "--format", "json")
    entries = cli.audit()["entries"]
    result = cli.run("dex", "place-limit", "--wallet", "alice", "--side", "bid", "--price", "100",
                     "--qty", "3", "--stp", "decrement_and_cancel", env=env)  # fmt: skip
    assert_error(
        result,
        REFUSED,
        "the liquibook engine does not support self-trade prevention decrement_and_cancel",
    )
    # Journaled as refused (its nonce is used: README, Nonces); nothing else changed.
    assert cli.audit()["entries"] == entries + 1
    assert cli.json("dex", "balance", "--wallet", "alice", "--format", "json") == balance
    assert cli.json("dex", "orders", "--wallet", "alice", "--format", "json") == {"orders": []}


# -- named wallets ---------------------------------------------------------------------------


def test_wallet_name_resolves_under_tachyon_home_wherever_db_path_is_taken(cli: Cli) -> None:
    shown = cli.json("wallet", "create", "--wallet", "alice", "--format", "json", env=WITH_PASSWORD)
    path = cli.tachyon_home / "wallets" / "alice"
    assert shown["path"] == str(path)
    assert (path / "wallet.json").is_file()
    assert cli.json("wallet", "show", "--wallet", "alice", "--format", "json") == shown
    assert cli.json("wallet", "show", "--db-path", str(path), "--format", "json") == shown
    cli.ok("dex", "deposit-usdc", "--wallet", "alice", "--amount", "7", env=WITH_PASSWORD)
    by_name = cli.json("dex", "balance", "--wallet", "alice", "--format", "json")
    assert by_name == cli.json("dex", "balance", "--db-path", str(path), "--format", "json")
    assert cli.json("dex", "orders", "--wallet", "alice", "--format", "json") == {"orders": []}
    assert "bids" in cli.json("dex", "orderbook", "--wallet", "alice", "--format", "json")
    listed = cli.json("wallet", "list", "--format", "json")["wallets"]
    assert [(row["name"], row["path"]) for row in listed] == [("alice", str(path))]


def test_without_tachyon_home_a_wallet_name_is_under_the_home_directory(cli: Cli) -> None:
    env = {key: value for key, value in cli.env(WITH_PASSWORD).items() if key != "TACHYON_HOME"}
    args = [TACHYON, "wallet", "create", "--wallet", "carol", "--format", "json"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(cli.home / ".tachyon" / "wallets" / "carol")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["wallet", "show"], ["give --db-path PATH or --wallet NAME"]),
        (["dex", "balance"], ["give --db-path PATH or --wallet NAME"]),
        (["wallet", "show", "--wallet", "a", "--db-path", "x"], ["not both"]),
        (["dex", "orderbook", "--wallet", "a", "--db-path", "x"], ["not both"]),
        (["wallet", "show", "--wallet", "../alice"], ["'../alice' is not a wallet name"]),
        (["wallet", "show", "--wallet", "a/b"], ["no path separator"]),
        (["wallet", "show", "--wallet", ".hidden"], ["not start with a dot"]),
        (["wallet", "show", "--wallet", ""], ["'' is not a wallet name"]),
        (["dex", "deposit-usdc", "--amount", "1", "--wallet", ".."], ["'..' is not a wallet"]),
    ],
    ids=[
        "show-neither",
        "balance-neither",
        "both",
        "both-public",
        "dotdot",
        "slash",
        "dot",
        "empty",
        "acting-dotdot",
    ],
)
def test_a_wallet_given_twice_not_at_all_or_by_a_bad_name_is_a_usage_error(
    cli: Cli, args: list[str], needles: list[str]
) -> None:
    before = fingerprint(cli.root)
    assert_error(cli.run(*args, env=WITH_PASSWORD), USAGE_ERROR, *needles)
    assert fingerprint(cli.root) == before
