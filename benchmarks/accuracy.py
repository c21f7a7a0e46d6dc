"""Accuracy on held-out test splits: every way of reading the embedded 135M's answer, with and without
GEPA, beside DSPy's own optimizers and baselines that use no language model.

    python benchmarks/accuracy.py                     # every built-in extended task, 2 seeds
    python benchmarks/accuracy.py --quick             # the best configuration per task (1 seed) + no-LM rows
    python benchmarks/accuracy.py --task sentiment-extended --out studies/accuracy
    python benchmarks/accuracy.py --task clinc_domains --gepa readings --budget 240 --no-peers   # a real task

One line per cell, for programs to read:

    ACCURACY task=<task> method=<name> gepa=<yes|no> lm=<yes|no> split=test acc=<0.xxx> n=<n> ci=<lo>-<hi> min_recall=<0.xxx> seeds=<k>
    BEST task=<task> run=<run directory>

With several seeds, `acc` and `min_recall` are means over the seeds, `n` is the test split's size and
`ci` spans the seeds' 95% Wilson intervals (lowest lower bound to highest upper bound): the seeds answer
the same test examples, so pooling them would overstate what is known. Methods without randomness run
once (`seeds=1`). The GEPA cells are a study (`<out>/study.yaml`): run the benchmark again to resume it.
Nothing here is tuned on a test split: settings were chosen on validation, the test split is read once
per cell at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import yaml  # noqa: E402

from smolgepa.evaluation.evaluate import EvalReport, Prediction, evaluate, report_from_predictions  # noqa: E402
from smolgepa.lm import StudentOptions, make_lm  # noqa: E402
from smolgepa.lm.options import train_pairs  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.candidate.reading_line import READINGS  # noqa: E402
from smolgepa.evaluation.stats import wilson_interval  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.tasks.loader import rendered  # noqa: E402
from smolgepa.tasks.model import Task  # noqa: E402

TASKS = ("sentiment-extended", "agent_monitor-extended")  # the default: the built-in extended tasks
REAL_TASKS = ("financial_phrasebank", "clinc_domains")  # public data this project did not write (--task)
SINGLE_READINGS = ("scored", "scored+calibrate", "scored+calibrate-train", "channel", "knn", "probe", "hidden",
                   "ensemble+calibrate-train")
# Scoring methods read with the seed instruction, per task (names as in smolgepa.candidate.reading_line). Left out on
# validation evidence, to keep a full run near an hour on 2 cores: plain `ensemble` (below
# `ensemble+calibrate-train` on val) and `channel+calibrate-train` (below `channel` on val).
FIXED_METHODS = {
    "sentiment-extended": (*SINGLE_READINGS, "stack"),
    **{name: (*SINGLE_READINGS, "stack") for name in REAL_TASKS},
    # every rendering x scoring method (issue 15's ablation grid); the bare names read `TRACE_RENDER`;
    # `hidden-figures` reads the evidence figures from the rendering, which plain does not print
    "agent_monitor-extended": tuple(f"{reading}{suffix}" for suffix in ("", "@plain", "@annotated")
                                    for reading in ("scored", "scored+calibrate-train", "channel", "knn", "ensemble",
                                                    "probe", "hidden", "stack"))
                              + ("hidden-figures", "hidden-figures@annotated"),
}


def fixed_methods(task: Task) -> tuple[str, ...]:
    """The scoring methods a task's table reads: its own list, or a task file's by its input format."""
    default = FIXED_METHODS["agent_monitor-extended"] if task.input_format == "trace" else (*SINGLE_READINGS, "stack")
    return FIXED_METHODS.get(task.name, default)
RANDOMIZED = {"ensemble", "ensemble+calibrate-train"}  # the seed picks the demos of a prompt without any
# GEPA rows: name -> study cell settings. `readings`: the built-in proposer may change how the answer is
# read as well as the examples (fewshot) or counting rules (traces); the run starts from `scored`.
# `readings-evidence`: the same, with text moves accepted by the paired test as well (--text-moves evidence).
GEPA_METHODS = {"readings": {"decode": "scored", "readings": True},
                "readings-evidence": {"decode": "scored", "readings": True, "text_moves": "evidence"},
                "probe": {"decode": "probe"}, "knn": {"decode": "knn"}, "hidden": {"decode": "hidden"}}
GEPA_BUDGET = {"sentiment-extended": 400, "agent_monitor-extended": 300}
# What --quick runs per task: the best configuration measured here (see docs/measurements/).
QUICK = {"sentiment-extended": ("gepa", "readings"), "agent_monitor-extended": ("fixed", "hidden@plain"),
         **{name: ("gepa", "readings") for name in REAL_TASKS}}
PEERS = ("labeled", "bootstrap_rs", "knn")
TRACE_RENDER = "summary"  # the LM rows on trace tasks read the short evidence rendering (plain: ~700 tokens)
# unless the method names another: "hidden@plain" is the `hidden` reading on the plain rendering


def method_parts(method: str) -> tuple[str, str | None]:
    """A fixed method's reading and the trace rendering it names ("hidden@plain"), if any."""
    reading, _, render = method.partition("@")
    return reading, render or None


