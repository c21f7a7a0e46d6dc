"""`--decode channel`: the noisy channel (Min et al. 2022, "Noisy Channel Language Model Prompting
for Few-Shot Text Classification"). Instead of P(label | text), each label is scored by
log P(text | label): the label is stated first, in a user turn ("Write a positive text."), and the
input is the assistant's reply ("Text: ..."); the sum of the input's token log-probs (the "Text:" prefix
is given, not scored) is the label's score, and the argmax label is the answer. Demonstrations
(the instruction's Examples block, DSPy demos) are turned round the same way. Labels whose prior
the model favours no longer win by default: every label must explain the whole text.

Cost: the labels' prompts are evaluated together in one llama_decode call, each in its own KV
sequence kept between calls (`LabelScorer.reply_logprobs`); as the label turns do not change from one
query to the next, a query costs the input's tokens once per label, with logits at each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smolgepa.lm.readings.scores import LabelScores, argmax, softmax
from smolgepa.lm.readings.protocol import reply_each
from smolgepa.lm.readings.turns import Prompt, Turn, read_prompt


def label_turn(query: Turn, label: str) -> str:
    """The user turn that states the label, asking for an input of it: "Write a positive text." (the
    noun is the input's prefix). Chosen on sentiment-extended TRAIN over "Label: positive": 34/60
    against 28/60 right; without the system message, 34/60 too, but then the instruction (what GEPA
    optimises) would play no part."""
    noun = query.prefix.rstrip(":").strip().lower() if query.structured else "text"
    return f"Write a {label} {noun or 'text'}."


def text_reply(turn: Turn) -> tuple[str, str]:
    """The assistant reply holding the input: (given prefix, scored text), e.g. ("Text:", " great film")."""
    return (turn.prefix, f" {turn.value}") if turn.structured else ("", turn.content)


def channel_messages(prompt: Prompt, label: str) -> list[dict[str, str]]:
    """The channel prompt for `label`, up to the user turn that names it (the reply is scored)."""
    messages = [dict(m) for m in prompt.system]
    for turn, demo_label in prompt.demos:
        prefix, text = text_reply(turn)
        messages += [{"role": "user", "content": label_turn(turn, demo_label)},
                     {"role": "assistant", "content": prefix + text}]
    messages.append({"role": "user", "content": label_turn(prompt.query, label)})
    return messages


class ChannelMethod:
    """log P(input | label) per label (see the module docstring); `scorer` is any `methods.LabelScoring`."""

    def __init__(self, scorer: Any, labels: Sequence[str]) -> None:
        self.scorer = scorer
        self.labels = tuple(labels)

    def text_logprob(self, prompt: Prompt, label: str) -> float:
        """The summed log-probs of the query's text tokens after the channel prompt for `label`."""
        prefix, text = text_reply(prompt.query)
        return self.scorer.reply_logprob(channel_messages(prompt, label), prefix, text)

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        prompt = read_prompt(messages, "channel")
        prefix, text = text_reply(prompt.query)
        batch = [channel_messages(prompt, label) for label in self.labels]
        logprobs = dict(zip(self.labels, reply_each(self.scorer, batch, prefix, text)))
        return LabelScores(argmax(logprobs), logprobs, softmax(logprobs))
