"""The near-tie tolerance used to compare answers across kernels tells a coin toss from a real difference."""

from __future__ import annotations

import pytest
from support.near_tie import NEAR_TIE_NATS, divergence_gap

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm.local.embedded import EmbeddedEngine
from smolgepa.lm.local.label_scorer import chat_prompt_tokens
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task

pytestmark = pytest.mark.numerics


def test_a_confident_difference_is_not_a_near_tie(embedded_engine: EmbeddedEngine) -> None:
    task = load_task("sentiment")
    messages = PlainTextAdapter().format(make_program(task).signature, [], {"input": task.split("val")[0].input})
    with embedded_engine._lock:  # noqa: SLF001
        llama = embedded_engine.llama()
        logprobs = embedded_engine._label_scorer().next_token_logprobs(chat_prompt_tokens(llama, messages))  # noqa: SLF001
    ranked = logprobs.argsort()[::-1]
    best, runner_up, unlikely = (llama.detokenize([int(t)]).decode("utf-8", "replace") for t in ranked[[0, 1, -1]])
    assert divergence_gap(embedded_engine, messages, best, best) == 0.0
    assert divergence_gap(embedded_engine, messages, best + " text", best) > 0  # the end of turn came later
    far = divergence_gap(embedded_engine, messages, best, unlikely)
    assert far > NEAR_TIE_NATS  # the least likely token is no coin toss
    near = divergence_gap(embedded_engine, messages, best, runner_up)
    assert 0 <= near < far  # the model's own second choice is closer than its last
