"""Unit tests of the optimize package's pure parts: config, run-dir files, gate, fewshot moves,
feedback text and tables (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolgepa.evaluation.diagnostics import diagnose
from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import Prediction
from smolgepa.optimize.config import OptimizeConfig, check_resume_compatible
from smolgepa.optimize.feedback import feedback_text, make_metric
from smolgepa.optimize.fewshot import FewshotProposer, Shot, render_instruction, split_instruction
from smolgepa.optimize.journal import Journal
from smolgepa.optimize.offline_proposer import ProposalGate
from smolgepa.optimize.rundir import JsonlAppender, Redactor, RunDir, read_jsonl
from smolgepa.optimize.tables import render_run
from smolgepa.tasks import load_task

TASK = load_task("sentiment")


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget": 0}, "budget must be a whole number"),
        ({"max_proposals": -1}, "max_proposals"),
        ({"reflection_template": "huge"}, "Available: tiny, gepa"),
        ({"resume": True}, "--resume needs --run-dir"),
        ({"reflection_timeout": 0}, "reflection_timeout"),
        ({"reflection": "  "}, "--reflection is empty"),
    ],
)
def test_config_rejects_bad_settings(changes: dict, message: str) -> None:
    with pytest.raises(SmolgepaError, match=message):
        OptimizeConfig(task="sentiment", **changes)


def test_config_defaults_to_fewshot_and_round_trips() -> None:
    config = OptimizeConfig(task="sentiment")
    assert config.uses_fewshot and config.reflection_spec == "fewshot"
    assert OptimizeConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


def test_resume_allows_only_stopping_changes() -> None:
    saved = OptimizeConfig(task="sentiment", run_dir="r")
    check_resume_compatible(saved, saved.with_changes(budget=500, patience=3, resume=True))
    with pytest.raises(SmolgepaError, match="student: saved 'embedded', requested 'lmstudio:x'"):
        check_resume_compatible(saved, saved.with_changes(student="lmstudio:x", resume=True))


# ---------------------------------------------------------------- run directory


def test_partial_last_line_is_skipped_and_cut_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event": "a"}\n{"event": "b"}\n{"event": "c", "cut": tr')
    assert [r["event"] for r in read_jsonl(path)] == ["a", "b"]
    JsonlAppender(path, Redactor({})).append({"event": "d"})
    assert [r["event"] for r in read_jsonl(path)] == ["a", "b", "d"]


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event": "a"}\nnot json\n{"event": "b"}\n')
    with pytest.raises(SmolgepaError, match="events.jsonl:2"):
        read_jsonl(path)


def test_redactor_removes_secret_environment_values(tmp_path: Path) -> None:
    redact = Redactor({"MY_API_KEY": "sk-abcdefgh12345", "HOME": "/root", "SHORT_TOKEN": "abc"})
    assert redact("cmd --key sk-abcdefgh12345 /root abc") == "cmd --key [redacted MY_API_KEY] /root abc"
    run_dir = RunDir(tmp_path, redact)
    run_dir.write_summary({"note": "sk-abcdefgh12345"})
    assert "sk-abcdefgh12345" not in run_dir.summary_file.read_text()
    assert run_dir.read_summary()["schema_version"] == 1


def test_redactor_also_removes_the_named_key_variables() -> None:
    environ = {"STUDENT_AUTH": "opaque-value-123", "OTHER": "opaque-value-456"}
    assert Redactor(environ)("opaque-value-123") == "opaque-value-123"  # the name does not look secret
    redact = Redactor(environ, key_envs=("STUDENT_AUTH", None))
    assert redact("a opaque-value-123 b opaque-value-456") == "a [redacted STUDENT_AUTH] b opaque-value-456"


def test_prepare_refuses_a_used_directory_without_resume(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(SmolgepaError, match="not empty. Pass --resume"):
        RunDir(tmp_path).prepare(resume=False)
    with pytest.raises(SmolgepaError, match="Cannot resume"):
        RunDir(tmp_path / "new").prepare(resume=True)


# ---------------------------------------------------------------- gate and fewshot


def make_journal(tmp_path: Path) -> Journal:
    return Journal(
        RunDir(tmp_path),
        budget=100,
        max_proposals=None,
        patience=None,
        eval_every_proposal=False,
        train=TASK.split("train"),
        evaluate_val=lambda instruction: None,  # type: ignore[arg-type,return-value]
        count_tokens=lambda text: len(text.split()),
    )


def test_gate_refuses_duplicates_and_long_texts(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.seen["classify the text"] = 0
    gate = ProposalGate(journal, journal.count_tokens, max_tokens=5)
    assert gate.check("classify   the\ntext").status == "duplicate"
    verdict = gate.check("one two three four five six")
    assert verdict.status == "too_long" and verdict.tokens == 6 and "cap of 5" in verdict.reason
    assert gate.check("a fresh short text").ok


def test_examples_block_round_trips() -> None:
    shots = [Shot("It broke.", "negative"), Shot("Great\nvalue!", "positive")]
    text = render_instruction("Classify the text.", shots)
    base, parsed = split_instruction(text)
    assert base == "Classify the text."
    assert parsed == [Shot("It broke.", "negative"), Shot("Great value!", "positive")]
    assert split_instruction("No examples here.") == ("No examples here.", [])


def reflective(items: list[tuple[str, str]]) -> dict:
    return {"self": [{"Inputs": {"input": text}, "Generated Outputs": {"label": predicted}, "Feedback": ""}
                     for text, predicted in items]}


def test_fewshot_starts_with_one_example_per_label_under_predicted_first(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 300), journal)
    train = {e.label: e for e in reversed(TASK.split("train"))}
    data = reflective([(train["positive"].input, "positive"), (train["negative"].input, "positive"),
                       (train["neutral"].input, "None")])
    out = proposer({"self": "Classify."}, data, ["self"])
    base, shots = split_instruction(out["self"])
    assert base == "Classify." and "Text: " in out["self"] and "Label: negative" in out["self"]
    assert [s.label for s in shots][-1] == "positive"  # the labels it got wrong come first
    assert {s.input for s in shots[:2]} == {" ".join(train[k].input.split()) for k in ("negative", "neutral")}
    # the same parent and minibatch again: that text is taken, so another move is made
    second = proposer({"self": "Classify."}, data, ["self"])
    assert second["self"] != out["self"]
    assert journal.current is not None and journal.current.proposer == "fewshot"


def test_fewshot_says_when_no_training_input_can_be_an_example(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    gate = ProposalGate(journal, journal.count_tokens, 300)
    assert FewshotProposer(TASK, gate, journal).unusable_note() == ""
    traces = FewshotProposer(load_task("agent_monitor"), gate, journal)  # every trace is longer than a shot
    assert "None of the 5 training inputs" in traces.unusable_note() and "--reflection" in traces.unusable_note()


def test_fewshot_adds_a_failure_to_existing_examples(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 300), journal)
    train = TASK.split("train")
    positive = next(e for e in train if e.label == "positive")
    negative = next(e for e in train if e.label == "negative")
    parent = render_instruction("Classify.", [Shot(positive.input, "positive")])
    out = proposer({"self": parent}, reflective([(negative.input, "positive")]), ["self"])
    _, shots = split_instruction(out["self"])
    assert [s.label for s in shots] == ["negative", "positive"]
    assert journal.current.move == "add failed example (negative) first"


def test_fewshot_replaces_when_adding_would_pass_the_cap(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    train = TASK.split("train")
    negative = next(e for e in train if e.label == "negative")
    positives = [e for e in train if e.label == "positive"][:2]
    parent = render_instruction("Classify.", [Shot(e.input, e.label) for e in positives])
    cap = len(parent.split()) + 2  # room for no extra example
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, cap), journal)
    out = proposer({"self": parent}, reflective([(negative.input, "positive")]), ["self"])
    _, shots = split_instruction(out["self"])
    assert len(shots) == 2 and [s.label for s in shots].count("negative") == 1
    assert "replace" in (journal.current.move or "")


def test_fewshot_records_exhaustion_instead_of_raising(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 1), journal)
    assert proposer({"self": "Classify."}, reflective([]), ["self"]) == {}
    assert journal.current.status == "exhausted"


# ---------------------------------------------------------------- feedback


def test_feedback_names_gold_prediction_labels_and_echo() -> None:
    instruction = "Classify the sentiment. DO NOT echo the input."
    text = feedback_text(TASK, "I love it", "positive", None, "DO NOT echo the input. I love it", "unparsed",
                         instruction, None)
    assert "gold label is 'positive'" in text and "no readable label" in text
    assert "prohibition" in text and "positive, negative, neutral" in text
    wrong = feedback_text(TASK, "It broke", "negative", "positive", "positive", "exact", instruction, None)
    assert "answered 'positive'" in wrong and "Raw output" not in wrong


def test_feedback_includes_run_diagnostics_and_metric_scores() -> None:
    preds = [Prediction(str(i), "x", gold, "positive", "positive") for i, gold in
             enumerate(["negative", "negative", "positive", "neutral", "negative"])]
    diagnostics = diagnose(preds, list(TASK.labels))
    metric = make_metric(TASK, lambda instruction: diagnostics)

    class Pred(dict):
        pass

    import dspy

    gold = dspy.Example(input="It broke", label="negative")
    assert metric(gold, Pred(label="negative")) == 1.0
    assert metric(gold, Pred(label=None, raw="hmm")) == 0.0
    predictor = dspy.Predict("input -> label")
    out = metric(gold, Pred(label="positive", raw="positive"), None, "self", [(predictor, {}, None)])
    assert out.score == 0.0
    assert "label collapse" in out.feedback and "negative -> positive" in out.feedback


# ---------------------------------------------------------------- tables


def test_tables_render_from_a_summary_alone() -> None:
    val = {"n": 6, "correct": 3, "accuracy": 0.5, "ci95": [0.19, 0.81], "text": "50.0% (3/6, 95% CI 18.8-81.2%)"}
    better = {**val, "correct": 4, "accuracy": 4 / 6, "text": "66.7% (4/6, 95% CI 30.0-90.3%)"}
    summary = {
        "status": "finished",
        "config": {"task": "sentiment", "student": "embedded"},
        "seed": {"idx": 0, "tokens": 40, "val": val, "instruction": "seed"},
        "best": {"idx": 1, "iteration": 1, "tokens": 60, "val": better, "instruction": "best\ntext"},
        "iterations": [
            {"iteration": 1, "parent": 0, "status": "accepted", "new_best": True, "before": [0, 1, 0],
             "after": [1, 1, 1], "val": better, "tokens": 60, "move": "add"},
            {"iteration": 2, "parent": 1, "status": "too_long", "reason": "400 student tokens", "before": [1, 0, 1],
             "after": None, "val": None, "tokens": 400},
        ],
        "test": {"seed": val, "best": better},
        "counts": {"metric_calls": 30, "budget": 40, "proposals": 2},
    }
    text = render_run(summary)
    assert "| Baseline | Iter 1 | Iter 2     |" in text
    assert "| 50.0%    | 66.7%  | (too_long) |" in text
    assert "accepted (new best)" in text and "1/3 -> 3/3" in text and "400 student tokens" in text
    assert "+16.7 pts" in text and "| test  |" in text
    assert "    best\n    text" in text
