"""Property tests of the other inputs a user or a model hands smolgepa: study files, trace records,
student and reflection specs, reflection answers. Any input gives a result or a one-line SmolgepaError
(which the CLI prints and exits 2 on; tests/test_task_loader_properties.py covers task files); any
other exception fails. Every input tried is counted in the session's `bad inputs` tally."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import tally

from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds.base import parse_model_spec
from smolgepa.optimize.cleaning import clean_reflection
from smolgepa.optimize.reflection import check_reflection
from smolgepa.studies.study_file import load_study
from smolgepa.traces.trace_model import Trace, parse_trace

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
PREFIXES = ("", "embedded", "embedded:", "gguf:", "openai:", "openai:http://", "llamacpp:", "lmstudio:",
            "ollama:", "vllm:", "litellm:", "cmd:", "cmd:\"", "fewshot", "rules", "fewshot:")
specs = st.tuples(st.sampled_from(PREFIXES), st.text(max_size=40)).map("".join)
STUDY_KEYS = ("name", "tasks", "task", "students", "student", "seeds", "seed", "reflections", "decodes", "settings",
              "budget", "extra")
TURN_KEYS = ("role", "content", "name", "arguments", "output", "error", "extra")


def one_line(error: SmolgepaError, *names: str) -> None:
    message = str(error)
    assert message and "\n" not in message, f"not one line: {message!r}"
    assert all(name in message for name in names), f"{message!r} does not name {names}"


def refused_or(value: Any, call: Any, *names: str) -> Any:
    """`call(value)`, or the SmolgepaError it raised (checked to be one line naming `names`)."""
    tally.add("bad inputs")
    try:
        return call(value)
    except SmolgepaError as error:
        one_line(error, *names)
        return error


@FAST
@given(specs)
def test_any_student_spec(text: str) -> None:
    refused_or(text, parse_model_spec)


@FAST
@given(specs)
def test_any_reflection_spec(text: str) -> None:
    result = refused_or(text, check_reflection)
    assert isinstance(result, SmolgepaError) or result == text.strip()


@FAST
@given(st.text(max_size=300), st.sampled_from(["stop", "length", "error", ""]))
def test_any_reflection_answer_is_cleaned_or_rejected_with_a_reason(text: str, finish: str) -> None:
    tally.add("bad inputs")
    cleaned = clean_reflection(text, finish)  # never raises: a bad answer is a rejected proposal
    assert (cleaned.instruction and cleaned.instruction.strip()) or cleaned.reason


@FAST
@given(json_values | st.dictionaries(st.sampled_from(["task", "turns", "extra"]), json_values, max_size=3)
       | st.fixed_dictionaries({"task": st.text(max_size=10), "turns": st.lists(
           st.dictionaries(st.sampled_from(TURN_KEYS), json_values, max_size=5), max_size=4)}))
def test_any_trace_record(value: Any) -> None:
    result = refused_or(value, lambda v: parse_trace(v, "traces.jsonl:7"), "traces.jsonl:7")
    assert isinstance(result, (Trace, SmolgepaError))


def load_study_text(content: str | bytes) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        return refused_or(path, load_study, str(path))


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_or_text_as_a_study_file(content: str | bytes) -> None:
    load_study_text(content)


@FAST
@given(st.dictionaries(st.sampled_from(STUDY_KEYS), json_values | st.lists(st.sampled_from(
    ["sentiment", "embedded", "fewshot", "scored", 0, 1, None]), max_size=3), max_size=5))
def test_study_fields_of_any_type(fields: dict[str, Any]) -> None:
    load_study_text(yaml.safe_dump({"name": "prop", "tasks": ["sentiment"], **fields}, allow_unicode=True))
