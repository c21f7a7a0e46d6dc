"""Using what was optimized: `smolgepa.load` and `smolgepa predict` on real runs of the embedded student."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import smolgepa
from smolgepa.errors import SmolgepaError
from smolgepa.runrecord import read_summary
from smolgepa.tasks import load_task

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
LABELS = {"positive", "negative", "neutral"}


def run_cli(*args: str, stdin: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory: pytest.TempPathFactory, embedded_spec: str) -> Path:
    """A finished run on `sentiment` whose candidate is read with `--decode scored`."""
    run_dir = tmp_path_factory.mktemp("predict") / "run"
    result = run_cli("optimize", "--task", "sentiment", "--student", embedded_spec, "--decode", "scored",
                     "--budget", "12", "--max-proposals", "1", "--run-dir", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    return run_dir


def test_load_answers_with_the_runs_best_candidate_and_its_scores(scored_run: Path) -> None:
    clf = smolgepa.load(scored_run)
    assert clf.instruction == read_summary(scored_run).best.instruction
    assert clf.optimized.settings.decode == "scored"
    answer = clf.predict("I absolutely love this, it works perfectly.")
    assert answer.label in LABELS and answer.raw
    assert set(answer.scores) == LABELS and sum(answer.scores.values()) == pytest.approx(1, abs=1e-4)
    assert answer.label == max(answer.scores, key=answer.scores.get)  # the scores are the ones that chose it
    assert clf("I absolutely love this, it works perfectly.") == answer.label
    texts = ["Terrible, it broke at once.", "The box is blue.", "I absolutely love this, it works perfectly."]
    batch = clf.batch(texts, threads=2)
    assert [a.label for a in batch] == [clf(text) for text in texts]  # in order, as answered one by one
    assert batch[2].scores == answer.scores
    clf.close()


def test_program_json_reads_the_candidate_and_takes_the_runs_settings_or_a_task(scored_run: Path, tmp_path: Path,
                                                                                embedded_spec: str) -> None:
    inside = smolgepa.load(scored_run / "program.json")
    assert inside.instruction == smolgepa.load(scored_run).instruction
    assert inside.optimized.settings.decode == "scored"
    alone = tmp_path / "program.json"
    alone.write_text((scored_run / "program.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SmolgepaError, match="pass the task"):
        smolgepa.load(alone)
    free = smolgepa.load(alone, task="sentiment", student=embedded_spec)
    assert free.instruction == inside.instruction and free.task.name == "sentiment"
    answer = free.predict("Terrible, it broke at once.")
    assert answer.scores is None and answer.raw  # free decoding has no label scores
    with pytest.raises(SmolgepaError, match="Unknown student settings: temperature"):
        smolgepa.load(scored_run, temperature=1.0)
    with pytest.raises(SmolgepaError, match="not a smolgepa run directory"):
        smolgepa.load(tmp_path)


def test_predict_streams_one_line_per_input_and_skips_bad_lines(scored_run: Path) -> None:
    lines = [
        '{"id": 7, "text": "I absolutely love this, it works perfectly."}',
        "{not json",
        '{"id": "b", "body": "no text field"}',
        "",
        '"Terrible, it broke at once."',
        '{"text": "   "}',
    ]
    result = run_cli("predict", str(scored_run), "-", "--quiet", stdin="\n".join(lines) + "\n")
    assert result.returncode == 2
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in outputs] == [7, "line2", "b", "line5", "line6"]  # the blank line has no output
    good = [outputs[0], outputs[3]]
    for output in good:
        assert set(output) == {"id", "label", "scores", "raw"} and output["label"] in LABELS
    assert outputs[1] == {"id": "line2", "line": 2, "error": outputs[1]["error"]}
    assert outputs[1]["error"].startswith("line 2: malformed JSON")
    assert outputs[2]["error"] == "line 3: no input field: give 'text'."
    assert outputs[4]["error"] == "line 6: empty text."
    errors = result.stderr.strip().splitlines()
    assert errors[:3] == [f"smolgepa: skipped {outputs[i]['error']}" for i in (1, 2, 4)]  # shown even with --quiet
    assert errors[-1] == ("smolgepa: error: 3 of 5 input lines could not be answered (their output lines hold "
                          "the error); fix them and run those again.")
    clf = smolgepa.load(scored_run)
    again = clf.predict("I absolutely love this, it works perfectly.")  # the same line through the library
    assert outputs[0]["label"] == again.label  # the CLI is the library
    assert list(outputs[0]["scores"]) == list(again.scores) == clf.labels  # the task's order in both


def test_predict_flags_replace_the_runs_settings(scored_run: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Terrible, it broke at once."}\n', encoding="utf-8")
    result = run_cli("predict", str(scored_run), str(inputs), "--decode", "free", "--no-cache")
    assert result.returncode == 0, result.stderr
    (output,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(output) == {"id", "label", "raw"}  # free decoding: no scores
    assert "predict: 1/1 (100%)" in result.stderr  # not a terminal: a plain progress line


@pytest.mark.slow
def test_predict_monitors_traces_in_every_accepted_shape(tmp_path: Path, embedded_spec: str) -> None:
    task = load_task("agent_monitor")
    run_dir = tmp_path / "monitor"
    made = run_cli("optimize", "--task", "agent_monitor", "--render", "summary", "--student", embedded_spec,
                   "--decode", "scored", "--budget", "8", "--max-proposals", "1", "--run-dir", str(run_dir), "--quiet")
    assert made.returncode == 0, made.stderr
    trace = task.examples[0].raw.to_dict()
    lines = [json.dumps({"id": "wrapped", "trace": trace}), json.dumps({"id": "bare", **trace}),
             json.dumps({"id": "broken", "trace": {"task": "x", "turns": [{"role": "robot"}]}})]
    result = run_cli("predict", str(run_dir), "--quiet", stdin="\n".join(lines) + "\n")
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in outputs] == ["wrapped", "bare", "broken"]
    assert outputs[0]["label"] in task.labels and outputs[0]["label"] == outputs[1]["label"]
    assert outputs[0]["scores"] == outputs[1]["scores"]
    assert outputs[2]["error"].startswith("line 3: turn 1 (turns[0]): 'role' must be")
    assert result.returncode == 2
