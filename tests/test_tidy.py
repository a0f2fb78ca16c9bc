"""Goal: keep the code base's rules true as it grows (TigerBeetle's tidy.zig, in Python).
Method: parse every module under src/ with `ast` and fail on each rule broken, naming the place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tachyon"
PURE_PACKAGES = ("dex", "ledger", "exchange")
FORBIDDEN_IN_PURE = {
    "time",
    "random",
    "os",
    "socket",
    "sqlite3",
    "asyncio",
    "datetime",
    "tempfile",
    "secrets",
}
# The seed's engine save/load helper is the one module of the pure packages that touches files;
# nothing on the matching path imports it.
PURE_EXCEPTIONS = {SRC / "dex" / "_files.py"}
FUNCTION_LINES_MAX = 70

GENERATED = SRC / "node" / "grpc_gen"  # protoc's output (scripts/gen_grpc): not ours to tidy
MODULES = sorted(path for path in SRC.rglob("*.py") if not path.is_relative_to(GENERATED))


def _is_pure(path: Path) -> bool:
    return path.relative_to(SRC).parts[0] in PURE_PACKAGES and path not in PURE_EXCEPTIONS


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_rules(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    problems = []
    if ast.get_docstring(tree) is None:
        problems.append("module has no docstring")
    problems.extend(
        f"{marker} found: open an issue instead"
        for marker in ("TODO", "FIXME", "XXX")
        if marker in source
    )
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LINES_MAX:
                problems.append(
                    f"line {node.lineno}: {node.name} is {length} lines (max {FUNCTION_LINES_MAX})"
                )
        if not _is_pure(path):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            problems.append(f"line {node.lineno}: float literal {node.value} in the pure core")
        if isinstance(node, ast.Name) and node.id == "float":
            problems.append(f"line {node.lineno}: float in the pure core")
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {node.module.split(".")[0]}
        else:
            names = set()
        line = getattr(node, "lineno", 0)
        problems.extend(
            f"line {line}: the pure core imports {name}"
            for name in sorted(names & FORBIDDEN_IN_PURE)
        )
    assert not problems, f"{path.relative_to(SRC)}: " + "; ".join(problems)


def test_tidy_sees_the_packages() -> None:
    pure = [path for path in MODULES if _is_pure(path)]
    assert len(pure) >= 8, "the tidy rules would be checking nothing"
