"""The plain `Field: value` layout for signatures beyond one label: format, split, and complete field by field.

The user message lists the inputs as `Prefix: value` lines and ends with the next output's cue
(`Reasoning:`). The model writes that field's value and may go on with `Answer: ...` lines. Fields it
did not write are asked for one at a time: the fields written so far are added to the user message and
the next cue ends it (`FieldDialog`). A demo is a user turn with its inputs and an assistant turn with
its outputs in the same layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import dspy

from smolgepa.adapter.field_parsing import FieldValue, parse_value, type_hint


def prefix(signature: type[dspy.Signature], name: str) -> str:
    """A field's `Prefix:` (DSPy's inferred prefix, else the capitalized name), colon included."""
    fields = {**signature.input_fields, **signature.output_fields}
    text = (fields[name].json_schema_extra or {}).get("prefix") or f"{name.capitalize()}:"
    return text if text.endswith(":") else f"{text}:"


def value_text(value: Any) -> str:
    """An input or demo value as one block of text (JSON for lists, dicts and models)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(getattr(value, "value", value)).strip()


def input_lines(signature: type[dspy.Signature], values: dict[str, Any]) -> list[str]:
    """Each input as `Prefix: value`."""
    return [f"{prefix(signature, name)} {value_text(values.get(name, ''))}" for name in signature.input_fields]


def format_guide(signature: type[dspy.Signature]) -> str:
    """The system message's answer format: for one output what to write (when not free text), for
    several one `Prefix: what to write` line each."""
    hints = {name: type_hint(info.annotation) or _description(name, info) for name, info in signature.output_fields.items()}
    if len(hints) == 1:
        hint = type_hint(next(iter(signature.output_fields.values())).annotation)
        return f"Answer with {hint}." if hint else ""
    lines = [f"{prefix(signature, name)} {hint}".rstrip() for name, hint in hints.items()]
    return "Answer in this format, one field per line:\n" + "\n".join(lines)


def _description(name: str, info: Any) -> str:
    """A field's own description, unless it is DSPy's placeholder (`${name}`)."""
    desc = str((info.json_schema_extra or {}).get("desc") or "")
    return "" if desc == f"${{{name}}}" else desc


def demo_turns(signature: type[dspy.Signature], demo: dict[str, Any]) -> list[dict[str, str]]:
    """A demo as a user turn and an assistant turn, from its first output field on ([] when it lacks
    an input or has no output value)."""
    names = [name for name in signature.output_fields if demo.get(name) not in (None, "")]
    if not names or not all(name in demo for name in signature.input_fields):
        return []
    first = list(signature.output_fields).index(names[0])
    shown = [name for name in list(signature.output_fields)[first:] if name in names]
    answer = [value_text(demo[shown[0]])]
    answer += [f"{prefix(signature, name)} {value_text(demo[name])}" for name in shown[1:]]
    user = "\n".join([*input_lines(signature, demo), prefix(signature, shown[0])])
    return [{"role": "user", "content": user}, {"role": "assistant", "content": "\n".join(answer)}]


def split_fields(signature: type[dspy.Signature], first: str, text: str) -> dict[str, str]:
    """The text written for each output field, when the model began after `first`'s cue: lines up to a
    later field's `Prefix:` belong to the field before (`first` is "" when the text starts with
    another field). A field the text never names is absent."""
    names = list(signature.output_fields)
    later = names[names.index(first):]
    pattern = re.compile(
        r"^[ \t*#_]*(" + "|".join(re.escape(prefix(signature, name)[:-1]) for name in later) + r")[ \t*_]*:",
        re.IGNORECASE | re.MULTILINE,
    )
    by_prefix = {prefix(signature, name)[:-1].lower(): name for name in later}
    written: dict[str, str] = {}
    current, start = first, 0
    for match in pattern.finditer(text):
        name = by_prefix[match.group(1).lower()]
        if name == current and not text[start:match.start()].strip():
            start = match.end()  # the model repeated the cue it was given
            continue
        written.setdefault(current, text[start:match.start()])
        current, start = name, match.end()
    written.setdefault(current, text[start:])
    return written


@dataclass
class FieldDialog:
    """Completes one signature's outputs field by field: `messages()` to send, `add(text)` with the
    model's answer, until `done`. `values()` reads every field (None where unreadable)."""

    signature: type[dspy.Signature]
    base: list[dict[str, Any]]  # system, demo turns and the inputs' user message without a cue
    input_text: str = ""
    written: dict[str, str] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    asked: int = 0

    @property
    def pending(self) -> str | None:
        """The next output field nobody has written yet."""
        return next((name for name in self.signature.output_fields if name not in self.written), None)

    @property
    def done(self) -> bool:
        return self.pending is None or self.asked >= len(self.signature.output_fields)

    def messages(self) -> list[dict[str, Any]]:
        """The messages asking for the next pending field: what was written so far, then its cue."""
        lines = [f"{prefix(self.signature, name)} {self.written[name].strip()}" for name in self.signature.output_fields
                 if name in self.written]
        last = dict(self.base[-1])
        last["content"] = "\n".join([last["content"], *lines, prefix(self.signature, str(self.pending))])
        return [*self.base[:-1], last]

    def add(self, text: str) -> None:
        """Record the model's answer to the pending field's cue."""
        name = str(self.pending)
        self.transcript.append(text if not self.transcript else f"{prefix(self.signature, name)} {text}")
        self.asked += 1
        found = split_fields(self.signature, name, text)
        for key, value in found.items():
            self.written.setdefault(key, value)

    def values(self) -> dict[str, FieldValue]:
        """Each output field read by its type (a field never written reads as empty: None)."""
        return {name: parse_value(self.written.get(name), info.annotation, self.input_text)
                for name, info in self.signature.output_fields.items()}
