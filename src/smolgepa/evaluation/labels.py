"""Read a label out of a tiny model's free-text completion. Never raises.

The ladder, first hit wins: exact match, a label leading the text, a unique whole-word match
(ignoring any echoed copy of the input), then a fuzzy match of the first words and synonyms.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Common ways a small model names a sentiment label; used only where that label exists.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "positive": ("good", "great", "happy", "pleased", "favorable", "favourable", "satisfied", "love"),
    "negative": ("bad", "unhappy", "unfavorable", "unfavourable", "terrible", "disappointed", "angry"),
    "neutral": ("none", "objective", "factual", "neither"),
}
_PREFIX = re.compile(
    r"^\s*(?:the\s+)?(?:answer|label|output|class|category|sentiment|state|prediction|result)"
    r"(?:\s+is)?\s*[:=\-]?\s*",
    re.IGNORECASE,
)
_STRIP = " \t\r\n\"'`*.,;:!?()[]{}<>#-"


@dataclass(frozen=True)
class ParsedLabel:
    """A label read from a completion: `label` is None when none could be read; `method` says how."""

    label: str | None
    method: str
    raw: str


def _squash(text: str) -> str:
    """Lower case, letters and digits only: 'Doom-Loop' and 'doom_loop' both become 'doomloop'."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _label_pattern(label: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in re.split(r"[_\-\s]+", label) if part]
    return re.compile(r"(?<![A-Za-z0-9])" + r"[_\-\s]?".join(parts) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def parse_label(text: str | None, labels: Sequence[str], input_text: str | None = None) -> ParsedLabel:
    """Read one of `labels` from `text`; an echoed copy of `input_text` is ignored for matching."""
    raw = text or ""
    body = raw.strip()
    if not body or not labels:
        return ParsedLabel(None, "empty" if not body else "no-labels", raw)
    by_squash = {_squash(label): label for label in labels}

    cleaned = _PREFIX.sub("", body, count=1).strip(_STRIP)
    if _squash(cleaned) in by_squash:
        return ParsedLabel(by_squash[_squash(cleaned)], "exact", raw)

    first_clause = re.split(r"[.!?\n]", cleaned, maxsplit=1)[0]
    in_first_clause = {label for label in labels if _label_pattern(label).search(first_clause)}
    for label in labels:
        if _label_pattern(label).match(cleaned):
            if len(in_first_clause) > 1:  # "positive or negative": no single answer
                return ParsedLabel(None, "ambiguous", raw)
            return ParsedLabel(label, "leading", raw)

    searchable = body
    if input_text and input_text.strip() and input_text.strip() in searchable:
        searchable = searchable.replace(input_text.strip(), " ")
    found = {label for label in labels if _label_pattern(label).search(searchable)}
    if len(found) == 1:
        return ParsedLabel(found.pop(), "word", raw)
    if len(found) > 1:
        return ParsedLabel(None, "ambiguous", raw)

    first_words = re.findall(r"[A-Za-z0-9_\-]+", _PREFIX.sub("", searchable.strip(), count=1))[:2]
    for candidate in (" ".join(first_words), first_words[0] if first_words else ""):
        squashed = _squash(candidate)
        close = difflib.get_close_matches(squashed, list(by_squash), n=1, cutoff=0.8)
        # Similar length too: a misspelling ("positve"), not a longer phrase containing a label.
        if squashed and close and abs(len(close[0]) - len(squashed)) <= 1:
            return ParsedLabel(by_squash[close[0]], "fuzzy", raw)

    synonym_hits = {
        label
        for label in labels
        for word in SYNONYMS.get(label.lower(), ())
        if re.search(rf"(?<![a-z]){word}(?![a-z])", searchable, re.IGNORECASE)
    }
    if len(synonym_hits) == 1:
        return ParsedLabel(synonym_hits.pop(), "synonym", raw)
    return ParsedLabel(None, "ambiguous" if synonym_hits else "unparsed", raw)
