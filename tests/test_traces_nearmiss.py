"""The near-misses of issue 15 in the committed agent_monitor-extended data, and the generator's --check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src/smolgepa/tasks/data/agent_monitor-extended.jsonl"
GENERATOR = ROOT / "scripts/generate_agent_traces.py"
NEAR_MISSES = {"flaky_retry": "making_progress", "one_arg": "doom_loop",
               "varying_errors": "api_confusion", "interleaved": "verbose_thinking"}


def rows(variant: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    return [row for row in found if row["variant"] == variant]


def calls_with_results(turns: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(call, its result) pairs, in order."""
    return [(turn, turns[i + 1]) for i, turn in enumerate(turns[:-1])
            if "tool" in turn and turns[i + 1].get("role") == "tool"]


def has_flaky_retry(turns: list[dict[str, Any]]) -> bool:
    """Three identical calls in a row: the same failure twice, then a different (passing) result."""
    pairs = calls_with_results(turns)
    for (a, ra), (b, rb), (c, rc) in zip(pairs, pairs[1:], pairs[2:]):
        same = (a["tool"], a["args"]) == (b["tool"], b["args"]) == (c["tool"], c["args"])
        if same and ra["output"] == rb["output"] != rc["output"]:
            return True
    return False


def has_one_arg_loop(turns: list[dict[str, Any]]) -> bool:
    """Three or more calls of one tool in a row, each changing exactly one argument, same result."""
    pairs = calls_with_results(turns)
    run = 1
    for (a, ra), (b, rb) in zip(pairs, pairs[1:]):
        changed = {k for k in a["args"].keys() | b["args"].keys() if a["args"].get(k) != b["args"].get(k)}
        run = run + 1 if a["tool"] == b["tool"] and len(changed) == 1 and ra["output"] == rb["output"] else 1
        if run >= 3:
            return True
    return False


@pytest.mark.parametrize("variant,label", sorted(NEAR_MISSES.items()))
def test_each_near_miss_is_in_every_split_with_its_label(variant: str, label: str) -> None:
    found = rows(variant)
    assert found, variant
    assert {row["label"] for row in found} == {label}
    assert {row["split"] for row in found} >= {"train", "test"}


def test_flaky_retries_are_progress_with_three_identical_calls() -> None:
    for row in rows("flaky_retry"):
        assert has_flaky_retry(row["trace"]["turns"]), row["id"]
    # and no doom loop in the data looks like that (the loop never passes)
    assert not any(has_flaky_retry(row["trace"]["turns"]) for row in rows("exact"))


def test_one_argument_loops_change_one_argument_and_get_the_same_result() -> None:
    for row in rows("one_arg"):
        assert has_one_arg_loop(row["trace"]["turns"]), row["id"]
    # paging changes one argument too, but its results change
    assert not any(has_one_arg_loop(row["trace"]["turns"]) for row in rows("page"))


def test_varying_errors_never_repeat_an_error_text() -> None:
    for row in rows("varying_errors"):
        errors = [turn["output"] for turn in row["trace"]["turns"] if turn.get("role") == "tool" and turn.get("error")]
        assert len(errors) >= 3, row["id"]
        assert len(set(errors)) == len(errors), row["id"]
    repeated = [row for row in rows("same_wrong_call")]
    assert repeated and all(
        len({t["output"] for t in r["trace"]["turns"] if t.get("error")}) < sum(bool(t.get("error")) for t in r["trace"]["turns"])
        for r in repeated
    )


def test_interleaved_thinking_has_real_calls_between_long_deliberation() -> None:
    for row in rows("interleaved"):
        turns = row["trace"]["turns"]
        calls = [turn for turn in turns if "tool" in turn]
        words = sum(len((turn.get("thought") or turn.get("content") or "").split()) for turn in turns
                    if turn.get("role") == "assistant")
        assert len(calls) >= 3, row["id"]
        assert words >= 100, row["id"]
        messages_between = [i for i, turn in enumerate(turns) if "content" in turn and i < turns.index(calls[-1])]
        assert messages_between, row["id"]


def test_generator_check_passes_and_fails_on_a_changed_file(tmp_path: Path) -> None:
    check = [sys.executable, str(GENERATOR), "--check"]
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0
    changed = tmp_path / "changed.jsonl"
    changed.write_text(DATA.read_text(encoding="utf-8").replace('"flaky_retry"', '"plain"', 1), encoding="utf-8")
    done = subprocess.run([*check, "--output", str(changed)], capture_output=True, text=True)
    assert done.returncode == 1 and "differs" in done.stdout
