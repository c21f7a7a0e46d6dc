"""`smolgepa data audit`: confident learning on known probabilities, seeded label noise, the corrected
copy (never overwriting), and the command through the real embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smolgepa.data.confident import (confident_joint, find_issues, label_indices, ranked, self_confidence_order,
                                     thresholds)
from smolgepa.data.noise import flip_labels, found_in_top
from smolgepa.tasks import load_task

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout)


def noisy_probabilities(seed: int = 0, n: int = 300, flips: int = 30) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Three labels; a model right about 80% of the time, confident where right; `flips` given labels wrong."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % 3
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=n) * 0.4
    probs[np.arange(n), true] += 0.6
    given = true.copy()
    flipped = set(int(i) for i in rng.choice(n, flips, replace=False))
    for i in flipped:
        given[i] = (true[i] + 1 + rng.integers(2)) % 3
    return probs, given, flipped


def test_thresholds_are_mean_self_confidence() -> None:
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]])
    given = np.array([0, 0, 1])
    assert np.allclose(thresholds(probs, given), [0.8, 0.8])


def test_confident_joint_rows_sum_to_label_counts() -> None:
    probs, given, _ = noisy_probabilities()
    joint = confident_joint(probs, given)
    assert np.allclose(joint.sum(axis=1), np.bincount(given, minlength=3))


def test_confident_learning_finds_flips_and_spares_clean_labels() -> None:
    probs, given, flipped = noisy_probabilities()
    issues = find_issues(probs, given)
    found = set(issues.order) & flipped
    assert len(found) >= 0.9 * len(flipped)
    assert len(set(issues.order) - flipped) <= 10
    confidence = probs[np.arange(len(given)), given]
    assert [confidence[i] for i in issues.order] == sorted(confidence[i] for i in issues.order)
    assert all(issues.suggested[i] != given[i] for i in range(len(given)))
    assert abs(issues.joint.sum() - 1.0) < 1e-9


def test_ranking_puts_flagged_first_then_everyone_once() -> None:
    probs, given, _ = noisy_probabilities(seed=3)
    issues = find_issues(probs, given)
    order = ranked(issues, probs, given)
    assert order[: len(issues.order)] == issues.order
    assert sorted(order) == list(range(len(given))) == sorted(self_confidence_order(probs, given))


def test_clean_labels_flag_almost_nothing() -> None:
    probs, _, _ = noisy_probabilities(flips=0)
    given = np.arange(300) % 3
    assert len(find_issues(probs, given).order) <= 3


def test_label_indices() -> None:
    assert list(label_indices(["b", "a", "b"], ["a", "b"])) == [1, 0, 1]


def test_flips_are_seeded_and_counted() -> None:
    task = load_task("sentiment-extended")
    noisy, flipped = flip_labels(task, 0.1, seed=4)
    again, same = flip_labels(task, 0.1, seed=4)
    assert flipped == same and noisy == again and len(flipped) == 30
    labels = {e.id: e.label for e in noisy.examples}
    assert all(labels[i] != true for i, true in flipped.items())
    assert all(e.split == "train" for e in task.examples if e.id in flipped)
    assert sum(a.label != b.label for a, b in zip(task.examples, noisy.examples)) == 30
    assert flip_labels(task, 0.1, seed=5)[1] != flipped


def test_found_in_top_k() -> None:
    found = found_in_top(["a", "x", "b", "y", "c", "d"], {"a", "b", "c", "d"})
    assert (found.k, found.hits, found.recall, found.precision) == (6, 4, 1.0, 4 / 6)
    found = found_in_top(["x", "a", "y", "z"], {"a", "b"})
    assert (found.k, found.hits, found.recall) == (3, 1, 0.5)


@pytest.mark.slow
def test_tfidf_audit_json_and_corrected_copy(tmp_path: Path) -> None:
    target = tmp_path / "clean.yaml"
    result = run_cli("data", "audit", "--task", "sentiment-extended", "--source", "tfidf", "--json",
                     "--write", str(target), "--fix", "relabel")
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)
    assert set(audit) == {"n", "suspects"} and audit["n"] == 420
    assert audit["suspects"], "TF-IDF at ~50% accuracy must doubt some labels"
    for suspect in audit["suspects"]:
        assert set(suspect) == {"id", "label", "suggested", "score"}
        assert suspect["label"] != suspect["suggested"] and 0 <= suspect["score"] <= 1
    scores = [s["score"] for s in audit["suspects"]]
    assert scores == sorted(scores, reverse=True)
    original, copy = load_task("sentiment-extended"), load_task(target)
    fixed = {s["id"]: s for s in audit["suspects"]}
    original_by_id = {e.id: e for e in original.examples}
    original_split = {e.id: e.split for e in original.examples}
    assert copy.name == "clean" and len(copy.examples) == len(original.examples)
    for before, after in zip(original.examples, copy.examples):
        assert (before.id, before.input, before.split) == (after.id, after.input, after.split)
        assert after.label == (fixed[before.id]["suggested"] if before.id in fixed else before.label)
    rows = [json.loads(line) for line in target.with_suffix(".jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows if "relabelled_from" in r} == set(fixed)
    # the default fix leaves the train suspects out and keeps every other row as it was
    dropped = tmp_path / "dropped.yaml"
    result = run_cli("data", "audit", "--task", "sentiment-extended", "--source", "tfidf", "--write", str(dropped))
    assert result.returncode == 0, result.stderr
    train_suspects = {i for i, s in fixed.items() if original_split[i] == "train"}
    assert train_suspects and len(train_suspects) < len(fixed), "tfidf doubts train and val labels alike"
    kept = load_task(dropped)
    assert {e.id for e in kept.examples} == {e.id for e in original.examples} - train_suspects
    assert all((e.label, e.split) == (original_by_id[e.id].label, original_by_id[e.id].split) for e in kept.examples)
    assert f"{len(train_suspects)} train suspects left out" in result.stdout
    # never overwritten: one line, exit status 2, the file as it was
    before = target.with_suffix(".jsonl").read_bytes()
    again = run_cli("data", "audit", "--task", "sentiment-extended", "--source", "tfidf", "--write", str(target))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert target.with_suffix(".jsonl").read_bytes() == before


def test_write_needs_a_yaml_name(tmp_path: Path) -> None:
    result = run_cli("data", "audit", "--task", "sentiment", "--source", "tfidf", "--write", str(tmp_path / "x.txt"))
    assert result.returncode == 2 and ".yaml" in result.stderr and not (tmp_path / "x.txt").exists()


def flipped_features(seed: int, n: int = 240, flips: int = 24) -> tuple[np.ndarray, list[str], set[int]]:
    """Three overlapping clusters in 40 dimensions (a reader about 75% right), `flips` labels turned."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % 3
    centres = rng.normal(size=(3, 40)) * 0.35
    x = centres[true] + rng.normal(size=(n, 40))
    given = true.copy()
    flipped = set(int(i) for i in rng.choice(n, flips, replace=False))
    for i in flipped:
        given[i] = (true[i] + 1 + rng.integers(2)) % 3
    return x, [("a", "b", "c")[g] for g in given], flipped


