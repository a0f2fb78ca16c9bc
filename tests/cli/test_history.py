"""Goal: every trade and order the CLI shows carries its time (the journal time of its command:
`time_ns` in JSON, ISO 8601 UTC in tables) and every fill its fee, maker and taker, under fees
an operator set; `dex history` lists a wallet's closed orders and fills newest first, by
market and limit, refusing an unknown market and a bad limit; it says the same over a node as
embedded, and after the read model is rebuilt. Method: the installed `tachyon` as a subprocess
in a fresh HOME, on an embedded data directory and on a real `tachyon node serve`; times are
checked against the journal read with sqlite3."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Final

import pytest

from tests.cli.helpers import (
    ISO_TIME,
    REFUSED,
    USAGE_ERROR,
    Cli,
    assert_error,
    iso,
    journal_times,
    table_headers,
    table_rows,
)
from tests.support.node_process import serving

PASSWORD: Final = "history-password-1"
TIME_NS: Final = re.compile(r'"((?:closed_)?time_ns)": ?[0-9]+')


def _timeless(text: str) -> str:
    text = TIME_NS.sub(lambda match: f'"{match[1]}": "T"', text)
    return ISO_TIME.sub(lambda match: "T" * len(match[0]), text)


class Venue:
    """An operator (fees 10 bps maker, 25 bps taker on BASE/USDC; ETH/USDC listed), alice and
    bob, on the exchange `where` names (`--data-dir D` or `--node URL`)."""

    def __init__(self, cli: Cli, where: tuple[str, ...]) -> None:
        self.cli = cli
        self.where = where
        self.names: dict[str, str] = {}
        for name in ("op", "alice", "bob"):
            created = self.json("wallet", "create", *self.signed(name), *where)
            self.names[created["address"]] = name.upper()
        op = self.signed("op")
        self.json("admin", "init", *op)
        self.json("admin", "fees", "set", "--market", "BASE/USDC", "--maker-bps", "10", "--taker-bps", "25", *op)  # fmt: skip
        self.json("admin", "token", "add", "--symbol", "ETH", "--decimals", "8", *op)
        self.json("admin", "market", "add", "--market", "ETH/USDC", "--tick", "0.01", "--lot", "0.001", "--min-qty", "0.01", *op)  # fmt: skip

    def signed(self, name: str) -> tuple[str, ...]:
        return ("--db-path", str(self.cli.root / name), "--password", PASSWORD)

    def json(self, *args: str) -> Any:
        return self.cli.json(*args, "--format", "json")

    def text(self, *args: str) -> str:
        """A command's output (or error), with addresses as names and times as placeholders."""
        result = self.cli.run(*args)
        text = result.stdout + result.stderr
        for address, name in self.names.items():
            text = text.replace(address, name)
        return f"exit {result.returncode}\n{_timeless(text)}"


def _trade(venue: Venue) -> dict[str, Any]:
    """alice rests a bid that bob's market ask partly fills; bob's ETH ask filled by alice;
    alice cancels her bid, then an IOC bid finds nothing. The answers, by step."""
    alice, bob = venue.signed("alice"), venue.signed("bob")
    venue.json("dex", "deposit-usdc", "--amount", "10000", *alice)
    venue.json("dex", "deposit-base", "--amount", "25", *bob)
    venue.json("dex", "deposit", "--token", "ETH", "--amount", "1", *bob)
    eth = ("--market", "ETH/USDC", "--price", "2000", "--qty", "0.5")
    steps = {
        "bid": ("place-limit", "--side", "bid", "--price", "100", "--qty", "10", *alice),
        "ask": ("place-market", "--side", "ask", "--qty", "4", *bob),
        "eth ask": ("place-limit", "--side", "ask", *eth, *bob),
        "eth bid": ("place-limit", "--side", "bid", *eth, *alice),
        "cancel": ("cancel", "--order-id", "1", *alice),
        "ioc": ("place-limit", "--side", "bid", "--price", "90", "--qty", "1", "--tif", "ioc", *alice),
    }  # fmt: skip
    return {name: venue.json("dex", *args) for name, args in steps.items()}


