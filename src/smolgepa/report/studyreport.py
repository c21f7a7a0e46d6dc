"""The report of a study: tables across the grid (mean ± spread over seeds), then every run."""

from __future__ import annotations

from dataclasses import dataclass, field

from smolgepa.formatting import accuracy, change, percent
from smolgepa.report import plots
from smolgepa.report.findings import Finding, plural, run_findings, study_findings
from smolgepa.report.layout import StudyData, StudyRun
from smolgepa.report.parts import Bullets, Image, Paragraph, Report, Section, Table, mean_spread
from smolgepa.report.renders import renders_section
from smolgepa.report.rundata import RunData
from smolgepa.report.runreport import MAX_ITERATION_COLUMNS, ROUNDS_NOTE, best_val, run_sections, scored_rounds, seed_val

IGNORED_SETTINGS = {"seed", "run_dir", "resume", "threads"}
Group = tuple[tuple[str, ...], list[StudyRun]]  # a grid cell's values and its runs (one per seed)


def _values(cell: StudyRun) -> dict[str, str]:
    """The grid values of a cell: from the manifest, or from the run's configuration."""
    config = cell.run.config if cell.run else {}
    values = {key: str(value) for key, value in cell.entry.values.items()}
    for key, value in config.items():
        values.setdefault(key, "-" if value is None else str(value))
    return values


def _columns(study: StudyData) -> list[str]:
    """task, student, then every other setting that differs between cells (seed separately)."""
    values = [_values(cell) for cell in study.runs]
    keys = ["task", "student"]
    for key in [*study.axes, *sorted({k for v in values for k in v})]:
        if key in keys or key in IGNORED_SETTINGS:
            continue
        if len({v[key] for v in values if key in v}) > 1:  # a cell without a run lacks its config
            keys.append(key)
    return keys


def _groups(study: StudyData, columns: list[str]) -> list[Group]:
    groups: dict[tuple[str, ...], list[StudyRun]] = {}
    for cell in study.runs:
        values = _values(cell)
        groups.setdefault(tuple(values.get(c, "-") for c in columns), []).append(cell)
    return list(groups.items())


def _seed(cell: StudyRun) -> str:
    return _values(cell).get("seed", "-")


def _run_name(key: tuple[str, ...], cell: StudyRun) -> str:
    return " × ".join(key) + f", seed {_seed(cell)}"


@dataclass
class _Grid:
    """The rows of the study's tables, filled one cell group at a time."""

    width: int
    summary_rows: list[tuple[str, ...]] = field(default_factory=list)
    run_rows: list[tuple[str, ...]] = field(default_factory=list)
    iteration_rows: list[tuple[str, ...]] = field(default_factory=list)
    overview: list[tuple[str, list[float], list[float]]] = field(default_factory=list)
    findings: list[tuple[str, list[list[Finding]]]] = field(default_factory=list)
    by_cell: dict[int, list[Finding]] = field(default_factory=dict)


def _summary_row(key: tuple[str, ...], cells: list[StudyRun], grid: _Grid) -> None:
    """Mean ± spread over the seeds of one cell, on validation and test."""
    done = [c.run for c in cells if c.run is not None and seed_val(c.run)]
    before = [seed_val(r).accuracy for r in done]  # type: ignore[union-attr]
    after = [(best_val(r) or seed_val(r)).accuracy for r in done]  # type: ignore[union-attr]
    tests = [r for r in done if r.test.get("seed") and r.test.get("best")]
    test_before = [r.test["seed"].accuracy for r in tests]
    test_after = [r.test["best"].accuracy for r in tests]
    n_test = sorted({r.test["seed"].n for r in tests})
    grid.summary_rows.append((*key, str(len(done)), mean_spread(before), mean_spread(after),
                              mean_spread([a - b for a, b in zip(after, before)], " pts"),
                              mean_spread(test_before), mean_spread(test_after),
                              "/".join(map(str, n_test)) or "-"))
    grid.overview.append((" × ".join(key), before, after))


