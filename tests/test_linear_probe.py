"""The `probe` reading: a logistic regression on the answer distribution, fitted on the training
split's anchors, through the real embedded SmolLM2-135M; a training example is never read by a
probe that saw its label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.linear import softmax
from smolgepa.lm.servers.payloads import check_server_decode
from smolgepa.lm.readings.knn import make_anchors
from smolgepa.lm.readings.probe import fit_probe
from smolgepa.candidate.reading_line import PROPOSAL_ORDER
from smolgepa.tasks import load_task
from test_scoring_methods import make_engine, messages_for

LABELS = ("positive", "negative", "neutral")


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def train12(task) -> tuple[tuple[str, str], ...]:
    """Four training examples per label."""
    picked: list[tuple[str, str]] = []
    for label in task.labels:
        picked += [(e.input, e.label) for e in task.split("train") if e.label == label][:4]
    return tuple(picked)


def synthetic_rows(n_per_label: int, vocab: int = 40, seed: int = 0) -> tuple[list[tuple[str, str]], list[np.ndarray]]:
    """Distributions where each label puts extra mass on its own token (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    pairs, rows = [], []
    for i in range(n_per_label):
        for j, label in enumerate(LABELS):
            logits = rng.normal(size=vocab)
            logits[j] += 5.0
            rows.append(logits - np.log(np.exp(logits).sum()))
            pairs.append((f"text {label} {i}", label))
    return pairs, rows


def test_the_probe_learns_which_tokens_separate_the_labels() -> None:
    pairs, rows = synthetic_rows(10)
    probe = fit_probe(make_anchors(pairs, rows), LABELS, tokens=20, folds=5)
    test_pairs, test_rows = synthetic_rows(5, seed=1)
    predicted = [LABELS[int(np.argmax(softmax(probe.features(r) @ probe.fit.full)))] for r in test_rows]
    assert np.mean([p == y for p, (_, y) in zip(predicted, test_pairs)]) >= 0.9
    assert set(probe.fit.fold_of.values()) == set(range(5))
    text = pairs[0][0]
    assert probe.weights_for(text) is probe.fit.folds[probe.fit.fold_of[text]]  # a training text: its fold held out
    assert probe.weights_for("an unseen text") is probe.fit.full


def test_the_probe_is_embedded_only_and_offered_after_hidden() -> None:
    with pytest.raises(SmolgepaError, match="probe.*whole next-token distribution.*embedded"):
        check_server_decode("llamacpp", "probe")
    assert PROPOSAL_ORDER[:2] == ("hidden", "probe")


def test_the_engine_answers_with_the_fitted_probe(embedded_path: Path, task, train12) -> None:
    """The engine's answer is argmax of the probe fitted on fresh anchors, recomputed here; the query
    is answered by the full probe, a training text by the probe that never saw its fold."""
    eng = make_engine(embedded_path, task, "probe", train12)
    try:
        method = eng.scoring_method()
        messages = messages_for(task, task.split("val")[0].input)
        got = eng.score_messages(messages)
        anchors = method.memory.anchors_for(messages)
        probe = fit_probe(anchors, tuple(task.labels))
        query = eng.answer_distribution(messages)
        expected = softmax(probe.features(query) @ probe.fit.full)[0]
        assert got.probs == pytest.approx(dict(zip(task.labels, expected)), abs=1e-6)
        assert got.label in task.labels and sum(got.probs.values()) == pytest.approx(1.0)
        calls = method.memory.forward_calls
        assert calls == len(train12) + 1  # the anchors once, then the query
        own = eng.score_messages(messages_for(task, train12[0][0]))
        fold = probe.fit.folds[probe.fit.fold_of[anchors.texts[0]]]
        held = softmax(probe.features(anchors.logprobs[0]) @ fold)[0]
        assert own.probs == pytest.approx(dict(zip(task.labels, held)), abs=1e-6)
        assert method.memory.forward_calls == calls  # same instruction: anchors reused, and a training
        # text asked as a query is read from its anchor (its prompt is the anchor's), not run again
    finally:
        eng.close()
