"""Goal: `tachyon audit` verifies a data directory, prints deterministic hashes, and refuses a
damaged or missing one with a message and exit 1. Method: the installed executable as a
subprocess over a directory written by EmbeddedExchange, damaged with raw SQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tachyon.dex.model import Side
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.storage import EmbeddedExchange

TACHYON = shutil.which("tachyon", path=str(Path(sys.executable).parent)) or "tachyon"


def _audit(data_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TACHYON, *options, "audit", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )


def _write(data_dir: Path) -> str:
    clock = iter(range(1, 1_000)).__next__
    with EmbeddedExchange.open(data_dir, clock=clock, snapshot_every=3) as exchange:
        exchange.submit(Deposit("alice", "USDC", 10_000))
        exchange.submit(Deposit("bob", "BASE", 50))
        exchange.submit(PlaceLimit("alice", "BASE/USDC", Side.BID, 100, 10))
        exchange.submit(PlaceLimit("bob", "BASE/USDC", Side.ASK, 100, 4))
        return exchange.refresh().state_hash()


def test_audit_json_reports_the_replayed_state_and_is_deterministic(tmp_path: Path) -> None:
    state_hash = _write(tmp_path / "a")
    first = _audit(tmp_path / "a", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["entries"] == 4
    assert report["state_hash"] == state_hash
    assert report["snapshot_seq"] == 4  # written on close
    assert report["snapshot_matches"] is True
    assert len(report["head_hash"]) == 64
    assert _audit(tmp_path / "a", "--format", "json").stdout == first.stdout
    # The same commands at the same times elsewhere give the same hashes.
    _write(tmp_path / "b")
    again = json.loads(_audit(tmp_path / "b", "--format", "json").stdout)
    assert (again["head_hash"], again["state_hash"]) == (report["head_hash"], state_hash)


def test_audit_table_shows_both_hashes(tmp_path: Path) -> None:
    state_hash = _write(tmp_path)
    result = _audit(tmp_path)
    assert result.returncode == 0, result.stderr
    assert state_hash in result.stdout
    assert "snapshot_matches" in result.stdout


def test_audit_refuses_a_broken_chain_naming_the_entry(tmp_path: Path) -> None:
    _write(tmp_path)
    conn = sqlite3.connect(tmp_path / "exchange.db")
    conn.execute("UPDATE journal SET ts_ns = ts_ns + 1 WHERE seq = 2")
    conn.commit()
    conn.close()
    result = _audit(tmp_path)
    assert result.returncode == 1
    assert "journal entry 2 fails its checksum" in result.stderr
    assert "exchange.db" in result.stderr


def test_audit_of_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    result = _audit(tmp_path / "nothing-here")
    assert result.returncode == 1
    assert "no exchange database at" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nothing-here").exists()
