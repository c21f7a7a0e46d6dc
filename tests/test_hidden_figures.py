"""The `hidden-figures` reading through the real embedded SmolLM2-135M on a small trace task (12 training
traces of agent_monitor-extended, rendered `summary`): a query's row is the `hidden` reading's answer
beside the trace's evidence figures (as `figures()` counts them on the trace), the read-out over those
rows gives the answer, a training text is read out of fold at both levels, the plain rendering is
refused in one line, and the fit saved beside a program answers as it did and fits nothing again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import smolgepa
from smolgepa.adapter.program import make_program
from smolgepa.errors import SmolgepaError
from smolgepa.lm.fit_file import fit_path, fits_of
from smolgepa.lm.options import StudentOptions
from smolgepa.lm.readings.hidden_figures import FLOOR
from smolgepa.lm.readings.turns import same_text
from smolgepa.tasks import load_task
from smolgepa.traces.figures import FIGURE_KEYS, figures
from test_scoring_methods import make_engine, messages_for

PER_LABEL = {"train": 3, "val": 1, "test": 1}


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trace task file: 3 training traces per label, one val and one test trace per label."""
    source = load_task("agent_monitor-extended")
    rows = []
    for split, count in PER_LABEL.items():
        for label in source.labels:
            picked = [e for e in source.split(split) if e.label == label][:count]
            rows += [{"id": e.id, "trace": e.raw.to_dict(), "label": label, "split": split} for e in picked]
    out = tmp_path_factory.mktemp("small-traces")
    (out / "small.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    spec = {"name": "small-traces", "description": "Say which state an AI agent's trace is in.", "input": "trace",
            "input_format": "trace", "render": "summary", "labels": dict(source.labels), "data": "small.jsonl"}
    (out / "small.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return out / "small.yaml"


@pytest.fixture(scope="module")
def task(task_file: Path):
    return load_task(str(task_file))


def expected_row(method, messages, trace, keys) -> np.ndarray:
    """The hidden reading's log-probabilities for these messages and the trace's figures, as the
    read-out should see them (figures counted on the trace itself, not read from the text)."""
    hidden = np.array([method.hidden.score(messages).probs[label] for label in method.labels])
    counted = figures(trace)
    return np.concatenate([np.log(np.clip(hidden, FLOOR, 1.0)), np.log1p([counted[key] for key in keys])])


def test_the_reading_combines_the_hidden_reading_and_the_figures_out_of_fold(embedded_path: Path, task) -> None:
    train = tuple((e.input, e.label) for e in task.split("train"))
    eng = make_engine(embedded_path, task, "hidden-figures", train)
    try:
        method = eng.scoring_method()
        query_example = task.split("val")[0]
        query = messages_for(task, query_example.input)
        got = eng.score_messages(query)
        readout, rows = method.readout_for(query)
        assert readout.keys == FIGURE_KEYS  # summary carries every figure
        expected = readout.probabilities(expected_row(method, query, query_example.raw, readout.keys), "unseen")
        assert [got.probs[label] for label in method.labels] == pytest.approx(list(expected), abs=1e-6)
        assert got.label == method.labels[int(np.argmax(expected))]

        own_example = task.split("train")[0]
        own = messages_for(task, own_example.input)
        key = same_text(own_example.input)
        # the training text's row holds the hidden reading's out-of-fold answer (its probe never saw the label)
        assert rows[key] == pytest.approx(expected_row(method, own, own_example.raw, readout.keys), abs=1e-6)
        assert method.hidden.probe_for(own).fit.weights_for(key) is not method.hidden.probe_for(own).fit.full
        answer = eng.score_messages(own)
        assert readout.fit.weights_for(key) is not readout.fit.full  # read by the read-out fitted without its fold
        held = readout.probabilities(rows[key], key)
        assert [answer.probs[label] for label in method.labels] == pytest.approx(list(held), abs=1e-6)
        full = readout.probabilities(rows[key], "unseen")
        assert not np.allclose(held, full)  # the fold's weights differ from the full fit's
    finally:
        eng.close()


def test_the_plain_rendering_is_refused_in_one_line(embedded_path: Path, task, task_file: Path) -> None:
    plain = load_task(str(task_file), render="plain")
    train = tuple((e.input, e.label) for e in plain.split("train"))
    with pytest.raises(SmolgepaError) as raised:
        StudentOptions(decode="hidden-figures", labels=tuple(plain.labels), train_examples=train)
    message = str(raised.value)
    assert "\n" not in message and "carries none" in message and "--render summary" in message
    with pytest.raises(SmolgepaError, match="carries none"):  # the engine's settings are checked the same way
        make_engine(embedded_path, plain, "hidden-figures", train)
    eng = make_engine(embedded_path, plain, "hidden", train)
    try:
        with pytest.raises(SmolgepaError, match="carries none"):  # a candidate's `Reading:` line is refused too
            eng.score_messages(messages_for(plain, plain.split("val")[0].input), reading="hidden-figures")
    finally:
        eng.close()
    command = [sys.executable, "-m", "smolgepa.cli", "eval", "--task", str(task_file), "--render", "plain",
               "--decode", "hidden-figures", "--split", "val"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--decode hidden-figures reads the evidence figures" in result.stderr


def test_the_saved_fit_restores_and_fits_nothing(embedded_spec: str, task, task_file: Path, tmp_path: Path) -> None:
    program = tmp_path / "program.json"
    make_program(task, "Say which state the agent is in.").save(str(program))
    traces = [task.split("val")[0].raw, task.split("test")[1].raw, task.split("train")[2].raw]  # the last one read out of fold

    def answers(notes: list[str]) -> tuple[list[tuple], int]:
        clf = smolgepa.load(program, task=str(task_file), student=embedded_spec, decode="hidden-figures", cache=False,
                            on_note=notes.append)
        try:
            found = [(a.label, a.scores) for a in (clf.predict(trace) for trace in traces)]
            return found, fits_of(clf.lm().engine).computed
        finally:
            clf.close()

    first_notes: list[str] = []
    first, computed = answers(first_notes)
    assert computed > 0 and fit_path(program).is_file()
    assert len(first_notes) == 1 and "no saved fit" in first_notes[0], first_notes
    again_notes: list[str] = []
    again, computed = answers(again_notes)
    assert again == first and computed == 0 and again_notes == []


def test_readings_offers_it_on_trace_tasks_rendered_with_the_figures_only(task_file: Path) -> None:
    from smolgepa.optimize.config import OptimizeConfig

    config = OptimizeConfig(task=str(task_file), decode="scored", readings=True)
    assert "hidden-figures" in config.offered_readings(load_task(str(task_file)))  # summary
    assert "hidden-figures" in config.offered_readings(load_task(str(task_file), render="annotated"))
    assert "hidden-figures" not in config.offered_readings(load_task(str(task_file), render="plain"))
    assert "hidden-figures" not in config.offered_readings(load_task("sentiment"))
    named = OptimizeConfig(task=str(task_file), decode="scored", readings=True, reading_choices=("hidden", "hidden-figures"))
    assert named.offered_readings(load_task(str(task_file))) == ("hidden", "hidden-figures")
    with pytest.raises(SmolgepaError, match="--readings hidden-figures: it reads the evidence figures") as raised:
        named.offered_readings(load_task("sentiment"))
    assert "\n" not in str(raised.value)
