"""What a reading fitted, saved beside a program (`program.fit.npz`, `NAME.fit.npz`) and restored by a new
classifier, through the real embedded SmolLM2-135M: the restored fit answers exactly as the fit it was
saved from and fits nothing again; another instruction, another model file or a damaged file refits,
with one line saying why, and answers as before."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import smolgepa
from smolgepa.adapter.program import make_program
from smolgepa.lm.fit_file import fit_path, fits_of, read_fits, write_fits
from smolgepa.tasks import load_task

TEXTS = ["I absolutely love this, it works perfectly.", "Terrible, it broke at once."]


def answers_of(clf) -> list[tuple[str | None, dict | None]]:
    """Labels and label scores for two unseen texts and one training text (read out of fold)."""
    own = clf.task.split("train")[0].input
    return [(a.label, a.scores) for a in (clf.predict(text) for text in [*TEXTS, own])]


def fresh(program: Path, spec: str, notes: list[str], decode: str = "stack"):
    """A new classifier of `program` on `sentiment` (10 training examples), its one-line notes in `notes`."""
    return smolgepa.load(program, task="sentiment", student=spec, decode=decode, cache=False, on_note=notes.append)


def computed(clf) -> int:
    """How many values the classifier's reading fitted itself (restored ones not counted)."""
    return fits_of(clf.lm().engine).computed


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("saved-fit") / "program.json"
    make_program(load_task("sentiment"), "Is the review positive, negative or neutral?").save(str(path))
    return path


@pytest.fixture(scope="module")
def first(program: Path, embedded_spec: str) -> list:
    """The answers of the first classifier, which fits the stack reading and saves it."""
    notes: list[str] = []
    clf = fresh(program, embedded_spec, notes)
    try:
        answers = answers_of(clf)
        assert computed(clf) > 0
    finally:
        clf.close()
    assert len(notes) == 1 and "no saved fit (program.fit.npz)" in notes[0], notes
    assert fit_path(program) == program.with_name("program.fit.npz") and fit_path(program).is_file()
    return answers


def test_a_saved_fit_answers_as_the_fit_it_was_saved_from_and_fits_nothing(program, embedded_spec, first) -> None:
    notes: list[str] = []
    clf = fresh(program, embedded_spec, notes)
    try:
        assert answers_of(clf) == first  # labels and scores, exactly
        assert computed(clf) == 0 and notes == []
    finally:
        clf.close()


def test_another_instruction_refits_with_one_line_and_saves_the_new_fit(program, embedded_spec, first,
                                                                        tmp_path: Path) -> None:
    other = tmp_path / "program.json"
    make_program(load_task("sentiment"), "Label the sentiment of the review.").save(str(other))
    fit_path(other).write_bytes(fit_path(program).read_bytes())  # the first instruction's fit
    notes: list[str] = []
    clf = fresh(other, embedded_spec, notes)
    try:
        answers_of(clf)
        assert computed(clf) > 0
    finally:
        clf.close()
    assert len(notes) == 1 and "another prompt (the instruction changed)" in notes[0], notes
    again: list[str] = []
    clf = fresh(other, embedded_spec, again)
    try:
        answers_of(clf)
        assert computed(clf) == 0 and again == []  # the refit was saved
    finally:
        clf.close()


@pytest.mark.slow
def test_another_model_file_or_reading_refits_with_one_line_and_answers_as_before(program, embedded_spec, first,
                                                                                  tmp_path: Path) -> None:
    copy = tmp_path / "program.json"
    copy.write_bytes(program.read_bytes())
    clf = fresh(program, embedded_spec, [])
    try:
        clf.lm()  # the student, with its saved fit attached
        header = clf.saved_fit.header()
    finally:
        clf.close()
    values, reason = read_fits(fit_path(program), header)
    assert values is not None and reason == ""
    write_fits(fit_path(copy), replace(header, model="gguf:sha256:" + "0" * 64 + "|llama-cpp-python:0"), values)
    notes: list[str] = []
    clf = fresh(copy, embedded_spec, notes)
    try:
        assert answers_of(clf) == first
        assert computed(clf) > 0
    finally:
        clf.close()
    assert len(notes) == 1 and "another model file (gguf:sha256:000000000000" in notes[0], notes

    other_reading: list[str] = []
    clf = fresh(copy, embedded_spec, other_reading, decode="hidden")
    try:
        clf.predict(TEXTS[0])
    finally:
        clf.close()
    assert len(other_reading) == 1 and "other reading settings (decode" in other_reading[0], other_reading


@pytest.mark.slow
def test_a_damaged_fit_file_refits_with_one_line_and_answers_as_before(program, embedded_spec, first,
                                                                       tmp_path: Path) -> None:
    copy = tmp_path / "program.json"
    copy.write_bytes(program.read_bytes())
    saved = fit_path(program).read_bytes()
    damaged = bytearray(saved)
    middle = len(damaged) // 2
    damaged[middle:middle + 64] = b"\x00" * 64
    for broken, why in [(bytes(damaged), "cannot be read"), (saved[: len(saved) // 3], "cannot be read"),
                        (b"", "cannot be read")]:
        fit_path(copy).write_bytes(broken)
        notes: list[str] = []
        clf = fresh(copy, embedded_spec, notes)
        try:
            assert answers_of(clf) == first
            assert computed(clf) > 0
        finally:
            clf.close()
        assert len(notes) == 1 and why in notes[0], notes


def test_predict_says_nothing_when_the_saved_fit_serves(program, embedded_spec, first) -> None:
    line = '{"id": "a", "text": "I absolutely love this, it works perfectly."}\n'
    command = [sys.executable, "-m", "smolgepa.cli", "predict", str(program), "-", "--task", "sentiment",
               "--student", embedded_spec, "--decode", "stack", "--no-cache"]
    result = subprocess.run(command, input=line, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert '"label": "%s"' % first[0][0] in result.stdout
    assert "fitting the reading" not in result.stderr
