"""The free answer a freshly loaded model gives: what an engine's answer must equal after its KV cache
was used for other work (scoring, kept sequences)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_cpp import Llama


def fresh_answer(model_path: Path, messages: list[dict[str, Any]], max_tokens: int) -> str:
    """Greedy chat answer to `messages` from a new Llama on `model_path` (n_ctx 2048)."""
    fresh = Llama(model_path=str(model_path), n_ctx=2048, verbose=False)
    try:
        result = fresh.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0)
    finally:
        fresh.close()
    return result["choices"][0]["message"]["content"]
