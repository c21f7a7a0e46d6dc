"""Running a study: each cell a normal optimization run directory (finished cells skipped,
interrupted ones resumed), the study's manifest, then one report across the grid (`run_study`;
`study_ray` runs the cells on Ray). The study file itself is read by `study_file.load_study`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.config import SERVER_SETTINGS, OptimizeConfig, load_saved_config
from smolgepa.progress import Progress, as_progress
from smolgepa.report.layout import CellEntry, Manifest, read_manifest, write_manifest
from smolgepa.studies.study_file import EXTENDABLE, Cell, Study, default_out

LineCallback = Callable[[str], None]


@dataclass(frozen=True)
class CellResult:
    name: str
    status: str  # finished | skipped | failed | <the run's own status>
    error: str | None = None


@dataclass(frozen=True)
class StudyResult:
    out: Path
    cells: tuple[CellResult, ...]
    html: Path | None
    markdown: Path | None

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.error]

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "html": str(self.html) if self.html else None,
                "markdown": str(self.markdown) if self.markdown else None,
                "cells": [{"name": c.name, "status": c.status, "error": c.error} for c in self.cells]}


def cell_state(run_dir: Path, cell: Cell) -> str:
    """`new`, `partial` (resume it), `finished` (skip it) or `extend` (finished, but with a larger
    budget, proposal count or patience now: resumed to continue)."""
    if not (run_dir / "config.json").is_file():
        return "new"
    saved = load_saved_config(run_dir)
    wanted = cell.config.with_changes(run_dir=str(run_dir))
    differences = [f.name for f in fields(OptimizeConfig)
                   if f.name not in ("run_dir", "resume", "threads", "response_cache", *SERVER_SETTINGS, *EXTENDABLE)
                   and getattr(saved, f.name) != getattr(wanted, f.name)]
    if differences:
        detail = ", ".join(f"{n}: saved {getattr(saved, n)!r}, study {getattr(wanted, n)!r}" for n in differences)
        raise SmolgepaError(
            f"{run_dir} was run with other settings than the study asks for ({detail}). "
            "Use another --out directory for the changed study, or restore the study file."
        )
    from smolgepa.optimize.rundir import RunDir

    summary_file = RunDir(run_dir).summary_file
    if not summary_file.is_file():
        return "partial"
    status = RunDir(run_dir).read_summary().get("status")
    if status != "finished":
        return "partial"
    if any(getattr(saved, n) != getattr(wanted, n) for n in EXTENDABLE):
        return "extend"
    return "finished"


def open_study_dir(study: Study, out: str | Path | None) -> Path:
    """The study directory (created), checked to hold this study or none."""
    directory = Path(out) if out is not None else default_out(study)
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory)
    if previous is not None and previous.name != study.name:
        raise SmolgepaError(
            f"{directory} holds the study {previous.name!r}, not {study.name!r}. Choose another --out directory."
        )
    return directory


def record_cells(directory: Path, study: Study, errors: dict[str, str | None]) -> None:
    """Write the study's manifest: every cell, with the error of those that failed."""
    entries = tuple(CellEntry(c.name, f"cells/{c.name}", dict(c.values), errors.get(c.name)) for c in study.cells)
    write_manifest(directory, Manifest(study.name, str(study.path), entries, study.axes))


def finish_study(directory: Path, results: list[CellResult], report: bool, say: LineCallback) -> StudyResult:
    """Write report.html and report.md (unless `report` is off) and gather the result."""
    html = markdown = None
    if report:
        from smolgepa.report import write_report

        files = write_report(directory)
        html, markdown = files.html, files.markdown
        say(f"report: {html} and {markdown}")
    return StudyResult(directory, tuple(results), html, markdown)


def run_study(study: Study, out: str | Path | None = None, progress: Progress | LineCallback | None = None,
              report: bool = True) -> StudyResult:
    """Run every cell of the study (finished ones are skipped, interrupted ones resumed), then
    write report.html and report.md into the study directory. A cell that fails with a user
    error (an unreachable server, say) is recorded and the next cell runs (`study_ray`: on Ray)."""
    from smolgepa.optimize import optimize

    shown = as_progress(progress)
    say = shown.say
    directory = open_study_dir(study, out)
    errors: dict[str, str | None] = {}
    record_cells(directory, study, errors)
    results: list[CellResult] = []
    total = len(study.cells)
    for number, cell in enumerate(study.cells, start=1):
        run_dir = directory / "cells" / cell.name
        label = f"[{number}/{total}] {cell.name}"
        state = cell_state(run_dir, cell)
        if state == "finished":
            say(f"{label}: finished earlier, skipped")
            results.append(CellResult(cell.name, "skipped"))
            continue
        say(f"{label}: " + {"new": "starting", "partial": "resuming", "extend": "continuing with a larger budget"}[state])
        config = cell.config.with_changes(run_dir=str(run_dir), resume=state != "new")
        try:
            result = optimize(config, progress=shown.prefixed(f"{label}: "))
        except SmolgepaError as exc:
            errors[cell.name] = str(exc)
            record_cells(directory, study, errors)
            say(f"{label}: failed: {exc}")
            results.append(CellResult(cell.name, "failed", str(exc)))
            continue
        errors[cell.name] = None
        record_cells(directory, study, errors)
        status = str(result.summary.get("status", "?"))
        say(f"{label}: {status}")
        results.append(CellResult(cell.name, status))
    return finish_study(directory, results, report, say)
