"""PlainTextProposer: GEPA's instruction proposer for any DSPy program, in plain text.

`dspy.GEPA(..., instruction_proposer=PlainTextProposer(reflection_lm))`. DSPy's stock proposer asks
the reflection LM for a `new_instruction` field through an adapter; a model (or an adapter) that
does not write that structure gives no proposal at all. This one sends one plain-text prompt per
predictor (its instruction, its examples with outputs and feedback), calls the reflection LM
directly (no adapter), and takes the instruction from the answer's last ``` block (else the whole
answer). Every proposal and failure is kept in `records`; it never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import dspy
from dspy.clients._deprecation import adapter_message_call

from smolgepa.optimize.cleaning import clean_reflection

log = logging.getLogger(__name__)

VALUE_SHOWN = 1200  # characters of one input or output value quoted in the prompt
HIDDEN_OUTPUTS = ("raw", "raw_fields", "parse_methods", "parse_method")  # the adapter's bookkeeping
SYSTEM_PROMPT = "You improve instructions (prompts) for language models. Answer with the new instruction only."
TEMPLATE = """\
I gave a language model ({size}) this instruction for one step of my program:
```
{instruction}
```

How it did on some examples, with feedback on each answer:

{examples}
Write a better instruction for this step. Keep what works; fix what the feedback points out. \
Say what to do rather than what to avoid; a short rule or a worked example helps a small model most. \
Do not change the input and output fields.

Write the complete new instruction inside one ``` block. Write nothing after the block."""


@dataclass(frozen=True)
class ProposalRecord:
    """One proposal: the predictor, the instruction proposed (None when none was), why not, the answer."""

    component: str
    parent: str
    instruction: str | None
    reason: str
    answer: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _shown(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN] + " [...]"


def _fields(values: Any) -> list[str]:
    """`name: value` lines of an example's inputs or outputs (a plain string stays one line)."""
    if not isinstance(values, Mapping):
        return [f"  {_shown(values)}"]
    shown = {name: value for name, value in values.items() if name not in HIDDEN_OUTPUTS}
    if values.get("raw") and all(value is None for value in shown.values()):
        shown["raw answer (unreadable)"] = values["raw"]
    return [f"  {name}: {_shown(value)}" for name, value in shown.items()]


def render_examples(examples: Sequence[Mapping[str, Any]]) -> str:
    """Reflective examples (DSPy's `Inputs` / `Generated Outputs` / `Feedback`) as numbered blocks."""
    blocks = []
    for number, example in enumerate(examples, start=1):
        lines = [f"Example {number}", "Inputs:", *_fields(example.get("Inputs", {})), "Outputs:",
                 *_fields(example.get("Generated Outputs", {})), f"Feedback: {_shown(example.get('Feedback', ''))}"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def instruction_from(answer: str) -> tuple[str | None, str]:
    """The instruction in a reflection answer: its last ``` block, else the whole answer when it has
    no fence at all; (None, reason) when there is none."""
    cleaned = clean_reflection(answer)
    if cleaned.instruction is not None:
        return cleaned.instruction, ""
    body = answer.strip()
    if body and "```" not in body and cleaned.reason.startswith("no ``` block"):
        return body, ""
    return None, cleaned.reason


class PlainTextProposer:
    """A GEPA instruction proposer (`ProposalFn`) that talks to `reflection_lm` in plain text.

    `reflection_lm`: any `dspy.BaseLM`. `size`: how the student is described in the prompt.
    `lm_kwargs`: extra settings for each reflection call (e.g. `max_tokens=1024`).
    """

    def __init__(self, reflection_lm: dspy.BaseLM, size: str = "a small local model", **lm_kwargs: Any) -> None:
        self.reflection_lm = reflection_lm
        self.size = size
        self.lm_kwargs = lm_kwargs
        self.records: list[ProposalRecord] = []

    def prompt(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> str:
        """The reflection prompt for one predictor."""
        return TEMPLATE.format(size=self.size, instruction=instruction.strip(), examples=render_examples(examples))

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        proposed: dict[str, str] = {}
        for name in components_to_update:
            if name not in candidate:
                continue
            instruction, reason, answer = self.propose(candidate[name], reflective_dataset.get(name, []))
            if instruction is not None and instruction.strip() == candidate[name].strip():
                instruction, reason = None, "the same instruction again"
            self.records.append(ProposalRecord(name, candidate[name], instruction, reason, answer))
            if instruction is None:
                log.warning("No new instruction for %s: %s", name, reason)
            else:
                proposed[name] = instruction
        return proposed

    def propose(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> tuple[str | None, str, str]:
        """(new instruction or None, why not, the reflection LM's answer) for one predictor."""
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": self.prompt(instruction, examples)}]
        try:
            with adapter_message_call(self.reflection_lm, messages):  # it formats its own messages, as an adapter does
                outputs = self.reflection_lm(messages=messages, **self.lm_kwargs)
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return None, f"reflection failed: {type(exc).__name__}: {exc}", ""
        first = outputs[0] if outputs else ""
        answer = str((first.get("text") if isinstance(first, dict) else first) or "")
        found, reason = instruction_from(answer)
        return found, reason, answer
