"""Engine selection by name, so configuration (an env var, a config file) picks the engine.

The registry maps names to `EngineSpec`s (`tachyon.dex.engine_spec`): a factory, a loader of
the engine's `to_state` output (None: it cannot be restored) and the order options it offers.
`in_memory` is built in; every other engine is found through the `tachyon.engines` entry
point group (`importlib.metadata`), whose objects are `EngineSpec`s, so a package adds one
without touching tachyon:

    [project.entry-points."tachyon.engines"]
    my_book = "my_package.engine:SPEC"

Entry points are read (package metadata, once per process) only when a name is not known yet
or every name is asked for, and one is loaded (its module imported) only when its name is
asked for: choosing the default engine costs nothing. A declared engine that cannot be loaded
(its optional dependency is missing, its object is not an `EngineSpec`) is not available, and
the error for its name says why. `register_engine` adds one from code. Whoever reads the
configuration passes the name; the state machine stays pure given the installed engines.
"""

from __future__ import annotations

from importlib import metadata
from typing import Final

from tachyon.dex.engine_spec import (
    ALL_OPTIONS,
    EngineCapabilities,
    EngineFactory,
    EngineLoader,
    EngineSpec,
)
from tachyon.dex.in_memory import ENGINE as IN_MEMORY
from tachyon.errors import InvalidConfig, UnknownEngine

DEFAULT_ENGINE: Final = "in_memory"
ENTRY_POINT_GROUP: Final = "tachyon.engines"

_SPECS: dict[str, EngineSpec] = {DEFAULT_ENGINE: IN_MEMORY}
_UNAVAILABLE: dict[str, str] = {}  # a declared engine that could not be loaded: why
_declared: dict[str, list[metadata.EntryPoint]] | None = None  # read once, on first need


def register_engine(
    name: str,
    factory: EngineFactory,
    loader: EngineLoader | None = None,
    *,
    capabilities: EngineCapabilities = ALL_OPTIONS,
) -> None:
    """Make an engine selectable by `name` from code (an entry point does it from a package's
    metadata); with a `loader`, an exchange using it can also be snapshotted and restored. A
    loader is handed state whose integrity is proven (by hash); `DexService.check_invariants`
    runs after it. `capabilities`: the options it offers (it must refuse the others)."""
    if not name or name in _SPECS or name in _entry_points():
        raise InvalidConfig(f"engine name {name!r} is empty or already registered")
    _SPECS[name] = EngineSpec(factory, loader, capabilities)


def engine_spec(name: str) -> EngineSpec:
    """The engine named `name`; InvalidConfig naming the available ones if there is none."""
    spec = _SPECS.get(name)
    if spec is not None:
        return spec
    if name in _entry_points() and name not in _UNAVAILABLE:
        spec = _load(name)
        if spec is not None:
            return spec
    raise UnknownEngine(_unknown(name))


def engine_factory(name: str) -> EngineFactory:
    return engine_spec(name).factory


def engine_loader(name: str) -> EngineLoader:
    loader = engine_spec(name).loader
    if loader is None:
        raise InvalidConfig(
            f"engine {name!r} has no loader, so it cannot be restored from state: it cannot"
            " back a durable exchange (snapshots, recovery, audit)"
        )
    return loader


def engine_capabilities(name: str) -> EngineCapabilities:
    return engine_spec(name).capabilities


def engine_names() -> list[str]:
    """Every available engine's name, sorted (every declared one is loaded to know)."""
    for name in _entry_points():
        if name not in _SPECS and name not in _UNAVAILABLE:
            _load(name)
    return sorted(_SPECS)


def unavailable_engines() -> dict[str, str]:
    """Engines declared by an entry point that could not be loaded, with the reason."""
    engine_names()
    return dict(sorted(_UNAVAILABLE.items()))


def _entry_points() -> dict[str, list[metadata.EntryPoint]]:
    global _declared  # noqa: PLW0603 (read once per process: package metadata does not change)
    if _declared is None:
        declared: dict[str, list[metadata.EntryPoint]] = {}
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            declared.setdefault(entry.name, []).append(entry)
        _declared = declared
    return _declared


def _load(name: str) -> EngineSpec | None:
    """Load the entry points declaring `name`; the spec, or None (the reason recorded)."""
    specs: list[tuple[str, EngineSpec]] = []
    for entry in _entry_points()[name]:
        try:
            loaded = entry.load()
        except Exception as exc:  # an optional dependency missing, a broken package: say so
            _UNAVAILABLE[name] = f"{entry.value} cannot be loaded ({type(exc).__name__}: {exc})"
            return None
        if not isinstance(loaded, EngineSpec):
            _UNAVAILABLE[name] = f"{entry.value} is a {type(loaded).__name__}, not an EngineSpec"
            return None
        specs.append((entry.value, loaded))
    distinct = {id(spec) for _, spec in specs}
    if len(distinct) > 1:
        _UNAVAILABLE[name] = "declared by several entry points: " + ", ".join(
            value for value, _ in specs
        )
        return None
    spec = specs[0][1]
    _SPECS.setdefault(name, spec)
    return _SPECS[name]


def _unknown(name: str) -> str:
    available = ", ".join(engine_names())
    message = f"unknown engine {name!r}; available: {available}"
    if name in _UNAVAILABLE:
        message = f"engine {name!r} is not available: {_UNAVAILABLE[name]}; available: {available}"
    elif _UNAVAILABLE:
        message += " (declared but not loadable: " + ", ".join(sorted(_UNAVAILABLE)) + ")"
    return message
