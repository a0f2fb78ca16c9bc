"""A real read-only data directory for tests: a command run in a private mount namespace
(`unshare -m`, as root, which CI is: root ignores permission bits, not a read-only mount) in
which the directory is a read-only bind mount of itself. Outside the command nothing changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

_MOUNT_THEN_RUN: Final = (
    'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
)


def read_only_argv(directory: Path, argv: Sequence[str]) -> list[str]:
    """`argv` run where `directory` is mounted read-only (the mount's error, if any, on its
    stderr and a non-zero exit)."""
    return ["unshare", "-m", "sh", "-c", _MOUNT_THEN_RUN, "sh", str(directory), *argv]
