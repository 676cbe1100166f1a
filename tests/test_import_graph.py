"""The package's import graph has no cycle, type-checking imports included (issue 12: one spine).

Imports inside functions are left out: they are the lazy imports that keep torch and the engines
out of `import tierflow`, and they run after every module is loaded.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module, modules: set[str]) -> set[str]:
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tierflow"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("tierflow"))
            elif isinstance(node, (ast.If, ast.Try)):  # TYPE_CHECKING blocks and optional imports count
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in SRC.joinpath("tierflow").rglob("*.py")}
    modules = set(paths)
    return {name: _top_level_imports(ast.parse(p.read_text(encoding="utf-8")), modules) - {name}
            for name, p in paths.items()}


def test_the_import_graph_has_no_cycle():
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


def test_the_check_finds_a_cycle():
    graph = import_graph()
    graph["tierflow.domain.models"] = graph["tierflow.domain.models"] | {"tierflow.bootstrap"}
    graph["tierflow.bootstrap"] = graph["tierflow.bootstrap"] | {"tierflow.domain.models"}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("a planted cycle was not found")


def test_no_module_outside_storage_imports_the_tables():
    offenders = [name for name, deps in import_graph().items()
                 if not name.startswith("tierflow.storage") and "tierflow.storage.tables" in deps]
    offenders += [str(p.relative_to(SRC)) for p in SRC.joinpath("tierflow").rglob("*.py")
                  if "tierflow/storage/" not in p.as_posix() and "storage.tables" in p.read_text(encoding="utf-8")]
    assert not offenders, f"storage stays behind its repositories; these import its tables: {sorted(set(offenders))}"
