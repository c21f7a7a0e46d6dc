"""`--decode constrained` in-process: the output restricted to the label strings by a GBNF grammar
(servers get the same grammar, a JSON-schema enum or a choice list: `smolgepa.lm.servers.payloads`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal: backslashes, quotes and control characters escaped."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def label_gbnf(labels: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are the labels, exactly."""
    return "root ::= " + " | ".join(gbnf_literal(label) for label in labels) + "\n"


@lru_cache(maxsize=32)
def label_grammar(labels: tuple[str, ...]) -> Any:
    """The llama_cpp.LlamaGrammar over `labels`, built once per label set."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(label_gbnf(labels), verbose=False)
