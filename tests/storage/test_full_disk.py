"""Goal: a command answered after its commit keeps its answer when the snapshot after it cannot
be written (a full disk): the caller is told it applied, and it did.
Method: a real full disk: a 16 MiB tmpfs in a private mount namespace (`unshare -m`, as root,
which CI is), filled but for room for one commit; `tests.storage.full_disk_worker` submits an
order while a snapshot is due and reports what it was told and what a reopen finds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_command_before_it(
    tmp_path: Path,
) -> None:
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=16m tmpfs {mount}"
        f" && {sys.executable} -m tests.storage.full_disk_worker {mount}"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["placed"] is True, answer  # it was, and the caller is told so
    assert answer["failures"] == 1
    assert answer["open_after_reopen"] is True  # durable, as the answer said
    assert answer["seq"] == 4_002  # the deposit, 4,000 orders and this one
    assert "could not write a snapshot at sequence 4002" in done.stderr
    assert "database or disk is full" in done.stderr  # the real error, not a ROLLBACK's
