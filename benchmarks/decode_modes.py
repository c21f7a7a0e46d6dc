#!/usr/bin/env python3
"""Decode modes side by side on the embedded student (issue 5): accuracy, unparseable rate, speed.

    python benchmarks/decode_modes.py                    # sentiment-extended and agent_monitor-extended, test split
    python benchmarks/decode_modes.py --limit 12         # a quick look: the first 12 examples of each split
    python benchmarks/decode_modes.py --json results.json

For each task the modes free / constrained / scored / scored+calibrate run with the task's seed
instruction, each on its own engine (own KV cache), interleaved in chunks of examples so that load
from other programs hits every mode alike. Printed: accuracy with n and a 95% Wilson interval, the
unparseable rate, seconds per example (model load excluded; calibration's content-free scoring
included), and time relative to scored. Then what the diagnostics saw in free mode (echoes of the
input, the instruction, the label definitions and the label list), with the commonest outputs.
"""

from __future__ import annotations

import os

# Before llama_cpp is first imported: spinning OpenMP threads stall llama.cpp on a busy machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from smolgepa.errors import SmolgepaError  # noqa: E402
from smolgepa.evaluation.evaluate import (  # noqa: E402
    EvalReport,
    Prediction,
    lm_decode,
    predict,
    report_from_predictions,
)
from smolgepa.lm import StudentOptions, make_lm  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.adapter.program import make_program  # noqa: E402
from smolgepa.evaluation.stats import format_accuracy  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402

MODES: dict[str, dict[str, Any]] = {
    "free": {"decode": "free"},
    "constrained": {"decode": "constrained"},
    "scored": {"decode": "scored"},
    "scored+calibrate": {"decode": "scored", "calibrate": True},
}
DEFAULT_TASKS = ("sentiment-extended", "agent_monitor-extended")


@dataclass
class ModeRun:
    """One mode's predictions and time, accumulated chunk by chunk."""

    name: str
    lm: Any
    seconds: float = 0.0
    predictions: list[Prediction] = field(default_factory=list)


def run_task(task_name: str, split: str, limit: int | None, chunk: int) -> dict[str, Any] | None:
    """All modes on one task split; None if the task is not available."""
    try:
        task = load_task(task_name)
    except SmolgepaError as exc:
        print(f"skipping {task_name}: {exc}", file=sys.stderr)
        return None
    examples = task.split(split)[: limit or None]
    program = make_program(task)
    runs = []
    for name, extra in MODES.items():
        lm = make_lm("embedded", StudentOptions(labels=tuple(task.labels), **extra))
        lm.engine.llama()  # load the model outside the timed part
        runs.append(ModeRun(name, lm))
    for start in range(0, len(examples), chunk):
        part = examples[start : start + chunk]
        for run in runs:
            began = time.perf_counter()
            run.predictions += predict(program, run.lm, part)
            run.seconds += time.perf_counter() - began
        done = min(start + chunk, len(examples))
        print(f"  {task_name}: {done}/{len(examples)}", file=sys.stderr, flush=True)
    reports = {}
    for run in runs:
        decode, calibrate = lm_decode(run.lm)
        reports[run.name] = report_from_predictions(task, run.predictions, program.signature.instructions,
                                                    student="embedded", split=split, decode=decode, calibrate=calibrate)
    seconds = {run.name: run.seconds / max(len(examples), 1) for run in runs}
    for run in runs:
        run.lm.engine.close()
    return {"task": task_name, "split": split, "n": len(examples), "reports": reports, "seconds": seconds}


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def result_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for result in results:
        scored = result["seconds"]["scored"]
        for mode, report in result["reports"].items():
            seconds = result["seconds"][mode]
            rows.append([
                result["task"],
                mode,
                format_accuracy(report.correct, report.n),
                f"{100 * report.unparsed / max(report.n, 1):.1f}% ({report.unparsed}/{report.n})",
                f"{seconds:.3f}",
                f"{seconds / scored:.2f}x" if scored > 0 else "-",
            ])
    return rows


def ratio_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for result in results:
        s = result["seconds"]
        pairs = [("free", "scored"), ("constrained", "scored"), ("free", "constrained"), ("scored+calibrate", "scored")]
        text = ", ".join(f"{a}/{b} {s[a] / s[b]:.2f}" for a, b in pairs if s.get(b))
        lines.append(f"{result['task']}: time ratios {text}")
    return lines


def free_diagnostics(report: EvalReport) -> dict[str, Any]:
    """What the diagnostics say about free-text answers, with the commonest raw outputs."""
    d = report.diagnostics
    common = Counter(" ".join(p.raw.split())[:90] for p in report.predictions).most_common(5)
    return {
        "n": d.n,
        "unparsed_rate": d.unparsed_rate,
        "input_echo_rate": d.input_echo_rate,
        "instruction_echo_rate": d.instruction_echo_rate,
        "definition_echo_rate": d.definition_echo_rate,
        "label_list_echo_rate": d.label_list_echo_rate,
        "prohibition_echo_rate": d.prohibition_echo_rate,
        "no_usable_answers": d.no_usable_answers,
        "predicted_distribution": d.predicted_distribution,
        "collapse_label": d.collapse_label,
        "summary": d.summary_lines(),
        "commonest_outputs": common,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, help="only the first N examples of each split")
    parser.add_argument("--chunk", type=int, default=6, help="examples per mode before switching modes")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    results = [r for name in args.tasks if (r := run_task(name, args.split, args.limit, args.chunk))]
    load_after = os.getloadavg()

    print(f"decode modes, embedded SmolLM2-135M-Instruct Q4_1, {args.split} split, seed instruction; {started}")
    print(f"machine: {cpu_description()}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"(other programs were running: timings are noisy); OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )
    print()
    print(table(["task", "decode", "accuracy (n, 95% CI)", "unparseable", "s/example", "time vs scored"], result_rows(results)))
    print()
    for line in ratio_lines(results):
        print(line)
    diagnostics = {r["task"]: free_diagnostics(r["reports"]["free"]) for r in results}
    for task_name, diag in diagnostics.items():
        print()
        print(f"{task_name}, free mode diagnostics (n={diag['n']}):")
        for key in ("unparsed_rate", "input_echo_rate", "instruction_echo_rate", "definition_echo_rate",
                    "label_list_echo_rate", "prohibition_echo_rate"):
            print(f"  {key}: {100 * diag[key]:.1f}%")
        print(f"  no usable answers: {diag['no_usable_answers']}; predicted: {diag['predicted_distribution']}")
        for text, count in diag["commonest_outputs"]:
            print(f"  {count:3d}x {text!r}")
    if args.json:
        data = {
            "started": started,
            "load_average": [load_before[0], load_after[0]],
            "results": [
                {
                    "task": r["task"], "split": r["split"], "n": r["n"], "seconds_per_example": r["seconds"],
                    "modes": {mode: rep.to_json() for mode, rep in r["reports"].items()},
                }
                for r in results
            ],
            "free_diagnostics": diagnostics,
        }
        args.json.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