def _reads(venue: Venue) -> dict[str, str]:
    """Everything a wallet reads of its trades, orders and history, as printed."""
    alice, bob = venue.signed("alice"), venue.signed("bob")
    reads = {}
    for fmt in ("json", "table"):
        reads[f"trades {fmt}"] = venue.text("dex", "trades", *alice, "--format", fmt)
        reads[f"orders {fmt}"] = venue.text("dex", "orders", *bob, "--format", fmt)
        for who, flags in (("alice", alice), ("bob", bob)):
            reads[f"history {who} {fmt}"] = venue.text("dex", "history", *flags, "--format", fmt)
    reads["history market"] = venue.text("dex", "history", "--market", "BASE/USDC", *alice, "--format", "json")  # fmt: skip
    reads["history limit"] = venue.text("dex", "history", "--limit", "1", *alice, "--format", "json")  # fmt: skip
    return reads


@pytest.fixture
def embedded(tmp_path: Path) -> tuple[Venue, Path]:
    data_dir = tmp_path / "data"
    return Venue(Cli.fresh(tmp_path / "cli"), ("--data-dir", str(data_dir))), data_dir


def test_trades_and_orders_carry_their_times_and_every_fill_its_fees(
    embedded: tuple[Venue, Path],
) -> None:
    venue, data_dir = embedded
    steps = _trade(venue)
    times = journal_times(data_dir)
    ask = steps["ask"]
    assert ask["time_ns"] == times[-5]  # then the ETH ask and bid, the cancel and the IOC
    assert steps["bid"]["time_ns"] == times[-6]
    (fill,) = ask["trades"]
    # 4 BASE at 100 USDC: 400 USDC, 10 bps to the maker and 25 to the taker
    assert (fill["maker_fee"], fill["taker_fee"], fill["time_ns"]) == ("0.4", "1", times[-5])
    trades = venue.json("dex", "trades", *venue.signed("bob"))["trades"]
    assert trades == ask["trades"]
    table = venue.cli.ok("dex", "trades", "--data-dir", str(data_dir))
    assert table_rows(table) == [[iso(times[-5]), "1", "100", "4", "1", "2", "ask", "0.4", "1"]]
    assert table_headers(table)[0][-2:] == ["maker fee USDC", "taker fee USDC"]
    (eth_trade,) = venue.json("dex", "trades", "--market", "ETH/USDC", *venue.signed("bob"))[
        "trades"
    ]
    assert (eth_trade["maker_fee"], eth_trade["taker_fee"]) == ("0", "0")  # no fees set there
    assert steps["cancel"]["time_ns"] == times[-2] and steps["ioc"]["time_ns"] == times[-1]


def test_history_lists_closed_orders_and_fills_newest_first(embedded: tuple[Venue, Path]) -> None:
    venue, data_dir = embedded
    steps = _trade(venue)
    times = journal_times(data_dir)
    alice = venue.signed("alice")
    past = venue.json("dex", "history", *alice)
    placed, cancelled, ioc = steps["bid"]["time_ns"], times[-2], times[-1]
    eth = steps["eth bid"]["time_ns"]
    assert past["orders"] == [
        {
            "order_id": 5,
            "market": "BASE/USDC",
            "side": "bid",
            "price": "90",
            "qty": "1",
            "filled_qty": "0",
            "status": "cancelled",
            "reason": "unfilled",
            "time_ns": ioc,
            "closed_time_ns": ioc,
        },
        {
            "order_id": 1,
            "market": "BASE/USDC",
            "side": "bid",
            "price": "100",
            "qty": "10",
            "filled_qty": "4",
            "status": "cancelled",
            "reason": "user",
            "time_ns": placed,
            "closed_time_ns": cancelled,
        },
        {
            "order_id": 4,
            "market": "ETH/USDC",
            "side": "bid",
            "price": "2000",
            "qty": "0.5",
            "filled_qty": "0.5",
            "status": "filled",
            "reason": None,
            "time_ns": eth,
            "closed_time_ns": eth,
        },
    ]
    assert [(f["market"], f["order_id"], f["role"], f["fee"], f["time_ns"]) for f in past["fills"]] == [
        ("ETH/USDC", 4, "taker", "0", eth),
        ("BASE/USDC", 1, "maker", "0.4", steps["ask"]["time_ns"]),
    ]  # fmt: skip
    bob = venue.json("dex", "history", *venue.signed("bob"))
    assert [(f["order_id"], f["side"], f["role"], f["fee"]) for f in bob["fills"]] == [
        (3, "ask", "maker", "0"),
        (2, "ask", "taker", "1"),
    ]
    assert [(o["order_id"], o["status"]) for o in bob["orders"]] == [(3, "filled"), (2, "filled")]
    by_market = venue.json("dex", "history", "--market", "BASE/USDC", *alice)
    assert by_market == {"orders": past["orders"][:2], "fills": past["fills"][1:]}
    assert venue.json("dex", "history", "--limit", "1", *alice) == {
        "orders": past["orders"][:1],
        "fills": past["fills"][:1],
    }
    table = venue.cli.ok("dex", "history", *alice)
    assert table_headers(table) == [
        ["closed", "order", "market", "side", "price", "qty", "filled", "status", "reason"],
        ["time", "trade", "market", "order", "side", "role", "price", "qty", "fee", "fee token"],
    ]
    rows = table_rows(table)
    assert rows[0] == [iso(ioc), "5", "BASE/USDC", "bid", "90", "1", "0", "cancelled", "unfilled"]
    assert rows[-1][:6] == [iso(steps["ask"]["time_ns"]), "1", "BASE/USDC", "1", "bid", "maker"]
    assert all(ISO_TIME.fullmatch(row[0]) for row in rows)


