"""Engine selection by name, so configuration (an env var, a config file) picks the engine.

Pure: the registry maps names to factories; whoever reads the configuration passes the name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import MarketConfig
from tachyon.errors import InvalidConfig

EngineFactory = Callable[[MarketConfig], OrderBookEngine]

DEFAULT_ENGINE: Final = "in_memory"

_ENGINES: dict[str, EngineFactory] = {DEFAULT_ENGINE: InMemoryEngine}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make an engine selectable by `name` (e.g. an external adapter)."""
    if not name or name in _ENGINES:
        raise InvalidConfig(f"engine name {name!r} is empty or already registered")
    _ENGINES[name] = factory


def engine_factory(name: str) -> EngineFactory:
    factory = _ENGINES.get(name)
    if factory is None:
        raise InvalidConfig(f"unknown engine {name!r}; available: {', '.join(sorted(_ENGINES))}")
    return factory


def engine_names() -> list[str]:
    return sorted(_ENGINES)
