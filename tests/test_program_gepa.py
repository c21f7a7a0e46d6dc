"""GEPA on a DSPy user's own program: the plain-text proposer, the adapter on DSPy's reflection
signature, and `smolgepa.gepa(...)` with its run directory. The student is the real embedded model;
the reflection LM is scripted (these tests check the loop's bookkeeping, not what a model proposes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import dspy
import pytest
from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

import smolgepa
from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.lm.messages import CompleteOnlyEngine, request_messages, text_response
from smolgepa.optimize.program_diagnostics import label_output, program_diagnostics
from smolgepa.optimize.program_gepa import gepa_metric
from smolgepa.optimize.plain_proposer import PlainTextProposer, instruction_from

DATA = [("I love it", "positive"), ("I hate it", "negative"), ("It is a box", "neutral"),
        ("Wonderful day", "positive"), ("Awful service", "negative"), ("The car is red", "neutral")]


class ScriptedReflection(CompleteOnlyEngine):
    """A reflection model that answers every prompt with a numbered instruction in a ``` block."""

    def __init__(self, fenced: bool = True) -> None:
        self.prompts: list[str] = []
        self.fenced = fenced

    def complete(self, request: Any) -> Any:
        self.prompts.append(request_messages(request)[-1]["content"])
        text = f"Answer with one word: positive, negative or neutral. Version {len(self.prompts)}."
        return text_response(f"```\n{text}\n```" if self.fenced else text, model="scripted")


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


class TwoSteps(dspy.Module):
    """Two predictors: a free-text summary, then a chain-of-thought label."""

    def __init__(self) -> None:
        super().__init__()
        self.summarize = dspy.Predict("text -> summary")
        self.classify = dspy.ChainOfThought(Sentiment)

    def forward(self, text: str) -> dspy.Prediction:
        self.summarize(text=text)
        return self.classify(text=text)


def never_perfect(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: Any = None,
                  pred_trace: Any = None) -> dspy.Prediction:
    """Half a point for the right label, so every minibatch has something to reflect on."""
    right = pred.sentiment == gold.sentiment
    return dspy.Prediction(score=0.5 if right else 0.0, feedback=f"expected {gold.sentiment}, got {pred.sentiment}")


@pytest.fixture(scope="module")
def student() -> dspy.LM:
    return smolgepa.make_lm("embedded")


def examples() -> list[dspy.Example]:
    return [dspy.Example(text=text, sentiment=label).with_inputs("text") for text, label in DATA]


@pytest.mark.slow
def test_dspy_gepa_with_the_plain_text_proposer_proposes_for_every_predictor(student: dspy.LM) -> None:
    engine = ScriptedReflection()
    reflection = dspy.LM("scripted", engine=engine, cache=False)
    proposer = PlainTextProposer(reflection)
    optimizer = dspy.GEPA(metric=never_perfect, reflection_lm=reflection, instruction_proposer=proposer,
                          max_metric_calls=30, reflection_minibatch_size=2, track_stats=True)
    with dspy.context(lm=student, adapter=PlainTextAdapter()):
        best = optimizer.compile(TwoSteps(), trainset=examples()[:4], valset=examples()[4:])
    assert {record.component for record in proposer.records} == {"summarize", "classify.predict"}
    assert all(record.instruction and record.instruction.startswith("Answer with one word") for record in
               proposer.records)  # every reflection became a proposal
    assert len(engine.prompts) == len(proposer.records)
    assert all("Feedback: expected" in prompt and "[[ ##" not in prompt for prompt in engine.prompts)
    assert len(best.detailed_results.candidates) >= 1


def test_the_adapter_answers_dspys_own_reflection_signature() -> None:
    reflection = dspy.LM("scripted", engine=ScriptedReflection(fenced=False), cache=False)
    dataset = {"classify": [{"Inputs": {"text": "I love it"}, "Generated Outputs": {"sentiment": "negative"},
                             "Feedback": "expected positive"}]}
    with dspy.context(lm=reflection):
        proposed = InstructionProposer(adapter=PlainTextAdapter())({"classify": "Classify."}, dataset, ["classify"])
    assert proposed == {"classify": "Answer with one word: positive, negative or neutral. Version 1."}


def test_instruction_from_takes_the_last_block_else_the_whole_answer() -> None:
    assert instruction_from("Sure.\n```\nOne.\n```\n```\nTwo.\n```") == ("Two.", "")
    assert instruction_from("Be brief.") == ("Be brief.", "")
    assert instruction_from("```\nunclosed")[0] is None
    assert instruction_from("")[0] is None


