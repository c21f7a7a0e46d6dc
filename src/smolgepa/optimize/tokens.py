"""Counting a student's tokens; the counters live with the student kinds (`smolgepa.lm.student`)."""

from __future__ import annotations

from smolgepa.lm.kinds.embedded_kinds import GgufTokenCounter
from smolgepa.lm.kinds.base import ModelSpec
from smolgepa.lm.token_count import TokenCounter

__all__ = ["GgufTokenCounter", "TokenCounter", "student_size_class", "student_token_counter"]


def student_token_counter(student: str | ModelSpec) -> tuple[TokenCounter, str]:
    """A counter for the student's tokens and how it counts (`tokenizer` or `approximate`)."""
    from smolgepa.lm.student import Student

    return Student(student).token_counter()


def student_size_class(student: str | ModelSpec) -> str:
    """A few words on how big the student is, for the reflection prompt."""
    from smolgepa.lm.student import Student

    return Student(student).size_class()
