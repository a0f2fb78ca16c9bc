"""Goal: a node whose closing snapshot cannot be written (a full disk) says so and exits
non-zero, keeping every acknowledged command.
Method: a real `tachyon node serve` on a 16 MiB tmpfs in a private mount namespace (`unshare
-m`, as root, which CI is): one command, the disk filled, SIGTERM; see full_disk_node_worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.full_disk import on_a_small_disk


@pytest.mark.network
def test_a_failed_closing_snapshot_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    result, _ = on_a_small_disk(tmp_path, "tests.node.full_disk_node_worker")
    assert result["accepted"] == 200
    assert result["returncode"] == 1  # was 0, after "Application shutdown failed"
    lines = str(result["stderr"]).strip().splitlines()
    assert len(lines) == 1, result["stderr"]  # one line, no traceback
    assert lines[0].startswith("Error: the exchange's closing snapshot failed")
    assert "the disk is full" in lines[0]
    assert result["seq"] == 1  # the acknowledged command is kept
