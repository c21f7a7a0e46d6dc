"""Label noise for measuring an audit: seeded flips of a split's labels, and how many flips a ranking finds."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from smolgepa.tasks.model import Task


def flip_labels(task: Task, rate: float, seed: int, split: str = "train") -> tuple[Task, dict[str, str]]:
    """The task with round(rate * n) of `split`'s labels replaced by another label chosen at random
    (seeded), and the flipped ids with their true labels."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a flip rate is between 0 and 1, got {rate}")
    rng = random.Random(seed)
    members = [e for e in task.examples if e.split == split]
    chosen = {e.id for e in rng.sample(members, round(rate * len(members)))}
    true: dict[str, str] = {}
    examples = []
    for example in task.examples:
        if example.id in chosen:
            true[example.id] = example.label
            example = replace(example, label=rng.choice([y for y in task.labels if y != example.label]))
        examples.append(example)
    return task.with_examples(examples), true


@dataclass(frozen=True)
class Found:
    """How many of the flipped labels a ranking's first `k` hold."""

    k: int
    flips: int
    hits: int

    @property
    def recall(self) -> float:
        return self.hits / self.flips if self.flips else 0.0

    @property
    def precision(self) -> float:
        return self.hits / self.k if self.k else 0.0


def found_in_top(ranking: Sequence[str], flipped: Collection[str], factor: float = 1.5) -> Found:
    """Flips among the first k = round(factor x flips) ids of `ranking` (most suspect first)."""
    k = round(factor * len(flipped))
    hits = len(set(ranking[:k]) & set(flipped))
    return Found(k, len(flipped), hits)
