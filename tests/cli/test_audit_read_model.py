"""Goal: `tachyon audit` compares the read model (the view tables) with the replayed journal,
exits 1 naming the table on a mismatch, tells a stale view from a wrong one, and `--repair`
rebuilds it (refusing when the journal fails). Method: real data directories made by the
installed `tachyon` and by EmbeddedExchange, edited with sqlite3, checked through subprocesses."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tachyon.dex.model import Side
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.storage import EmbeddedExchange
from tests.cli.helpers import REFUSED, Cli, assert_error, describe

PASSWORD = "alice-audit-password-3"
USDC_MINOR = 10**6  # USDC has 6 decimals


def _sql(data_dir: Path, statement: str) -> None:
    conn = sqlite3.connect(data_dir / "exchange.db")
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _rows(data_dir: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(data_dir / "exchange.db")
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def _mismatch(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A read model mismatch: exit 1, the report on stdout, one `Error:` line with `needles`."""
    assert result.returncode == REFUSED, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert "mismatch" in result.stdout, describe(result)
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith("Error: read model: "), describe(result)
    for needle in needles:
        assert needle in error, describe(result)
    return error


def _audit_json(cli: Cli, *options: str) -> tuple[int, dict[str, Any]]:
    result = cli.run("audit", *options, "--format", "json")
    assert "Traceback" not in result.stderr, describe(result)
    return result.returncode, json.loads(result.stdout)


def _alice(cli: Cli) -> tuple[str, ...]:
    """A wallet with 1,000 USDC and a resting bid of 2 BASE at 100 (200 USDC locked)."""
    signed = ("--db-path", "~/alice", "--password", PASSWORD, "--format", "json")
    cli.ok("wallet", "create", *signed)
    cli.ok("dex", "deposit", "--token", "USDC", "--amount", "1000", *signed)
    cli.ok("dex", "place-limit", "--side", "bid", "--price", "100", "--qty", "2", *signed)
    return signed


def _usdc(cli: Cli) -> dict[str, str]:
    balances: list[dict[str, str]] = cli.balance("~/alice")["balances"]
    (usdc,) = [row for row in balances if row["token"] == "USDC"]
    return usdc


