"""How close the embedded model was to a different answer: the tolerance for comparing answers that
come from model arithmetic on different kernels or batch splits (another CPU, a server's KV cache).

Two greedy answers part at their first differing token. There the model chose one token over the
other by a log-probability gap; if the gap is within what kernel rounding moves a logit, both
answers are the same code's answer. A real bug (another prompt, another template, lost tokens)
gives answers that part where the model was sure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smolgepa.lm.local.embedded import EmbeddedEngine
from smolgepa.lm.local.label_scorer import chat_prompt_tokens

# Measured: llama.cpp's quantized kernels move a log-probability by up to ~0.3 nats between batch
# splits of the same prompt on one CPU (see tests/test_decode_server_engine.py); another CPU's kernels
# round differently again. Two choices closer than this are a coin toss between builds.
NEAR_TIE_NATS = 0.7


def divergence_gap(engine: EmbeddedEngine, messages: Sequence[Mapping[str, str]], ours: str, theirs: str) -> float:
    """log p(our token) - log p(their token) at the first token where the two answers differ, under
    the embedded model after `messages` (0.0 when they do not differ). `ours` should be the embedded
    model's own greedy answer, so the gap is normally >= 0; an answer that ends first continues with
    the end-of-turn token."""
    with engine._lock:  # noqa: SLF001 - the engine's model is not thread-safe
        llama = engine.llama()
        scorer = engine._label_scorer()  # noqa: SLF001
        prompt = chat_prompt_tokens(llama, list(messages))
        end = llama.token_eos()
        a = list(llama.tokenize(ours.encode("utf-8"), add_bos=False, special=False)) + [end]
        b = list(llama.tokenize(theirs.encode("utf-8"), add_bos=False, special=False)) + [end]
        common = 0
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
        if common == min(len(a), len(b)):
            return 0.0
        logprobs = scorer.next_token_logprobs(prompt + a[:common])
        return float(logprobs[a[common]] - logprobs[b[common]])
