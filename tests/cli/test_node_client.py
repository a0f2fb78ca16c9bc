"""Goal: the CLI over a node (`--node URL`, or wallets created with `--node`) prints what it
prints on the embedded exchange, to the unit, refusals included, and an unreachable node is
one error line naming its URL. Method: a real `tachyon node serve` on a free 127.0.0.1 port
(bounded waits, SIGTERM at the end); the installed `tachyon` runs one trading session over it
and the same session on an embedded data directory; outputs are compared with each run's
addresses replaced by names and times by placeholders (each run has its own clock), and with
the node's own GET answers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.cli.helpers import (
    ISO_TIME,
    MAX_MINOR,
    REFUSED,
    USAGE_ERROR,
    Cli,
    assert_error,
    describe,
)
from tests.node.server import free_port
from tests.support.node_process import serving

PASSWORD = "node-session-password-1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
TIME_NS = re.compile(r'"((?:closed_)?time_ns)": ?[0-9]+')


def _timeless(text: str) -> str:
    """`text` with every time (JSON nanoseconds, a table's ISO 8601) replaced by a placeholder
    of the same width; a null time stays null."""
    text = TIME_NS.sub(lambda match: f'"{match[1]}": "T"', text)
    return ISO_TIME.sub(lambda match: "T" * len(match[0]), text)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[str]:
    """A node serving a fresh data directory; its URL."""
    with serving(Cli.fresh(tmp_path / "server"), tmp_path / "node-data") as url:
        yield url


def _session(
    cli: Cli, where: tuple[str, ...], reads: tuple[str, ...], back: tuple[str, ...]
) -> dict[str, Any]:
    """One trading session of two wallets created with `where` (--node URL or --data-dir D);
    public reads get `reads` before the group and `back` after the command. Every output, addresses replaced by names."""
    alice, bob = str(cli.root / "alice"), str(cli.root / "bob")
    names: dict[str, str] = {}
    outputs: dict[str, Any] = {}

    def run(label: str, *args: str, front: tuple[str, ...] = ()) -> None:
        result = cli.run(*front, *args)
        text = result.stdout + result.stderr
        for address, name in names.items():
            text = text.replace(address, name)
        outputs[label] = (result.returncode, _timeless(text))
        if result.returncode == 0:
            assert result.stderr == "", describe(result)

    for name, path in (("ALICE", alice), ("BOB", bob)):
        created = cli.json(
            "wallet",
            "create",
            "--db-path",
            path,
            "--password",
            PASSWORD,
            *where,
            "--format",
            "json",
        )
        names[created["address"]] = name
    a = ("--db-path", alice, "--password", PASSWORD)
    b = ("--db-path", bob, "--password", PASSWORD)
    run("deposit alice", "dex", "deposit-usdc", "--amount", "1000.5", *a, "--format", "json")
    run("deposit bob", "dex", "deposit", "--token", "BASE", "--amount", "5", *b, "--format", "json")
    run("bid", "dex", "place-limit", "--side", "bid", "--price", "100.25", "--qty", "3", *a)
    run("bid json", "dex", "place-limit", "--side", "bid", "--price", "99", "--qty", "1", *a)
    run("ask", "dex", "place-market", "--side", "ask", "--qty", "2", *b, "--format", "json")
    for who, flags in (("alice", a), ("bob", b)):
        run(f"balance {who}", "dex", "balance", *flags, "--format", "json")
        run(f"balance table {who}", "dex", "balance", *flags)
        run(f"orders {who}", "dex", "orders", *flags, "--format", "json")
    run("orders table", "dex", "orders", *a)
    for fmt in ("json", "table"):
        run(f"book {fmt}", "dex", "orderbook", "--format", fmt, *back, front=reads)
        run(f"trades {fmt}", "dex", "trades", "--format", fmt, *back, front=reads)
        run(f"markets {fmt}", "dex", "markets", "--format", fmt, *back, front=reads)
    run("book via wallet", "dex", "orderbook", "--db-path", bob, "--format", "json")
    run("watch", "dex", "watch", "--iterations", "1", "--format", "json", *back, front=reads)
    # refusals: the same one line, exit 1
    run("too poor", "dex", "withdraw", "--token", "USDC", "--amount", "9999", *b)
    run("overdraw", "dex", "withdraw", "--token", "BASE", "--amount", "3", *a)
    run("past supply", "dex", "deposit-base", "--amount", str(MAX_MINOR), *a)
    run("not mine", "dex", "cancel", "--order-id", "1", *b)
    run("no such order", "dex", "cancel", "--order-id", "99", *b)
    run("bad market", "dex", "orderbook", "--market", "X/Y", *back, front=reads)
    run("bad tick", "dex", "place-limit", "--side", "bid", "--price", "1.0000001", "--qty", "1", *a)
    run(
        "post only",
        "dex",
        "place-limit",
        "--side",
        "ask",
        "--price",
        "1",
        "--qty",
        "1",
        "--post-only",
        *b,
    )
    run(
        "fok",
        "dex",
        "place-limit",
        "--side",
        "ask",
        "--price",
        "99",
        "--qty",
        "4",
        "--tif",
        "fok",
        *b,
    )
    run("cancel", "dex", "cancel", "--order-id", "2", *a, "--format", "json")
    run("after cancel", "dex", "balance", *a, "--format", "json")
    run("bid again", "dex", "place-limit", "--side", "bid", "--price", "98", "--qty", "1", *a)
    run("ask again", "dex", "place-limit", "--side", "ask", "--price", "120", "--qty", "1", *b)
    run("amend down", "dex", "amend", "--order-id", "5", "--qty", "0.5", *a, "--format", "json")
    run("amend cross", "dex", "amend", "--order-id", "6", "--price", "98", *b, "--format", "json")
    run("amend gone", "dex", "amend", "--order-id", "6", "--qty", "2", *b)
    run("amend other's", "dex", "amend", "--order-id", "5", "--qty", "2", *b)
    run("cancel all bids", "dex", "cancel-all", "--side", "bid", *a, "--format", "json")
    run("cancel all table", "dex", "cancel-all", *b)
    run("cancel all bad market", "dex", "cancel-all", "--market", "X/Y", *a)
    run("after cancel all", "dex", "orders", *a, "--format", "json")
    for who, flags in (("alice", a), ("bob", b)):
        run(f"history {who}", "dex", "history", *flags, "--format", "json")
        run(f"history table {who}", "dex", "history", *flags)
    run("history market limit", "dex", "history", "--market", "BASE/USDC", "--limit", "1", *a)
    run("history bad market", "dex", "history", "--market", "X/Y", *a)
    run("history bad limit", "dex", "history", "--limit", "0", *a)
    stop = ("dex", "place-stop", "--side", "ask", "--trigger-price", "90", "--qty", "1")
    run("stop", *stop, "--price", "89", "--client-order-id", "s-1", *b, "--format", "json")
    run("stop again", *stop, "--price", "89", "--client-order-id", "s-1", *b, "--format", "json")
    run("stop market", *stop, *b)
    run("stops", "dex", "stops", *b, "--format", "json")
    run("stops table", "dex", "stops", *b)
    run("cancel stop", "dex", "cancel", "--client-order-id", "s-1", *b, "--format", "json")
    run(
        "stop now", "dex", "place-stop", "--side", "ask", "--trigger-price", "120", "--qty", "1", *b
    )
    to_bank = ("dex", "withdraw", "--token", "USDC", "--amount", "1.5", "--to", "bank:NL91")
    run("withdraw to", *to_bank, *a, "--format", "json")
    run("withdrawals", "dex", "withdrawals", *a, "--format", "json")
    run("withdrawals table", "dex", "withdrawals", *a)
    client = ("dex", "place-limit", "--side", "bid", "--price", "1", "--qty", "1")
    run("client id", *client, "--client-order-id", "c-1", *a, "--format", "json")
    run("client id again", *client, "--client-order-id", "c-1", *a, "--format", "json")
    run("client id bad", *client, "--client-order-id", "no spaces", *a)
    return outputs


@pytest.mark.network
def test_the_cli_over_a_node_prints_what_it_prints_embedded(tmp_path: Path, node: str) -> None:
    embedded = _session(
        Cli.fresh(tmp_path / "embedded"),
        ("--data-dir", str(tmp_path / "data")),
        (),
        ("--data-dir", str(tmp_path / "data")),
    )
    remote = _session(Cli.fresh(tmp_path / "remote"), ("--node", node), ("--node", node), ())
    assert remote == embedded
    assert embedded["ask"][0] == 0
    assert json.loads(embedded["ask"][1])["status"] == "filled"
    assert json.loads(embedded["balance alice"][1])["balances"] == [
        {"token": "BASE", "available": "2", "locked": "0"},
        {"token": "USDC", "available": "600.75", "locked": "199.25"},
    ]
    for label in (
        "too poor",
        "overdraw",
        "past supply",
        "not mine",
        "no such order",
        "bad market",
        "fok",
        "post only",
        "bad tick",
    ):
        code, text = embedded[label]
        assert code == REFUSED, (label, text)
        assert text.startswith("Error: ") and text.count("\n") == 1, (label, text)
    history = json.loads(embedded["history alice"][1])
    assert [(row["order_id"], row["status"], row["reason"]) for row in history["orders"]] == [
        (4, "cancelled", "user"),  # cancel-all, the newest first
        (1, "cancelled", "user"),
        (2, "cancelled", "user"),
    ]
    assert [(row["order_id"], row["role"]) for row in history["fills"]] == [(1, "maker")]
    assert "closed orders" in embedded["history table bob"][1]
    assert embedded["history bad market"][0] == REFUSED
    assert "unknown market 'X/Y'" in embedded["history bad market"][1]
    assert embedded["history bad limit"][0] == USAGE_ERROR
    cancelled = json.loads(embedded["cancel all bids"][1])["cancelled"]
    assert [(row["order_id"], row["status"]) for row in cancelled] == [
        (1, "cancelled"),
        (4, "cancelled"),
    ]
    assert "cancelled orders" in embedded["cancel all table"][1]
    assert embedded["cancel all bad market"][0] == REFUSED
    assert json.loads(embedded["after cancel all"][1]) == {"orders": []}
    assert "insufficient" in embedded["too poor"][1].lower()
    assert "supply past the maximum" in embedded["past supply"][1]
    with httpx2.Client(base_url=node, timeout=10.0) as http:  # the node's own answers agree
        book = http.get("/v1/orderbook", params={"market": "BASE/USDC", "depth": 10}).json()
        trades = http.get("/v1/trades", params={"market": "BASE/USDC", "limit": 20}).json()
        markets = http.get("/v1/markets").json()
    now = Cli.fresh(tmp_path / "now").json("--node", node, "dex", "orderbook", "--format", "json")
    assert now == book  # after the last cancel
    assert json.loads(remote["trades json"][1]) == json.loads(_timeless(json.dumps(trades)))
    assert all(type(trade["time_ns"]) is int for trade in trades["trades"])
    assert json.loads(remote["markets json"][1]) == markets


@pytest.mark.network
def test_node_on_the_command_overrides_and_account_reads_need_the_password(
    tmp_path: Path, node: str
) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    wallet = str(cli.root / "w")
    cli.ok("wallet", "create", "--db-path", wallet, "--password", PASSWORD, "--node", node)
    shown = cli.json("wallet", "show", "--db-path", wallet, "--format", "json")
    assert shown["exchange"] == {"kind": "node", "url": node}
    # --node after the command wins over the one before the group
    dead = f"http://127.0.0.1:{free_port()}"
    book = cli.json("--node", dead, "dex", "orderbook", "--node", node, "--format", "json")
    assert book == {"market": "BASE/USDC", "bids": [], "asks": []}
    # a signed read: no password and no prompt allowed is a usage error, nothing printed
    refused = cli.run("dex", "balance", "--db-path", wallet, "--non-interactive")
    assert_error(refused, USAGE_ERROR, "no password")
    typed = cli.run(
        "dex", "balance", "--db-path", wallet, "--format", "json", stdin=f"{PASSWORD}\n"
    )
    assert typed.returncode == 0, describe(typed)
    assert json.loads(typed.stdout)["balances"][1] == {
        "token": "USDC",
        "available": "0",
        "locked": "0",
    }


@pytest.mark.network
def test_an_unreachable_node_is_one_error_line_naming_its_url(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (
        ("dex", "orderbook", "--node", dead),
        ("--node", dead, "dex", "markets"),
        (
            "wallet",
            "create",
            "--db-path",
            str(cli.root / "w"),
            "--password",
            PASSWORD,
            "--node",
            dead,
        ),
    ):
        assert_error(cli.run(*args), REFUSED, dead)
    assert not (cli.root / "w").exists()  # no key is made for a node that does not answer
