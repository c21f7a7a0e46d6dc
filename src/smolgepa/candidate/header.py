"""Header lines of a candidate instruction: settings that travel with the text GEPA evolves.

A candidate may start with lines such as `Reading: knn` (how the answer is read, `smolgepa.candidate.reading_line`)
and `Label words: positive=great, negative=awful` (the words the student is shown and scored on,
`smolgepa.candidate.label_words`). They are parts of the candidate like its `Examples:` block: proposers
change them, runs record them, `program.json` exports them. The student never sees them as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Every header a candidate may carry, in the order they are written.
HEADER_PREFIXES = ("Reading:", "Label words:")


def split_header(instruction: str) -> tuple[dict[str, str], str]:
    """({prefix: value} of the instruction's leading header lines, the instruction without them)."""
    values: dict[str, str] = {}
    lines = instruction.split("\n")
    at = 0
    while at < len(lines):
        prefix = next((p for p in HEADER_PREFIXES if lines[at].startswith(p)), None)
        if prefix is None or prefix in values:
            break
        values[prefix] = lines[at][len(prefix):].strip()
        at += 1
    if not values:
        return {}, instruction
    return values, "\n".join(lines[at:]).lstrip("\n")


def join_header(values: Mapping[str, str | None], body: str) -> str:
    """`body` under the header lines whose value is set, in HEADER_PREFIXES order."""
    lines = [f"{prefix} {values[prefix]}" for prefix in HEADER_PREFIXES if values.get(prefix)]
    return "\n".join(lines) + f"\n\n{body}" if lines else body


def with_header_value(instruction: str, prefix: str, value: str | None) -> str:
    """The instruction with one header line set to `value` (removed for None), the others kept."""
    values, body = split_header(instruction)
    updated: dict[str, str | None] = {**values, prefix: value}
    return join_header(updated, body)


def take_header(messages: Sequence[Mapping[str, str]]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header values at the start of the system message, and the messages without them."""
    result = [dict(message) for message in messages]
    if result and result[0].get("role") == "system":
        values, body = split_header(result[0].get("content") or "")
        if values:
            result[0]["content"] = body
            return values, result
    return {}, result
