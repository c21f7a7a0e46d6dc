"""`--decode stack`: the `hidden`, `probe` and `knn` readings combined by a fitted read-out of their answers.

No single reading is best everywhere: on real sentiment posts `hidden` led, on validation `probe`
did, and on traces `knn` sometimes did. This reading asks all three, each on its own anchors under
the current prompt, and feeds their label probabilities (log, clipped) to a multinomial logistic
regression (stacking, Wolpert 1992) fitted on the training split. The read-out's training rows are
the three readings' out-of-fold answers for every training text, taken from the anchors already
computed (no extra forward pass): the probes' held-out fold weights, and kNN's vote without the
text's own anchor. The read-out itself is fitted in folds too, so a training text is answered by
weights that never saw its label, as the other fitted readings do. A query costs one answer
distribution and one hidden-state pass.

Embedded student only (it needs hidden states and the whole distribution).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from smolgepa.lm.readings.fit_memory import train_digest
from smolgepa.lm.readings.hidden import HiddenProbeMethod
from smolgepa.lm.readings.knn import AnchorMemory, KnnMethod, distances, vote
from smolgepa.lm.readings.linear import StandardizedFit, fit_standardized
from smolgepa.lm.readings.probe import ReadoutMethod, fit_probe
from smolgepa.lm.readings.scores import LabelScores, calibration_key, content_free_messages, from_probabilities
from smolgepa.lm.readings.turns import input_text, same_text

STACK_L2 = 0.1
STACK_FOLDS = 5
STACK_STEPS = 500
FLOOR = 1e-3  # probabilities are clipped here before the log: kNN's votes are often exactly 0


class StackMethod:
    """Reads the answer with `hidden`, `probe` and `knn` and combines them (see the module docstring)."""

    def __init__(self, scorer: Any, features: Callable[[list[dict[str, str]]], np.ndarray],
                 labels: Sequence[str], train: Sequence[tuple[str, str]], knn_k: int,
                 distributions: AnchorMemory | None = None, states: AnchorMemory | None = None) -> None:
        self.labels = tuple(labels)
        self.train = tuple(train)
        self.knn = KnnMethod(scorer, labels, train, knn_k, distributions)
        self.probe = ReadoutMethod(self.knn.memory, labels, fit_probe)  # the same distribution anchors
        self.hidden = HiddenProbeMethod(features, labels, train, states)
        self.fits = self.knn.memory.fits  # the read-outs are kept beside the anchors
        self.part: tuple[Any, ...] = ("stack", knn_k, self.labels, train_digest(self.train))

    def base_row(self, distribution: Any, states: np.ndarray, text: str, messages: list[dict[str, str]]) -> np.ndarray:
        """The three readings' log-probabilities for one text (out of fold when it is a training text)."""
        anchors = self.knn.anchors_for(messages)
        found = distances(anchors, distribution)
        chosen = [int(i) for i in np.argsort(found, kind="stable") if anchors.texts[int(i)] != text][: self.knn.k]
        _, counts = vote(self.labels, [anchors.labels[i] for i in chosen], [found[i] for i in chosen])
        total = sum(counts.values()) or 1
        knn = np.array([counts[name] / total for name in self.labels])
        probe = self.probe.probe_for(messages).probabilities(np.asarray(distribution), text)
        hidden = self.hidden.probe_for(messages).probabilities(np.asarray(states), text)
        return np.log(np.clip(np.concatenate([hidden, probe, knn]), FLOOR, 1.0))

    def readout_for(self, messages: list[dict[str, str]]) -> tuple[StandardizedFit, dict[str, np.ndarray]]:
        """The read-out fitted under these messages' prompt, and every training text's base row."""
        return self.fits.get((*self.part, calibration_key(messages, self.labels)), lambda: self._fit(messages))

    def _fit(self, messages: list[dict[str, str]]) -> tuple[StandardizedFit, dict[str, np.ndarray]]:
        distributions = self.knn.anchors_for(messages)
        states = self.hidden.memory.anchors_for(messages)
        texts = [same_text(text) for text, _ in self.train]
        rows = {}
        for i, text in enumerate(texts):
            query = content_free_messages(messages, self.train[i][0])
            rows[text] = self.base_row(distributions.row(i), states.row(i), text, query)
        readout = fit_standardized(np.stack([rows[t] for t in texts]), [y for _, y in self.train], texts,
                                   self.labels, STACK_L2, STACK_STEPS, STACK_FOLDS)
        return readout, rows

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        readout, rows = self.readout_for(messages)
        self.knn.anchors_for(messages)  # a training text is read from its anchors, as when fitting here
        self.hidden.memory.anchors_for(messages)
        text = same_text(input_text(messages))
        row = rows.get(text)
        if row is None:  # not a training text: read it
            row = self.base_row(self.knn.memory.distribution(messages), self.hidden.memory.distribution(messages),
                                text, messages)
        return from_probabilities(self.labels, readout.probabilities(row, text))
