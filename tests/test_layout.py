"""The house rules of the code, checked: no import cycles between the library's modules (a lazy
import inside a function counts too, so a cycle cannot hide in one), and no module takes another's
private (`_name`) names."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "rag"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, tree: ast.Module, known: set[str]) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import of a library module, wherever it is."""
    package = (
        name
        if name in known and (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()
        else name.rpartition(".")[0]
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("rag")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("rag"):
                continue
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            found += [(m, []) for m in submodules] or [(base, names)]
    return [(module, names) for module, names in found if module in known]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: {m for m, _ in _imports(name, tree, known) if m != name} for name, tree in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    order, low, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_library_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_no_module_takes_another_module_s_private_names():
    modules = _modules()
    known = set(modules)
    taken = [
        f"{name} takes {module}.{imported}"
        for name, tree in modules.items()
        for module, names in _imports(name, tree, known)
        for imported in names
        if imported.startswith("_") and module != name
    ]
    assert taken == []


def test_the_build_cache_key_covers_every_module_the_build_runs():
    """A cached file is reused only while the code that made it is unchanged: every module the
    build reaches through its imports must be part of the cache's key (SHAPING_CODE)."""
    from rag.build.ingest import SHAPING_CODE

    graph = _graph()
    reached, todo = set(), [m for m in graph if m.startswith("rag.build")]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += graph[module]
    covered = {
        m
        for m in reached
        for shaping in SHAPING_CODE
        if m == "rag." + shaping.removesuffix(".py") or m.startswith(f"rag.{shaping}.")
    }
    assert sorted(reached - covered - {"rag", "rag.data"}) == []
