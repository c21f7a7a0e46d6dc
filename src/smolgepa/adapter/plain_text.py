"""PlainTextAdapter: short chat messages a 135M model can follow, and a parser that never raises.

Use it in any DSPy program: `dspy.configure(adapter=PlainTextAdapter())`. A label signature (one
`Literal` output) is one call read by the label ladder; any other signature (str, bool, int, float,
Enum, several outputs, ChainOfThought's `reasoning`) uses the `Field: value` layout of
`smolgepa.adapter.field_layout`, completed field by field and read by `smolgepa.adapter.field_parsing`.
"""

from __future__ import annotations

import typing
from collections.abc import Generator
from contextvars import ContextVar
from typing import Any

import dspy
from dspy.clients._deprecation import adapter_message_call

from smolgepa.adapter.field_layout import FieldDialog, demo_turns, format_guide, input_lines, split_fields
from smolgepa.adapter.field_parsing import parse_value
from smolgepa.candidate.instruction import Shot, split_instruction
from smolgepa.candidate.label_words import LabelWords, label_of, label_words_of, shown
from smolgepa.evaluation.labels import parse_label

RAW_FIELD = "raw"  # every prediction keeps the completion text under this key
PARSE_FIELD = "parse_method"
# Beyond label signatures: each output field's own text and how it was read, by field name.
RAW_FIELDS = "raw_fields"
PARSE_METHODS = "parse_methods"

_current_input: ContextVar[str | None] = ContextVar("smolgepa_current_input", default=None)


def signature_labels(signature: type[dspy.Signature]) -> list[str]:
    """The label set of a signature's first output field: its Literal values, else none."""
    field = next(iter(signature.output_fields.values()))
    if typing.get_origin(field.annotation) is typing.Literal:
        return [str(value) for value in typing.get_args(field.annotation)]
    return []


def is_label_signature(signature: type[dspy.Signature]) -> bool:
    """One output field, a Literal: the classification layout (one call, the label ladder)."""
    return len(signature.output_fields) == 1 and bool(signature_labels(signature))


