"""Goal: save_to_path/load_from_path restore an engine exactly, and refuse files that are not one.
Method: round trips compared on state, snapshot, ids and later matching; hand-corrupted files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tachyon.dex.ids import OrderId, TokenId
from tachyon.dex.in_memory import TRADES_RECENT_MAX, InMemoryEngine
from tachyon.dex.model import DEFAULT_MARKET, MarketConfig, SelfTradePrevention, Side
from tachyon.errors import CorruptData
from tests.dex.helpers import (
    ALICE,
    BOB,
    CAROL,
    DEEP,
    ODD_MARKET,
    random_calls,
    trade_summary,
    traded,
)


def populated(config: MarketConfig = DEFAULT_MARKET) -> InMemoryEngine:
    """Several levels, several orders per level, a partial fill, a self-trade decrement, a cancel."""
    engine = InMemoryEngine(config)
    tick, lot = config.tick_size, config.min_qty
    for owner, side, ticks, lots in [
        (ALICE, Side.ASK, 105, 3),
        (BOB, Side.ASK, 105, 2),
        (CAROL, Side.ASK, 105, 4),
        (BOB, Side.ASK, 107, 1),
        (ALICE, Side.BID, 100, 2),
        (CAROL, Side.BID, 100, 5),
        (BOB, Side.BID, 98, 1),
        (CAROL, Side.BID, 97, 6),
    ]:
        engine.place_limit(owner, side, tick * ticks, lot * lots)
    engine.place_limit(BOB, Side.BID, tick * 105, lot * 4)  # fills alice's 3 lots, cancels its own
    engine.place_limit(
        CAROL, Side.BID, tick * 105, lot, stp=SelfTradePrevention.DECREMENT_AND_CANCEL
    )
    engine.cancel(OrderId(7))
    engine.check_invariants()
    return engine


@pytest.mark.parametrize("config", [DEFAULT_MARKET, ODD_MARKET], ids=["default", "odd"])
def test_round_trip_restores_everything(tmp_path: Path, config: MarketConfig) -> None:
    engine = populated(config)
    path = str(tmp_path / "engine.json")
    engine.save_to_path(path)
    loaded = InMemoryEngine.load_from_path(path, config)
    loaded.check_invariants()
    assert loaded.config == config
    assert loaded.to_state() == engine.to_state()
    assert loaded.snapshot(DEEP) == engine.snapshot(DEEP)
    assert loaded.open_orders() == engine.open_orders()
    assert loaded.recent_trades(TRADES_RECENT_MAX) == engine.recent_trades(TRADES_RECENT_MAX)
    for oid in range(1, 15):
        assert loaded.get_order(OrderId(oid)) == engine.get_order(OrderId(oid))
    # The next ids continue where the original's would.
    a = engine.place_limit(ALICE, Side.BID, config.tick_size, config.min_qty)
    b = loaded.place_limit(ALICE, Side.BID, config.tick_size, config.min_qty)
    assert a == b
    assert not (tmp_path / "engine.json.tmp").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["engine.json"]


def test_round_trip_keeps_fifo_within_levels(tmp_path: Path) -> None:
    engine = InMemoryEngine()
    ids = [engine.place_limit(owner, Side.ASK, 100, 2)[0] for owner in (CAROL, ALICE, BOB, CAROL)]
    engine.cancel(ids[1])
    path = str(tmp_path / "fifo.json")
    engine.save_to_path(path)
    loaded = InMemoryEngine.load_from_path(path)
    _, trades = loaded.place_limit(BOB, Side.BID, 100, 6, stp=SelfTradePrevention.ALLOW)
    assert [t.maker_order_id for t in trades] == [ids[0], ids[2], ids[3]]
    assert trades[0].trade_id == 1
    loaded.check_invariants()


def test_round_trip_of_an_empty_engine(tmp_path: Path) -> None:
    path = str(tmp_path / "empty.json")
    InMemoryEngine().save_to_path(path)
    loaded = InMemoryEngine.load_from_path(path)
    assert loaded.to_state() == InMemoryEngine().to_state()
    assert loaded.place_limit(ALICE, Side.BID, 100, 1) == (1, [])


def test_loaded_engine_keeps_matching_like_the_original(tmp_path: Path) -> None:
    original = InMemoryEngine(ODD_MARKET)
    random_calls(original, seed=5, count=300)
    path = str(tmp_path / "mid.json")
    original.save_to_path(path)
    loaded = InMemoryEngine.load_from_path(path, ODD_MARKET)
    later_original = random_calls(original, seed=6, count=400)
    later_loaded = random_calls(loaded, seed=6, count=400)
    assert later_loaded == later_original
    assert loaded.to_state() == original.to_state()
    assert traded(later_original), "nothing traded after loading"


def test_save_overwrites_an_existing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "engine.json")
    populated().save_to_path(path)
    fresh = InMemoryEngine()
    fresh.place_limit(ALICE, Side.BID, 50, 1)
    fresh.save_to_path(path)
    assert InMemoryEngine.load_from_path(path).to_state() == fresh.to_state()


def test_trades_restored_from_file_keep_their_values(tmp_path: Path) -> None:
    engine = InMemoryEngine()
    engine.place_limit(BOB, Side.ASK, 100, 5)
    _, trades = engine.place_limit(ALICE, Side.BID, 100, 3)
    path = str(tmp_path / "t.json")
    engine.save_to_path(path)
    loaded = InMemoryEngine.load_from_path(path)
    assert loaded.recent_trades(5) == trades
    assert trade_summary(loaded.recent_trades(5)) == [(100, 3, 1, BOB)]
    _, more = loaded.place_limit(CAROL, Side.BID, 100, 2)
    assert [t.trade_id for t in more] == [2]


# -- refusals -------------------------------------------------------------------------------


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def saved_document(tmp_path: Path) -> dict[str, Any]:
    source = tmp_path / "source.json"
    engine = InMemoryEngine()
    engine.place_limit(ALICE, Side.ASK, 100, 10)
    engine.place_limit(BOB, Side.BID, 90, 10)
    engine.place_market(BOB, Side.BID, 3)
    engine.save_to_path(str(source))
    document: dict[str, Any] = json.loads(source.read_bytes())
    # orders (bids first): [2, bob, 10, 90, bid, 10, 0, false], [1, alice, 7, 100, ask, 10, 0, false]
    # recent_trades: [[1, 100, 3, 1, 3, alice, bob, bid]]; next_order_id 4, next_trade_id 2.
    assert document["state"]["orders"][0][0] == 2
    assert document["state"]["next_trade_id"] == 2
    return document


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not an engine file"),
        (b"\xff\xfe garbage", "not an engine file"),
        (b"{not json", "not an engine file"),
        (b"[1, 2, 3]", "not an engine file"),
        (b'{"format": "something.else", "version": 1}', "not an engine file"),
    ],
)
def test_load_refuses_what_is_not_an_engine_file(tmp_path: Path, data: bytes, problem: str) -> None:
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(CorruptData) as info:
        InMemoryEngine.load_from_path(path)
    assert path in str(info.value)
    assert problem in str(info.value)


Edit = Callable[[dict[str, Any]], None]


def _set(*path_then_value: Any) -> Edit:
    """Set the value at a path of keys: `_set("state", "orders", 0, 4, "buy")`."""
    *keys, value = path_then_value

    def edit(document: dict[str, Any]) -> None:
        target: Any = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


def _delete(*keys: str) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        target: Any = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


CORRUPTIONS: list[tuple[str, Edit, str]] = [
    ("wrong version", _set("version", 2), "version 2"),
    ("no version", _delete("version"), "version None"),
    ("no state", _delete("state"), "no state"),
    ("state is a list", _set("state", []), "no state"),
    ("no orders", _delete("state", "orders"), "does not hold together"),
    ("orders null", _set("state", "orders", None), "does not hold together"),
    ("no recent trades", _delete("state", "recent_trades"), "does not hold together"),
    ("no next order id", _delete("state", "next_order_id"), "does not hold together"),
    ("short order record", _set("state", "orders", 0, [2, "bob", 10]), "does not hold together"),
    ("unknown side", _set("state", "orders", 0, 4, "buy"), "does not hold together"),
    ("negative remaining", _set("state", "orders", 0, 2, -10), "does not hold together"),
    ("zero remaining", _set("state", "orders", 0, 2, 0), "does not hold together"),
    ("remaining above qty", _set("state", "orders", 0, 2, 20), "does not hold together"),
    ("crossed book", _set("state", "orders", 0, 3, 100), "does not hold together"),
    ("duplicate order id", _set("state", "orders", 0, 0, 1), "does not hold together"),
    ("next order id reused", _set("state", "next_order_id", 2), "does not hold together"),
    (
        "next order id not a number",
        _set("state", "next_order_id", "four"),
        "does not hold together",
    ),
    ("order id a string", _set("state", "orders", 0, 0, "2"), "does not hold together"),
    ("price off tick", _set("state", "orders", 0, 3, 90.5), "does not hold together"),
    # Values of the wrong type must not load as if they were integers, booleans or names.
    ("price a float", _set("state", "orders", 0, 3, 90.0), "does not hold together"),
    ("remaining a bool", _set("state", "orders", 0, 2, True), "does not hold together"),
    ("post_only a string", _set("state", "orders", 0, 7, "no"), "does not hold together"),
    ("trade qty a string", _set("state", "recent_trades", 0, 2, "x"), "does not hold together"),
    ("next trade id reused", _set("state", "next_trade_id", 1), "does not hold together"),
]


@pytest.mark.parametrize(
    ("edit", "problem"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_load_refuses_a_corrupt_engine_file(tmp_path: Path, edit: Edit, problem: str) -> None:
    document = saved_document(tmp_path)
    edit(document)
    path = write(tmp_path / "corrupt.json", json.dumps(document).encode())
    with pytest.raises(CorruptData) as info:
        InMemoryEngine.load_from_path(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_load_refuses_a_file_for_another_market(tmp_path: Path) -> None:
    path = str(tmp_path / "engine.json")
    populated().save_to_path(path)
    other = MarketConfig(base=TokenId("ETH"), quote=TokenId("USDC"))
    with pytest.raises(CorruptData) as info:
        InMemoryEngine.load_from_path(path, other)
    assert path in str(info.value)
    assert "BASE/USDC" in str(info.value)
    assert "ETH/USDC" in str(info.value)


def test_load_refuses_orders_that_break_the_configs_units(tmp_path: Path) -> None:
    # Same pair, but a finer tick: the saved prices (multiples of 1) are off the new tick.
    path = str(tmp_path / "engine.json")
    engine = InMemoryEngine()
    engine.place_limit(ALICE, Side.BID, 101, 1)
    engine.save_to_path(path)
    with pytest.raises(CorruptData) as info:
        InMemoryEngine.load_from_path(path, MarketConfig(tick_size=5))
    assert path in str(info.value)
