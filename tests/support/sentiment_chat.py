"""The sentiment chat request the server tests send: one instruction, short texts, greedy, one line."""

from __future__ import annotations

from dspy.lm15 import Config, Message, Request

INSTRUCTION = "Classify the sentiment of the text. Answer with one word: positive, negative or neutral."
TEXTS = [
    "I absolutely love this product!",
    "This is terrible, it broke after one use.",
    "The package arrived on Tuesday.",
    "Best purchase I have made all year.",
    "I want my money back.",
    "The manual has twelve pages.",
    "Great value and fast shipping.",
    "It stopped working after a week.",
    "The box is blue.",
    "Would buy again without a doubt.",
    "Worst customer service ever.",
    "The store opens at nine.",
]


def chat(text: str, max_tokens: int = 6) -> Request:
    """A greedy chat request classifying `text`, stopped at the end of the line."""
    return Request(
        model="smolgepa/server",
        messages=(Message.user(text),),
        system=INSTRUCTION,
        config=Config(temperature=0.0, max_tokens=max_tokens, stop=("\n",)),
    )
