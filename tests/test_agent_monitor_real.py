"""The built-in task agent_monitor-real: real windows, labelled with reasons, recorded sources, fixed splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from smolgepa.tasks import load_task
from smolgepa.tasks.loader import builtin_task_names

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "smolgepa" / "tasks" / "data"
SPLITS = ("train", "val", "test")


def test_the_task_loads_with_every_split_and_a_reason_on_every_window() -> None:
    assert "agent_monitor-real" in builtin_task_names()
    task = load_task("agent_monitor-real")
    assert all(task.split(split) for split in SPLITS)
    rows = [json.loads(line) for line in (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8")]
    assert len(rows) == len(task.examples)
    assert all(row["reason"].strip() and row["split"] in SPLITS for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


def test_no_issue_is_in_two_splits() -> None:
    rows = [json.loads(line) for line in (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8")]
    splits_of: dict[str, set[str]] = {}
    for row in rows:
        splits_of.setdefault(row["trace"]["task"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in splits_of.values())


def test_sources_commits_and_licences_are_recorded_beside_the_data() -> None:
    task = load_task("agent_monitor-real")
    source = task.meta["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and source["licence"].startswith("MIT")
    text = (DATA / source["provenance"]).read_text(encoding="utf-8")
    for commit in ("ec0e8e849fea5b1619deb1753007201000904672", "3ea751c087f32b16e039a2233dd6eefecef325d5",
                   "c526259e8742c0adce7feca87639b8439a2b49d7", "d12a71affd95403b036b2bdbd827349b77bfffb9",
                   "218cf0ef1df84b05ce379dd4a8e47f17766733a0"):
        assert commit in text
    assert "test split is never used to tune anything" in text
    counts = task.label_counts()
    for split in SPLITS:
        assert re.search(rf"\| {split} \| {counts[split]['doom_loop']} \| {counts[split]['api_confusion']} \|", text)
    assert "tau-bench" in text  # says that it is not used


def test_the_second_pass_sample_names_50_labelled_windows() -> None:
    ids = (ROOT / "scripts" / "agent_monitor_real_second_pass_ids.txt").read_text(encoding="utf-8").split()
    labelled = {json.loads(line)["id"] for line in (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8")}
    assert len(ids) == min(50, len(labelled)) and set(ids) <= labelled


def test_each_second_pass_agrees_with_the_first_labels_as_the_provenance_says() -> None:
    first = {row["id"]: row["label"] for row in map(json.loads, (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8"))}
    text = " ".join((DATA / "agent_monitor-real.provenance.md").read_text(encoding="utf-8").split())
    for name in ("agent_monitor_real_second_pass_labels.jsonl", "agent_monitor_real_second_pass2_labels.jsonl",
                 "agent_monitor_real_second_pass3_labels.jsonl"):
        second = [json.loads(line) for line in (ROOT / "scripts" / name).open(encoding="utf-8")]
        assert {row["id"] for row in second} <= set(first) and all(row["reason"].strip() for row in second)
        agree = sum(first[row["id"]] == row["label"] for row in second)
        assert f"agreed on {agree} of {len(second)}" in text, name


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_agent_monitor_real", ROOT / "scripts" / "build_agent_monitor_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_react_hotpotqa_windows_are_recorded_with_their_source_and_question_only_tasks() -> None:
    rows = [json.loads(line) for line in (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8")]
    hqa = [row for row in rows if row["source"] == "hqa"]
    assert len(hqa) == 87 and len({row["trace"]["task"] for row in hqa}) == 53
    assert all(row["path"].startswith("hotpotqa_runs/root/ReAct/") and row["id"].startswith("hqa-") for row in hqa)
    # the task is the question: Reflexion's reflections ("I got stuck in a loop...") would name the label
    assert not any("Reflections:" in row["trace"]["task"] or "You have attempted" in row["trace"]["task"] for row in hqa)
    labels = {label: sum(row["label"] == label for row in hqa) for label in ("doom_loop", "api_confusion", "making_progress")}
    assert labels == {"doom_loop": 26, "api_confusion": 11, "making_progress": 50}
    # "Could not find" is no shortcut: progress windows hold misses too
    misses = [sum(turn["role"] == "tool" and turn["output"].startswith("Could not find") for turn in row["trace"]["turns"])
              for row in hqa if row["label"] == "making_progress"]
    assert sum(count >= 2 for count in misses) >= 10
    text = (DATA / "agent_monitor-real.provenance.md").read_text(encoding="utf-8")
    assert "218cf0ef1df84b05ce379dd4a8e47f17766733a0" in text and "87 of 309" in text


def test_the_test_split_holds_loops_from_several_tasks() -> None:
    rows = [json.loads(line) for line in (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8")]
    loops = [row for row in rows if row["split"] == "test" and row["label"] == "doom_loop"]
    assert len(loops) == 9 and len({row["trace"]["task"] for row in loops}) == 8
    assert load_task("agent_monitor-real").label_counts()["test"]["doom_loop"] == 9


def test_the_third_pass_sample_is_every_rare_react_window_and_seeded_progress_ones() -> None:
    ids = (ROOT / "scripts" / "agent_monitor_real_second_pass3_ids.txt").read_text(encoding="utf-8").split()
    rows = {row["id"]: row for row in map(json.loads, (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8"))}
    assert len(ids) == len(set(ids)) == 60 and all(rows[key]["source"] == "hqa" for key in ids)
    rare = {key for key, row in rows.items() if row["source"] == "hqa" and row["label"] != "making_progress"}
    assert rare <= set(ids)
    assert _script().second_pass3_sample(list(rows.values())) == ids
    text = " ".join((DATA / "agent_monitor-real.provenance.md").read_text(encoding="utf-8").split())
    assert "agreed on 57 of 60 (95.0%, 95% CI 86.3-98.3%), Cohen's kappa 0.92" in text


def test_agreement_reproduces_the_reported_second_passes() -> None:
    script = _script()
    first = {row["id"]: row["label"] for row in map(json.loads, (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8"))}
    second = {row["id"]: row["label"] for row in
              map(json.loads, (ROOT / "scripts" / "agent_monitor_real_second_pass_labels.jsonl").open(encoding="utf-8"))}
    result = script.agreement(first, second)
    assert (result["agree"], result["n"], round(result["kappa"], 2)) == (45, 50, 0.76)
    assert (round(100 * result["low"], 1), round(100 * result["high"], 1)) == (78.6, 95.7)
    assert result["confusion"]["doom_loop"] == {"doom_loop": 2, "making_progress": 3}
    same = script.agreement({"a": "doom_loop", "b": "making_progress"}, {"a": "doom_loop", "b": "making_progress"})
    assert same["kappa"] == 1.0 and same["share"] == 1.0


def test_the_packet_holds_the_windows_without_labels_or_reasons(tmp_path: Path) -> None:
    import argparse

    script = _script()
    ids = ROOT / "scripts" / "agent_monitor_real_second_pass3_ids.txt"
    script.cmd_packet(argparse.Namespace(ids=str(ids), out=str(tmp_path / "pass3")))
    lines = [json.loads(line) for line in (tmp_path / "pass3" / "windows.jsonl").open(encoding="utf-8")]
    assert [line["id"] for line in lines] == ids.read_text(encoding="utf-8").split()
    assert all(set(line) == {"id", "trace"} for line in lines)
    assert "ReAct question-answering windows" in (tmp_path / "pass3" / "agent-labelling.md").read_text(encoding="utf-8")
    assert '{"id": "<the window\'s id>", "label"' in (tmp_path / "pass3" / "README.md").read_text(encoding="utf-8")
