"""Every signature a small model can answer, through the PlainTextAdapter and a real student: the
embedded model and a real llama.cpp server. Nothing raises; every field is read when the model wrote
something readable for it; the failures of issue 20 stay fixed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import dspy
import pytest

from smolgepa.adapter.plain_text import RAW_FIELDS, PlainTextAdapter
from smolgepa.adapter.field_parsing import parse_value
from support.signatures import Mood, Sentiment
from smolgepa.lm import make_lm

LABELS = ("positive", "negative", "neutral")


class MoodOf(dspy.Signature):
    """Say how the writer feels."""

    text: str = dspy.InputField()
    mood: Mood = dspy.OutputField()


class Review(dspy.Signature):
    """Read the review and the product name."""

    review: str = dspy.InputField()
    product: str = dspy.InputField()
    summary: str = dspy.OutputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()
    recommend: bool = dspy.OutputField()


CASES: dict[str, tuple[Any, dict[str, str]]] = {
    "str": (dspy.Predict("text -> sentiment"), {"text": "I absolutely love this product!"}),
    "bool": (dspy.Predict("question -> answer: bool"), {"question": "Is fire hot? Answer yes or no."}),
    "int": (dspy.Predict("question -> answer: int"), {"question": "What is 2 plus 2?"}),
    "float": (dspy.Predict("question, context -> answer: float"),
              {"question": "What is the price?", "context": "It costs 3.5 dollars."}),
    "enum": (dspy.Predict(MoodOf), {"text": "I am so glad today!"}),
    "label": (dspy.Predict(Sentiment), {"text": "This is terrible, it broke after one use."}),
    "chain_of_thought": (dspy.ChainOfThought(Sentiment), {"text": "I absolutely love this product!"}),
    "several_outputs": (dspy.Predict(Review), {"review": "Works well, great value.", "product": "kettle"}),
}


@pytest.fixture(scope="module", params=["embedded", "llamacpp"])
def student(request: pytest.FixtureRequest) -> Iterator[dspy.LM]:
    """The embedded student on the suite's model file (the rehearsal's in the numerics rehearsal), or the server."""
    if request.param == "embedded":
        yield make_lm(request.getfixturevalue("embedded_spec"))
    else:
        yield make_lm(f"llamacpp:{request.getfixturevalue('llama_server').base_url}")


def _check_fields(program: Any, result: dspy.Prediction) -> None:
    """Every output field is there, and is what its ladder reads from the text written for it."""
    signature = program.predict.signature if hasattr(program, "predict") else program.signature
    assert isinstance(result.raw, str)
    for name, field in signature.output_fields.items():
        assert name in result
        if name in result.get(RAW_FIELDS, {}):
            assert result[name] == parse_value(result[RAW_FIELDS][name], field.annotation).value


@pytest.mark.numerics
@pytest.mark.parametrize("case", list(CASES))
def test_every_signature_parses_each_written_field_and_never_raises(student: dspy.LM, case: str) -> None:
    program, inputs = CASES[case]
    with dspy.context(lm=student, adapter=PlainTextAdapter()):
        result = program(**inputs)
    _check_fields(program, result)


@pytest.mark.numerics
def test_issue_20_str_output_is_the_models_text(student: dspy.LM) -> None:
    with dspy.context(lm=student, adapter=PlainTextAdapter()):
        result = dspy.Predict("text -> sentiment")(text="I absolutely love this product!")
    assert isinstance(result.sentiment, str) and result.sentiment.strip()


@pytest.mark.numerics
def test_issue_20_bool_output_is_read(student: dspy.LM) -> None:
    with dspy.context(lm=student, adapter=PlainTextAdapter()):
        answers = [dspy.Predict("question -> answer: bool")(question=q).answer
                   for q in ("Is fire hot? Answer yes or no.", "Is ice hot? Answer yes or no.")]
    assert all(isinstance(answer, bool) for answer in answers)


def test_issue_20_chain_of_thought_has_reasoning_and_the_label(student: dspy.LM) -> None:
    with dspy.context(lm=student, adapter=PlainTextAdapter()):
        result = dspy.ChainOfThought(Sentiment)(text="I absolutely love this product!")
    assert result.sentiment in (*LABELS, None)  # no AttributeError: the label is not read from `reasoning`
    assert isinstance(result.reasoning, str | None)
    assert set(result[RAW_FIELDS]) == {"reasoning", "sentiment"}
