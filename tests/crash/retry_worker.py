"""Goal: a real client-and-writer process that places orders with client order ids and can be
SIGKILLed at any moment; restarted, it retries every order it did not see acknowledged.
Method: EmbeddedExchange on a data directory; `ack <index> <order id>` after each commit.

Usage: python -m tests.crash.retry_worker DATA_DIR START COUNT RUN. It also prints `known
<index>` before resending an order the journal already holds (for the test to count). Order `index` is a bid
for one unit named `c<index>`; each run signs afresh (a nonce of its own, as a client that
lost an answer re-signs), so only the client order id can keep a retry from doubling it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Final

from tachyon.dex.model import Side
from tachyon.exchange.commands import Deposit, PlaceOrder
from tachyon.exchange.service import Placement
from tachyon.storage.host import EmbeddedExchange

ACCOUNT: Final = "retrier"
MARKET: Final = "BASE/USDC"
CLOCK_NS: Final = 1_700_000_000_000_000_000  # the exchange's clock, fixed (see tests.crash.worker)
RUN_NONCES: Final = 1_000_000  # nonces each run may use
ACK_LAG_S: Final = 0.002


def order(index: int, run: int) -> PlaceOrder:
    """Order `index` as run `run` signs it: a resting bid, so that a double would show."""
    nonce = CLOCK_NS + run * RUN_NONCES + index + 1
    return PlaceOrder(
        ACCOUNT, MARKET, Side.BID, 1 + index % 50, 1, client_order_id=f"c{index}", nonce=nonce
    )


def main(data_dir: Path, start: int, count: int, run: int) -> None:
    with EmbeddedExchange.open(data_dir, clock=lambda: CLOCK_NS) as host:
        if not host.state.service.balance(ACCOUNT, "USDC").available:  # type: ignore[arg-type]
            host.submit(Deposit(ACCOUNT, "USDC", 10**12))
        _say("open")
        for index in range(start, count):
            if host.state.client_orders.recall(ACCOUNT, f"c{index}", CLOCK_NS):  # type: ignore[arg-type]
                _say(f"known {index}")  # for the test: journaled before, its answer lost
            placement = host.submit(order(index, run))
            assert isinstance(placement, Placement)
            time.sleep(ACK_LAG_S)  # committed, not yet answered: where a kill loses an answer
            _say(f"ack {index} {placement.order_id}")
    _say("done")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    directory, first, total, attempt = sys.argv[1:5]
    main(Path(directory), int(first), int(total), int(attempt))
