"""Run a student on task examples and summarize: accuracy with a 95% interval, confusions, diagnostics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import dspy

from smolgepa.adapter.plain_text import PARSE_FIELD, RAW_FIELD, PlainTextAdapter
from smolgepa.evaluation.diagnostics import Diagnostics, diagnose
from smolgepa.lm.readings.reading import Reading
from smolgepa.adapter.program import OUTPUT_FIELD, make_program
from smolgepa.use.score_tap import collecting, label_scores, tapped
from smolgepa.evaluation.stats import format_accuracy, wilson_interval
from smolgepa.tasks.model import Example, Task

NO_LABEL = "(none)"


NO_READING = "none ("  # the start of a baseline's decode: a detector without a language model reads nothing


def no_reading(method: str) -> str:
    """The decode a detector without a language model reports: "none (rules)", "none (evidence)", ..."""
    return f"{NO_READING}{method})"


@dataclass(frozen=True)
class Prediction:
    """One example's outcome: the gold label, the label read (None if unreadable), the raw text and,
    in the scoring modes, the label probabilities it was read from."""

    id: str
    input: str
    label: str
    predicted: str | None
    raw: str
    parse_method: str = ""
    scores: dict[str, float | None] | None = None  # the label probabilities that chose it (scoring modes)

    @property
    def correct(self) -> bool:
        return self.predicted == self.label


@dataclass(frozen=True)
class EvalReport:
    """An evaluation of one instruction on one split, with everything `eval` prints."""

    task: str
    student: str
    split: str
    labels: tuple[str, ...]
    instruction: str
    predictions: tuple[Prediction, ...]
    diagnostics: Diagnostics = field(repr=False)
    decode: str = "free"  # the student's decode mode: free, constrained, scored, ... (`no_reading(method)` for baselines)
    calibrate: bool = False  # scored with contextual calibration
    calibration: str = "content-free"  # with calibrate: "content-free" or "train"

    @property
    def decode_text(self) -> str:
        """The decode mode as printed: `free`, `scored`, `scored + calibrate`, `channel + calibrate train`, ...;
        a detector without a language model (`smolgepa baseline`) read nothing: "none (rules)" as it is."""
        if self.decode.startswith(NO_READING):
            return self.decode
        return Reading(self.decode, self.calibrate, self.calibration).text

    @property
    def n(self) -> int:
        return len(self.predictions)

    @property
    def correct(self) -> int:
        return sum(p.correct for p in self.predictions)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.n)

    def accuracy_text(self) -> str:
        return format_accuracy(self.correct, self.n)

    def per_label(self) -> dict[str, dict[str, Any]]:
        """Recall per gold label with its n and interval."""
        result: dict[str, dict[str, Any]] = {}
        for label in self.labels:
            rows = [p for p in self.predictions if p.label == label]
            hits = sum(p.correct for p in rows)
            result[label] = {
                "n": len(rows),
                "correct": hits,
                "recall": hits / len(rows) if rows else None,
                "ci95": list(wilson_interval(hits, len(rows))),
            }
        return result

    def confusion(self) -> dict[str, dict[str, int]]:
        """confusion[gold][predicted] counts; unreadable outputs are counted under '(none)'."""
        counts = Counter((p.label, p.predicted or NO_LABEL) for p in self.predictions)
        columns = [*self.labels, NO_LABEL]
        return {gold: {pred: counts.get((gold, pred), 0) for pred in columns} for gold in self.labels}

    def predicted_distribution(self) -> dict[str, int]:
        counts = Counter(p.predicted or NO_LABEL for p in self.predictions)
        return {label: counts.get(label, 0) for label in [*self.labels, NO_LABEL]}

    @property
    def unparsed(self) -> int:
        return sum(p.predicted is None for p in self.predictions)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "student": self.student,
            "split": self.split,
            "decode": self.decode,
            "calibrate": self.calibrate,
            "calibration": self.calibration if self.calibrate else None,
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "ci95": list(self.ci95),
            "per_label": self.per_label(),
            "confusion": self.confusion(),
            "predicted_distribution": self.predicted_distribution(),
            "unparsed": self.unparsed,
            "diagnostics": self.diagnostics.to_json(),
            "instruction": self.instruction,
            "examples": [asdict(p) for p in self.predictions],
        }


Progress = Callable[[int, int], None]


def predict(
    program: dspy.Module,
    lm: dspy.LM,
    examples: Sequence[Example],
    threads: int = 1,
    progress: Progress | None = None,
    adapter: dspy.Adapter | None = None,
) -> list[Prediction]:
    """Run `program` on each example with `lm` and the PlainTextAdapter; results in example order."""
    adapter = adapter or PlainTextAdapter()
    lm = tapped(lm)
    done = 0

    def one(example: Example) -> Prediction:
        nonlocal done
        with collecting() as responses, dspy.context(lm=lm, adapter=adapter):
            output = program(input=example.input)
        done += 1
        if progress:
            progress(done, len(examples))
        return Prediction(
            id=example.id,
            input=example.input,
            label=example.label,
            predicted=output.get(OUTPUT_FIELD),
            raw=output.get(RAW_FIELD) or "",
            parse_method=output.get(PARSE_FIELD) or "",
            scores=label_scores(responses),
        )

    if threads <= 1:
        return [one(example) for example in examples]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, examples))


def evaluate(
    task: Task,
    lm: dspy.LM,
    examples: Sequence[Example],
    instruction: str | None = None,
    *,
    student: str = "",
    split: str = "",
    threads: int = 1,
    progress: Progress | None = None,
    decode: Reading | None = None,
) -> EvalReport:
    """Evaluate one instruction (the seed instruction by default) on `examples`; the report records
    the student's decode settings: `decode` (`Student.decode`), else those of a student LM (`lm_decode`)."""
    program = make_program(task, instruction)
    predictions = predict(program, lm, examples, threads=threads, progress=progress)
    chosen = decode or lm_decode_settings(lm)
    return report_from_predictions(
        task, predictions, program.signature.instructions, student=student, split=split, decode=chosen.mode,
        calibrate=chosen.calibrate, calibration=chosen.calibration,
    )


def lm_decode_settings(lm: Any) -> Reading:
    """The decode settings a smolgepa student LM carries (`Student.lm()`); free for any other LM."""
    decode = getattr(lm, "smolgepa_decode", None)
    return decode if isinstance(decode, Reading) else Reading()


def lm_decode(lm: Any) -> tuple[str, bool]:
    """The decode mode and calibration switch of a smolgepa student LM; ("free", False) for any other LM."""
    decode = lm_decode_settings(lm)
    return decode.mode, decode.calibrate


def report_from_predictions(
    task: Task,
    predictions: Sequence[Prediction],
    instruction: str,
    *,
    student: str = "",
    split: str = "",
    decode: str = "free",
    calibrate: bool = False,
    calibration: str = "content-free",
) -> EvalReport:
    """Summarize predictions already made (for example, loaded from a run directory)."""
    return EvalReport(
        task=task.name,
        student=student,
        split=split,
        labels=tuple(task.labels),
        instruction=instruction,
        predictions=tuple(predictions),
        diagnostics=diagnose(predictions, list(task.labels), instruction, task.labels),
        decode=decode,
        calibrate=calibrate,
        calibration=calibration,
    )
