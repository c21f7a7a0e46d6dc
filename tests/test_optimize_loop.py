"""The optimization loop's bookkeeping, with the real embedded student and a scripted reflector.

The reflector is a real child process (`cmd:`) that answers from a fixed list: a good proposal, a
broken one, an over-long one, a <think>-wrapped one, a repeat, then it exits with an error and then
hangs past its timeout. Everything it did must be in the
run directory, and the exports must load with DSPy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dspy
import pytest

from smolgepa.optimize import OptimizeConfig, optimize, show
from smolgepa.optimize.rundir import read_jsonl
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task

SCRIPT = Path(__file__).parent / "scripts" / "reflector.py"
SENTINEL = "sk-sentinel-0123456789abcdef"
GOOD = (
    "Read the text and answer with one word: positive, negative or neutral.\n\n"
    "Input: This is terrible, it broke after one use.\nLabel: negative"
)
THINK_TEXT = "Say positive, negative or neutral for the text."
ANSWERS = [
    {"text": f"Looking at the failures, examples help.\n```\n{GOOD}\n```\n"},
    {"text": "Here is the improved instruction:\n```\nClassify the text. When the writer is"},
    {"text": "```\n" + "Consider every word of the text very carefully before answering. " * 60 + "\n```"},
    {"text": f"<think>The old one ```\nnot this one\n``` failed.</think>\n```\n{THINK_TEXT}\n```"},
    {"text": f"```\n{GOOD}\n```"},
    {"exit": 3},
    {"sleep": 120},
]
REFLECTION_TIMEOUT = 10.0
MAX_TOKENS = 120


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    base = tmp_path_factory.mktemp("loop")
    answers = base / "answers.json"
    answers.write_text(json.dumps(ANSWERS), encoding="utf-8")
    log = base / "prompts.jsonl"
    command = f"{sys.executable} {SCRIPT} script {answers} {base / 'state'} {log} --token {SENTINEL}"
    config = OptimizeConfig(
        task="sentiment",
        reflection=f"cmd:{command}",
        budget=200,
        max_proposals=len(ANSWERS),
        max_instruction_tokens=MAX_TOKENS,
        reflection_timeout=REFLECTION_TIMEOUT,
        eval_every_proposal=True,
        student_max_tokens=8,
        run_dir=str(base / "run"),
    )
    result = optimize(config)
    return base / "run", log, result


def iterations(run_dir: Path) -> list[dict]:
    return [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]


def test_every_proposal_is_recorded_with_its_fate(run: tuple) -> None:
    run_dir, _, result = run
    records = [r for r in iterations(run_dir) if r["status"] != "skipped"]
    assert len(records) == len(ANSWERS)
    first, broken, too_long, think, repeat, exited, hung = records
    assert first["text"] == GOOD and first["status"] in ("accepted", "rejected")
    assert first["tokens"] > 0 and first["reflection"]["raw"].startswith("Looking at the failures")
    assert broken["status"] == "failed" and "truncated" in broken["reason"] and broken["text"] is None
    assert too_long["status"] == "too_long" and too_long["tokens"] > MAX_TOKENS
    assert str(MAX_TOKENS) in too_long["reason"] and too_long["val"] is None
    assert think["text"] == THINK_TEXT and think["status"] in ("accepted", "rejected")
    assert repeat["status"] == "duplicate" and "iteration" in repeat["reason"]
    assert exited["status"] == "failed" and "status 3" in exited["reason"] and "scripted failure" in exited["reason"]
    assert hung["status"] == "failed" and "timed out" in hung["reason"] and hung["text"] is None
    assert result.summary["stop_reason"].startswith("maximum proposals")


def test_evaluated_proposals_have_minibatch_and_val_scores(run: tuple) -> None:
    run_dir, _, _ = run
    for record in iterations(run_dir):
        if record["status"] in ("accepted", "rejected"):
            assert len(record["before"]) == 3 and len(record["after"]) == 3
            assert len(record["minibatch_ids"]) == 3
            val = record["val"]  # --eval-every-proposal: rejected ones are evaluated too
            assert val["n"] == 6 and 0 <= val["ci95"][0] <= val["accuracy"] <= val["ci95"][1] <= 1
            assert sum(val["distribution"].values()) == 6
            assert len(record["val_examples"]) == 6
        if record["status"] in ("failed", "too_long", "duplicate"):
            assert record["after"] is None  # refused before any evaluation


def test_summary_tables_and_test_split(run: tuple) -> None:
    run_dir, _, result = run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema_version"] == 1 and summary["status"] == "finished"
    assert summary["counts"]["proposals"] == len(ANSWERS)
    extra = sum(r["val"]["n"] for r in summary["iterations"] if r["status"] == "rejected" and r.get("val"))
    assert summary["counts"]["extra_metric_calls"] == extra
    for which in ("seed", "best"):
        assert summary["test"][which]["n"] == 6
        assert "95% CI" in summary["test"][which]["text"]
    text = show(run_dir).tables()
    assert text == result.tables()
    assert "| Baseline" in text and "Iter 1" in text and "| test  |" in text
    assert "too_long" in text and "duplicate" in text


def test_reflection_prompts_follow_the_tiny_template(run: tuple) -> None:
    _, log, _ = run
    prompts = [json.loads(line)["prompt"] for line in log.read_text().splitlines()]
    assert len(prompts) == len(ANSWERS)
    first = prompts[0]
    assert "135 million parameters" in first and "prohibition" in first
    assert f"under {MAX_TOKENS} tokens" in first and "positive, negative, neutral" in first
    assert "Student output:" in first and "Feedback: " in first and "gold label is" in first


def test_exports_load_with_dspy(run: tuple) -> None:
    run_dir, _, result = run
    best = result.best_instruction
    assert (run_dir / "best_instruction.txt").read_text().strip() == best.strip()
    program = make_program(load_task("sentiment"), "placeholder")
    program.load(str(run_dir / "program.json"))
    assert program.signature.instructions == best
    plain = dspy.Predict("input -> label")
    plain.load(str(run_dir / "program.json"))
    assert plain.signature.instructions == best


def test_no_secret_reaches_the_run_directory(run: tuple) -> None:
    run_dir, _, _ = run
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL not in path.read_text(encoding="utf-8", errors="replace"), path


@pytest.fixture(autouse=True, scope="module")
def _sentinel_in_environment() -> object:
    import os

    os.environ["SMOLGEPA_TEST_API_KEY"] = SENTINEL
    yield
    os.environ.pop("SMOLGEPA_TEST_API_KEY", None)
