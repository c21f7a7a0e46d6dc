"""The built-in trace tasks and the shallow baselines that guard the extended set's difficulty."""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from smolgepa.tasks import builtin_task_names, load_task
from smolgepa.traces import STATES, Trace, approx_tokens, detect_state
from smolgepa.traces.shallow import BagOfWordsClassifier, LengthClassifier, fit_bag_of_words, full_text

ROOT = Path(__file__).resolve().parents[1]


def test_agent_monitor_has_four_of_each_state_in_fixed_splits() -> None:
    task = load_task("agent_monitor")
    assert list(task.labels) == list(STATES)
    assert Counter(ex.label for ex in task.examples) == {state: 4 for state in STATES}
    sizes = {split: sum(counts.values()) for split, counts in task.label_counts().items()}
    assert sizes == {"train": 5, "val": 7, "test": 4}
    assert all(count == 1 for count in task.label_counts()["test"].values())


def test_agent_monitor_extended_is_balanced_with_fixed_splits() -> None:
    assert "agent_monitor-extended" in builtin_task_names()
    task = load_task("agent_monitor-extended")
    assert list(task.labels) == list(STATES)
    assert task.label_counts() == {
        "train": {state: 30 for state in STATES},
        "val": {state: 15 for state in STATES},
        "test": {state: 30 for state in STATES},
    }
    assert len({ex.id for ex in task.examples}) == len(task.examples) == 300


@pytest.mark.parametrize("name", ["agent_monitor", "agent_monitor-extended"])
def test_trace_tasks_render_within_their_budget(name: str) -> None:
    task = load_task(name)
    budget = task.meta["max_input_tokens"]
    for example in task.examples:
        assert isinstance(example.raw, Trace)
        assert 4 <= len(example.raw.turns) <= 30
        assert approx_tokens(example.input) <= budget
    annotated = load_task(name, render="annotated")
    assert all("Counts (whole trace):" in ex.input for ex in annotated.examples)


def test_extended_set_varies_domains_tools_and_tasks() -> None:
    rows = [json.loads(line) for line in (ROOT / "src/smolgepa/tasks/data/agent_monitor-extended.jsonl").open()]
    assert len({row["domain"] for row in rows}) == 6
    for state in STATES:
        of_state = [row for row in rows if row["label"] == state]
        assert len({row["domain"] for row in of_state}) == 6
        tools = {turn["tool"] for row in of_state for turn in row["trace"]["turns"] if "tool" in turn}
        assert len(tools) >= 15, state
        assert len({row["trace"]["task"] for row in of_state}) >= 30, state


def test_committed_extended_data_is_what_the_seeded_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("generate_agent_traces", ROOT / "scripts/generate_agent_traces.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    committed = (ROOT / "src/smolgepa/tasks/data/agent_monitor-extended.jsonl").read_text(encoding="utf-8")
    assert module.to_jsonl(module.generate()) == committed


def test_no_trivial_feature_solves_the_extended_test_split() -> None:
    """Guard the set's difficulty: length alone and bag of words stay far from perfect."""
    task = load_task("agent_monitor-extended")
    train, val, test = task.split("train"), task.split("val"), task.split("test")
    for unit in ("turns", "characters"):
        model = LengthClassifier.fit([ex.raw for ex in train], [ex.label for ex in train], unit=unit)
        accuracy = sum(model.predict(ex.raw) == ex.label for ex in test) / len(test)
        assert accuracy < 0.6, (unit, accuracy)
    bow = fit_bag_of_words([(full_text(ex.raw), ex.label) for ex in train], [(full_text(ex.raw), ex.label) for ex in val])
    accuracy = sum(p == ex.label for p, ex in zip(bow.predict_texts([full_text(ex.raw) for ex in test]), test)) / len(test)
    assert accuracy < 0.9, accuracy
    rules = sum(detect_state(ex.raw)[0] == ex.label for ex in test) / len(test)
    assert 0.4 < rules < 0.9, rules


def test_length_classifier_finds_the_best_intervals() -> None:
    values = [1, 2, 3, 10, 11, 12, 20, 21, 22]
    labels = ["a", "a", "a", "b", "b", "b", "a", "a", "c"]
    model = LengthClassifier._fit_values(values, labels, "turns", max_intervals=3)
    predictions = [model.labels[sum(v >= cut for cut in model.cuts)] for v in values]
    assert sum(p == y for p, y in zip(predictions, labels)) == 8  # only the lone 'c' is lost
    assert model.cuts == (6.5, 16.0)


def test_bag_of_words_learns_a_separable_toy_problem() -> None:
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(40):
        label = rng.choice(["loop", "fine"])
        word = "again" if label == "loop" else "done"
        texts.append(" ".join(rng.choice(["call", "tool", "result", word]) for _ in range(12)) + f" {word}")
        labels.append(label)
    model = BagOfWordsClassifier.fit(texts, labels, l2=1e-3)
    assert model.predict_texts(["call tool again again", "tool result done"]) == ["loop", "fine"]
    assert model.top_words("loop", 1) == ["again"]
