"""The per-type parse ladders and the `Field: value` layout, on given completions (no model)."""

from __future__ import annotations

from typing import Literal, Optional

import dspy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smolgepa.adapter.plain_text import PARSE_METHODS, RAW_FIELD, RAW_FIELDS, PlainTextAdapter, is_label_signature
from smolgepa.adapter.field_layout import FieldDialog, split_fields
from smolgepa.adapter.field_parsing import parse_value
from support.signatures import Mood, Sentiment


class Checks(dspy.Signature):
    """Check the text against the question."""

    text: str = dspy.InputField()
    question: str = dspy.InputField()
    ok: bool = dspy.OutputField()
    count: int = dspy.OutputField()
    score: float = dspy.OutputField()
    mood: Mood = dspy.OutputField()


COT = dspy.ChainOfThought(Sentiment).predict.signature


@pytest.mark.parametrize(("text", "annotation", "value"), [
    ("Positive", str, "Positive"),
    ('  "a quoted answer"  ', str, "a quoted answer"),
    ("Yes, it is.", bool, True),
    ("no", bool, False),
    ("I think that is true", bool, True),
    ("It is false, not true", bool, None),
    ("The sky is blue.", bool, None),
    ("42", int, 42),
    ("There are 1,234 apples", int, 1234),
    ("2 + 2 = 4", int, 4),
    ("three", int, 3),
    ("2.5", int, None),
    ("85%", float, 85.0),
    ("about -2.5 degrees", float, -2.5),
    ("no number here", float, None),
    ("The answer is negative.", Literal["positive", "negative"], "negative"),
    ("happy", Mood, Mood.HAPPY),
    ("SAD", Mood, Mood.SAD),
    ("1", Literal[1, 2], 1),
    ("7", Optional[int], 7),
    ('["a", "b"]', list[str], ["a", "b"]),
    ("Here: {\"x\": 1}", dict[str, int], {"x": 1}),
    ("not json", list[int], None),
    ("", str, None),
])
def test_each_type_has_a_ladder(text: str, annotation: object, value: object) -> None:
    parsed = parse_value(text, annotation)
    assert parsed.value == value
    assert parsed.raw == text
    assert (parsed.method == "unparsed" or parsed.method == "empty") == (value is None)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_no_completion_makes_the_adapter_raise(text: str) -> None:
    for signature in (Sentiment, COT, Checks, dspy.Signature("text -> sentiment")):
        parsed = PlainTextAdapter().parse(signature, text)
        assert set(signature.output_fields) <= set(parsed) and parsed[RAW_FIELD] == text


def test_label_signature_keeps_its_layout_and_others_get_the_field_layout() -> None:
    assert is_label_signature(Sentiment)
    assert not is_label_signature(COT) and not is_label_signature(dspy.Signature("text -> sentiment"))
    messages = PlainTextAdapter().format(COT, [{"text": "Nice", "sentiment": "positive"}], {"text": "Great!"})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "Reasoning:\nSentiment: one of positive, negative, neutral" in messages[0]["content"]
    assert messages[1]["content"] == "Text: Nice\nSentiment:"  # a demo without reasoning starts at its answer
    assert messages[2]["content"] == "positive"
    assert messages[-1]["content"] == "Text: Great!\nReasoning:"


def test_several_inputs_and_a_full_demo_in_the_field_layout() -> None:
    demo = {"text": "Two cats.", "question": "How many?", "ok": True, "count": 2, "score": 0.9, "mood": Mood.HAPPY}
    messages = PlainTextAdapter().format(Checks, [demo], {"text": "One dog.", "question": "How many?"})
    assert "Ok: yes or no\nCount: a whole number\nScore: a number\nMood: one of happy, sad" in messages[0]["content"]
    assert messages[1]["content"] == "Text: Two cats.\nQuestion: How many?\nOk:"
    assert messages[2]["content"] == "True\nCount: 2\nScore: 0.9\nMood: happy"
    assert messages[3]["content"] == "Text: One dog.\nQuestion: How many?\nOk:"


def test_chain_of_thought_reads_reasoning_and_the_label_from_one_completion() -> None:
    parsed = PlainTextAdapter().parse(COT, "The text is glad.\n**Sentiment:** Positive.")
    assert parsed["reasoning"] == "The text is glad." and parsed["sentiment"] == "positive"
    assert parsed[PARSE_METHODS] == {"reasoning": "text", "sentiment": "exact"}
    assert parsed[RAW_FIELDS]["sentiment"].strip() == "** Positive."


def test_an_unreadable_field_is_none_and_its_text_is_kept() -> None:
    parsed = PlainTextAdapter().parse(Checks, "maybe\nCount: lots\nScore: 0.5\nMood: sad")
    assert (parsed["ok"], parsed["count"], parsed["score"], parsed["mood"]) == (None, None, 0.5, Mood.SAD)
    assert parsed[RAW_FIELDS]["ok"].strip() == "maybe" and parsed[RAW_FIELDS]["count"].strip() == "lots"
    assert parsed[PARSE_METHODS]["count"] == "unparsed"


def test_split_fields_skips_a_repeated_cue_and_marks_a_skipped_first_field() -> None:
    assert split_fields(COT, "reasoning", "Reasoning: because\nSentiment: negative") == {
        "reasoning": " because\n", "sentiment": " negative"}
    assert split_fields(COT, "reasoning", "Sentiment: negative") == {"reasoning": "", "sentiment": " negative"}


def test_dialog_asks_for_each_missing_field_with_what_was_written() -> None:
    base = [{"role": "system", "content": "x"}, {"role": "user", "content": "Text: hi"}]
    dialog = FieldDialog(COT, base, "hi")
    assert dialog.messages()[-1]["content"] == "Text: hi\nReasoning:"
    dialog.add("It greets.")
    assert not dialog.done
    assert dialog.messages()[-1]["content"] == "Text: hi\nReasoning: It greets.\nSentiment:"
    dialog.add("neutral")
    assert dialog.done and dialog.values()["sentiment"].value == "neutral"
    assert dialog.transcript == ["It greets.", "Sentiment: neutral"]


class ScriptedLM(dspy.BaseLM):
    """Answers each call with the next scripted text and keeps the messages it was sent."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__(model="scripted")
        self.answers, self.sent = list(answers), []

    def forward(self, prompt: str | None = None, messages: list | None = None, **kwargs: object) -> object:
        raise NotImplementedError

    def __call__(self, prompt: str | None = None, messages: list | None = None, **kwargs: object) -> list[str]:
        self.sent.append(messages)
        return [self.answers.pop(0)]


def test_adapter_completes_field_by_field_and_stops_when_all_are_written() -> None:
    lm = ScriptedLM(["Because it is glad.", "positive"])
    [result] = PlainTextAdapter()(lm, {}, COT, [], {"text": "Yay"})
    assert (result["reasoning"], result["sentiment"]) == ("Because it is glad.", "positive")
    assert result[RAW_FIELD] == "Because it is glad.\nSentiment: positive"
    assert lm.sent[1][-1]["content"].endswith("Reasoning: Because it is glad.\nSentiment:")
    lm = ScriptedLM(["Glad.\nSentiment: positive"])
    [result] = PlainTextAdapter()(lm, {}, COT, [], {"text": "Yay"})
    assert result["sentiment"] == "positive" and len(lm.sent) == 1
