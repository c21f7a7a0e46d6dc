"""Recognizing "the prompt does not fit the context window" in the words of each backend."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Overflow:
    """Sizes an overflow message gave (None where it gave none)."""

    prompt_tokens: int | None
    n_ctx: int | None


# (pattern, group holding the prompt's tokens, group holding the window); None where the text has no number
_PATTERNS: tuple[tuple[re.Pattern[str], int | None, int | None], ...] = (
    # llama-cpp-python, in process and behind its server
    (re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)"), 1, 2),
    # llama-server (llama.cpp)
    (re.compile(r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)"), 1, 2),
    # vLLM and OpenAI
    (re.compile(r"maximum context length is (\d+) tokens.*?(?:requested|resulted in) (\d+) tokens", re.S), 2, 1),
    # LM Studio
    (re.compile(r"tokens to keep from the initial prompt is greater than the context length"), None, None),
    (re.compile(r"context_length_exceeded|exceed_context_size_error"), None, None),
)


def parse_overflow(text: str) -> Overflow | None:
    """The sizes in a context-overflow error message, or None when `text` is not one."""
    for pattern, tokens_group, window_group in _PATTERNS:
        found = pattern.search(text)
        if found:
            return Overflow(
                int(found.group(tokens_group)) if tokens_group else None,
                int(found.group(window_group)) if window_group else None,
            )
    return None
