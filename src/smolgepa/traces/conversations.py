"""Read agent logs from a file: one conversation, or many, each a list of chat messages (or steps).

Accepted layouts (the same for every format):
- a JSON file holding one conversation: a list of messages, or an object with the messages under one
  of the format's keys (`messages`, or `traj` as some benchmarks publish them; ATIF's `steps`;
  SWE-agent's `trajectory`), or under the key given with `--messages-key`; an Anthropic request body
  with `system` and `messages` too;
- a JSON file holding a list of such conversation objects;
- a JSONL file, one conversation (a list of messages or such an object) per line.
A conversation's id is its `id` (or `session_id`, `instance_id`), else `<file stem>-<n>` (n counts from 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError

CHAT_KEYS = ("messages", "traj")
ID_KEYS = ("id", "session_id", "instance_id")


@dataclass(frozen=True)
class Conversation:
    """The messages of one agent run, where they came from (`file:line` for errors), its id, and the
    object that held the messages (empty for a bare list), for formats that read more of it."""

    id: str
    messages: tuple[Any, ...]
    where: str
    record: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def read_conversations(path: str | Path, keys: tuple[str, ...] = CHAT_KEYS) -> list[Conversation]:
    """Every conversation in a JSON or JSONL file, its messages under the first of `keys` present."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise SmolgepaError(f"Cannot read {path}: {exc}.") from None
    try:
        whole = json.loads(text)
    except ValueError:
        return _jsonl(path, text, keys)
    if is_conversation(whole, keys):
        return [_conversation(whole, 1, path, str(path), keys)]
    if isinstance(whole, list) and whole and all(is_conversation(item, keys) for item in whole):
        return [_conversation(item, n, path, f"{path}: conversation {n}", keys)
                for n, item in enumerate(whole, start=1)]
    raise SmolgepaError(f"{path}: not a conversation: {_what_was_found(whole, keys)}")


def _jsonl(path: Path, text: str, keys: tuple[str, ...]) -> list[Conversation]:
    result = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise SmolgepaError(f"{where}: malformed JSON ({exc}).") from None
        if not is_conversation(row, keys):
            raise SmolgepaError(f"{where}: each line is one conversation: {_what_was_found(row, keys)}")
        result.append(_conversation(row, len(result) + 1, path, where, keys))
    if not result:
        raise SmolgepaError(f"{path}: no conversations in the file.")
    return result


def _what_was_found(value: Any, keys: tuple[str, ...]) -> str:
    """What was expected, what the value holds, and what to do."""
    wanted = " or ".join(repr(key) for key in keys)
    expected = (f"expected a list of messages, an object with them under {wanted}, a list of such objects, "
                "or one of them per line (JSONL)")
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, dict):
        found = ", ".join(repr(key) for key in list(sample)[:12]) or "none"
        lists = [key for key, item in sample.items() if isinstance(item, list)]
        hint = f" (lists under {', '.join(map(repr, lists))})" if lists else ""
        return (f"{expected}; the {'first ' if sample is not value else ''}object has the keys {found}{hint}. "
                "Pass --messages-key KEY to name the key that holds the messages, or pick the --from format "
                "that writes this file.")
    return f"{expected}; found {type(value).__name__}."


def _messages(value: dict[str, Any], keys: tuple[str, ...]) -> list[Any] | None:
    for key in keys:
        if isinstance(value.get(key), list):
            return value[key]
    return None


def is_conversation(value: Any, keys: tuple[str, ...]) -> bool:
    """Whether `value` is one conversation: a list of messages, or an object with them under one of `keys`."""
    if isinstance(value, dict):
        return _messages(value, keys) is not None
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _conversation(value: Any, number: int, path: Path, where: str, keys: tuple[str, ...]) -> Conversation:
    if isinstance(value, list):
        return Conversation(f"{path.stem}-{number}", tuple(value), where)
    given = next((value[key] for key in ID_KEYS if isinstance(value.get(key), (str, int))
                  and not isinstance(value.get(key), bool)), None)
    identifier = str(given) if given is not None else f"{path.stem}-{number}"
    messages = list(_messages(value, keys) or [])
    if isinstance(value.get("system"), str):  # an Anthropic request body
        messages.insert(0, {"role": "system", "content": value["system"]})
    return Conversation(identifier, tuple(messages), where, value)
