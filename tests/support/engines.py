"""Every installed engine, for the one engine suite they all run (exchange-core runs one suite
against its naive and its fast book).

A test that takes `make: EngineUnderTest` runs once per installed engine (`tests/conftest.py`
parametrizes it); `@pytest.mark.needs(stp=..., tif=..., post_only=True, market_by_quote=True,
iceberg=True, ...)` keeps only the engines that offer those options, and `engine_cases` pairs engines with a
test's own parameters, keeping only the pairs an engine supports. An engine is never run on
an option it lacks, so nothing is skipped: what it lacks is tested as a refusal instead
(`tests/dex/test_engine_capabilities.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import pytest
from _pytest.mark.structures import ParameterSet

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.engine_spec import EngineCapabilities, EngineSpec
from tachyon.dex.model import (
    DEFAULT_MARKET,
    STP_DEFAULT,
    MarketConfig,
    SelfTradePrevention,
    TimeInForce,
)
from tachyon.exchange.engines import engine_names, engine_spec

Needs = dict[str, object]


@dataclass(frozen=True)
class EngineUnderTest:
    """An installed engine: `make(config)` builds one for a market."""

    name: str
    spec: EngineSpec

    def __call__(self, config: MarketConfig = DEFAULT_MARKET) -> OrderBookEngine:
        return self.spec.factory(config)

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.spec.capabilities

    def supports(self, needs: Needs) -> bool:
        """Whether the engine offers every option in `needs` (and the default self-trade
        mode, which every test's plain orders use)."""
        caps = self.capabilities
        stp = needs.get("stp", ())
        modes = [stp] if isinstance(stp, SelfTradePrevention) else list(stp)  # type: ignore[call-overload]
        tif = needs.get("tif", ())
        tifs = [tif] if isinstance(tif, TimeInForce) else list(tif)  # type: ignore[call-overload]
        return (
            all(mode in caps.self_trade_prevention for mode in [*modes, STP_DEFAULT])
            and all(value in caps.time_in_force for value in tifs)
            and (caps.post_only or not needs.get("post_only"))
            and (caps.market_by_qty or not needs.get("market_by_qty"))
            and (caps.market_by_quote or not needs.get("market_by_quote"))
            and (self.spec.restorable or not needs.get("restorable"))
            and (caps.amend or not needs.get("amend"))
            and (caps.iceberg or not needs.get("iceberg"))
        )


INSTALLED: Final = [EngineUnderTest(name, engine_spec(name)) for name in engine_names()]
"""The built-in engine and every one an entry point declares that loads here."""


def engines(**needs: object) -> list[ParameterSet]:
    """One parameter per installed engine that offers `needs`, with the engine's name as id."""
    return [pytest.param(engine, id=engine.name) for engine in INSTALLED if engine.supports(needs)]


def engine_cases(
    argnames: str,
    values: Iterable[object],
    needs: Callable[..., Needs],
    ids: Callable[..., str] | None = None,
) -> tuple[str, list[ParameterSet]]:
    """`parametrize` arguments pairing each installed engine (`make`) with each of `values`
    (one argument, or a tuple per value when `argnames` names several) that the engine
    supports: `needs(*value)` says what a value needs, `ids(*value)` names it."""
    several = "," in argnames
    cases: list[ParameterSet] = []
    for engine in INSTALLED:
        for index, value in enumerate(values):
            args: Sequence[object] = value if several else (value,)  # type: ignore[assignment]
            if engine.supports(needs(*args)):
                case_id = ids(*args) if ids else "-".join(_case_id(arg, index) for arg in args)
                cases.append(pytest.param(engine, *args, id=f"{engine.name}-{case_id}"))
    return f"make,{argnames}", cases


def _case_id(value: object, index: int) -> str:
    if isinstance(value, str | int | bool) or value is None:
        return str(value)
    return f"{type(value).__name__}{index}"
