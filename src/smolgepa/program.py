"""The DSPy program smolgepa optimizes: one Predict with the signature `input -> label`."""

from __future__ import annotations

from typing import Literal

import dspy

from smolgepa.tasks.model import Task

INPUT_FIELD = "input"
OUTPUT_FIELD = "label"


def seed_instruction(task: Task) -> str:
    """The starting instruction: the task description and each label's one-line description."""
    lines = [task.description.strip() or f"Classify the input for the task {task.name}."]
    described = [f"- {label}: {text}" if text else f"- {label}" for label, text in task.labels.items()]
    return "\n".join([*lines, "Labels:", *described])


def make_signature(task: Task, instruction: str) -> type[dspy.Signature]:
    """A signature `input -> label` whose label field is a Literal of the task's labels."""
    label_type = Literal[tuple(task.labels)]  # type: ignore[valid-type]
    return dspy.Signature(
        {
            INPUT_FIELD: (str, dspy.InputField()),
            OUTPUT_FIELD: (label_type, dspy.OutputField()),
        },
        instruction,
    )


def make_program(task: Task, instruction: str | None = None) -> dspy.Predict:
    """One Predict over the task's signature, starting from `instruction` or the seed instruction."""
    return dspy.Predict(make_signature(task, instruction if instruction is not None else seed_instruction(task)))
