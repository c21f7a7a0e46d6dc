"""The PlainTextAdapter in an ordinary DSPy program with the real embedded model."""

from __future__ import annotations

from typing import Literal

import dspy
import pytest

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm import make_lm


@pytest.fixture(scope="module")
def embedded_lm() -> dspy.LM:
    return make_lm("embedded")


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


def test_plain_dspy_program_gets_a_label_or_none_with_raw_text(embedded_lm: dspy.LM) -> None:
    dspy.configure(lm=embedded_lm, adapter=PlainTextAdapter())
    classify = dspy.Predict(Sentiment)
    for text in ["I absolutely love this product!", "This is terrible, it broke after one use."]:
        result = classify(text=text)
        assert result.sentiment in {"positive", "negative", "neutral", None}
        assert isinstance(result.raw, str) and result.raw.strip()
    # the LM was really called, with our plain chat messages (no field markers, no JSON)
    last = embedded_lm.history[-1]
    sent = str(last.get("messages") or last.get("prompt") or last)
    assert "[[ ##" not in sent and "json" not in sent.lower()


def test_format_is_short_plain_chat() -> None:
    messages = PlainTextAdapter().format(Sentiment, [{"text": "Great!", "sentiment": "positive"}], {"text": "Bad."})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"].startswith("Classify the sentiment of the text.")
    assert "positive, negative, neutral" in messages[0]["content"]
    assert messages[2]["content"] == "positive"
    assert messages[-1]["content"] == "Text: Bad.\nSentiment:"


def test_parse_never_raises_on_empty_completion() -> None:
    parsed = PlainTextAdapter().parse(Sentiment, "")
    assert parsed["sentiment"] is None and parsed["raw"] == ""


def test_examples_block_in_instruction_becomes_chat_turns() -> None:
    from smolgepa.candidate.instruction import Shot, render_instruction

    instruction = render_instruction(
        "Classify the sentiment of the text.",
        [Shot("It broke on day one.", "negative"), Shot("Lovely!", "positive")],
    )
    signature = Sentiment.with_instructions(instruction)
    messages = PlainTextAdapter().format(signature, [], {"text": "Fine."})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Examples:" not in messages[0]["content"]
    assert messages[1]["content"] == "Text: It broke on day one.\nSentiment:"
    assert messages[2]["content"] == "negative"
    # an examples block with labels the task does not have stays plain instruction text
    odd = Sentiment.with_instructions(render_instruction("Classify.", [Shot("x", "maybe")]))
    assert len(PlainTextAdapter().format(odd, [], {"text": "y"})) == 2