class PlainTextAdapter(dspy.Adapter):
    """Instruction as the system message, input as the user message, label parsed from plain text.

    No `[[ ## field ## ]]` markers and no JSON, so tiny models and servers without JSON mode work.
    An unparseable completion gives the label None and keeps the raw text: it never raises.
    Other signatures get the `Field: value` layout, completed field by field; their results also
    carry `raw_fields` (each field's text) and `parse_methods` (how each was read).
    """

    def __init__(self, label_hint: bool = True, callbacks: list[Any] | None = None) -> None:
        super().__init__(callbacks=callbacks)
        self.label_hint = label_hint

    def format(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """System message, example turns (DSPy demos, then the instruction's own `Examples:` block),
        then the input. Example turns look exactly like the real one, so a tiny model copies the format.
        Other signatures: the format guide in the system message, demos as `Field: value` turns."""
        if not is_label_signature(signature):
            return self.format_fields(signature, demos, inputs)
        base, shots = self.instruction_parts(signature)
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.format_system(signature, base)}]
        input_name = next(iter(signature.input_fields))
        output_name = next(iter(signature.output_fields))
        examples = [demo for demo in demos if self.usable_demo(signature, demo)]
        examples += [{input_name: shot.input, output_name: shot.label} for shot in shots]
        words = self.label_words(signature)
        for example in examples:
            messages.append({"role": "user", "content": self.format_input(signature, example)})
            messages.append({"role": "assistant", "content": words.get(str(example[output_name]), str(example[output_name]))})
        messages.append({"role": "user", "content": self.format_input(signature, inputs)})
        return messages

    def format_fields(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Messages for a signature that is not one label, ending with the first output's cue."""
        return FieldDialog(signature, self._field_base(signature, demos, inputs)).messages()

    def _field_base(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """System message, demo turns and the inputs' user message, without an output cue."""
        guide = format_guide(signature)
        system = "\n\n".join(part for part in ((signature.instructions or "").strip(), guide) if part)
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for demo in demos:
            messages += demo_turns(signature, dict(demo))
        messages.append({"role": "user", "content": "\n".join(input_lines(signature, inputs))})
        return messages

    @staticmethod
    def usable_demo(signature: type[dspy.Signature], demo: Any) -> bool:
        """A DSPy demo becomes a turn pair when it has every input and a label the signature allows:
        a demo whose label is missing, None (an unread bootstrapped answer) or off the label set would
        teach the student to write something that is not a label."""
        output_name = next(iter(signature.output_fields))
        if not all(name in demo for name in signature.input_fields) or output_name not in demo:
            return False
        label = demo[output_name]
        if label is None or not str(label).strip():
            return False
        labels = signature_labels(signature)
        return not labels or str(label) in labels

    def instruction_parts(self, signature: type[dspy.Signature]) -> tuple[str, list[Shot]]:
        """The instruction's text and its examples block, when every example carries a known label
        and the signature has one input (else the whole instruction is text)."""
        instruction = (signature.instructions or "").strip()
        base, shots = split_instruction(instruction)
        labels = set(signature_labels(signature))
        if not shots or len(signature.input_fields) != 1 or not all(shot.label in labels for shot in shots):
            return instruction, []
        return base, shots

    @staticmethod
    def label_words(signature: type[dspy.Signature]) -> LabelWords:
        """The candidate's label words ({} when its header names none; `smolgepa.candidate.label_words`)."""
        labels = signature_labels(signature)
        return label_words_of(signature.instructions or "", labels) if labels else {}

    def format_system(self, signature: type[dspy.Signature], instruction: str | None = None) -> str:
        """The instruction, plus one line naming the labels (a 135M model needs the answer format),
        written with the candidate's label words."""
        text = (signature.instructions or "").strip() if instruction is None else instruction
        labels = signature_labels(signature)
        if not self.label_hint or not labels:
            return text
        return f"{text}\n\nAnswer with one label: {', '.join(shown(labels, self.label_words(signature)))}."

    @staticmethod
    def format_input(signature: type[dspy.Signature], values: dict[str, Any]) -> str:
        """Each input as 'Prefix: value', then the output field's cue ('Label:') for the model to complete."""
        lines = []
        for name, field in signature.input_fields.items():
            prefix = (field.json_schema_extra or {}).get("prefix") or f"{name.capitalize()}:"
            lines.append(f"{prefix} {str(values.get(name, '')).strip()}")
        output_name = next(iter(signature.output_fields))
        return "\n".join([*lines, f"{output_name.capitalize()}:"])

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        """Every output field read from `completion` (written after the first output's cue); None
        where unreadable, with the text kept under `raw` (and per field under `raw_fields`)."""
        if not is_label_signature(signature):
            first = next(iter(signature.output_fields))
            written = split_fields(signature, first, completion or "")
            values = {name: parse_value(written.get(name), info.annotation, _current_input.get())
                      for name, info in signature.output_fields.items()}
            return self._field_result(values, completion or "", written)
        output_name = next(iter(signature.output_fields))
        labels = signature_labels(signature)
        words = self.label_words(signature)
        if not words:
            parsed = parse_label(completion, labels, input_text=_current_input.get())
            return {output_name: parsed.label, RAW_FIELD: completion, PARSE_FIELD: parsed.method}
        # A scoring student answers with the label name, a generating one writes the word.
        options = [*shown(labels, words), *(label for label in labels if label in words)]
        parsed = parse_label(completion, options, input_text=_current_input.get())
        label = label_of(parsed.label, labels, words) if parsed.label is not None else None
        return {output_name: label, RAW_FIELD: completion, PARSE_FIELD: parsed.method}

    @staticmethod
    def _field_result(values: dict[str, Any], raw: str, written: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = {name: value.value for name, value in values.items()}
        result[RAW_FIELD] = raw
        result[RAW_FIELDS] = {name: written.get(name) for name in values}
        result[PARSE_METHODS] = {name: value.method for name, value in values.items()}
        return result

    def __call__(
        self,
        lm: dspy.BaseLM,
        lm_kwargs: dict[str, Any],
        signature: type[dspy.Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        if not is_label_signature(signature):
            steps = self._field_steps(lm_kwargs, signature, demos, inputs)
            request = next(steps)
            while True:
                with adapter_message_call(lm, request[0]):
                    outputs = lm(messages=request[0], **request[1])
                try:
                    request = steps.send(outputs)
                except StopIteration as finished:
                    return finished.value
        messages = self.format(signature, demos, inputs)
        with adapter_message_call(lm, messages):
            outputs = lm(messages=messages, **lm_kwargs)
        return self._parse_outputs(signature, inputs, outputs)

    async def acall(
        self,
        lm: dspy.BaseLM,
        lm_kwargs: dict[str, Any],
        signature: type[dspy.Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        if not is_label_signature(signature):
            steps = self._field_steps(lm_kwargs, signature, demos, inputs)
            request = next(steps)
            while True:
                with adapter_message_call(lm, request[0]):
                    outputs = await lm.acall(messages=request[0], **request[1])
                try:
                    request = steps.send(outputs)
                except StopIteration as finished:
                    return finished.value
        messages = self.format(signature, demos, inputs)
        with adapter_message_call(lm, messages):
            outputs = await lm.acall(messages=messages, **lm_kwargs)
        return self._parse_outputs(signature, inputs, outputs)

    def _field_steps(
        self,
        lm_kwargs: dict[str, Any],
        signature: type[dspy.Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> Generator[tuple[list[dict[str, Any]], dict[str, Any]], list[Any], list[dict[str, Any]]]:
        """The LM calls of a non-label signature, as (messages, kwargs) requests answered with the LM's
        outputs: the first call (with the caller's `n`), then one call per field a completion left out.
        Returns one parsed result per first completion."""
        base = self._field_base(signature, demos, inputs)
        input_text = " ".join(str(inputs.get(name, "")) for name in signature.input_fields)
        single = {key: value for key, value in lm_kwargs.items() if key not in ("n", "num_generations")}
        first_outputs = yield FieldDialog(signature, base).messages(), lm_kwargs
        results = []
        for text in _texts(first_outputs) or [""]:
            dialog = FieldDialog(signature, base, input_text)
            dialog.add(text)
            while not dialog.done:
                dialog.add(next(iter(_texts((yield dialog.messages(), single))), ""))
            results.append(self._field_result(dialog.values(), "\n".join(dialog.transcript), dialog.written))
        return results

    def _parse_outputs(
        self, signature: type[dspy.Signature], inputs: dict[str, Any], outputs: list[Any]
    ) -> list[dict[str, Any]]:
        token = _current_input.set(" ".join(str(inputs.get(name, "")) for name in signature.input_fields))
        try:
            return [self.parse(signature, text) for text in _texts(outputs)]
        finally:
            _current_input.reset(token)


def _texts(outputs: list[Any]) -> list[str]:
    """The completion texts of an LM's outputs (dicts with `text`, or strings); "" for none."""
    texts = [output.get("text") if isinstance(output, dict) else output for output in outputs or []]
    return [text or "" for text in texts]
