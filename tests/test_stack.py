"""The `stack` reading, through the real embedded SmolLM2-135M: a query's row is the `hidden`, `probe`
and `knn` readings' answers, the read-out over those rows gives the answer, and a training text is read
out of fold at both levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smolgepa.lm.readings.stack import FLOOR
from smolgepa.lm.readings.turns import same_text
from smolgepa.tasks import load_task
from test_scoring_methods import make_engine, messages_for


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def train15(task) -> tuple[tuple[str, str], ...]:
    picked: list[tuple[str, str]] = []
    for label in task.labels:
        picked += [(e.input, e.label) for e in task.split("train") if e.label == label][:5]
    return tuple(picked)


def base_row(method, messages) -> np.ndarray:
    """The three single readings' label probabilities for these messages, as the stack should see them."""
    parts = [np.array([reading.score(messages).probs[label] for label in method.labels])
             for reading in (method.hidden, method.probe, method.knn)]
    return np.log(np.clip(np.concatenate(parts), FLOOR, 1.0))


def test_the_stack_reads_hidden_probe_and_knn_and_combines_them(embedded_path: Path, task, train15) -> None:
    eng = make_engine(embedded_path, task, "stack", train15, knn_k=3)
    try:
        method = eng.scoring_method()
        query = messages_for(task, task.split("val")[0].input)
        got = eng.score_messages(query)
        readout, rows = method.readout_for(query)
        expected = readout.probabilities(base_row(method, query), "an unseen text")
        assert [got.probs[label] for label in method.labels] == pytest.approx(list(expected), abs=1e-6)
        assert got.label == method.labels[int(np.argmax(expected))]

        own_text = train15[0][0]
        own = messages_for(task, own_text)
        key = same_text(own_text)
        # the training text's row holds the single readings' out-of-fold answers
        assert rows[key] == pytest.approx(base_row(method, own), abs=1e-6)
        answer = eng.score_messages(own)
        weights = readout.fit.weights_for(key)
        assert weights is not readout.fit.full  # read by the read-out fitted without its fold
        held = readout.probabilities(rows[key], key)
        assert [answer.probs[label] for label in method.labels] == pytest.approx(list(held), abs=1e-6)
    finally:
        eng.close()
