"""A monitor that uses both the model and the figures: does the 135M add anything to the evidence figures?

    python benchmarks/figures_monitor.py                       # annotated, then summary; both settings' test splits
    python benchmarks/figures_monitor.py --renders annotated --val

Three detectors, all fitted on agent_monitor-extended's train split (120 generated traces) and read on
the same examples: the evidence-figures logistic regression (`smolgepa baseline --method evidence`: no
LM, its L2 by cross-validation on train), the `hidden` reading, and `hidden-figures` (the two
combined), each rendering that carries the figures in turn. Both readings run on one embedded engine
with agent_monitor-extended's seed instruction, so they share the hidden-state anchors (`Reading:
hidden` on the seed instruction for the second), and both settings are read from the same anchors:

- `extended`: agent_monitor-extended's test split (120, balanced);
- `generated-to-real`: agent_monitor-real's test split (89, 84 of them making_progress), the
  generated->real setting of benchmarks/cross_traces.py (which writes its own task file, whose seed
  instruction is a sentence about the file; here the generated task's own instruction is kept).

Nothing is chosen here: every setting of the three detectors was fixed before this ran (the figures'
L2 by cross-validation on train, the read-out's L2 that of `stack`); each test split is read once per
detector (`--val` reads agent_monitor-extended's val split too). Prints accuracy with n and its 95%
Wilson interval, recall per label (hits/n), and per label the paired count of examples the combined
reading gets right and the other detector wrong, and the reverse (exact two-sided sign test).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from smolgepa.adapter.program import seed_instruction  # noqa: E402
from smolgepa.candidate.reading_line import with_reading  # noqa: E402
from smolgepa.evaluation.evaluate import EvalReport, Prediction, evaluate, report_from_predictions  # noqa: E402
from smolgepa.evaluation.stats import format_accuracy  # noqa: E402
from smolgepa.lm import StudentOptions, make_lm  # noqa: E402
from smolgepa.lm.options import train_pairs  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.tasks.model import Example, Task  # noqa: E402
from smolgepa.traces.shallow import fit_figures_cv  # noqa: E402

RENDERS = ("annotated", "summary")
READINGS = ("hidden-figures", "hidden")
FIGURES_LR = "figures LR (no LM)"


def say(text: str) -> None:
    print(text, flush=True)


def read_sets(render: str, val: bool) -> tuple[Task, dict[str, list[Example]]]:
    """The generated task (train, instruction) in `render`, and the examples each row reads."""
    generated = load_task("agent_monitor-extended", render=render)
    real = load_task("agent_monitor-real", render=render)
    sets = {"extended val": list(generated.split("val"))} if val else {}
    sets.update({"extended test": list(generated.split("test")), "generated-to-real test": list(real.split("test"))})
    return generated, sets


def figures_reports(task: Task, sets: dict[str, list[Example]]) -> dict[str, EvalReport]:
    """The evidence-figures logistic regression, fitted on train (L2 by cross-validation on train)."""
    model = fit_figures_cv([(e.raw, e.label) for e in task.split("train")])
    reports = {}
    for name, examples in sets.items():
        predictions = [Prediction(id=e.id, input=e.input, label=e.label, predicted=p, raw=p, parse_method="evidence")
                       for e, p in zip(examples, model.predict([e.raw for e in examples]))]
        reports[name] = report_from_predictions(task, predictions, f"(evidence figures, l2={model.l2:g})",
                                                student="none", split=name, decode="none (no LM)")
    return reports


def reading_reports(task: Task, sets: dict[str, list[Example]]) -> dict[str, dict[str, EvalReport]]:
    """Each reading's reports, on one engine (decode `hidden-figures`; `hidden` by a `Reading:` line on
    the seed instruction, sharing its hidden-state anchors and query rows)."""
    options = StudentOptions(decode=READINGS[0], labels=tuple(task.labels), train_examples=train_pairs(task),
                             cache_enabled=False)
    lm = make_lm("embedded", options)
    seed = seed_instruction(task)
    found: dict[str, dict[str, EvalReport]] = {}
    for name, examples in sets.items():
        for reading in READINGS:
            instruction = seed if reading == READINGS[0] else with_reading(seed, reading)
            started = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):
                report = evaluate(task, lm, examples, instruction, student="embedded", split=name)
            found.setdefault(reading, {})[name] = report
            say(f"# {task.render} {reading} {name}: {report.correct}/{report.n}, {time.perf_counter() - started:.0f}s")
    return found


def recall_cells(report: EvalReport, labels: Sequence[str]) -> list[str]:
    rows = report.per_label()
    return [f"{rows[label]['correct']}/{rows[label]['n']}" for label in labels]


def sign_test(better: int, worse: int) -> float:
    """Exact two-sided sign test of `better` against `worse` discordant pairs."""
    n = better + worse
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(better, worse) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_cells(combined: EvalReport, base: EvalReport, labels: Sequence[str]) -> list[str]:
    """Per label: +b/-c (combined right and base wrong / the reverse), with the sign test's p."""
    base_right = {p.id: p.correct for p in base.predictions}
    cells = []
    for label in labels:
        rows = [p for p in combined.predictions if p.label == label]
        better = sum(p.correct and not base_right[p.id] for p in rows)
        worse = sum(base_right[p.id] and not p.correct for p in rows)
        cells.append(f"+{better}/-{worse} (p={sign_test(better, worse):.2f})")
    return cells


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", default=",".join(RENDERS), help="renderings that carry the figures: " + ", ".join(RENDERS))
    parser.add_argument("--val", action="store_true", help="also agent_monitor-extended's val split")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    say(f"# {time.strftime('%Y-%m-%d %H:%M')}, {cpu_description()}")
    lines = ["| read on | rendering | detector | accuracy (n, 95% CI) | doom_loop | api_confusion | "
             "verbose_thinking | making_progress |", "|---|---|---|---|---|---|---|---|"]
    paired = ["| read on | rendering | `hidden-figures` against | doom_loop | api_confusion | verbose_thinking | "
              "making_progress |", "|---|---|---|---|---|---|---|"]
    for render in [r for r in args.renders.split(",") if r]:
        task, sets = read_sets(render, args.val)
        labels = list(task.labels)
        rows = {FIGURES_LR: figures_reports(task, sets)}
        rows.update({f"`{r}`": reports for r, reports in reading_reports(task, sets).items()})
        for name in sets:
            for detector, reports in rows.items():
                report = reports[name]
                lines.append(f"| {name} | {render} | {detector} | {format_accuracy(report.correct, report.n)} | "
                             + " | ".join(recall_cells(report, labels)) + " |")
                say(lines[-1])
            for other in (FIGURES_LR, "`hidden`"):
                paired.append(f"| {name} | {render} | {other} | "
                              + " | ".join(paired_cells(rows["`hidden-figures`"][name], rows[other][name], labels)) + " |")
                say(paired[-1])
    say("\n".join(lines))
    say("")
    say("\n".join(paired))
    say(f"# took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
