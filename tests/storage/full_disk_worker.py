"""Run inside a private mount namespace whose DATA_DIR is a small tmpfs (see test_full_disk):
build a state whose snapshot is large, fill the disk but for room for one more commit, then
submit an order while a snapshot is due. Prints one JSON line of what happened."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from tachyon.dex.ids import AccountId
from tachyon.dex.model import Side
from tachyon.errors import TachyonError
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.exchange.service import Placement
from tachyon.storage import EmbeddedExchange
from tests.support.full_disk import fill

ORDERS = 4_000
ROOM_BYTES = 96 * 1024  # room for one small commit's WAL frames, not for a snapshot


def no_room(data_dir: Path) -> None:
    """A disk with no room at all: the commit fails, and is reported as a full disk."""
    exchange_dir = data_dir / "exchange"
    host = EmbeddedExchange.open(exchange_dir, snapshot_every=10**9, snapshot_interval_s=10**6)
    host.submit(Deposit("alice", "USDC", 10**12))
    filler = data_dir / "filler"
    fill(filler)
    answer: dict[str, object] = {}
    try:
        host.submit_batch(
            [PlaceLimit("alice", "BASE/USDC", Side.BID, 1 + n, 1) for n in range(1_000)]
        )
    except TachyonError as exc:
        answer["error"] = exc.code
        answer["message"] = str(exc)
    answer["seq_in_memory"] = host.seq  # back to what the disk holds
    host.close(snapshot=False)
    filler.unlink()
    with EmbeddedExchange.open(exchange_dir) as reopened:
        answer["seq"] = reopened.seq
    sys.stdout.write(json.dumps(answer) + "\n")


def main(data_dir: Path) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    exchange_dir = data_dir / "exchange"
    host = EmbeddedExchange.open(exchange_dir, snapshot_every=10**9, snapshot_interval_s=10**6)
    host.submit(Deposit("alice", "USDC", 10**12))
    for start in range(0, ORDERS, 500):
        host.submit_batch(
            [
                PlaceLimit("alice", "BASE/USDC", Side.BID, 1 + n, 1)
                for n in range(start, start + 500)
            ]
        )
    host.close(snapshot=False)
    filler = data_dir / "filler"
    fill(filler)
    with filler.open("r+b") as handle:  # give back just enough for one commit
        handle.truncate(filler.stat().st_size - ROOM_BYTES)
    host = EmbeddedExchange.open(exchange_dir, snapshot_every=10**9, snapshot_interval_s=0)
    answer: dict[str, object]
    try:
        placed = host.submit(PlaceLimit("alice", "BASE/USDC", Side.BID, ORDERS + 5, 1))
        answer = {"placed": isinstance(placed, Placement), "failures": host.snapshot_failures}
        answer["order_id"] = placed.order_id if isinstance(placed, Placement) else None
    except Exception as exc:  # what the caller would be told: the test shows it
        answer = {"placed": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        host.close(snapshot=False)
    filler.unlink()
    with EmbeddedExchange.open(exchange_dir) as reopened:
        open_ids = {owned.order.order_id for owned in reopened.open_orders(AccountId("alice"))}
        answer["open_after_reopen"] = answer.get("order_id") in open_ids
        answer["seq"] = reopened.seq
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    (main if sys.argv[2] == "snapshot" else no_room)(Path(sys.argv[1]))
