"""Count instruction tokens the way the student does: its own tokenizer when we have it."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolgepa.lm.spec import ModelSpec, parse_model_spec
from smolgepa.token_count import approx_tokens

TokenCounter = Callable[[str], int]


class GgufTokenCounter:
    """Exact counts from a GGUF file's vocabulary (loaded without the weights, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vocab: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        with self._lock:
            if self._vocab is None:
                from llama_cpp import Llama

                # llama.cpp warns that a vocabulary-only model has no training context; that is expected
                with contextlib.redirect_stderr(io.StringIO()):
                    self._vocab = Llama(model_path=str(self.path), vocab_only=True, verbose=False)
            return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def student_token_counter(student: str | ModelSpec) -> tuple[TokenCounter, str]:
    """A counter for the student's tokens and how it counts (`tokenizer` or `approximate`)."""
    spec = parse_model_spec(student) if isinstance(student, str) else student
    if spec.kind in ("embedded", "gguf"):
        from smolgepa.lm.models import embedded_model_path

        path = embedded_model_path() if spec.kind == "embedded" else Path(spec.path)
        try:
            import llama_cpp  # noqa: F401
        except ImportError:  # pragma: no cover - llama-cpp-python is a dependency
            return approx_tokens, "approximate"
        return GgufTokenCounter(path), "tokenizer"
    return approx_tokens, "approximate"


def student_size_class(student: str | ModelSpec) -> str:
    """A few words on how big the student is, for the reflection prompt."""
    spec = parse_model_spec(student) if isinstance(student, str) else student
    name = (spec.path or spec.model or "").lower() if spec.kind != "embedded" else "135m"
    for marker, words in (
        ("135m", "about 135 million parameters (SmolLM2-135M class): tiny"),
        ("360m", "about 360 million parameters: tiny"),
        ("1.7b", "about 1.7 billion parameters: small"),
        ("0.5b", "about 0.5 billion parameters: tiny"),
    ):
        if marker in name:
            return words
    return "a small local model (size unknown)"
