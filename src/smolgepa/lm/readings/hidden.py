"""`--decode hidden`: a linear probe on the model's hidden states, fitted on the training split.

The `probe` reading reads the next-token distribution at the answer position; this one reads one
step earlier, the final-layer states the distribution is computed from (`hidden_states`): their
mean over the input's tokens and the state at the answer position. Under the current prompt
(instruction, demos), every training example's states are an anchor; the features are standardized
and a multinomial logistic regression (L2 `HIDDEN_L2`) maps them to the labels. The instruction
still matters: every state is computed after it.

What it adds over `probe`: the distribution keeps only what the model would say next, and a tiny model
asked about a long agent trace says little that separates the labels; the states keep what it read.
This is a trained classifier on the model's features, and the README reports it as such beside the
no-LM baselines. As with `probe`, a training example is answered by the weights fitted without its
fold. Embedded student only: no server returns hidden states.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from smolgepa.lm.readings.fit_memory import FitMemory
from smolgepa.lm.readings.linear import StandardizedFit, fit_standardized
from smolgepa.lm.readings.knn import AnchorMemory
from smolgepa.lm.readings.probe import ReadoutMethod
from smolgepa.lm.readings.turns import same_text

HIDDEN_L2 = 0.01
HIDDEN_FOLDS = 5
HIDDEN_STEPS = 500


@dataclass(frozen=True)
class StateRows:
    """The training examples' hidden-state features under one prompt (n x features)."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    rows: np.ndarray

    def row(self, index: int) -> np.ndarray:
        """Anchor `index`'s feature row."""
        return self.rows[index]


def state_rows(train: Sequence[tuple[str, str]], rows: Sequence[np.ndarray]) -> StateRows:
    """The anchors of `AnchorMemory` for this reading: the training pairs and their feature rows."""
    return StateRows(tuple(same_text(t) for t, _ in train), tuple(y for _, y in train), np.stack(rows))


def fit_state_probe(anchors: StateRows, labels: Sequence[str], l2: float = HIDDEN_L2,
                    folds: int = HIDDEN_FOLDS, steps: int = HIDDEN_STEPS) -> StandardizedFit:
    """Standardize the anchors' features and fit the folded logistic regression on them."""
    return fit_standardized(anchors.rows, list(anchors.labels), anchors.texts, labels, l2, steps, folds)


class HiddenProbeMethod(ReadoutMethod):
    """The label a linear read-out of the hidden states gives (see the module docstring);
    `features` maps messages to one feature row (`HiddenStates.features`)."""

    def __init__(self, features: Callable[[list[dict[str, str]]], np.ndarray], labels: Sequence[str],
                 train: Sequence[tuple[str, str]], memory: AnchorMemory | None = None) -> None:
        super().__init__(memory or state_memory(features, labels, train), labels, fit_state_probe)


def state_memory(features: Callable[[list[dict[str, str]]], np.ndarray], labels: Sequence[str],
                 train: Sequence[tuple[str, str]], fits: FitMemory | None = None) -> AnchorMemory:
    """The anchor memory of hidden-state features (`StateRows` per prompt), in `fits` when given."""
    return AnchorMemory(None, labels, train, read=features, build=state_rows, fits=fits, name="states")
