"""Shared test setup: Hypothesis profiles chosen by HYPOTHESIS_PROFILE (ci by default), the
engine suite's parametrization over every installed engine (`tests.support.engines`), and the
`slow` mark on every test that runs processes, real servers, fuzzing or the differential
suite, so that `pytest -m "not slow"` is the quick inner loop (CI runs everything)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, settings

from tests.support.engines import engines

TESTS = Path(__file__).resolve().parent
SLOW_PLACES: Final = (
    TESTS / "cli",  # the CLI in real subprocesses
    TESTS / "crash",  # processes killed and raced
    TESTS / "differential",  # the engines against the reference, thousands of flows
    TESTS / "node" / "test_fuzz.py",  # schemathesis over the whole API
)

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep", deadline=None, max_examples=2_000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(**options): run on the installed engines that offer these order options"
        " (tests.support.engines)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `make` runs once per installed engine offering what its `needs` marks
    name, unless it parametrizes `make` itself (`tests.support.engines.engine_cases`)."""
    if "make" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        listed = names.split(",") if isinstance(names, str) else list(names)
        if "make" in [name.strip() for name in listed]:
            return
    needs: dict[str, object] = {}
    for mark in metafunc.definition.iter_markers("needs"):
        needs.update(mark.kwargs)
    metafunc.parametrize("make", engines(**needs))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` what talks to real servers (`network`) or lives in a slow place."""
    for item in items:
        path = item.path
        slow_place = any(path == place or place in path.parents for place in SLOW_PLACES)
        if slow_place or item.get_closest_marker("network") is not None:
            item.add_marker(pytest.mark.slow)