def test_refitting_without_the_suspects_finds_more_flips() -> None:
    from smolgepa.data.refit import pooled_probabilities, refitted_probabilities

    single = refitted = 0
    for seed in range(3):
        x, labels, flipped = flipped_features(seed)
        given = label_indices(labels, ["a", "b", "c"])
        once = pooled_probabilities(x, labels, ["a", "b", "c"], np.ones(len(labels), dtype=bool), steps=200)
        again = refitted_probabilities(x, labels, ["a", "b", "c"])
        assert again.shape == once.shape and np.allclose(again.sum(axis=1), 1.0)
        single += len(set(self_confidence_order(once, given)[:36]) & flipped)
        refitted += len(set(self_confidence_order(again, given)[:36]) & flipped)
    assert refitted > single  # a fit that learnt fewer of the flipped labels contradicts more of them


def test_pooled_probabilities_answer_each_row_without_its_label() -> None:
    from smolgepa.data.refit import pooled_probabilities

    x, labels, _ = flipped_features(0, n=60, flips=0)
    keep = np.ones(60, dtype=bool)
    keep[:6] = False
    base = pooled_probabilities(x, labels, ["a", "b", "c"], keep, steps=100)
    answers = {}
    for row in (10, 0):
        turned = list(labels)
        turned[row] = "a" if labels[row] != "a" else "b"
        answers[row] = pooled_probabilities(x, turned, ["a", "b", "c"], keep, steps=100)
    assert np.allclose(base[10], answers[10][10]) and not np.allclose(base, answers[10])  # read by the others only
    assert np.allclose(base, answers[0])  # a row left out of the fit: its label is read nowhere


def test_audit_through_the_hidden_reading(embedded_spec: str) -> None:
    result = run_cli("data", "audit", "--task", "sentiment", "--student", embedded_spec, "--json")
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)
    assert audit["n"] == 16 and set(audit) == {"n", "suspects"}
    task = load_task("sentiment")
    labels = {e.id: e.label for e in task.examples}
    for suspect in audit["suspects"]:
        assert labels[suspect["id"]] == suspect["label"] and suspect["suggested"] in task.labels
    shown = run_cli("data", "audit", "--task", "sentiment", "--student", embedded_spec, "--quiet")
    assert "probabilities hidden, train+val pooled, refitted 2x without the suspects" in shown.stdout  # the default
    single = run_cli("data", "audit", "--task", "sentiment", "--student", embedded_spec, "--quiet", "--refit", "0")
    assert single.returncode == 0 and "probabilities hidden (out of fold)" in single.stdout, single.stderr


@pytest.mark.slow
def test_a_reading_without_label_probabilities_is_refused(embedded_spec: str) -> None:
    result = run_cli("data", "audit", "--task", "sentiment", "--student", embedded_spec, "--reading", "free",
                     "--quiet")
    assert result.returncode == 2 and "no label probabilities" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
