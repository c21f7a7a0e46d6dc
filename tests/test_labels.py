"""The label parse ladder on the completions tiny models actually produce."""

import pytest

from smolgepa.evaluation.labels import parse_label

SENTIMENT = ["positive", "negative", "neutral"]
MONITOR = ["doom_loop", "api_confusion", "verbose_thinking", "making_progress"]


@pytest.mark.parametrize(
    ("text", "label", "method"),
    [
        ("negative", "negative", "exact"),
        ("  Positive.\n", "positive", "exact"),
        ("Label: NEUTRAL", "neutral", "exact"),
        ("Sentiment: **Negative**", "negative", "exact"),
        ("negative - the writer is upset", "negative", "leading"),
        ("Negative. It is not positive at all.", "negative", "leading"),
        ("I would say this is neutral overall", "neutral", "word"),
        ("positve", "positive", "fuzzy"),
        ("good", "positive", "synonym"),
    ],
)
def test_parses_label(text: str, label: str, method: str) -> None:
    parsed = parse_label(text, SENTIMENT)
    assert (parsed.label, parsed.method) == (label, method)
    assert parsed.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "DO NOT echo the input",
        "positive or negative",
        "It could be positive, negative or neutral.",
        "The writer describes the weather.",
    ],
)
def test_unreadable_completions_give_none_and_keep_raw(text: str) -> None:
    parsed = parse_label(text, SENTIMENT)
    assert parsed.label is None
    assert parsed.raw == text


def test_echoed_input_is_not_read_as_the_answer() -> None:
    source = "My positive experience ended when it broke."
    assert parse_label(source, SENTIMENT, input_text=source).label is None
    assert parse_label(source + " negative", SENTIMENT, input_text=source).label == "negative"


def test_echoed_instruction_listing_all_labels_is_unparsed() -> None:
    echoed = "Classify the text as positive, negative or neutral. Answer with one label: positive, negative, neutral."
    assert parse_label(echoed, SENTIMENT).label is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("doom_loop", "doom_loop"),
        ("Doom loop", "doom_loop"),
        ("api-confusion: the agent keeps calling the wrong tool", "api_confusion"),
        ("The agent is making progress.", "making_progress"),
        ("VerboseThinking", "verbose_thinking"),
    ],
)
def test_multiword_labels_in_any_spelling(text: str, label: str) -> None:
    assert parse_label(text, MONITOR).label == label
