"""DSPy signatures shared by the adapter tests: a label signature and an Enum output."""

from __future__ import annotations

import enum
from typing import Literal

import dspy


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()
