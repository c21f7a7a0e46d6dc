"""Reflection backends: each turns a plain-text prompt into a plain-text answer, never raising.

Specs accepted by `--reflection`:
    fewshot                         the built-in example proposer (no LLM; see fewshot.py)
    rules                           the built-in counting-rule proposer for traces (no LLM; rules_proposer.py)
    embedded                        the local SmolLM2-135M itself (weak, but offline)
    gguf:PATH                       another local GGUF model
    lmstudio:MODEL, ollama:MODEL, openai:MODEL@URL, llamacpp:URL, vllm:MODEL@URL
                                    any OpenAI-compatible server; the API key comes from an
                                    environment variable (`reflection_key_env`, else OPENAI_API_KEY
                                    for `openai:` when it is set)
    litellm:MODEL[@BASE_URL]        anything litellm reaches (keys from litellm's usual variables)
    cmd:"COMMAND ARGS"              a CLI agent: the prompt on stdin, the answer from stdout,
                                    run without a shell, killed after the timeout
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.spec import SPEC_FORMS, parse_model_spec
from smolgepa.optimize.cache import ReflectionReply
from smolgepa.optimize.command import CommandBackend, parse_command

REFLECTION_FORMS = ("fewshot", "rules", *SPEC_FORMS, "litellm:MODEL[@BASE_URL]", 'cmd:"COMMAND ..."')
SYSTEM_PROMPT = "You write instructions (system prompts) for small language models. Answer in plain text."

Backend = Callable[[str], ReflectionReply]


@dataclass(frozen=True)
class ReflectionSettings:
    """How reflection calls are made."""

    timeout: float = 300.0
    max_tokens: int = 2048
    temperature: float = 0.7
    key_env: str | None = None
    seed: int = 0


def describe_reflection(spec: str) -> str:
    """The spec as recorded in the run directory (a command's arguments are kept; keys never are)."""
    return spec.strip()


def make_backend(spec: str, settings: ReflectionSettings) -> Backend:
    """The reflection backend for a spec; an unknown spec lists the forms that exist."""
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if text in ("fewshot", "rules"):
        raise SmolgepaError(f"The {text} proposer has no reflection backend (it needs no LLM).")
    if kind == "cmd" and sep:
        return CommandBackend(parse_command(rest), settings.timeout)
    if kind == "litellm" and sep:
        model, at, base = rest.strip().rpartition("@") if "@" in rest else (rest.strip(), "", "")
        if not model:
            raise SmolgepaError("litellm:MODEL needs a model name, for example litellm:openai/gpt-4.1-mini.")
        if at and not base.startswith(("http://", "https://")):
            raise SmolgepaError(f"litellm:{rest}: the base URL after @ must start with http:// or https://.")
        return LitellmBackend(model, settings, api_base=base or None)
    try:
        model = parse_model_spec(text, role="reflection model")
    except SmolgepaError:
        forms = ", ".join(REFLECTION_FORMS)
        raise SmolgepaError(f"Unknown reflection model {text!r}. Available: {forms}.") from None
    return EngineBackend(model_engine(model, settings), settings)


def model_engine(spec: Any, settings: ReflectionSettings) -> Any:
    """A DSPy engine (with `complete(Request)`) for a reflection model spec."""
    if spec.kind in ("embedded", "gguf"):
        from smolgepa.lm.embedded import EmbeddedEngine, EmbeddedSettings
        from smolgepa.lm.models import embedded_model_path

        path = str(embedded_model_path()) if spec.kind == "embedded" else spec.path
        return EmbeddedEngine(EmbeddedSettings(path=path, n_ctx=8192, seed=settings.seed))
    from smolgepa.lm.server import ServerSettings

    key_env = settings.key_env
    if key_env is None and spec.kind == "openai" and os.environ.get("OPENAI_API_KEY"):
        key_env = "OPENAI_API_KEY"
    from smolgepa.lm.server import ServerEngine

    return ServerEngine(
        ServerSettings(
            base_url=spec.base_url,
            model=spec.model,
            flavour=spec.kind,
            api_key_env=key_env,
            timeout=settings.timeout,
            role="reflection",
        )
    )


class EngineBackend:
    """A reflection model behind a DSPy engine (embedded llama.cpp or an OpenAI-compatible server)."""

    def __init__(self, engine: Any, settings: ReflectionSettings) -> None:
        self.engine = engine
        self.settings = settings

    def __call__(self, prompt: str) -> ReflectionReply:
        from dspy.lm15 import Config, Message, Request

        request = Request(
            model=str(getattr(self.engine, "model_name", "reflection")),
            messages=(Message.user(prompt),),
            system=SYSTEM_PROMPT,
            config=Config(
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
            ),
        )
        started = time.monotonic()
        try:
            response = self.engine.complete(request)
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
        return ReflectionReply(text=text, finish_reason=response.finish_reason, seconds=time.monotonic() - started)


class LitellmBackend:
    """Any model litellm reaches (`litellm:MODEL`); litellm reads API keys from its usual variables."""

    def __init__(self, model: str, settings: ReflectionSettings, api_base: str | None = None) -> None:
        self.model = model
        self.settings = settings
        self.api_base = api_base

    def __call__(self, prompt: str) -> ReflectionReply:
        started = time.monotonic()
        # litellm fetches a model price list from the internet when imported, unless told not to
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm

            response = litellm.completion(
                model=self.model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                timeout=self.settings.timeout,
                **({"api_base": self.api_base} if self.api_base else {}),
            )
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = str(choice.finish_reason or "stop")
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        return ReflectionReply(text=text, finish_reason=finish, seconds=time.monotonic() - started)
