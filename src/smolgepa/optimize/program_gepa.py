"""`smolgepa.gepa(...)`: DSPy's GEPA on a user's own program, set up for small local models.

The student answers through the `PlainTextAdapter`, the reflection LM through the
`PlainTextProposer` (plain text, no adapter), for any number of predictors. With `run_dir`, the
candidates, proposals and scores are written there (`smolgepa.optimize.program_record`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dspy

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.optimize.program_diagnostics import program_diagnostics
from smolgepa.optimize.program_record import write_program_run
from smolgepa.optimize.plain_proposer import PlainTextProposer


def gepa_metric(metric: Callable[..., Any]) -> Callable[..., Any]:
    """`metric` in GEPA's five-argument form (gold, pred, trace, pred_name, pred_trace); an ordinary
    DSPy metric `(example, prediction[, trace])` is called with the arguments it takes."""
    try:
        parameters = inspect.signature(metric).parameters.values()
    except (TypeError, ValueError):
        return metric
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        return metric
    taken = len([p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    if taken >= 5:
        return metric

    def five(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        return metric(*(gold, pred, trace, pred_name, pred_trace)[:taken])

    return five


def gepa(
    program: dspy.Module,
    trainset: Sequence[dspy.Example],
    valset: Sequence[dspy.Example] | None = None,
    *,
    metric: Callable[..., Any],
    reflection_lm: dspy.BaseLM,
    lm: dspy.BaseLM | None = None,
    max_metric_calls: int | None = None,
    auto: str | None = None,
    run_dir: str | Path | None = None,
    minibatch_size: int = 3,
    seed: int = 0,
    num_threads: int | None = None,
    **gepa_options: Any,
) -> dspy.Module:
    """The optimized copy of `program`, tuned by GEPA on `trainset` and selected on `valset`
    (the train set when None). `lm` is the student (else the configured one); the budget is
    `max_metric_calls` or `auto` ("light", "medium", "heavy"). `gepa_options` go to `dspy.GEPA`.
    The result has DSPy's `detailed_results`; `run_dir` (new or empty) also gets them on disk, with
    the findings on the best program's validation answers when its answer is a label.
    """
    if (max_metric_calls is None) == (auto is None):
        raise SmolgepaError("Give smolgepa.gepa exactly one budget: max_metric_calls=N (metric calls) "
                            "or auto='light' / 'medium' / 'heavy'.")
    if not trainset:
        raise SmolgepaError("smolgepa.gepa needs a non-empty trainset (a list of dspy.Example with inputs set).")
    if run_dir is not None and Path(run_dir).exists() and any(Path(run_dir).iterdir()):
        raise SmolgepaError(f"The run directory {run_dir} is not empty; give smolgepa.gepa a new or empty run_dir.")
    proposer = PlainTextProposer(reflection_lm)
    optimizer = dspy.GEPA(
        metric=gepa_metric(metric), reflection_lm=reflection_lm, instruction_proposer=proposer,
        max_metric_calls=max_metric_calls, auto=auto, reflection_minibatch_size=minibatch_size, seed=seed,
        num_threads=num_threads, track_stats=True, **gepa_options,
    )
    settings: dict[str, Any] = {"adapter": PlainTextAdapter()}
    if lm is not None:
        settings["lm"] = lm
    with dspy.context(**settings):
        best = optimizer.compile(program, trainset=list(trainset), valset=list(valset or trainset))
        diagnostics = program_diagnostics(best, list(valset or trainset)) if run_dir is not None else None
    if run_dir is not None:
        write_program_run(run_dir, best, proposer.records, diagnostics)
    return best
