"""Goal: every way a user can get a command wrong ends in one `Error:` line naming the problem,
exit 1 (refused) or 2 (usage), no traceback, and no change to the exchange or the wallet.
Method: the installed `tachyon` as a subprocess against one module-scoped exchange (alice bids
10 @ 100; bob holds 25 BASE). A command refused before it opens the exchange must leave every
file byte-identical; one refused after opening it must leave the journal as it was (and, where
funds are at stake, the balances and the book as the fixture left them), but for one `Refused`
entry when the exchange refused a signed command's body (its nonce is used so); the journal
always audits clean. The two wallets are made by the library at the KDF's minimum cost, so
each of the many unlocks here is quick."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tachyon.exchange.commands import Refused, decode_entry
from tachyon.storage.db import DB_FILENAME
from tachyon.wallet.keystore import KDF_MIN, create
from tests.cli.helpers import MAX_MINOR, REFUSED, USAGE_ERROR, Cli, assert_error, fingerprint

ALICE_PASSWORD = "alice-errors-password-1"
BOB_PASSWORD = "bob-errors-password-2"


@dataclass(frozen=True)
class Seeded:
    cli: Cli
    alice: str
    bob: str
    bid_id: int
    accepted: list[bytes]  # the journal the fixture left (every entry accepted)
    balances: tuple[Any, Any]
    book: Any

    def as_alice(self, *args: str) -> tuple[str, ...]:
        return (*args, "--db-path", self.alice, "--password", ALICE_PASSWORD)

    def as_bob(self, *args: str) -> tuple[str, ...]:
        return (*args, "--db-path", self.bob, "--password", BOB_PASSWORD)

    def untouched(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command that must fail before writing anything; check no file changed."""
        before = fingerprint(self.cli.root)
        result = self.cli.run(*args, env=env)
        assert fingerprint(self.cli.root) == before, result
        return result

    def journal(self) -> list[bytes]:
        conn = sqlite3.connect(f"file:{self.cli.exchange_dir / DB_FILENAME}?mode=ro", uri=True)
        try:
            return [bytes(row[0]) for row in conn.execute("SELECT command FROM journal")]
        finally:
            conn.close()

    def assert_unchanged(
        self, before: list[bytes], *, balances: bool = False, refused: str | None = None
    ) -> None:
        """The journal is `before` (taken before the command), plus one `Refused` entry with
        code `refused` if given, and audits clean; nothing it accepted since the fixture
        changed the state; with `balances`, what each wallet holds and the book are as the
        fixture left them, as `dex balance` and `dex orderbook` print them."""
        after = self.journal()
        assert after[: len(before)] == before
        added = [decode_entry(data, canonical=True) for data in after[len(before) :]]
        if refused is None:
            assert added == []
        else:
            assert [type(entry) for entry in added] == [Refused], added
            assert added[0].code == refused  # type: ignore[union-attr]
        accepted = [data for data in after if not _is_refused(data)]
        assert accepted == self.accepted
        assert self.cli.audit()["entries"] == len(after)
        if balances:
            assert (self.cli.balance(self.alice), self.cli.balance(self.bob)) == self.balances
            assert self.cli.book() == self.book


