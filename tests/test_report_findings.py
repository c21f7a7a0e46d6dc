"""Findings, tables and study aggregation over run directories written with the optimize package's
own writers (`RunDir`, `JsonlAppender`, `report_summary`, `IterationRecord`), filled with predictions
whose pattern is known: a positivity collapse, an echoed prohibition, one good round then worse ones.
No model runs here; `test_report.py` covers a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolgepa.evaluation.evaluate import Prediction, report_from_predictions
from smolgepa.optimize import OptimizeConfig
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.journal import IterationRecord, report_examples, report_summary
from smolgepa.optimize.rundir import JsonlAppender, RunDir
from smolgepa.report import build_report, render_html, render_markdown
from smolgepa.report.findings import example_count, run_findings
from smolgepa.report.layout import CellEntry, Manifest, read_study_output, write_manifest
from smolgepa.report.rundata import confusion, distribution, load_run
from smolgepa.evaluation.stats import format_accuracy, mean_and_spread
from smolgepa.tasks import load_task

TASK = load_task("sentiment")
VAL = TASK.split("val")
TEST = TASK.split("test")
SEED = ("Classify the sentiment of the text. DO NOT echo the input.\n"
        "Labels:\n- positive: The writer is pleased.\n- negative: The writer is unhappy.\n- neutral: No opinion.")
EXAMPLES = "\n\nExamples:\nInput: It broke after a day.\nAnswer: negative\n\nInput: The box is blue.\nAnswer: neutral"


def predictions(examples, answers: list[str | None], raw: str | None = None) -> list[Prediction]:
    return [Prediction(e.id, e.input, e.label, a, raw if raw is not None else (a or "I cannot tell")) for e, a in
            zip(examples, answers)]


def correct_except(examples, wrong: int, as_label: str = "positive") -> list[str]:
    """Gold labels, with the first `wrong` non-`as_label` examples answered `as_label`."""
    answers, left = [], wrong
    for e in examples:
        if left and e.label != as_label:
            answers.append(as_label)
            left -= 1
        else:
            answers.append(e.label)
    return answers


def write_run(path: Path, rounds: list[tuple[str, list[Prediction] | None, str, bool]], *, seed_preds: list[Prediction],
              seed_instruction: str = SEED, status: str = "finished", seed: int = 0, with_test: bool = True) -> Path:
    """A run directory as `optimize` writes it: config.json, events.jsonl and summary.json."""
    run_dir = RunDir(path)
    run_dir.prepare(resume=False)
    config = OptimizeConfig(task="sentiment", eval_every_proposal=True, seed=seed, run_dir=str(path))
    run_dir.write_config(config.to_json(), {"task_fingerprint": "synthetic"})
    events = JsonlAppender(run_dir.events_file, run_dir.redact)
    seed_report = report_from_predictions(TASK, seed_preds, seed_instruction, split="val")
    seed_candidate = {"idx": 0, "parent": None, "iteration": 0, "instruction": seed_instruction,
                      "instruction_sha": instruction_hash(seed_instruction),
                      "tokens": len(seed_instruction.split()), "val": report_summary(seed_report)}
    events.append({"event": "seed_evaluated", "candidate": seed_candidate, "val_examples": report_examples(seed_report)})
    candidates, best, records = [seed_candidate], seed_candidate, []
    for number, (text, preds, fate, new_best) in enumerate(rounds, start=1):
        record = IterationRecord(iteration=number, parent=best["idx"], status=fate, text=text,
                                 tokens=len(text.split()), proposer="fewshot", before=[0.0, 1.0, 0.0],
                                 after=[1.0, 1.0, 0.0] if fate == "accepted" else [0.0, 0.0, 0.0],
                                 reason="over the cap" if fate == "too_long" else "")
        if preds is not None:
            report = report_from_predictions(TASK, preds, text, split="val")
            record.val, record.val_examples = report_summary(report), report_examples(report)
            if fate == "accepted":
                record.candidate_idx = len(candidates)
                candidate = {"idx": len(candidates), "parent": best["idx"], "iteration": number, "instruction": text,
                             "instruction_sha": instruction_hash(text), "tokens": record.tokens, "val": record.val}
                candidates.append(candidate)
                if new_best:
                    record.new_best, best = True, candidate
        events.append({"event": "iteration", **record.to_json()})
        records.append(record)
    test = {}
    if with_test:
        for which, instruction in (("seed", seed_instruction), ("best", best["instruction"])):
            answers = correct_except(TEST, 3 if which == "seed" else 1)
            report = report_from_predictions(TASK, predictions(TEST, answers), instruction, split="test")
            test[which] = report_summary(report)
            events.append({"event": "test_evaluated", "which": which, "candidate": best["idx"] if which == "best" else 0,
                           "result": test[which], "examples": report_examples(report)})
    summary = {
        "status": status, "stop_reason": "maximum proposals reached", "seed": seed_candidate, "best": best,
        "iterations": [r.to_json(with_examples=False) for r in records], "candidates": candidates,
        "pareto_front": [best["idx"]],
        "counts": {"metric_calls": 40, "gepa_metric_calls": 30, "extra_metric_calls": 10, "budget": 40,
                   "proposals": len(records), "iterations": len(records)},
        "capacity": {"capacity_problem": False, "text": "usable", "evidence": []},
        "config": config.to_json(),
        "task": {"name": "sentiment", "labels": list(TASK.labels), "n": {"train": 10, "val": 6, "test": 6}},
        "proposer": "fewshot",
        **({"test": test} if test else {}),
    }
    run_dir.write_summary(summary)
    return path


def study_like_run(path: Path, seed: int = 0, status: str = "finished", best_wrong: int = 1) -> Path:
    """One good round, then rounds that make things worse; one proposal refused as too long."""
    collapsed = predictions(VAL, ["positive"] * len(VAL), raw="DO NOT echo the input. positive")
    return write_run(path, [
        (SEED + EXAMPLES, predictions(VAL, correct_except(VAL, best_wrong)), "accepted", True),
        (SEED + EXAMPLES + "\nBe careful.", predictions(VAL, correct_except(VAL, 3)), "rejected", False),
        (SEED + EXAMPLES + "\nAlways think.", predictions(VAL, correct_except(VAL, 4)), "rejected", False),
        ("A very long instruction " * 40, None, "too_long", False),
    ], seed_preds=collapsed, seed=seed, status=status)


@pytest.fixture
def run_path(tmp_path: Path) -> Path:
    return study_like_run(tmp_path / "run")


def test_findings_name_the_study_patterns(run_path: Path) -> None:
    findings = {f.key: f.text for f in run_findings(load_run(run_path))}
    assert "'positive' bias fixed by examples" in findings["bias_fixed_by_examples"]
    assert "with 2 labelled examples added" in findings["bias_fixed_by_examples"]
    assert "DO NOT echo the input" in findings["prohibition_echoed"]
    assert f"{len(VAL)} of {len(VAL)} answers repeat it" in findings["prohibition_echoed"]
    assert "No proposal after round 1 improved" in findings["no_later_improvement"]
    assert "the 3 proposals after it" in findings["no_later_improvement"]
    assert "iteration 2 50.0%, iteration 3 33.3%" in findings["later_worse"]
    assert "1 over the instruction token cap" in findings["refused"]
    assert "unfinished" not in findings and "capacity" not in findings


def test_no_improvement_and_unfinished_runs_say_so(tmp_path: Path) -> None:
    seed_preds = predictions(VAL, correct_except(VAL, 2))
    path = write_run(tmp_path / "run", [
        (SEED + EXAMPLES, predictions(VAL, correct_except(VAL, 3)), "rejected", False),
    ], seed_preds=seed_preds, status="interrupted", with_test=False)
    findings = {f.key: f.text for f in run_findings(load_run(path))}
    assert "No proposal improved on the seed instruction (1 proposal: 1 rejected)" in findings["no_improvement"]
    assert "--resume" in findings["unfinished"]
    markdown = render_markdown(build_report(path))
    assert "(not evaluated yet)" in markdown


def test_example_count_reads_common_shapes() -> None:
    labels = ["positive", "negative", "neutral"]
    assert example_count(SEED, labels) == 0
    assert example_count(SEED + EXAMPLES, labels) == 2
    assert example_count("'great' -> positive\n'bad' => negative\nLabel: neutral", labels) == 3


def test_confusion_and_distribution_agree_with_evaluation(run_path: Path) -> None:
    run = load_run(run_path)
    for which in ("seed", "best"):
        outcomes = run.predictions(which, "val")
        assert len(outcomes) == len(VAL)
        report = report_from_predictions(
            TASK, [Prediction(o.id, o.input, o.label, o.predicted, o.raw) for o in outcomes], "", split="val")
        expected = [list(row.values()) for row in report.confusion().values()]
        assert confusion(outcomes, run.labels) == expected
        assert distribution(outcomes, run.labels) == list(report.predicted_distribution().values())


def test_tables_and_diff_hold_the_recorded_numbers(run_path: Path) -> None:
    summary = json.loads((run_path / "summary.json").read_text())
    markdown = render_markdown(build_report(run_path))
    html = render_html(build_report(run_path))
    for record in summary["iterations"]:
        if record.get("val"):
            text = format_accuracy(record["val"]["correct"], record["val"]["n"])
            assert text in markdown and text in html
    for which in ("seed", "best"):
        text = format_accuracy(summary["test"][which]["correct"], summary["test"][which]["n"])
        assert text in markdown and text in html
    assert "+Answer: negative" in markdown
    assert '<span class="add">+Answer: negative</span>' in html
    assert markdown.count("(too_long)") == 0, "refused proposals stay out of the study-style table"
    assert "too_long" in markdown, "but are listed in the per-iteration table"


def test_study_report_aggregates_seeds(tmp_path: Path) -> None:
    study = tmp_path / "study"
    entries = []
    for seed in (0, 1):
        name = f"sentiment__embedded__seed{seed}"
        study_like_run(study / "cells" / name, seed=seed, best_wrong=1 + seed)
        entries.append(CellEntry(name, f"cells/{name}", {"task": "sentiment", "student": "embedded", "seed": seed}))
    entries.append(CellEntry("sentiment__embedded__seed2", "cells/sentiment__embedded__seed2",
                             {"task": "sentiment", "student": "embedded", "seed": 2}, "server unreachable"))
    write_manifest(study, Manifest("demo", "demo.yaml", tuple(entries), ("task", "student", "seed")))
    data = read_study_output(study)
    assert [r.problem for r in data.runs] == [None, None, "server unreachable"]
    markdown = render_markdown(build_report(study))
    summaries = [json.loads((study / e.dir / "summary.json").read_text()) for e in entries[:2]]
    before, spread = mean_and_spread([100 * s["seed"]["val"]["accuracy"] for s in summaries])
    after, after_spread = mean_and_spread([100 * s["best"]["val"]["accuracy"] for s in summaries])
    assert after_spread > 0
    row = next(line for line in markdown.splitlines() if line.startswith("| sentiment | embedded | 2 "))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3:5] == [f"{before:.1f}% ± {spread:.1f}", f"{after:.1f}% ± {after_spread:.1f}"]
    assert "seed 2: server unreachable" in markdown
    assert "prohibition echoed in 2 of 2 runs" in markdown
    assert "## sentiment × embedded, seed 0" in markdown and "## sentiment × embedded, seed 1" in markdown
