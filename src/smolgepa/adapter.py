"""PlainTextAdapter: short chat messages a 135M model can follow, and a parser that never raises.

Use it in any DSPy program: `dspy.configure(adapter=PlainTextAdapter())`.
"""

from __future__ import annotations

import typing
from contextvars import ContextVar
from typing import Any

import dspy
from dspy.clients._deprecation import adapter_message_call

from smolgepa.labels import parse_label

RAW_FIELD = "raw"  # every prediction keeps the completion text under this key
PARSE_FIELD = "parse_method"

_current_input: ContextVar[str | None] = ContextVar("smolgepa_current_input", default=None)


def signature_labels(signature: type[dspy.Signature]) -> list[str]:
    """The label set of a signature's first output field: its Literal values, else none."""
    field = next(iter(signature.output_fields.values()))
    if typing.get_origin(field.annotation) is typing.Literal:
        return [str(value) for value in typing.get_args(field.annotation)]
    return []


class PlainTextAdapter(dspy.Adapter):
    """Instruction as the system message, input as the user message, label parsed from plain text.

    No `[[ ## field ## ]]` markers and no JSON, so tiny models and servers without JSON mode work.
    An unparseable completion gives the label None and keeps the raw text: it never raises.
    """

    def __init__(self, label_hint: bool = True, callbacks: list[Any] | None = None) -> None:
        super().__init__(callbacks=callbacks)
        self.label_hint = label_hint

    def format(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.format_system(signature)}]
        output_name = next(iter(signature.output_fields))
        for demo in demos:
            if all(name in demo for name in signature.input_fields) and output_name in demo:
                messages.append({"role": "user", "content": self.format_input(signature, demo)})
                messages.append({"role": "assistant", "content": str(demo[output_name])})
        messages.append({"role": "user", "content": self.format_input(signature, inputs)})
        return messages

    def format_system(self, signature: type[dspy.Signature]) -> str:
        """The instruction, plus one line naming the labels (a 135M model needs the answer format)."""
        instruction = (signature.instructions or "").strip()
        labels = signature_labels(signature)
        if not self.label_hint or not labels:
            return instruction
        return f"{instruction}\n\nAnswer with one label: {', '.join(labels)}."

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
        output_name = next(iter(signature.output_fields))
        parsed = parse_label(completion, signature_labels(signature), input_text=_current_input.get())
        return {output_name: parsed.label, RAW_FIELD: completion, PARSE_FIELD: parsed.method}

    def __call__(
        self,
        lm: dspy.BaseLM,
        lm_kwargs: dict[str, Any],
        signature: type[dspy.Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
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
        messages = self.format(signature, demos, inputs)
        with adapter_message_call(lm, messages):
            outputs = await lm.acall(messages=messages, **lm_kwargs)
        return self._parse_outputs(signature, inputs, outputs)

    def _parse_outputs(
        self, signature: type[dspy.Signature], inputs: dict[str, Any], outputs: list[Any]
    ) -> list[dict[str, Any]]:
        token = _current_input.set(" ".join(str(inputs.get(name, "")) for name in signature.input_fields))
        try:
            texts = [output.get("text") if isinstance(output, dict) else output for output in outputs]
            return [self.parse(signature, text or "") for text in texts]
        finally:
            _current_input.reset(token)
