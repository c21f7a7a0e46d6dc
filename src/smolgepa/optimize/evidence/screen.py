"""The screen of structural moves (a reading, label words): each option measured against its parent on
the training split (out-of-fold answers: the anchor readings answer a training text without its own
anchor or fold) and on validation, before any minibatch sees it.

Every option is first answered on a seeded, label-stratified training sample (at least 60 examples);
the `finalists` best of those are answered on validation too, and the paired sequential test
(`paired_test.py`) reads their answers beside the parent's on the same examples (training sample,
then validation, in a seeded order). An option is proposed only when it wins that screen: the best
pooled accuracy among those the test accepts (the next ones are proposed in turn, each against the
parent it would replace).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smolgepa.evaluation.evaluate import EvalReport
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.evidence.paired_test import PairedVerdict, SequentialPairedTest
from smolgepa.evaluation.stats import format_accuracy, wilson_interval
from smolgepa.candidate.instruction import one_line, split_instruction
from smolgepa.tasks.model import Example, Task

Evaluate = Callable[[str, Sequence[Example], str], EvalReport]  # (instruction, examples, split name)
MIN_TRAIN_SAMPLE = 60


@dataclass(frozen=True)
class Measured:
    """Correct answers of one candidate on one set of examples."""

    correct: int
    n: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def text(self) -> str:
        return format_accuracy(self.correct, self.n)

    def to_json(self) -> dict[str, Any]:
        return {"correct": self.correct, "n": self.n, "accuracy": self.accuracy,
                "ci95": list(wilson_interval(self.correct, self.n)), "text": self.text()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Measured | None:
        return None if not data else cls(int(data["correct"]), int(data["n"]))


@dataclass(frozen=True)
class OptionScreen:
    """One option's screen: its training-sample and validation answers, and the paired test against
    the parent (None for an option that did not reach the finals)."""

    move: str
    instruction_sha: str
    train: Measured
    val: Measured | None = None
    verdict: PairedVerdict | None = None
    passed: bool = False

    @property
    def pooled(self) -> Measured:
        val = self.val or Measured(0, 0)
        return Measured(self.train.correct + val.correct, self.train.n + val.n)

    def line(self) -> str:
        """One line of `show`'s screen table."""
        val = self.val.text() if self.val else "not measured (not a finalist)"
        verdict = self.verdict.text() if self.verdict else ""
        mark = "+ " if self.passed else "  "
        return f"{mark}{self.move}: train {self.train.text()}; val {val}" + (f"; {verdict}" if verdict else "")

    def to_json(self) -> dict[str, Any]:
        return {"move": self.move, "instruction_sha": self.instruction_sha, "train": self.train.to_json(),
                "val": self.val.to_json() if self.val else None,
                "verdict": self.verdict.to_json() if self.verdict else None, "passed": self.passed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OptionScreen:
        train = Measured.from_json(data.get("train")) or Measured(0, 0)
        return cls(str(data.get("move") or ""), str(data.get("instruction_sha") or ""), train,
                   Measured.from_json(data.get("val")), PairedVerdict.from_json(data.get("verdict")),
                   bool(data.get("passed")))


@dataclass(frozen=True)
class Comparison:
    """A candidate against its parent on the screen's examples."""

    parent: OptionScreen
    option: OptionScreen


@dataclass
class EvidenceJudge:
    """Measures candidates on the screen's examples (each text once per split: the run's caches make a
    resumed run read the same answers) and decides structural moves with the paired test."""

    task: Task
    evaluate: Evaluate
    seed: int = 0
    train_sample: int = MIN_TRAIN_SAMPLE
    finalists: int = 3
    test: SequentialPairedTest = field(default_factory=SequentialPairedTest)
    _answers: dict[tuple[str, str], dict[str, bool]] = field(default_factory=dict, repr=False)
    _comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict, repr=False)
    calls: int = 0  # student answers the screen asked for (cached ones included)

    def __post_init__(self) -> None:
        if self.train_sample < MIN_TRAIN_SAMPLE:
            raise ValueError(f"the screen's training sample must hold at least {MIN_TRAIN_SAMPLE} examples")
        if self.finalists < 1:
            raise ValueError("the screen needs at least one finalist")
        self.sets = {
            "train": _stratified_sample(self.task.split("train"), self.train_sample, self.seed),
            "train_full": list(self.task.split("train")),
            "val": list(self.task.split("val")),
        }

    def answers(self, text: str, split: str) -> dict[str, bool]:
        """Whether each example of a set (`train`: the screen's sample, `train_full`, `val`) is answered
        right by `text`; training texts are answered out of fold by the readings that fit on them."""
        key = (instruction_hash(text), split)
        if key not in self._answers:
            examples = self.sets[split]
            report = self.evaluate(text, examples, "train" if split.startswith("train") else split)
            self.calls += report.n
            self._answers[key] = {p.id: p.correct for p in report.predictions}
        return self._answers[key]

    def measure(self, move: str, text: str, with_val: bool) -> OptionScreen:
        train = self.answers(text, "train")
        val = self.answers(text, "val") if with_val else None
        return OptionScreen(move, instruction_hash(text), _measured(train),
                            _measured(val) if val is not None else None)

    def compare(self, parent: str, candidate: str, move: str = "") -> Comparison:
        """The candidate against its parent: both on the training sample and validation, and the test."""
        key = (instruction_hash(parent), instruction_hash(candidate))
        if key not in self._comparisons:
            old = self.measure("parent", parent, with_val=True)
            new = self.measure(move or "candidate", candidate, with_val=True)
            verdict = self.paired(parent, candidate, ("train", "val"))
            new = OptionScreen(new.move, new.instruction_sha, new.train, new.val, verdict, verdict.accepted)
            self._comparisons[key] = Comparison(old, new)
        return self._comparisons[key]

    def proven(self, old: str, new: str) -> bool:
        """Whether a comparison already made found `new` better than `old` (paired test accepted)."""
        found = self._comparisons.get((instruction_hash(old), instruction_hash(new)))
        return found is not None and found.option.passed

    def paired(self, old: str, new: str, splits: Sequence[str]) -> PairedVerdict:
        """The paired test of `new` against `old` on the sets named, pairs in a seeded order. An example
        shown in either prompt (a few-shot example) is left out: its answer is read off the prompt."""
        shown = _shown_inputs(old) | _shown_inputs(new)
        order = [(split, e.id) for split in splits for e in self.sets[split] if one_line(e.input) not in shown]
        random.Random(f"pairs-{self.seed}-{'-'.join(splits)}").shuffle(order)
        answers = {split: (self.answers(old, split), self.answers(new, split)) for split in splits}
        return self.test.decide((answers[split][0][i], answers[split][1][i]) for split, i in order)

    def screen(self, parent: str, options: Sequence[tuple[str, str]]) -> list[OptionScreen]:
        """Every option (move, text) measured on the training sample; the finalists on validation and
        against the parent. Returned best first (finalists by pooled accuracy, then the rest by
        training accuracy); `passed` marks those the paired test accepts against the parent."""
        if not options:
            return []
        first = [self.measure(move, text, with_val=False) for move, text in options]
        texts = {screen.instruction_sha: text for screen, (_, text) in zip(first, options)}
        ranked = sorted(range(len(first)), key=lambda i: (-first[i].train.correct, i))
        finals = [self.compare(parent, texts[first[i].instruction_sha], first[i].move).option
                  for i in ranked[: self.finalists]]
        finals.sort(key=lambda s: -s.pooled.accuracy)
        rest = [first[i] for i in ranked[self.finalists:]]
        return [*finals, *rest]

    def parent_screen(self, parent: str) -> OptionScreen:
        return self.measure("parent", parent, with_val=True)


def _shown_inputs(prompt: str) -> set[str]:
    """The inputs of the prompt's few-shot examples, on one line each."""
    return {shot.input for shot in split_instruction(prompt)[1]}


def _measured(answers: dict[str, bool]) -> Measured:
    return Measured(sum(answers.values()), len(answers))


def _stratified_sample(examples: Sequence[Example], size: int, seed: int) -> list[Example]:
    """A seeded sample of `size` examples (all when there are fewer), labels in their split's proportions."""
    if len(examples) <= size:
        return list(examples)
    rng = random.Random(f"screen-{seed}")
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    chosen: list[Example] = []
    for label in sorted(by_label):
        group = by_label[label]
        take = round(size * len(group) / len(examples))
        chosen.extend(rng.sample(group, min(take, len(group))))
    leftover = [e for e in examples if e not in chosen]
    chosen.extend(rng.sample(leftover, max(0, size - len(chosen))))
    order = {e.id: i for i, e in enumerate(examples)}
    return sorted(chosen[:size], key=lambda e: order[e.id])
