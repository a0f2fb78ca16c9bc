"""Engine selection by name, so configuration (an env var, a config file) picks the engine.

Pure: the registry maps names to factories (and, for engines that can be saved, to loaders of
their `to_state` output); whoever reads the configuration passes the name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import MarketConfig
from tachyon.errors import InvalidConfig

EngineFactory = Callable[[MarketConfig], OrderBookEngine]
EngineLoader = Callable[[MarketConfig, dict[str, object]], OrderBookEngine]

DEFAULT_ENGINE: Final = "in_memory"

_ENGINES: dict[str, EngineFactory] = {DEFAULT_ENGINE: InMemoryEngine}
_LOADERS: dict[str, EngineLoader] = {
    DEFAULT_ENGINE: lambda config, state: InMemoryEngine.from_state(config, state, verified=True)
}


def register_engine(name: str, factory: EngineFactory, loader: EngineLoader | None = None) -> None:
    """Make an engine selectable by `name` (e.g. an external adapter); with a `loader`, an
    exchange using it can also be snapshotted and restored. A loader is handed state whose
    integrity is proven (by hash); `DexService.check_invariants` runs after it."""
    if not name or name in _ENGINES:
        raise InvalidConfig(f"engine name {name!r} is empty or already registered")
    _ENGINES[name] = factory
    if loader is not None:
        _LOADERS[name] = loader


def engine_factory(name: str) -> EngineFactory:
    factory = _ENGINES.get(name)
    if factory is None:
        raise InvalidConfig(f"unknown engine {name!r}; available: {', '.join(sorted(_ENGINES))}")
    return factory


def engine_loader(name: str) -> EngineLoader:
    loader = _LOADERS.get(name)
    if loader is None:
        raise InvalidConfig(f"engine {name!r} has no loader, so it cannot be restored from state")
    return loader


def engine_names() -> list[str]:
    return sorted(_ENGINES)
