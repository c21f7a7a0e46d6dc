"""Property tests of the task loader (text tasks): any input gives a Task or a SmolgepaError.

Arbitrary bytes and text as the YAML or JSONL file, fields of every JSON type, random label sets and
unsplit data. When a Task comes back it must be well formed; when the loader refuses, it must say so
with a SmolgepaError that names the file. Any other exception fails the test.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import tally

from smolgepa.errors import SmolgepaError
from smolgepa.tasks import SPLITS, Task, load_task

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD_SPEC: dict[str, Any] = {
    "name": "prop",
    "description": "Property test task.",
    "input": "text",
    "labels": {"positive": "Pleased.", "negative": "Unhappy.", "neutral": "Neither."},
    "data": "examples.jsonl",
}
GOOD_ROWS = [
    {"id": "a", "text": "I love it.", "label": "positive", "split": "train"},
    {"id": "b", "text": "I hate it.", "label": "negative", "split": "val"},
    {"id": "c", "text": "It is blue.", "label": "neutral"},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
label_names = st.text(min_size=1, max_size=12)
row_keys = st.sampled_from(["id", "text", "label", "split", "extra"])


def load(yaml_content: bytes | str | dict[str, Any], jsonl_content: bytes | str | list[Any]) -> Task | SmolgepaError:
    """Write both files into a fresh folder and load them; return the Task or the SmolgepaError."""
    tally.add("bad inputs")
    with tempfile.TemporaryDirectory() as folder:
        yaml_path, jsonl_path = Path(folder) / "task.yaml", Path(folder) / "examples.jsonl"
        if isinstance(yaml_content, dict):
            yaml_content = yaml.safe_dump(yaml_content, allow_unicode=True)
        if isinstance(jsonl_content, list):
            jsonl_content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in jsonl_content)
        for path, content in ((yaml_path, yaml_content), (jsonl_path, jsonl_content)):
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
        try:
            task = load_task(yaml_path)
        except SmolgepaError as error:
            assert folder in str(error), f"the error names the file: {error}"
            assert "\n" not in str(error), f"a one-line message: {error!r}"
            return error
    check_well_formed(task)
    return task


def check_well_formed(task: Task) -> None:
    """What every loaded task promises its users."""
    assert task.examples, "a task has examples"
    assert len(task.labels) >= 2
    assert all(isinstance(label, str) and label and not any(c.isspace() for c in label) for label in task.labels)
    ids = [example.id for example in task.examples]
    assert len(ids) == len(set(ids))
    for example in task.examples:
        assert example.label in task.labels
        assert example.split in SPLITS
        assert isinstance(example.input, str) and example.input and example.input == example.input.strip()


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_the_yaml_file(content: bytes) -> None:
    load(content, GOOD_ROWS)


@FAST
@given(st.text(max_size=300))
def test_any_text_as_the_yaml_file(content: str) -> None:
    load(content, GOOD_ROWS)


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_the_jsonl_file(content: bytes) -> None:
    load(GOOD_SPEC, content)


@FAST
@given(st.lists(st.text(max_size=60), max_size=6))
def test_any_text_lines_as_the_jsonl_file(lines: list[str]) -> None:
    load(GOOD_SPEC, "\n".join(lines))


@FAST
@given(st.lists(json_values, min_size=1, max_size=5))
def test_any_json_values_as_rows(rows: list[Any]) -> None:
    load(GOOD_SPEC, rows)


@FAST
@given(st.lists(st.dictionaries(row_keys, json_values, max_size=5), min_size=1, max_size=6))
def test_rows_with_fields_of_any_type(rows: list[dict[str, Any]]) -> None:
    result = load(GOOD_SPEC, rows)
    if isinstance(result, Task):
        assert all(isinstance(row.get("text"), str) and row.get("label") in GOOD_SPEC["labels"] for row in rows)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(list(GOOD_SPEC) + ["input_format", "render", "max_input_tokens"]),
        json_values,
        max_size=4,
    )
)
def test_task_fields_of_any_type(overrides: dict[str, Any]) -> None:
    spec = {**GOOD_SPEC, **overrides}
    rows = [{**row, spec["input"]: row["text"]} if isinstance(spec.get("input"), str) else row for row in GOOD_ROWS]
    result = load(spec, rows)
    if isinstance(result, Task) and "labels" not in overrides:
        assert result.labels == GOOD_SPEC["labels"]


@FAST
@given(st.dictionaries(label_names, st.none() | st.text(max_size=20), max_size=5), st.data())
def test_random_label_sets(labels: dict[str, str | None], data: st.DataObject) -> None:
    declared = list(labels)
    choices = st.sampled_from(declared) | label_names if declared else label_names
    rows = [
        {"id": index, "text": data.draw(st.text(min_size=1, max_size=30)), "label": data.draw(choices)}
        for index in range(data.draw(st.integers(min_value=1, max_value=8)))
    ]
    result = load({**GOOD_SPEC, "labels": labels}, rows)
    if isinstance(result, Task):
        assert set(result.labels) == {label.strip() for label in labels}
        assert [example.label for example in result.examples] == [row["label"] for row in rows]


@FAST
@given(st.dictionaries(st.sampled_from(["positive", "negative", "neutral"]), st.integers(1, 25), min_size=1))
def test_unsplit_data_is_split_the_same_way_every_time_and_stratified(counts: dict[str, int]) -> None:
    rows = [
        {"id": f"{label}{index}", "text": f"text {label} {index}", "label": label}
        for label, count in counts.items()
        for index in range(count)
    ]
    first, second = load(GOOD_SPEC, rows), load(GOOD_SPEC, rows)
    assert isinstance(first, Task) and isinstance(second, Task)
    assert first.examples == second.examples
    for label, count in counts.items():
        per_split = Counter(example.split for example in first.examples if example.label == label)
        assert per_split["train"] == round(count * 0.4)
        assert per_split["val"] == round(count * 0.3)
        assert sum(per_split.values()) == count


@FAST
@given(st.text(max_size=40))
def test_any_task_name_or_render_mode(text: str) -> None:
    try:
        task = load_task(text, render=text or None)
    except SmolgepaError:
        return
    check_well_formed(task)


# --- trace tasks (input_format: trace) ------------------------------------------------------------

TRACE_SPEC: dict[str, Any] = {
    "name": "prop-traces",
    "description": "Property test task over agent traces.",
    "input": "trace",
    "input_format": "trace",
    "labels": {"ok": "Working.", "stuck": "Not working."},
    "data": "examples.jsonl",
    "max_input_tokens": 120,
}
nonblank = st.text(min_size=1, max_size=80).filter(lambda text: text.strip() != "")
tool_call = st.fixed_dictionaries(
    {
        "role": st.just("assistant"),
        "tool": nonblank,
        "args": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    },
    optional={"thought": st.text(max_size=200)},
)
tool_result = st.fixed_dictionaries(
    {"role": st.just("tool"), "name": nonblank, "output": st.text(max_size=300), "error": st.booleans()}
)
message = st.fixed_dictionaries({"role": st.just("assistant"), "content": nonblank})
valid_traces = st.fixed_dictionaries(
    {"task": nonblank, "turns": st.lists(tool_call | tool_result | message, min_size=1, max_size=12)}
)
turn_keys = st.sampled_from(["role", "tool", "args", "thought", "name", "output", "error", "content", "extra"])
messy_turns = st.dictionaries(turn_keys, st.sampled_from(["assistant", "tool"]) | json_values, max_size=5)
messy_traces = st.dictionaries(
    st.sampled_from(["task", "turns", "extra"]), json_values | st.lists(messy_turns, max_size=4), max_size=3
)


def trace_rows(traces: list[Any]) -> list[dict[str, Any]]:
    return [{"id": index, "trace": trace, "label": ("ok", "stuck")[index % 2]} for index, trace in enumerate(traces)]


@FAST
@given(st.lists(json_values | messy_traces, min_size=1, max_size=4))
def test_any_json_as_a_trace(traces: list[Any]) -> None:
    load(TRACE_SPEC, trace_rows(traces))


@FAST
@given(st.lists(valid_traces, min_size=1, max_size=4), st.sampled_from(["plain", "annotated"]), st.integers(50, 2000))
def test_valid_traces_always_load_and_render(traces: list[Any], render: str, budget: int) -> None:
    from smolgepa.tasks.loader import rendered
    from smolgepa.traces import Trace, parse_trace

    result = load({**TRACE_SPEC, "render": render, "max_input_tokens": budget}, trace_rows(traces))
    assert isinstance(result, Task), f"a valid trace must load: {result}"
    assert result.render == render
    for example in result.examples:
        assert isinstance(example.raw, Trace)
        assert parse_trace(example.raw.to_dict(), "round trip") == example.raw
        assert example.input.startswith("Task: ")
    other = rendered(result, "plain" if render == "annotated" else "annotated")
    assert [e.raw for e in other.examples] == [e.raw for e in result.examples]
    assert all(e.input.startswith("Task: ") for e in other.examples)
