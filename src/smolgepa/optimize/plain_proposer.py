"""PlainTextProposer: GEPA's instruction proposer for any DSPy program, in plain text.

`dspy.GEPA(..., instruction_proposer=PlainTextProposer(reflection_lm))`. DSPy's stock proposer asks
the reflection LM for a `new_instruction` field through an adapter; a model (or an adapter) that
does not write that structure gives no proposal at all. This one sends one plain-text prompt per
predictor (its instruction, its examples with outputs and feedback), calls the reflection LM
directly (no adapter), and takes the instruction from the answer's last ``` block (else the whole
answer). Every proposal and failure is kept in `records`; it never raises. When a reply is cut off
or holds no instruction (a tiny reflection model with a student's short `max_tokens`), it says so
once per proposer, in one warning line naming the fixes (`ADVICE`), instead of DSPy's warning per call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
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
ADVICE = (
    "PlainTextProposer: the reflection model's reply {what} ({reason}), so it proposed nothing; a small "
    "reflection model needs room to write an instruction: give it a larger max_tokens and no stop strings "
    "(smolgepa.make_lm(\"embedded\", StudentOptions(max_tokens=200, stop=())), or dspy.LM(..., max_tokens=1000)), "
    "use a larger reflection model, or a built-in proposer that needs none: "
    "instruction_proposer=smolgepa.proposers.FewShot(task) (docs/library-proposers.md). "
    "Said once; every reply's reason is in the proposer's records."
)
DSPY_TRUNCATION = "LM response was truncated"  # DSPy's warning, per call; ADVICE says it once


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


def instruction_from(answer: str, finish_reason: str = "stop") -> tuple[str | None, str]:
    """The instruction in a reflection answer: its last ``` block, else the whole answer when it has
    no fence at all (and was not cut off, and is not a preamble ending in ':'); (None, reason) when
    there is none."""
    cleaned = clean_reflection(answer, finish_reason)
    if cleaned.instruction is not None:
        return cleaned.instruction, ""
    body = answer.strip()
    if body.endswith(":") and "```" not in body:
        return None, "no instruction: the reply is a preamble ending in ':'"
    if body and "```" not in body and cleaned.reason.startswith("no ``` block"):
        return body, ""
    return None, cleaned.reason


def finish_reason_of(lm: Any, messages: list[dict[str, str]]) -> str:
    """Why the LM's last reply to `messages` ended (`length`: the token limit), from its history
    when it keeps one; "stop" when unknown."""
    history = getattr(lm, "history", None)
    entry = history[-1] if isinstance(history, list) and history else None
    if not isinstance(entry, dict) or entry.get("messages") != messages:
        return "stop"
    response = entry.get("response")
    reason = getattr(response, "finish_reason", None)
    if reason is None:
        try:
            choice = response["choices"][0] if isinstance(response, dict) else response.choices[0]  # type: ignore[union-attr]
            reason = choice["finish_reason"] if isinstance(choice, dict) else choice.finish_reason
        except (AttributeError, IndexError, KeyError, TypeError):
            reason = None
    return str(reason or "stop")


@contextlib.contextmanager
def _without_dspy_truncation_warnings() -> Iterator[None]:
    """DSPy's per-call "LM response was truncated" warning left out while the reflection LM answers."""
    logger = logging.getLogger("dspy.clients.lm")

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(DSPY_TRUNCATION)

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


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
        self.advised = False  # ADVICE said (once per proposer)

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
            unusable = instruction is None and not reason.startswith("reflection failed")
            if instruction is not None and instruction.strip() == candidate[name].strip():
                instruction, reason = None, "the same instruction again"
            self.records.append(ProposalRecord(name, candidate[name], instruction, reason, answer))
            if unusable and not self.advised:
                self.advised = True
                log.warning(ADVICE.format(what=self._what(reason), reason=reason))
            elif instruction is None:
                log.log(logging.INFO if unusable else logging.WARNING, "No new instruction for %s: %s", name, reason)
            else:
                proposed[name] = instruction
        return proposed

    def _what(self, reason: str) -> str:
        """How a reply failed, for ADVICE: cut off at the token limit (named when known), or no instruction."""
        if "truncated" not in reason:
            return "held no instruction"
        limit = self.lm_kwargs.get("max_tokens") or getattr(self.reflection_lm, "kwargs", {}).get("max_tokens")
        return f"was cut off at max_tokens={limit}" if limit else "was cut off at its token limit"

    def propose(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> tuple[str | None, str, str]:
        """(new instruction or None, why not, the reflection LM's answer) for one predictor."""
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": self.prompt(instruction, examples)}]
        try:
            # it formats its own messages, as an adapter does; a cut-off reply is said once (ADVICE)
            with adapter_message_call(self.reflection_lm, messages), _without_dspy_truncation_warnings():
                outputs = self.reflection_lm(messages=messages, **self.lm_kwargs)
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return None, f"reflection failed: {type(exc).__name__}: {exc}", ""
        first = outputs[0] if outputs else ""
        answer = str((first.get("text") if isinstance(first, dict) else first) or "")
        found, reason = instruction_from(answer, finish_reason_of(self.reflection_lm, messages))
        return found, reason, answer