@dataclass
class Cell:
    """One row of the table: a method on a task, with one test report per seed."""

    task: str
    method: str
    gepa: bool
    lm: bool
    reports: list[EvalReport] = field(default_factory=list)
    run_dirs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def accuracy(self) -> float:
        return sum(r.accuracy for r in self.reports) / len(self.reports)

    def interval(self) -> tuple[float, float]:
        bounds = [wilson_interval(r.correct, r.n) for r in self.reports]
        return min(low for low, _ in bounds), max(high for _, high in bounds)

    def min_recall(self) -> float:
        return sum(min_recall(r) for r in self.reports) / len(self.reports)

    def line(self) -> str:
        low, high = self.interval()
        return (
            f"ACCURACY task={self.task} method={self.method} gepa={'yes' if self.gepa else 'no'} "
            f"lm={'yes' if self.lm else 'no'} split=test acc={self.accuracy():.3f} n={self.reports[0].n} "
            f"ci={low:.3f}-{high:.3f} min_recall={self.min_recall():.3f} seeds={len(self.reports)}"
        )


def min_recall(report: EvalReport) -> float:
    recalls = [row["recall"] for row in report.per_label().values() if row["recall"] is not None]
    return min(recalls) if recalls else 0.0


def recall_note(cell: Cell) -> str:
    """A comment line with the cell's per-label recall (mean over seeds) and its wall time."""
    recalls = {}
    for report in cell.reports:
        for label, row in report.per_label().items():
            recalls.setdefault(label, []).append(row["recall"] or 0.0)
    listed = " ".join(f"{label}={sum(v) / len(v):.3f}" for label, v in recalls.items())
    return f"# recall method={cell.method} {listed} seconds={cell.seconds:.0f}"


def gepa_notes(cell: Cell) -> list[str]:
    """Comment lines, one per GEPA run: the seed's test accuracy, the reading it ended on, its wall time."""
    from smolgepa.candidate.reading_line import split_reading
    from smolgepa.runrecord import read_summary

    notes = []
    for run_dir, report in zip(cell.run_dirs, cell.reports):
        summary = read_summary(run_dir)
        reading = split_reading(summary.best.instruction if summary.best else "")[0] or "(seed's)"
        seconds = summary.calls.wall_seconds_this_process if summary.calls else 0.0
        notes.append(f"# gepa method={cell.method} run={Path(run_dir).name} acc={report.accuracy:.3f} "
                     f"reading={reading} seconds={seconds:.0f}")
    return notes


def say(text: str) -> None:
    print(text, flush=True)


def quietly(step: Callable[[], object]) -> object:
    """Run `step` with DSPy's and GEPA's chatter kept off stdout (stdout holds the table)."""
    with contextlib.redirect_stdout(sys.stderr):
        return step()


# --- baselines without a language model ------------------------------------------------------------


def no_lm_cells(task: Task) -> list[Cell]:
    """Majority label of train; bag-of-words logistic regression; on trace tasks also the published
    stuck-detector rules, and a logistic regression and a decision list on the counted evidence figures."""
    from smolgepa.traces.shallow import fit_bag_of_words, full_text

    train, val, test = task.split("train"), task.split("val"), task.split("test")
    cells = []
    majority = max(sorted(task.labels), key=lambda label: sum(e.label == label for e in train))
    cells.append(_fixed_predictions(task, "majority", [majority] * len(test)))
    text = (lambda e: full_text(e.raw)) if task.input_format == "trace" else (lambda e: e.input)
    model = fit_bag_of_words([(text(e), e.label) for e in train], [(text(e), e.label) for e in val])
    cells.append(_fixed_predictions(task, "bow_lr", model.predict_texts([text(e) for e in test])))
    if task.input_format == "trace":
        from smolgepa.evaluation.baselines import fitted_report, rule_report

        cells.append(Cell(task.name, "rules", gepa=False, lm=False, reports=[rule_report(task.source, "test")]))
        for method in ("evidence", "decision-list"):
            report = fitted_report(task.source, "test", method)
            cells.append(Cell(task.name, method.replace("-", "_"), gepa=False, lm=False, reports=[report]))
    return cells


