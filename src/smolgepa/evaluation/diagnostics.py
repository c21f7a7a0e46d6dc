"""Failure diagnostics over predictions: echoes, label bias, confusions, capacity.

These turn the study's by-hand observations (positivity bias, prohibitions echoed as content,
class definitions echoed back) into numbers computed on every evaluation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

ECHO_NGRAM = 5  # words in a row copied from a source count as an echo
COLLAPSE_SHARE = 0.8  # one label predicted this often (or more) is a collapse
ECHO_CAPACITY_RATE = 0.5  # this share of echoed or unparseable outputs means "no usable answers"
_PROHIBITION = re.compile(r"\b(do not|don't|dont|never|avoid|must not|no )\b", re.IGNORECASE)


class PredictionLike(Protocol):
    input: str
    label: str
    predicted: str | None
    raw: str


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def echoes(output: str, source: str, n: int = ECHO_NGRAM) -> bool:
    """True when `output` copies `n` words in a row from `source` (or all of a shorter source)."""
    source_words = _words(source)
    output_words = _words(output)
    if not source_words or not output_words:
        return False
    size = min(n, len(source_words))
    if size < 3 and len(source_words) > size:
        return False
    return bool(_ngrams(output_words, size) & _ngrams(source_words, size))


def prohibition_sentences(instruction: str) -> list[str]:
    """Sentences or lines of the instruction that forbid something ("DO NOT echo the input")."""
    pieces = re.split(r"(?<=[.!?])\s+|\n+", instruction)
    return [piece.strip() for piece in pieces if piece.strip() and _PROHIBITION.search(piece)]


@dataclass(frozen=True)
class Diagnostics:
    """What went wrong in one evaluation, as rates over its n predictions."""

    n: int
    unparsed_rate: float
    input_echo_rate: float
    instruction_echo_rate: float
    prohibition_echo_rate: float
    definition_echo_rate: float
    predicted_distribution: dict[str, int]
    gold_distribution: dict[str, int]
    collapse_label: str | None
    over_predicted: list[tuple[str, float]]
    under_predicted: list[tuple[str, float]]
    confused_pairs: list[tuple[str, str, int]]
    prohibitions_echoed: list[str]
    label_list_echo_rate: float = 0.0  # outputs naming two or more labels ("Positive, negative, neutral.")

    @property
    def no_usable_answers(self) -> bool:
        """Most outputs echo something or give no label: the model is not answering the task."""
        echoed = max(
            self.input_echo_rate, self.instruction_echo_rate, self.definition_echo_rate, self.label_list_echo_rate
        )
        return self.n > 0 and max(echoed, self.unparsed_rate) >= ECHO_CAPACITY_RATE

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["no_usable_answers"] = self.no_usable_answers
        return data

    def summary_lines(self) -> list[str]:
        """Plain-language findings, one per line, for people and for the reflection model."""
        lines: list[str] = []
        if self.collapse_label:
            share = self.predicted_distribution[self.collapse_label] / max(self.n, 1)
            lines.append(f"label collapse: {share:.0%} of answers are '{self.collapse_label}'")
        for label, gap in self.over_predicted[:2]:
            lines.append(f"bias: '{label}' is predicted {gap:+.0%} more often than it is correct")
        for label, gap in self.under_predicted[:2]:
            lines.append(f"under-predicted: '{label}' is predicted {gap:+.0%} less often than it occurs")
        rates = (
            ("outputs with no readable label", self.unparsed_rate),
            ("outputs echoing the input", self.input_echo_rate),
            ("outputs echoing the instruction", self.instruction_echo_rate),
            ("outputs echoing a prohibition as content", self.prohibition_echo_rate),
            ("outputs echoing a label definition", self.definition_echo_rate),
            ("outputs listing several labels instead of choosing one", self.label_list_echo_rate),
        )
        lines.extend(f"{name}: {rate:.0%}" for name, rate in rates if rate > 0)
        for gold, predicted, count in self.confused_pairs[:3]:
            lines.append(f"confusion: {gold} -> {predicted} ({count}x)")
        return lines


def diagnose(
    predictions: Sequence[PredictionLike],
    labels: Sequence[str],
    instruction: str = "",
    label_descriptions: dict[str, str] | None = None,
) -> Diagnostics:
    """Compute the diagnostics of one evaluation."""
    n = len(predictions)
    rate = (lambda count: count / n) if n else (lambda count: 0.0)
    prohibitions = prohibition_sentences(instruction)
    definitions = [text for text in (label_descriptions or {}).values() if len(_words(text)) >= 3]
    unparsed = sum(p.predicted is None for p in predictions)
    input_echo = sum(echoes(p.raw, p.input) for p in predictions)
    instruction_echo = sum(bool(instruction) and echoes(p.raw, instruction) for p in predictions)
    echoed_prohibitions = [s for s in prohibitions if any(echoes(p.raw, s, n=4) for p in predictions)]
    prohibition_echo = sum(any(echoes(p.raw, s, n=4) for s in prohibitions) for p in predictions)
    definition_echo = sum(any(echoes(p.raw, d, n=4) for d in definitions) for p in predictions)
    # Several labels named and none could be read as the answer: the label list was echoed, not used.
    label_list_echo = sum(p.predicted is None and len(labels_named(p.raw, labels)) >= 2 for p in predictions)

    predicted = Counter(p.predicted for p in predictions if p.predicted is not None)
    gold = Counter(p.label for p in predictions)
    predicted_distribution = {label: predicted.get(label, 0) for label in labels}
    gold_distribution = {label: gold.get(label, 0) for label in labels}
    collapse = None
    if n >= 3 and predicted:
        top, count = predicted.most_common(1)[0]
        collapse = top if count / n >= COLLAPSE_SHARE and len(gold) > 1 else None
    gaps = {label: rate(predicted.get(label, 0) - gold.get(label, 0)) for label in labels}
    over = sorted(((lbl, gap) for lbl, gap in gaps.items() if gap >= 0.15), key=lambda item: -item[1])
    under = sorted(((lbl, gap) for lbl, gap in gaps.items() if gap <= -0.15), key=lambda item: item[1])
    return Diagnostics(
        n=n,
        unparsed_rate=rate(unparsed),
        input_echo_rate=rate(input_echo),
        instruction_echo_rate=rate(instruction_echo),
        prohibition_echo_rate=rate(prohibition_echo),
        definition_echo_rate=rate(definition_echo),
        predicted_distribution=predicted_distribution,
        gold_distribution=gold_distribution,
        collapse_label=collapse,
        over_predicted=over,
        under_predicted=under,
        confused_pairs=confused_pairs(predictions),
        prohibitions_echoed=echoed_prohibitions,
        label_list_echo_rate=rate(label_list_echo),
    )


def labels_named(output: str, labels: Sequence[str]) -> set[str]:
    """The labels `output` names as whole words ('doom loop', 'Doom-Loop' and 'doom_loop' all count)."""
    found = set()
    for label in labels:
        parts = [re.escape(part) for part in re.split(r"[_\-\s]+", label) if part]
        pattern = r"(?<![A-Za-z0-9])" + r"[_\-\s]?".join(parts) + r"(?![A-Za-z0-9])"
        if parts and re.search(pattern, output, re.IGNORECASE):
            found.add(label)
    return found


def confused_pairs(predictions: Iterable[PredictionLike]) -> list[tuple[str, str, int]]:
    """(gold, predicted, count) for wrong answers, most frequent first; no label counts as '(none)'."""
    counts = Counter((p.label, p.predicted or "(none)") for p in predictions if p.predicted != p.label)
    return [(gold, predicted, count) for (gold, predicted), count in counts.most_common()]


@dataclass(frozen=True)
class CapacityVerdict:
    """Whether failures look like a capacity problem (no instruction gets answers) or a prompt problem."""

    capacity_problem: bool
    text: str
    evidence: list[str]


def capacity_verdict(named: Sequence[tuple[str, Diagnostics]]) -> CapacityVerdict:
    """Judge over the seed instruction and every proposal: all without usable answers = capacity."""
    if not named:
        return CapacityVerdict(False, "no evaluations", [])
    evidence = [
        f"{name}: unparsed {d.unparsed_rate:.0%}, input echo {d.input_echo_rate:.0%}, "
        f"instruction echo {d.instruction_echo_rate:.0%}, definition echo {d.definition_echo_rate:.0%}, "
        f"label-list echo {d.label_list_echo_rate:.0%}"
        for name, d in named
    ]
    if all(d.no_usable_answers for _, d in named):
        return CapacityVerdict(
            True,
            f"capacity problem, not a prompt problem: none of {len(named)} instructions got usable answers "
            "(most outputs echo text or name no label)",
            evidence,
        )
    return CapacityVerdict(False, "the student gives usable answers for at least one instruction", evidence)
