"""The final pick: which of GEPA's Pareto-front candidates the run returns.

GEPA keeps the candidate with the most validation answers right. With 120 validation examples two
readings 5 points apart swap places by chance, so the pick pools each front candidate's out-of-fold
answers on the whole training split with its validation answers, and takes the most right (a tie
keeps validation's choice). It then asks the paired test whether the pick reads better than the
runner-up; when it cannot say so, the run tables say the two are within noise of each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.optimize.evidence.paired_test import PairedVerdict
from smolgepa.optimize.evidence.screen import EvidenceJudge, Measured


@dataclass(frozen=True)
class PickRow:
    """One front candidate's evidence."""

    idx: int
    train: Measured
    val: Measured

    @property
    def pooled(self) -> Measured:
        return Measured(self.train.correct + self.val.correct, self.train.n + self.val.n)

    def to_json(self) -> dict[str, Any]:
        return {"idx": self.idx, "train": self.train.to_json(), "val": self.val.to_json(),
                "pooled": self.pooled.to_json()}


@dataclass(frozen=True)
class FinalPick:
    """The candidate picked, every front candidate's evidence, and the pick against the runner-up."""

    chosen: int
    rows: tuple[PickRow, ...]
    runner_up: int | None = None
    verdict: PairedVerdict | None = None

    @property
    def within_noise(self) -> bool:
        return self.runner_up is not None and not (self.verdict and self.verdict.accepted)

    def to_json(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "rows": [r.to_json() for r in self.rows], "runner_up": self.runner_up,
                "verdict": self.verdict.to_json() if self.verdict else None, "within_noise": self.within_noise}


def pick_final(judge: EvidenceJudge, candidates: Sequence[tuple[int, str]], val_best: int) -> FinalPick:
    """Among (index, instruction) candidates, the one with most pooled answers right (training split
    out of fold, then validation); `val_best` wins ties."""
    texts = dict(candidates)
    rows = [PickRow(idx, _measured(judge.answers(text, "train_full")), _measured(judge.answers(text, "val")))
            for idx, text in candidates]
    ranked = sorted(rows, key=lambda r: (-r.pooled.correct, r.idx != val_best, r.idx))
    chosen = ranked[0]
    if len(ranked) < 2:
        return FinalPick(chosen.idx, tuple(rows))
    runner = ranked[1]
    verdict = judge.paired(texts[runner.idx], texts[chosen.idx], ("train_full", "val"))
    return FinalPick(chosen.idx, tuple(rows), runner.idx, verdict)


def _measured(answers: dict[str, bool]) -> Measured:
    return Measured(sum(answers.values()), len(answers))
