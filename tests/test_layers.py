"""The house's layering rules, as tests.

Between packages imports point downwards only: ledger <- contracts <- node;
scripts use all three and nothing of tests. Inside node/ each room has its
own rule (``NODE_ROOMS``): the consensus state machine is pure, the client
is importable without the server's stack, and the core knows nothing of the
HTTP API, the command line or the local networks built on it. No module takes
part in an import circle, counting every import: at the top of a module,
inside a function, or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = ("ledger", "contracts", "node")
FORBIDDEN: Final = {
    "ledger": {"contracts", "node", "scripts", "tests"},
    "contracts": {"node", "scripts", "tests"},
    "node": {"scripts", "tests"},
    "scripts": {"tests"},
}
# Modules through which a pure layer could read the clock, randomness or environment.
IMPURE: Final = {
    "time",
    "random",
    "secrets",
    "datetime",
    "socket",
    "asyncio",
    "uuid",
    "urllib",
    "http",
}
PURE_EXCEPTIONS: Final = {
    # Key generation is the one place randomness enters; it is only ever called by node code.
    ("ledger", "crypto.py"): {"secrets"},
}
SERVER_STACK: Final = ("fastapi", "starlette", "pydantic", "uvicorn", "plyvel")
"""What an integrator importing ``node.client`` must not be made to load."""
NODE_ROOMS: Final = {
    # room: the node modules (by their first two parts) it may import
    "node.consensus": {"node.consensus"},
    "node.client": {"node.client", "node.auth", "node.errors"},
    "node.p2p": {
        "node.p2p",
        "node.auth",
        "node.config",
        "node.errors",
        "node.metrics",
        "node.pipeline",
        "node.progress",
    },
    "node": {"node.consensus", "node.p2p"},  # the core, besides its own top-level modules
    "node.api": {"node.api", "node.client", "node.consensus", "node.p2p"},
    "node.devnet": {"node.devnet", "node.client", "node.consensus", "node.p2p"},
    "node.cli": {"node.cli", "node.api", "node.client", "node.devnet", "node.p2p"},
}
CONSENSUS_STDLIB: Final = {
    "__future__",
    "abc",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "itertools",
    "typing",
}
"""All the consensus state machine may import besides ledger/ and itself: no I/O, no clock."""


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _walk(node: ast.AST, *, typing: bool) -> Iterator[ast.AST]:
    """``ast.walk``, leaving out ``if TYPE_CHECKING:`` blocks unless ``typing``."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not typing and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for n in child.orelse:
                yield from _walk(n, typing=typing)
            continue
        yield from _walk(child, typing=typing)


@cache
def _imported(path: Path, *, typing: bool = True) -> frozenset[str]:
    """Every module ``path`` imports as dotted names: anywhere in it, or only at run time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in _walk(tree, typing=typing):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path.relative_to(ROOT)}: relative import; name the module")
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _top(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported(path)}


def _project_graph(*, typing: bool = True) -> dict[str, set[str]]:
    """Module -> the project modules it imports (with ``typing``: also for type checks only)."""
    paths = {name: path for package in PACKAGES for name, path in _modules(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps = set()
        for imported in _imported(path, typing=typing):
            # ``from a.b import c`` names a.b.c: a module if there is one, else a name in a.b.
            module = imported
            while module and module not in paths:
                module = module.rpartition(".")[0]
            if module and module != name:
                deps.add(module)
        graph[name] = deps
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and f"{parts[0]}.{parts[1]}" in NODE_ROOMS:
        return f"{parts[0]}.{parts[1]}"
    if len(parts) == 2 and module in NODE_ROOMS:
        return module  # a subpackage's __init__
    return "node"


def _room_of_import(imported: str) -> str:
    parts = imported.split(".")
    return ".".join(parts[:2])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _top(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} across the layers"


@pytest.mark.parametrize("package", ["ledger", "contracts"])
def test_pure_layers_read_no_clock_randomness_or_network(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        allowed = PURE_EXCEPTIONS.get((package, path.name), set())
        bad = (_top(path) & IMPURE) - allowed
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} in a pure layer"


def test_no_import_circles() -> None:
    circles = _circles(_project_graph())
    assert not circles, f"import circles: {circles}"


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _circles(graph) == [["a", "b", "c"]]


def test_node_rooms_import_only_what_their_rule_allows() -> None:
    for module, path in _modules("node"):
        room = _room(module)
        allowed = NODE_ROOMS[room] | {room}
        for imported in _imported(path):
            if not imported.startswith("node."):
                continue
            target = _room_of_import(imported)
            if target not in NODE_ROOMS:
                # A module of the core (node.chain, node.errors, ...): a room may use the
                # core unless its rule lists the core modules it may use.
                if room in ("node.consensus", "node.client", "node.p2p") and target not in allowed:
                    pytest.fail(f"{module} imports {imported}: {room} may not use it")
                continue
            assert target in allowed, f"{module} imports {imported}: {room} may not use {target}"


def test_consensus_is_pure() -> None:
    for module, path in _modules("node/consensus"):
        for imported in _imported(path):
            top = imported.split(".")[0]
            if top in ("ledger", "node"):
                continue
            assert top in CONSENSUS_STDLIB, f"{module} imports {imported}: consensus does no I/O"


def test_client_needs_neither_fastapi_nor_leveldb() -> None:
    # Statically, through every project module the client package reaches at run time ...
    graph = _project_graph(typing=False)
    reached: set[str] = set()
    todo = [m for m in graph if m == "node.client" or m.startswith("node.client.")]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    paths = {name: path for package in PACKAGES for name, path in _modules(package)}
    for module in sorted(reached):
        imported = _imported(paths[module], typing=False)
        heavy = {name.split(".")[0] for name in imported} & set(SERVER_STACK)
        assert not heavy, f"node.client reaches {module}, which imports {sorted(heavy)}"
    # ... and as Python sees it, in a fresh interpreter.
    probe = (
        "import sys, node.client, node.client.receipt, node.client.json_forms;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_scripts_import_nothing_from_tests_and_edit_no_import_path() -> None:
    for path in sorted((ROOT / "scripts").glob("*.py")):
        assert "tests" not in _top(path), f"{path.relative_to(ROOT)} imports from tests/"
        assert "sys.path" not in path.read_text(), f"{path.relative_to(ROOT)} edits sys.path"
