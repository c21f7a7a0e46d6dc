"""Clean a reflection model's answer into an instruction, or say why there is none."""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_INLINE_FENCE = re.compile(r"```(.+?)```", re.DOTALL)
_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+\-.]*)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Cleaned:
    """The instruction taken from a reflection answer, or None with the reason."""

    instruction: str | None
    reason: str = ""


def strip_thinking(text: str) -> tuple[str, bool]:
    """Remove <think>...</think> blocks (and a leading unclosed one). Returns (text, unclosed)."""
    text = _THINK_BLOCK.sub("", text)
    closing = list(_THINK_CLOSE.finditer(text))
    if closing:  # an answer that starts inside a block whose opening tag was cut off
        text = text[closing[-1].end() :]
    opening = _THINK_OPEN.search(text)
    if opening:
        return text[: opening.start()], True
    return text, False


def fenced_blocks(text: str) -> tuple[list[str], bool]:
    """The contents of complete fenced blocks, and whether a block was opened but never closed."""
    blocks: list[str] = []
    fences = list(_FENCE.finditer(text))
    index = 0
    while index < len(fences):
        opening = fences[index]
        closing_at = next(
            (j for j in range(index + 1, len(fences)) if fences[j].group(1)[0] == opening.group(1)[0]
             and len(fences[j].group(1)) >= len(opening.group(1)) and not fences[j].group(2)),
            None,
        )
        if closing_at is None:
            return blocks, True
        blocks.append(text[opening.end() : fences[closing_at].start()].strip("\n"))
        index = closing_at + 1
    return blocks, False


def clean_reflection(text: str, finish_reason: str = "stop") -> Cleaned:
    """The new instruction: the last non-empty fenced block of the answer, after removing thinking.

    Rejected with a reason: empty answers, thinking only, no fenced block, an unclosed block or an
    answer cut off by the token limit (truncated), and empty blocks.
    """
    if not text or not text.strip():
        return Cleaned(None, "empty answer")
    body, unclosed_think = strip_thinking(text)
    if not body.strip():
        reason = "thinking only, no answer (unclosed <think> block)" if unclosed_think else "thinking only, no answer"
        if finish_reason == "length":
            reason += "; truncated at the token limit"
        return Cleaned(None, reason)
    blocks, unclosed = fenced_blocks(body)
    blocks = [block.strip() for block in blocks if block.strip()]
    if unclosed and not blocks:
        return Cleaned(None, "truncated: a ``` block was opened but never closed")
    if finish_reason == "length" and (unclosed or not blocks):
        return Cleaned(None, "truncated: the answer hit the reflection token limit")
    if not blocks:
        inline = [m.strip() for m in _INLINE_FENCE.findall(body) if m.strip()]
        if inline:
            return Cleaned(inline[-1])
        if "```" in body or "~~~" in body:
            return Cleaned(None, "empty ``` block")
        return Cleaned(None, "no ``` block in the answer (the instruction must be inside one)")
    return Cleaned(blocks[-1])
