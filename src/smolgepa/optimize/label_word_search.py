"""Label words searched on the training split (LM-BFF, Gao et al. 2021, automatic label-word search).

Two sources of candidate words per label:
- the model's own: at the answer position of training examples (seed prompt), the whole-word tokens
  whose log-probability is highest on examples of that label relative to the others;
- the label's synonyms: a short built-in list for common label names, and the words of a
  compound name (`doom_loop` -> `loop`).
The proposer offers whole sets (every label's best model word, then every label's first synonym)
and then one-label changes, so a run can tell which words the 135M separates best.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from smolgepa.errors import SmolgepaError
from smolgepa.candidate.label_words import LabelWords, check_label_words

SYNONYMS: dict[str, tuple[str, ...]] = {
    "positive": ("great", "good", "happy"),
    "negative": ("terrible", "bad", "sad"),
    "neutral": ("okay", "fact", "mixed"),
    "yes": ("true", "right"),
    "no": ("false", "wrong"),
}
_WORD = re.compile(r"^[a-z]{3,}$")
PER_LABEL = 20  # training examples per label whose answer distribution is read
WORDS_PER_LABEL = 3


def synonyms(label: str) -> list[str]:
    """Built-in synonyms of a label name, then the words of a compound name (`doom_loop` -> `loop`, `doom`)."""
    words = list(SYNONYMS.get(label.lower(), ()))
    parts = [p for p in re.split(r"[_\-\s]+", label.lower()) if p]
    if len(parts) > 1:
        words += [p for p in reversed(parts) if _WORD.match(p)]
    return [w for w in dict.fromkeys(words) if w != label.lower()]


def model_words(
    distributions: np.ndarray, row_labels: Sequence[str], labels: Sequence[str],
    token_text: Callable[[int], str], per_label: int = WORDS_PER_LABEL,
) -> dict[str, list[str]]:
    """Per label, the whole-word tokens most typical of its examples: the mean log-probability on the
    label's rows plus how much higher it is there than on the other rows (rows: answer-position
    log-distributions); the first term keeps tokens the model never says from winning on contrast alone."""
    rows = np.asarray(distributions)
    row_labels = list(row_labels)
    result: dict[str, list[str]] = {}
    order_cache: dict[int, str] = {}
    for label in labels:
        mine = rows[[i for i, y in enumerate(row_labels) if y == label]]
        rest = rows[[i for i, y in enumerate(row_labels) if y != label]]
        if len(mine) == 0 or len(rest) == 0:
            result[label] = []
            continue
        typical = 2 * mine.mean(axis=0) - rest.mean(axis=0)
        words: list[str] = []
        for token in np.argsort(-typical, kind="stable")[:2000]:
            text = order_cache.setdefault(int(token), token_text(int(token)).strip().lower())
            if _WORD.match(text) and text not in words:
                words.append(text)
            if len(words) == per_label:
                break
        result[label] = words
    return result


def word_sets(labels: Sequence[str], found: Mapping[str, Sequence[str]]) -> list[tuple[str, LabelWords]]:
    """Label-word proposals, in order: the model's best word for every label, every label's first
    synonym, then one label at a time to each of its other words. Sets that would give two labels
    one word are left out."""
    proposals: list[tuple[str, LabelWords]] = []
    syn = {label: synonyms(label) for label in labels}

    def offer(description: str, words: LabelWords) -> None:
        try:
            check_label_words(words, labels)
        except SmolgepaError:
            return
        if words and all(w for w in words.values()) and (description, words) not in proposals:
            proposals.append((description, dict(words)))

    offer("the model's own word for every label", {l: found[l][0] for l in labels if found.get(l)})
    offer("a synonym for every label", {l: syn[l][0] for l in labels if syn[l]})
    for label in labels:
        for word in [*found.get(label, [])[1:], *syn[label][1:]]:
            offer(f"label word for {label}: {word}", {label: word})
    return proposals


class LabelWordSearch:
    """Label-word proposals for one task, computed on first use from the student's answer
    distributions on a balanced slice of the training split (`PER_LABEL` examples per label)."""

    def __init__(self, engine: Any, task: Any, instruction: str) -> None:
        self.engine = engine
        self.task = task
        self.instruction = instruction
        self._sets: list[tuple[str, LabelWords]] | None = None

    def proposals(self) -> list[tuple[str, LabelWords]]:
        if self._sets is None:
            self._sets = word_sets(self.task.label_names, self.found())
        return self._sets

    def found(self) -> dict[str, list[str]]:
        from smolgepa.adapter.plain_text import PlainTextAdapter
        from smolgepa.adapter.program import make_signature

        signature = make_signature(self.task, self.instruction)
        field = next(iter(signature.input_fields))
        chosen = []
        for label in self.task.label_names:
            chosen += [e for e in self.task.split("train") if e.label == label][:PER_LABEL]
        adapter = PlainTextAdapter()
        rows = [self.engine.answer_distribution(adapter.format(signature, [], {field: e.input})) for e in chosen]
        return model_words(np.stack(rows), [e.label for e in chosen], self.task.label_names, self.engine.token_text)
