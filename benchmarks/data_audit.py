"""Label audit under injected noise (issue 33): flip 10% and 20% of `sentiment-extended`'s train labels
(seeded), audit train + val, and train the `hidden` reading on clean, noisy and audited-then-cleaned train.
The audit's sources: `hidden-refit` (`data audit`'s default: train + val pooled, refitted without the
suspects, `data/refit.py`), `hidden` (the reading's own out-of-fold answers, `--refit 0`) and `tfidf`.

    python benchmarks/data_audit.py                        # rates 0.1 and 0.2, seeds 0-4
    python benchmarks/data_audit.py --seeds 1 --features /tmp/hidden.npz   # keep the hidden states

The embedded 135M's hidden states depend on the text and the instruction, not on the labels, so they are
computed once per text (the seed instruction) and every condition refits the `hidden` reading's own
classes (`HiddenProbeMethod`) on its labels. The clean row must match `eval --decode hidden --split test`.
Lines, for programs to read:

    AUDIT task=<t> noise=<rate> source=<hidden-refit|hidden|tfidf> ranking=<confident|self-confidence> k=<k> flips=<f> found=<mean> recall=<mean> precision=<mean> flagged=<mean> seeds=<s>
    ACCURACY task=<t> method=hidden-<condition> gepa=no lm=yes split=test acc=<mean> n=<n> ci=<lo>-<hi> min_recall=<mean> seeds=<s>

With several seeds, `acc`, `recall` and `precision` are means over the seeds, and `ci` spans the seeds'
95% Wilson intervals (the seeds answer the same test examples), as in benchmarks/accuracy.py. Nothing is
tuned on the test split: the audit reads train and val only, the test split is read once per condition.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from smolgepa.adapter.program import make_program  # noqa: E402
from smolgepa.data.audit import Audit, audit_labels  # noqa: E402
from smolgepa.data.confident import find_issues, label_indices, ranked, self_confidence_order  # noqa: E402
from smolgepa.data.fold_probs import LabelProbabilities, audited_examples, from_rows, tfidf_probabilities  # noqa: E402
from smolgepa.data.noise import found_in_top, flip_labels  # noqa: E402
from smolgepa.data.refit import hidden_rows, prompt_messages, refitted_probabilities  # noqa: E402
from smolgepa.evaluation.stats import wilson_interval  # noqa: E402
from smolgepa.lm import StudentOptions  # noqa: E402
from smolgepa.lm.options import train_pairs  # noqa: E402
from smolgepa.lm.readings.hidden import HiddenProbeMethod  # noqa: E402
from smolgepa.lm.student import Student  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.tasks.model import Task  # noqa: E402

Messages = list[dict[str, str]]


class SharedStates:
    """The embedded student's hidden-state features, one forward pass per distinct prompt (optionally
    kept in an .npz file between runs)."""

    def __init__(self, task: Task, path: Path | None) -> None:
        student = Student("embedded", StudentOptions(decode="hidden", labels=tuple(task.labels),
                                                     train_examples=train_pairs(task)))
        self.engine = student.engine()
        self.path = path
        self.rows: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as saved:
                self.rows = {key: saved[key] for key in saved.files}
        self.signature = make_program(task).signature

    def messages(self, text: str) -> Messages:
        """What the engine's reading receives for `text` under the seed instruction."""
        return prompt_messages(self.signature, text)

    def __call__(self, messages: Messages) -> np.ndarray:
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode("utf-8")).hexdigest()
        if key not in self.rows:
            self.rows[key] = self.engine.hidden_features(messages)  # the engine's own feature function
        return self.rows[key]

    def save(self) -> None:
        if self.path is not None:
            np.savez(self.path, **self.rows)


def hidden_scores(states: SharedStates, task: Task, train: Sequence[tuple[str, str]], texts: Sequence[str]) -> list[dict[str, float]]:
    """The `hidden` reading fitted on `train`, answering each text (a training text out of fold)."""
    method = HiddenProbeMethod(states, tuple(task.labels), tuple(train))
    return [method.score(states.messages(text)).probs for text in texts]


def hidden_probabilities(states: SharedStates, task: Task) -> LabelProbabilities:
    examples = audited_examples(task)
    scores = hidden_scores(states, task, train_pairs(task), [e.input for e in examples])
    return from_rows("hidden", task, examples, [[s[y] for y in task.labels] for s in scores])


def refit_probabilities(states: SharedStates, task: Task) -> LabelProbabilities:
    """`data audit`'s default: train + val pooled, refitted without the suspects (`data/refit.py`)."""
    examples = audited_examples(task)
    rows = hidden_rows(states, states.signature, [e.input for e in examples])
    return from_rows("hidden-refit", task, examples,
                     refitted_probabilities(rows, [e.label for e in examples], list(task.labels)))


def test_accuracy(states: SharedStates, task: Task, train: Sequence[tuple[str, str]]) -> tuple[int, int, float]:
    """Correct answers on the test split, its size, and the lowest per-label recall."""
    test = task.split("test")
    scores = hidden_scores(states, task, train, [e.input for e in test])
    predicted = [max(task.labels, key=lambda y: s[y]) for s in scores]
    recalls = []
    for label in task.labels:
        rows = [p == e.label for p, e in zip(predicted, test) if e.label == label]
        recalls.append(sum(rows) / len(rows) if rows else 0.0)
    return sum(p == e.label for p, e in zip(predicted, test)), len(test), min(recalls)


