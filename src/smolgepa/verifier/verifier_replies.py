"""Reading a verifier's reply leniently: a label word first (after an optional `Label:` and markdown),
then a one-line reason. A reply with no label word, or whose first word is not one of the task's
labels, is junk: counted by the caller, never an exception."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

REASON_SHOWN = 200  # characters of a reason kept
NO_LABEL = "no label"
OUTSIDE = "outside the set"
_LEAD = re.compile(r"^[\W_]*")  # markdown, quotes, bullets before the first word
_PREFIX = re.compile(
    r"^(?:the\s+)?(?:correct\s+|right\s+|final\s+|best\s+|fitting\s+)?(?:label|answer|verdict|category|class)"
    r"(?:\s+is)?\s*[:=\-]?\s*", re.IGNORECASE)
_WORD = re.compile(r"[\w-]+")
# A first word followed by one of these (or the end) stands where the label should: not a label of the
# task, it is a label outside the set; any other first word starts a sentence with no label first.
_LABEL_END = re.compile(r"^[\w-]+(?:[*_`\"'\]]*)(?:\s*$|\s*[:.,;!\-\u2013\u2014(]|\s*\n)")


@dataclass(frozen=True)
class VerifierReply:
    """A reply read: the label it names (None: junk, and `junk` says why) and its one-line reason."""

    label: str | None
    reason: str = ""
    junk: str | None = None  # NO_LABEL or OUTSIDE
    word: str = ""  # the first word, when it is a label outside the set
    text: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {"label": self.label, "reason": self.reason, "junk": self.junk, "word": self.word or None}


def one_line(text: str, limit: int = REASON_SHOWN) -> str:
    """`text` on one line, cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def reason_after(rest: str) -> str:
    """The reason after the label word: the rest of its line (separators dropped), else the next line."""
    lines = [line for line in rest.split("\n")]
    first = re.sub(r"^[\s*_`\"'\]:.,;!\-\u2013\u2014)]*", "", lines[0]) if lines else ""
    if first.strip():
        return one_line(first)
    following = next((line for line in lines[1:] if line.strip()), "")
    return one_line(re.sub(r"^[\W_]*", "", following))


def read_reply(text: str, labels: Sequence[str]) -> VerifierReply:
    """The label word a reply starts with (case-insensitive, one of `labels`) and its reason."""
    by_lower = {label.lower(): label for label in labels}
    rest = _LEAD.sub("", text.strip())
    rest = _LEAD.sub("", _PREFIX.sub("", rest, count=1))
    match = _WORD.match(rest)
    if not match:
        return VerifierReply(None, one_line(text), NO_LABEL, text=text)
    word = match.group(0).strip("-")
    label = by_lower.get(word.lower())
    if label is not None:
        return VerifierReply(label, reason_after(rest[match.end():]), text=text)
    if _LABEL_END.match(rest) and len(word) <= 40:
        return VerifierReply(None, reason_after(rest[match.end():]), OUTSIDE, word=word, text=text)
    return VerifierReply(None, one_line(text), NO_LABEL, text=text)
