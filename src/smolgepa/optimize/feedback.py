"""GEPA's five-argument metric: a 1/0 score, and feedback text a reflection model can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dspy

from smolgepa.adapter.plain_text import PARSE_FIELD, RAW_FIELD
from smolgepa.evaluation.diagnostics import Diagnostics, echoes, prohibition_sentences
from smolgepa.adapter.program import OUTPUT_FIELD
from smolgepa.tasks.model import Task

RAW_SHOWN = 300  # characters of a raw completion quoted in feedback
DiagnosticsLookup = Callable[[str], Diagnostics | None]
# input, gold label, the student's label (None: unreadable) -> a line on why the gold label is right, or None
Explainer = Callable[[str, str, "str | None"], "str | None"]


def output_problem(raw: str, input_text: str, instruction: str, label_descriptions: dict[str, str]) -> str | None:
    """What a non-label output did instead of answering, in words (None when nothing is recognized)."""
    if any(echoes(raw, sentence, n=4) for sentence in prohibition_sentences(instruction)):
        return "the output repeated a prohibition from the instruction as content instead of obeying it"
    if instruction and echoes(raw, instruction):
        return "the output echoed the instruction instead of a label"
    if any(len(text.split()) >= 3 and echoes(raw, text, n=4) for text in label_descriptions.values()):
        return "the output echoed a label definition instead of choosing a label"
    if input_text and echoes(raw, input_text):
        return "the output echoed the input instead of a label"
    return None


def feedback_text(
    task: Task,
    input_text: str,
    gold: str,
    predicted: str | None,
    raw: str,
    parse_method: str,
    instruction: str,
    diagnostics: Diagnostics | None,
) -> str:
    """Feedback for one example: verdict, label set, the raw output when it was not a clean label,
    and the current instruction's diagnostics (most-confused pairs, bias, echo rates)."""
    labels = ", ".join(task.labels)
    shown = " ".join(raw.split())[:RAW_SHOWN] or "(empty)"
    lines: list[str] = []
    if predicted == gold:
        lines.append(f"Correct: the gold label is '{gold}' and the student answered '{predicted}'.")
        if parse_method not in ("exact", ""):
            lines.append(f"The output was not a clean label, the label was read from it: \"{shown}\".")
    elif predicted is None:
        lines.append(f"Wrong: the gold label is '{gold}', but the output contains no readable label.")
        problem = output_problem(raw, input_text, instruction, task.labels)
        if problem:
            lines.append(f"Problem: {problem}.")
        lines.append(f"Raw output: \"{shown}\".")
    else:
        lines.append(f"Wrong: the gold label is '{gold}', but the student answered '{predicted}'.")
        if parse_method not in ("exact", ""):
            lines.append(f"Raw output: \"{shown}\".")
    lines.append(f"The only valid answers are: {labels}.")
    if diagnostics is not None:
        findings = diagnostics.summary_lines()
        if findings:
            lines.append(
                f"With this instruction, on {diagnostics.n} validation examples: " + "; ".join(findings) + "."
            )
    return "\n".join(lines)


def make_metric(task: Task, diagnostics_for: DiagnosticsLookup, explain: Explainer | None = None) -> Callable[..., Any]:
    """The metric GEPA calls: a float score, or `dspy.Prediction(score, feedback)` for a predictor. With
    `explain` (a verifier model, `optimize/verifier_feedback.py`) a wrong answer's feedback also says why
    the gold label is right."""

    def metric(
        gold: Any,
        pred: Any,
        trace: Any = None,
        pred_name: str | None = None,
        pred_trace: Any = None,
    ) -> Any:
        predicted = pred.get(OUTPUT_FIELD) if pred is not None else None
        score = 1.0 if predicted is not None and predicted == gold.label else 0.0
        if pred_name is None:
            return score
        instruction = ""
        if pred_trace:
            instruction = pred_trace[0][0].signature.instructions or ""
        text = feedback_text(
            task,
            input_text=str(gold.input),
            gold=str(gold.label),
            predicted=predicted,
            raw=str(pred.get(RAW_FIELD) or "") if pred is not None else "",
            parse_method=str(pred.get(PARSE_FIELD) or "") if pred is not None else "",
            instruction=instruction,
            diagnostics=diagnostics_for(instruction),
        )
        if explain is not None and score == 0.0:
            line = explain(str(gold.input), str(gold.label), predicted)
            text = f"{text}\n{line}" if line else text
        return dspy.Prediction(score=score, feedback=text)

    return metric
