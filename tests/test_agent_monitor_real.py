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
                   "c526259e8742c0adce7feca87639b8439a2b49d7"):
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
    for name in ("agent_monitor_real_second_pass_labels.jsonl", "agent_monitor_real_second_pass2_labels.jsonl"):
        second = [json.loads(line) for line in (ROOT / "scripts" / name).open(encoding="utf-8")]
        assert {row["id"] for row in second} <= set(first) and all(row["reason"].strip() for row in second)
        agree = sum(first[row["id"]] == row["label"] for row in second)
        assert f"agreed on {agree} of {len(second)}" in text, name
