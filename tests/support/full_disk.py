"""A real full disk for tests: a 16 MiB tmpfs mounted in a private mount namespace (`unshare
-m`, as root, which CI is), with a worker module run inside it that fills it and reports one
JSON line on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def on_a_small_disk(
    tmp_path: Path, worker: str, *args: str, timeout_s: float = 180
) -> tuple[dict[str, object], str]:
    """Run `python -m worker MOUNT *args` on a fresh tmpfs at MOUNT; its JSON answer and its
    stderr."""
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=16m tmpfs {mount}"
        f" && {sys.executable} -m {worker} {mount} {' '.join(args)}"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer, done.stderr


FILL_CHUNK = 64 * 1024


def fill(path: Path) -> None:
    """Write `path` until the disk is full."""
    with path.open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * FILL_CHUNK)
                os.fsync(filler.fileno())
        except OSError:
            pass
