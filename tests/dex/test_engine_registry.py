"""Goal: engines are found by name, built in or through the `tachyon.engines` entry points of any
installed package, and a name that is not available is refused naming the ones that are (and, for
a declared engine that cannot load, why). Method: the registry in this process, and a fresh
interpreter with a package declaring three engines (one good, two broken) on its path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from tachyon.dex.engine_spec import ALL_OPTIONS
from tachyon.dex.in_memory import ENGINE as IN_MEMORY, InMemoryEngine
from tachyon.errors import InvalidConfig
from tachyon.exchange.engines import (
    DEFAULT_ENGINE,
    ENTRY_POINT_GROUP,
    engine_capabilities,
    engine_factory,
    engine_loader,
    engine_names,
    engine_spec,
    unavailable_engines,
)


def test_tachyon_declares_its_engines_as_entry_points() -> None:
    declared = {entry.name: entry.value for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["in_memory"] == "tachyon.dex.in_memory:ENGINE"
    assert declared["liquibook"] == "tachyon.dex.liquibook_engine:ENGINE"


def test_every_declared_engine_is_available_or_says_why() -> None:
    declared = {entry.name for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    available, unavailable = set(engine_names()), unavailable_engines()
    assert DEFAULT_ENGINE in available
    assert declared <= available | set(unavailable)
    assert not available & set(unavailable)


def test_the_built_in_engine_is_the_default_and_offers_everything() -> None:
    assert DEFAULT_ENGINE == "in_memory"
    assert engine_spec("in_memory") is IN_MEMORY
    assert engine_factory("in_memory") is InMemoryEngine
    assert engine_capabilities("in_memory") == ALL_OPTIONS


def test_liquibook_is_found_through_its_entry_point() -> None:
    pytest.importorskip("liquibook", reason="the liquibook extra is not installed")
    from tachyon.dex.liquibook_engine import CAPABILITIES, ENGINE, LiquibookEngine

    assert engine_spec("liquibook") is ENGINE
    assert engine_factory("liquibook") is LiquibookEngine
    assert engine_capabilities("liquibook") is CAPABILITIES
    assert engine_loader("liquibook") is ENGINE.loader


@pytest.mark.parametrize("name", ["warp-drive", "", "IN_MEMORY"])
def test_an_unknown_name_is_refused_naming_the_available_engines(name: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        engine_spec(name)
    message = str(info.value)
    assert message.startswith(f"unknown engine {name!r}; available: ")
    for known in engine_names():
        assert known in message


_PACKAGE = """
from tachyon.dex.engine_spec import EngineCapabilities, EngineSpec
from tachyon.dex.in_memory import InMemoryEngine

SPEC = EngineSpec(InMemoryEngine, None, EngineCapabilities(post_only=False), "a plug-in")
NOT_A_SPEC = 42
"""

_ENTRY_POINTS = """
[tachyon.engines]
plugged = plugged_engines:SPEC
not_a_spec = plugged_engines:NOT_A_SPEC
missing = no_such_module_anywhere:SPEC
"""

_PROBE = """
import json
from tachyon.errors import InvalidConfig
from tachyon.exchange.engines import engine_capabilities, engine_loader, engine_names, engine_spec
from tachyon.exchange.engines import unavailable_engines

refusals = {}
for name in ("missing", "not_a_spec"):
    try:
        engine_spec(name)
    except InvalidConfig as exc:
        refusals[name] = str(exc)
try:
    engine_loader("plugged")
except InvalidConfig as exc:
    refusals["plugged loader"] = str(exc)
print(json.dumps({
    "names": engine_names(),
    "unavailable": unavailable_engines(),
    "plugged_post_only": engine_capabilities("plugged").post_only,
    "refusals": refusals,
}))
"""


def test_a_package_adds_an_engine_without_touching_tachyon(tmp_path: Path) -> None:
    (tmp_path / "plugged_engines").mkdir()
    (tmp_path / "plugged_engines" / "__init__.py").write_text(_PACKAGE)
    info = tmp_path / "plugged_engines-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugged-engines\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(_ENTRY_POINTS))
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert "plugged" in found["names"] and "in_memory" in found["names"]
    assert "missing" not in found["names"] and "not_a_spec" not in found["names"]
    assert found["plugged_post_only"] is False
    assert "No module named 'no_such_module_anywhere'" in found["unavailable"]["missing"]
    assert "is a int, not an EngineSpec" in found["unavailable"]["not_a_spec"]
    missing = found["refusals"]["missing"]
    assert missing.startswith("engine 'missing' is not available: no_such_module_anywhere:SPEC")
    assert "available: " in missing and "plugged" in missing
    assert "cannot be restored from state" in found["refusals"]["plugged loader"]
