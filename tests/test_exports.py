"""Goal: each package's public surface is explicit, sorted and complete (httpx, trio style).
Method: import every public package and compare `__all__` with what it actually binds."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "tachyon",
    "tachyon.dex",
    "tachyon.ledger",
    "tachyon.exchange",
    "tachyon.storage",
    "tachyon.client",
    "tachyon.wallet",
    "tachyon.node",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(
        exported, key=lambda item: (not item.isupper(), not item[:1].isupper(), item)
    )
    public = {
        attr
        for attr, value in vars(module).items()
        if (not attr.startswith("_") or attr == "__version__")
        and not inspect.ismodule(value)
        and attr != "annotations"
    }
    assert set(exported) == public


def test_seed_import_path() -> None:
    from tachyon.dex import InMemoryEngine, OrderBookEngine, Side

    engine: OrderBookEngine = InMemoryEngine()
    order_id, trades = engine.place_limit(
        __import__("tachyon.dex").dex.AccountId("a"), Side.BID, 100, 10
    )
    assert (order_id, trades) == (1, [])
