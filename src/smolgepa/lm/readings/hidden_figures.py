"""`--decode hidden-figures`: the `hidden` reading and the trace's evidence figures, combined by a
fitted read-out.

A monitor of agent traces has two sources: what the 135M read (its hidden states, through the
`hidden` reading's label probabilities) and what was counted (the evidence figures of
`traces.figures`: repeated calls, errors, words per call...). The figures alone are a strong
detector on generated traces (`smolgepa baseline --method evidence`); this reading asks whether the
model adds anything to them. Each text's row is the `hidden` reading's label probabilities (log,
clipped at `FLOOR`) beside its figures (log(1 + value), as the figures' own regression reads them),
standardized; a multinomial logistic regression (L2 `HIDDEN_FIGURES_L2`) maps the rows to the labels
(stacking, Wolpert 1992). As in `stack`, the read-out's training rows are out of fold (the hidden
probe's held-out fold weights, no extra forward pass), and the read-out is fitted in folds too, so a
training text is answered by weights that never saw its label. A query costs one hidden-state pass.

Where the figures come from. A reading sees the prompt's text, never the `Trace` it was rendered
from, so the figures are read back from the text (`traces.figure_lines`): the `summary` rendering
prints all nine, `annotated` eight (no count of distinct tools); `plain` prints none and is refused
in one line (`check_figures`, called by `reading.check_decode` and by this reading on its training
texts). A side channel from the task's examples to the engine was the other way: it would hand the
engine the `Trace` objects of train and of every query, which the engine never sees anywhere else
(`predict` on JSONL inputs, a `Reading:` line in an optimized program, `smolgepa.load(...)("text")`
all give text only), and a figure the student's prompt does not show would be read from somewhere the
prompt cannot say. Reading the text keeps the reading a function of the prompt, like every other.

Embedded student only (it needs hidden states).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.fit_memory import train_digest
from smolgepa.lm.readings.hidden import HiddenProbeMethod
from smolgepa.lm.readings.knn import AnchorMemory
from smolgepa.lm.readings.linear import StandardizedFit, fit_standardized
from smolgepa.lm.readings.scores import LabelScores, calibration_key, from_probabilities
from smolgepa.lm.readings.turns import input_text, read_turn, same_text

HIDDEN_FIGURES_L2 = 0.1  # stack's read-out strength: a dozen standardized features over ~100 rows
HIDDEN_FIGURES_FOLDS = 5
HIDDEN_FIGURES_STEPS = 500
FLOOR = 1e-3  # probabilities are clipped here before the log


def figure_row(text: str, where: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(the figures' keys, their log(1 + value)) as `text` carries them; SmolgepaError naming `where`
    when it carries none."""
    from smolgepa.traces.figure_lines import read_figures

    found = read_figures(text)
    if found is None:
        raise SmolgepaError(
            f"--decode hidden-figures reads the evidence figures from the rendered trace, but {where} carries "
            "none (the plain rendering prints no counts): use --render summary or --render annotated."
        )
    keys = tuple(found)
    return keys, np.log1p(np.array([max(0.0, found[key]) for key in keys]))


def check_figures(train: Sequence[tuple[str, str]]) -> None:
    """Raise SmolgepaError (one line) unless every training text carries the same evidence figures."""
    keys = {figure_row(text, f"training text {i + 1}")[0] for i, (text, _) in enumerate(train)}
    if len(keys) > 1:
        raise SmolgepaError("--decode hidden-figures: the training texts carry different evidence figures "
                            "(renderings mixed): render every trace the same way (--render summary or annotated).")


def query_text(messages: list[dict[str, str]]) -> str:
    """The last user message's input as written (lines kept: the figures are read line by line)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            turn = read_turn(str(message.get("content") or ""))
            return turn.value if turn.structured else turn.content
    return ""


@dataclass(frozen=True)
class FiguresReadout(StandardizedFit):
    """The fitted read-out over (hidden reading's answer, figures) rows, and the figures' keys it read."""

    keys: tuple[str, ...] = ()


class HiddenFiguresMethod:
    """Reads the answer with `hidden` and the evidence figures together (see the module docstring)."""

    def __init__(self, features: Callable[[list[dict[str, str]]], np.ndarray], labels: Sequence[str],
                 train: Sequence[tuple[str, str]], states: AnchorMemory | None = None) -> None:
        self.labels = tuple(labels)
        self.train = tuple(train)
        self.hidden = HiddenProbeMethod(features, labels, train, states)
        self.fits = self.hidden.memory.fits  # the read-out is kept beside the anchors
        self.part: tuple[Any, ...] = ("hidden-figures", self.labels, train_digest(self.train))

    def row(self, states: np.ndarray, text: str, figures: np.ndarray, messages: list[dict[str, str]]) -> np.ndarray:
        """The hidden reading's log-probabilities (out of fold for a training text) and the figures."""
        hidden = self.hidden.probe_for(messages).probabilities(np.asarray(states), text)
        return np.concatenate([np.log(np.clip(hidden, FLOOR, 1.0)), figures])

    def readout_for(self, messages: list[dict[str, str]]) -> tuple[FiguresReadout, dict[str, np.ndarray]]:
        """The read-out fitted under these messages' prompt, and every training text's row."""
        return self.fits.get((*self.part, calibration_key(messages, self.labels)), lambda: self._fit(messages))

    def _fit(self, messages: list[dict[str, str]]) -> tuple[FiguresReadout, dict[str, np.ndarray]]:
        check_figures(self.train)
        states = self.hidden.memory.anchors_for(messages)
        texts = [same_text(text) for text, _ in self.train]
        rows, keys = {}, ()
        for i, (text, _) in enumerate(self.train):
            keys, figures = figure_row(text, f"training text {i + 1}")
            rows[texts[i]] = self.row(states.row(i), texts[i], figures, messages)
        fitted = fit_standardized(np.stack([rows[t] for t in texts]), [y for _, y in self.train], texts,
                                  self.labels, HIDDEN_FIGURES_L2, HIDDEN_FIGURES_STEPS, HIDDEN_FIGURES_FOLDS)
        return FiguresReadout(fitted.mean, fitted.scale, fitted.fit, keys), rows

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        readout, rows = self.readout_for(messages)
        self.hidden.memory.anchors_for(messages)  # a training text is read from its anchor, as when fitting here
        text = same_text(input_text(messages))
        row = rows.get(text)
        if row is None:  # not a training text: read it
            keys, figures = figure_row(query_text(messages), "the input")
            if keys != readout.keys:
                raise SmolgepaError(f"--decode hidden-figures: the input carries the figures {', '.join(keys)}, the "
                                    "training texts others: render the input as the task renders its traces.")
            row = self.row(self.hidden.memory.distribution(messages), text, figures, messages)
        return from_probabilities(self.labels, readout.probabilities(row, text))
