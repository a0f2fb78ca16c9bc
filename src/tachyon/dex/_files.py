"""The seed's engine save/load helpers: the one place in `tachyon.dex` that touches files.

Imported only when `save_to_path` / `load_from_path` is called, so matching never does I/O.
Writes go to a temporary file in the same directory, are fsynced, then renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from tachyon.dex.model import MarketConfig
from tachyon.errors import CorruptData

FORMAT: str = "tachyon.in_memory_engine"
VERSION: int = 1


def save_engine_state(path: str, config: MarketConfig, state: dict[str, object]) -> None:
    document = {"format": FORMAT, "version": VERSION, "market": config.market_id, "state": state}
    data = json.dumps(document, separators=(",", ":")).encode()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def corrupt(path: str, problem: str) -> CorruptData:
    return CorruptData(f"{path}: {problem}")


def load_engine_state(path: str, config: MarketConfig) -> dict[str, Any]:
    with open(path, "rb") as file:
        raw = file.read()
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(path, f"not an engine file ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise corrupt(path, f"not an engine file (format is not {FORMAT!r})")
    if document.get("version") != VERSION:
        raise corrupt(
            path, f"engine file version {document.get('version')!r}, this code reads {VERSION}"
        )
    if document.get("market") != config.market_id:
        raise corrupt(path, f"holds market {document.get('market')!r}, not {config.market_id}")
    state = document.get("state")
    if not isinstance(state, dict):
        raise corrupt(path, "engine file has no state")
    return state
