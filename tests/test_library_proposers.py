"""The built-in offline proposers as `dspy.GEPA` instruction proposers (docs/library-proposers.md, its
example run as written), and the one line `PlainTextProposer` says when a tiny reflection model's
replies are cut off."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

import smolgepa
from smolgepa.errors import SmolgepaError
from smolgepa.lm import StudentOptions
from smolgepa.optimize.plain_proposer import PlainTextProposer, instruction_from
from smolgepa.adapter.program import seed_instruction
from smolgepa.proposers import FewShot, Rules
from smolgepa.tasks import load_task

DOC = (Path(__file__).resolve().parents[1] / "docs" / "library-proposers.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_docs_example_drives_dspy_gepa_to_an_accepted_candidate(tmp_path: Path) -> None:
    [block] = [b for b in re.findall(r"```python\n(.*?)```", DOC, re.DOTALL) if "optimizer.compile(" in b]
    assert 'make_lm("embedded")' in block and "instruction_proposer=proposer" in block
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r"^(\d+) candidates; val ([\d.]+) \(seed\) -> ([\d.]+) \(best\)$", result.stdout, re.MULTILINE)
    assert found, result.stdout[-2000:]
    assert int(found[1]) >= 2  # a candidate beyond the seed was accepted
    assert float(found[3]) > float(found[2])
    assert re.search(r"^proposed one example per label", result.stdout, re.MULTILINE)
    assert "Examples:\nText: " in result.stdout  # the best instruction carries the examples block


def minibatch(task_name: str, wrong: str) -> tuple[dict[str, str], dict[str, list[dict]]]:
    task = load_task(task_name)
    items = [{"Inputs": {"input": e.input}, "Generated Outputs": {"label": wrong}, "Feedback": "wrong"}
             for e in task.split("train")[:3]]
    return {"self": seed_instruction(task)}, {"self": items}


def test_fewshot_proposes_without_a_run_directory_and_never_the_same_text_twice() -> None:
    proposer = FewShot("sentiment")
    candidate, dataset = minibatch("sentiment", "positive")
    first = proposer(candidate, dataset, ["self"])["self"]
    second = proposer(candidate, dataset, ["self"])["self"]
    assert "Examples:\nText: " in first and first != second
    assert [note.status for note in proposer.records] == ["proposed", "proposed"]
    assert proposer({"self": first}, dataset, ["self"]).get("self") not in (None, first, candidate["self"])


def test_rules_fit_counting_rules_for_a_trace_task_and_refuse_a_text_task() -> None:
    task = load_task("agent_monitor-extended", render="summary")
    proposed = Rules(task)({"self": seed_instruction(task)}, {"self": []}, ["self"])["self"]
    assert "1. If " in proposed and "answer" in proposed
    with pytest.raises(SmolgepaError, match="FewShot"):
        Rules("sentiment")


def test_a_preamble_or_a_cut_off_reply_is_no_instruction() -> None:
    assert instruction_from("Here's a rewritten instruction with improved sentiment classification:")[0] is None
    assert instruction_from("Classify the sentiment", "length")[0] is None
    assert instruction_from("```\nClassify the sentiment.\n```", "length")[0] == "Classify the sentiment."


def test_a_tiny_reflection_model_cut_off_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """The embedded model reflecting at max_tokens=8: three calls, every reply cut off, one warning
    line naming the fixes, and none of DSPy's per-call truncation warnings."""
    reflection = smolgepa.make_lm("embedded", StudentOptions(max_tokens=8, stop=()))
    proposer = PlainTextProposer(reflection)
    candidate, dataset = minibatch("sentiment", "positive")
    caplog.set_level(logging.INFO)
    for items in (dataset["self"][:1], dataset["self"][1:2], dataset["self"]):
        assert proposer(candidate, {"self": items}, ["self"]) == {}
    assert all("truncated" in record.reason for record in proposer.records), proposer.records
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    line = warnings[0].getMessage()
    assert "\n" not in line and "cut off at max_tokens=8" in line
    assert "StudentOptions(max_tokens=200, stop=())" in line and "larger reflection model" in line
    assert "smolgepa.proposers.FewShot(task)" in line
