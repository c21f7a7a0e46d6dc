#!/usr/bin/env python3
"""Non-LM baselines on a trace task: the rule detector and two shallow classifiers.

    python benchmarks/trace_baselines.py                       # agent_monitor-extended, test split
    python benchmarks/trace_baselines.py --split val --json
    python benchmarks/trace_baselines.py --by-variant          # accuracy per generator variant

Methods:
- rules: smolgepa.traces.detect_state, the published stuck-detector rules (exact call identity);
- rules, near-identical: the same rules comparing calls and errors after removing cosmetic differences;
- length (turns) / length (characters): the best train intervals of one length feature;
- bag of words: logistic regression on word counts, fit on train, regularization picked on val;
- evidence figures: logistic regression on the counted evidence (traces.figures), fit on train,
  regularization picked by cross-validation on train;
- decision list: the counting rules the `rules` proposer writes (traces.rules), fit on train,
  applied mechanically.
Every accuracy comes with n and a 95% Wilson interval, and per-label recall. Nothing is fit or tuned on the reported split
unless it is train.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from smolgepa.evaluation.stats import wilson_interval  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.traces import detect_state  # noqa: E402
from smolgepa.traces.figures import BY_KEY, figures  # noqa: E402
from smolgepa.traces.rules import fit_rules  # noqa: E402
from smolgepa.traces.shallow import LengthClassifier, fit_bag_of_words, fit_figures_cv, full_text  # noqa: E402


def evaluate(task_name: str, split: str) -> dict[str, Any]:
    """Predictions and accuracy of every baseline on `split` of the task."""
    task = load_task(task_name)
    train, val, target = task.split("train"), task.split("val"), task.split(split)
    predictions: dict[str, list[str]] = {
        "rules": [detect_state(ex.raw)[0] for ex in target],
        "rules, near-identical": [detect_state(ex.raw, near_identical=True)[0] for ex in target],
    }
    models: dict[str, str] = {}
    for unit in ("turns", "characters"):
        model = LengthClassifier.fit([ex.raw for ex in train], [ex.label for ex in train], unit=unit)
        predictions[f"length ({unit})"] = [model.predict(ex.raw) for ex in target]
        models[f"length ({unit})"] = model.describe()
    bow = fit_bag_of_words([(full_text(ex.raw), ex.label) for ex in train], [(full_text(ex.raw), ex.label) for ex in val])
    predictions["bag of words"] = bow.predict_texts([full_text(ex.raw) for ex in target])
    models["bag of words"] = f"l2={bow.l2:g}, {len(bow.vocabulary)} words; top words: " + "; ".join(
        f"{label}: {', '.join(bow.top_words(label, 5))}" for label in bow.labels
    )
    evidence = fit_figures_cv([(ex.raw, ex.label) for ex in train])
    predictions["evidence figures"] = evidence.predict([ex.raw for ex in target])
    models["evidence figures"] = f"l2={evidence.l2:g}; top figures: " + "; ".join(
        f"{label}: {', '.join(evidence.top_figures(label, 3))}" for label in evidence.labels
    )
    rule_list = fit_rules([(figures(ex.raw), ex.label) for ex in train], list(task.labels))
    predictions["decision list"] = [rule_list.predict(figures(ex.raw)) for ex in target]
    models["decision list"] = "; ".join(
        f"{BY_KEY[r.figure].line} >= {r.threshold} -> {r.label}" for r in rule_list.rules
    ) + f"; otherwise {rule_list.default}"
    gold = [ex.label for ex in target]
    methods = {}
    for name, predicted in predictions.items():
        correct = sum(p == g for p, g in zip(predicted, gold))
        low, high = wilson_interval(correct, len(gold))
        confusion = Counter(f"{g}->{p}" for p, g in zip(predicted, gold) if p != g)
        recall = {}
        for label in task.labels:
            rows = [p == g for p, g in zip(predicted, gold) if g == label]
            recall[label] = {"n": len(rows), "recall": sum(rows) / len(rows) if rows else None}
        methods[name] = {
            "correct": correct, "n": len(gold), "accuracy": correct / max(1, len(gold)),
            "ci_low": low, "ci_high": high, "errors": dict(confusion.most_common()), "recall": recall,
        }
    return {
        "task": task.name, "split": split, "n": len(gold), "methods": methods, "models": models,
        "predictions": {name: dict(zip((ex.id for ex in target), p)) for name, p in predictions.items()},
        "gold": {ex.id: ex.label for ex in target},
    }


def variants(task_name: str) -> dict[str, str]:
    """Generator variant per example id, read from the task's JSONL (empty when absent)."""
    import yaml

    source = Path(load_task(task_name).source)
    data = source.parent / yaml.safe_load(source.read_text(encoding="utf-8"))["data"]
    result = {}
    if data.exists():
        for line in data.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "variant" in row:
                result[str(row["id"])] = f"{row['label']}/{row['variant']}"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="agent_monitor-extended")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--by-variant", action="store_true")
    options = parser.parse_args()
    report = evaluate(options.task, options.split)
    if options.json:
        report.pop("predictions")
        report.pop("gold")
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['task']}, {report['split']} split (n={report['n']})")
    print(f"| {'method':<24} | accuracy | n | 95% CI |")
    print("|---|---|---|---|")
    for name, m in report["methods"].items():
        print(f"| {name:<24} | {100 * m['accuracy']:.1f}% ({m['correct']}/{m['n']}) | {m['n']} | "
              f"{100 * m['ci_low']:.1f}-{100 * m['ci_high']:.1f}% |")
    labels = list(next(iter(report["methods"].values()))["recall"])
    print(f"\nper-label recall: | {'method':<24} | " + " | ".join(labels) + " |")
    for name, m in report["methods"].items():
        cells = [f"{100 * r['recall']:.0f}% (n={r['n']})" if r["recall"] is not None else "-" for r in m["recall"].values()]
        print(f"| {name:<24} | " + " | ".join(cells) + " |")
    print()
    for name, description in report["models"].items():
        print(f"{name}: {description}")
    for name, m in report["methods"].items():
        top = ", ".join(f"{k} {v}" for k, v in list(m["errors"].items())[:4])
        print(f"{name} errors: {top}")
    if options.by_variant:
        by_variant = variants(options.task)
        table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for name, predicted in report["predictions"].items():
            for example_id, label in predicted.items():
                cell = table[by_variant.get(example_id, "?")][name]
                cell[0] += label == report["gold"][example_id]
                cell[1] += 1
        names = list(report["predictions"])
        print("\nper variant (correct/n): " + " | ".join(names))
        for variant in sorted(table):
            print(f"{variant:<34} " + " | ".join(f"{table[variant][n][0]}/{table[variant][n][1]}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
