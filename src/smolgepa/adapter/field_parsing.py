"""Read one output field's value out of a small model's text, by the field's type. Never raises.

Each type has a ladder, first hit wins; a value no rung can read is None, with method "unparsed":
- `str`: the text, stripped of quotes and a repeated field name ("" is None).
- `bool`: a leading yes/no/true/false word, else exactly one such word anywhere.
- `int`, `float`: the number after the last `=`, else the first number (digits, `1,234`, `-2.5`, `85%`),
  else a number word (`three`).
- `Literal`, `Enum`: the label ladder of `smolgepa.evaluation.labels` over the allowed values (or member names).
- anything else (lists, dicts, pydantic models): JSON validated by pydantic, else None.
`Optional[X]` and `X | None` read as X.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import pydantic

from smolgepa.evaluation.labels import parse_label

TRUE_WORDS = ("yes", "true", "correct", "right", "y")
FALSE_WORDS = ("no", "false", "incorrect", "wrong", "n")
NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty").split()
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?%?")
_STRIP = " \t\r\n\"'`*"


@dataclass(frozen=True)
class FieldValue:
    """A field read from text: `value` (None when unreadable), `method` (which rung), `raw` (the text)."""

    value: Any
    method: str
    raw: str


def unwrap_optional(annotation: Any) -> Any:
    """`X` for `Optional[X]` / `X | None`; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def choices(annotation: Any) -> list[Any]:
    """The allowed values of a Literal or Enum annotation ([] for other types)."""
    annotation = unwrap_optional(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)
    return []


def choice_text(value: Any) -> str:
    """How an allowed value is written: an Enum member by its value, anything else as str."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def type_hint(annotation: Any) -> str:
    """A few words on what to write for a field of this type (for the system message)."""
    annotation = unwrap_optional(annotation)
    options = choices(annotation)
    if options:
        return "one of " + ", ".join(choice_text(option) for option in options)
    return {bool: "yes or no", int: "a whole number", float: "a number"}.get(annotation, "")


def parse_value(text: str | None, annotation: Any, input_text: str | None = None) -> FieldValue:
    """`text` read as a value of `annotation` (see the module docstring); never raises."""
    raw = text or ""
    body = raw.strip().strip(_STRIP).strip()
    if not body:
        return FieldValue(None, "empty", raw)
    annotation = unwrap_optional(annotation)
    try:
        value, method = _read(body, annotation, input_text)
    except Exception:  # a user type's validator may raise anything; a field is never an exception
        value, method = None, "unparsed"
    return FieldValue(value, method if value is not None else "unparsed", raw)


def _read(body: str, annotation: Any, input_text: str | None) -> tuple[Any, str]:
    options = choices(annotation)
    if options:
        return _read_choice(body, options, input_text)
    if annotation is bool:
        return _read_bool(body)
    if annotation in (int, float):
        return _read_number(body, annotation)
    if annotation in (str, Any) or annotation is None:
        return body, "text"
    return _read_json(body, annotation)


def _read_choice(body: str, options: list[Any], input_text: str | None) -> tuple[Any, str]:
    by_text = {choice_text(option): option for option in options}
    names = {option.name: option for option in options if isinstance(option, enum.Enum)}
    parsed = parse_label(body, [*by_text, *(name for name in names if name not in by_text)], input_text=input_text)
    if parsed.label is None:
        return None, parsed.method
    return by_text.get(parsed.label, names.get(parsed.label)), parsed.method


def _read_bool(body: str) -> tuple[bool | None, str]:
    words = re.findall(r"[a-z]+", body.lower())
    if words and words[0] in TRUE_WORDS + FALSE_WORDS:
        return words[0] in TRUE_WORDS, "leading"
    found = {word in TRUE_WORDS for word in words if word in TRUE_WORDS + FALSE_WORDS and len(word) > 1}
    if len(found) == 1:
        return found.pop(), "word"
    return None, "unparsed"


def _read_number(body: str, kind: type) -> tuple[int | float | None, str]:
    if "=" in body:  # "2 + 2 = 4": the result, not the first operand
        value, _ = _read_number(body.rsplit("=", 1)[1], kind)
        if value is not None:
            return value, "result"
    for match in _NUMBER.finditer(body):
        token = match.group(0)
        digits = token.rstrip("%").replace(",", "").lstrip("+")
        if not any(ch.isdigit() for ch in digits):
            continue
        number = float(digits)
        if kind is int:
            return (int(number), "number") if number.is_integer() else (None, "unparsed")
        return number, "number"
    words = [word for word in re.findall(r"[a-z]+", body.lower()) if word in NUMBER_WORDS]
    if words:
        number = NUMBER_WORDS.index(words[0])
        return (number if kind is int else float(number)), "word"
    return None, "unparsed"


def _read_json(body: str, annotation: Any) -> tuple[Any, str]:
    start = min((body.find(ch) for ch in "[{" if ch in body), default=-1)
    candidates = [body] + ([body[start:]] if start > 0 else [])
    for candidate in candidates:
        try:
            return pydantic.TypeAdapter(annotation).validate_python(json.loads(candidate)), "json"
        except (ValueError, TypeError, pydantic.ValidationError):
            continue
    return None, "unparsed"
