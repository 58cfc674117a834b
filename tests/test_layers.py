"""The core's modules import each other without a cycle, counting every import they run.

Module-level and function-level imports both count (a function-level import that closes a
cycle only hides it); imports under ``if TYPE_CHECKING:`` do not run and do not count. The
package's ``__init__`` is the lazy facade users import (PEP 562): it imports nothing at
module level but the two light verb packages, so it is left out of the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "greenml"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The core modules ``path`` imports when it runs (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree)
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            subs = [f"{base}.{a.name}" for a in node.names]
            # ``from package import module`` imports the module (its package's __init__ is
            # light); the package itself counts only when a name is taken from it.
            names = subs if all(s in known for s in subs) else [base, *subs]
        else:
            continue
        found |= {n for n in names if n in known}
    return found - {module_name(path), "greenml"}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def core_graph() -> dict[str, set[str]]:
    paths = [p for p in CORE.rglob("*.py") if p != CORE / "__init__.py"]
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def test_the_walker_sees_function_level_imports() -> None:
    graph = core_graph()
    assert "greenml.datasets" in graph["greenml.plan.compute"]  # imported inside plan()
    assert len(graph) > 30


def test_no_import_cycle_among_the_core_modules() -> None:
    assert cycles(core_graph()) == []