def test_a_new_exchange_has_an_empty_history(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    wallet = ("--db-path", str(tmp_path / "w"), "--password", PASSWORD, "--format", "json")
    cli.json("wallet", "create", *wallet)  # the exchange is made, nothing journaled
    assert cli.json("dex", "history", *wallet) == {"orders": [], "fills": []}


def test_history_refuses_an_unknown_market_and_a_bad_limit(embedded: tuple[Venue, Path]) -> None:
    venue, _ = embedded
    alice = venue.signed("alice")
    assert venue.json("dex", "history", *alice) == {"orders": [], "fills": []}
    unknown = venue.cli.run("dex", "history", "--market", "X/Y", *alice)
    assert_error(unknown, REFUSED, "unknown market 'X/Y'", "BASE/USDC, ETH/USDC")
    for limit in ("0", "1001", "-3", "many"):
        bad = venue.cli.run("dex", "history", "--limit", limit, *alice)
        assert_error(bad, USAGE_ERROR, "--limit")


def test_a_rebuilt_read_model_still_answers(embedded: tuple[Venue, Path]) -> None:
    """Marked stale (as after an upgrade), the read model is rebuilt by the next write, or by
    `audit --repair`; either way trades, orders and history read as before."""
    venue, data_dir = embedded
    _trade(venue)
    before = _reads(venue)
    for rebuild in ("write", "repair"):
        conn = sqlite3.connect(data_dir / "exchange.db")
        conn.execute("UPDATE view_meta SET seq = NULL")
        conn.commit()
        conn.close()
        refused = venue.cli.run("dex", "history", *venue.signed("alice"))
        assert_error(refused, REFUSED, "read model", "behind the journal", "--repair")
        if rebuild == "write":  # a deposit of carol's: a full rebuild in its commit
            venue.json("wallet", "create", *venue.signed("carol"), *venue.where)
            venue.json("dex", "deposit-usdc", "--amount", "1", *venue.signed("carol"))
        else:
            report = json.loads(venue.cli.ok("audit", "--repair", "--data-dir", str(data_dir), "--format", "json"))  # fmt: skip
            assert report["read_model"] == "ok", report
        assert _reads(venue) == before, rebuild


@pytest.mark.network
def test_over_a_node_the_cli_says_what_it_says_embedded(tmp_path: Path) -> None:
    embedded = Venue(Cli.fresh(tmp_path / "e"), ("--data-dir", str(tmp_path / "data")))
    embedded_steps = _trade(embedded)
    with serving(Cli.fresh(tmp_path / "server"), tmp_path / "node-data") as url:
        remote = Venue(Cli.fresh(tmp_path / "r"), ("--node", url))
        remote_steps = _trade(remote)
        remote_reads = _reads(remote)
        times = journal_times(tmp_path / "node-data")
    assert remote_reads == _reads(embedded)
    assert json.loads(_timeless(json.dumps(remote_steps))) == json.loads(
        _timeless(json.dumps(embedded_steps))
    )
    assert remote_steps["ask"]["time_ns"] == times[-5]  # the node's journal time
    assert remote_steps["ask"]["trades"][0]["taker_fee"] == "1"
