"""Speed figures of issues 14 and 15 for benchmarks/bench.py: trace renderings and scoring methods.

- `summary_vs_plain`: per-example time of scored decoding on agent traces rendered `summary` over
  the same traces rendered `plain` (issue 15: at most 1/4).
- `channel_vs_scored`, `ensemble_vs_scored`: per-example time of the noisy channel (one pass per
  label) and the demo ensemble (one pass per demonstration) over scored decoding (one pass); the
  target is their number of forward passes (issue 14).
- `knn_anchor_reuse`, `probe_anchor_reuse`, `hidden_anchor_reuse`: the first evaluation under an
  instruction builds the anchor memory (one pass per training example; the probes are fitted on it), the second reuses it:
  first over second. If anchors were rebuilt the
  ratio would be about 1; the target is half the gain that reuse should give.
Every set-up runs on the embedded engine without the disk cache, timed interleaved, median round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dspy

from bench_helpers import Figure, median_rounds, raw_engine, time_per_example
from smolgepa.evaluation.evaluate import evaluate
from smolgepa.lm import StudentOptions, make_lm
from smolgepa.lm.readings.reading import DEFAULT_ENSEMBLE_K
from smolgepa.lm.options import train_pairs
from smolgepa.lm.readings.fit_memory import forget_shared_fits
from smolgepa.tasks import load_task
from smolgepa.tasks.loader import rendered
from smolgepa.tasks.model import Example, Task

TRACE_TASK = "agent_monitor-extended"


def student(task: Task, decode: str, **options: object) -> dspy.LM:
    """An embedded student for `task` with this decode mode, without the disk cache."""
    lm = make_lm("embedded", StudentOptions(decode=decode, labels=tuple(task.labels), **options))  # type: ignore[arg-type]
    return lm.copy(engine=raw_engine(lm))


def timer(task: Task, lm: dspy.LM, examples: Sequence[Example]) -> Callable[[], float]:
    return lambda: time_per_example(lambda: evaluate(task, lm, examples), len(examples))


def summary_vs_plain(count: int, rounds: int) -> Figure:
    """Scored decoding per example on `count` validation traces: summary rendering over plain."""
    plain = load_task(TRACE_TASK, render="plain")
    summary = rendered(plain, "summary")
    ids = [example.id for example in plain.split("val")[:count]]
    plain_examples = [e for e in plain.split("val") if e.id in ids]
    summary_examples = [e for e in summary.split("val") if e.id in ids]
    lm = student(plain, "scored")
    run_plain, run_summary = timer(plain, lm, plain_examples), timer(summary, lm, summary_examples)
    run_plain(), run_summary()  # warm up: model load, the instruction in the KV cache
    plain_time, summary_time = median_rounds(rounds, run_plain, run_summary)
    note = f"{summary_time * 1000:.0f} vs {plain_time * 1000:.0f} ms/example, n={len(ids)} {TRACE_TASK} val traces"
    return Figure("RATIO", "summary_vs_plain", summary_time / plain_time, "<=", 0.25, note)


def methods_vs_scored(task: Task, examples: Sequence[Example], rounds: int) -> list[Figure]:
    """Channel and ensemble per-example time over scored, each against its number of forward passes."""
    train = train_pairs(task)
    scored = student(task, "scored")
    channel = student(task, "channel")
    ensemble = student(task, "ensemble", train_examples=train)
    steps = [timer(task, lm, examples) for lm in (scored, channel, ensemble)]
    for step in steps:
        step()  # warm up
    scored_time, channel_time, ensemble_time = median_rounds(rounds, *steps)
    passes = {"channel": len(task.labels), "ensemble": min(DEFAULT_ENSEMBLE_K, len(train))}
    figures = []
    for name, value in (("channel", channel_time), ("ensemble", ensemble_time)):
        note = (f"{value * 1000:.0f} vs {scored_time * 1000:.0f} ms/example, {passes[name]} forward passes "
                f"per answer vs 1, n={len(examples)} {task.name}")
        figures.append(Figure("RATIO", f"{name}_vs_scored", value / scored_time, "<=", float(passes[name]), note))
    return figures


def anchor_reuse(task: Task, examples: Sequence[Example], decode: str) -> Figure:
    """kNN or a probe (`probe`, `hidden`): the first evaluation under an instruction (anchors built, the probe fitted)
    over the second (both reused)."""
    train = train_pairs(task)
    forget_shared_fits()  # start as a new process would: nothing read by the engines measured before
    lm = student(task, decode, train_examples=train)
    first = time_per_example(lambda: evaluate(task, lm, examples), len(examples))
    second = time_per_example(lambda: evaluate(task, lm, examples), len(examples))
    # with reuse: first ~ (anchors + queries) / queries of the second; half that gain is the target
    target = 1 + 0.5 * len(train) / len(examples)
    note = (f"{first * 1000:.0f} vs {second * 1000:.0f} ms/example, {len(train)} anchors built once, "
            f"n={len(examples)} {task.name}")
    return Figure("RATIO", f"{decode}_anchor_reuse", first / second, ">=", round(target, 2), note)


def trace_figures(quick: bool, rounds: int) -> list[Figure]:
    """Every figure of this module: `quick` uses fewer traces and examples."""
    task = load_task("sentiment")
    examples = task.split("val")[:3] if quick else task.split("val") + task.split("test")
    return [
        summary_vs_plain(3 if quick else 8, rounds),
        *methods_vs_scored(task, examples, rounds),
        anchor_reuse(task, examples, "knn"),
        anchor_reuse(task, examples, "probe"),
        anchor_reuse(task, examples, "hidden"),
    ]
