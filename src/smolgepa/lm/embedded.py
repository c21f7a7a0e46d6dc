"""The embedded student: a GGUF model run in-process by llama-cpp-python, as a DSPy engine."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dspy.lm15 import Request, Response

from smolgepa.errors import SmolgepaError
from smolgepa.lm.messages import request_messages, text_response
from smolgepa.lm.models import check_model_file


@dataclass(frozen=True)
class EmbeddedSettings:
    """How the in-process model is loaded; part of the engine's saved state."""

    path: str
    n_ctx: int = 2048
    n_threads: int = 0  # 0: all cores
    seed: int = 0


class EmbeddedEngine:
    """Runs chat completions on a local GGUF file. The model loads on first use, once.

    llama-cpp-python keeps the KV cache of the previous prompt and reuses its longest common
    prefix, so consecutive requests that share an instruction only prefill the new part.
    """

    def __init__(self, settings: EmbeddedSettings) -> None:
        self.settings = settings
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return Path(self.settings.path).name

    def llama(self) -> Any:
        """The loaded llama_cpp.Llama (loaded on first call)."""
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self) -> Any:
        path = check_model_file(Path(self.settings.path))
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise SmolgepaError(f"llama-cpp-python is not installed ({exc}). Run scripts/setup.") from None
        threads = self.settings.n_threads or os.cpu_count() or 1
        return Llama(
            model_path=str(path),
            n_ctx=self.settings.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=self.settings.seed,
            verbose=False,
        )

    def complete(self, request: Request) -> Response:
        llama = self.llama()
        config = request.config
        with self._lock:
            result = llama.create_chat_completion(
                messages=request_messages(request),
                temperature=config.temperature if config.temperature is not None else 0.0,
                top_p=config.top_p if config.top_p is not None else 1.0,
                max_tokens=config.max_tokens or 24,
                stop=list(config.stop) or None,
                seed=config.seed if config.seed is not None else self.settings.seed,
            )
        choice = result["choices"][0]
        usage = result.get("usage", {})
        return text_response(
            choice["message"].get("content") or "",
            model=self.model_name,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason") or "stop",
        )

    def stream(self, request: Request):  # noqa: ANN201 - DSPy's engine protocol
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def dump_state(self) -> dict[str, Any]:
        return asdict(self.settings)

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> EmbeddedEngine:
        return cls(EmbeddedSettings(**state))
