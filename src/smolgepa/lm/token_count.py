"""An approximate token counter, used when no real tokenizer is given.

The count is meant to sit at or a little above what a GPT-2-style BPE tokenizer (SmolLM2's) gives
for English text, code and JSON, so that a rendering that fits the approximate budget also fits the
real one: a word (split at camelCase boundaries) counts one token per five letters, rounded up, an
upper-case word like NAME one per two letters; every digit counts one token
(SmolLM2 splits numbers into digits, and a space before a digit stands alone), every other visible
character one token, every line break and every run of two or more spaces one token. A single space
is free (BPE attaches it to the next word). Measured against SmolLM2's tokenizer on the renderings of
the built-in trace tasks, the count is 4-47% above the real one (median about 18%); very short plain
sentences can come out a little below. Pass a real tokenizer's counter to
`render_trace(count_tokens=...)` for exact budgets.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_PIECES = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]|\d| (?=\d)|\n|[ \t]{2,}|[^\sA-Za-z\d]")


def approx_tokens(text: str) -> int:
    """Approximate number of tokens in `text` (see the module docstring for the rule)."""
    total = 0
    for piece in _PIECES.findall(text):
        if piece.isupper() and len(piece) > 1:
            total += (len(piece) + 1) // 2
        elif piece[0].isalpha() and piece.isascii():
            total += (len(piece) + 4) // 5
        else:
            total += 1
    return total
