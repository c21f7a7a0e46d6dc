"""The study's findings for a user's own program (`smolgepa.gepa(..., run_dir=)`): when the program's
answer is a label (its last predictor has exactly one `Literal` output), the best program answers the
validation set once and `diagnostics.diagnose` counts echo, label bias, collapse and confusions on
those answers, as `smolgepa optimize` does for a built-in task."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from smolgepa.adapter.plain_text import RAW_FIELD
from smolgepa.evaluation.diagnostics import Diagnostics, diagnose


@dataclass(frozen=True)
class Answered:
    """One validation answer, in the shape `diagnose` reads."""

    input: str
    label: str
    predicted: str | None
    raw: str


def label_output(program: dspy.Module) -> tuple[str, list[str]] | None:
    """(field name, labels) of the program's answer, or None when its last predictor has no single Literal output."""
    predictors = program.predictors()
    if not predictors:
        return None
    outputs = predictors[-1].signature.output_fields.items()
    literals = [(name, [str(value) for value in typing.get_args(field.annotation)])
                for name, field in outputs if typing.get_origin(field.annotation) is typing.Literal]
    return literals[0] if len(literals) == 1 else None


def program_diagnostics(program: dspy.Module, valset: Sequence[dspy.Example]) -> Diagnostics | None:
    """The findings on `program`'s answers to `valset`, or None when its answer is not a label or the
    examples carry no gold label under the answer's name."""
    found = label_output(program)
    if found is None or not valset:
        return None
    name, labels = found
    if any(name not in example for example in valset):
        return None
    answered = [_answer(program, example, name, labels) for example in valset]
    return diagnose(answered, labels, program.predictors()[-1].signature.instructions)


def _answer(program: dspy.Module, example: dspy.Example, name: str, labels: list[str]) -> Answered:
    inputs = example.inputs()
    prediction: Any = program(**inputs)
    predicted = getattr(prediction, name, None)
    text = "\n".join(str(value) for value in inputs.values())
    return Answered(text, str(example[name]), predicted if predicted in labels else None,
                    str(getattr(prediction, RAW_FIELD, "") or ""))
