"""A study directory: one run directory per cell under `cells/`, and `study.json` naming them.

    study.json        schema_version, the study's name and file, and per cell: name, dir, values
                      (the grid values of the cell: task, student, seed, ...) and its last error
    cells/<name>/     a normal run directory (see smolgepa.optimize.rundir; read through smolgepa.runrecord)
    report.html       written by `smolgepa study` and `smolgepa report`
    report.md, report-plots/

A directory without study.json whose subdirectories are run directories also reads as a study.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.jsonfiles import Redactor, write_json_atomic
from smolgepa.report.rundata import RunData, is_run_dir, load_run

MANIFEST = "study.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CellEntry:
    """One cell of a study: its run directory (relative to the study directory) and its grid values."""

    name: str
    dir: str
    values: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class Manifest:
    name: str
    source: str
    cells: tuple[CellEntry, ...]
    axes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class StudyRun:
    """A cell as read for a report: its run (None when it never got a summary) and why not."""

    entry: CellEntry
    path: Path
    run: RunData | None
    problem: str | None


@dataclass(frozen=True)
class StudyData:
    """A study directory as read for a report."""

    path: Path
    name: str
    axes: tuple[str, ...]
    runs: tuple[StudyRun, ...]


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write study.json atomically."""
    data = {"schema_version": SCHEMA_VERSION, "name": manifest.name, "source": manifest.source,
            "axes": list(manifest.axes), "cells": [asdict(cell) for cell in manifest.cells]}
    write_json_atomic(directory / MANIFEST, data, Redactor())


def read_manifest(directory: Path) -> Manifest | None:
    """study.json of a study directory, or None when there is none."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema_version") != SCHEMA_VERSION:
            raise SmolgepaError(
                f"{path} has schema_version {data.get('schema_version')!r}; this smolgepa reads {SCHEMA_VERSION}."
            )
        cells = tuple(CellEntry(c["name"], c["dir"], dict(c.get("values") or {}), c.get("error"))
                      for c in data["cells"])
        return Manifest(str(data.get("name", directory.name)), str(data.get("source", "")), cells,
                        tuple(data.get("axes") or ()))
    except (ValueError, KeyError, TypeError) as exc:
        raise SmolgepaError(f"{path} is not a valid study manifest ({exc}). Re-run the study to rewrite it.") from None


def _discovered(directory: Path) -> Manifest:
    if not directory.is_dir():
        return Manifest(directory.name, "", ())
    runs = sorted([*directory.glob("*/config.json"), *directory.glob("cells/*/config.json")])
    cells = tuple(CellEntry(p.parent.name, p.parent.relative_to(directory).as_posix(), {}) for p in runs)
    return Manifest(directory.name, "", cells)


def is_study_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file() or (path.is_dir() and not is_run_dir(path) and bool(_discovered(path).cells))


def read_study_output(directory: str | Path) -> StudyData:
    """Read every cell of a study directory; cells without a summary yet are kept with the reason."""
    path = Path(directory)
    manifest = read_manifest(path) or _discovered(path)
    if not manifest.cells:
        raise SmolgepaError(f"{path} holds no run directories: pass a run directory or a study's --out directory.")
    runs = []
    for cell in manifest.cells:
        cell_path = path / cell.dir
        run, problem = None, cell.error
        if (cell_path / "summary.json").is_file():
            run = load_run(cell_path)
        elif problem is None:
            problem = "not started" if not is_run_dir(cell_path) else "started, no result yet"
        runs.append(StudyRun(cell, cell_path, run, problem))
    return StudyData(path, manifest.name, manifest.axes, tuple(runs))
