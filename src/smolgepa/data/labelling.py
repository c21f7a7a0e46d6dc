"""`data label`: unlabelled inputs labelled by a verifier model, after measuring how often it agrees with
the task's own labels on the validation split. The labelled inputs are written as a new task (YAML and
JSONL, through `corrected.write_task_files`) that `eval` and `optimize` read like any other."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.stats import format_accuracy, wilson_interval
from smolgepa.tasks.model import Task
from smolgepa.verifier.verifier_model import Verifier
from smolgepa.verifier.verifier_prompts import label_prompt
from smolgepa.verifier.verifier_replies import VerifierReply

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Unlabelled:
    """One input to label: its id, the text the verifier reads, and the value as given (written back)."""

    id: str
    text: str
    value: Any


@dataclass(frozen=True)
class Agreement:
    """How often the verifier named the given label on `n` labelled examples (a junk reply disagrees)."""

    n: int
    agreed: int
    junk: int

    @property
    def rate(self) -> float:
        return self.agreed / self.n if self.n else 0.0

    @property
    def text(self) -> str:
        """'66.7% (20/30, 95% CI 48.8-80.8%)'."""
        return format_accuracy(self.agreed, self.n)

    def to_json(self) -> dict[str, Any]:
        low, high = wilson_interval(self.agreed, self.n)
        return {"n": self.n, "agreed": self.agreed, "junk": self.junk, "rate": round(self.rate, 4),
                "ci95": [round(low, 4), round(high, 4)]}


def input_text(task: Task, value: Any, where: str) -> str:
    """What the verifier reads of an input: the text, or a trace rendered as the task renders it."""
    if task.input_format == "trace":
        from smolgepa.traces import parse_trace, render_trace

        return render_trace(parse_trace(value, where), mode=task.render, max_tokens=task.meta["max_input_tokens"])
    if not isinstance(value, str) or not value.strip():
        raise SmolgepaError(f"{where}: the input must be a non-empty string.")
    return value.strip()


def read_unlabelled(path: Path, task: Task) -> list[Unlabelled]:
    """The inputs of a JSONL file: objects with an optional "id" and the task's input field (or "text")."""
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, ValueError) as exc:
        raise SmolgepaError(f"{path}: cannot read the inputs to label ({exc}).") from None
    inputs: list[Unlabelled] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise SmolgepaError(f"{where}: malformed JSON ({exc}).") from None
        field = task.input_field if isinstance(row, dict) and task.input_field in row else "text"
        if not isinstance(row, dict) or field not in row:
            raise SmolgepaError(f"{where}: each line is a JSON object with {task.input_field!r} (or \"text\") "
                                "and optionally \"id\".")
        example_id = str(row.get("id", f"line{number}"))
        if example_id in seen:
            raise SmolgepaError(f"{where}: duplicate id {example_id!r}.")
        seen.add(example_id)
        inputs.append(Unlabelled(example_id, input_text(task, row[field], where), row[field]))
    if not inputs:
        raise SmolgepaError(f"{path}: no inputs to label. Give one JSON object per line.")
    return inputs


def measure_agreement(task: Task, verifier: Verifier, progress: Progress | None = None) -> Agreement:
    """The verifier's labels of the task's validation examples against their given labels."""
    examples = task.split("val")
    if not examples:
        raise SmolgepaError(f"Task {task.name!r} has no val examples: the verifier's agreement is measured there.")
    agreed = junk = 0
    for number, example in enumerate(examples, start=1):
        reply = verifier.ask(label_prompt(task, example.input), task.label_names)
        agreed += reply.label == example.label
        junk += reply.label is None
        if progress is not None:
            progress(number, len(examples))
    return Agreement(len(examples), agreed, junk)


def check_agreement(agreement: Agreement, minimum: float | None, spec: str, kept: Path | None = None) -> None:
    """Refuse to label when the agreement is below `minimum` (a fraction, e.g. 0.8); `kept` names the file
    that keeps the verifier's val answers for a re-run."""
    if minimum is not None and agreement.rate < minimum:
        reuse = (f" Its val answers are kept in {kept}: a re-run with a lower --min-agreement asks none of them "
                 "again (delete that file to ask afresh)." if kept is not None else "")
        raise SmolgepaError(f"The verifier {spec} agrees with the given labels on val in {agreement.text}, below "
                            f"--min-agreement {minimum:g}: nothing labelled. Use a stronger verifier or lower "
                            f"--min-agreement.{reuse}")


def label_inputs(task: Task, inputs: Sequence[Unlabelled], verifier: Verifier,
                 progress: Progress | None = None) -> list[tuple[Unlabelled, VerifierReply]]:
    """Each input with the verifier's reply (its label None for junk)."""
    labelled = []
    for number, item in enumerate(inputs, start=1):
        labelled.append((item, verifier.ask(label_prompt(task, item.text), task.label_names)))
        if progress is not None:
            progress(number, len(inputs))
    return labelled


def write_labelled(task: Task, labelled: Sequence[tuple[Unlabelled, VerifierReply]], path: Path,
                   note: str) -> tuple[Path, Path]:
    """The inputs the verifier labelled, as a task: `path` (YAML, the task's with this data) and its JSONL.
    Each row keeps the verifier's reason; junk replies are left out (nothing is overwritten)."""
    from smolgepa.data.corrected import corrected_paths, refuse_existing, source_rows, write_task_files

    yaml_path, data_path = corrected_paths(path)
    refuse_existing(yaml_path, data_path)
    rows = [{"id": item.id, task.input_field: item.value, "label": reply.label, "reason": reply.reason}
            for item, reply in labelled if reply.label is not None]
    if not rows:
        raise SmolgepaError(f"The verifier gave no label for any of the {len(labelled)} inputs: nothing written.")
    spec, _ = source_rows(task)
    return write_task_files(spec, rows, yaml_path, data_path, ("labelled", note))
