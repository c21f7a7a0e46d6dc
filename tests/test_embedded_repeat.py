"""The embedded student's answer depends only on the messages, not on what it was asked before:
an exact repeat of the last prompt gives the first answer again (llama.cpp evaluates a lone token
with other kernels than a batch; see smolgepa.lm.local.embedded.forget_prompt_end)."""

from __future__ import annotations

import pytest
from dspy.lm15 import Config, Message, Request

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm.local.embedded import EmbeddedEngine
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task

pytestmark = pytest.mark.numerics  # answers come from model arithmetic: rehearsed on the shipped Q4_1


def request_for(messages: list[dict[str, str]]) -> Request:
    system, *turns = messages
    make = {"user": Message.user, "assistant": Message.assistant}
    return Request(
        model="smolgepa/embedded",
        messages=tuple(make[turn["role"]](turn["content"]) for turn in turns),
        system=system["content"],
        config=Config(temperature=0.0, max_tokens=24, stop=("\n\n",)),
    )


@pytest.mark.slow
def test_exact_repeats_answer_as_the_first_time(embedded_engine: EmbeddedEngine) -> None:
    task = load_task("sentiment-extended")
    program = make_program(task)
    adapter = PlainTextAdapter()
    changed = []
    # The first 42 of val: the whole split before it grew to 120, so the test takes no longer.
    for example in task.split("val")[:42]:
        request = request_for(adapter.format(program.signature, [], {"input": example.input}))
        first = embedded_engine.complete(request).text
        again = embedded_engine.complete(request).text  # the whole prompt is in the KV cache now
        if again != first:
            changed.append((example.id, first, again))
    assert changed == []
