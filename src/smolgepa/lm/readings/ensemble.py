"""`--decode ensemble`: one demonstration per forward pass (the "ensemble" of Min et al. 2022).

Long concatenated demos confuse a small model (order and recency effects); here every demonstration
gets its own one-shot prompt (system message, that demo's two turns, the query), each label is scored
as in `scored`, the label log-probs of each run are normalised over the label set, and their mean
decides. The demos are the prompt's own (the instruction's Examples block, DSPy demos); a prompt with
none uses `k` training examples, balanced over the labels and chosen by `seed` (an example whose
text is the query's own is passed over, so scoring the training split does not read its own label).

Cost: the one-shot prompts are evaluated together in one llama_decode call, each in its own KV
sequence kept between calls (`LabelScorer.score_many`), so a query costs its own tokens once per
demonstration; the demonstrations are evaluated once per instruction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.scores import LabelScores, argmax, softmax
from smolgepa.lm.readings.protocol import score_each
from smolgepa.lm.readings.turns import Turn, make_turn, read_prompt, same_text


def normalised(logprobs: dict[str, float]) -> dict[str, float]:
    """Label log-probs renormalised over the label set (log-softmax)."""
    values = np.array(list(logprobs.values()), dtype=np.float64)
    top = values.max()
    total = top + np.log(np.exp(values - top).sum())
    return {label: float(value - total) for label, value in logprobs.items()}


def balanced_shots(
    train: Sequence[tuple[str, str]], labels: Sequence[str], k: int, seed: int, skip_text: str = ""
) -> list[tuple[str, str]]:
    """`k` training examples taken round-robin over `labels` (each label's examples shuffled by
    `seed`), leaving out any whose text is `skip_text`."""
    pools = {}
    for label in labels:
        pool = [pair for pair in train if pair[1] == label and same_text(pair[0]) != skip_text]
        random.Random(f"{seed}:{label}").shuffle(pool)
        pools[label] = pool
    chosen: list[tuple[str, str]] = []
    depth = 0
    while len(chosen) < k and any(depth < len(pool) for pool in pools.values()):
        for label in labels:
            if depth < len(pools[label]) and len(chosen) < k:
                chosen.append(pools[label][depth])
        depth += 1
    return chosen


class EnsembleMethod:
    """Mean normalised label log-probs over one-shot prompts (see the module docstring)."""

    def __init__(self, scorer: Any, labels: Sequence[str], train: Sequence[tuple[str, str]], k: int, seed: int) -> None:
        self.scorer = scorer
        self.labels = tuple(labels)
        self.train = tuple(train)
        self.k = k
        self.seed = seed

    def shots(self, messages: list[dict[str, str]]) -> list[tuple[Turn, str]]:
        """The demonstrations to run one by one: the prompt's own, else balanced training examples."""
        prompt = read_prompt(messages, "ensemble")
        if prompt.demos:
            return list(prompt.demos)
        own = same_text(prompt.query.value if prompt.query.structured else prompt.query.content)
        picked = balanced_shots(self.train, self.labels, self.k, self.seed, own)
        if not picked:
            raise SmolgepaError(
                "--decode ensemble needs demonstrations: an instruction with an Examples block, or the task's "
                "training examples (StudentOptions(train_examples=...)); this prompt has neither."
            )
        return [(make_turn(prompt.query, text), label) for text, label in picked]

    def one_shot_scores(self, messages: list[dict[str, str]]) -> list[dict[str, float]]:
        """The normalised label log-probs of each one-shot prompt, in demo order."""
        prompt = read_prompt(messages, "ensemble")
        batch = [prompt.with_demos([shot]) for shot in self.shots(messages)]
        return [normalised(scores) for scores in score_each(self.scorer, batch, self.labels)]

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        runs = self.one_shot_scores(messages)
        mean = {label: sum(run[label] for run in runs) / len(runs) for label in self.labels}
        return LabelScores(argmax(mean), mean, softmax(mean))
