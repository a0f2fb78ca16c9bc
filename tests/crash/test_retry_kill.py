"""Goal: a client that loses answers to kill -9 and retries every order it did not see
acknowledged (re-signed, under the same client order id) never places an order twice.
Method: a real worker process placing orders on one data directory, SIGKILLed at random
points; each restart resends from the first order without an ack; the final state is checked
order by order."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest

from tachyon.dex.ids import AccountId
from tachyon.storage.host import EmbeddedExchange
from tests.crash.helpers import ROOT
from tests.crash.retry_worker import ACCOUNT, CLOCK_NS

COUNT: Final = 1_000
KILLS: Final = 12
WAIT_S: Final = 60.0


def _run(
    data_dir: Path, start: int, run: int, kill_after: int | None, delay_s: float = 0.0
) -> tuple[list[tuple[int, int]], bool, int]:
    """Start a worker from `start`; SIGKILL it once it has acknowledged `kill_after` orders
    (None: let it finish) and `delay_s` more; the acks (index, order id) it printed before it ended, and
    whether the kill landed before it finished, and how many orders it resent that the
    journal held already."""
    command = [sys.executable, "-m", "tests.crash.retry_worker", str(data_dir), str(start)]
    proc = subprocess.Popen(
        [*command, str(COUNT), str(run)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    if kill_after is not None:
        while len(lines) < kill_after + 1:  # "open", then acks
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        time.sleep(delay_s)  # into the next commit, or into the pause after it
        proc.kill()
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode in (0, -9), err
    acks: list[tuple[int, int]] = []
    known = 0
    for line in [*lines, *out.splitlines()]:
        word, *rest = line.split()
        known += word == "known"
        if word == "ack":
            index, order_id = map(int, rest)
            acks.append((index, order_id))
    return acks, proc.returncode == -9, known


@pytest.mark.slow
def test_retried_orders_with_client_ids_exist_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("TACHYON_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    data_dir = tmp_path / "exchange"
    acked: dict[int, int] = {}  # order index -> the order id its ack gave
    start = run = kills = recalled = 0
    began = time.monotonic()
    while start < COUNT:
        run += 1
        kill_after = None if run > KILLS else rng.randrange(COUNT // KILLS)
        acks, killed, known = _run(data_dir, start, run, kill_after, rng.uniform(0, 0.004))
        kills += killed
        recalled += known
        assert [index for index, _ in acks] == list(range(start, start + len(acks)))
        for index, order_id in acks:
            assert acked.setdefault(index, order_id) == order_id, (
                f"seed {seed}: order {index} answered {order_id}, before {acked[index]}"
            )
        start += len(acks)  # the client resends from the first order it saw no answer to
    assert kills == KILLS, f"seed {seed}: only {kills} kills landed"
    assert recalled, f"seed {seed}: no kill landed between a commit and its answer"
    with EmbeddedExchange.open(data_dir) as host:
        state = host.refresh()
        state.check_invariants()
        open_ids = sorted(o.order.order_id for o in state.service.open_orders(AccountId(ACCOUNT)))
        assert len(open_ids) == COUNT, f"seed {seed}: {len(open_ids)} orders for {COUNT}"
        assert open_ids == sorted(acked.values())  # each order once, as acknowledged
        for index, order_id in acked.items():
            remembered = state.client_orders.recall(AccountId(ACCOUNT), f"c{index}", CLOCK_NS)
            assert remembered is not None and remembered.order_id == order_id
    sys.stdout.write(
        f"seed={seed} runs={run} kills={kills} recalled={recalled} time={time.monotonic() - began:.1f}s\n"
    )
