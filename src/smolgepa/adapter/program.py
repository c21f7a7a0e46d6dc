"""The DSPy program smolgepa optimizes: one Predict with the signature `input -> label`."""

from __future__ import annotations

import re
import warnings
from typing import Literal

import dspy

from smolgepa.tasks.model import Task

INPUT_FIELD = "input"
OUTPUT_FIELD = "label"


def seed_instruction(task: Task) -> str:
    """The starting instruction: the task YAML's `instruction`, or the description's first sentence;
    then each label's one-line description. Kept short: a 135M model loses long prompts."""
    given = str(task.meta.get("instruction") or "").strip()
    if given:
        return given
    description = " ".join(task.description.split())
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0] if description else ""
    lines = [first or f"Classify the input for the task {task.name}."]
    described = [f"- {label}: {text}" if text else f"- {label}" for label, text in task.labels.items()]
    return "\n".join([*lines, "Labels:", *described])


def input_prefix(task: Task) -> str:
    """What the student sees before the input: 'Text' for text tasks, 'Trace' for agent traces."""
    return "Trace" if task.input_format == "trace" else "Text"


def make_signature(task: Task, instruction: str) -> type[dspy.Signature]:
    """A signature `input -> label` whose label field is a Literal of the task's labels."""
    label_type = Literal[tuple(task.labels)]  # type: ignore[valid-type]
    with warnings.catch_warnings():
        # DSPy 3.4 deprecates `prefix` for its own adapters but still stores it on the field; the
        # PlainTextAdapter reads it to write "Text: ..." or "Trace: ..." before the input.
        warnings.filterwarnings("ignore", message="The 'prefix' argument", category=DeprecationWarning)
        input_field = dspy.InputField(prefix=f"{input_prefix(task)}:")
    return dspy.Signature(
        {INPUT_FIELD: (str, input_field), OUTPUT_FIELD: (label_type, dspy.OutputField())},
        instruction,
    )


def make_program(task: Task, instruction: str | None = None) -> dspy.Predict:
    """One Predict over the task's signature, starting from `instruction` or the seed instruction."""
    return dspy.Predict(make_signature(task, instruction if instruction is not None else seed_instruction(task)))
