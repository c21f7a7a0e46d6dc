"""The report's plots as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no display).

Every function takes data already read from a run directory and returns the PNG file's bytes;
`data_uri` turns them into a `data:image/png;base64,...` URI for a self-contained HTML page.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from smolgepa.evaluation.evaluate import NO_LABEL, Prediction
from smolgepa.report.rundata import RunData, confusion, distribution
from smolgepa.runrecord import Evaluation
from smolgepa.evaluation.stats import wilson_interval

DPI = 100
COLORS = {"seed": "#444444", "accepted": "#2e7d32", "rejected": "#c62828", "refused": "#9e9e9e",
          "best": "#1565c0", "gold": "#bdbdbd"}


def data_uri(png: bytes) -> str:
    """`data:image/png;base64,...` for an <img src>."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _percent_axis(axes: Any) -> None:
    axes.set_ylim(-0.04, 1.04)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axes.set_yticklabels(["0%", "25%", "50%", "75%", "100%"])
    axes.grid(axis="y", alpha=0.3)


def _interval(val: Evaluation) -> tuple[float, float]:
    low, high = wilson_interval(val.correct, val.n)
    return val.accuracy - low, high - val.accuracy


def val_per_iteration(run: RunData) -> bytes:
    """Validation accuracy of the seed and each proposal, accepted and rejected marked, best so far as a step line."""
    figure = Figure(figsize=(7.0, 3.4), layout="constrained")
    axes = figure.add_subplot()
    seed_val = run.seed.val if run.seed else None
    best_so_far: list[tuple[int, float]] = []
    if seed_val:
        axes.errorbar([0], [seed_val.accuracy], yerr=[[v] for v in _interval(seed_val)], fmt="s",
                      color=COLORS["seed"], capsize=3, label="seed instruction")
        best_so_far.append((0, seed_val.accuracy))
    shown: set[str] = set()

    def point(x: int, y: float, kind: str, label: str, **style: Any) -> None:
        axes.plot([x], [y], linestyle="none", label=None if label in shown else label, **style)
        shown.add(label)

    for record in run.iterations:
        x, status, val = record.iteration, record.status, record.val
        if val:
            lo, hi = _interval(val)
            color = COLORS["accepted"] if status == "accepted" else COLORS["rejected"]
            axes.errorbar([x], [val.accuracy], yerr=[[lo], [hi]], fmt="none", ecolor=color, alpha=0.35, capsize=2)
            if status == "accepted":
                point(x, val.accuracy, status, "accepted (val)", marker="o", color=color, markersize=7)
            else:
                point(x, val.accuracy, status, "rejected (val)", marker="X", color=color, markersize=8)
            if record.new_best:
                best_so_far.append((x, val.accuracy))
        elif status == "rejected" and record.after:
            after = record.after
            point(x, sum(after) / len(after), status, "rejected (minibatch score, no val)", marker="x",
                  color=COLORS["rejected"], markersize=7, alpha=0.6)
        elif status not in (None, "skipped", "accepted", "rejected"):
            point(x, 0.0, "refused", "refused before evaluation", marker="v", color=COLORS["refused"], markersize=7)
    last = max([r.iteration for r in run.iterations] + [0])
    if best_so_far:
        xs = [x for x, _ in best_so_far] + [last]
        ys = [y for _, y in best_so_far] + [best_so_far[-1][1]]
        axes.step(xs, ys, where="post", color=COLORS["best"], alpha=0.6, linewidth=1.5, label="best so far")
    axes.set_xlim(-0.5, last + 0.5)
    axes.set_xticks(range(0, last + 1, max(1, (last + 1) // 12)))
    axes.set_xlabel("iteration (0 = seed)")
    axes.set_ylabel("validation accuracy")
    _percent_axis(axes)
    n = seed_val.n if seed_val else "?"
    axes.set_title(f"Validation accuracy per iteration (n={n}, bars: 95% CI)", fontsize=10)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _png(figure)


def length_vs_accuracy(run: RunData) -> bytes:
    """Instruction length in student tokens against validation accuracy, one point per evaluated instruction."""
    figure = Figure(figsize=(5.6, 3.4), layout="constrained")
    axes = figure.add_subplot()
    shown: set[str] = set()
    for e in run.evaluated():
        if e.tokens is None:
            continue
        kind = "seed" if e.iteration == 0 else ("accepted" if e.status == "accepted" else "rejected")
        label = {"seed": "seed", "accepted": "accepted", "rejected": "rejected"}[kind]
        axes.plot([e.tokens], [e.val.accuracy], linestyle="none", marker={"seed": "s", "accepted": "o"}.get(kind, "X"),
                  color=COLORS[kind], markersize=7, label=None if label in shown else label)
        shown.add(label)
        axes.annotate(str(e.iteration), (e.tokens, e.val.accuracy), textcoords="offset points", xytext=(5, 4),
                      fontsize=7, color="#555555")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("instruction length (student tokens)")
    axes.set_ylabel("validation accuracy")
    _percent_axis(axes)
    axes.set_title("Instruction length vs accuracy (labels: iteration)", fontsize=10)
    if shown:
        axes.legend(fontsize=7, frameon=False)
    return _png(figure)


def confusion_pair(labels: Sequence[str], seed: Sequence[Prediction], best: Sequence[Prediction], split: str,
                   best_name: str) -> bytes:
    """Confusion matrices (rows gold, columns predicted) of the seed and the best instruction, side by side."""
    labels = list(labels)
    columns = [*labels, NO_LABEL]
    figure = Figure(figsize=(3.0 + 1.3 * len(columns), 1.4 + 0.55 * len(labels)), layout="constrained")
    panels = [("seed instruction", seed), (f"best ({best_name})", best)]
    for i, (title, outcomes) in enumerate(panels):
        axes = figure.add_subplot(1, 2, i + 1)
        matrix = confusion(tuple(outcomes), labels)
        peak = max([max(row) for row in matrix] + [1])
        axes.imshow(matrix, cmap="Blues", vmin=0, vmax=peak, aspect="auto")
        for r, row in enumerate(matrix):
            for c, count in enumerate(row):
                axes.text(c, r, str(count), ha="center", va="center", fontsize=8,
                          color="white" if count > peak * 0.6 else "black")
        axes.set_xticks(range(len(columns)))
        axes.set_xticklabels(columns, rotation=35, ha="right", fontsize=7)
        axes.set_yticks(range(len(labels)))
        axes.set_yticklabels(labels if i == 0 else [""] * len(labels), fontsize=7)
        correct = sum(o.correct for o in outcomes)
        axes.set_title(f"{title}: {correct}/{len(outcomes)}", fontsize=9)
        axes.set_xlabel("predicted", fontsize=8)
        if i == 0:
            axes.set_ylabel("gold", fontsize=8)
    figure.suptitle(f"Confusion on {split} (n={len(seed)})", fontsize=10)
    return _png(figure)


def label_distribution(labels: Sequence[str], seed: Sequence[Prediction], best: Sequence[Prediction], split: str) -> bytes:
    """How often each label occurs (gold) and is predicted by the seed and the best instruction."""
    labels = list(labels)
    columns = [*labels, NO_LABEL]
    series = [("gold", distribution(tuple(seed), labels, gold=True), COLORS["gold"]),
              ("seed predicted", distribution(tuple(seed), labels), COLORS["seed"]),
              ("best predicted", distribution(tuple(best), labels), COLORS["best"])]
    figure = Figure(figsize=(max(5.0, 1.2 * len(columns) + 2), 3.2), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for k, (name, counts, color) in enumerate(series):
        xs = [i + (k - 1) * width for i in range(len(columns))]
        axes.bar(xs, counts, width=width, color=color, label=name)
    axes.set_xticks(range(len(columns)))
    axes.set_xticklabels(columns, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("answers")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Predicted-label distribution on {split} (n={len(seed)})", fontsize=10)
    axes.legend(fontsize=7, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def study_overview(groups: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> bytes:
    """Per grid cell: validation accuracy of the seed and the best instruction for each seed, and their means."""
    figure = Figure(figsize=(max(5.0, 1.6 * len(groups) + 2), 3.6), layout="constrained")
    axes = figure.add_subplot()
    for i, (name, before, after) in enumerate(groups):
        for b, a in zip(before, after):
            axes.plot([i - 0.15, i + 0.15], [b, a], color="#90a4ae", linewidth=1, alpha=0.8)
        axes.plot([i - 0.15] * len(before), before, "s", color=COLORS["seed"], markersize=5,
                  label="seed instruction" if i == 0 else None)
        axes.plot([i + 0.15] * len(after), after, "o", color=COLORS["best"], markersize=5,
                  label="best instruction" if i == 0 else None)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([name for name, _, _ in groups], rotation=15, ha="right", fontsize=8)
    axes.set_xlim(-0.6, len(groups) - 0.4)
    axes.set_ylabel("validation accuracy")
    _percent_axis(axes)
    axes.set_title("Seed vs best instruction per cell (one line per seed)", fontsize=10)
    axes.legend(fontsize=7, frameon=False)
    return _png(figure)
