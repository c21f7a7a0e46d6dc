"""Read agent logs from a file: one conversation, or many, each a list of chat messages.

Accepted layouts (the same for every format):
- a JSON file holding one conversation: a list of messages, or `{"id": ..., "messages": [...]}`
  (an Anthropic request body with `system` and `messages` too);
- a JSON file holding a list of such conversation objects;
- a JSONL file, one conversation (a list of messages or an object with `messages`) per line.
A conversation's id is its `id`, else `<file stem>-<n>` (n counts from 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError


@dataclass(frozen=True)
class Conversation:
    """The messages of one agent run, where they came from (`file:line` for errors) and its id."""

    id: str
    messages: tuple[Any, ...]
    where: str


def read_conversations(path: str | Path) -> list[Conversation]:
    """Every conversation in a JSON or JSONL file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise SmolgepaError(f"Cannot read {path}: {exc}.") from None
    try:
        whole = json.loads(text)
    except ValueError:
        return _jsonl(path, text)
    if _is_conversation(whole):
        return [_conversation(whole, 1, path, str(path))]
    if isinstance(whole, list) and whole and all(_is_conversation(item) for item in whole):
        return [_conversation(item, n, path, f"{path}: conversation {n}") for n, item in enumerate(whole, start=1)]
    raise SmolgepaError(f"{path}: not a conversation: expected a list of messages, an object with 'messages', "
                        "a list of such objects, or one of them per line (JSONL).")


def _jsonl(path: Path, text: str) -> list[Conversation]:
    result = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise SmolgepaError(f"{where}: malformed JSON ({exc}).") from None
        if not _is_conversation(row):
            raise SmolgepaError(f"{where}: each line is one conversation: a list of messages or an object "
                                "with 'messages'.")
        result.append(_conversation(row, len(result) + 1, path, where))
    if not result:
        raise SmolgepaError(f"{path}: no conversations in the file.")
    return result


def _is_conversation(value: Any) -> bool:
    if isinstance(value, dict):
        return isinstance(value.get("messages"), list)
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _conversation(value: Any, number: int, path: Path, where: str) -> Conversation:
    if isinstance(value, list):
        return Conversation(f"{path.stem}-{number}", tuple(value), where)
    given = value.get("id")
    identifier = str(given) if isinstance(given, (str, int)) and not isinstance(given, bool) else f"{path.stem}-{number}"
    messages = list(value["messages"])
    if isinstance(value.get("system"), str):  # an Anthropic request body
        messages.insert(0, {"role": "system", "content": value["system"]})
    return Conversation(identifier, tuple(messages), where)