def test_a_clean_directory_audits_ok(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    _alice(cli)
    code, report = _audit_json(cli)
    assert code == 0
    assert (report["read_model"], report["read_model_differences"]) == ("ok", [])
    assert report["read_model_seq"] == report["entries"]


def test_an_edited_balance_is_reported_and_repaired(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    _alice(cli)
    assert _usdc(cli) == {"token": "USDC", "available": "800", "locked": "200"}
    _sql(
        cli.exchange_dir,
        f"UPDATE view_balances SET available = {999_999 * USDC_MINOR} WHERE token = 'USDC'",
    )
    assert _usdc(cli)["available"] == "999999"  # the CLI reads the read model
    error = _mismatch(cli.run("audit"), "read model: view_balances differs")
    assert f"available={999_999 * USDC_MINOR}" in error
    assert f"available={800 * USDC_MINOR}" in error
    assert "tachyon audit --repair" in error
    code, report = _audit_json(cli)
    assert (code, report["read_model"]) == (REFUSED, "mismatch")
    assert report["read_model_differences"][0].startswith("view_balances differs")
    # Audit without --repair wrote nothing: the row is still wrong.
    assert _usdc(cli)["available"] == "999999"
    code, repaired = _audit_json(cli, "--repair")
    assert (code, repaired["read_model"]) == (0, "ok")
    assert repaired["state_hash"] == report["state_hash"]
    assert _usdc(cli) == {"token": "USDC", "available": "800", "locked": "200"}
    assert _audit_json(cli)[0] == 0


def test_a_fake_level_is_reported_and_repaired(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path)
    _alice(cli)
    true_book = cli.book()
    assert true_book["bids"] == [{"price": "100", "qty": "2"}]
    _sql(cli.exchange_dir, "INSERT INTO view_levels VALUES ('BASE/USDC', 'ask', 101000000, 7)")
    assert cli.book()["asks"] != []  # the fake level shows
    _mismatch(cli.run("audit"), "view_levels differs", "side=ask", "no row in the state")
    assert cli.ok("audit", "--repair") != ""
    assert cli.book() == true_book


def _write(data_dir: Path) -> None:
    clock = iter(range(1, 1_000)).__next__
    with EmbeddedExchange.open(data_dir, clock=clock) as exchange:
        exchange.submit(Deposit("alice", "USDC", 10_000))
        exchange.submit(Deposit("bob", "BASE", 50))
        exchange.submit(PlaceLimit("alice", "BASE/USDC", Side.BID, 100, 10))
        exchange.submit(PlaceLimit("bob", "BASE/USDC", Side.ASK, 100, 4))


def _audit_dir(cli: Cli, data_dir: Path, *options: str) -> tuple[int, dict[str, Any]]:
    return _audit_json(cli, "--data-dir", str(data_dir), *options)


def test_a_stale_view_is_stale_not_a_mismatch(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    data_dir = tmp_path / "data"
    _write(data_dir)
    _sql(data_dir, "UPDATE view_balances SET available = 1 WHERE account = 'alice'")
    for seq in ("NULL", "3"):  # an upgraded file; a view behind the journal
        _sql(data_dir, f"UPDATE view_meta SET seq = {seq}")
        code, report = _audit_dir(cli, data_dir)
        assert (code, report["read_model"], report["read_model_differences"]) == (0, "stale", [])
    code, report = _audit_dir(cli, data_dir, "--repair")
    assert (code, report["read_model"], report["read_model_seq"]) == (0, "ok", 4)
    assert ("alice", "USDC", 9000, 600, 0) in _rows(data_dir, "view_balances")


def test_a_view_ahead_of_the_journal_is_a_mismatch(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    _write(tmp_path / "data")
    _sql(tmp_path / "data", "UPDATE view_meta SET seq = 9")
    code, report = _audit_dir(cli, tmp_path / "data")
    assert (code, report["read_model"]) == (REFUSED, "mismatch")
    assert "sequence 9, the journal ends at 4" in report["read_model_differences"][0]


def test_trades_are_checked_against_the_entries_that_made_them(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    data_dir = tmp_path / "data"
    _write(data_dir)
    (trade,) = _rows(data_dir, "view_trades")
    assert trade[:10] == ("BASE/USDC", 1, 100, 4, 1, 2, "alice", "bob", "ask", 4)
    edits = {
        "UPDATE view_trades SET qty = 5": "qty=5",  # a wrong field
        "UPDATE view_trades SET seq = 3": "seq=3",  # not the entry that made it
        "INSERT INTO view_trades VALUES"
        " ('BASE/USDC', 2, 1, 1, 1, 2, 'a', 'b', 'ask', NULL, NULL, NULL, NULL)": "trade_id=2 has",
        "DELETE FROM view_trades": "trade_id=1 has no row in the view",  # the engine holds it
        "UPDATE view_trades SET maker_fee = 7": "maker_fee=7",  # not the fee it paid
    }
    for edit, needle in edits.items():
        _sql(data_dir, edit)
        code, report = _audit_dir(cli, data_dir)
        assert (code, report["read_model"]) == (REFUSED, "mismatch"), edit
        assert any(needle in line for line in report["read_model_differences"]), report
        assert _audit_dir(cli, data_dir, "--repair")[1]["read_model"] == "ok"
        assert _rows(data_dir, "view_trades")[0][:9] == trade[:9]


def test_history_is_checked_against_the_journal_and_repair_records_it_all(
    tmp_path: Path,
) -> None:
    """A history row that is there must be the journal's; one the view never recorded (a
    NULL time or fee, a missing closed order) is no fault, and `--repair` records it."""
    cli = Cli.fresh(tmp_path / "cli")
    data_dir = tmp_path / "data"
    _write(data_dir)
    history = {table: _rows(data_dir, table) for table in ("view_closed_orders", "view_orders")}
    trades = _rows(data_dir, "view_trades")
    times = {row[0]: row[1] for row in _rows(data_dir, "journal")}
    assert history["view_closed_orders"] == [  # bob's ask, filled by alice's resting bid
        ("bob", 4, 2, "BASE/USDC", "ask", 100, 4, 4, "filled", None, times[4], times[4])
    ]
    assert [row[-1] for row in history["view_orders"]] == [times[3]]  # alice's bid
    assert trades[0][9:11] == (4, times[4])  # made by entry 4 at its time
    wrong = {
        "UPDATE view_closed_orders SET filled = 3": "filled=3",
        "UPDATE view_closed_orders SET ts_ns = 1": "ts_ns=1",
        "INSERT INTO view_closed_orders VALUES"
        " ('alice', 9, 77, 'BASE/USDC', 'bid', 1, 1, 0, 'cancelled', 'user', NULL, 5)": (
            "order_id=77"
        ),
        "UPDATE view_orders SET ts_ns = 1": f"ts_ns=1 in the view, {times[3]} in the journal",
    }
    for edit, needle in wrong.items():
        _sql(data_dir, edit)
        code, report = _audit_dir(cli, data_dir)
        assert (code, report["read_model"]) == (REFUSED, "mismatch"), edit
        assert any(needle in line for line in report["read_model_differences"]), report
        assert _audit_dir(cli, data_dir, "--repair")[1]["read_model"] == "ok"
        assert {table: _rows(data_dir, table) for table in history} == history
    for unrecorded in (
        "DELETE FROM view_closed_orders",
        "UPDATE view_orders SET ts_ns = NULL",
        "UPDATE view_trades SET maker_fee = NULL, taker_fee = NULL",
    ):
        _sql(data_dir, unrecorded)
        code, report = _audit_dir(cli, data_dir)
        assert (code, report["read_model"]) == (0, "ok"), (unrecorded, report)
    assert _audit_dir(cli, data_dir, "--repair")[1]["read_model"] == "ok"
    assert {table: _rows(data_dir, table) for table in history} == history
    assert _rows(data_dir, "view_trades") == trades


def test_repair_refuses_a_journal_that_fails_and_changes_nothing(tmp_path: Path) -> None:
    cli = Cli.fresh(tmp_path / "cli")
    data_dir = tmp_path / "data"
    _write(data_dir)
    _sql(data_dir, "UPDATE view_balances SET available = 1 WHERE account = 'alice'")
    _sql(data_dir, "UPDATE journal SET ts_ns = ts_ns + 1 WHERE seq = 2")
    before = {table: _rows(data_dir, table) for table in ("view_balances", "view_meta")}
    result = cli.run("audit", "--repair", "--data-dir", str(data_dir))
    assert_error(result, REFUSED, "journal entry 2 fails its checksum")
    assert {table: _rows(data_dir, table) for table in before} == before
