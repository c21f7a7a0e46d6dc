"""The plain-text questions put to a verifier (never JSON mode): which label fits a text, whether a given
label is right, and why a gold label is right. Each asks for a label word first, then a one-line reason."""

from __future__ import annotations

from smolgepa.tasks.model import Task

SYSTEM = ("You check the labels of a text classification task. Answer with one label word from the list, "
          "then a one-line reason.")
TEXT_SHOWN = 1500  # characters of an input quoted in a prompt
ANSWER_FORMAT = "Answer with the label word first, then a one-line reason, like: {example} - because ..."


def task_block(task: Task, text: str) -> str:
    """The task, its labels with their descriptions, and the text."""
    shown = text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + " [...]"
    labels = "\n".join(f"- {label}: {description}" if description else f"- {label}"
                       for label, description in task.labels.items())
    description = " ".join(task.description.split()) or task.name
    return f"Task: {description}\nLabels:\n{labels}\n\nText:\n{shown.strip()}\n"


def label_prompt(task: Task, text: str) -> str:
    """Which label fits `text` (the verifier sees no given label)."""
    return (f"{task_block(task, text)}\nWhich label fits the text? "
            f"{ANSWER_FORMAT.format(example=task.label_names[0])}\nLabel:")


def judge_prompt(task: Task, text: str, given: str) -> str:
    """Whether the label `given` to `text` is right (the same label if so, else the one that fits)."""
    return (f"{task_block(task, text)}\nThe text was labelled '{given}'. Which label fits the text: "
            f"'{given}' if that is right, else the right one? {ANSWER_FORMAT.format(example=given)}\nLabel:")


def explain_prompt(task: Task, text: str, gold: str, predicted: str | None) -> str:
    """Why `gold` is the right label of `text` (a small model answered `predicted`)."""
    answered = f"'{predicted}'" if predicted else "no label"
    return (f"{task_block(task, text)}\nThe right label is '{gold}'; a small model answered {answered}. "
            f"Say in one line what in the text makes it '{gold}'. {ANSWER_FORMAT.format(example=gold)}\nLabel:")
