"""Structure that should not drift back: one place sets OMP_WAIT_POLICY, and the embedded engine and
label scoring import in one direction only."""

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
    assert "smolgepa.lm.embedded" not in imported_modules(SRC / "lm" / "scoring.py")
    assert "smolgepa.lm.scoring" not in imported_modules(SRC / "lm" / "kv.py")

