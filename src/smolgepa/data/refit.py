"""The `hidden` audit's probabilities, refitted without the suspects (the default of `data audit`).

The `hidden` reading answers a training text from the fold fitted without it and a val text from the fit
on train. For an audit that leaves two things on the table, both measured (docs/measurements/data-audit.md):
- val is labelled too, so train and val are **pooled**: every audited example is answered out of fold by
  a fit on the others (5 folds over train + val);
- the fit learns from the flipped labels it is looking for, so it is **refitted** `REFIT_ROUNDS` times:
  the `REFIT_DROP` most suspect examples (lowest probability of their given label) are left out of the
  fit, and every example is answered again (the ones left out by the fit on all the kept ones, the kept
  ones out of fold).
Same features, standardization, L2 and steps as the reading (`lm.readings.hidden`); no test data is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from smolgepa.lm.readings.hidden import HIDDEN_FOLDS, HIDDEN_L2, HIDDEN_STEPS
from smolgepa.lm.readings.linear import fit_standardized

REFIT_ROUNDS = 2
REFIT_DROP = 0.1  # of the audited examples, left out of the fit each round


def pooled_probabilities(x: np.ndarray, labels: Sequence[str], names: Sequence[str], keep: np.ndarray,
                         l2: float = HIDDEN_L2, steps: int = HIDDEN_STEPS, folds: int = HIDDEN_FOLDS) -> np.ndarray:
    """One row of probabilities per example: the kept rows out of fold (folds over the kept rows in order),
    the others from the fit on all kept rows. The features are standardized over the kept rows."""
    kept = np.flatnonzero(keep)
    keys = [str(i) for i in range(len(x))]  # FoldedFit answers a row by its key: out of fold when it was fitted
    fitted = fit_standardized(x[kept], [labels[i] for i in kept], [keys[i] for i in kept], names, l2, steps, folds)
    return np.stack([fitted.probabilities(x[i], keys[i]) for i in range(len(x))])


def refitted_probabilities(x: np.ndarray, labels: Sequence[str], names: Sequence[str], rounds: int = REFIT_ROUNDS,
                           drop: float = REFIT_DROP, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Pooled out-of-fold probabilities, refitted `rounds` times without the round(drop x n) most suspect."""
    given = np.array([list(names).index(label) for label in labels])
    keep = np.ones(len(labels), dtype=bool)
    probs = pooled_probabilities(x, labels, names, keep)
    for number in range(1, rounds + 1):
        if progress is not None:
            progress(number, rounds)
        suspects = np.argsort(probs[np.arange(len(given)), given], kind="stable")[: round(drop * len(labels))]
        keep = np.ones(len(labels), dtype=bool)
        keep[suspects] = False
        probs = pooled_probabilities(x, labels, names, keep)
    return probs


def prompt_messages(signature: object, text: str) -> list[dict[str, str]]:
    """The chat messages the student's reading receives for `text` under a program's signature."""
    from smolgepa.adapter.plain_text import PlainTextAdapter
    from smolgepa.candidate.header import take_header

    return take_header(PlainTextAdapter().format(signature, [], {"input": text}))[1]


def hidden_rows(features: Callable[[list[dict[str, str]]], np.ndarray], signature: object, texts: Sequence[str],
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The hidden-state features (`EmbeddedEngine.hidden_features`) of each text, one forward pass each."""
    rows = []
    for number, text in enumerate(texts, start=1):
        rows.append(features(prompt_messages(signature, text)))
        if progress is not None:
            progress(number, len(texts))
    return np.stack(rows)
