"""Reports of runs and studies: Markdown for READMEs, one self-contained HTML file with plots.

    report = build_report("runs/sentiment-...")       # a run directory or a study directory
    write_html(report, "report.html"); write_markdown(report, "report.md")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smolgepa.errors import SmolgepaError
from smolgepa.report.parts import Report
from smolgepa.report.runreport import run_report
from smolgepa.report.studyreport import study_report
from smolgepa.report.html import render_html, write_html
from smolgepa.report.layout import is_study_dir, read_study_output
from smolgepa.report.markdown import render_markdown, write_markdown
from smolgepa.report.rundata import is_run_dir, load_run

__all__ = ["Report", "ReportFiles", "build_report", "render_html", "render_markdown", "write_html",
           "write_markdown", "write_report"]


def build_report(path: str | Path) -> Report:
    """The report of a run directory or of a study directory, finished or interrupted."""
    directory = Path(path)
    if not directory.is_dir():
        raise SmolgepaError(f"{directory} is not a directory: pass a run directory or a study's --out directory.")
    if is_run_dir(directory):
        return run_report(load_run(directory))
    if is_study_dir(directory):
        return study_report(read_study_output(directory))
    raise SmolgepaError(
        f"{directory} is neither a run directory (no config.json) nor a study directory (no study.json, "
        "no run directories inside). Pass the --run-dir of `smolgepa optimize` or the --out of `smolgepa study`."
    )


@dataclass(frozen=True)
class ReportFiles:
    html: Path | None
    markdown: Path | None


def write_report(path: str | Path, html: str | Path | None = None, markdown: str | Path | None = None) -> ReportFiles:
    """Build the report of `path` and write it; with neither target given, both go into `path`
    (report.html, report.md and report-plots/)."""
    report = build_report(path)
    if html is None and markdown is None:
        html, markdown = Path(path) / "report.html", Path(path) / "report.md"
    return ReportFiles(
        write_html(report, html) if html is not None else None,
        write_markdown(report, markdown) if markdown is not None else None,
    )