def _is_refused(data: bytes) -> bool:
    return isinstance(decode_entry(data, canonical=True), Refused)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    cli = Cli.fresh(tmp_path_factory.mktemp("errors"))
    exchange = {"kind": "embedded", "data_dir": str(cli.exchange_dir.resolve())}
    alice, bob = cli.home / "wallets" / "alice", cli.home / "wallets" / "bob"
    create(alice, ALICE_PASSWORD, exchange, kdf=KDF_MIN)
    create(bob, BOB_PASSWORD, exchange, kdf=KDF_MIN)
    assert cli.json("wallet", "show", "--db-path", str(alice), "--format", "json")["exchange"] == (
        exchange
    )
    seeded = Seeded(cli, str(alice), str(bob), bid_id=0, accepted=[], balances=({}, {}), book={})
    cli.ok(*seeded.as_alice("dex", "deposit-usdc", "--amount", "1000000"))
    cli.ok(*seeded.as_bob("dex", "deposit-base", "--amount", "25"))
    bid = cli.json(
        *seeded.as_alice("dex", "place-limit", "--side", "bid", "--price", "100", "--qty", "10"),
        "--format",
        "json",
    )
    balances = (cli.balance(seeded.alice), cli.balance(seeded.bob))
    assert balances[0]["balances"] == [
        {"token": "BASE", "available": "0", "locked": "0"},
        {"token": "USDC", "available": "999000", "locked": "1000"},
    ]
    assert balances[1]["balances"] == [
        {"token": "BASE", "available": "25", "locked": "0"},
        {"token": "USDC", "available": "0", "locked": "0"},
    ]
    return replace(
        seeded,
        bid_id=bid["order_id"],
        accepted=seeded.journal(),
        balances=balances,
        book=cli.book(),
    )


# -- bad numbers: refused after the wallet is unlocked and the exchange opened -----------------

BAD_NUMBERS = [
    pytest.param(("dex", "deposit-usdc", "--amount", "abc"), "is not a decimal number", id="abc"),
    pytest.param(("dex", "deposit-usdc", "--amount", "-5"), "is not a decimal number", id="neg"),
    pytest.param(("dex", "deposit-usdc", "--amount", "0"), "must be positive", id="zero"),
    pytest.param(("dex", "deposit-usdc", "--amount", "1e3"), "is not a decimal number", id="exp"),
    pytest.param(
        ("dex", "deposit-base", "--amount", str(MAX_MINOR + 1)),
        f"exceeds the maximum {MAX_MINOR}",
        id="over-u64-base",
    ),
    pytest.param(
        ("dex", "withdraw", "--token", "USDC", "--amount", "18446744073709.551616"),  # 2**64 minor
        "exceeds the maximum 18446744073709.551615",  # said in USDC, as it was typed
        id="over-u64-usdc",
    ),
    pytest.param(
        ("dex", "place-limit", "--side", "bid", "--price", "100.0000001", "--qty", "1"),
        "more than 6 decimal places",
        id="price-7-decimals",
    ),
    pytest.param(
        ("dex", "place-limit", "--side", "bid", "--price", "100", "--qty", "1.5"),
        "more than 0 decimal places",
        id="qty-fraction",
    ),
    pytest.param(
        ("dex", "place-market", "--side", "ask", "--qty", str(MAX_MINOR + 1)),
        f"exceeds the maximum {MAX_MINOR}",
        id="qty-over-u64",
    ),
]


@pytest.mark.parametrize(("command", "rule"), BAD_NUMBERS)
def test_a_bad_number_is_refused_naming_the_rule(
    seeded: Seeded, command: tuple[str, ...], rule: str
) -> None:
    before = seeded.journal()
    assert_error(seeded.cli.run(*seeded.as_alice(*command)), REFUSED, rule)
    seeded.assert_unchanged(before)


# -- refused operations ----------------------------------------------------------------------


