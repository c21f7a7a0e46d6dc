"""`smolgepa eval` as a user runs it: the real embedded model, JSON output, clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sentiment_val() -> dict:
    result = run_cli("eval", "--task", "sentiment", "--split", "val", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_eval_json_has_every_figure(sentiment_val: dict) -> None:
    keys = {"task", "student", "split", "n", "accuracy", "ci95", "per_label", "confusion",
            "predicted_distribution", "unparsed", "examples"}
    assert keys <= set(sentiment_val)
    assert sentiment_val["n"] == 6 and sentiment_val["task"] == "sentiment"
    low, high = sentiment_val["ci95"]
    assert 0 <= low <= sentiment_val["accuracy"] <= high <= 1
    assert sum(sum(row.values()) for row in sentiment_val["confusion"].values()) == 6
    assert sum(sentiment_val["predicted_distribution"].values()) == 6
    for example in sentiment_val["examples"]:
        assert {"id", "input", "label", "predicted", "raw"} <= set(example)
        assert example["raw"].strip(), "the embedded model produced no text at all"
    unparsed = sum(example["predicted"] is None for example in sentiment_val["examples"])
    assert unparsed == sentiment_val["unparsed"]


def test_eval_text_output_shows_interval_and_confusion() -> None:
    result = run_cli("eval", "--task", "sentiment", "--split", "test")
    assert result.returncode == 0, result.stderr
    assert "95% CI" in result.stdout and "confusion" in result.stdout and "raw output" in result.stdout


def test_user_task_file_evaluates_like_builtin(tmp_path: Path) -> None:
    (tmp_path / "mood.yaml").write_text(
        "name: mood\ndescription: Is the speaker happy or sad?\ninput: sentence\n"
        "labels:\n  happy: The speaker is glad.\n  sad: The speaker is unhappy.\ndata: mood.jsonl\n"
    )
    rows = [("I am so glad today", "happy"), ("This is the worst day", "sad"),
            ("What a wonderful gift", "happy"), ("I miss my old dog", "sad")]
    (tmp_path / "mood.jsonl").write_text(
        "".join(json.dumps({"id": i, "sentence": t, "label": l, "split": "val"}) + "\n" for i, (t, l) in enumerate(rows))
    )
    result = run_cli("eval", "--task", str(tmp_path / "mood.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["task"] == "mood" and data["n"] == 4
    assert set(data["per_label"]) == {"happy", "sad"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--student", "nonsense"], "Available: embedded, gguf:PATH"),
        (["--student", "gguf:/nonexistent/model.gguf"], "Model file not found: /nonexistent/model.gguf"),
        (["--task", "no-such-task"], "Unknown task 'no-such-task'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], expected: str) -> None:
    base = {"--task": "sentiment"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    result = run_cli("eval", *flat)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_task_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nlabels: [a, b\ndata: x.jsonl\n")
    result = run_cli("eval", "--task", str(bad))
    assert result.returncode == 2
    assert f"{bad}:" in result.stderr and "malformed YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_json_carries_the_label_scores_that_chose_each_answer() -> None:
    result = run_cli("eval", "--task", "sentiment", "--split", "val", "--json", "--decode", "scored", "--no-cache")
    assert result.returncode == 0, result.stderr
    for example in json.loads(result.stdout)["examples"]:
        scores = example["scores"]
        assert set(scores) == {"positive", "negative", "neutral"}
        assert abs(sum(scores.values()) - 1.0) < 1e-3
        assert example["predicted"] == max(scores, key=scores.__getitem__)


@pytest.mark.slow
def test_free_answers_carry_no_label_scores() -> None:
    result = run_cli("eval", "--task", "sentiment", "--split", "val", "--json", "--decode", "free", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert all(example["scores"] is None for example in json.loads(result.stdout)["examples"])
