"""A student kind added as docs/extending.md shows (one file, one registry line) works through the normal
spec and CLI paths; the built-in kinds come from the same registry."""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from smolgepa.cli import main
from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds import spec_forms, student_kinds, unregister_student_kind
from smolgepa.lm.kinds.base import parse_model_spec
from smolgepa.optimize import OptimizeConfig, optimize
from smolgepa.tasks import load_task

EXTENDING_DOC = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text(encoding="utf-8")


def readme_example() -> str:
    section = EXTENDING_DOC.split("## Adding a student kind", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)[0]


@pytest.fixture
def fixed_kind() -> Iterator[types.ModuleType]:
    """The example of docs/extending.md, loaded as the module a user would write (`my_students.py`)."""
    module = types.ModuleType("my_students")
    exec(compile(readme_example(), "my_students.py", "exec"), module.__dict__)  # noqa: S102 - our own docs
    try:
        yield module
    finally:
        unregister_student_kind("fixed")


def test_the_readme_example_is_about_ten_lines() -> None:
    lines = [line for line in readme_example().splitlines() if line.strip()]
    assert len(lines) <= 12 and sum("register_student_kind(" in line for line in lines) == 1


def test_a_registered_kind_answers_through_the_eval_command(
    fixed_kind: types.ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--task", "sentiment", "--student", "fixed:positive", "--split", "val", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    gold = [example.label for example in load_task("sentiment").split("val")]
    assert report["student"] == "fixed:positive" and report["n"] == len(gold)
    assert {example["raw"] for example in report["examples"]} == {"positive"}
    assert report["correct"] == gold.count("positive")  # a fixed answer is right exactly on its own label
    assert main(["eval", "--task", "sentiment", "--student", "fixed:positive", "--decode", "scored"]) == 2
    assert "--decode scored is not available for fixed students; they can do: free." in capsys.readouterr().err
    assert main(["eval", "--task", "sentiment", "--student", "fixed:positive", "--timeout", "5"]) == 2
    assert "--timeout applies only to a student behind a server" in capsys.readouterr().err


def test_a_registered_kind_runs_an_optimization_and_resumes_from_its_cache(
    fixed_kind: types.ModuleType, tmp_path: Path
) -> None:
    config = OptimizeConfig(task="sentiment", student="fixed:negative", budget=12, run_dir=str(tmp_path / "run"))
    first = optimize(config)
    assert first.summary["status"] == "finished" and first.summary["calls"]["student"]["calls"] > 0
    again = optimize(config.with_changes(resume=True))
    calls = again.summary["calls"]["student"]
    assert calls["calls"] == calls["cached"]  # the spec is the kind's identity in the run cache's keys


def test_registered_kinds_are_listed_in_errors(fixed_kind: types.ModuleType) -> None:
    assert parse_model_spec("fixed:neutral").model == "neutral"
    with pytest.raises(SmolgepaError, match=r"Unknown student 'nosuch:x'\. Available: embedded, gguf:PATH, .*fixed:LABEL"):
        parse_model_spec("nosuch:x")
    with pytest.raises(SmolgepaError, match="A student kind named 'fixed' is already registered"):
        fixed_kind.register_student_kind(fixed_kind.FixedKind())


def test_built_in_kinds_come_from_the_one_registry() -> None:
    assert [kind.name for kind in student_kinds()] == ["embedded", "gguf", "openai", "lmstudio", "ollama",
                                                       "llamacpp", "vllm"]
    assert spec_forms()[:2] == ("embedded", "gguf:PATH") and "fixed:LABEL" not in spec_forms()


def test_a_registered_reflection_kind_is_read_by_specs_studies_and_messages(tmp_path: Path) -> None:
    from smolgepa.optimize.cache import ReflectionReply
    from smolgepa.optimize.reflection import (ReflectionKind, ReflectionSettings, make_backend, reflection_forms,
                                              register_reflection_kind, unregister_reflection_kind)
    from smolgepa.studies.study_file import load_study

    class EchoKind(ReflectionKind):  # `echo:TEXT`: always proposes TEXT
        name, forms = "echo", ("echo:TEXT",)

        def backend(self, rest, text, settings):  # noqa: ANN001, ANN201
            return lambda prompt: ReflectionReply(text=rest)

    register_reflection_kind(EchoKind())
    try:
        assert make_backend("echo:Say the label.", ReflectionSettings())("any prompt").text == "Say the label."
        assert reflection_forms()[-1] == "echo:TEXT"
        study = tmp_path / "study.yaml"
        study.write_text("tasks: [sentiment]\nstudents: [embedded]\nreflection: 'echo:Be brief.'\n", encoding="utf-8")
        assert load_study(study).cells[0].config.reflection == "echo:Be brief."
        with pytest.raises(SmolgepaError, match=r"Unknown reflection model 'nosuch:x'\. Available: .*echo:TEXT"):
            make_backend("nosuch:x", ReflectionSettings())
    finally:
        unregister_reflection_kind("echo")