def _fixed_predictions(task: Task, method: str, labels: Sequence[str]) -> Cell:
    test = task.split("test")
    predictions = [Prediction(id=e.id, input=e.input, label=e.label, predicted=p, raw=p, parse_method="baseline")
                   for e, p in zip(test, labels)]
    report = report_from_predictions(task, predictions, f"({method})", student="none", split="test",
                                     decode="none (no LM)")
    return Cell(task.name, method, gepa=False, lm=False, reports=[report])


# --- scoring methods, seed instruction ---------------------------------------------------------------


def student_options(task: Task, method: str, seed: int = 0) -> StudentOptions:
    decode, calibrate, calibration = READINGS[method_parts(method)[0]]
    return StudentOptions(decode=decode, labels=tuple(task.labels), calibrate=calibrate, calibration=calibration,
                          train_examples=train_pairs(task), seed=seed, cache_enabled=True)


def fixed_cell(task: Task, method: str, seeds: Sequence[int]) -> Cell:
    cell = Cell(task.name, method, gepa=False, lm=True)
    render = method_parts(method)[1]
    if render:
        task = rendered(task, render)
    started = time.perf_counter()
    for seed in seeds if method_parts(method)[0] in RANDOMIZED else seeds[:1]:
        lm = make_lm("embedded", student_options(task, method, seed))
        cell.reports.append(quietly(lambda lm=lm: evaluate(task, lm, task.split("test"), student="embedded",
                                                           split="test")))
    cell.seconds = time.perf_counter() - started
    return cell


# --- DSPy's own optimizers ---------------------------------------------------------------------------


def peer_cells(task: Task, seeds: Sequence[int], decode_method: str, dspy_knn: bool = True) -> list[Cell]:
    from smolgepa.evaluation.dspy_compare import CompareConfig, compare

    lm = make_lm("embedded", student_options(task, decode_method))
    cells: dict[str, Cell] = {}
    for seed in seeds:
        # KNNFewShot has no randomness of its own (TF-IDF neighbours of each input): one run.
        methods = tuple(m for m in PEERS if m != "knn" or (dspy_knn and seed == seeds[0]))
        config = CompareConfig(methods=methods, seed=seed)
        results = quietly(lambda config=config: compare(task, lm, config, student="embedded"))
        for result in results:
            if result.method == "seed":
                continue
            name = f"{result.method}/{decode_method}"
            cell = cells.setdefault(name, Cell(task.name, name, gepa=False, lm=True))
            cell.reports.append(result.report)
            cell.seconds += result.seconds
    return list(cells.values())


# --- GEPA -------------------------------------------------------------------------------------------


def gepa_cells(task: Task, methods: Sequence[str], seeds: Sequence[int], out: Path, render: str = TRACE_RENDER,
               budget: int | None = None) -> list[Cell]:
    """GEPA with the built-in offline proposer, one study per method (resumable: run again to continue)."""
    from smolgepa.studies.study_file import load_study
    from smolgepa.studies.study_run import run_study

    cells = []
    for method in methods:
        directory = out / f"{task.name}__gepa-{method}"
        directory.mkdir(parents=True, exist_ok=True)
        study_file = directory / "study.yaml"
        settings = {k: v for k, v in GEPA_METHODS[method].items() if k != "decode"}
        rendering = {"render": render} if task.input_format == "trace" else {}
        study_file.write_text(yaml.safe_dump({
            "name": f"accuracy-{task.name}-gepa-{method}",
            "tasks": [task.source],  # a path: built-in tasks and task files alike
            **rendering,
            "students": ["embedded"],
            "decodes": [GEPA_METHODS[method]["decode"]],
            "seeds": list(seeds),
            "budget": budget or GEPA_BUDGET.get(task.name, 300),
            "settings": settings,
        }, sort_keys=False))
        study = load_study(study_file)
        result = quietly(lambda study=study, directory=directory: run_study(
            study, directory, progress=lambda line: print(line, file=sys.stderr)))
        failed = [c for c in result.cells if c.error]
        if failed:
            raise SystemExit(f"GEPA cells failed: {'; '.join(f'{c.name}: {c.error}' for c in failed)}")
        cell = Cell(task.name, f"gepa+{method}", gepa=True, lm=True)
        for study_cell in study.cells:
            run_dir = directory / "cells" / study_cell.name
            cell.reports.append(test_report(task, run_dir, "best"))
            cell.run_dirs.append(str(run_dir))
        cells.append(cell)
    return cells


def test_report(task: Task, run_dir: Path, which: str) -> EvalReport:
    """The test evaluation of the run's `which` instruction (seed or best), as the run recorded it."""
    examples = None
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "test_evaluated" and event.get("which") == which:
            examples = event["examples"]
    if examples is None:
        raise SystemExit(f"{run_dir}: no test evaluation of the {which} instruction recorded (unfinished run?)")
    inputs = {e.id: e.input for e in task.split("test")}
    predictions = [Prediction(id=e["id"], input=inputs.get(e["id"], ""), label=e["label"], predicted=e["predicted"],
                              raw=e["raw"], parse_method=e.get("parse_method", "")) for e in examples]
    return report_from_predictions(task, predictions, f"({which} instruction)", student="embedded", split="test")


