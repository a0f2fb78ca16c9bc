"""What an engine is to the registry: how to make one, how to restore one, what it supports.

Pure. An `EngineSpec` is the object a package names in its `tachyon.engines` entry point (see
`tachyon.exchange.engines`): a factory of engines for a market, a loader of their `to_state`
output (None: the engine cannot be restored, so it cannot back a durable exchange), and its
`EngineCapabilities`, the order options it offers. A market on an engine refuses an option
outside them with `UnsupportedOrderOption` before anything changes: the engine calls
`check_limit_options` / `check_market_options` first thing when it lacks any option (the
shared engine suite checks that every installed engine does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, final

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.model import MarketConfig, SelfTradePrevention, Side, TimeInForce
from tachyon.errors import UnsupportedOrderOption

EngineFactory = Callable[[MarketConfig], OrderBookEngine]
EngineLoader = Callable[[MarketConfig, dict[str, object]], OrderBookEngine]


@final
@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    """The order options an engine offers; every engine takes GTC limit orders.

    `market_by_qty`: market orders for a base quantity. `market_by_quote`: market bids bounded
    by a quote budget (`max_quote`; `DexService` also bounds a market bid by quantity under
    cancel_maker with its estimate, so such bids need it too). `post_only`: limit orders that
    refuse to take. `amend`: `OrderBookEngine.amend`. `iceberg`: GTC limit orders that show
    only `display_qty` of themselves on the book."""

    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)
    post_only: bool = True
    market_by_qty: bool = True
    market_by_quote: bool = True
    self_trade_prevention: frozenset[SelfTradePrevention] = frozenset(SelfTradePrevention)
    amend: bool = True
    iceberg: bool = True

    def __post_init__(self) -> None:
        assert TimeInForce.GTC in self.time_in_force, "every engine rests GTC limit orders"

    def lacks(self) -> list[str]:
        """The options it does not offer, named as `check_*_options` name them."""
        missing = [f"time in force {tif}" for tif in TimeInForce if tif not in self.time_in_force]
        missing += [] if self.post_only else ["post-only"]
        missing += [] if self.market_by_qty else ["market orders by quantity"]
        missing += [] if self.market_by_quote else ["market bids by quote budget"]
        missing += [
            f"self-trade prevention {stp}"
            for stp in SelfTradePrevention
            if stp not in self.self_trade_prevention
        ]
        missing += [] if self.amend else ["amend"]
        missing += [] if self.iceberg else ["iceberg orders"]
        return missing

    def to_json(self) -> dict[str, object]:
        """Plain values, in a fixed order (for `tachyon dex engines` and the README)."""
        return {
            "time_in_force": [str(tif) for tif in TimeInForce if tif in self.time_in_force],
            "post_only": self.post_only,
            "market_by_qty": self.market_by_qty,
            "market_by_quote": self.market_by_quote,
            "self_trade_prevention": [
                str(stp) for stp in SelfTradePrevention if stp in self.self_trade_prevention
            ],
            "amend": self.amend,
            "iceberg": self.iceberg,
        }


ALL_OPTIONS: Final = EngineCapabilities()
"""Every option `OrderBookEngine` defines (the in-memory engine's)."""


@final
@dataclass(frozen=True, slots=True)
class EngineSpec:
    """One engine, as the registry knows it (see the module docstring)."""

    factory: EngineFactory
    loader: EngineLoader | None
    capabilities: EngineCapabilities = ALL_OPTIONS
    description: str = ""

    @property
    def restorable(self) -> bool:
        """Whether a saved state of it can be loaded (snapshots, recovery, audit)."""
        return self.loader is not None


def check_limit_options(
    capabilities: EngineCapabilities,
    engine: str,
    tif: object,
    post_only: object,
    stp: object,
    display_qty: object = None,
) -> None:
    """Refuse a limit order option `engine` lacks (options of a wrong type are left to the
    validation ladder, which names them)."""
    if tif not in capabilities.time_in_force and type(tif) is TimeInForce:
        _refuse(engine, f"time in force {tif}", capabilities)
    if post_only is True and not capabilities.post_only:
        _refuse(engine, "post-only orders", capabilities)
    if display_qty is not None and not capabilities.iceberg:
        _refuse(engine, "iceberg orders (display_qty)", capabilities)
    _check_stp(capabilities, engine, stp)


def check_market_options(
    capabilities: EngineCapabilities,
    engine: str,
    side: object,
    qty: object,
    max_quote: object,
    stp: object,
) -> None:
    """Refuse a market order option `engine` lacks."""
    if max_quote is not None and side is Side.BID and not capabilities.market_by_quote:
        _refuse(engine, "market bids by quote budget (max_quote)", capabilities)
    if qty is not None and max_quote is None and not capabilities.market_by_qty:
        _refuse(engine, "market orders by quantity", capabilities)
    _check_stp(capabilities, engine, stp)


def check_amend(capabilities: EngineCapabilities, engine: str) -> None:
    """Refuse an amend on an engine that lacks it."""
    if not capabilities.amend:
        _refuse(engine, "amend", capabilities)


def _check_stp(capabilities: EngineCapabilities, engine: str, stp: object) -> None:
    if type(stp) is SelfTradePrevention and stp not in capabilities.self_trade_prevention:
        _refuse(engine, f"self-trade prevention {stp}", capabilities)


def _refuse(engine: str, option: str, capabilities: EngineCapabilities) -> None:
    lacking = "; ".join(capabilities.lacks())
    raise UnsupportedOrderOption(
        f"the {engine} engine does not support {option}; nothing was changed (it lacks: {lacking})"
    )
