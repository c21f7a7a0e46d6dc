"""Structure that should not drift back: one place sets OMP_WAIT_POLICY, the embedded engine and
label scoring import in one direction only, and no module of the package imports itself back through
others (imports inside functions and under TYPE_CHECKING included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "smolgepa"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def test_omp_wait_policy_is_set_in_one_place() -> None:
    setters = [path.relative_to(SRC) for path in SRC.rglob("*.py")
               if re.search(r"OMP_WAIT_POLICY[\"'],", path.read_text(encoding="utf-8"))]
    assert setters == [Path("__init__.py")]


def test_label_scoring_does_not_import_the_embedded_engine() -> None:
    assert "smolgepa.lm.local.embedded" not in imported_modules(SRC / "lm" / "local" / "label_scorer.py")
    assert "smolgepa.lm.local.label_scorer" not in imported_modules(SRC / "lm" / "local" / "kv.py")



def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: line}, for every import anywhere in the file (top level, inside
    functions, under TYPE_CHECKING). `from package import name` counts as importing the submodule
    `package.name` when there is one, else the package itself."""
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def describe_cycle(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    members = set(cycle)
    arrows = [f"  {source} -> {target} (line {line})" for source in cycle
              for target, line in sorted(graph[source].items()) if target in members]
    return f"import loop of {len(cycle)} modules:\n" + "\n".join(arrows)


def test_the_import_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "smolgepa.use.classifier" in graph["smolgepa"]  # inside load()
    assert "smolgepa.lm.local.embedded" in graph["smolgepa.lm.kinds.embedded_kinds"]  # inside a method


def test_the_package_has_no_import_loop() -> None:
    graph = import_graph()
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(describe_cycle(graph, cycle) for cycle in cycles)


def test_module_names_are_unique_and_modules_stay_small() -> None:
    """docs/architecture.md promises both: a file name says which module it is, and none outgrows 450 lines."""
    modules = [p for p in SRC.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    names = [p.name for p in modules]
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert [f"{p.relative_to(SRC)}: {n}" for p in modules
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450] == []
