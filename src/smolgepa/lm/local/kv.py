"""Keeping llama-cpp-python's KV bookkeeping honest: shared by the embedded engine and label scoring."""

from __future__ import annotations

from typing import Any

# llama.cpp computes a lone token with other kernels than a batch of two or more, so an exact repeat
# of the last prompt (which llama-cpp-python re-evaluates from its last token only) could answer
# differently from the first time; measured: 1 of 60 sentiment answers changed.
REEVALUATED_TAIL = 2


def forget_prompt_end(llama: Any, prompt_tokens: int | None) -> None:
    """Drop the end of the last prompt (and its answer) from the KV bookkeeping, so the next prompt,
    even the same one, re-evaluates at least REEVALUATED_TAIL tokens as one batch: answers depend
    only on the messages, not on what was asked before."""
    if prompt_tokens:
        llama.n_tokens = max(0, min(llama.n_tokens, prompt_tokens - REEVALUATED_TAIL))
