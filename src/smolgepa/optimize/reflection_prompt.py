"""Reflection prompts: one written for tiny students (default) and GEPA's stock template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.evaluation.diagnostics import Diagnostics
from smolgepa.tasks.model import Task

INPUT_SHOWN = 1200  # characters of an example input quoted in the reflection prompt

TINY_TEMPLATE = """\
You are improving the instruction (the system prompt) of a very small language model: {size_class}.
The student reads the instruction, then one input, and must answer with exactly one label.
Task: {description}
Labels: {labels}

Current instruction:
```
{instruction}
```

How the student did with this instruction on some training examples:

{examples}
{diagnostics}
What works for a model this small:
- It copies text it sees. A rule written as a prohibition ("do not ...", "never ...") gets echoed back as \
content instead of obeyed. Say what to do, never what to avoid.
- A few short labelled examples work better than long rules: it imitates the answer format of examples. \
Put examples of the labels it predicts too rarely first.
- When two labels look alike, give a rule it can check mechanically (a count, a threshold, a keyword), \
not a vague description.
- One targeted fix per round. Long instructions with many rules make it worse.
- Keep the instruction under {max_tokens} tokens; a longer one is rejected without being tried.
- Use the label names exactly as written: {labels}.
{parts}
Write the complete new instruction inside one ``` block. Write nothing after the block."""


PARTS_TEXT = """
The instruction has parts; you may change any of them and must copy the others unchanged:
- the instruction text;
- an optional block at the end that starts with a line `Examples:` and holds pairs of lines \
`{prefix}: ...` / `Label: <label>`: the student sees each pair as an earlier question and answer, \
which it copies far better than rules;{reading}{words}
"""
READING_TEXT = """
- an optional first line `Reading: <method>`: how the student's answer is read instead of generated \
text (one of: {methods}); knn lets the labelled training examples vote and often helps a model this \
small most;"""
WORDS_TEXT = """
- an optional line `Label words: label=word, ...` after it: the word the student is shown and scored \
on for a label (e.g. positive=great), when the model knows another word better than the label name; \
examples keep the label names;"""


@dataclass(frozen=True)
class PromptContext:
    """Everything a reflection prompt may mention."""

    task: Task
    instruction: str
    examples: Sequence[Mapping[str, Any]]
    diagnostics: Diagnostics | None
    max_tokens: int
    size_class: str
    readings: Sequence[str] = ()  # methods a `Reading:` line may name here (none: not explained)
    label_words: bool = False  # whether a `Label words:` line may be written


def render_parts(context: PromptContext) -> str:
    """The paragraph that explains a candidate's parts (the readings and label words only when offered)."""
    from smolgepa.adapter.program import input_prefix

    reading = READING_TEXT.format(methods=", ".join(context.readings)) if context.readings else ""
    return PARTS_TEXT.format(prefix=input_prefix(context.task).rstrip(":"), reading=reading.rstrip("\n"),
                             words=WORDS_TEXT.rstrip("\n") if context.label_words else "")


def render_examples(examples: Sequence[Mapping[str, Any]]) -> str:
    """Reflective examples as numbered plain-text blocks: input, output, feedback."""
    blocks = []
    for number, example in enumerate(examples, start=1):
        inputs = example.get("Inputs", {})
        text = inputs.get("input", "") if isinstance(inputs, Mapping) else str(inputs)
        text = str(text)
        if len(text) > INPUT_SHOWN:
            text = text[:INPUT_SHOWN] + " [...]"
        outputs = example.get("Generated Outputs", {})
        if isinstance(outputs, Mapping):
            raw = str(outputs.get("raw") or outputs.get("label") or "")
        else:
            raw = str(outputs)
        blocks.append(
            f"Example {number}\nInput: {text.strip()}\nStudent output: {raw.strip() or '(empty)'}\n"
            f"Feedback: {str(example.get('Feedback', '')).strip()}\n"
        )
    return "\n".join(blocks)


def render_tiny(context: PromptContext) -> str:
    """The default prompt, written for reflecting on a tiny student."""
    findings = context.diagnostics.summary_lines() if context.diagnostics else []
    diagnostics = ""
    if findings:
        diagnostics = (
            f"Over {context.diagnostics.n} validation examples with this instruction:\n"  # type: ignore[union-attr]
            + "\n".join(f"- {line}" for line in findings)
            + "\n\n"
        )
    return TINY_TEMPLATE.format(
        size_class=context.size_class,
        description=" ".join(context.task.description.split()) or context.task.name,
        labels=", ".join(context.task.labels),
        instruction=context.instruction,
        examples=render_examples(context.examples),
        diagnostics=diagnostics,
        max_tokens=context.max_tokens,
        parts=render_parts(context),
    )


def render_gepa(context: PromptContext) -> str:
    """GEPA's own reflection prompt (`InstructionProposalSignature.default_prompt_template`)."""
    from gepa.strategies.instruction_proposal import InstructionProposalSignature

    prompt = InstructionProposalSignature.prompt_renderer(
        {"current_instruction_doc": context.instruction, "dataset_with_feedback": list(context.examples)}
    )
    return prompt if isinstance(prompt, str) else str(prompt)


TEMPLATES = {"tiny": render_tiny, "gepa": render_gepa}


def render_prompt(template: str, context: PromptContext) -> str:
    return TEMPLATES[template](context)