def rankings(probabilities: LabelProbabilities) -> dict[str, list[str]]:
    """Every audited id, most suspect first: confident learning, and self-confidence alone."""
    given = label_indices(probabilities.labels, probabilities.names)
    issues = find_issues(probabilities.probs, given)
    ids = probabilities.ids
    return {"confident": [ids[i] for i in ranked(issues, probabilities.probs, given)],
            "self-confidence": [ids[i] for i in self_confidence_order(probabilities.probs, given)],
            "flagged": [ids[i] for i in issues.order]}


def cleaned_train(task: Task, audit: Audit, how: str) -> list[tuple[str, str]]:
    """The train split after the audit: suspects relabelled with the suggested label, or dropped."""
    fix = audit.corrections()
    pairs = []
    for example in task.split("train"):
        if example.id not in fix:
            pairs.append((example.input, example.label))
        elif how == "relabel":
            pairs.append((example.input, fix[example.id]))
    return pairs


def accuracy_line(task: str, method: str, runs: Sequence[tuple[int, int, float]]) -> str:
    n = runs[0][1]
    intervals = [wilson_interval(c, n) for c, n, _ in runs]
    acc = sum(c for c, _, _ in runs) / (n * len(runs))
    return (f"ACCURACY task={task} method=hidden-{method} gepa=no lm=yes split=test acc={acc:.3f} n={n} "
            f"ci={min(lo for lo, _ in intervals):.3f}-{max(hi for _, hi in intervals):.3f} "
            f"min_recall={sum(r for _, _, r in runs) / len(runs):.3f} seeds={len(runs)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sentiment-extended")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--features", type=Path, help="an .npz file keeping the hidden states between runs")
    parser.add_argument("--detail", type=Path, help="write every seed's figures here (JSON)")
    args = parser.parse_args(argv)
    started = time.time()
    task = load_task(args.task)
    states = SharedStates(task, args.features)
    clean_probabilities = hidden_probabilities(states, task)
    print(f"# {cpu_description()}; clean audit: {len(audit_labels(task.name, clean_probabilities).suspects)} "
          f"suspects among {len(clean_probabilities.ids)}", flush=True)
    detail: dict[str, list[dict[str, object]]] = {}
    clean = test_accuracy(states, task, train_pairs(task))
    print(accuracy_line(task.name, "clean", [clean]), flush=True)
    for rate in args.rates:
        rows: list[dict[str, object]] = []
        for seed in range(args.seeds):
            noisy, flipped = flip_labels(task, rate, seed)
            row: dict[str, object] = {"seed": seed, "flips": len(flipped)}
            sources = {"hidden-refit": refit_probabilities(states, noisy), "hidden": hidden_probabilities(states, noisy),
                       "tfidf": tfidf_probabilities(noisy)}
            for source, probabilities in sources.items():
                ranks = rankings(probabilities)
                for name in ("confident", "self-confidence"):
                    found = found_in_top(ranks[name], flipped)
                    row[f"{source}/{name}"] = {"k": found.k, "found": found.hits}
                row[f"{source}/flagged"] = {"n": len(ranks["flagged"]),
                                            "flips": len(set(ranks["flagged"]) & set(flipped))}
            audit = audit_labels(noisy.name, sources["hidden-refit"])
            row["noisy"] = test_accuracy(states, noisy, train_pairs(noisy))
            for how in ("relabel", "drop"):
                row[how] = test_accuracy(states, noisy, cleaned_train(noisy, audit, how))
            single = audit_labels(noisy.name, sources["hidden"])  # the suspects of --refit 0
            row["drop-single"] = test_accuracy(states, noisy, cleaned_train(noisy, single, "drop"))
            rows.append(row)
            print(f"# rate {rate} seed {seed}: {json.dumps(row)}", flush=True)
            states.save()
        detail[str(rate)] = rows
        if not rows:  # --seeds 0: the clean figures (and the kept states) only
            continue
        flips = rows[0]["flips"]
        for source in sources:
            for name in ("confident", "self-confidence"):
                cells = [r[f"{source}/{name}"] for r in rows]
                k = cells[0]["k"]
                found = sum(c["found"] for c in cells) / len(cells)
                flagged = sum(r[f"{source}/flagged"]["n"] for r in rows) / len(rows)
                print(f"AUDIT task={task.name} noise={rate:g} source={source} ranking={name} k={k} flips={flips} "
                      f"found={found:.1f} recall={found / flips:.3f} precision={found / k:.3f} "
                      f"flagged={flagged:.1f} seeds={len(rows)}")
        for condition, label in (("noisy", f"noisy{round(rate * 100)}"), ("relabel", f"relabelled{round(rate * 100)}"),
                                 ("drop", f"dropped{round(rate * 100)}"),
                                 ("drop-single", f"dropped-refit0-{round(rate * 100)}")):
            print(accuracy_line(task.name, label, [r[condition] for r in rows]), flush=True)
    states.save()
    if args.detail:
        args.detail.write_text(json.dumps({"clean": clean, "rates": detail}, indent=1))
    print(f"# {time.time() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
