"""Agent monitoring across distributions: every detector trained on generated traces, on real ones or on
both, and tested on the real test split (`agent_monitor-real`).

    python benchmarks/cross_traces.py --out studies/cross-traces                 # every row, GEPA on 2 seeds
    python benchmarks/cross_traces.py --fixed hidden@plain,stack@plain --gepa ""  # fewer rows

Settings (each a task file written to --out; the test split is always agent_monitor-real's test split):
- generated->real: train and val of agent_monitor-extended (generated traces);
- real->real: train and val of agent_monitor-real;
- mixed: both trains, both vals.
Rows: majority label, bag of words, the published rules, evidence-figures logistic regression, decision
list, each 135M reading on the plain rendering, `hidden` and `hidden-figures` (the model and the
figures combined) on the annotated rendering, and GEPA (built-in proposer with readings). Each prints
benchmarks/accuracy.py's `ACCURACY` line and a `# recall` line; a Markdown table with per-label recall
(hits/n) closes the output. Nothing is tuned on the test split: it is read once per row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402  (benchmarks/accuracy.py: the rows and their ACCURACY lines)
from smolgepa.evaluation.stats import format_accuracy  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402

REAL = "agent_monitor-real"
GENERATED = "agent_monitor-extended"
SETTINGS = {  # setting -> which task's examples each split takes
    "generated-to-real": {"train": (GENERATED,), "val": (GENERATED,), "test": (REAL,)},
    "real-to-real": {"train": (REAL,), "val": (REAL,), "test": (REAL,)},
    "mixed": {"train": (GENERATED, REAL), "val": (GENERATED, REAL), "test": (REAL,)},
}
FIXED = ("hidden@plain", "probe@plain", "knn@plain", "stack@plain", "scored@plain", "hidden@annotated",
         "hidden-figures@annotated")
BUDGET = 300


def task_rows(name: str) -> list[dict]:
    """The JSONL rows of a built-in trace task, as written (traces as plain dicts)."""
    source = Path(load_task(name).source)
    data = source.parent / yaml.safe_load(source.read_text(encoding="utf-8"))["data"]
    return [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_task(setting: str, out: Path) -> Path:
    """Write the setting's task file (YAML + JSONL) under `out` and return the YAML's path."""
    real = load_task(REAL)
    rows = []
    for split, sources in SETTINGS[setting].items():
        for source in sources:
            rows += [{"id": f"{source}:{row['id']}", "trace": row["trace"], "label": row["label"], "split": split}
                     for row in task_rows(source) if row["split"] == split]
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{setting}.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    spec = {
        "name": f"agent_monitor-{setting}",
        "description": f"{setting}: train and val from {', '.join(SETTINGS[setting]['train'])}; "
                       f"test from {REAL} (written by benchmarks/cross_traces.py).",
        "input": "trace", "input_format": "trace", "render": "plain", "max_input_tokens": real.meta.get("max_input_tokens", 700),
        "labels": dict(real.labels), "data": data.name,
    }
    path = out / f"{setting}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def recall_cells(cell: accuracy.Cell, labels: Sequence[str]) -> list[str]:
    """Per-label recall of a row as hits/n (summed over seeds for GEPA)."""
    cells = []
    for label in labels:
        hits = sum(r.per_label()[label]["correct"] for r in cell.reports)
        n = sum(r.per_label()[label]["n"] for r in cell.reports)
        cells.append(f"{hits}/{n}" if n else "-")
    return cells


def table(results: dict[str, list[accuracy.Cell]], labels: Sequence[str]) -> str:
    """The Markdown table: one row per setting x detector."""
    lines = ["| setting | detector | test accuracy (95% CI) | " + " | ".join(labels) + " |",
             "|---|---|---|" + "---|" * len(labels)]
    for setting, cells in results.items():
        for cell in cells:
            report = cell.reports[0]
            seeds = "" if len(cell.reports) == 1 else " / ".join(f"{r.accuracy:.1%}" for r in cell.reports[1:])
            accuracy_text = format_accuracy(report.correct, report.n) + (f" / {seeds}" if seeds else "")
            lines.append(f"| {setting} | {cell.method} | {accuracy_text} | " + " | ".join(recall_cells(cell, labels))
                         + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="studies/cross-traces", help="task files and GEPA runs (resumable)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated, of: " + ", ".join(SETTINGS))
    parser.add_argument("--fixed", default=",".join(FIXED), help="135M readings to run, comma-separated (reading@render)")
    parser.add_argument("--gepa", default="readings", help="GEPA rows (benchmarks/accuracy.py's names; empty for none)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per GEPA row (default 2)")
    parser.add_argument("--budget", type=int, default=BUDGET, help=f"GEPA's metric-call budget (default {BUDGET})")
    args = parser.parse_args(argv)
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown --settings {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    started = time.perf_counter()
    accuracy.say(f"# {time.strftime('%Y-%m-%d')}, {cpu_description()}")
    out = Path(args.out)
    fixed = [m for m in args.fixed.split(",") if m]
    gepa = [m for m in args.gepa.split(",") if m]
    results = {}
    for setting in args.settings.split(","):
        path = write_task(setting, out / "tasks")
        cells = accuracy.run_task(str(path.resolve()), quick=False, seeds=list(range(args.seeds)), out=out, gepa=gepa,
                                  peers=False, fixed=fixed, render="plain", budget=args.budget)
        results[setting] = cells
    accuracy.say(table(results, list(load_task(REAL).labels)))
    accuracy.say(f"# took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