def best_gepa(cells: Sequence[Cell]) -> tuple[Cell, str] | None:
    """The GEPA cell with the highest mean accuracy, and its best run directory."""
    gepa = [cell for cell in cells if cell.gepa]
    if not gepa:
        return None
    cell = max(gepa, key=Cell.accuracy)
    best = max(range(len(cell.reports)), key=lambda i: cell.reports[i].accuracy)
    return cell, cell.run_dirs[best]


# --- main -------------------------------------------------------------------------------------------


def run_task(name: str, quick: bool, seeds: Sequence[int], out: Path, gepa: Sequence[str],
             peers: bool = True, dspy_knn: bool = True, fixed: Sequence[str] | None = None,
             render: str = TRACE_RENDER, budget: int | None = None) -> list[Cell]:
    task = load_task(name)  # a built-in name or a task file's path
    if task.input_format == "trace":
        task = load_task(name, render=render)
    name = task.name
    cells = no_lm_cells(task)
    for cell in cells:
        say(cell.line())
    if quick:
        kind, method = QUICK.get(name, ("fixed", "hidden@plain" if task.input_format == "trace" else "hidden"))
        chosen = gepa_cells(task, [method], seeds[:1], out, render, budget) if kind == "gepa" else [fixed_cell(task, method, seeds[:1])]
        for cell in chosen:
            say(cell.line())
    else:
        chosen = []
        for method in fixed_methods(task) if fixed is None else [m for m in fixed_methods(task) if m in fixed]:
            chosen.append(fixed_cell(task, method, seeds))
            say(chosen[-1].line())
            say(recall_note(chosen[-1]))
        for cell in gepa_cells(task, gepa, seeds, out, render, budget):
            chosen.append(cell)
            say(cell.line())
            for note in gepa_notes(cell):
                say(note)
        if peers and task.input_format != "trace":  # DSPy's demos are whole inputs: traces do not fit several
            for cell in peer_cells(task, seeds, "scored", dspy_knn):
                chosen.append(cell)
                say(cell.line())
    found = best_gepa(chosen)
    if found:
        say(f"BEST task={name} run={found[1]}")
    return cells + chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the best configuration per task, one seed, and the no-LM rows")
    parser.add_argument("--task", help=f"one task only: {', '.join((*TASKS, *REAL_TASKS))} or a task YAML file")
    parser.add_argument("--budget", type=int, help="GEPA's metric-call budget (default: "
                        + ", ".join(f"{k} {v}" for k, v in GEPA_BUDGET.items()) + ", otherwise 300)")
    parser.add_argument("--trace-render", choices=("summary", "plain", "annotated"), default=TRACE_RENDER,
                        help=f"the rendering of trace tasks for the LM rows and GEPA (default {TRACE_RENDER})")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per randomized cell (default 2)")
    parser.add_argument("--out", default="studies/accuracy", help="where the GEPA runs go (resumable)")
    parser.add_argument("--gepa", default=",".join(GEPA_METHODS),
                        help=f"GEPA rows to run, comma-separated (default {','.join(GEPA_METHODS)}; empty for none)")
    parser.add_argument("--fixed", help="scoring methods without GEPA to run, comma-separated (default: all of "
                        "the task's; empty for none)")
    parser.add_argument("--no-peers", action="store_true", help="skip DSPy's own optimizers")
    parser.add_argument("--no-dspy-knn", action="store_true",
                        help="skip DSPy's KNNFewShot (it bootstraps again for every input: ~5 s per answer here)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    say(f"# {time.strftime('%Y-%m-%d')}, {cpu_description()}")
    seeds = list(range(args.seeds))
    if args.task and args.task not in (*TASKS, *REAL_TASKS) and not Path(args.task).is_file():
        parser.error(f"--task {args.task}: not one of {', '.join((*TASKS, *REAL_TASKS))} and no such task file")
    for name in [args.task] if args.task else TASKS:
        gepa = [m for m in args.gepa.split(",") if m]
        unknown = [m for m in gepa if m not in GEPA_METHODS]
        if unknown:
            parser.error(f"unknown --gepa {', '.join(unknown)}; choose from {', '.join(GEPA_METHODS)}")
        fixed = None if args.fixed is None else [m for m in args.fixed.split(",") if m]
        run_task(name, args.quick, seeds, Path(args.out), gepa, peers=not args.no_peers, dspy_knn=not args.no_dspy_knn,
                 fixed=fixed, render=args.trace_render, budget=args.budget)
    say(f"# took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
