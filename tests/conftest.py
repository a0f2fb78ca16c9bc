"""Shared test setup: Hypothesis profiles chosen by HYPOTHESIS_PROFILE (ci by default), and
the engine suite's parametrization over every installed engine (`tests.support.engines`)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support.engines import engines

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
