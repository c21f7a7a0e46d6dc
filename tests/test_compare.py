"""`smolgepa compare`: DSPy's few-shot optimizers on the real embedded student, the 22-example sentiment task."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import dspy
import numpy as np
import pytest

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.evaluation.dspy_compare import (
    CompareConfig,
    MethodResult,
    benchmark_line,
    compare,
    parse_methods,
    static_demos,
)
from smolgepa.errors import SmolgepaError
from smolgepa.candidate.instruction import Shot, render_instruction, split_instruction
from smolgepa.lm import StudentOptions, make_lm
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task
from smolgepa.evaluation.tfidf import TfidfEmbedder

CONFIG = CompareConfig(max_labeled_demos=3, max_bootstrapped_demos=1, num_candidate_programs=1, knn_demos=2)


@pytest.fixture(scope="module")
def task():  # noqa: ANN201 - Task
    return load_task("sentiment")


@pytest.fixture(scope="module")
def student(task) -> dspy.LM:  # noqa: ANN001
    return make_lm("embedded", StudentOptions(decode="scored", labels=tuple(task.labels)))


@pytest.fixture(scope="module")
def results(task, student: dspy.LM) -> dict[str, MethodResult]:  # noqa: ANN001
    return {result.method: result for result in compare(task, student, CONFIG, student="embedded")}


@pytest.mark.slow
def test_every_method_reports_the_whole_test_split(task, results: dict[str, MethodResult]) -> None:  # noqa: ANN001
    assert list(results) == ["seed", "dspy_labeled", "dspy_bootstrap_rs", "dspy_knn"]
    test_ids = [example.id for example in task.split("test")]
    for result in results.values():
        report = result.report
        assert report.split == "test" and report.n == len(test_ids) == 6
        assert [p.id for p in report.predictions] == test_ids
        low, high = report.ci95
        assert low <= report.accuracy <= high
        assert all(p.predicted in task.labels for p in report.predictions)  # scored decoding always gives a label
        line = benchmark_line(task.name, result)
        assert f"method={result.method} " in line and " n=6 " in line and line.startswith("ACCURACY task=sentiment ")


@pytest.mark.slow
def test_compiled_programs_carry_demos_and_are_the_ones_evaluated(
    task, results: dict[str, MethodResult]  # noqa: ANN001
) -> None:
    train = {example.input: example.label for example in task.split("train")}
    assert set(results["seed"].demo_turns) == {0}

    labeled = results["dspy_labeled"]
    demos = static_demos(labeled.program)
    assert len(demos) == CONFIG.max_labeled_demos
    assert all(train[demo["input"]] == demo["label"] for demo in demos)  # gold-labelled training examples
    # every test prompt carried them: the seed program (no demos) was not what got evaluated
    assert set(labeled.demo_turns) == {CONFIG.max_labeled_demos}

    search = results["dspy_bootstrap_rs"]
    assert len(search.program.candidate_programs) == 3 + CONFIG.num_candidate_programs
    assert set(search.demo_turns) == {len(static_demos(search.program))}
    assert all(train[demo["input"]] == demo["label"] for demo in static_demos(search.program))

    knn = results["dspy_knn"]
    assert static_demos(knn.program) == []  # KNN picks demos per input, at answer time
    assert set(knn.demo_turns) == {CONFIG.knn_demos}


@pytest.mark.slow
def test_demos_reach_the_student_as_chat_turns(results: dict[str, MethodResult], student: dspy.LM) -> None:
    predictor = results["dspy_labeled"].program.predictors()[0]
    messages = PlainTextAdapter().format(predictor.signature, predictor.demos, {"input": "It was fine."})
    k = len(predictor.demos)
    assert [m["role"] for m in messages] == ["system", *(["user", "assistant"] * k), "user"]
    for demo, (user, assistant) in zip(predictor.demos, zip(messages[1:-1:2], messages[2:-1:2], strict=True),
                                       strict=True):
        assert user["content"] == f"Text: {demo.input}\nLabel:"
        assert assistant["content"] == demo.label
    # exactly the turns an instruction's `Examples:` block gives
    base = predictor.signature.instructions
    block = render_instruction(base, [Shot(demo.input, demo.label) for demo in predictor.demos])
    assert split_instruction(block)[1]  # the block parses back into shots
    as_block = PlainTextAdapter().format(predictor.signature.with_instructions(block), [], {"input": "It was fine."})
    assert as_block == messages
    # and the student really received such turns (the last call was a KNN answer with k demos)
    sent = student.history[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", *(["user", "assistant"] * CONFIG.knn_demos), "user"]


def test_adapter_skips_demos_without_a_usable_label(task) -> None:  # noqa: ANN001
    signature = make_program(task).signature
    demos = [
        dspy.Example(input="Great!", label="positive"),
        dspy.Example(input="Meh.", label=None),  # an unread bootstrapped answer
        dspy.Example(input="Odd.", label="sarcastic"),  # not a label of the task
        dspy.Example(input="No label field."),
    ]
    messages = PlainTextAdapter().format(signature, demos, {"input": "Bad."})
    assert [m["content"] for m in messages[1:]] == ["Text: Great!\nLabel:", "positive", "Text: Bad.\nLabel:"]


def test_tfidf_ranks_shared_rare_words_first() -> None:
    texts = ["the cake was wonderful", "the service was awful", "the weather is grey"]
    embed = TfidfEmbedder().fit(texts)
    rows = embed(texts)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    query = embed(["awful awful service"])[0]
    assert int(np.argmax(rows @ query)) == 1
    # a word every text shares carries no weight; unseen words are ignored
    assert not embed(["the"]).any() and not embed(["zebra"]).any()
    # DSPy's KNN writes texts as "input: ..."; the shared key must not change the ranking
    keyed = TfidfEmbedder().fit([f"input: {t}" for t in texts])
    assert int(np.argmax(keyed([f"input: {t}" for t in texts]) @ keyed(["input: grey weather"])[0])) == 2


def test_methods_and_budgets_are_checked() -> None:
    from smolgepa.cli.compare import DEFAULT_METHODS
    from smolgepa.evaluation.dspy_compare import METHODS

    assert parse_methods(DEFAULT_METHODS) == METHODS
    assert parse_methods("dspy_knn, labeled,knn") == ("knn", "labeled")
    with pytest.raises(SmolgepaError, match="Available: labeled, bootstrap_rs, knn"):
        parse_methods("labeled,mipro")
    with pytest.raises(SmolgepaError, match="--max-bootstrapped-demos"):
        CompareConfig(max_labeled_demos=2, max_bootstrapped_demos=3)
    with pytest.raises(SmolgepaError, match="--knn-demos"):
        CompareConfig(knn_demos=0)


def test_missing_validation_split_is_an_error_not_a_fallback(task, student: dspy.LM) -> None:  # noqa: ANN001
    no_val = task.with_examples([example for example in task.examples if example.split != "val"])
    with pytest.raises(SmolgepaError, match="no val examples"):
        compare(no_val, student, CompareConfig(methods=("bootstrap_rs",)))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "smolgepa.cli", "compare", *args],
                          capture_output=True, text=True, timeout=600, env=env)


def test_cli_prints_table_and_benchmark_lines() -> None:
    result = run_cli("--task", "sentiment", "--decode", "scored", "--methods", "labeled,knn",
                     "--max-labeled-demos", "2", "--max-bootstrapped-demos", "1", "--knn-demos", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("task sentiment | student embedded | split test | decode scored")
    # stdout is only the result: DSPy's own progress prints (KNN's come at answer time) go to stderr
    assert all(not line or line.startswith(("task ", "|", "ACCURACY ")) for line in lines), result.stdout
    assert "| dspy_labeled" in result.stdout and "| dspy_knn" in result.stdout
    pattern = re.compile(
        r"^ACCURACY task=sentiment method=(\S+) gepa=no lm=yes split=test acc=(0\.\d{3}|1\.000) n=6 "
        r"ci=(\d\.\d{3})-(\d\.\d{3}) min_recall=(\d\.\d{3}) seeds=1$", re.MULTILINE)
    found = pattern.findall(result.stdout)
    assert [row[0] for row in found] == ["seed", "dspy_labeled", "dspy_knn"]
    for _, acc, low, high, _ in found:
        assert float(low) <= float(acc) <= float(high)


def test_cli_bad_method_is_one_line_exit_2() -> None:
    result = run_cli("--task", "sentiment", "--methods", "labeled,bogus")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "'bogus'" in result.stderr
