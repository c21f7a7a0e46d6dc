"""DSPy's own few-shot optimizers on smolgepa's student, data and adapter: what a DSPy user would pick
instead of GEPA, measured the same way (test split, accuracy with n and a 95% Wilson interval).

Each method compiles the seed program (`make_program`) on the train split (BootstrapFewShotWithRandomSearch
selects on the validation split), with the student as the LM and the PlainTextAdapter, then the compiled
program answers the test split through `smolgepa.evaluation.evaluate.predict`. The bootstrap teacher is the
student itself: no other LM is available offline.

    results = compare(task, make_lm("embedded", options), CompareConfig(methods=("labeled", "knn")))
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import dspy

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import EvalReport, Progress, lm_decode, predict, report_from_predictions
from smolgepa.adapter.program import INPUT_FIELD, OUTPUT_FIELD, make_program
from smolgepa.tasks.model import Example, Task

METHODS = ("labeled", "bootstrap_rs", "knn")
SEED_METHOD = "seed"  # the uncompiled seed program, always evaluated first


def method_name(method: str) -> str:
    """The name a method is reported under: `dspy_labeled`, ..., or `seed`."""
    return method if method == SEED_METHOD else f"dspy_{method}"


def parse_methods(text: str) -> tuple[str, ...]:
    """Methods from a comma list such as `labeled,knn` (a `dspy_` prefix is accepted), in the given order."""
    chosen: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        method = item.removeprefix("dspy_")
        if method not in METHODS:
            raise SmolgepaError(f"Unknown method {item!r} in --methods. Available: {', '.join(METHODS)}.")
        if method not in chosen:
            chosen.append(method)
    if not chosen:
        raise SmolgepaError(f"--methods is empty. Give one or more of: {', '.join(METHODS)} (comma-separated).")
    return tuple(chosen)


@dataclass(frozen=True)
class CompareConfig:
    """Which optimizers to run and their budgets (DSPy's defaults are far larger; a 135M student on
    two cores needs modest ones). `seed` shuffles the training examples handed to the optimizers:
    DSPy's samplers use fixed seeds of their own, so this is what changes between runs."""

    methods: tuple[str, ...] = METHODS
    seed: int = 0
    max_labeled_demos: int = 4  # LabeledFewShot's k, and the demo total of each bootstrap candidate
    max_bootstrapped_demos: int = 2
    num_candidate_programs: int = 4
    knn_demos: int = 3
    threads: int = 1  # examples answered at once, in evaluation and in the random search's selection

    def __post_init__(self) -> None:
        for method in self.methods:
            if method not in METHODS:
                raise SmolgepaError(f"Unknown method {method!r}. Available: {', '.join(METHODS)}.")
        checks = {
            "max_labeled_demos": (self.max_labeled_demos, 1),
            "max_bootstrapped_demos": (self.max_bootstrapped_demos, 1),
            "num_candidate_programs": (self.num_candidate_programs, 1),
            "knn_demos": (self.knn_demos, 1),
            "threads": (self.threads, 1),
        }
        for name, (value, least) in checks.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                flag = "--" + name.replace("_", "-")
                raise SmolgepaError(f"{flag} must be a whole number of at least {least}, got {value!r}.")
        if self.max_bootstrapped_demos > self.max_labeled_demos:
            raise SmolgepaError(
                f"--max-bootstrapped-demos ({self.max_bootstrapped_demos}) is more than --max-labeled-demos "
                f"({self.max_labeled_demos}), the total demos per program; lower it or raise the total."
            )


@dataclass(frozen=True)
class MethodResult:
    """One method's test evaluation. `demo_turns` is the number of example turns each test prompt
    carried (from the messages the student was sent); `program` is the program that was evaluated."""

    method: str
    report: EvalReport
    compile_seconds: float
    eval_seconds: float
    demo_turns: tuple[int, ...]
    program: dspy.Module

    @property
    def seconds(self) -> float:
        return self.compile_seconds + self.eval_seconds

    @property
    def min_recall(self) -> float | None:
        """The lowest recall over labels present in the split (None if no label is present)."""
        recalls = [row["recall"] for row in self.report.per_label().values() if row["recall"] is not None]
        return min(recalls) if recalls else None

    @property
    def mean_demo_turns(self) -> float:
        return sum(self.demo_turns) / len(self.demo_turns) if self.demo_turns else 0.0

    def to_json(self) -> dict[str, Any]:
        report = self.report
        return {
            "method": self.method,
            "n": report.n,
            "correct": report.correct,
            "accuracy": report.accuracy,
            "ci95": list(report.ci95),
            "min_recall": self.min_recall,
            "per_label": report.per_label(),
            "confusion": report.confusion(),
            "unparsed": report.unparsed,
            "compile_seconds": round(self.compile_seconds, 2),
            "eval_seconds": round(self.eval_seconds, 2),
            "seconds": round(self.seconds, 2),
            "mean_demo_turns": self.mean_demo_turns,
            "demos": [dict(demo) for demo in static_demos(self.program)],
        }


def static_demos(program: dspy.Module) -> list[dict[str, Any]]:
    """The input and label of each demo the program's predictor carries (KNN picks its demos per input,
    so its compiled program carries none)."""
    demos = []
    for predictor in program.predictors():
        for demo in predictor.demos:
            demos.append({INPUT_FIELD: demo.get(INPUT_FIELD), OUTPUT_FIELD: demo.get(OUTPUT_FIELD)})
    return demos


