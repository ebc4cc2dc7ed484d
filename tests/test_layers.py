"""Imports point downwards only: ledger <- contracts <- node."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "ledger": {"contracts", "node", "scripts", "tests"},
    "contracts": {"node", "scripts", "tests"},
    "node": {"scripts", "tests"},
}
# Modules through which a pure layer could read the clock, randomness or environment.
IMPURE = {"time", "random", "secrets", "datetime", "socket", "asyncio", "uuid", "urllib", "http"}
PURE_EXCEPTIONS = {
    # Key generation is the one place randomness enters; it is only ever called by node code.
    ("ledger", "crypto.py"): {"secrets"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} across the layers"


@pytest.mark.parametrize("package", ["ledger", "contracts"])
def test_pure_layers_read_no_clock_randomness_or_network(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        allowed = PURE_EXCEPTIONS.get((package, path.name), set())
        bad = (_imports(path) & IMPURE) - allowed
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} in a pure layer"
