"""The report of a study: tables across the grid (mean ± spread over seeds), then every run."""

from __future__ import annotations

from smolgepa.report import plots
from smolgepa.report.findings import Finding, plural, run_findings, study_findings
from smolgepa.report.layout import StudyData, StudyRun
from smolgepa.report.renders import renders_section
from smolgepa.report.parts import Bullets, Image, Paragraph, Report, Section, Table, accuracy, change, mean_spread, percent
from smolgepa.report.runreport import MAX_ITERATION_COLUMNS, ROUNDS_NOTE, run_sections, scored_rounds

IGNORED_SETTINGS = {"seed", "run_dir", "resume", "threads"}


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


def _groups(study: StudyData, columns: list[str]) -> list[tuple[tuple[str, ...], list[StudyRun]]]:
    groups: dict[tuple[str, ...], list[StudyRun]] = {}
    for cell in study.runs:
        values = _values(cell)
        groups.setdefault(tuple(values.get(c, "-") for c in columns), []).append(cell)
    return list(groups.items())


def _seed(cell: StudyRun) -> str:
    return _values(cell).get("seed", "-")


def _run_name(key: tuple[str, ...], cell: StudyRun) -> str:
    return " × ".join(key) + f", seed {_seed(cell)}"


def study_report(study: StudyData) -> Report:
    """The report of a study directory: tables across the grid, then every run."""
    columns = _columns(study)
    groups = _groups(study, columns)
    finished = sum(1 for c in study.runs if c.run is not None and c.run.status == "finished")
    intro = [Paragraph(
        f"{plural(len(study.runs), 'run')} in {plural(len(groups), 'cell')} ({' × '.join(columns)}), "
        f"{finished} finished. Study directory: `{study.path}`. Accuracy is shown with n and a 95% Wilson "
        "interval per run, and as mean ± sample standard deviation across the seeds of a cell."
    )]
    problems = [f"{' × '.join(k)}, seed {_seed(c)}: {c.problem}" for k, cells in groups for c in cells if c.problem]
    if problems:
        intro.append(Paragraph("Runs without a result: " + "; ".join(problems) + "."))

    summary_rows, run_rows, iteration_rows, overview = [], [], [], []
    width = max([len(scored_rounds(c.run)) for c in study.runs if c.run] + [0])
    width = min(width, MAX_ITERATION_COLUMNS)
    all_findings: list[tuple[str, list[list[Finding]]]] = []
    run_findings_by_cell: dict[int, list[Finding]] = {}
    for key, cells in groups:
        done = [c.run for c in cells if c.run is not None and c.run.seed.get("val")]
        before = [r.seed["val"]["accuracy"] for r in done]
        after = [(r.best.get("val") or r.seed["val"])["accuracy"] for r in done]
        tests = [r for r in done if r.test.get("seed") and r.test.get("best")]
        test_before = [r.test["seed"]["accuracy"] for r in tests]
        test_after = [r.test["best"]["accuracy"] for r in tests]
        n_test = sorted({r.test["seed"]["n"] for r in tests})
        summary_rows.append((*key, str(len(done)), mean_spread(before), mean_spread(after),
                             mean_spread([a - b for a, b in zip(after, before)], " pts"),
                             mean_spread(test_before), mean_spread(test_after),
                             "/".join(map(str, n_test)) or "-"))
        overview.append((" × ".join(key), before, after))
        group_findings = []
        for cell in cells:
            run = cell.run
            if run is None:
                run_rows.append((*key, _seed(cell), cell.problem or "-", "-", "-", "-", "-", "-"))
                continue
            found = run_findings(run)
            run_findings_by_cell[id(cell)] = found
            group_findings.append(found)
            run_rows.append((*key, _seed(cell), run.status, accuracy(run.seed.get("val")),
                             accuracy(run.best.get("val")), accuracy(run.test.get("seed")),
                             accuracy(run.test.get("best")), change(run.test.get("seed"), run.test.get("best"))))
            records = scored_rounds(run)[:width]
            cells_text = [percent(r["val"]) if r.get("val") else f"({r.get('status')})" for r in records]
            iteration_rows.append((*key, _seed(cell), percent(run.seed.get("val")), *cells_text,
                                   *[""] * (width - len(records))))
        all_findings.append((" × ".join(key), group_findings))

    sections = [
        Section(f"Study: {study.name}", 1, tuple(intro), "study"),
        Section("Baseline | After | Change (mean ± spread across seeds)", 2, (
            Table((*columns, "runs", "Baseline (val)", "After (val)", "Change (val)", "Baseline (test)",
                   "After (test)", "n test"), tuple(summary_rows),
                  "Per cell: mean ± sample standard deviation over its seeds. After = the best instruction "
                  "of each run, chosen on validation.", "study-summary"),
            Image("study-overview", "Seed vs best instruction per cell", plots.study_overview(overview)),
        ), "study-summary"),
        Section("Every run: accuracy with n and 95% interval", 2, (
            Table((*columns, "seed", "status", "Baseline (val)", "After (val)", "Baseline (test)", "After (test)",
                   "Change (test)"), tuple(run_rows), "", "study-runs"),
        ), "study-runs"),
        Section("Validation accuracy per iteration", 2, (
            Table((*columns, "seed", "Baseline", *(f"Round {i}" for i in range(1, width + 1))),
                  tuple(iteration_rows),
                  "As in the study: validation accuracy of the seed instruction, then of the k-th proposal the "
                  "student answered in each run. " + ROUNDS_NOTE.split(". ", 1)[1].replace("the table below",
                                                                                  "each run's table below"),
                  "study-iterations"),
        ), "study-iterations"),
        Section("Findings across runs", 2, (Bullets(tuple(study_findings(all_findings)) or ("Nothing stood out.",)),),
                "study-findings"),
    ]
    renders = renders_section(study)
    if renders is not None:
        sections.insert(2, renders)
    for key, cells in groups:
        for cell in cells:
            if cell.run is not None:
                sections.extend(run_sections(cell.run, _run_name(key, cell), level=1,
                                             findings=run_findings_by_cell.get(id(cell)), prefix="run-"))
    return Report(f"smolgepa study: {study.name}", tuple(sections))
