"""Shallow baselines that a trace dataset must not be solvable by: length alone, and bag of words.

If one of these gets near-perfect accuracy, the labels are given away by a surface feature and the
dataset says nothing about a monitor's understanding. All are fit on train only.

- `LengthClassifier`: one number per trace (turns, or characters of the full plain rendering), cut
  into at most four intervals with one label each, the cuts chosen for the best train accuracy
  (exact dynamic programming).
- `BagOfWordsClassifier`: multinomial logistic regression on log(1 + count) of the words of the full
  plain rendering (no token budget), L2-regularized, fit by gradient descent in numpy; the
  regularization strength is picked on the validation split.
- `FiguresClassifier`: the same regression over the counted evidence figures (`traces.figures`) instead
  of words: what a monitor could learn from the counts alone, the ceiling for the `summary` rendering.
  `fit_figures_cv` picks its regularization by cross-validation on train, touching no other split.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.lm.readings.linear import softmax_regression
from smolgepa.traces.trace_model import Trace
from smolgepa.traces.render import render_trace

LENGTH_UNITS = ("turns", "characters")
_WORDS = re.compile(r"[a-z_]{2,}")
_UNBOUNDED = 10**9


def full_text(trace: Trace) -> str:
    """The plain rendering without a token budget (nothing clipped or omitted)."""
    return render_trace(trace, mode="plain", max_tokens=_UNBOUNDED)


def trace_length(trace: Trace, unit: str = "turns") -> int:
    """The length of a trace in turns or in characters of its full plain rendering."""
    if unit == "turns":
        return len(trace.turns)
    if unit == "characters":
        return len(full_text(trace))
    raise ValueError(f"unit must be one of {LENGTH_UNITS}, got {unit!r}")


@dataclass(frozen=True)
class LengthClassifier:
    """Intervals of one length feature, each with a label: value < cuts[0] -> labels[0], and so on."""

    unit: str
    cuts: tuple[float, ...]
    labels: tuple[str, ...]

    @classmethod
    def fit(
        cls, traces: Sequence[Trace], labels: Sequence[str], unit: str = "turns", max_intervals: int = 4
    ) -> LengthClassifier:
        """The intervals with the best train accuracy (ties: fewer intervals, then label order)."""
        values = [trace_length(trace, unit) for trace in traces]
        return cls._fit_values(values, list(labels), unit, max_intervals)

    @classmethod
    def _fit_values(cls, values: list[float], labels: list[str], unit: str, max_intervals: int) -> LengthClassifier:
        names = sorted(set(labels))
        groups = sorted(set(values))
        counts = [Counter() for _ in groups]
        index = {value: i for i, value in enumerate(groups)}
        for value, label in zip(values, labels):
            counts[index[value]][label] += 1
        n = len(groups)
        # prefix[i][label] = count of label among groups[:i]
        prefix = [{name: 0 for name in names}]
        for counter in counts:
            prefix.append({name: prefix[-1][name] + counter[name] for name in names})

        def best_label(start: int, end: int) -> tuple[int, str]:
            tallies = [(prefix[end][name] - prefix[start][name], name) for name in names]
            return max(tallies, key=lambda item: (item[0], -names.index(item[1])))

        # score[k][i]: best correct count for groups[:i] in k intervals; back[k][i]: start of the last interval
        score = [[-1] * (n + 1) for _ in range(max_intervals + 1)]
        back = [[0] * (n + 1) for _ in range(max_intervals + 1)]
        score[0][0] = 0
        for k in range(1, max_intervals + 1):
            for i in range(1, n + 1):
                for j in range(k - 1, i):
                    if score[k - 1][j] < 0:
                        continue
                    candidate = score[k - 1][j] + best_label(j, i)[0]
                    if candidate > score[k][i]:
                        score[k][i], back[k][i] = candidate, j
        best_k = max(range(1, max_intervals + 1), key=lambda k: (score[k][n], -k))
        bounds, i = [], n
        for k in range(best_k, 0, -1):
            bounds.append((back[k][i], i))
            i = back[k][i]
        bounds.reverse()
        cuts = tuple((groups[start - 1] + groups[start]) / 2 for start, _ in bounds[1:])
        return cls(unit=unit, cuts=cuts, labels=tuple(best_label(start, end)[1] for start, end in bounds))

    def predict(self, trace: Trace) -> str:
        value = trace_length(trace, self.unit)
        position = sum(value >= cut for cut in self.cuts)
        return self.labels[position]

    def describe(self) -> str:
        parts = []
        bounds = [-math.inf, *self.cuts, math.inf]
        for label, low, high in zip(self.labels, bounds, bounds[1:]):
            parts.append(f"[{low:g}, {high:g}) -> {label}")
        return f"{self.unit}: " + "; ".join(parts)


def words(text: str) -> list[str]:
    """Lower-case words of two or more letters (underscores kept, so tool names stay whole)."""
    return _WORDS.findall(text.lower())


@dataclass(frozen=True)
class BagOfWordsClassifier:
    """Multinomial logistic regression over log(1 + word count)."""

    vocabulary: tuple[str, ...]
    labels: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]  # one row per vocabulary word plus a bias row
    scale: tuple[float, ...]
    l2: float

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        l2: float = 1e-2,
        min_docs: int = 2,
        steps: int = 400,
    ) -> BagOfWordsClassifier:
        import numpy as np

        document_counts = Counter(word for text in texts for word in set(words(text)))
        vocabulary = tuple(sorted(word for word, count in document_counts.items() if count >= min_docs))
        names = tuple(sorted(set(labels)))
        features = _features(texts, vocabulary)
        scale = features.max(axis=0)
        scale[scale == 0] = 1.0
        x = np.hstack([features / scale, np.ones((len(texts), 1))])
        w = softmax_regression(x, labels, names, l2, steps)
        return cls(
            vocabulary=vocabulary,
            labels=names,
            weights=tuple(tuple(float(v) for v in row) for row in w),
            scale=tuple(float(v) for v in scale),
            l2=l2,
        )

    def predict_texts(self, texts: Sequence[str]) -> list[str]:
        import numpy as np

        features = _features(texts, self.vocabulary) / np.array(self.scale)
        x = np.hstack([features, np.ones((len(texts), 1))])
        scores = x @ np.array(self.weights)
        return [self.labels[int(i)] for i in scores.argmax(axis=1)]

    def top_words(self, label: str, count: int = 8) -> list[str]:
        """The words weighing most towards `label`."""
        column = self.labels.index(label)
        ranked = sorted(range(len(self.vocabulary)), key=lambda i: -self.weights[i][column])
        return [self.vocabulary[i] for i in ranked[:count]]


def _features(texts: Sequence[str], vocabulary: Sequence[str]):  # -> numpy array
    import numpy as np

    position = {word: i for i, word in enumerate(vocabulary)}
    matrix = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        for word, count in Counter(words(text)).items():
            if word in position:
                matrix[row, position[word]] = math.log1p(count)
    return matrix


def best_on_validation(fit: Callable[[float], Any], predict: Callable[[Any, list[Any]], list[str]],
                       val: Sequence[tuple[Any, str]], l2_grid: Sequence[float]) -> Any:
    """The model `fit(l2)` that is most accurate on the (input, label) pairs of `val` over `l2_grid`
    (first wins ties)."""
    best: tuple[float, Any] | None = None
    for l2 in l2_grid:
        model = fit(l2)
        predictions = predict(model, [x for x, _ in val]) if val else []
        accuracy = sum(p == y for p, (_, y) in zip(predictions, val)) / max(1, len(val))
        if best is None or accuracy > best[0]:
            best = (accuracy, model)
    assert best is not None
    return best[1]


def fit_bag_of_words(
    train: Sequence[tuple[str, str]], val: Sequence[tuple[str, str]], l2_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0)
) -> BagOfWordsClassifier:
    """Fit on train (text, label) pairs for each L2 strength and keep the best on val (first wins ties)."""
    return best_on_validation(
        lambda l2: BagOfWordsClassifier.fit([t for t, _ in train], [y for _, y in train], l2=l2),
        lambda model, texts: model.predict_texts(texts), val, l2_grid,
    )


@dataclass(frozen=True)
class FiguresClassifier:
    """Multinomial logistic regression over the evidence figures (`traces.figures`), no words at all:
    each figure as log(1 + value), standardized with the train mean and spread."""

    keys: tuple[str, ...]
    labels: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]  # one row per figure plus a bias row
    mean: tuple[float, ...]
    spread: tuple[float, ...]
    l2: float

    @classmethod
    def fit(cls, traces: Sequence[Trace], labels: Sequence[str], l2: float = 1e-2,
            steps: int = 2000) -> FiguresClassifier:
        import numpy as np

        from smolgepa.traces.figures import FIGURE_KEYS

        raw = _figure_matrix(traces, FIGURE_KEYS)
        mean, spread = raw.mean(axis=0), raw.std(axis=0)
        spread[spread == 0] = 1.0
        x = np.hstack([(raw - mean) / spread, np.ones((len(traces), 1))])
        names = tuple(sorted(set(labels)))
        w = softmax_regression(x, labels, names, l2, steps)
        return cls(
            keys=FIGURE_KEYS,
            labels=names,
            weights=tuple(tuple(float(v) for v in row) for row in w),
            mean=tuple(float(v) for v in mean),
            spread=tuple(float(v) for v in spread),
            l2=l2,
        )

    def predict(self, traces: Sequence[Trace]) -> list[str]:
        import numpy as np

        raw = _figure_matrix(traces, self.keys)
        x = np.hstack([(raw - np.array(self.mean)) / np.array(self.spread), np.ones((len(traces), 1))])
        scores = x @ np.array(self.weights)
        return [self.labels[int(i)] for i in scores.argmax(axis=1)]

    def top_figures(self, label: str, count: int = 3) -> list[str]:
        """The figures weighing most towards `label` (largest positive weights first)."""
        column = self.labels.index(label)
        ranked = sorted(range(len(self.keys)), key=lambda i: -self.weights[i][column])
        return [self.keys[i] for i in ranked[:count]]


def _figure_matrix(traces: Sequence[Trace], keys: Sequence[str]):  # -> numpy array
    import numpy as np

    from smolgepa.traces.figures import figures

    rows = [figures(trace) for trace in traces]
    return np.log1p(np.array([[max(0.0, float(row[key])) for key in keys] for row in rows]))


def fit_figures_cv(train: Sequence[tuple[Trace, str]], l2_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
                   folds: int = 5) -> FiguresClassifier:
    """Fit on train with the L2 strength picked by `folds`-fold cross-validation on train itself
    (fold i holds every `folds`-th example from i; first wins ties): no other split is touched."""
    best: tuple[int, float] | None = None
    for l2 in l2_grid:
        correct = 0
        for fold in range(min(folds, len(train))):
            held = train[fold::folds]
            rest = [item for i, item in enumerate(train) if i % folds != fold]
            if not rest or len({y for _, y in rest}) < 2:
                continue
            model = FiguresClassifier.fit([t for t, _ in rest], [y for _, y in rest], l2=l2)
            correct += sum(p == y for p, (_, y) in zip(model.predict([t for t, _ in held]), held))
        if best is None or correct > best[0]:
            best = (correct, l2)
    assert best is not None
    return FiguresClassifier.fit([t for t, _ in train], [y for _, y in train], l2=best[1])
