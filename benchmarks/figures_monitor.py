"""A monitor that uses both the model and the figures: does the 135M add anything to the evidence figures?

    python benchmarks/figures_monitor.py                                  # both settings, annotated and summary
    python benchmarks/figures_monitor.py --settings extended --renders annotated --plain

For each setting and each rendering that carries the figures, three detectors on the same examples:
the evidence-figures logistic regression (`smolgepa baseline --method evidence`: no LM, its L2 by
cross-validation on train), the `hidden` reading, and `hidden-figures` (the two combined). Both
readings run on one embedded engine, so they share the hidden-state anchors (`Reading: hidden` on the
seed instruction for the first). `--plain` adds `hidden` on the plain rendering, its best rendering.

Settings: `extended` is agent_monitor-extended (train 120 / val 60 / test 120); `generated-to-real` is
benchmarks/cross_traces.py's (train and val of agent_monitor-extended, test of agent_monitor-real).
Nothing is chosen here: every setting of the three detectors was fixed before this ran (the
figures' L2 by cross-validation on train); val and test are each read once per detector. Prints, per
split, accuracy with n and its 95% Wilson interval, recall per label (hits/n), and per label the
paired count of examples the combined reading gets right and the figures wrong, and the reverse
(exact two-sided sign test).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cross_traces  # noqa: E402  (the generated->real task file)
from smolgepa.adapter.program import seed_instruction  # noqa: E402
from smolgepa.candidate.reading_line import with_reading  # noqa: E402
from smolgepa.evaluation.evaluate import EvalReport, Prediction, evaluate, report_from_predictions  # noqa: E402
from smolgepa.evaluation.stats import format_accuracy  # noqa: E402
from smolgepa.lm import StudentOptions, make_lm  # noqa: E402
from smolgepa.lm.options import train_pairs  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.tasks.model import Task  # noqa: E402
from smolgepa.traces.shallow import fit_figures_cv  # noqa: E402

SETTINGS = ("extended", "generated-to-real")
RENDERS = ("annotated", "summary")
SPLITS = ("val", "test")


def say(text: str) -> None:
    print(text, flush=True)


def setting_task(setting: str, render: str, out: Path) -> Task:
    """The setting's task in `render`."""
    if setting == "extended":
        return load_task("agent_monitor-extended", render=render)
    return load_task(str(cross_traces.write_task("generated-to-real", out).resolve()), render=render)


def figures_reports(task: Task) -> dict[str, EvalReport]:
    """The evidence-figures logistic regression, fitted on train (L2 by cross-validation on train)."""
    model = fit_figures_cv([(e.raw, e.label) for e in task.split("train")])
    reports = {}
    for split in SPLITS:
        examples = task.split(split)
        predictions = [Prediction(id=e.id, input=e.input, label=e.label, predicted=p, raw=p, parse_method="evidence")
                       for e, p in zip(examples, model.predict([e.raw for e in examples]))]
        reports[split] = report_from_predictions(task, predictions, f"(evidence figures, l2={model.l2:g})",
                                                 student="none", split=split, decode="none (no LM)")
    return reports


def reading_reports(task: Task, readings: Sequence[str]) -> dict[str, dict[str, EvalReport]]:
    """Each reading's reports on val and test, on one engine (decode `hidden-figures`; other readings by
    a `Reading:` line on the seed instruction, sharing its hidden-state anchors)."""
    options = StudentOptions(decode=readings[0], labels=tuple(task.labels), train_examples=train_pairs(task),
                             cache_enabled=False)
    lm = make_lm("embedded", options)
    seed = seed_instruction(task)
    found: dict[str, dict[str, EvalReport]] = {}
    for reading in readings:
        instruction = seed if reading == readings[0] else with_reading(seed, reading)
        for split in SPLITS:
            started = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):
                report = evaluate(task, lm, task.split(split), instruction, student="embedded", split=split)
            found.setdefault(reading, {})[split] = report
            say(f"# {task.name} {task.render} {reading} {split}: {time.perf_counter() - started:.0f}s")
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
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated, of: " + ", ".join(SETTINGS))
    parser.add_argument("--renders", default=",".join(RENDERS), help="renderings that carry the figures: " + ", ".join(RENDERS))
    parser.add_argument("--plain", action="store_true", help="also `hidden` on the plain rendering")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    say(f"# {time.strftime('%Y-%m-%d %H:%M')}, {cpu_description()}")
    out = Path(tempfile.mkdtemp(prefix="figures-monitor-"))
    lines = ["| setting | split | rendering | detector | accuracy (n, 95% CI) | doom_loop | api_confusion | "
             "verbose_thinking | making_progress |", "|---|---|---|---|---|---|---|---|---|"]
    paired = ["| setting | split | rendering | compared | doom_loop | api_confusion | verbose_thinking | "
              "making_progress |", "|---|---|---|---|---|---|---|---|"]
    for setting in args.settings.split(","):
        runs = [(render, ("hidden-figures", "hidden")) for render in args.renders.split(",") if render]
        runs += [("plain", ("hidden",))] if args.plain else []
        for render, readings in runs:
            task = setting_task(setting, render, out)
            labels = list(task.labels)
            rows = {"figures LR (no LM)": figures_reports(task)} if render != "plain" else {}
            rows.update({f"`{r}`": reports for r, reports in reading_reports(task, readings).items()})
            for split in SPLITS:
                for name, reports in rows.items():
                    report = reports[split]
                    lines.append(f"| {setting} | {split} | {render} | {name} | {format_accuracy(report.correct, report.n)} | "
                                 + " | ".join(recall_cells(report, labels)) + " |")
                    say(lines[-1])
                if render != "plain":
                    combined = rows["`hidden-figures`"][split]
                    for name in ("figures LR (no LM)", "`hidden`"):
                        paired.append(f"| {setting} | {split} | {render} | `hidden-figures` vs {name} | "
                                      + " | ".join(paired_cells(combined, rows[name][split], labels)) + " |")
                        say(paired[-1])
    say("\n".join(lines))
    say("")
    say("\n".join(paired))
    say(f"# took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
