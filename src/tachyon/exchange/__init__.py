"""The exchange state machine: `DexService` over engines and one ledger. Pure: no I/O, no
clock, no randomness, no floats."""

from tachyon.exchange.engines import (
    DEFAULT_ENGINE as DEFAULT_ENGINE,
    engine_factory as engine_factory,
    engine_names as engine_names,
    register_engine as register_engine,
)
from tachyon.exchange.service import (
    DEFAULT_MARKET_ID as DEFAULT_MARKET_ID,
    DexService as DexService,
    OwnedOrder as OwnedOrder,
    Placement as Placement,
)

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MARKET_ID",
    "DexService",
    "OwnedOrder",
    "Placement",
    "engine_factory",
    "engine_names",
    "register_engine",
]