def test_a_bid_beyond_the_balance_is_refused(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(
        *seeded.as_alice("dex", "place-limit", "--side", "bid", "--price", "100", "--qty", "10000")
    )
    assert_error(result, REFUSED, "insufficient", "USDC")
    seeded.assert_unchanged(before, balances=True, refused="insufficient_funds")


def test_a_withdrawal_beyond_the_balance_is_refused(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_bob("dex", "withdraw", "--token", "BASE", "--amount", "26"))
    assert_error(result, REFUSED, "insufficient", "BASE")
    seeded.assert_unchanged(before, balances=True, refused="insufficient_funds")


def test_a_deposit_past_the_token_supply_is_refused(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_bob("dex", "deposit-base", "--amount", str(MAX_MINOR)))
    line = assert_error(result, REFUSED, "supply", "BASE", "maximum", "nothing was changed")
    assert str(MAX_MINOR) in line  # the amount asked for (BASE has no decimals) and the maximum
    assert "insufficient" not in line
    seeded.assert_unchanged(before, balances=True, refused="supply_exceeded")


@pytest.mark.parametrize(
    ("options", "rule", "code"),
    [
        (("--price", "100", "--qty", "1", "--post-only"), "post-only", "post_only_would_take"),
        (
            ("--price", "100", "--qty", "11", "--tif", "fok"),
            "fill-or-kill",
            "fill_or_kill_unfillable",
        ),
    ],
    ids=["post-only-would-take", "fok-cannot-fill"],
)
def test_an_order_that_cannot_be_placed_as_asked_is_refused(
    seeded: Seeded, options: tuple[str, ...], rule: str, code: str
) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_bob("dex", "place-limit", "--side", "ask", *options))
    assert_error(result, REFUSED, rule)
    seeded.assert_unchanged(before, balances=True, refused=code)


def test_cancelling_another_wallets_order_is_refused(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_bob("dex", "cancel", "--order-id", str(seeded.bid_id)))
    assert_error(result, REFUSED, "belongs to another account")
    seeded.assert_unchanged(before, balances=True, refused="order_not_owned")


def test_cancelling_an_unknown_order_is_refused(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_alice("dex", "cancel", "--order-id", "999"))
    assert_error(result, REFUSED, "999")
    seeded.assert_unchanged(before, balances=True, refused="order_not_found")


@pytest.mark.parametrize(
    "command",
    [
        ("dex", "orderbook", "--market", "FOO/BAR"),
        (
            "dex",
            "place-limit",
            "--market",
            "BASE/EUR",
            "--side",
            "bid",
            "--price",
            "1",
            "--qty",
            "1",
        ),
    ],
    ids=["orderbook", "place-limit"],
)
def test_an_unknown_market_is_refused_listing_the_markets(
    seeded: Seeded, command: tuple[str, ...]
) -> None:
    if command[1] == "place-limit":
        command = seeded.as_alice(*command)
    before = seeded.journal()
    error = assert_error(seeded.cli.run(*command), REFUSED, "unknown market", "BASE/USDC")
    assert command[3] in error
    seeded.assert_unchanged(before)


def test_an_unknown_token_is_refused_listing_the_tokens(seeded: Seeded) -> None:
    before = seeded.journal()
    result = seeded.cli.run(*seeded.as_alice("dex", "deposit", "--token", "DOGE", "--amount", "1"))
    assert_error(result, REFUSED, "DOGE", "BASE, USDC")
    seeded.assert_unchanged(before)


# -- refused before anything is opened: every file stays as it was ---------------------------


@pytest.mark.parametrize(
    ("env", "password"),
    [({}, BOB_PASSWORD), ({"TACHYON_PASSWORD": BOB_PASSWORD}, None)],
    ids=["option", "environment"],
)
def test_a_wrong_password_is_refused(
    seeded: Seeded, env: dict[str, str], password: str | None
) -> None:
    given = () if password is None else ("--password", password)
    result = seeded.untouched(
        "dex", "deposit-usdc", "--amount", "5", "--db-path", seeded.alice, *given, env=env
    )
    assert_error(result, REFUSED, "wrong password", seeded.alice)


# -- account reads: no password needed on the embedded exchange, but one given is checked ------

ACCOUNT_READS = [("dex", "balance"), ("dex", "orders")]


