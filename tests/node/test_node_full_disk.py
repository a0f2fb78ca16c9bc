"""Goal: a node whose closing snapshot cannot be written (a full disk) says so and exits
non-zero, keeping every acknowledged command.
Method: a real `tachyon node serve` on a 16 MiB tmpfs in a private mount namespace (`unshare
-m`, as root, which CI is): one command, the disk filled, SIGTERM; see full_disk_node_worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.network
def test_a_failed_closing_snapshot_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=16m tmpfs {mount}"
        f" && {sys.executable} -m tests.node.full_disk_node_worker {mount}"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["accepted"] == 200
    assert result["returncode"] == 1  # was 0, after "Application shutdown failed"
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, result["stderr"]  # one line, no traceback
    assert lines[0].startswith("Error: the exchange's closing snapshot failed")
    assert "the disk is full" in lines[0]
    assert result["seq"] == 1  # the acknowledged command is kept
