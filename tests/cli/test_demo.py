"""Goal: the README's first command works: `tachyon demo` runs a session and ends consistent.
Method: run the installed `tachyon` executable as a subprocess, check exit codes and JSON output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.engines import INSTALLED

TACHYON = shutil.which("tachyon", path=str(Path(sys.executable).parent)) or "tachyon"


def test_demo_json_ends_with_exact_balances() -> None:
    result = subprocess.run(
        [TACHYON, "--format", "json", "demo"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    last = document["steps"][-1]
    balances = {
        owner: {row["token"]: row for row in rows} for owner, rows in last["balances"].items()
    }
    # alice: bought 10 at 100, 2 at 99, 3 at 101 (1000 + 198 + 303 = 1501 USDC spent).
    assert balances["alice"]["BASE"] == {"token": "BASE", "available": "15", "locked": "0"}
    assert balances["alice"]["USDC"] == {"token": "USDC", "available": "998499", "locked": "0"}
    # bob: sold 15, still asks 5 at 101.
    assert balances["bob"]["BASE"] == {"token": "BASE", "available": "5", "locked": "5"}
    assert balances["bob"]["USDC"] == {"token": "USDC", "available": "1501", "locked": "0"}
    assert last["orderbook"] == {
        "market": "BASE/USDC",
        "bids": [],
        "asks": [{"price": "101", "qty": "5"}],
    }
    assert [trade["trade_id"] for trade in document["trades"]] == [3, 2, 1]


def test_demo_table_and_format_after_command() -> None:
    table = subprocess.run([TACHYON, "demo"], capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    assert "invariants hold" in table.stdout
    after = subprocess.run(
        [TACHYON, "demo", "--format", "json"], capture_output=True, text=True, check=False
    )
    assert after.returncode == 0
    assert json.loads(after.stdout)["market"] == "BASE/USDC"


def test_unknown_format_is_a_usage_error() -> None:
    result = subprocess.run(
        [TACHYON, "--format", "yaml", "demo"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "yaml" in result.stderr


def test_engine_chosen_by_environment() -> None:
    env = {**os.environ, "TACHYON_ENGINE": "in_memory"}
    chosen = subprocess.run([TACHYON, "demo"], capture_output=True, text=True, check=False, env=env)
    assert chosen.returncode == 0, chosen.stderr
    env["TACHYON_ENGINE"] = "warp-drive"
    unknown = subprocess.run(
        [TACHYON, "demo"], capture_output=True, text=True, check=False, env=env
    )
    assert unknown.returncode == 1
    available = ", ".join(engine.name for engine in INSTALLED)  # not what tests register
    assert unknown.stderr.strip() == f"Error: unknown engine 'warp-drive'; available: {available}"
    assert unknown.stdout == ""
