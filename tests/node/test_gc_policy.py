"""Goal: the node keeps the garbage collector off the exchange's state without leaking a state
it drops. Method: `StateFreezer` against the interpreter's real collector (freeze counts, and
weak references to objects held only by a cycle); then a node in-process whose orders make
it freeze again, and which leaves the collector unfrozen when it stops."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tachyon.dex import Side
from tachyon.exchange.commands import Deposit, PlaceLimit
from tachyon.node import create_app
from tachyon.node.gc_policy import StateFreezer
from tests.node.support import MARKET, USDC, Trader


class _State:
    """Freed only by the collector: it refers to itself."""

    def __init__(self) -> None:
        self.cycle = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_moves_what_is_alive_out_of_the_collectors_reach() -> None:
    freezer = StateFreezer(_State)
    freezer.freeze()
    assert gc.get_freeze_count() > 0
    # What is frozen is not collected, even once it is garbage: the reason a dropped state
    # must be unfrozen (next test).
    frozen = _State()
    gc.freeze()
    lost = weakref.ref(frozen)
    del frozen
    gc.collect()
    assert lost() is not None


def test_commits_freeze_again_every_so_many_commands() -> None:
    state = _State()
    freezer = StateFreezer(lambda: state, every=3)
    freezer.freeze()
    frozen = gc.get_freeze_count()
    kept = [_State() for _ in range(100)]  # alive, created since the freeze
    freezer.on_commit(2)
    assert gc.get_freeze_count() == frozen
    freezer.on_commit(1)
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_a_replaced_state_is_unfrozen_and_collected_at_the_next_commit() -> None:
    holder = {"state": _State()}
    freezer = StateFreezer(lambda: holder["state"], every=1_000)
    freezer.freeze()
    dropped = weakref.ref(holder["state"])
    holder["state"] = _State()  # as the host does when it reloads after a failed commit
    gc.collect()
    assert dropped() is not None  # frozen: the collector cannot free it yet
    freezer.on_commit(1)
    assert dropped() is None
    assert gc.get_freeze_count() > 0  # and the new state is frozen in its turn


def test_the_node_freezes_when_open_and_after_its_commands_then_unfreezes(
    tmp_path: Path,
) -> None:
    app = create_app(tmp_path / "exchange", gc_freeze_every=2)
    with TestClient(app) as client:
        after_open = gc.get_freeze_count()
        assert after_open > 0
        trader = Trader(client)
        trader.ok(Deposit(trader.address, "USDC", 10_000 * USDC, trader.nonce()))
        orders = [
            trader.ok(
                PlaceLimit(trader.address, MARKET, Side.BID, 100 * USDC, 1, nonce=trader.nonce())
            )
            for _ in range(3)
        ]
        assert [order["status"] for order in orders] == ["new"] * 3
        assert gc.get_freeze_count() > after_open  # what the orders left alive is frozen too
    assert gc.get_freeze_count() == 0


def test_an_embedded_node_leaves_the_collector_alone(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        assert client.get("/v1/time").status_code == 200
        assert gc.get_freeze_count() == 0