def exact_label(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    """The metric: the predicted label equals the gold label."""
    return prediction.get(OUTPUT_FIELD) is not None and prediction.get(OUTPUT_FIELD) == example.get(OUTPUT_FIELD)


def dspy_examples(examples: Sequence[Example]) -> list[dspy.Example]:
    """Task examples as DSPy examples `input -> label`."""
    return [dspy.Example({INPUT_FIELD: ex.input, OUTPUT_FIELD: ex.label}).with_inputs(INPUT_FIELD) for ex in examples]


class TurnCountingAdapter(PlainTextAdapter):
    """The PlainTextAdapter, remembering per input how many example turns its last prompt carried."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: dict[str, int] = {}

    def format(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        messages = super().format(signature, demos, inputs)
        self.turns[str(inputs.get(INPUT_FIELD, ""))] = (len(messages) - 2) // 2
        return messages


def compile_program(method: str, task: Task, trainset: list[dspy.Example], valset: list[dspy.Example],
                    config: CompareConfig) -> dspy.Module:
    """Compile the seed program with one DSPy optimizer (under the caller's dspy.context)."""
    student = make_program(task)
    if method == "labeled":
        return dspy.LabeledFewShot(k=config.max_labeled_demos).compile(student, trainset=trainset)
    if method == "bootstrap_rs":
        optimizer = dspy.BootstrapFewShotWithRandomSearch(
            metric=exact_label,
            max_bootstrapped_demos=config.max_bootstrapped_demos,
            max_labeled_demos=config.max_labeled_demos,
            num_candidate_programs=config.num_candidate_programs,
            num_threads=config.threads,
        )
        return optimizer.compile(student, trainset=trainset, valset=valset)
    if method == "knn":
        from smolgepa.evaluation.tfidf import TfidfEmbedder

        embedder = TfidfEmbedder().fit([str(example.get(INPUT_FIELD)) for example in trainset])
        # With the metric, a bootstrapped demo keeps only answers the student got right (DSPy's default,
        # no metric, would keep the student's wrong labels as demos); the k neighbours fill the rest.
        optimizer = dspy.KNNFewShot(
            k=config.knn_demos,
            trainset=trainset,
            vectorizer=dspy.Embedder(embedder, caching=False),
            metric=exact_label,
            max_bootstrapped_demos=min(config.max_bootstrapped_demos, config.knn_demos),
            max_labeled_demos=config.knn_demos,
        )
        return optimizer.compile(student)
    raise SmolgepaError(f"Unknown method {method!r}. Available: {', '.join(METHODS)}.")


def check_splits(task: Task, methods: Sequence[str]) -> None:
    """Raise SmolgepaError when a split a method needs is empty (never fall back to another split)."""
    needed = {"test": True, "train": bool(methods), "val": "bootstrap_rs" in methods}
    for split, required in needed.items():
        if required and not task.split(split):
            raise SmolgepaError(
                f"Task {task.name!r} has no {split} examples; compare needs train (to compile), val (for "
                f"bootstrap_rs's selection) and test (to report). Add {split} examples to the task file."
            )


def compare(
    task: Task,
    lm: dspy.LM,
    config: CompareConfig = CompareConfig(),
    *,
    student: str = "",
    progress: Callable[[str], Progress | None] | None = None,
    on_result: Callable[[MethodResult], None] | None = None,
) -> list[MethodResult]:
    """The seed program, then each configured DSPy optimizer, compiled on train (+ val) and evaluated
    on test. `progress(method)` may give a progress callback for that method's test evaluation;
    `on_result` is called as each method finishes."""
    check_splits(task, config.methods)
    trainset = dspy_examples(task.split("train"))
    random.Random(config.seed).shuffle(trainset)
    valset = dspy_examples(task.split("val"))
    test = task.split("test")
    decode, calibrate = lm_decode(lm)
    results = []
    for method in (SEED_METHOD, *config.methods):
        adapter = TurnCountingAdapter()
        started = time.perf_counter()
        if method == SEED_METHOD:
            program: dspy.Module = make_program(task)
        else:
            # DSPy's optimizers print progress to stdout; stdout is kept for results.
            with dspy.context(lm=lm, adapter=adapter), contextlib.redirect_stdout(sys.stderr):
                program = compile_program(method, task, list(trainset), list(valset), config)
        compiled = time.perf_counter()
        adapter.turns.clear()
        show = progress(method_name(method)) if progress else None
        # KNN bootstraps again for every test input, printing a line and a progress bar each time: dropped.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            predictions = predict(program, lm, test, threads=config.threads, progress=show, adapter=adapter)
        finished = time.perf_counter()
        report = report_from_predictions(
            task, predictions, make_program(task).signature.instructions, student=student, split="test",
            decode=decode, calibrate=calibrate,
        )
        result = MethodResult(
            method=method_name(method),
            report=report,
            compile_seconds=compiled - started,
            eval_seconds=finished - compiled,
            demo_turns=tuple(adapter.turns.get(example.input, 0) for example in test),
            program=program,
        )
        results.append(result)
        if on_result:
            on_result(result)
    return results


def benchmark_line(task: str, result: MethodResult) -> str:
    """The project's benchmark format, one line per method, for programs to read."""
    low, high = result.report.ci95
    min_recall = result.min_recall
    return (
        f"ACCURACY task={task} method={result.method} gepa=no lm=yes split=test acc={result.report.accuracy:.3f} "
        f"n={result.report.n} ci={low:.3f}-{high:.3f} "
        f"min_recall={'nan' if min_recall is None else f'{min_recall:.3f}'} seeds=1"
    )


def config_json(config: CompareConfig) -> dict[str, Any]:
    data = asdict(config)
    data["methods"] = list(config.methods)
    return data
