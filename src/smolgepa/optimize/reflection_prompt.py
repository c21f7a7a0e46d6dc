"""Reflection prompts: one written for tiny students (default) and GEPA's stock template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.diagnostics import Diagnostics
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

Write the complete new instruction inside one ``` block. Write nothing after the block."""


@dataclass(frozen=True)
class PromptContext:
    """Everything a reflection prompt may mention."""

    task: Task
    instruction: str
    examples: Sequence[Mapping[str, Any]]
    diagnostics: Diagnostics | None
    max_tokens: int
    size_class: str


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