@pytest.mark.slow
def test_gepa_helper_returns_the_program_and_writes_its_run(student: dspy.LM, tmp_path: Path) -> None:
    run = tmp_path / "run"
    best = smolgepa.gepa(TwoSteps(), examples()[:4], examples()[4:], metric=lambda gold, pred: pred.sentiment == gold.sentiment,
                         reflection_lm=dspy.LM("scripted", engine=ScriptedReflection(), cache=False), lm=student,
                         max_metric_calls=24, run_dir=run)
    assert isinstance(best, TwoSteps)
    assert sorted(path.name for path in run.iterdir()) == [
        "candidates.jsonl", "diagnostics.json", "program.json", "proposals.jsonl", "summary.json", "tables.md"]
    findings = json.loads((run / "diagnostics.json").read_text())
    assert findings["n"] == 2 and findings["split"] == "val"
    assert findings["gold_distribution"] == {"positive": 0, "negative": 1, "neutral": 1}
    assert sum(findings["predicted_distribution"].values()) + round(findings["unparsed_rate"] * 2) == 2
    assert "## Findings on the validation answers (best program)" in (run / "tables.md").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seed_val"]["n"] == 2 and len(summary["seed_val"]["ci95"]) == 2
    assert summary["candidates"] == len(best.detailed_results.candidates)
    assert summary["best_instructions"] == {name: p.signature.instructions for name, p in best.named_predictors()}
    proposals = [json.loads(line) for line in (run / "proposals.jsonl").read_text().splitlines()]
    assert len(proposals) == summary["proposals"]
    assert "| 0 | - |" in (run / "tables.md").read_text()
    loaded = TwoSteps()
    loaded.load(str(run / "program.json"))
    assert loaded.classify.predict.signature.instructions == best.classify.predict.signature.instructions


def test_findings_need_a_label_answer_and_gold_labels() -> None:
    assert label_output(TwoSteps()) == ("sentiment", ["positive", "negative", "neutral"])
    assert label_output(dspy.Predict("text -> summary")) is None
    unlabeled = [dspy.Example(text="I love it").with_inputs("text")]
    assert program_diagnostics(dspy.Predict(Sentiment), unlabeled) is None  # no gold label: nothing to count


def test_gepa_helper_refuses_a_missing_budget_and_a_used_run_dir(tmp_path: Path) -> None:
    reflection = dspy.LM("scripted", engine=ScriptedReflection(), cache=False)
    with pytest.raises(SmolgepaError, match="exactly one budget"):
        smolgepa.gepa(TwoSteps(), examples(), metric=never_perfect, reflection_lm=reflection)
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(SmolgepaError, match="not empty"):
        smolgepa.gepa(TwoSteps(), examples(), metric=never_perfect, reflection_lm=reflection, max_metric_calls=5,
                      run_dir=tmp_path)


def test_gepa_metric_accepts_ordinary_dspy_metrics() -> None:
    gold, pred = dspy.Example(a=1), dspy.Prediction(a=1)
    assert gepa_metric(lambda g, p: g.a == p.a)(gold, pred, None, "x", None) is True
    assert gepa_metric(lambda g, p, trace=None: trace)(gold, pred, "t", "x", None) == "t"
    assert gepa_metric(never_perfect) is never_perfect