@pytest.mark.parametrize("command", ACCOUNT_READS, ids=lambda command: command[1])
@pytest.mark.parametrize(
    ("env", "password"),
    [({}, BOB_PASSWORD), ({"TACHYON_PASSWORD": BOB_PASSWORD}, None)],
    ids=["option", "environment"],
)
def test_an_account_read_refuses_a_wrong_password(
    seeded: Seeded, command: tuple[str, ...], env: dict[str, str], password: str | None
) -> None:
    """Refused before the exchange is opened: nothing on stdout, every file as it was."""
    given = () if password is None else ("--password", password)
    result = seeded.untouched(*command, "--db-path", seeded.alice, *given, env=env)
    assert_error(result, REFUSED, "wrong password", seeded.alice)


@pytest.mark.parametrize("command", ACCOUNT_READS, ids=lambda command: command[1])
@pytest.mark.parametrize(
    ("env", "password"),
    [({}, ALICE_PASSWORD), ({"TACHYON_PASSWORD": ALICE_PASSWORD}, None), ({}, None)],
    ids=["option", "environment", "none"],
)
def test_an_account_read_with_the_right_password_or_none_answers(
    seeded: Seeded, command: tuple[str, ...], env: dict[str, str], password: str | None
) -> None:
    """With no password at all (and --non-interactive: no prompt either) the embedded read
    still answers, as the README says."""
    given = () if password is None else ("--password", password)
    args = (*command, "--db-path", seeded.alice, *given, "--non-interactive", "--format", "json")
    answer = seeded.cli.json(*args, env=env)
    if command[1] == "balance":
        assert answer == seeded.balances[0]
    else:
        assert [row["order_id"] for row in answer["orders"]] == [seeded.bid_id]


def test_an_account_read_refuses_password_on_the_command_line_in_prod(seeded: Seeded) -> None:
    """As acting commands do: a given --password is used, so prod refuses it (usage error)."""
    result = seeded.untouched(*seeded.as_alice("dex", "balance"), env={"TACHYON_PROFILE": "prod"})
    assert_error(result, USAGE_ERROR, "refused in the prod profile")


@pytest.mark.parametrize(
    "command",
    [("dex", "deposit-usdc", "--amount", "5", "--password", ALICE_PASSWORD), ("dex", "balance")],
    ids=lambda command: command[1],
)
def test_no_wallet_at_the_path_says_how_to_create_one(
    seeded: Seeded, command: tuple[str, ...]
) -> None:
    result = seeded.untouched(*command, "--db-path", "~/nobody")
    assert_error(result, REFUSED, "no wallet at", str(seeded.cli.home / "nobody"), "wallet create")


def test_creating_a_wallet_twice_is_refused_and_keeps_the_key(seeded: Seeded) -> None:
    result = seeded.untouched(
        "wallet", "create", "--db-path", seeded.alice, "--password", "another-password-3"
    )
    assert_error(result, REFUSED, "already exists", seeded.alice)


def test_a_short_password_creates_no_wallet(seeded: Seeded) -> None:
    result = seeded.untouched("wallet", "create", "--db-path", "~/short", "--password", "seven77")
    assert_error(result, REFUSED, "at least 8 characters")


@pytest.mark.parametrize(
    "command",
    [
        ("--non-interactive", "dex", "deposit-usdc", "--amount", "5", "--db-path", "A"),
        (
            "dex",
            "place-limit",
            "--side",
            "bid",
            "--price",
            "1",
            "--qty",
            "1",
            "--db-path",
            "A",
            "--non-interactive",
        ),
        ("wallet", "create", "--db-path", "~/new-wallet", "--non-interactive"),
    ],
    ids=["global", "per-command", "create"],
)
def test_non_interactive_without_a_password_is_a_usage_error(
    seeded: Seeded, command: tuple[str, ...]
) -> None:
    command = tuple(seeded.alice if part == "A" else part for part in command)
    result = seeded.untouched(*command)
    assert_error(result, USAGE_ERROR, "--non-interactive", "TACHYON_PASSWORD")


def test_no_password_and_no_terminal_is_a_usage_error(seeded: Seeded) -> None:
    result = seeded.untouched("dex", "deposit-usdc", "--amount", "5", "--db-path", seeded.alice)
    assert_error(result, USAGE_ERROR, "no password given")