def _run_rows(key: tuple[str, ...], cell: StudyRun, run: RunData, grid: _Grid) -> None:
    """One run's row in the every-run table and in the per-iteration table."""
    test_seed, test_best = run.test.get("seed"), run.test.get("best")
    grid.run_rows.append((*key, _seed(cell), run.status, accuracy(seed_val(run)), accuracy(best_val(run)),
                          accuracy(test_seed), accuracy(test_best), change(test_seed, test_best)))
    records = scored_rounds(run)[:grid.width]
    cells_text = [percent(r.val) if r.val else f"({r.status})" for r in records]
    grid.iteration_rows.append((*key, _seed(cell), percent(seed_val(run)), *cells_text,
                                *[""] * (grid.width - len(records))))


def _grid(groups: list[Group], width: int) -> _Grid:
    grid = _Grid(width)
    for key, cells in groups:
        _summary_row(key, cells, grid)
        group_findings = []
        for cell in cells:
            if cell.run is None:
                grid.run_rows.append((*key, _seed(cell), cell.problem or "-", "-", "-", "-", "-", "-"))
                continue
            found = run_findings(cell.run)
            grid.by_cell[id(cell)] = found
            group_findings.append(found)
            _run_rows(key, cell, cell.run, grid)
        grid.findings.append((" × ".join(key), group_findings))
    return grid


def _intro(study: StudyData, columns: list[str], groups: list[Group]) -> tuple[Paragraph, ...]:
    finished = sum(1 for c in study.runs if c.run is not None and c.run.status == "finished")
    intro = [Paragraph(
        f"{plural(len(study.runs), 'run')} in {plural(len(groups), 'cell')} ({' × '.join(columns)}), "
        f"{finished} finished. Study directory: `{study.path}`. Accuracy is shown with n and a 95% Wilson "
        "interval per run, and as mean ± sample standard deviation across the seeds of a cell."
    )]
    problems = [f"{' × '.join(k)}, seed {_seed(c)}: {c.problem}" for k, cells in groups for c in cells if c.problem]
    if problems:
        intro.append(Paragraph("Runs without a result: " + "; ".join(problems) + "."))
    return tuple(intro)


def _grid_sections(columns: list[str], grid: _Grid) -> list[Section]:
    width = grid.width
    return [
        Section("Baseline | After | Change (mean ± spread across seeds)", 2, (
            Table((*columns, "runs", "Baseline (val)", "After (val)", "Change (val)", "Baseline (test)",
                   "After (test)", "n test"), tuple(grid.summary_rows),
                  "Per cell: mean ± sample standard deviation over its seeds. After = the best instruction "
                  "of each run, chosen on validation.", "study-summary"),
            Image("study-overview", "Seed vs best instruction per cell", plots.study_overview(grid.overview)),
        ), "study-summary"),
        Section("Every run: accuracy with n and 95% interval", 2, (
            Table((*columns, "seed", "status", "Baseline (val)", "After (val)", "Baseline (test)", "After (test)",
                   "Change (test)"), tuple(grid.run_rows), "", "study-runs"),
        ), "study-runs"),
        Section("Validation accuracy per iteration", 2, (
            Table((*columns, "seed", "Baseline", *(f"Round {i}" for i in range(1, width + 1))),
                  tuple(grid.iteration_rows),
                  "As in the study: validation accuracy of the seed instruction, then of the k-th proposal the "
                  "student answered in each run. " + ROUNDS_NOTE.split(". ", 1)[1].replace("the table below",
                                                                                  "each run's table below"),
                  "study-iterations"),
        ), "study-iterations"),
        Section("Findings across runs", 2, (Bullets(tuple(study_findings(grid.findings)) or ("Nothing stood out.",)),),
                "study-findings"),
    ]


def study_report(study: StudyData) -> Report:
    """The report of a study directory: tables across the grid, then every run."""
    columns = _columns(study)
    groups = _groups(study, columns)
    width = max([len(scored_rounds(c.run)) for c in study.runs if c.run] + [0])
    grid = _grid(groups, min(width, MAX_ITERATION_COLUMNS))
    sections = [Section(f"Study: {study.name}", 1, _intro(study, columns, groups), "study"),
                *_grid_sections(columns, grid)]
    renders = renders_section(study)
    if renders is not None:
        sections.insert(2, renders)
    for key, cells in groups:
        for cell in cells:
            if cell.run is not None:
                sections.extend(run_sections(cell.run, _run_name(key, cell), level=1,
                                             findings=grid.by_cell.get(id(cell)), prefix="run-"))
    return Report(f"smolgepa study: {study.name}", tuple(sections))
