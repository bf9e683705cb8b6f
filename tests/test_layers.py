"""The layers of docs/architecture.md, checked from the source: every import (function-level
lazy ones included) read with `ast`, no cycle between top-level packages or between the modules
of one, no import against the direction of the layers, small modules and thin assets."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("settings", "ingestion", "retrieval", "training", "answering", "evaluation")
PACKAGES = (*LIBRARIES, "knowledge_compiler", "dagster_project")
# Each package and what it may import among the project's packages (itself always).
MAY_IMPORT = {
    "settings": set(),
    "ingestion": {"settings"},
    "retrieval": {"settings"},
    "training": {"settings", "ingestion"},  # reads the warehouse through ingestion.warehouse
    "answering": {"settings", "retrieval", "training"},
    "evaluation": {"settings", "ingestion", "retrieval", "training", "answering"},
    "dagster_project": {*LIBRARIES},
    "knowledge_compiler": {*LIBRARIES, "dagster_project"},
}
# The exceptions: `kc demo` builds the sample corpus, and `kc audit` asks the corpus builder
# which secrets it planted when the configured corpus is the sample (examples/ is no library).
EXAMPLES_ALLOWED = {"knowledge_compiler.demo", "knowledge_compiler.audit"}
# Known and not yet done (issue 21): each entry must still be true, so the list cannot go stale.
NOT_YET: set[str] = set()
MAX_MODULE_LINES = 400
MAX_ASSET_LINES = 30


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """(module name, line) of every import in the file, at any depth; relative ones resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from pkg import mod` imports the module pkg.mod when there is one.
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def _project_module(name: str) -> str | None:
    """The longest project module that `name` names (None outside the project)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _edges() -> dict[str, set[tuple[str, int]]]:
    edges: dict[str, set[tuple[str, int]]] = {}
    for module, path in MODULES.items():
        edges[module] = set()
        for name, line in _imported(path, module):
            target = _project_module(name)
            top = name.split(".")[0]
            if target is not None and target != module:
                edges[module].add((target, line))
            elif top in ("examples", "dagster", "dagster_dbt", "dagster_webserver"):
                edges[module].add((name, line))
    return edges


EDGES = _edges()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _top(module: str) -> str:
    return module.split(".")[0]


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in EDGES.items():
        for target, _ in targets:
            if _top(target) in PACKAGES and _top(target) != _top(module):
                graph.setdefault(_top(module), set()).add(_top(target))
    assert _cycle(graph) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_cycle_inside_a_package(package):
    # A package's __init__ that re-exports its modules is not a cycle: importing pkg.mod runs
    # pkg/__init__ first whatever mod imports, so edges into the __init__ are left out.
    graph = {m: {t for t, _ in targets if _top(t) == package and t != package}
             for m, targets in EDGES.items() if _top(m) == package}
    assert _cycle(graph) is None


def test_imports_follow_the_layers():
    wrong = []
    for module, targets in EDGES.items():
        for target, line in targets:
            top = _top(target)
            if top == _top(module):
                continue
            if top == "examples":
                allowed = module in EXAMPLES_ALLOWED
            elif top in ("dagster", "dagster_dbt", "dagster_webserver"):
                allowed = _top(module) in ("dagster_project", "knowledge_compiler")
            else:
                allowed = top in MAY_IMPORT[_top(module)]
            if not allowed:
                wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line}: imports {target}")
    assert wrong == []


def test_modules_are_small():
    big = {str(p.relative_to(ROOT)): n for p in MODULES.values()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    known = {name for name in big if f"{name}: over 400 lines" in NOT_YET}
    assert known == {e.split(":")[0] for e in NOT_YET if e.endswith("over 400 lines")}
    assert {k: v for k, v in big.items() if k not in known} == {}


def _is_asset(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in ("asset", "multi_asset",
                                                                 "dbt_assets")


def test_assets_are_thin():
    fat = {}
    for module, path in MODULES.items():
        if _top(module) != "dagster_project":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(map(_is_asset, node.decorator_list)):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1
                if lines > MAX_ASSET_LINES:
                    fat[f"{module}.{node.name}"] = lines
    assert fat == {}