def _prod(how: str, tmp_path: Path) -> dict[str, str]:
    """The prod profile chosen by the environment, or by the config file of another home."""
    if how == "environment":
        return {"TACHYON_PROFILE": "prod"}
    (tmp_path / "config.toml").write_text('profile = "prod"\n')
    return {"TACHYON_HOME": str(tmp_path)}


@pytest.mark.parametrize("how", ["environment", "config-file"])
def test_prod_refuses_the_password_option(seeded: Seeded, how: str, tmp_path: Path) -> None:
    result = seeded.untouched(
        *seeded.as_alice("dex", "place-limit", "--side", "bid", "--price", "1", "--qty", "1"),
        env=_prod(how, tmp_path),
    )
    assert_error(result, USAGE_ERROR, "--password", "prod", "TACHYON_PASSWORD")


@pytest.mark.parametrize(
    ("how", "command"),
    [("environment", "deposit-usdc"), ("config-file", "deposit-base")],
)
def test_prod_refuses_deposits(seeded: Seeded, how: str, command: str, tmp_path: Path) -> None:
    env = {**_prod(how, tmp_path), "TACHYON_PASSWORD": ALICE_PASSWORD}
    result = seeded.untouched("dex", command, "--amount", "5", "--db-path", seeded.alice, env=env)
    assert_error(result, REFUSED, "deposit", "prod")


@pytest.mark.parametrize(
    ("config", "needle"),
    [('profile = "staging"\n', "'staging'"), ("profile = \n", "cannot read")],
    ids=["unknown-profile", "not-toml"],
)
def test_a_bad_config_file_is_a_usage_error(
    seeded: Seeded, tmp_path: Path, config: str, needle: str
) -> None:
    (tmp_path / "config.toml").write_text(config)
    result = seeded.untouched(
        *seeded.as_alice("dex", "deposit-usdc", "--amount", "5"),
        env={"TACHYON_HOME": str(tmp_path)},
    )
    assert_error(result, USAGE_ERROR, needle, str(tmp_path / "config.toml"))


USAGE = [
    pytest.param(("dex", "place-limit", "--side", "up", "--price", "1", "--qty", "1"), "--side", id="side"),
    pytest.param(("dex", "place-limit", "--side", "bid", "--price", "1", "--qty", "1", "--tif", "day"), "--tif", id="tif"),
    pytest.param(("dex", "place-limit", "--side", "bid", "--qty", "1"), "--price", id="missing-price"),
    pytest.param(("dex", "place-market", "--side", "bid"), "--qty", id="market-neither"),
    pytest.param(("dex", "place-market", "--side", "ask", "--max-quote", "5"), "--max-quote", id="max-quote-ask"),
    pytest.param(("dex", "cancel", "--order-id", "0"), "--order-id", id="order-id-zero"),
    pytest.param(("dex", "cancel", "--order-id", "seven"), "--order-id", id="order-id-text"),
    pytest.param(("dex", "orderbook", "--depth", "0"), "--depth", id="depth-zero"),
    pytest.param(("dex", "trades", "--limit", "1001"), "--limit", id="limit-too-big"),
    pytest.param(("dex", "watch", "--interval-ms", "10"), "--interval-ms", id="interval"),
    pytest.param(("dex", "orderbook", "--format", "yaml"), "yaml", id="format"),
    pytest.param(("dex", "orderbook", "--colour", "red"), "--colour", id="unknown-option"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "needle"), USAGE)
def test_an_invalid_option_value_is_a_usage_error(
    seeded: Seeded, command: tuple[str, ...], needle: str
) -> None:
    if command[1] in ("place-limit", "place-market", "cancel"):
        command = seeded.as_alice(*command)
    assert_error(seeded.untouched(*command), USAGE_ERROR, needle)
