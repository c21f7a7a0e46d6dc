"""Which rendering won, per label: the part of a study report for a `renders:` axis.

Per group of cells that differ only in rendering (and seed), the recall of each rendering's best
instruction on each label, pooled over seeds, side by side, and the rendering with the highest
recall. Test outcomes are used when the runs recorded them, else validation."""

from __future__ import annotations

from typing import Any

from smolgepa.report.layout import StudyData, StudyRun
from smolgepa.report.parts import Section, Table
from smolgepa.evaluation.stats import format_accuracy

SKIPPED = {"render", "seed", "run_dir", "resume", "threads"}


def _value(cell: StudyRun, key: str) -> str:
    if key in cell.entry.values:
        return str(cell.entry.values[key])
    config = cell.run.config if cell.run else {}
    return str(config.get(key) or "-")


def _outcomes(cell: StudyRun) -> tuple[str, tuple[Any, ...]]:
    """(split, outcomes of the best instruction): test when recorded, else validation."""
    if cell.run is None:
        return "-", ()
    test = cell.run.predictions("best", "test")
    return ("test", test) if test else ("val", cell.run.predictions("best", "val"))


def recall_table(cells: list[StudyRun], renders: list[str]) -> tuple[list[tuple[str, ...]], set[str]]:
    """Rows (label, recall per rendering..., winner) and an `all` row; the splits the outcomes came from."""
    pooled: dict[str, list[Any]] = {render: [] for render in renders}
    splits: set[str] = set()
    labels: list[str] = []
    for cell in cells:
        split, outcomes = _outcomes(cell)
        if outcomes and cell.run is not None:
            splits.add(split)
            pooled[_value(cell, "render")].extend(outcomes)
            labels = labels or list(cell.run.labels)
    rows: list[tuple[str, ...]] = []
    for label in [*labels, "all"]:
        counts = {}
        for render, outcomes in pooled.items():
            chosen = [o for o in outcomes if label == "all" or o.label == label]
            counts[render] = (sum(o.correct for o in chosen), len(chosen))
        rates = {r: c / n for r, (c, n) in counts.items() if n}
        best = max(rates.values()) if rates else None
        winners = [r for r, rate in rates.items() if rate == best]
        rows.append((label, *(format_accuracy(*counts[r]) for r in renders), ", ".join(winners) or "-"))
    return rows, splits


def renders_section(study: StudyData) -> Section | None:
    """The 'which rendering won, per label' section, or None when the study has no renders axis."""
    renders = sorted({_value(cell, "render") for cell in study.runs})
    if "render" not in study.axes or len(renders) < 2:
        return None
    keys = [axis for axis in study.axes if axis not in SKIPPED]
    groups: dict[tuple[str, ...], list[StudyRun]] = {}
    for cell in study.runs:
        groups.setdefault(tuple(_value(cell, k) for k in keys), []).append(cell)
    tables = []
    for key, cells in groups.items():
        rows, splits = recall_table(cells, renders)
        where = " × ".join(key)
        caption = (f"{where}: recall of each rendering's best instruction per label on "
                   f"{'/'.join(sorted(splits)) or 'no recorded outcomes'}, pooled over seeds (n and 95% CI); "
                   "`won` is the rendering with the highest recall.")
        tables.append(Table(("label", *renders, "won"), tuple(rows), caption, "study-renders"))
    return Section("Which rendering won, per label", 2, tuple(tables), "study-renders")
